"""Cloud Backup schedules: parsing, refusals, next_after semantics, time zones and DST."""

from __future__ import annotations

import datetime as dt
import pickle
import zoneinfo
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta

from cloudbackup import (
    Duration,
    Schedule,
    ScheduleKind,
    parse_duration,
    parse_schedule,
)
from cloudbackup._backends._codec import decode, encode
from cloudbackup._domain.cron import MAX_YEAR, parse_cron
from cloudbackup._domain.schedule import MAX_START
from cloudbackup._regions import get_region
from cloudbackup.errors import InvalidParameterError, InvalidScheduleError

UTC = dt.timezone.utc
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
SHANGHAI = get_region("cn-hangzhou").tzinfo
VIRGINIA = get_region("us-east-1").tzinfo  # a dateutil zone with daylight saving


def at(*args: int, tz: dt.tzinfo = UTC) -> dt.datetime:
    """An aware datetime."""
    return dt.datetime(*args, tzinfo=tz)  # type: ignore[misc]


def fires(schedule: Schedule, after: dt.datetime, count: int, tz: dt.tzinfo) -> list[dt.datetime]:
    """The next ``count`` runs after ``after`` (stopping at None)."""
    out: list[dt.datetime] = []
    current: dt.datetime | None = after
    for _ in range(count):
        assert current is not None
        current = schedule.next_after(current, tz)
        if current is None:
            break
        out.append(current)
    return out


def epoch(value: dt.datetime) -> int:
    """UNIX seconds of an aware datetime."""
    return int(value.timestamp())


# -- parsing ------------------------------------------------------------------------------------
def test_parse_interval_schedule_gives_its_parts() -> None:
    """The facts sheet's example parses into kind, start and canonical interval."""
    schedule = parse_schedule("I|1631685600|P1D")
    assert (ScheduleKind.INTERVAL, 1631685600, "P1D") == (
        schedule.kind,
        schedule.start,
        schedule.expression,
    )
    assert "I|1631685600|P1D" == schedule.text


def test_parse_cron_schedule_is_canonical() -> None:
    """Cron fields come back upper-cased and single-spaced; names in any case are accepted."""
    schedule = parse_schedule("C|1631685600| 0  0\t2 ? * tue,Thu,SAT ")
    assert "C|1631685600|0 0 2 ? * TUE,THU,SAT" == schedule.text
    assert parse_cron("0 0 2 ? * 3,5,7").next_after(
        at(2021, 9, 15), UTC
    ) == schedule.cron.next_after(at(2021, 9, 15), UTC)  # type: ignore[union-attr]


def test_str_subclass_schedule_parses_like_its_value() -> None:
    """A str subclass is read as its plain value and the result holds a plain str."""

    class Text(str):
        pass

    schedule = parse_schedule(Text("C|0|0 0 2 ? * 3,5,7"))
    assert parse_schedule("C|0|0 0 2 ? * 3,5,7") == schedule
    assert str is type(schedule.expression)


def test_schedule_survives_the_codec_and_pickle() -> None:
    """A Schedule is a stored value: the codec and pickle give it back equal."""
    schedule = parse_schedule("C|1631685600|0 0 2 ? * 3,5,7")
    assert schedule == decode(encode(schedule))
    assert schedule == pickle.loads(pickle.dumps(schedule))


def test_schedule_exposes_its_interval_or_cron() -> None:
    """An interval schedule has a Duration and no cron; a cron schedule the reverse."""
    interval = parse_schedule("I|0|P1W")
    cron = parse_schedule("C|0|0 0 2 ? * 3")
    assert (Duration(weeks=Decimal(1)), None) == (interval.interval, interval.cron)
    assert (None, "0 0 2 ? * 3") == (cron.interval, cron.cron.text)  # type: ignore[union-attr]


