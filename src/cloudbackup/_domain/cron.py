"""Quartz cron expressions, parsed and evaluated the way Quartz 2.3.2's ``CronExpression`` does.

Cloud Backup's ``C|{start}|{cron}`` schedules use the Quartz dialect: 6 or 7 fields
``second minute hour day-of-month month day-of-week [year]``, exactly one of the two day fields
``?``, day-of-week 1 = Sunday … 7 = Saturday, names (``MON``, ``JAN``) in any case, and ``L``,
``W``, ``LW``, ``L-n``, ``n#k``, ranges (wrapping: ``22-2``), lists and ``/`` steps. The
evaluator is written for this library and checked against the fire times the real Quartz
returns (``docs/reference/schedules.md`` lists the vectors and the few places we refuse an
expression Quartz silently half-reads).

Evaluation happens on the wall clock of a time zone, as Quartz does with a ``java.util``
calendar: the next fire time is the first wall-clock second after the given instant that the
expression matches; a wall time that does not exist (the spring-forward gap) is skipped, and a
wall time that happens twice (the fall-back hour) fires once, at its second (standard-time)
occurrence.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as _dt
import functools
import re

import attrs

from ..errors import InvalidScheduleError
from .wallclock import floor_epoch, to_wall, wall_instants

__all__ = ["MAX_YEAR", "MIN_YEAR", "CronExpression", "parse_cron"]

#: The first and last year a cron expression can name or fire in. Quartz documents 1970–2199;
#: its own horizon is "the current year + 100", which would make fire times depend on the day
#: the code runs, so this model fixes the documented bound.
MIN_YEAR = 1970
MAX_YEAR = 2199

_UTC = _dt.timezone.utc
_EPOCH = _dt.datetime(1970, 1, 1)
#: An instant past the end of :data:`MAX_YEAR` on every wall clock (UTC offsets stay within a
#: day): after it nothing can fire. Whether an earlier instant is past the horizon depends on the
#: zone, so the evaluator checks the wall-clock year.
_LAST_EPOCH = int((_dt.datetime(MAX_YEAR + 1, 1, 2) - _EPOCH).total_seconds())

SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK, YEAR = range(7)
_NAMES = ("second", "minute", "hour", "day-of-month", "month", "day-of-week", "year")
_LOW = (0, 0, 0, 1, 1, 1, MIN_YEAR)
_HIGH = (59, 59, 23, 31, 12, 7, MAX_YEAR)
#: The largest step Quartz accepts after ``*/``, ``/`` or ``n/`` in each field (no year limit).
_MAX_STEP = (59, 59, 23, 31, 12, 7, None)
_RANGE_TEXT = (
    "Minute and Second values must be between 0 and 59",
    "Minute and Second values must be between 0 and 59",
    "Hour values must be between 0 and 23",
    "Day of month values must be between 1 and 31",
    "Month values must be between 1 and 12",
    "Day-of-Week values must be between 1 and 7",
    f"Year values must be between {MIN_YEAR} and {MAX_YEAR}",
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}
_DAYS = {
    name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)
}
_NUMBER = r"(\d{1,9}|[A-Z]{3})"
_PLAIN = re.compile(rf"{_NUMBER}(?:-{_NUMBER})?(?:/(\d{{1,9}}))?\Z")
_STAR = re.compile(r"(?:\*|\*?/(\d{1,9}))\Z")
_LAST_DOM = re.compile(r"L(?:-(\d{1,9}))?(W)?\Z")
_WEEKDAY_DOM = re.compile(r"(\d{1,9})W\Z")
_LAST_DOW = re.compile(r"(\d{1,9}|[A-Z]{3})L\Z")
_NTH_DOW = re.compile(r"(\d{1,9}|[A-Z]{3})#(\d{1,9})\Z")


# -- day rules: which days of a given month may fire -----------------------------------------
def _quartz_weekday(date: _dt.date) -> int:
    """Quartz's day-of-week: 1 = Sunday … 7 = Saturday."""
    return (date.weekday() + 1) % 7 + 1


@attrs.frozen
class _MonthDays:
    """Plain day-of-month values (``1,15``, ``10-20``); days past the month's end never fire."""

    days: tuple[int, ...]

    def days_in(self, year: int, month: int, last: int) -> tuple[int, ...]:
        return tuple(day for day in self.days if day <= last)


