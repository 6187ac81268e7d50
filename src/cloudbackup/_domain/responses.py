"""Records that ECS answers with but does not store: built from stored records at one virtual
instant (``DescribeLockedSnapshots`` lock info).
"""

from __future__ import annotations

import datetime as _dt

import attrs

from .ecs import LockStatus, Snapshot

__all__ = ["LockedSnapshotInfo"]


@attrs.frozen
class LockedSnapshotInfo:
    """One item of ``DescribeLockedSnapshots`` (``LockedSnapshotsInfo``): a snapshot's lock as
    it stands at the moment of the call."""

    snapshot_id: str
    """``SnapshotId``."""
    lock_status: LockStatus
    """``LockStatus``: ``compliance-cooloff``, ``compliance`` or ``expired``."""
    lock_mode: str
    """``LockMode``: always ``compliance``."""
    lock_duration: int
    """``LockDuration``: days the lock lasts once effective."""
    cool_off_period: int
    """``CoolOffPeriod``: hours during which the lock can still be removed or changed."""
    lock_creation_time: _dt.datetime
    """``LockCreationTime``: when the lock was set (or last reconfigured during cool-off)."""
    cool_off_period_expired_time: _dt.datetime
    """``CoolOffPeriodExpiredTime``: when the cool-off period ends."""
    lock_expired_time: _dt.datetime | None
    """``LockExpiredTime``: when the lock expires; None while the snapshot is progressing (the
    lock's timer starts when the snapshot is accomplished)."""

    @classmethod
    def of(cls, snapshot: Snapshot, now: _dt.datetime) -> LockedSnapshotInfo:
        """The lock info of a locked ``snapshot`` at ``now``."""
        lock = snapshot.lock
        if lock is None:
            raise ValueError(f"Snapshot {snapshot.snapshot_id} has no lock.")
        return cls(
            snapshot_id=snapshot.snapshot_id,
            lock_status=lock.status(now),
            lock_mode=lock.lock_mode,
            lock_duration=lock.lock_duration,
            cool_off_period=lock.cool_off_period,
            lock_creation_time=lock.lock_created_time,
            cool_off_period_expired_time=lock.cool_off_end(),
            lock_expired_time=lock.lock_expire(),
        )
