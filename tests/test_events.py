"""Events: every state change is a typed event in an ordered log; subscribers see commits only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

import cloudbackup
from _helpers import (
    REGION,
    ZONE,
    data_disk_ids,
    entity_records,
    make_cloud,
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
    ResetDiskSpec,
    errors,
)

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
