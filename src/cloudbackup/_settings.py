"""What a world is configured with: durations (:class:`Timings`), quotas (:class:`Limits`) and
how much of the event log is kept (:class:`EventRetention`).

Both are validated when they are built, by attrs validators with bounds chosen so that no
configuration can break the model later: every duration a timer can be scheduled with stays far
inside virtual time (which ends at :data:`~cloudbackup.LATEST`, about 1,000 years before the
last instant ``datetime`` can hold), and no quota can ask for more data disks than there are
device names (``/dev/xvdb`` to ``/dev/xvdz``). A value out of bounds, of the wrong type, or a
``bool`` where a number is meant is refused with :class:`~cloudbackup.errors.InvalidParameterError`
(code ``InvalidParameter``). Subclassed values (an ``int`` or ``timedelta`` subclass) are
normalised to the plain type, so both backends store the same thing.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import attrs

from ._domain.ecs import DATA_DEVICES
from .errors import InvalidParameterError

__all__ = [
    "DEFAULT_MAX_EVENTS",
    "MAX_EVENT_AGE",
    "MAX_EVENTS",
    "MAX_DURATION",
    "MAX_SNAPSHOT_THROUGHPUT",
    "MIN_SNAPSHOT_THROUGHPUT",
    "EventRetention",
    "Limits",
    "Timings",
]

MAX_DURATION = _dt.timedelta(days=365)
"""The longest any one simulated duration of :class:`Timings` may be."""
MIN_SNAPSHOT_THROUGHPUT = 1024 * 1024
"""The slowest snapshot upload (bytes per second): the largest disk (64 TiB) then takes about
two years, so a snapshot's completion can never fall outside virtual time."""
MAX_SNAPSHOT_THROUGHPUT = 10**18
"""The fastest snapshot upload (bytes per second): an exabyte a second, so that every upload
takes just ``snapshot_base`` (what the stateful test machine uses)."""


def _refuse(owner: str, name: str, value: object, expect: str) -> InvalidParameterError:
    return InvalidParameterError(
        f"{owner}.{name} is {value!r}; it must be {expect}.",
        code="InvalidParameter",
        recommend=f"Pass {owner}({name}=...) with {expect}.",
    )


def _plain_duration(value: object) -> object:
    """A ``timedelta`` subclass becomes a plain ``timedelta``; anything else is left for the
    validator to refuse."""
    if isinstance(value, _dt.timedelta) and type(value) is not _dt.timedelta:
        return _dt.timedelta(value.days, value.seconds, value.microseconds)
    return value


def _plain_int(value: object) -> object:
    """An ``int`` subclass (other than ``bool``) becomes a plain ``int``."""
    if isinstance(value, int) and not isinstance(value, bool) and type(value) is not int:
        return int(value)
    return value


def _duration_within(lo: _dt.timedelta, hi: _dt.timedelta) -> Any:
    """An attrs validator: a ``timedelta`` from ``lo`` to ``hi`` inclusive."""

    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, _dt.timedelta) or not lo <= value <= hi:
            raise _refuse(
                type(instance).__name__,
                attribute.name,
                value,
                f"a datetime.timedelta from {lo} to {hi}",
            )

    return check


def _int_within(lo: int, hi: int) -> Any:
    """An attrs validator: an ``int`` (not ``bool``) from ``lo`` to ``hi`` inclusive."""

    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise _refuse(
                type(instance).__name__, attribute.name, value, f"an integer from {lo} to {hi}"
            )

    return check


_DURATION = _duration_within(_dt.timedelta(0), MAX_DURATION)


@attrs.frozen
class Timings:
    """How long simulated operations take, in virtual time. Change them to model slow days.

    Each duration is from zero to :data:`MAX_DURATION` (365 days); ``snapshot_throughput`` is
    from :data:`MIN_SNAPSHOT_THROUGHPUT` (1 MiB/s) to :data:`MAX_SNAPSHOT_THROUGHPUT` (10**18 B/s).
    Anything else is refused here, with ``InvalidParameter``.
    """

    instance_pending: _dt.timedelta = attrs.field(
        default=_dt.timedelta(seconds=30), converter=_plain_duration, validator=_DURATION
    )
    """``Pending`` → next status after an instance is created."""
    instance_start: _dt.timedelta = attrs.field(
        default=_dt.timedelta(seconds=20), converter=_plain_duration, validator=_DURATION
    )
    """``Starting`` → ``Running``."""
    instance_stop: _dt.timedelta = attrs.field(
        default=_dt.timedelta(seconds=10), converter=_plain_duration, validator=_DURATION
    )
    """``Stopping`` → ``Stopped``."""
    snapshot_base: _dt.timedelta = attrs.field(
        default=_dt.timedelta(seconds=60), converter=_plain_duration, validator=_DURATION
    )
    """Fixed part of a standard (not instant-access) snapshot's duration."""
    snapshot_throughput: int = attrs.field(
        default=100 * 1024 * 1024,
        converter=_plain_int,
        validator=_int_within(MIN_SNAPSHOT_THROUGHPUT, MAX_SNAPSHOT_THROUGHPUT),
    )
    """Bytes per second a standard snapshot uploads its incremental data at."""

    def snapshot_duration(self, incremental_bytes: int) -> _dt.timedelta:
        """How long a standard snapshot of ``incremental_bytes`` stays ``progressing``."""
        return self.snapshot_base + _dt.timedelta(
            seconds=incremental_bytes / self.snapshot_throughput
        )


