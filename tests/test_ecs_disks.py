"""ECS disks: categories and sizes, attach/detach, multi-attach, resize, encryption, release."""

from __future__ import annotations

import pytest

import cloudbackup
from _helpers import (
    GIB,
    INSTANCE_TYPE,
    OTHER_ZONE,
    REGION,
    ZONE,
    data_disk_ids,
    make_cloud,
    raises_code,
    rejected_unchanged,
    run_instance,
    settle,
    stop,
    system_disk_id,
)
from cloudbackup import (
    CATEGORY_SPECS,
    Cloud,
    DataDisk,
    DiskCategory,
    DiskStatus,
    DiskType,
    Limits,
    PerformanceLevel,
    errors,
)

CREATABLE = [c for c, spec in CATEGORY_SPECS.items() if not spec.local]
LOCAL = [c for c, spec in CATEGORY_SPECS.items() if spec.local]

#: facts §8.1: (min, max) GiB by category; ESSD by performance level.
SIZE_RANGES = {
    DiskCategory.cloud: (5, 2000),
    DiskCategory.cloud_efficiency: (20, 32768),
    DiskCategory.cloud_ssd: (20, 32768),
    DiskCategory.cloud_auto: (1, 65536),
    DiskCategory.cloud_essd_entry: (10, 32768),
    DiskCategory.cloud_regional_disk_auto: (10, 65536),
    DiskCategory.elastic_ephemeral_disk_standard: (64, 8192),
    DiskCategory.elastic_ephemeral_disk_premium: (64, 8192),
}
PL_MIN = {"PL0": 1, "PL1": 20, "PL2": 461, "PL3": 1261}


def test_catalogue_matches_the_facts() -> None:
    """CATEGORY_SPECS has every category of facts §8.1 with the documented ranges."""
    assert set(DiskCategory) == set(CATEGORY_SPECS)
    for category, (lo, hi) in SIZE_RANGES.items():
        assert (lo, hi) == (CATEGORY_SPECS[category].min_size, CATEGORY_SPECS[category].max_size)
    assert 65536 == CATEGORY_SPECS[DiskCategory.cloud_essd].max_size
    assert {
        DiskCategory.local_ssd_pro,
        DiskCategory.local_hdd_pro,
        DiskCategory.ephemeral,
        DiskCategory.ephemeral_ssd,
    } == set(LOCAL)


@pytest.mark.parametrize("category", sorted(SIZE_RANGES, key=lambda c: c.value), ids=str)
def test_size_range_per_category(category: DiskCategory) -> None:
    """Each category accepts exactly its documented size range."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    lo, hi = SIZE_RANGES[category]
    for good in (lo, hi):
        disk = ecs.describe_disk(
            ecs.create_disk(zone_id=ZONE, disk_category=category.value, size=good)
        )
        assert (category, good) == (disk.category, disk.size)
    for bad in (lo - 1, hi + 1):
        rejected_unchanged(
            cloud,
            errors.InvalidParameterError,
            "InvalidSize.ValueNotSupported",
            lambda bad=bad: ecs.create_disk(zone_id=ZONE, disk_category=category.value, size=bad),
        )


@pytest.mark.parametrize("level", ["PL0", "PL1", "PL2", "PL3"])
def test_essd_minimum_size_per_performance_level(level: str) -> None:
    """ESSD PL0/PL1/PL2/PL3 start at 1/20/461/1261 GiB and all reach 65,536 GiB."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    for good in (PL_MIN[level], 65536):
        disk = ecs.describe_disk(
            ecs.create_disk(
                zone_id=ZONE, disk_category="cloud_essd", size=good, performance_level=level
            )
        )
        assert (PerformanceLevel(level), good) == (disk.performance_level, disk.size)
    for bad in (PL_MIN[level] - 1, 65537):
        rejected_unchanged(
            cloud,
            errors.InvalidParameterError,
            "InvalidSize.ValueNotSupported",
            lambda bad=bad: ecs.create_disk(
                zone_id=ZONE, disk_category="cloud_essd", size=bad, performance_level=level
            ),
        )


