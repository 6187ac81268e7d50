"""Strategies for Cloud Backup's asynchronous tasks (``DescribeTask``): records in every state
a task can be in, as the service makes them."""

from __future__ import annotations

import datetime as _dt

from hypothesis import strategies as st

from ..._domain.hbr_tasks import (
    TASK_FORGET_DAYS,
    TASK_RESULT_DAYS,
    HbrTask,
    TaskName,
    TaskStatus,
    result_text,
)
from ._common import _bounded

__all__ = ["hbr_tasks"]

_ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


def _ids(prefix: str) -> st.SearchStrategy[str]:
    return st.text(_ID_CHARS, min_size=17, max_size=17).map(lambda s: prefix + "000" + s)


def hbr_tasks(
    *, region_id: str = "cn-hangzhou", max_points: int = 20
) -> st.SearchStrategy[HbrTask]:
    """Valid :class:`~cloudbackup.HbrTask` records, each as the service could show it: running
    (``created``, ``Progress`` 0–99), ``completed`` (100, or -1 with an ``ErrorMessage``),
    ``cancelled`` or ``expired`` (no ``Result``); ``CompletedTime`` exactly when
    ``completed``; times ordered; a Delete Backups task names 1–``max_points`` points, its
    steps ``min(10, points)``."""
    most = _bounded("hbr_tasks max_points", max_points, 1, 1000)

    @st.composite
    def build(draw: st.DrawFn) -> HbrTask:
        name = draw(st.sampled_from(list(TaskName)))
        status = draw(st.sampled_from(list(TaskStatus)))
        if name is not TaskName.CLONE_NOW and status is TaskStatus.CANCELLED:
            status = TaskStatus.COMPLETED  # only Clone Now's job can be cancelled
        created = draw(
            st.datetimes(_dt.datetime(2024, 1, 1), _dt.datetime(2031, 12, 31)).map(
                lambda d: d.replace(tzinfo=_dt.timezone.utc)
            )
        )
        ran = _dt.timedelta(seconds=draw(st.integers(0, 86_400)))
        points: tuple[str, ...] = ()
        steps = done = 0
        job_id = None
        if name is TaskName.DELETE_BACKUPS:
            points = tuple(draw(st.lists(_ids("s-"), min_size=1, max_size=most, unique=True)))
            steps = min(10, len(points))
            done = draw(st.integers(0, steps - 1)) if status is TaskStatus.CREATED else steps
        elif name is TaskName.EXTEND_RETENTION:
            status = TaskStatus.COMPLETED if status is TaskStatus.CREATED else status
            points = tuple(draw(st.lists(_ids("s-"), min_size=1, max_size=4, unique=True)))
            ran = _dt.timedelta(0)
        else:
            job_id = draw(_ids("job-"))
        failed = status is not TaskStatus.CREATED and draw(st.booleans())
        if status is TaskStatus.CREATED:
            progress = done * 100 // steps if steps else draw(st.integers(0, 99))
        elif status is TaskStatus.CANCELLED:
            progress = draw(st.integers(0, 99))
        else:
            progress = -1 if failed else 100
        finished = None if status is TaskStatus.CREATED else created + ran
        result = ""
        if status in (TaskStatus.COMPLETED, TaskStatus.CANCELLED):
            result = result_text(
                {"ErrorMessage": "failed", "JobId": job_id}
                if progress == -1 or status is TaskStatus.CANCELLED
                else {"DeletedSnapshotIds": list(points)}
            )
        updated = created + ran
        if status is TaskStatus.EXPIRED and finished is not None:
            later = draw(st.integers(TASK_RESULT_DAYS, TASK_FORGET_DAYS - 1))
            updated = finished + _dt.timedelta(days=later)
        return HbrTask(
            task_id=draw(_ids("t-")),
            region_id=region_id,
            name=name,
            status=status,
            created_time=created,
            updated_time=updated,
            progress=progress,
            result=result,
            completed_time=finished if status is TaskStatus.COMPLETED else None,
            finished_time=finished,
            instance_id=None if name is TaskName.EXTEND_RETENTION else "i-bp1" + "0" * 17,
            job_id=job_id,
            snapshot_ids=points,
            steps=steps,
            steps_done=done,
        )

    return build()
