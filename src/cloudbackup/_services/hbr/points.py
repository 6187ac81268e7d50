"""Cloud Backup, backup points and retention: DescribeUdmSnapshots, DeleteSnapshot, the
console's Extend Retention and Delete Backups (time range), and what a finished backup job
calls to record its point (:meth:`PointActions._record_point`).

A point's native ECS snapshots are reached only through
:data:`~cloudbackup._services._interfaces.ECS_SNAPSHOTS`. Expiry is one engine timer per expiry
instant for every point due then (``UDM_ECS`` points, and disk points whose retention was
extended), each listed under it in :data:`POINTS_DUE`: a daily policy's points of one day share
one timer, which fires exactly at expiry (well within the 10 minutes the console promises). A
world stored before keeps one timer per point, which names it. The point's native
snapshots are managed (:meth:`SnapshotSource.manage_snapshots
<cloudbackup._services._interfaces.SnapshotSource.manage_snapshots>`): ECS keeps no timer of
its own for them, the point's timer releases them.

Part of the layered :class:`~cloudbackup.HbrService` (see ``_services/hbr/__init__.py``).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence

import attrs

from ... import _validate as v
from ..._domain.guest import ConsistentLevel, DowngradeReason
from ..._domain.hbr_points import (
    MAX_EXTENDED_RETENTION,
    BackupPoint,
    BackupPointDeleted,
    BackupPointRecorded,
    BackupPointRetentionExtended,
    DiskSnapshotTaken,
    PointRetention,
    PointSourceType,
    PointStatus,
    UdmSnapshots,
)
from ..._domain.hbr_tasks import HbrTask, TaskName, TaskStatus, result_text
from ..._engine import Timer
from ..._repository import ORDER_SEPARATOR, OrderedIndex, facet_partition
from ..._time import require_aware
from ...errors import (
    CloudBackupError,
    InvalidParameterError,
    OperationDeniedError,
    ResourceNotFoundError,
)
from .._base import consistent_read, unit_of_work
from ._core import ACTION_TASK
from .point_indexes import (
    DISK_POINT_PARENT,
    PERIOD_MARKS,
    POINT_OF_GROUP,
    POINT_OF_JOB,
    POINTS,
    POINTS_BY_TIME,
    POINTS_DUE,
    POINTS_OF_DISK,
    POINTS_OF_GROUP,
    POINTS_OF_INSTANCE,
    POINTS_OF_JOB,
    time_key,
)
from .point_store import PointStore
from .retention import effective_retention, first_of_periods

__all__ = [
    "ACTION_POINT_EXPIRE",
    "POINTS_DUE",
    "DISK_POINT_PARENT",
    "DELETE_STEP",
    "DELETE_STEPS",
    "MAX_POINT_RETENTION",
    "PERIOD_MARKS",
    "POINTS",
    "POINTS_BY_TIME",
    "POINTS_OF_DISK",
    "POINTS_OF_GROUP",
    "POINTS_OF_INSTANCE",
    "POINTS_OF_JOB",
    "POINT_OF_GROUP",
    "POINT_OF_JOB",
    "PointActions",
    "time_key",
]

ACTION_POINT_EXPIRE = "hbr.point_expire"
"""Timer action: the retention of the backup points due at the timer's instant has run out
(target = :func:`time_key` of the instant, the points in :data:`POINTS_DUE`); in a world stored
before, target = the one point whose retention has run out."""

MAX_POINT_RETENTION = 364_635
"""A rule's longest retention (days)."""

MAX_NATIVE_RETENTION = 65_536
"""The longest retention ECS gives a snapshot; a point kept longer keeps its native snapshots
until deleted (Cloud Backup deletes them at the point's expiry)."""

DELETE_STEPS = 10
"""Delete Backups runs in at most this many steps, :data:`DELETE_STEP` apart."""
DELETE_STEP = _dt.timedelta(minutes=1)
"""The time between two steps of Delete Backups (all points gone within 10 minutes)."""

_LAST_OF_SECOND = _dt.timedelta(microseconds=999_999)
_DISK = PointSourceType.UDM_ECS_DISK.value