def test_essd_defaults_to_pl1() -> None:
    """An ESSD without performance level is PL1, so 19 GiB is too small."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    disk = ecs.describe_disk(ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20))
    assert PerformanceLevel.PL1 is disk.performance_level
    raises_code(
        errors.InvalidParameterError,
        "InvalidSize.ValueNotSupported",
        lambda: ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", size=19),
    )


def test_performance_level_is_for_essd_only() -> None:
    """PerformanceLevel on a non-ESSD disk, or an unknown level, is refused."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    for kwargs in (
        {"disk_category": "cloud_ssd", "performance_level": "PL1"},
        {"disk_category": "cloud_essd", "performance_level": "PL9"},
    ):
        rejected_unchanged(
            cloud,
            errors.InvalidParameterError,
            "InvalidPerformanceLevel.Malformed",
            lambda kwargs=kwargs: ecs.create_disk(zone_id=ZONE, size=100, **kwargs),  # type: ignore[arg-type]
        )


def test_create_disk_defaults() -> None:
    """CreateDisk defaults: category cloud, Available, data, portable, not encrypted."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    disk = ecs.describe_disk(ecs.create_disk(zone_id=ZONE, size=5))
    assert (
        DiskCategory.cloud,
        DiskStatus.Available,
        DiskType.data,
        True,
        False,
        None,
        "Disabled",
        False,
        None,
    ) == (
        disk.category,
        disk.status,
        disk.type,
        disk.portable,
        disk.encrypted,
        disk.kms_key_id,
        disk.multi_attach,
        disk.delete_with_instance,
        disk.instance_id,
    )
    assert 5 * GIB == disk.size_bytes


@pytest.mark.parametrize("category", LOCAL, ids=str)
def test_local_disks_cannot_be_created_alone(category: DiskCategory) -> None:
    """Local disks come only with an instance."""
    cloud = make_cloud()
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidDiskCategory.ValueNotSupported",
        lambda: cloud.ecs(REGION).create_disk(zone_id=ZONE, disk_category=category.value, size=100),
    )


def test_local_disks_come_with_the_instance_and_stay_with_it() -> None:
    """A local data disk is created with its instance, is not portable and cannot be detached."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(category="local_ssd_pro", size=100)])
    [disk_id] = data_disk_ids(ecs, iid)
    disk = ecs.describe_disk(disk_id)
    assert (DiskCategory.local_ssd_pro, False, DiskStatus.In_use) == (
        disk.category,
        disk.portable,
        disk.status,
    )
    rejected_unchanged(
        cloud,
        errors.UnsupportedOperationError,
        "DiskNotPortable",
        lambda: ecs.detach_disk(instance_id=iid, disk_id=disk_id),
    )


def test_unknown_category_is_refused() -> None:
    """An unknown category is InvalidDiskCategory.ValueNotSupported."""
    cloud = make_cloud()
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidDiskCategory.ValueNotSupported",
        lambda: cloud.ecs(REGION).create_disk(zone_id=ZONE, disk_category="cloud_floppy", size=20),
    )


def test_size_is_required_without_a_snapshot() -> None:
    """CreateDisk without size or snapshot is MissingParameter.Size."""
    cloud = make_cloud()
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "MissingParameter.Size",
        lambda: cloud.ecs(REGION).create_disk(zone_id=ZONE),
    )


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"disk_name": "x"}, "InvalidDiskName.Malformed"),
        ({"disk_name": "9disk"}, "InvalidDiskName.Malformed"),
        ({"disk_name": "https://disk"}, "InvalidDiskName.Malformed"),
        ({"disk_name": "d" * 129}, "InvalidDiskName.Malformed"),
        ({"description": "x"}, "InvalidDescription.Malformed"),
        ({"description": "x" * 257}, "InvalidDescription.Malformed"),
        ({"multi_attach": "Yes"}, "InvalidParameter.MultiAttach"),
        ({"size": "20"}, "InvalidSize.ValueNotSupported"),
        ({"size": True}, "InvalidSize.ValueNotSupported"),
    ],
)
def test_malformed_disk_parameters(kwargs: dict[str, object], code: str) -> None:
    """Malformed names, descriptions and flags are refused with the real code."""
    cloud = make_cloud()
    params: dict[str, object] = {"zone_id": ZONE, "size": 20, **kwargs}
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        code,
        lambda: cloud.ecs(REGION).create_disk(**params),  # type: ignore[arg-type]
    )


