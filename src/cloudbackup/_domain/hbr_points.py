"""Cloud Backup (HBR) domain: backup points ("HBR snapshots", ``DescribeUdmSnapshots`` items)
of ECS instance backup, and what a finished backup job hands over to make one.

A backup job of an instance makes one ``UDM_ECS`` point (the instance) with one
``UDM_ECS_DISK`` point per disk. Both are :class:`BackupPoint` records; their ids are
``s-000…``, a namespace apart from ECS's ``s-`` snapshot ids. Field names are the real
``DescribeUdmSnapshots`` fields in snake_case; the ``Detail`` fields are flattened onto the
record (``consistent_level``, ``snapshot_group_id``, ``disk_id_list``,
``native_snapshot_id_list``…).

Retention: a point expires at ``created_time + retention`` days (``retention`` is the
*effective* retention: the longest of the base retention and every special retention the
point qualifies for, see :mod:`cloudbackup._services.hbr.retention`); ``None`` is Never Expire.
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Iterator
from typing import ClassVar

import attrs

from .._events import Event
from .._typenames import stored_as
from .guest import ConsistentLevel, DowngradeReason
from .hbr import AdvancedRetentionType, RetentionRule

__all__ = [
    "MAX_EXTENDED_RETENTION",
    "BackupCapacity",
    "DiskCapacity",
    "InstanceCapacity",
    "BackupPoint",
    "BackupPointDeleted",
    "BackupPointRecorded",
    "BackupPointRetentionExtended",
    "DiskSnapshotTaken",
    "PointRetention",
    "PointSourceType",
    "PointStatus",
    "UdmSnapshots",
]

MAX_EXTENDED_RETENTION = 65_536
"""The longest retention (days) the console's Extend Retention accepts (else Never Expire)."""


@stored_as("hbr.PointSourceType")
class PointSourceType(str, enum.Enum):
    """``SourceType`` of a backup point."""

    UDM_ECS = "UDM_ECS"
    """A whole instance: one per backup job."""
    UDM_ECS_DISK = "UDM_ECS_DISK"
    """One disk of an instance point."""
    UDM_DISK = "UDM_DISK"
    """A single-disk backup (no such points are made by ECS instance backup)."""


@stored_as("hbr.PointStatus")
class PointStatus(str, enum.Enum):
    """``Status`` of a backup point."""

    COMPLETE = "COMPLETE"
    """Every disk of the job was backed up."""
    PARTIAL_COMPLETE = "PARTIAL_COMPLETE"
    """Some disks failed; the point holds the others."""


@stored_as("hbr.DiskSnapshotTaken")
@attrs.frozen
class DiskSnapshotTaken:
    """One disk as a finished backup job hands it over: the native ECS snapshot made of it."""

    disk_id: str
    native_snapshot_id: str
    """The ECS snapshot (``s-…``) holding the disk's data."""
    bytes_total: int = 0
    """The disk's size in bytes."""
    actual_bytes: int = 0
    """Bytes the snapshot added to the disk's chain."""
    device: str | None = None
    """``/dev/xvda`` for the system disk."""


@stored_as("hbr.PointRetention")
@attrs.frozen
class PointRetention:
    """How long a new point is kept: what the job's rule (or the manual backup) says.

    ``retention`` is the base retention in days; ``special`` the policy's special retention
    rules (first point of a day/week/month/year); ``keep_latest`` the BACKUP rule's
    ``KeepLatestSnapshots``; ``immutable`` the SECURITY rule (points refuse deletion until they
    expire); ``policy_id``/``rule_id`` name the rule, ``None`` for a manual backup.
    """

    retention: int
    special: tuple[RetentionRule, ...] = ()
    keep_latest: bool = False
    immutable: bool = False
    policy_id: str | None = None
    rule_id: str | None = None


