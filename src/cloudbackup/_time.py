"""Clocks: virtual time for simulations, wall time for those who want it.

Nothing in :mod:`cloudbackup` reads the wall clock except :class:`SystemClock`, and only when a
user passes one to :class:`cloudbackup.Cloud`. Every datetime that enters or leaves the library
is timezone-aware; naive datetimes are refused.
"""

from __future__ import annotations

import datetime as _dt
from typing import Protocol, runtime_checkable

from .errors import InvalidParameterError

__all__ = ["DEFAULT_START", "LATEST", "Clock", "ManualClock", "SystemClock", "require_aware"]

#: The instant a default :class:`ManualClock` starts at: 2024-01-01 00:00:00 UTC.
DEFAULT_START = _dt.datetime(2024, 1, 1, tzinfo=_dt.timezone.utc)
#: The last instant virtual time may reach: 9000-01-01 00:00:00 UTC. Everything the model
#: schedules from "now" (at most 65,536 days of retention) still fits in a datetime after it.
LATEST = _dt.datetime(9000, 1, 1, tzinfo=_dt.timezone.utc)


def require_aware(value: object, name: str = "datetime") -> _dt.datetime:
    """Return ``value`` as a plain UTC :class:`datetime.datetime`, or raise if it is not tz-aware.

    A subclass of ``datetime`` (a pandas ``Timestamp``, say) is accepted and copied into a plain
    ``datetime`` of the same instant (to the microsecond), so every instant that enters the
    library is stored and compared the same way on every backend.
    """
    if type(value) is _dt.datetime and value.tzinfo is _dt.timezone.utc:
        return value  # the common case, already plain UTC
    if not isinstance(value, _dt.datetime):
        raise InvalidParameterError(
            f"{name} must be a datetime, not {type(value).__name__}.",
            code="InvalidParameter",
            recommend="Pass a timezone-aware datetime.datetime.",
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidParameterError(
            f"{name} {value.isoformat()} is naive; only timezone-aware datetimes are accepted.",
            code="InvalidParameter",
            recommend="Attach a tzinfo, e.g. value.replace(tzinfo=datetime.timezone.utc).",
        )
    try:
        utc = value.astimezone(_dt.timezone.utc)
    except OverflowError:
        raise InvalidParameterError(
            f"{name} {value.isoformat()} lies outside the range of datetimes in UTC.",
            code="InvalidParameter",
            recommend="Pass an instant between the years 1 and 9999 in UTC.",
        ) from None
    if type(utc) is _dt.datetime:
        return utc
    return _dt.datetime(
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
        utc.microsecond,
        tzinfo=_dt.timezone.utc,
    )


@runtime_checkable
class Clock(Protocol):
    """Where a :class:`~cloudbackup.Cloud` reads the time."""

    def now(self) -> _dt.datetime:
        """The current instant, timezone-aware UTC."""
        ...

    def advance_to(self, instant: _dt.datetime) -> bool:
        """Move the clock forward to ``instant`` (never backwards).

        Returns whether the clock now reads ``instant`` or later. The event loop calls this
        before it processes an event due at ``instant`` and stops when it returns False: a
        virtual clock always jumps and returns True, a wall clock cannot be moved and returns
        True only once ``instant`` has really passed.
        """
        ...


class ManualClock:
    """A virtual clock that only moves when told to.

    Args:
        start: The initial instant (timezone-aware). Defaults to :data:`DEFAULT_START`.
    """

    def __init__(self, start: _dt.datetime = DEFAULT_START) -> None:
        self._now = require_aware(start, "start")

    def now(self) -> _dt.datetime:
        """The current virtual instant."""
        return self._now

    def advance_to(self, instant: _dt.datetime) -> bool:
        """Set the clock to ``instant`` and return True; moving backwards raises."""
        instant = require_aware(instant, "instant")
        if instant < self._now:
            raise InvalidParameterError(
                f"Virtual time cannot move backwards from {self._now.isoformat()} "
                f"to {instant.isoformat()}.",
                recommend="Advance to an instant at or after cloud.clock.now().",
            )
        self._now = instant
        return True

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()})"


class SystemClock:
    """Wall-clock time, for users who want the model to follow real time.

    Events are still only processed when :meth:`cloudbackup.Cloud.run_until` or
    :meth:`cloudbackup.Cloud.advance` is called; the clock itself never jumps.
    """

    def now(self) -> _dt.datetime:
        """The current wall-clock instant in UTC."""
        return _dt.datetime.now(_dt.timezone.utc)

    def advance_to(self, instant: _dt.datetime) -> bool:
        """Wall time cannot be moved: return whether ``instant`` has already passed."""
        return require_aware(instant, "instant") <= self.now()

    def __repr__(self) -> str:
        return "SystemClock()"
