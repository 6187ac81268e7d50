"""Every rejected call leaves the backend exactly as it was: records, blobs, counters, clock.

The table runs on both shipped backends whatever ``--cloudbackup-backend`` says: in memory
the backend's own dictionaries are compared, on SQLite every row of the file (read through a
second, read-only connection, so only what was committed counts); on both the public
:func:`~cloudbackup.testing.world_state` is compared too.
"""

from __future__ import annotations

import copy
import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from _helpers import INSTANCE_TYPE, OTHER_ZONE, REGION, ZONE, pattern
from cloudbackup import (
    Cloud,
    DataDisk,
    DiskDeviceMapping,
    InMemoryBackend,
    ResetDiskSpec,
    SqliteBackend,
    SystemDisk,
    errors,
)
from cloudbackup.testing import world_state

BACKENDS = ["memory", "sqlite"]


def _sqlite_rows(path: Path) -> list[str]:
    """Every committed row of every table and index of a SQLite world, as SQL text."""
    reader = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return list(reader.iterdump())
    finally:
        reader.close()


class World:
    """A world with something of everything, built once per test."""

    def __init__(self, backend_name: str = "memory", directory: Path | None = None) -> None:
        self.path: Path | None = None
        if backend_name == "sqlite":
            assert directory is not None
            self.path = directory / "world.db"
            self.backend: InMemoryBackend | SqliteBackend = SqliteBackend(self.path)
        else:
            self.backend = InMemoryBackend()
        self.cloud = Cloud(backend=self.backend, block_size=4096, seed=5)
        cloud = self.cloud
        self.kms = cloud.kms(REGION)
        self.ecs = ecs = cloud.ecs(REGION)
        self.key = self.kms.create_key().key_id
        self.disabled_key = self.kms.create_key().key_id
        self.dying_key = self.kms.create_key().key_id
        self.rsa = self.kms.create_key(key_spec="RSA_2048").key_id
        self.kms.create_alias("alias/main", self.key)
        [self.vm] = ecs.run_instances(
            zone_id=ZONE,
            instance_type=INSTANCE_TYPE,
            data_disks=[
                DataDisk(size=20),
                DataDisk(size=20, encrypted=True, kms_key_id=self.key),
                DataDisk(category="cloud_ssd", size=20),
                DataDisk(category="local_ssd_pro", size=100),
                DataDisk(size=20, encrypted=True, kms_key_id=self.disabled_key),
            ],
        )
        [self.stopped] = ecs.run_instances(
            zone_id=ZONE, instance_type=INSTANCE_TYPE, data_disks=[DataDisk(size=20)]
        )
        cloud.advance(dt.timedelta(minutes=2))
        disks = sorted(
            ecs.describe_disks(instance_id=self.vm, disk_type="data").items,
            key=lambda d: d.device or "",
        )
        self.plain, self.secret, self.ssd, self.local, self.locked_out = (d.disk_id for d in disks)
        self.system = ecs.describe_disks(instance_id=self.vm, disk_type="system").items[0].disk_id
        [self.stopped_disk] = [
            d.disk_id for d in ecs.describe_disks(instance_id=self.stopped, disk_type="data").items
        ]
        for n, disk in enumerate((self.plain, self.secret, self.ssd, self.local, self.locked_out)):
            ecs.write_disk(disk, 4096 * n, pattern(n, 9000))
        self.snap = ecs.create_snapshot(disk_id=self.plain, retention_days=3)
        self.secret_snap = ecs.create_snapshot(disk_id=self.secret)
        self.system_snap = ecs.create_snapshot(disk_id=self.system)
        self.progressing = ecs.create_snapshot(disk_id=self.ssd)
        self.stopped_snap = ecs.create_snapshot(disk_id=self.stopped_disk)
        self.group = ecs.create_snapshot_group(
            instance_id=self.vm, disk_ids=[self.plain, self.secret]
        )
        member = ecs.describe_snapshot_groups().items[0].snapshot_ids[-1]
        self.group_user = ecs.create_disk(
            zone_id=ZONE, disk_category="cloud_essd", snapshot_id=member
        )
        self.locked = ecs.create_snapshot(disk_id=self.plain)
        ecs.lock_snapshot(snapshot_id=self.locked, lock_duration=10)
        self.image = ecs.create_image(snapshot_id=self.system_snap)
        self.loose = ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20)
        self.far = ecs.create_disk(zone_id=OTHER_ZONE, size=20)
        self.used_by_disk = ecs.create_disk(
            zone_id=ZONE, disk_category="cloud_essd", snapshot_id=self.snap
        )
        ecs.stop_instance(self.stopped)
        cloud.advance(dt.timedelta(seconds=30))
        self.kms.disable_key(self.disabled_key)
        self.kms.schedule_key_deletion(self.dying_key, 30)

    def deep_state(self) -> tuple[object, ...]:
        """Everything the backend holds, read as deeply as the backend allows: the public
        :func:`world_state`, plus the in-memory dictionaries or every row of the SQLite file."""
        if isinstance(self.backend, InMemoryBackend):
            raw: object = (copy.deepcopy(self.backend._records), copy.deepcopy(self.backend._blobs))
        else:
            assert self.path is not None
            raw = _sqlite_rows(self.path)
        return world_state(self.cloud), raw, tuple(self.backend.blob_stats())

    def rejected_calls(self) -> dict[str, Callable[[], object]]:
        ecs, kms, w = self.ecs, self.kms, self
        return {
            # instances
            "run_instances bad second data disk": lambda: ecs.run_instances(
                zone_id=ZONE,
                instance_type=INSTANCE_TYPE,
                data_disks=[DataDisk(size=20), DataDisk(category="cloud", size=3)],
            ),
            "run_instances disabled key on last disk": lambda: ecs.run_instances(
                zone_id=ZONE,
                instance_type=INSTANCE_TYPE,
                amount=3,
                data_disks=[DataDisk(size=20), DataDisk(size=20, kms_key_id=w.disabled_key)],
            ),
            "run_instances snapshot not ready": lambda: ecs.run_instances(
                zone_id=ZONE,
                instance_type=INSTANCE_TYPE,
                data_disks=[DataDisk(size=20), DataDisk(snapshot_id=w.progressing, size=None)],
            ),
            "run_instances too many disks": lambda: ecs.run_instances(
                zone_id=ZONE, instance_type=INSTANCE_TYPE, data_disks=[DataDisk()] * 17
            ),
            "run_instances bad zone": lambda: ecs.run_instances(
                zone_id="cn-shanghai-a", instance_type=INSTANCE_TYPE
            ),
            "create_instance bad system disk": lambda: ecs.create_instance(
                zone_id=ZONE, instance_type=INSTANCE_TYPE, system_disk=SystemDisk(size=10)
            ),
            "start running": lambda: ecs.start_instance(w.vm),
            "stop stopped": lambda: ecs.stop_instance(w.stopped),
            "reboot stopped": lambda: ecs.reboot_instance(w.stopped),
            "delete running": lambda: ecs.delete_instance(w.vm),
            "delete unknown": lambda: ecs.delete_instance("i-unknown"),
            # disks
            "create_disk too small": lambda: ecs.create_disk(zone_id=ZONE, size=1),
            "create_disk rsa key": lambda: ecs.create_disk(
                zone_id=ZONE, disk_category="cloud_essd", size=20, kms_key_id=w.rsa
            ),
            "create_disk dying key": lambda: ecs.create_disk(
                zone_id=ZONE, disk_category="cloud_essd", size=20, kms_key_id=w.dying_key
            ),
            "create_disk from encrypted unencrypted": lambda: ecs.create_disk(
                zone_id=ZONE, disk_category="cloud_essd", snapshot_id=w.secret_snap, encrypted=False
            ),
            "create_disk from snapshot too large": lambda: ecs.create_disk(
                zone_id=ZONE, disk_category="cloud_ssd", snapshot_id=w.snap, size=32769
            ),
            "attach in use": lambda: ecs.attach_disk(instance_id=w.stopped, disk_id=w.plain),
            "attach other zone": lambda: ecs.attach_disk(instance_id=w.vm, disk_id=w.far),
            "detach system of running": lambda: ecs.detach_disk(instance_id=w.vm, disk_id=w.system),
            "detach local": lambda: ecs.detach_disk(instance_id=w.vm, disk_id=w.local),
            "delete in-use disk": lambda: ecs.delete_disk(w.plain),
            "resize shrink": lambda: ecs.resize_disk(disk_id=w.plain, new_size=10),
            "modify nothing": lambda: ecs.modify_disk_attribute(disk_id=w.plain),
            "modify bad name": lambda: ecs.modify_disk_attribute(disk_id=w.plain, disk_name="1x"),
            # data plane
            "write past end": lambda: ecs.write_disk(w.plain, 20 * 1024**3 - 1, b"xy"),
            "write stopped": lambda: ecs.write_disk(w.stopped_disk, 0, b"x"),
            "write disabled key": lambda: ecs.write_disk(w.locked_out, 0, b"x"),
            "write not bytes": lambda: ecs.write_disk(w.plain, 0, "text"),  # type: ignore[arg-type]
            "read disabled key": lambda: ecs.read_disk(w.locked_out, 0, 10),
            "read detached": lambda: ecs.read_disk(w.loose, 0, 10),
            # snapshots
            "snapshot local": lambda: ecs.create_snapshot(disk_id=w.local),
            "snapshot in progress": lambda: ecs.create_snapshot(disk_id=w.ssd),
            "snapshot disabled key": lambda: ecs.create_snapshot(disk_id=w.locked_out),
            "snapshot bad name": lambda: ecs.create_snapshot(
                disk_id=w.plain, snapshot_name="auto1"
            ),
            "snapshot bad retention": lambda: ecs.create_snapshot(
                disk_id=w.plain, retention_days=0
            ),
            "snapshot never attached": lambda: ecs.create_snapshot(disk_id=w.loose),
            "snapshot bad tags": lambda: ecs.create_snapshot(disk_id=w.plain, tags="x"),  # type: ignore[arg-type]
            "modify shorten retention": lambda: ecs.modify_snapshot_attribute(
                snapshot_id=w.snap, retention_days=1
            ),
            "delete locked": lambda: ecs.delete_snapshot(w.locked, force=True),
            "delete image snapshot": lambda: ecs.delete_snapshot(w.system_snap),
            "delete disk snapshot": lambda: ecs.delete_snapshot(w.snap),
            "lock bad duration": lambda: ecs.lock_snapshot(snapshot_id=w.snap, lock_duration=0),
            "lock shorten effective": lambda: ecs.lock_snapshot(
                snapshot_id=w.locked, lock_duration=5
            ),
            "unlock effective": lambda: ecs.unlock_snapshot(w.locked),
            "unlock unlocked": lambda: ecs.unlock_snapshot(w.snap),
            # groups
            "group with ssd last": lambda: ecs.create_snapshot_group(
                instance_id=w.vm, disk_ids=[w.plain, w.secret, w.ssd]
            ),
            "group conflict": lambda: ecs.create_snapshot_group(
                instance_id=w.vm, disk_ids=[w.plain], exclude_disk_ids=[w.secret]
            ),
            "group zones": lambda: ecs.create_snapshot_group(disk_ids=[w.loose, w.far]),
            "group disabled key": lambda: ecs.create_snapshot_group(
                instance_id=w.vm, disk_ids=[w.plain, w.locked_out]
            ),
            "delete unknown group": lambda: ecs.delete_snapshot_group("ssg-unknown"),
            "delete group used by disk": lambda: ecs.delete_snapshot_group(w.group),
            # restore
            "reset running": lambda: ecs.reset_disk(disk_id=w.plain, snapshot_id=w.snap),
            "reset mismatch": lambda: ecs.reset_disk(disk_id=w.stopped_disk, snapshot_id=w.snap),
            "reset_disks second bad": lambda: ecs.reset_disks(
                disks=[
                    ResetDiskSpec(w.stopped_disk, w.stopped_snap),
                    ResetDiskSpec(w.plain, w.snap),
                ]
            ),
            "image second mapping bad": lambda: ecs.create_image(
                disk_device_mappings=[
                    DiskDeviceMapping(w.system_snap, disk_type="system"),
                    DiskDeviceMapping(w.progressing),
                ]
            ),
            "image no system": lambda: ecs.create_image(
                disk_device_mappings=[DiskDeviceMapping(w.snap)]
            ),
            "delete unknown image": lambda: ecs.delete_image("m-unknown"),
            # kms
            "kms bad spec": lambda: kms.create_key(key_spec="DES"),
            "kms bad window": lambda: kms.schedule_key_deletion(w.key, 400),
            "kms enable dying": lambda: kms.enable_key(w.dying_key),
            "kms cancel enabled": lambda: kms.cancel_key_deletion(w.key),
            "kms alias exists": lambda: kms.create_alias("alias/main", w.rsa),
            "kms alias reserved": lambda: kms.create_alias("alias/acs/x", w.key),
            "kms delete missing alias": lambda: kms.delete_alias("alias/none"),
            "kms encrypt disabled": lambda: kms.encrypt(w.disabled_key, b"x"),
            "kms decrypt garbage": lambda: kms.decrypt("@@@"),
            # clock
            "advance backwards": lambda: w.cloud.advance(dt.timedelta(seconds=-1)),
            "run_until naive": lambda: w.cloud.run_until(dt.datetime(2030, 1, 1)),
            "unknown region": lambda: w.cloud.ecs("mars-1"),
        }


