"""ISO 8601 durations (``P1D``, ``PT1H``, ``P1Y2M3DT4H5M6S``, ``P2W``) with calendar units kept.

:func:`parse_duration` reads the durations Cloud Backup's ``I|{start}|{interval}`` schedules
use, and the rest of ISO 8601's duration forms: designator form ``PnYnMnDTnHnMnS``, week form
``PnW``, the alternative form ``PYYYY-MM-DDThh:mm:ss`` and an optional leading sign. Years and
months stay calendar units (a month is not 30 days), so the result converts to a
:class:`dateutil.relativedelta.relativedelta` and ``P1M`` from 31 January lands on the last day
of February.

What is refused, with the character where it goes wrong: a missing ``P``, weeks mixed with other
units, a sign inside the value, designators out of order or repeated, a time unit without ``T``,
a ``T`` with nothing after it, an empty number, lowercase designators and anything that is not
ASCII. The decimal sign may be ``.`` or ``,``, on the last (smallest) component only.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

import attrs
from dateutil.relativedelta import relativedelta

from ..errors import InvalidScheduleError

__all__ = ["Duration", "parse_duration"]

_ZERO = Decimal(0)
_DATE_UNITS = ("Y", "M", "W", "D")
_TIME_UNITS = ("H", "M", "S")
_DATE_NAMES = {"Y": "years", "M": "months", "W": "weeks", "D": "days"}
_TIME_NAMES = {"H": "hours", "M": "minutes", "S": "seconds"}
#: Digits in one number: beyond this a duration is nonsense, and big decimals are slow.
_MAX_DIGITS = 30


@attrs.frozen
class Duration:
    """An ISO 8601 duration, component by component, exactly as written.

    Components are :class:`decimal.Decimal` so ``PT0.0000001S`` keeps its value, and years and
    months stay calendar units. Compare durations by component: ``P1D`` and ``PT24H`` differ,
    because a day in local time is not always 24 hours.
    """

    years: Decimal = _ZERO
    """The ``nY`` component."""
    months: Decimal = _ZERO
    """The ``nM`` component before ``T`` (calendar months)."""
    weeks: Decimal = _ZERO
    """The ``nW`` component (the week form ``PnW`` stands alone)."""
    days: Decimal = _ZERO
    """The ``nD`` component."""
    hours: Decimal = _ZERO
    """The ``nH`` component."""
    minutes: Decimal = _ZERO
    """The ``nM`` component after ``T``."""
    seconds: Decimal = _ZERO
    """The ``nS`` component."""
    negative: bool = False
    """The duration was written with a leading ``-`` (it counts backwards)."""

    @property
    def is_zero(self) -> bool:
        """Every component is zero."""
        return not any(
            (self.years, self.months, self.weeks, self.days, self.hours, self.minutes, self.seconds)
        )

    @property
    def has_calendar_units(self) -> bool:
        """Years, months, weeks or days are present (their length depends on the calendar)."""
        return bool(self.years or self.months or self.weeks or self.days)

    def time_seconds(self) -> Decimal:
        """The hours, minutes and seconds as a number of seconds (unsigned)."""
        return self.hours * 3600 + self.minutes * 60 + self.seconds

    def to_relativedelta(self) -> relativedelta:
        """This duration as a ``relativedelta`` (signed).

        Raises:
            ValueError: years or months are not whole numbers; ``relativedelta`` (and the
                calendar) has no meaning for half a month.
        """
        if self.years != self.years.to_integral_value() or (
            self.months != self.months.to_integral_value()
        ):
            raise ValueError(f"{self.text()} has a fractional year or month.")
        sign = -1 if self.negative else 1
        days = self.weeks * 7 + self.days
        seconds = days * 86400 + self.time_seconds()
        whole_days = int(seconds // 86400)
        rest = seconds - whole_days * 86400
        micro = int((rest * 1_000_000).to_integral_value(rounding=decimal.ROUND_HALF_EVEN))
        return relativedelta(
            years=sign * int(self.years),
            months=sign * int(self.months),
            days=sign * whole_days,
            microseconds=sign * micro,
        ).normalized()

    def text(self) -> str:
        """The canonical designator form, e.g. ``"P1Y2M3DT4H5M6.5S"`` or ``"PT0S"``."""
        out = ["-P" if self.negative else "P"]
        for unit, name in _DATE_NAMES.items():
            value: Decimal = getattr(self, name)
            if value:
                out.append(f"{_number(value)}{unit}")
        time = [
            f"{_number(getattr(self, name))}{unit}"
            for unit, name in _TIME_NAMES.items()
            if getattr(self, name)
        ]
        if time:
            out.append("T" + "".join(time))
        if len(out) == 1:
            out.append("T0S" if not self.weeks else "0W")
        return "".join(out)


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


class _Failure(Exception):
    def __init__(self, position: int, problem: str) -> None:
        super().__init__(problem)
        self.position = position
        self.problem = problem


def parse_duration(text: str, *, parameter: str = "Duration") -> Duration:
    """Parse an ISO 8601 duration.

    Args:
        text: ``"P1D"``, ``"PT1H"``, ``"P1Y2M10DT2H30M"``, ``"P2W"``, ``"P0001-02-03T04:05:06"``,
            optionally signed (``"-P1D"``). A ``str`` subclass is read as its plain value.
        parameter: The API parameter name to cite in the error message.

    Returns:
        The duration, years and months kept as calendar units.

    Raises:
        cloudbackup.errors.InvalidScheduleError: ``text`` is not an ISO 8601 duration; the
            message names the parameter and the character where it goes wrong (code
            ``BadRequest``).
    """
    if not isinstance(text, str):
        raise InvalidScheduleError(
            f"The parameter {parameter} must be a string like 'P1D', not {type(text).__name__}.",
            recommend="Pass an ISO 8601 duration such as 'PT1H', 'P1D' or 'P1W'.",
        )
    value = str.__str__(text)
    try:
        return _parse(value)
    except _Failure as failure:
        raise _error(parameter, value, failure.position, failure.problem) from None


def _error(parameter: str, text: str, position: int, problem: str) -> InvalidScheduleError:
    shown = text if len(text) <= 60 else text[:57] + "..."
    where = f"character {position + 1} ({text[position]!r})" if position < len(text) else "the end"
    return InvalidScheduleError(
        f"The parameter {parameter} is not a valid ISO 8601 duration: {shown!r} at {where}: "
        f"{problem}",
        recommend=(
            "Write the interval as P, then date parts in the order nY nM nD (or nW alone), then "
            "T and time parts in the order nH nM nS, e.g. 'P1D', 'PT12H' or 'P1W'."
        ),
    )


def _parse(text: str) -> Duration:
    if not text:
        raise _Failure(0, "a duration cannot be empty.")
    for index, char in enumerate(text):
        if not (" " < char < "\x7f"):
            raise _Failure(index, "only ASCII letters, digits, '.', ',', ':' and '-' are allowed.")
    position = 0
    negative = False
    if text[0] in "+-":
        negative = text[0] == "-"
        position = 1
    if position >= len(text) or text[position] != "P":
        raise _Failure(position, "a duration starts with 'P'.")
    position += 1
    rest = text[position:]
    if rest[:1].isdigit() and len(rest) > 4 and rest[4] == "-":
        return _parse_alternative(text, position, negative)
    return _parse_designators(text, position, negative)


def _read_number(text: str, position: int) -> tuple[Decimal, int, bool]:
    """A number at ``position``: the value, the position after it, whether it had a fraction."""
    start = position
    while position < len(text) and text[position].isdigit():
        position += 1
    if position == start:
        raise _Failure(start, "a number is expected here.")
    whole = text[start:position]
    fraction = ""
    has_fraction = False
    if position < len(text) and text[position] in ".,":
        has_fraction = True
        position += 1
        frac_start = position
        while position < len(text) and text[position].isdigit():
            position += 1
        if position == frac_start:
            raise _Failure(position, "a decimal sign must be followed by digits.")
        fraction = text[frac_start:position]
    if len(whole) + len(fraction) > _MAX_DIGITS:
        raise _Failure(start, f"a number may have at most {_MAX_DIGITS} digits.")
    number = Decimal(f"{whole}.{fraction}" if fraction else whole)
    return number, position, has_fraction


def _parse_designators(text: str, position: int, negative: bool) -> Duration:
    values: dict[str, Decimal] = {}
    in_time = False
    order: tuple[str, ...] = _DATE_UNITS
    last_index = -1
    fraction_at: int | None = None
    if position >= len(text):
        raise _Failure(position, "a duration needs at least one number and unit after 'P'.")
    while position < len(text):
        char = text[position]
        if char == "T":
            if in_time:
                raise _Failure(position, "'T' appears only once.")
            in_time = True
            order = _TIME_UNITS
            last_index = -1
            position += 1
            if position >= len(text):
                raise _Failure(position, "'T' must be followed by hours, minutes or seconds.")
            continue
        if fraction_at is not None:
            raise _Failure(
                fraction_at, "only the last (smallest) component may have a decimal fraction."
            )
        number_start = position
        number, position, has_fraction = _read_number(text, position)
        if position >= len(text):
            raise _Failure(position, "a number must be followed by a unit designator.")
        unit = text[position]
        if unit not in order:
            if not in_time and unit in _TIME_UNITS and unit != "M":
                problem = f"'{unit}' is a time unit: put 'T' before hours, minutes and seconds."
            elif in_time and unit in ("Y", "W", "D"):
                problem = f"'{unit}' is a date unit and must come before 'T'."
            else:
                allowed = "H, M or S" if in_time else "Y, M, W or D"
                problem = f"{unit!r} is not a unit designator here (expected {allowed})."
            raise _Failure(position, problem)
        index = order.index(unit)
        if index <= last_index:
            raise _Failure(position, f"'{unit}' is repeated or out of order.")
        last_index = index
        name = (_TIME_NAMES if in_time else _DATE_NAMES)[unit]
        values[name] = number
        if has_fraction:
            fraction_at = number_start
        position += 1
    if "weeks" in values and len(values) > 1:
        raise _Failure(
            text.index("W"), "weeks cannot be combined with other units (write days instead)."
        )
    return Duration(negative=negative, **values)


def _parse_alternative(text: str, position: int, negative: bool) -> Duration:
    """``PYYYY-MM-DDThh:mm:ss[.f]``: fixed-width, each part within its calendar range."""
    body = text[position:]
    if len(body) < 19 or body[4] != "-" or body[7] != "-" or body[10] != "T":
        raise _Failure(position, "the alternative form is PYYYY-MM-DDThh:mm:ss.")
    if body[13] != ":" or body[16] != ":":
        raise _Failure(position + 13, "the alternative form is PYYYY-MM-DDThh:mm:ss.")
    parts: list[Decimal] = []
    for offset, width, limit, name in (
        (0, 4, 9999, "years"),
        (5, 2, 12, "months"),
        (8, 2, 30, "days"),
        (11, 2, 24, "hours"),
        (14, 2, 59, "minutes"),
    ):
        chunk = body[offset : offset + width]
        if not chunk.isdigit():
            raise _Failure(position + offset, f"{name} must be {width} digits.")
        if int(chunk) > limit:
            raise _Failure(position + offset, f"{name} must be at most {limit}.")
        parts.append(Decimal(int(chunk)))
    seconds_text = body[17:]
    if not seconds_text[:2].isdigit():
        raise _Failure(position + 17, "seconds must be 2 digits.")
    seconds, end, _ = _read_number(body, 17)
    if end != len(body):
        raise _Failure(position + end, "nothing may follow the seconds.")
    if seconds >= 60:
        raise _Failure(position + 17, "seconds must be below 60.")
    years, months, days, hours, minutes = parts
    return Duration(
        years=years,
        months=months,
        days=days,
        hours=hours,
        minutes=minutes,
        seconds=seconds,
        negative=negative,
    )
