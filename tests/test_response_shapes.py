"""Response shapes tools read: a progressing snapshot's ``progress``/``remain_time`` from the
throughput model, lock info records of ``DescribeLockedSnapshots``, and the member records of
``DescribeSnapshotGroups``. Expected figures are worked out by hand, not by the model."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from _helpers import instance_with_disk, make_cloud, pattern
from cloudbackup import (
    Cloud,
    DataDisk,
    DiskCategory,
    DiskType,
    LockedSnapshotInfo,
    LockStatus,
    Snapshot,
    SnapshotGroupMember,
    SnapshotStatus,
    Timings,
)
from cloudbackup.testing import world_state

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    """Snapshot records in any status, with or without an expected completion time."""
    status = draw(st.sampled_from(SnapshotStatus))
    upload = draw(st.none() | st.integers(0, 10**6))
    return Snapshot(
        snapshot_id="s-1",
        region_id="cn-hangzhou",
        snapshot_name=None,
        description=None,
        status=status,
        creation_time=START,
        source_disk_id="d-1",
        source_disk_type=DiskType.data,
        source_disk_size=20,
        source_disk_category=DiskCategory.cloud_efficiency,
        snapshot_link_id="sl-1",
        instance_id=None,
        retention_days=None,
        block_size=4096,
        expected_completion_time=None
        if upload is None
        else START + dt.timedelta(microseconds=upload * 1000),
    )


SECOND = dt.timedelta(seconds=1)
MIB = 1024 * 1024


def _progressing_snapshot() -> tuple[Cloud, str, dt.datetime]:
    """A cloud_efficiency snapshot of 4 MiB at 1 MiB/s: 60 s base + 4 s upload = 64 s."""
    cloud = Cloud(block_size=4096, timings=Timings(snapshot_throughput=MIB))
    ecs = cloud.ecs("cn-hangzhou")
    [instance_id] = ecs.run_instances(
        zone_id="cn-hangzhou-h",
        instance_type="ecs.g7.large",
        data_disks=[DataDisk(category="cloud_efficiency", size=20)],
    )
    cloud.advance(dt.timedelta(minutes=5))
    disk = next(
        d for d in ecs.describe_disks(instance_id=instance_id).items if d.type is DiskType.data
    )
    ecs.write_disk(disk.disk_id, 0, pattern(7, 4 * MIB))
    taken_at = cloud.now()
    return cloud, ecs.create_snapshot(disk_id=disk.disk_id), taken_at


def test_a_progressing_snapshot_reports_progress_and_remain_time_by_hand() -> None:
    """24 s into a 64 s snapshot: 37% (37.5 rounded down) with 40 s to go."""
    cloud, snapshot_id, taken_at = _progressing_snapshot()
    ecs = cloud.ecs("cn-hangzhou")
    cloud.advance(24 * SECOND)
    snapshot = ecs.describe_snapshot(snapshot_id)
    assert taken_at + 64 * SECOND == snapshot.expected_completion_time
    assert ("37%", 40) == (snapshot.progress_at(cloud.now()), snapshot.remain_time_at(cloud.now()))


def test_progress_never_shows_100_before_the_snapshot_is_accomplished() -> None:
    """Half a second before the end it is 99% with 1 s to go; at 64 s it is 100% and 0."""
    cloud, snapshot_id, taken_at = _progressing_snapshot()
    ecs = cloud.ecs("cn-hangzhou")
    cloud.run_until(taken_at + dt.timedelta(seconds=63, microseconds=500_000))
    snapshot = ecs.describe_snapshot(snapshot_id)
    assert ("99%", 1) == (snapshot.progress_at(cloud.now()), snapshot.remain_time_at(cloud.now()))
    cloud.run_until(taken_at + 64 * SECOND)
    done = ecs.describe_snapshot(snapshot_id)
    assert SnapshotStatus.accomplished is done.status
    assert ("100%", 0) == (done.progress_at(cloud.now()), done.remain_time_at(cloud.now()))


def test_at_creation_a_progressing_snapshot_is_at_zero() -> None:
    """At the instant it is taken: 0% and the whole 64 s to go."""
    cloud, snapshot_id, _ = _progressing_snapshot()
    snapshot = cloud.ecs("cn-hangzhou").describe_snapshot(snapshot_id)
    assert ("0%", 64) == (snapshot.progress_at(cloud.now()), snapshot.remain_time_at(cloud.now()))


@given(snapshot=snapshots(), seconds=st.integers(0, 10**6))
def test_progress_is_a_percentage_and_remain_time_never_negative(
    snapshot: Snapshot, seconds: int
) -> None:
    """For any snapshot and instant, progress is 0%..100% and remain_time is at least 0."""
    now = snapshot.creation_time + dt.timedelta(seconds=seconds)
    percent = int(snapshot.progress_at(now).rstrip("%"))
    assert 0 <= percent <= 100
    assert 0 <= snapshot.remain_time_at(now)
    assert (100 == percent) is (snapshot.status is SnapshotStatus.accomplished)


def test_locked_snapshot_info_by_hand() -> None:
    """A 2-day lock with 3 h cool-off set at T: cool-off ends T+3h, the lock T+2d."""
    cloud = make_cloud()
    ecs, _, disk_id = instance_with_disk(cloud)
    snapshot_id = ecs.create_snapshot(disk_id=disk_id)
    locked_at = cloud.now()
    ecs.lock_snapshot(snapshot_id=snapshot_id, lock_duration=2, cool_off_period=3)
    expected = LockedSnapshotInfo(
        snapshot_id=snapshot_id,
        lock_status=LockStatus.compliance_cooloff,
        lock_mode="compliance",
        lock_duration=2,
        cool_off_period=3,
        lock_creation_time=locked_at,
        cool_off_period_expired_time=locked_at + dt.timedelta(hours=3),
        lock_expired_time=locked_at + dt.timedelta(days=2),
    )
    assert [expected] == list(ecs.describe_locked_snapshots())
    cloud.advance(dt.timedelta(hours=4))
    [later] = ecs.describe_locked_snapshots(lock_status="compliance")
    assert LockStatus.compliance is later.lock_status


def test_a_lock_on_a_progressing_snapshot_has_no_expiry_yet() -> None:
    """The lock timer starts when the snapshot is accomplished, so LockExpiredTime is None."""
    cloud, snapshot_id, taken_at = _progressing_snapshot()
    ecs = cloud.ecs("cn-hangzhou")
    ecs.lock_snapshot(snapshot_id=snapshot_id, lock_duration=1)
    [info] = ecs.describe_locked_snapshots()
    assert None is info.lock_expired_time
    cloud.advance(dt.timedelta(minutes=2))
    [info] = ecs.describe_locked_snapshots()
    assert taken_at + 64 * SECOND + dt.timedelta(days=1) == info.lock_expired_time


def test_snapshot_groups_list_their_members_with_progress() -> None:
    """Each group lists one member record per disk, in the group's order, with progress."""
    cloud = make_cloud()
    ecs, instance_id, disk_id = instance_with_disk(cloud)
    group_id = ecs.create_snapshot_group(instance_id=instance_id)
    [group] = ecs.describe_snapshot_groups(snapshot_group_ids=[group_id]).items
    assert group.snapshot_ids == tuple(m.snapshot_id for m in group.snapshots)
    data_member = next(m for m in group.snapshots if m.source_disk_id == disk_id)
    assert (
        SnapshotGroupMember(
            snapshot_id=data_member.snapshot_id,
            source_disk_id=disk_id,
            source_disk_type=DiskType.data,
            status=SnapshotStatus.accomplished,
            progress="100%",
            remain_time=0,
            instant_access=True,
            available=True,
        )
        == data_member
    )


