"""``dry_run=True`` where the real action has ``DryRun``: a request that would succeed raises
``DryRunOperation`` and changes nothing (not even an id counter); one that would fail raises
that failure."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable

import pytest

from _helpers import (
    INSTANCE_TYPE,
    ZONE,
    backend_state,
    instance_with_disk,
    make_cloud,
    pattern,
    raises_code,
    settle,
    start,
    stop,
)
from cloudbackup import Cloud, DiskDeviceMapping, EcsService, ResetDiskSpec, errors

Call = Callable[[EcsService, str, str, str], object]


def _world(cloud: Cloud) -> tuple[EcsService, str, str, str]:
    """A Stopped instance with a data disk that has a snapshot and was written since."""
    ecs, instance_id, disk_id = instance_with_disk(cloud)
    ecs.write_disk(disk_id, 0, pattern(1, 8192))
    snapshot_id = ecs.create_snapshot(disk_id=disk_id)
    ecs.write_disk(disk_id, 0, pattern(2, 8192))
    stop(cloud, ecs, instance_id)
    return ecs, instance_id, disk_id, snapshot_id


SUCCEEDING: dict[str, Call] = {
    "run_instances": lambda e, i, d, s: e.run_instances(
        zone_id=ZONE, instance_type=INSTANCE_TYPE, dry_run=True
    ),
    "create_instance": lambda e, i, d, s: e.create_instance(
        zone_id=ZONE, instance_type=INSTANCE_TYPE, dry_run=True
    ),
    "start_instance": lambda e, i, d, s: e.start_instance(i, dry_run=True),
    "delete_instance": lambda e, i, d, s: e.delete_instance(i, dry_run=True),
    "create_image": lambda e, i, d, s: e.create_image(
        disk_device_mappings=[DiskDeviceMapping(snapshot_id=s, disk_type="system")],
        dry_run=True,
    ),
    "create_image with a client token": lambda e, i, d, s: e.create_image(
        disk_device_mappings=[DiskDeviceMapping(snapshot_id=s, disk_type="system")],
        client_token="image-1",
        dry_run=True,
    ),
    "reset_disk": lambda e, i, d, s: e.reset_disk(disk_id=d, snapshot_id=s, dry_run=True),
    "reset_disks": lambda e, i, d, s: e.reset_disks(
        disks=[ResetDiskSpec(disk_id=d, snapshot_id=s)], dry_run=True
    ),
    "lock_snapshot": lambda e, i, d, s: e.lock_snapshot(
        snapshot_id=s, lock_duration=1, dry_run=True
    ),
    "describe_instances": lambda e, i, d, s: e.describe_instances(dry_run=True),
    "describe_disks": lambda e, i, d, s: e.describe_disks(dry_run=True),
    "describe_snapshots": lambda e, i, d, s: e.describe_snapshots(dry_run=True),
    "describe_images": lambda e, i, d, s: e.describe_images(dry_run=True),
    "describe_locked_snapshots": lambda e, i, d, s: e.describe_locked_snapshots(dry_run=True),
}


@pytest.mark.parametrize("name", sorted(SUCCEEDING))
def test_a_dry_run_that_would_succeed_raises_dry_run_operation_and_changes_nothing(
    name: str,
) -> None:
    """DryRunOperation (400) and the backend byte-for-byte as before, counters included."""
    cloud = make_cloud()
    ecs, instance_id, disk_id, snapshot_id = _world(cloud)
    before = backend_state(cloud)
    error = raises_code(
        errors.DryRunOperationError,
        "DryRunOperation",
        lambda: SUCCEEDING[name](ecs, instance_id, disk_id, snapshot_id),
    )
    assert 400 == error.http_status
    assert before == backend_state(cloud)


def test_a_dry_run_does_not_advance_the_id_counter() -> None:
    """The instance created after a dry run gets the id it would have had without it."""
    plain, dry = make_cloud(seed=5), make_cloud(seed=5)
    with pytest.raises(errors.DryRunOperationError):
        dry.ecs("cn-hangzhou").run_instances(
            zone_id=ZONE, instance_type=INSTANCE_TYPE, dry_run=True
        )
    expected = plain.ecs("cn-hangzhou").run_instances(zone_id=ZONE, instance_type=INSTANCE_TYPE)
    actual = dry.ecs("cn-hangzhou").run_instances(zone_id=ZONE, instance_type=INSTANCE_TYPE)
    assert expected == actual


def test_a_dry_run_reset_leaves_the_data_as_written() -> None:
    """reset_disks(dry_run=True) does not roll the disk back (a mutation that resets is caught)."""
    cloud = make_cloud()
    ecs, instance_id, disk_id, snapshot_id = _world(cloud)
    with pytest.raises(errors.DryRunOperationError):
        ecs.reset_disks(
            disks=[ResetDiskSpec(disk_id=disk_id, snapshot_id=snapshot_id)], dry_run=True
        )
    start(cloud, ecs, instance_id)
    assert pattern(2, 8192) == ecs.read_disk(disk_id, 0, 8192)
    stop(cloud, ecs, instance_id)
    ecs.reset_disks(disks=[ResetDiskSpec(disk_id=disk_id, snapshot_id=snapshot_id)])
    start(cloud, ecs, instance_id)
    assert pattern(1, 8192) == ecs.read_disk(disk_id, 0, 8192)


FAILING: list[tuple[str, Call, type[errors.CloudBackupError], str]] = [
    (
        "run_instances bad type",
        lambda e, i, d, s: e.run_instances(zone_id=ZONE, instance_type="x", dry_run=True),
        errors.InvalidParameterError,
        "InvalidInstanceType.ValueNotSupported",
    ),
    (
        "stop a stopped instance",
        lambda e, i, d, s: e.stop_instance(i, dry_run=True),
        errors.IncorrectStatusError,
        "IncorrectInstanceStatus",
    ),
    (
        "reset to a missing snapshot",
        lambda e, i, d, s: e.reset_disk(disk_id=d, snapshot_id="s-missing", dry_run=True),
        errors.ResourceNotFoundError,
        "InvalidSnapshotId.NotFound",
    ),
    (
        "unlock an unlocked snapshot",
        lambda e, i, d, s: e.unlock_snapshot(s, dry_run=True),
        errors.IncorrectStatusError,
        "InvalidOperation.SnapshotNotLocked",
    ),
]


@pytest.mark.parametrize(
    ("call", "cls", "code"), [f[1:] for f in FAILING], ids=[f[0] for f in FAILING]
)
def test_a_dry_run_that_would_fail_raises_that_failure(
    call: Call, cls: type[errors.CloudBackupError], code: str
) -> None:
    """The dry run answers the failure the real request would, and changes nothing."""
    cloud = make_cloud()
    ecs, instance_id, disk_id, snapshot_id = _world(cloud)
    before = backend_state(cloud)
    raises_code(cls, code, lambda: call(ecs, instance_id, disk_id, snapshot_id))
    assert before == backend_state(cloud)


@pytest.mark.parametrize("value", [1, "true", None])
def test_dry_run_must_be_a_bool(value: object) -> None:
    """A non-bool DryRun is InvalidParameter.DryRun, on writes and reads alike."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    raises_code(
        errors.InvalidParameterError,
        "InvalidParameter.DryRun",
        lambda: ecs.create_instance(zone_id=ZONE, instance_type=INSTANCE_TYPE, dry_run=value),  # type: ignore[arg-type]
    )
    raises_code(
        errors.InvalidParameterError,
        "InvalidParameter.DryRun",
        lambda: ecs.describe_disks(dry_run=value),  # type: ignore[arg-type]
    )


