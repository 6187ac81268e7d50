"""ECS instances: creation, the status machine, release and describe filters."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from _helpers import (
    INSTANCE_TYPE,
    REGION,
    ZONE,
    data_disk_ids,
    make_cloud,
    raises_code,
    rejected_unchanged,
    run_instance,
    settle,
    start,
    stop,
    system_disk_id,
)
from cloudbackup import (
    DEFAULT_START,
    DataDisk,
    DiskStatus,
    EcsService,
    InstanceStatus,
    Limits,
    SystemDisk,
    Timings,
    errors,
)
from cloudbackup import Cloud as _Cloud


def status(ecs: EcsService, instance_id: str) -> InstanceStatus:
    return ecs.describe_instance_attribute(instance_id).status


def test_run_instances_goes_pending_then_running() -> None:
    """RunInstances: Pending until boot time has passed, then Running."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, wait=False)
    timings = Timings()
    assert InstanceStatus.Pending is status(ecs, iid)
    cloud.advance(timings.instance_pending + timings.instance_start - dt.timedelta(seconds=1))
    assert InstanceStatus.Pending is status(ecs, iid)
    cloud.advance(dt.timedelta(seconds=1))
    instance = ecs.describe_instance_attribute(iid)
    assert InstanceStatus.Running is instance.status
    assert instance.ever_started
    assert cloud.now() == instance.start_time


def test_create_instance_ends_stopped_and_never_started() -> None:
    """CreateInstance: Pending, then Stopped; it has never been started."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    iid = ecs.create_instance(zone_id=ZONE, instance_type=INSTANCE_TYPE)
    assert InstanceStatus.Pending is status(ecs, iid)
    settle(cloud)
    instance = ecs.describe_instance_attribute(iid)
    assert InstanceStatus.Stopped is instance.status
    assert not instance.ever_started
    assert instance.start_time is None


def test_start_stop_reboot_cycle() -> None:
    """Stop goes Stopping→Stopped, start Starting→Running, reboot Starting→Running."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud)
    ecs.stop_instance(iid)
    assert InstanceStatus.Stopping is status(ecs, iid)
    settle(cloud)
    assert InstanceStatus.Stopped is status(ecs, iid)
    ecs.start_instance(iid)
    assert InstanceStatus.Starting is status(ecs, iid)
    settle(cloud)
    assert InstanceStatus.Running is status(ecs, iid)
    ecs.reboot_instance(iid)
    assert InstanceStatus.Starting is status(ecs, iid)
    settle(cloud)
    assert InstanceStatus.Running is status(ecs, iid)


@pytest.mark.parametrize(
    ("action", "state_of"),
    [
        ("start_instance", "running"),
        ("stop_instance", "stopped"),
        ("reboot_instance", "stopped"),
        ("stop_instance", "pending"),
        ("start_instance", "pending"),
    ],
)
def test_transitions_need_the_right_status(action: str, state_of: str) -> None:
    """Each transition from a status that does not allow it is IncorrectInstanceStatus."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, wait=state_of != "pending")
    if state_of == "stopped":
        stop(cloud, ecs, iid)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "IncorrectInstanceStatus",
        lambda: getattr(ecs, action)(iid),
    )


def test_run_instances_amount() -> None:
    """Amount creates that many instances with distinct ids; 0 and 101 are refused."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    ids = ecs.run_instances(zone_id=ZONE, instance_type=INSTANCE_TYPE, amount=3)
    assert 3 == len(set(ids))
    for bad in (0, 101):
        rejected_unchanged(
            cloud,
            errors.InvalidParameterError,
            "InvalidParameter.Amount",
            lambda bad=bad: ecs.run_instances(
                zone_id=ZONE, instance_type=INSTANCE_TYPE, amount=bad
            ),
        )


def test_instance_gets_a_system_disk_and_data_disks_in_device_order() -> None:
    """System disk on /dev/xvda, data disks /dev/xvdb onwards, all In_use."""
    cloud = make_cloud()
    ecs, iid = run_instance(
        cloud,
        system_disk=SystemDisk(size=60),
        data_disks=[DataDisk(size=20), DataDisk(category="cloud_ssd", size=30)],
    )
    system = ecs.describe_disk(system_disk_id(ecs, iid))
    assert ("/dev/xvda", 60, "system") == (system.device, system.size, system.type.value)
    devices = [ecs.describe_disk(d).device for d in data_disk_ids(ecs, iid)]
    assert ["/dev/xvdb", "/dev/xvdc"] == devices
    sizes = [ecs.describe_disk(d).size for d in data_disk_ids(ecs, iid)]
    assert [20, 30] == sizes
    disks = ecs.describe_disks(instance_id=iid).items
    assert {DiskStatus.In_use} == {d.status for d in disks}
    assert all(d.instance_id == iid for d in disks)