@stored_as("hbr.BackupPoint")
@attrs.frozen
class BackupPoint:
    """A backup point (``DescribeUdmSnapshots`` item): an instance (``UDM_ECS``) or one of its
    disks (``UDM_ECS_DISK``)."""

    KIND: ClassVar[str] = "hbr.point"

    snapshot_id: str
    """``SnapshotId``: ``s-000…`` (Cloud Backup's namespace, not an ECS snapshot id)."""
    source_type: PointSourceType
    job_id: str
    instance_id: str
    region_id: str
    created_time: _dt.datetime
    """``CreatedTime``: when the job that made the point was created (the backup time)."""
    complete_time: _dt.datetime
    """``CompleteTime``: when the job finished."""
    status: PointStatus
    retention: int | None
    """``Retention``: the effective retention in days; ``None`` = Never Expire."""
    base_retention: int
    """The retention the rule (or manual backup) gave, before special retention."""
    advanced_retention_type: AdvancedRetentionType | None
    """``AdvancedRetentionType``: the special retention that sets ``retention``, if any."""
    consistent_level: ConsistentLevel
    downgrade_reason: DowngradeReason | None
    snapshot_group_id: str | None
    """``SnapshotGroupId``: the ECS snapshot-consistent group (``ssg-…``), if one was made."""
    disk_id_list: tuple[str, ...]
    """``DiskIdList`` (UDM_ECS) or the one disk (UDM_ECS_DISK)."""
    native_snapshot_id_list: tuple[str, ...]
    """``NativeSnapshotIdList``: 1:1 with ``disk_id_list``, same order."""
    disk_point_ids: tuple[str, ...]
    """UDM_ECS: its ``UDM_ECS_DISK`` points, same order as ``disk_id_list``; else ``()``."""
    parent_snapshot_id: str | None
    """UDM_ECS_DISK: the ``UDM_ECS`` point it belongs to."""
    bytes_total: int
    actual_bytes: int
    immutable: bool
    """Made under a SECURITY rule: nobody can delete it (or its native snapshots) before it
    expires."""
    keep_latest: bool
    """The rule keeps at least the latest point of the instance even once expired."""
    policy_id: str | None
    rule_id: str | None
    disk_device: str | None = None
    """UDM_ECS_DISK: ``DiskDevName``."""
    missing_native_snapshot_ids: tuple[str, ...] = ()
    """Native snapshots deleted behind Cloud Backup's back (filled in when described): the
    point cannot be restored while this is not empty."""
    disk_fold: tuple[int | str | None, ...] = ()
    """UDM_ECS: how its disk points are folded into it: four values per disk point, in the
    order of :attr:`disk_point_ids`: ``BytesTotal``, ``ActualBytes``, ``DiskDevName`` and
    ``Status`` (one flat tuple of small values, which the cyclic garbage collector does not
    track). A disk point that still follows this point (everything else is this point's) is
    no record of its own: :meth:`folded_disk_point` gives it. Empty for a point stored before
    disk points were folded, whose disk points are records of their own."""

    def folded_disk_point(self, snapshot_id: str) -> BackupPoint | None:
        """The ``UDM_ECS_DISK`` point ``snapshot_id`` as it follows this instance point: this
        point's fields (job, times, retention, consistency, group, rule…) with its own disk,
        native snapshot, sizes, device and status; None when this point does not list it or
        keeps no fold for it."""
        try:
            at = self.disk_point_ids.index(snapshot_id)
        except ValueError:
            return None
        fold = self.disk_fold[4 * at : 4 * at + 4]
        if len(fold) != 4 or at >= len(self.disk_id_list):
            return None
        total, actual, device, status = fold
        return attrs.evolve(
            self,
            snapshot_id=self.disk_point_ids[at],
            source_type=PointSourceType.UDM_ECS_DISK,
            status=PointStatus(status),
            disk_id_list=self.disk_id_list[at : at + 1],
            native_snapshot_id_list=self.native_snapshot_id_list[at : at + 1],
            disk_point_ids=(),
            parent_snapshot_id=self.snapshot_id,
            bytes_total=total if type(total) is int else 0,
            actual_bytes=actual if type(actual) is int else 0,
            disk_device=device if type(device) is str else None,
            missing_native_snapshot_ids=(),
            disk_fold=(),
        )

    def fold_values(self) -> tuple[int | str | None, ...]:
        """This disk point's four values in its instance point's :attr:`disk_fold`."""
        return (self.bytes_total, self.actual_bytes, self.disk_device, self.status.value)

    @property
    def expire_time(self) -> _dt.datetime | None:
        """``ExpireTime``: ``created_time + retention`` days; ``None`` = Never Expire."""
        if self.retention is None:
            return None
        return self.created_time + _dt.timedelta(days=self.retention)

    @property
    def can_be_deleted(self) -> bool:
        """``CanBeDeleted``: false for an immutable point (until it expires)."""
        return not self.immutable

    @property
    def usable(self) -> bool:
        """Every native snapshot of the point still exists (as last described)."""
        return not self.missing_native_snapshot_ids


