"""Typed events: every state change is recorded, in order, and can be read or subscribed to."""

from __future__ import annotations

import builtins
import datetime as _dt
import functools
from collections.abc import Callable, Iterator
from typing import ClassVar, TypeVar

import attrs

from ._ids import Counter
from ._settings import EventRetention
from ._store import Store, damaged_value
from ._typenames import stored_as
from .errors import InvalidParameterError

__all__ = [
    "DiskAttached",
    "DiskCreated",
    "DiskDeleted",
    "DiskDetached",
    "DiskModified",
    "DiskReset",
    "DiskResized",
    "DiskWritten",
    "Event",
    "EventLog",
    "ImageCreated",
    "ImageDeleted",
    "InstanceCreated",
    "InstanceDeleted",
    "InstanceStatusChanged",
    "KeyCreated",
    "KeyDeleted",
    "KeyStateChanged",
    "AliasCreated",
    "AliasDeleted",
    "AliasUpdated",
    "SnapshotCompleted",
    "SnapshotCreated",
    "SnapshotDeleted",
    "SnapshotGroupCreated",
    "SnapshotGroupDeleted",
    "SnapshotLocked",
    "SnapshotModified",
    "SnapshotUnlocked",
]


@attrs.frozen(kw_only=True)
class Event:
    """Something that changed the simulated world.

    Every event has a ``sequence`` (its position in the log, from 0), the virtual ``time`` it
    happened at and the ``region_id`` it happened in.
    """

    KIND: ClassVar[str] = "event"

    sequence: int
    time: _dt.datetime
    region_id: str


@stored_as("events.InstanceCreated")
@attrs.frozen(kw_only=True)
class InstanceCreated(Event):
    """An instance was created (``RunInstances`` / ``CreateInstance``)."""

    instance_id: str
    zone_id: str


@stored_as("events.InstanceStatusChanged")
@attrs.frozen(kw_only=True)
class InstanceStatusChanged(Event):
    """An instance moved from one status to another."""

    instance_id: str
    old_status: str
    new_status: str


@stored_as("events.InstanceDeleted")
@attrs.frozen(kw_only=True)
class InstanceDeleted(Event):
    """An instance was released; ``deleted_disk_ids`` went with it."""

    instance_id: str
    deleted_disk_ids: tuple[str, ...]


@stored_as("events.DiskCreated")
@attrs.frozen(kw_only=True)
class DiskCreated(Event):
    """A disk was created, empty or from ``source_snapshot_id``."""

    disk_id: str
    category: str
    size: int
    source_snapshot_id: str | None
    encrypted: bool


@stored_as("events.DiskAttached")
@attrs.frozen(kw_only=True)
class DiskAttached(Event):
    """A disk was attached to an instance."""

    disk_id: str
    instance_id: str
    device: str


@stored_as("events.DiskDetached")
@attrs.frozen(kw_only=True)
class DiskDetached(Event):
    """A disk was detached from an instance."""

    disk_id: str
    instance_id: str


@stored_as("events.DiskDeleted")
@attrs.frozen(kw_only=True)
class DiskDeleted(Event):
    """A disk was released."""

    disk_id: str


@stored_as("events.DiskModified")
@attrs.frozen(kw_only=True)
class DiskModified(Event):
    """A disk's name, description or ``DeleteWithInstance`` changed (``ModifyDiskAttribute``)."""

    disk_id: str
    disk_name: str | None
    description: str | None
    delete_with_instance: bool


@stored_as("events.DiskResized")
@attrs.frozen(kw_only=True)
class DiskResized(Event):
    """A disk grew."""

    disk_id: str
    old_size: int
    new_size: int


@stored_as("events.DiskWritten")
@attrs.frozen(kw_only=True)
class DiskWritten(Event):
    """A guest wrote ``length`` bytes at ``offset`` of a disk."""

    disk_id: str
    offset: int
    length: int


@stored_as("events.DiskReset")
@attrs.frozen(kw_only=True)
class DiskReset(Event):
    """A disk was rolled back to a snapshot (``ResetDisk`` / ``ResetDisks``)."""

    disk_id: str
    snapshot_id: str


@stored_as("events.SnapshotCreated")
@attrs.frozen(kw_only=True)
class SnapshotCreated(Event):
    """A snapshot was taken; its data is that of the disk at ``time``."""

    snapshot_id: str
    disk_id: str
    snapshot_link_id: str
    snapshot_group_id: str | None
    incremental_size: int


@stored_as("events.SnapshotCompleted")
@attrs.frozen(kw_only=True)
class SnapshotCompleted(Event):
    """A snapshot became ``accomplished``."""

    snapshot_id: str


@stored_as("events.SnapshotDeleted")
@attrs.frozen(kw_only=True)
class SnapshotDeleted(Event):
    """A snapshot was deleted; ``reason`` is ``user``, ``retention``, ``disk_released`` or
    ``group_deleted``."""

    snapshot_id: str
    reason: str


