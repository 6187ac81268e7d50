"""The ECS rules of the state machine for instances, disks and the guest's data plane, and the
ECS agreement check.

Most rules aim (see :data:`~.base.AIM`): they pick resources in the state the call needs, so
that runs reach deep states; one call in five picks any resource and is usually refused, which
proves the refusal changes nothing.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from ... import DataDisk, SystemDisk
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
from .base import AIM, PICK, RARELY, MachineBase, _Rejected, all_pages, same
from .model import (
    NOT_FOUND,
    STABLE,
    DiskModel,
    InstanceModel,
    KeyModel,
    user_tags,
)

__all__ = ["EcsInstanceRules", "disk_specs"]


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


class EcsInstanceRules(MachineBase):
    """Rules for ECS instances, disks and guest I/O, and the ECS agreement check."""

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
        tags=st.dictionaries(st.sampled_from(["k0", "k1", "k2"]), st.sampled_from(["prod", ""])),
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
        tags: dict[str, str] | None = None,
    ) -> None:
        """``run_instances`` (starts) or ``create_instance`` (stays Stopped), with ``tags`` on
        the instance and its disks; with ``settle`` a minute passes afterwards, so the
        instance is Running or Stopped."""
        tags = tags or {}
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
                "tags": list(tags.items()),
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
        self.model.tags[result] = dict(tags)
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
            self.model.tags[disk.disk_id] = dict(tags)
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
            problems.add("InvalidInstance.NotFoundSystemDisk")
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
        problems = (
            {"InvalidDiskSize.TooSmall"}
            if new_size <= disk.size
            else {"InvalidDiskSize.TooLarge"}
            if new_size > limit
            else set()
        )
        if CATEGORY_SPECS[disk.category].local:
            problems.add("InvalidDiskCategory.NotSupported")

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
    # Agreement
    # ================================================================================
    @invariant()
    def ecs_matches_model(self) -> None:
        """The ECS ``describe_*`` calls show exactly the model's resources and states."""
        for region in self.REGION_IDS:
            ecs = self.ecs(region)
            actual_instances = {
                i.instance_id: (i.status, user_tags(i.tags))
                for i in all_pages(ecs.describe_instances)
            }
            expected_instances = {
                i.instance_id: (i.status, self.model.tags.get(i.instance_id, {}))
                for i in self.instances.values()
                if i.region_id == region
            }
            same("instances", region, expected_instances, actual_instances)
            actual_disks = {
                d.disk_id: (
                    sorted(a.instance_id for a in d.attachments),
                    d.size,
                    d.kms_key_id,
                    user_tags(d.tags),
                )
                for d in all_pages(ecs.describe_disks)
            }
            expected_disks = {
                d.disk_id: (
                    sorted(d.attached),
                    d.size,
                    d.key_id,
                    self.model.tags.get(d.disk_id, {}),
                )
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
                    user_tags(s.tags),
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
                    self.model.tags.get(s.snapshot_id, {}),
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
