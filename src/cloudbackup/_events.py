"""Typed events: every state change is recorded, in order, and can be read or subscribed to."""

from __future__ import annotations

import builtins
import datetime as _dt
import enum
import functools
import operator
import types
import typing
from collections.abc import Callable, Iterator
from typing import ClassVar, TypeVar

import attrs

from ._ids import Counter
from ._settings import EventRetention
from ._store import Store, damaged_value
from ._typenames import TYPES, field_hints, stored_as
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
    "restored_event",
    "stored_event",
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


# -- the stored form of an event --------------------------------------------------------------
# The stored log keeps up to 100,000 events by default, and with a fleet each lives for days of
# virtual time: as objects (attrs instances are always tracked by the cyclic garbage collector)
# they would all be promoted to its oldest generation and walked by every full collection. So an
# event is stored as one flat tuple of atomic values, which the collector stops tracking the
# first time it looks at it, and read back as the same event.

_FORM_TAG = "event/1"
"""The first item of an event's stored tuple: which layout the items follow. The second is the
event class's registered type name; then the field values in field order (an enum member as
its value)."""

_NONE = type(None)
_ATOMS = frozenset((str, int, bool, _NONE, _dt.datetime, bytes))
"""The exact types a stored tuple may hold (and tuples of them): none is tracked by the
collector, and each is read back exactly, type and all, from either backend."""


def _atomic(value: object) -> bool:
    """Whether ``value`` is an atom, or a tuple of atoms and such tuples (exact types)."""
    kind = type(value)
    return kind in _ATOMS or (kind is tuple and all(map(_atomic, value)))  # type: ignore[call-overload]


def _kinds(hint: object) -> frozenset[type] | None:
    """The exact types a field annotated ``hint`` may hold in a stored tuple (an enum: the
    enum itself), or None when the field's values cannot be stored flat."""
    if hint is None or hint is _NONE:
        return frozenset((_NONE,))
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        found: set[type] = set()
        for arg in typing.get_args(hint):
            kinds = _kinds(arg)
            if kinds is None:
                return None
            found |= kinds
        return frozenset(found)
    if origin is tuple:
        return frozenset((tuple,))
    if isinstance(hint, type) and (hint in _ATOMS or _flat_enum(hint)):
        return frozenset((hint,))
    return None


def _flat_enum(cls: type) -> bool:
    """Whether ``cls`` is an enum each of whose members is given back by its atomic value."""
    if not issubclass(cls, enum.Enum):
        return False
    members = builtins.list(cls)
    return all(type(m.value) in _ATOMS and cls(m.value) is m for m in members)


class _Form:
    """How the events of one registered class are stored flat (precomputed once per class)."""

    __slots__ = (
        "cls", "enums", "kinds", "members", "names", "prefix", "stores", "tuples", "values"
    )  # fmt: skip

    def __init__(self, cls: type[Event], name: str, hints: dict[str, object]) -> None:
        self.cls = cls
        self.prefix = (_FORM_TAG, name)
        self.names = tuple(f.name for f in attrs.fields(cls))
        self.values: Callable[[Event], tuple[object, ...]] = operator.attrgetter(*self.names)
        kinds = [_kinds(hints[n]) for n in self.names]
        if any(k is None for k in kinds):
            raise TypeError(f"{cls!r} has a field that cannot be stored flat")
        self.kinds: tuple[frozenset[type], ...] = tuple(kinds)  # type: ignore[arg-type]
        self.tuples = any(tuple in k for k in self.kinds)
        self.enums = tuple(
            i for i, k in enumerate(self.kinds) if any(issubclass(t, enum.Enum) for t in k)
        )
        # Per enum position: stored value -> member (an enum field holds only its members).
        self.members: dict[int, dict[object, enum.Enum]] = {
            i: {m.value: m for t in self.kinds[i] for m in t}  # type: ignore[attr-defined]
            for i in self.enums
        }
        # The item type sequences already found storable: most events of a class share one
        # or two (which optional values are None), so an event is checked by one set lookup.
        self.stores: set[tuple[type, ...]] = set()

    def stored(self, event: Event) -> object:
        """The flat tuple for ``event``, or ``event`` itself if a value would not come back
        exactly."""
        values = self.values(event)
        shape = tuple(map(type, values))
        if shape not in self.stores:
            if not all(t in k for t, k in zip(shape, self.kinds, strict=True)):
                return event
            if len(self.stores) < 64:
                self.stores.add(shape)
        if self.tuples and not all(map(_atomic, values)):
            return event
        if self.enums:
            items = builtins.list(values)
            for i in self.enums:
                items[i] = items[i].value  # type: ignore[attr-defined]
            values = tuple(items)
        return self.prefix + values

    def restored(self, flat: tuple[object, ...]) -> Event | None:
        """The event stored as ``flat`` (already known to carry this class's tag), or None if
        its items are not this class's."""
        items = builtins.list(flat[2:])
        if len(items) != len(self.names):
            return None
        for i in self.enums:
            value = items[i]
            member = self.members[i].get(value) if _atomic(value) else None
            if member is None or type(member.value) is not type(value):
                return None
            items[i] = member
        if not all(
            type(v) in k and (type(v) is not tuple or _atomic(v))
            for v, k in zip(items, self.kinds, strict=True)
        ):
            return None
        return self.cls(**dict(zip(self.names, items, strict=True)))


