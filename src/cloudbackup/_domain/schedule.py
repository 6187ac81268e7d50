"""Cloud Backup schedules: ``I|{start}|{ISO 8601 duration}`` and ``C|{start}|{Quartz cron}``.

A BACKUP rule's ``Schedule`` says when its jobs fall due. :func:`parse_schedule` reads the
string and :meth:`Schedule.next_after` answers "when is the next run after this instant?" in a
region's time zone; the job scheduler calls exactly that. Semantics, time zones and
daylight-saving behaviour are in ``docs/reference/schedules.md``; in short:

- ``I|start|interval``: runs at ``start + k × interval`` for k = 0, 1, 2, …, each computed from
  the start (never by adding to the previous run). Years, months, weeks and days are added on
  the region's wall clock (``P1D`` from 02:00 stays at 02:00 across daylight-saving changes;
  ``P1M`` from 31 January gives 28/29 February, then 31 March, as
  :class:`dateutil.relativedelta.relativedelta` does); hours, minutes and seconds are elapsed
  time added after that.
- ``C|start|cron``: runs when the Quartz cron expression fires on the region's wall clock,
  never before ``start``.
"""

from __future__ import annotations

import datetime as _dt
import enum
import functools
from collections.abc import Iterator
from decimal import Decimal

import attrs
from dateutil.relativedelta import relativedelta

from .._time import require_aware
from .._typenames import stored_as
from ..errors import InvalidParameterError, InvalidScheduleError
from .cron import CronExpression, parse_cron
from .duration import Duration, parse_duration
from .wallclock import floor_epoch, gap_instant, to_wall, wall_instants

__all__ = ["Schedule", "ScheduleKind", "parse_schedule"]

_UTC = _dt.timezone.utc
_EPOCH = _dt.datetime(1970, 1, 1)
#: The latest start a schedule may name: the last second of 2199 UTC, the end of the cron
#: horizon (``cron.MAX_YEAR``), so every schedule can be evaluated in any time zone.
MAX_START = int((_dt.datetime(2200, 1, 1) - _EPOCH).total_seconds()) - 1
#: Wall-clock arithmetic stops here: past it an interval schedule has no further runs.
_LAST_WALL = _dt.datetime(9998, 12, 31)
#: The last instant a run can be reported at (a ``datetime`` ends in 9999).
_LAST_EPOCH = int((_LAST_WALL - _EPOCH).total_seconds())


@stored_as("hbr.ScheduleKind")
class ScheduleKind(enum.Enum):
    """The two schedule forms of a BACKUP rule."""

    INTERVAL = "I"
    """``I|{start}|{duration}``: every fixed interval from the start."""
    CRON = "C"
    """``C|{start}|{cron}``: when a Quartz cron expression fires."""


@stored_as("hbr.Schedule")
@attrs.frozen
class Schedule:
    """A parsed BACKUP-rule schedule. Build one with :func:`parse_schedule`.

    Equal schedules have equal canonical :attr:`text`.
    """

    kind: ScheduleKind
    """Interval (``I``) or cron (``C``)."""
    start: int
    """The start, in UNIX seconds: no run falls due before it."""
    expression: str
    """The canonical duration (``"P1D"``) or cron expression (``"0 0 2 ? * 3,5,7"``)."""

    @property
    def text(self) -> str:
        """The canonical schedule string, e.g. ``"I|1631685600|P1D"``."""
        return f"{self.kind.value}|{self.start}|{self.expression}"

    @property
    def start_time(self) -> _dt.datetime:
        """:attr:`start` as an aware UTC datetime."""
        return _dt.datetime.fromtimestamp(self.start, _UTC)

    @property
    def interval(self) -> Duration | None:
        """The interval of an ``I|`` schedule; ``None`` for a cron schedule."""
        if self.kind is ScheduleKind.CRON:
            return None
        return parse_duration(self.expression)

    @property
    def cron(self) -> CronExpression | None:
        """The cron expression of a ``C|`` schedule; ``None`` for an interval schedule."""
        if self.kind is ScheduleKind.INTERVAL:
            return None
        return parse_cron(self.expression)

    def next_after(self, instant: _dt.datetime, tz: _dt.tzinfo) -> _dt.datetime | None:
        """The first run strictly after ``instant`` and never before :attr:`start`.

        Args:
            instant: An aware datetime (any zone; a ``datetime`` subclass is fine).
            tz: The time zone the schedule is evaluated in: the region's,
                ``cloudbackup._regions.get_region(region_id).tzinfo``.

        Returns:
            The run time as an aware UTC datetime (whole seconds), or ``None`` when the
            schedule has no more runs (a cron whose year field is past, or beyond year 2199).

        Raises:
            cloudbackup.errors.InvalidParameterError: ``instant`` is naive or not a datetime,
                or ``tz`` is not a ``tzinfo``.
        """
        after = floor_epoch(require_aware(instant, "instant"))
        zone = _require_tz(tz)
        found = _compiled(self.kind, self.expression).next_epoch(self.start, after, zone)
        if found is None or found > _LAST_EPOCH:
            return None
        return _dt.datetime.fromtimestamp(found, _UTC)

    def first_fire(self, tz: _dt.tzinfo) -> _dt.datetime | None:
        """The first run of the schedule (at or after :attr:`start`)."""
        return self.next_after(self.start_time - _dt.timedelta(seconds=1), tz)

    def fire_times(
        self, after: _dt.datetime, until: _dt.datetime, tz: _dt.tzinfo
    ) -> Iterator[_dt.datetime]:
        """The runs strictly after ``after`` and at or before ``until``, in order."""
        last = require_aware(until, "until")
        current = self.next_after(after, tz)
        while current is not None and current <= last:
            yield current
            current = self.next_after(current, tz)


