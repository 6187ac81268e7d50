"""ECS, snapshot locks (compliance mode): LockSnapshot, UnlockSnapshot, DescribeLockedSnapshots.

Part of the layered :class:`~cloudbackup.EcsService`: this layer may use every layer beneath
it (see ``_services/ecs/__init__.py``), never one above.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ... import _validate as v
from ..._domain.ecs import LockStatus, SnapshotLock, SnapshotStatus
from ..._domain.limits import (
    COOL_OFF_PERIOD_MAX,
    COOL_OFF_PERIOD_MIN,
    LOCK_DURATION_MAX,
    LOCK_DURATION_MIN,
)
from ..._domain.requests import Page
from ..._domain.responses import LockedSnapshotInfo
from ..._events import SnapshotLocked, SnapshotUnlocked
from ...errors import IncorrectStatusError, OperationDeniedError
from ._requests import ecs_action, finish_read, token_page
from .snapshots import SnapshotActions

__all__ = ["LockActions"]


class LockActions(SnapshotActions):
    """Snapshot locks (compliance mode): LockSnapshot, UnlockSnapshot, DescribeLockedSnapshots."""

    @ecs_action("LockSnapshot", dry_run=True)
    def lock_snapshot(
        self,
        *,
        snapshot_id: str,
        lock_duration: int,
        cool_off_period: int = 0,
        lock_mode: str = "compliance",
        dry_run: bool = False,
    ) -> None:
        """``LockSnapshot``: compliance-mode lock; nobody can delete the snapshot while locked.

        Args:
            snapshot_id: The snapshot.
            lock_duration: 1–36,500 days, counted from when the snapshot is accomplished.
            cool_off_period: 0–72 hours during which the lock can still be removed or changed;
                must be 0 to extend a lock whose cool-off has ended.
            lock_mode: Only ``compliance``.
        """
        snapshot = self._snapshots.get(snapshot_id)
        v.choice("LockMode", lock_mode, ("compliance",), code="InvalidParameter.LockMode")
        days = v.integer(
            "LockDuration",
            lock_duration,
            LOCK_DURATION_MIN,
            LOCK_DURATION_MAX,
            code="InvalidParameter.LockDuration",
        )
        hours = v.integer(
            "CoolOffPeriod",
            cool_off_period,
            COOL_OFF_PERIOD_MIN,
            COOL_OFF_PERIOD_MAX,
            code="InvalidParameter.CoolOffPeriod",
        )
        now = self._world.now()
        existing = snapshot.lock
        ready = snapshot.status is SnapshotStatus.accomplished
        if existing is not None and existing.status(now) is LockStatus.compliance:
            lock = existing.extended(days, hours, snapshot.snapshot_id)
            snapshot.require_lock_within_retention(days, existing.effective_from or now)
        else:
            # A progressing snapshot's lock starts when it completes, not before now.
            snapshot.require_lock_within_retention(days, now)
            lock = SnapshotLock.new(
                lock_duration=days, cool_off_period=hours, now=now, effective=ready
            )
        locked = attrs.evolve(snapshot, lock=lock)
        self._snapshots.put(locked)
        self._world.events._emit(
            SnapshotLocked,
            time=now,
            region_id=self.region_id,
            snapshot_id=snapshot.snapshot_id,
            lock_duration=days,
            cool_off_period=hours,
        )
        # If retention has run out and only locks keep it, release it when this lock ends
        # (which may be sooner than the lock it replaces).
        self._expire_if_due(locked)

    @ecs_action("UnlockSnapshot", dry_run=True)
    def unlock_snapshot(self, snapshot_id: str, *, dry_run: bool = False) -> None:
        """``UnlockSnapshot``: remove a lock, only during its cool-off period
        (``dry_run=True``: ``DryRunOperation`` if it would succeed, and nothing changes)."""
        snapshot = self._snapshots.get(snapshot_id)
        now = self._world.now()
        lock = snapshot.lock
        if lock is None or lock.status(now) is LockStatus.expired:
            raise IncorrectStatusError(
                f"Snapshot {snapshot.snapshot_id} is not locked.",
                code="InvalidOperation.SnapshotNotLocked",
                ids=(snapshot.snapshot_id,),
                recommend="Nothing to unlock.",
            )
        if lock.status(now) is not LockStatus.compliance_cooloff:
            raise OperationDeniedError(
                f"The lock on {snapshot.snapshot_id} left its cool-off period at "
                f"{lock.cool_off_end().isoformat()}; compliance locks cannot be removed after.",
                code="OperationDenied.SnapshotLocked",
                ids=(snapshot.snapshot_id,),
                recommend="Wait for the lock to expire.",
            )
        unlocked = attrs.evolve(snapshot, lock=None)
        self._snapshots.put(unlocked)
        self._world.events._emit(
            SnapshotUnlocked,
            time=now,
            region_id=self.region_id,
            snapshot_id=snapshot.snapshot_id,
        )
        self._expire_if_due(unlocked)  # retention may have run out while the lock held it

    def describe_locked_snapshots(
        self,
        *,
        snapshot_ids: Sequence[str] | None = None,
        lock_status: str | None = None,
        next_token: str | None = None,
        max_results: int | None = None,
        dry_run: bool = False,
    ) -> Page[LockedSnapshotInfo]:
        """``DescribeLockedSnapshots``: the lock of each locked snapshot, as it stands now.

        Args:
            snapshot_ids: Up to 100 ids (others are not read); default every locked snapshot
                of the region.
            lock_status: ``compliance-cooloff``, ``compliance`` or ``expired``.
            next_token: ``NextToken`` of the previous page (in snapshot id order).
            max_results: ``MaxResults`` 1–100 (default 10).
            dry_run: Check the request only: raises ``DryRunOperation`` if it would succeed.

        Returns:
            A page of :class:`~cloudbackup.LockedSnapshotInfo`, ``next_token`` while more remain.
        """
        ids = v.id_list("SnapshotIds", snapshot_ids, max_items=100)
        wanted = (
            None if lock_status is None else v.enum_value("LockStatus", lock_status, LockStatus)
        )
        now = self._world.now()
        with self._world.store.reading():
            snapshots = self._snapshots.named_or_all(ids)
        found = [
            LockedSnapshotInfo.of(snapshot, now)
            for snapshot in snapshots
            if snapshot.lock is not None and (wanted is None or snapshot.lock.status(now) is wanted)
        ]
        page = token_page(
            found,
            lambda info: (info.snapshot_id,),
            scope="DescribeLockedSnapshots",
            next_token=next_token,
            max_results=10 if max_results is None else max_results,
            page_number=1,
            page_size=10,
        )
        return finish_read("DescribeLockedSnapshots", dry_run, page)
