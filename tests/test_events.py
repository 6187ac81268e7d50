"""Events: every state change is a typed event in an ordered log; subscribers see commits only."""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cloudbackup
from _helpers import (
    REGION,
    ZONE,
    backend_state,
    data_disk_ids,
    entity_records,
    make_cloud,
    raises_code,
    rejected_unchanged,
    run_instance,
    settle,
    stop,
    system_disk_id,
)
from cloudbackup import (
    Cloud,
    DataDisk,
    DiskDeviceMapping,
    Event,
    EventRetention,
    InMemoryBackend,
    ResetDiskSpec,
    SqliteBackend,
    errors,
)
from cloudbackup.testing import check_invariants

EVENT_TYPES = sorted(
    (
        obj
        for name in cloudbackup.__all__
        if isinstance(obj := getattr(cloudbackup, name), type)
        and issubclass(obj, Event)
        and obj is not Event
    ),
    key=lambda cls: cls.__name__,
)


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
def test_event_types_are_frozen_keyword_only_records(cls: type[Event]) -> None:
    """Each event type is a frozen attrs class with sequence, time and region_id."""
    import attrs

    names = [f.name for f in attrs.fields(cls)]
    assert ["sequence", "time", "region_id"] == names[:3]
    assert all(f.kw_only for f in attrs.fields(cls))
    assert cls.__doc__


def test_event_log_starts_empty() -> None:
    """A new Cloud has recorded nothing."""
    cloud = Cloud()
    assert 0 == len(cloud.events)
    assert [] == cloud.events.list()


class Recorder:
    """Runs steps and checks each one's events against the entity records it changed."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.seen = 0

    def step(
        self, call: Callable[[], object], expected: list[str], *, ordered: bool = True
    ) -> list[Event]:
        before = entity_records(self.cloud)
        start = len(self.cloud.events)
        call()
        events = self.cloud.events.list(since=start)
        changed = before != entity_records(self.cloud)
        names = [type(e).__name__ for e in events]
        assert expected == (names if ordered else sorted(names))
        assert bool(events) or not changed, "a state change must emit an event"
        for offset, event in enumerate(events):
            assert start + offset == event.sequence
            assert type(event) is not Event
        return events


def test_every_ecs_state_change_emits_typed_events() -> None:
    """A tour of every mutating ECS call: each changes records only with the right events."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    rec = Recorder(cloud)
    ids: list[str] = []
    rec.step(
        lambda: ids.extend(
            ecs.run_instances(
                zone_id=ZONE, instance_type="ecs.g7.large", data_disks=[DataDisk(size=20)]
            )
        ),
        ["InstanceCreated", "DiskCreated", "DiskAttached", "DiskCreated", "DiskAttached"],
    )
    [iid] = ids
    rec.step(lambda: settle(cloud), ["InstanceStatusChanged"])
    [data] = data_disk_ids(ecs, iid)
    system = system_disk_id(ecs, iid)
    rec.step(lambda: ecs.write_disk(data, 0, b"log"), ["DiskWritten"])
    snaps: list[str] = []
    rec.step(
        lambda: snaps.append(ecs.create_snapshot(disk_id=data, retention_days=3)),
        ["SnapshotCreated", "SnapshotCompleted"],
    )
    rec.step(
        lambda: ecs.modify_snapshot_attribute(snapshot_id=snaps[0], snapshot_name="renamed"),
        ["SnapshotModified"],
    )
    rec.step(
        lambda: ecs.lock_snapshot(snapshot_id=snaps[0], lock_duration=1, cool_off_period=1),
        ["SnapshotLocked"],
    )
    rec.step(lambda: ecs.unlock_snapshot(snaps[0]), ["SnapshotUnlocked"])
    groups: list[str] = []
    rec.step(
        lambda: groups.append(ecs.create_snapshot_group(instance_id=iid)),
        ["SnapshotCreated", "SnapshotCompleted"] * 2 + ["SnapshotGroupCreated"],
    )
    new_disks: list[str] = []
    rec.step(
        lambda: new_disks.append(ecs.create_disk(zone_id=ZONE, snapshot_id=snaps[0])),
        ["DiskCreated"],
    )
    rec.step(lambda: ecs.attach_disk(instance_id=iid, disk_id=new_disks[0]), ["DiskAttached"])
    rec.step(lambda: ecs.resize_disk(disk_id=new_disks[0], new_size=30), ["DiskResized"])
    rec.step(lambda: ecs.detach_disk(instance_id=iid, disk_id=new_disks[0]), ["DiskDetached"])
    rec.step(lambda: ecs.delete_disk(new_disks[0]), ["DiskDeleted"])
    sys_snap: list[str] = []
    rec.step(
        lambda: sys_snap.append(ecs.create_snapshot(disk_id=system)),
        ["SnapshotCreated", "SnapshotCompleted"],
    )
    images: list[str] = []
    rec.step(
        lambda: images.append(
            ecs.create_image(
                disk_device_mappings=[
                    DiskDeviceMapping(snapshot_id=sys_snap[0], disk_type="system"),
                    DiskDeviceMapping(snapshot_id=snaps[0]),
                ]
            )
        ),
        ["ImageCreated"],
    )
    rec.step(lambda: ecs.delete_image(images[0]), ["ImageDeleted"])
    rec.step(lambda: ecs.reboot_instance(iid), ["InstanceStatusChanged"])
    rec.step(lambda: settle(cloud), ["InstanceStatusChanged"])
    rec.step(lambda: ecs.stop_instance(iid), ["InstanceStatusChanged"])
    rec.step(lambda: settle(cloud), ["InstanceStatusChanged"])
    rec.step(lambda: ecs.reset_disk(disk_id=data, snapshot_id=snaps[0]), ["DiskReset"])
    rec.step(
        lambda: ecs.reset_disks(disks=[ResetDiskSpec(data, snaps[0])]),
        ["DiskReset"],
    )
    rec.step(
        lambda: ecs.delete_snapshot_group(groups[0]),
        ["SnapshotDeleted", "SnapshotDeleted", "SnapshotGroupDeleted"],
        ordered=False,
    )
    rec.step(lambda: ecs.delete_snapshot(sys_snap[0]), ["SnapshotDeleted"])
    rec.step(lambda: ecs.start_instance(iid), ["InstanceStatusChanged"])
    rec.step(lambda: settle(cloud), ["InstanceStatusChanged"])
    rec.step(
        lambda: ecs.modify_disk_attribute(disk_id=data, delete_with_instance=False),
        ["DiskModified"],
    )
    rec.step(lambda: cloud.advance(dt.timedelta(days=3)), ["SnapshotDeleted"])
    rec.step(lambda: stop(cloud, ecs, iid), ["InstanceStatusChanged"] * 2)
    rec.step(
        lambda: ecs.delete_instance(iid),
        ["DiskDeleted", "DiskDetached", "InstanceDeleted"],
        ordered=False,
    )


