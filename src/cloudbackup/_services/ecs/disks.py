"""ECS, disks: CreateDisk, AttachDisk, DetachDisk, DeleteDisk, ResizeDisk, ModifyDiskAttribute,
DescribeDisks.

Part of the layered :class:`~cloudbackup.EcsService`: this layer may use every layer beneath
it (see ``_services/ecs/__init__.py``), never one above.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from ... import _validate as v
from ..._domain.ecs import (
    CATEGORY_SPECS,
    DATA_DEVICES,
    PL_MIN_SIZE,
    SYSTEM_DEVICE,
    DataKey,
    Disk,
    DiskAttachment,
    DiskCategory,
    DiskStatus,
    DiskType,
    InstanceStatus,
    PerformanceLevel,
    Snapshot,
    SnapshotStatus,
)
from ..._domain.limits import DESCRIPTION_MAX, DESCRIPTION_MIN, SYSTEM_DISK_SIZE_MAX
from ..._domain.requests import Page
from ..._events import (
    DiskAttached,
    DiskCreated,
    DiskDeleted,
    DiskDetached,
    DiskModified,
    DiskResized,
)
from ..._regions import require_zone
from ...errors import (
    DependencyViolationError,
    IncorrectStatusError,
    InvalidParameterError,
    QuotaExceededError,
    UnsupportedOperationError,
)
from .._base import unit_of_work
from ._core import ATTACHED_TO, DISK_TAGS, DISKS_BY_FACETS
from ._requests import ecs_action, finish_read, id_order_page, token_page
from .groups import GroupActions

__all__ = ["DiskActions"]


class DiskActions(GroupActions):
    """Disks: CreateDisk, AttachDisk, DetachDisk, DeleteDisk, ResizeDisk, ModifyDiskAttribute,
    DescribeDisks.
    """

    @ecs_action("CreateDisk", client_token=True)
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
        tags: Sequence[tuple[str, str]] = (),
        client_token: str | None = None,
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
            tags: Up to 20 ``(key, value)`` pairs.
            client_token: Idempotency token (≤64 ASCII): a retry with the same token and
                parameters returns the first disk id and creates nothing.

        Returns:
            The new disk id.
        """
        category = self._category(disk_category)
        pairs = self._tags(tags)
        mode = v.choice("MultiAttach", multi_attach, ("Enabled", "Disabled"))
        if mode == "Enabled" and category is not DiskCategory.cloud_essd:
            raise InvalidParameterError(
                "Only cloud_essd data disks can enable multi-attach.",
                code="InvalidParameter.MultiAttach",
                http_status=403,
                recommend="Create a cloud_essd disk, or leave MultiAttach Disabled.",
            )
        disk_id = self._new_disk(
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
        if pairs:
            self._disks.put(attrs.evolve(self._disks.get(disk_id), tags=pairs))
        return disk_id

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
        size_code: str = "InvalidSize.ValueNotSupported",
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
            "Description",
            description,
            DESCRIPTION_MIN,
            DESCRIPTION_MAX,
            code="InvalidDescription.Malformed",
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
        gib = v.integer("Size", size, minimum, spec.max_size, code=size_code)
        if snapshot is not None and gib < snapshot.source_disk_size:
            raise InvalidParameterError(
                f"Size {gib} GiB is smaller than the snapshot's {snapshot.source_disk_size} GiB.",
                code="InvalidDiskSize.TooSmall",
                http_status=403,
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

    def _fill_from_snapshot(self, disk: Disk, snapshot: Snapshot) -> None:
        """Give a new disk the snapshot's contents (re-encrypting if the keys differ)."""
        full = self._snapshot_map(snapshot)
        if disk.data_key == snapshot.data_key:
            self._maps.populate(disk.disk_id, full, None, None, None)  # same key: share
            return
        self._maps.populate(
            disk.disk_id,
            full,
            self._data_cipher(snapshot),
            self._data_cipher(disk),
            self._world.ids.new_nonces,
        )

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
        instance.require_status(InstanceStatus.Running, InstanceStatus.Stopped)
        dwi = (
            disk.delete_with_instance
            if delete_with_instance is None
            else v.boolean("DeleteWithInstance", delete_with_instance)
        )
        if disk.zone_id != instance.zone_id:
            raise DependencyViolationError(
                f"Disk {disk.disk_id} is in {disk.zone_id} but instance {instance_id} is in "
                f"{instance.zone_id}.",
                code="ResourcesNotInSameZone",
                http_status=403,
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
                code="DiskAttachedNumberExceeded",
                ids=(disk.disk_id,),
                recommend="Detach it from another instance first.",
            )
        if disk.data_key is not None:
            self._key_ring.check_usable(disk.data_key.kms_key_id)
        if disk.type is DiskType.system:
            # A system disk goes back only onto a stopped instance without one.
            instance.require_status(InstanceStatus.Stopped)
            if any(
                d.type is DiskType.system for d in self._disks.members(ATTACHED_TO, instance_id)
            ):
                raise IncorrectStatusError(
                    f"Instance {instance_id} already has a system disk.",
                    code="InvalidOperation.SystemDiskExists",
                    ids=(instance_id, disk.disk_id),
                    recommend="Detach the instance's system disk first (instance Stopped).",
                )
            device = SYSTEM_DEVICE
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
                    code="InstanceDiskLimitExceeded",
                    ids=(instance_id,),
                    recommend="Detach a data disk first.",
                )
            device = next(d for d in DATA_DEVICES if d not in used)
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
                code="DiskNotPortable",
                http_status=403,
                ids=(disk.disk_id,),
                recommend="Local disks live and die with their instance.",
            )
        if disk.type is DiskType.system:
            instance.require_status(InstanceStatus.Stopped)
        else:
            instance.require_status(InstanceStatus.Running, InstanceStatus.Stopped)
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
                code="InvalidDiskCategory.NotSupported",
                http_status=403,
                ids=(disk.disk_id,),
                recommend="Resize cloud disks only.",
            )
        limit = (
            min(SYSTEM_DISK_SIZE_MAX, spec.max_size)
            if disk.type is DiskType.system
            else spec.max_size
        )
        size = v.integer("NewSize", new_size, -(2**63), 2**63)  # type only; range below
        if size > limit:
            raise InvalidParameterError(
                f"New size {size} GiB is beyond the maximum of {limit} GiB for this disk.",
                code="InvalidDiskSize.TooLarge",
                http_status=403,
                ids=(disk.disk_id,),
                recommend=f"Pass a size of at most {limit} GiB.",
            )
        if size <= disk.size:
            raise InvalidParameterError(
                f"New size {size} GiB is not larger than the current {disk.size} GiB; disks "
                "can only grow.",
                code="InvalidDiskSize.TooSmall",
                http_status=403,
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

    @ecs_action("ModifyDiskAttribute")
    def modify_disk_attribute(
        self,
        *,
        disk_id: str,
        disk_name: str | None = None,
        description: str | None = None,
        delete_with_instance: bool | None = None,
    ) -> None:
        """``ModifyDiskAttribute``: rename, describe, or change ``DeleteWithInstance`` (the
        real action has no ``DryRun``)."""
        disk = self._disks.get(disk_id)
        changes: dict[str, Any] = {}
        if disk_name is not None:
            changes["disk_name"] = v.name_text(
                "DiskName", disk_name, code="InvalidDiskName.Malformed"
            )
        if description is not None:
            changes["description"] = v.text(
                "Description",
                description,
                DESCRIPTION_MIN,
                DESCRIPTION_MAX,
                code="InvalidDescription.Malformed",
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
        tags: Sequence[tuple[str, str]] | None = None,
        page_number: int = 1,
        page_size: int = 10,
        next_token: str | None = None,
        max_results: int | None = None,
        dry_run: bool = False,
    ) -> Page[Disk]:
        """``DescribeDisks``: disks matching every given filter, a page at a time.

        Args:
            tags: ``Tag.N``: up to 20 ``(key, value)`` pairs a disk must all carry.
            next_token: ``NextToken`` of the previous page (token paging, in id order).
            max_results: ``MaxResults`` 1–500 (default 10) for token paging.
            dry_run: Check the request only: raises ``DryRunOperation`` if it would succeed.
        """
        number, size = v.page(page_number, page_size)
        pairs = self._tag_filter(tags)
        v.optional_text("InstanceId", instance_id, 1, 256)
        if zone_id is not None:
            zone_id = v.exact_str(require_zone(self.region, zone_id))
        v.optional_text("SnapshotId", snapshot_id, 1, 256)
        ids = v.id_list("DiskIds", disk_ids, max_items=100)
        kind = v.choice("DiskType", disk_type, ("all", "system", "data"))
        cat = None if category is None else self._category(category)
        state = (
            None
            if status is None or (isinstance(status, str) and str.__str__(status) == "All")
            else v.enum_value("Status", status, DiskStatus)
        )
        if encrypted is not None:
            v.boolean("Encrypted", encrypted)
        facets = {
            name: value
            for name, value in (
                ("Status", None if state is None else state.value),
                ("Category", None if cat is None else cat.value),
                ("ZoneId", zone_id),
                ("DiskType", None if kind == "all" else kind),
                ("Encrypted", None if encrypted is None else "true" if encrypted else "false"),
            )
            if value is not None
        }
        if not ids and not pairs and instance_id is None and snapshot_id is None:
            # The region in id order, or the partitions of the facet values named: a slice of
            # each from the token's position.
            with self._world.store.reading():
                page = id_order_page(
                    self._disks,
                    scope="DescribeDisks",
                    next_token=next_token,
                    max_results=max_results,
                    page_number=number,
                    page_size=size,
                    max_limit=500,
                    index=DISKS_BY_FACETS if facets else None,
                    where=facets,
                )
            return finish_read("DescribeDisks", dry_run, page)
        if pairs and not ids and instance_id is None:  # through the tag index
            candidates = self._tagged(self._disks, DISK_TAGS, pairs)
        elif ids:
            candidates = self._disks.named_or_all(ids)
        elif instance_id is None:  # a source snapshot: every disk of the matching partitions
            with self._world.store.reading():
                candidates = self._disks.ordered(
                    DISKS_BY_FACETS,
                    where=facets,
                    descending=False,
                    limit=self._disks.count(DISKS_BY_FACETS, where=facets),
                )
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
            and all(pair in d.tags for pair in pairs)
        ]
        page = token_page(
            found,
            lambda d: (d.disk_id,),
            scope="DescribeDisks",
            next_token=next_token,
            max_results=max_results,
            page_number=number,
            page_size=size,
            max_limit=500,
        )
        return finish_read("DescribeDisks", dry_run, page)

    def describe_disk(self, disk_id: str) -> Disk:
        """Helper (no real action): one disk by id, or ``InvalidDiskId.NotFound``.

        The real API reads one disk with ``describe_disks(disk_ids=[disk_id])``, which answers
        an empty page for a missing id; this helper raises instead.
        """
        return self._disks.get(disk_id)
