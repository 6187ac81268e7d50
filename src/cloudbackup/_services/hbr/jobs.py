"""Cloud Backup, backup jobs: how one backup of an ECS instance runs (a ``UDM_ECS`` job and a
``UDM_ECS_DISK`` sub-job per disk), CreateBackupJob, CancelBackupJob, DescribeBackupJobs2.

A job takes its native ECS snapshots at once (one snapshot-consistent group when every disk
is of the ESSD family and ``snapshot_group`` is on, else one crash-consistent snapshot per
disk, inside the guest agent's application-consistent sequence when asked), then runs for the
upload time the ECS snapshot model gives its changed bytes: a timer finishes it. Each disk's
step is a unit of work of its own, so an ECS error on one disk fails that sub-job alone.

Part of the layered :class:`~cloudbackup.HbrService` (see ``_services/hbr/__init__.py``).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

import attrs

from ... import _validate as v
from ..._domain.guest import ConsistentLevel, DowngradeReason
from ..._domain.hbr import AdvancedOptions, UdmDetail
from ..._domain.hbr_jobs import (
    JOB_SNAPSHOT_PREFIX,
    JOB_TAG_KEY,
    RELEASED_MESSAGE,
    BackupJob,
    BackupJobFilter,
    BackupJobFinished,
    BackupJobStarted,
    JobDetail,
    JobStatus,
    SubJob,
    TriggerMode,
)
from ..._domain.hbr_points import DiskSnapshotTaken, PointRetention, PointStatus
from ..._domain.hbr_rules import MAX_RETENTION_DAYS
from ..._domain.requests import Page
from ..._engine import Timer
from ..._regions import Region
from ..._world import World
from ...errors import CloudBackupError, IncorrectStatusError
from .._base import consistent_read, unit_of_work
from .._interfaces import GUEST_AGENT, BackupDisk, SnapshotSource
from .bindings import FILTER_TESTS
from .job_filters import JOB_FILTER_KEYS, MAX_JOB_FILTERS, job_field, job_filters
from .job_records import (
    JOBS,
    JOBS_BY_TIME,
    JOBS_OF_INSTANCE,
    SUB_JOB_PARENT,
    SUB_JOBS,
    UNFINISHED_JOB_OF_INSTANCE,
    JobRecords,
)
from .statistics import StatisticsActions

__all__ = [
    "ACTION_JOB_COMPLETE",
    "JOBS",
    "JOBS_BY_TIME",
    "JOBS_OF_INSTANCE",
    "JOB_FILTER_KEYS",
    "MAX_JOB_FILTERS",
    "MAX_NATIVE_RETENTION_DAYS",
    "SUB_JOBS",
    "SUB_JOB_PARENT",
    "UNFINISHED_JOB_OF_INSTANCE",
    "JobActions",
]

ACTION_JOB_COMPLETE = "hbr.job_complete"
"""Timer: a running job's native snapshots finish uploading."""
MAX_NATIVE_RETENTION_DAYS = 65_536
"""The longest ``RetentionDays`` ECS gives a snapshot; a longer point keeps this much."""
GROUP_NOT_SUPPORTED = "HBR.SnapshotGroupNotSupported"
LOCAL_DISK_REASON = "A local disk cannot be backed up by ECS instance backup."
FINISH_FAILED = (
    "The job could not record its backup point. Its native snapshots stay in ECS until their "
    "retention ends; back up again."
)
"""The error of a job whose completion raised (see :meth:`JobActions._on_job_complete_failed`)."""