BAD_SCHEDULES = [
    ("", "three parts"),
    ("I|1631685600", "three parts"),
    ("X|1631685600|P1D", "type (first part)"),
    ("i|1631685600|P1D", "type (first part)"),
    ("I||P1D", "start (second part) is empty"),
    ("I|-5|P1D", "character 1 ('-')"),
    ("I| 5|P1D", "character 1 (' ')"),
    ("I|1e9|P1D", "character 2 ('e')"),
    ("I|\u0661\u0662|P1D", "character 1"),
    ("I|\ud800|P1D", "character 1"),
    (f"I|{MAX_START + 1}|P1D", "after the last second of 2199"),
    ("I|" + "9" * 400 + "|P1D", "after the last second of 2199"),
    ("I|0|P1X", "character 3 ('X')"),
    ("I|0|P1D ", "character 4 (' ')"),
    ("I|0|PT0S", "longer than zero"),
    ("I|0|-P1D", "cannot be negative"),
    ("I|0|P1.5M", "months must be a whole number"),
    ("I|0|PT0.5S", "whole seconds"),
    ("I|0|P99999Y", "beyond year 9999"),
    ("I|0|P1D\ud800", "character 4"),
    ("C|0|0 0 2 ? * 8", "day-of-week field (field 6, '8')"),
    ("C|0|0 0 2 * * 3", "exactly one of the day-of-month"),
    ("C|0|0 0 25 ? * 3", "hour field (field 3, '25')"),
    ("C|0|0 0 2 ? * 3 1969", "year field (field 7, '1969')"),
    ("C|0|0 0 2 ? * 3 2200", "year field (field 7, '2200')"),
    ("C|0|0 0 2 ? *", "6 or 7"),
    ("C|0|0 0 2 ? * 3 2030 *", "too many fields"),
    ("C|0|0 0 2 ? * 3\n", "character 12"),
    ("C|0|0 0 2 ? * 3\ud800", "character 12"),
    ("C|0|0\u00a00 2 ? * 3", "character 2"),
    ("C|0|*/0 0 2 ? * 3", "at least 1"),
    ("C|0|0 0 2 ? FOO 3", "Invalid Month value: 'FOO'"),
    ("C|0|0 0 2 ? * 2#6", "between 1 and 5"),
    ("C|0|0 0 2 L-31 * ?", "<= 30"),
    ("C|0|0 0 2 1,,2 * ?", "empty value"),
    ("C|0|0 0 2 ? * " + "9" * 50, "day-of-week field"),
]


@pytest.mark.parametrize(("text", "where"), BAD_SCHEDULES)
def test_bad_schedule_is_refused_saying_where(text: str, where: str) -> None:
    """A malformed schedule raises BadRequest naming the parameter and where it is wrong."""
    with pytest.raises(InvalidScheduleError) as caught:
        parse_schedule(text, parameter="Rules[0].Schedule")
    error = caught.value
    assert ("BadRequest", 400) == (error.code, error.http_status)
    assert "Rules[0].Schedule" in error.message
    assert where in error.message
    assert error.recommend
    assert isinstance(error, ValueError)


@pytest.mark.parametrize("value", [None, 5, b"I|0|P1D", ["I|0|P1D"]])
def test_non_string_schedule_is_refused(value: object) -> None:
    """Something that is not a string is refused with BadRequest, naming its type."""
    with pytest.raises(InvalidScheduleError, match=type(value).__name__):
        parse_schedule(value)  # type: ignore[arg-type]


def test_refused_parse_leaves_the_cache_alone() -> None:
    """A refused string is not remembered: parsing stays a pure function."""
    from cloudbackup._domain import schedule as module

    before = module._parse_schedule.cache_info().currsize
    with pytest.raises(InvalidScheduleError):
        parse_schedule("I|0|P0D")
    assert before == module._parse_schedule.cache_info().currsize


# -- durations ---------------------------------------------------------------------------------
def test_parse_duration_keeps_calendar_units() -> None:
    """Years and months stay calendar units and convert to a relativedelta."""
    duration = parse_duration("P1Y2M10DT2H30M")
    assert relativedelta(years=1, months=2, days=10, hours=2, minutes=30) == (
        duration.to_relativedelta()
    )
    assert "P1Y2M10DT2H30M" == duration.text()


def test_duration_text_is_canonical() -> None:
    """The alternative form and commas come back in designator form."""
    assert "P3Y6M4DT12H30M5.5S" == parse_duration("P0003-06-04T12:30:05,5").text()
    assert "-P2W" == parse_duration("-P2W").text()
    assert "PT0S" == parse_duration("PT0S").text()


