"""The virtual-time event loop: timers kept in the backend, fired in time order.

Timers are records, so a durable backend keeps pending work (a snapshot still progressing, a
retention expiry, a key deletion) across a restart. A backend that can return the first record of
a partition (``first``, optional) is asked for the next timer directly, so nothing is loaded up
front; otherwise an in-memory heap mirrors the timers, rebuilt whenever a unit of work rolls back
or another process commits.

Each ``(action, region, target)`` has at most one pending timer: scheduling another replaces it,
and :meth:`Engine.cancel_for` removes it, so extended retentions and deleted snapshots leave no
stale timers behind.
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

__all__ = ["TIMER_INDEX", "Engine", "Timer"]

# Keys count microseconds from year 1, so that every representable instant sorts correctly.
_ORIGIN = _dt.datetime(1, 1, 1, tzinfo=_dt.timezone.utc)
TIMER_INDEX = "engine.timer_index"
"""Raw kind: partition = action, key = ``region|target``, value = the pending timer's key."""
_INDEX = TIMER_INDEX


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
        micros = (self.due - _ORIGIN) // _dt.timedelta(microseconds=1)
        return f"{micros:020d}:{self.sequence:012d}"


Handler = Callable[[Timer], None]


class Engine:
    """Schedules timers and runs them, in order, as virtual time advances."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._handlers: dict[str, Handler] = {}
        self._heap: list[tuple[str, Timer]] | None = None
        self._first: Callable[[str, str], tuple[str, object] | None] | None = getattr(
            store.backend, "first", None
        )
        store.on_rollback(self._invalidate)
        store.on_external_change(self._invalidate)

    def register(self, action: str, handler: Handler) -> None:
        """Route timers named ``action`` to ``handler`` (called inside a unit of work)."""
        self._handlers[action] = handler

    def schedule(
        self, due: _dt.datetime, action: str, region_id: str, target_id: str, payload: str = ""
    ) -> Timer:
        """Set the timer of ``(action, region_id, target_id)``, replacing a pending one."""
        self.cancel_for(action, region_id, target_id)
        timer = Timer(
            due=due,
            sequence=self._store.next_number("timer"),
            action=action,
            region_id=region_id,
            target_id=target_id,
            payload=payload,
        )
        self._store.put(Timer, "", timer.key, timer)
        self._store.raw_put(_INDEX, action, f"{region_id}|{target_id}", timer.key)
        if self._heap is not None:
            heapq.heappush(self._heap, (timer.key, timer))
        return timer

    def cancel_for(self, action: str, region_id: str, target_id: str) -> None:
        """Remove the pending timer of ``(action, region_id, target_id)``, if any."""
        key = self._store.raw_get(_INDEX, action, f"{region_id}|{target_id}")
        if key is None:
            return
        assert isinstance(key, str)
        self._store.delete(Timer, "", key)
        self._store.raw_delete(_INDEX, action, f"{region_id}|{target_id}")

    def pending(self) -> list[Timer]:
        """Every timer not yet fired, in firing order."""
        return self._store.scan(Timer, "")

    def next_due(self) -> _dt.datetime | None:
        """When the next timer fires, or None."""
        self._store.check_external()
        head = self._peek()
        return head.due if head is not None else None

    def run_until(self, instant: _dt.datetime) -> int:
        """Fire every timer due at or before ``instant``, each in its own unit of work.

        Returns how many timers fired. The clock ends at ``instant``. Each timer's work commits
        on its own, so if a later one fails (the backend is busy, say) the earlier ones stand.
        """
        instant = require_aware(instant, "instant")
        self._store.check_external()
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
                recommend="Pass an instant at or before cloudbackup.LATEST.",
            )
        fired = 0
        while True:
            head = self._peek()
            if head is None or head.due > instant:
                break
            with self._store.unit():
                # Everything happens after the unit has begun: if it cannot begin, neither the
                # clock nor the timer has moved.
                if self._store.get(Timer, "", head.key) is None:
                    continue  # already handled (by another process, or replaced)
                if not self._clock.advance_to(max(head.due, self._clock.now())):
                    break  # a wall clock that has not reached the timer yet
                self._store.delete(Timer, "", head.key)
                index = f"{head.region_id}|{head.target_id}"
                if self._store.raw_get(_INDEX, head.action, index) == head.key:
                    self._store.raw_delete(_INDEX, head.action, index)
                self._handlers[head.action](head)
                self._store.set_meta("clock", self._clock.now())
            fired += 1
        with self._store.unit():
            self._clock.advance_to(instant)
            self._store.set_meta("clock", self._clock.now())
        return fired

    # -- finding the next timer ------------------------------------------------------------
    def _invalidate(self) -> None:
        self._heap = None

    def _peek(self) -> Timer | None:
        if self._first is not None:
            found = self._first(Timer.KIND, "")
            if found is None:
                return None
            timer = found[1]
            assert isinstance(timer, Timer)
            return timer
        if self._heap is None:
            self._heap = [(t.key, t) for t in self._store.scan(Timer, "")]
            heapq.heapify(self._heap)
        while self._heap:
            key, timer = self._heap[0]
            if self._store.get(Timer, "", key) is not None:
                return timer
            heapq.heappop(self._heap)  # fired or cancelled: drop the stale entry
        return None