def _nearest_weekday(year: int, month: int, day: int, last: int) -> tuple[int, ...]:
    """Quartz's ``W``: the weekday nearest ``day``, never crossing into another month.

    ``day`` may lie past the month's end (``31W`` in April) or before its start (``L-30W`` in
    February); Quartz then reads the date leniently (April 31 = May 1) and keeps the result only
    when the adjusted day falls back inside the month.
    """
    first = _dt.date(year, month, 1)
    weekday = _quartz_weekday(first + _dt.timedelta(days=day - 1))
    if weekday == 7:
        day += 2 if day == 1 else -1
    elif weekday == 1:
        day += -2 if day == last else 1
    if 1 <= day <= last:
        return (day,)
    return ()


@attrs.frozen
class _NearestWeekday:
    """``nW``: the weekday nearest day ``n``."""

    day: int

    def days_in(self, year: int, month: int, last: int) -> tuple[int, ...]:
        return _nearest_weekday(year, month, self.day, last)


@attrs.frozen
class _LastDay:
    """``L``, ``L-n``, ``LW``, ``L-nW``: the last day (minus ``n``), or the weekday nearest it."""

    offset: int
    weekday: bool

    def days_in(self, year: int, month: int, last: int) -> tuple[int, ...]:
        day = last - self.offset
        if self.weekday:
            return _nearest_weekday(year, month, day, last)
        return (day,) if day >= 1 else ()


@attrs.frozen
class _WeekDays:
    """Plain day-of-week values (``MON-FRI``, ``1,7``)."""

    weekdays: frozenset[int]

    def days_in(self, year: int, month: int, last: int) -> tuple[int, ...]:
        first = _quartz_weekday(_dt.date(year, month, 1))
        return tuple(
            day for day in range(1, last + 1) if (first + day - 2) % 7 + 1 in self.weekdays
        )


@attrs.frozen
class _LastWeekday:
    """``nL``: the last day-of-week ``n`` of the month."""

    weekday: int

    def days_in(self, year: int, month: int, last: int) -> tuple[int, ...]:
        weekday = _quartz_weekday(_dt.date(year, month, last))
        return (last - (weekday - self.weekday) % 7,)


@attrs.frozen
class _NthWeekday:
    """``n#k``: the ``k``-th day-of-week ``n`` of the month (none when the month has fewer)."""

    weekday: int
    nth: int

    def days_in(self, year: int, month: int, last: int) -> tuple[int, ...]:
        first = _quartz_weekday(_dt.date(year, month, 1))
        day = 1 + (self.weekday - first) % 7 + 7 * (self.nth - 1)
        return (day,) if day <= last else ()


_DayRule = _MonthDays | _NearestWeekday | _LastDay | _WeekDays | _LastWeekday | _NthWeekday


@functools.lru_cache(maxsize=8192)
def _days(rule: _DayRule, year: int, month: int) -> tuple[int, ...]:
    return rule.days_in(year, month, calendar.monthrange(year, month)[1])


