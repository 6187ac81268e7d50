"""The ECS rules of the state machine for snapshots and what is made from them: restores,
snapshot groups, locks, retention, resets and images.

Restores are aimed at the deep states that once hid surviving mutations: a disk made from a
snapshot, attached and read back, snapshotted again (with a short retention, so the snapshot
expires within a run), and restored again.
"""

from __future__ import annotations

import datetime as _dt

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from ... import DiskDeviceMapping, ResetDiskSpec
from ..._domain.ecs import (
    CATEGORY_SPECS,
    PL_MIN_SIZE,
    DiskCategory,
    DiskType,
    InstanceStatus,
    PerformanceLevel,
)
from .. import strategies as cbst
from .._invariants import world_state
from .base import AIM, PICK, RARELY, _Rejected
from .ecs_instance_rules import EcsInstanceRules
from .model import (
    NOT_FOUND,
    DiskModel,
    LockModel,
    SnapshotModel,
)

__all__ = ["EcsRules"]


class EcsRules(EcsInstanceRules):
    """Every ECS rule: :class:`~.ecs_instance_rules.EcsInstanceRules` plus snapshots, restores,
    groups, locks, resets and images."""

    # ================================================================================
    # Disks made from snapshots, and restores
    # ================================================================================
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
                problems.add("InvalidSize.ValueNotSupported")
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
        pool = [s for s, x in self.snapshots.items() if x.region_id in regions]
        pool = [s for s in pool if self._restorable(self.snapshots[s])]
        # Snapshots holding written bytes first: restoring zeros proves little.
        pool = [s for s in pool if any(self.snapshots[s].data)] or pool
        if second:
            pool = [s for s in pool if self.snapshots[s].of_restored_disk] or pool
        if not pool:
            self.idle("restore_snapshot_to_instance")
            return
        snapshot = self.snapshots[self.pick(pool, pick)]
        candidates = [i for i in running if self.instances[i].region_id == snapshot.region_id]
        roomy = [i for i in candidates if self._data_disk_room(i)]
        instance_id = self.pick(roomy or candidates, instance_pick)
        # Freeing a slot may delete the last disk made from an expired snapshot: released.
        freed = roomy or self._free_a_data_slot(instance_id)
        if not freed or snapshot.snapshot_id not in self.snapshots:
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
        tags=st.dictionaries(st.sampled_from(["k0", "k1", "k2"]), st.sampled_from(["prod", ""])),
    )
    def create_snapshot(
        self,
        pick: int,
        name: str | None,
        retention: int | None,
        restored: bool,
        aim: bool,
        tags: dict[str, str] | None = None,
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
                disk_id=disk_id,
                snapshot_name=name,
                retention_days=retention,
                tags=list((tags or {}).items()),
            ),
        )
        if not isinstance(result, _Rejected):
            self.model.new_snapshot(result, disk, retention, None)
            self.model.tags[result] = dict(tags or {})
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
        # A lock may not outlast retention: it starts when it took effect (extension) or now.
        start = existing.effective if extend and existing is not None else None
        retention_end = snapshot.expire()
        if (
            retention_end is not None
            and (start or self.now) + _dt.timedelta(days=duration) > retention_end
        ):
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
    @rule(pick=PICK, aim=AIM)
    def let_retention_run_out(self, pick: int, aim: bool) -> None:
        """Advance virtual time to just past when some snapshot's retention runs out: it is
        released unless a lock, an image or a disk made from it holds it. Aimed, snapshots of
        restored disks come first (their expiry is the rarest deep state)."""
        due = [
            (s, end)
            for s in self.snapshots.values()
            if (end := s.expire()) is not None
            and self.now < end <= self.now + _dt.timedelta(days=60)
        ]
        if aim:
            due = [(s, end) for s, end in due if s.of_restored_disk] or due
        ends = sorted({end for _, end in due})
        if not ends:
            self.idle("let_retention_run_out")
            return
        end = ends[pick % len(ends)]
        self.advance_time(int((end - self.now).total_seconds()) + 1)

    @precondition(lambda self: any(s.lock for s in self.snapshots.values()))
    @rule(pick=PICK, aim=AIM)
    def unlock_snapshot(self, pick: int, aim: bool = False) -> None:
        """``unlock_snapshot``: only during the cool-off period (aimed: a lock still in it)."""
        locks = {s: x.lock for s, x in self.snapshots.items() if x.lock is not None}
        cooling = [s for s, lock in locks.items() if lock.status(self.now) == "cooloff"]
        snapshot_id = self.pick(cooling if aim and cooling else list(locks), pick)
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
