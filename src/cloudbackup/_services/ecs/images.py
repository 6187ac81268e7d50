"""ECS, custom images from snapshots: CreateImage, DescribeImages, DeleteImage.

Part of the layered :class:`~cloudbackup.EcsService`: this layer may use every layer beneath
it (see ``_services/ecs/__init__.py``), never one above.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ... import _validate as v
from ..._domain.ecs import DATA_DEVICES, SYSTEM_DEVICE, DiskType, Image, ImageDiskMapping, Snapshot
from ..._domain.limits import DESCRIPTION_MAX, DESCRIPTION_MIN, IMAGE_DATA_DISKS_MAX
from ..._domain.requests import DiskDeviceMapping, Page, paginate
from ..._events import ImageCreated, ImageDeleted
from ...errors import DependencyViolationError, InvalidParameterError
from ._requests import ecs_action, finish_read
from .reset import ResetActions

__all__ = ["ImageActions"]


class ImageActions(ResetActions):
    """Custom images from snapshots: CreateImage, DescribeImages, DeleteImage."""

    @ecs_action("CreateImage", dry_run=True, client_token=True)
    def create_image(
        self,
        *,
        snapshot_id: str | None = None,
        disk_device_mappings: Sequence[DiskDeviceMapping] = (),
        image_name: str | None = None,
        description: str | None = None,
        tags: Sequence[tuple[str, str]] = (),
        client_token: str | None = None,
        dry_run: bool = False,
    ) -> str:
        """``CreateImage`` from snapshots: a system-disk snapshot, or device mappings of one
        system disk and up to 16 data disks.

        ``tags`` are up to 20 ``(key, value)`` pairs; ``client_token`` (≤64 ASCII) makes a
        retry with the same parameters return the first image id and create nothing;
        ``dry_run=True`` only checks: ``DryRunOperation`` if the image would be created.

        Returns:
            The new ``m-…`` image id.
        """
        world = self._world
        pairs = self._tags(tags)
        name = v.name_text("ImageName", image_name, code="InvalidImageName.Malformed")
        desc = v.optional_text(
            "Description",
            description,
            DESCRIPTION_MIN,
            DESCRIPTION_MAX,
            code="InvalidDescription.Malformed",
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
        if len(specs) > 1 + IMAGE_DATA_DISKS_MAX:
            raise InvalidParameterError(
                f"An image takes one system disk and at most {IMAGE_DATA_DISKS_MAX} data disks.",
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
                    else "InvalidSize.ValueNotSupported",
                    http_status=403
                    if isinstance(spec.size, int) and spec.size < snapshot.source_disk_size
                    else None,
                )
            )
            if kind is DiskType.system:
                device = SYSTEM_DEVICE
            else:
                free = [d for d in DATA_DEVICES if d not in used_devices]
                device = spec.device if spec.device is not None else free[0]
            if (
                not isinstance(device, str)
                or device in used_devices
                or (device != SYSTEM_DEVICE and device not in DATA_DEVICES)
                or (kind is DiskType.data and device == SYSTEM_DEVICE)
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
            tags=pairs,
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
        dry_run: bool = False,
    ) -> Page[Image]:
        """``DescribeImages`` (custom images of this account); ``dry_run=True`` only checks
        the request (``DryRunOperation`` if it would succeed)."""
        number, size = v.page(page_number, page_size)
        v.optional_text("SnapshotId", snapshot_id, 1, 256)
        ids = v.id_list("ImageId", image_ids, max_items=100)
        if not ids and snapshot_id is None:
            # The region's images in id order: the page and the images before it, not the rest.
            with self._world.store.reading():
                total = self._images.count_all()
                found = self._images.in_id_order(after=None, limit=number * size)
            page = Page(tuple(found[(number - 1) * size :]), total, number, size)
            return finish_read("DescribeImages", dry_run, page)
        found = [
            i
            for i in self._images.named_or_all(ids)
            if (
                snapshot_id is None
                or any(m.snapshot_id == snapshot_id for m in i.disk_device_mappings)
            )
        ]
        return finish_read("DescribeImages", dry_run, paginate(found, number, size))

    @ecs_action("DeleteImage", dry_run=True)
    def delete_image(self, image_id: str, *, dry_run: bool = False) -> None:
        """``DeleteImage``: the image's snapshots become deletable again.

        A snapshot whose retention ran out while the image held it is released now.
        ``dry_run=True`` only checks: ``DryRunOperation`` if the image would be deleted.
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