def test_disk_name_limits_are_inclusive() -> None:
    """Names of 2 and 128 characters are accepted."""
    ecs = make_cloud().ecs(REGION)
    for name in ("ab", "a" * 128, "数据盘"):
        assert (
            name
            == ecs.describe_disk(ecs.create_disk(zone_id=ZONE, size=20, disk_name=name)).disk_name
        )


# -- attach / detach -----------------------------------------------------------------


def test_attach_and_detach_data_disk() -> None:
    """An Available disk attaches to the next free device and detaches back to Available."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)])
    disk_id = ecs.create_disk(zone_id=ZONE, size=20)
    ecs.attach_disk(instance_id=iid, disk_id=disk_id)
    disk = ecs.describe_disk(disk_id)
    assert (DiskStatus.In_use, iid, "/dev/xvdc", True) == (
        disk.status,
        disk.instance_id,
        disk.device,
        disk.ever_attached,
    )
    ecs.detach_disk(instance_id=iid, disk_id=disk_id)
    disk = ecs.describe_disk(disk_id)
    assert (DiskStatus.Available, None, cloud.now()) == (
        disk.status,
        disk.instance_id,
        disk.detached_time,
    )


def test_attach_reuses_freed_device_names() -> None:
    """After a detach, the freed device is the next one handed out."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20), DataDisk(size=20)])
    first, _ = data_disk_ids(ecs, iid)
    ecs.detach_disk(instance_id=iid, disk_id=first)
    other = ecs.create_disk(zone_id=ZONE, size=20)
    ecs.attach_disk(instance_id=iid, disk_id=other)
    assert "/dev/xvdb" == ecs.describe_disk(other).device


def test_attach_needs_same_zone() -> None:
    """A disk of another zone cannot be attached: ResourcesNotInSameZone (403)."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud)
    disk_id = ecs.create_disk(zone_id=OTHER_ZONE, size=20)
    rejected_unchanged(
        cloud,
        errors.DependencyViolationError,
        "ResourcesNotInSameZone",
        lambda: ecs.attach_disk(instance_id=iid, disk_id=disk_id),
    )


def test_attach_at_most_sixteen_data_disks() -> None:
    """The 17th data disk is refused with InstanceDiskLimitExceeded (403)."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)] * 15)
    sixteenth = ecs.create_disk(zone_id=ZONE, size=20)
    ecs.attach_disk(instance_id=iid, disk_id=sixteenth)
    assert "/dev/xvdq" == ecs.describe_disk(sixteenth).device
    seventeenth = ecs.create_disk(zone_id=ZONE, size=20)
    rejected_unchanged(
        cloud,
        errors.QuotaExceededError,
        "InstanceDiskLimitExceeded",
        lambda: ecs.attach_disk(instance_id=iid, disk_id=seventeenth),
    )


def test_attach_refuses_a_disk_in_use() -> None:
    """A disk attached elsewhere (or here already) cannot be attached again."""
    cloud = make_cloud()
    ecs, a = run_instance(cloud, data_disks=[DataDisk(size=20)])
    _, b = run_instance(cloud)
    [disk_id] = data_disk_ids(ecs, a)
    for target in (a, b):
        rejected_unchanged(
            cloud,
            errors.IncorrectStatusError,
            "IncorrectDiskStatus",
            lambda target=target: ecs.attach_disk(instance_id=target, disk_id=disk_id),
        )


