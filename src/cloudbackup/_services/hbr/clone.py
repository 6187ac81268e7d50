"""Cloud Backup, Clone Now's preparation: the console operation (no API) that backs up an ECS
instance's current state for an instant clone.

The seed: Clone Now works only when the instance's system disk is an ESSD; it creates a
pay-as-you-go instance from the current state, and the snapshots of all disks it creates for
that are kept for one day. This layer is the preparation: a manual backup job of every cloud
disk of the instance (a snapshot-consistent group when they are all ESSD), whose point and
native snapshots are kept for :data:`CLONE_NOW_RETENTION_DAYS` and then go as any expired
point does. Making the new instance from the point is a restore.

The preparation is asynchronous: it returns a task (``t-000…``, ``Name`` ``CloneNow``) that
follows its backup job: ``created`` with the job's progress while it runs; ``completed``
(``Progress`` 100, ``Result`` ``{"JobId", "SnapshotId"}``) when the job completes (also
partially); ``completed`` with ``Progress`` -1 and the job's ``ErrorMessage`` when it fails;
``cancelled`` when the job is cancelled.

Part of the layered :class:`~cloudbackup.HbrService` (see ``_services/hbr/__init__.py``).
"""

from __future__ import annotations

import attrs

from ..._domain.hbr_jobs import BackupJob, JobStatus
from ..._domain.hbr_tasks import HbrTask, TaskName, TaskStatus, result_text
from ...errors import OperationDeniedError
from .._base import unit_of_work
from ._core import ACTION_TASK
from .scheduler import SchedulerActions

__all__ = ["CLONE_NOW_JOB_NAME", "CLONE_NOW_RETENTION_DAYS", "CloneActions"]

CLONE_NOW_RETENTION_DAYS = 1
"""Days the snapshots Clone Now takes are kept (the seed: "retained for one day")."""
CLONE_NOW_JOB_NAME = "Clone Now"
"""The ``JobName`` of the backup job Clone Now's preparation starts."""
SYSTEM_DEVICE = "/dev/xvda"


class CloneActions(SchedulerActions):
    """Clone Now's preparation (console operation)."""

    @unit_of_work
    def prepare_clone_now(self, *, instance_id: str) -> str:
        """Console operation (Clone Now; no API): back up the instance's current state to clone
        it; returns the ``TaskId`` (``t-000…``): :meth:`~cloudbackup.HbrService.describe_task`
        follows the backup job (its ``job_id``) and its ``Result`` names the point made.

        The job is a manual backup of every cloud disk (``job_name`` ``"Clone Now"``, a
        snapshot-consistent group when every disk is ESSD, crash consistency); its point and
        native snapshots are kept for one day. Refused, changing nothing, when the system disk
        is not of the ESSD family or the instance has none attached
        (``OperationDenied.SystemDiskNotEssd``, 403), for an instance not in the region
        (``InvalidInstanceId.NotFound``) and while the instance's previous job runs
        (``IncorrectStatus.JobRunning``).
        """
        self._require_open()
        instance = self._instance(self._id("InstanceId", instance_id))
        system = next((d for d in instance.disks if d.device == SYSTEM_DEVICE), None)
        if system is None or not system.essd:
            what = (
                "has no system disk attached"
                if system is None
                else (f"has a {system.category} system disk ({system.disk_id})")
            )
            raise OperationDeniedError(
                f"Clone Now needs an ESSD system disk; ECS instance {instance.instance_id} {what}.",
                code="OperationDenied.SystemDiskNotEssd",
                http_status=403,
                ids=(instance.instance_id,) + (() if system is None else (system.disk_id,)),
                recommend="Clone an instance whose system disk is an ESSD, or back this one up "
                "(create_backup_job) and restore it instead.",
            )
        job_id = self.create_backup_job(
            instance_id=instance.instance_id,
            retention=CLONE_NOW_RETENTION_DAYS,
            job_name=CLONE_NOW_JOB_NAME,
        )
        job = self._jobs.get(job_id)
        running = job.status is JobStatus.RUNNING
        task = self._new_task(
            TaskName.CLONE_NOW,
            next_step=job.expected_completion_time if running else None,
            instance_id=instance.instance_id,
            job_id=job_id,
        )
        if not running:
            self._follow_job(task, job, new=True)
        return task.task_id

    def _clone_task_view(self, task: HbrTask) -> HbrTask:
        """A running Clone Now task as seen now: the progress of its job."""
        job = self._jobs.find(task.job_id or "")
        if job is None or task.status is not TaskStatus.CREATED:
            return task
        seen = job.observed(self._world.now())
        if seen.status is JobStatus.RUNNING:
            return attrs.evolve(task, progress=min(99, seen.progress // 100))
        return _ended_view(task, seen)

    def _follow_job(self, task: HbrTask, job: BackupJob, *, new: bool = False) -> None:
        """The task's timer fired: end it as its job ended (or wait for the job)."""
        if job.status is JobStatus.RUNNING:
            due = job.expected_completion_time or self._world.now()
            self._world.engine.schedule(
                max(due, self._world.now()), ACTION_TASK, self.region_id, task.task_id
            )
            return
        ended = _ended_view(task, job)
        self._end_task(
            task, ended.status, ended.progress, ended.result, new=new, at=ended.updated_time
        )


def _ended_view(task: HbrTask, job: BackupJob) -> HbrTask:
    """What a Clone Now task shows once its job ended."""
    result: dict[str, str | None]
    if job.status is JobStatus.CANCELED:
        status, progress = TaskStatus.CANCELLED, min(99, job.progress // 100)
        result = {
            "ErrorMessage": job.error_message or "The job was cancelled.",
            "JobId": job.job_id,
        }
    elif job.status in (JobStatus.COMPLETE, JobStatus.PARTIAL_COMPLETE):
        status, progress = TaskStatus.COMPLETED, 100
        result = {"JobId": job.job_id, "SnapshotId": job.point_id}
    else:
        status, progress = TaskStatus.COMPLETED, -1
        result = {
            "ErrorMessage": job.error_message or "The backup job failed.",
            "JobId": job.job_id,
        }
    at = job.complete_time or job.updated_time
    return attrs.evolve(
        task,
        status=status,
        progress=progress,
        result=result_text(result),
        updated_time=at,
        finished_time=at,
        completed_time=at if status is TaskStatus.COMPLETED else None,
    )
