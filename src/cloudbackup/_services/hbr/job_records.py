"""Cloud Backup, the stored backup jobs of a region: the job records, their indexes and how a
folded ``UDM_ECS_DISK`` sub-job is found by its own id (:class:`JobRecords`).

Part of the layered :class:`~cloudbackup.HbrService` (see ``_services/hbr/__init__.py``); the
jobs themselves run in :mod:`cloudbackup._services.hbr.jobs`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

from ..._domain.hbr_jobs import BackupJob, JobStatus
from ..._repository import Index, OrderedIndex, Repository, RepositorySpec
from ..._store import Store, raw_kind

__all__ = [
    "JOBS",
    "JOBS_BY_TIME",
    "JOBS_OF_INSTANCE",
    "SUB_JOBS",
    "SUB_JOB_PARENT",
    "UNFINISHED_JOB_OF_INSTANCE",
    "JobRecords",
]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def _micros(at: _dt.datetime) -> str:
    return f"{(at - _EPOCH) // _dt.timedelta(microseconds=1):020d}"


UNFINISHED_JOB_OF_INSTANCE: Index[BackupJob] = Index(
    "hbr.unfinished_job_of_instance",
    lambda j: (
        (j.instance_id,) if j.source_type == "UDM_ECS" and j.status is JobStatus.RUNNING else ()
    ),
)
"""partition = instance id: its running ``UDM_ECS`` job (at most one)."""
JOBS_OF_INSTANCE: Index[BackupJob] = Index(
    "hbr.jobs_of_instance", lambda j: (j.instance_id,) if j.source_type == "UDM_ECS" else ()
)
"""partition = instance id: its ``UDM_ECS`` jobs (``InstanceId`` filters read these)."""
JOBS_BY_TIME: OrderedIndex[BackupJob] = OrderedIndex(
    "hbr.jobs_by_time",
    lambda j: _micros(j.created_time),
    ("SourceType", "Status"),
    lambda j: (j.source_type, j.status.value),
)
"""A region's ``UDM_ECS`` jobs by creation time, partitioned by source type and status: a
``DescribeBackupJobs2`` page reads the page. Sub-jobs are not listed: they are only ever
reached through their parent (``ParentId``) or by id (see :data:`SUB_JOBS`)."""
JOBS = RepositorySpec(
    BackupJob,
    lambda j: j.job_id,
    "ResourceNotFound",
    "backup job",
    (UNFINISHED_JOB_OF_INSTANCE, JOBS_OF_INSTANCE),
    (JOBS_BY_TIME,),
)
"""The jobs of a region; ``UDM_ECS`` jobs are written through it (with their indexes)."""
SUB_JOBS = RepositorySpec(BackupJob, lambda j: j.job_id, "ResourceNotFound", "backup job")
"""The same records, without indexes: how ``UDM_ECS_DISK`` sub-jobs stored as records of
their own (by a world made before sub-jobs were folded into their instance job, see
:class:`~cloudbackup.SubJob`) are written when their job finishes."""
SUB_JOB_PARENT = raw_kind("hbr.sub_job_parent")
"""partition = region, key = a folded sub-job's id, value = its instance job's id: how a
sub-job is found by its own id (``CancelBackupJob``, a ``JobId`` filter). One small entry
per sub-job instead of a record."""


class JobRecords(Repository[BackupJob]):
    """The jobs of a region: instance jobs are records; their sub-jobs are read from the
    instance job's record (:meth:`BackupJob.folded_sub_jobs`), or are records of their own when
    stored before sub-jobs were folded. ``find``/``get``/``named_or_all`` give both."""

    def __init__(self, store: Store, region_id: str) -> None:
        super().__init__(JOBS, store, region_id)

    def find(self, record_id: str) -> BackupJob | None:
        found = super().find(record_id)
        return found if found is not None else self.folded_sub_job(record_id)

    def get(self, record_id: object) -> BackupJob:
        if isinstance(record_id, str) and record_id and super().find(record_id) is None:
            sub = self.folded_sub_job(record_id)
            if sub is not None:
                return sub
        return super().get(record_id)

    def named_or_all(self, ids: Sequence[str]) -> list[BackupJob]:
        if not ids:
            return self.scan()
        return [j for j in (self.find(i) for i in ids) if j is not None]

    def folded_sub_job(self, sub_id: str) -> BackupJob | None:
        """A sub-job folded into its instance job, as a whole item (None: no such sub-job)."""
        parent_id = self._store.raw_get(SUB_JOB_PARENT, self._region_id, sub_id)
        parent = None if not isinstance(parent_id, str) else super().find(parent_id)
        if parent is None:
            return None
        subs = parent.folded_sub_jobs()
        return next((parent.sub_job_item(s) for s in subs if s.job_id == sub_id), None)
