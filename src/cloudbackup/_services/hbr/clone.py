"""Cloud Backup, Clone Now's preparation: the console operation (no API) that backs up an ECS
instance's current state for an instant clone.

The seed: Clone Now works only when the instance's system disk is an ESSD; it creates a
pay-as-you-go instance from the current state, and the snapshots of all disks it creates for
that are kept for one day. This layer is the preparation: a manual backup job of every cloud
disk of the instance (a snapshot-consistent group when they are all ESSD), whose point and
native snapshots are kept for :data:`CLONE_NOW_RETENTION_DAYS` and then go as any expired
point does. Making the new instance from the point is a restore.

Part of the layered :class:`~cloudbackup.HbrService` (see ``_services/hbr/__init__.py``).
"""

from __future__ import annotations

from ...errors import OperationDeniedError
from .._base import unit_of_work
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
        it; returns the ``JobId``.

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
        return self.create_backup_job(
            instance_id=instance.instance_id,
            retention=CLONE_NOW_RETENTION_DAYS,
            job_name=CLONE_NOW_JOB_NAME,
        )
