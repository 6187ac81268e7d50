"""Tests that kill the rule mutations which once survived the whole suite (issue 7, §9).

Each test names the mutation it kills. Expected figures are literals worked out by hand,
never taken from the function under test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from _helpers import (
    GIB,
    ZONE,
    data_disk_ids,
    instance_with_disk,
    make_cloud,
    run_instance,
    settle,
    stop,
)
from cloudbackup import Cloud, DataDisk, EcsService, ResetDiskSpec, SnapshotStatus, Timings, errors
from cloudbackup._backends._sqlite import SqliteBackend
from cloudbackup.testing import world_state

DAY = dt.timedelta(days=1)
MIB = 1024**2


def _pattern(seed: int, length: int) -> bytes:
    """Bytes that differ from block to block and from seed to seed (no zeros, no repeats)."""
    unit = bytes((seed * 7 + i) % 251 + 1 for i in range(251))
    return (unit * (length // len(unit) + 1))[:length]


def _attach_new_disk_from(ecs: EcsService, instance_id: str, snapshot_id: str) -> str:
    """Create a disk from ``snapshot_id`` in the instance's zone and attach it to the instance."""
    disk_id = ecs.create_disk(
        zone_id=ZONE, disk_category="cloud_essd", size=20, snapshot_id=snapshot_id
    )
    ecs.attach_disk(instance_id=instance_id, disk_id=disk_id)
    return disk_id


def _rejected_as_dry_run_or_returned(call: Callable[[], object]) -> None:
    """Run a dry run: it may return (today) or raise the real ``DryRunOperation`` (issue 7 §7)."""
    code = None
    try:
        call()
    except errors.CloudBackupError as exc:
        code = exc.code
    assert code in (None, "DryRunOperation")


# -- a disk made from a snapshot marks all its blocks dirty ----------------------------------
def test_a_snapshot_of_a_disk_made_from_a_snapshot_holds_its_bytes() -> None:
    """Kills "a disk created from a snapshot is not marked dirty": a second-generation
    restore (snapshot of the restored disk, restored again) reads the original bytes."""
    cloud = make_cloud()
    ecs, instance_id, disk_id = instance_with_disk(cloud)
    data = _pattern(1, 5 * 4096 + 123)
    ecs.write_disk(disk_id, 0, data)
    first = ecs.create_snapshot(disk_id=disk_id)
    restored = _attach_new_disk_from(ecs, instance_id, first)
    second = ecs.create_snapshot(disk_id=restored)
    settle(cloud)
    again = _attach_new_disk_from(ecs, instance_id, second)
    assert data == ecs.read_disk(again, 0, len(data))


def test_a_disk_made_from_a_snapshot_is_fully_captured_by_its_first_snapshot() -> None:
    """Kills the same mutation through the snapshot's own size: the restored disk's first
    snapshot holds every block it inherited (6 blocks, as the source had)."""
    cloud = make_cloud()
    ecs, instance_id, disk_id = instance_with_disk(cloud)
    ecs.write_disk(disk_id, 0, _pattern(2, 6 * 4096))
    first = ecs.create_snapshot(disk_id=disk_id)
    restored = _attach_new_disk_from(ecs, instance_id, first)
    second = ecs.create_snapshot(disk_id=restored)
    source, copy = ecs.describe_snapshot(first), ecs.describe_snapshot(second)
    assert (6, 6) == (source.incremental_blocks, copy.incremental_blocks)


def test_a_second_generation_restore_survives_deleting_the_first_snapshot() -> None:
    """Kills the mutation even where the chain could mask it: with the first snapshot and
    its disk gone, the snapshot of the restored disk alone restores the bytes."""
    cloud = make_cloud()
    ecs, instance_id, disk_id = instance_with_disk(cloud)
    data = _pattern(3, 3 * 4096)
    ecs.write_disk(disk_id, 4096, data)
    first = ecs.create_snapshot(disk_id=disk_id)
    restored = _attach_new_disk_from(ecs, instance_id, first)
    second = ecs.create_snapshot(disk_id=restored)
    ecs.detach_disk(instance_id=instance_id, disk_id=restored)
    ecs.delete_disk(restored)
    ecs.delete_snapshot(first)
    again = _attach_new_disk_from(ecs, instance_id, second)
    assert data == ecs.read_disk(again, 4096, len(data))


