"""The named bounds (``cloudbackup._domain.limits`` and friends) are the bounds the services
enforce: each is accepted at its edge and refused one step past it, so a bound that changes
in a service and not in its constant (which ``cloudbackup.testing`` reads) fails here."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from _helpers import REGION, ZONE, make_cloud, raises_code, run_instance, settle
from cloudbackup import Cloud, DiskDeviceMapping, ResetDiskSpec, SystemDisk, errors
from cloudbackup._domain.kms import (
    ALIAS_NAME_MAX,
    ALIAS_NAME_MIN,
    PENDING_WINDOW_MAX,
    PENDING_WINDOW_MIN,
)
from cloudbackup._domain.limits import (
    BLOCK_SIZE_MAX,
    BLOCK_SIZE_MIN,
    COOL_OFF_PERIOD_MAX,
    COOL_OFF_PERIOD_MIN,
    DESCRIPTION_MAX,
    DESCRIPTION_MIN,
    IMAGE_DATA_DISKS_MAX,
    LOCK_DURATION_MAX,
    LOCK_DURATION_MIN,
    NAME_MAX,
    NAME_MIN,
    RESET_DISKS_MAX,
    RETENTION_DAYS_MAX,
    RETENTION_DAYS_MIN,
    SYSTEM_DISK_SIZE_MAX,
    SYSTEM_DISK_SIZE_MIN,
)
from cloudbackup._domain.tags import (
    MAX_TAGS_PER_RESOURCE,
    TAG_KEY_MAX_LENGTH,
    TAG_VALUE_MAX_LENGTH,
)

Call = Callable[[object], object]


def edges(call: Call, low: object, high: object, below: object, above: object, code: str) -> None:
    """``call`` accepts ``low`` and ``high`` and refuses ``below`` and ``above`` with ``code``."""
    call(low)
    call(high)
    for value in (below, above):
        raises_code(errors.CloudBackupError, code, lambda value=value: call(value))


@pytest.fixture
def cloud() -> Cloud:
    """A fresh cloud on the suite's backend."""
    return make_cloud()


def snapshot_caller(cloud: Cloud, field: str) -> Call:
    """create_snapshot of a fresh instance's system disk with ``field`` set."""
    ecs, instance_id = run_instance(cloud)
    (disk,) = ecs.describe_disks(instance_id=instance_id).items
    return lambda value: ecs.create_snapshot(disk_id=disk.disk_id, **{field: value})


def test_snapshot_name_bounds(cloud: Cloud) -> None:
    """SnapshotName is NAME_MIN to NAME_MAX characters."""
    call = snapshot_caller(cloud, "snapshot_name")
    text = "n" * (NAME_MAX + 1)
    edges(
        call,
        text[:NAME_MIN],
        text[:NAME_MAX],
        text[: NAME_MIN - 1],
        text,
        "InvalidSnapshotName.Malformed",
    )


def test_description_bounds(cloud: Cloud) -> None:
    """Description is DESCRIPTION_MIN to DESCRIPTION_MAX characters."""
    call = snapshot_caller(cloud, "description")
    text = "d" * (DESCRIPTION_MAX + 1)
    low, high, below = text[:DESCRIPTION_MIN], text[:DESCRIPTION_MAX], text[: DESCRIPTION_MIN - 1]
    edges(call, low, high, below, text, "InvalidDescription.Malformed")


def test_retention_days_bounds(cloud: Cloud) -> None:
    """RetentionDays is RETENTION_DAYS_MIN to RETENTION_DAYS_MAX."""
    call = snapshot_caller(cloud, "retention_days")
    lo, hi = RETENTION_DAYS_MIN, RETENTION_DAYS_MAX
    edges(call, lo, hi, lo - 1, hi + 1, "InvalidRetentionDays.Malformed")


@pytest.mark.parametrize(
    ("field", "lo", "hi", "code"),
    [
        ("lock_duration", LOCK_DURATION_MIN, LOCK_DURATION_MAX, "InvalidParameter.LockDuration"),
        (
            "cool_off_period",
            COOL_OFF_PERIOD_MIN,
            COOL_OFF_PERIOD_MAX,
            "InvalidParameter.CoolOffPeriod",
        ),
    ],
)
def test_lock_bounds(cloud: Cloud, field: str, lo: int, hi: int, code: str) -> None:
    """LockDuration and CoolOffPeriod are accepted at their bounds, refused past them."""
    take = snapshot_caller(cloud, "snapshot_name")
    ecs = cloud.ecs(REGION)
    settle(cloud, 60)

    def call(value: object) -> None:
        snapshot_id = take("locked")
        settle(cloud, 60)
        args = {"lock_duration": 1, "cool_off_period": 0, field: value}
        ecs.lock_snapshot(snapshot_id=snapshot_id, **args)  # type: ignore[arg-type]

    edges(call, lo, hi, lo - 1, hi + 1, code)


