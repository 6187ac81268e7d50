"""Cloud Backup, how backup points are stored and found (the layer under
:class:`~cloudbackup._services.hbr.points.PointActions`).

A ``UDM_ECS_DISK`` point is folded into its ``UDM_ECS`` instance point's record
(:attr:`BackupPoint.disk_fold <cloudbackup.BackupPoint.disk_fold>`): its disk, native snapshot,
sizes, device and status; everything else it shares with the instance point. It becomes a
record of its own only when it no longer follows it (its retention extended). A folded disk
point is found by id through :data:`~.point_indexes.DISK_POINT_PARENT` and listed by the
ordered indexes exactly as a stored one (its own entry and id in the points by time, of its
instance and of its disk), so every describe reads the same slices: a page of a disk's points
reads the page's entries, then each one's instance point. A job's points and a
snapshot-consistent group's point are one entry each in a per-region lookup
(:data:`~.point_indexes.POINT_OF_JOB`, :data:`~.point_indexes.POINT_OF_GROUP`).

Worlds stored before keep whole disk-point records (read first, by id) and per-job /
per-group index partitions (read when the lookups have no entry): both still answer.

Part of the layered :class:`~cloudbackup.HbrService` (see ``_services/hbr/__init__.py``).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

import attrs

from ..._domain.hbr_points import BackupPoint, PointSourceType
from ..._engine import TIMER_INDEX
from ..._regions import Region
from ..._repository import ORDER_COUNTS, ORDER_SEPARATOR, facet_partition
from ..._store import damaged_value
from ..._world import World
from ...errors import IncorrectStatusError
from .._interfaces import ECS_SNAPSHOTS, SnapshotSource
from .point_indexes import (
    DISK_POINT_PARENT,
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
from .policies import PolicyActions

__all__ = ["PointStore"]

_DISK = PointSourceType.UDM_ECS_DISK.value
_EXPIRE = "hbr.point_expire"
""":data:`~.points.ACTION_POINT_EXPIRE` (the layer above names it)."""


class PointStore(PolicyActions):
    """Backup points by id (stored or folded), a job's and a group's points, and the index
    entries of folded disk points."""

    def __init__(self, world: World, region: Region) -> None:
        super().__init__(world, region)
        self._points = POINTS.open(world.store, region.region_id)
        self._source: SnapshotSource | None = None

    @property
    def _natives(self) -> SnapshotSource:
        """ECS's snapshot interface in this region. The world builds its adapter once and
        keeps it as long as the world (it holds no state of its own, only the ECS service),
        so it is looked up once per service, not on every use (several per job and point)."""
        source = self._source
        if source is None:
            source = self._source = self._world.provider(ECS_SNAPSHOTS, self.region)
        return source

    def _unlist(self, gone: Sequence[BackupPoint]) -> None:
        """Take deleted points (all of one job) out of the job and group lookups: the job's
        entry goes with its last point; in a world stored before them, the per-job and
        per-group index entries go instead."""
        store, region = self._world.store, self.region_id
        job_id = gone[0].job_id
        listed = store.raw_get(POINT_OF_JOB, region, job_id)
        for point in gone:
            if listed is None:
                store.raw_delete(POINTS_OF_JOB, job_id, point.snapshot_id)
                if point.source_type is PointSourceType.UDM_ECS and point.snapshot_group_id:
                    store.raw_delete(POINTS_OF_GROUP, point.snapshot_group_id, point.snapshot_id)
            elif point.source_type is PointSourceType.UDM_ECS and point.snapshot_group_id:
                store.raw_delete(POINT_OF_GROUP, region, point.snapshot_group_id)
        if listed is not None and not self._points_of_job(job_id, listed):
            store.raw_delete(POINT_OF_JOB, region, job_id)

    def _points_of_job(self, job_id: str, listed: object | None = None) -> list[BackupPoint]:
        """The live points a backup job made (``listed``: its :data:`POINT_OF_JOB` entry, if
        already read): one small read, or the per-job index of a world stored before."""
        store = self._world.store
        if listed is None:
            listed = store.raw_get(POINT_OF_JOB, self.region_id, job_id)
        if listed is None:
            return self._points_named([k for k, _ in store.raw_scan(POINTS_OF_JOB, job_id)])
        if type(listed) is not str or not listed:
            raise damaged_value(POINT_OF_JOB, self.region_id, job_id, listed, "point ids")
        return self._points_named(listed.split(","))

    def _point_of_group(self, group_id: str) -> BackupPoint | None:
        """The live instance point made with a snapshot-consistent group, if any."""
        owner = self._world.store.raw_get(POINT_OF_GROUP, self.region_id, group_id)
        if owner is None:
            owners = self._world.store.raw_scan(POINTS_OF_GROUP, group_id)
            return self._find_point(owners[0][0]) if owners else None
        if type(owner) is not str or not owner:
            raise damaged_value(POINT_OF_GROUP, self.region_id, group_id, owner, "a point id")
        return self._points.find(owner)

    def _point(self, snapshot_id: object) -> BackupPoint:
        checked = self._id("SnapshotId", snapshot_id)
        return self._find_point(checked) or self._points.get(checked)

    def _due(self, point_id: str, expire: _dt.datetime) -> None:
        """List the point under its expiry instant, whose one timer expires every point due
        then (set when the first point due then is listed)."""
        store, region, at = self._world.store, self.region_id, time_key(expire)
        store.raw_put(POINTS_DUE, region, at + ORDER_SEPARATOR + point_id, point_id)
        if store.raw_get(TIMER_INDEX, _EXPIRE, f"{region}|{at}") is None:
            self._world.engine.schedule(expire, _EXPIRE, region, at, new_target=True)

    def _undue(self, point_id: str, expire: _dt.datetime | None) -> None:
        """Take the point off its expiry instant (that instant's timer goes with its last
        point), or cancel its own timer in a world stored before."""
        store, region, engine = self._world.store, self.region_id, self._world.engine
        engine.cancel_for(_EXPIRE, region, point_id)
        if expire is None:
            return
        at = time_key(expire)
        key = at + ORDER_SEPARATOR + point_id
        if store.raw_get(POINTS_DUE, region, key) is None:
            return
        store.raw_delete(POINTS_DUE, region, key)
        if not store.raw_range(POINTS_DUE, region, at + ORDER_SEPARATOR, at + "\x01", limit=1):
            engine.cancel_for(_EXPIRE, region, at)

    def _find_point(self, snapshot_id: str) -> BackupPoint | None:
        """The point, stored or folded into its instance point (see
        :data:`DISK_POINT_PARENT`), or None."""
        found = self._points.find(snapshot_id)
        if found is not None:
            return found
        store, region = self._world.store, self.region_id
        parent_id = store.raw_get(DISK_POINT_PARENT, region, snapshot_id)
        if parent_id is None:
            return None
        parent = self._points.find(parent_id) if type(parent_id) is str else None
        folded = None if parent is None else parent.folded_disk_point(snapshot_id)
        if folded is None:
            raise damaged_value(
                DISK_POINT_PARENT, region, snapshot_id, parent_id, "its instance point's id"
            )
        return folded

    def _disk_points(self, point: BackupPoint) -> list[tuple[BackupPoint, bool]]:
        """The disk points an instance point lists that exist, in its order, each with whether
        it is folded (no record of its own: a :data:`DISK_POINT_PARENT` entry), as
        :meth:`_find_point` finds them but without reading ``point`` again for each."""
        store, region = self._world.store, self.region_id
        out: list[tuple[BackupPoint, bool]] = []
        for child_id in point.disk_point_ids:
            stored = self._points.find(child_id)
            if stored is not None:
                out.append((stored, False))
                continue
            parent_id = store.raw_get(DISK_POINT_PARENT, region, child_id)
            if parent_id is None:
                continue
            child = (
                point.folded_disk_point(child_id)
                if parent_id == point.snapshot_id
                else self._find_point(child_id)  # names another point: as found by id
            )
            if child is None:
                raise damaged_value(
                    DISK_POINT_PARENT, region, child_id, parent_id, "its instance point's id"
                )
            out.append((child, True))
        return out

    def _points_named(self, ids: Sequence[str]) -> list[BackupPoint]:
        """The named points that exist, stored or folded, in the order named (none named:
        none, never the region)."""
        found = (self._find_point(i) for i in ids)
        return [p for p in found if p is not None]

    def _index_folded(self, point: BackupPoint, ids: Sequence[str], *, add: bool) -> None:
        """Add (or remove) the ordered index entries of folded disk points ``ids`` of
        ``point`` (their instance point, or the one disk point), and their lookup by id: the
        entries :data:`POINTS` keeps for a stored disk point, as it keeps them."""
        store, region = self._world.store, self.region_id
        at = time_key(point.created_time) + ORDER_SEPARATOR
        parent_id = point.parent_snapshot_id or point.snapshot_id
        disks = point.disk_id_list
        for n, point_id in enumerate(ids):
            entry, disk = at + point_id, disks[n]
            for index, values in (
                (POINTS_BY_TIME, (_DISK,)),
                (POINTS_OF_INSTANCE, (_DISK, point.instance_id)),
                (POINTS_OF_DISK, (_DISK, disk)),
            ):
                partition = facet_partition(region, values)
                if add:
                    store.raw_put(index.kind, partition, entry, point_id)
                else:
                    store.raw_delete(index.kind, partition, entry)
            if add:
                store.raw_put(DISK_POINT_PARENT, region, point_id, parent_id)
            else:
                store.raw_delete(DISK_POINT_PARENT, region, point_id)
        key = POINTS_BY_TIME.count_key((_DISK,))
        counted = store.raw_get(ORDER_COUNTS, region, key)
        if counted is not None and (type(counted) is not int or counted < 1):
            raise damaged_value(ORDER_COUNTS, region, key, counted, "a count")
        count = (counted or 0) + (len(ids) if add else -len(ids))
        if count:
            store.raw_put(ORDER_COUNTS, region, key, count)
        else:
            store.raw_delete(ORDER_COUNTS, region, key)

    def _missing_natives(self, point: BackupPoint) -> tuple[str, ...]:
        natives = self._natives
        return tuple(n for n in point.native_snapshot_id_list if natives.find_snapshot(n) is None)

    def _shown(self, point: BackupPoint) -> BackupPoint:
        missing = self._missing_natives(point)
        return attrs.evolve(point, missing_native_snapshot_ids=missing) if missing else point

    def _usable_point(self, snapshot_id: object) -> BackupPoint:
        """The point, refused (``NativeSnapshotNotExist``) when a native snapshot of it was
        deleted behind Cloud Backup's back: what restore and Extend Retention use."""
        point = self._point(snapshot_id)
        missing = self._missing_natives(point)
        if missing:
            raise IncorrectStatusError(
                f"Backup point {point.snapshot_id} cannot be used: its native snapshot(s) "
                f"{', '.join(missing)} were deleted outside Cloud Backup.",
                code="NativeSnapshotNotExist",
                ids=(point.snapshot_id, *missing),
                recommend="Use another backup point, and delete native snapshots made by Cloud "
                "Backup only through delete_snapshot.",
            )
        return point
