"""The ECS rules of the state machine: instances, disks, guest I/O, snapshots, groups, locks,
resets and images.

Most rules aim (see :data:`~.base.AIM`): they pick resources in the state the call needs, so
that runs reach deep states (disks restored from snapshots, snapshotted again, expiring); one
call in five picks any resource and is usually refused, which proves the refusal changes
nothing.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from ... import DataDisk, DiskDeviceMapping, ResetDiskSpec, SystemDisk
from ..._domain.ecs import (
    CATEGORY_SPECS,
    PL_MIN_SIZE,
    DiskCategory,
    DiskType,
    InstanceStatus,
    PerformanceLevel,
)
from ..._services.kms import ECS_SERVICE_ALIAS
from .. import strategies as cbst
from .._invariants import world_state
from .base import AIM, PICK, RARELY, MachineBase, _Rejected, all_pages, same
from .model import (
    NOT_FOUND,
    STABLE,
    DiskModel,
    InstanceModel,
    KeyModel,
    LockModel,
    SnapshotModel,
)

__all__ = ["EcsRules"]


@st.composite
def disk_specs(draw: st.DrawFn, system: bool, local: bool | None = None) -> dict[str, Any]:
    """What the machine asks for when it creates a disk: category, level, a small size, and
    how to encrypt it (plain, with the service key, or with some key of the model's)."""
    if system:
        category = draw(cbst.disk_categories(system_disk=True))
    else:
        category = draw(cbst.disk_categories(local=local))
    level = None
    if category is DiskCategory.cloud_essd:
        level = draw(st.none() | cbst.performance_levels())
        low = PL_MIN_SIZE[level or PerformanceLevel.PL1]
    else:
        low = CATEGORY_SPECS[category].min_size
    if system:
        low = max(low, 20)
    return {
        "category": category,
        "level": level,
        "size": low + draw(st.integers(0, 2)),
        "encryption": draw(st.sampled_from(["plain", "plain", "service", "key"])),
        "key_pick": draw(PICK),
        "key_form": draw(st.sampled_from(["id", "alias", "arn"])),
        "delete_with_instance": draw(st.booleans()),
    }


class EcsRules(MachineBase):
    """Rules for every ECS call the machine makes, and the ECS agreement check."""

    # ================================================================================
    # Helpers
    # ================================================================================
    def learn_service_key(self, region_id: str) -> str:
        """The ECS service key of a region (KMS creates it on first use), now in the model."""
        key = self.kms(region_id).describe_key(ECS_SERVICE_ALIAS)
        if key.key_id not in self.model.keys:
            self.model.keys[key.key_id] = KeyModel(
                key.key_id, region_id, key.key_spec, service=True
            )
            self.model.aliases[(region_id, ECS_SERVICE_ALIAS)] = key.key_id
        return key.key_id

    def final_key(self, region_id: str, ref: str | None) -> str:
        """The key id a new encrypted disk ends up with."""
        if ref is None:
            return self.learn_service_key(region_id)
        key = self.model.resolve(region_id, ref)
        assert key is not None
        return key.key_id

    def spec_problems(
        self, region_id: str, spec: dict[str, Any], aim: bool = False
    ) -> tuple[set[str], str | None]:
        """Why a disk of ``spec`` cannot be created, and the key reference it names."""
        encrypted = spec["encryption"] != "plain"
        ref = None
        if spec["encryption"] == "key":
            ref = self.model.key_ref(region_id, spec["key_pick"], spec["key_form"], aim)
        problems = set()
        category_spec = CATEGORY_SPECS[spec["category"]]
        if encrypted and (category_spec.local or not category_spec.snapshot):
            problems.add("InvalidParameter.Encrypted")
        elif encrypted:
            problems |= self.model.cmk_problems(region_id, ref)
        return problems, ref

    @staticmethod
    def _encryptable(spec: dict[str, Any]) -> dict[str, Any]:
        """``spec``, unencrypted if its category cannot be encrypted."""
        category_spec = CATEGORY_SPECS[spec["category"]]
        if category_spec.local or not category_spec.snapshot:
            return {**spec, "encryption": "plain"}
        return spec

    def settle_stopped(self, instance_ids: list[str]) -> None:
        """Stop the Running ones of some instances and let them reach Stopped."""
        stopping = False
        for instance_id in instance_ids:
            instance = self.model.instances[instance_id]
            if instance.status is InstanceStatus.Running:
                stop = self.ecs(instance.region_id).stop_instance
                if self.ok("stop_instance", set(), lambda: stop(instance_id)):  # noqa: B023
                    self.move(
                        instance_id,
                        InstanceStatus.Stopping,
                        InstanceStatus.Stopped,
                        self.TIMINGS.instance_stop,
                    )
                    stopping = True
        if stopping:
            self.advance_time(60)

    def move(
        self,
        instance_id: str,
        status: InstanceStatus,
        target: InstanceStatus,
        delay: _dt.timedelta,
        settle: bool = False,
    ) -> None:
        """An instance starts a transition in the model."""
        instance = self.model.instances[instance_id]
        instance.status, instance.target, instance.due = status, target, self.now + delay
        if settle:
            self.advance_time(60)

    # ================================================================================
    # Instances
    # ================================================================================
    @precondition(lambda self: len(self.instances) < self.MAX_INSTANCES)
    @rule(
        region_pick=PICK,
        zone_pick=PICK,
        system=disk_specs(system=True),
        data=st.lists(disk_specs(system=False), max_size=5),
        start=st.booleans(),
        instance_type=cbst.instance_types(),
        settle=st.booleans(),
        aim=AIM,
    )
    def create_instance(
        self,
        region_pick: int,
        zone_pick: int,
        system: dict[str, Any],
        data: list[dict[str, Any]],
        start: bool,
        instance_type: str,
        settle: bool = False,
        aim: bool = False,
    ) -> None:
        """``run_instances`` (starts) or ``create_instance`` (stays Stopped); with ``settle``
        a minute passes afterwards, so the instance is Running or Stopped."""
        region = self.pick(self.REGION_IDS, region_pick)
        zone = self.pick(self.zones(region), zone_pick)
        if aim:
            data = [self._encryptable(s) for s in data[: self.LIMITS.data_disks_per_instance]]
            system = self._encryptable(system)
        problems, system_ref = self.spec_problems(region, system, aim)
        refs = []
        for spec in data:
            more, ref = self.spec_problems(region, spec, aim)
            problems |= more
            refs.append(ref)
        if len(data) > self.LIMITS.data_disks_per_instance:
            problems.add("InstanceDiskNumber.LimitExceed")

        def request(spec: dict[str, Any], ref: str | None) -> dict[str, Any]:
            encrypted = spec["encryption"] != "plain"
            return {
                "category": spec["category"].value,
                "size": spec["size"],
                "performance_level": None if spec["level"] is None else spec["level"].value,
                "encrypted": encrypted,
                "kms_key_id": ref if encrypted else None,
            }

        system_disk = SystemDisk(**request(system, system_ref))
        data_disks = [
            DataDisk(**request(s, r), delete_with_instance=s["delete_with_instance"])
            for s, r in zip(data, refs, strict=True)
        ]
        ecs = self.ecs(region)

        def call() -> str:
            kwargs: dict[str, Any] = {
                "zone_id": zone,
                "instance_type": instance_type,
                "system_disk": system_disk,
                "data_disks": data_disks,
            }
            if start:
                [instance_id] = ecs.run_instances(**kwargs)
                return instance_id
            return ecs.create_instance(**kwargs)

        result = self.attempt("create_instance", problems, call)
        if isinstance(result, _Rejected):
            return
        delay = self.TIMINGS.instance_pending + (
            self.TIMINGS.instance_start if start else _dt.timedelta(0)
        )
        self.model.instances[result] = InstanceModel(
            result,
            region,
            zone,
            InstanceStatus.Pending,
            InstanceStatus.Running if start else InstanceStatus.Stopped,
            self.now + delay,
        )
        # The system disk, then the data disks in device order (the order they were asked for).
        disks = sorted(
            ecs.describe_disks(instance_id=result, page_size=100).items,
            key=lambda d: (d.type is not DiskType.system, d.device or ""),
        )
        wanted = [
            (system, system_ref, True),
            *((s, r, s["delete_with_instance"]) for s, r in zip(data, refs, strict=True)),
        ]
        assert len(disks) == len(wanted), (disks, wanted)
        for disk, (spec, ref, dwi) in zip(disks, wanted, strict=True):
            encrypted = spec["encryption"] != "plain"
            self.model.disks[disk.disk_id] = DiskModel(
                disk_id=disk.disk_id,
                region_id=region,
                zone_id=zone,
                category=spec["category"],
                size=spec["size"],
                type=disk.type,
                data=bytearray(self.WRITE_SPAN),
                attached=[result],
                key_id=self.final_key(region, ref) if encrypted else None,
                delete_with_instance=dwi,
                ever_attached=True,
            )
        if settle:
            self.advance_time(60)

    def _instance_rule(
        self, pick: int, gone: bool, aim: bool, allowed: tuple[InstanceStatus, ...]
    ) -> tuple[str, str, set[str]] | None:
        pool = self.aimed(list(self.instances), lambda i: self.instances[i].status in allowed, aim)
        if not pool and not (gone and self.model.gone["instance"]):
            return None
        instance_id = self.id_or_gone("instance", pool, pick, gone)
        instance = self.instances.get(instance_id)
        if instance is None:
            return instance_id, self.REGION_IDS[0], {NOT_FOUND["instance"]}
        problems = set() if instance.status in allowed else {"IncorrectInstanceStatus"}
        return instance_id, instance.region_id, problems

    @precondition(lambda self: self.instances)
    @rule(pick=PICK, gone=RARELY, settle=st.booleans(), aim=AIM)
    def start_instance(self, pick: int, gone: bool, settle: bool, aim: bool) -> None:
        """``start_instance``: Stopped → Starting → Running (it needs a system disk)."""
        chosen = self._instance_rule(pick, gone, aim, (InstanceStatus.Stopped,))
        if chosen is None:
            self.idle("start_instance")
            return
        instance_id, region, problems = chosen
        if instance_id in self.instances and not any(
            d.type is DiskType.system for d in self.model.instance_disks(instance_id)
        ):
            problems.add("InvalidOperation.NoSystemDisk")
        if self.ok(
            "start_instance", problems, lambda: self.ecs(region).start_instance(instance_id)
        ):
            self.move(
                instance_id,
                InstanceStatus.Starting,
                InstanceStatus.Running,
                self.TIMINGS.instance_start,
                settle,
            )

    @precondition(lambda self: self.instances)
    @rule(pick=PICK, gone=RARELY, settle=st.booleans(), aim=AIM)
    def stop_instance(self, pick: int, gone: bool, settle: bool, aim: bool) -> None:
        """``stop_instance``: Running → Stopping → Stopped."""
        chosen = self._instance_rule(pick, gone, aim, (InstanceStatus.Running,))
        if chosen is None:
            self.idle("stop_instance")
            return
        instance_id, region, problems = chosen
        if self.ok("stop_instance", problems, lambda: self.ecs(region).stop_instance(instance_id)):
            self.move(
                instance_id,
                InstanceStatus.Stopping,
                InstanceStatus.Stopped,
                self.TIMINGS.instance_stop,
                settle,
            )

    @precondition(lambda self: self.instances)
    @rule(pick=PICK, gone=RARELY, aim=AIM)
    def reboot_instance(self, pick: int, gone: bool, aim: bool) -> None:
        """``reboot_instance``: Running → Starting → Running."""
        chosen = self._instance_rule(pick, gone, aim, (InstanceStatus.Running,))
        if chosen is None:
            self.idle("reboot_instance")
            return
        instance_id, region, problems = chosen
        ecs = self.ecs(region)
        if self.ok("reboot_instance", problems, lambda: ecs.reboot_instance(instance_id)):
            self.move(
                instance_id,
                InstanceStatus.Starting,
                InstanceStatus.Running,
                self.TIMINGS.instance_stop + self.TIMINGS.instance_start,
            )

    @precondition(lambda self: self.instances)
    @rule(pick=PICK, gone=RARELY, force=st.booleans(), aim=AIM)
    def delete_instance(self, pick: int, gone: bool, force: bool, aim: bool) -> None:
        """``delete_instance``: disks with delete_with_instance (and local disks) go with it."""
        allowed = STABLE if force else (InstanceStatus.Stopped,)
        chosen = self._instance_rule(pick, gone, aim, allowed)
        if chosen is None:
            self.idle("delete_instance")
            return
        instance_id, region, problems = chosen

        def call() -> object:
            return self.ecs(region).delete_instance(instance_id, force=force)

        if not self.ok("delete_instance", problems, call):
            return
        for disk in self.model.instance_disks(instance_id):
            shared_elsewhere = any(i != instance_id for i in disk.attached)
            local = CATEGORY_SPECS[disk.category].local
            if (disk.delete_with_instance or local) and not shared_elsewhere:
                for happened in self.model.destroy_disk(disk):
                    self.note(happened)
            else:
                disk.attached.remove(instance_id)
        del self.model.instances[instance_id]
        self.model.gone["instance"].append(instance_id)

    # ================================================================================
    # Disks
    # ================================================================================
    @precondition(lambda self: len(self.disks) < self.MAX_DISKS)
    @rule(
        region_pick=PICK,
        zone_pick=PICK,
        spec=disk_specs(system=False, local=False) | disk_specs(system=False),
        multi_attach=st.booleans(),
        aim=AIM,
    )
    def create_disk(
        self, region_pick: int, zone_pick: int, spec: dict[str, Any], multi_attach: bool, aim: bool
    ) -> None:
        """``create_disk``: an empty data disk of any category (local ones are refused)."""
        region = self.pick(self.REGION_IDS, region_pick)
        zone = self.pick(self.zones(region), zone_pick)
        category: DiskCategory = spec["category"]
        if aim:
            spec = self._encryptable(spec)
        problems, ref = self.spec_problems(region, spec, aim)
        if aim and category is not DiskCategory.cloud_essd:
            multi_attach = False
        if CATEGORY_SPECS[category].local:
            problems = {"InvalidDiskCategory.ValueNotSupported"}
        if multi_attach and category is not DiskCategory.cloud_essd:
            problems.add("InvalidParameter.MultiAttach")
        encrypted = spec["encryption"] != "plain"
        result = self.attempt(
            "create_disk",
            problems,
            lambda: self.ecs(region).create_disk(
                zone_id=zone,
                disk_category=category.value,
                size=spec["size"],
                performance_level=None if spec["level"] is None else spec["level"].value,
                encrypted=encrypted,
                kms_key_id=ref,
                multi_attach="Enabled" if multi_attach else "Disabled",
            ),
        )
        if isinstance(result, _Rejected):
            return
        self.model.disks[result] = DiskModel(
            disk_id=result,
            region_id=region,
            zone_id=zone,
            category=category,
            size=spec["size"],
            type=DiskType.data,
            data=bytearray(self.WRITE_SPAN),
            multi_attach=multi_attach,
            key_id=self.final_key(region, ref) if encrypted else None,
        )

    @staticmethod
    def _essd_growth(snapshot: SnapshotModel) -> int | None:
        """How many GiB an ESSD (PL1) made from ``snapshot`` must grow to be valid."""
        growth = PL_MIN_SIZE[PerformanceLevel.PL1] - snapshot.source_size
        return growth if growth > 0 else None

    def _restorable(self, snapshot: SnapshotModel) -> bool:
        return snapshot.available and not self.model.cmk_problems(
            snapshot.region_id, snapshot.key_id
        )

    @precondition(lambda self: self.snapshots or self.model.gone["snapshot"])
    @rule(
        pick=PICK,
        gone=RARELY,
        zone_pick=PICK,
        category=cbst.disk_categories(local=False),
        level=st.none() | cbst.performance_levels(),
        size_delta=st.none() | st.integers(-1, 3),
        encrypted=st.sampled_from([None, True, False]),
        key_pick=PICK,
        key_form=st.sampled_from(["id", "alias", "arn", "none"]),
        aim=AIM,
        attach=st.booleans(),
        retention=st.none() | st.integers(1, 3),
    )
    def create_disk_from_snapshot(
        self,
        pick: int,
        gone: bool,
        zone_pick: int,
        category: DiskCategory,
        level: PerformanceLevel | None,
        size_delta: int | None,
        encrypted: bool | None,
        key_pick: int,
        key_form: str,
        aim: bool,
        attach: bool = False,
        retention: int | None = None,
    ) -> None:
        """``create_disk(snapshot_id=...)``: the new disk holds exactly the snapshot's bytes.
        Aimed with ``attach``, it is a whole restore (:meth:`restore_snapshot_to_instance`)."""
        if aim and attach:
            self.restore_snapshot_to_instance(pick, zone_pick, key_pick % 2 == 0, retention)
            return
        pool = self.aimed(list(self.snapshots), lambda s: self._restorable(self.snapshots[s]), aim)
        if not pool and not (gone and self.model.gone["snapshot"]):
            self.idle("create_disk_from_snapshot")
            return
        snapshot_id = self.id_or_gone("snapshot", pool, pick, gone)
        snapshot = self.snapshots.get(snapshot_id)
        region = snapshot.region_id if snapshot is not None else self.REGION_IDS[-1]
        zone = self.pick(self.zones(region), zone_pick)
        if aim:
            category, level = DiskCategory.cloud_essd, None
            size_delta = None if snapshot is None else self._essd_growth(snapshot)
            if snapshot is not None and snapshot.key_id is not None and encrypted is False:
                encrypted = None
        if category is not DiskCategory.cloud_essd:
            level = None
        ref = None
        if encrypted and key_form != "none":
            ref = self.model.key_ref(region, key_pick, key_form, aim)
        self._create_from_snapshot(
            snapshot_id, snapshot, region, zone, category, level, size_delta, encrypted, ref
        )

    def _create_from_snapshot(
        self,
        snapshot_id: str,
        snapshot: SnapshotModel | None,
        region: str,
        zone: str,
        category: DiskCategory,
        level: PerformanceLevel | None,
        size_delta: int | None,
        encrypted: bool | None,
        ref: str | None,
    ) -> DiskModel | None:
        size = None if size_delta is None or snapshot is None else snapshot.source_size + size_delta
        problems: set[str] = set()
        spec = CATEGORY_SPECS[category]
        if snapshot is None:
            problems.add(NOT_FOUND["snapshot"])
        else:
            if not spec.from_snapshot:
                problems.add("InvalidDiskCategory.ValueNotSupported")
            if not snapshot.available:
                problems.add("InvalidSnapshotId.NotReady")
            # CreateDisk gives a disk of max(Size, the snapshot's source size).
            gib = snapshot.source_size if size is None else max(size, snapshot.source_size)
            minimum = (
                PL_MIN_SIZE[level or PerformanceLevel.PL1]
                if category is DiskCategory.cloud_essd
                else spec.min_size
            )
            if not minimum <= gib <= spec.max_size:
                problems.add("InvalidDiskSize.ValueNotSupported")
            if snapshot.key_id is not None and encrypted is False:
                problems.add("InvalidEncrypted.NotMatchSnapshot")
            will_encrypt = bool(encrypted) or snapshot.key_id is not None
            if will_encrypt:
                if ref is None and snapshot.key_id is not None:
                    problems |= self.model.cmk_problems(region, snapshot.key_id)
                else:
                    problems |= self.model.cmk_problems(region, ref)
                    target = self.model.resolve(region, ref) if ref is not None else None
                    if snapshot.key_id is not None and (
                        target is None or target.key_id != snapshot.key_id
                    ):
                        problems |= self.model.open_problems(region, snapshot.key_id)
        result = self.attempt(
            "create_disk_from_snapshot",
            problems,
            lambda: self.ecs(region).create_disk(
                zone_id=zone,
                disk_category=category.value,
                size=size,
                snapshot_id=snapshot_id,
                performance_level=None if level is None else level.value,
                encrypted=encrypted,
                kms_key_id=ref,
            ),
        )
        if isinstance(result, _Rejected):
            return None
        assert snapshot is not None
        key_id = None
        if encrypted or snapshot.key_id is not None:
            key_id = (
                snapshot.key_id
                if ref is None and snapshot.key_id is not None
                else self.final_key(region, ref)
            )
        disk = self.model.disks[result] = DiskModel(
            disk_id=result,
            region_id=region,
            zone_id=zone,
            category=category,
            size=snapshot.source_size if size is None else max(size, snapshot.source_size),
            type=DiskType.data,
            data=bytearray(snapshot.data),
            key_id=key_id,
            source_snapshot_id=snapshot_id,
        )
        snapshot.disk_refs += 1
        if snapshot.of_restored_disk:
            self.note("disk created from a snapshot of a restored disk")
        return disk

    @precondition(lambda self: self.snapshots)
    @rule(
        pick=PICK,
        instance_pick=PICK,
        second=st.booleans(),
        retention=st.none() | st.integers(1, 3),
    )
    def restore_snapshot_to_instance(
        self, pick: int, instance_pick: int, second: bool, retention: int | None
    ) -> None:
        """Restore a snapshot the way a user does: a new disk from it in a Running instance's
        zone, attached, and read back by the guest: exactly the snapshot's bytes. With
        ``second``, snapshots of restored disks come first (a second-generation restore); with
        a ``retention``, the restored disk is snapshotted at once, kept that many days."""
        running = [i for i, x in self.instances.items() if x.status is InstanceStatus.Running]
        regions = {self.instances[i].region_id for i in running}
        pool = [
            s for s, x in self.snapshots.items() if x.region_id in regions and self._restorable(x)
        ]
        if second:
            pool = [s for s in pool if self.snapshots[s].of_restored_disk] or pool
        if not pool:
            self.idle("restore_snapshot_to_instance")
            return
        snapshot = self.snapshots[self.pick(pool, pick)]
        candidates = [i for i in running if self.instances[i].region_id == snapshot.region_id]
        roomy = [i for i in candidates if self._data_disk_room(i)]
        instance_id = self.pick(roomy or candidates, instance_pick)
        if not roomy and not self._free_a_data_slot(instance_id):
            self.idle("restore_snapshot_to_instance")
            return
        instance = self.instances[instance_id]
        disk = self._create_from_snapshot(
            snapshot.snapshot_id,
            snapshot,
            snapshot.region_id,
            instance.zone_id,
            DiskCategory.cloud_essd,
            None,
            self._essd_growth(snapshot),
            None,
            None,
        )
        if disk is None:
            raise AssertionError(f"restoring {snapshot.snapshot_id} was refused")
        if not self._attach(disk, instance, None, "restore_snapshot_to_instance"):
            raise AssertionError(f"attaching the disk restored from {snapshot.snapshot_id} failed")
        if not self.check_disk_bytes(disk):
            raise AssertionError(f"restored disk {disk.disk_id} cannot be read")
        self.note(
            "restored and read a snapshot of a restored disk"
            if snapshot.of_restored_disk
            else "restored and read a snapshot"
        )
        if retention is None:
            return
        problems = self.model.snapshot_problems(disk)
        ecs = self.ecs(disk.region_id)
        result = self.attempt(
            "create_snapshot",
            problems,
            lambda: ecs.create_snapshot(disk_id=disk.disk_id, retention_days=retention),
        )
        if not isinstance(result, _Rejected):
            self.model.new_snapshot(result, disk, retention, None)
            self.note("snapshot of a restored disk")

    def _data_disk_room(self, instance_id: str) -> bool:
        data = [d for d in self.model.instance_disks(instance_id) if d.type is DiskType.data]
        return len(data) < self.LIMITS.data_disks_per_instance

    def _free_a_data_slot(self, instance_id: str) -> bool:
        """Detach and delete one data disk of a full instance (one attached only there)."""
        instance = self.instances[instance_id]
        for disk in self.model.instance_disks(instance_id):
            if disk.type is not DiskType.data or disk.attached != [instance_id]:
                continue
            if self.model.detach_problems(disk, instance):
                continue
            ecs, disk_id = self.ecs(disk.region_id), disk.disk_id
            self.ok(
                "detach_disk",
                set(),
                lambda: ecs.detach_disk(instance_id=instance_id, disk_id=disk_id),  # noqa: B023
            )
            disk.attached.remove(instance_id)
            self.ok("delete_disk", set(), lambda: ecs.delete_disk(disk_id))  # noqa: B023
            for happened in self.model.destroy_disk(disk):
                self.note(happened)
            return True
        return False

    def _attach(
        self, disk: DiskModel, instance: InstanceModel, dwi: bool | None, what: str
    ) -> bool:
        problems = self.model.attach_problems(disk, instance)

        def call() -> object:
            return self.ecs(disk.region_id).attach_disk(
                instance_id=instance.instance_id, disk_id=disk.disk_id, delete_with_instance=dwi
            )

        if not self.ok(what, problems, call):
            return False
        disk.attached.append(instance.instance_id)
        disk.ever_attached = True
        if dwi is not None:
            disk.delete_with_instance = dwi
        return True

    @precondition(lambda self: self.disks and self.instances)
    @rule(
        disk_pick=PICK,
        instance_pick=PICK,
        gone=RARELY,
        delete_with_instance=st.sampled_from([None, True, False]),
        aim=AIM,
    )
    def attach_disk(
        self,
        disk_pick: int,
        instance_pick: int,
        gone: bool,
        delete_with_instance: bool | None,
        aim: bool,
    ) -> None:
        """``attach_disk``: a detached disk to an instance of its zone (or, one time in five,
        any disk to any instance of the region)."""
        if aim and not gone:
            pairs = [
                (d, i)
                for d, disk in self.disks.items()
                for i, instance in self.instances.items()
                if instance.region_id == disk.region_id
                and not self.model.attach_problems(disk, instance)
            ]
            if pairs:
                disk_id, instance_id = self.pick(pairs, disk_pick)
                attached = self._attach(
                    self.disks[disk_id],
                    self.instances[instance_id],
                    delete_with_instance,
                    "attach_disk",
                )
                assert attached
                return
            self.idle("attach_disk")
            return
        disk_id = self.id_or_gone("disk", self.disks, disk_pick, gone)
        disk = self.disks.get(disk_id)
        region = disk.region_id if disk is not None else self.REGION_IDS[0]
        same_region = [i for i, x in self.instances.items() if x.region_id == region]
        instance_id = self.pick(same_region or list(self.instances), instance_pick)
        instance = self.instances[instance_id]
        if disk is not None and instance.region_id == region:
            self._attach(disk, instance, delete_with_instance, "attach_disk")
            return
        problems = {NOT_FOUND["disk"] if disk is None else NOT_FOUND["instance"]}

        def call() -> object:
            return self.ecs(region).attach_disk(
                instance_id=instance_id, disk_id=disk_id, delete_with_instance=delete_with_instance
            )

        self.attempt("attach_disk", problems, call)

    @precondition(lambda self: any(d.attached for d in self.disks.values()))
    @rule(
        pick=PICK, wrong=RARELY, delete_with_instance=st.sampled_from([None, True, False]), aim=AIM
    )
    def detach_disk(
        self, pick: int, wrong: bool, delete_with_instance: bool | None, aim: bool
    ) -> None:
        """``detach_disk``: a disk from one of its instances (or from one it is not on)."""
        pairs = [(d, i) for d, x in self.disks.items() for i in x.attached]
        fitting = self.aimed(
            pairs,
            lambda p: not self.model.detach_problems(self.disks[p[0]], self.instances[p[1]]),
            aim and not wrong,
        )
        if not fitting:
            self.idle("detach_disk")
            return
        disk_id, instance_id = self.pick(fitting, pick)
        disk = self.disks[disk_id]
        if wrong:
            instance_id = self.pick(
                [i for i, x in self.instances.items() if x.region_id == disk.region_id], pick
            )
        problems = self.model.detach_problems(disk, self.instances[instance_id])

        def call() -> object:
            return self.ecs(disk.region_id).detach_disk(
                instance_id=instance_id,
                disk_id=disk_id,
                delete_with_instance=delete_with_instance,
            )

        if self.ok("detach_disk", problems, call):
            disk.attached.remove(instance_id)
            if delete_with_instance is not None:
                disk.delete_with_instance = delete_with_instance

    @precondition(lambda self: self.disks)
    @rule(pick=PICK, gone=RARELY, aim=AIM)
    def delete_disk(self, pick: int, gone: bool, aim: bool) -> None:
        """``delete_disk``: only Available disks; their manual snapshots survive."""
        pool = self.aimed(list(self.disks), lambda d: not self.disks[d].attached, aim)
        if not pool and not (gone and self.model.gone["disk"]):
            self.idle("delete_disk")
            return
        disk_id = self.id_or_gone("disk", pool, pick, gone)
        disk = self.disks.get(disk_id)
        region = disk.region_id if disk is not None else self.REGION_IDS[0]
        problems = {NOT_FOUND["disk"]} if disk is None else set()
        if disk is not None and disk.attached:
            problems.add("IncorrectDiskStatus")
        if self.ok("delete_disk", problems, lambda: self.ecs(region).delete_disk(disk_id)):
            assert disk is not None
            for happened in self.model.destroy_disk(disk):
                self.note(happened)

    @precondition(lambda self: self.disks)
    @rule(pick=PICK, delta=st.integers(-1, 3), aim=AIM)
    def resize_disk(self, pick: int, delta: int, aim: bool) -> None:
        """``resize_disk``: grow only, up to the category's (or a system disk's) maximum."""
        pool = self.aimed(
            list(self.disks), lambda d: not CATEGORY_SPECS[self.disks[d].category].local, aim
        )
        if not pool:
            self.idle("resize_disk")
            return
        disk_id = self.pick(pool, pick)
        disk = self.disks[disk_id]
        if aim:
            delta = max(delta, 1)
        new_size = disk.size + delta
        limit = CATEGORY_SPECS[disk.category].max_size
        if disk.type is DiskType.system:
            limit = min(limit, 2048)
        problems = set() if disk.size < new_size <= limit else {"InvalidDiskSize.ValueNotSupported"}
        if CATEGORY_SPECS[disk.category].local:
            problems.add("DiskCategory.OperationNotSupported")

        def call() -> object:
            return self.ecs(disk.region_id).resize_disk(disk_id=disk_id, new_size=new_size)

        if self.ok("resize_disk", problems, call):
            disk.size = new_size

    # ================================================================================
    # The guest's data plane
    # ================================================================================
    @precondition(lambda self: self.disks)
    @rule(
        pick=PICK,
        write=cbst.block_writes(disk_size_bytes=MachineBase.WRITE_SPAN, max_size=3 * 4096),
        aim=AIM,
    )
    def write_disk(self, pick: int, write: tuple[int, bytes], aim: bool) -> None:
        """A guest writes bytes; the model's copy of the disk changes the same way."""
        pool = self.aimed(
            list(self.disks), lambda d: not self.model.io_problems(self.disks[d]), aim
        )
        if not pool:
            self.idle("write_disk")
            return
        disk_id = self.pick(pool, pick)
        disk = self.disks[disk_id]
        offset, data = write
        offset %= self.WRITE_SPAN
        data = data[: self.WRITE_SPAN - offset]
        problems = self.model.io_problems(disk)

        def call() -> object:
            return self.ecs(disk.region_id).write_disk(disk_id, offset, data)

        if self.ok("write_disk", problems, call):
            disk.data[offset : offset + len(data)] = data
            if disk.source_snapshot_id is not None:
                self.note("wrote to a restored disk")

    @precondition(lambda self: self.disks)
    @rule(
        pick=PICK,
        start=st.integers(0, 2**20),
        length=st.integers(0, 3 * 4096),
        tail=st.booleans(),
        aim=AIM,
    )
    def read_disk(self, pick: int, start: int, length: int, tail: bool, aim: bool) -> None:
        """A guest reads bytes: exactly what the model holds; zeros beyond what was written."""
        pool = self.aimed(
            list(self.disks), lambda d: not self.model.io_problems(self.disks[d], 1), aim
        )
        if not pool:
            self.idle("read_disk")
            return
        disk_id = self.pick(pool, pick)
        disk = self.disks[disk_id]
        size = disk.size * 1024**3
        if tail:
            offset = size - min(length, size)
        else:
            offset = start % self.WRITE_SPAN
            length = min(length, self.WRITE_SPAN - offset)
        problems = self.model.io_problems(disk, length)
        result = self.attempt(
            "read_disk",
            problems,
            lambda: self.ecs(disk.region_id).read_disk(disk_id, offset, length),
        )
        if isinstance(result, _Rejected):
            return
        expected = bytes(disk.data[offset : offset + length]) if not tail else bytes(length)
        if result != expected:
            raise AssertionError(f"read {offset}+{length} of {disk_id} differs from the model")

    # ================================================================================
    # Snapshots
    # ================================================================================
    @precondition(lambda self: self.disks)
    @rule(
        pick=PICK,
        name=st.none() | cbst.snapshot_names(max_size=20),
        retention=st.none() | st.integers(1, 3) | cbst.retention_days(),
        restored=st.booleans(),
        aim=AIM,
    )
    def create_snapshot(
        self, pick: int, name: str | None, retention: int | None, restored: bool, aim: bool
    ) -> None:
        """``create_snapshot``: captures the model's bytes of the disk at this instant; half
        the aimed calls prefer disks that were themselves restored from a snapshot."""
        pool = self.aimed(
            list(self.disks), lambda d: not self.model.snapshot_problems(self.disks[d]), aim
        )
        if not pool:
            self.idle("create_snapshot")
            return
        if aim and restored:
            pool = [d for d in pool if self.disks[d].source_snapshot_id is not None] or pool
        disk_id = self.pick(pool, pick)
        disk = self.disks[disk_id]
        if aim and restored and retention is not None:
            retention = 1 + retention % 3  # short, so it runs out within a run
        problems = self.model.snapshot_problems(disk)
        result = self.attempt(
            "create_snapshot",
            problems,
            lambda: self.ecs(disk.region_id).create_snapshot(
                disk_id=disk_id, snapshot_name=name, retention_days=retention
            ),
        )
        if not isinstance(result, _Rejected):
            self.model.new_snapshot(result, disk, retention, None)
            if disk.source_snapshot_id is not None:
                self.note("snapshot of a restored disk")

    @precondition(lambda self: self.instances or self.disks)
    @rule(
        mode=st.sampled_from(["instance", "exclude", "disks", "both"]),
        pick=PICK,
        picks=st.lists(PICK, min_size=1, max_size=5),
        foreign=RARELY,
        aim=AIM,
    )
    def create_snapshot_group(
        self, mode: str, pick: int, picks: list[int], foreign: bool, aim: bool
    ) -> None:
        """``create_snapshot_group`` by instance (all or excluding disks) or by disk list."""
        problems: set[str] = set()
        instance_id = None
        include: list[str] = []
        exclude: list[str] = []
        if aim and mode == "both":
            mode = "disks"
        if mode in ("instance", "exclude") and self.instances:
            pool = self.aimed(
                list(self.instances),
                lambda i: all(
                    CATEGORY_SPECS[d.category].consistent_group
                    and not d.multi_attach
                    and not self.model.snapshot_problems(d)
                    for d in self.model.instance_disks(i)
                ),
                aim,
            )
            if not pool:
                self.idle("create_snapshot_group")
                return
            instance_id = self.pick(pool, pick)
            region = self.instances[instance_id].region_id
            own = [d.disk_id for d in self.model.instance_disks(instance_id)]
            pool = own + (self.model.region_disks(region) if foreign else [])
            if mode == "exclude" and pool:
                exclude = sorted({self.pick(pool, p) for p in picks})
        else:
            disk_pool = list(self.disks) or self.model.gone["disk"]
            if aim:
                disk_pool = [
                    d
                    for d, x in self.disks.items()
                    if CATEGORY_SPECS[x.category].consistent_group
                    and not x.multi_attach
                    and not self.model.snapshot_problems(x)
                ]
                if disk_pool:
                    zone = self.disks[self.pick(disk_pool, pick)].zone_id
                    disk_pool = [d for d in disk_pool if self.disks[d].zone_id == zone]
            if not disk_pool:
                self.idle("create_snapshot_group")
                return
            first = self.disks.get(self.pick(disk_pool, pick))
            region = first.region_id if first is not None else self.REGION_IDS[0]
            pool = self.model.region_disks(region) or disk_pool
            include = sorted({self.pick(pool, p) for p in picks})
            if mode == "both":
                exclude = include[-1:]
                include = include[:-1] or include
        if include and exclude:
            problems.add("InvalidParam.ExcludeDiskIdsAndDiskIds.Conflict")
        if len(include) > self.LIMITS.snapshot_group_max_disks:
            problems.add("NumberExceed.TooManyDisks")
        members: list[DiskModel] = []
        if instance_id is not None:
            own_ids = {d.disk_id for d in self.model.instance_disks(instance_id)}
            for disk_id in exclude:
                if disk_id not in own_ids:
                    problems.add("InvalidParameter.DiskId")
            members = [
                d for d in self.model.instance_disks(instance_id) if d.disk_id not in exclude
            ]
            if not members:
                problems.add("InvalidInstance.NoDisk")
        else:
            for disk_id in include:
                if disk_id in self.disks:
                    members.append(self.disks[disk_id])
                else:
                    problems.add(NOT_FOUND["disk"])
            if len({d.zone_id for d in members}) > 1:
                problems.add("InvalidDiskIds.NotInSameZone")
        regional = {d.category is DiskCategory.cloud_regional_disk_auto for d in members}
        if len(regional) > 1:
            problems.add("InvalidDisk.DiskCategoryInconsistent")
        if len(members) > self.LIMITS.snapshot_group_max_disks:
            problems.add("NumberExceed.TooManyDisks")
        for disk in members:
            if not CATEGORY_SPECS[disk.category].consistent_group:
                problems.add("DiskCategory.OperationNotSupported")
            if disk.multi_attach:
                problems.add("InvalidOperation.MultiAttachDisk")
            problems |= self.model.snapshot_problems(disk)
        ecs = self.ecs(region)
        result = self.attempt(
            "create_snapshot_group",
            problems,
            lambda: ecs.create_snapshot_group(
                instance_id=instance_id,
                disk_ids=include or None,
                exclude_disk_ids=exclude or None,
            ),
        )
        if isinstance(result, _Rejected):
            return
        [group] = ecs.describe_snapshot_groups(snapshot_group_ids=[result]).items
        self.model.groups[result] = region
        by_disk = {ecs.describe_snapshot(s).source_disk_id: s for s in group.snapshot_ids}
        if set(by_disk) != {d.disk_id for d in members}:
            raise AssertionError(f"group {result} captured {sorted(by_disk)}, not the model's")
        for disk in members:
            self.model.new_snapshot(by_disk[disk.disk_id], disk, None, result)

    @precondition(lambda self: self.snapshots)
    @rule(pick=PICK, gone=RARELY, force=st.booleans(), elsewhere=RARELY)
    def delete_snapshot(self, pick: int, gone: bool, force: bool, elsewhere: bool) -> None:
        """``delete_snapshot`` (any position of a chain); a missing id is silently ignored."""
        snapshot_id = self.id_or_gone("snapshot", self.snapshots, pick, gone)
        snapshot = self.snapshots.get(snapshot_id)
        region = snapshot.region_id if snapshot is not None else self.REGION_IDS[0]
        if elsewhere:
            region = next(r for r in self.REGION_IDS if r != region)
        if snapshot is None or snapshot.region_id != region:
            before = world_state(self.cloud)
            self.ecs(region).delete_snapshot(snapshot_id, force=force)
            if before != world_state(self.cloud):
                raise AssertionError("deleting a missing snapshot changed the world")
            self.note("delete_snapshot: missing, ignored")
            return
        problems = self.model.deletion_problems(snapshot, force)

        def call() -> object:
            return self.ecs(region).delete_snapshot(snapshot_id, force=force)

        if self.ok("delete_snapshot", problems, call):
            self.model.drop_snapshot(snapshot_id)

    @precondition(lambda self: self.model.groups or self.model.gone["group"])
    @rule(pick=PICK, gone=RARELY)
    def delete_snapshot_group(self, pick: int, gone: bool) -> None:
        """``delete_snapshot_group``: members used by images stay; locked or disk-used members
        refuse the whole call."""
        group_id = self.id_or_gone("group", self.model.groups, pick, gone)
        problems: set[str] = set()
        members = [s for s in self.snapshots.values() if s.group_id == group_id]
        if group_id not in self.model.groups:
            problems.add(NOT_FOUND["group"])
            region = self.REGION_IDS[0]
        else:
            region = self.model.groups[group_id]
            for snapshot in members:
                if not snapshot.image_refs:
                    problems |= self.model.deletion_problems(snapshot, force=False)

        def call() -> object:
            return self.ecs(region).delete_snapshot_group(group_id)

        if not self.ok("delete_snapshot_group", problems, call):
            return
        for snapshot in members:
            if snapshot.image_refs:
                snapshot.group_id = None
        for snapshot in members:
            if not snapshot.image_refs:
                self.model.drop_snapshot(snapshot.snapshot_id)
        if group_id in self.model.groups:
            del self.model.groups[group_id]
            self.model.gone["group"].append(group_id)

    @precondition(lambda self: self.snapshots)
    @rule(
        pick=PICK,
        name=st.none() | cbst.snapshot_names(max_size=10),
        retention=st.none() | st.integers(1, 5),
        aim=AIM,
    )
    def modify_snapshot_attribute(
        self, pick: int, name: str | None, retention: int | None, aim: bool
    ) -> None:
        """``modify_snapshot_attribute``: rename, or extend retention (never shorten)."""
        snapshot_id = self.pick(self.snapshots, pick)
        snapshot = self.snapshots[snapshot_id]
        if aim and retention is not None:
            if snapshot.retention is None or (snapshot.progressing and not snapshot.instant):
                retention = None
            else:
                retention = max(retention, snapshot.retention)
            if retention is None and name is None:
                name = "renamed"
        problems: set[str] = set()
        if name is None and retention is None:
            problems.add("NoAttributeToModify")
        if retention is not None:
            if snapshot.progressing and not snapshot.instant:
                problems.add("InvalidSnapshotId.NotReady")
            if snapshot.retention is None or retention < snapshot.retention:
                problems.add("InvalidOperation.DecreaseRetentionDaysUnsupported")

        def call() -> object:
            return self.ecs(snapshot.region_id).modify_snapshot_attribute(
                snapshot_id=snapshot_id, snapshot_name=name, retention_days=retention
            )

        if self.ok("modify_snapshot_attribute", problems, call) and retention is not None:
            snapshot.retention = retention

    @precondition(lambda self: self.snapshots)
    @rule(
        pick=PICK,
        duration=st.integers(1, 3) | cbst.lock_durations(),
        cool_off=st.sampled_from([0, 0, 1, 24, 72]) | cbst.cool_off_periods(),
    )
    def lock_snapshot(self, pick: int, duration: int, cool_off: int) -> None:
        """``lock_snapshot`` in compliance mode: new, reconfigured in cool-off, or extended."""
        snapshot_id = self.pick(self.snapshots, pick)
        snapshot = self.snapshots[snapshot_id]
        existing = snapshot.lock
        problems: set[str] = set()
        extend = existing is not None and existing.status(self.now) == "compliance"
        if extend:
            assert existing is not None
            if cool_off != 0:
                problems.add("InvalidParameter.CoolOffPeriod")
            if duration < existing.duration:
                problems.add("InvalidParameter.LockDuration")

        def call() -> object:
            return self.ecs(snapshot.region_id).lock_snapshot(
                snapshot_id=snapshot_id, lock_duration=duration, cool_off_period=cool_off
            )

        if not self.ok("lock_snapshot", problems, call):
            return
        if extend:
            assert existing is not None
            existing.duration = duration
        else:
            snapshot.lock = LockModel(
                duration, cool_off, self.now, None if snapshot.progressing else self.now
            )

    @precondition(lambda self: any(s.retention is not None for s in self.snapshots.values()))
    @rule(pick=PICK)
    def let_retention_run_out(self, pick: int) -> None:
        """Advance virtual time to just past when some snapshot's retention runs out: it is
        released unless a lock, an image or a disk made from it holds it."""
        ends = sorted(
            {
                end
                for s in self.snapshots.values()
                if (end := s.expire()) is not None
                and self.now < end <= self.now + _dt.timedelta(days=60)
            }
        )
        if not ends:
            self.idle("let_retention_run_out")
            return
        end = ends[pick % len(ends)]
        self.advance_time(int((end - self.now).total_seconds()) + 1)

    @precondition(lambda self: any(s.lock for s in self.snapshots.values()))
    @rule(pick=PICK)
    def unlock_snapshot(self, pick: int) -> None:
        """``unlock_snapshot``: only during the cool-off period."""
        snapshot_id = self.pick([s for s, x in self.snapshots.items() if x.lock is not None], pick)
        snapshot = self.snapshots[snapshot_id]
        assert snapshot.lock is not None
        status = snapshot.lock.status(self.now)
        problems = {
            "cooloff": set(),
            "expired": {"InvalidOperation.SnapshotNotLocked"},
            "compliance": {"OperationDenied.SnapshotLocked"},
        }[status]

        def call() -> object:
            return self.ecs(snapshot.region_id).unlock_snapshot(snapshot_id)

        if self.ok("unlock_snapshot", problems, call):
            snapshot.lock = None
            if self.model.release_if_expired(snapshot):
                self.note("unlocked snapshot released at once")

    # ================================================================================
    # Restore substrate
    # ================================================================================
    def _prepare_reset(self, pairs: list[tuple[str, str]]) -> None:
        """Bring the disks' instances to Stopped and let progressing snapshots finish, so an
        aimed reset can succeed."""
        instances = sorted({i for d, _ in pairs if d in self.disks for i in self.disks[d].attached})
        self.settle_stopped(instances)
        if any(s.progressing for d, _ in pairs for s in self.model.disk_snapshots(d)) or any(
            s in self.snapshots and not self.snapshots[s].available for _, s in pairs
        ):
            self.advance_time(int(self.TIMINGS.snapshot_base.total_seconds()))

    @precondition(lambda self: self.snapshots)
    @rule(pick=PICK, disk_pick=PICK, own=st.booleans(), dry_run=st.booleans(), aim=AIM)
    def reset_disk(self, pick: int, disk_pick: int, own: bool, dry_run: bool, aim: bool) -> None:
        """``reset_disk``: afterwards the disk holds exactly the snapshot's bytes; a dry run
        changes nothing."""
        pool = self.aimed(
            list(self.snapshots),
            lambda s: (
                self.snapshots[s].disk_id in self.disks
                and not self.model.open_problems(
                    self.snapshots[s].region_id, self.snapshots[s].key_id
                )
            ),
            aim,
        )
        if not pool:
            self.idle("reset_disk")
            return
        snapshot_id = self.pick(pool, pick)
        snapshot = self.snapshots[snapshot_id]
        if own or aim:
            disk_id = snapshot.disk_id
        else:
            disk_id = self.id_or_gone(
                "disk",
                self.model.region_disks(snapshot.region_id) or [snapshot.disk_id],
                disk_pick,
                False,
            )
        if aim:
            self._prepare_reset([(disk_id, snapshot_id)])
            if snapshot_id not in self.snapshots:
                return  # released while time passed
        problems = self.model.reset_problems(disk_id, snapshot_id)

        def call() -> object:
            return self.ecs(snapshot.region_id).reset_disk(
                disk_id=disk_id, snapshot_id=snapshot_id, dry_run=dry_run
            )

        if dry_run:
            self.dry_run("reset_disk", problems, call)
            return
        if self.ok("reset_disk", problems, call):
            self.model.disks[disk_id].data[:] = snapshot.data
            if snapshot.of_restored_disk:
                self.note("reset to a snapshot of a restored disk")

    @precondition(lambda self: self.snapshots)
    @rule(
        pick=PICK,
        picks=st.lists(PICK, min_size=1, max_size=3),
        by_group=st.booleans(),
        dry_run=st.booleans(),
        aim=AIM,
    )
    def reset_disks(
        self, pick: int, picks: list[int], by_group: bool, dry_run: bool, aim: bool
    ) -> None:
        """``reset_disks``: several disks at once, e.g. all members of a group; all or none;
        a dry run changes nothing."""
        pool = self.aimed(
            list(self.snapshots),
            lambda s: (
                self.snapshots[s].disk_id in self.disks
                and not self.model.open_problems(
                    self.snapshots[s].region_id, self.snapshots[s].key_id
                )
            ),
            aim,
        )
        if not pool:
            self.idle("reset_disks")
            return
        snapshot = self.snapshots[self.pick(pool, pick)]
        region = snapshot.region_id
        if by_group and snapshot.group_id is not None:
            chosen = [s for s in self.snapshots.values() if s.group_id == snapshot.group_id]
        else:
            pool = [s for s, x in self.snapshots.items() if x.region_id == region]
            if aim:
                pool = [s for s in pool if self.snapshots[s].disk_id in self.disks] or pool
            chosen = [self.snapshots[self.pick(pool, p)] for p in picks]
            if aim:  # one snapshot per disk
                chosen = list({s.disk_id: s for s in chosen}.values())
        if aim:
            self._prepare_reset([(s.disk_id, s.snapshot_id) for s in chosen])
            if any(s.snapshot_id not in self.snapshots for s in chosen):
                return  # released while time passed
        pairs = [ResetDiskSpec(disk_id=s.disk_id, snapshot_id=s.snapshot_id) for s in chosen]
        problems: set[str] = set()
        if len({p.disk_id for p in pairs}) != len(pairs):
            problems.add("InvalidParameter.Disk")
        for pair in pairs:
            problems |= self.model.reset_problems(pair.disk_id, pair.snapshot_id)

        def call() -> object:
            return self.ecs(region).reset_disks(disks=pairs, dry_run=dry_run)

        if dry_run:
            self.dry_run("reset_disks", problems, call)
            return
        if not self.ok("reset_disks", problems, call):
            return
        for pair in pairs:
            self.model.disks[pair.disk_id].data[:] = self.snapshots[pair.snapshot_id].data

    @precondition(lambda self: self.snapshots)
    @rule(pick=PICK, data_picks=st.lists(PICK, max_size=2))
    def create_image(self, pick: int, data_picks: list[int]) -> None:
        """``create_image`` from a system snapshot and data snapshots of one region."""
        system = self.snapshots[self.pick(self.snapshots, pick)]
        region = system.region_id
        pool = [s for s, x in self.snapshots.items() if x.region_id == region]
        chosen = [system] + [self.snapshots[self.pick(pool, p)] for p in data_picks]
        problems = {"InvalidSnapshotId.NotReady" for s in chosen if not s.available}
        mappings = [DiskDeviceMapping(snapshot_id=system.snapshot_id, disk_type="system")] + [
            DiskDeviceMapping(snapshot_id=s.snapshot_id, disk_type="data") for s in chosen[1:]
        ]
        result = self.attempt(
            "create_image",
            problems,
            lambda: self.ecs(region).create_image(disk_device_mappings=mappings),
        )
        if isinstance(result, _Rejected):
            return
        self.model.images[result] = (region, tuple(s.snapshot_id for s in chosen))
        for snapshot in chosen:
            snapshot.image_refs += 1

    @precondition(lambda self: self.model.images or self.model.gone["image"])
    @rule(pick=PICK, gone=RARELY)
    def delete_image(self, pick: int, gone: bool) -> None:
        """``delete_image``: its snapshots become deletable; expired ones are released."""
        image_id = self.id_or_gone("image", self.model.images, pick, gone)
        entry = self.model.images.get(image_id)
        region = entry[0] if entry is not None else self.REGION_IDS[0]
        problems = {NOT_FOUND["image"]} if entry is None else set()
        if not self.ok("delete_image", problems, lambda: self.ecs(region).delete_image(image_id)):
            return
        assert entry is not None
        del self.model.images[image_id]
        self.model.gone["image"].append(image_id)
        for snapshot_id in entry[1]:
            self.snapshots[snapshot_id].image_refs -= 1
        for snapshot_id in dict.fromkeys(entry[1]):
            if snapshot_id in self.snapshots:
                self.model.release_if_expired(self.snapshots[snapshot_id])

    # ================================================================================
    # Agreement
    # ================================================================================
    @invariant()
    def ecs_matches_model(self) -> None:
        """The ECS ``describe_*`` calls show exactly the model's resources and states."""
        for region in self.REGION_IDS:
            ecs = self.ecs(region)
            actual_instances = {i.instance_id: i.status for i in all_pages(ecs.describe_instances)}
            expected_instances = {
                i.instance_id: i.status for i in self.instances.values() if i.region_id == region
            }
            same("instances", region, expected_instances, actual_instances)
            actual_disks = {
                d.disk_id: (sorted(a.instance_id for a in d.attachments), d.size, d.kms_key_id)
                for d in all_pages(ecs.describe_disks)
            }
            expected_disks = {
                d.disk_id: (sorted(d.attached), d.size, d.key_id)
                for d in self.disks.values()
                if d.region_id == region
            }
            same("disks", region, expected_disks, actual_disks)
            actual_snapshots = {
                s.snapshot_id: (
                    s.source_disk_id,
                    s.status.value,
                    s.retention_days,
                    s.lock is not None,
                    s.disk_refs,
                    s.image_refs,
                    s.snapshot_group_id,
                )
                for s in all_pages(ecs.describe_snapshots)
            }
            expected_snapshots = {
                s.snapshot_id: (
                    s.disk_id,
                    "progressing" if s.progressing else "accomplished",
                    s.retention,
                    s.lock is not None,
                    s.disk_refs,
                    s.image_refs,
                    s.group_id,
                )
                for s in self.snapshots.values()
                if s.region_id == region
            }
            same("snapshots", region, expected_snapshots, actual_snapshots)
            groups = {
                g.snapshot_group_id for g in ecs.describe_snapshot_groups(max_results=100).items
            }
            expected_groups = {g for g, r in self.model.groups.items() if r == region}
            same("groups", region, expected_groups, groups)
            images = {i.image_id for i in all_pages(ecs.describe_images)}
            expected_images = {i for i, v in self.model.images.items() if v[0] == region}
            same("images", region, expected_images, images)
