"""ECS domain: the records of instances, disks, snapshots, chains, groups and images (their
kinds, enums and category rules are in :mod:`.ecs_kinds`, re-exported here).

Records are frozen; services change them with :func:`attrs.evolve`. Field names follow the real
API's fields in snake_case; enum values are the real ones.
"""

from __future__ import annotations

import datetime as _dt
from typing import ClassVar

import attrs

from .._typenames import stored_as
from ..errors import (
    DependencyViolationError,
    IncorrectStatusError,
    InvalidParameterError,
    OperationDeniedError,
)
from .ecs_enums import (
    CATEGORY_SPECS,
    DATA_DEVICES,
    GIB,
    PL_MIN_SIZE,
    SYSTEM_DEVICE,
    CategorySpec,
    DiskCategory,
    DiskStatus,
    DiskType,
    InstanceStatus,
    LockStatus,
    PerformanceLevel,
    SnapshotGroupStatus,
    SnapshotStatus,
    SnapshotUsage,
)

__all__ = [
    "CATEGORY_SPECS",
    "DATA_DEVICES",
    "GIB",
    "PL_MIN_SIZE",
    "SYSTEM_DEVICE",
    "CategorySpec",
    "DataKey",
    "Disk",
    "DiskAttachment",
    "DiskCategory",
    "DiskStatus",
    "DiskType",
    "Image",
    "ImageDiskMapping",
    "Instance",
    "InstanceStatus",
    "LockStatus",
    "PerformanceLevel",
    "Snapshot",
    "SnapshotGroup",
    "SnapshotGroupMember",
    "SnapshotGroupStatus",
    "SnapshotLink",
    "SnapshotLock",
    "SnapshotStatus",
    "SnapshotUsage",
]


@stored_as("ecs.DataKey")
@attrs.frozen
class DataKey:
    """A disk's data key, wrapped (encrypted) by a KMS key: the envelope of envelope encryption."""

    kms_key_id: str
    """The KMS key that wraps the data key."""
    ciphertext_blob: bytes = attrs.field(repr=False)
    """The wrapped data key; only KMS can unwrap it."""


@stored_as("ecs.Instance")
@attrs.frozen
class Instance:
    """An ECS instance (``DescribeInstances`` item)."""

    KIND: ClassVar[str] = "ecs.instance"

    instance_id: str
    """``i-…``."""
    region_id: str
    zone_id: str
    instance_name: str
    host_name: str
    instance_type: str
    """E.g. ``ecs.g7.large``."""
    status: InstanceStatus
    creation_time: _dt.datetime
    os_type: str = "linux"
    """``linux`` or ``windows``."""
    image_id: str | None = None
    description: str = ""
    start_time: _dt.datetime | None = None
    """When the instance last became Running."""
    ever_started: bool = False
    """Whether it has ever been Running (snapshots of a never-used disk are refused)."""
    transition_target: InstanceStatus | None = None
    """While Pending/Starting/Stopping: the status it is moving to."""
    tags: tuple[tuple[str, str], ...] = ()
    """``Tags``: ``(key, value)`` pairs, at most 20."""
    ram_role_name: str | None = None
    """The instance RAM role attached to it (``AttachInstanceRamRole``), at most one. Records
    stored before the field existed read as None (no role)."""

    def require_status(self, *allowed: InstanceStatus) -> None:
        """Raise ``IncorrectInstanceStatus`` unless the instance is in one of ``allowed``."""
        if self.status not in allowed:
            names = " or ".join(s.value for s in allowed)
            raise IncorrectStatusError(
                f"Instance {self.instance_id} is {self.status.value}; this needs it {names}.",
                code="IncorrectInstanceStatus",
                ids=(self.instance_id,),
                recommend=f"Bring the instance to {names} first (and advance virtual time).",
            )

    def moving(self, status: InstanceStatus, target: InstanceStatus) -> Instance:
        """The instance entering a transitional ``status`` on its way to ``target``."""
        return attrs.evolve(self, status=status, transition_target=target)

    def arrived(self, now: _dt.datetime) -> Instance:
        """The instance once its transition has reached its target (Running records when)."""
        target = self.transition_target
        if target is None:
            return self
        if target is InstanceStatus.Running:
            return attrs.evolve(
                self, status=target, transition_target=None, start_time=now, ever_started=True
            )
        return attrs.evolve(self, status=target, transition_target=None)