def test_attach_needs_running_or_stopped_instance() -> None:
    """Attaching to a Pending instance is IncorrectInstanceStatus."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, wait=False)
    disk_id = ecs.create_disk(zone_id=ZONE, size=20)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "IncorrectInstanceStatus",
        lambda: ecs.attach_disk(instance_id=iid, disk_id=disk_id),
    )


def test_detach_rules() -> None:
    """Detaching needs the disk on that instance; a system disk needs the instance Stopped."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud)
    _, other = run_instance(cloud, data_disks=[DataDisk(size=20)])
    [foreign] = data_disk_ids(ecs, other)
    system = system_disk_id(ecs, iid)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "IncorrectDiskStatus",
        lambda: ecs.detach_disk(instance_id=iid, disk_id=foreign),
    )
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "IncorrectInstanceStatus",
        lambda: ecs.detach_disk(instance_id=iid, disk_id=system),
    )
    stop(cloud, ecs, iid)
    ecs.detach_disk(instance_id=iid, disk_id=system)
    assert DiskStatus.Available is ecs.describe_disk(system).status
    ecs.attach_disk(instance_id=iid, disk_id=system)
    assert "/dev/xvda" == ecs.describe_disk(system).device


def test_second_system_disk_is_refused() -> None:
    """An instance that has a system disk cannot take another one."""
    cloud = make_cloud()
    ecs, a = run_instance(cloud)
    _, b = run_instance(cloud)
    stop(cloud, ecs, b)
    stop(cloud, ecs, a)  # a system disk only goes onto a Stopped instance
    b_system = system_disk_id(ecs, b)
    ecs.detach_disk(instance_id=b, disk_id=b_system)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "InvalidOperation.SystemDiskExists",
        lambda: ecs.attach_disk(instance_id=a, disk_id=b_system),
    )


# -- multi-attach --------------------------------------------------------------------


@pytest.mark.parametrize("category", ["cloud", "cloud_ssd", "cloud_efficiency", "cloud_auto"])
def test_multi_attach_is_essd_only(category: str) -> None:
    """MultiAttach=Enabled is refused for every category but cloud_essd."""
    cloud = make_cloud()
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidParameter.MultiAttach",
        lambda: cloud.ecs(REGION).create_disk(
            zone_id=ZONE, disk_category=category, size=100, multi_attach="Enabled"
        ),
    )


def test_multi_attach_disk_attaches_to_several_instances_up_to_the_limit() -> None:
    """A multi-attach ESSD attaches to 16 instances; the 17th is DiskAttachedNumberExceeded."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    shared = ecs.create_disk(
        zone_id=ZONE, disk_category="cloud_essd", size=20, multi_attach="Enabled"
    )
    instances = ecs.run_instances(zone_id=ZONE, instance_type=INSTANCE_TYPE, amount=17)
    settle(cloud)
    for iid in instances[:16]:
        ecs.attach_disk(instance_id=iid, disk_id=shared)
    disk = ecs.describe_disk(shared)
    assert instances[:16] == [a.instance_id for a in disk.attachments]
    assert instances[0] == disk.instance_id
    rejected_unchanged(
        cloud,
        errors.QuotaExceededError,
        "DiskAttachedNumberExceeded",
        lambda: ecs.attach_disk(instance_id=instances[16], disk_id=shared),
    )
    ecs.detach_disk(instance_id=instances[0], disk_id=shared)
    disk = ecs.describe_disk(shared)
    assert (DiskStatus.In_use, 15) == (disk.status, len(disk.attachments))


def test_multi_attach_limit_is_configurable() -> None:
    """Limits.multi_attach_max_instances caps the attachments."""
    cloud = Cloud(limits=Limits(multi_attach_max_instances=1))
    ecs = cloud.ecs(REGION)
    shared = ecs.create_disk(
        zone_id=ZONE, disk_category="cloud_essd", size=20, multi_attach="Enabled"
    )
    a, b = ecs.run_instances(zone_id=ZONE, instance_type=INSTANCE_TYPE, amount=2)
    settle(cloud)
    ecs.attach_disk(instance_id=a, disk_id=shared)
    with pytest.raises(errors.QuotaExceededError):
        ecs.attach_disk(instance_id=b, disk_id=shared)


# -- resize --------------------------------------------------------------------------


def test_resize_grows_only() -> None:
    """ResizeDisk grows; the same or a smaller size is refused."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    disk_id = ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", size=40)
    for bad in (40, 39, 0):
        rejected_unchanged(
            cloud,
            errors.InvalidParameterError,
            "InvalidDiskSize.TooSmall",
            lambda bad=bad: ecs.resize_disk(disk_id=disk_id, new_size=bad),
        )
    ecs.resize_disk(disk_id=disk_id, new_size=41)
    assert 41 == ecs.describe_disk(disk_id).size


