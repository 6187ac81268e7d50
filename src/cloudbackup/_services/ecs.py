"""ECS: instances, disks with real data, snapshots and their chains, groups, images, locks."""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import attrs
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .. import _validate as v
from .._blocks import DISK_BLOCKS, DISK_DIRTY, SNAPSHOT_BLOCKS, BlockMaps
from .._domain.ecs import (
    CATEGORY_SPECS,
    PL_MIN_SIZE,
    DataKey,
    Disk,
    DiskAttachment,
    DiskCategory,
    DiskStatus,
    DiskType,
    Image,
    ImageDiskMapping,
    Instance,
    InstanceStatus,
    LockStatus,
    PerformanceLevel,
    Snapshot,
    SnapshotGroup,
    SnapshotGroupStatus,
    SnapshotLink,
    SnapshotLock,
    SnapshotStatus,
)
from .._domain.requests import (
    DataDisk,
    DiskDeviceMapping,
    Page,
    ResetDiskSpec,
    SystemDisk,
    paginate,
)
from .._engine import Timer
from .._events import (
    DiskAttached,
    DiskCreated,
    DiskDeleted,
    DiskDetached,
    DiskModified,
    DiskReset,
    DiskResized,
    DiskWritten,
    ImageCreated,
    ImageDeleted,
    InstanceCreated,
    InstanceDeleted,
    InstanceStatusChanged,
    SnapshotCompleted,
    SnapshotCreated,
    SnapshotDeleted,
    SnapshotGroupCreated,
    SnapshotGroupDeleted,
    SnapshotLocked,
    SnapshotModified,
    SnapshotUnlocked,
)
from .._regions import Region, require_zone
from .._repository import Index, Repository
from .._world import Scope, ServiceSpec, World, register_service
from ..errors import (
    DependencyViolationError,
    IncorrectStatusError,
    InvalidParameterError,
    OperationDeniedError,
    QuotaExceededError,
    UnsupportedOperationError,
)
from . import _crypto
from ._base import RegionalService, unit_of_work
from ._interfaces import KEY_RING, KeyRing

__all__ = [
    "DISK_BLOCKS",
    "DISK_DIRTY",
    "ATTACHED_TO",
    "INSTANCE_DISKS",
    "SNAPSHOT_BLOCKS",
    "SPEC",
    "TIMER_HANDLERS",
    "EcsService",
]

INSTANCE_DISKS = "ecs.instance_disks"
"""partition = instance id: the disks attached to it (an index of ``Disk.attachments``)."""
ATTACHED_TO: Index[Disk] = Index(INSTANCE_DISKS, lambda d: (a.instance_id for a in d.attachments))
"""The index of which disks each instance has, kept by the disk repository."""

R = TypeVar("R")

_ACTION_INSTANCE = "ecs.instance_transition"
_ACTION_SNAPSHOT_DONE = "ecs.snapshot_complete"
_ACTION_SNAPSHOT_EXPIRE = "ecs.snapshot_expire"

_INSTANCE_TYPE = re.compile(r"^ecs\.[a-z0-9-]+\.[a-z0-9]+$")
_DATA_DEVICES = tuple(f"/dev/xvd{c}" for c in "bcdefghijklmnopqrstuvwxyz")
_SYSTEM_DEVICE = "/dev/xvda"