def test_every_kms_state_change_emits_typed_events() -> None:
    """A tour of every mutating KMS call, including key deletion and its aliases."""
    cloud = make_cloud()
    kms = cloud.kms(REGION)
    rec = Recorder(cloud)
    keys: list[str] = []
    rec.step(lambda: keys.append(kms.create_key().key_id), ["KeyCreated"])
    other = kms.create_key().key_id
    rec.seen = len(cloud.events)
    rec.step(lambda: kms.create_alias("alias/a", keys[0]), ["AliasCreated"])
    rec.step(lambda: kms.update_alias("alias/a", other), ["AliasUpdated"])
    rec.step(lambda: kms.update_alias("alias/a", keys[0]), ["AliasUpdated"])
    rec.step(lambda: kms.create_alias("alias/b", keys[0]), ["AliasCreated"])
    rec.step(lambda: kms.delete_alias("alias/b"), ["AliasDeleted"])
    rec.step(lambda: kms.disable_key(keys[0]), ["KeyStateChanged"])
    rec.step(lambda: kms.enable_key(keys[0]), ["KeyStateChanged"])
    rec.step(lambda: kms.schedule_key_deletion(keys[0], 7), ["KeyStateChanged"])
    rec.step(lambda: kms.cancel_key_deletion(keys[0]), ["KeyStateChanged"])
    rec.step(lambda: kms.schedule_key_deletion(keys[0], 7), ["KeyStateChanged"])
    rec.step(
        lambda: cloud.advance(dt.timedelta(days=7)),
        ["AliasDeleted", "KeyDeleted"],
    )