@stored_as("ecs.DiskAttachment")
@attrs.frozen
class DiskAttachment:
    """One attachment of a disk to an instance (multi-attach disks have several)."""

    instance_id: str
    device: str
    """E.g. ``/dev/xvda`` (system) or ``/dev/xvdb`` onwards (data)."""
    attached_time: _dt.datetime


@stored_as("ecs.Disk")
@attrs.frozen
class Disk:
    """An ECS block storage device (``DescribeDisks`` item)."""

    KIND: ClassVar[str] = "ecs.disk"

    disk_id: str
    """``d-…``."""
    region_id: str
    zone_id: str
    disk_name: str | None
    description: str | None
    category: DiskCategory
    size: int
    """Size in GiB."""
    type: DiskType
    status: DiskStatus
    creation_time: _dt.datetime
    performance_level: PerformanceLevel | None = None
    """For ``cloud_essd`` only."""
    attachments: tuple[DiskAttachment, ...] = ()
    portable: bool = True
    multi_attach: str = "Disabled"
    """``Enabled`` or ``Disabled``."""
    encrypted: bool = False
    kms_key_id: str | None = None
    delete_with_instance: bool = False
    delete_auto_snapshot: bool = True
    source_snapshot_id: str | None = None
    """The snapshot the disk was created from, if any."""
    snapshot_link_id: str | None = None
    """The disk's incremental snapshot chain (``sl-…``), once it has one."""
    ever_attached: bool = False
    detached_time: _dt.datetime | None = None
    data_key: DataKey | None = attrs.field(default=None, repr=False)
    """The wrapped data key of an encrypted disk."""
    tags: tuple[tuple[str, str], ...] = ()
    """``Tags``: ``(key, value)`` pairs, at most 20."""

    @property
    def instance_id(self) -> str | None:
        """The instance the disk is attached to (the first one for multi-attach)."""
        return self.attachments[0].instance_id if self.attachments else None

    @property
    def device(self) -> str | None:
        """The device name of the (first) attachment."""
        return self.attachments[0].device if self.attachments else None

    @property
    def size_bytes(self) -> int:
        """Size in bytes."""
        return self.size * GIB


@stored_as("ecs.SnapshotLock")
@attrs.frozen
class SnapshotLock:
    """A compliance-mode lock on a snapshot (``LockSnapshot``)."""

    lock_mode: str
    """Always ``compliance``."""
    lock_duration: int
    """Days the lock lasts once effective."""
    cool_off_period: int
    """Hours during which the lock can still be removed or changed."""
    lock_created_time: _dt.datetime
    """When ``LockSnapshot`` was called (or last reconfigured during cool-off)."""
    effective_from: _dt.datetime | None
    """When the lock timer starts: when the snapshot is accomplished (None while progressing)."""

    def cool_off_end(self) -> _dt.datetime:
        """When the cool-off period ends (the lock cannot be removed afterwards)."""
        return self.lock_created_time + _dt.timedelta(hours=self.cool_off_period)

    def lock_expire(self) -> _dt.datetime | None:
        """When the lock expires, once known."""
        if self.effective_from is None:
            return None
        return self.effective_from + _dt.timedelta(days=self.lock_duration)

    def status(self, now: _dt.datetime) -> LockStatus:
        """The lock's ``LockStatus`` at ``now``."""
        if now < self.cool_off_end():
            return LockStatus.compliance_cooloff
        expire = self.lock_expire()
        if expire is not None and now >= expire:
            return LockStatus.expired
        return LockStatus.compliance

    def holds(self, now: _dt.datetime) -> bool:
        """Whether the lock forbids deleting the snapshot at ``now``."""
        return self.status(now) is not LockStatus.expired

    @classmethod
    def new(
        cls, *, lock_duration: int, cool_off_period: int, now: _dt.datetime, effective: bool
    ) -> SnapshotLock:
        """A fresh compliance lock made at ``now``; its timer starts now if ``effective``
        (the snapshot is accomplished), else when the snapshot completes."""
        return cls(
            lock_mode="compliance",
            lock_duration=lock_duration,
            cool_off_period=cool_off_period,
            lock_created_time=now,
            effective_from=now if effective else None,
        )

    def extended(self, lock_duration: int, cool_off_period: int, snapshot_id: str) -> SnapshotLock:
        """This effective lock lengthened to ``lock_duration`` days; never shortened, and
        only with a ``cool_off_period`` of 0 (``InvalidParameter.CoolOffPeriod`` /
        ``InvalidParameter.LockDuration``)."""
        if cool_off_period != 0:
            raise InvalidParameterError(
                "An effective lock can only be extended, with CoolOffPeriod 0.",
                code="InvalidParameter.CoolOffPeriod",
                ids=(snapshot_id,),
                recommend="Pass cool_off_period=0.",
            )
        if lock_duration < self.lock_duration:
            raise InvalidParameterError(
                f"The lock on {snapshot_id} is past its cool-off period; its "
                f"duration ({self.lock_duration} days) can only be extended.",
                code="InvalidParameter.LockDuration",
                ids=(snapshot_id,),
                recommend=f"Pass a lock_duration of at least {self.lock_duration}.",
            )
        return attrs.evolve(self, lock_duration=lock_duration)

    def effective_at(self, now: _dt.datetime) -> SnapshotLock:
        """The lock once its snapshot is accomplished: its timer starts at ``now`` if it has
        not started yet."""
        return self if self.effective_from is not None else attrs.evolve(self, effective_from=now)