# -- the expression ----------------------------------------------------------------------------
@attrs.frozen
class CronExpression:
    """A parsed Quartz cron expression; evaluate it with :meth:`next_after`."""

    text: str
    """The expression in canonical form: fields upper-cased and joined by single spaces."""
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    years: tuple[int, ...] | None
    """The years named, or ``None`` for every year up to :data:`MAX_YEAR`."""
    day_rule: _DayRule

    def next_after(self, instant: _dt.datetime, tz: _dt.tzinfo) -> _dt.datetime | None:
        """The first fire time strictly after ``instant`` (an aware datetime), in UTC.

        Whole seconds only, as Quartz: the search starts at the second after ``instant``
        (fractions dropped). ``None`` when the expression never fires again before the end of
        :data:`MAX_YEAR`.
        """
        after = floor_epoch(instant)
        found = self.next_epoch_after(after, tz)
        return None if found is None else _dt.datetime.fromtimestamp(found, _UTC)

    def next_epoch_after(self, after: int, tz: _dt.tzinfo) -> int | None:
        """:meth:`next_after` on UNIX seconds."""
        if after + 1 >= _LAST_EPOCH:
            return None
        wall = to_wall(after + 1, tz)  # past MAX_YEAR here, _next_wall finds nothing
        while True:
            found = self._next_wall(wall)
            if found is None:
                return None
            instants = wall_instants(found, tz)
            if instants:
                # Java's calendar (so Quartz) reads a wall time that happens twice as standard
                # time: at a daylight-saving fall-back, the second occurrence.
                return instants[-1]
            # A wall time in the spring-forward gap does not exist: Quartz moves past it.
            wall = found + _dt.timedelta(seconds=1)

    def matches(self, instant: _dt.datetime, tz: _dt.tzinfo) -> bool:
        """Whether the expression fires at ``instant`` (Quartz's ``isSatisfiedBy``)."""
        second = floor_epoch(instant)
        return self.next_epoch_after(second - 1, tz) == second

    def _next_wall(self, wall: _dt.datetime) -> _dt.datetime | None:
        year, month, day = wall.year, wall.month, wall.day
        clock: tuple[int, int, int] | None = (wall.hour, wall.minute, wall.second)
        if year < MIN_YEAR:
            # Quartz's years start at 1970 even when the field is '*'.
            year, month, day, clock = MIN_YEAR, 1, 1, None
        while year <= MAX_YEAR:
            if self.years is not None:
                index = bisect.bisect_left(self.years, year)
                if index == len(self.years):
                    return None
                if self.years[index] != year:
                    year, month, day, clock = self.years[index], 1, 1, None
            index = bisect.bisect_left(self.months, month)
            if index == len(self.months):
                year, month, day, clock = year + 1, 1, 1, None
                continue
            if self.months[index] != month:
                month, day, clock = self.months[index], 1, None
            for candidate in _days(self.day_rule, year, month):
                if candidate < day:
                    continue
                if candidate != day:
                    clock = None
                time = self._next_time(clock)
                if time is not None:
                    return _dt.datetime(year, month, candidate, *time)
                clock = None
            month, day, clock = month + 1, 1, None
            if month > 12:
                year, month = year + 1, 1
        return None

    def _next_time(self, clock: tuple[int, int, int] | None) -> tuple[int, int, int] | None:
        """The first matching time of day at or after ``clock`` (``None`` = midnight)."""
        hours, minutes, seconds = self.hours, self.minutes, self.seconds
        if clock is None:
            return hours[0], minutes[0], seconds[0]
        hour, minute, second = clock
        index = bisect.bisect_left(hours, hour)
        if index < len(hours) and hours[index] == hour:
            at = bisect.bisect_left(minutes, minute)
            if at < len(minutes) and minutes[at] == minute:
                sec = bisect.bisect_left(seconds, second)
                if sec < len(seconds):
                    return hour, minute, seconds[sec]
                at += 1
            if at < len(minutes):
                return hour, minutes[at], seconds[0]
            index += 1
        if index < len(hours):
            return hours[index], minutes[0], seconds[0]
        return None


