"""The virtual-time event loop: timers kept in the backend, fired in time order.

Timers are records, so a durable backend keeps pending work (a snapshot still progressing, a
retention expiry, a key deletion) across a restart. A backend that can return the first record of
a partition (``first``, optional) is asked for the next timer directly, so nothing is loaded up
front; otherwise an in-memory heap mirrors the timers, rebuilt whenever a unit of work rolls back
or another process commits.

Each ``(action, region, target)`` has at most one pending timer: scheduling another replaces it,
and :meth:`Engine.cancel_for` removes it, so extended retentions and deleted snapshots leave no
stale timers behind.

A handler that raises fails alone: see :meth:`Engine.run_until`.
"""

from __future__ import annotations

import datetime as _dt
import functools
import heapq
from collections.abc import Callable
from typing import ClassVar

import attrs

from ._ids import Counter
from ._store import Store, damaged_value, raw_kind
from ._time import LATEST, Clock, ManualClock, require_aware
from ._typenames import stored_as
from .errors import InvalidParameterError, StorageBackendError

__all__ = ["FAILED_TIMER", "TIMER_INDEX", "Engine", "FailedTimer", "Timer"]

# Keys count microseconds from year 1, so that every representable instant sorts correctly.
_ORIGIN = _dt.datetime(1, 1, 1, tzinfo=_dt.timezone.utc)
_MICROSECOND = _dt.timedelta(microseconds=1)
TIMER_INDEX = raw_kind("engine.timer_index")
"""Raw kind: partition = action, key = ``region|target``, value = the pending timer's key."""
_INDEX = TIMER_INDEX


@stored_as("engine.Timer")
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
        micros = (self.due - _ORIGIN) // _MICROSECOND
        return f"{micros:020d}:{self.sequence:012d}"


@stored_as("engine.FailedTimer")
@attrs.frozen
class FailedTimer:
    """A timer whose handler raised: its work was undone and it will not fire again."""

    KIND: ClassVar[str] = "engine.failed_timer"

    timer: Timer
    """The timer as it was due."""
    error: str
    """The exception the handler raised, as ``"TypeName: message"``."""


_TIMER_KIND = Timer.KIND

FAILED_TIMER = FailedTimer.KIND
"""Record kind of :class:`FailedTimer`: partition ``""``, key = the timer's key."""

Handler = Callable[[Timer], None]


