"""ECS, snapshot chains: take a snapshot into its chain, remove one (merging its delta), materialize
one, and the timers that complete and expire snapshots.

Part of the layered :class:`~cloudbackup.EcsService`: this layer may use every layer beneath
it (see ``_services/ecs/__init__.py``), never one above.
"""

from __future__ import annotations

import datetime as _dt

import attrs

from ..._blocks import Piece
from ..._domain.ecs import (
    CATEGORY_SPECS,
    Disk,
    DiskStatus,
    Instance,
    InstanceStatus,
    Snapshot,
    SnapshotGroup,
    SnapshotGroupStatus,
    SnapshotLink,
    SnapshotStatus,
)
from ..._engine import Timer
from ..._events import SnapshotCompleted, SnapshotCreated, SnapshotDeleted, SnapshotGroupDeleted
from ...errors import (
    IncorrectStatusError,
    QuotaExceededError,
    UnsupportedOperationError,
)
from ._core import ACTION_SNAPSHOT_COMPLETE, ACTION_SNAPSHOT_EXPIRE, EcsCore

__all__ = ["SnapshotChains"]


class SnapshotChains(EcsCore):
    """Snapshot chains: take a snapshot into its chain, remove one (merging its delta), materialize
    one, and the timers that complete and expire snapshots.
    """

    def _check_snapshot_allowed(
        self, disk: Disk, instances: dict[str, Instance] | None = None
    ) -> SnapshotLink | None:
        """Raise if ``disk`` cannot be snapshotted now; returns its chain (None before its
        first snapshot), read once here for :meth:`_take_snapshot`.

        ``instances``: instances already read in this unit of work, by id (a snapshot group
        checks several disks of one instance); the instances read here are added to it."""
        world = self._world
        spec = CATEGORY_SPECS[disk.category]
        if not spec.snapshot:
            raise UnsupportedOperationError(
                f"Disk {disk.disk_id} is {disk.category.value}; snapshots of local and elastic "
                "ephemeral disks are not supported.",
                code="DiskCategory.OperationNotSupported",
                ids=(disk.disk_id,),
                recommend="Protect data on local disks with file-level backup instead.",
            )
        if not disk.ever_attached:
            raise IncorrectStatusError(
                f"Disk {disk.disk_id} has never been attached to an instance.",
                code="IncorrectDiskStatus.NeverAttached",
                ids=(disk.disk_id,),
                recommend="Attach the disk to an instance before snapshotting it.",
            )
        for attachment in disk.attachments:
            instance = None if instances is None else instances.get(attachment.instance_id)
            if instance is None:
                instance = self._instances.get(attachment.instance_id)
                if instances is not None:
                    instances[instance.instance_id] = instance
            if instance.status not in (InstanceStatus.Running, InstanceStatus.Stopped):
                raise IncorrectStatusError(
                    f"Instance {instance.instance_id} is {instance.status.value}; snapshots "
                    "need it Running or Stopped.",
                    code="IncorrectInstanceStatus",
                    ids=(instance.instance_id, disk.disk_id),
                    recommend="Wait until the instance is Running or Stopped.",
                )
            if not instance.ever_started:
                raise IncorrectStatusError(
                    f"Instance {instance.instance_id} has never been started, so disk "
                    f"{disk.disk_id} has never been used.",
                    code="IncorrectDiskStatus.NeverUsed",
                    ids=(instance.instance_id, disk.disk_id),
                    recommend="Start the instance once before snapshotting its disks.",
                )
        if disk.status not in (DiskStatus.In_use, DiskStatus.Available):
            raise IncorrectStatusError(
                f"Disk {disk.disk_id} is {disk.status.value}.",
                code="IncorrectDiskStatus",
                ids=(disk.disk_id,),
                recommend="Wait until the disk is In_use or Available.",
            )
        link = self._links.find(disk.snapshot_link_id) if disk.snapshot_link_id else None
        assert link is not None or disk.snapshot_link_id is None
        chain = link.snapshot_ids if link is not None else ()
        # Only one snapshot of a disk can progress at a time, so only the newest can be.
        newest = self._snapshots.find(chain[-1]) if chain else None
        if newest is not None and newest.status is SnapshotStatus.progressing:
            raise IncorrectStatusError(
                f"A snapshot of disk {disk.disk_id} is still being created.",
                code="IncorrectDiskStatus.CreatingSnapshot",
                ids=(disk.disk_id,),
                recommend="Wait for it to finish (advance virtual time) and try again.",
            )
        manual = len(chain)  # every snapshot this model takes is a manual ("user") one
        if manual >= world.limits.manual_snapshots_per_disk:
            raise QuotaExceededError(
                f"Disk {disk.disk_id} already retains {manual} manual snapshots, the maximum.",
                code="QuotaExceed.Snapshot",
                ids=(disk.disk_id,),
                recommend="Delete snapshots you no longer need, or give them retention days.",
            )
        if disk.data_key is not None:
            self._key_ring.check_usable(disk.data_key.kms_key_id)
        return link

    def _take_snapshot(
        self,
        disk: Disk,
        name: str | None,
        description: str | None,
        retention_days: int | None,
        tags: tuple[tuple[str, str], ...],
        group_id: str | None,
        link: SnapshotLink | None = None,
        *,
        managed: bool = False,
    ) -> Snapshot:
        """Take a snapshot of ``disk`` (checked by :meth:`_check_snapshot_allowed`, whose
        answer ``link`` is, if given: the disk's chain as read there). ``managed``: its
        ``retention_days`` is recorded but no expiry timer set (another service expires it)."""
        world = self._world
        now = world.now()
        snapshot_id = world.ids.new_id("s-", self.region.id_infix)
        link = link if link is not None else self._link_of(disk)
        held = self._maps.capture(disk.disk_id, snapshot_id)
        snapshot = Snapshot.of_disk(
            disk,
            snapshot_id=snapshot_id,
            snapshot_link_id=link.snapshot_link_id,
            now=now,
            snapshot_name=name,
            description=description,
            retention_days=retention_days,
            tags=tags,
            snapshot_group_id=group_id,
            block_size=world.blocks.block_size,
            incremental_blocks=held,
        )
        instant = snapshot.instant_access
        if not instant:
            due = self._due(
                world.timings.snapshot_duration(held * world.blocks.block_size),
                "The snapshot's upload",
                snapshot_id,
            )
            snapshot = attrs.evolve(snapshot, expected_completion_time=due)
        self._snapshots.put(snapshot, old=None)  # its id is new
        self._links.put(
            link.with_newest(snapshot_id, held, disk.size, disk.instance_id),
            old=link,  # as read in this unit, and unchanged since
        )
        if not instant:
            world.engine.schedule(
                due,
                ACTION_SNAPSHOT_COMPLETE,
                self.region_id,
                snapshot_id,
            )
        if retention_days is not None and not managed:
            self._schedule_expiry(snapshot, new=True)
        world.events._emit(
            SnapshotCreated,
            time=now,
            region_id=self.region_id,
            snapshot_id=snapshot_id,
            disk_id=disk.disk_id,
            snapshot_link_id=link.snapshot_link_id,
            snapshot_group_id=group_id,
            incremental_size=snapshot.incremental_size,
        )
        if instant:
            world.events._emit(
                SnapshotCompleted, time=now, region_id=self.region_id, snapshot_id=snapshot_id
            )
        return snapshot

    def _link_of(self, disk: Disk) -> SnapshotLink:
        world = self._world
        if disk.snapshot_link_id is not None:
            link = self._links.find(disk.snapshot_link_id)
            assert link is not None
            return link
        link = SnapshotLink(
            snapshot_link_id=world.ids.new_id("sl-", self.region.id_infix),
            region_id=self.region_id,
            source_disk_id=disk.disk_id,
            source_disk_size=disk.size,
            source_disk_type=disk.type,
            instance_id=disk.instance_id,
            block_size=world.blocks.block_size,
        )
        self._links.put(link)
        self._disks.put(attrs.evolve(disk, snapshot_link_id=link.snapshot_link_id))
        return link

    def _remove_snapshot(self, snapshot: Snapshot, *, reason: str) -> None:
        """Delete a snapshot, merging its delta into the next snapshot of its chain."""
        world = self._world
        link = self._links.find(snapshot.snapshot_link_id)
        assert link is not None
        position = link.snapshot_ids.index(snapshot.snapshot_id)
        if position + 1 < len(link.snapshot_ids):
            child_id = link.snapshot_ids[position + 1]
            # The smaller delta does the work: this one's merges into the child's, or the
            # child's is applied onto this one (the chain's base, or a day kept between
            # longer-kept points, has gathered more than its successor changed).
            moved, freed = self._maps.remove(
                snapshot.snapshot_id, child_id, snapshot.incremental_blocks, None
            )
            if moved:  # else the child's record is unchanged
                child = self._snapshots.find(child_id)
                assert child is not None
                self._snapshots.put(
                    attrs.evolve(child, incremental_blocks=child.incremental_blocks + moved),
                    old=child,  # just read, in this unit
                )
        else:
            disk = self._disks.find(snapshot.source_disk_id)
            own = disk is not None and disk.snapshot_link_id == link.snapshot_link_id
            _, freed = self._maps.remove(
                snapshot.snapshot_id,
                None,
                snapshot.incremental_blocks,
                snapshot.source_disk_id if own else None,
            )
        ids = link.snapshot_ids[:position] + link.snapshot_ids[position + 1 :]
        self._links.put(
            attrs.evolve(link, snapshot_ids=ids, total_blocks=link.total_blocks - freed),
            old=link,  # as read above in this unit (the maps never write records)
        )
        if snapshot.snapshot_group_id is not None:
            group = self._groups.find(snapshot.snapshot_group_id)
            if group is not None:
                members = tuple(s for s in group.snapshot_ids if s != snapshot.snapshot_id)
                if members:
                    self._groups.put(attrs.evolve(group, snapshot_ids=members), old=group)
                else:
                    self._drop_group(group)
        self._snapshots.delete(snapshot)
        for action in (ACTION_SNAPSHOT_COMPLETE, ACTION_SNAPSHOT_EXPIRE):
            world.engine.cancel_for(action, self.region_id, snapshot.snapshot_id)
        world.events._emit(
            SnapshotDeleted,
            time=world.now(),
            region_id=self.region_id,
            snapshot_id=snapshot.snapshot_id,
            reason=reason,
        )

    def _snapshot_map(self, snapshot: Snapshot) -> list[Piece]:
        """The full contents of a snapshot as extents: its chain's deltas up to it, the newest
        delta winning (costs the chain's extents, never its pages)."""
        link = self._links.find(snapshot.snapshot_link_id)
        assert link is not None
        return self._maps.chain_extents(link.snapshot_ids, snapshot.snapshot_id)

    def _drop_group(self, group: SnapshotGroup) -> None:
        self._groups.delete(group)
        self._world.events._emit(
            SnapshotGroupDeleted,
            time=self._world.now(),
            region_id=self.region_id,
            snapshot_group_id=group.snapshot_group_id,
        )

    def _on_snapshot_complete(self, timer: Timer) -> None:
        world = self._world
        snapshot = self._snapshots.find(timer.target_id)
        if snapshot is None or snapshot.status is not SnapshotStatus.progressing:
            return
        now = world.now()
        self._snapshots.put(snapshot.completed(now))
        world.events._emit(
            SnapshotCompleted,
            time=now,
            region_id=self.region_id,
            snapshot_id=snapshot.snapshot_id,
        )
        if snapshot.snapshot_group_id is not None:
            group = self._groups.find(snapshot.snapshot_group_id)
            if group is not None and all(
                (s := self._snapshots.find(sid)) is None or s.status is SnapshotStatus.accomplished
                for sid in group.snapshot_ids
            ):
                self._groups.put(attrs.evolve(group, status=SnapshotGroupStatus.accomplished))

    def _schedule_expiry(self, snapshot: Snapshot, *, new: bool = False) -> None:
        """Set the snapshot's expiry timer; ``new``: it was taken in this unit (no timer yet)."""
        expire = snapshot.expire_time
        if expire is not None:
            self._world.engine.schedule(
                expire,
                ACTION_SNAPSHOT_EXPIRE,
                self.region_id,
                snapshot.snapshot_id,
                new_target=new,
            )

    def _on_snapshot_expire(self, timer: Timer) -> None:
        snapshot = self._snapshots.find(timer.target_id)
        if snapshot is not None:
            self._expire_if_due(snapshot)

    def _expire_if_due(self, snapshot: Snapshot) -> None:
        """Release a snapshot if its retention has run out (and nothing holds it)."""
        expire = snapshot.expire_time
        if expire is not None and expire <= self._world.now():
            self._expire(snapshot)

    def _expire(self, snapshot: Snapshot) -> None:
        """Release a snapshot whose retention has run out, unless something holds it."""
        now = self._world.now()
        if snapshot.lock is not None and snapshot.lock.holds(now):
            # A compliance lock outlives retention: release when the lock ends.
            until = snapshot.lock.lock_expire()
            due = (
                max(until, snapshot.lock.cool_off_end())
                if until is not None
                else (now + _dt.timedelta(days=1))
            )
            self._world.engine.schedule(
                due, ACTION_SNAPSHOT_EXPIRE, self.region_id, snapshot.snapshot_id
            )
            return
        if snapshot.image_refs or snapshot.disk_refs:
            return  # released when the last image or disk made from it goes
        self._remove_snapshot(snapshot, reason="retention")
