"""Clocks and the virtual-time surface of Cloud."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudbackup import DEFAULT_START, Clock, Cloud, ManualClock, SystemClock, errors

UTC = dt.timezone.utc


def test_default_start_is_the_documented_instant() -> None:
    """DEFAULT_START is 2024-01-01T00:00:00Z and a default Cloud starts there."""
    assert DEFAULT_START == dt.datetime(2024, 1, 1, tzinfo=UTC)
    assert DEFAULT_START == Cloud().now()


def test_manual_clock_starts_where_told_and_normalises_to_utc() -> None:
    """A ManualClock reads its start instant, converted to UTC."""
    start = dt.datetime(2024, 6, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    clock = ManualClock(start)
    assert dt.datetime(2024, 6, 1, 0, 0, tzinfo=UTC) == clock.now()
    assert UTC == clock.now().tzinfo


def test_manual_clock_refuses_naive_datetimes() -> None:
    """Naive datetimes are refused with InvalidParameter."""
    with pytest.raises(errors.InvalidParameterError):
        ManualClock(dt.datetime(2024, 1, 1))


def test_manual_clock_refuses_non_datetimes() -> None:
    """A date string is not a datetime."""
    with pytest.raises(errors.InvalidParameterError):
        ManualClock("2024-01-01")  # type: ignore[arg-type]


def test_manual_clock_advances_forward_only() -> None:
    """advance_to moves forward and returns True; moving backwards raises."""
    clock = ManualClock()
    later = DEFAULT_START + dt.timedelta(hours=1)
    assert clock.advance_to(later) is True
    assert later == clock.now()
    with pytest.raises(errors.InvalidParameterError):
        clock.advance_to(DEFAULT_START)
    assert later == clock.now()


@given(st.lists(st.integers(min_value=0, max_value=10**9), max_size=20))
def test_manual_clock_is_monotonic(steps: list[int]) -> None:
    """Advancing by non-negative steps lands exactly on their sum."""
    clock = ManualClock()
    for step in steps:
        clock.advance_to(clock.now() + dt.timedelta(seconds=step))
    assert DEFAULT_START + dt.timedelta(seconds=sum(steps)) == clock.now()


def test_clocks_satisfy_the_protocol() -> None:
    """ManualClock and SystemClock are Clocks."""
    assert isinstance(ManualClock(), Clock)
    assert isinstance(SystemClock(), Clock)


def test_system_clock_cannot_be_moved() -> None:
    """SystemClock reads aware UTC wall time and only agrees to instants already past."""
    clock = SystemClock()
    now = clock.now()
    assert UTC == now.tzinfo
    assert clock.advance_to(now - dt.timedelta(seconds=1)) is True
    assert clock.advance_to(now + dt.timedelta(days=365)) is False


def test_cloud_advance_moves_the_clock() -> None:
    """cloud.advance(delta) moves virtual time by exactly delta."""
    cloud = Cloud()
    cloud.advance(dt.timedelta(days=3, seconds=7))
    assert DEFAULT_START + dt.timedelta(days=3, seconds=7) == cloud.clock.now()


def test_cloud_advance_refuses_negative_or_non_timedelta() -> None:
    """advance needs a non-negative timedelta."""
    cloud = Cloud()
    with pytest.raises(errors.InvalidParameterError):
        cloud.advance(dt.timedelta(seconds=-1))
    with pytest.raises(errors.InvalidParameterError):
        cloud.advance(60)  # type: ignore[arg-type]
    assert DEFAULT_START == cloud.now()


def test_cloud_run_until_refuses_naive() -> None:
    """run_until needs an aware datetime."""
    with pytest.raises(errors.InvalidParameterError):
        Cloud().run_until(dt.datetime(2030, 1, 1))


def test_cloud_run_until_lands_on_the_instant() -> None:
    """run_until leaves the clock at the requested instant."""
    cloud = Cloud()
    target = dt.datetime(2024, 3, 1, 12, tzinfo=UTC)
    cloud.run_until(target)
    assert target == cloud.now()


def test_cloud_uses_a_given_clock_start() -> None:
    """A Cloud built with a ManualClock starts at that clock's instant."""
    start = dt.datetime(2030, 5, 5, tzinfo=UTC)
    cloud = Cloud(clock=ManualClock(start))
    assert start == cloud.now()


class SubInstant(dt.datetime):
    """A datetime subclass, like pandas' Timestamp."""


def test_require_aware_returns_a_plain_utc_datetime_for_a_subclass() -> None:
    """A datetime subclass comes out of require_aware as a plain UTC datetime, same instant."""
    from cloudbackup._time import require_aware

    value = SubInstant(2024, 5, 6, 7, 8, 9, 10, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    out = require_aware(value, "x")
    assert (dt.datetime, dt.datetime(2024, 5, 5, 23, 8, 9, 10, tzinfo=UTC)) == (type(out), out)


def test_a_subclass_start_instant_gives_plain_datetimes_everywhere() -> None:
    """ManualClock(start) of a subclass works alike on every backend, storing plain datetimes."""
    start = SubInstant(2024, 1, 1, tzinfo=UTC)
    cloud = Cloud(seed=0, clock=ManualClock(start))
    key = cloud.kms("cn-hangzhou").create_key()
    assert (dt.datetime, dt.datetime, DEFAULT_START) == (
        type(cloud.now()),
        type(key.creation_date),
        key.creation_date,
    )
    assert dt.datetime is type(cloud.backend.get("meta", "", "clock"))


class SubclassClock:
    """A user's clock whose instants are a datetime subclass."""

    def __init__(self) -> None:
        self.instant = SubInstant(2024, 1, 1, tzinfo=UTC)

    def now(self) -> dt.datetime:
        return self.instant

    def advance_to(self, instant: dt.datetime) -> bool:
        self.instant = SubInstant.fromtimestamp(instant.timestamp(), UTC)
        return True


def test_a_clock_returning_a_subclass_gives_plain_datetimes_everywhere() -> None:
    """Cloud(clock=...) whose now() is a datetime subclass works alike on every backend."""
    cloud = Cloud(seed=0, clock=SubclassClock())
    key = cloud.kms("cn-hangzhou").create_key()
    cloud.advance(dt.timedelta(minutes=1))
    assert (dt.datetime, dt.datetime, dt.datetime) == (
        type(cloud.now()),
        type(key.creation_date),
        type(cloud.backend.get("meta", "", "clock")),
    )