def test_service_key_creation_is_recorded() -> None:
    """The first encrypted disk creates alias/acs/ecs: KeyCreated and AliasCreated."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    start = len(cloud.events)
    ecs.create_disk(zone_id=ZONE, size=20, disk_category="cloud_essd", encrypted=True)
    names = [type(e).__name__ for e in cloud.events.list(since=start)]
    assert ["KeyCreated", "AliasCreated", "DiskCreated"] == names


def test_events_carry_time_and_region() -> None:
    """Each event has the virtual time it happened at and its region."""
    cloud = make_cloud()
    run_instance(cloud, region="cn-shanghai", wait=False)
    cloud.advance(dt.timedelta(hours=1))
    cloud.kms(REGION).create_key()
    created = next(iter(cloud.events))
    assert cloudbackup.DEFAULT_START == created.time
    assert "cn-shanghai" == created.region_id
    status = cloud.events.list(cloudbackup.InstanceStatusChanged)[0]
    assert cloudbackup.DEFAULT_START + dt.timedelta(seconds=50) == status.time
    key = cloud.events.list(cloudbackup.KeyCreated)[-1]
    assert (REGION, cloud.now()) == (key.region_id, key.time)


def test_log_filters_by_type_since_and_region() -> None:
    """list() filters by event type, starting sequence and region."""
    cloud = make_cloud()
    run_instance(cloud)
    run_instance(cloud, region="cn-beijing")
    everything = list(cloud.events)
    assert list(range(len(everything))) == [e.sequence for e in everything]
    disks = cloud.events.list(cloudbackup.DiskCreated)
    assert all(isinstance(e, cloudbackup.DiskCreated) for e in disks)
    assert 2 == len(disks)
    assert everything[3:] == cloud.events.list(since=3)
    beijing = cloud.events.list(region_id="cn-beijing")
    assert beijing and all(e.region_id == "cn-beijing" for e in beijing)
    assert len(everything) == len(beijing) + len(cloud.events.list(region_id=REGION))


def test_subscribers_are_called_after_commit_in_order() -> None:
    """A subscriber sees each event once, in order, with the unit already committed."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    seen: list[tuple[int, bool, bool]] = []

    def subscriber(event: Event) -> None:
        committed = not cloud._world.store.in_unit
        visible = True
        if isinstance(event, cloudbackup.DiskCreated):
            visible = ecs.describe_disk(event.disk_id).disk_id == event.disk_id
        seen.append((event.sequence, committed, visible))

    cloud.events.subscribe(subscriber)
    ecs.create_disk(zone_id=ZONE, size=20)
    run_instance(cloud)
    assert [(e.sequence, True, True) for e in cloud.events] == seen


def test_subscribers_never_see_rejected_calls() -> None:
    """A call that fails, even after emitting internally, notifies nobody."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)])
    [disk] = data_disk_ids(ecs, iid)
    seen: list[Event] = []
    cloud.events.subscribe(seen.append)
    size = len(cloud.events)
    # create_instance emits InstanceCreated before it validates the data disk it cannot build.
    with pytest.raises(errors.InvalidParameterError):
        ecs.run_instances(
            zone_id=ZONE,
            instance_type="ecs.g7.large",
            data_disks=[DataDisk(category="cloud", size=1)],
        )
    with pytest.raises(errors.CloudBackupError):
        ecs.delete_disk(disk)
    with pytest.raises(errors.CloudBackupError):
        ecs.write_disk(disk, 21 * 1024**3, b"x")
    assert [] == seen
    assert size == len(cloud.events)


def test_subscribers_see_timer_events() -> None:
    """Events fired by advancing time reach subscribers too."""
    cloud = make_cloud()
    run_instance(cloud, wait=False)
    seen: list[Event] = []
    cloud.events.subscribe(seen.append)
    settle(cloud)
    assert ["InstanceStatusChanged"] == [type(e).__name__ for e in seen]


def test_unsubscribe_stops_delivery() -> None:
    """The function subscribe returns stops further calls; calling it twice is harmless."""
    cloud = make_cloud()
    seen: list[Event] = []
    unsubscribe = cloud.events.subscribe(seen.append)
    cloud.kms(REGION).create_key()
    unsubscribe()
    unsubscribe()
    cloud.kms(REGION).create_key()
    assert 1 == len(seen)


def test_a_failing_subscriber_does_not_hide_events_from_the_others() -> None:
    """If one subscriber raises, the others still see the event; the error then propagates
    and the call's changes stand."""
    cloud = make_cloud()
    seen: list[str] = []

    def broken(event: Event) -> None:
        raise RuntimeError("subscriber bug")

    cloud.events.subscribe(broken)
    cloud.events.subscribe(lambda event: seen.append(type(event).__name__))
    kms = cloud.kms("cn-hangzhou")
    with pytest.raises(RuntimeError):
        kms.create_key()
    assert ["KeyCreated"] == seen
    assert 1 == kms.list_keys().total_count