CALLS = sorted(World().rejected_calls())

#: The real error code each rejected call must answer with.
CODES = {
    "advance backwards": "InvalidParameter",
    "attach in use": "IncorrectDiskStatus",
    "attach other zone": "ResourcesNotInSameZone",
    "create_disk dying key": "InvalidParameter.KMSKeyId.CMKNotEnabled",
    "create_disk from encrypted unencrypted": "InvalidEncrypted.NotMatchSnapshot",
    "create_disk rsa key": "InvalidKMSKeyId.NotSymmetric",
    "create_disk from snapshot too large": "InvalidSize.ValueNotSupported",
    "create_disk too small": "InvalidSize.ValueNotSupported",
    "create_instance bad system disk": "InvalidSystemDiskSize.LessThanMinSize",
    "delete disk snapshot": "SnapshotCreatedDisk",
    "delete group used by disk": "SnapshotCreatedDisk",
    "delete image snapshot": "SnapshotCreatedImage",
    "delete in-use disk": "IncorrectDiskStatus",
    "delete locked": "OperationDenied.SnapshotLocked",
    "delete running": "IncorrectInstanceStatus",
    "delete unknown": "InvalidInstanceId.NotFound",
    "delete unknown group": "InvalidSnapshotGroup.NotFound",
    "delete unknown image": "InvalidImageId.NotFound",
    "detach local": "DiskNotPortable",
    "detach system of running": "IncorrectInstanceStatus",
    "group conflict": "InvalidParam.ExcludeDiskIdsAndDiskIds.Conflict",
    "group disabled key": "InvalidParameter.KMSKeyId.CMKNotEnabled",
    "group with ssd last": "DiskCategory.OperationNotSupported",
    "group zones": "InvalidDiskIds.NotInSameZone",
    "image no system": "InvalidSystemSnapshot.Missing",
    "image second mapping bad": "InvalidSnapshotId.NotReady",
    "kms alias exists": "AliasAlreadyExists",
    "kms alias reserved": "InvalidParameter",
    "kms bad spec": "InvalidParameter",
    "kms bad window": "InvalidParameter",
    "kms cancel enabled": "Rejected.StateModifiedFailed",
    "kms decrypt garbage": "InvalidParameter",
    "kms delete missing alias": "Forbidden.AliasNotFound",
    "kms enable dying": "Rejected.StateModifiedFailed",
    "kms encrypt disabled": "Rejected.Disabled",
    "lock bad duration": "InvalidParameter.LockDuration",
    "lock shorten effective": "InvalidParameter.LockDuration",
    "modify bad name": "InvalidDiskName.Malformed",
    "modify nothing": "NoAttributeToModify",
    "modify shorten retention": "InvalidOperation.DecreaseRetentionDaysUnsupported",
    "read detached": "IncorrectDiskStatus",
    "read disabled key": "InvalidParameter.KMSKeyId.CMKNotEnabled",
    "reboot stopped": "IncorrectInstanceStatus",
    "reset mismatch": "InvalidParameter.Mismatch",
    "reset running": "IncorrectInstanceStatus",
    "reset_disks second bad": "IncorrectInstanceStatus",
    "resize shrink": "InvalidDiskSize.TooSmall",
    "run_instances bad second data disk": "InvalidDataDiskSize.ValueNotSupported",
    "run_instances bad zone": "InvalidZoneId.NotFound",
    "run_instances disabled key on last disk": "InvalidParameter.KMSKeyId.CMKNotEnabled",
    "run_instances snapshot not ready": "InvalidSnapshotId.NotReady",
    "run_instances too many disks": "InstanceDiskNumber.LimitExceed",
    "run_until naive": "InvalidParameter",
    "snapshot bad name": "InvalidSnapshotName.Malformed",
    "snapshot bad retention": "InvalidRetentionDays.Malformed",
    "snapshot bad tags": "InvalidParameter.Tag",
    "snapshot disabled key": "InvalidParameter.KMSKeyId.CMKNotEnabled",
    "snapshot in progress": "IncorrectDiskStatus.CreatingSnapshot",
    "snapshot local": "DiskCategory.OperationNotSupported",
    "snapshot never attached": "IncorrectDiskStatus.NeverAttached",
    "start running": "IncorrectInstanceStatus",
    "stop stopped": "IncorrectInstanceStatus",
    "unknown region": "InvalidRegionId.NotFound",
    "unlock effective": "OperationDenied.SnapshotLocked",
    "unlock unlocked": "InvalidOperation.SnapshotNotLocked",
    "write disabled key": "InvalidParameter.KMSKeyId.CMKNotEnabled",
    "write not bytes": "InvalidParameter.Data",
    "write past end": "InvalidParameter.OutOfRange",
    "write stopped": "IncorrectInstanceStatus",
}


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("label", CALLS)
def test_rejected_call_changes_nothing(label: str, backend_name: str, tmp_path: Path) -> None:
    """The call raises its real error code; the backend, clock and event log are untouched."""
    world = World(backend_name, tmp_path)
    call = world.rejected_calls()[label]
    before = world.deep_state()
    now = world.cloud.now()
    events = len(world.cloud.events)
    with pytest.raises(errors.CloudBackupError) as info:
        call()
    assert CODES[label] == info.value.code
    assert before == world.deep_state()
    assert (now, events) == (world.cloud.now(), len(world.cloud.events))
    world.cloud.close()


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_locked_member_refuses_group_deletion_atomically(backend_name: str, tmp_path: Path) -> None:
    """A group whose last member is locked is not partly deleted."""
    world = World(backend_name, tmp_path)
    ecs = world.ecs
    [group] = ecs.describe_snapshot_groups().items
    ecs.delete_disk(world.group_user)
    ecs.lock_snapshot(snapshot_id=group.snapshot_ids[-1], lock_duration=1)
    before = world.deep_state()
    with pytest.raises(errors.OperationDeniedError):
        ecs.delete_snapshot_group(world.group)
    assert before == world.deep_state()
    world.cloud.close()


