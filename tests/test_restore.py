"""The restore substrate: ResetDisk(s), disks from snapshots, images and snapshot usage."""

from __future__ import annotations

import pytest

from _helpers import (
    GIB,
    OTHER_ZONE,
    ZONE,
    backend_state,
    data_disk_ids,
    instance_with_disk,
    make_cloud,
    rejected_unchanged,
    run_instance,
    settle,
    start,
    stop,
    system_disk_id,
)
from cloudbackup import (
    Cloud,
    DataDisk,
    DiskDeviceMapping,
    DiskType,
    EcsService,
    ResetDiskSpec,
    SnapshotUsage,
    SystemDisk,
    errors,
)


def written(cloud: Cloud, data: bytes = b"version-1") -> tuple[EcsService, str, str, str]:
    """An instance with a data disk holding ``data`` and a snapshot of it."""
    ecs, iid, disk = instance_with_disk(cloud)
    ecs.write_disk(disk, 0, data)
    return ecs, iid, disk, ecs.create_snapshot(disk_id=disk)


# -- ResetDisk -----------------------------------------------------------------------


def test_reset_disk_rolls_back_a_stopped_instances_disk() -> None:
    """After ResetDisk the disk reads as at the snapshot, later writes gone."""
    cloud = make_cloud()
    ecs, iid, disk, snap = written(cloud)
    ecs.write_disk(disk, 0, b"version-2")
    ecs.write_disk(disk, 5 * GIB, b"new block")
    stop(cloud, ecs, iid)
    ecs.reset_disk(disk_id=disk, snapshot_id=snap)
    start(cloud, ecs, iid)
    assert b"version-1" == ecs.read_disk(disk, 0, 9)
    assert bytes(9) == ecs.read_disk(disk, 5 * GIB, 9)


def test_reset_disk_needs_the_instance_stopped() -> None:
    """A Running instance's disk cannot be reset: IncorrectInstanceStatus."""
    cloud = make_cloud()
    ecs, _, disk, snap = written(cloud)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "IncorrectInstanceStatus",
        lambda: ecs.reset_disk(disk_id=disk, snapshot_id=snap),
    )


def test_reset_disk_works_on_an_available_disk() -> None:
    """A detached disk can be reset without any instance."""
    cloud = make_cloud()
    ecs, iid, disk, snap = written(cloud)
    ecs.write_disk(disk, 0, b"version-2")
    ecs.detach_disk(instance_id=iid, disk_id=disk)
    ecs.reset_disk(disk_id=disk, snapshot_id=snap)
    ecs.attach_disk(instance_id=iid, disk_id=disk)
    assert b"version-1" == ecs.read_disk(disk, 0, 9)