def test_resize_respects_category_and_system_maximum() -> None:
    """A data disk grows to its category maximum; a system disk to 2,048 GiB."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud)
    data = ecs.create_disk(zone_id=ZONE, disk_category="cloud", size=5)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidDiskSize.TooLarge",
        lambda: ecs.resize_disk(disk_id=data, new_size=2001),
    )
    ecs.resize_disk(disk_id=data, new_size=2000)
    system = system_disk_id(ecs, iid)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidDiskSize.TooLarge",
        lambda: ecs.resize_disk(disk_id=system, new_size=2049),
    )
    ecs.resize_disk(disk_id=system, new_size=2048)
    assert 2048 == ecs.describe_disk(system).size


def test_resize_keeps_data_and_extends_address_space() -> None:
    """After growing, old data is intact and the new space reads as zeros and is writable."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)])
    [disk] = data_disk_ids(ecs, iid)
    ecs.write_disk(disk, 20 * GIB - 4, b"edge")
    ecs.resize_disk(disk_id=disk, new_size=21, type="online")
    assert b"edge" + bytes(4) == ecs.read_disk(disk, 20 * GIB - 4, 8)
    ecs.write_disk(disk, 21 * GIB - 3, b"end")
    assert b"end" == ecs.read_disk(disk, 21 * GIB - 3, 3)


def test_resize_type_must_be_offline_or_online() -> None:
    """ResizeDisk Type is offline or online."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    disk_id = ecs.create_disk(zone_id=ZONE, size=20)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidParameter.Type",
        lambda: ecs.resize_disk(disk_id=disk_id, new_size=30, type="hot"),
    )


# -- encryption is irreversible ------------------------------------------------------


def test_encrypted_disk_stays_encrypted() -> None:
    """An encrypted disk stays encrypted through resize, attribute changes and attach cycles."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    disk_id = ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20, encrypted=True)
    disk = ecs.describe_disk(disk_id)
    key = disk.kms_key_id
    assert disk.encrypted
    assert key == cloud.kms(REGION).describe_key("alias/acs/ecs").key_id
    ecs.resize_disk(disk_id=disk_id, new_size=30)
    ecs.modify_disk_attribute(disk_id=disk_id, disk_name="renamed")
    _, iid = run_instance(cloud)
    ecs.attach_disk(instance_id=iid, disk_id=disk_id)
    ecs.detach_disk(instance_id=iid, disk_id=disk_id)
    disk = ecs.describe_disk(disk_id)
    assert (True, key) == (disk.encrypted, disk.kms_key_id)


def test_kms_key_without_encrypted_flag_is_a_conflict() -> None:
    """KMSKeyId with encrypted=False is InvalidEncrypted.NotMatchKmsKeyId."""
    cloud = make_cloud()
    key = cloud.kms(REGION).create_key().key_id
    rejected_unchanged(
        cloud,
        errors.DependencyViolationError,
        "InvalidEncrypted.NotMatchKmsKeyId",
        lambda: cloud.ecs(REGION).create_disk(
            zone_id=ZONE, size=20, encrypted=False, kms_key_id=key
        ),
    )


