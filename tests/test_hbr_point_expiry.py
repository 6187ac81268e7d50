"""Cloud Backup: one expiry timer per instant for every point due then, on time, and a world
stored with one timer per point still expires them."""

from __future__ import annotations

import datetime as dt

import pytest

from _helpers import REGION
from cloudbackup._services.hbr import SPEC, HbrService
from cloudbackup._services.hbr.points import ACTION_POINT_EXPIRE, POINTS_DUE, time_key
from cloudbackup.testing import check_invariants
from test_hbr_points import Fleet


def _expiry_timers(fleet: Fleet) -> list[tuple[dt.datetime, str]]:
    return [
        (t.due, t.target_id)
        for t in fleet.cloud._world.engine.pending()
        if t.action == ACTION_POINT_EXPIRE
    ]


def _instances(fleet: Fleet) -> list[str]:
    found = fleet.hbr.describe_udm_snapshots(source_type="UDM_ECS", start_time=0, end_time=2**33)
    return sorted(p.snapshot_id for p in found)


def _record_three_due_together(fleet: Fleet) -> tuple[list[str], dt.datetime]:
    """Three points due at the same instant (retentions 3, 2, 1 days, a day apart)."""
    ids = [fleet.back_up(retention=3)]
    for days in (2, 1):
        fleet.cloud.advance(dt.timedelta(days=1) - dt.timedelta(minutes=1))
        ids.append(fleet.back_up(retention=days))
    expire = fleet.point(ids[0]).expire_time
    assert expire is not None
    assert [expire] * 3 == [fleet.point(i).expire_time for i in ids]
    return ids, expire


def test_points_due_at_one_instant_share_one_timer_and_expire_on_time() -> None:
    """Three points due at the same instant have one timer, and are gone exactly then."""
    fleet = Fleet()
    ids, expire = _record_three_due_together(fleet)
    assert [(expire, time_key(expire))] == _expiry_timers(fleet)
    fleet.cloud.run_until(expire - dt.timedelta(microseconds=1))
    assert sorted(ids) == _instances(fleet)
    fleet.cloud.run_until(expire)
    assert ([], []) == (_instances(fleet), _expiry_timers(fleet))
    check_invariants(fleet.cloud)


def test_an_extended_point_moves_to_its_new_instant_whose_timer_goes_with_it() -> None:
    """Extending a point moves it to the timer of its new instant; deleting the last point
    due at an instant takes that instant's timer away."""
    fleet = Fleet()
    ids, expire = _record_three_due_together(fleet)
    fleet.hbr.extend_backup_retention(snapshot_id=ids[1], retention_days=10)
    later = fleet.point(ids[1]).expire_time
    assert later is not None
    assert [(expire, time_key(expire)), (later, time_key(later))] == _expiry_timers(fleet)
    check_invariants(fleet.cloud)
    fleet.hbr.delete_snapshot(snapshot_id=ids[1])
    assert [(expire, time_key(expire))] == _expiry_timers(fleet)
    fleet.cloud.run_until(expire)
    assert [] == _instances(fleet)
    check_invariants(fleet.cloud)


def test_a_world_with_one_timer_per_point_still_expires_them() -> None:
    """Points whose expiry is a timer of their own (a world stored before) expire on time,
    and extending or deleting one moves or cancels its own timer."""
    fleet = Fleet()
    ids, expire = _record_three_due_together(fleet)
    world = fleet.hbr._world
    with world.store.unit():
        world.engine.cancel_for(ACTION_POINT_EXPIRE, REGION, time_key(expire))
        for key, point_id in world.store.raw_scan(POINTS_DUE, REGION):
            world.store.raw_delete(POINTS_DUE, REGION, key)
            world.engine.schedule(expire, ACTION_POINT_EXPIRE, REGION, str(point_id))
    check_invariants(fleet.cloud)
    fleet.hbr.extend_backup_retention(snapshot_id=ids[0], retention_days=10)
    fleet.hbr.delete_snapshot(snapshot_id=ids[1])
    later = fleet.point(ids[0]).expire_time
    assert later is not None
    assert [(expire, ids[2]), (later, time_key(later))] == _expiry_timers(fleet)
    fleet.cloud.run_until(expire)
    assert [ids[0]] == _instances(fleet)
    check_invariants(fleet.cloud)


def test_a_point_whose_expiry_fails_does_not_hold_back_the_others_due_then(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When expiring one of three points due at one instant raises, that point stays (its
    failure recorded and raised), and the other two still expire at that instant."""
    fleet = Fleet()
    ids, expire = _record_three_due_together(fleet)
    bad = min(ids)  # the first of the instant's points to be expired
    real = HbrService._expire_point

    def expire_point(self: HbrService, point_id: str) -> None:
        if point_id == bad:
            raise RuntimeError(f"cannot expire {point_id}")
        real(self, point_id)

    monkeypatch.setattr(HbrService, "_expire_point", expire_point)
    with pytest.raises(RuntimeError, match=bad):
        fleet.cloud.run_until(expire)
    assert ([bad], []) == (_instances(fleet), _expiry_timers(fleet))
    failed = fleet.cloud._world.engine.failed()
    assert [(ACTION_POINT_EXPIRE, time_key(expire))] == [
        (f.timer.action, f.timer.target_id) for f in failed
    ]
    # The failed point stays past its expiry, as any resource whose expiry timer failed does
    # (check_invariants reports it: a failed timer is a defect to see, not a state to accept).
    assert [] == fleet.cloud._world.store.raw_scan(POINTS_DUE, REGION)


def test_when_setting_a_failed_point_aside_fails_too_both_errors_are_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If the recovery after a failed expiry raises as well, its work is undone, the first
    error is the one raised, and time still reaches the instant."""
    fleet = Fleet()
    ids, expire = _record_three_due_together(fleet)

    def broken(self: HbrService, point_id: str) -> None:
        raise RuntimeError("expiry")

    def broken_recovery(self: HbrService, timer: object) -> None:
        raise ValueError("recovery")

    monkeypatch.setattr(HbrService, "_expire_point", broken)
    world = fleet.cloud._world
    world.engine.register(
        ACTION_POINT_EXPIRE,
        world._router(SPEC, HbrService._on_point_expire),
        world._router(SPEC, broken_recovery),
    )
    with pytest.raises(RuntimeError, match="expiry") as raised:
        fleet.cloud.run_until(expire)
    assert expire == fleet.cloud.now()
    assert sorted(ids) == _instances(fleet)
    notes = getattr(raised.value, "__notes__", None)
    if notes is not None:  # Python 3.11+
        assert "2 timer handler(s) failed" in notes[0]
