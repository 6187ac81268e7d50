"""A Hypothesis state machine over ECS and KMS, with a reference model of the whole world.

:class:`CloudStateMachine` drives random sequences of real calls (instances, disks of every
category, guest writes, snapshots, groups, locks, resets, images, KMS keys and aliases, and
virtual time) against a :class:`~cloudbackup.Cloud`, and keeps a small, independent model of
what the world should be: every instance's status, every disk's attachments and bytes, every
snapshot's expected bytes, retention and lock, every key's state. Each call is predicted by the
model: a call the model rejects must raise a :class:`~cloudbackup.errors.CloudBackupError` with
one of the codes the model names and leave :func:`~cloudbackup.testing.world_state` exactly as
it was; a call the model accepts must succeed. After every step the whole world's invariants
(:func:`~cloudbackup.testing.check_invariants`) and the model's agreement with the
``describe_*`` calls are checked, and every read must give back the model's bytes.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from .._cloud import Cloud
from .._domain.ecs import (
    CATEGORY_SPECS,
    PL_MIN_SIZE,
    DiskCategory,
    DiskType,
    InstanceStatus,
    PerformanceLevel,
)
from .._domain.kms import KeySpec, KeyState
from .._domain.requests import DataDisk, DiskDeviceMapping, ResetDiskSpec, SystemDisk
from .._services._base import Limits, Timings
from .._services.ecs import EcsService
from .._services.kms import ECS_SERVICE_ALIAS
from ..errors import CloudBackupError
from . import strategies as cbst
from ._invariants import check_invariants, world_state

__all__ = ["CloudStateMachine"]

T = TypeVar("T")

_PICK = st.integers(0, 2**16)
_RARELY = st.sampled_from([False, False, False, True])
_NOT_FOUND = {
    "instance": "InvalidInstanceId.NotFound",
    "disk": "InvalidDiskId.NotFound",
    "snapshot": "InvalidSnapshotId.NotFound",
    "group": "InvalidSnapshotGroup.NotFound",
    "image": "InvalidImageId.NotFound",
}
_KMS_NOT_FOUND = "InvalidParameter.KMSKeyId.NotFound"
_KMS_NOT_ENABLED = "InvalidParameter.KMSKeyId.CMKNotEnabled"
_STABLE = (InstanceStatus.Running, InstanceStatus.Stopped)


@st.composite
def _disk_specs(draw: st.DrawFn, system: bool) -> dict[str, Any]:
    """What the machine asks for when it creates a disk: category, level, a small size, and
    how to encrypt it (plain, with the service key, or with some key of the model's)."""
    if system:
        category = draw(cbst.disk_categories(system_disk=True))
    else:
        category = draw(cbst.disk_categories())
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
        "key_pick": draw(_PICK),
        "key_form": draw(st.sampled_from(["id", "alias", "arn"])),
        "delete_with_instance": draw(st.booleans()),
    }


class _Rejected:
    """What :meth:`CloudStateMachine._attempt` returns for a call that was refused."""


REJECTED = _Rejected()


@attrs.define
class _Instance:
    instance_id: str
    region_id: str
    zone_id: str
    status: InstanceStatus
    target: InstanceStatus | None
    due: _dt.datetime | None
    ever_started: bool = False


@attrs.define
class _Disk:
    disk_id: str
    region_id: str
    zone_id: str
    category: DiskCategory
    size: int
    type: DiskType
    data: bytearray
    attached: list[str] = attrs.field(factory=list)
    multi_attach: bool = False
    key_id: str | None = None
    delete_with_instance: bool = False
    source_snapshot_id: str | None = None
    ever_attached: bool = False


@attrs.define
class _Lock:
    duration: int
    cool_off: int
    created: _dt.datetime
    effective: _dt.datetime | None

    def status(self, now: _dt.datetime) -> str:
        if now < self.created + _dt.timedelta(hours=self.cool_off):
            return "cooloff"
        if self.effective is not None and now >= self.effective + _dt.timedelta(days=self.duration):
            return "expired"
        return "compliance"

    def holds(self, now: _dt.datetime) -> bool:
        return self.status(now) != "expired"

    def end(self) -> _dt.datetime | None:
        if self.effective is None:
            return None
        return max(
            self.effective + _dt.timedelta(days=self.duration),
            self.created + _dt.timedelta(hours=self.cool_off),
        )


@attrs.define
class _Snapshot:
    snapshot_id: str
    region_id: str
    disk_id: str
    data: bytes
    source_size: int
    created: _dt.datetime
    instant: bool
    complete_due: _dt.datetime | None
    """When a progressing snapshot completes; None once accomplished."""
    key_id: str | None
    retention: int | None = None
    lock: _Lock | None = None
    disk_refs: int = 0
    image_refs: int = 0
    group_id: str | None = None

    @property
    def progressing(self) -> bool:
        return self.complete_due is not None

    @property
    def available(self) -> bool:
        return self.instant or not self.progressing

    def expire(self) -> _dt.datetime | None:
        if self.retention is None:
            return None
        return self.created + _dt.timedelta(days=self.retention)


@attrs.define
class _Key:
    key_id: str
    region_id: str
    spec: KeySpec
    state: KeyState = KeyState.Enabled
    delete_date: _dt.datetime | None = None
    service: bool = False