def test_kms_key_alone_implies_encryption() -> None:
    """Naming a KMS key encrypts the disk with it."""
    cloud = make_cloud()
    key = cloud.kms(REGION).create_key().key_id
    ecs = cloud.ecs(REGION)
    disk = ecs.describe_disk(ecs.create_disk(zone_id=ZONE, size=20, kms_key_id=key))
    assert (True, key) == (disk.encrypted, disk.kms_key_id)


def test_disk_from_encrypted_snapshot_cannot_be_unencrypted() -> None:
    """encrypted=False from an encrypted snapshot is InvalidEncrypted.NotMatchSnapshot."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20, encrypted=True)])
    [disk] = data_disk_ids(ecs, iid)
    snap = ecs.create_snapshot(disk_id=disk)
    rejected_unchanged(
        cloud,
        errors.DependencyViolationError,
        "InvalidEncrypted.NotMatchSnapshot",
        lambda: ecs.create_disk(
            zone_id=ZONE, disk_category="cloud_essd", snapshot_id=snap, encrypted=False
        ),
    )
    copy = ecs.describe_disk(
        ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", snapshot_id=snap)
    )
    assert copy.encrypted


# -- delete, release -----------------------------------------------------------------


def test_delete_disk_needs_available() -> None:
    """An In_use disk cannot be deleted; once detached it can."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)])
    [disk] = data_disk_ids(ecs, iid)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "IncorrectDiskStatus",
        lambda: ecs.delete_disk(disk),
    )
    ecs.detach_disk(instance_id=iid, disk_id=disk)
    ecs.delete_disk(disk)
    raises_code(
        errors.ResourceNotFoundError, "InvalidDiskId.NotFound", lambda: ecs.describe_disk(disk)
    )


def test_delete_with_instance_can_be_set_on_attach_and_by_modify() -> None:
    """attach_disk(delete_with_instance=True) and modify_disk_attribute decide the release."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)])
    [born_with] = data_disk_ids(ecs, iid)
    attached = ecs.create_disk(zone_id=ZONE, size=20)
    ecs.attach_disk(instance_id=iid, disk_id=attached, delete_with_instance=True)
    assert ecs.describe_disk(attached).delete_with_instance
    ecs.modify_disk_attribute(disk_id=born_with, delete_with_instance=False)
    ecs.modify_disk_attribute(disk_id=attached, delete_with_instance=False)
    ecs.modify_disk_attribute(disk_id=attached, delete_with_instance=True)
    ecs.delete_instance(iid, force=True)
    assert DiskStatus.Available is ecs.describe_disk(born_with).status
    raises_code(
        errors.ResourceNotFoundError, "InvalidDiskId.NotFound", lambda: ecs.describe_disk(attached)
    )


def test_manual_snapshots_survive_disk_release() -> None:
    """Deleting a disk keeps its accomplished manual snapshots."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)])
    [disk] = data_disk_ids(ecs, iid)
    snaps = [ecs.create_snapshot(disk_id=disk) for _ in range(3)]
    ecs.delete_instance(iid, force=True)
    assert set(snaps) == {s.snapshot_id for s in ecs.describe_snapshots(page_size=100)}


def test_progressing_snapshot_goes_with_its_disk() -> None:
    """A snapshot still progressing when its disk is released is deleted with it."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(category="cloud_ssd", size=20)])
    [disk] = data_disk_ids(ecs, iid)
    ecs.write_disk(disk, 0, b"x")
    snap = ecs.create_snapshot(disk_id=disk)
    ecs.delete_instance(iid, force=True)
    raises_code(
        errors.ResourceNotFoundError,
        "InvalidSnapshotId.NotFound",
        lambda: ecs.describe_snapshot(snap),
    )


def test_modify_disk_attribute_needs_something() -> None:
    """ModifyDiskAttribute with nothing to change is NoAttributeToModify."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    disk_id = ecs.create_disk(zone_id=ZONE, size=20)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "NoAttributeToModify",
        lambda: ecs.modify_disk_attribute(disk_id=disk_id),
    )
    ecs.modify_disk_attribute(disk_id=disk_id, disk_name="data", description="the data")
    disk = ecs.describe_disk(disk_id)
    assert ("data", "the data") == (disk.disk_name, disk.description)


