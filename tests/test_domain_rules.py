"""Rules that live on the ECS domain types: named constructors and transitions."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudbackup import (
    DEFAULT_START,
    Disk,
    DiskCategory,
    DiskStatus,
    DiskType,
    Instance,
    InstanceStatus,
    LockStatus,
    Snapshot,
    SnapshotLock,
    SnapshotStatus,
    errors,
)

T0 = DEFAULT_START
DISK = Disk(
    disk_id="d-1",
    region_id="cn-hangzhou",
    zone_id="cn-hangzhou-h",
    disk_name=None,
    description=None,
    category=DiskCategory.cloud_essd,
    size=40,
    type=DiskType.data,
    status=DiskStatus.Available,
    creation_time=T0,
)


def snapshot_of(disk: Disk = DISK, retention_days: int | None = 10) -> Snapshot:
    """A snapshot of ``disk`` taken at T0."""
    return Snapshot.of_disk(
        disk,
        snapshot_id="s-1",
        snapshot_link_id="sl-1",
        now=T0,
        snapshot_name=None,
        description=None,
        retention_days=retention_days,
        tags=(),
        snapshot_group_id=None,
        block_size=4096,
        incremental_blocks=3,
    )


def test_a_snapshot_of_an_essd_disk_is_accomplished_at_once() -> None:
    """Snapshot.of_disk: ESSD is instant access, accomplished at creation, sized by blocks."""
    snapshot = snapshot_of()
    assert (SnapshotStatus.accomplished, T0, True, 3 * 4096, "d-1", 40) == (
        snapshot.status,
        snapshot.completion_time,
        snapshot.instant_access,
        snapshot.incremental_size,
        snapshot.source_disk_id,
        snapshot.source_disk_size,
    )


def test_a_snapshot_of_a_standard_disk_progresses_until_completed() -> None:
    """A cloud_efficiency snapshot progresses; completed(now) accomplishes it, starts its lock."""
    disk = attrs.evolve(DISK, category=DiskCategory.cloud_efficiency)
    lock = SnapshotLock.new(lock_duration=5, cool_off_period=0, now=T0, effective=False)
    snapshot = attrs.evolve(snapshot_of(disk), lock=lock)
    assert (SnapshotStatus.progressing, None) == (snapshot.status, snapshot.completion_time)
    later = T0 + dt.timedelta(minutes=3)
    done = snapshot.completed(later)
    assert (SnapshotStatus.accomplished, later, later) == (
        done.status,
        done.completion_time,
        done.lock.effective_from if done.lock else None,
    )


@given(st.integers(2, 65535), st.integers(-2, 2) | st.integers(-65535, 65535))
def test_retention_is_extended_never_shortened(current: int, shift: int) -> None:
    """Property: with_retention succeeds iff it does not shorten, and expiry follows the days."""
    wanted = min(max(current + shift, 1), 65536)
    snapshot = snapshot_of(retention_days=current)
    if wanted >= current:
        extended = snapshot.with_retention(wanted)
        assert T0 + dt.timedelta(days=wanted) == extended.expire_time
    else:
        with pytest.raises(errors.OperationDeniedError) as info:
            snapshot.with_retention(wanted)
        assert "InvalidOperation.DecreaseRetentionDaysUnsupported" == info.value.code


def test_a_snapshot_kept_until_deleted_cannot_be_given_retention() -> None:
    """No retention means forever; any number of days would shorten it."""
    with pytest.raises(errors.OperationDeniedError):
        snapshot_of(retention_days=None).with_retention(65536)


def test_a_progressing_standard_snapshot_cannot_change_retention() -> None:
    """with_retention on a progressing, non-instant snapshot is InvalidSnapshotId.NotReady."""
    disk = attrs.evolve(DISK, category=DiskCategory.cloud_efficiency)
    with pytest.raises(errors.IncorrectStatusError) as info:
        snapshot_of(disk).with_retention(20)
    assert "InvalidSnapshotId.NotReady" == info.value.code


@given(
    st.integers(2, 36499),
    st.integers(-2, 2) | st.integers(-36499, 36499),
    st.just(0) | st.integers(0, 72),
)
def test_an_effective_lock_is_extended_never_shortened(
    current: int, shift: int, hours: int
) -> None:
    """Property: extended() accepts only cool-off 0 and a duration no shorter; expiry follows."""
    wanted = min(max(current + shift, 1), 36500)
    lock = SnapshotLock.new(lock_duration=current, cool_off_period=0, now=T0, effective=True)
    if hours == 0 and wanted >= current:
        longer = lock.extended(wanted, hours, "s-1")
        assert T0 + dt.timedelta(days=wanted) == longer.lock_expire()
    else:
        with pytest.raises(errors.InvalidParameterError) as info:
            lock.extended(wanted, hours, "s-1")
        expected = "InvalidParameter.CoolOffPeriod" if hours else "InvalidParameter.LockDuration"
        assert expected == info.value.code


@given(st.integers(0, 72), st.integers(0, 200))
def test_a_lock_is_in_cool_off_for_exactly_its_hours(hours: int, elapsed: int) -> None:
    """Property: status is compliance_cooloff iff fewer than cool_off_period hours passed."""
    lock = SnapshotLock.new(lock_duration=30, cool_off_period=hours, now=T0, effective=True)
    now = T0 + dt.timedelta(hours=elapsed)
    assert (elapsed < hours) == (lock.status(now) is LockStatus.compliance_cooloff)


@pytest.mark.parametrize(
    ("changes", "force", "code"),
    [
        ({"image_refs": 1}, True, "SnapshotCreatedImage"),
        ({"disk_refs": 1}, False, "SnapshotCreatedDisk"),
        (
            {"lock": SnapshotLock.new(lock_duration=1, cool_off_period=0, now=T0, effective=True)},
            True,
            "OperationDenied.SnapshotLocked",
        ),
    ],
)
def test_may_this_snapshot_be_deleted(changes: dict[str, object], force: bool, code: str) -> None:
    """require_deletable refuses a locked snapshot, one an image uses, one a disk uses."""
    snapshot = attrs.evolve(snapshot_of(), **changes)
    with pytest.raises(errors.OperationDeniedError) as info:
        snapshot.require_deletable(T0, force=force)
    assert code == info.value.code


def test_a_disk_made_from_a_snapshot_yields_to_force_and_an_expired_lock_to_time() -> None:
    """force deletes despite a disk; after the lock expires the snapshot is deletable."""
    lock = SnapshotLock.new(lock_duration=1, cool_off_period=0, now=T0, effective=True)
    attrs.evolve(snapshot_of(), disk_refs=2).require_deletable(T0, force=True)
    attrs.evolve(snapshot_of(), lock=lock).require_deletable(T0 + dt.timedelta(days=1), force=False)


def test_instance_status_transitions() -> None:
    """moving() enters a transitional status; arrived() reaches the target (Running stamps)."""
    instance = Instance(
        instance_id="i-1",
        region_id="cn-hangzhou",
        zone_id="cn-hangzhou-h",
        instance_name="i-1",
        host_name="h",
        instance_type="ecs.g7.large",
        status=InstanceStatus.Stopped,
        creation_time=T0,
    )
    starting = instance.moving(InstanceStatus.Starting, InstanceStatus.Running)
    later = T0 + dt.timedelta(seconds=20)
    running = starting.arrived(later)
    assert (InstanceStatus.Running, None, later, True) == (
        running.status,
        running.transition_target,
        running.start_time,
        running.ever_started,
    )
    stopped = running.moving(InstanceStatus.Stopping, InstanceStatus.Stopped).arrived(later)
    assert (InstanceStatus.Stopped, later) == (stopped.status, stopped.start_time)
    assert running == running.arrived(later)  # nothing to arrive at
    with pytest.raises(errors.IncorrectStatusError) as info:
        stopped.require_status(InstanceStatus.Running)
    assert ("IncorrectInstanceStatus", ("i-1",)) == (info.value.code, info.value.ids)