class CloudStateMachine(RuleBasedStateMachine):
    """Random ECS + KMS workloads checked against a reference model after every step.

    Run it as a test::

        from hypothesis import settings
        from cloudbackup.testing import CloudStateMachine

        TestCloud = CloudStateMachine.TestCase
        TestCloud.settings = settings(max_examples=50, stateful_step_count=40, deadline=None)

    Subclass it to test your own code against the same world: add ``@rule`` methods that call
    your code with ``self.cloud`` (pick resources from ``self.instances``, ``self.disks``,
    ``self.snapshots``), add ``@invariant`` methods that check what your code promises, and
    override :meth:`make_cloud` to run on another backend (``Cloud(backend=...)`` with the
    same ``seed``, ``block_size``, ``timings`` and ``limits``). If your rules change ECS or KMS
    state, mirror the change in the model dictionaries too, or the agreement check will (rightly)
    complain. The class attributes below tune the world; keep ``WRITE_SPAN`` small so runs stay
    fast.
    """

    #: Regions the machine works in (at least two, so cross-region ids are exercised).
    REGION_IDS: Sequence[str] = ("cn-hangzhou", "cn-shanghai")
    #: How many zones of each region it uses.
    ZONES_PER_REGION: int = 2
    #: The world's block size.
    BLOCK_SIZE: int = 4096
    #: Guests write only in the first ``WRITE_SPAN`` bytes of a disk.
    WRITE_SPAN: int = 64 * 1024
    #: The world's seed.
    SEED: int = 0
    #: Small limits, so that every quota is reached in short runs.
    LIMITS: Limits = Limits(
        manual_snapshots_per_disk=5,
        data_disks_per_instance=4,
        snapshot_group_max_disks=4,
        multi_attach_max_instances=2,
    )
    #: Snapshot uploads of any size take exactly ``snapshot_base``, so the model knows when a
    #: standard snapshot completes.
    TIMINGS: Timings = Timings(snapshot_throughput=10**18)

    def __init__(self) -> None:
        super().__init__()
        self.cloud = self.make_cloud()
        self.now = self.cloud.now()
        self.instances: dict[str, _Instance] = {}
        self.disks: dict[str, _Disk] = {}
        self.snapshots: dict[str, _Snapshot] = {}
        self.groups: dict[str, str] = {}
        """group id -> region; its members are the snapshots naming it."""
        self.images: dict[str, tuple[str, tuple[str, ...]]] = {}
        """image id -> (region, snapshot ids of its mappings)."""
        self.keys: dict[str, _Key] = {}
        self.aliases: dict[tuple[str, str], str] = {}
        self.gone: dict[str, list[str]] = {k: [] for k in (*_NOT_FOUND, "key")}

    def make_cloud(self) -> Cloud:
        """The world under test; override to use another backend."""
        return Cloud(
            seed=self.SEED, block_size=self.BLOCK_SIZE, timings=self.TIMINGS, limits=self.LIMITS
        )

    def teardown(self) -> None:
        """Close the world's backend."""
        self.cloud.close()

    # ================================================================================
    # Helpers
    # ================================================================================
    def ecs(self, region_id: str) -> EcsService:
        """The ECS service of a region of the world under test."""
        return self.cloud.ecs(region_id)

    def _attempt(self, problems: set[str], call: Callable[[], T]) -> T | _Rejected:
        """Run ``call``; it must succeed when ``problems`` is empty, else fail with one of them
        and change nothing."""
        if not problems:
            return call()
        before = world_state(self.cloud)
        try:
            call()
        except CloudBackupError as exc:
            if exc.code not in problems:
                raise AssertionError(
                    f"expected one of {sorted(problems)}, got {exc.code}: {exc}"
                ) from exc
            after = world_state(self.cloud)
            if before != after:
                raise AssertionError(
                    f"rejected call ({exc.code}) changed the world:\n{before.difference(after)}"
                ) from exc
            return REJECTED
        raise AssertionError(f"call succeeded; the model expected one of {sorted(problems)}")

    def _ok(self, problems: set[str], call: Callable[[], object]) -> bool:
        """:meth:`_attempt`, answering whether the call succeeded."""
        return not isinstance(self._attempt(problems, call), _Rejected)

    @staticmethod
    def _pick(items: Iterable[T], pick: int) -> T:
        # Newest first: Hypothesis favours small numbers, so recent resources get picked most
        # and a run builds long histories on a few of them.
        pool = list(items)
        return pool[-1 - pick % len(pool)]

    def _id_or_gone(self, kind: str, items: Iterable[str], pick: int, gone: bool) -> str:
        pool = list(items)
        if (gone or not pool) and self.gone[kind]:
            return self._pick(self.gone[kind], pick)
        return self._pick(pool, pick)

    def _zones(self, region_id: str) -> tuple[str, ...]:
        return self.cloud.regions[region_id].zones[: self.ZONES_PER_REGION]

    def _region_disks(self, region_id: str) -> list[str]:
        return [d for d, disk in self.disks.items() if disk.region_id == region_id]

    def _disk_snapshots(self, disk_id: str) -> list[_Snapshot]:
        return [s for s in self.snapshots.values() if s.disk_id == disk_id]

    def _instance_disks(self, instance_id: str) -> list[_Disk]:
        return [d for d in self.disks.values() if instance_id in d.attached]

    # -- KMS model -------------------------------------------------------------------------
    def _resolve(self, region_id: str, ref: str) -> _Key | None:
        lookup = ref
        prefix = f"acs:kms:{region_id}:{self.cloud.account_id}:"
        if lookup.startswith(prefix):
            lookup = lookup[len(prefix) :]
            if lookup.startswith("key/"):
                lookup = lookup[4:]
        if lookup.startswith("alias/"):
            target = self.aliases.get((region_id, lookup))
            if target is None:
                return None
            lookup = target
        key = self.keys.get(lookup)
        return key if key is not None and key.region_id == region_id else None

    def _cmk_problems(self, region_id: str, ref: str | None) -> set[str]:
        """What ``_key_for_ecs`` refuses about a key reference (None: the service key)."""
        if ref is None:
            return set()
        key = self._resolve(region_id, ref)
        if key is None:
            return {_KMS_NOT_FOUND}
        if not key.spec.symmetric:
            return {"InvalidKMSKeyId.NotSymmetric"}
        if key.state is not KeyState.Enabled:
            return {_KMS_NOT_ENABLED}
        return set()

    def _key_ref(self, region_id: str, pick: int, form: str) -> str | None:
        """A reference to some key (any region, any state): its id, an alias or an ARN."""
        every = [*self.keys, *self.gone["key"]]
        if not every:
            return None
        key_id = every[pick % len(every)]
        key = self.keys.get(key_id)
        if form == "alias" and key is not None:
            names = [n for (r, n), k in self.aliases.items() if k == key_id and r == region_id]
            if names:
                return sorted(names)[0]
        if form == "arn":
            home = key.region_id if key is not None else region_id
            return f"acs:kms:{home}:{self.cloud.account_id}:key/{key_id}"
        return key_id

    def _learn_service_key(self, region_id: str) -> str:
        key = self.cloud.kms(region_id).describe_key(ECS_SERVICE_ALIAS)
        if key.key_id not in self.keys:
            self.keys[key.key_id] = _Key(key.key_id, region_id, key.key_spec, service=True)
            self.aliases[(region_id, ECS_SERVICE_ALIAS)] = key.key_id
        return key.key_id

    def _final_key(self, region_id: str, ref: str | None) -> str:
        if ref is None:
            return self._learn_service_key(region_id)
        key = self._resolve(region_id, ref)
        assert key is not None
        return key.key_id

    # -- snapshot model ----------------------------------------------------------------------
    def _io_problems(self, disk: _Disk, length: int = 1) -> set[str]:
        """Why a guest cannot read or write ``length`` bytes of ``disk`` now."""
        if not disk.attached:
            return {"IncorrectDiskStatus"}
        if not any(self.instances[i].status is InstanceStatus.Running for i in disk.attached):
            return {"IncorrectInstanceStatus"}
        if not length:
            return set()  # nothing to decrypt
        return self._open_problems(disk.region_id, disk.key_id)

    def _open_problems(self, region_id: str, key_id: str | None) -> set[str]:
        """Why data sealed under ``key_id`` cannot be opened now."""
        if key_id is None:
            return set()
        key = self.keys.get(key_id)
        if key is None or key.region_id != region_id:
            return {_KMS_NOT_FOUND}
        if key.state is not KeyState.Enabled:
            return {_KMS_NOT_ENABLED}
        return set()

    def _snapshot_problems(self, disk: _Disk) -> set[str]:
        """Why ``create_snapshot`` refuses ``disk`` now (``_check_snapshot_allowed``)."""
        problems = set()
        spec = CATEGORY_SPECS[disk.category]
        if not spec.snapshot:
            problems.add("DiskCategory.OperationNotSupported")
        if not disk.ever_attached:
            problems.add("IncorrectDiskStatus.NeverAttached")
        for instance_id in disk.attached:
            instance = self.instances[instance_id]
            if instance.status not in _STABLE:
                problems.add("IncorrectInstanceStatus")
            if not instance.ever_started:
                problems.add("IncorrectDiskStatus.NeverUsed")
        snapshots = self._disk_snapshots(disk.disk_id)
        if any(s.progressing for s in snapshots):
            problems.add("IncorrectDiskStatus.CreatingSnapshot")
        if len(snapshots) >= self.LIMITS.manual_snapshots_per_disk:
            problems.add("QuotaExceed.Snapshot")
        problems |= self._open_problems(disk.region_id, disk.key_id)
        return problems

    def _new_snapshot(
        self, snapshot_id: str, disk: _Disk, retention: int | None, group_id: str | None
    ) -> None:
        instant = CATEGORY_SPECS[disk.category].instant_access
        self.snapshots[snapshot_id] = _Snapshot(
            snapshot_id=snapshot_id,
            region_id=disk.region_id,
            disk_id=disk.disk_id,
            data=bytes(disk.data),
            source_size=disk.size,
            created=self.now,
            instant=instant,
            complete_due=None if instant else self.now + self.TIMINGS.snapshot_base,
            key_id=disk.key_id,
            retention=retention,
            group_id=group_id,
        )

    def _drop_snapshot(self, snapshot_id: str) -> None:
        snapshot = self.snapshots.pop(snapshot_id)
        self.gone["snapshot"].append(snapshot_id)
        group_id = snapshot.group_id
        if group_id is not None and not any(
            s.group_id == group_id for s in self.snapshots.values()
        ):
            del self.groups[group_id]
            self.gone["group"].append(group_id)

    def _held(self, snapshot: _Snapshot, now: _dt.datetime) -> bool:
        """Whether retention must wait: a holding lock, or images or disks made from it."""
        return (
            snapshot.image_refs > 0
            or snapshot.disk_refs > 0
            or (snapshot.lock is not None and snapshot.lock.holds(now))
        )

    def _release_if_expired(self, snapshot: _Snapshot) -> None:
        expire = snapshot.expire()
        if expire is not None and expire <= self.now and not self._held(snapshot, self.now):
            self._drop_snapshot(snapshot.snapshot_id)

    def _reset_problems(self, disk_id: str, snapshot_id: str) -> set[str]:
        """What ``_check_reset`` refuses."""
        disk = self.disks.get(disk_id)
        snapshot = self.snapshots.get(snapshot_id)
        problems = set()
        if disk is None:
            problems.add(_NOT_FOUND["disk"])
        if snapshot is None or (disk is not None and snapshot.region_id != disk.region_id):
            problems.add(_NOT_FOUND["snapshot"])
        if problems or disk is None or snapshot is None:
            return problems
        if snapshot.disk_id != disk.disk_id:
            problems.add("InvalidParameter.Mismatch")
        if not snapshot.available:
            problems.add("InvalidSnapshotId.NotReady")
        if any(self.instances[i].status is not InstanceStatus.Stopped for i in disk.attached):
            problems.add("IncorrectInstanceStatus")
        if any(s.progressing for s in self._disk_snapshots(disk.disk_id)):
            problems.add("IncorrectDiskStatus.HasUnfinishedSnapshot")
        problems |= self._open_problems(disk.region_id, disk.key_id)
        return problems

    def _peek(self, disk: _Disk) -> None:
        """Check a disk's bytes directly (also when no instance runs), if its key is usable."""
        if self._open_problems(disk.region_id, disk.key_id):
            return
        ecs = self.ecs(disk.region_id)
        with self.cloud._world.store.unit():
            record = ecs._disks.get(disk.disk_id)
            actual = ecs._read_blocks(disk.disk_id, 0, self.WRITE_SPAN, ecs._data_cipher(record))
        if actual != bytes(disk.data):
            raise AssertionError(f"disk {disk.disk_id} does not hold the expected bytes")

    def _peek_snapshot(self, snapshot: _Snapshot) -> None:
        """Check the bytes a snapshot would restore, if its key is usable."""
        if self._open_problems(snapshot.region_id, snapshot.key_id):
            return
        ecs = self.ecs(snapshot.region_id)
        block_size = self.BLOCK_SIZE
        blocks = [bytes(block_size)] * (self.WRITE_SPAN // block_size)
        with self.cloud._world.store.unit():
            record = ecs._snapshots.get(snapshot.snapshot_id)
            cipher = ecs._data_cipher(record)
            for key, digest in ecs._snapshot_map(record).items():
                index = int(key, 16)
                if index >= len(blocks):
                    raise AssertionError(f"snapshot {snapshot.snapshot_id} holds block {index}")
                blocks[index] = ecs._plain_block(digest, cipher, index)
        if b"".join(blocks) != snapshot.data:
            raise AssertionError(
                f"snapshot {snapshot.snapshot_id} does not hold the expected bytes"
            )

    # ================================================================================
    # A world to start from
    # ================================================================================
    @initialize()
    def seed_world(self) -> None:
        """Start from a key and a Running instance in every region: an ESSD system disk, a
        plain and an encrypted ESSD data disk, and an ultra disk (not snapshot-group capable).
        """

        def spec(category: DiskCategory, size: int, encryption: str = "plain") -> dict[str, Any]:
            return {
                "category": category,
                "level": PerformanceLevel.PL0 if category is DiskCategory.cloud_essd else None,
                "size": size,
                "encryption": encryption,
                "key_pick": len(self.keys) - 1,
                "key_form": "id",
                "delete_with_instance": True,
            }

        for index, _region in enumerate(self.REGION_IDS):
            self.create_key(region_pick=index, spec=KeySpec.Aliyun_AES_256)
            self.create_instance(
                region_pick=index,
                zone_pick=0,
                system=spec(DiskCategory.cloud_essd, 20),
                data=[
                    spec(DiskCategory.cloud_essd, 1),
                    spec(DiskCategory.cloud_essd, 2, "key"),
                    spec(DiskCategory.cloud_efficiency, 20),
                ],
                start=True,
                instance_type="ecs.g7.large",
            )
        self.advance_time(60)

    # ================================================================================
    # Time
    # ================================================================================
    def _advance_model(self, target: _dt.datetime) -> None:
        while True:
            due: list[tuple[_dt.datetime, int, str, Any]] = []
            for instance in self.instances.values():
                if instance.due is not None:
                    due.append((instance.due, 0, "instance", instance))
            for snapshot in self.snapshots.values():
                if snapshot.complete_due is not None:
                    due.append((snapshot.complete_due, 1, "complete", snapshot))
                expire = snapshot.expire()
                if expire is None or snapshot.image_refs or snapshot.disk_refs:
                    continue
                if snapshot.lock is not None:
                    end = snapshot.lock.end()
                    if end is None:
                        continue
                    expire = max(expire, end)
                due.append((max(expire, self.now), 2, "expire", snapshot))
            for key in self.keys.values():
                if key.delete_date is not None:
                    due.append((key.delete_date, 3, "key", key))
            if not due:
                break
            when, _, what, item = min(due, key=lambda d: (d[0], d[1]))
            if when > target:
                break
            self.now = max(self.now, when)
            if what == "instance":
                item.status, item.target, item.due = item.target, None, None
                if item.status is InstanceStatus.Running:
                    item.ever_started = True
            elif what == "complete":
                item.complete_due = None
                if item.lock is not None and item.lock.effective is None:
                    item.lock.effective = self.now
            elif what == "expire":
                self._drop_snapshot(item.snapshot_id)
            else:
                del self.keys[item.key_id]
                self.gone["key"].append(item.key_id)
                for address in [a for a, k in self.aliases.items() if k == item.key_id]:
                    del self.aliases[address]
        self.now = target

    @rule(
        delta=st.one_of(
            st.sampled_from([1, 10, 30, 60, 300, 3600, 43200, 86400, 3 * 86400, 40 * 86400]),
            st.integers(1, 4 * 86400),
        )
    )
    def advance_time(self, delta: int) -> None:
        """Move virtual time forward (seconds to weeks); every due event fires."""
        self.cloud.advance(_dt.timedelta(seconds=delta))
        self._advance_model(self.cloud.now())

    # ================================================================================
    # Instances
    # ================================================================================
    def _spec_problems(self, region_id: str, spec: dict[str, Any]) -> tuple[set[str], str | None]:
        encrypted = spec["encryption"] != "plain"
        ref = None
        if spec["encryption"] == "key":
            ref = self._key_ref(region_id, spec["key_pick"], spec["key_form"])
        problems = set()
        category_spec = CATEGORY_SPECS[spec["category"]]
        if encrypted and (category_spec.local or not category_spec.snapshot):
            problems.add("InvalidParameter.Encrypted")
        elif encrypted:
            problems |= self._cmk_problems(region_id, ref)
        return problems, ref

    @rule(
        region_pick=_PICK,
        zone_pick=_PICK,
        system=_disk_specs(system=True),
        data=st.lists(_disk_specs(system=False), max_size=5),
        start=st.booleans(),
        instance_type=cbst.instance_types(),
        settle=st.booleans(),
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
    ) -> None:
        """``run_instances`` (starts) or ``create_instance`` (stays Stopped); with ``settle``
        a minute passes afterwards, so the instance is Running or Stopped."""
        region = self._pick(self.REGION_IDS, region_pick)
        zone = self._pick(self._zones(region), zone_pick)
        problems, system_ref = self._spec_problems(region, system)
        refs = []
        for spec in data:
            more, ref = self._spec_problems(region, spec)
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

        result = self._attempt(problems, call)
        if isinstance(result, _Rejected):
            return
        delay = self.TIMINGS.instance_pending + (
            self.TIMINGS.instance_start if start else _dt.timedelta(0)
        )
        self.instances[result] = _Instance(
            result,
            region,
            zone,
            InstanceStatus.Pending,
            InstanceStatus.Running if start else InstanceStatus.Stopped,
            self.now + delay,
        )
        devices = {"/dev/xvda": (system, system_ref, DiskType.system, True)}
        for index, (spec, ref) in enumerate(zip(data, refs, strict=True)):
            devices[f"/dev/xvd{'bcdefghijklmnopqrstuvwxyz'[index]}"] = (
                spec,
                ref,
                DiskType.data,
                spec["delete_with_instance"],
            )
        for disk in ecs.describe_disks(instance_id=result, page_size=100).items:
            spec, ref, kind, dwi = devices.pop(disk.device or "")
            encrypted = spec["encryption"] != "plain"
            self.disks[disk.disk_id] = _Disk(
                disk_id=disk.disk_id,
                region_id=region,
                zone_id=zone,
                category=spec["category"],
                size=spec["size"],
                type=kind,
                data=bytearray(self.WRITE_SPAN),
                attached=[result],
                key_id=self._final_key(region, ref) if encrypted else None,
                delete_with_instance=dwi,
                ever_attached=True,
            )
        assert not devices, devices
        if settle:
            self.advance_time(60)

    def _instance_rule(
        self, pick: int, gone: bool, allowed: tuple[InstanceStatus, ...]
    ) -> tuple[str, str, set[str]]:
        instance_id = self._id_or_gone("instance", self.instances, pick, gone)
        instance = self.instances.get(instance_id)
        if instance is None:
            return instance_id, self.REGION_IDS[0], {_NOT_FOUND["instance"]}
        problems = set() if instance.status in allowed else {"IncorrectInstanceStatus"}
        return instance_id, instance.region_id, problems

    def _move(
        self,
        instance_id: str,
        status: InstanceStatus,
        target: InstanceStatus,
        delay: _dt.timedelta,
        settle: bool = False,
    ) -> None:
        instance = self.instances[instance_id]
        instance.status, instance.target, instance.due = status, target, self.now + delay
        if settle:
            self.advance_time(60)

    @precondition(lambda self: self.instances)
    @rule(pick=_PICK, gone=_RARELY, settle=st.booleans())
    def start_instance(self, pick: int, gone: bool, settle: bool) -> None:
        """``start_instance``: Stopped → Starting → Running (it needs a system disk)."""
        instance_id, region, problems = self._instance_rule(pick, gone, (InstanceStatus.Stopped,))
        if instance_id in self.instances and not any(
            d.type is DiskType.system for d in self._instance_disks(instance_id)
        ):
            problems.add("InvalidOperation.NoSystemDisk")
        if self._ok(problems, lambda: self.ecs(region).start_instance(instance_id)):
            self._move(
                instance_id,
                InstanceStatus.Starting,
                InstanceStatus.Running,
                self.TIMINGS.instance_start,
                settle,
            )

    @precondition(lambda self: self.instances)
    @rule(pick=_PICK, gone=_RARELY, settle=st.booleans())
    def stop_instance(self, pick: int, gone: bool, settle: bool) -> None:
        """``stop_instance``: Running → Stopping → Stopped."""
        instance_id, region, problems = self._instance_rule(pick, gone, (InstanceStatus.Running,))
        if self._ok(problems, lambda: self.ecs(region).stop_instance(instance_id)):
            self._move(
                instance_id,
                InstanceStatus.Stopping,
                InstanceStatus.Stopped,
                self.TIMINGS.instance_stop,
                settle,
            )

    @precondition(lambda self: self.instances)
    @rule(pick=_PICK, gone=_RARELY)
    def reboot_instance(self, pick: int, gone: bool) -> None:
        """``reboot_instance``: Running → Starting → Running."""
        instance_id, region, problems = self._instance_rule(pick, gone, (InstanceStatus.Running,))
        if self._ok(problems, lambda: self.ecs(region).reboot_instance(instance_id)):
            self._move(
                instance_id,
                InstanceStatus.Starting,
                InstanceStatus.Running,
                self.TIMINGS.instance_stop + self.TIMINGS.instance_start,
            )

    @precondition(lambda self: self.instances)
    @rule(pick=_PICK, gone=_RARELY, force=st.booleans())
    def delete_instance(self, pick: int, gone: bool, force: bool) -> None:
        """``delete_instance``: disks with delete_with_instance (and local disks) go with it."""
        allowed = _STABLE if force else (InstanceStatus.Stopped,)
        instance_id, region, problems = self._instance_rule(pick, gone, allowed)

        def call() -> object:
            return self.ecs(region).delete_instance(instance_id, force=force)

        if not self._ok(problems, call):
            return
        for disk in self._instance_disks(instance_id):
            shared_elsewhere = any(i != instance_id for i in disk.attached)
            local = CATEGORY_SPECS[disk.category].local
            if (disk.delete_with_instance or local) and not shared_elsewhere:
                self._destroy_disk(disk)
            else:
                disk.attached.remove(instance_id)
        del self.instances[instance_id]
        self.gone["instance"].append(instance_id)

    def _destroy_disk(self, disk: _Disk) -> None:
        for snapshot in self._disk_snapshots(disk.disk_id):
            locked = snapshot.lock is not None and snapshot.lock.holds(self.now)
            if snapshot.progressing and not locked:
                self._drop_snapshot(snapshot.snapshot_id)
        source = self.snapshots.get(disk.source_snapshot_id or "")
        del self.disks[disk.disk_id]
        if source is not None:
            source.disk_refs -= 1
            self._release_if_expired(source)
        self.gone["disk"].append(disk.disk_id)

    # ================================================================================
    # Disks
    # ================================================================================
    @rule(
        region_pick=_PICK,
        zone_pick=_PICK,
        spec=_disk_specs(system=False),
        multi_attach=st.booleans(),
    )
    def create_disk(
        self, region_pick: int, zone_pick: int, spec: dict[str, Any], multi_attach: bool
    ) -> None:
        """``create_disk``: an empty data disk of any category (local ones are refused)."""
        region = self._pick(self.REGION_IDS, region_pick)
        zone = self._pick(self._zones(region), zone_pick)
        category: DiskCategory = spec["category"]
        problems, ref = self._spec_problems(region, spec)
        if CATEGORY_SPECS[category].local:
            problems = {"InvalidDiskCategory.ValueNotSupported"}
        if multi_attach and category is not DiskCategory.cloud_essd:
            problems.add("InvalidParameter.MultiAttach")
        encrypted = spec["encryption"] != "plain"
        result = self._attempt(
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
        self.disks[result] = _Disk(
            disk_id=result,
            region_id=region,
            zone_id=zone,
            category=category,
            size=spec["size"],
            type=DiskType.data,
            data=bytearray(self.WRITE_SPAN),
            multi_attach=multi_attach,
            key_id=self._final_key(region, ref) if encrypted else None,
        )

    @precondition(lambda self: self.snapshots or self.gone["snapshot"])
    @rule(
        pick=_PICK,
        gone=_RARELY,
        zone_pick=_PICK,
        category=cbst.disk_categories(local=False),
        level=st.none() | cbst.performance_levels(),
        size_delta=st.none() | st.integers(-1, 3),
        encrypted=st.sampled_from([None, True, False]),
        key_pick=_PICK,
        key_form=st.sampled_from(["id", "alias", "arn", "none"]),
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
    ) -> None:
        """``create_disk(snapshot_id=...)``: the new disk holds exactly the snapshot's bytes."""
        snapshot_id = self._id_or_gone("snapshot", self.snapshots, pick, gone)
        snapshot = self.snapshots.get(snapshot_id)
        region = snapshot.region_id if snapshot is not None else self.REGION_IDS[-1]
        zone = self._pick(self._zones(region), zone_pick)
        if category is not DiskCategory.cloud_essd:
            level = None
        ref = None
        if encrypted and key_form != "none":
            ref = self._key_ref(region, key_pick, key_form)
        size = None if size_delta is None or snapshot is None else snapshot.source_size + size_delta
        problems: set[str] = set()
        spec = CATEGORY_SPECS[category]
        if snapshot is None:
            problems.add(_NOT_FOUND["snapshot"])
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
                    problems |= self._cmk_problems(region, snapshot.key_id)
                else:
                    problems |= self._cmk_problems(region, ref)
                    target = self._resolve(region, ref) if ref is not None else None
                    if snapshot.key_id is not None and (
                        target is None or target.key_id != snapshot.key_id
                    ):
                        problems |= self._open_problems(region, snapshot.key_id)
        result = self._attempt(
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
            return
        assert snapshot is not None
        key_id = None
        if encrypted or snapshot.key_id is not None:
            key_id = (
                snapshot.key_id
                if ref is None and snapshot.key_id is not None
                else self._final_key(region, ref)
            )
        disk = self.disks[result] = _Disk(
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
        self._peek(disk)

    @precondition(lambda self: self.disks and self.instances)
    @rule(
        disk_pick=_PICK,
        instance_pick=_PICK,
        gone=_RARELY,
        delete_with_instance=st.sampled_from([None, True, False]),
    )
    def attach_disk(
        self, disk_pick: int, instance_pick: int, gone: bool, delete_with_instance: bool | None
    ) -> None:
        """``attach_disk``: any disk to any instance of the region (most are refused)."""
        disk_id = self._id_or_gone("disk", self.disks, disk_pick, gone)
        disk = self.disks.get(disk_id)
        region = disk.region_id if disk is not None else self.REGION_IDS[0]
        same_region = [i for i, x in self.instances.items() if x.region_id == region]
        instance_id = self._pick(same_region or list(self.instances), instance_pick)
        instance = self.instances[instance_id]
        problems: set[str] = set()
        if disk is None:
            problems.add(_NOT_FOUND["disk"])
        if instance.region_id != region:
            problems.add(_NOT_FOUND["instance"])
        if disk is not None and instance.region_id == region:
            others = self._instance_disks(instance_id)
            if instance.status not in _STABLE:
                problems.add("IncorrectInstanceStatus")
            if disk.zone_id != instance.zone_id:
                problems.add("InvalidDiskId.ZoneMismatch")
            if instance_id in disk.attached or (disk.attached and not disk.multi_attach):
                problems.add("IncorrectDiskStatus")
            if disk.multi_attach and len(disk.attached) >= self.LIMITS.multi_attach_max_instances:
                problems.add("QuotaExceed.MultiAttach")
            problems |= self._cmk_problems(region, disk.key_id)
            if disk.type is DiskType.system:
                if instance.status is not InstanceStatus.Stopped:
                    problems.add("IncorrectInstanceStatus")
                if any(d.type is DiskType.system for d in others):
                    problems.add("InvalidOperation.SystemDiskExists")
            elif sum(d.type is DiskType.data for d in others) >= (
                self.LIMITS.data_disks_per_instance
            ):
                problems.add("InstanceDiskNumber.LimitExceed")

        def call() -> object:
            return self.ecs(region).attach_disk(
                instance_id=instance_id, disk_id=disk_id, delete_with_instance=delete_with_instance
            )

        if not self._ok(problems, call):
            return
        assert disk is not None
        disk.attached.append(instance_id)
        disk.ever_attached = True
        if delete_with_instance is not None:
            disk.delete_with_instance = delete_with_instance

    @precondition(lambda self: any(d.attached for d in self.disks.values()))
    @rule(pick=_PICK, wrong=_RARELY, delete_with_instance=st.sampled_from([None, True, False]))
    def detach_disk(self, pick: int, wrong: bool, delete_with_instance: bool | None) -> None:
        """``detach_disk``: a disk from one of its instances (or from one it is not on)."""
        disk_id = self._pick([d for d, x in self.disks.items() if x.attached], pick)
        disk = self.disks[disk_id]
        instance_id = self._pick(disk.attached, pick)
        if wrong:
            instance_id = self._pick(
                [i for i, x in self.instances.items() if x.region_id == disk.region_id], pick
            )
        instance = self.instances[instance_id]
        problems: set[str] = set()
        if instance_id not in disk.attached:
            problems.add("IncorrectDiskStatus")
        else:
            if CATEGORY_SPECS[disk.category].local:
                problems.add("DiskCategory.OperationNotSupported")
            allowed = (InstanceStatus.Stopped,) if disk.type is DiskType.system else _STABLE
            if instance.status not in allowed:
                problems.add("IncorrectInstanceStatus")

        def call() -> object:
            return self.ecs(disk.region_id).detach_disk(
                instance_id=instance_id,
                disk_id=disk_id,
                delete_with_instance=delete_with_instance,
            )

        if self._ok(problems, call):
            disk.attached.remove(instance_id)
            if delete_with_instance is not None:
                disk.delete_with_instance = delete_with_instance

    @precondition(lambda self: self.disks)
    @rule(pick=_PICK, gone=_RARELY)
    def delete_disk(self, pick: int, gone: bool) -> None:
        """``delete_disk``: only Available disks; their manual snapshots survive."""
        disk_id = self._id_or_gone("disk", self.disks, pick, gone)
        disk = self.disks.get(disk_id)
        region = disk.region_id if disk is not None else self.REGION_IDS[0]
        problems = {_NOT_FOUND["disk"]} if disk is None else set()
        if disk is not None and disk.attached:
            problems.add("IncorrectDiskStatus")
        if self._ok(problems, lambda: self.ecs(region).delete_disk(disk_id)):
            assert disk is not None
            self._destroy_disk(disk)

    @precondition(lambda self: self.disks)
    @rule(pick=_PICK, delta=st.integers(-1, 3))
    def resize_disk(self, pick: int, delta: int) -> None:
        """``resize_disk``: grow only, up to the category's (or a system disk's) maximum."""
        disk_id = self._pick(self.disks, pick)
        disk = self.disks[disk_id]
        new_size = disk.size + delta
        limit = CATEGORY_SPECS[disk.category].max_size
        if disk.type is DiskType.system:
            limit = min(limit, 2048)
        problems = set() if disk.size < new_size <= limit else {"InvalidDiskSize.ValueNotSupported"}
        if CATEGORY_SPECS[disk.category].local:
            problems.add("DiskCategory.OperationNotSupported")

        def call() -> object:
            return self.ecs(disk.region_id).resize_disk(disk_id=disk_id, new_size=new_size)

        if self._ok(problems, call):
            disk.size = new_size

    # ================================================================================
    # The guest's data plane
    # ================================================================================
    @precondition(lambda self: self.disks)
    @rule(pick=_PICK, write=cbst.block_writes(disk_size_bytes=WRITE_SPAN, max_size=3 * 4096))
    def write_disk(self, pick: int, write: tuple[int, bytes]) -> None:
        """A guest writes bytes; the model's copy of the disk changes the same way."""
        disk_id = self._pick(self.disks, pick)
        disk = self.disks[disk_id]
        offset, data = write
        offset %= self.WRITE_SPAN
        data = data[: self.WRITE_SPAN - offset]
        problems = self._io_problems(disk)

        def call() -> object:
            return self.ecs(disk.region_id).write_disk(disk_id, offset, data)

        if self._ok(problems, call):
            disk.data[offset : offset + len(data)] = data

    @precondition(lambda self: self.disks)
    @rule(
        pick=_PICK, start=st.integers(0, 2**20), length=st.integers(0, 3 * 4096), tail=st.booleans()
    )
    def read_disk(self, pick: int, start: int, length: int, tail: bool) -> None:
        """A guest reads bytes: exactly what the model holds; zeros beyond what was written."""
        disk_id = self._pick(self.disks, pick)
        disk = self.disks[disk_id]
        size = disk.size * 1024**3
        if tail:
            offset = size - min(length, size)
        else:
            offset = start % self.WRITE_SPAN
            length = min(length, self.WRITE_SPAN - offset)
        problems = self._io_problems(disk, length)
        result = self._attempt(
            problems, lambda: self.ecs(disk.region_id).read_disk(disk_id, offset, length)
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
        pick=_PICK,
        name=st.none() | cbst.snapshot_names(max_size=20),
        retention=st.none() | st.integers(1, 3) | cbst.retention_days(),
    )
    def create_snapshot(self, pick: int, name: str | None, retention: int | None) -> None:
        """``create_snapshot``: captures the model's bytes of the disk at this instant."""
        disk_id = self._pick(self.disks, pick)
        disk = self.disks[disk_id]
        problems = self._snapshot_problems(disk)
        result = self._attempt(
            problems,
            lambda: self.ecs(disk.region_id).create_snapshot(
                disk_id=disk_id, snapshot_name=name, retention_days=retention
            ),
        )
        if not isinstance(result, _Rejected):
            self._new_snapshot(result, disk, retention, None)

    @precondition(lambda self: self.instances or self.disks)
    @rule(
        mode=st.sampled_from(["instance", "exclude", "disks", "both"]),
        pick=_PICK,
        picks=st.lists(_PICK, min_size=1, max_size=5),
        foreign=_RARELY,
    )
    def create_snapshot_group(self, mode: str, pick: int, picks: list[int], foreign: bool) -> None:
        """``create_snapshot_group`` by instance (all or excluding disks) or by disk list."""
        problems: set[str] = set()
        instance_id = None
        include: list[str] = []
        exclude: list[str] = []
        if mode in ("instance", "exclude") and self.instances:
            instance_id = self._pick(self.instances, pick)
            region = self.instances[instance_id].region_id
            own = [d.disk_id for d in self._instance_disks(instance_id)]
            pool = own + (self._region_disks(region) if foreign else [])
            if mode == "exclude" and pool:
                exclude = sorted({self._pick(pool, p) for p in picks})
        else:
            disk_pool = list(self.disks) or self.gone["disk"]
            if not disk_pool:
                return
            first = self.disks.get(self._pick(disk_pool, pick))
            region = first.region_id if first is not None else self.REGION_IDS[0]
            pool = self._region_disks(region) or disk_pool
            include = sorted({self._pick(pool, p) for p in picks})
            if mode == "both":
                exclude = include[-1:]
                include = include[:-1] or include
        if include and exclude:
            problems.add("InvalidParam.ExcludeDiskIdsAndDiskIds.Conflict")
        if len(include) > self.LIMITS.snapshot_group_max_disks:
            problems.add("NumberExceed.TooManyDisks")
        members: list[_Disk] = []
        if instance_id is not None:
            own_ids = {d.disk_id for d in self._instance_disks(instance_id)}
            for disk_id in exclude:
                if disk_id not in own_ids:
                    problems.add("InvalidParameter.DiskId")
            members = [d for d in self._instance_disks(instance_id) if d.disk_id not in exclude]
            if not members:
                problems.add("InvalidInstance.NoDisk")
        else:
            for disk_id in include:
                if disk_id in self.disks:
                    members.append(self.disks[disk_id])
                else:
                    problems.add(_NOT_FOUND["disk"])
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
            problems |= self._snapshot_problems(disk)
        ecs = self.ecs(region)
        result = self._attempt(
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
        self.groups[result] = region
        by_disk = {ecs.describe_snapshot(s).source_disk_id: s for s in group.snapshot_ids}
        if set(by_disk) != {d.disk_id for d in members}:
            raise AssertionError(f"group {result} captured {sorted(by_disk)}, not the model's")
        for disk in members:
            self._new_snapshot(by_disk[disk.disk_id], disk, None, result)

    def _deletion_problems(self, snapshot: _Snapshot, force: bool) -> set[str]:
        problems = set()
        if snapshot.lock is not None and snapshot.lock.holds(self.now):
            problems.add("OperationDenied.SnapshotLocked")
        if snapshot.image_refs:
            problems.add("SnapshotCreatedImage")
        if snapshot.disk_refs and not force:
            problems.add("SnapshotCreatedDisk")
        return problems

    @precondition(lambda self: self.snapshots)
    @rule(pick=_PICK, gone=_RARELY, force=st.booleans(), elsewhere=_RARELY)
    def delete_snapshot(self, pick: int, gone: bool, force: bool, elsewhere: bool) -> None:
        """``delete_snapshot`` (any position of a chain); a missing id is silently ignored."""
        snapshot_id = self._id_or_gone("snapshot", self.snapshots, pick, gone)
        snapshot = self.snapshots.get(snapshot_id)
        region = snapshot.region_id if snapshot is not None else self.REGION_IDS[0]
        if elsewhere:
            region = next(r for r in self.REGION_IDS if r != region)
        if snapshot is None or snapshot.region_id != region:
            before = world_state(self.cloud)
            self.ecs(region).delete_snapshot(snapshot_id, force=force)
            if before != world_state(self.cloud):
                raise AssertionError("deleting a missing snapshot changed the world")
            return
        problems = self._deletion_problems(snapshot, force)

        def call() -> object:
            return self.ecs(region).delete_snapshot(snapshot_id, force=force)

        if self._ok(problems, call):
            self._drop_snapshot(snapshot_id)

    @precondition(lambda self: self.groups or self.gone["group"])
    @rule(pick=_PICK, gone=_RARELY)
    def delete_snapshot_group(self, pick: int, gone: bool) -> None:
        """``delete_snapshot_group``: members used by images stay; locked or disk-used members
        refuse the whole call."""
        group_id = self._id_or_gone("group", self.groups, pick, gone)
        problems: set[str] = set()
        members = [s for s in self.snapshots.values() if s.group_id == group_id]
        if group_id not in self.groups:
            problems.add(_NOT_FOUND["group"])
            region = self.REGION_IDS[0]
        else:
            region = self.groups[group_id]
            for snapshot in members:
                if not snapshot.image_refs:
                    problems |= self._deletion_problems(snapshot, force=False)

        def call() -> object:
            return self.ecs(region).delete_snapshot_group(group_id)

        if not self._ok(problems, call):
            return
        for snapshot in members:
            if snapshot.image_refs:
                snapshot.group_id = None
        for snapshot in members:
            if not snapshot.image_refs:
                self._drop_snapshot(snapshot.snapshot_id)
        if group_id in self.groups:
            del self.groups[group_id]
            self.gone["group"].append(group_id)

    @precondition(lambda self: self.snapshots)
    @rule(
        pick=_PICK,
        name=st.none() | cbst.snapshot_names(max_size=10),
        retention=st.none() | st.integers(1, 5),
    )
    def modify_snapshot_attribute(self, pick: int, name: str | None, retention: int | None) -> None:
        """``modify_snapshot_attribute``: rename, or extend retention (never shorten)."""
        snapshot_id = self._pick(self.snapshots, pick)
        snapshot = self.snapshots[snapshot_id]
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

        if self._ok(problems, call) and retention is not None:
            snapshot.retention = retention

    @precondition(lambda self: self.snapshots)
    @rule(
        pick=_PICK,
        duration=st.integers(1, 3) | cbst.lock_durations(),
        cool_off=st.sampled_from([0, 0, 1, 24, 72]) | cbst.cool_off_periods(),
    )
    def lock_snapshot(self, pick: int, duration: int, cool_off: int) -> None:
        """``lock_snapshot`` in compliance mode: new, reconfigured in cool-off, or extended."""
        snapshot_id = self._pick(self.snapshots, pick)
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

        if not self._ok(problems, call):
            return
        if extend:
            assert existing is not None
            existing.duration = duration
        else:
            snapshot.lock = _Lock(
                duration, cool_off, self.now, None if snapshot.progressing else self.now
            )

    @precondition(lambda self: any(s.lock for s in self.snapshots.values()))
    @rule(pick=_PICK)
    def unlock_snapshot(self, pick: int) -> None:
        """``unlock_snapshot``: only during the cool-off period."""
        snapshot_id = self._pick([s for s, x in self.snapshots.items() if x.lock is not None], pick)
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

        if self._ok(problems, call):
            snapshot.lock = None
            self._release_if_expired(snapshot)

    # ================================================================================
    # Restore substrate
    # ================================================================================
    @precondition(lambda self: self.snapshots)
    @rule(pick=_PICK, disk_pick=_PICK, own=st.booleans(), dry_run=st.booleans())
    def reset_disk(self, pick: int, disk_pick: int, own: bool, dry_run: bool) -> None:
        """``reset_disk``: afterwards the disk holds exactly the snapshot's bytes."""
        snapshot_id = self._pick(self.snapshots, pick)
        snapshot = self.snapshots[snapshot_id]
        if own:
            disk_id = snapshot.disk_id
        else:
            disk_id = self._id_or_gone(
                "disk",
                self._region_disks(snapshot.region_id) or [snapshot.disk_id],
                disk_pick,
                False,
            )
        problems = self._reset_problems(disk_id, snapshot_id)
        if dry_run and not problems:  # a dry run that would succeed answers DryRunOperation
            problems = {"DryRunOperation"}

        def call() -> object:
            return self.ecs(snapshot.region_id).reset_disk(
                disk_id=disk_id, snapshot_id=snapshot_id, dry_run=dry_run
            )

        if not self._ok(problems, call) or dry_run:
            return
        disk = self.disks[disk_id]
        disk.data[:] = snapshot.data
        self._peek(disk)

    @precondition(lambda self: self.snapshots)
    @rule(pick=_PICK, picks=st.lists(_PICK, min_size=1, max_size=3), by_group=st.booleans())
    def reset_disks(self, pick: int, picks: list[int], by_group: bool) -> None:
        """``reset_disks``: several disks at once, e.g. all members of a group; all or none."""
        snapshot = self.snapshots[self._pick(self.snapshots, pick)]
        region = snapshot.region_id
        if by_group and snapshot.group_id is not None:
            chosen = [s for s in self.snapshots.values() if s.group_id == snapshot.group_id]
        else:
            pool = [s for s, x in self.snapshots.items() if x.region_id == region]
            chosen = [self.snapshots[self._pick(pool, p)] for p in picks]
        pairs = [ResetDiskSpec(disk_id=s.disk_id, snapshot_id=s.snapshot_id) for s in chosen]
        problems: set[str] = set()
        if len({p.disk_id for p in pairs}) != len(pairs):
            problems.add("InvalidParameter.Disk")
        for pair in pairs:
            problems |= self._reset_problems(pair.disk_id, pair.snapshot_id)

        def call() -> object:
            return self.ecs(region).reset_disks(disks=pairs)

        if not self._ok(problems, call):
            return
        for pair in pairs:
            disk = self.disks[pair.disk_id]
            disk.data[:] = self.snapshots[pair.snapshot_id].data
            self._peek(disk)

    @precondition(lambda self: self.snapshots)
    @rule(pick=_PICK, data_picks=st.lists(_PICK, max_size=2))
    def create_image(self, pick: int, data_picks: list[int]) -> None:
        """``create_image`` from a system snapshot and data snapshots of one region."""
        system = self.snapshots[self._pick(self.snapshots, pick)]
        region = system.region_id
        pool = [s for s, x in self.snapshots.items() if x.region_id == region]
        chosen = [system] + [self.snapshots[self._pick(pool, p)] for p in data_picks]
        problems = {"InvalidSnapshotId.NotReady" for s in chosen if not s.available}
        mappings = [DiskDeviceMapping(snapshot_id=system.snapshot_id, disk_type="system")] + [
            DiskDeviceMapping(snapshot_id=s.snapshot_id, disk_type="data") for s in chosen[1:]
        ]
        result = self._attempt(
            problems, lambda: self.ecs(region).create_image(disk_device_mappings=mappings)
        )
        if isinstance(result, _Rejected):
            return
        self.images[result] = (region, tuple(s.snapshot_id for s in chosen))
        for snapshot in chosen:
            snapshot.image_refs += 1

    @precondition(lambda self: self.images or self.gone["image"])
    @rule(pick=_PICK, gone=_RARELY)
    def delete_image(self, pick: int, gone: bool) -> None:
        """``delete_image``: its snapshots become deletable; expired ones are released."""
        image_id = self._id_or_gone("image", self.images, pick, gone)
        entry = self.images.get(image_id)
        region = entry[0] if entry is not None else self.REGION_IDS[0]
        problems = {_NOT_FOUND["image"]} if entry is None else set()
        if not self._ok(problems, lambda: self.ecs(region).delete_image(image_id)):
            return
        assert entry is not None
        del self.images[image_id]
        self.gone["image"].append(image_id)
        for snapshot_id in entry[1]:
            self.snapshots[snapshot_id].image_refs -= 1
        for snapshot_id in dict.fromkeys(entry[1]):
            if snapshot_id in self.snapshots:
                self._release_if_expired(self.snapshots[snapshot_id])

    # ================================================================================
    # KMS
    # ================================================================================
    @rule(
        region_pick=_PICK,
        spec=st.sampled_from([KeySpec.Aliyun_AES_256, KeySpec.Aliyun_SM4]) | cbst.key_specs(),
    )
    def create_key(self, region_pick: int, spec: KeySpec) -> None:
        """``create_key``: symmetric keys mostly; asymmetric ones cannot encrypt disks."""
        region = self._pick(self.REGION_IDS, region_pick)
        usage = "SIGN/VERIFY" if spec in (KeySpec.EC_P256, KeySpec.EC_P256K) else "ENCRYPT/DECRYPT"
        key = self.cloud.kms(region).create_key(key_spec=spec.value, key_usage=usage)
        self.keys[key.key_id] = _Key(key.key_id, region, spec)

    def _kms_target(self, pick: int, elsewhere: bool) -> tuple[str, str, _Key | None]:
        key_id = self._id_or_gone("key", self.keys, pick, False)
        key = self.keys[key_id]
        region = key.region_id
        if elsewhere:
            region = next(r for r in self.REGION_IDS if r != region)
            return key_id, region, None
        return key_id, region, key

    def _manage_problems(self, key: _Key | None) -> set[str]:
        if key is None:
            return {"Forbidden.KeyNotFound"}
        if key.service:
            return {"Forbidden.NoPermission"}
        return set()

    @precondition(lambda self: self.keys)
    @rule(pick=_PICK, elsewhere=_RARELY, enable=st.booleans())
    def toggle_key(self, pick: int, elsewhere: bool, enable: bool) -> None:
        """``enable_key`` / ``disable_key`` (refused while pending deletion)."""
        key_id, region, key = self._kms_target(pick, elsewhere)
        problems = self._manage_problems(key)
        if key is not None and key.state is KeyState.PendingDeletion:
            problems.add("Rejected.StateModifiedFailed")
        kms = self.cloud.kms(region)
        call = (lambda: kms.enable_key(key_id)) if enable else (lambda: kms.disable_key(key_id))
        if self._ok(problems, call):
            assert key is not None
            key.state = KeyState.Enabled if enable else KeyState.Disabled

    @precondition(lambda self: self.keys)
    @rule(pick=_PICK, elsewhere=_RARELY, days=st.integers(7, 10) | cbst.pending_window_days())
    def schedule_key_deletion(self, pick: int, elsewhere: bool, days: int) -> None:
        """``schedule_key_deletion``: the key is deleted (with its aliases) after the window."""
        key_id, region, key = self._kms_target(pick, elsewhere)
        problems = self._manage_problems(key)
        if key is not None and key.state is KeyState.PendingDeletion:
            problems.add("Rejected.StateModifiedFailed")

        def call() -> object:
            return self.cloud.kms(region).schedule_key_deletion(key_id, days)

        if self._ok(problems, call):
            assert key is not None
            key.state = KeyState.PendingDeletion
            key.delete_date = self.now + _dt.timedelta(days=days)

    @precondition(lambda self: self.keys)
    @rule(pick=_PICK, elsewhere=_RARELY)
    def cancel_key_deletion(self, pick: int, elsewhere: bool) -> None:
        """``cancel_key_deletion``: back to Enabled."""
        key_id, region, key = self._kms_target(pick, elsewhere)
        problems = self._manage_problems(key)
        if key is not None and key.state is not KeyState.PendingDeletion:
            problems.add("Rejected.StateModifiedFailed")

        def call() -> object:
            return self.cloud.kms(region).cancel_key_deletion(key_id)

        if self._ok(problems, call):
            assert key is not None
            key.state, key.delete_date = KeyState.Enabled, None

    @precondition(lambda self: self.keys)
    @rule(
        pick=_PICK,
        name=cbst.alias_names(max_size=12),
        action=st.sampled_from(["create", "update", "delete"]),
    )
    def alias(self, pick: int, name: str, action: str) -> None:
        """``create_alias`` / ``update_alias`` / ``delete_alias``."""
        key_id, region, key = self._kms_target(pick, False)
        kms = self.cloud.kms(region)
        exists = (region, name) in self.aliases
        if action == "delete":
            problems = set() if exists else {"Forbidden.AliasNotFound"}
            if self._ok(problems, lambda: kms.delete_alias(name)):
                del self.aliases[(region, name)]
            return
        problems = self._manage_problems(key)
        if action == "create" and exists:
            problems.add("AliasAlreadyExists")
        if key is not None and key.state is KeyState.PendingDeletion:
            # KMS's key-state table: CreateAlias is refused as a failed state change,
            # UpdateAlias by the target key's state.
            problems.add(
                "Rejected.StateModifiedFailed" if action == "create" else "Rejected.PendingDeletion"
            )
        if action == "update" and not exists:
            problems.add("Forbidden.AliasNotFound")
        call = kms.create_alias if action == "create" else kms.update_alias
        if self._ok(problems, lambda: call(name, key_id)):
            self.aliases[(region, name)] = key_id

    # ================================================================================
    # Invariants
    # ================================================================================
    @invariant()
    def world_invariants_hold(self) -> None:
        """Every invariant of the whole world (:func:`check_invariants`)."""
        check_invariants(self.cloud)

    @invariant()
    def contents_match_model(self) -> None:
        """Every disk holds, and every snapshot would restore, exactly the model's bytes."""
        for disk in self.disks.values():
            self._peek(disk)
        for snapshot in self.snapshots.values():
            self._peek_snapshot(snapshot)

    @invariant()
    def world_matches_model(self) -> None:
        """The ``describe_*`` calls show exactly the model's resources and states."""
        if self.cloud.now() != self.now:
            raise AssertionError(f"clock {self.cloud.now()} but model {self.now}")
        for region in self.REGION_IDS:
            ecs = self.ecs(region)
            actual_instances = {i.instance_id: i.status for i in _all_pages(ecs.describe_instances)}
            expected_instances = {
                i.instance_id: i.status for i in self.instances.values() if i.region_id == region
            }
            _same("instances", region, expected_instances, actual_instances)
            actual_disks = {
                d.disk_id: (sorted(a.instance_id for a in d.attachments), d.size, d.kms_key_id)
                for d in _all_pages(ecs.describe_disks)
            }
            expected_disks = {
                d.disk_id: (sorted(d.attached), d.size, d.key_id)
                for d in self.disks.values()
                if d.region_id == region
            }
            _same("disks", region, expected_disks, actual_disks)
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
                for s in _all_pages(ecs.describe_snapshots)
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
            _same("snapshots", region, expected_snapshots, actual_snapshots)
            groups = {
                g.snapshot_group_id for g in ecs.describe_snapshot_groups(max_results=100).items
            }
            _same("groups", region, {g for g, r in self.groups.items() if r == region}, groups)
            images = {i.image_id for i in _all_pages(ecs.describe_images)}
            _same("images", region, {i for i, v in self.images.items() if v[0] == region}, images)
            kms = self.cloud.kms(region)
            keys = {k.key_id: k.key_state for k in _all_pages(kms.list_keys)}
            expected_keys = {k.key_id: k.state for k in self.keys.values() if k.region_id == region}
            _same("keys", region, expected_keys, keys)
            aliases = {a.alias_name: a.key_id for a in kms.list_aliases()}
            expected_aliases = {n: k for (r, n), k in self.aliases.items() if r == region}
            _same("aliases", region, expected_aliases, aliases)


def _all_pages(method: Callable[..., Any]) -> list[Any]:
    out: list[Any] = []
    number = 1
    while True:
        page = method(page_number=number, page_size=100)
        items = page.items
        out.extend(items)
        if len(out) >= page.total_count or not items:
            return out
        number += 1


def _same(what: str, region: str, expected: object, actual: object) -> None:
    if expected != actual:
        raise AssertionError(f"{what} in {region}: model {expected!r}, world {actual!r}")