def _require_tz(tz: object) -> _dt.tzinfo:
    if not isinstance(tz, _dt.tzinfo):
        raise InvalidParameterError(
            f"tz must be a datetime.tzinfo, not {type(tz).__name__}.",
            code="InvalidParameter",
            recommend="Pass the region's zone: get_region(region_id).tzinfo.",
        )
    return tz


# -- evaluation ------------------------------------------------------------------------------
@attrs.frozen
class _CronRule:
    cron: CronExpression

    def next_epoch(self, start: int, after: int, tz: _dt.tzinfo) -> int | None:
        # Quartz's CronTrigger starts its search a second before the start time, so a start
        # that matches the expression is itself the first run.
        return self.cron.next_epoch_after(max(after, start - 1), tz)


@attrs.frozen
class _IntervalRule:
    calendar: relativedelta
    """Years, months and days (weeks as 7 days), added on the wall clock."""
    seconds: int
    """Hours, minutes and seconds, added as elapsed time."""
    approximate: int
    """A rough length of one interval in seconds, to jump near the answer."""

    def fire(self, start: int, k: int, tz: _dt.tzinfo) -> int | None:
        """Run ``k`` (0 = the start), or ``None`` past the end of the calendar."""
        if k == 0 or not self.calendar:
            return start + k * self.seconds
        wall = to_wall(start, tz)
        calendar = self.calendar
        try:
            if calendar.years or calendar.months:
                shifted = wall + relativedelta(
                    years=k * calendar.years, months=k * calendar.months, days=k * calendar.days
                )
            else:
                shifted = wall + _dt.timedelta(days=k * calendar.days)
        except (OverflowError, ValueError):
            return None
        if shifted > _LAST_WALL:
            return None
        return _resolve_forward(shifted, tz) + k * self.seconds

    def next_epoch(self, start: int, after: int, tz: _dt.tzinfo) -> int | None:
        if after < start:
            return start
        # Jump near the answer with the interval's rough length, step back until run k is
        # not after ``after``, then forward to the first run that is.
        k = (after - start) // self.approximate
        value = self.fire(start, k, tz)
        while k > 0 and (value is None or value > after):
            k -= 1
            value = self.fire(start, k, tz)
        while True:
            k += 1
            value = self.fire(start, k, tz)
            if value is None or value > after:
                return value


def _resolve_forward(wall: _dt.datetime, tz: _dt.tzinfo) -> int:
    """The instant of a wall time for interval schedules: the first occurrence when it happens
    twice; in a spring-forward gap, the wall time read on the clock before the gap (02:30 in a
    gap from 02:00 to 03:00 runs at 03:30), so no run is lost."""
    instants = wall_instants(wall, tz)
    return instants[0] if instants else gap_instant(wall, tz)


@functools.lru_cache(maxsize=1024)
def _compiled(kind: ScheduleKind, expression: str) -> _CronRule | _IntervalRule:
    if kind is ScheduleKind.CRON:
        return _CronRule(parse_cron(expression))
    duration = parse_duration(expression)
    return _interval_rule(duration, "Schedule", expression)