@stored_as("events.SnapshotModified")
@attrs.frozen(kw_only=True)
class SnapshotModified(Event):
    """A snapshot's name, description or retention changed."""

    snapshot_id: str
    retention_days: int | None


@stored_as("events.SnapshotLocked")
@attrs.frozen(kw_only=True)
class SnapshotLocked(Event):
    """A snapshot was locked (or its lock reconfigured)."""

    snapshot_id: str
    lock_duration: int
    cool_off_period: int


@stored_as("events.SnapshotUnlocked")
@attrs.frozen(kw_only=True)
class SnapshotUnlocked(Event):
    """A snapshot's lock was removed during its cool-off period."""

    snapshot_id: str


@stored_as("events.SnapshotGroupCreated")
@attrs.frozen(kw_only=True)
class SnapshotGroupCreated(Event):
    """A snapshot-consistent group was taken."""

    snapshot_group_id: str
    snapshot_ids: tuple[str, ...]


@stored_as("events.SnapshotGroupDeleted")
@attrs.frozen(kw_only=True)
class SnapshotGroupDeleted(Event):
    """A snapshot-consistent group was deleted."""

    snapshot_group_id: str


@stored_as("events.ImageCreated")
@attrs.frozen(kw_only=True)
class ImageCreated(Event):
    """A custom image was created from snapshots."""

    image_id: str
    snapshot_ids: tuple[str, ...]


@stored_as("events.ImageDeleted")
@attrs.frozen(kw_only=True)
class ImageDeleted(Event):
    """A custom image was deleted."""

    image_id: str


@stored_as("events.KeyCreated")
@attrs.frozen(kw_only=True)
class KeyCreated(Event):
    """A KMS key was created."""

    key_id: str
    key_spec: str
    service_key: bool


@stored_as("events.KeyStateChanged")
@attrs.frozen(kw_only=True)
class KeyStateChanged(Event):
    """A KMS key changed state (enabled, disabled, pending deletion)."""

    key_id: str
    old_state: str
    new_state: str


@stored_as("events.KeyDeleted")
@attrs.frozen(kw_only=True)
class KeyDeleted(Event):
    """A KMS key's deletion date arrived: the key and its material are gone for good."""

    key_id: str


@stored_as("events.AliasCreated")
@attrs.frozen(kw_only=True)
class AliasCreated(Event):
    """A KMS alias was created or pointed at another key."""

    alias_name: str
    key_id: str


@stored_as("events.AliasUpdated")
@attrs.frozen(kw_only=True)
class AliasUpdated(Event):
    """A KMS alias was pointed at another key (``UpdateAlias``)."""

    alias_name: str
    key_id: str


@stored_as("events.AliasDeleted")
@attrs.frozen(kw_only=True)
class AliasDeleted(Event):
    """A KMS alias was deleted."""

    alias_name: str


E = TypeVar("E", bound=Event)

_EVENT_KIND = Event.KIND

_FIRST = "event_log.first"
"""Meta record: the sequence of the oldest event the stored log keeps (absent: 0)."""