def test_tag_bounds(cloud: Cloud) -> None:
    """A resource takes MAX_TAGS_PER_RESOURCE tags, keys and values of the named lengths."""
    ecs = cloud.ecs(REGION)

    def create(tags: object) -> str:
        return ecs.create_disk(zone_id=ZONE, size=20, tags=tags)  # type: ignore[arg-type]

    many = [(f"k{i}", "v") for i in range(MAX_TAGS_PER_RESOURCE + 1)]
    create(many[:-1])
    raises_code(errors.CloudBackupError, "InvalidTagCount", lambda: create(many))
    long_key = "k" * (TAG_KEY_MAX_LENGTH + 1)
    create([(long_key[:-1], "v")])
    raises_code(
        errors.CloudBackupError, "InvalidTagKey.Malformed", lambda: create([(long_key, "v")])
    )
    long_value = "v" * (TAG_VALUE_MAX_LENGTH + 1)
    create([("k", long_value[:-1])])
    raises_code(
        errors.CloudBackupError, "InvalidTagValue.Malformed", lambda: create([("k", long_value)])
    )


def test_system_disk_size_bounds(cloud: Cloud) -> None:
    """SystemDisk.Size is SYSTEM_DISK_SIZE_MIN to SYSTEM_DISK_SIZE_MAX GiB."""
    ecs = cloud.ecs(REGION)

    def run(size: object) -> object:
        system = SystemDisk(category="cloud_auto", size=size)  # type: ignore[arg-type]
        return ecs.run_instances(zone_id=ZONE, instance_type="ecs.g7.large", system_disk=system)

    lo, hi = SYSTEM_DISK_SIZE_MIN, SYSTEM_DISK_SIZE_MAX
    run(lo)
    run(hi)
    raises_code(
        errors.CloudBackupError, "InvalidSystemDiskSize.LessThanMinSize", lambda: run(lo - 1)
    )
    raises_code(
        errors.CloudBackupError, "InvalidSystemDiskSize.MoreThanMaxSize", lambda: run(hi + 1)
    )


def test_reset_disks_takes_at_most_reset_disks_max_pairs(cloud: Cloud) -> None:
    """RESET_DISKS_MAX pairs pass the count check (then meet the unknown disk), one more not."""
    ecs = cloud.ecs(REGION)
    specs = [ResetDiskSpec(disk_id=f"d-{i}", snapshot_id="s-x") for i in range(RESET_DISKS_MAX)]
    raises_code(
        errors.CloudBackupError, "InvalidDiskId.NotFound", lambda: ecs.reset_disks(disks=specs)
    )
    more = [*specs, ResetDiskSpec(disk_id="d-more", snapshot_id="s-x")]
    raises_code(
        errors.CloudBackupError, "InvalidParameter.Disk", lambda: ecs.reset_disks(disks=more)
    )


def test_an_image_takes_at_most_image_data_disks_max_data_disks(cloud: Cloud) -> None:
    """One system and IMAGE_DATA_DISKS_MAX data mappings pass the count check, one more not."""
    ecs = cloud.ecs(REGION)
    system = DiskDeviceMapping(snapshot_id="s-x", disk_type="system")
    data = [DiskDeviceMapping(snapshot_id="s-x", disk_type="data")] * (IMAGE_DATA_DISKS_MAX + 1)
    raises_code(
        errors.CloudBackupError,
        "InvalidSnapshotId.NotFound",
        lambda: ecs.create_image(disk_device_mappings=[system, *data[:-1]]),
    )
    raises_code(
        errors.CloudBackupError,
        "InvalidParameter.DiskDeviceMapping",
        lambda: ecs.create_image(disk_device_mappings=[system, *data]),
    )


def test_pending_window_bounds(cloud: Cloud) -> None:
    """PendingWindowInDays is PENDING_WINDOW_MIN to PENDING_WINDOW_MAX."""
    kms = cloud.kms(REGION)

    def schedule(days: object) -> None:
        key_id = kms.create_key().key_id
        kms.schedule_key_deletion(key_id, days)  # type: ignore[arg-type]

    lo, hi = PENDING_WINDOW_MIN, PENDING_WINDOW_MAX
    edges(schedule, lo, hi, lo - 1, hi + 1, "InvalidParameter")


def test_alias_name_bounds(cloud: Cloud) -> None:
    """AliasName is ALIAS_NAME_MIN to ALIAS_NAME_MAX characters, ``alias/`` included."""
    kms = cloud.kms(REGION)
    key_id = kms.create_key().key_id
    names = iter("abcdefgh")

    def alias(length: object) -> None:
        assert isinstance(length, int)
        kms.create_alias(("alias/" + next(names) * length)[:length], key_id)

    lo, hi = ALIAS_NAME_MIN, ALIAS_NAME_MAX
    edges(alias, lo, hi, lo - 1, hi + 1, "InvalidParameter")


def test_block_size_bounds() -> None:
    """Cloud(block_size=...) is a power of two from BLOCK_SIZE_MIN to BLOCK_SIZE_MAX."""
    edges(
        lambda size: make_cloud(block_size=size),  # type: ignore[arg-type]
        BLOCK_SIZE_MIN,
        BLOCK_SIZE_MAX,
        BLOCK_SIZE_MIN // 2,
        BLOCK_SIZE_MAX * 2,
        "InvalidParameter",
    )