def test_describe_snapshots_reports_progress_at_the_instant_of_the_call() -> None:
    """24 s into a 64 s snapshot, describe_snapshots shows 37% with 40 s to go; at 48 s,
    75% with 16 s; once accomplished, 100% and 0."""
    cloud, snapshot_id, _ = _progressing_snapshot()
    ecs = cloud.ecs("cn-hangzhou")
    cloud.advance(24 * SECOND)
    [early] = ecs.describe_snapshots(snapshot_ids=[snapshot_id]).items
    assert ("37%", 40) == (early.progress, early.remain_time)
    cloud.advance(24 * SECOND)
    later = ecs.describe_snapshot(snapshot_id)
    assert ("75%", 16) == (later.progress, later.remain_time)
    cloud.advance(16 * SECOND)
    [done] = ecs.describe_snapshots(snapshot_ids=[snapshot_id], max_results=10).items
    assert ("100%", 0) == (done.progress, done.remain_time)


def test_reading_progress_writes_nothing() -> None:
    """A describe that reports 37% leaves the stored world exactly as it was."""
    cloud, snapshot_id, _ = _progressing_snapshot()
    ecs = cloud.ecs("cn-hangzhou")
    cloud.advance(24 * SECOND)
    before = world_state(cloud)
    assert "37%" == ecs.describe_snapshots(snapshot_ids=[snapshot_id]).items[0].progress
    assert before == world_state(cloud)
