"""What ECS offers other services: the snapshot interface Cloud Backup builds on.

:class:`EcsSnapshotSource` implements
:class:`~cloudbackup._services._interfaces.SnapshotSource` over one region's ECS. It is an
adapter, so its methods are not part of :class:`~cloudbackup.EcsService`'s public API; another
service gets it with ``world.provider(ECS_SNAPSHOTS, region)``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

import attrs

from ..._domain.ecs import CATEGORY_SPECS, Disk, Instance, Snapshot, SnapshotLock
from ..._engine import TIMER_INDEX
from ...errors import InvalidParameterError, StorageBackendError
from .._interfaces import BackupDisk, BackupInstance, InstanceInventory, SnapshotSource
from ._core import ACTION_SNAPSHOT_EXPIRE, ATTACHED_TO, INSTANCE_TAGS, LINKS_OF_DISK, tag_partition
from .instances import InstanceActions

__all__ = ["EcsInstanceInventory", "EcsSnapshotSource", "instance_inventory", "snapshot_source"]


class EcsSnapshotSource:
    """Snapshots of one region's ECS, as Cloud Backup uses them."""

    def __init__(self, ecs: InstanceActions) -> None:
        self._ecs = ecs

    def take_snapshot(
        self,
        disk_id: str,
        *,
        retention_days: int | None = None,
        tags: Sequence[tuple[str, str]] = (),
        snapshot_name: str | None = None,
        managed: bool = False,
    ) -> str:
        """Snapshot one disk, as ``create_snapshot``; returns the snapshot id. ``managed``:
        its retention is recorded, no expiry timer set (the caller expires it)."""
        ecs = self._ecs
        if not managed:
            return ecs.create_snapshot(
                disk_id=disk_id,
                retention_days=retention_days,
                tags=tags,
                snapshot_name=snapshot_name,
            )
        with ecs._world.store.unit():
            return ecs._create_snapshot(
                disk_id=disk_id,
                snapshot_name=snapshot_name,
                retention_days=retention_days,
                tags=tags,
                managed=True,
            ).snapshot_id

    def take_snapshot_group(
        self,
        instance_id: str,
        *,
        disk_ids: Sequence[str] | None = None,
        snapshot_name: str | None = None,
        retention_days: int | None = None,
        tags: Sequence[tuple[str, str]] = (),
        managed: bool = False,
    ) -> tuple[str, tuple[str, ...]]:
        """Snapshot an instance's disks at one instant; the group id and its snapshot ids
        (in the order of ``disk_ids`` when given), each named, tagged and kept as asked
        (``managed``: no expiry timer, the caller expires them)."""
        ecs = self._ecs
        with ecs._world.store.unit():
            # One write per member: each is taken named, kept and tagged as asked.
            group_id, taken = ecs._create_group(
                instance_id=instance_id, disk_ids=disk_ids, name=snapshot_name, tags=tags,
                member_name=snapshot_name or None, member_retention_days=retention_days,
                member_tags=tags, managed=managed,
            )  # fmt: skip
            members = tuple(s.snapshot_id for s in taken)  # as taken: no read back
            if disk_ids is not None:
                of_disk = {s.source_disk_id: s.snapshot_id for s in taken}
                members = tuple(of_disk[d] for d in disk_ids if d in of_disk)
            return group_id, members

    def remove_snapshot(self, snapshot_id: str) -> None:
        """Delete a snapshot; unlike ``delete_snapshot`` a missing id is an error."""
        ecs = self._ecs
        with ecs._world.store.unit():
            ecs._snapshots.get(snapshot_id)
            ecs.delete_snapshot(snapshot_id)

    def read_snapshot(self, snapshot_id: str, offset: int, length: int) -> bytes:
        """The bytes the disk held when the snapshot was taken (plaintext, byte-exact).

        The snapshot, its chain and the blocks are read from one committed state, so a
        snapshot deleted meanwhile by another process gives NotFound or the old bytes, never
        zeros.
        """
        with self._ecs._world.store.reading():
            return self._read_snapshot(snapshot_id, offset, length)

    def _read_snapshot(self, snapshot_id: str, offset: int, length: int) -> bytes:
        ecs = self._ecs
        snapshot = ecs._snapshots.get(snapshot_id)
        for name, value in (("offset", offset), ("length", length)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidParameterError(
                    f"{name} {value!r} must be a non-negative integer.",
                    code=f"InvalidParameter.{name.capitalize()}",
                    ids=(snapshot.snapshot_id,),
                    recommend="Pass a byte range within the snapshot's source disk.",
                )
        size = snapshot.source_disk_size * 1024**3
        if offset + length > size:
            raise InvalidParameterError(
                f"Bytes {offset}..{offset + length} fall outside snapshot "
                f"{snapshot.snapshot_id} of a {snapshot.source_disk_size} GiB disk.",
                code="InvalidParameter.OutOfRange",
                ids=(snapshot.snapshot_id,),
                recommend="Stay within the size of the snapshot's source disk.",
            )
        if length == 0:
            return b""
        link = ecs._links.find(snapshot.snapshot_link_id)
        if link is None:
            raise StorageBackendError(
                f"Snapshot {snapshot.snapshot_id} names chain {snapshot.snapshot_link_id}, "
                "which is not stored.",
                code="StorageBackend.Corrupt",
                ids=(snapshot.snapshot_id, snapshot.snapshot_link_id),
                recommend="The stored world is damaged; restore it from a backup.",
            )
        cipher = ecs._data_cipher(snapshot)
        return ecs._maps.read_at(link.snapshot_ids, snapshot.snapshot_id, offset, length, cipher)

    def describe_chain(self, disk_id: str) -> tuple[Snapshot, ...]:
        """Every snapshot of the disk, oldest first (read from one committed state)."""
        ecs = self._ecs
        with ecs._world.store.reading():
            return tuple(ecs._disk_snapshots(ecs._disks.get(disk_id).disk_id))

    def chain_bytes(self, disk_id: str) -> int:
        """``TotalSize`` of the disk's snapshot links (through the links-of-disk index)."""
        return sum(link.total_size for link in self._ecs._links.members(LINKS_OF_DISK, disk_id))

    def find_snapshot(self, snapshot_id: str) -> Snapshot | None:
        """The snapshot, or ``None``."""
        return self._ecs._snapshots.find(snapshot_id)

    def keep_snapshot(self, snapshot_id: str, retention_days: int | None) -> None:
        """Set the snapshot's retention (from its creation; ``None``: until deleted) and its
        expiry timer."""
        ecs = self._ecs
        found = ecs._snapshots.find(snapshot_id) if isinstance(snapshot_id, str) else None
        if found is not None and found.retention_days == retention_days:
            return  # already so (the common case: a point kept as its job asked): no write
        with ecs._world.store.unit():
            snapshot = ecs._snapshots.get(snapshot_id)
            if snapshot.retention_days == retention_days:
                return
            kept = attrs.evolve(snapshot, retention_days=retention_days)
            ecs._snapshots.put(kept)
            if retention_days is None:
                ecs._world.engine.cancel_for(
                    ACTION_SNAPSHOT_EXPIRE, ecs.region_id, snapshot.snapshot_id
                )
            else:
                ecs._schedule_expiry(kept)

    def manage_snapshots(self, snapshot_ids: Sequence[str], retention_days: int | None) -> None:
        """Set each snapshot's retention; no expiry timer (the caller expires them)."""
        ecs = self._ecs
        world, region = ecs._world, ecs.region_id
        store = world.store
        # Every snapshot read before anything is written: a missing id changes nothing. Most
        # often nothing is to be written (a job's natives, taken managed, keep the retention
        # their point asks and have no timer): then no unit of work is opened either.
        found = [ecs._snapshots.get(snapshot_id) for snapshot_id in snapshot_ids]
        kept = [s for s in found if s.retention_days != retention_days]
        timed = [
            s.snapshot_id
            for s in found
            if store.raw_get(TIMER_INDEX, ACTION_SNAPSHOT_EXPIRE, f"{region}|{s.snapshot_id}")
            is not None
        ]
        if not kept and not timed:
            return
        with store.unit():
            for snapshot in kept:
                ecs._snapshots.put(attrs.evolve(snapshot, retention_days=retention_days))
            for snapshot_id in timed:
                world.engine.cancel_for(ACTION_SNAPSHOT_EXPIRE, region, snapshot_id)

    def unmanage_snapshot(self, snapshot_id: str, *, expired: bool) -> None:
        """ECS expires the snapshot again: now if ``expired`` (or due), else by its timer; a
        locked one whose own retention runs longer waits for that retention (then the lock)."""
        ecs = self._ecs
        with ecs._world.store.unit():
            snapshot = ecs._snapshots.get(snapshot_id)
            now = ecs._world.now()
            expire = snapshot.expire_time
            later = expire is not None and expire > now
            locked = snapshot.lock is not None and snapshot.lock.holds(now)
            if (expired or not later) and not (locked and later):
                ecs._expire(snapshot)  # removed, unless a lock or a disk/image holds it
            else:
                ecs._schedule_expiry(snapshot)

    def hold_snapshot(
        self, snapshot_id: str, start: _dt.datetime, until: _dt.datetime | None
    ) -> None:
        """A compliance lock on the snapshot from ``start`` to ``until`` (``None``: for ever;
        whole days as locks count them, rounded up), never shortening one it has."""
        ecs = self._ecs
        with ecs._world.store.unit():
            snapshot = ecs._snapshots.get(snapshot_id)
            end = _FOREVER if until is None else until
            days = -(-(end - start) // _dt.timedelta(days=1))
            lock = SnapshotLock(
                lock_mode="compliance",
                lock_duration=max(days, 1),
                cool_off_period=0,
                lock_created_time=ecs._world.now(),
                effective_from=start,
            )
            old = snapshot.lock
            if old is not None and (old.lock_expire() or _FOREVER) >= (
                lock.lock_expire() or _FOREVER
            ):
                return
            ecs._snapshots.put(attrs.evolve(snapshot, lock=lock))


_FOREVER = _dt.datetime(9000, 1, 1, tzinfo=_dt.timezone.utc)
"""Where a hold "for ever" ends (far past any retention the model can express)."""


def snapshot_source(ecs: InstanceActions) -> SnapshotSource:
    """The snapshot interface of ``ecs`` (the factory ECS registers)."""
    return EcsSnapshotSource(ecs)


class EcsInstanceInventory:
    """One region's ECS instances and their disks, as Cloud Backup sees them."""

    def __init__(self, ecs: InstanceActions) -> None:
        self._ecs = ecs

    def _view(self, instance: Instance) -> BackupInstance:
        disks = self._ecs._disks.members(ATTACHED_TO, instance.instance_id)
        return BackupInstance(
            instance.instance_id,
            instance.status.value,
            instance.tags,
            tuple(self._disk(d, instance.instance_id) for d in sorted(disks, key=_device_order)),
            instance.os_type,
        )

    @staticmethod
    def _disk(disk: Disk, instance_id: str) -> BackupDisk:
        spec = CATEGORY_SPECS[disk.category]
        device = next((a.device for a in disk.attachments if a.instance_id == instance_id), None)
        return BackupDisk(
            disk.disk_id, disk.category.value, spec.consistent_group, spec.local, device
        )

    def find_instance(self, instance_id: str) -> BackupInstance | None:
        """The instance and its attached disks (system disk first), or ``None``."""
        instance = self._ecs._instances.find(instance_id)
        return None if instance is None else self._view(instance)

    def instances_tagged(self, key: str, value: str) -> tuple[BackupInstance, ...]:
        """The instances tagged ``key=value``, through the tag index."""
        ecs = self._ecs
        found = ecs._instances.members(INSTANCE_TAGS, tag_partition(ecs.region_id, key, value))
        return tuple(self._view(i) for i in found)

    def instances_with_tag_key(self, key: str) -> tuple[BackupInstance, ...]:
        """The instances carrying ``key`` with any value (a read of the region's instances)."""
        found = self._ecs._instances.scan()
        return tuple(self._view(i) for i in found if any(k == key for k, _ in i.tags))

    def disk_owner(self, disk_id: str) -> str | None:
        """The instance the disk is attached to, if any."""
        disk = self._ecs._disks.find(disk_id)
        return None if disk is None else disk.instance_id


def _device_order(disk: Disk) -> tuple[str, str]:
    return (disk.device or "~", disk.disk_id)


def instance_inventory(ecs: InstanceActions) -> InstanceInventory:
    """The instance view of ``ecs`` (the factory ECS registers)."""
    return EcsInstanceInventory(ecs)
