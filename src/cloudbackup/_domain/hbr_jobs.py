"""Cloud Backup backup jobs (``DescribeBackupJobs2`` items) for ECS instance backup.

A backup of an ECS instance is one ``UDM_ECS`` job with one ``UDM_ECS_DISK`` sub-job per disk
(its ``parent_id`` is the instance job's id). Field names follow the real API's in snake_case;
``Progress`` is percent × 100 (0–10,000) as the real field is.

Job states: the real API documents ``COMPLETE``, ``PARTIAL_COMPLETE`` and ``FAILED``; the
in-flight and other terminal states are not documented (facts §6.1), so ``RUNNING``,
``CANCELED`` and ``SKIPPED`` are ⚠ inferred names in the same style.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import enum
import operator
from collections.abc import Sequence
from typing import ClassVar

import attrs

from .._events import Event
from .._typenames import stored_as
from ..errors import InvalidParameterError
from .guest import ConsistentLevel
from .hbr_points import PointRetention

__all__ = [
    "JOB_SNAPSHOT_PREFIX",
    "JOB_TAG_KEY",
    "NO_DETAIL",
    "RELEASED_MESSAGE",
    "SUSPENDED_MESSAGE",
    "BackupJob",
    "BackupJobFilter",
    "BackupJobFinished",
    "BackupJobStarted",
    "JobDetail",
    "JobStatus",
    "SubJob",
    "TriggerMode",
    "retention_in_days",
]

JOB_SNAPSHOT_PREFIX = "Created-from-HBR-job:"
"""The name of a native ECS snapshot a job takes is this prefix and the job id."""
JOB_TAG_KEY = "HBR JobId"
"""The tag key of a native ECS snapshot a job takes; the value is the job id."""
SUSPENDED_MESSAGE = (
    "The backup plan has been suspended. If that is not intended, resume it "
    "(update_policy_binding with disabled=False): the next run backs up again."
)
"""Why a scheduled run of a suspended (``Disabled``) binding was skipped (the seed's words),
and what to do (the seed's troubleshooting)."""
RELEASED_MESSAGE = (
    "This ECS instance has been released. Stop Backup for it (delete_udm_ecs_instance): its "
    "backup points are kept and can still be restored."
)
"""Why a job of a released instance failed, and what to do (the seed's troubleshooting)."""


@stored_as("hbr.JobStatus")
class JobStatus(str, enum.Enum):
    """``Status`` of a backup job."""

    RUNNING = "RUNNING"
    """⚠ Inferred name: the native snapshots are being taken and uploaded."""
    COMPLETE = "COMPLETE"
    """Every disk was backed up."""
    PARTIAL_COMPLETE = "PARTIAL_COMPLETE"
    """Some disks were backed up, others failed (see their sub-jobs)."""
    FAILED = "FAILED"
    """Nothing was backed up; ``error_message`` says why."""
    CANCELED = "CANCELED"
    """⚠ Inferred name: cancelled while running (``CancelBackupJob``); its native snapshots
    were deleted and it leaves no backup point."""
    SKIPPED = "SKIPPED"
    """⚠ Inferred name: a scheduled run that did not start (the binding was suspended, or the
    instance's previous job was still running); ``error_message`` says why."""

    @property
    def finished(self) -> bool:
        """Whether the job will not change any more."""
        return self is not JobStatus.RUNNING


@stored_as("hbr.TriggerMode")
class TriggerMode(str, enum.Enum):
    """``TriggerMode``: what started the job (the real values are not documented; ⚠ inferred)."""

    SCHEDULE = "SCHEDULE"
    """A policy's BACKUP rule came due."""
    MANUAL = "MANUAL"
    """``CreateBackupJob`` or ``ExecutePolicyV2`` (the console's Backup Now / Run Now)."""


@stored_as("hbr.JobDetail")
@attrs.frozen
class JobDetail:
    """``Detail`` of a backup job (facts §6.1) with what the job learnt about consistency."""

    native_snapshot_id: str | None = None
    """``NativeSnapshotId``: the ECS snapshot of a ``UDM_ECS_DISK`` sub-job."""
    disk_native_snapshot_id_list: tuple[str, ...] = ()
    """``DiskNativeSnapshotIdList``: the ECS snapshots of an instance job, in disk order."""
    disk_id_list: tuple[str, ...] = ()
    """The disks backed up (or tried), system disk first; 1:1 with the sub-jobs."""
    snapshot_group_id: str | None = None
    """The snapshot-consistent group (``ssg-…``) when the disks were taken as one."""
    consistent_level: ConsistentLevel | None = None
    """``CRASH``, ``FS`` or ``APP``: the consistency reached."""
    downgrade_reason: str | None = None
    """Why the consistency asked for was not reached: a guest agent's
    :class:`~cloudbackup.DowngradeReason` value (``HBR.NoRamRoleBound``…), or
    ``HBR.SnapshotGroupNotSupported`` (⚠ inferred) when a snapshot-consistent group was asked
    for but not every disk is of the ESSD family (per-disk crash consistency instead)."""
    skipped_disks: tuple[tuple[str, str], ...] = ()
    """``(disk id, reason)`` of the attached disks not backed up (local disks)."""
    do_copy: bool = False
    """``DoCopy``: replication to another region (not modelled yet: always false)."""
    disk_dev_name: str | None = None
    """The device of a ``UDM_ECS_DISK`` sub-job's disk (``/dev/xvda`` for the system disk)."""


NO_DETAIL = JobDetail()
"""The empty ``Detail`` (a job that took no snapshot): one shared instance, as it is frozen."""


@stored_as("hbr.SubJob")
@attrs.frozen
class SubJob:
    """A ``UDM_ECS_DISK`` sub-job as its instance job knows it: only what differs from the
    instance job (:meth:`BackupJob.sub_job_item` gives the whole ``DescribeBackupJobs2``
    item). A sub-job is not a record of its own, and one that simply follows its job
    (running while it runs, ``COMPLETE`` when it completes) is not even stored whole: see
    :meth:`BackupJob.with_sub_jobs`. A fleet's backup of three disks costs one job record."""

    job_id: str
    """The sub-job's ``JobId`` (``job-000…``)."""
    disk_id: str
    status: JobStatus = JobStatus.RUNNING
    native_snapshot_id: str | None = None
    """``NativeSnapshotId``; None when ECS refused the disk's snapshot."""
    disk_dev_name: str | None = None
    actual_bytes: int = 0
    bytes_total: int = 0
    error_message: str | None = None
    complete_time: _dt.datetime | None = None
    progress: int = 0
    bytes_done: int = 0
    speed: int = 0

    @classmethod
    def folded(cls, item: BackupJob) -> SubJob:
        """What an instance job's record keeps of one of its sub-jobs' items."""
        return cls(
            job_id=item.job_id, disk_id=item.disk_id or "", status=item.status,
            native_snapshot_id=item.detail.native_snapshot_id,
            disk_dev_name=item.detail.disk_dev_name, actual_bytes=item.actual_bytes,
            bytes_total=item.bytes_total, error_message=item.error_message,
            complete_time=item.complete_time, progress=item.progress,
            bytes_done=item.bytes_done, speed=item.speed,
        )  # fmt: skip


_SubJobValues = tuple[
    str, str, JobStatus, str | None, str | None, int, int, str | None, _dt.datetime | None,
    int, int, int,
]  # fmt: skip
"""A :class:`SubJob`'s fields, in order."""
_sub_job_values = operator.attrgetter(*(f.name for f in attrs.fields(SubJob)))
"""A sub-job's fields as one tuple, in :class:`SubJob`'s order: equal exactly when the sub-jobs
are (attrs compares every field, and ``SubJob`` converts none)."""


@stored_as("hbr.BackupJob")
@attrs.frozen
class BackupJob:
    """A backup job (``DescribeBackupJobs2`` item) of an ECS instance or of one of its disks."""

    KIND: ClassVar[str] = "hbr.backup_job"

    job_id: str
    """``job-000…``."""
    region_id: str
    source_type: str
    """``UDM_ECS`` (the instance) or ``UDM_ECS_DISK`` (one disk, a sub-job)."""
    instance_id: str
    status: JobStatus
    trigger_mode: TriggerMode
    created_time: _dt.datetime
    updated_time: _dt.datetime
    retention: int
    """The base retention in days the job started with: ``CreateBackupJob``'s ``Retention``,
    or the policy's (its TRANSITION rule's, else its BACKUP rule's). The native snapshots
    are taken with it; the backup point's effective retention, which special retention may
    lengthen, is :attr:`BackupPoint.retention <cloudbackup.BackupPoint.retention>` and its
    native snapshots follow it once the point is recorded."""
    parent_id: str | None = None
    """``ParentId``: the ``UDM_ECS`` job of a ``UDM_ECS_DISK`` sub-job."""
    disk_id: str | None = None
    """The disk of a ``UDM_ECS_DISK`` sub-job."""
    plan_id: str | None = None
    """``PlanId``: the policy whose rule ran (None for ``CreateBackupJob``)."""
    rule_id: str | None = None
    """The BACKUP rule that ran."""
    job_name: str | None = None
    error_message: str | None = None
    """``ErrorMessage``: why it failed, was skipped or cancelled."""
    backup_type: str = "COMPLETE"
    start_time: _dt.datetime | None = None
    complete_time: _dt.datetime | None = None
    expected_completion_time: _dt.datetime | None = None
    """When a running job finishes (from the snapshot model's upload time)."""
    progress: int = 0
    """``Progress``: percent × 100, 0–10,000."""
    bytes_total: int = 0
    """``BytesTotal``: the size in bytes of the disks backed up (the data source; a full
    backup of each disk, ``BackupType`` ``COMPLETE``)."""
    bytes_done: int = 0
    """``BytesDone``: of ``actual_bytes``, what has been uploaded so far (grows with the
    progress; equal to ``actual_bytes`` once finished, so below ``bytes_total`` whenever a
    disk's snapshot adds less than the whole disk)."""
    actual_bytes: int = 0
    """``ActualBytes``: changed bytes the native snapshots hold (their incremental size)."""
    speed: int = 0
    """``Speed``: KB/s of the upload, once finished."""
    detail: JobDetail = NO_DETAIL
    sub_job_ids: tuple[str, ...] = ()
    """The ``UDM_ECS_DISK`` sub-jobs of an instance job, in disk order."""
    sub_job_disks: tuple[str | int | None, ...] = ()
    """Three values per sub-job, in the order of :attr:`sub_job_ids`: its disk's device, its
    ``ActualBytes`` and its ``BytesTotal`` in GiB (one flat tuple of small values: the
    cheapest way to keep them). With :attr:`sub_jobs`, how the sub-jobs are folded into the
    instance job (:meth:`folded_sub_jobs` reads them). Empty for a job stored before sub-jobs
    were folded, whose sub-jobs are records of their own."""
    sub_jobs: tuple[SubJob, ...] = ()
    """The folded sub-jobs that do not simply follow the instance job (failed, cancelled),
    stored whole; :meth:`folded_sub_jobs` gives them all."""
    point_retention: PointRetention | None = None
    """What the backup point is kept for, fixed when the job starts (a policy changed
    meanwhile applies from the next run)."""
    point_id: str | None = None
    """The ``UDM_ECS`` backup point the finished job recorded (``s-000…``)."""

    def folded_sub_jobs(self) -> tuple[SubJob, ...]:
        """Every sub-job folded into this instance job, in disk order (empty when its sub-jobs
        are records of their own): those stored whole in :attr:`sub_jobs`, the others as they
        follow the job (:meth:`with_sub_jobs`)."""
        whole = {s.job_id: s for s in self.sub_jobs}
        natives = self.detail.disk_native_snapshot_id_list
        out: list[SubJob] = []
        used = 0
        for at in range(min(len(self.sub_job_ids), len(self.sub_job_disks) // 3)):
            sub_id = self.sub_job_ids[at]
            sub = whole.get(sub_id) or self._following(at, sub_id, natives[used : used + 1])
            used += sub.native_snapshot_id is not None
            out.append(sub)
        return tuple(out)

    def _following(self, at: int, sub_id: str, native: tuple[str, ...]) -> SubJob:
        """The ``at``-th sub-job as it follows this job: running while it runs, else
        ``COMPLETE`` when it completed (with its native snapshot, the next of the job's)."""
        return SubJob(*self._following_values(at, sub_id, native))

    def _following_values(self, at: int, sub_id: str, native: tuple[str, ...]) -> _SubJobValues:
        """:meth:`_following`'s fields, in :class:`SubJob`'s order (no object built: how
        :meth:`with_sub_jobs` tells whether a sub-job follows the job)."""
        device, actual, gib = self.sub_job_disks[3 * at : 3 * at + 3]
        device = device if isinstance(device, str) else None
        actual = actual if isinstance(actual, int) else 0
        total = (gib if isinstance(gib, int) else 0) << 30
        disks = self.detail.disk_id_list
        disk_id = disks[at] if at < len(disks) else ""
        snapshot = native[0] if native else None
        end = self.complete_time
        if self.status is JobStatus.RUNNING or end is None:
            return (
                sub_id, disk_id, JobStatus.RUNNING, snapshot, device, actual, total, None, None,
                0, 0, 0,
            )  # fmt: skip
        seconds = max(1.0, (end - (self.start_time or end)).total_seconds())
        return (
            sub_id, disk_id, JobStatus.COMPLETE, snapshot, device, actual, total, None, end,
            10_000, actual, int(actual / 1024 / seconds),
        )  # fmt: skip

    def with_sub_jobs(self, subs: Sequence[SubJob], **changes: object) -> BackupJob:
        """This job with ``changes`` (fields, as ``attrs.evolve`` takes them) and ``subs`` (in
        disk order) folded into it, as it then stands (status, completion): their ids and
        disks always, and whole only the sub-jobs that do not follow the job
        (:meth:`folded_sub_jobs` gives back exactly ``subs``). Call it again whenever the
        job's status changes."""
        job = attrs.evolve(
            self,
            sub_job_ids=tuple([s.job_id for s in subs]),
            sub_job_disks=tuple(
                [v for s in subs for v in (s.disk_dev_name, s.actual_bytes, s.bytes_total >> 30)]
            ),
            sub_jobs=(),
            **changes,  # type: ignore[arg-type]
        )
        natives = job.detail.disk_native_snapshot_id_list
        whole: list[SubJob] = []
        used = 0
        for at, sub in enumerate(subs):
            if _sub_job_values(sub) != job._following_values(
                at, sub.job_id, natives[used : used + 1]
            ):
                whole.append(sub)
            used += sub.native_snapshot_id is not None
        return attrs.evolve(job, sub_jobs=tuple(whole)) if whole else job

    def sub_job_item(self, sub: SubJob) -> BackupJob:
        """One of this instance job's folded sub-jobs as a whole ``UDM_ECS_DISK`` item: the
        instance job's fields (plan, rule, retention, times it started with) and the
        sub-job's own (disk, status, bytes, native snapshot, when it finished)."""
        running = sub.status is JobStatus.RUNNING
        native = sub.native_snapshot_id
        return attrs.evolve(
            self, job_id=sub.job_id, source_type="UDM_ECS_DISK", parent_id=self.job_id,
            disk_id=sub.disk_id, job_name=None, status=sub.status,
            error_message=sub.error_message,
            updated_time=self.created_time if running or sub.complete_time is None
            else sub.complete_time,
            complete_time=sub.complete_time,
            expected_completion_time=self.expected_completion_time if running else None,
            progress=sub.progress, bytes_total=sub.bytes_total, bytes_done=sub.bytes_done,
            actual_bytes=sub.actual_bytes, speed=sub.speed,
            detail=NO_DETAIL if native is None else JobDetail(
                native_snapshot_id=native, consistent_level=self.detail.consistent_level,
                disk_dev_name=sub.disk_dev_name,
            ),
            sub_job_ids=(), sub_job_disks=(), sub_jobs=(), point_id=None,
        )  # fmt: skip

    def observed(self, now: _dt.datetime) -> BackupJob:
        """The job as seen at ``now``: a running job's progress and bytes done grow with the
        time elapsed towards its expected completion (not stored: computed on read)."""
        end, start = self.expected_completion_time, self.start_time
        if self.status is not JobStatus.RUNNING or end is None or start is None:
            return self
        whole = (end - start).total_seconds()
        part = (now - start).total_seconds()
        share = 1.0 if whole <= 0 else max(0.0, min(1.0, part / whole))
        progress = min(9_999, int(share * 10_000))
        return attrs.evolve(
            self, progress=progress, bytes_done=self.actual_bytes * progress // 10_000
        )


@attrs.frozen
class BackupJobFilter:
    """One ``Filters[]`` item of ``DescribeBackupJobs2``."""

    key: str
    """``Key``: ``RegionId``, ``PlanId``, ``JobId``, ``VaultId``, ``InstanceId``, ``Status``,
    ``CreatedTime``, ``CompleteTime``, ``BackupType`` or ``ParentId`` (and the keys of other
    source types, ``Bucket``, ``FileSystemId``, ``InstanceName``, which no ECS job matches)."""
    values: tuple[str, ...]
    """``Values``: 1–500 strings; times are UNIX seconds."""
    operator: str = "IN"
    """``Operator``: ``EQUAL``, ``NOT_EQUAL``, ``GREATER_THAN``, ``GREATER_THAN_OR_EQUAL``,
    ``LESS_THAN``, ``LESS_THAN_OR_EQUAL``, ``BETWEEN`` or ``IN`` (the default; not with
    ``CompleteTime``)."""


@stored_as("events.BackupJobStarted")
@attrs.frozen(kw_only=True)
class BackupJobStarted(Event):
    """A backup job was created: running, or already finished (failed, skipped)."""

    job_id: str
    instance_id: str
    status: JobStatus


@stored_as("events.BackupJobFinished")
@attrs.frozen(kw_only=True)
class BackupJobFinished(Event):
    """A running backup job finished (complete, partially complete, failed or cancelled)."""

    job_id: str
    instance_id: str
    status: JobStatus


_UNITS = {"DAYS": 364_635, "WEEKS": 52_090, "MONTHS": 11_988, "YEARS": 999}
"""Each unit and the largest amount of it (about 999 years, the API's 364,635 days)."""


def retention_in_days(amount: int, unit: str, *, start: _dt.datetime, tz: _dt.tzinfo) -> int:
    """The console's retention ("keep for 3 months") as the API's ``Retention`` in days,
    counted on the calendar of the region's time zone ``tz`` from ``start``.

    ``DAYS`` is ``amount`` itself, ``WEEKS`` 7 × ``amount``; ``MONTHS`` and ``YEARS`` move the
    local date by calendar months (the day clamped to the month's last day: 31 January plus
    one month is 28 or 29 February) and count the days between.
    """
    if not isinstance(unit, str) or str.__str__(unit) not in _UNITS:
        raise InvalidParameterError(
            f"Retention unit {unit!r} is not one of {', '.join(_UNITS)}.",
            code="BadRequest",
            recommend="Use DAYS, WEEKS, MONTHS or YEARS.",
        )
    if not isinstance(start, _dt.datetime) or start.utcoffset() is None:
        raise InvalidParameterError(
            "start must be an aware datetime.",
            code="BadRequest",
            recommend="Pass the job's creation time (world.now()).",
        )
    unit = str.__str__(unit)
    top = _UNITS[unit]
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= top:
        raise InvalidParameterError(
            f"Retention of {amount!r} {unit} is not an integer from 1 to {top:,}.",
            code="BadRequest",
            recommend="Keep a backup from 1 day to about 999 years.",
        )
    amount = int(amount)
    if unit == "DAYS":
        return amount
    if unit == "WEEKS":
        return 7 * amount
    months = amount * (12 if unit == "YEARS" else 1)
    local = start.astimezone(tz).date()
    index = local.year * 12 + local.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9_999:
        raise InvalidParameterError(
            f"{amount} {unit} from {local.isoformat()} falls outside the calendar.",
            code="BadRequest",
            recommend="Keep a backup for a shorter time.",
        )
    day = min(local.day, calendar.monthrange(year, month + 1)[1])
    return (_dt.date(year, month + 1, day) - local).days