class JobActions(StatisticsActions):
    """CreateBackupJob, CancelBackupJob, DescribeBackupJobs2 and how a job runs."""

    def __init__(self, world: World, region: Region) -> None:
        super().__init__(world, region)
        self._jobs = JobRecords(world.store, region.region_id)
        self._sub_jobs = SUB_JOBS.open(world.store, region.region_id)

    @property
    def _snapshot_source(self) -> SnapshotSource:
        """ECS's snapshot interface in this region (:attr:`_natives`: looked up once)."""
        return self._natives

    # -- running a job ----------------------------------------------------------------
    def _new_job_id(self) -> str:
        return self._world.ids.new_id("job-", "000", 20)

    def _store_new_job(self, job: BackupJob) -> BackupJob:
        self._jobs.put(job, old=None)
        self._world.events._emit(
            BackupJobStarted,
            time=job.created_time,
            region_id=self.region_id,
            job_id=job.job_id,
            instance_id=job.instance_id,
            status=job.status,
        )
        return job

    def _put_sub_job(self, sub: BackupJob, *, old: BackupJob | None) -> None:
        """Store a changed ``UDM_ECS_DISK`` sub-job (``old``: as read now). A folded sub-job
        changes in its instance job's record; a sub-job stored as a record of its own (before
        sub-jobs were folded) stays one, and one stored before sub-jobs left
        :data:`JOBS_BY_TIME` drops its entry there (with its count) the first time it
        changes."""
        store = self._world.store
        if old is not None and store.raw_get(BackupJob.KIND, self.region_id, old.job_id) is None:
            parent = self._jobs.get(sub.parent_id or "")
            folded = SubJob.folded(sub)
            subs = [folded if s.job_id == sub.job_id else s for s in parent.folded_sub_jobs()]
            self._jobs.put(parent.with_sub_jobs(subs), old=parent)
            return
        if old is not None:
            values = JOBS_BY_TIME.values_of(old)
            partition = JOBS_BY_TIME.partition(self.region_id, values)
            entry = JOBS_BY_TIME.entry(old, old.job_id)
            if self._world.store.raw_get(JOBS_BY_TIME.kind, partition, entry) is not None:
                self._jobs.delete(old)
                old = None
        self._sub_jobs.put(sub, old=old)

    def _unfinished_job(self, instance_id: str) -> BackupJob | None:
        found = self._jobs.members(UNFINISHED_JOB_OF_INSTANCE, instance_id)
        return found[0] if found else None

    def _skip_job(
        self,
        instance_id: str,
        reason: str,
        *,
        retention: int,
        trigger: TriggerMode,
        plan_id: str | None,
        rule_id: str | None,
    ) -> BackupJob:
        """Record a run that did not start (``SKIPPED``, with the reason)."""
        now = self._world.now()
        return self._store_new_job(
            BackupJob(
                job_id=self._new_job_id(), region_id=self.region_id, source_type="UDM_ECS",
                instance_id=instance_id, status=JobStatus.SKIPPED, trigger_mode=trigger,
                created_time=now, updated_time=now, retention=retention, plan_id=plan_id,
                rule_id=rule_id, error_message=reason, complete_time=now,
            )
        )  # fmt: skip

    def _start_job(
        self,
        instance_id: str,
        detail: UdmDetail,
        *,
        retention: PointRetention,
        trigger: TriggerMode,
        plan_id: str | None = None,
        rule_id: str | None = None,
        job_name: str | None = None,
    ) -> BackupJob:
        """Start one backup of an instance: take its native snapshots now, finish later.

        A released instance gives a ``FAILED`` job saying so; local disks are skipped with
        the reason; a disk whose snapshot ECS refuses fails its sub-job alone.
        """
        world = self._world
        now = world.now()
        job_id = self._new_job_id()
        base = BackupJob(
            job_id=job_id, region_id=self.region_id, source_type="UDM_ECS",
            instance_id=instance_id, status=JobStatus.RUNNING, trigger_mode=trigger,
            created_time=now, updated_time=now, retention=retention.retention, plan_id=plan_id,
            rule_id=rule_id, job_name=job_name, start_time=now, point_retention=retention,
        )  # fmt: skip
        instance = self._inventory.find_instance(instance_id)
        if instance is None:
            failed = attrs.evolve(
                base, status=JobStatus.FAILED, error_message=RELEASED_MESSAGE, complete_time=now
            )
            return self._store_new_job(failed)
        chosen, skipped = _chosen_disks(instance.disks, detail)
        if not chosen:
            failed = attrs.evolve(
                base,
                status=JobStatus.FAILED,
                complete_time=now,
                error_message=f"ECS instance {instance_id} has no cloud disk to back up.",
                detail=JobDetail(skipped_disks=skipped),
            )
            return self._store_new_job(failed)
        taken, level, reason, guest_time = self._take(
            instance_id, chosen, detail, job_id, retention.retention
        )
        # One read of each native snapshot: (incremental bytes, disk bytes).
        sizes: dict[str, tuple[int, int]] = {}
        source = self._snapshot_source
        for disk in chosen:
            got = taken.get(disk.disk_id)
            if isinstance(got, str):
                found = source.find_snapshot(got)
                sizes[got] = (
                    (0, 0)
                    if found is None
                    else (found.incremental_size, found.source_disk_size * 1024**3)
                )
        actual = sum(incremental for incremental, _ in sizes.values())
        due = now + world.timings.snapshot_duration(actual) + guest_time
        subs: list[SubJob] = []  # folded into the job (see SubJob): no record of their own
        for disk in chosen:
            got = taken.get(disk.disk_id)
            sub_id = self._new_job_id()
            if isinstance(got, str):
                incremental, size = sizes[got]
                sub = SubJob(
                    sub_id, disk.disk_id, native_snapshot_id=got, disk_dev_name=disk.device,
                    actual_bytes=incremental, bytes_total=size,
                )  # fmt: skip
            else:
                sub = SubJob(
                    sub_id, disk.disk_id, status=JobStatus.FAILED, complete_time=now,
                    error_message=got.message if got is not None else "Not taken.",
                )  # fmt: skip
            subs.append(sub)
        native = tuple(t for d in chosen if isinstance(t := taken.get(d.disk_id), str))
        group_id = taken.get("")
        outcome: dict[str, object] = {"expected_completion_time": due}
        if not native:
            outcome = {
                "status": JobStatus.FAILED,
                "complete_time": now,
                "expected_completion_time": None,
                "error_message": "No disk could be snapshotted: "
                + "; ".join(f"{s.disk_id}: {s.error_message}" for s in subs),
            }
        job = base.with_sub_jobs(
            subs,
            actual_bytes=actual,
            bytes_total=sum(s.bytes_total for s in subs),
            detail=JobDetail(
                disk_native_snapshot_id_list=native,
                disk_id_list=tuple(d.disk_id for d in chosen),
                snapshot_group_id=group_id if isinstance(group_id, str) else None,
                consistent_level=level if native else None,
                downgrade_reason=reason,
                skipped_disks=skipped,
            ),
            **outcome,
        )
        self._store_new_job(job)
        store = world.store
        for sub in subs:
            store.raw_put(SUB_JOB_PARENT, self.region_id, sub.job_id, job_id)
        if not native:
            return job
        world.engine.schedule(due, ACTION_JOB_COMPLETE, self.region_id, job_id, new_target=True)
        return job

    def _take(
        self,
        instance_id: str,
        disks: Sequence[BackupDisk],
        detail: UdmDetail,
        job_id: str,
        retention: int,
    ) -> tuple[dict[str, str | CloudBackupError], ConsistentLevel, str | None, _dt.timedelta]:
        """Take the native snapshots: ``{disk id: snapshot id or the ECS error}`` (and the
        group id under ``""``), the consistency reached, the downgrade reason, guest time.

        They are taken managed (:meth:`SnapshotSource.take_snapshot
        <cloudbackup._services._interfaces.SnapshotSource.take_snapshot>`): ECS records the
        job's retention on them but sets no expiry timer. The job's end decides: its point
        manages them (:meth:`_record_point`), or cancelling deletes them
        (:meth:`cancel_backup_job`), or a completion that fails hands them back to ECS
        (:meth:`_on_job_complete_failed`); a job that took none has nothing to hand back."""
        source = self._snapshot_source
        name = JOB_SNAPSHOT_PREFIX + job_id
        tags = ((JOB_TAG_KEY, job_id),)
        days = min(retention, MAX_NATIVE_RETENTION_DAYS)
        group = detail.snapshot_group and all(d.essd for d in disks)
        reason = GROUP_NOT_SUPPORTED if detail.snapshot_group and not group else None

        # Each call of the snapshot interface is a unit of work of its own (a savepoint in
        # this one): a refused call leaves nothing behind, so no savepoint of ours is needed.
        def take() -> dict[str, str | CloudBackupError]:
            out: dict[str, str | CloudBackupError] = {}
            if group:
                ids = [d.disk_id for d in disks]
                try:
                    group_id, members = source.take_snapshot_group(
                        instance_id, disk_ids=ids, snapshot_name=name,
                        retention_days=days, tags=tags, managed=True,
                    )  # fmt: skip
                except CloudBackupError as error:
                    return dict.fromkeys(ids, error)
                out[""] = group_id
                out.update(zip(ids, members, strict=True))
                return out
            for disk in disks:
                try:
                    out[disk.disk_id] = source.take_snapshot(
                        disk.disk_id, retention_days=days, tags=tags, snapshot_name=name,
                        managed=True,
                    )  # fmt: skip
                except CloudBackupError as error:
                    out[disk.disk_id] = error
            return out

        if not detail.app_consistent:
            return take(), ConsistentLevel.CRASH, reason, _dt.timedelta(0)
        result = self._world.provider(GUEST_AGENT, self.region).run_app_consistent(
            instance_id,
            take,
            ram_role_name=detail.ram_role_name or "",
            pre_script_path=detail.pre_script_path or "",
            post_script_path=detail.post_script_path or "",
            enable_fs_freeze=detail.enable_fs_freeze,
            timeout_in_seconds=detail.timeout_in_seconds,
            enable_writers=detail.enable_writers,
        )
        why = None if result.downgrade_reason is None else result.downgrade_reason.value
        return result.value, result.consistent_level, why or reason, result.duration

    def _on_job_complete(self, timer: Timer) -> None:
        """A running job's upload is done: each sub-job whose snapshot still exists is
        ``COMPLETE``; the job is ``COMPLETE``, ``PARTIAL_COMPLETE`` or ``FAILED``."""
        job = self._jobs.find(timer.target_id)
        if job is None or job.status is not JobStatus.RUNNING:
            return
        now = self._world.now()
        source = self._snapshot_source
        done: list[DiskSnapshotTaken] = []
        failed = 0
        folded: tuple[SubJob, ...] = ()
        if job.sub_job_disks:
            done, failed, folded = self._complete_folded(job, now)
        for sub in [] if folded else self._jobs.named_or_all(list(job.sub_job_ids)):
            if sub.status is not JobStatus.RUNNING:
                failed += 1
                continue
            sid = sub.detail.native_snapshot_id
            if sid is not None and source.find_snapshot(sid) is not None:
                done.append(
                    DiskSnapshotTaken(
                        sub.disk_id or "", sid, sub.bytes_total, sub.actual_bytes,
                        sub.detail.disk_dev_name,
                    )
                )  # fmt: skip
                changed = self._finished(sub, JobStatus.COMPLETE, now)
            else:
                failed += 1
                changed = self._finished(
                    sub, JobStatus.FAILED, now,
                    error_message=f"The native snapshot {sid} was deleted before the job finished.",
                )  # fmt: skip
            self._put_sub_job(changed, old=sub)
        status = (
            JobStatus.COMPLETE if not failed
            else JobStatus.PARTIAL_COMPLETE if done
            else JobStatus.FAILED
        )  # fmt: skip
        # The point first, so the finished job is built once, with its point id. A FAILED
        # job says why, as every FAILED job does.
        end: dict[str, object] = (
            {"point_id": self._record_job_point(job, status, done)}
            if done
            else {"error_message": "Every native snapshot was deleted before the job finished."}
        )
        finished = self._finished(job, status, now, **end)
        if folded and (failed or job.sub_jobs):
            # A sub-job failed, or one was stored whole: fold them anew. Otherwise every
            # sub-job followed the running job and completes with it, as the finished job's
            # record already says (its folding gives back ``folded`` as it stands).
            finished = finished.with_sub_jobs(folded)
        self._jobs.put(finished, old=job)
        self._job_finished(finished)

    def _complete_folded(
        self, job: BackupJob, now: _dt.datetime
    ) -> tuple[list[DiskSnapshotTaken], int, tuple[SubJob, ...]]:
        """Finish a job's folded running sub-jobs at ``now``: ``COMPLETE`` when the native
        snapshot still exists, else ``FAILED`` saying so. Returns the disks backed up, how
        many sub-jobs failed (before or now) and the sub-jobs as they end."""
        source = self._snapshot_source
        done: list[DiskSnapshotTaken] = []
        failed = 0
        out: list[SubJob] = []
        seconds = max(1.0, (now - (job.start_time or now)).total_seconds())
        for sub in job.folded_sub_jobs():
            sid = sub.native_snapshot_id
            if sub.status is not JobStatus.RUNNING:
                failed += 1
                out.append(sub)
            elif sid is not None and source.find_snapshot(sid) is not None:
                done.append(
                    DiskSnapshotTaken(
                        sub.disk_id, sid, sub.bytes_total, sub.actual_bytes, sub.disk_dev_name
                    )
                )
                out.append(  # what _finished(..., COMPLETE, now) gives, without the item
                    SubJob(
                        sub.job_id, sub.disk_id, JobStatus.COMPLETE, sid, sub.disk_dev_name,
                        sub.actual_bytes, sub.bytes_total, sub.error_message, now, 10_000,
                        sub.actual_bytes, int(sub.actual_bytes / 1024 / seconds),
                    )
                )  # fmt: skip
            else:
                failed += 1
                item = self._finished(
                    job.sub_job_item(sub), JobStatus.FAILED, now,
                    error_message=f"The native snapshot {sid} was deleted before the job finished.",
                )  # fmt: skip
                out.append(SubJob.folded(item))
        return done, failed, tuple(out)

    def _record_job_point(
        self, job: BackupJob, status: JobStatus, disks: list[DiskSnapshotTaken]
    ) -> str:
        """Hand the native snapshots of a job finishing with ``status`` (``COMPLETE`` or
        ``PARTIAL_COMPLETE``) to the points layer: its backup point."""
        reason = job.detail.downgrade_reason
        known = {r.value: r for r in DowngradeReason}
        return self._record_point(
            job_id=job.job_id,
            instance_id=job.instance_id,
            created=job.created_time,
            disks=disks,
            retention=job.point_retention or PointRetention(job.retention),
            consistent_level=job.detail.consistent_level or ConsistentLevel.CRASH,
            downgrade_reason=None if reason is None else known.get(reason),
            snapshot_group_id=job.detail.snapshot_group_id,
            status=PointStatus.COMPLETE
            if status is JobStatus.COMPLETE
            else PointStatus.PARTIAL_COMPLETE,
        )

    def _finished(
        self, job: BackupJob, status: JobStatus, now: _dt.datetime, **changes: object
    ) -> BackupJob:
        """The job finished at ``now`` with ``status`` (and ``changes``, in the same evolve)."""
        began = job.start_time or now
        seconds = max(1.0, (now - began).total_seconds())
        complete = status is JobStatus.COMPLETE or status is JobStatus.PARTIAL_COMPLETE
        return attrs.evolve(
            job,
            status=status,
            complete_time=now,
            updated_time=now,
            expected_completion_time=None,
            progress=10_000 if complete else job.observed(now).progress,
            bytes_done=job.actual_bytes if complete else job.observed(now).bytes_done,
            speed=int(job.actual_bytes / 1024 / seconds) if complete else 0,
            **changes,  # type: ignore[arg-type]
        )

    def _job_finished(self, job: BackupJob) -> None:
        """After a job finished: tell the event log."""
        self._world.events._emit(
            BackupJobFinished,
            time=job.updated_time,
            region_id=self.region_id,
            job_id=job.job_id,
            instance_id=job.instance_id,
            status=job.status,
        )

    # -- actions ----------------------------------------------------------------------
    @unit_of_work
    def create_backup_job(
        self,
        *,
        instance_id: str,
        retention: int,
        source_type: str = "UDM_ECS",
        backup_type: str = "COMPLETE",
        job_name: str | None = None,
        detail: UdmDetail | None = None,
    ) -> str:
        """``CreateBackupJob`` (the console's Backup Now without a policy): back up one ECS
        instance now; returns the ``JobId``.

        The job runs as a scheduled one does (see :mod:`cloudbackup._services.hbr.jobs`); an
        instance whose previous job is still running is refused
        (``IncorrectStatus.JobRunning``), a released one gives a ``FAILED`` job.

        Args:
            instance_id: An ECS instance of this region.
            retention: Days to keep the backup, 1–364,635 (the native snapshots keep at most
                65,536); :func:`cloudbackup.retention_in_days` converts the console's
                weeks/months/years.
            source_type: ``UDM_ECS``.
            backup_type: ``COMPLETE``.
            job_name: 1–64 characters.
            detail: ``Detail`` as a :class:`~cloudbackup.UdmDetail` (``diskIdList``,
                ``snapshotGroup``, ``appConsistent`` and its scripts…); ``None`` takes the
                defaults. ``destination_kms_key_id`` is not taken (no replication here).
        """
        self._require_open()
        self._source_type(source_type)
        v.choice("BackupType", backup_type, ("COMPLETE",), code="BadRequest")
        days = v.integer("Retention", retention, 1, MAX_RETENTION_DAYS, code="BadRequest")
        name = v.optional_text("JobName", job_name, 1, 64, code="BadRequest")
        instance = self._instance(self._id("InstanceId", instance_id))
        if detail is not None and (
            not isinstance(detail, UdmDetail) or detail.destination_kms_key_id is not None
        ):
            raise self._bad(
                "Detail must be a UdmDetail without destination_kms_key_id.",
                "Pass detail=UdmDetail(...); replication belongs to a policy's REPLICATION rule.",
            )
        options = self._options(
            None if detail is None else AdvancedOptions(detail),
            policy=None,
            instance=instance,
            batch=1,
        )
        running = self._unfinished_job(instance.instance_id)
        if running is not None:
            raise IncorrectStatusError(
                f"Backup job {running.job_id} of ECS instance {instance.instance_id} is still "
                "running.",
                code="IncorrectStatus.JobRunning",
                ids=(instance.instance_id, running.job_id),
                recommend="Wait for it to finish (advance virtual time) or cancel it with "
                "cancel_backup_job, then back up again.",
            )
        job = self._start_job(
            instance.instance_id,
            options.udm_detail,
            retention=PointRetention(days),
            trigger=TriggerMode.MANUAL,
            job_name=name,
        )
        return job.job_id

    @unit_of_work
    def cancel_backup_job(self, *, job_id: str) -> None:
        """``CancelBackupJob``: stop a running ``UDM_ECS`` job; it becomes ``CANCELED``, its
        native snapshots are deleted and it leaves no backup point. A native snapshot that
        was meanwhile used to create a disk or image stays in ECS and leaves Cloud Backup's
        lifecycle (kept until deleted), one locked in ECS stays until its lock and retention
        end, as :meth:`delete_snapshot` treats them: the cancel is never refused for them.

        A finished job, or a sub-job, is refused (``IncorrectStatus.JobNotRunning``).
        """
        self._require_open()
        job = self._jobs.get(self._id("JobId", job_id))
        if job.source_type != "UDM_ECS" or job.status is not JobStatus.RUNNING:
            raise IncorrectStatusError(
                f"Backup job {job.job_id} is {job.status.value}"
                + ("" if job.parent_id is None else f", a sub-job of {job.parent_id}")
                + "; only a running UDM_ECS job can be cancelled.",
                code="IncorrectStatus.JobNotRunning",
                ids=(job.job_id,),
                recommend="Cancel the running instance job (its JobId, not a sub-job's).",
            )
        for snapshot_id in job.detail.disk_native_snapshot_id_list:
            self._release_native(snapshot_id)  # one made into a disk/image, or locked, stays
        self._end_job(job, JobStatus.CANCELED, "The job was cancelled.")
        self._world.engine.cancel_for(ACTION_JOB_COMPLETE, self.region_id, job.job_id)

    def _on_job_complete_failed(self, timer: Timer) -> None:
        """After finishing a job raised (and was undone): the job ends ``FAILED`` with no
        point, and its native snapshots, which no point manages, go back to ECS: each is
        released by its own retention (at once if that has run out), as ECS keeps any
        snapshot."""
        job = self._jobs.find(timer.target_id)
        if job is None or job.status is not JobStatus.RUNNING:
            return
        self._end_job(job, JobStatus.FAILED, FINISH_FAILED)
        source = self._snapshot_source
        for snapshot_id in job.detail.disk_native_snapshot_id_list:
            if source.find_snapshot(snapshot_id) is not None:
                source.unmanage_snapshot(snapshot_id, expired=False)

    def _end_job(self, job: BackupJob, status: JobStatus, message: str) -> None:
        """Store a running job ended now with ``status`` and ``message``, its running sub-jobs
        with it (each stored whole too, when it is), and tell the event log."""
        now = self._world.now()
        for sub in self._jobs.named_or_all(list(job.sub_job_ids)):
            if sub.status is JobStatus.RUNNING:
                self._put_sub_job(self._ended(sub, now, status, message), old=sub)
        ended = self._ended(job, now, status, message)
        self._jobs.put(ended, old=job)
        self._job_finished(ended)

    def _ended(
        self, job: BackupJob, now: _dt.datetime, status: JobStatus, message: str
    ) -> BackupJob:
        """The job ended at ``now`` (``CANCELED`` or ``FAILED``); an instance job's folded
        sub-jobs still running end with it (in its record: whether or not each was also put
        on its own)."""
        ended = self._finished(job, status, now, error_message=message)
        if not job.sub_job_disks:
            return ended
        subs = tuple(
            SubJob.folded(self._ended(job.sub_job_item(s), now, status, message))
            if s.status is JobStatus.RUNNING
            else s
            for s in job.folded_sub_jobs()
        )
        return ended.with_sub_jobs(subs)

    @consistent_read
    def describe_backup_jobs2(
        self,
        *,
        source_type: str = "UDM_ECS",
        filters: Sequence[BackupJobFilter] | None = None,
        page_number: int = 1,
        page_size: int = 10,
        sort_direction: str = "DESCEND",
    ) -> Page[BackupJob]:
        """``DescribeBackupJobs2``: the region's jobs of one source type by creation time
        (newest first unless ``sort_direction="ASCEND"``), ``page_size`` 1–99, at most 5
        filters of up to 500 values (``IN`` not with ``CompleteTime``; times are UNIX
        seconds). ``UDM_ECS_DISK`` sub-jobs need a ``ParentId`` filter (``EQUAL``/``IN``).

        Running jobs show their progress at this instant. Cost: without filters, or with
        ``Status`` filters, a page reads the pages up to it (an ordered index partitioned by
        source type and status); ``JobId``, ``InstanceId`` and ``ParentId`` with ``EQUAL``/
        ``IN`` read those jobs; other filters read the source type's jobs.
        """
        self._require_open()
        kind = v.choice("SourceType", source_type, ("UDM_ECS", "UDM_ECS_DISK"), code="BadRequest")
        number = v.integer("PageNumber", page_number, 1, 2**31 - 1, code="BadRequest")
        size = v.integer("PageSize", page_size, 1, 99, code="BadRequest")
        direction = v.choice(
            "SortDirection", sort_direction, ("ASCEND", "DESCEND"), code="BadRequest"
        )
        checked = job_filters(filters)
        descending = direction == "DESCEND"
        parent = [x for x in checked if x[0] == "ParentId" and x[1] in ("EQUAL", "IN")]
        if kind == "UDM_ECS_DISK" and not parent:
            raise self._bad(
                "UDM_ECS_DISK sub-jobs are listed per instance job: give a ParentId filter.",
                "Add BackupJobFilter(key='ParentId', values=(job_id,), operator='EQUAL').",
            )
        now = self._world.now()
        only_status = all(k == "Status" and op in ("EQUAL", "IN") for k, op, _ in checked)
        if only_status:
            statuses = [vs[:1] if op == "EQUAL" else vs for _, op, vs in checked]
            allowed = {s.value for s in JobStatus}
            for chosen in statuses:
                allowed &= set(chosen)
            where = {"SourceType": kind, "Status": tuple(sorted(allowed))}
            total = self._jobs.count(JOBS_BY_TIME, where=where) if allowed else 0
            skip = (number - 1) * size
            if not allowed or skip >= total:
                return Page((), total, number, size)
            found = self._jobs.ordered(
                JOBS_BY_TIME, where=where, descending=descending, limit=skip + size
            )
            return Page(tuple(j.observed(now) for j in found[skip:]), total, number, size)
        candidates = self._job_candidates(kind, checked)
        matched = [
            j
            for j in candidates
            if j.source_type == kind
            and all(
                (value := job_field(j, key)) is not None and FILTER_TESTS[op](value, values)
                for key, op, values in checked
            )
        ]
        if kind == "UDM_ECS":  # ties by job id, as JOBS_BY_TIME orders them unfiltered
            matched.sort(key=lambda j: (j.created_time, j.job_id), reverse=descending)
        else:  # sub-jobs of a parent: stable, so disk order
            matched.sort(key=lambda j: j.created_time, reverse=descending)
        skip = (number - 1) * size
        page = tuple(j.observed(now) for j in matched[skip : skip + size])
        return Page(page, len(matched), number, size)

    def _job_candidates(
        self, kind: str, checked: list[tuple[str, str, tuple[str, ...]]]
    ) -> list[BackupJob]:
        for key, op, values in checked:
            if op not in ("EQUAL", "IN"):
                continue
            chosen = list(dict.fromkeys(values[:1] if op == "EQUAL" else values))
            if key == "JobId":
                return [j for j in (self._jobs.find(i) for i in chosen) if j is not None]
            if key == "InstanceId" and kind == "UDM_ECS":
                return [j for i in chosen for j in self._jobs.members(JOBS_OF_INSTANCE, i)]
            if key == "ParentId" and kind == "UDM_ECS_DISK":
                parents = [j for j in (self._jobs.find(i) for i in chosen) if j is not None]
                ids = [s for p in parents for s in p.sub_job_ids]
                return self._jobs.named_or_all(ids) if ids else []
        where = {"SourceType": kind}
        total = self._jobs.count(JOBS_BY_TIME, where=where)
        if not total:
            return []
        return self._jobs.ordered(JOBS_BY_TIME, where=where, descending=False, limit=total)


def _chosen_disks(
    disks: Sequence[BackupDisk], detail: UdmDetail
) -> tuple[list[BackupDisk], tuple[tuple[str, str], ...]]:
    """The disks a job backs up (system disk first) and the skipped ones with the reason."""
    if detail.disk_id_list:
        wanted = [d for d in disks if d.disk_id in detail.disk_id_list]
    else:
        wanted = [d for d in disks if d.disk_id not in detail.exclude_disk_id_list]
    skipped = tuple((d.disk_id, LOCAL_DISK_REASON) for d in wanted if d.local)
    return [d for d in wanted if not d.local], skipped
