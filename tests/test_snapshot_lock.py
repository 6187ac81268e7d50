"""Snapshot locks in compliance mode: parameters, cool-off, extension, and deletion refusal."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import (
    instance_with_disk,
    make_cloud,
    raises_code,
    rejected_unchanged,
    run_instance,
)
from cloudbackup import Cloud, DataDisk, EcsService, LockStatus, SnapshotStatus, errors

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def snapshot(
    cloud: Cloud, *, category: str = "cloud_essd", **kwargs: object
) -> tuple[EcsService, str]:
    ecs, _, disk = instance_with_disk(cloud, category=category)
    ecs.write_disk(disk, 0, b"locked data")
    return ecs, ecs.create_snapshot(disk_id=disk, **kwargs)  # type: ignore[arg-type]


def lock_status(ecs: EcsService, snapshot_id: str) -> LockStatus | None:
    found = {i.snapshot_id: i.lock_status for i in ecs.describe_locked_snapshots(max_results=100)}
    return found.get(snapshot_id)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"lock_duration": 0}, "InvalidParameter.LockDuration"),
        ({"lock_duration": 36501}, "InvalidParameter.LockDuration"),
        ({"lock_duration": True}, "InvalidParameter.LockDuration"),
        ({"lock_duration": 1, "cool_off_period": -1}, "InvalidParameter.CoolOffPeriod"),
        ({"lock_duration": 1, "cool_off_period": 73}, "InvalidParameter.CoolOffPeriod"),
        ({"lock_duration": 1, "lock_mode": "governance"}, "InvalidParameter.LockMode"),
    ],
)
def test_lock_parameters_are_range_checked(kwargs: dict[str, object], code: str) -> None:
    """LockDuration 1–36,500 days, CoolOffPeriod 0–72 hours, LockMode compliance."""
    cloud = make_cloud()
    ecs, snap = snapshot(cloud)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        code,
        lambda: ecs.lock_snapshot(snapshot_id=snap, **kwargs),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(("days", "hours"), [(1, 0), (36500, 72), (30, 24)])
def test_limits_are_inclusive(days: int, hours: int) -> None:
    """The extreme values are accepted and recorded."""
    cloud = make_cloud()
    ecs, snap = snapshot(cloud)
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=days, cool_off_period=hours)
    lock = ecs.describe_snapshot(snap).lock
    assert lock is not None
    assert ("compliance", days, hours, cloud.now(), cloud.now()) == (
        lock.lock_mode,
        lock.lock_duration,
        lock.cool_off_period,
        lock.lock_created_time,
        lock.effective_from,
    )
    assert cloud.now() + dt.timedelta(days=days) == lock.lock_expire()


def test_lock_status_moves_from_cool_off_to_compliance_to_expired() -> None:
    """LockStatus is compliance-cooloff, then compliance, then expired."""
    cloud = make_cloud()
    ecs, snap = snapshot(cloud)
    start = cloud.now()
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=2, cool_off_period=3)
    assert LockStatus.compliance_cooloff is lock_status(ecs, snap)
    cloud.run_until(start + 3 * HOUR - dt.timedelta(seconds=1))
    assert LockStatus.compliance_cooloff is lock_status(ecs, snap)
    cloud.run_until(start + 3 * HOUR)
    assert LockStatus.compliance is lock_status(ecs, snap)
    cloud.run_until(start + 2 * DAY)
    assert LockStatus.expired is lock_status(ecs, snap)
    assert [snap] == [i.snapshot_id for i in ecs.describe_locked_snapshots(lock_status="expired")]
    assert [] == list(ecs.describe_locked_snapshots(lock_status="compliance"))


def test_unlock_only_during_cool_off() -> None:
    """UnlockSnapshot works in cool-off; afterwards OperationDenied.SnapshotLocked."""
    cloud = make_cloud()
    ecs, snap = snapshot(cloud)
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=5, cool_off_period=1)
    ecs.unlock_snapshot(snap)
    assert ecs.describe_snapshot(snap).lock is None
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=5, cool_off_period=1)
    cloud.advance(HOUR)
    rejected_unchanged(
        cloud,
        errors.OperationDeniedError,
        "OperationDenied.SnapshotLocked",
        lambda: ecs.unlock_snapshot(snap),
    )


def test_zero_cool_off_locks_at_once() -> None:
    """With CoolOffPeriod 0 the lock is effective immediately and cannot be removed."""
    cloud = make_cloud()
    ecs, snap = snapshot(cloud)
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=1)
    assert LockStatus.compliance is lock_status(ecs, snap)
    rejected_unchanged(
        cloud,
        errors.OperationDeniedError,
        "OperationDenied.SnapshotLocked",
        lambda: ecs.unlock_snapshot(snap),
    )


def test_unlocking_what_is_not_locked() -> None:
    """Unlocking an unlocked or expired lock: InvalidOperation.SnapshotNotLocked."""
    cloud = make_cloud()
    ecs, snap = snapshot(cloud)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "InvalidOperation.SnapshotNotLocked",
        lambda: ecs.unlock_snapshot(snap),
    )
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=1)
    cloud.advance(DAY)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "InvalidOperation.SnapshotNotLocked",
        lambda: ecs.unlock_snapshot(snap),
    )


def test_reconfiguring_during_cool_off_resets_the_lock() -> None:
    """In cool-off a new LockSnapshot replaces every parameter, even a shorter duration."""
    cloud = make_cloud()
    ecs, snap = snapshot(cloud)
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=10, cool_off_period=5)
    cloud.advance(HOUR)
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=2, cool_off_period=4)
    lock = ecs.describe_snapshot(snap).lock
    assert lock is not None
    assert (2, 4, cloud.now()) == (lock.lock_duration, lock.cool_off_period, lock.lock_created_time)
    assert cloud.now() + 4 * HOUR == lock.cool_off_end()


def test_after_cool_off_only_extension_with_zero_cool_off() -> None:
    """An effective lock can only grow, and only with CoolOffPeriod 0."""
    cloud = make_cloud()
    ecs, snap = snapshot(cloud)
    start = cloud.now()
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=10, cool_off_period=1)
    cloud.advance(2 * HOUR)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidParameter.CoolOffPeriod",
        lambda: ecs.lock_snapshot(snapshot_id=snap, lock_duration=20, cool_off_period=1),
    )
    rejected_unchanged(
        cloud,
        errors.CloudBackupError,
        "InvalidParameter.LockDuration",
        lambda: ecs.lock_snapshot(snapshot_id=snap, lock_duration=9),
    )
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=20)
    lock = ecs.describe_snapshot(snap).lock
    assert lock is not None
    assert start + 20 * DAY == lock.lock_expire()
    assert LockStatus.compliance is lock_status(ecs, snap)


def test_nobody_can_delete_a_locked_snapshot() -> None:
    """Even force cannot delete a locked snapshot, in cool-off or in compliance."""
    cloud = make_cloud()
    ecs, snap = snapshot(cloud)
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=1, cool_off_period=2)
    for when in (dt.timedelta(0), 3 * HOUR):
        cloud.advance(when)
        for force in (False, True):
            rejected_unchanged(
                cloud,
                errors.OperationDeniedError,
                "OperationDenied.SnapshotLocked",
                lambda force=force: ecs.delete_snapshot(snap, force=force),
            )
    cloud.advance(DAY)
    ecs.delete_snapshot(snap)
    assert 0 == ecs.describe_snapshots().total_count


def test_a_lock_ending_on_the_retention_date_releases_then() -> None:
    """A lock that expires exactly on the retention date is allowed; the snapshot goes then."""
    cloud = make_cloud()
    ecs, snap = snapshot(cloud, retention_days=3)
    start = cloud.now()
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=3)
    cloud.run_until(start + 3 * DAY - dt.timedelta(seconds=1))
    assert snap == ecs.describe_snapshot(snap).snapshot_id
    cloud.run_until(start + 3 * DAY)
    raises_code(
        errors.ResourceNotFoundError,
        "InvalidSnapshotId.NotFound",
        lambda: ecs.describe_snapshot(snap),
    )


def test_retention_waits_for_a_cool_off_longer_than_the_lock() -> None:
    """A lock in cool-off holds too; release happens when both cool-off and lock have ended."""
    cloud = make_cloud()
    ecs, snap = snapshot(cloud, retention_days=1)
    start = cloud.now()
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=1, cool_off_period=72)
    cloud.run_until(start + 72 * HOUR - dt.timedelta(seconds=1))
    assert snap == ecs.describe_snapshot(snap).snapshot_id
    cloud.run_until(start + 72 * HOUR)
    assert 0 == ecs.describe_snapshots(snapshot_ids=[snap]).total_count


def test_extended_lock_keeps_the_snapshot_past_the_first_expiry() -> None:
    """Extending a lock up to the retention date keeps the snapshot until then."""
    cloud = make_cloud()
    ecs, snap = snapshot(cloud, retention_days=5)
    start = cloud.now()
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=2)
    cloud.advance(DAY)
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=5)
    cloud.run_until(start + 5 * DAY - dt.timedelta(seconds=1))
    assert snap == ecs.describe_snapshot(snap).snapshot_id
    cloud.run_until(start + 5 * DAY)
    assert 0 == ecs.describe_snapshots(snapshot_ids=[snap]).total_count


def test_lock_starts_when_a_progressing_snapshot_completes() -> None:
    """Locking a progressing snapshot: the lock's timer starts at completion."""
    cloud = make_cloud()
    ecs, snap = snapshot(cloud, category="cloud_ssd")
    assert SnapshotStatus.progressing is ecs.describe_snapshot(snap).status
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=1)
    lock = ecs.describe_snapshot(snap).lock
    assert lock is not None
    assert (None, None) == (lock.effective_from, lock.lock_expire())
    assert LockStatus.compliance is lock_status(ecs, snap)
    cloud.advance(dt.timedelta(hours=2))
    done = ecs.describe_snapshot(snap)
    assert done.lock is not None and done.completion_time is not None
    assert done.completion_time == done.lock.effective_from
    assert done.completion_time + DAY == done.lock.lock_expire()