class PointActions(PointStore):
    """DescribeUdmSnapshots, DeleteSnapshot, Extend Retention and Delete Backups (console),
    point expiry, and :meth:`_record_point` for backup jobs."""

    # -- recording (called by backup jobs) --------------------------------------------
    def _record_point(
        self,
        *,
        job_id: str,
        instance_id: str,
        created: _dt.datetime,
        disks: Sequence[DiskSnapshotTaken],
        retention: PointRetention,
        consistent_level: ConsistentLevel = ConsistentLevel.CRASH,
        downgrade_reason: DowngradeReason | None = None,
        snapshot_group_id: str | None = None,
        status: PointStatus = PointStatus.COMPLETE,
    ) -> str:
        """Record the point of a finished backup job; returns its ``UDM_ECS`` id (``s-000…``).

        Args:
            job_id: The backup job (``job-000…``).
            instance_id: The protected instance.
            created: The point's ``CreatedTime`` (the job's creation): its retention and its
                day/week/month/year are counted from it. An instance's points must be recorded
                in this order (one job per instance runs at a time).
            disks: One :class:`~cloudbackup.DiskSnapshotTaken` per disk backed up (at least
                one), system disk first: the native ECS snapshots the job made.
            retention: What the rule (or the manual backup) keeps the point for; see
                :func:`cloudbackup._services.hbr.retention.point_retention_of`.
            consistent_level: ``APP``, ``FS`` or ``CRASH``.
            downgrade_reason: Why a lower consistency than asked was reached.
            snapshot_group_id: The ECS snapshot-consistent group, when one was made.
            status: ``PARTIAL_COMPLETE`` when some disks failed.

        The point's effective retention is the longest of ``retention.retention`` and the
        special retention of every period (local time) it is the first point of. Its native
        snapshots get the same retention in ECS (kept until deleted when longer than ECS's
        65,536 days, or when ``keep_latest`` may hold the point past expiry); under an immutable
        rule they are locked until the point expires. An expiry timer is set. Runs as one
        nested unit: if it raises, nothing of it remains.
        """
        with self._world.store.unit():
            if not disks:
                raise InvalidParameterError(
                    f"Backup job {job_id} hands over no disk snapshot.",
                    code="BadRequest",
                    ids=(job_id, instance_id),
                    recommend="Record a point only for a job that backed up at least one disk.",
                )
            v.integer("Retention", retention.retention, 1, MAX_POINT_RETENTION, code="BadRequest")
            created = require_aware(created, "created")
            job_id = self._id("JobId", job_id)
            instance_id = self._id("InstanceId", instance_id)
            zone = self.region.tzinfo
            marks_raw = self._world.store.raw_get(PERIOD_MARKS, self.region_id, instance_id)
            marks: dict[str, str] = json.loads(marks_raw) if isinstance(marks_raw, str) else {}
            firsts, marks = first_of_periods(marks, created, zone)
            days, kind = effective_retention(retention.retention, retention.special, firsts)
            previous = self._latest_point(instance_id)
            now = self._world.now()
            new_id = self._world.ids.new_id
            parent_id = new_id("s-", "000", 20)
            disk_ids = tuple(d.disk_id for d in disks)
            natives = tuple(d.native_snapshot_id for d in disks)
            common = {
                "job_id": job_id,
                "instance_id": instance_id,
                "region_id": self.region_id,
                "created_time": created,
                "complete_time": now,
                "status": PointStatus(status),
                "retention": days,
                "base_retention": retention.retention,
                "advanced_retention_type": kind,
                "consistent_level": consistent_level,
                "downgrade_reason": downgrade_reason,
                "snapshot_group_id": snapshot_group_id,
                "immutable": retention.immutable,
                "keep_latest": retention.keep_latest,
                "policy_id": retention.policy_id,
                "rule_id": retention.rule_id,
            }
            state = PointStatus(status).value
            # The disk points are folded into the instance point (no record each, see
            # DISK_POINT_PARENT); the ordered indexes list them as records.
            parent = BackupPoint(
                snapshot_id=parent_id,
                source_type=PointSourceType.UDM_ECS,
                disk_id_list=disk_ids,
                native_snapshot_id_list=natives,
                disk_point_ids=tuple([new_id("s-", "000", 20) for _ in disks]),
                parent_snapshot_id=None,
                bytes_total=sum(d.bytes_total for d in disks),
                actual_bytes=sum(d.actual_bytes for d in disks),
                disk_fold=tuple(
                    [v for d in disks for v in (d.bytes_total, d.actual_bytes, d.device, state)]
                ),
                **common,  # type: ignore[arg-type]
            )
            self._points.put(parent, old=None)
            self._index_folded(parent, parent.disk_point_ids, add=True)
            store = self._world.store
            store.raw_put(
                POINT_OF_JOB, self.region_id, job_id, ",".join((parent_id, *parent.disk_point_ids))
            )
            if snapshot_group_id:
                store.raw_put(POINT_OF_GROUP, self.region_id, snapshot_group_id, parent_id)
            self._manage_natives(parent, natives)
            expire = parent.expire_time
            if expire is not None:
                self._due(parent_id, expire)
            store.raw_put(
                PERIOD_MARKS, self.region_id, instance_id, json.dumps(marks, sort_keys=True)
            )
            self._world.events._emit(
                BackupPointRecorded,
                time=now,
                region_id=self.region_id,
                snapshot_id=parent_id,
                instance_id=instance_id,
                job_id=job_id,
            )
            # keep-latest held the previous latest point past its expiry: now it may go.
            if previous is not None and previous.keep_latest:
                old_expire = previous.expire_time
                if old_expire is not None and old_expire <= now:
                    self._drop_point(previous, reason="expired")
            return parent_id

    def _manage_natives(self, point: BackupPoint, natives: Sequence[str]) -> None:
        """Give the point's native snapshots its retention in ECS, and its lock if immutable.

        Cloud Backup manages them (the real service manages the natives it tagged): ECS keeps
        no expiry timer of its own for them, the point's expiry timer releases them (a native
        is taken after its point's ``CreatedTime``, so it never expires before the point).
        One timer per point instead of one per point and one per native snapshot."""
        days = point.retention
        native_days = (
            None if days is None or days > MAX_NATIVE_RETENTION or point.keep_latest else days
        )
        expire = point.expire_time
        self._natives.manage_snapshots(natives, native_days)
        if point.immutable:
            for native in natives:
                self._natives.hold_snapshot(native, point.created_time, expire)

    def _latest_point(self, instance_id: str) -> BackupPoint | None:
        """The instance's newest ``UDM_ECS`` point (one ordered read)."""
        partition = facet_partition(self.region_id, ("UDM_ECS", instance_id))
        entries = self._world.store.raw_range(
            POINTS_OF_INSTANCE.kind, partition, None, None, reverse=True, limit=1
        )
        return self._points.find(str(entries[0][1])) if entries else None

    # -- expiry ------------------------------------------------------------------------
    def _on_point_expire(self, timer: Timer) -> None:
        """Expire the points due at the timer's instant (or, in a world stored before, the
        one point the timer names)."""
        target = timer.target_id
        if target.startswith("s-"):
            self._expire_point(target)
            return
        # One point per unit of work, as when each point had a timer: a unit that expired
        # every point due at once would hold all their old records until it commits.
        store, region = self._world.store, self.region_id
        due = store.raw_range(
            POINTS_DUE, region, target + ORDER_SEPARATOR, target + "\x01", limit=2
        )
        if not due:
            return
        key, point_id = due[0]
        store.raw_delete(POINTS_DUE, region, key)
        if len(due) > 1:  # the next point due now fires next, in a unit of its own
            self._world.engine.schedule(timer.due, ACTION_POINT_EXPIRE, region, target)
        self._expire_point(str(point_id))

    def _on_point_expire_failed(self, timer: Timer) -> None:
        """After expiring the first point due at the timer's instant raised (and was undone):
        set that point aside (it stays, with no expiry timer, as a failed timer of its own
        would leave it; :meth:`Engine.failed <cloudbackup._engine.Engine.failed>` names it)
        and let the instant's timer go on with the points due after it."""
        target = timer.target_id
        if target.startswith("s-"):
            return  # a world stored before: the timer was this point's alone
        store, region = self._world.store, self.region_id
        due = store.raw_range(
            POINTS_DUE, region, target + ORDER_SEPARATOR, target + "\x01", limit=2
        )
        if not due:
            return
        store.raw_delete(POINTS_DUE, region, due[0][0])
        if len(due) > 1:
            self._world.engine.schedule(timer.due, ACTION_POINT_EXPIRE, region, target)

    def _expire_point(self, point_id: str) -> None:
        point = self._find_point(point_id)
        if point is None:
            return
        expire = point.expire_time
        now = self._world.now()
        if expire is None or expire > now:
            return  # extended meanwhile: its timer was moved
        if point.parent_snapshot_id is not None and self._points.find(point.parent_snapshot_id):
            return  # a disk point goes with its instance point while that one is kept
        if point.keep_latest and point.source_type is PointSourceType.UDM_ECS:
            latest = self._latest_point(point.instance_id)
            if latest is not None and latest.snapshot_id == point.snapshot_id:
                return  # keep-latest: the next point of the instance releases it
        self._drop_point(point, reason="expired")

    def _drop_point(self, point: BackupPoint, *, reason: str) -> None:
        """Delete a point and its native snapshots (an instance point: with its disk points,
        except, at expiry, disk points whose retention was extended past it)."""
        now = self._world.now()
        doomed, emptied = [point], None
        folded: set[str] = set()  # doomed disk points folded into their instance point
        if point.source_type is PointSourceType.UDM_ECS:
            for child, in_point in self._disk_points(point):
                child_expire = child.expire_time
                if reason != "expired" or (child_expire is not None and child_expire <= now):
                    doomed.append(child)
                    if in_point:
                        folded.add(child.snapshot_id)
        elif point.parent_snapshot_id is not None:
            emptied = self._detach_from_parent(point)
        store, region = self._world.store, self.region_id
        for gone in doomed:
            if gone.source_type is PointSourceType.UDM_ECS_DISK:
                self._release_native(gone.native_snapshot_id_list[0], expired=reason == "expired")
                if gone.snapshot_id in folded or (
                    gone is point
                    and store.raw_get(DISK_POINT_PARENT, region, gone.snapshot_id) is not None
                ):
                    self._index_folded(gone, (gone.snapshot_id,), add=False)
                    continue  # folded: no record, and never a timer of its own
            self._points.delete(gone)
            self._undue(gone.snapshot_id, gone.expire_time)
        self._unlist(doomed if emptied is None else [*doomed, emptied])
        self._world.events._emit(
            BackupPointDeleted,
            time=now,
            region_id=self.region_id,
            snapshot_id=point.snapshot_id,
            instance_id=point.instance_id,
            reason=reason,
        )

    def _detach_from_parent(self, child: BackupPoint) -> BackupPoint | None:
        """A disk point deleted alone: its instance point no longer lists it (and goes when it
        lists no disk any more: then it is returned)."""
        parent = self._points.find(child.parent_snapshot_id or "")
        if parent is None:
            return None
        keep = [i for i, pid in enumerate(parent.disk_point_ids) if pid != child.snapshot_id]
        fold = parent.disk_fold
        if not keep:
            self._points.delete(parent)
            self._undue(parent.snapshot_id, parent.expire_time)
            return parent
        self._points.put(
            attrs.evolve(
                parent,
                disk_point_ids=tuple(parent.disk_point_ids[i] for i in keep),
                disk_id_list=tuple(parent.disk_id_list[i] for i in keep),
                native_snapshot_id_list=tuple(parent.native_snapshot_id_list[i] for i in keep),
                status=PointStatus.PARTIAL_COMPLETE,
                disk_fold=tuple([v for i in keep for v in fold[4 * i : 4 * i + 4]]),
            )
        )
        return None

    def _release_native(self, snapshot_id: str, *, expired: bool = False) -> None:
        """Delete a point's native snapshot (``expired``: as ECS does at expiry); one used to
        create a disk or image stays and leaves Cloud Backup's lifecycle (kept until deleted);
        one locked in ECS goes back to ECS's own expiry (released when lock and retention
        end); one already gone is skipped.

        Cloud Backup manages its points' natives (:meth:`_manage_natives`): ECS keeps no
        expiry timer for them, this is what deletes them."""
        natives = self._natives
        native = natives.find_snapshot(snapshot_id)
        if native is None:
            return
        if native.disk_refs or native.image_refs:
            natives.keep_snapshot(snapshot_id, None)
            return
        if expired:
            natives.unmanage_snapshot(snapshot_id, expired=True)
            return
        if native.lock is not None and native.lock.holds(self._world.now()):
            natives.unmanage_snapshot(snapshot_id, expired=False)
            return
        natives.remove_snapshot(snapshot_id)

    # -- lookups -----------------------------------------------------------------------
    # -- DescribeUdmSnapshots ----------------------------------------------------------
    @consistent_read
    def describe_udm_snapshots(
        self,
        *,
        source_type: PointSourceType | str,
        start_time: int,
        end_time: int,
        instance_id: str | None = None,
        disk_id: str | None = None,
        job_id: str | None = None,
        snapshot_ids: Sequence[str] | None = None,
    ) -> UdmSnapshots:
        """``DescribeUdmSnapshots``: the points of one source type created between
        ``start_time`` and ``end_time`` (UNIX seconds, both included), oldest first, no paging
        (``total_count`` is ``TotalCount``).

        Filters: ``instance_id``, ``disk_id`` (a ``UDM_ECS`` point matches when it holds the
        disk), ``job_id``, ``snapshot_ids`` (at most 100). Read through ordered indexes: the
        cost follows the answer, not the region. A point whose native snapshot was deleted
        outside Cloud Backup shows it in ``missing_native_snapshot_ids``.
        """
        self._require_open()
        kind = v.enum_value("SourceType", source_type, PointSourceType, code="BadRequest")
        start = v.integer("StartTime", start_time, 0, 253_402_300_799, code="BadRequest")
        end = v.integer("EndTime", end_time, 0, 253_402_300_799, code="BadRequest")
        instance = None if instance_id is None else self._id("InstanceId", instance_id)
        disk = None if disk_id is None else self._id("DiskId", disk_id)
        job = None if job_id is None else self._id("JobId", job_id)
        ids = v.id_list("SnapshotIds", snapshot_ids, max_items=100, code="BadRequest")
        if end < start:
            return UdmSnapshots((), 0)
        lo = _dt.datetime.fromtimestamp(start, _dt.timezone.utc)
        # The last instant of second ``end`` (``end + 1 s`` overflows at 9999-12-31 23:59:59).
        hi = _dt.datetime.fromtimestamp(end, _dt.timezone.utc) + _LAST_OF_SECOND
        if ids:
            found = self._points_named(ids)
        elif job is not None:
            found = self._points_of_job(job)
        elif disk is not None:
            found = self._in_range(POINTS_OF_DISK, ("UDM_ECS_DISK", disk), lo, hi)
            if kind is not PointSourceType.UDM_ECS_DISK:
                parents = {p.parent_snapshot_id for p in found if p.parent_snapshot_id}
                found = self._points.named_or_all(sorted(parents))
        elif instance is not None:
            found = self._in_range(POINTS_OF_INSTANCE, (kind.value, instance), lo, hi)
        else:
            found = self._in_range(POINTS_BY_TIME, (kind.value,), lo, hi)
        chosen = [
            self._shown(p)
            for p in found
            if p.source_type is kind
            and lo <= p.created_time <= hi
            and (instance is None or p.instance_id == instance)
            and (disk is None or disk in p.disk_id_list)
            and (job is None or p.job_id == job)
        ]
        chosen.sort(key=lambda p: (p.created_time, p.snapshot_id))
        return UdmSnapshots(tuple(chosen), len(chosen))

    def _in_range(
        self,
        index: OrderedIndex[BackupPoint],
        values: tuple[str, ...],
        lo: _dt.datetime,
        hi: _dt.datetime,
    ) -> list[BackupPoint]:
        entries = self._world.store.raw_range(
            index.kind,
            facet_partition(self.region_id, values),
            time_key(lo),
            time_key(hi, after=True),
        )
        return self._points_named([str(i) for _, i in entries])

    # -- DeleteSnapshot ----------------------------------------------------------------
    def _require_deletable(self, point: BackupPoint) -> None:
        expire = point.expire_time
        if point.immutable and (expire is None or expire > self._world.now()):
            until = "never expires" if expire is None else f"expires at {expire.isoformat()}"
            raise OperationDeniedError(
                f"Backup point {point.snapshot_id} was made under immutable backup and "
                f"{until}; nobody can delete it before.",
                code="OperationDenied.ImmutableBackup",
                http_status=403,
                ids=(point.snapshot_id,),
                recommend="Wait until the point expires; Cloud Backup then deletes it.",
            )

    @unit_of_work
    def delete_snapshot(
        self,
        *,
        snapshot_id: str,
        source_type: PointSourceType | str = PointSourceType.UDM_ECS,
        instance_id: str | None = None,
    ) -> None:
        """``DeleteSnapshot``: delete a backup point (an instance point with its disk points,
        or one disk point) and its native snapshots. A native snapshot used to create a disk
        or image stays in ECS and leaves Cloud Backup's lifecycle. An immutable point cannot
        be deleted before it expires (``OperationDenied.ImmutableBackup``)."""
        self._require_open()
        kind = v.enum_value("SourceType", source_type, PointSourceType, code="BadRequest")
        point = self._point(snapshot_id)
        wanted_instance = None if instance_id is None else self._id("InstanceId", instance_id)
        if point.source_type is not kind or (
            wanted_instance is not None and point.instance_id != wanted_instance
        ):
            raise ResourceNotFoundError(
                f"No {kind.value} backup point {point.snapshot_id}"
                + (f" of instance {wanted_instance}." if wanted_instance else "."),
                code="ResourceNotFound",
                http_status=404,
                ids=(point.snapshot_id,),
                recommend="Check the point id, its SourceType and its InstanceId "
                "(describe_udm_snapshots).",
            )
        self._require_deletable(point)
        self._drop_point(point, reason="deleted")

    @unit_of_work
    def delete_backups_in_range(self, *, instance_id: str, start_time: int, end_time: int) -> str:
        """Console operation (Delete Backups; no API): delete every ``UDM_ECS`` point of an
        instance created between ``start_time`` and ``end_time`` (UNIX seconds, both
        included), with its disk points and native snapshots; returns the ``TaskId``
        (``t-000…``) to follow with :meth:`~cloudbackup.HbrService.describe_task`.

        All or nothing when asked: one immutable point not yet expired in the range refuses
        the whole call (``OperationDenied.ImmutableBackup``) and no task is made. Accepted,
        the task deletes the points named now (a point made later in the range stays) in
        ``min(10, number of points)`` steps one minute apart, oldest first, so every point
        is gone within 10 minutes, as the console promises; until its step a point is still
        listed and usable. Each step's progress is its share (``Progress`` 100 after the
        last); ``Result`` is ``{"DeletedSnapshotIds": [...]}``. A step that ECS refuses
        stops the task: ``Progress`` -1, ``Result`` with ``ErrorMessage`` and the points
        deleted until then; the failing point stays whole. An empty range gives a task
        completed at once.
        """
        self._require_open()
        found = self.describe_udm_snapshots(
            source_type=PointSourceType.UDM_ECS,
            start_time=start_time,
            end_time=end_time,
            instance_id=instance_id,
        ).snapshots
        for point in found:
            self._require_deletable(point)
        ids = tuple(p.snapshot_id for p in found)
        steps = min(DELETE_STEPS, len(ids))
        now = self._world.now()
        task = self._new_task(
            TaskName.DELETE_BACKUPS,
            next_step=now + DELETE_STEP if steps else None,
            instance_id=found[0].instance_id if found else self._id("InstanceId", instance_id),
            snapshot_ids=ids,
            steps=steps,
        )
        if not steps:
            self._end_task(
                task, TaskStatus.COMPLETED, 100, result_text({"DeletedSnapshotIds": []}), new=True
            )
        return task.task_id

    def _delete_step(self, task: HbrTask) -> None:
        """Run the next step of a Delete Backups task (its timer fired)."""
        ids, steps, done = task.snapshot_ids, task.steps, task.steps_done
        total = len(ids)
        first, stop = done * total // steps, (done + 1) * total // steps
        for snapshot_id in ids[first:stop]:
            stored = self._find_point(snapshot_id)
            if stored is None:
                continue  # expired or deleted meanwhile: gone, as asked
            try:
                with self._world.store.unit():
                    self._drop_point(stored, reason="deleted")
            except CloudBackupError as error:
                gone = [i for i in ids[:stop] if self._find_point(i) is None]
                self._end_task(
                    task,
                    TaskStatus.COMPLETED,
                    -1,
                    result_text(
                        {
                            "DeletedSnapshotIds": gone,
                            "ErrorMessage": f"Backup point {snapshot_id} could not be deleted: "
                            f"{error.message}",
                            "SnapshotId": snapshot_id,
                        }
                    ),
                )
                return
        if done + 1 < steps:
            self._tasks.put(
                attrs.evolve(
                    task,
                    steps_done=done + 1,
                    progress=(done + 1) * 100 // steps,
                    updated_time=self._world.now(),
                ),
                old=task,
            )
            self._world.engine.schedule(
                self._world.now() + DELETE_STEP, ACTION_TASK, self.region_id, task.task_id
            )
            return
        ran = attrs.evolve(task, steps_done=steps)
        self._end_task(
            ran, TaskStatus.COMPLETED, 100, result_text({"DeletedSnapshotIds": list(ids)})
        )

    # -- Extend Retention (console) ----------------------------------------------------
    @unit_of_work
    def extend_backup_retention(
        self,
        *,
        retention_days: int | None,
        snapshot_id: str | None = None,
        snapshot_group_id: str | None = None,
    ) -> str:
        """Console operation (Extend Retention; no API): keep backup points longer; returns
        the ``TaskId`` (``t-000…``) of a task ``completed`` at once (the points and their
        native snapshots are extended when the call returns), whose ``Result`` is
        ``{"RetentionDays": days or null, "SnapshotIds": [the points extended]}``.

        ``retention_days``: whole days from the point's creation, 1–65,536, or ``None`` for
        Never Expire. The level is what is named: ``snapshot_group_id`` (the consistency group
        of an instance point), a ``UDM_ECS`` ``snapshot_id`` (the instance: the point and all
        its disk points) or a ``UDM_ECS_DISK`` ``snapshot_id`` (one disk). Extend only
        (``InvalidOperation.DecreaseRetentionDaysUnsupported``); mirrored on the native
        snapshots' retention (and lock, for immutable points). A point whose native snapshot
        was deleted outside Cloud Backup is refused (``NativeSnapshotNotExist``).
        """
        self._require_open()
        if (snapshot_id is None) == (snapshot_group_id is None):
            raise self._bad(
                "Name exactly one of snapshot_id and snapshot_group_id.",
                "Pass the backup point (instance or disk level) or its consistency group.",
            )
        if retention_days is not None:
            retention_days = v.integer(
                "RetentionDays",
                retention_days,
                1,
                MAX_EXTENDED_RETENTION,
                code="InvalidRetentionDays.Malformed",
            )
        if snapshot_group_id is not None:
            group = self._id("SnapshotGroupId", snapshot_group_id)
            owner = self._point_of_group(group)
            if owner is None:
                raise ResourceNotFoundError(
                    f"No backup point was made with snapshot-consistent group {group}.",
                    code="ResourceNotFound",
                    http_status=404,
                    ids=(group,),
                    recommend="Check the group id (SnapshotGroupId of describe_udm_snapshots).",
                )
            point = self._usable_point(owner.snapshot_id)
        else:
            point = self._usable_point(snapshot_id)
        targets = [point]
        if point.source_type is PointSourceType.UDM_ECS:
            targets += self._points_named(point.disk_point_ids)
        for target in targets:
            self._require_longer(target, retention_days)
        for target in targets:
            self._extend(target, retention_days)
        task = self._new_task(TaskName.EXTEND_RETENTION, next_step=None)
        done = {
            "RetentionDays": retention_days,
            "SnapshotIds": [t.snapshot_id for t in targets],
        }
        ended = self._end_task(
            attrs.evolve(task, snapshot_ids=tuple(t.snapshot_id for t in targets)),
            TaskStatus.COMPLETED,
            100,
            result_text(done),
            new=True,
        )
        return ended.task_id

    def _require_longer(self, point: BackupPoint, days: int | None) -> None:
        if point.retention is None or (days is not None and days < point.retention):
            current = "never expires" if point.retention is None else f"{point.retention} days"
            raise OperationDeniedError(
                f"Backup point {point.snapshot_id} is kept {current}; retention can only be "
                "extended.",
                code="InvalidOperation.DecreaseRetentionDaysUnsupported",
                http_status=400,
                ids=(point.snapshot_id,),
                recommend="Pass a longer retention, or None for Never Expire.",
            )

    def _extend(self, point: BackupPoint, days: int | None) -> None:
        if days == point.retention:
            return
        extended = attrs.evolve(point, retention=days, advanced_retention_type=None)
        self._points.put(extended, old=point)  # a folded disk point is now stored whole
        store, region = self._world.store, self.region_id
        if store.raw_get(DISK_POINT_PARENT, region, point.snapshot_id) is not None:
            store.raw_delete(DISK_POINT_PARENT, region, point.snapshot_id)
        if point.source_type is PointSourceType.UDM_ECS_DISK:
            self._manage_natives(extended, extended.native_snapshot_id_list)
        self._undue(point.snapshot_id, point.expire_time)
        expire = extended.expire_time
        if expire is not None:
            self._due(point.snapshot_id, expire)
        self._world.events._emit(
            BackupPointRetentionExtended,
            time=self._world.now(),
            region_id=self.region_id,
            snapshot_id=point.snapshot_id,
            retention=days,
        )