def _interval_rule(duration: Duration, parameter: str, text: str) -> _IntervalRule:
    def refuse(problem: str) -> InvalidScheduleError:
        return InvalidScheduleError(
            f"The parameter {parameter} has an invalid interval {text!r}: {problem}",
            recommend=(
                "Use a positive ISO 8601 duration in whole units, e.g. 'PT1H', 'P1D', 'P1W' or "
                "'P1M'."
            ),
        )

    if duration.negative:
        raise refuse("an interval cannot be negative.")
    if duration.is_zero:
        raise refuse("an interval must be longer than zero.")
    for name in ("years", "months", "weeks", "days"):
        value: Decimal = getattr(duration, name)
        if value != value.to_integral_value():
            raise refuse(f"{name} must be a whole number ({value} is not).")
    seconds = duration.time_seconds()
    if seconds != seconds.to_integral_value():
        raise refuse(f"hours, minutes and seconds must add up to whole seconds ({seconds} s).")
    years, months = int(duration.years), int(duration.months)
    days = int(duration.weeks) * 7 + int(duration.days)
    if years > 9999 or months > 120_000 or days > 3_660_000 or seconds > 316_000_000_000:
        raise refuse("the interval is longer than the calendar (beyond year 9999).")
    approximate = int(years * 31_556_952 + months * 2_629_746 + days * 86_400 + int(seconds))
    return _IntervalRule(
        calendar=relativedelta(years=years, months=months, days=days),
        seconds=int(seconds),
        approximate=max(1, approximate),
    )


# -- parsing -----------------------------------------------------------------------------------
def parse_schedule(text: str, *, parameter: str = "Schedule") -> Schedule:
    """Parse a BACKUP rule's schedule string.

    Args:
        text: ``"I|1631685600|P1D"`` (daily from that instant) or ``"C|1631685600|0 0 2 ? *
            3,5,7"`` (02:00:00 every Tuesday, Thursday and Saturday, from that instant). A
            ``str`` subclass is read as its plain value.
        parameter: The API parameter name to cite in error messages (``"Schedule"``,
            ``"Rules[0].Schedule"``…).

    Returns:
        The schedule in canonical form (start without leading zeros, cron fields upper-cased
        and single-spaced).

    Raises:
        cloudbackup.errors.InvalidScheduleError: the string is malformed (code ``BadRequest``,
            HTTP 400); the message names the parameter and the part that is wrong.
    """
    if not isinstance(text, str):
        raise InvalidScheduleError(
            f"The parameter {parameter} must be a string like 'I|1631685600|P1D', not "
            f"{type(text).__name__}.",
            recommend=_RECOMMEND,
        )
    return _parse_schedule(str.__str__(text), parameter)


_RECOMMEND = (
    "Write 'I|{start}|{interval}' (e.g. 'I|1631685600|P1D') or 'C|{start}|{cron}' (e.g. "
    "'C|1631685600|0 0 2 ? * 3,5,7'), where start is a UNIX time in seconds."
)


@functools.lru_cache(maxsize=1024)
def _parse_schedule(text: str, parameter: str) -> Schedule:
    shown = text if len(text) <= 80 else text[:77] + "..."

    def refuse(problem: str) -> InvalidScheduleError:
        return InvalidScheduleError(
            f"The parameter {parameter} is not a valid schedule {shown!r}: {problem}",
            recommend=_RECOMMEND,
        )

    parts = text.split("|", 2)
    if len(parts) != 3:
        raise refuse(
            "a schedule has three parts separated by '|': the type (I or C), the start and the "
            "interval or cron expression."
        )
    kind_text, start_text, expression = parts
    if kind_text not in ("I", "C"):
        raise refuse(
            f"the type (first part) must be 'I' (interval) or 'C' (cron), not {kind_text!r}."
        )
    if not start_text:
        raise refuse("the start (second part) is empty; give a UNIX time in seconds.")
    if not (start_text.isascii() and start_text.isdigit()):
        first_bad = next((i for i, char in enumerate(start_text) if not ("0" <= char <= "9")), 0)
        raise refuse(
            f"the start (second part) {start_text[:30]!r} must be a UNIX time in whole seconds, "
            f"digits only; character {first_bad + 1} ({start_text[first_bad]!r}) is not a digit."
        )
    if len(start_text) > 20 or int(start_text) > MAX_START:
        raise refuse(
            f"the start (second part) {start_text[:30]} is after the last second of 2199 "
            f"({MAX_START})."
        )
    start = int(start_text)
    if kind_text == "C":
        cron = parse_cron(expression, parameter=parameter)
        return Schedule(kind=ScheduleKind.CRON, start=start, expression=cron.text)
    duration = parse_duration(expression, parameter=parameter)
    _interval_rule(duration, parameter, expression)
    return Schedule(kind=ScheduleKind.INTERVAL, start=start, expression=duration.text())