def _microseconds(delta: _dt.timedelta) -> int:
    """A duration in whole microseconds (exact integer arithmetic, no float rounding)."""
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@stored_as("ecs.Snapshot")
@attrs.frozen
class Snapshot:
    """An ECS snapshot (``DescribeSnapshots`` item)."""

    KIND: ClassVar[str] = "ecs.snapshot"

    snapshot_id: str
    """``s-…``."""
    region_id: str
    snapshot_name: str | None
    description: str | None
    status: SnapshotStatus
    creation_time: _dt.datetime
    source_disk_id: str
    source_disk_type: DiskType
    source_disk_size: int
    """GiB."""
    source_disk_category: DiskCategory
    snapshot_link_id: str
    instance_id: str | None
    """The instance the disk was attached to at creation."""
    retention_days: int | None
    """Days from creation after which the snapshot is released; None = kept until deleted."""
    block_size: int
    """Bytes per block of the model's block map (for size accounting)."""
    incremental_blocks: int = 0
    """Non-zero blocks this snapshot holds itself (its incremental size in blocks)."""
    completion_time: _dt.datetime | None = None
    snapshot_type: str = "user"
    """``user`` (manual) or ``auto``."""
    category: str = "standard"
    instant_access: bool = False
    encrypted: bool = False
    kms_key_id: str | None = None
    snapshot_group_id: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    disk_refs: int = 0
    """How many existing disks were created from this snapshot."""
    image_refs: int = 0
    """How many existing images use this snapshot."""
    lock: SnapshotLock | None = None
    data_key: DataKey | None = attrs.field(default=None, repr=False)
    last_modified_time: _dt.datetime | None = None
    expected_completion_time: _dt.datetime | None = None
    """When a progressing standard snapshot finishes uploading, by the throughput model
    (:meth:`Timings.snapshot_duration`); None for instant-access snapshots."""
    observed_at: _dt.datetime | None = attrs.field(default=None, eq=False)
    """The virtual instant a ``describe_*`` call read this record at, which
    :attr:`progress` and :attr:`remain_time` are computed for; None on a stored record (its
    progress then shows only ``"0%"``/``"100%"``). Not part of equality: two reads of one
    snapshot at different instants are the same snapshot."""

    def progress_at(self, now: _dt.datetime) -> str:
        """``Progress`` at ``now``: ``"100%"`` once accomplished; while progressing, the share
        of the upload time elapsed, rounded down and at most ``"99%"``."""
        if self.status is SnapshotStatus.accomplished:
            return "100%"
        end = self.expected_completion_time
        if (
            self.status is not SnapshotStatus.progressing
            or end is None
            or end <= self.creation_time
        ):
            return "0%"
        total = _microseconds(end - self.creation_time)
        done = _microseconds(min(max(now, self.creation_time), end) - self.creation_time)
        return f"{min(99, done * 100 // total)}%"

    def remain_time_at(self, now: _dt.datetime) -> int:
        """``RemainTime`` at ``now``: whole seconds (rounded up) until a progressing snapshot
        is accomplished; 0 once it is, or when it is not progressing."""
        end = self.expected_completion_time
        if self.status is not SnapshotStatus.progressing or end is None or now >= end:
            return 0
        return -(-_microseconds(end - now) // 1_000_000)

    @property
    def usage(self) -> SnapshotUsage:
        """``Usage``: whether disks and/or images were created from this snapshot."""
        if self.disk_refs and self.image_refs:
            return SnapshotUsage.image_disk
        if self.image_refs:
            return SnapshotUsage.image
        if self.disk_refs:
            return SnapshotUsage.disk
        return SnapshotUsage.none

    @property
    def incremental_size(self) -> int:
        """Bytes held by this snapshot alone (blocks changed since the previous one)."""
        return self.incremental_blocks * self.block_size

    @property
    def progress(self) -> str:
        """``Progress`` as the API shows it, e.g. ``"37%"``: at :attr:`observed_at` (see
        :meth:`progress_at`); a stored record, read at no instant, shows ``"0%"``/``"100%"``."""
        if self.observed_at is not None:
            return self.progress_at(self.observed_at)
        return "100%" if self.status is SnapshotStatus.accomplished else "0%"

    @property
    def remain_time(self) -> int:
        """``RemainTime``: whole seconds until accomplished, at :attr:`observed_at` (see
        :meth:`remain_time_at`); 0 on a stored record, read at no instant."""
        if self.observed_at is None:
            return 0
        return self.remain_time_at(self.observed_at)

    def observed(self, now: _dt.datetime) -> Snapshot:
        """This record as a read at ``now`` shows it (:attr:`progress`, :attr:`remain_time`
        at ``now``); the stored record is unchanged. Only a progressing record is copied."""
        if self.status is not SnapshotStatus.progressing:
            return self
        return attrs.evolve(self, observed_at=now)

    @property
    def available(self) -> bool:
        """``Available``: usable to create disks or roll back (instant access or finished)."""
        return self.status is SnapshotStatus.accomplished or (
            self.instant_access and self.status is SnapshotStatus.progressing
        )

    @property
    def expire_time(self) -> _dt.datetime | None:
        """When retention releases the snapshot (None = never)."""
        if self.retention_days is None:
            return None
        return self.creation_time + _dt.timedelta(days=self.retention_days)

    @classmethod
    def of_disk(
        cls,
        disk: Disk,
        *,
        snapshot_id: str,
        snapshot_link_id: str,
        now: _dt.datetime,
        snapshot_name: str | None,
        description: str | None,
        retention_days: int | None,
        tags: tuple[tuple[str, str], ...],
        snapshot_group_id: str | None,
        block_size: int,
        incremental_blocks: int,
    ) -> Snapshot:
        """A new snapshot of ``disk`` taken at ``now``: instant-access categories (ESSD family)
        are ``accomplished`` at once, the others ``progressing`` until their upload ends."""
        instant = CATEGORY_SPECS[disk.category].instant_access
        return cls(
            snapshot_id=snapshot_id,
            region_id=disk.region_id,
            snapshot_name=snapshot_name,
            description=description,
            status=SnapshotStatus.accomplished if instant else SnapshotStatus.progressing,
            creation_time=now,
            source_disk_id=disk.disk_id,
            source_disk_type=disk.type,
            source_disk_size=disk.size,
            source_disk_category=disk.category,
            snapshot_link_id=snapshot_link_id,
            instance_id=disk.instance_id,
            retention_days=retention_days,
            block_size=block_size,
            incremental_blocks=incremental_blocks,
            completion_time=now if instant else None,
            instant_access=instant,
            encrypted=disk.encrypted,
            kms_key_id=disk.kms_key_id,
            snapshot_group_id=snapshot_group_id,
            tags=tags,
            data_key=disk.data_key,
            last_modified_time=now,
        )

    def completed(self, now: _dt.datetime) -> Snapshot:
        """The snapshot once its upload has finished at ``now`` (a pending lock takes effect)."""
        lock = None if self.lock is None else self.lock.effective_at(now)
        return attrs.evolve(
            self, status=SnapshotStatus.accomplished, completion_time=now, lock=lock
        )

    def with_retention(self, retention_days: int) -> Snapshot:
        """The snapshot kept ``retention_days`` from its creation: retention can be extended,
        never shortened, and a snapshot kept until deleted cannot be given one
        (``InvalidOperation.DecreaseRetentionDaysUnsupported``); a progressing standard
        snapshot cannot be changed yet (``InvalidSnapshotId.NotReady``)."""
        if self.status is SnapshotStatus.progressing and not self.instant_access:
            raise IncorrectStatusError(
                f"Snapshot {self.snapshot_id} is still progressing.",
                code="InvalidSnapshotId.NotReady",
                ids=(self.snapshot_id,),
                recommend="Wait until the snapshot is accomplished.",
            )
        if self.retention_days is None or retention_days < self.retention_days:
            current = (
                "kept until deleted"
                if self.retention_days is None
                else (f"{self.retention_days} days")
            )
            raise OperationDeniedError(
                f"Snapshot {self.snapshot_id} is {current}; retention can only be "
                f"extended, not shortened to {retention_days} days.",
                code="InvalidOperation.DecreaseRetentionDaysUnsupported",
                http_status=400,
                ids=(self.snapshot_id,),
                recommend="Pass more days than the current retention (counted from "
                "creation), up to 65,536.",
            )
        return attrs.evolve(self, retention_days=retention_days)

    def require_lock_within_retention(self, lock_duration: int, starts: _dt.datetime) -> None:
        """Raise unless a lock of ``lock_duration`` days whose timer starts at ``starts``
        expires on or before the retention date (a lock may not outlast the snapshot's
        retention; a snapshot kept until deleted takes any lock)."""
        retention_end = self.expire_time
        if retention_end is None:
            return
        lock_end = starts + _dt.timedelta(days=lock_duration)
        if lock_end > retention_end:
            raise DependencyViolationError(
                f"A lock of {lock_duration} days on snapshot {self.snapshot_id} would expire "
                f"at {lock_end.isoformat()}, after its retention ends at "
                f"{retention_end.isoformat()}.",
                code="InvalidParameter.LockDuration",
                ids=(self.snapshot_id,),
                recommend="Choose a lock that expires on or before the retention date, or "
                "extend the retention first (modify_snapshot_attribute).",
            )

    def require_deletable(self, now: _dt.datetime, *, force: bool) -> None:
        """Raise unless the snapshot may be deleted at ``now``: never while a compliance lock
        holds or an image uses it; while a disk made from it exists, only with ``force``."""
        if self.lock is not None and self.lock.holds(now):
            raise OperationDeniedError(
                f"Snapshot {self.snapshot_id} is locked in compliance mode "
                f"({self.lock.status(now).value}); nobody can delete it.",
                code="OperationDenied.SnapshotLocked",
                ids=(self.snapshot_id,),
                recommend="Unlock it during its cool-off period, or wait for the lock to expire.",
            )
        if self.image_refs:
            raise OperationDeniedError(
                f"Snapshot {self.snapshot_id} was used to create a custom image.",
                code="SnapshotCreatedImage",
                ids=(self.snapshot_id,),
                recommend="Delete the image first (delete_image), then the snapshot.",
            )
        if self.disk_refs and not force:
            raise OperationDeniedError(
                f"Snapshot {self.snapshot_id} was used to create a disk.",
                code="SnapshotCreatedDisk",
                ids=(self.snapshot_id,),
                recommend="Pass force=True; the disk keeps its data but cannot be "
                "re-initialised from the snapshot.",
            )


@stored_as("ecs.SnapshotLink")
@attrs.frozen
class SnapshotLink:
    """An incremental snapshot chain of one disk (``DescribeSnapshotLinks`` item)."""

    KIND: ClassVar[str] = "ecs.snapshot_link"

    snapshot_link_id: str
    """``sl-…``."""
    region_id: str
    source_disk_id: str
    source_disk_size: int
    source_disk_type: DiskType
    instance_id: str | None
    block_size: int
    snapshot_ids: tuple[str, ...] = ()
    """The chain's snapshots, oldest first."""
    total_blocks: int = 0
    """Non-zero blocks held by all the chain's snapshots."""

    @property
    def total_size(self) -> int:
        """``TotalSize``: bytes held by the whole chain."""
        return self.total_blocks * self.block_size

    @property
    def total_count(self) -> int:
        """``TotalCount``: snapshots in the chain."""
        return len(self.snapshot_ids)

    def with_newest(
        self, snapshot_id: str, blocks: int, source_disk_size: int, instance_id: str | None
    ) -> SnapshotLink:
        """This chain with ``snapshot_id`` (holding ``blocks`` non-zero blocks) appended as its
        newest, taken of the disk at ``source_disk_size`` GiB attached to ``instance_id``.

        The same record as ``attrs.evolve`` gives, built directly (it is made on every
        ``CreateSnapshot``).
        """
        return SnapshotLink(
            snapshot_link_id=self.snapshot_link_id,
            region_id=self.region_id,
            source_disk_id=self.source_disk_id,
            source_disk_size=source_disk_size,
            source_disk_type=self.source_disk_type,
            instance_id=instance_id,
            block_size=self.block_size,
            snapshot_ids=(*self.snapshot_ids, snapshot_id),
            total_blocks=self.total_blocks + blocks,
        )


@stored_as("ecs.SnapshotGroupMember")
@attrs.frozen
class SnapshotGroupMember:
    """One member snapshot of a group as ``DescribeSnapshotGroups`` lists it
    (``Snapshots.Snapshot``), with its progress at the moment of the call."""

    snapshot_id: str
    """``SnapshotId``."""
    source_disk_id: str
    """``SourceDiskId``: the disk the member was taken of."""
    source_disk_type: DiskType
    """``SourceDiskType``: ``system`` or ``data``."""
    status: SnapshotStatus
    """The member's status: ``progressing``, ``accomplished`` or ``failed``."""
    progress: str
    """``Progress``, e.g. ``"37%"`` (see :meth:`Snapshot.progress_at`)."""
    remain_time: int
    """``RemainTime``: whole seconds until accomplished (see :meth:`Snapshot.remain_time_at`)."""
    instant_access: bool
    """``InstantAccess``."""
    available: bool
    """``Available``: usable to create disks or roll back already."""

    @classmethod
    def of(cls, snapshot: Snapshot, now: _dt.datetime) -> SnapshotGroupMember:
        """The member record of ``snapshot`` at ``now``."""
        return cls(
            snapshot_id=snapshot.snapshot_id,
            source_disk_id=snapshot.source_disk_id,
            source_disk_type=snapshot.source_disk_type,
            status=snapshot.status,
            progress=snapshot.progress_at(now),
            remain_time=snapshot.remain_time_at(now),
            instant_access=snapshot.instant_access,
            available=snapshot.available,
        )


@stored_as("ecs.SnapshotGroup")
@attrs.frozen
class SnapshotGroup:
    """A snapshot-consistent group (``DescribeSnapshotGroups`` item)."""

    KIND: ClassVar[str] = "ecs.snapshot_group"

    snapshot_group_id: str
    """``ssg-…``."""
    region_id: str
    name: str | None
    description: str | None
    status: SnapshotGroupStatus
    creation_time: _dt.datetime
    snapshot_ids: tuple[str, ...]
    """Member snapshots, one per disk, all captured at ``creation_time``."""
    instance_id: str | None = None
    """Set only when every member disk belongs to one instance."""
    tags: tuple[tuple[str, str], ...] = ()
    snapshots: tuple[SnapshotGroupMember, ...] = ()
    """``Snapshots``: the member snapshots with their progress, filled in by
    ``describe_snapshot_groups`` at the moment of the call (empty in the stored record)."""

    @property
    def progress(self) -> str:
        """``Progress`` as the API shows it."""
        return "100%" if self.status is SnapshotGroupStatus.accomplished else "0%"


@stored_as("ecs.ImageDiskMapping")
@attrs.frozen
class ImageDiskMapping:
    """One ``DiskDeviceMapping`` of a custom image."""

    device: str
    snapshot_id: str
    size: int
    """GiB."""
    disk_type: DiskType


@stored_as("ecs.Image")
@attrs.frozen
class Image:
    """A custom image created from snapshots (``DescribeImages`` item)."""

    KIND: ClassVar[str] = "ecs.image"

    image_id: str
    """``m-…``."""
    region_id: str
    image_name: str | None
    description: str | None
    creation_time: _dt.datetime
    disk_device_mappings: tuple[ImageDiskMapping, ...]
    status: str = "Available"
    image_owner_alias: str = "self"
    tags: tuple[tuple[str, str], ...] = ()
    """``Tags``: ``(key, value)`` pairs, at most 20."""

    @property
    def size(self) -> int:
        """Size of the system disk in GiB."""
        return next(m.size for m in self.disk_device_mappings if m.disk_type is DiskType.system)