def test_fractional_month_has_no_relativedelta() -> None:
    """Half a month has no calendar meaning: to_relativedelta refuses it."""
    with pytest.raises(ValueError, match="fractional"):
        parse_duration("P1.5M").to_relativedelta()


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("P1Y2W", "weeks cannot be combined"),
        ("1D", "starts with 'P'"),
        ("P1H", "put 'T' before"),
        ("PT1D", "date unit"),
        ("P1DT", "'T' must be followed"),
        ("P1.5DT1H", "only the last"),
        ("P" + "1" * 40 + "D", "at most 30 digits"),
        ("P1D1D", "repeated or out of order"),
        ("p1d", "starts with 'P'"),
        ("P0001-13-01T00:00:00", "months must be at most 12"),
    ],
)
def test_bad_duration_is_refused_saying_where(text: str, where: str) -> None:
    """parse_duration names the character and the rule broken."""
    with pytest.raises(InvalidScheduleError, match=r"character|the end") as caught:
        parse_duration(text, parameter="Interval")
    assert where in caught.value.message
    assert "Interval" in caught.value.message


# -- next_after: interval schedules ----------------------------------------------------------
def test_interval_first_run_is_the_start() -> None:
    """I| runs at the start itself, and next_after before the start answers the start."""
    schedule = parse_schedule("I|1631685600|P1D")
    start = at(2021, 9, 15, 6)
    assert [start, start + dt.timedelta(days=1)] == fires(schedule, at(2000, 1, 1), 2, SHANGHAI)
    assert start == schedule.first_fire(SHANGHAI)


def test_monthly_interval_follows_relativedelta_from_the_start() -> None:
    """P1M from 31 January: Feb 29, Mar 31, Apr 30 (each computed from the start)."""
    start = at(2024, 1, 31)
    schedule = parse_schedule(f"I|{epoch(start)}|P1M")
    expected = [start + relativedelta(months=k) for k in range(1, 5)]
    assert expected == fires(schedule, start, 4, UTC)
    assert [at(2024, 2, 29), at(2024, 3, 31), at(2024, 4, 30), at(2024, 5, 31)] == expected


def test_daily_interval_keeps_local_time_across_dst() -> None:
    """P1D adds wall-clock days: 22:00 New York stays 22:00 before and after 9 March 2025."""
    start = at(2025, 3, 7, 22, tz=NEW_YORK)
    schedule = parse_schedule(f"I|{epoch(start)}|P1D")
    local = [t.astimezone(NEW_YORK) for t in fires(schedule, start, 3, VIRGINIA)]
    assert [(8, 22), (9, 22), (10, 22)] == [(t.day, t.hour) for t in local]
    assert [dt.timedelta(hours=-5), dt.timedelta(hours=-4), dt.timedelta(hours=-4)] == [
        t.utcoffset() for t in local
    ]


def test_daily_interval_in_the_gap_runs_after_it() -> None:
    """02:30 daily: on the spring-forward day 02:30 does not exist and the run is at 03:30."""
    start = at(2025, 3, 8, 2, 30, tz=NEW_YORK)
    schedule = parse_schedule(f"I|{epoch(start)}|P1D")
    local = [t.astimezone(NEW_YORK) for t in fires(schedule, start, 2, NEW_YORK)]
    assert [(9, 3, 30), (10, 2, 30)] == [(t.day, t.hour, t.minute) for t in local]


def test_daily_interval_in_the_repeated_hour_runs_at_the_first() -> None:
    """01:30 daily: on the fall-back day the run is the first 01:30 (EDT), once."""
    start = at(2025, 11, 1, 1, 30, tz=NEW_YORK)
    schedule = parse_schedule(f"I|{epoch(start)}|P1D")
    assert [at(2025, 11, 2, 5, 30), at(2025, 11, 3, 6, 30)] == fires(schedule, start, 2, VIRGINIA)


