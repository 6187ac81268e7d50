"""Cloud Backup, asynchronous tasks: ``DescribeTask``, and the timer that moves each task on.

The console's asynchronous operations (Delete Backups, Extend Retention, Clone Now's
preparation; see :mod:`cloudbackup._domain.hbr_tasks`) each make a task ``t-000…``. One
engine timer per task (:data:`~cloudbackup._services.hbr._core.ACTION_TASK`) runs its next
step while it runs; once it finished, the same timer makes it ``expired`` after
:data:`~cloudbackup._domain.hbr_tasks.TASK_RESULT_DAYS` days (its ``Result`` dropped) and
forgets it :data:`~cloudbackup._domain.hbr_tasks.TASK_FORGET_DAYS` days after it finished
(then ``TaskNotFound``): a task costs one record and one timer, for at most a month.

Part of the layered :class:`~cloudbackup.HbrService` (see ``_services/hbr/__init__.py``).
"""

from __future__ import annotations

import datetime as _dt

import attrs

from ..._domain.hbr_tasks import TASK_FORGET_DAYS, HbrTask, TaskName, TaskStatus, result_text
from ..._engine import Timer
from ...errors import ResourceNotFoundError
from .._base import consistent_read
from ._core import ACTION_TASK
from .clone import CloneActions

__all__ = ["TaskActions"]


class TaskActions(CloneActions):
    """DescribeTask, and each task's timer."""

    @consistent_read
    def describe_task(
        self,
        *,
        task_id: str,
        token: str | None = None,
        resource_group_id: str | None = None,
    ) -> HbrTask:
        """``DescribeTask``: a task of a console operation as it is now.

        ``description`` is its status (``created``, ``completed``, ``cancelled``,
        ``expired``), ``progress`` 0–100 (-1: failed, ``result`` says why),
        ``completed_time`` only when ``completed``. ``token`` (a paging token of the real
        API, unused: one task is one answer) and ``resource_group_id`` are accepted and
        validated as text. An id this region does not hold, or a task forgotten 30 days
        after it finished, answers ``TaskNotFound`` (404).
        """
        self._require_open()
        wanted = self._id("TaskId", task_id)
        if token is not None:
            self._id("Token", token)
        if resource_group_id is not None:
            self._id("ResourceGroupId", resource_group_id)
        task = self._tasks.find(wanted)
        if task is None:
            raise ResourceNotFoundError(
                f"The task {wanted} does not exist in region {self.region_id}.",
                code="TaskNotFound",
                http_status=404,
                ids=(wanted,),
                recommend="Check the TaskId and the region; a task is forgotten "
                f"{TASK_FORGET_DAYS} days after it finished.",
            )
        if task.name is TaskName.CLONE_NOW:
            return self._clone_task_view(task)
        return task

    def _on_task_timer(self, timer: Timer) -> None:
        task = self._tasks.find(timer.target_id)
        if task is None:
            return
        now = self._world.now()
        if task.status is TaskStatus.CREATED:
            if task.name is TaskName.DELETE_BACKUPS:
                self._delete_step(task)
            elif task.name is TaskName.CLONE_NOW:
                job = self._jobs.find(task.job_id or "")
                if job is None:
                    gone = {"ErrorMessage": f"The backup job {task.job_id} is gone."}
                    self._end_task(task, TaskStatus.COMPLETED, -1, result_text(gone))
                else:
                    self._follow_job(task, job)
            return
        finished = task.finished_time or task.updated_time
        if task.status is TaskStatus.EXPIRED:
            self._tasks.delete(task)
            return
        expired = attrs.evolve(task, status=TaskStatus.EXPIRED, result="", completed_time=None)
        self._tasks.put(attrs.evolve(expired, updated_time=now), old=task)
        self._world.engine.schedule(
            max(now, finished + _dt.timedelta(days=TASK_FORGET_DAYS)),
            ACTION_TASK,
            self.region_id,
            task.task_id,
        )