@attrs.frozen
class Limits:
    """Quotas the model enforces; defaults are the real service's (facts §11.3).

    Every limit is a positive integer up to a ceiling: ``data_disks_per_instance`` at most
    25 (one per device name ``/dev/xvdb``–``/dev/xvdz``), the others at most 65,536
    (``manual_snapshots_per_disk``, ``snapshot_group_max_tib``) or 1,024
    (``snapshot_group_max_disks``, ``multi_attach_max_instances``).
    """

    manual_snapshots_per_disk: int = attrs.field(
        default=256, converter=_plain_int, validator=_int_within(1, 65536)
    )
    data_disks_per_instance: int = attrs.field(
        default=16, converter=_plain_int, validator=_int_within(1, len(DATA_DEVICES))
    )
    snapshot_group_max_disks: int = attrs.field(
        default=128, converter=_plain_int, validator=_int_within(1, 1024)
    )
    """CreateSnapshotGroup: at most this many disks (2024 docs said 16)."""
    snapshot_group_max_tib: int = attrs.field(
        default=256, converter=_plain_int, validator=_int_within(1, 65536)
    )
    """CreateSnapshotGroup: at most this many TiB in total (2024 docs said 32)."""
    multi_attach_max_instances: int = attrs.field(
        default=16, converter=_plain_int, validator=_int_within(1, 1024)
    )


DEFAULT_MAX_EVENTS = 100_000
"""How many events :class:`EventRetention` keeps by default: the newest 100,000.

A fleet of 1,000 instances with 3 data disks, each snapshotted daily with retention, records
about 12,000 events a virtual day (4.3 million in a year); 100,000 keep the last week or so of
such a fleet (tens of megabytes), and every event of a test or a small simulation, while a year's
log no longer grows without end. Subscribers see every event whatever is kept."""
MAX_EVENTS = 10**12
"""The largest count :class:`EventRetention` accepts (a bound that is never reached)."""
MAX_EVENT_AGE = _dt.timedelta(days=36525)
"""The longest age :class:`EventRetention` accepts: 100 years of virtual time."""


def _optional_int_within(lo: int, hi: int) -> Any:
    """An attrs validator: None, or an ``int`` (not ``bool``) from ``lo`` to ``hi``."""
    check = _int_within(lo, hi)

    def optional(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None:
            check(instance, attribute, value)

    return optional


def _optional_duration_within(lo: _dt.timedelta, hi: _dt.timedelta) -> Any:
    """An attrs validator: None, or a ``timedelta`` from ``lo`` to ``hi``."""
    check = _duration_within(lo, hi)

    def optional(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None:
            check(instance, attribute, value)

    return optional


@attrs.frozen
class EventRetention:
    """How much of the event log a world keeps (``Cloud(event_retention=...)``).

    The stored log keeps at most ``max_events`` events (1 to :data:`MAX_EVENTS`; None: no count
    bound) and drops events more than ``max_age`` older than the newest event (0 to
    :data:`MAX_EVENT_AGE`; None: no age bound). The oldest events go first, when a new event is
    recorded, and each costs one deletion: trimming costs the events dropped, never the log.
    Subscribers see every event, kept or not. The default keeps the newest
    :data:`DEFAULT_MAX_EVENTS` (100,000); ``EventRetention(max_events=None)`` keeps everything.

    The retention is stored with the world: a reopened world keeps the one it was made with
    unless another is given, which then applies from the next event on.
    """

    max_events: int | None = attrs.field(
        default=DEFAULT_MAX_EVENTS,
        converter=_plain_int,
        validator=_optional_int_within(1, MAX_EVENTS),
    )
    """Keep at most this many events (the newest)."""
    max_age: _dt.timedelta | None = attrs.field(
        default=None,
        converter=_plain_duration,
        validator=_optional_duration_within(_dt.timedelta(0), MAX_EVENT_AGE),
    )
    """Drop events older than the newest event's time minus this."""

    def stored(self) -> tuple[int | None, int | None]:
        """The retention as stored with a world: ``(max_events, max_age in microseconds)``."""
        age = None if self.max_age is None else self.max_age // _dt.timedelta(microseconds=1)
        return (self.max_events, age)

    @classmethod
    def from_stored(cls, value: object) -> EventRetention | None:
        """The retention :meth:`stored` gave, or None if ``value`` is not one."""
        if not (isinstance(value, tuple) and len(value) == 2):
            return None
        count, age = value
        if age is not None and type(age) is not int:
            return None
        try:
            return cls(
                max_events=count,
                max_age=None if age is None else _dt.timedelta(microseconds=age),
            )
        except (InvalidParameterError, TypeError, OverflowError):
            return None