def test_hourly_interval_is_elapsed_time() -> None:
    """PT1H counts elapsed hours: across the fall-back there are 25 runs in the local day."""
    start = at(2025, 11, 2, 4)  # 00:00 EDT
    schedule = parse_schedule(f"I|{epoch(start)}|PT1H")
    runs = fires(schedule, start - dt.timedelta(seconds=1), 26, NEW_YORK)
    assert [start + dt.timedelta(hours=k) for k in range(26)] == runs


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12", "Australia/Sydney", "UTC"])
@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("I|0|P8028Y11M30D", dt.datetime(1970, 1, 1, tzinfo=UTC)),
        ("I|0|P8028Y11M", dt.datetime(1970, 1, 1, tzinfo=UTC)),
        ("C|0|0 0 0 1 1 ?", dt.datetime(1, 1, 1, tzinfo=UTC)),
        ("C|0|0 0 0 1 1 ?", dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("I|0|PT1S", dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("I|7258118399|P1D", dt.datetime(1, 1, 1, tzinfo=UTC)),
    ],
)
def test_next_after_at_the_ends_of_the_calendar_never_overflows(
    text: str, instant: dt.datetime, zone: str
) -> None:
    """Near year 1 or 9999, in zones from UTC-12 to UTC+14, next_after answers or says None."""
    found = parse_schedule(text).next_after(instant, zoneinfo.ZoneInfo(zone))
    assert found is None or found > instant


def test_interval_past_the_calendar_ends() -> None:
    """An interval that would pass year 9999 has no next run."""
    schedule = parse_schedule("I|0|P5000Y")
    assert [at(1970, 1, 1), at(6970, 1, 1)] == fires(schedule, at(1969, 1, 1), 3, UTC)


# -- next_after: cron schedules ----------------------------------------------------------------
def test_cron_runs_in_the_region_time_zone() -> None:
    """0 0 2 ? * 3,5,7 is 02:00 Shanghai time (18:00 UTC the day before) on Tue/Thu/Sat."""
    schedule = parse_schedule("C|1631685600|0 0 2 ? * 3,5,7")
    local = [t.astimezone(SHANGHAI) for t in fires(schedule, at(2021, 9, 15), 4, SHANGHAI)]
    assert ["Thu", "Sat", "Tue", "Thu"] == [t.strftime("%a") for t in local]
    assert {2} == {t.hour for t in local}


def test_cron_never_runs_before_the_start() -> None:
    """A start that matches is itself the first run; nothing before it."""
    start = at(2024, 1, 2, 18)  # 02:00 Shanghai on Wednesday 3 January
    schedule = parse_schedule(f"C|{epoch(start)}|0 0 2 * * ?")
    assert start == schedule.next_after(at(2020, 1, 1), SHANGHAI)
    assert start == schedule.first_fire(SHANGHAI)


def test_cron_with_a_past_year_has_no_next_run() -> None:
    """A year field that is past leaves no run: next_after is None."""
    schedule = parse_schedule("C|0|0 0 0 1 1 ? 2023")
    assert schedule.next_after(at(2023, 4, 22, 12), UTC) is None
    assert at(2023, 1, 1) == schedule.next_after(at(2022, 4, 22), UTC)


def test_cron_in_the_spring_gap_skips_the_day() -> None:
    """Quartz: 02:30 does not exist on 9 March 2025 in New York, so that day has no run."""
    schedule = parse_schedule("C|0|0 30 2 * * ?")
    local = [t.astimezone(NEW_YORK) for t in fires(schedule, at(2025, 3, 8, 12), 2, VIRGINIA)]
    assert [(10, 2, 30), (11, 2, 30)] == [(t.day, t.hour, t.minute) for t in local]


def test_cron_in_the_repeated_hour_runs_once_at_the_second() -> None:
    """Quartz: 01:30 on 2 November 2025 in New York runs once, at 01:30 EST (06:30 UTC)."""
    schedule = parse_schedule("C|0|0 30 1 * * ?")
    assert [at(2025, 11, 2, 6, 30), at(2025, 11, 3, 6, 30)] == fires(
        schedule, at(2025, 11, 1, 12), 2, VIRGINIA
    )


def test_hourly_cron_skips_the_first_repeated_hour() -> None:
    """Quartz: an hourly cron runs at 00:00 EDT, 01:00 EST, 02:00 EST on the fall-back day."""
    schedule = parse_schedule("C|0|0 0 * * * ?")
    runs = fires(schedule, at(2025, 11, 2, 3, 30), 3, NEW_YORK)
    assert [at(2025, 11, 2, 4), at(2025, 11, 2, 6), at(2025, 11, 2, 7)] == runs