def test_reset_disk_needs_a_snapshot_of_that_disk() -> None:
    """Another disk's snapshot: InvalidParameter.Mismatch."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)] * 2)
    a, b = data_disk_ids(ecs, iid)
    snap_b = ecs.create_snapshot(disk_id=b)
    stop(cloud, ecs, iid)
    rejected_unchanged(
        cloud,
        errors.DependencyViolationError,
        "InvalidParameter.Mismatch",
        lambda: ecs.reset_disk(disk_id=a, snapshot_id=snap_b),
    )


def test_reset_disk_needs_a_ready_snapshot_and_none_in_progress() -> None:
    """A progressing snapshot is NotReady; an older one while another progresses is refused."""
    cloud = make_cloud()
    ecs, iid, disk = instance_with_disk(cloud, category="cloud_ssd")
    ecs.write_disk(disk, 0, b"x")
    older = ecs.create_snapshot(disk_id=disk)
    settle(cloud, minutes=10)
    ecs.write_disk(disk, 0, b"y")
    newer = ecs.create_snapshot(disk_id=disk)
    ecs.stop_instance(iid)
    cloud.advance(cloud._world.timings.instance_stop)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "InvalidSnapshotId.NotReady",
        lambda: ecs.reset_disk(disk_id=disk, snapshot_id=newer),
    )
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "IncorrectDiskStatus.HasUnfinishedSnapshot",
        lambda: ecs.reset_disk(disk_id=disk, snapshot_id=older),
    )
    settle(cloud, minutes=10)
    ecs.reset_disk(disk_id=disk, snapshot_id=older)


def test_reset_disk_dry_run_changes_nothing() -> None:
    """DryRun checks the request, answers DryRunOperation and changes nothing."""
    cloud = make_cloud()
    ecs, iid, disk, snap = written(cloud)
    ecs.write_disk(disk, 0, b"version-2")
    stop(cloud, ecs, iid)
    before = backend_state(cloud)
    with pytest.raises(errors.DryRunOperationError):
        ecs.reset_disk(disk_id=disk, snapshot_id=snap, dry_run=True)
    assert before == backend_state(cloud)


def test_reset_keeps_later_snapshots() -> None:
    """Rolling back to an early snapshot keeps later snapshots, which still restore."""
    cloud = make_cloud()
    ecs, iid, disk, first = written(cloud, b"one")
    ecs.write_disk(disk, 0, b"two")
    second = ecs.create_snapshot(disk_id=disk)
    stop(cloud, ecs, iid)
    ecs.reset_disk(disk_id=disk, snapshot_id=first)
    ecs.reset_disk(disk_id=disk, snapshot_id=second)
    start(cloud, ecs, iid)
    assert b"two" == ecs.read_disk(disk, 0, 3)
    ecs.write_disk(disk, 0, b"two")
    third = ecs.describe_snapshot(ecs.create_snapshot(disk_id=disk))
    assert 0 == third.incremental_size


# -- ResetDisks ----------------------------------------------------------------------


def test_reset_disks_rolls_back_several_disks() -> None:
    """ResetDisks resets every listed disk."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)] * 2)
    a, b = data_disk_ids(ecs, iid)
    ecs.write_disk(a, 0, b"a1")
    ecs.write_disk(b, 0, b"b1")
    group = ecs.create_snapshot_group(instance_id=iid, disk_ids=[a, b])
    members = {
        ecs.describe_snapshot(s).source_disk_id: s
        for s in ecs.describe_snapshot_groups(snapshot_group_ids=[group]).items[0].snapshot_ids
    }
    ecs.write_disk(a, 0, b"a2")
    ecs.write_disk(b, 0, b"b2")
    stop(cloud, ecs, iid)
    ecs.reset_disks(disks=[ResetDiskSpec(a, members[a]), ResetDiskSpec(b, members[b])])
    start(cloud, ecs, iid)
    assert (b"a1", b"b1") == (ecs.read_disk(a, 0, 2), ecs.read_disk(b, 0, 2))