def test_the_sqlite_state_sees_a_committed_change(tmp_path: Path) -> None:
    """The SQLite comparison can fail: one accepted call changes the rows it reads."""
    world = World("sqlite", tmp_path)
    before = world.deep_state()
    world.ecs.write_disk(world.plain, 0, b"changed")
    after = world.deep_state()
    assert (True, True) == (before[0] != after[0], before[1] != after[1])
    world.cloud.close()


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_the_world_still_works_after_all_rejections(backend_name: str, tmp_path: Path) -> None:
    """After every rejected call in a row, valid calls succeed and the world is consistent."""
    world = World(backend_name, tmp_path)
    for label in CALLS:
        with pytest.raises(errors.CloudBackupError):
            world.rejected_calls()[label]()
    ecs = world.ecs
    ecs.write_disk(world.plain, 0, b"still fine")
    assert b"still fine" == ecs.read_disk(world.plain, 0, 10)
    ecs.create_snapshot(disk_id=world.plain)
    world.cloud.advance(dt.timedelta(days=40))
    ecs.delete_snapshot(world.locked)
    assert 0 == ecs.describe_snapshots(snapshot_ids=[world.locked]).total_count


def test_every_rejected_call_has_its_code() -> None:
    """The table of expected codes covers exactly the calls exercised."""
    assert sorted(CODES) == CALLS