def test_sixteen_data_disks_fit_seventeen_do_not() -> None:
    """An instance takes at most 16 data disks at creation."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    [iid] = ecs.run_instances(
        zone_id=ZONE, instance_type=INSTANCE_TYPE, data_disks=[DataDisk(size=20)] * 16
    )
    assert 16 == len(data_disk_ids(ecs, iid))
    with pytest.raises(errors.QuotaExceededError):
        ecs.run_instances(
            zone_id=ZONE, instance_type=INSTANCE_TYPE, data_disks=[DataDisk(size=20)] * 17
        )


def test_data_disk_limit_is_configurable() -> None:
    """Limits.data_disks_per_instance caps data disks."""
    cloud = _Cloud(limits=Limits(data_disks_per_instance=2))
    ecs = cloud.ecs(REGION)
    with pytest.raises(errors.QuotaExceededError):
        ecs.run_instances(
            zone_id=ZONE, instance_type=INSTANCE_TYPE, data_disks=[DataDisk(size=20)] * 3
        )


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"instance_type": "g7.large"}, "InvalidInstanceType.ValueNotSupported"),
        ({"instance_type": ""}, "InvalidInstanceType.ValueNotSupported"),
        ({"system_disk": SystemDisk(size=19)}, "InvalidSystemDiskSize.LessThanMinSize"),
        ({"system_disk": SystemDisk(size=2049)}, "InvalidSystemDiskSize.MoreThanMaxSize"),
        ({"system_disk": SystemDisk(size="40")}, "InvalidSystemDiskSize"),  # type: ignore[arg-type]
        (
            {"system_disk": SystemDisk(category="local_ssd_pro")},
            "InvalidSystemDiskCategory.ValueNotSupported",
        ),
        ({"system_disk": SystemDisk(category="floppy")}, "InvalidDiskCategory.ValueNotSupported"),
        ({"instance_name": "1starts-with-digit"}, "InvalidInstanceName.Malformed"),
        ({"instance_name": "http://x"}, "InvalidInstanceName.Malformed"),
        ({"host_name": "x"}, "InvalidHostName.Malformed"),
        ({"os_type": "plan9"}, "InvalidParameter.OsType"),
        ({"description": "d" * 257}, "InvalidDescription.Malformed"),
        (
            {"data_disks": [DataDisk(size=19, category="cloud_ssd")]},
            "InvalidDataDiskSize.ValueNotSupported",
        ),
        ({"data_disks": "disk"}, "InvalidParameter.DataDisk"),
        ({"data_disks": [{"size": 20}]}, "InvalidParameter.DataDisk"),
        ({"system_disk": {"size": 40}}, "InvalidParameter.SystemDisk"),
    ],
)
def test_invalid_instance_parameters(kwargs: dict[str, object], code: str) -> None:
    """Malformed instance parameters are refused with the real code and change nothing."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    params: dict[str, object] = {"zone_id": ZONE, "instance_type": INSTANCE_TYPE, **kwargs}
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        code,
        lambda: ecs.run_instances(**params),  # type: ignore[arg-type]
    )


def test_instance_defaults() -> None:
    """Name defaults to the id; host name is derived; os linux; zone and type as given."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud)
    instance = ecs.describe_instance_attribute(iid)
    assert iid == instance.instance_name
    assert f"iZ{iid[2:]}Z" == instance.host_name
    assert ("linux", ZONE, INSTANCE_TYPE, REGION) == (
        instance.os_type,
        instance.zone_id,
        instance.instance_type,
        instance.region_id,
    )
    assert DEFAULT_START == instance.creation_time


def test_delete_instance_needs_stopped_or_force() -> None:
    """DeleteInstance refuses a Running instance without force, accepts it with force."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "IncorrectInstanceStatus",
        lambda: ecs.delete_instance(iid),
    )
    ecs.delete_instance(iid, force=True)
    raises_code(
        errors.ResourceNotFoundError,
        "InvalidInstanceId.NotFound",
        lambda: ecs.describe_instance_attribute(iid),
    )