def test_reset_disks_is_all_or_nothing() -> None:
    """One bad pair refuses the whole call: the good pair is not reset either."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)] * 2)
    a, b = data_disk_ids(ecs, iid)
    snap_a = ecs.create_snapshot(disk_id=a)
    snap_b = ecs.create_snapshot(disk_id=b)
    ecs.write_disk(a, 0, b"changed")
    stop(cloud, ecs, iid)
    rejected_unchanged(
        cloud,
        errors.DependencyViolationError,
        "InvalidParameter.Mismatch",
        lambda: ecs.reset_disks(disks=[ResetDiskSpec(a, snap_a), ResetDiskSpec(b, snap_a)]),
    )
    rejected_unchanged(
        cloud,
        errors.ResourceNotFoundError,
        "InvalidSnapshotId.NotFound",
        lambda: ecs.reset_disks(disks=[ResetDiskSpec(a, snap_a), ResetDiskSpec(b, "s-gone")]),
    )
    ecs.reset_disks(disks=[ResetDiskSpec(a, snap_a), ResetDiskSpec(b, snap_b)])


@pytest.mark.parametrize(
    "disks",
    [[], "d-1", [("d-1", "s-1")], [ResetDiskSpec("d", "s")] * 17],
    ids=["empty", "string", "tuple", "seventeen"],
)
def test_reset_disks_validates_its_list(disks: object) -> None:
    """1–16 distinct ResetDiskSpec items."""
    cloud = make_cloud()
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidParameter.Disk",
        lambda: cloud.ecs("cn-hangzhou").reset_disks(disks=disks),  # type: ignore[arg-type]
    )


def test_reset_disks_refuses_a_disk_named_twice() -> None:
    """The same disk twice in one ResetDisks is InvalidParameter.Disk."""
    cloud = make_cloud()
    ecs, iid, disk, snap = written(cloud)
    stop(cloud, ecs, iid)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidParameter.Disk",
        lambda: ecs.reset_disks(disks=[ResetDiskSpec(disk, snap), ResetDiskSpec(disk, snap)]),
    )


# -- CreateDisk from a snapshot ------------------------------------------------------


def test_disk_from_snapshot_has_its_data_and_size() -> None:
    """A disk from a snapshot defaults to its size and reads its bytes, in any zone."""
    cloud = make_cloud()
    ecs, _, _, snap = written(cloud)
    copy = ecs.create_disk(zone_id=OTHER_ZONE, disk_category="cloud_essd", snapshot_id=snap)
    described = ecs.describe_disk(copy)
    assert (20, snap, OTHER_ZONE) == (
        described.size,
        described.source_snapshot_id,
        described.zone_id,
    )
    _, reader = run_instance(cloud, zone=OTHER_ZONE)
    ecs.attach_disk(instance_id=reader, disk_id=copy)
    assert b"version-1" == ecs.read_disk(copy, 0, 9)
    assert [copy] == [d.disk_id for d in ecs.describe_disks(snapshot_id=snap).items]


def test_disk_from_snapshot_is_at_least_the_snapshots_size() -> None:
    """CreateDisk Size is max(Size, snapshot size): a smaller Size gives the snapshot's size."""
    cloud = make_cloud()
    ecs, _, _, snap = written(cloud)
    small = ecs.create_disk(
        zone_id=ZONE, disk_category="cloud_essd", performance_level="PL0", size=5, snapshot_id=snap
    )
    assert 20 == ecs.describe_disk(small).size
    big = ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", size=100, snapshot_id=snap)
    assert 100 == ecs.describe_disk(big).size
    _, reader = run_instance(cloud)
    for disk in (small, big):
        ecs.attach_disk(instance_id=reader, disk_id=disk)
        assert b"version-1" == ecs.read_disk(disk, 0, 9)
    assert bytes(10) == ecs.read_disk(big, 99 * GIB, 10)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidSize.ValueNotSupported",
        lambda: ecs.create_disk(
            zone_id=ZONE, disk_category="cloud_essd", size=65537, snapshot_id=snap
        ),
    )


def test_run_instances_data_disk_may_not_be_smaller_than_its_snapshot() -> None:
    """RunInstances DataDisk.N.Size below the snapshot's size is InvalidDiskSize.TooSmall."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud, size=100)
    snap = ecs.create_snapshot(disk_id=disk)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidDiskSize.TooSmall",
        lambda: ecs.run_instances(
            zone_id=ZONE,
            instance_type="ecs.g7.large",
            data_disks=[DataDisk(snapshot_id=snap, size=40)],
        ),
    )


def test_disk_from_snapshot_in_another_category() -> None:
    """A snapshot of an ESSD can seed a cloud_ssd disk; ephemeral disks cannot come from one."""
    cloud = make_cloud()
    ecs, _, _, snap = written(cloud)
    ssd = ecs.create_disk(zone_id=ZONE, disk_category="cloud_ssd", snapshot_id=snap)
    assert "cloud_ssd" == ecs.describe_disk(ssd).category.value
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidDiskCategory.ValueNotSupported",
        lambda: ecs.create_disk(
            zone_id=ZONE, disk_category="elastic_ephemeral_disk_standard", size=64, snapshot_id=snap
        ),
    )


def test_disk_from_a_progressing_snapshot_is_not_ready() -> None:
    """A standard snapshot still progressing cannot seed a disk yet."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud, category="cloud_ssd")
    ecs.write_disk(disk, 0, b"x")
    snap = ecs.create_snapshot(disk_id=disk)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "InvalidSnapshotId.NotReady",
        lambda: ecs.create_disk(zone_id=ZONE, disk_category="cloud_ssd", snapshot_id=snap),
    )
    settle(cloud, minutes=10)
    ecs.create_disk(zone_id=ZONE, disk_category="cloud_ssd", snapshot_id=snap)