class Engine:
    """Schedules timers and runs them, in order, as virtual time advances.

    Each timer fires in a unit of work of its own, and its handler runs in a savepoint inside
    it. If a handler raises an :class:`Exception`, exactly the handler's writes (records, ids,
    events) are undone, the timer leaves the queue and is kept as a :class:`FailedTimer`
    (see :meth:`failed`), and the other timers due in the same call still fire in order; once
    the clock has reached the requested instant, the first handler's exception is raised (with
    a note naming every failed timer). Time can therefore never be stuck behind a bad timer.

    A :class:`~cloudbackup.errors.StorageBackendError` raised inside a handler (the disk is
    full, an I/O error, a damaged record, a savepoint that could not be rolled back) is not the
    handler's fault: it rolls back the timer's whole unit, the timer stays pending and the error
    is raised at once.

    A call that is rejected (an invalid instant, a backend that cannot begin or commit, a
    storage failure in a handler, a ``BaseException`` such as ``KeyboardInterrupt``) leaves the
    in-process clock where the last committed unit left it: the work of the failed unit is
    rolled back, and so is the clock. An exception raised after a unit committed (by an event
    subscriber) does not move the clock back: that unit's work and time stand.
    """

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._handlers: dict[str, Handler] = {}
        self._on_failure: dict[str, Handler] = {}
        self._sequences = Counter(store, "timer")
        self._heap: list[tuple[str, Timer]] | None = None
        self._first: Callable[[str, str], tuple[str, object] | None] | None = getattr(
            store.backend, "first", None
        )
        store.on_rollback(self._invalidate)
        store.on_external_change(self._invalidate)

    def register(self, action: str, handler: Handler, on_failure: Handler | None = None) -> None:
        """Route timers named ``action`` to ``handler`` (called inside a unit of work).

        ``on_failure``, if given, runs after ``handler`` raised and its work was undone, in a
        savepoint of its own in the same unit: the place for a timer that stands for several
        items (one timer per instant for everything due then) to set aside the item that failed
        and set itself again for the rest, so one bad item does not hold back the others. The
        failure is recorded and raised as for any timer; if ``on_failure`` raises as well, its
        work is undone too and its exception is recorded beside the first.
        """
        self._handlers[action] = handler
        if on_failure is None:
            self._on_failure.pop(action, None)
        else:
            self._on_failure[action] = on_failure

    def schedule(
        self,
        due: _dt.datetime,
        action: str,
        region_id: str,
        target_id: str,
        payload: str = "",
        *,
        new_target: bool = False,
    ) -> Timer:
        """Set the timer of ``(action, region_id, target_id)``, replacing a pending one.

        ``new_target=True`` says the target was created in this unit of work, so it has no
        pending timer to replace and none is looked for.
        """
        if not new_target:
            self.cancel_for(action, region_id, target_id)
        timer = Timer(
            due=due,
            sequence=self._sequences.take(),
            action=action,
            region_id=region_id,
            target_id=target_id,
            payload=payload,
        )
        key = timer.key  # computed once: a property
        put = self._store.backend.put
        put(_TIMER_KIND, "", key, timer)
        put(_INDEX, action, f"{region_id}|{target_id}", key)
        if self._heap is not None:
            heapq.heappush(self._heap, (key, timer))
        return timer

    def cancel_for(self, action: str, region_id: str, target_id: str) -> None:
        """Remove the pending timer of ``(action, region_id, target_id)``, if any."""
        key = self._store.raw_get(_INDEX, action, f"{region_id}|{target_id}")
        if key is None:
            return
        if type(key) is not str:
            raise damaged_value(_INDEX, action, f"{region_id}|{target_id}", key, "a timer key")
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

    def failed(self) -> list[FailedTimer]:
        """Every timer whose handler raised, in the order they were due."""
        return self._store.scan(FailedTimer, "")

    def run_until(self, instant: _dt.datetime) -> int:
        """Fire every timer due at or before ``instant``, each in its own unit of work.

        Returns how many timers fired (a timer whose handler raised does not count). The
        clock ends at ``instant``. Each timer's work commits on its own, so if a later one
        fails (the backend is busy, say) the earlier ones stand and the clock stays at the
        last one that committed. ``instant`` may be a subclass of ``datetime``; it is used as
        the plain ``datetime`` of the same value.

        Raises:
            InvalidParameterError: ``instant`` is naive, before the clock or after LATEST;
                nothing changed.
            Exception: The first exception a timer's handler raised, after every other due
                timer fired and the clock reached ``instant``; the failed timers are in
                :meth:`failed`.
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
        failures: list[tuple[Timer, Exception]] = []
        while True:
            head = self._peek()
            if head is None or head.due > instant:
                break
            before = self._clock.now()
            committed: list[bool] = []
            try:
                with self._store.unit():
                    # Registered first, so it runs before any subscriber: an exception
                    # that comes out after it ran was raised after the commit.
                    self._store.after_commit(functools.partial(committed.append, True))
                    # Everything happens after the unit has begun: if it cannot begin,
                    # neither the clock nor the timer has moved.
                    if self._store.get(Timer, "", head.key) is None:
                        continue  # already handled (by another process, or replaced)
                    if not self._clock.advance_to(max(head.due, self._clock.now())):
                        break  # a wall clock that has not reached the timer yet
                    self._store.delete(Timer, "", head.key)
                    index = f"{head.region_id}|{head.target_id}"
                    if self._store.raw_get(_INDEX, head.action, index) == head.key:
                        self._store.raw_delete(_INDEX, head.action, index)
                    if self._fire(head, failures):
                        fired += 1
                    self._store.set_meta("clock", require_aware(self._clock.now(), "clock.now()"))
            except BaseException:
                if not committed:
                    self._rewind(before)
                raise
        before = self._clock.now()
        committed = []
        try:
            with self._store.unit():
                self._store.after_commit(functools.partial(committed.append, True))
                self._clock.advance_to(instant)
                self._store.set_meta("clock", require_aware(self._clock.now(), "clock.now()"))
        except BaseException:
            if not committed:
                self._rewind(before)
            raise
        if failures:
            first = failures[0][1]
            names = ", ".join(
                f"{t.action} of {t.target_id} due {t.due.isoformat()}" for t, _ in failures
            )
            add_note = getattr(first, "add_note", None)  # Python 3.11+
            if add_note is not None:
                add_note(
                    f"cloudbackup: {len(failures)} timer handler(s) failed and were undone "
                    f"({names}); the other due timers fired. See Engine.failed()."
                )
            raise first
        return fired

    def _fire(self, timer: Timer, failures: list[tuple[Timer, Exception]]) -> bool:
        """Run ``timer``'s handler in a savepoint; record it as failed if it raises."""
        try:
            with self._store.unit():
                self._handlers[timer.action](timer)
        except StorageBackendError:
            # Not a bug of the handler but of the storage (disk full, I/O error, a savepoint
            # that could not be rolled back): the whole unit must roll back, so the timer
            # stays pending and the clock where it stood.
            raise
        except Exception as exc:  # undone by the savepoint; re-raised by run_until
            error = f"{type(exc).__name__}: {exc}"
            self._store.put(FailedTimer, "", timer.key, FailedTimer(timer=timer, error=error))
            failures.append((timer, exc))
            recover = self._on_failure.get(timer.action)
            if recover is not None:
                try:
                    with self._store.unit():
                        recover(timer)
                except StorageBackendError:
                    raise
                except Exception as again:  # undone by its savepoint; reported with the first
                    failures.append((timer, again))
            return False
        return True

    def _rewind(self, instant: _dt.datetime) -> None:
        """Put the clock back where it stood before a unit of work that did not commit.

        Only a :class:`ManualClock` can be moved back; a wall clock was never moved.
        """
        if isinstance(self._clock, ManualClock) and self._clock.now() > instant:
            self._clock._now = instant

    # -- finding the next timer ------------------------------------------------------------
    def _invalidate(self) -> None:
        self._heap = None

    def _peek(self) -> Timer | None:
        if self._first is not None:
            found = self._first(Timer.KIND, "")
            if found is None:
                return None
            timer = found[1]
            if not isinstance(timer, Timer):
                raise damaged_value(Timer.KIND, "", found[0], timer, "a Timer")
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