def test_delete_instance_refuses_transitional_statuses_even_with_force() -> None:
    """A Pending instance cannot be released, even with force."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, wait=False)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "IncorrectInstanceStatus",
        lambda: ecs.delete_instance(iid, force=True),
    )


def test_release_follows_delete_with_instance() -> None:
    """Disks with DeleteWithInstance go with the instance; the others become Available."""
    cloud = make_cloud()
    ecs, iid = run_instance(
        cloud,
        data_disks=[DataDisk(size=20), DataDisk(size=20, delete_with_instance=False)],
    )
    doomed, kept = data_disk_ids(ecs, iid)
    system = system_disk_id(ecs, iid)
    stop(cloud, ecs, iid)
    ecs.delete_instance(iid)
    for gone in (doomed, system):
        raises_code(
            errors.ResourceNotFoundError,
            "InvalidDiskId.NotFound",
            lambda g=gone: ecs.describe_disk(g),
        )
    survivor = ecs.describe_disk(kept)
    assert (DiskStatus.Available, (), None) == (
        survivor.status,
        survivor.attachments,
        survivor.instance_id,
    )
    assert [] == [i.instance_id for i in ecs.describe_instances().items]


def test_release_keeps_manual_snapshots_and_their_data() -> None:
    """Manual snapshots of released disks survive and still restore the data."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)])
    [disk] = data_disk_ids(ecs, iid)
    ecs.write_disk(disk, 0, b"precious")
    snap = ecs.create_snapshot(disk_id=disk)
    ecs.delete_instance(iid, force=True)
    assert snap == ecs.describe_snapshot(snap).snapshot_id
    restored = ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", snapshot_id=snap)
    _, reader = run_instance(cloud)
    ecs.attach_disk(instance_id=reader, disk_id=restored)
    assert b"precious" == ecs.read_disk(restored, 0, 8)


def test_describe_instances_filters_and_pages() -> None:
    """DescribeInstances filters by ids, zone, status and name, and pages."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    a = ecs.run_instances(zone_id=ZONE, instance_type=INSTANCE_TYPE, amount=3)
    b = ecs.create_instance(
        zone_id="cn-hangzhou-i", instance_type=INSTANCE_TYPE, instance_name="Named"
    )
    settle(cloud)
    everything = ecs.describe_instances(page_size=100)
    assert 4 == everything.total_count
    assert set(a) | {b} == {i.instance_id for i in everything.items}
    assert [b] == [i.instance_id for i in ecs.describe_instances(zone_id="cn-hangzhou-i").items]
    assert [b] == [i.instance_id for i in ecs.describe_instances(status="Stopped").items]
    assert set(a) == {i.instance_id for i in ecs.describe_instances(status="Running", page_size=10)}
    assert [b] == [i.instance_id for i in ecs.describe_instances(instance_name="Named").items]
    assert {a[0], b} == {
        i.instance_id for i in ecs.describe_instances(instance_ids=[a[0], b]).items
    }
    pages = [ecs.describe_instances(page_size=3, page_number=n) for n in (1, 2, 3)]
    assert [3, 1, 0] == [len(p.items) for p in pages]
    assert {4} == {p.total_count for p in pages}
    assert everything.items == pages[0].items + pages[1].items


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"page_size": 0}, "InvalidParameter.PageSize"),
        ({"page_size": 101}, "InvalidParameter.PageSize"),
        ({"page_number": 0}, "InvalidParameter.PageNumber"),
        ({"status": "Sleeping"}, "InvalidParameter.Status"),
        ({"instance_ids": "i-1"}, "InvalidParameter.InstanceIds"),
    ],
)
def test_describe_instances_validates(kwargs: dict[str, object], code: str) -> None:
    """Bad paging or filters are InvalidParameter errors."""
    ecs = make_cloud().ecs(REGION)
    raises_code(errors.InvalidParameterError, code, lambda: ecs.describe_instances(**kwargs))  # type: ignore[arg-type]


def test_unknown_and_malformed_instance_ids() -> None:
    """A missing id is InvalidInstanceId.NotFound (404); a non-string is .Malformed."""
    ecs = make_cloud().ecs(REGION)
    error = raises_code(
        errors.ResourceNotFoundError,
        "InvalidInstanceId.NotFound",
        lambda: ecs.start_instance("i-nope"),
    )
    assert (404, ("i-nope",)) == (error.http_status, error.ids)
    raises_code(
        errors.InvalidParameterError,
        "InvalidInstanceId.Malformed",
        lambda: ecs.start_instance(None),  # type: ignore[arg-type]
    )


def test_instances_are_regional() -> None:
    """An instance of one region is not found in another."""
    cloud = make_cloud()
    _, iid = run_instance(cloud)
    raises_code(
        errors.ResourceNotFoundError,
        "InvalidInstanceId.NotFound",
        lambda: cloud.ecs("cn-shanghai").describe_instance_attribute(iid),
    )


def test_stop_then_start_keeps_disk_data() -> None:
    """Data written before a stop reads back after the next start."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)])
    [disk] = data_disk_ids(ecs, iid)
    ecs.write_disk(disk, 123, b"persist")
    stop(cloud, ecs, iid)
    start(cloud, ecs, iid)
    assert b"persist" == ecs.read_disk(disk, 123, 7)


