"""The virtual-time event loop: timers kept in the backend, fired in time order.

Timers are records, so a durable backend keeps pending work (a snapshot still progressing, a
retention expiry, a key deletion) across a restart. An in-memory heap mirrors them for speed and
is rebuilt from the records whenever a unit of work rolls back.
"""

from __future__ import annotations

import datetime as _dt
import heapq
from collections.abc import Callable
from typing import ClassVar

import attrs

from ._store import Store
from ._time import LATEST, Clock, require_aware
from .errors import InvalidParameterError

__all__ = ["Engine", "Timer"]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


@attrs.frozen
class Timer:
    """Work due at a virtual instant: ``action`` applied to ``target_id`` in ``region_id``."""

    KIND: ClassVar[str] = "engine.timer"

    due: _dt.datetime
    sequence: int
    """Tie-break: timers due at the same instant fire in the order they were scheduled."""
    action: str
    region_id: str
    target_id: str
    payload: str = ""

    @property
    def key(self) -> str:
        """The record key: sorts by due time, then sequence."""
        micros = (self.due - _EPOCH) // _dt.timedelta(microseconds=1)
        return f"{micros:020d}:{self.sequence:012d}"


Handler = Callable[[Timer], None]


class Engine:
    """Schedules timers and runs them, in order, as virtual time advances."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._handlers: dict[str, Handler] = {}
        self._heap: list[tuple[str, Timer]] | None = None
        self._generation: int | None = None
        store.on_rollback(self._invalidate)

    def register(self, action: str, handler: Handler) -> None:
        """Route timers named ``action`` to ``handler`` (called inside a unit of work)."""
        self._handlers[action] = handler

    def schedule(
        self, due: _dt.datetime, action: str, region_id: str, target_id: str, payload: str = ""
    ) -> Timer:
        """Add a timer (inside the current unit of work)."""
        timer = Timer(
            due=due,
            sequence=self._store.next_number("timer"),
            action=action,
            region_id=region_id,
            target_id=target_id,
            payload=payload,
        )
        self._store.put(Timer, "", timer.key, timer)
        if self._heap is not None:
            heapq.heappush(self._heap, (timer.key, timer))
        return timer

    def cancel(self, timer: Timer) -> None:
        """Remove a timer that has not fired."""
        self._store.delete(Timer, "", timer.key)

    def pending(self) -> list[Timer]:
        """Every timer not yet fired, in firing order."""
        return self._store.scan(Timer, "")

    def next_due(self) -> _dt.datetime | None:
        """When the next timer fires, or None."""
        head = self._peek()
        return head.due if head is not None else None

    def run_until(self, instant: _dt.datetime) -> int:
        """Fire every timer due at or before ``instant``, each in its own unit of work.

        Returns how many timers fired. The clock ends at ``instant``.
        """
        instant = require_aware(instant, "instant")
        if instant < self._clock.now():
            raise InvalidParameterError(
                f"Cannot run until {instant.isoformat()}: virtual time is already at "
                f"{self._clock.now().isoformat()}.",
                recommend="Pass an instant at or after cloud.now().",
            )
        if instant > LATEST:
            raise InvalidParameterError(
                f"Cannot run until {instant.isoformat()}: virtual time ends at "
                f"{LATEST.isoformat()}.",
                recommend="Pass an instant at or before cloudbackup._time.LATEST.",
            )
        generation = getattr(self._store.backend, "generation", None)
        if generation is not None:  # another process may have scheduled timers meanwhile
            now_generation = generation()
            if now_generation != self._generation:
                self._invalidate()
                self._generation = now_generation
        fired = 0
        while True:
            head = self._peek()
            if head is None or head.due > instant:
                break
            if not self._clock.advance_to(max(head.due, self._clock.now())):
                break
            assert self._heap is not None
            heapq.heappop(self._heap)
            with self._store.unit():
                if self._store.get(Timer, "", head.key) is None:
                    continue
                self._store.delete(Timer, "", head.key)
                self._handlers[head.action](head)
                self._store.set_meta("clock", self._clock.now())
            fired += 1
        self._clock.advance_to(instant)
        with self._store.unit():
            self._store.set_meta("clock", self._clock.now())
        return fired

    # -- heap mirror ---------------------------------------------------------------------
    def _invalidate(self) -> None:
        self._heap = None

    def _peek(self) -> Timer | None:
        if self._heap is None:
            self._heap = [(t.key, t) for t in self._store.scan(Timer, "")]
            heapq.heapify(self._heap)
        while self._heap:
            key, timer = self._heap[0]
            if self._store.get(Timer, "", key) is not None:
                return timer
            heapq.heappop(self._heap)
        return None
