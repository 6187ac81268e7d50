"""Property tests of schedules against brute-force references written independently here."""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import zoneinfo
from collections.abc import Callable

import pytest
from dateutil import tz as dateutil_tz
from dateutil.relativedelta import relativedelta
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudbackup import parse_duration, parse_schedule
from cloudbackup._domain.cron import parse_cron
from cloudbackup.errors import InvalidScheduleError
from cloudbackup.testing import strategies as cbst

UTC = dt.timezone.utc
ZONES = [
    UTC,
    zoneinfo.ZoneInfo("Asia/Shanghai"),
    zoneinfo.ZoneInfo("America/New_York"),
    zoneinfo.ZoneInfo("Australia/Sydney"),
    dateutil_tz.gettz("Europe/London"),
]
#: Instants near daylight-saving changes, where wall clocks skip and repeat.
EDGES = [
    dt.datetime(2025, 3, 9, 6, tzinfo=UTC),
    dt.datetime(2025, 11, 2, 5, tzinfo=UTC),
    dt.datetime(2025, 4, 5, 15, tzinfo=UTC),
    dt.datetime(2025, 10, 4, 15, tzinfo=UTC),
    dt.datetime(2025, 3, 30, 0, tzinfo=UTC),
    dt.datetime(2025, 10, 26, 0, tzinfo=UTC),
]
instants = st.one_of(
    st.integers(0, 2_000_000_000).map(lambda s: dt.datetime.fromtimestamp(s, UTC)),
    st.tuples(st.sampled_from(EDGES), st.integers(-3 * 3600, 2 * 3600)).map(
        lambda e: e[0] + dt.timedelta(seconds=e[1])
    ),
)


#: The window a brute-force test walks second by second.
WINDOW = 2 * 3600


def _render(values: frozenset[int], low: int, high: int) -> str:
    if values == frozenset(range(low, high + 1)):
        return "*"
    return ",".join(str(v) for v in sorted(values))


def _subsets(low: int, high: int) -> st.SearchStrategy[frozenset[int]]:
    return st.one_of(
        st.just(frozenset(range(low, high + 1))),
        st.frozensets(st.integers(low, high), min_size=1, max_size=4),
    )


# -- time of day: every second of a window -----------------------------------------------------
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _subsets(0, 59),
    _subsets(0, 59),
    st.frozensets(st.integers(0, 23), min_size=1, max_size=6),
    _subsets(1, 7),
    st.sampled_from(ZONES),
    instants,
)
def test_cron_fires_exactly_at_the_matching_seconds_of_a_window(
    seconds: frozenset[int],
    minutes: frozenset[int],
    hours: frozenset[int],
    weekdays: frozenset[int],
    tz: dt.tzinfo,
    start: dt.datetime,
) -> None:
    """Over two hours, next_after visits exactly the seconds whose wall time matches, skipping
    wall times in a spring gap, firing a repeated wall time only at its later occurrence, and
    never going back to a wall time already searched past."""
    text = " ".join(
        (
            _render(seconds, 0, 59),
            _render(minutes, 0, 59),
            _render(hours, 0, 23),
            "?",
            "*",
            _render(weekdays, 1, 7),
        )
    )
    cron = parse_cron(text)
    first = int(start.timestamp())
    # Seconds that can fire: the wall time matches and, if it happens twice, this is its
    # second occurrence. Their wall times increase with them.
    candidates: list[tuple[int, dt.datetime]] = []
    for second in range(first + 1, first + WINDOW + 1):
        local = dt.datetime.fromtimestamp(second, tz)
        if not (
            local.second in seconds
            and local.minute in minutes
            and local.hour in hours
            and local.isoweekday() % 7 + 1 in weekdays
            and local.year >= 1970  # Quartz's years begin in 1970
        ):
            continue
        other = local.replace(fold=1 - local.fold)
        repeated = other.utcoffset() != local.utcoffset() and (
            other.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None)
        )
        if not (repeated and local.astimezone(UTC) < other.astimezone(UTC)):
            candidates.append((second, local.replace(tzinfo=None, fold=0)))
    # Quartz searches wall times from the one a second after the previous run, so after a run
    # in the first of two repeated hours the wall times already passed do not fire again.
    expected = []
    previous = first
    for second, wall in candidates:
        searched_from = dt.datetime.fromtimestamp(previous + 1, tz).replace(tzinfo=None, fold=0)
        if second > previous and wall >= searched_from:
            expected.append(second)
            previous = second
    actual = []
    current: dt.datetime | None = start
    while True:
        assert current is not None
        current = cron.next_after(current, tz)
        if current is None or int(current.timestamp()) > first + WINDOW:
            break
        actual.append(int(current.timestamp()))
    assert expected == actual


