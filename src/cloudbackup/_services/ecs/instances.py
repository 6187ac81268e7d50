"""ECS, instances: RunInstances, CreateInstance, Start/Stop/Reboot/DeleteInstance,
DescribeInstances, DescribeInstanceAttribute, and their status transitions.

Part of the layered :class:`~cloudbackup.EcsService`: this layer may use every layer beneath
it (see ``_services/ecs/__init__.py``), never one above.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence

import attrs

from ... import _validate as v
from ..._domain.ecs import (
    CATEGORY_SPECS,
    DATA_DEVICES,
    SYSTEM_DEVICE,
    DiskType,
    Instance,
    InstanceStatus,
)
from ..._domain.limits import SYSTEM_DISK_SIZE_MAX, SYSTEM_DISK_SIZE_MIN
from ..._domain.requests import DataDisk, Page, SystemDisk
from ..._engine import Timer
from ..._events import InstanceCreated, InstanceDeleted, InstanceStatusChanged
from ..._regions import require_zone
from ...errors import IncorrectStatusError, InvalidParameterError, QuotaExceededError
from .._interfaces import instance_tags_changed
from ._core import ACTION_INSTANCE_TRANSITION, ATTACHED_TO, INSTANCE_TAGS, INSTANCES_BY_FACETS
from ._requests import ecs_action, finish_read, id_order_page, token_page
from .images import ImageActions

__all__ = ["InstanceActions"]

SYSTEM_DISK_MIN_SIZE = SYSTEM_DISK_SIZE_MIN
"""``SystemDisk.Size``: at least 20 GiB (``InvalidSystemDiskSize.LessThanMinSize``)."""
SYSTEM_DISK_MAX_SIZE = SYSTEM_DISK_SIZE_MAX
"""``SystemDisk.Size``: at most 2,048 GiB (``InvalidSystemDiskSize.MoreThanMaxSize``)."""

_INSTANCE_TYPE = re.compile(r"^ecs\.[a-z0-9-]+\.[a-z0-9]+$")


class InstanceActions(ImageActions):
    """Instances: RunInstances, CreateInstance, Start/Stop/Reboot/DeleteInstance,
    DescribeInstances, DescribeInstanceAttribute, and their status transitions.
    """

    @ecs_action("RunInstances", dry_run=True, client_token=True)
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
        tags: Sequence[tuple[str, str]] = (),
        client_token: str | None = None,
        dry_run: bool = False,
    ) -> list[str]:
        """``RunInstances``: create ``amount`` instances that start at once.

        Each goes ``Pending`` → ``Running`` after the simulated boot time
        (:attr:`Timings.instance_pending` + :attr:`Timings.instance_start`).

        Args:
            tags: Up to 20 ``(key, value)`` pairs set on each instance and on its disks.
            client_token: Idempotency token (≤64 ASCII): a retry with the same token and
                parameters returns the first ids and creates nothing.
            dry_run: Check the request only: raises ``DryRunOperation`` if it would succeed.

        Returns:
            The new instance ids (``InstanceIdSets``).
        """
        count = v.integer("Amount", amount, 1, 100)
        pairs = self._tags(tags)
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
                tags=pairs,
            )
            for _ in range(count)
        ]

    @ecs_action("CreateInstance", dry_run=True, client_token=True)
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
        tags: Sequence[tuple[str, str]] = (),
        client_token: str | None = None,
        dry_run: bool = False,
    ) -> str:
        """``CreateInstance``: an instance that ends ``Stopped`` after ``Pending``.

        Args:
            tags: Up to 20 ``(key, value)`` pairs set on the instance and its disks.
            client_token: Idempotency token, as for :meth:`run_instances`.
            dry_run: Check the request only: raises ``DryRunOperation`` if it would succeed.

        Returns:
            The new instance id.
        """
        pairs = self._tags(tags)
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
            tags=pairs,
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
        tags: tuple[tuple[str, str], ...] = (),
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
                http_status=400,
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
        self._check_system_disk_size(system.size)

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
            tags=tags,
        )
        self._instances.put(instance)
        instance_tags_changed(world, self.region, instance_id, (), tags)
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
            attach=(instance_id, SYSTEM_DEVICE),
            delete_with_instance=True,
            size_code="InvalidSystemDiskSize.ValueNotSupported",  # below the level's minimum
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
                attach=(instance_id, DATA_DEVICES[index]),
                delete_with_instance=v.boolean(
                    "DataDisk.DeleteWithInstance", spec.delete_with_instance
                ),
                allow_local=True,
                size_code="InvalidDataDiskSize.ValueNotSupported",
            )
        if tags:  # RunInstances/CreateInstance tag the instance's disks too
            for disk in self._disks.members(ATTACHED_TO, instance_id):
                self._disks.put(attrs.evolve(disk, tags=tags))
        delay = world.timings.instance_pending + (
            world.timings.instance_start if start else _dt.timedelta(0)
        )
        self._schedule_transition(instance, delay)
        return instance_id

    @ecs_action("StartInstance", dry_run=True)
    def start_instance(self, instance_id: str, *, dry_run: bool = False) -> None:
        """``StartInstance``: ``Stopped`` → ``Starting`` → ``Running``.

        The instance needs a system disk: one whose system disk was detached cannot boot.
        """
        instance = self._instances.get(instance_id)
        instance.require_status(InstanceStatus.Stopped)
        if not any(
            d.type is DiskType.system
            for d in self._disks.members(ATTACHED_TO, instance.instance_id)
        ):
            raise IncorrectStatusError(
                f"Instance {instance.instance_id} has no system disk attached.",
                code="InvalidInstance.NotFoundSystemDisk",
                ids=(instance.instance_id,),
                recommend="Attach a system disk (attach_disk, instance Stopped) first.",
            )
        self._transition(
            instance,
            InstanceStatus.Starting,
            InstanceStatus.Running,
            self._world.timings.instance_start,
        )

    @ecs_action("StopInstance", dry_run=True)
    def stop_instance(
        self, instance_id: str, *, force_stop: bool = False, dry_run: bool = False
    ) -> None:
        """``StopInstance``: ``Running`` → ``Stopping`` → ``Stopped``."""
        instance = self._instances.get(instance_id)
        v.boolean("ForceStop", force_stop)
        instance.require_status(InstanceStatus.Running)
        self._transition(
            instance,
            InstanceStatus.Stopping,
            InstanceStatus.Stopped,
            self._world.timings.instance_stop,
        )

    @ecs_action("RebootInstance", dry_run=True)
    def reboot_instance(
        self, instance_id: str, *, force_stop: bool = False, dry_run: bool = False
    ) -> None:
        """``RebootInstance``: ``Running`` → ``Starting`` → ``Running``."""
        instance = self._instances.get(instance_id)
        v.boolean("ForceStop", force_stop)
        instance.require_status(InstanceStatus.Running)
        timings = self._world.timings
        self._transition(
            instance,
            InstanceStatus.Starting,
            InstanceStatus.Running,
            timings.instance_stop + timings.instance_start,
        )

    @ecs_action("DeleteInstance", dry_run=True)
    def delete_instance(
        self, instance_id: str, *, force: bool = False, dry_run: bool = False
    ) -> None:
        """``DeleteInstance``: release an instance.

        The instance must be ``Stopped`` (or ``Running`` with ``force=True``). Disks with
        ``delete_with_instance`` are released with it, the others are detached and stay as
        ``Available`` disks. Manual snapshots always survive the release. ``dry_run=True``
        only checks: ``DryRunOperation`` if the release would succeed.
        """
        instance = self._instances.get(instance_id)
        v.boolean("Force", force)
        allowed = (
            (InstanceStatus.Stopped, InstanceStatus.Running) if force else (InstanceStatus.Stopped,)
        )
        instance.require_status(*allowed)
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
        world.engine.cancel_for(ACTION_INSTANCE_TRANSITION, self.region_id, instance_id)
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
        tags: Sequence[tuple[str, str]] | None = None,
        page_number: int = 1,
        page_size: int = 10,
        next_token: str | None = None,
        max_results: int | None = None,
        dry_run: bool = False,
    ) -> Page[Instance]:
        """``DescribeInstances``: instances matching every given filter, a page at a time.

        Args:
            tags: ``Tag.N``: up to 20 ``(key, value)`` pairs an instance must all carry.
            page_number: With ``page_size``, the page-number paging (``PageNumber``).
            next_token: ``NextToken`` of the previous page (token paging, in id order).
            max_results: ``MaxResults`` 1–100 (default 10) for token paging.
            dry_run: Check the request only: raises ``DryRunOperation`` if it would succeed.
        """
        number, size = v.page(page_number, page_size)
        pairs = self._tag_filter(tags)
        if zone_id is not None:
            zone_id = v.exact_str(require_zone(self.region, zone_id))
        v.optional_text("InstanceName", instance_name, 1, 256)
        ids = v.id_list("InstanceIds", instance_ids, max_items=100)
        wanted = None if status is None else v.enum_value("Status", status, InstanceStatus)
        with self._world.store.reading():
            facets = {
                name: value
                for name, value in (
                    ("Status", None if wanted is None else wanted.value),
                    ("ZoneId", zone_id),
                )
                if value is not None
            }
            if not ids and not pairs and instance_name is None:
                # The region in id order, or the partitions of the status and zone named: a
                # slice of each from the token's position.
                page = id_order_page(
                    self._instances,
                    scope="DescribeInstances",
                    next_token=next_token,
                    max_results=max_results,
                    page_number=number,
                    page_size=size,
                    index=INSTANCES_BY_FACETS if facets else None,
                    where=facets,
                )
                return finish_read("DescribeInstances", dry_run, page)
            if pairs and not ids:
                candidates = self._tagged(self._instances, INSTANCE_TAGS, pairs)
            elif ids:
                candidates = self._instances.named_or_all(ids)
            else:  # a name: every instance of the matching partitions
                candidates = self._instances.ordered(
                    INSTANCES_BY_FACETS,
                    where=facets,
                    descending=False,
                    limit=self._instances.count(INSTANCES_BY_FACETS, where=facets),
                )
        found = [
            i
            for i in candidates
            if (zone_id is None or i.zone_id == zone_id)
            and (wanted is None or i.status is wanted)
            and (instance_name is None or i.instance_name == instance_name)
            and all(pair in i.tags for pair in pairs)
        ]
        page = token_page(
            found,
            lambda i: (i.instance_id,),
            scope="DescribeInstances",
            next_token=next_token,
            max_results=max_results,
            page_number=number,
            page_size=size,
        )
        return finish_read("DescribeInstances", dry_run, page)

    def describe_instance_attribute(self, instance_id: str) -> Instance:
        """``DescribeInstanceAttribute``: one instance by id (``InvalidInstanceId.NotFound``)."""
        return self._instances.get(instance_id)

    @staticmethod
    def _check_system_disk_size(size: object) -> None:
        """``SystemDisk.Size``: an integer from 20 to 2,048 GiB, refused with the real
        ``InvalidSystemDiskSize`` family (404, as the RunInstances/CreateInstance error tables
        document it)."""
        if isinstance(size, bool) or not isinstance(size, int):
            raise InvalidParameterError(
                f"The specified parameter SystemDisk.Size {size!r} is invalid.",
                code="InvalidSystemDiskSize",
                http_status=404,
                recommend="Pass the system disk size as an integer number of GiB, 20 to 2048.",
            )
        if size < SYSTEM_DISK_MIN_SIZE:
            raise InvalidParameterError(
                f"The specified parameter SystemDisk.Size {int(size)} is less than the min "
                f"size {SYSTEM_DISK_MIN_SIZE} GiB.",
                code="InvalidSystemDiskSize.LessThanMinSize",
                http_status=404,
                recommend=f"Use a system disk of at least {SYSTEM_DISK_MIN_SIZE} GiB.",
            )
        if size > SYSTEM_DISK_MAX_SIZE:
            raise InvalidParameterError(
                f"The specified parameter SystemDisk.Size {int(size)} is more than the max "
                f"size {SYSTEM_DISK_MAX_SIZE} GiB.",
                code="InvalidSystemDiskSize.MoreThanMaxSize",
                http_status=404,
                recommend=f"Use a system disk of at most {SYSTEM_DISK_MAX_SIZE} GiB.",
            )

    def _schedule_transition(self, instance: Instance, delay: _dt.timedelta) -> None:
        target = instance.transition_target
        assert target is not None
        self._world.engine.schedule(
            self._due(delay, f"The transition to {target.value}", instance.instance_id),
            ACTION_INSTANCE_TRANSITION,
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
        updated = instance.moving(status, target)
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
        self._set_instance(instance, instance.arrived(self._world.now()))