class EventLog:
    """The ordered log of events; read it, filter it, or subscribe to it.

    Subscribers are called after the unit of work that produced an event commits, in order;
    events of a rejected call never reach them. Every event reaches them, whether or not the
    stored log keeps it.

    The stored log keeps what the world's :class:`~cloudbackup.EventRetention` allows (by
    default the newest 100,000 events): older ones are dropped, oldest first, as new ones are
    recorded. :meth:`list`, iteration and ``len`` see the events kept; :attr:`first_sequence`
    says where they start (how many were dropped), :attr:`retention` what is kept.
    """

    def __init__(self, store: Store, retention: EventRetention | None = None) -> None:
        self._store = store
        self._subscribers: list[Callable[[Event], None]] = []
        self._retention = EventRetention() if retention is None else retention
        self._max_events = self._retention.max_events
        self._max_age = self._retention.max_age
        # Cached from the backend (the sequence of the oldest event kept), dropped on every
        # rollback and when another process commits, so it is never stale.
        self._first: int | None = None
        self._sequences = Counter(store, "event")
        self._put = store.backend.put  # an event is written on every call: no indirection
        store.on_rollback(self._forget)
        store.on_external_change(self._forget)

    def _forget(self) -> None:
        self._first = None

    @property
    def retention(self) -> EventRetention:
        """What the stored log keeps."""
        return self._retention

    def _set_retention(self, retention: EventRetention) -> None:
        """Keep ``retention`` from the next event on (the caller stores it with the world)."""
        self._retention = retention
        self._max_events = retention.max_events
        self._max_age = retention.max_age

    @property
    def first_sequence(self) -> int:
        """The sequence of the oldest event kept: how many older events were dropped (0 if
        none was). The next event's sequence is ``first_sequence + len(log)``."""
        return self._load_first()

    @property
    def dropped(self) -> int:
        """How many events the stored log no longer holds (all older than the ones it does)."""
        return self._load_first()

    def _load_first(self) -> int:
        first = self._first
        if first is None:
            value = self._store.meta(_FIRST)
            if value is None:
                value = 0
            elif type(value) is not int or value < 0:
                raise damaged_value("meta", "", _FIRST, value, "an event sequence")
            first = self._first = value
        return first

    def _emit(self, cls: type[E], **fields: object) -> E:
        """Record a new event (inside the current unit of work)."""
        sequence = self._sequences.take()
        event = cls(sequence=sequence, **fields)  # type: ignore[arg-type]
        self._put(_EVENT_KIND, "", f"{sequence:016d}", event)
        if self._max_age is not None or (
            self._max_events is not None and sequence >= self._max_events
        ):
            self._trim(event)
        if self._subscribers:
            self._store.after_commit(functools.partial(self._notify, event))
        return event

    def _trim(self, newest: Event) -> None:
        """Drop the oldest events the retention no longer allows: one deletion each, and one
        read more when an age bound stops at an event young enough to stay."""
        store = self._store
        first = self._load_first()
        stop = first
        if self._max_events is not None:
            stop = max(stop, newest.sequence + 1 - self._max_events)
        if self._max_age is not None:
            cutoff = newest.time - self._max_age
            while stop < newest.sequence:
                oldest = store.get(Event, "", f"{stop:016d}")
                if oldest is not None and oldest.time >= cutoff:
                    break
                stop += 1
        if stop == first:
            return
        for sequence in range(first, stop):
            store.delete(Event, "", f"{sequence:016d}")
        store.set_meta(_FIRST, stop)
        self._first = stop

    def _trim_to_retention(self) -> None:
        """Drop what the retention no longer allows, measured from the newest event kept
        (after the retention changed; inside a unit of work)."""
        newest = self._store.raw_range(Event.KIND, "", reverse=True, limit=1)
        if newest:
            key, event = newest[0]
            if not isinstance(event, Event):
                raise damaged_value(Event.KIND, "", key, event, "an Event")
            self._trim(event)

    def _notify(self, event: Event) -> None:
        # Every subscriber sees every event even if one of them raises; the first exception
        # is raised afterwards. The call that produced the event has committed all the same.
        failure: BaseException | None = None
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception as exc:  # re-raised below, after the others ran
                failure = failure or exc
        if failure is not None:
            raise failure

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback`` with every new event; returns a function that unsubscribes.

        Callbacks run after the call that produced the event has committed. If one raises,
        the others still see the event, and the first exception then propagates out of that
        call, whose changes stand. They see every event, including those the stored log
        drops later (see :class:`~cloudbackup.EventRetention`).

        Raises:
            InvalidParameterError: ``callback`` is not callable (refused before it is added,
                so later calls are not broken by it).
        """
        if not callable(callback):
            raise InvalidParameterError(
                f"callback {callback!r} is not callable.",
                code="InvalidParameter.Callback",
                recommend="Pass a function that takes one Event, e.g. events.subscribe(print).",
            )
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def list(
        self,
        event_type: type[E] | None = None,
        *,
        since: int = 0,
        region_id: str | None = None,
    ) -> list[E]:
        """Events kept, in order, optionally only of ``event_type``, from sequence ``since``.

        Events older than :attr:`first_sequence` were dropped by the retention and are not
        listed. Reads only the events from ``since`` on.
        """
        if event_type is not None and not (
            isinstance(event_type, type) and issubclass(event_type, Event)
        ):
            raise InvalidParameterError(
                f"event_type {event_type!r} is not an Event class.",
                recommend="Pass a class such as cloudbackup.SnapshotCreated.",
            )
        if isinstance(since, bool) or not isinstance(since, int):
            raise InvalidParameterError(
                f"since {since!r} must be an event sequence number.",
                recommend="Pass an int, e.g. the sequence of the last event you saw plus one.",
            )
        wanted: type[Event] = event_type or Event
        out = []
        for event in self._read(since):
            if not isinstance(event, wanted):
                continue
            if region_id is not None and event.region_id != region_id:
                continue
            out.append(event)
        return out  # type: ignore[return-value]

    def _read(self, since: int) -> builtins.list[Event]:
        """The events kept with a sequence of at least ``since``, in order."""
        with self._store.reading():
            if since <= 0:
                return self._store.scan(Event, "")
            if since >= 10**16:  # past any key: none
                return []
            out: builtins.list[Event] = []
            for key, event in self._store.raw_range(Event.KIND, "", f"{since:016d}"):
                if not isinstance(event, Event):
                    raise damaged_value(Event.KIND, "", key, event, "an Event")
                out.append(event)
            return out

    def __iter__(self) -> Iterator[Event]:
        return iter(self._read(0))

    def __len__(self) -> int:
        return self._store.raw_count(Event.KIND, "")