def test_an_instance_without_its_system_disk_cannot_start() -> None:
    """Once its system disk is detached, StartInstance is InvalidInstance.NotFoundSystemDisk."""
    cloud = make_cloud()
    ecs, instance_id = run_instance(cloud)
    stop(cloud, ecs, instance_id)
    ecs.detach_disk(instance_id=instance_id, disk_id=system_disk_id(ecs, instance_id))
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "InvalidInstance.NotFoundSystemDisk",
        lambda: ecs.start_instance(instance_id),
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda ecs: ecs.describe_instances(zone_id="cn-hangzhou-zz"),
        lambda ecs: ecs.describe_instances(instance_name=5),
        lambda ecs: ecs.describe_disks(instance_id=5),
        lambda ecs: ecs.describe_snapshots(disk_id=123),
        lambda ecs: ecs.describe_snapshots(kms_key_id=b"key"),
        lambda ecs: ecs.describe_snapshot_groups(name=5),
        lambda ecs: ecs.describe_images(snapshot_id=[]),
    ],
)
def test_describe_filters_of_the_wrong_type_are_refused(call: Any) -> None:
    """A filter that is not a string (or an unknown zone) is an error, not an empty page."""
    cloud = make_cloud()
    with pytest.raises((errors.InvalidParameterError, errors.ResourceNotFoundError)):
        call(cloud.ecs("cn-hangzhou"))


@pytest.mark.parametrize(
    ("system_disk", "code", "status"),
    [
        (SystemDisk(size=19), "InvalidSystemDiskSize.LessThanMinSize", 404),
        (SystemDisk(size=2049), "InvalidSystemDiskSize.MoreThanMaxSize", 404),
        (SystemDisk(size=True), "InvalidSystemDiskSize", 404),  # type: ignore[arg-type]
        (
            SystemDisk(size=460, performance_level="PL2"),
            "InvalidSystemDiskSize.ValueNotSupported",
            400,
        ),
    ],
)
def test_system_disk_sizes_answer_the_real_invalid_system_disk_size_family(
    system_disk: SystemDisk, code: str, status: int
) -> None:
    """Outside 20–2,048 GiB, not an integer, or under the level's minimum (PL2: 461 GiB):
    the documented InvalidSystemDiskSize code and status, for run_instances and
    create_instance alike, and nothing is created."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    for create in (ecs.run_instances, ecs.create_instance):
        error = rejected_unchanged(
            cloud,
            errors.InvalidParameterError,
            code,
            lambda create=create: create(
                zone_id=ZONE, instance_type=INSTANCE_TYPE, system_disk=system_disk
            ),
        )
        assert status == error.http_status


@pytest.mark.parametrize("size", [20, 2048])
def test_system_disk_size_bounds_are_accepted(size: int) -> None:
    """20 and 2,048 GiB, the two ends of the range, make a system disk of that size."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    [instance_id] = ecs.run_instances(
        zone_id=ZONE, instance_type=INSTANCE_TYPE, system_disk=SystemDisk(size=size)
    )
    [disk] = ecs.describe_disks(instance_id=instance_id, disk_type="system").items
    assert size == disk.size


@pytest.mark.parametrize(
    "data_disk",
    [
        DataDisk(size=19, category="cloud_ssd"),
        DataDisk(size=32769, category="cloud_ssd"),
        DataDisk(size=460, performance_level="PL2"),
        DataDisk(size=65537),
        DataDisk(size="20"),  # type: ignore[arg-type]
    ],
)
def test_data_disk_sizes_out_of_range_answer_invalid_data_disk_size(data_disk: DataDisk) -> None:
    """A data disk outside its category's (or level's) range is the RunInstances code
    InvalidDataDiskSize.ValueNotSupported (400), not CreateDisk's InvalidSize.ValueNotSupported;
    no instance and no disk is created."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    error = rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidDataDiskSize.ValueNotSupported",
        lambda: ecs.run_instances(
            zone_id=ZONE,
            instance_type=INSTANCE_TYPE,
            data_disks=[DataDisk(size=20), data_disk],
        ),
    )
    assert 400 == error.http_status
    assert (0, 0) == (ecs.describe_instances().total_count, ecs.describe_disks().total_count)