def test_a_dry_run_schedules_no_timer() -> None:
    """A dry-run RunInstances leaves no boot timer behind: advancing time changes nothing."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    with pytest.raises(errors.DryRunOperationError):
        ecs.run_instances(zone_id=ZONE, instance_type=INSTANCE_TYPE, dry_run=True)
    before = len(cloud.events.list())
    settle(cloud)
    cloud.advance(dt.timedelta(hours=1))
    assert before == len(cloud.events.list())
    assert 0 == ecs.describe_instances().total_count


def test_a_dry_run_image_deletion_keeps_the_image_and_its_snapshot_held() -> None:
    """delete_image(dry_run=True) raises DryRunOperation; the image stays and still holds its
    snapshot (SnapshotCreatedImage), then a real deletion frees it."""
    cloud = make_cloud()
    ecs, _, _, snapshot_id = _world(cloud)
    image_id = ecs.create_image(
        disk_device_mappings=[DiskDeviceMapping(snapshot_id=snapshot_id, disk_type="system")]
    )
    before = backend_state(cloud)
    raises_code(
        errors.DryRunOperationError,
        "DryRunOperation",
        lambda: ecs.delete_image(image_id, dry_run=True),
    )
    assert before == backend_state(cloud)
    assert [image_id] == [i.image_id for i in ecs.describe_images().items]
    raises_code(
        errors.OperationDeniedError,
        "SnapshotCreatedImage",
        lambda: ecs.delete_snapshot(snapshot_id),
    )
    ecs.delete_image(image_id)
    ecs.delete_snapshot(snapshot_id)
    assert 0 == ecs.describe_snapshots(snapshot_ids=[snapshot_id]).total_count


def test_a_dry_run_instance_release_keeps_the_instance_and_its_disks() -> None:
    """delete_instance(dry_run=True) on a Running instance without force is refused like the
    real call (IncorrectInstanceStatus); on a Stopped one it raises DryRunOperation and the
    instance and its disks are all still there."""
    cloud = make_cloud()
    ecs, instance_id, disk_id, _ = _world(cloud)
    raises_code(
        errors.DryRunOperationError,
        "DryRunOperation",
        lambda: ecs.delete_instance(instance_id, dry_run=True),
    )
    assert [instance_id] == [i.instance_id for i in ecs.describe_instances().items]
    assert instance_id == ecs.describe_disk(disk_id).instance_id
    start(cloud, ecs, instance_id)
    before = backend_state(cloud)
    raises_code(
        errors.IncorrectStatusError,
        "IncorrectInstanceStatus",
        lambda: ecs.delete_instance(instance_id, dry_run=True),
    )
    assert before == backend_state(cloud)


#: The modelled actions whose real API has ``DryRun`` (checked against the ECS API models;
#: see docs/reference/api.md, "DryRun by action").
ACTIONS_WITH_DRY_RUN = {
    "run_instances",
    "create_instance",
    "start_instance",
    "stop_instance",
    "reboot_instance",
    "delete_instance",
    "describe_instances",
    "describe_disks",
    "describe_snapshots",
    "describe_images",
    "create_image",
    "delete_image",
    "lock_snapshot",
    "unlock_snapshot",
    "describe_locked_snapshots",
    "reset_disk",
    "reset_disks",
}


def test_exactly_the_actions_whose_real_api_has_dry_run_take_dry_run() -> None:
    """dry_run= is offered by every modelled action whose real API has DryRun and by no
    other (ModifyDiskAttribute, CreateDisk, CreateSnapshot, tags... have none)."""
    with_dry_run = {
        name
        for name in dir(EcsService)
        if not name.startswith("_")
        and callable(getattr(EcsService, name))
        and "dry_run" in inspect.signature(getattr(EcsService, name)).parameters
    }
    assert ACTIONS_WITH_DRY_RUN == with_dry_run
