"""UNIX seconds ↔ wall-clock times of a time zone, fast enough to call a million times.

Schedules are evaluated on a region's wall clock, and the fleet year asks for a next run once
per binding per day. Asking a ``dateutil`` zone for an offset costs microseconds, so each zone's
offset transitions are found once per span of about a year (:data:`_SPAN` seconds): the offset
is read at every UTC midnight of the span, and where two midnights differ the exact second of
the change is found by bisection (tz data has no day with two changes that cancel out). A
lookup is then a ``bisect`` in a short list. Works with every ``tzinfo`` (``zoneinfo``,
``dateutil``, fixed offsets).
"""

from __future__ import annotations

import bisect
import datetime as _dt

__all__ = ["epoch_of", "floor_epoch", "gap_instant", "offset_at", "to_wall", "wall_instants"]

_EPOCH = _dt.datetime(1970, 1, 1)
_UTC = _dt.timezone.utc
_DAY = 86400
_FIRST_SAFE = (_dt.datetime(2, 1, 1) - _EPOCH).days * _DAY
_LAST_SAFE = (_dt.datetime(9999, 12, 30) - _EPOCH).days * _DAY
#: The length of the span whose transitions are found at once: 2**25 s, about 388 days.
_SPAN = 2**25
#: Zones whose transitions are cached, by ``id``; the zone itself is kept so its id stays its own.
_CACHES: dict[int, tuple[_dt.tzinfo, dict[int, tuple[list[int], list[int]]]]] = {}
_MAX_ZONES = 64
_MAX_SPANS = 512


def floor_epoch(instant: _dt.datetime) -> int:
    """An aware datetime as whole UNIX seconds (fractions dropped, towards the past)."""
    delta = instant.astimezone(_UTC).replace(tzinfo=None) - _EPOCH
    return delta.days * _DAY + delta.seconds


def _exact_offset(tz: _dt.tzinfo, epoch: int) -> int:
    # Outside the years 2..9999 a datetime (or the zone's local time) would overflow; the
    # offset there is taken to be the one at the nearer end.
    epoch = min(max(epoch, _FIRST_SAFE), _LAST_SAFE)
    utc = _EPOCH + _dt.timedelta(seconds=epoch)
    local = tz.fromutc(utc.replace(tzinfo=tz)).replace(tzinfo=None)
    delta = local - utc
    return delta.days * _DAY + delta.seconds


def _spans(tz: _dt.tzinfo) -> dict[int, tuple[list[int], list[int]]]:
    entry = _CACHES.get(id(tz))
    if entry is not None and entry[0] is tz:
        return entry[1]
    if len(_CACHES) >= _MAX_ZONES:
        _CACHES.pop(next(iter(_CACHES)))
    spans: dict[int, tuple[list[int], list[int]]] = {}
    _CACHES[id(tz)] = (tz, spans)
    return spans


def _transitions(tz: _dt.tzinfo, span: int) -> tuple[list[int], list[int]]:
    """The instants in ``span`` where the offset changes (the span's start first) and the
    offset from each on."""
    low = span * _SPAN
    probes = [*range(low, low + _SPAN, _DAY), low + _SPAN - 1]
    offsets = [_exact_offset(tz, probe) for probe in probes]
    starts, values = [low], [offsets[0]]
    for index in range(1, len(probes)):
        if offsets[index] == offsets[index - 1]:
            continue
        before, after = probes[index - 1], probes[index]
        while after - before > 1:  # the first second with the new offset
            middle = (before + after) // 2
            if _exact_offset(tz, middle) == offsets[index - 1]:
                before = middle
            else:
                after = middle
        starts.append(after)
        values.append(offsets[index])
    return starts, values


def offset_at(tz: _dt.tzinfo, epoch: int) -> int:
    """The UTC offset of ``tz`` at the instant ``epoch``, in seconds."""
    spans = _spans(tz)
    span = epoch // _SPAN
    found = spans.get(span)
    if found is None:
        if len(spans) >= _MAX_SPANS:
            spans.clear()
        found = spans[span] = _transitions(tz, span)
    starts, values = found
    if len(starts) == 1:
        return values[0]
    return values[bisect.bisect_right(starts, epoch) - 1]


def to_wall(epoch: int, tz: _dt.tzinfo) -> _dt.datetime:
    """The naive wall-clock time of ``tz`` at the instant ``epoch``."""
    return _EPOCH + _dt.timedelta(seconds=epoch + offset_at(tz, epoch))


def epoch_of(wall: _dt.datetime, offset: int) -> int:
    """The instant at which a clock ``offset`` seconds ahead of UTC reads ``wall``."""
    delta = wall - _EPOCH
    return delta.days * _DAY + delta.seconds - offset


def wall_instants(wall: _dt.datetime, tz: _dt.tzinfo) -> tuple[int, ...]:
    """Every instant at which ``tz``'s clock reads ``wall``, earliest first.

    Empty in a spring-forward gap, two instants in a fall-back repeat, one otherwise. The
    offsets in force near ``wall`` are those 15 hours before and 13 hours after it read as UTC
    (offsets lie within -12 h … +14 h, and no zone changes offset twice in 28 hours).
    """
    as_utc = epoch_of(wall, 0)
    before = offset_at(tz, as_utc - 15 * 3600)
    after = offset_at(tz, as_utc + 13 * 3600)
    found = []
    for offset in sorted({before, after}, reverse=True):
        candidate = as_utc - offset
        if offset_at(tz, candidate) == offset:
            found.append(candidate)
    return tuple(found)


def gap_instant(wall: _dt.datetime, tz: _dt.tzinfo) -> int:
    """For a wall time in a spring-forward gap: the instant it names on the clock before the
    gap (02:30 in a gap from 02:00 to 03:00 is 03:30 after it), as Java's calendar reads it."""
    as_utc = epoch_of(wall, 0)
    return as_utc - offset_at(tz, as_utc - 15 * 3600)