@pytest.mark.parametrize("callback", [42, None, "print", b"x", [print]])
def test_subscribe_refuses_what_cannot_be_called(callback: object) -> None:
    """A non-callable subscriber is InvalidParameter.Callback up front; it is not added, so the
    next call still works and notifies nobody."""
    cloud = make_cloud()
    with pytest.raises(errors.InvalidParameterError) as info:
        cloud.events.subscribe(callback)  # type: ignore[arg-type]
    assert ("InvalidParameter.Callback", 400) == (info.value.code, info.value.http_status)
    assert [] == cloud.events._subscribers
    cloud.kms(REGION).create_key()
    assert 1 == len(cloud.events)


def test_subscribe_accepts_any_callable_object() -> None:
    """An object with __call__ is a subscriber like a function."""

    class Recorder:
        def __init__(self) -> None:
            self.names: list[str] = []

        def __call__(self, event: Event) -> None:
            self.names.append(type(event).__name__)

    cloud = make_cloud()
    recorder = Recorder()
    cloud.events.subscribe(recorder)
    cloud.kms(REGION).create_key()
    assert ["KeyCreated"] == recorder.names


# -- a bounded event log ------------------------------------------------------------------------
def _busy(cloud: Cloud, snapshots: int, *, step: dt.timedelta = dt.timedelta(hours=1)) -> None:
    """An instance with a data disk, then ``snapshots`` rounds of write + snapshot, ``step``
    apart in virtual time (each round records at least three events)."""
    ecs, instance_id = run_instance(cloud, data_disks=[DataDisk(size=20)])
    [disk_id] = data_disk_ids(ecs, instance_id)
    for n in range(snapshots):
        ecs.write_disk(disk_id, 4096 * (n % 8), bytes([n % 251 + 1]) * 4096)
        ecs.create_snapshot(disk_id=disk_id, retention_days=1)
        cloud.advance(step)


def _recorded(cloud: Cloud) -> list[Event]:
    """Subscribe to ``cloud`` and return the list every later event is appended to."""
    seen: list[Event] = []
    cloud.events.subscribe(seen.append)
    return seen


def test_the_default_retention_keeps_the_newest_100000_events() -> None:
    """Cloud() keeps a bounded log by default: the newest 100,000 events, no age bound."""
    cloud = Cloud()
    assert EventRetention(max_events=100_000, max_age=None) == cloud.events.retention
    assert 100_000 == cloudbackup._settings.DEFAULT_MAX_EVENTS
    assert 0 == cloud.events.first_sequence


def test_a_count_bound_keeps_the_newest_events_and_subscribers_see_all() -> None:
    """With max_events=5 the log holds the newest 5 events, numbered on from first_sequence,
    while a subscriber saw every event from 0."""
    cloud = Cloud(block_size=4096, event_retention=EventRetention(max_events=5))
    seen = _recorded(cloud)
    _busy(cloud, 4)
    kept = cloud.events.list()
    assert list(range(len(seen))) == [e.sequence for e in seen]
    assert seen[-5:] == kept
    assert 5 == len(cloud.events)
    assert len(seen) - 5 == cloud.events.first_sequence == cloud.events.dropped
    check_invariants(cloud)


def test_an_age_bound_drops_events_older_than_the_newest_minus_max_age() -> None:
    """With max_age=3 h the log keeps exactly the events at most 3 hours older than the newest."""
    retention = EventRetention(max_events=None, max_age=dt.timedelta(hours=3))
    cloud = Cloud(block_size=4096, event_retention=retention)
    seen = _recorded(cloud)
    _busy(cloud, 8)
    newest = seen[-1].time
    assert [e for e in seen if e.time >= newest - dt.timedelta(hours=3)] == list(cloud.events)
    assert cloud.events.first_sequence > 0
    check_invariants(cloud)