# -- days: every day of a year -------------------------------------------------------------------
def _nearest_weekday(year: int, month: int, target: int) -> int | None:
    last = calendar.monthrange(year, month)[1]
    if target < 1:
        return None
    weekdays = [d for d in range(1, last + 1) if dt.date(year, month, d).weekday() < 5]
    return min(weekdays, key=lambda d: abs(d - target))


def _quartz_weekday(date: dt.date) -> int:
    return date.isoweekday() % 7 + 1


DayRule = tuple[str, Callable[[dt.date], bool]]


def _day_rules() -> st.SearchStrategy[DayRule]:
    """(day fields, reference predicate) pairs for every special day form."""

    def last_day(offset: int) -> DayRule:
        def matches(d: dt.date) -> bool:
            return d.day == calendar.monthrange(d.year, d.month)[1] - offset

        return (f"L-{offset} * ?", matches)

    def nearest(day: int) -> DayRule:
        return (f"{day}W * ?", lambda d: d.day == _nearest_weekday(d.year, d.month, day))

    def last_weekday(offset: int) -> DayRule:
        def matches(d: dt.date) -> bool:
            last = calendar.monthrange(d.year, d.month)[1]
            return d.day == _nearest_weekday(d.year, d.month, last - offset)

        return (f"L-{offset}W * ?", matches)

    def last_of_week(weekday: int) -> DayRule:
        def matches(d: dt.date) -> bool:
            last = calendar.monthrange(d.year, d.month)[1]
            return _quartz_weekday(d) == weekday and d.day + 7 > last

        return (f"? * {weekday}L", matches)

    def nth(weekday: int, k: int) -> DayRule:
        return (
            f"? * {weekday}#{k}",
            lambda d: _quartz_weekday(d) == weekday and (d.day - 1) // 7 + 1 == k,
        )

    def days(values: frozenset[int], months: frozenset[int]) -> DayRule:
        return (
            f"{_render(values, 1, 31)} {_render(months, 1, 12)} ?",
            lambda d: d.day in values and d.month in months,
        )

    return st.one_of(
        st.integers(0, 27).map(last_day),
        st.integers(1, 28).map(nearest),
        st.integers(0, 27).map(last_weekday),
        st.integers(1, 7).map(last_of_week),
        st.tuples(st.integers(1, 7), st.integers(1, 5)).map(lambda wk: nth(*wk)),
        st.tuples(_subsets(1, 31), _subsets(1, 12)).map(lambda dm: days(*dm)),
    )


@settings(max_examples=80, deadline=None)
@given(_day_rules(), st.integers(1971, 2190))
def test_cron_fires_on_exactly_the_matching_days_of_a_year(rule: DayRule, year: int) -> None:
    """L, L-n, nW, LW, nL, n#k and day lists pick exactly the days a scan of the month picks."""
    fields, matches = rule
    cron = parse_cron(f"0 0 12 {fields}")
    first = dt.date(year, 1, 1)
    expected = [
        first + dt.timedelta(days=n)
        for n in range(366)
        if matches(first + dt.timedelta(days=n)) and (first + dt.timedelta(days=n)).year == year
    ]
    actual = []
    current = cron.next_after(dt.datetime(year - 1, 12, 31, 12, tzinfo=UTC), UTC)
    while current is not None and current.year == year:
        actual.append(current.date())
        current = cron.next_after(current, UTC)
    assert expected == actual