def test_disk_from_a_missing_snapshot() -> None:
    """An unknown snapshot is InvalidSnapshotId.NotFound."""
    cloud = make_cloud()
    rejected_unchanged(
        cloud,
        errors.ResourceNotFoundError,
        "InvalidSnapshotId.NotFound",
        lambda: cloud.ecs("cn-hangzhou").create_disk(zone_id=ZONE, snapshot_id="s-missing"),
    )


def test_data_disk_from_snapshot_at_instance_creation() -> None:
    """RunInstances DataDisk.SnapshotId seeds the new data disk."""
    cloud = make_cloud()
    ecs, _, _, snap = written(cloud)
    _, clone = run_instance(cloud, data_disks=[DataDisk(snapshot_id=snap, size=None)])
    [disk] = data_disk_ids(ecs, clone)
    assert b"version-1" == ecs.read_disk(disk, 0, 9)
    assert SnapshotUsage.disk is ecs.describe_snapshot(snap).usage


# -- images --------------------------------------------------------------------------


def test_image_from_a_system_snapshot() -> None:
    """CreateImage with SnapshotId makes a one-disk image; usage becomes image."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud)
    snap = ecs.create_snapshot(disk_id=system_disk_id(ecs, iid))
    image_id = ecs.create_image(snapshot_id=snap, image_name="golden", description="base image")
    [image] = ecs.describe_images(image_ids=[image_id]).items
    assert image_id.startswith("m-bp1")
    assert ("golden", "base image", 40, "Available") == (
        image.image_name,
        image.description,
        image.size,
        image.status,
    )
    [mapping] = image.disk_device_mappings
    assert ("/dev/xvda", snap, DiskType.system) == (
        mapping.device,
        mapping.snapshot_id,
        mapping.disk_type,
    )
    assert SnapshotUsage.image is ecs.describe_snapshot(snap).usage
    assert [image_id] == [i.image_id for i in ecs.describe_images(snapshot_id=snap).items]


def test_image_from_system_and_data_mappings() -> None:
    """Mappings take one system disk and data disks on /dev/xvdb… in order."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)] * 2)
    system = ecs.create_snapshot(disk_id=system_disk_id(ecs, iid))
    a, b = (ecs.create_snapshot(disk_id=d) for d in data_disk_ids(ecs, iid))
    image_id = ecs.create_image(
        disk_device_mappings=[
            DiskDeviceMapping(system, disk_type="system", size=50),
            DiskDeviceMapping(a),
            DiskDeviceMapping(b, device="/dev/xvdf"),
        ]
    )
    [image] = ecs.describe_images(image_ids=[image_id]).items
    assert [("/dev/xvda", 50), ("/dev/xvdb", 20), ("/dev/xvdf", 20)] == [
        (m.device, m.size) for m in image.disk_device_mappings
    ]


@pytest.mark.parametrize(
    ("mappings", "code"),
    [
        ([], "InvalidSystemSnapshot.Missing"),
        (["data"], "InvalidSystemSnapshot.Missing"),
        (["system", "system"], "InvalidParameter.Device"),
        (["system", ("data", "/dev/xvda")], "InvalidParameter.Device"),
        (["system", ("data", "/dev/sdb")], "InvalidParameter.Device"),
        (["system", ("data", "/dev/xvdb"), ("data", "/dev/xvdb")], "InvalidParameter.Device"),
        (["system", ("data", None, 10)], "InvalidDiskSize.TooSmall"),
        (["system", "wrongtype"], "InvalidParameter.DiskType"),
        (["system"] + ["data"] * 17, "InvalidParameter.DiskDeviceMapping"),
    ],
)
def test_image_mapping_rules(mappings: list[object], code: str) -> None:
    """Exactly one system mapping, valid unique devices, sizes ≥ the snapshot, ≤ 17 mappings."""
    cloud = make_cloud()
    ecs, iid, disk = instance_with_disk(cloud)
    system = ecs.create_snapshot(disk_id=system_disk_id(ecs, iid))
    data = ecs.create_snapshot(disk_id=disk)
    specs = []
    for item in mappings:
        kind, device, size = (item, None, None) if isinstance(item, str) else (*item, None)[:3]  # type: ignore[misc]
        snap = system if kind == "system" else data
        specs.append(DiskDeviceMapping(snap, disk_type=kind, device=device, size=size))
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        code,
        lambda: ecs.create_image(disk_device_mappings=specs),
    )