def test_both_bounds_apply_together() -> None:
    """A count and an age bound together keep what both allow."""
    retention = EventRetention(max_events=4, max_age=dt.timedelta(minutes=90))
    cloud = Cloud(block_size=4096, event_retention=retention)
    seen = _recorded(cloud)
    _busy(cloud, 6)
    tail = seen[-4:]
    expected = [e for e in tail if e.time >= seen[-1].time - dt.timedelta(minutes=90)]
    assert expected == cloud.events.list()
    check_invariants(cloud)


def test_no_bound_keeps_every_event() -> None:
    """EventRetention(max_events=None) keeps the whole log."""
    cloud = Cloud(block_size=4096, event_retention=EventRetention(max_events=None))
    seen = _recorded(cloud)
    _busy(cloud, 3)
    assert seen == cloud.events.list()
    assert 0 == cloud.events.first_sequence


def test_list_since_on_a_bounded_log_returns_what_is_kept_from_there() -> None:
    """list(since=n) returns the kept events from n on; below the first kept, all kept."""
    cloud = Cloud(block_size=4096, event_retention=EventRetention(max_events=6))
    _busy(cloud, 4)
    first = cloud.events.first_sequence
    kept = cloud.events.list()
    assert kept == cloud.events.list(since=0)
    assert kept == cloud.events.list(since=first - 1)
    assert kept[2:] == cloud.events.list(since=first + 2)
    assert [] == cloud.events.list(since=first + 6)
    assert [] == cloud.events.list(since=10**20)


def test_a_rejected_call_on_a_full_log_changes_nothing() -> None:
    """A call that emits and trims before it fails (a dry run) leaves the log, its first kept
    sequence and every record as they were, and the log goes on from there."""
    cloud = Cloud(block_size=4096, event_retention=EventRetention(max_events=3))
    _busy(cloud, 2)
    ecs = cloud.ecs(REGION)
    before = backend_state(cloud)
    first = cloud.events.first_sequence
    with pytest.raises(errors.DryRunOperationError):  # it emitted several events, then failed
        ecs.run_instances(
            zone_id=ZONE, instance_type="ecs.g7.large", data_disks=[DataDisk(size=20)], dry_run=True
        )
    assert before == backend_state(cloud)
    assert first == cloud.events.first_sequence
    seen = _recorded(cloud)
    ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20)
    assert [first + 3] == [e.sequence for e in seen]
    assert first + 1 == cloud.events.first_sequence
    check_invariants(cloud)


def _kept(cloud: Cloud) -> list[tuple[int, str, dt.datetime]]:
    """The kept events as comparable tuples (sequence, type, time)."""
    return [(e.sequence, type(e).__name__, e.time) for e in cloud.events]


def test_the_retention_is_stored_with_the_world_and_kept_on_reopen(tmp_path: Path) -> None:
    """A reopened SQLite world without event_retention keeps the one it was made with, and the
    same calls keep the same events as on a world that never closed, on both backends."""
    retention = EventRetention(max_events=6, max_age=dt.timedelta(hours=2))
    whole = Cloud(block_size=4096, backend=InMemoryBackend(), event_retention=retention)
    _busy(whole, 3)
    _busy(whole, 3)
    path = tmp_path / "world.db"
    with Cloud(block_size=4096, backend=SqliteBackend(path), event_retention=retention) as first:
        _busy(first, 3)
    with Cloud(block_size=4096, backend=SqliteBackend(path)) as again:
        assert retention == again.events.retention
        _busy(again, 3)
        assert _kept(whole) == _kept(again)
        assert whole.events.first_sequence == again.events.first_sequence
        check_invariants(again)


def test_reopening_with_another_retention_stores_it_and_trims_at_once(tmp_path: Path) -> None:
    """A reopened world given a smaller retention drops what it no longer allows right away,
    and keeps the new retention on the next reopen."""
    path = tmp_path / "world.db"
    with Cloud(block_size=4096, backend=SqliteBackend(path)) as first:
        _busy(first, 3)
        everything = _kept(first)
    smaller = EventRetention(max_events=4)
    with Cloud(block_size=4096, backend=SqliteBackend(path), event_retention=smaller) as again:
        assert everything[-4:] == _kept(again)
        check_invariants(again)
    with Cloud(block_size=4096, backend=SqliteBackend(path)) as third:
        assert smaller == third.events.retention
        assert everything[-4:] == _kept(third)