# -- retention waits for the disks made from a snapshot --------------------------------------
def test_retention_keeps_a_snapshot_while_a_disk_made_from_it_exists() -> None:
    """Kills "retention expires a snapshot a disk was created from": the snapshot outlives
    its one-day retention while the disk exists, and goes as soon as the disk is deleted."""
    cloud = make_cloud()
    ecs, instance_id, disk_id = instance_with_disk(cloud)
    data = _pattern(4, 2 * 4096)
    ecs.write_disk(disk_id, 0, data)
    snapshot_id = ecs.create_snapshot(disk_id=disk_id, retention_days=1)
    restored = _attach_new_disk_from(ecs, instance_id, snapshot_id)
    cloud.advance(3 * DAY)
    assert (snapshot_id, 1) == (
        ecs.describe_snapshot(snapshot_id).snapshot_id,
        ecs.describe_snapshot(snapshot_id).disk_refs,
    )
    assert data == ecs.read_disk(restored, 0, len(data))
    ecs.detach_disk(instance_id=instance_id, disk_id=restored)
    ecs.delete_disk(restored)
    cloud.advance(dt.timedelta(seconds=1))
    with pytest.raises(errors.ResourceNotFoundError) as caught:
        ecs.describe_snapshot(snapshot_id)
    assert "InvalidSnapshotId.NotFound" == caught.value.code


def test_retention_that_ends_while_a_disk_holds_the_snapshot_fires_after_the_disk_goes() -> None:
    """The snapshot expires (is released) when the last disk made from it is deleted, not at
    the retention date; a snapshot of another disk with the same retention expires on time."""
    cloud = make_cloud()
    ecs, instance_id = run_instance(cloud, data_disks=[DataDisk(size=20), DataDisk(size=20)])
    held_disk, free_disk = data_disk_ids(ecs, instance_id)
    ecs.write_disk(held_disk, 0, _pattern(5, 4096))
    ecs.write_disk(free_disk, 0, _pattern(6, 4096))
    held = ecs.create_snapshot(disk_id=held_disk, retention_days=2)
    free = ecs.create_snapshot(disk_id=free_disk, retention_days=2)
    restored = ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20, snapshot_id=held)
    cloud.advance(2 * DAY + dt.timedelta(seconds=1))
    remaining = {s.snapshot_id for s in ecs.describe_snapshots(page_size=100).items}
    assert {held} == remaining & {held, free}
    ecs.delete_disk(restored)
    remaining = {s.snapshot_id for s in ecs.describe_snapshots(page_size=100).items}
    assert set() == remaining & {held, free}


# -- dry runs change nothing -----------------------------------------------------------------
@pytest.mark.parametrize("plural", [False, True], ids=["reset_disk", "reset_disks"])
def test_a_dry_run_reset_changes_nothing(plural: bool) -> None:
    """Kills "reset_disks(dry_run=True) resets": after a dry run the disk still reads the
    newer bytes and the whole world is exactly as it was."""
    cloud = make_cloud()
    ecs, instance_id, disk_id = instance_with_disk(cloud)
    ecs.write_disk(disk_id, 0, _pattern(7, 4096))
    snapshot_id = ecs.create_snapshot(disk_id=disk_id)
    newer = _pattern(8, 4096)
    ecs.write_disk(disk_id, 0, newer)
    stop(cloud, ecs, instance_id)
    before = world_state(cloud)
    if plural:
        pairs = [ResetDiskSpec(disk_id=disk_id, snapshot_id=snapshot_id)]
        _rejected_as_dry_run_or_returned(lambda: ecs.reset_disks(disks=pairs, dry_run=True))
    else:
        _rejected_as_dry_run_or_returned(
            lambda: ecs.reset_disk(disk_id=disk_id, snapshot_id=snapshot_id, dry_run=True)
        )
    assert before == world_state(cloud)
    ecs.start_instance(instance_id)
    settle(cloud)
    assert newer == ecs.read_disk(disk_id, 0, 4096)


def test_a_real_reset_after_a_dry_run_does_reset() -> None:
    """The dry run's twin without ``dry_run`` rolls the disk back (the test above can fail)."""
    cloud = make_cloud()
    ecs, instance_id, disk_id = instance_with_disk(cloud)
    older = _pattern(9, 4096)
    ecs.write_disk(disk_id, 0, older)
    snapshot_id = ecs.create_snapshot(disk_id=disk_id)
    ecs.write_disk(disk_id, 0, _pattern(10, 4096))
    stop(cloud, ecs, instance_id)
    ecs.reset_disks(disks=[ResetDiskSpec(disk_id=disk_id, snapshot_id=snapshot_id)])
    ecs.start_instance(instance_id)
    settle(cloud)
    assert older == ecs.read_disk(disk_id, 0, 4096)


