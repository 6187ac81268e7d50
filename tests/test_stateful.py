"""Whole-system tests: the ECS + KMS state machine, the world checks it relies on, and the
regressions it found."""

from __future__ import annotations

import collections
import datetime as dt
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.stateful import get_state_machine_test, invariant, run_state_machine_as_test

from cloudbackup import (
    Cloud,
    DataDisk,
    DiskDeviceMapping,
    DiskSnapshotTaken,
    EcsService,
    Event,
    EventRetention,
    InMemoryBackend,
    InstanceStatus,
    PointRetention,
    Rule,
    SystemDisk,
    TagFilter,
    errors,
)
from cloudbackup._backends._sqlite import SqliteBackend
from cloudbackup._services.ecs import DISK_BLOCKS, SNAPSHOT_BLOCKS
from cloudbackup._services.hbr.points import PointActions
from cloudbackup.testing import KINDS, CloudStateMachine, check_invariants, world_state

REGION = "cn-hangzhou"
ZONE = "cn-hangzhou-h"
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)

MACHINE_SETTINGS = settings(
    max_examples=300,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# -- helpers ---------------------------------------------------------------------------------
def _running_instance(cloud: Cloud, *data_disks: DataDisk) -> tuple[EcsService, str, list[str]]:
    """An instance in cn-hangzhou that is Running, with its data disk ids in device order."""
    ecs = cloud.ecs(REGION)
    [instance_id] = ecs.run_instances(
        zone_id=ZONE,
        instance_type="ecs.g7.large",
        system_disk=SystemDisk(),
        data_disks=list(data_disks),
    )
    cloud.advance(dt.timedelta(minutes=2))
    disks = ecs.describe_disks(instance_id=instance_id, disk_type="data", page_size=100).items
    return ecs, instance_id, [d.disk_id for d in sorted(disks, key=lambda d: d.device or "")]


def _stop(cloud: Cloud, ecs: EcsService, instance_id: str) -> None:
    ecs.stop_instance(instance_id)
    cloud.advance(dt.timedelta(minutes=1))
    assert InstanceStatus.Stopped == ecs.describe_instance_attribute(instance_id).status


def _rich_world(backend: InMemoryBackend | None = None) -> Cloud:
    """A world that stores something under every kind the library uses."""
    cloud = Cloud(seed=7, block_size=4096, backend=backend)
    kms = cloud.kms(REGION)
    key = kms.create_key()
    kms.create_alias("alias/disks", key.key_id)
    doomed = kms.create_key()
    kms.schedule_key_deletion(doomed.key_id, 7)
    ecs, instance_id, (plain, sealed, ultra) = _running_instance(
        cloud,
        DataDisk(size=20),
        DataDisk(size=20, encrypted=True, kms_key_id=key.key_id),
        DataDisk(category="cloud_efficiency", size=20),
    )
    for disk_id in (plain, sealed, ultra):
        ecs.write_disk(disk_id, 0, b"first" * 2000)
    first = ecs.create_snapshot(disk_id=plain, retention_days=3)
    base = ecs.create_snapshot(disk_id=sealed)
    ecs.write_disk(sealed, 4096, b"next")
    ecs.create_snapshot(disk_id=sealed)
    ecs.delete_snapshot(base)  # its successor takes the chain's base over: a delta home
    ecs.write_disk(plain, 8192, b"second")
    ecs.write_disk(plain, 4096, bytes(4096))  # a block that became zeros: a zero-block run
    ecs.create_snapshot_group(instance_id=instance_id, exclude_disk_ids=[ultra])
    ecs.create_snapshot(disk_id=ultra)  # stays progressing for a minute: a pending timer
    ecs.write_disk(plain, 0, b"dirty")
    ecs.lock_snapshot(snapshot_id=first, lock_duration=1, cool_off_period=1)
    ecs.create_image(
        disk_device_mappings=[DiskDeviceMapping(first, disk_type="system")], tags=[("k", "v")]
    )
    ecs.create_disk(
        zone_id=ZONE,
        disk_category="cloud_essd",
        size=20,
        snapshot_id=first,
        tags=[("k", "v")],
        client_token="rich-world",
    )
    ecs.tag_resources(resource_type="instance", resource_ids=[instance_id], tags=[("k", "v")])
    ecs.attach_instance_ram_role([instance_id], "AliyunECSInstanceForHbrRole")
    hbr = cloud.hbr(REGION)  # Cloud Backup: a policy whose TAG rule binds the tagged instance
    hbr.open_hbr_service()
    hbr.create_policy_v2(
        rules=[
            Rule("BACKUP", schedule="I|1704067200|P1D", retention=7),
            Rule("TAG", tag_filters=(TagFilter("k", "v"),)),
        ]
    )
    native = ecs.create_snapshot(disk_id=plain)  # a backup point, as a finished job records it
    with cloud._world.store.unit():
        hbr._record_point(
            job_id="job-rich",
            instance_id=instance_id,
            created=cloud.now(),
            disks=[DiskSnapshotTaken(plain, native)],
            retention=PointRetention(30),
            snapshot_group_id="ssg-rich",
        )
    hbr.extend_backup_retention(snapshot_group_id="ssg-rich", retention_days=40)  # a task
    hbr.describe_backup_capacity()  # the console's cached statistics
    hbr.create_backup_job(instance_id=instance_id, retention=7)  # running until it finishes
    engine = cloud._world.engine
    engine.register("test.handler_bug", _handler_bug)
    with cloud._world.store.unit():
        engine.schedule(cloud.now(), "test.handler_bug", REGION, "bug")
    with pytest.raises(RuntimeError, match="handler bug"):
        cloud.advance(dt.timedelta(0))  # leaves a failed timer
    return cloud


def _handler_bug(timer: object) -> None:
    raise RuntimeError("handler bug")


# -- the state machine -----------------------------------------------------------------------
class _CountingMachine(CloudStateMachine):
    """The machine, counting every rule's outcomes over a whole run."""

    OUTCOMES: ClassVar[collections.Counter[str] | None] = collections.Counter()


#: Deep states the machine must reach in a run, each once at least: every one of them hid a
#: rule mutation that survived the whole suite before the rules aimed at them.
DEEP_STATES = (
    "attach_disk: ok",
    "restored and read a snapshot",
    "snapshot of a restored disk",
    "restored and read a snapshot of a restored disk",
    "snapshot of a restored disk expired",
    "retention waits for a disk made from the snapshot",
    "reset_disk: ok",
    "reset_disk: dry run ok",
    "reset_disks: ok",
    "reset_disks: dry run ok",
    "create_snapshot_group: ok",
    "delete_snapshot_group: ok",
    "unlock_snapshot: ok",
    "cancel_key_deletion: ok",
    "backup job: COMPLETE",
    "backup job: SKIPPED",
    "backup job: CANCELED",
    "delete_backups_in_range: ok",
)


def test_cloud_state_machine_keeps_invariants_and_agrees_with_its_model() -> None:
    """Random ECS + KMS + Cloud Backup workloads keep every invariant, match the model's bytes
    and states, and every rejected call leaves the world exactly as it was (no wall-clock
    limit: a loaded machine makes the run slower, never wrong)."""
    run_state_machine_as_test(CloudStateMachine, settings=MACHINE_SETTINGS)


#: Fixed seeds the deep-state test runs the machine with, in order, until every deep state was
#: reached. One derandomized run is a single fixed draw: any change to a draw anywhere (a new
#: rule, a strategy tweak) reshuffles it, and a state that a run reaches about two times in
#: three then vanishes one change in three. Runs over independent fixed seeds, stopping as soon
#: as the union has every state, fail only if all of them miss the same state (about 1 % for
#: the rarest one, measured over 8 seeds), while staying deterministic and usually costing one
#: run of DEEP_EXAMPLES examples (half the former single run of 300). Since Cloud Backup's job
#: rules joined, seed 2 alone reaches every state; 0 then 4 together do too (measured at 20:40
#: UTC on 30 November 2026: 0, 1, 4 and 5 each missed one to four states, the rarest being
#: "delete_snapshot_group: ok", whose rule is enabled only while a group exists).
DEEP_SEEDS = (2, 0, 4, 1, 5, 3, 6, 7)
DEEP_EXAMPLES = 150


def test_cloud_state_machine_reaches_the_deep_states() -> None:
    """Runs over fixed seeds reach every state in DEEP_STATES, and at most a third of their
    calls are refused: the rules aim at resources in the state their call needs."""
    outcomes = _CountingMachine.OUTCOMES
    assert outcomes is not None
    outcomes.clear()
    runs = 0
    for fixed in DEEP_SEEDS:
        test = get_state_machine_test(
            _CountingMachine,
            settings=settings(MACHINE_SETTINGS, max_examples=DEEP_EXAMPLES, database=None),
        )
        seed(fixed)(test)()
        runs += 1
        if all(outcomes[label] for label in DEEP_STATES):
            break
    assert [] == [label for label in DEEP_STATES if not outcomes[label]], (runs, dict(outcomes))
    calls = sum(n for label, n in outcomes.items() if label.endswith((": ok", ": rejected")))
    refused = sum(n for label, n in outcomes.items() if label.endswith(": rejected"))
    assert refused * 3 < calls, (refused, calls)


class _SqliteCloudMachine(CloudStateMachine):
    """The documented way to run the machine on another backend: override make_cloud."""

    def make_cloud(self) -> Cloud:
        return Cloud(
            backend=SqliteBackend(":memory:"),
            seed=self.SEED,
            block_size=self.BLOCK_SIZE,
            timings=self.TIMINGS,
            limits=self.LIMITS,
        )


def test_cloud_state_machine_runs_on_the_sqlite_backend() -> None:
    """A subclass that overrides make_cloud runs the same workloads on SQLite."""
    run_state_machine_as_test(
        _SqliteCloudMachine,
        settings=settings(MACHINE_SETTINGS, max_examples=100, stateful_step_count=50),
    )


class _BoundedEventLogMachine(CloudStateMachine):
    """The machine on a world whose log keeps at most 7 events and none 6 hours older than the
    newest, with a subscriber that sees everything: the stored log must always be the tail of
    what the subscriber saw that the retention allows."""

    EVENT_RETENTION = EventRetention(max_events=7, max_age=dt.timedelta(hours=6))

    def make_cloud(self) -> Cloud:
        cloud = super().make_cloud()
        self.seen: list[Event] = []
        cloud.events.subscribe(self.seen.append)
        return cloud

    @invariant()
    def stored_log_is_the_retained_tail_of_every_event(self) -> None:
        seen = self.seen
        assert list(range(len(seen))) == [e.sequence for e in seen]
        kept = seen[-7:]
        if kept:
            cutoff = kept[-1].time - dt.timedelta(hours=6)
            kept = [e for e in kept if e.time >= cutoff]
        assert kept == list(self.cloud.events)
        assert len(seen) - len(kept) == self.cloud.events.first_sequence


def test_cloud_state_machine_keeps_a_bounded_event_log() -> None:
    """Every rule on a world with a tiny event retention: the log keeps exactly the allowed tail
    of the events subscribers saw, and every world invariant holds."""
    run_state_machine_as_test(
        _BoundedEventLogMachine,
        settings=settings(MACHINE_SETTINGS, max_examples=100, stateful_step_count=50),
    )


_REAL_WRITE = EcsService.write_disk


def _lossy_write(self: EcsService, disk_id: str, offset: int, data: bytes) -> None:
    """A guest write that silently loses its last byte."""
    trimmed = data[:-1] if isinstance(data, bytes) and len(data) > 1 else data
    _REAL_WRITE(self, disk_id, offset, trimmed)


def test_cloud_state_machine_catches_a_service_that_loses_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The machine fails when the service under test loses written bytes."""
    monkeypatch.setattr(EcsService, "write_disk", _lossy_write)
    with pytest.raises(AssertionError, match=r"expected bytes|differs from the model"):
        run_state_machine_as_test(
            CloudStateMachine,
            settings=settings(
                MACHINE_SETTINGS, max_examples=200, phases=[Phase.generate], database=None
            ),
        )


def test_cloud_state_machine_catches_a_point_expiry_that_keeps_its_snapshots(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The machine fails when an expiring backup point leaves its native snapshots behind
    (one a disk was made from keeps the job's retention instead of being kept until deleted)."""
    monkeypatch.setattr(PointActions, "_release_native", lambda self, snapshot_id, **_: None)
    caught = r"snapshots in cn-|outlived its point|natives of \S+ outlived it\b"
    with pytest.raises(AssertionError, match=caught):
        run_state_machine_as_test(
            CloudStateMachine,
            settings=settings(
                MACHINE_SETTINGS, max_examples=200, phases=[Phase.generate], database=None
            ),
        )


# -- KINDS, world_state and check_invariants -------------------------------------------------
def test_kinds_lists_exactly_the_kinds_the_library_stores() -> None:
    """Every kind a busy world stores is in KINDS, and every kind in KINDS is used."""
    backend = InMemoryBackend()
    cloud = _rich_world(backend)
    stored = {kind for kind, parts in backend._records.items() if any(parts.values())}
    cloud.advance(dt.timedelta(days=2))  # the running job finishes: it records a point
    stored |= {kind for kind, parts in backend._records.items() if any(parts.values())}
    assert set(KINDS) == stored


def test_check_invariants_catches_a_failed_timer_that_is_still_pending() -> None:
    """A timer recorded as failed while still pending breaks an invariant."""
    backend = InMemoryBackend()
    cloud = _rich_world(backend)
    (failed,) = cloud._world.engine.failed()
    backend.begin()
    backend.put("engine.timer", "", failed.timer.key, failed.timer)
    backend.commit()
    with pytest.raises(AssertionError, match="both pending and failed"):
        check_invariants(cloud)


def test_a_rich_world_keeps_its_invariants_over_time() -> None:
    """The invariants hold in a busy world and as its timers fire over days."""
    cloud = _rich_world()
    check_invariants(cloud)
    for _ in range(6):
        cloud.advance(dt.timedelta(hours=13))
        check_invariants(cloud)


def test_world_state_is_stable_hashable_and_sees_every_change() -> None:
    """world_state is equal and hashable while nothing changes, and differs after a write."""
    cloud = _rich_world()
    before = world_state(cloud)
    assert before == world_state(cloud)
    assert hash(before) == hash(world_state(cloud))
    ecs = cloud.ecs(REGION)
    disk_id = ecs.describe_disks(disk_type="data", category="cloud_efficiency").items[0].disk_id
    ecs.write_disk(disk_id, 4096 * 9, b"\x01")
    after = world_state(cloud)
    assert before != after
    assert "ecs.disk_extents" in before.difference(after)


def test_world_state_is_unchanged_by_a_rejected_call() -> None:
    """A refused delete of an in-use disk leaves world_state exactly as it was."""
    cloud = _rich_world()
    ecs = cloud.ecs(REGION)
    in_use = ecs.describe_disks(status="In_use").items[0].disk_id
    before = world_state(cloud)
    with pytest.raises(errors.IncorrectStatusError):
        ecs.delete_disk(in_use)
    assert before == world_state(cloud)


def _corrupt(cloud: Cloud, kind: str, partition: str, key: str, value: object) -> None:
    backend = cloud.backend
    backend.begin()
    if value is None:
        backend.delete(kind, partition, key)
    else:
        backend.put(kind, partition, key, value)
    backend.commit()


def _first(cloud: Cloud, kind: str) -> tuple[str, str, object]:
    backend = cloud.backend
    for partition in backend.partitions(kind):
        for key, value in backend.scan(kind, partition):
            return partition, key, value
    raise AssertionError(f"no {kind} record")


def test_check_invariants_catches_a_wrong_reference_count() -> None:
    """A block whose reference count disagrees with the maps holding it is reported."""
    cloud = _rich_world()
    _, key, refs = _first(cloud, "blob.refs")
    assert isinstance(refs, int)
    _corrupt(cloud, "blob.refs", "", key, refs + 1)
    with pytest.raises(AssertionError, match="refcount"):
        check_invariants(cloud)


def test_check_invariants_catches_a_snapshot_delta_entry_nobody_counted() -> None:
    """A delta entry the chain's sizes do not account for is reported."""
    cloud = _rich_world()
    snapshot_id, _, digest = _first(cloud, SNAPSHOT_BLOCKS)
    _corrupt(cloud, SNAPSHOT_BLOCKS, snapshot_id, "0000000000ff", digest)
    with pytest.raises(AssertionError, match=r"holds|total_blocks|refcount"):
        check_invariants(cloud)


def test_check_invariants_catches_a_dangling_disk_block_map() -> None:
    """Blocks of a disk that does not exist are reported."""
    cloud = _rich_world()
    _, key, digest = _first(cloud, DISK_BLOCKS)
    _corrupt(cloud, DISK_BLOCKS, "d-ghost", key, digest)
    with pytest.raises(AssertionError, match="d-ghost"):
        check_invariants(cloud)


def test_check_invariants_catches_a_disk_in_use_without_attachments() -> None:
    """A disk whose status disagrees with its attachments is reported."""
    import attrs

    from cloudbackup import Disk

    cloud = _rich_world()
    ecs = cloud.ecs(REGION)
    disk = ecs.describe_disks(status="In_use").items[0]
    _corrupt(cloud, Disk.KIND, REGION, disk.disk_id, attrs.evolve(disk, attachments=()))
    with pytest.raises(AssertionError, match="In_use"):
        check_invariants(cloud)


def test_check_invariants_catches_a_gap_in_the_event_log() -> None:
    """A missing event leaves a gap in the numbering, which is reported."""
    cloud = _rich_world()
    _corrupt(cloud, "event", "", f"{3:016d}", None)
    with pytest.raises(AssertionError, match="event"):
        check_invariants(cloud)


# -- regressions the machine found -----------------------------------------------------------
def test_local_disks_are_released_with_their_instance() -> None:
    """A local disk goes with its instance even if delete_with_instance was False."""
    cloud = Cloud(seed=1, block_size=4096)
    ecs, instance_id, [local] = _running_instance(
        cloud, DataDisk(category="local_ssd_pro", size=10, delete_with_instance=False)
    )
    _stop(cloud, ecs, instance_id)
    ecs.delete_instance(instance_id)
    remaining = [d.disk_id for d in ecs.describe_disks(page_size=100).items]
    assert local not in remaining
    check_invariants(cloud)


def _expired_but_locked(cloud: Cloud, cool_off_hours: int) -> tuple[EcsService, str]:
    """A snapshot whose 1-day retention has run out while a lock in cool-off holds it."""
    ecs, _, [disk_id] = _running_instance(cloud, DataDisk(size=20))
    snapshot_id = ecs.create_snapshot(disk_id=disk_id, retention_days=1)
    # The lock itself may not outlast retention (1 day); its 72-hour cool-off holds longer.
    ecs.lock_snapshot(snapshot_id=snapshot_id, lock_duration=1, cool_off_period=cool_off_hours)
    cloud.advance(DAY + HOUR)
    assert snapshot_id == ecs.describe_snapshot(snapshot_id).snapshot_id
    return ecs, snapshot_id


def test_unlocking_a_snapshot_past_its_retention_releases_it() -> None:
    """A snapshot kept only by a lock is released when the lock is removed."""
    cloud = Cloud(seed=2, block_size=4096)
    ecs, snapshot_id = _expired_but_locked(cloud, cool_off_hours=72)
    ecs.unlock_snapshot(snapshot_id)
    expected = 0
    assert expected == ecs.describe_snapshots(snapshot_ids=[snapshot_id]).total_count
    check_invariants(cloud)


def test_an_expired_snapshot_held_in_cool_off_takes_no_new_lock_and_goes_after_it() -> None:
    """Past its retention a snapshot takes no new lock; it is released when the cool-off ends."""
    cloud = Cloud(seed=3, block_size=4096)
    ecs, snapshot_id = _expired_but_locked(cloud, cool_off_hours=72)
    with pytest.raises(errors.DependencyViolationError):
        ecs.lock_snapshot(snapshot_id=snapshot_id, lock_duration=1, cool_off_period=0)
    cloud.advance(2 * DAY)
    expected = 0
    assert expected == ecs.describe_snapshots(snapshot_ids=[snapshot_id]).total_count
    check_invariants(cloud)