# -- any valid expression ------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(cbst.cron_expressions(min_year=2000), st.sampled_from(ZONES), instants)
def test_cron_fire_times_increase_and_match(text: str, tz: dt.tzinfo, start: dt.datetime) -> None:
    """Successive fire times strictly increase and each one satisfies the expression."""
    cron = parse_cron(text)
    current: dt.datetime | None = start
    for _ in range(5):
        assert current is not None
        following = cron.next_after(current, tz)
        if following is None:
            break
        assert following > current
        assert following.microsecond == 0
        assert cron.matches(following, tz)
        current = following


@settings(max_examples=60, deadline=None)
@given(cbst.cron_expressions(with_year=False), instants)
def test_dateutil_and_zoneinfo_zones_agree(text: str, start: dt.datetime) -> None:
    """The same IANA zone from dateutil (regions) and zoneinfo gives the same fire times (up
    to 2037: dateutil reads only a zone file's table of transitions, which ends there)."""
    cron = parse_cron(text)
    if start.year >= 2037:
        start = start.replace(year=2030)
    a = dateutil_tz.gettz("America/New_York")
    b = zoneinfo.ZoneInfo("America/New_York")
    assert a is not None
    assert cron.next_after(start, a) == cron.next_after(start, b)


# -- interval schedules --------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(
    cbst.durations(max_value=40),
    st.integers(0, 3_000_000_000),
    st.sampled_from([UTC, zoneinfo.ZoneInfo("Asia/Shanghai")]),
    st.integers(0, 40),
)
def test_interval_runs_are_start_plus_k_intervals(
    text: str, start: int, tz: dt.tzinfo, k: int
) -> None:
    """Run k of I|start|d is start + k·d (calendar units on the zone's fixed-offset clock)."""
    schedule = parse_schedule(f"I|{start}|{text}")
    delta = parse_duration(text).to_relativedelta()
    local = dt.datetime.fromtimestamp(start, tz).replace(tzinfo=None)
    calendar_part = relativedelta(years=delta.years, months=delta.months, days=delta.days)
    time_part = dt.timedelta(hours=delta.hours, minutes=delta.minutes, seconds=delta.seconds)
    expected_local = local + relativedelta(
        years=k * calendar_part.years, months=k * calendar_part.months, days=k * calendar_part.days
    )
    expected = expected_local.replace(tzinfo=tz).astimezone(UTC) + k * time_part
    previous = (
        dt.datetime.fromtimestamp(start, UTC) - dt.timedelta(seconds=1)
        if k == 0
        else expected_local.replace(tzinfo=tz).astimezone(UTC)
        + k * time_part
        - dt.timedelta(seconds=1)
    )
    assert expected == schedule.next_after(previous, tz)


@settings(max_examples=200, deadline=None)
@given(cbst.schedules(max_start=2_500_000_000), st.sampled_from(ZONES), instants)
def test_next_run_is_after_the_instant_and_never_before_the_start(
    text: str, tz: dt.tzinfo, instant: dt.datetime
) -> None:
    """next_after is strictly after the instant and at or after the schedule's start."""
    schedule = parse_schedule(text)
    found = schedule.next_after(instant, tz)
    if found is not None:
        assert found > instant
        assert found >= schedule.start_time
        assert found.tzinfo is UTC


@given(cbst.invalid_schedules())
def test_invalid_schedules_are_refused(text: str) -> None:
    """Every invalid schedule the strategy makes is refused with BadRequest."""
    with pytest.raises(InvalidScheduleError) as caught:
        parse_schedule(text)
    assert "BadRequest" == caught.value.code


@given(cbst.invalid_durations())
def test_invalid_durations_are_refused(text: str) -> None:
    """Every invalid duration the strategy makes is refused with BadRequest."""
    with pytest.raises(InvalidScheduleError) as caught:
        parse_duration(text)
    assert "BadRequest" == caught.value.code


@given(st.text(max_size=40))
def test_arbitrary_text_parses_or_is_refused_cleanly(text: str) -> None:
    """Any string either parses or raises InvalidScheduleError, never anything else."""
    for parse in (parse_schedule, parse_duration, parse_cron):
        with contextlib.suppress(InvalidScheduleError):
            parse(text)