# -- AES-GCM nonces are never reused ---------------------------------------------------------
def _sealed_nonces(cloud: Cloud) -> list[bytes]:
    """The 12-byte nonce of every sealed block the backend stores."""
    return [blob[:12] for _, blob in world_state(cloud).blobs if len(blob) > 12]


def test_no_two_sealed_blocks_share_a_nonce() -> None:
    """Kills "AES-GCM nonces restart on every call": blocks sealed by separate writes, by a
    snapshot's re-encryption into another key and by a reset never reuse a nonce."""
    cloud = make_cloud()
    kms = cloud.kms("cn-hangzhou")
    first_key, second_key = kms.create_key().key_id, kms.create_key().key_id
    ecs, instance_id, disk_id = instance_with_disk(cloud, encrypted=True, kms_key_id=first_key)
    for n in range(4):  # one block per call: a restarting counter reuses nonce 0 each time
        ecs.write_disk(disk_id, n * 4096, _pattern(20 + n, 4096))
    snapshot_id = ecs.create_snapshot(disk_id=disk_id)
    ecs.write_disk(disk_id, 0, _pattern(30, 2 * 4096))
    copy = ecs.create_disk(
        zone_id=ZONE,
        disk_category="cloud_essd",
        size=20,
        snapshot_id=snapshot_id,
        encrypted=True,
        kms_key_id=second_key,
    )
    ecs.attach_disk(instance_id=instance_id, disk_id=copy)
    ecs.write_disk(copy, 8 * 4096, _pattern(31, 4096))
    nonces = _sealed_nonces(cloud)
    assert 4 + 2 + 4 + 1 == len(nonces)
    assert len(nonces) == len(set(nonces))


def test_nonces_stay_unique_across_reopening_a_world(tmp_path: Path) -> None:
    """A world saved to SQLite and reopened continues its nonce counter, never restarting."""
    path = tmp_path / "world.db"
    with Cloud(seed=3, block_size=4096, backend=SqliteBackend(path)) as cloud:
        key = cloud.kms("cn-hangzhou").create_key().key_id
        ecs, _, disk_id = instance_with_disk(cloud, encrypted=True, kms_key_id=key)
        ecs.write_disk(disk_id, 0, _pattern(40, 4096))
    with Cloud(seed=3, block_size=4096, backend=SqliteBackend(path)) as cloud:
        cloud.ecs("cn-hangzhou").write_disk(disk_id, 4096, _pattern(41, 4096))
        nonces = _sealed_nonces(cloud)
    assert 2 == len(nonces)
    assert len(nonces) == len(set(nonces))


# -- the snapshot duration formula, with figures worked out by hand --------------------------
def test_snapshot_duration_is_sixty_seconds_plus_bytes_over_throughput() -> None:
    """Kills "duration x 8" and "base 60 s -> 90 s": 1 GiB at 100 MiB/s takes 60 s + 10.24 s,
    nothing takes 60 s, and 1 MiB at 1 MiB/s with a 5 s base takes 6 s."""
    assert dt.timedelta(seconds=70, milliseconds=240) == Timings().snapshot_duration(GIB)
    assert dt.timedelta(seconds=60) == Timings().snapshot_duration(0)
    slow = Timings(snapshot_base=dt.timedelta(seconds=5), snapshot_throughput=MIB)
    assert dt.timedelta(seconds=6) == slow.snapshot_duration(MIB)


def test_a_standard_snapshot_of_100_mib_completes_after_61_seconds() -> None:
    """Kills the same mutations end to end: 25 changed blocks of 4 MiB (100 MiB) on an
    ultra disk at the default 100 MiB/s stay progressing for exactly 61 s."""
    cloud = make_cloud(block_size=4 * MIB)
    ecs, _, disk_id = instance_with_disk(cloud, category="cloud_efficiency", size=40)
    block = _pattern(50, 4 * MIB)
    for n in range(25):
        ecs.write_disk(disk_id, n * 4 * MIB, block[n:] + block[:n])
    created = cloud.now()
    snapshot_id = ecs.create_snapshot(disk_id=disk_id)
    cloud.run_until(created + dt.timedelta(seconds=61) - dt.timedelta(microseconds=1))
    assert SnapshotStatus.progressing is ecs.describe_snapshot(snapshot_id).status
    cloud.run_until(created + dt.timedelta(seconds=61))
    snapshot = ecs.describe_snapshot(snapshot_id)
    assert (SnapshotStatus.accomplished, created + dt.timedelta(seconds=61)) == (
        snapshot.status,
        snapshot.completion_time,
    )