def test_ranges_that_run_past_the_end_wrap_round() -> None:
    """22-2 in hours is 22, 23, 0, 1, 2; FRI-MON is Fri..Mon; 50-10/5 steps across the minute."""
    assert (0, 1, 2, 22, 23) == parse_cron("0 0 22-2 * * ?").hours
    assert frozenset({6, 7, 1, 2}) == parse_cron("0 0 0 ? * FRI-MON").day_rule.weekdays  # type: ignore[union-attr]
    assert (0, 5, 10, 50, 55) == parse_cron("50-10/5 0 0 * * ?").seconds
    assert (1, 2, 11, 12) == parse_cron("0 0 0 1 NOV-FEB ?").months


def test_search_from_the_first_repeated_hour_does_not_go_back() -> None:
    """Quartz: from 01:00:00 EDT the search resumes at wall time 01:00:01, which is read as
    EST, so 01:00:00 EST (already passed on the wall clock) does not fire."""
    cron = parse_cron("* * 0,1 * * ?")
    assert at(2025, 11, 2, 6, 0, 1) == cron.next_after(at(2025, 11, 2, 5), NEW_YORK)


def test_thirty_first_weekday_in_a_short_month_follows_quartz() -> None:
    """Quartz's 31W in April fires on the 30th only when 1 May is a Saturday (2027)."""
    cron = parse_cron("0 0 12 31W * ?")
    assert at(2027, 4, 30, 12) == cron.next_after(at(2027, 4, 1), UTC)
    assert at(2025, 5, 30, 12) == cron.next_after(at(2025, 4, 1), UTC)


def test_next_after_drops_fractions_and_is_strict() -> None:
    """The search starts at the whole second after the instant: a fire time is never repeated."""
    cron = parse_cron("* * * * * ?")
    assert at(2024, 1, 1, 0, 0, 1) == cron.next_after(at(2024, 1, 1, 0, 0, 0), UTC)
    assert at(2024, 1, 1, 0, 0, 1) == cron.next_after(
        dt.datetime(2024, 1, 1, 0, 0, 0, 999999, tzinfo=UTC), UTC
    )


def test_cron_stops_at_the_last_year() -> None:
    """Nothing fires after the end of year 2199."""
    cron = parse_cron("0 0 0 1 1 ?")
    assert at(MAX_YEAR, 1, 1) == cron.next_after(at(MAX_YEAR - 1, 6, 1), UTC)
    assert cron.next_after(at(MAX_YEAR, 6, 1), UTC) is None


def test_next_after_accepts_a_datetime_subclass_in_any_zone() -> None:
    """A datetime subclass in another zone gives the same answer as plain UTC."""

    class Stamp(dt.datetime):
        pass

    schedule = parse_schedule("C|0|0 0 2 * * ?")
    plain = schedule.next_after(at(2024, 5, 1), SHANGHAI)
    exotic = schedule.next_after(Stamp(2024, 5, 1, 8, tzinfo=SHANGHAI), SHANGHAI)
    assert plain == exotic
    assert dt.datetime is type(exotic)


@pytest.mark.parametrize(
    ("instant", "tz"),
    [(dt.datetime(2024, 1, 1), UTC), ("2024-01-01", UTC), (at(2024, 1, 1), "Asia/Shanghai")],
)
def test_next_after_refuses_naive_instants_and_non_zones(instant: object, tz: object) -> None:
    """A naive instant or a tz that is not a tzinfo is an InvalidParameter error."""
    with pytest.raises(InvalidParameterError) as caught:
        parse_schedule("I|0|P1D").next_after(instant, tz)  # type: ignore[arg-type]
    assert "InvalidParameter" == caught.value.code


def test_fire_times_lists_a_window() -> None:
    """fire_times yields the runs after the first instant up to and including the last."""
    schedule = parse_schedule("I|0|P1D")
    assert [at(1970, 1, 2), at(1970, 1, 3)] == list(
        schedule.fire_times(at(1970, 1, 1), at(1970, 1, 3), UTC)
    )