def test_a_damaged_stored_retention_or_first_sequence_is_a_corrupt_error() -> None:
    """A stored retention or first kept sequence of the wrong shape is StorageBackend.Corrupt."""
    backend = InMemoryBackend()
    Cloud(backend=backend, event_retention=EventRetention(max_events=2))
    backend.begin()
    backend.put("meta", "", "event_retention", ("many", None))
    backend.commit()
    raises_code(
        errors.StorageBackendError, "StorageBackend.Corrupt", lambda: Cloud(backend=backend)
    )
    other = InMemoryBackend()
    first = Cloud(backend=other, block_size=4096, event_retention=EventRetention(max_events=1))
    first.ecs(REGION).create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20)
    other.begin()
    other.put("meta", "", "event_log.first", -1)
    other.commit()
    reopened = Cloud(backend=other, block_size=4096)
    rejected_unchanged(
        reopened,
        errors.StorageBackendError,
        "StorageBackend.Corrupt",
        lambda: reopened.ecs(REGION).create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20),
    )


class _CountingBackend(InMemoryBackend):
    """Counts scans, deletes and reads of the event log."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: collections.Counter[str] = collections.Counter()

    def scan(self, kind: str, partition: str) -> Iterator[tuple[str, object]]:
        self.ops[f"scan {kind}"] += 1
        return super().scan(kind, partition)

    def get(self, kind: str, partition: str, key: str) -> object | None:
        self.ops[f"get {kind}"] += 1
        return super().get(kind, partition, key)

    def delete(self, kind: str, partition: str, key: str) -> None:
        self.ops[f"delete {kind}"] += 1
        super().delete(kind, partition, key)


@pytest.mark.parametrize("bound", [10, 2000])
def test_trimming_costs_one_deletion_per_dropped_event_whatever_the_log_holds(bound: int) -> None:
    """On a full log each new event deletes exactly one old event and reads none; no call
    scans the log, whether it keeps 10 events or 2,000."""
    backend = _CountingBackend()
    cloud = Cloud(
        backend=backend, block_size=4096, event_retention=EventRetention(max_events=bound)
    )
    ecs = cloud.ecs(REGION)
    while len(cloud.events) < bound:
        ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20)
    backend.ops.clear()
    seen = _recorded(cloud)
    for _ in range(5):
        ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20)
    assert 5 == len(seen)
    assert (5, 0, 0) == (
        backend.ops["delete event"],
        backend.ops["get event"],
        backend.ops["scan event"],
    )
    assert bound == len(cloud.events)


@settings(max_examples=40, deadline=None)
@given(
    count=st.one_of(st.none(), st.integers(1, 12)),
    minutes=st.one_of(st.none(), st.integers(0, 300)),
    steps=st.lists(st.integers(0, 120), min_size=1, max_size=6),
)
def test_the_stored_log_is_always_the_allowed_tail_of_what_subscribers_saw(
    count: int | None, minutes: int | None, steps: list[int]
) -> None:
    """Any retention, any pacing: the stored log is exactly the newest events the retention
    allows of the full stream subscribers saw, and the world's invariants hold."""
    age = None if minutes is None else dt.timedelta(minutes=minutes)
    cloud = Cloud(block_size=4096, event_retention=EventRetention(max_events=count, max_age=age))
    seen = _recorded(cloud)
    ecs, instance_id = run_instance(cloud, data_disks=[DataDisk(size=20)])
    [disk_id] = data_disk_ids(ecs, instance_id)
    for n, step in enumerate(steps):
        ecs.write_disk(disk_id, 0, bytes([n + 1]) * 512)
        ecs.create_snapshot(disk_id=disk_id, retention_days=1)
        cloud.advance(dt.timedelta(minutes=step))
    expected = seen if count is None else seen[-count:]
    if age is not None:
        expected = [e for e in expected if e.time >= seen[-1].time - age]
    assert expected == cloud.events.list()
    assert len(seen) - len(expected) == cloud.events.first_sequence
    check_invariants(cloud)