def test_image_needs_snapshot_id_or_mappings_not_both() -> None:
    """SnapshotId with DiskDeviceMapping is a conflict."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud)
    snap = ecs.create_snapshot(disk_id=system_disk_id(ecs, iid))
    rejected_unchanged(
        cloud,
        errors.DependencyViolationError,
        "InvalidParameter.Conflict",
        lambda: ecs.create_image(
            snapshot_id=snap, disk_device_mappings=[DiskDeviceMapping(snap, disk_type="system")]
        ),
    )


def test_image_needs_ready_snapshots() -> None:
    """A progressing snapshot cannot make an image: InvalidSnapshotId.NotReady."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, system_disk=SystemDisk(category="cloud_ssd"))
    system = system_disk_id(ecs, iid)
    ecs.write_disk(system, 0, b"boot")
    snap = ecs.create_snapshot(disk_id=system)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "InvalidSnapshotId.NotReady",
        lambda: ecs.create_image(snapshot_id=snap),
    )


def test_usage_tracks_images_and_disks_together() -> None:
    """Usage is image_disk with both, and goes back as each user is deleted."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud)
    snap = ecs.create_snapshot(disk_id=system_disk_id(ecs, iid))
    image = ecs.create_image(snapshot_id=snap)
    second_image = ecs.create_image(snapshot_id=snap)
    disk = ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", snapshot_id=snap)
    assert SnapshotUsage.image_disk is ecs.describe_snapshot(snap).usage
    ecs.delete_image(image)
    assert SnapshotUsage.image_disk is ecs.describe_snapshot(snap).usage
    ecs.delete_image(second_image)
    assert SnapshotUsage.disk is ecs.describe_snapshot(snap).usage
    ecs.delete_disk(disk)
    assert SnapshotUsage.none is ecs.describe_snapshot(snap).usage
    assert (0, 0) == (ecs.describe_snapshot(snap).image_refs, ecs.describe_snapshot(snap).disk_refs)


def test_delete_image() -> None:
    """DeleteImage removes the image; a second delete is InvalidImageId.NotFound."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud)
    image = ecs.create_image(snapshot_id=ecs.create_snapshot(disk_id=system_disk_id(ecs, iid)))
    ecs.delete_image(image)
    assert 0 == ecs.describe_images().total_count
    rejected_unchanged(
        cloud,
        errors.ResourceNotFoundError,
        "InvalidImageId.NotFound",
        lambda: ecs.delete_image(image),
    )


def test_image_survives_the_instance() -> None:
    """An image and its snapshots outlive the instance they came from."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud)
    snap = ecs.create_snapshot(disk_id=system_disk_id(ecs, iid))
    image = ecs.create_image(snapshot_id=snap)
    ecs.delete_instance(iid, force=True)
    assert [image] == [i.image_id for i in ecs.describe_images().items]
    assert SnapshotUsage.image is ecs.describe_snapshot(snap).usage


def test_create_image_snapshot_id_must_be_a_system_disk_snapshot() -> None:
    """CreateImage's SnapshotId names a system-disk snapshot; a data-disk one is refused."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    snapshot_id = ecs.create_snapshot(disk_id=disk)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidSnapshotId.NotSystemDiskSnapshot",
        lambda: ecs.create_image(snapshot_id=snapshot_id),
    )