_FORMS: dict[type, _Form | None] = {}
"""Each event class seen, with its stored form (None: its events are stored whole)."""


def _form_of(cls: type) -> _Form | None:
    try:
        return _FORMS[cls]
    except KeyError:
        pass
    form = None
    name = TYPES.name_of(cls)
    if name is not None and isinstance(cls, type) and issubclass(cls, Event):
        try:
            form = _Form(cls, name, field_hints(cls))
        except (KeyError, TypeError):  # a field with no resolved annotation, or none flat
            form = None
    _FORMS[cls] = form
    return form


def stored_event(event: Event) -> object:
    """What the stored log keeps for ``event``: a flat tuple of atomic values (the form tag,
    the class's registered type name, the field values in field order, an enum member as its
    value), which the cyclic garbage collector does not track; an event holding a value the
    tuple cannot give back exactly (a ``str`` or ``datetime`` subclass, a foreign object…), or
    of an unregistered class, as itself."""
    form = _form_of(type(event))
    return event if form is None else form.stored(event)


def restored_event(value: object) -> Event | None:
    """The event a stored log value holds (:func:`stored_event`'s tuple, or an event stored
    whole, as older versions stored every event), or None when it holds no event (damaged)."""
    if isinstance(value, Event):
        return value
    if (
        type(value) is not tuple
        or len(value) < 2
        or type(value[0]) is not str
        or value[0] != _FORM_TAG
        or type(value[1]) is not str
    ):
        return None
    cls = TYPES.resolve(value[1])
    form = None if cls is None else _form_of(cls)
    return None if form is None else form.restored(value)


def _event_at(key: str, value: object) -> Event:
    """The event stored at ``key``, or the typed ``StorageBackend.Corrupt`` error."""
    event = restored_event(value)
    if event is None:
        raise damaged_value(Event.KIND, "", key, value, "an Event")
    return event


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
        form = _FORMS.get(cls) or _form_of(cls)
        stored = event if form is None else form.stored(event)
        self._put(_EVENT_KIND, "", f"{sequence:016d}", stored)
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
                key = f"{stop:016d}"
                value = store.raw_get(Event.KIND, "", key)
                if value is not None and _event_at(key, value).time >= cutoff:
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
            self._trim(_event_at(*newest[0]))

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
            if since >= 10**16:  # past any key: none
                return []
            start = f"{since:016d}" if since > 0 else None
            return [_event_at(k, v) for k, v in self._store.raw_range(Event.KIND, "", start)]

    def __iter__(self) -> Iterator[Event]:
        return iter(self._read(0))

    def __len__(self) -> int:
        return self._store.raw_count(Event.KIND, "")