@attrs.frozen
class UdmSnapshots:
    """``DescribeUdmSnapshots`` response: the points, oldest first, and ``TotalCount``."""

    snapshots: tuple[BackupPoint, ...]
    total_count: int

    def __iter__(self) -> Iterator[BackupPoint]:
        """Iterate over the points."""
        return iter(self.snapshots)


@attrs.frozen
class DiskCapacity:
    """A protected disk's backup size: the bytes of its snapshot chain."""

    disk_id: str
    backup_bytes: int


@attrs.frozen
class InstanceCapacity:
    """A protected instance's backup size: the sum of its disks'."""

    instance_id: str
    backup_bytes: int
    disks: tuple[DiskCapacity, ...]


@attrs.frozen
class BackupCapacity:
    """The console's ECS instance backup statistics (no API)."""

    instance_backup_capacity: int
    """Instance Backup Capacity: the snapshot chains of every protected instance, in bytes."""
    instances: tuple[InstanceCapacity, ...]
    """Each protected instance, by id."""
    refreshed_time: _dt.datetime
    """When the figures were measured."""

    def to_json(self) -> object:
        """A JSON-able form (the console's cached figures)."""
        return {
            "total": self.instance_backup_capacity,
            "at": self.refreshed_time.isoformat(),
            "instances": [
                [i.instance_id, i.backup_bytes, [[d.disk_id, d.backup_bytes] for d in i.disks]]
                for i in self.instances
            ],
        }

    @classmethod
    def from_json(cls, data: object) -> BackupCapacity:
        """Read back :meth:`to_json`'s form."""
        assert isinstance(data, dict)
        return cls(
            instance_backup_capacity=int(data["total"]),
            refreshed_time=_dt.datetime.fromisoformat(str(data["at"])),
            instances=tuple(
                InstanceCapacity(
                    str(i), int(b), tuple(DiskCapacity(str(d), int(n)) for d, n in disks)
                )
                for i, b, disks in data["instances"]
            ),
        )


@stored_as("events.BackupPointRecorded")
@attrs.frozen(kw_only=True)
class BackupPointRecorded(Event):
    """A backup job's point was recorded."""

    snapshot_id: str
    instance_id: str
    job_id: str


@stored_as("events.BackupPointDeleted")
@attrs.frozen(kw_only=True)
class BackupPointDeleted(Event):
    """A backup point (and its disk points) was deleted: ``reason`` is ``expired`` or
    ``deleted``."""

    snapshot_id: str
    instance_id: str
    reason: str


@stored_as("events.BackupPointRetentionExtended")
@attrs.frozen(kw_only=True)
class BackupPointRetentionExtended(Event):
    """A backup point's retention was extended (``retention`` None = Never Expire)."""

    snapshot_id: str
    retention: int | None
