"""ECS, rolling disks back to their snapshots: ResetDisk, ResetDisks.

Part of the layered :class:`~cloudbackup.EcsService`: this layer may use every layer beneath
it (see ``_services/ecs/__init__.py``), never one above.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..._domain.ecs import Disk, InstanceStatus, Snapshot, SnapshotStatus
from ..._domain.limits import RESET_DISKS_MAX
from ..._domain.requests import ResetDiskSpec
from ..._events import DiskReset
from ...errors import DependencyViolationError, IncorrectStatusError, InvalidParameterError
from ._requests import ecs_action
from .guest_io import GuestIo

__all__ = ["ResetActions"]


class ResetActions(GuestIo):
    """Rolling disks back to their snapshots: ResetDisk, ResetDisks."""

    @ecs_action("ResetDisk", dry_run=True)
    def reset_disk(self, *, disk_id: str, snapshot_id: str, dry_run: bool = False) -> None:
        """``ResetDisk``: roll a disk back to one of its own snapshots.

        The disk's instance must be ``Stopped`` (or the disk ``Available``) and no snapshot of
        the disk may be progressing. After the call the disk reads exactly as it did when the
        snapshot was taken; later snapshots of the chain stay intact. With ``dry_run=True``
        the reset runs and is rolled back: ``DryRunOperation`` if it would succeed.
        """
        disk, snapshot = self._check_reset(disk_id, snapshot_id)
        self._reset(disk, snapshot)

    @ecs_action("ResetDisks", dry_run=True)
    def reset_disks(self, *, disks: Sequence[ResetDiskSpec], dry_run: bool = False) -> None:
        """``ResetDisks``: roll several disks back at once (e.g. a snapshot-consistent group).

        All 1–16 pairs are checked before any disk changes; one bad pair refuses them all.
        ``dry_run=True``: ``DryRunOperation`` if the resets would succeed, and nothing changes.
        """
        if (
            isinstance(disks, (str, bytes))
            or not isinstance(disks, (list, tuple))
            or not (1 <= len(disks) <= RESET_DISKS_MAX)
        ):
            raise InvalidParameterError(
                f"Disk must be a list of 1 to {RESET_DISKS_MAX} ResetDiskSpec items.",
                code="InvalidParameter.Disk",
                recommend="Pass [ResetDiskSpec(disk_id=..., snapshot_id=...), ...].",
            )
        checked = []
        seen: set[str] = set()
        for item in disks:
            if not isinstance(item, ResetDiskSpec):
                raise InvalidParameterError(
                    "Every item must be a cloudbackup.ResetDiskSpec.",
                    code="InvalidParameter.Disk",
                    recommend="Pass ResetDiskSpec(disk_id=..., snapshot_id=...).",
                )
            disk, snapshot = self._check_reset(item.disk_id, item.snapshot_id)
            if disk.disk_id in seen:
                raise InvalidParameterError(
                    f"Disk {disk.disk_id} appears twice.",
                    code="InvalidParameter.Disk",
                    ids=(disk.disk_id,),
                    recommend="Name each disk once.",
                )
            seen.add(disk.disk_id)
            checked.append((disk, snapshot))
        for disk, snapshot in checked:
            self._reset(disk, snapshot)

    def _check_reset(self, disk_id: str, snapshot_id: str) -> tuple[Disk, Snapshot]:
        disk = self._disks.get(disk_id)
        snapshot = self._snapshots.get(snapshot_id)
        if snapshot.source_disk_id != disk.disk_id:
            raise DependencyViolationError(
                f"Snapshot {snapshot.snapshot_id} was taken of disk {snapshot.source_disk_id}, "
                f"not of {disk.disk_id}.",
                code="InvalidParameter.Mismatch",
                http_status=403,
                ids=(disk.disk_id, snapshot.snapshot_id),
                recommend="Roll a disk back only to its own snapshots; create a new disk from "
                "another disk's snapshot instead.",
            )
        self._require_available_snapshot(snapshot)
        for attachment in disk.attachments:
            instance = self._instances.get(attachment.instance_id)
            instance.require_status(InstanceStatus.Stopped)
        if any(s.status is SnapshotStatus.progressing for s in self._disk_snapshots(disk_id)):
            raise IncorrectStatusError(
                f"Disk {disk.disk_id} has a snapshot in progress.",
                code="IncorrectDiskStatus.HasUnfinishedSnapshot",
                ids=(disk.disk_id,),
                recommend="Wait for the snapshot to finish.",
            )
        if disk.data_key is not None:
            self._key_ring.check_usable(disk.data_key.kms_key_id)
        return disk, snapshot

    def _reset(self, disk: Disk, snapshot: Snapshot) -> None:
        world = self._world
        link = self._links.find(snapshot.snapshot_link_id)
        assert link is not None
        later = link.snapshot_ids[link.snapshot_ids.index(snapshot.snapshot_id) + 1 :]
        self._maps.reset(disk.disk_id, self._snapshot_map(snapshot), later)
        world.events._emit(
            DiskReset,
            time=world.now(),
            region_id=self.region_id,
            disk_id=disk.disk_id,
            snapshot_id=snapshot.snapshot_id,
        )