def test_lock_events_and_unknown_snapshot() -> None:
    """Locking an unknown snapshot is InvalidSnapshotId.NotFound."""
    cloud = make_cloud()
    ecs, _ = snapshot(cloud)
    rejected_unchanged(
        cloud,
        errors.ResourceNotFoundError,
        "InvalidSnapshotId.NotFound",
        lambda: ecs.lock_snapshot(snapshot_id="s-none", lock_duration=1),
    )


def test_locked_group_member_blocks_its_group() -> None:
    """A locked member cannot be deleted through its group either."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)])
    group = ecs.create_snapshot_group(instance_id=iid)
    member = ecs.describe_snapshot_groups().items[0].snapshot_ids[0]
    ecs.lock_snapshot(snapshot_id=member, lock_duration=1)
    with pytest.raises(errors.OperationDeniedError):
        ecs.delete_snapshot_group(group)
    cloud.advance(DAY)
    ecs.delete_snapshot_group(group)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(min_value=1, max_value=30),
    st.integers(min_value=0, max_value=72),
    st.integers(min_value=0, max_value=10),
)
def test_deletion_is_refused_exactly_until_the_lock_ends(days: int, hours: int, extra: int) -> None:
    """With retention and a lock, the snapshot is released at max(retention, lock end,
    cool-off end)."""
    cloud = make_cloud()
    retention = days + extra
    ecs, snap = snapshot(cloud, retention_days=retention)
    start = cloud.now()
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=days, cool_off_period=hours)
    end = max(start + retention * DAY, start + days * DAY, start + hours * HOUR)
    cloud.run_until(end - dt.timedelta(seconds=1))
    assert 1 == ecs.describe_snapshots(snapshot_ids=[snap]).total_count
    cloud.run_until(end)
    assert 0 == ecs.describe_snapshots(snapshot_ids=[snap]).total_count


def test_unlocking_after_retention_ran_out_releases_at_once() -> None:
    """Retention that ended under a cool-off lock releases the snapshot once it is unlocked."""
    cloud = make_cloud()
    ecs, snap = snapshot(cloud, retention_days=1)
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=1, cool_off_period=72)
    cloud.advance(2 * DAY)
    assert 1 == ecs.describe_snapshots(snapshot_ids=[snap]).total_count
    ecs.unlock_snapshot(snap)
    assert 0 == ecs.describe_snapshots(snapshot_ids=[snap]).total_count


def test_shortened_lock_in_cool_off_releases_when_the_new_lock_ends() -> None:
    """Reconfiguring a lock in cool-off to a shorter one moves the release earlier."""
    cloud = make_cloud()
    ecs, snap = snapshot(cloud, retention_days=3)
    start = cloud.now()
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=3, cool_off_period=72)
    cloud.advance(30 * HOUR)
    # The new lock starts now and so may last one day (to 54 h), not the retention's 72 h.
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=1)
    end = start + 3 * DAY
    cloud.run_until(end - dt.timedelta(seconds=1))
    assert 1 == ecs.describe_snapshots(snapshot_ids=[snap]).total_count
    cloud.run_until(end)
    assert 0 == ecs.describe_snapshots(snapshot_ids=[snap]).total_count


def test_a_lock_may_not_outlast_retention() -> None:
    """A lock expiring one day after the retention date is refused and changes nothing."""
    cloud = make_cloud()
    ecs, snap = snapshot(cloud, retention_days=3)
    error = rejected_unchanged(
        cloud,
        errors.DependencyViolationError,
        "InvalidParameter.LockDuration",
        lambda: ecs.lock_snapshot(snapshot_id=snap, lock_duration=4),
    )
    assert (400, (snap,)) == (error.http_status, error.ids)
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=3)


def test_the_retention_bound_counts_from_creation_not_from_the_call() -> None:
    """Locking a day after creation leaves one day less before the retention date."""
    cloud = make_cloud()
    ecs, snap = snapshot(cloud, retention_days=3)
    cloud.advance(DAY)
    rejected_unchanged(
        cloud,
        errors.DependencyViolationError,
        "InvalidParameter.LockDuration",
        lambda: ecs.lock_snapshot(snapshot_id=snap, lock_duration=3),
    )
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=2)


def test_extending_a_lock_may_not_pass_the_retention_date() -> None:
    """An effective lock extends to the retention date and not a day further."""
    cloud = make_cloud()
    ecs, snap = snapshot(cloud, retention_days=5)
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=2)
    cloud.advance(DAY)
    rejected_unchanged(
        cloud,
        errors.DependencyViolationError,
        "InvalidParameter.LockDuration",
        lambda: ecs.lock_snapshot(snapshot_id=snap, lock_duration=6),
    )
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=5)
    lock = ecs.describe_snapshot(snap).lock
    assert lock is not None
    assert ecs.describe_snapshot(snap).expire_time == lock.lock_expire()


def test_a_snapshot_kept_until_deleted_takes_any_lock() -> None:
    """Without retention there is no date to outlast: the longest lock is accepted."""
    cloud = make_cloud()
    ecs, snap = snapshot(cloud)
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=36500)
    assert 36500 == ecs.describe_snapshot(snap).lock.lock_duration  # type: ignore[union-attr]


def test_a_progressing_snapshot_is_checked_from_the_call() -> None:
    """A progressing snapshot's lock is bounded as if it started now (its earliest start)."""
    cloud = make_cloud()
    ecs, snap = snapshot(cloud, category="cloud_ssd", retention_days=2)
    assert SnapshotStatus.progressing is ecs.describe_snapshot(snap).status
    rejected_unchanged(
        cloud,
        errors.DependencyViolationError,
        "InvalidParameter.LockDuration",
        lambda: ecs.lock_snapshot(snapshot_id=snap, lock_duration=3),
    )
    ecs.lock_snapshot(snapshot_id=snap, lock_duration=2)