# -- describe ------------------------------------------------------------------------


def test_describe_disks_filters() -> None:
    """DescribeDisks filters by ids, instance, zone, type, category, status, encryption."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(category="cloud_ssd", size=20)])
    loose = ecs.create_disk(zone_id=OTHER_ZONE, disk_category="cloud_essd", size=20, encrypted=True)
    system = system_disk_id(ecs, iid)
    [data] = data_disk_ids(ecs, iid)

    def ids(**kwargs: object) -> set[str]:
        return {d.disk_id for d in ecs.describe_disks(page_size=100, **kwargs).items}  # type: ignore[arg-type]

    assert {system, data, loose} == ids()
    assert {system, data} == ids(instance_id=iid)
    assert {loose} == ids(zone_id=OTHER_ZONE)
    assert {system} == ids(disk_type="system")
    assert {data} == ids(category="cloud_ssd")
    assert {loose} == ids(status="Available")
    assert {system, data, loose} == ids(status="All")
    assert {loose} == ids(encrypted=True)
    assert {data, loose} == ids(disk_ids=[data, loose])
    raises_code(
        errors.InvalidParameterError,
        "InvalidParameter.DiskType",
        lambda: ecs.describe_disks(disk_type="root"),
    )


def test_disks_are_regional() -> None:
    """A disk id of one region is not found in another."""
    cloud = make_cloud()
    disk_id = cloud.ecs(REGION).create_disk(zone_id=ZONE, size=20)
    raises_code(
        errors.ResourceNotFoundError,
        "InvalidDiskId.NotFound",
        lambda: cloud.ecs("cn-beijing").describe_disk(disk_id),
    )


def test_local_disks_cannot_be_resized() -> None:
    """ResizeDisk on a local disk is InvalidDiskCategory.NotSupported and changes nothing."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(category="local_ssd_pro", size=100)])
    [disk_id] = data_disk_ids(ecs, iid)
    rejected_unchanged(
        cloud,
        errors.UnsupportedOperationError,
        "InvalidDiskCategory.NotSupported",
        lambda: ecs.resize_disk(disk_id=disk_id, new_size=200),
    )


def test_a_basic_system_disk_grows_only_to_its_category_maximum() -> None:
    """A cloud (basic) system disk stops at 2,000 GiB, below the 2,048 GiB of other system disks."""
    cloud = make_cloud()
    system = cloudbackup.SystemDisk(category="cloud", size=1000)
    ecs, instance_id = run_instance(cloud, system_disk=system)
    disk_id = system_disk_id(ecs, instance_id)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidDiskSize.TooLarge",
        lambda: ecs.resize_disk(disk_id=disk_id, new_size=2048),
    )
    ecs.resize_disk(disk_id=disk_id, new_size=2000)


def test_the_index_of_an_instances_disks_follows_attach_and_detach() -> None:
    """describe_disks(instance_id=...) reads an index that attach, detach and release keep in
    step, and check_invariants notices when the index disagrees with the disks."""
    from cloudbackup.testing import check_invariants

    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)])
    spare = ecs.create_disk(zone_id="cn-hangzhou-h", disk_category="cloud_essd", size=20)
    ecs.attach_disk(instance_id=iid, disk_id=spare)
    assert 3 == ecs.describe_disks(instance_id=iid).total_count
    ecs.detach_disk(instance_id=iid, disk_id=spare)
    assert 2 == ecs.describe_disks(instance_id=iid).total_count
    check_invariants(cloud)
    backend = cloud.backend
    backend.begin()
    backend.put("ecs.instance_disks", iid, spare, True)  # corrupt the index
    backend.commit()
    with pytest.raises(AssertionError):
        check_invariants(cloud)
