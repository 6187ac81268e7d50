"""Cloud Backup (HBR) domain: asynchronous tasks (``DescribeTask``), ``t-000…``.

No API action of ECS instance backup returns a ``TaskId``; this model's choice (documented in
``docs/reference/hbr-tasks.md``) is that the console's asynchronous bulk operations do:
Delete Backups (a time range), Extend Retention and Clone Now's preparation each return a
task that runs on virtual time and is followed with ``describe_task``.

Field names are ``DescribeTask``'s in snake_case: ``Description`` is the task's status
(:class:`TaskStatus`, lower-case), ``Progress`` 0–100 or **-1 when the task failed**,
``Result`` a JSON text saying what the task did (or why it failed), ``CreatedTime``,
``UpdatedTime``, ``CompletedTime`` (only once ``completed``), ``Name``.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
from collections.abc import Mapping
from typing import ClassVar

import attrs

from .._typenames import stored_as

__all__ = [
    "TASK_FORGET_DAYS",
    "TASK_RESULT_DAYS",
    "HbrTask",
    "TaskName",
    "TaskStatus",
    "result_text",
]

TASK_RESULT_DAYS = 7
"""Days a finished task keeps its ``Result``; then it is ``expired`` (``Result`` emptied)."""
TASK_FORGET_DAYS = 30
"""Days after it finished that a task is forgotten (``TaskNotFound``): what bounds the
records a busy year of console operations leaves."""


@stored_as("hbr.TaskStatus")
class TaskStatus(str, enum.Enum):
    """``Description`` of a task: its status, lower-case as the API gives it."""

    CREATED = "created"
    """Running: accepted and not finished (``Progress`` 0–99)."""
    COMPLETED = "completed"
    """Finished: ``Progress`` 100, or -1 when it failed (``Result`` says why)."""
    CANCELLED = "cancelled"
    """Stopped before the end (Clone Now's backup job was cancelled)."""
    EXPIRED = "expired"
    """Finished more than :data:`TASK_RESULT_DAYS` days ago: its ``Result`` is gone."""


@stored_as("hbr.TaskName")
class TaskName(str, enum.Enum):
    """``Name`` of a task: the console operation that started it."""

    DELETE_BACKUPS = "DeleteBackups"
    """Delete Backups: the instance points of a time range, in up to 10 one-minute steps."""
    EXTEND_RETENTION = "ExtendRetention"
    """Extend Retention of a group, instance or disk point: done when accepted."""
    CLONE_NOW = "CloneNow"
    """Clone Now's preparation: follows its backup job."""


@stored_as("hbr.Task")
@attrs.frozen
class HbrTask:
    """An asynchronous task of Cloud Backup (``DescribeTask``)."""

    KIND: ClassVar[str] = "hbr.task"

    task_id: str
    """``t-000…``."""
    region_id: str
    name: TaskName
    """``Name``."""
    status: TaskStatus
    """``Description``."""
    created_time: _dt.datetime
    updated_time: _dt.datetime
    progress: int = 0
    """``Progress``: 0–100, -1 when the task failed."""
    result: str = ""
    """``Result``: JSON text of what the task did (see :attr:`result_data`), or why it
    failed (key ``ErrorMessage``); ``""`` while running and once ``expired``."""
    completed_time: _dt.datetime | None = None
    """``CompletedTime``: set once (and only while) the task is ``completed``."""
    finished_time: _dt.datetime | None = None
    """When the task stopped (completed, failed or cancelled); kept when it expires."""
    instance_id: str | None = None
    """The ECS instance the operation concerns (Delete Backups, Clone Now)."""
    job_id: str | None = None
    """Clone Now: the backup job it started (``job-000…``)."""
    snapshot_ids: tuple[str, ...] = ()
    """Delete Backups: the ``UDM_ECS`` points it deletes, in creation order; Extend
    Retention: the points it extended."""
    steps: int = 0
    """Delete Backups: how many one-minute steps it takes (1–10)."""
    steps_done: int = 0
    """Delete Backups: the steps already run."""

    @property
    def description(self) -> str:
        """``Description``: the status as the API spells it (lower-case)."""
        return self.status.value

    @property
    def failed(self) -> bool:
        """The task failed (``Progress`` -1)."""
        return self.progress == -1

    @property
    def finished(self) -> bool:
        """The task no longer runs (completed, failed, cancelled or expired)."""
        return self.status is not TaskStatus.CREATED

    def result_data(self) -> dict[str, object]:
        """``Result`` parsed (``{}`` while running or once expired)."""
        if not self.result:
            return {}
        parsed = json.loads(self.result)
        return parsed if isinstance(parsed, dict) else {}


def result_text(data: Mapping[str, object]) -> str:
    """A ``Result`` as stored: compact JSON with sorted keys (deterministic)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))