# -- parsing -----------------------------------------------------------------------------------
class _FieldError(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def parse_cron(text: str, *, parameter: str = "Schedule") -> CronExpression:
    """Parse a Quartz cron expression.

    Args:
        text: ``"0 0 2 ? * 3,5,7"`` (02:00:00 every Tuesday, Thursday and Saturday); 6 or 7
            fields separated by spaces or tabs.
        parameter: The API parameter name to cite in the error message.

    Raises:
        cloudbackup.errors.InvalidScheduleError: the expression is not valid Quartz; the message
            names the parameter, the field (by name and number) and what is wrong with it.
    """
    if not isinstance(text, str):
        raise InvalidScheduleError(
            f"The cron expression of {parameter} must be a string, not {type(text).__name__}.",
            recommend="Pass a Quartz cron expression such as '0 0 2 ? * 3,5,7'.",
        )
    value = str.__str__(text)
    return _parse_cron(value, parameter)


@functools.lru_cache(maxsize=1024)
def _parse_cron(text: str, parameter: str) -> CronExpression:
    for index, char in enumerate(text):
        if not (" " <= char < "\x7f" or char == "\t"):
            raise _cron_error(
                parameter,
                text,
                f"character {index + 1} ({char!r}) is not allowed; fields are separated by "
                "spaces or tabs and hold only ASCII letters, digits and , - * / ? L W #",
            )
    fields = re.split(r"[ \t]+", text.strip(" \t").upper())
    if fields == [""] or len(fields) < 6:
        raise _cron_error(
            parameter,
            text,
            f"Unexpected end of expression: {len(fields) if fields != [''] else 0} fields, a "
            "Quartz cron expression has 6 or 7 (second minute hour day-of-month month "
            "day-of-week [year])",
        )
    if len(fields) > 7:
        raise _cron_error(
            parameter,
            text,
            f"too many fields ({len(fields)}); a Quartz cron expression has 6 or 7 (second "
            "minute hour day-of-month month day-of-week [year])",
        )
    parsed: list[_Field] = []
    for kind, field in enumerate(fields):
        try:
            parsed.append(_parse_field(field, kind))
        except _FieldError as error:
            raise _cron_error(
                parameter,
                text,
                f"the {_NAMES[kind]} field (field {kind + 1}, {field!r}): {error.problem}",
            ) from None
    if len(parsed) == 6:
        parsed.append(_Field(values=(), all=True))
    dom, dow = parsed[DAY_OF_MONTH], parsed[DAY_OF_WEEK]
    if dom.no_spec == dow.no_spec:
        raise _cron_error(
            parameter,
            text,
            "Support for specifying both a day-of-week AND a day-of-month parameter is not "
            "implemented: exactly one of the day-of-month (4th) and day-of-week (6th) fields "
            "must be '?'",
        )
    rule: _DayRule
    if dow.no_spec:
        if dom.last is not None:
            rule = _LastDay(offset=dom.last, weekday=dom.weekday)
        elif dom.weekday:
            rule = _NearestWeekday(day=dom.values[0])
        else:
            rule = _MonthDays(days=dom.values)
    elif dow.last is not None:
        rule = _LastWeekday(weekday=dow.last)
    elif dow.nth is not None:
        rule = _NthWeekday(weekday=dow.values[0], nth=dow.nth)
    else:
        rule = _WeekDays(weekdays=frozenset(dow.values))
    year = parsed[YEAR]
    return CronExpression(
        text=" ".join(fields),
        seconds=parsed[SECOND].values,
        minutes=parsed[MINUTE].values,
        hours=parsed[HOUR].values,
        months=parsed[MONTH].values,
        years=None if year.all else year.values,
        day_rule=rule,
    )


def _cron_error(parameter: str, text: str, problem: str) -> InvalidScheduleError:
    shown = text if len(text) <= 80 else text[:77] + "..."
    return InvalidScheduleError(
        f"The parameter {parameter} has an invalid cron expression {shown!r}: {problem}.",
        recommend=(
            "Write a Quartz cron expression: 'second minute hour day-of-month month "
            "day-of-week [year]' with '?' in exactly one day field, e.g. '0 0 2 ? * 3,5,7' for "
            "02:00 every Tuesday, Thursday and Saturday (day-of-week 1 = Sunday)."
        ),
    )


@attrs.frozen
class _Field:
    values: tuple[int, ...]
    all: bool = False
    no_spec: bool = False
    last: int | None = None
    """Day-of-month: the offset of ``L``/``L-n``; day-of-week: the weekday of ``nL``."""
    weekday: bool = False
    """Day-of-month ``W`` (nearest weekday)."""
    nth: int | None = None
    """Day-of-week ``#k``."""


def _value(token: str, kind: int) -> int:
    if token.isdigit():
        value = int(token)
    elif kind == MONTH and token in _MONTHS:
        return _MONTHS[token]
    elif kind == DAY_OF_WEEK and token in _DAYS:
        return _DAYS[token]
    elif kind == MONTH:
        raise _FieldError(f"Invalid Month value: {token!r}")
    elif kind == DAY_OF_WEEK:
        raise _FieldError(f"Invalid Day-of-Week value: {token!r}")
    else:
        raise _FieldError(f"Illegal characters for this position: {token!r}")
    if not _LOW[kind] <= value <= _HIGH[kind]:
        raise _FieldError(f"{_RANGE_TEXT[kind]} (got {value})")
    return value


def _step(token: str, kind: int, checked: bool) -> int:
    step = int(token)
    limit = _MAX_STEP[kind]
    if step < 1:
        raise _FieldError(f"the increment after '/' must be at least 1 (got {step})")
    if checked and limit is not None and step > limit:
        raise _FieldError(f"Increment > {limit + 1} : {step}")
    return step


def _span(start: int, stop: int, step: int, kind: int) -> list[int]:
    if stop >= start:
        return list(range(start, stop + 1, step))
    if kind == YEAR:
        raise _FieldError(f"a year range must not run backwards ({start}-{stop})")
    # A range that runs past the field's end wraps round (22-2 = 22,23,0,1,2), as in Quartz.
    size = _HIGH[kind] - _LOW[kind] + 1
    return [
        (value - _LOW[kind]) % size + _LOW[kind] for value in range(start, stop + size + 1, step)
    ]


def _parse_field(field: str, kind: int) -> _Field:
    items = field.split(",")
    if any(not item for item in items):
        raise _FieldError("an empty value in a list (two commas, or one at an end)")
    if kind in (DAY_OF_MONTH, DAY_OF_WEEK):
        if "?" in field:
            if field != "?":
                raise _FieldError("'?' must stand alone in its field")
            return _Field(values=(), no_spec=True)
        if "L" in field and len(items) > 1:
            if kind == DAY_OF_MONTH:
                raise _FieldError(
                    "Support for specifying 'L' and 'LW' with other days of the month is not "
                    "implemented"
                )
            raise _FieldError(
                "Support for specifying 'L' with other days of the week is not implemented"
            )
    elif "?" in field:
        raise _FieldError("'?' can only be specified for Day-of-Month or Day-of-Week")
    if kind == DAY_OF_MONTH:
        special = _LAST_DOM.match(field)
        if special:
            offset = int(special.group(1) or 0)
            if offset > 30:
                raise _FieldError(f"Offset from last day must be <= 30 (got {offset})")
            return _Field(values=(), last=offset, weekday=bool(special.group(2)))
    if kind == DAY_OF_WEEK:
        if field == "L":
            return _Field(values=(7,))
        special = _LAST_DOW.match(field)
        if special:
            weekday = _value(special.group(1), kind)
            return _Field(values=(weekday,), last=weekday)
        if field.count("#") > 1:
            raise _FieldError('Support for specifying multiple "nth" days is not implemented')
    values: set[int] = set()
    every = False
    nearest = False
    nth: int | None = None
    for item in items:
        if kind == DAY_OF_MONTH:
            nearest_day = _WEEKDAY_DOM.match(item)
            if nearest_day:
                day = int(nearest_day.group(1))
                if day > 31:
                    raise _FieldError(
                        "The 'W' option does not make sense with values larger than 31 (max "
                        f"number of days in a month) (got {day})"
                    )
                values.add(_value(nearest_day.group(1), kind))
                nearest = True
                continue
        if kind == DAY_OF_WEEK:
            numbered = _NTH_DOW.match(item)
            if numbered:
                values.add(_value(numbered.group(1), kind))
                nth = int(numbered.group(2))
                if not 1 <= nth <= 5:
                    raise _FieldError(
                        f"A numeric value between 1 and 5 must follow the '#' option (got {nth})"
                    )
                continue
        star = _STAR.match(item)
        if star:
            if star.group(1) is None:
                every = True
                values.update(range(_LOW[kind], _HIGH[kind] + 1))
            else:
                step = _step(star.group(1), kind, checked=True)
                values.update(range(_LOW[kind], _HIGH[kind] + 1, step))
            continue
        plain = _PLAIN.match(item)
        if not plain:
            raise _FieldError(_explain(item, kind))
        first, last, step_text = plain.groups()
        start = _value(first, kind)
        if last is None:
            if step_text is None:
                values.add(start)
            elif first.isdigit():
                values.update(range(start, _HIGH[kind] + 1, _step(step_text, kind, checked=True)))
            else:
                raise _FieldError(f"a step '/' cannot follow a name ({item!r})")
            continue
        if first.isdigit() != last.isdigit():
            raise _FieldError(f"a range mixes a name and a number ({item!r})")
        if step_text is not None and not first.isdigit():
            raise _FieldError(f"a step '/' cannot follow a range of names ({item!r})")
        stop = _value(last, kind)
        step = 1 if step_text is None else _step(step_text, kind, checked=False)
        values.update(_span(start, stop, step, kind))
    return _Field(values=tuple(sorted(values)), all=every, weekday=nearest, nth=nth)


def _explain(item: str, kind: int) -> str:
    """Why a list item is not valid Quartz, in Quartz's words where Quartz has some."""
    if item.startswith("/") or item.endswith("/"):
        return f"'/' must be followed by an integer ({item!r})"
    if item.count("/") > 1:
        return f"Unexpected character '/' after '/' ({item!r})"
    if item[:1] == "-":
        return f"Unexpected character: - ({item!r})"
    if item[:1] == "#":
        return f"Unexpected character: # ({item!r})"
    if "L" in item:
        where = {DAY_OF_MONTH: "L, L-n, LW or L-nW", DAY_OF_WEEK: "L or nL"}.get(kind)
        if where is None:
            return f"'L' option is not valid here ({item!r})"
        return f"'L' must be written {where} ({item!r})"
    if "W" in item and kind != DAY_OF_WEEK:
        if kind != DAY_OF_MONTH:
            return f"'W' option is not valid here ({item!r})"
        return f"'W' must follow a day number 1-31, as in 15W or LW ({item!r})"
    if "#" in item:
        if kind != DAY_OF_WEEK:
            return f"'#' option is not valid here ({item!r})"
        return f"A numeric value between 1 and 5 must follow the '#' option ({item!r})"
    letters = re.search(r"[A-Z]+", item)
    if letters and kind == MONTH:
        return f"Invalid Month value: {letters.group()!r}"
    if letters and kind == DAY_OF_WEEK:
        return f"Invalid Day-of-Week value: {letters.group()!r}"
    if letters:
        return f"Illegal characters for this position: {letters.group()!r}"
    if re.search(r"\d{10,}", item):
        return f"a number is too large ({item!r})"
    return f"Illegal characters for this position: {item!r}"