class EcsService(RegionalService):
    """Elastic Compute Service of one region: ``cloud.ecs("cn-hangzhou")``.

    Methods are the real API actions in snake_case with the real parameter names; records use
    the real field names. Every call is one unit of work: it happens completely or not at all.
    ``write_disk`` and ``read_disk`` have no real API counterpart: they are what a guest does
    to its block device.
    """

    def __init__(self, world: World, region: Region) -> None:
        super().__init__(world, region)
        self._maps = BlockMaps(world.store, world.blocks)
        store, region_id = world.store, region.region_id
        self._instances = Repository(
            store,
            Instance,
            region_id,
            id_of=lambda i: i.instance_id,
            not_found="InvalidInstanceId.NotFound",
            noun="instance",
        )
        self._disks = Repository(
            store,
            Disk,
            region_id,
            id_of=lambda d: d.disk_id,
            not_found="InvalidDiskId.NotFound",
            noun="disk",
            indexes=(ATTACHED_TO,),
        )
        self._snapshots = Repository(
            store,
            Snapshot,
            region_id,
            id_of=lambda s: s.snapshot_id,
            not_found="InvalidSnapshotId.NotFound",
            noun="snapshot",
        )
        self._links = Repository(
            store,
            SnapshotLink,
            region_id,
            id_of=lambda link: link.snapshot_link_id,
            not_found="InvalidSnapshotLinkId.NotFound",
            noun="snapshot chain",
        )
        self._groups = Repository(
            store,
            SnapshotGroup,
            region_id,
            id_of=lambda g: g.snapshot_group_id,
            not_found="InvalidSnapshotGroup.NotFound",
            noun="snapshot-consistent group",
        )
        self._images = Repository(
            store,
            Image,
            region_id,
            id_of=lambda i: i.image_id,
            not_found="InvalidImageId.NotFound",
            noun="image",
        )

    @property
    def _key_ring(self) -> KeyRing:
        """The region's key ring (offered by KMS): the only way ECS reaches KMS."""
        return self._world.provider(KEY_RING, self.region)

    # ================================================================================
    # Instances
    # ================================================================================
    @unit_of_work
    def run_instances(
        self,
        *,
        zone_id: str,
        instance_type: str,
        system_disk: SystemDisk | None = None,
        data_disks: Sequence[DataDisk] = (),
        instance_name: str | None = None,
        host_name: str | None = None,
        description: str = "",
        os_type: str = "linux",
        amount: int = 1,
    ) -> list[str]:
        """``RunInstances``: create ``amount`` instances that start at once.

        Each goes ``Pending`` → ``Running`` after the simulated boot time
        (:attr:`Timings.instance_pending` + :attr:`Timings.instance_start`).

        Returns:
            The new instance ids (``InstanceIdSets``).
        """
        count = v.integer("Amount", amount, 1, 100)
        return [
            self._create_instance(
                zone_id,
                instance_type,
                system_disk,
                data_disks,
                instance_name,
                host_name,
                description,
                os_type,
                start=True,
            )
            for _ in range(count)
        ]

    @unit_of_work
    def create_instance(
        self,
        *,
        zone_id: str,
        instance_type: str,
        system_disk: SystemDisk | None = None,
        data_disks: Sequence[DataDisk] = (),
        instance_name: str | None = None,
        host_name: str | None = None,
        description: str = "",
        os_type: str = "linux",
    ) -> str:
        """``CreateInstance``: an instance that ends ``Stopped`` after ``Pending``.

        Returns:
            The new instance id.
        """
        return self._create_instance(
            zone_id,
            instance_type,
            system_disk,
            data_disks,
            instance_name,
            host_name,
            description,
            os_type,
            start=False,
        )

    def _create_instance(
        self,
        zone_id: str,
        instance_type: str,
        system_disk: SystemDisk | None,
        data_disks: Sequence[DataDisk],
        instance_name: str | None,
        host_name: str | None,
        description: str,
        os_type: str,
        *,
        start: bool,
    ) -> str:
        world = self._world
        zone = require_zone(self.region, zone_id)
        if not isinstance(instance_type, str) or not _INSTANCE_TYPE.fullmatch(instance_type):
            raise InvalidParameterError(
                f"The instance type {instance_type!r} is not valid.",
                code="InvalidInstanceType.ValueNotSupported",
                recommend="Use an instance type such as 'ecs.g7.large'.",
            )
        system = SystemDisk() if system_disk is None else system_disk
        if not isinstance(system, SystemDisk):
            raise InvalidParameterError(
                "system_disk must be a cloudbackup.SystemDisk.",
                code="InvalidParameter.SystemDisk",
                recommend="Pass SystemDisk(category=..., size=...).",
            )
        if isinstance(data_disks, (str, bytes)) or not isinstance(data_disks, (list, tuple)):
            raise InvalidParameterError(
                "data_disks must be a list of cloudbackup.DataDisk.",
                code="InvalidParameter.DataDisk",
                recommend="Pass [DataDisk(...), ...].",
            )
        if len(data_disks) > world.limits.data_disks_per_instance:
            raise QuotaExceededError(
                f"An instance can have at most {world.limits.data_disks_per_instance} data "
                f"disks; {len(data_disks)} were requested.",
                code="InstanceDiskNumber.LimitExceed",
                recommend="Request fewer data disks.",
            )
        for item in data_disks:
            if not isinstance(item, DataDisk):
                raise InvalidParameterError(
                    "Every data disk must be a cloudbackup.DataDisk.",
                    code="InvalidParameter.DataDisk",
                    recommend="Pass [DataDisk(...), ...].",
                )
        name = v.name_text("InstanceName", instance_name, code="InvalidInstanceName.Malformed")
        host = v.optional_text("HostName", host_name, 2, 64, code="InvalidHostName.Malformed")
        v.text("Description", description, 0, 256, code="InvalidDescription.Malformed")
        v.choice("OsType", os_type, ("linux", "windows"))
        sys_category = self._category(system.category)
        if not CATEGORY_SPECS[sys_category].system_disk:
            raise InvalidParameterError(
                f"{sys_category.value} cannot be a system disk.",
                code="InvalidSystemDiskCategory.ValueNotSupported",
                recommend="Use cloud_essd, cloud_auto, cloud_essd_entry, cloud_ssd, "
                "cloud_efficiency or cloud.",
            )
        v.integer("SystemDisk.Size", system.size, 20, 2048, code="InvalidSystemDiskSize")

        now = world.now()
        instance_id = world.ids.new_id("i-", self.region.id_infix)
        instance = Instance(
            instance_id=instance_id,
            region_id=self.region_id,
            zone_id=zone,
            instance_name=name or instance_id,
            host_name=host or f"iZ{instance_id[2:]}Z",
            instance_type=instance_type,
            status=InstanceStatus.Pending,
            creation_time=now,
            os_type=os_type,
            description=description,
            transition_target=InstanceStatus.Running if start else InstanceStatus.Stopped,
        )
        self._instances.put(instance)
        world.events._emit(
            InstanceCreated,
            time=now,
            region_id=self.region_id,
            instance_id=instance_id,
            zone_id=zone,
        )
        self._new_disk(
            zone_id=zone,
            category=sys_category,
            size=system.size,
            performance_level=system.performance_level,
            disk_name=system.disk_name,
            description=system.description,
            encrypted=system.encrypted,
            kms_key_id=system.kms_key_id,
            snapshot_id=None,
            disk_type=DiskType.system,
            attach=(instance_id, _SYSTEM_DEVICE),
            delete_with_instance=True,
        )
        for index, spec in enumerate(data_disks):
            category = self._category(spec.category)
            self._new_disk(
                zone_id=zone,
                category=category,
                size=spec.size,
                performance_level=spec.performance_level,
                disk_name=spec.disk_name,
                description=spec.description,
                encrypted=spec.encrypted,
                kms_key_id=spec.kms_key_id,
                snapshot_id=spec.snapshot_id,
                disk_type=DiskType.data,
                attach=(instance_id, _DATA_DEVICES[index]),
                delete_with_instance=v.boolean(
                    "DataDisk.DeleteWithInstance", spec.delete_with_instance
                ),
                allow_local=True,
            )
        delay = world.timings.instance_pending + (
            world.timings.instance_start if start else _dt.timedelta(0)
        )
        self._schedule_transition(instance, delay)
        return instance_id

    @unit_of_work
    def start_instance(self, instance_id: str) -> None:
        """``StartInstance``: ``Stopped`` → ``Starting`` → ``Running``.

        The instance needs a system disk: one whose system disk was detached cannot boot.
        """
        instance = self._instances.get(instance_id)
        self._require_instance_status(instance, InstanceStatus.Stopped)
        if not any(
            d.type is DiskType.system
            for d in self._disks.members(ATTACHED_TO, instance.instance_id)
        ):
            raise IncorrectStatusError(
                f"Instance {instance.instance_id} has no system disk attached.",
                code="InvalidOperation.NoSystemDisk",
                ids=(instance.instance_id,),
                recommend="Attach a system disk (attach_disk, instance Stopped) first.",
            )
        self._transition(
            instance,
            InstanceStatus.Starting,
            InstanceStatus.Running,
            self._world.timings.instance_start,
        )

    @unit_of_work
    def stop_instance(self, instance_id: str, *, force_stop: bool = False) -> None:
        """``StopInstance``: ``Running`` → ``Stopping`` → ``Stopped``."""
        instance = self._instances.get(instance_id)
        v.boolean("ForceStop", force_stop)
        self._require_instance_status(instance, InstanceStatus.Running)
        self._transition(
            instance,
            InstanceStatus.Stopping,
            InstanceStatus.Stopped,
            self._world.timings.instance_stop,
        )

    @unit_of_work
    def reboot_instance(self, instance_id: str, *, force_stop: bool = False) -> None:
        """``RebootInstance``: ``Running`` → ``Starting`` → ``Running``."""
        instance = self._instances.get(instance_id)
        v.boolean("ForceStop", force_stop)
        self._require_instance_status(instance, InstanceStatus.Running)
        timings = self._world.timings
        self._transition(
            instance,
            InstanceStatus.Starting,
            InstanceStatus.Running,
            timings.instance_stop + timings.instance_start,
        )

    @unit_of_work
    def delete_instance(self, instance_id: str, *, force: bool = False) -> None:
        """``DeleteInstance``: release an instance.

        The instance must be ``Stopped`` (or ``Running`` with ``force=True``). Disks with
        ``delete_with_instance`` are released with it, the others are detached and stay as
        ``Available`` disks. Manual snapshots always survive the release.
        """
        instance = self._instances.get(instance_id)
        v.boolean("Force", force)
        allowed = (
            (InstanceStatus.Stopped, InstanceStatus.Running) if force else (InstanceStatus.Stopped,)
        )
        self._require_instance_status(instance, *allowed)
        world = self._world
        deleted: list[str] = []
        for disk in self._disks.members(ATTACHED_TO, instance_id):
            shared_elsewhere = any(a.instance_id != instance_id for a in disk.attachments)
            local = CATEGORY_SPECS[disk.category].local  # lives and dies with its instance
            if (disk.delete_with_instance or local) and not shared_elsewhere:
                self._destroy_disk(disk)
                deleted.append(disk.disk_id)
            else:
                self._detach(disk, instance_id)
        self._instances.delete(instance)
        world.engine.cancel_for(_ACTION_INSTANCE, self.region_id, instance_id)
        world.events._emit(
            InstanceDeleted,
            time=world.now(),
            region_id=self.region_id,
            instance_id=instance_id,
            deleted_disk_ids=tuple(deleted),
        )

    def describe_instances(
        self,
        *,
        instance_ids: Sequence[str] | None = None,
        zone_id: str | None = None,
        status: str | None = None,
        instance_name: str | None = None,
        page_number: int = 1,
        page_size: int = 10,
    ) -> Page[Instance]:
        """``DescribeInstances``: instances matching every given filter, a page at a time."""
        number, size = v.page(page_number, page_size)
        if zone_id is not None:
            require_zone(self.region, zone_id)
        v.optional_text("InstanceName", instance_name, 1, 256)
        ids = v.id_list("InstanceIds", instance_ids, max_items=100)
        wanted = None if status is None else v.enum_value("Status", status, InstanceStatus)
        found = [
            i
            for i in self._instances.named_or_all(ids)
            if (zone_id is None or i.zone_id == zone_id)
            and (wanted is None or i.status is wanted)
            and (instance_name is None or i.instance_name == instance_name)
        ]
        return paginate(found, number, size)

    def describe_instance_attribute(self, instance_id: str) -> Instance:
        """``DescribeInstanceAttribute``: one instance by id (``InvalidInstanceId.NotFound``)."""
        return self._instances.get(instance_id)

    # ================================================================================
    # Disks
    # ================================================================================
    @unit_of_work
    def create_disk(
        self,
        *,
        zone_id: str,
        disk_category: str = "cloud",
        size: int | None = None,
        snapshot_id: str | None = None,
        performance_level: str | None = None,
        disk_name: str | None = None,
        description: str | None = None,
        encrypted: bool | None = None,
        kms_key_id: str | None = None,
        multi_attach: str = "Disabled",
    ) -> str:
        """``CreateDisk``: a pay-as-you-go data disk, empty or from a snapshot.

        Args:
            zone_id: Zone of the region.
            disk_category: ``DiskCategory`` (default ``cloud``, as the real API). Local disks
                cannot be created alone.
            size: GiB within the category's range; with ``snapshot_id`` the disk gets
                ``max(size, the snapshot's source disk size)``.
            snapshot_id: Create the disk with the snapshot's data.
            performance_level: ESSD ``PL0``–``PL3`` (default ``PL1``).
            disk_name: 2–128 characters, starts with a letter.
            description: 2–256 characters.
            encrypted: Encrypt the disk (irreversible). Disks from encrypted snapshots are
                always encrypted.
            kms_key_id: KMS key of this region; default: the snapshot's key, or the ECS
                service key ``alias/acs/ecs``.
            multi_attach: ``Enabled`` (ESSD only) or ``Disabled``.

        Returns:
            The new disk id.
        """
        category = self._category(disk_category)
        mode = v.choice("MultiAttach", multi_attach, ("Enabled", "Disabled"))
        if mode == "Enabled" and category is not DiskCategory.cloud_essd:
            raise InvalidParameterError(
                "Only cloud_essd data disks can enable multi-attach.",
                code="InvalidParameter.MultiAttach",
                recommend="Create a cloud_essd disk, or leave MultiAttach Disabled.",
            )
        return self._new_disk(
            zone_id=require_zone(self.region, zone_id),
            category=category,
            size=size,
            performance_level=performance_level,
            disk_name=disk_name,
            description=description,
            encrypted=encrypted,
            kms_key_id=kms_key_id,
            snapshot_id=snapshot_id,
            disk_type=DiskType.data,
            attach=None,
            delete_with_instance=False,
            multi_attach=mode,
            grow_to_snapshot=True,
        )

    def _new_disk(
        self,
        *,
        zone_id: str,
        category: DiskCategory,
        size: object,
        performance_level: object,
        disk_name: object,
        description: object,
        encrypted: object,
        kms_key_id: object,
        snapshot_id: object,
        disk_type: DiskType,
        attach: tuple[str, str] | None,
        delete_with_instance: bool,
        multi_attach: str = "Disabled",
        allow_local: bool = False,
        grow_to_snapshot: bool = False,
    ) -> str:
        world = self._world
        spec = CATEGORY_SPECS[category]
        if spec.local and not allow_local:
            raise InvalidParameterError(
                f"Local disks ({category.value}) come with their instance type and cannot be "
                "created alone.",
                code="InvalidDiskCategory.ValueNotSupported",
                recommend="Choose a cloud disk category such as cloud_essd.",
            )
        name = v.name_text("DiskName", disk_name, code="InvalidDiskName.Malformed")
        desc = v.optional_text(
            "Description", description, 2, 256, code="InvalidDescription.Malformed"
        )
        level: PerformanceLevel | None = None
        if category is DiskCategory.cloud_essd:
            level = v.enum_value(
                "PerformanceLevel",
                "PL1" if performance_level is None else performance_level,
                PerformanceLevel,
                code="InvalidPerformanceLevel.Malformed",
            )
        elif performance_level is not None:
            raise InvalidParameterError(
                "PerformanceLevel applies to cloud_essd disks only.",
                code="InvalidPerformanceLevel.Malformed",
                recommend="Omit performance_level for this category.",
            )
        snapshot: Snapshot | None = None
        if snapshot_id is not None:
            snapshot = self._snapshots.get(snapshot_id)
            if not spec.from_snapshot:
                raise InvalidParameterError(
                    f"A {category.value} disk cannot be created from a snapshot.",
                    code="InvalidDiskCategory.ValueNotSupported",
                    recommend="Choose a cloud disk category such as cloud_essd.",
                )
            self._require_available_snapshot(snapshot)
            if size is None:
                size = snapshot.source_disk_size
            elif grow_to_snapshot and isinstance(size, int) and not isinstance(size, bool):
                # CreateDisk (not RunInstances): a Size below the snapshot's gives a disk of
                # the snapshot's size.
                size = max(size, snapshot.source_disk_size)
        if size is None:
            raise InvalidParameterError(
                "Size is required when no SnapshotId is given.",
                code="MissingParameter.Size",
                recommend="Pass size in GiB.",
            )
        minimum = PL_MIN_SIZE[level] if level is not None else spec.min_size
        gib = v.integer(
            "Size", size, minimum, spec.max_size, code="InvalidDiskSize.ValueNotSupported"
        )
        if snapshot is not None and gib < snapshot.source_disk_size:
            raise InvalidParameterError(
                f"Size {gib} GiB is smaller than the snapshot's {snapshot.source_disk_size} GiB.",
                code="InvalidDiskSize.TooSmall",
                ids=(snapshot.snapshot_id,),
                recommend=f"Use a size of at least {snapshot.source_disk_size} GiB.",
            )
        want_encrypted = v.boolean("Encrypted", encrypted) if encrypted is not None else None
        if kms_key_id is not None and want_encrypted is False:
            raise DependencyViolationError(
                "KMSKeyId was given but Encrypted is false.",
                code="InvalidEncrypted.NotMatchKmsKeyId",
                recommend="Pass encrypted=True with a KMS key, or drop the key.",
            )
        if snapshot is not None and snapshot.encrypted and want_encrypted is False:
            raise DependencyViolationError(
                f"Snapshot {snapshot.snapshot_id} is encrypted; a disk made from it must be too.",
                code="InvalidEncrypted.NotMatchSnapshot",
                ids=(snapshot.snapshot_id,),
                recommend="Omit encrypted or pass encrypted=True.",
            )
        is_encrypted = (
            bool(want_encrypted)
            or kms_key_id is not None
            or (snapshot is not None and snapshot.encrypted)
        )
        if is_encrypted and (spec.local or not spec.snapshot):
            raise InvalidParameterError(
                f"{category.value} disks cannot be encrypted in this model.",
                code="InvalidParameter.Encrypted",
                recommend="Encrypt cloud disks only.",
            )
        data_key: DataKey | None = None
        if is_encrypted:
            if kms_key_id is None and snapshot is not None and snapshot.data_key is not None:
                kms_key_id = snapshot.data_key.kms_key_id
            key_id = self._key_ring.key_for_encryption(kms_key_id)  # type: ignore[arg-type]
            if (
                snapshot is not None
                and snapshot.data_key is not None
                and snapshot.data_key.kms_key_id == key_id
            ):
                data_key = snapshot.data_key  # same key: share the envelope and the blocks
            else:
                data_key = DataKey(
                    key_id,
                    self._key_ring.wrap_data_key(key_id, world.ids.new_key_material(32)),
                )

        now = world.now()
        disk_id = world.ids.new_id("d-", self.region.id_infix)
        attachments: tuple[DiskAttachment, ...] = ()
        if attach is not None:
            attachments = (DiskAttachment(attach[0], attach[1], now),)
        disk = Disk(
            disk_id=disk_id,
            region_id=self.region_id,
            zone_id=zone_id,
            disk_name=name,
            description=desc,
            category=category,
            size=gib,
            type=disk_type,
            status=DiskStatus.In_use if attach else DiskStatus.Available,
            creation_time=now,
            performance_level=level,
            attachments=attachments,
            portable=not spec.local,
            multi_attach=multi_attach,
            encrypted=is_encrypted,
            kms_key_id=data_key.kms_key_id if data_key else None,
            delete_with_instance=delete_with_instance,
            source_snapshot_id=snapshot.snapshot_id if snapshot else None,
            ever_attached=attach is not None,
            data_key=data_key,
        )
        self._disks.put(disk)
        if snapshot is not None:
            self._fill_from_snapshot(disk, snapshot)
            self._snapshots.put(attrs.evolve(snapshot, disk_refs=snapshot.disk_refs + 1))
        world.events._emit(
            DiskCreated,
            time=now,
            region_id=self.region_id,
            disk_id=disk_id,
            category=category.value,
            size=gib,
            source_snapshot_id=snapshot.snapshot_id if snapshot else None,
            encrypted=is_encrypted,
        )
        if attach is not None:
            world.events._emit(
                DiskAttached,
                time=now,
                region_id=self.region_id,
                disk_id=disk_id,
                instance_id=attach[0],
                device=attach[1],
            )
        return disk_id

    @unit_of_work
    def attach_disk(
        self,
        *,
        instance_id: str,
        disk_id: str,
        delete_with_instance: bool | None = None,
    ) -> None:
        """``AttachDisk``: attach an ``Available`` data disk (or a multi-attach disk).

        The instance must be ``Running`` or ``Stopped`` and in the disk's zone, with fewer than
        16 data disks.
        """
        disk = self._disks.get(disk_id)
        instance = self._instances.get(instance_id)
        self._require_instance_status(instance, InstanceStatus.Running, InstanceStatus.Stopped)
        dwi = (
            disk.delete_with_instance
            if delete_with_instance is None
            else v.boolean("DeleteWithInstance", delete_with_instance)
        )
        if disk.zone_id != instance.zone_id:
            raise DependencyViolationError(
                f"Disk {disk.disk_id} is in {disk.zone_id} but instance {instance_id} is in "
                f"{instance.zone_id}.",
                code="InvalidDiskId.ZoneMismatch",
                ids=(disk.disk_id, instance_id),
                recommend="Create the disk in the instance's zone (or from a snapshot there).",
            )
        shared = disk.multi_attach == "Enabled"
        if any(a.instance_id == instance_id for a in disk.attachments):
            raise IncorrectStatusError(
                f"Disk {disk.disk_id} is already attached to {instance_id}.",
                code="IncorrectDiskStatus",
                ids=(disk.disk_id, instance_id),
                recommend="Nothing to do.",
            )
        if disk.attachments and not shared:
            raise IncorrectStatusError(
                f"Disk {disk.disk_id} is {disk.status.value}; only Available disks can be "
                "attached.",
                code="IncorrectDiskStatus",
                ids=(disk.disk_id,),
                recommend="Detach it from its instance first.",
            )
        if shared and len(disk.attachments) >= self._world.limits.multi_attach_max_instances:
            raise QuotaExceededError(
                f"Disk {disk.disk_id} is attached to the maximum number of instances.",
                code="QuotaExceed.MultiAttach",
                ids=(disk.disk_id,),
                recommend="Detach it from another instance first.",
            )
        if disk.data_key is not None:
            self._key_ring.check_usable(disk.data_key.kms_key_id)
        if disk.type is DiskType.system:
            # A system disk goes back only onto a stopped instance without one.
            self._require_instance_status(instance, InstanceStatus.Stopped)
            if any(
                d.type is DiskType.system for d in self._disks.members(ATTACHED_TO, instance_id)
            ):
                raise IncorrectStatusError(
                    f"Instance {instance_id} already has a system disk.",
                    code="InvalidOperation.SystemDiskExists",
                    ids=(instance_id, disk.disk_id),
                    recommend="Detach the instance's system disk first (instance Stopped).",
                )
            device = _SYSTEM_DEVICE
        else:
            used = {
                a.device
                for d in self._disks.members(ATTACHED_TO, instance_id)
                for a in d.attachments
                if a.instance_id == instance_id and d.type is DiskType.data
            }
            if len(used) >= self._world.limits.data_disks_per_instance:
                raise QuotaExceededError(
                    f"Instance {instance_id} already has "
                    f"{self._world.limits.data_disks_per_instance} data disks.",
                    code="InstanceDiskNumber.LimitExceed",
                    ids=(instance_id,),
                    recommend="Detach a data disk first.",
                )
            device = next(d for d in _DATA_DEVICES if d not in used)
        now = self._world.now()
        self._disks.put(
            attrs.evolve(
                disk,
                attachments=(*disk.attachments, DiskAttachment(instance_id, device, now)),
                status=DiskStatus.In_use,
                ever_attached=True,
                delete_with_instance=dwi,
            )
        )
        self._world.events._emit(
            DiskAttached,
            time=now,
            region_id=self.region_id,
            disk_id=disk.disk_id,
            instance_id=instance_id,
            device=device,
        )

    @unit_of_work
    def detach_disk(
        self, *, instance_id: str, disk_id: str, delete_with_instance: bool | None = None
    ) -> None:
        """``DetachDisk``: the disk becomes ``Available``.

        Data disks detach from a ``Running`` or ``Stopped`` instance; a system disk only from a
        ``Stopped`` one. Local disks cannot be detached.
        """
        disk = self._disks.get(disk_id)
        instance = self._instances.get(instance_id)
        if delete_with_instance is not None:
            disk = attrs.evolve(
                disk, delete_with_instance=v.boolean("DeleteWithInstance", delete_with_instance)
            )
        if not any(a.instance_id == instance_id for a in disk.attachments):
            raise IncorrectStatusError(
                f"Disk {disk.disk_id} is not attached to instance {instance_id}.",
                code="IncorrectDiskStatus",
                ids=(disk.disk_id, instance_id),
                recommend="Check the disk's attachments with describe_disks.",
            )
        if not disk.portable:
            raise UnsupportedOperationError(
                f"Disk {disk.disk_id} is a local disk and cannot be detached.",
                code="DiskCategory.OperationNotSupported",
                ids=(disk.disk_id,),
                recommend="Local disks live and die with their instance.",
            )
        if disk.type is DiskType.system:
            self._require_instance_status(instance, InstanceStatus.Stopped)
        else:
            self._require_instance_status(instance, InstanceStatus.Running, InstanceStatus.Stopped)
        self._detach(disk, instance_id)

    def _detach(self, disk: Disk, instance_id: str) -> None:
        now = self._world.now()
        remaining = tuple(a for a in disk.attachments if a.instance_id != instance_id)
        self._disks.put(
            attrs.evolve(
                disk,
                attachments=remaining,
                status=DiskStatus.In_use if remaining else DiskStatus.Available,
                detached_time=now,
            )
        )
        self._world.events._emit(
            DiskDetached,
            time=now,
            region_id=self.region_id,
            disk_id=disk.disk_id,
            instance_id=instance_id,
        )

    @unit_of_work
    def delete_disk(self, disk_id: str) -> None:
        """``DeleteDisk``: release an ``Available`` disk.

        Its manual snapshots survive; a snapshot of it still ``progressing`` is deleted.
        """
        disk = self._disks.get(disk_id)
        if disk.status is not DiskStatus.Available:
            raise IncorrectStatusError(
                f"Disk {disk.disk_id} is {disk.status.value}; only Available disks can be deleted.",
                code="IncorrectDiskStatus",
                ids=(disk.disk_id,),
                recommend="Detach the disk first, or release its instance.",
            )
        self._destroy_disk(disk)

    def _destroy_disk(self, disk: Disk) -> None:
        world = self._world
        for snapshot in self._disk_snapshots(disk.disk_id):
            locked = snapshot.lock is not None and snapshot.lock.holds(world.now())
            if snapshot.status is SnapshotStatus.progressing and not locked:
                # A locked one survives: its data was captured when it was created.
                self._remove_snapshot(snapshot, reason="disk_released")
        self._maps.release(disk.disk_id)
        if disk.source_snapshot_id is not None:
            source = self._snapshots.find(disk.source_snapshot_id)
            if source is not None:
                source = attrs.evolve(source, disk_refs=source.disk_refs - 1)
                self._snapshots.put(source)
                self._expire_if_due(source)
        self._disks.delete(disk)
        world.events._emit(
            DiskDeleted, time=world.now(), region_id=self.region_id, disk_id=disk.disk_id
        )

    @unit_of_work
    def resize_disk(self, *, disk_id: str, new_size: int, type: str = "offline") -> None:
        """``ResizeDisk``: grow a disk (never shrink) within its category's maximum."""
        disk = self._disks.get(disk_id)
        v.choice("Type", type, ("offline", "online"))
        spec = CATEGORY_SPECS[disk.category]
        if spec.local:
            raise UnsupportedOperationError(
                f"Disk {disk.disk_id} is a local disk; local disks cannot be resized.",
                code="DiskCategory.OperationNotSupported",
                ids=(disk.disk_id,),
                recommend="Resize cloud disks only.",
            )
        limit = min(2048, spec.max_size) if disk.type is DiskType.system else spec.max_size
        size = v.integer("NewSize", new_size, 1, limit, code="InvalidDiskSize.ValueNotSupported")
        if size <= disk.size:
            raise InvalidParameterError(
                f"New size {size} GiB is not larger than the current {disk.size} GiB; disks "
                "can only grow.",
                code="InvalidDiskSize.ValueNotSupported",
                ids=(disk.disk_id,),
                recommend=f"Pass a size above {disk.size} GiB.",
            )
        self._disks.put(attrs.evolve(disk, size=size))
        self._world.events._emit(
            DiskResized,
            time=self._world.now(),
            region_id=self.region_id,
            disk_id=disk.disk_id,
            old_size=disk.size,
            new_size=size,
        )

    @unit_of_work
    def modify_disk_attribute(
        self,
        *,
        disk_id: str,
        disk_name: str | None = None,
        description: str | None = None,
        delete_with_instance: bool | None = None,
    ) -> None:
        """``ModifyDiskAttribute``: rename, describe, or change ``DeleteWithInstance``."""
        disk = self._disks.get(disk_id)
        changes: dict[str, Any] = {}
        if disk_name is not None:
            changes["disk_name"] = v.name_text(
                "DiskName", disk_name, code="InvalidDiskName.Malformed"
            )
        if description is not None:
            changes["description"] = v.text(
                "Description", description, 2, 256, code="InvalidDescription.Malformed"
            )
        if delete_with_instance is not None:
            changes["delete_with_instance"] = v.boolean("DeleteWithInstance", delete_with_instance)
        if not changes:
            raise InvalidParameterError(
                "No attribute to modify was given.",
                code="NoAttributeToModify",
                ids=(disk.disk_id,),
                recommend="Pass disk_name, description or delete_with_instance.",
            )
        updated = attrs.evolve(disk, **changes)
        self._disks.put(updated)
        self._world.events._emit(
            DiskModified,
            time=self._world.now(),
            region_id=self.region_id,
            disk_id=disk.disk_id,
            disk_name=updated.disk_name,
            description=updated.description,
            delete_with_instance=updated.delete_with_instance,
        )

    def describe_disks(
        self,
        *,
        disk_ids: Sequence[str] | None = None,
        instance_id: str | None = None,
        zone_id: str | None = None,
        disk_type: str = "all",
        category: str | None = None,
        status: str | None = None,
        encrypted: bool | None = None,
        snapshot_id: str | None = None,
        page_number: int = 1,
        page_size: int = 10,
    ) -> Page[Disk]:
        """``DescribeDisks``: disks matching every given filter, a page at a time."""
        number, size = v.page(page_number, page_size)
        v.optional_text("InstanceId", instance_id, 1, 256)
        if zone_id is not None:
            require_zone(self.region, zone_id)
        v.optional_text("SnapshotId", snapshot_id, 1, 256)
        ids = v.id_list("DiskIds", disk_ids, max_items=100)
        kind = v.choice("DiskType", disk_type, ("all", "system", "data"))
        cat = None if category is None else self._category(category)
        state = (
            None
            if status is None or status == "All"
            else v.enum_value("Status", status, DiskStatus)
        )
        if encrypted is not None:
            v.boolean("Encrypted", encrypted)
        if ids or instance_id is None:
            candidates = self._disks.named_or_all(ids)
        else:  # one instance's disks, through the attachment index
            candidates = sorted(
                self._disks.members(ATTACHED_TO, instance_id), key=lambda d: d.disk_id
            )
        found = [
            d
            for d in candidates
            if (instance_id is None or any(a.instance_id == instance_id for a in d.attachments))
            and (zone_id is None or d.zone_id == zone_id)
            and (kind == "all" or d.type.value == kind)
            and (cat is None or d.category is cat)
            and (state is None or d.status is state)
            and (encrypted is None or d.encrypted is encrypted)
            and (snapshot_id is None or d.source_snapshot_id == snapshot_id)
        ]
        return paginate(found, number, size)

    def describe_disk(self, disk_id: str) -> Disk:
        """Helper (no real action): one disk by id, or ``InvalidDiskId.NotFound``.

        The real API reads one disk with ``describe_disks(disk_ids=[disk_id])``, which answers
        an empty page for a missing id; this helper raises instead.
        """
        return self._disks.get(disk_id)

    # ================================================================================
    # The guest's data plane (no real API): bytes on the disk
    # ================================================================================
    @unit_of_work
    def write_disk(self, disk_id: str, offset: int, data: bytes) -> None:
        """Write ``data`` at byte ``offset`` of a disk, as the guest OS of its instance would.

        The disk must be attached to a ``Running`` instance. Writing zeros frees the blocks
        (disks are sparse). Encrypted disks store only AES-GCM ciphertext, and writing needs
        their KMS key to be ``Enabled``.
        """
        disk = self._disks.get(disk_id)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidParameterError(
                f"data must be bytes, not {type(data).__name__}.",
                code="InvalidParameter.Data",
                recommend="Pass a bytes object.",
            )
        payload = bytes(data)
        self._check_range(disk, offset, len(payload))
        self._require_guest_io(disk)
        if not payload:
            return
        world = self._world
        self._maps.write(
            disk.disk_id, offset, payload, self._data_cipher(disk), world.ids.new_nonces
        )
        world.events._emit(
            DiskWritten,
            time=world.now(),
            region_id=self.region_id,
            disk_id=disk.disk_id,
            offset=offset,
            length=len(payload),
        )

    def read_disk(self, disk_id: str, offset: int, length: int) -> bytes:
        """Read ``length`` bytes at ``offset`` of a disk, as its instance's guest OS would.

        The disk must be attached to a ``Running`` instance; unwritten space reads as zeros.
        It writes nothing, so it opens no unit of work and never waits for a writer.
        """
        disk = self._disks.get(disk_id)
        self._check_range(disk, offset, length)
        self._require_guest_io(disk)
        if length == 0:
            return b""
        cipher = self._data_cipher(disk)
        return self._read_blocks(disk.disk_id, offset, length, cipher)

    def _read_blocks(self, disk_id: str, offset: int, length: int, cipher: AESGCM | None) -> bytes:
        return self._maps.read(disk_id, offset, length, cipher)

    def _check_range(self, disk: Disk, offset: object, length: object) -> None:
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidParameterError(
                f"offset {offset!r} must be a non-negative integer.",
                code="InvalidParameter.Offset",
                ids=(disk.disk_id,),
                recommend="Pass a byte offset within the disk.",
            )
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise InvalidParameterError(
                f"length {length!r} must be a non-negative integer.",
                code="InvalidParameter.Length",
                ids=(disk.disk_id,),
                recommend="Pass a byte count.",
            )
        if offset + length > disk.size_bytes:
            raise InvalidParameterError(
                f"Bytes {offset}..{offset + length} fall outside disk {disk.disk_id} of "
                f"{disk.size_bytes} bytes ({disk.size} GiB).",
                code="InvalidParameter.OutOfRange",
                ids=(disk.disk_id,),
                recommend="Stay within the disk, or resize_disk it first.",
            )

    def _require_guest_io(self, disk: Disk) -> None:
        if not disk.attachments:
            raise IncorrectStatusError(
                f"Disk {disk.disk_id} is not attached; only a running instance's guest can "
                "read or write it.",
                code="IncorrectDiskStatus",
                ids=(disk.disk_id,),
                recommend="Attach the disk to an instance and start the instance.",
            )
        for attachment in disk.attachments:
            instance = self._instances.find(attachment.instance_id)
            if instance is not None and instance.status is InstanceStatus.Running:
                return
        raise IncorrectStatusError(
            f"No instance that disk {disk.disk_id} is attached to is Running.",
            code="IncorrectInstanceStatus",
            ids=(disk.disk_id, disk.attachments[0].instance_id),
            recommend="Start the instance (and advance virtual time until it is Running).",
        )

    def _data_cipher(self, disk: Disk | Snapshot) -> AESGCM | None:
        key = disk.data_key
        if key is None:
            return None
        plaintext = self._key_ring.unwrap_data_key(key.kms_key_id, key.ciphertext_blob)
        return AESGCM(plaintext)

    def _plain_block(self, digest: bytes, cipher: AESGCM | None, index: int) -> bytes:
        return self._maps.plain(digest, cipher, index)

    # ================================================================================
    # Snapshots
    # ================================================================================
    @unit_of_work
    def create_snapshot(
        self,
        *,
        disk_id: str,
        snapshot_name: str | None = None,
        description: str | None = None,
        retention_days: int | None = None,
        instant_access: bool | None = None,
        tags: Sequence[tuple[str, str]] = (),
    ) -> str:
        """``CreateSnapshot``: capture the disk's data at this virtual instant.

        The first snapshot of a disk is full; later ones hold only the blocks changed since the
        previous snapshot of its chain (``sl-…``). ESSD-family snapshots are instant access
        (``accomplished`` at once); others stay ``progressing`` for a simulated upload time.

        Args:
            disk_id: A cloud disk, ``In_use`` or ``Available``; if attached, its instance must
                be ``Running`` or ``Stopped``.
            snapshot_name: 2–128 characters, starts with a letter, not ``auto…``/``http(s)://``.
            description: 2–256 characters.
            retention_days: 1–65,536 days from creation; None keeps it until deleted.
            instant_access: Deprecated in the real API; ESSD snapshots are instant anyway.
            tags: Up to 20 ``(key, value)`` pairs.

        Returns:
            The new snapshot id.

        Raises:
            QuotaExceededError: ``QuotaExceed.Snapshot`` — the disk has 256 manual snapshots.
            IncorrectStatusError: ``IncorrectDiskStatus.CreatingSnapshot`` — one is
                progressing; ``IncorrectInstanceStatus``; ``IncorrectDiskStatus.NeverAttached``.
        """
        name = v.name_text(
            "SnapshotName", snapshot_name, code="InvalidSnapshotName.Malformed", forbid_auto=True
        )
        desc = v.optional_text(
            "Description", description, 2, 256, code="InvalidDescription.Malformed"
        )
        days = (
            None
            if retention_days is None
            else v.integer(
                "RetentionDays", retention_days, 1, 65536, code="InvalidRetentionDays.Malformed"
            )
        )
        if instant_access is not None:
            v.boolean("InstantAccess", instant_access)
        pairs = self._tags(tags)
        disk = self._disks.get(disk_id)
        self._check_snapshot_allowed(disk)
        return self._take_snapshot(disk, name, desc, days, pairs, group_id=None).snapshot_id

    def _check_snapshot_allowed(self, disk: Disk) -> None:
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
            instance = self._instances.get(attachment.instance_id)
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
        chain = self._chain_ids(disk)
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

    def _take_snapshot(
        self,
        disk: Disk,
        name: str | None,
        description: str | None,
        retention_days: int | None,
        tags: tuple[tuple[str, str], ...],
        group_id: str | None,
    ) -> Snapshot:
        world = self._world
        now = world.now()
        snapshot_id = world.ids.new_id("s-", self.region.id_infix)
        link = self._link_of(disk)
        held = self._maps.capture(disk.disk_id, snapshot_id)
        spec = CATEGORY_SPECS[disk.category]
        instant = spec.instant_access
        snapshot = Snapshot(
            snapshot_id=snapshot_id,
            region_id=self.region_id,
            snapshot_name=name,
            description=description,
            status=SnapshotStatus.accomplished if instant else SnapshotStatus.progressing,
            creation_time=now,
            source_disk_id=disk.disk_id,
            source_disk_type=disk.type,
            source_disk_size=disk.size,
            source_disk_category=disk.category,
            snapshot_link_id=link.snapshot_link_id,
            instance_id=disk.instance_id,
            retention_days=retention_days,
            block_size=world.blocks.block_size,
            incremental_blocks=held,
            completion_time=now if instant else None,
            instant_access=instant,
            encrypted=disk.encrypted,
            kms_key_id=disk.kms_key_id,
            snapshot_group_id=group_id,
            tags=tags,
            data_key=disk.data_key,
            last_modified_time=now,
        )
        self._snapshots.put(snapshot)
        self._links.put(
            attrs.evolve(
                link,
                snapshot_ids=(*link.snapshot_ids, snapshot_id),
                total_blocks=link.total_blocks + held,
                source_disk_size=disk.size,
                instance_id=disk.instance_id,
            )
        )
        if not instant:
            world.engine.schedule(
                now + world.timings.snapshot_duration(held * world.blocks.block_size),
                _ACTION_SNAPSHOT_DONE,
                self.region_id,
                snapshot_id,
            )
        if retention_days is not None:
            self._schedule_expiry(snapshot)
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

    def describe_snapshots(
        self,
        *,
        snapshot_ids: Sequence[str] | None = None,
        disk_id: str | None = None,
        instance_id: str | None = None,
        snapshot_link_id: str | None = None,
        status: str = "all",
        snapshot_type: str = "all",
        usage: str | None = None,
        source_disk_type: str | None = None,
        encrypted: bool | None = None,
        kms_key_id: str | None = None,
        snapshot_name: str | None = None,
        page_number: int = 1,
        page_size: int = 10,
    ) -> Page[Snapshot]:
        """``DescribeSnapshots``: snapshots matching every given filter, newest first."""
        number, size = v.page(page_number, page_size)
        v.optional_text("DiskId", disk_id, 1, 256)
        v.optional_text("InstanceId", instance_id, 1, 256)
        v.optional_text("SnapshotLinkId", snapshot_link_id, 1, 256)
        v.optional_text("KmsKeyId", kms_key_id, 1, 256)
        v.optional_text("SnapshotName", snapshot_name, 1, 256)
        ids = v.id_list("SnapshotIds", snapshot_ids, max_items=100)
        state = v.choice("Status", status, ("all", "progressing", "accomplished", "failed"))
        stype = v.choice("SnapshotType", snapshot_type, ("all", "auto", "user"))
        use = (
            None
            if usage is None
            else v.choice("Usage", usage, ("none", "image", "disk", "image_disk"))
        )
        src = (
            None
            if source_disk_type is None
            else v.choice(
                "SourceDiskType",
                source_disk_type.lower() if isinstance(source_disk_type, str) else source_disk_type,
                ("system", "data"),
            )
        )
        if encrypted is not None:
            v.boolean("Encrypted", encrypted)
        link_id = snapshot_link_id
        if link_id is None and disk_id is not None and not ids:
            disk = self._disks.find(disk_id)
            if disk is not None and disk.snapshot_link_id is None:
                return paginate([], number, size)  # a disk that was never snapshotted
            link_id = disk.snapshot_link_id if disk is not None else None
        if not ids and link_id is not None:  # one chain: read it instead of the region
            link = self._links.find(link_id)
            ids = link.snapshot_ids if link is not None else ()
            if not ids:
                return paginate([], number, size)
        candidates = self._snapshots.named_or_all(ids)
        found = [
            s
            for s in candidates
            if (disk_id is None or s.source_disk_id == disk_id)
            and (instance_id is None or s.instance_id == instance_id)
            and (snapshot_link_id is None or s.snapshot_link_id == snapshot_link_id)
            and (state == "all" or s.status.value == state)
            and (stype == "all" or s.snapshot_type == stype)
            and (use is None or s.usage.value == use)
            and (src is None or s.source_disk_type.value == src)
            and (encrypted is None or s.encrypted is encrypted)
            and (kms_key_id is None or s.kms_key_id == kms_key_id)
            and (snapshot_name is None or s.snapshot_name == snapshot_name)
        ]
        found.sort(key=lambda s: (s.creation_time, s.snapshot_id), reverse=True)
        return paginate(found, number, size)

    def describe_snapshot(self, snapshot_id: str) -> Snapshot:
        """Helper (no real action): one snapshot by id, or ``InvalidSnapshotId.NotFound``.

        The real API reads one snapshot with ``describe_snapshots(snapshot_ids=[...])``, which
        answers an empty page for a missing id; this helper raises instead.
        """
        return self._snapshots.get(snapshot_id)

    def describe_snapshot_links(
        self,
        *,
        snapshot_link_ids: Sequence[str] | None = None,
        disk_ids: Sequence[str] | None = None,
        instance_id: str | None = None,
        page_number: int = 1,
        page_size: int = 10,
    ) -> Page[SnapshotLink]:
        """``DescribeSnapshotLinks``: snapshot chains with ``TotalSize`` and ``TotalCount``."""
        number, size = v.page(page_number, page_size)
        v.optional_text("InstanceId", instance_id, 1, 256)
        links = v.id_list("SnapshotLinkIds", snapshot_link_ids, max_items=100)
        disks = v.id_list("DiskIds", disk_ids, max_items=100)
        found = [
            link
            for link in self._links.scan()
            if link.snapshot_ids
            and (not links or link.snapshot_link_id in links)
            and (not disks or link.source_disk_id in disks)
            and (instance_id is None or link.instance_id == instance_id)
        ]
        return paginate(found, number, size)

    @unit_of_work
    def modify_snapshot_attribute(
        self,
        *,
        snapshot_id: str,
        snapshot_name: str | None = None,
        description: str | None = None,
        retention_days: int | None = None,
    ) -> None:
        """``ModifySnapshotAttribute``: rename, describe, or extend retention.

        Retention counts from the snapshot's creation time and can only be extended
        (``InvalidOperation.DecreaseRetentionDaysUnsupported``); a snapshot kept forever cannot
        be given a retention period.
        """
        snapshot = self._snapshots.get(snapshot_id)
        changes: dict[str, Any] = {}
        if snapshot_name is not None:
            changes["snapshot_name"] = v.name_text(
                "SnapshotName",
                snapshot_name,
                code="InvalidSnapshotName.Malformed",
                forbid_auto=True,
            )
        if description is not None:
            changes["description"] = v.text(
                "Description", description, 2, 256, code="InvalidDescription.Malformed"
            )
        if retention_days is not None:
            days = v.integer(
                "RetentionDays", retention_days, 1, 65536, code="InvalidRetentionDays.Malformed"
            )
            if snapshot.status is SnapshotStatus.progressing and not snapshot.instant_access:
                raise IncorrectStatusError(
                    f"Snapshot {snapshot.snapshot_id} is still progressing.",
                    code="InvalidSnapshotId.NotReady",
                    ids=(snapshot.snapshot_id,),
                    recommend="Wait until the snapshot is accomplished.",
                )
            if snapshot.retention_days is None or days < snapshot.retention_days:
                current = (
                    "kept until deleted"
                    if snapshot.retention_days is None
                    else (f"{snapshot.retention_days} days")
                )
                raise OperationDeniedError(
                    f"Snapshot {snapshot.snapshot_id} is {current}; retention can only be "
                    f"extended, not shortened to {days} days.",
                    code="InvalidOperation.DecreaseRetentionDaysUnsupported",
                    ids=(snapshot.snapshot_id,),
                    recommend="Pass more days than the current retention (counted from "
                    "creation), up to 65,536.",
                )
            changes["retention_days"] = days
        if not changes:
            raise InvalidParameterError(
                "No attribute to modify was given.",
                code="NoAttributeToModify",
                ids=(snapshot.snapshot_id,),
                recommend="Pass snapshot_name, description or retention_days.",
            )
        updated = attrs.evolve(snapshot, last_modified_time=self._world.now(), **changes)
        self._snapshots.put(updated)
        if "retention_days" in changes and changes["retention_days"] != snapshot.retention_days:
            self._schedule_expiry(updated)
        self._world.events._emit(
            SnapshotModified,
            time=self._world.now(),
            region_id=self.region_id,
            snapshot_id=snapshot.snapshot_id,
            retention_days=updated.retention_days,
        )

    @unit_of_work
    def delete_snapshot(self, snapshot_id: str, *, force: bool = False) -> None:
        """``DeleteSnapshot``: delete a snapshot (a missing id is ignored, as the real API does).

        Refused for a locked snapshot, one used by an image (``SnapshotCreatedImage``) and one
        used by a disk (``SnapshotCreatedDisk``) unless ``force``. Deleting a snapshot in the
        middle of a chain keeps every other snapshot restorable: the blocks the next snapshot
        still needs move to it. A ``progressing`` snapshot is cancelled.
        """
        if not isinstance(snapshot_id, str) or not snapshot_id:
            raise InvalidParameterError(
                f"SnapshotId {snapshot_id!r} is not valid.",
                code="InvalidSnapshotId.Malformed",
                recommend="Pass a snapshot id such as 's-bp1…'.",
            )
        v.boolean("Force", force)
        snapshot = self._snapshots.find(snapshot_id)
        if snapshot is None:
            return
        self._check_deletable(snapshot, force=force)
        self._remove_snapshot(snapshot, reason="user")

    def _check_deletable(self, snapshot: Snapshot, *, force: bool) -> None:
        now = self._world.now()
        if snapshot.lock is not None and snapshot.lock.holds(now):
            raise OperationDeniedError(
                f"Snapshot {snapshot.snapshot_id} is locked in compliance mode "
                f"({snapshot.lock.status(now).value}); nobody can delete it.",
                code="OperationDenied.SnapshotLocked",
                ids=(snapshot.snapshot_id,),
                recommend="Unlock it during its cool-off period, or wait for the lock to expire.",
            )
        if snapshot.image_refs:
            raise OperationDeniedError(
                f"Snapshot {snapshot.snapshot_id} was used to create a custom image.",
                code="SnapshotCreatedImage",
                ids=(snapshot.snapshot_id,),
                recommend="Delete the image first (delete_image), then the snapshot.",
            )
        if snapshot.disk_refs and not force:
            raise OperationDeniedError(
                f"Snapshot {snapshot.snapshot_id} was used to create a disk.",
                code="SnapshotCreatedDisk",
                ids=(snapshot.snapshot_id,),
                recommend="Pass force=True; the disk keeps its data but cannot be "
                "re-initialised from the snapshot.",
            )

    def _remove_snapshot(self, snapshot: Snapshot, *, reason: str) -> None:
        """Delete a snapshot, merging its delta into the next snapshot of its chain."""
        world = self._world
        link = self._links.find(snapshot.snapshot_link_id)
        assert link is not None
        position = link.snapshot_ids.index(snapshot.snapshot_id)
        if position + 1 < len(link.snapshot_ids):
            child_id = link.snapshot_ids[position + 1]
            child = self._snapshots.find(child_id)
            assert child is not None
            moved, freed = self._maps.merge_into_next(snapshot.snapshot_id, child_id, None)
            self._snapshots.put(
                attrs.evolve(child, incremental_blocks=child.incremental_blocks + moved)
            )
        else:
            disk = self._disks.find(snapshot.source_disk_id)
            own = disk is not None and disk.snapshot_link_id == link.snapshot_link_id
            _, freed = self._maps.merge_into_next(
                snapshot.snapshot_id, None, snapshot.source_disk_id if own else None
            )
        ids = tuple(s for s in link.snapshot_ids if s != snapshot.snapshot_id)
        self._links.put(
            attrs.evolve(link, snapshot_ids=ids, total_blocks=link.total_blocks - freed)
        )
        if snapshot.snapshot_group_id is not None:
            group = self._groups.find(snapshot.snapshot_group_id)
            if group is not None:
                members = tuple(s for s in group.snapshot_ids if s != snapshot.snapshot_id)
                if members:
                    self._groups.put(attrs.evolve(group, snapshot_ids=members))
                else:
                    self._drop_group(group)
        self._snapshots.delete(snapshot)
        for action in (_ACTION_SNAPSHOT_DONE, _ACTION_SNAPSHOT_EXPIRE):
            world.engine.cancel_for(action, self.region_id, snapshot.snapshot_id)
        world.events._emit(
            SnapshotDeleted,
            time=world.now(),
            region_id=self.region_id,
            snapshot_id=snapshot.snapshot_id,
            reason=reason,
        )

    def _snapshot_map(self, snapshot: Snapshot) -> dict[str, bytes]:
        """The full block map of a snapshot: its chain's deltas up to it, oldest first."""
        link = self._links.find(snapshot.snapshot_link_id)
        assert link is not None
        return self._maps.materialize(link.snapshot_ids, snapshot.snapshot_id)

    # ================================================================================
    # Snapshot locks
    # ================================================================================
    @unit_of_work
    def lock_snapshot(
        self,
        *,
        snapshot_id: str,
        lock_duration: int,
        cool_off_period: int = 0,
        lock_mode: str = "compliance",
    ) -> None:
        """``LockSnapshot``: compliance-mode lock; nobody can delete the snapshot while locked.

        Args:
            snapshot_id: The snapshot.
            lock_duration: 1–36,500 days, counted from when the snapshot is accomplished.
            cool_off_period: 0–72 hours during which the lock can still be removed or changed;
                must be 0 to extend a lock whose cool-off has ended.
            lock_mode: Only ``compliance``.
        """
        snapshot = self._snapshots.get(snapshot_id)
        v.choice("LockMode", lock_mode, ("compliance",), code="InvalidParameter.LockMode")
        days = v.integer(
            "LockDuration", lock_duration, 1, 36500, code="InvalidParameter.LockDuration"
        )
        hours = v.integer(
            "CoolOffPeriod", cool_off_period, 0, 72, code="InvalidParameter.CoolOffPeriod"
        )
        now = self._world.now()
        existing = snapshot.lock
        ready = snapshot.status is SnapshotStatus.accomplished
        if existing is not None and existing.status(now) is LockStatus.compliance:
            if hours != 0:
                raise InvalidParameterError(
                    "An effective lock can only be extended, with CoolOffPeriod 0.",
                    code="InvalidParameter.CoolOffPeriod",
                    ids=(snapshot.snapshot_id,),
                    recommend="Pass cool_off_period=0.",
                )
            if days < existing.lock_duration:
                raise InvalidParameterError(
                    f"The lock on {snapshot.snapshot_id} is past its cool-off period; its "
                    f"duration ({existing.lock_duration} days) can only be extended.",
                    code="InvalidParameter.LockDuration",
                    ids=(snapshot.snapshot_id,),
                    recommend=f"Pass a lock_duration of at least {existing.lock_duration}.",
                )
            lock = attrs.evolve(existing, lock_duration=days)
        else:
            lock = SnapshotLock(
                lock_mode="compliance",
                lock_duration=days,
                cool_off_period=hours,
                lock_created_time=now,
                effective_from=now if ready else None,
            )
        locked = attrs.evolve(snapshot, lock=lock)
        self._snapshots.put(locked)
        self._world.events._emit(
            SnapshotLocked,
            time=now,
            region_id=self.region_id,
            snapshot_id=snapshot.snapshot_id,
            lock_duration=days,
            cool_off_period=hours,
        )
        # If retention has run out and only locks keep it, release it when this lock ends
        # (which may be sooner than the lock it replaces).
        self._expire_if_due(locked)

    @unit_of_work
    def unlock_snapshot(self, snapshot_id: str) -> None:
        """``UnlockSnapshot``: remove a lock, only during its cool-off period."""
        snapshot = self._snapshots.get(snapshot_id)
        now = self._world.now()
        lock = snapshot.lock
        if lock is None or lock.status(now) is LockStatus.expired:
            raise IncorrectStatusError(
                f"Snapshot {snapshot.snapshot_id} is not locked.",
                code="InvalidOperation.SnapshotNotLocked",
                ids=(snapshot.snapshot_id,),
                recommend="Nothing to unlock.",
            )
        if lock.status(now) is not LockStatus.compliance_cooloff:
            raise OperationDeniedError(
                f"The lock on {snapshot.snapshot_id} left its cool-off period at "
                f"{lock.cool_off_end().isoformat()}; compliance locks cannot be removed after.",
                code="OperationDenied.SnapshotLocked",
                ids=(snapshot.snapshot_id,),
                recommend="Wait for the lock to expire.",
            )
        unlocked = attrs.evolve(snapshot, lock=None)
        self._snapshots.put(unlocked)
        self._world.events._emit(
            SnapshotUnlocked,
            time=now,
            region_id=self.region_id,
            snapshot_id=snapshot.snapshot_id,
        )
        self._expire_if_due(unlocked)  # retention may have run out while the lock held it

    def describe_locked_snapshots(
        self, *, snapshot_ids: Sequence[str] | None = None, lock_status: str | None = None
    ) -> list[tuple[Snapshot, LockStatus]]:
        """``DescribeLockedSnapshots``: locked snapshots with their current ``LockStatus``."""
        ids = v.id_list("SnapshotIds", snapshot_ids, max_items=100)
        wanted = (
            None if lock_status is None else v.enum_value("LockStatus", lock_status, LockStatus)
        )
        now = self._world.now()
        out = []
        for snapshot in self._snapshots.scan():
            if snapshot.lock is None or (ids and snapshot.snapshot_id not in ids):
                continue
            status = snapshot.lock.status(now)
            if wanted is None or status is wanted:
                out.append((snapshot, status))
        return out

    # ================================================================================
    # Snapshot-consistent groups
    # ================================================================================
    @unit_of_work
    def create_snapshot_group(
        self,
        *,
        instance_id: str | None = None,
        disk_ids: Sequence[str] | None = None,
        exclude_disk_ids: Sequence[str] | None = None,
        name: str | None = None,
        description: str | None = None,
        tags: Sequence[tuple[str, str]] = (),
    ) -> str:
        """``CreateSnapshotGroup``: snapshot several ESSD-family disks at one instant.

        Every member snapshot holds its disk's data as of the same virtual instant, so data
        spread across disks (a log and its data files) is crash-consistent as a whole.

        Args:
            instance_id: Snapshot this instance's disks (all, or those in ``disk_ids``).
            disk_ids: The disks; without ``instance_id`` they must share one zone.
            exclude_disk_ids: Disks of the instance to leave out; not with ``disk_ids``.
            name: 2–128 characters.
            description: 2–256 characters.
            tags: Up to 20 ``(key, value)`` pairs.

        Returns:
            The ``ssg-…`` id.
        """
        world = self._world
        if not self.region.supports_snapshot_group:
            raise UnsupportedOperationError(
                f"Snapshot-consistent groups are not available in {self.region_id}.",
                code="InvalidRegion.NotSupport",
                recommend="Use a region that supports snapshot-consistent groups.",
            )
        include = v.id_list("DiskId", disk_ids, max_items=10**6)
        exclude = v.id_list("ExcludeDiskId", exclude_disk_ids, max_items=10**6)
        group_name = v.name_text("Name", name, code="InvalidName.Malformed")
        desc = v.optional_text(
            "Description", description, 2, 256, code="InvalidDescription.Malformed"
        )
        pairs = self._tags(tags)
        if include and exclude:
            raise DependencyViolationError(
                "DiskId and ExcludeDiskId cannot be used together.",
                code="InvalidParam.ExcludeDiskIdsAndDiskIds.Conflict",
                recommend="Pass either the disks to include or the disks to exclude.",
            )
        if instance_id is None and not include:
            raise InvalidParameterError(
                "Give an instance_id, or the disk_ids to snapshot.",
                code="MissingParameter",
                recommend="Pass instance_id or disk_ids.",
            )
        if instance_id is not None:
            instance = self._instances.get(instance_id)
            own = {d.disk_id: d for d in self._disks.members(ATTACHED_TO, instance.instance_id)}
            for disk_id in (*include, *exclude):
                if disk_id not in own:
                    self._disks.get(disk_id)  # not found beats not-attached
                    raise DependencyViolationError(
                        f"Disk {disk_id} is not attached to instance {instance_id}.",
                        code="InvalidParameter.DiskId",
                        ids=(disk_id, instance_id),
                        recommend="With instance_id, name only that instance's disks.",
                    )
            if include:
                disks = [own[d] for d in include]
            else:
                disks = [d for d in own.values() if d.disk_id not in exclude]
            if not disks:
                raise InvalidParameterError(
                    f"Instance {instance_id} has no disk left to snapshot.",
                    code="InvalidInstance.NoDisk",
                    ids=(instance_id,),
                    recommend="Exclude fewer disks.",
                )
        else:
            disks = [self._disks.get(d) for d in include]
            zones = {d.zone_id for d in disks}
            if len(zones) > 1:
                raise DependencyViolationError(
                    f"The disks are in several zones ({', '.join(sorted(zones))}).",
                    code="InvalidDiskIds.NotInSameZone",
                    ids=tuple(include),
                    recommend="Group disks of one zone only.",
                )
        regional = {d.category is DiskCategory.cloud_regional_disk_auto for d in disks}
        for disk in disks:
            if not CATEGORY_SPECS[disk.category].consistent_group:
                raise UnsupportedOperationError(
                    f"Disk {disk.disk_id} is {disk.category.value}; snapshot-consistent groups "
                    "take ESSD, ESSD AutoPL, ESSD Entry and regional ESSD disks only.",
                    code="DiskCategory.OperationNotSupported",
                    ids=(disk.disk_id,),
                    recommend="Exclude the disk (exclude_disk_ids) or snapshot it on its own.",
                )
            if disk.multi_attach == "Enabled":
                raise UnsupportedOperationError(
                    f"Disk {disk.disk_id} has multi-attach enabled.",
                    code="InvalidOperation.MultiAttachDisk",
                    ids=(disk.disk_id,),
                    recommend="Exclude multi-attach disks from the group.",
                )
        if len(regional) > 1:
            raise DependencyViolationError(
                "Regional ESSD disks cannot be grouped with zonal disks.",
                code="InvalidDisk.DiskCategoryInconsistent",
                ids=tuple(d.disk_id for d in disks),
                recommend="Group regional disks only with regional disks.",
            )
        if len(disks) > world.limits.snapshot_group_max_disks:
            raise QuotaExceededError(
                f"{len(disks)} disks exceed the group limit of "
                f"{world.limits.snapshot_group_max_disks}.",
                code="NumberExceed.TooManyDisks",
                recommend="Split the disks into several groups.",
            )
        total = sum(d.size for d in disks)
        if total > world.limits.snapshot_group_max_tib * 1024:
            raise QuotaExceededError(
                f"{total} GiB exceed the group limit of {world.limits.snapshot_group_max_tib} TiB.",
                code="CapacityExceed.TooManyDisks",
                recommend="Split the disks into several groups.",
            )
        for disk in disks:
            self._check_snapshot_allowed(disk)
        group_id = world.ids.new_id("ssg-", self.region.id_infix)
        owners = {d.instance_id for d in disks}
        members = []
        for disk in disks:
            member_tags = (("acs:ecs:createFrom", disk.instance_id),) if disk.instance_id else ()
            members.append(
                self._take_snapshot(
                    self._disks.get(disk.disk_id), None, None, None, member_tags, group_id
                )
            )
        status = (
            SnapshotGroupStatus.accomplished
            if all(s.status is SnapshotStatus.accomplished for s in members)
            else SnapshotGroupStatus.progressing
        )
        group = SnapshotGroup(
            snapshot_group_id=group_id,
            region_id=self.region_id,
            name=group_name,
            description=desc,
            status=status,
            creation_time=world.now(),
            snapshot_ids=tuple(s.snapshot_id for s in members),
            instance_id=next(iter(owners)) if len(owners) == 1 else None,
            tags=pairs,
        )
        self._groups.put(group)
        world.events._emit(
            SnapshotGroupCreated,
            time=world.now(),
            region_id=self.region_id,
            snapshot_group_id=group_id,
            snapshot_ids=group.snapshot_ids,
        )
        return group_id

    def describe_snapshot_groups(
        self,
        *,
        snapshot_group_ids: Sequence[str] | None = None,
        instance_id: str | None = None,
        name: str | None = None,
        status: Sequence[str] | None = None,
        max_results: int = 10,
        next_token: str | None = None,
    ) -> Page[SnapshotGroup]:
        """``DescribeSnapshotGroups``: groups matching the filters, token-paged (1–100)."""
        ids = v.id_list("SnapshotGroupId", snapshot_group_ids, max_items=10)
        size = v.integer("MaxResults", max_results, 1, 100)
        v.optional_text("InstanceId", instance_id, 1, 256)
        v.optional_text("Name", name, 1, 256)
        start = 0
        if next_token is not None:
            if (
                not isinstance(next_token, str)
                or not (next_token.isascii() and next_token.isdigit())
                or len(next_token) > 18
            ):
                raise InvalidParameterError(
                    f"NextToken {next_token!r} is not valid.",
                    code="InvalidParameter.NextToken",
                    recommend="Pass back the NextToken of the previous page.",
                )
            start = int(next_token)
        if status is not None and (
            isinstance(status, (str, bytes)) or not isinstance(status, (list, tuple))
        ):
            raise InvalidParameterError(
                f"Status {status!r} must be a list of group statuses.",
                code="InvalidParameter.Status",
                recommend="Pass e.g. status=['accomplished'].",
            )
        states = [v.enum_value("Status", s, SnapshotGroupStatus) for s in status or ()]
        found = [
            g
            for g in self._groups.named_or_all(ids)
            if (instance_id is None or g.instance_id == instance_id)
            and (name is None or g.name == name)
            and (not states or g.status in states)
        ]
        page = paginate(found[start:], 1, size)
        token = str(start + size) if start + size < len(found) else None
        return attrs.evolve(page, total_count=len(found), next_token=token)

    @unit_of_work
    def delete_snapshot_group(self, snapshot_group_id: str) -> None:
        """``DeleteSnapshotGroup``: delete a group and its member snapshots.

        Members used to create a custom image are kept (delete the image, then the snapshot);
        a member used by a disk refuses the whole call (``SnapshotCreatedDisk``), as does a
        locked member. Nothing is deleted when the call is refused.
        """
        group = self._groups.get(snapshot_group_id)
        members = [self._snapshots.find(s) for s in group.snapshot_ids]
        doomed = []
        for snapshot in members:
            if snapshot is None or snapshot.image_refs:
                continue
            self._check_deletable(snapshot, force=False)
            doomed.append(snapshot)
        for snapshot in members:
            if snapshot is not None and snapshot.image_refs:
                self._snapshots.put(attrs.evolve(snapshot, snapshot_group_id=None))
        self._groups.put(attrs.evolve(group, snapshot_ids=tuple(s.snapshot_id for s in doomed)))
        for snapshot in doomed:
            fresh = self._snapshots.find(snapshot.snapshot_id)
            assert fresh is not None
            self._remove_snapshot(fresh, reason="group_deleted")
        remaining = self._groups.find(group.snapshot_group_id)
        if remaining is not None:
            self._drop_group(remaining)

    def _drop_group(self, group: SnapshotGroup) -> None:
        self._groups.delete(group)
        self._world.events._emit(
            SnapshotGroupDeleted,
            time=self._world.now(),
            region_id=self.region_id,
            snapshot_group_id=group.snapshot_group_id,
        )

    # ================================================================================
    # Restore substrate: roll back, disks and images from snapshots
    # ================================================================================
    @unit_of_work
    def reset_disk(self, *, disk_id: str, snapshot_id: str, dry_run: bool = False) -> None:
        """``ResetDisk``: roll a disk back to one of its own snapshots.

        The disk's instance must be ``Stopped`` (or the disk ``Available``) and no snapshot of
        the disk may be progressing. After the call the disk reads exactly as it did when the
        snapshot was taken; later snapshots of the chain stay intact.
        """
        v.boolean("DryRun", dry_run)
        disk, snapshot = self._check_reset(disk_id, snapshot_id)
        if not dry_run:
            self._reset(disk, snapshot)

    @unit_of_work
    def reset_disks(self, *, disks: Sequence[ResetDiskSpec], dry_run: bool = False) -> None:
        """``ResetDisks``: roll several disks back at once (e.g. a snapshot-consistent group).

        All 1–16 pairs are checked before any disk changes; one bad pair refuses them all.
        """
        v.boolean("DryRun", dry_run)
        if (
            isinstance(disks, (str, bytes))
            or not isinstance(disks, (list, tuple))
            or not (1 <= len(disks) <= 16)
        ):
            raise InvalidParameterError(
                "Disk must be a list of 1 to 16 ResetDiskSpec items.",
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
        if not dry_run:
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
                ids=(disk.disk_id, snapshot.snapshot_id),
                recommend="Roll a disk back only to its own snapshots; create a new disk from "
                "another disk's snapshot instead.",
            )
        self._require_available_snapshot(snapshot)
        for attachment in disk.attachments:
            instance = self._instances.get(attachment.instance_id)
            self._require_instance_status(instance, InstanceStatus.Stopped)
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

    def _fill_from_snapshot(self, disk: Disk, snapshot: Snapshot) -> None:
        """Give a new disk the snapshot's contents (re-encrypting if the keys differ)."""
        world = self._world
        full = self._snapshot_map(snapshot)
        if disk.data_key == snapshot.data_key:
            self._maps.fill(disk.disk_id, full)  # same key: share the blocks
            return
        source_cipher = self._data_cipher(snapshot)
        target_cipher = self._data_cipher(disk)
        nonces = world.ids.new_nonces(len(full)) if target_cipher is not None else []

        def reseal(n: int, index: int, digest: bytes) -> bytes:
            plain = self._plain_block(digest, source_cipher, index)
            sealed = (
                plain
                if target_cipher is None
                else _crypto.encrypt_block(target_cipher, nonces[n], plain, index)
            )
            return world.blocks.intern(sealed)

        self._maps.fill(disk.disk_id, full, reseal)

    @unit_of_work
    def create_image(
        self,
        *,
        snapshot_id: str | None = None,
        disk_device_mappings: Sequence[DiskDeviceMapping] = (),
        image_name: str | None = None,
        description: str | None = None,
    ) -> str:
        """``CreateImage`` from snapshots: a system-disk snapshot, or device mappings of one
        system disk and up to 16 data disks.

        Returns:
            The new ``m-…`` image id.
        """
        world = self._world
        name = v.name_text("ImageName", image_name, code="InvalidImageName.Malformed")
        desc = v.optional_text(
            "Description", description, 2, 256, code="InvalidDescription.Malformed"
        )
        if isinstance(disk_device_mappings, (str, bytes)) or not isinstance(
            disk_device_mappings, (list, tuple)
        ):
            raise InvalidParameterError(
                "disk_device_mappings must be a list of DiskDeviceMapping.",
                code="InvalidParameter.DiskDeviceMapping",
                recommend="Pass [DiskDeviceMapping(...), ...].",
            )
        specs = list(disk_device_mappings)
        if snapshot_id is not None:
            if specs:
                raise DependencyViolationError(
                    "Give SnapshotId or DiskDeviceMapping, not both.",
                    code="InvalidParameter.Conflict",
                    recommend="Put the system snapshot in the mappings instead.",
                )
            if self._snapshots.get(snapshot_id).source_disk_type is not DiskType.system:
                raise InvalidParameterError(
                    f"Snapshot {snapshot_id} was taken of a data disk; SnapshotId must name a "
                    "system-disk snapshot.",
                    code="InvalidSnapshotId.NotSystemDiskSnapshot",
                    ids=(snapshot_id,),
                    recommend="Use DiskDeviceMapping to build an image from data-disk snapshots.",
                )
            specs = [DiskDeviceMapping(snapshot_id=snapshot_id, disk_type="system")]
        if not specs:
            raise InvalidParameterError(
                "A system-disk snapshot is required.",
                code="InvalidSystemSnapshot.Missing",
                recommend="Pass snapshot_id, or a DiskDeviceMapping with disk_type='system'.",
            )
        if len(specs) > 17:
            raise InvalidParameterError(
                "An image takes one system disk and at most 16 data disks.",
                code="InvalidParameter.DiskDeviceMapping",
                recommend="Use fewer mappings.",
            )
        mappings: list[ImageDiskMapping] = []
        used_devices: set[str] = set()
        snapshots: dict[str, Snapshot] = {}
        for spec in specs:
            if not isinstance(spec, DiskDeviceMapping):
                raise InvalidParameterError(
                    "Every mapping must be a cloudbackup.DiskDeviceMapping.",
                    code="InvalidParameter.DiskDeviceMapping",
                    recommend="Pass DiskDeviceMapping(snapshot_id=..., disk_type=...).",
                )
            kind = v.enum_value("DiskType", spec.disk_type, DiskType)
            snapshot = self._snapshots.get(spec.snapshot_id)
            self._require_available_snapshot(snapshot)
            size = (
                snapshot.source_disk_size
                if spec.size is None
                else v.integer(
                    "Size",
                    spec.size,
                    snapshot.source_disk_size,
                    65536,
                    code="InvalidDiskSize.TooSmall"
                    if isinstance(spec.size, int) and spec.size < snapshot.source_disk_size
                    else "InvalidDiskSize.ValueNotSupported",
                )
            )
            if kind is DiskType.system:
                device = _SYSTEM_DEVICE
            else:
                free = [d for d in _DATA_DEVICES if d not in used_devices]
                device = spec.device if spec.device is not None else free[0]
            if (
                not isinstance(device, str)
                or device in used_devices
                or (device != _SYSTEM_DEVICE and device not in _DATA_DEVICES)
                or (kind is DiskType.data and device == _SYSTEM_DEVICE)
            ):
                raise InvalidParameterError(
                    f"Device {device!r} is not valid here or is used twice.",
                    code="InvalidParameter.Device",
                    recommend="Use /dev/xvda for the system disk and /dev/xvdb–/dev/xvdz once "
                    "each for data disks.",
                )
            used_devices.add(device)
            snapshots[snapshot.snapshot_id] = snapshot
            mappings.append(ImageDiskMapping(device, snapshot.snapshot_id, size, kind))
        if sum(m.disk_type is DiskType.system for m in mappings) != 1:
            raise InvalidParameterError(
                "An image needs exactly one system-disk mapping.",
                code="InvalidSystemSnapshot.Missing",
                recommend="Mark exactly one mapping disk_type='system'.",
            )
        image_id = world.ids.new_id("m-", self.region.id_infix)
        image = Image(
            image_id=image_id,
            region_id=self.region_id,
            image_name=name,
            description=desc,
            creation_time=world.now(),
            disk_device_mappings=tuple(mappings),
        )
        self._images.put(image)
        for mapping in mappings:
            fresh = self._snapshots.get(mapping.snapshot_id)
            self._snapshots.put(attrs.evolve(fresh, image_refs=fresh.image_refs + 1))
        world.events._emit(
            ImageCreated,
            time=world.now(),
            region_id=self.region_id,
            image_id=image_id,
            snapshot_ids=tuple(m.snapshot_id for m in mappings),
        )
        return image_id

    def describe_images(
        self,
        *,
        image_ids: Sequence[str] | None = None,
        snapshot_id: str | None = None,
        page_number: int = 1,
        page_size: int = 10,
    ) -> Page[Image]:
        """``DescribeImages`` (custom images of this account)."""
        number, size = v.page(page_number, page_size)
        v.optional_text("SnapshotId", snapshot_id, 1, 256)
        ids = v.id_list("ImageId", image_ids, max_items=100)
        found = [
            i
            for i in self._images.named_or_all(ids)
            if (
                snapshot_id is None
                or any(m.snapshot_id == snapshot_id for m in i.disk_device_mappings)
            )
        ]
        return paginate(found, number, size)

    @unit_of_work
    def delete_image(self, image_id: str) -> None:
        """``DeleteImage``: the image's snapshots become deletable again.

        A snapshot whose retention ran out while the image held it is released now.
        """
        image = self._images.get(image_id)
        world = self._world
        self._images.delete(image)
        for mapping in image.disk_device_mappings:
            snapshot = self._snapshots.find(mapping.snapshot_id)
            if snapshot is None:
                continue
            snapshot = attrs.evolve(snapshot, image_refs=snapshot.image_refs - 1)
            self._snapshots.put(snapshot)
            self._expire_if_due(snapshot)
        world.events._emit(
            ImageDeleted, time=world.now(), region_id=self.region_id, image_id=image.image_id
        )

    # ================================================================================
    # Timers
    # ================================================================================
    def _schedule_transition(self, instance: Instance, delay: _dt.timedelta) -> None:
        target = instance.transition_target
        assert target is not None
        self._world.engine.schedule(
            self._world.now() + delay,
            _ACTION_INSTANCE,
            self.region_id,
            instance.instance_id,
            target.value,
        )

    def _transition(
        self,
        instance: Instance,
        status: InstanceStatus,
        target: InstanceStatus,
        delay: _dt.timedelta,
    ) -> None:
        updated = attrs.evolve(instance, status=status, transition_target=target)
        self._set_instance(instance, updated)
        self._schedule_transition(updated, delay)

    def _set_instance(self, old: Instance, new: Instance) -> None:
        self._instances.put(new)
        if old.status is not new.status:
            self._world.events._emit(
                InstanceStatusChanged,
                time=self._world.now(),
                region_id=self.region_id,
                instance_id=new.instance_id,
                old_status=old.status.value,
                new_status=new.status.value,
            )

    def _on_instance_transition(self, timer: Timer) -> None:
        instance = self._instances.find(timer.target_id)
        if instance is None or instance.transition_target is None:
            return
        if instance.transition_target.value != timer.payload:
            return
        target = instance.transition_target
        changes: dict[str, Any] = {"status": target, "transition_target": None}
        if target is InstanceStatus.Running:
            changes.update(start_time=self._world.now(), ever_started=True)
        self._set_instance(instance, attrs.evolve(instance, **changes))

    def _on_snapshot_complete(self, timer: Timer) -> None:
        world = self._world
        snapshot = self._snapshots.find(timer.target_id)
        if snapshot is None or snapshot.status is not SnapshotStatus.progressing:
            return
        now = world.now()
        lock = snapshot.lock
        if lock is not None and lock.effective_from is None:
            lock = attrs.evolve(lock, effective_from=now)
        self._snapshots.put(
            attrs.evolve(
                snapshot, status=SnapshotStatus.accomplished, completion_time=now, lock=lock
            )
        )
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

    def _schedule_expiry(self, snapshot: Snapshot) -> None:
        expire = snapshot.expire_time
        if expire is not None:
            self._world.engine.schedule(
                expire, _ACTION_SNAPSHOT_EXPIRE, self.region_id, snapshot.snapshot_id
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
                due, _ACTION_SNAPSHOT_EXPIRE, self.region_id, snapshot.snapshot_id
            )
            return
        if snapshot.image_refs or snapshot.disk_refs:
            return  # released when the last image or disk made from it goes
        self._remove_snapshot(snapshot, reason="retention")

    # ================================================================================
    # Lookups and shared checks
    # ================================================================================
    def _category(self, value: object) -> DiskCategory:
        return v.enum_value(
            "DiskCategory", value, DiskCategory, code="InvalidDiskCategory.ValueNotSupported"
        )

    def _require_instance_status(self, instance: Instance, *allowed: InstanceStatus) -> None:
        if instance.status not in allowed:
            names = " or ".join(s.value for s in allowed)
            raise IncorrectStatusError(
                f"Instance {instance.instance_id} is {instance.status.value}; this needs it "
                f"{names}.",
                code="IncorrectInstanceStatus",
                ids=(instance.instance_id,),
                recommend=f"Bring the instance to {names} first (and advance virtual time).",
            )

    def _require_available_snapshot(self, snapshot: Snapshot) -> None:
        if not snapshot.available:
            raise IncorrectStatusError(
                f"Snapshot {snapshot.snapshot_id} is {snapshot.status.value} and not yet usable.",
                code="InvalidSnapshotId.NotReady",
                ids=(snapshot.snapshot_id,),
                recommend="Wait for it to be accomplished (advance virtual time).",
            )

    def _chain_ids(self, disk: Disk) -> tuple[str, ...]:
        """The ids of a disk's snapshots, oldest first (its chain)."""
        if disk.snapshot_link_id is None:
            return ()
        link = self._links.find(disk.snapshot_link_id)
        assert link is not None
        return link.snapshot_ids

    def _disk_snapshots(self, disk_id: str) -> list[Snapshot]:
        # Every snapshot of a disk is in the disk's one chain: read the chain, not the region.
        disk = self._disks.find(disk_id)
        if disk is None or disk.snapshot_link_id is None:
            return []
        link = self._links.find(disk.snapshot_link_id)
        assert link is not None
        found = [self._snapshots.find(s) for s in link.snapshot_ids]
        return [s for s in found if s is not None]

    def _tags(self, tags: object) -> tuple[tuple[str, str], ...]:
        if isinstance(tags, (str, bytes)) or not isinstance(tags, (list, tuple)):
            raise InvalidParameterError(
                "Tag must be a list of (key, value) pairs.",
                code="InvalidParameter.Tag",
                recommend="Pass [('env', 'prod'), ...].",
            )
        if len(tags) > 20:
            raise InvalidParameterError(
                "At most 20 tags are allowed.",
                code="InvalidParameter.TagCount",
                recommend="Use 20 tags or fewer.",
            )
        pairs: list[tuple[str, str]] = []
        for item in tags:
            if (
                not isinstance(item, tuple)
                or len(item) != 2
                or not isinstance(item[0], str)
                or not isinstance(item[1], str)
                or not 1 <= len(item[0]) <= 128
                or len(item[1]) > 128
                or item[0].startswith(("aliyun", "acs:"))
            ):
                raise InvalidParameterError(
                    f"Tag {item!r} is not valid.",
                    code="InvalidTagKey.Malformed",
                    recommend="Tag keys are 1–128 characters and may not start with 'aliyun' "
                    "or 'acs:'; values at most 128 characters.",
                )
            pairs.append(item)
        return tuple(pairs)


TIMER_HANDLERS: dict[str, Callable[[Any, Timer], None]] = {
    _ACTION_INSTANCE: EcsService._on_instance_transition,
    _ACTION_SNAPSHOT_DONE: EcsService._on_snapshot_complete,
    _ACTION_SNAPSHOT_EXPIRE: EcsService._on_snapshot_expire,
}

SPEC = register_service(
    ServiceSpec(
        name="ecs",
        cls=EcsService,
        scope=Scope.REGIONAL,
        timers=TIMER_HANDLERS,
    )
)
