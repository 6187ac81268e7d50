"""The stored event log keeps each event as a flat tuple of atomic values and reads it back as
the same event (or whole, when a value would not come back exactly)."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cloudbackup
from _helpers import REGION, ZONE, make_cloud, raises_code, run_instance
from cloudbackup import Cloud, Event, EventRetention, InMemoryBackend, SqliteBackend, errors
from cloudbackup._domain.hbr_jobs import JobStatus
from cloudbackup._events import restored_event, stored_event
from cloudbackup._typenames import TYPES
from cloudbackup.testing import check_invariants

assert cloudbackup  # every module that defines an event is imported with the package


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


EVENT_CLASSES = sorted(set(_subclasses(Event)), key=lambda c: c.__qualname__)

_UTC = dt.timezone.utc


class _Str(str):
    """A str subclass: a stored tuple would give back a plain str."""


class _Time(dt.datetime):
    """A datetime subclass: a stored tuple would give back a plain datetime."""


_TEXT = st.text(max_size=8)  # lone surrogates included
_INTS = st.integers() | st.integers(min_value=2**70, max_value=2**90)
_TIMES = st.datetimes(timezones=st.just(_UTC))
_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "str": _TEXT,
    "int": _INTS,
    "bool": st.booleans(),
    "_dt.datetime": _TIMES,
    "str | None": st.none() | _TEXT,
    "int | None": st.none() | _INTS,
    "tuple[str, ...]": st.lists(_TEXT, max_size=3).map(tuple),
    "JobStatus": st.sampled_from(JobStatus),
}
"""A strategy per field annotation used by an event class: a new annotation fails the tests
below until it gets one (and a way to be stored flat)."""


def _events(cls: type[Event]) -> st.SearchStrategy[Event]:
    fields = {f.name: _STRATEGIES[str(f.type)] for f in attrs.fields(cls)}
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))


def test_every_event_class_is_registered_and_found() -> None:
    """Every Event subclass in the code base has a registered type name (41 at this writing)."""
    assert [] == [c for c in EVENT_CLASSES if TYPES.name_of(c) is None]
    assert len(EVENT_CLASSES) >= 41


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_event_class_round_trips_as_an_untracked_flat_tuple(
    cls: type[Event], data: st.DataObject
) -> None:
    """Each event is stored as an untracked tuple tagged with its type name, in field order,
    and read back equal and of the same type (enum members as members)."""
    event = data.draw(_events(cls))
    flat = stored_event(event)
    assert tuple is type(flat)
    assert ("event/1", TYPES.name_of(cls)) == flat[:2]  # type: ignore[index]
    values = attrs.astuple(event, recurse=False)
    assert tuple(v.value if isinstance(v, JobStatus) else v for v in values) == flat[2:]  # type: ignore[index]
    gc.collect()
    gc.collect()  # a tuple inside may be untracked only after the outer one was examined
    assert not gc.is_tracked(flat)
    back = restored_event(flat)
    assert event == back
    assert type(event) is type(back)
    assert [type(v) for v in attrs.astuple(event, recurse=False)] == [
        type(v) for v in attrs.astuple(back, recurse=False)
    ]


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_event_class_round_trips_through_a_reopened_sqlite_file(
    cls: type[Event], data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A stored event written to a SQLite file reads back the same after reopening."""
    event = data.draw(_events(cls))
    path = tmp_path_factory.mktemp("ev") / "w.db"
    backend = SqliteBackend(path)
    backend.begin()
    backend.put("event", "", "0", stored_event(event))
    backend.commit()
    backend.close()
    again = SqliteBackend(path)
    try:
        back = restored_event(again.get("event", "", "0"))
    finally:
        again.close()
    assert event == back
    assert type(event) is type(back)


_T0 = dt.datetime(2026, 1, 1, tzinfo=_UTC)
_BASES: dict[type[Event], Event] = {
    cloudbackup.DiskCreated: cloudbackup.DiskCreated(
        sequence=0, time=_T0, region_id=REGION, disk_id="d-1", category="cloud_essd",
        size=20, source_snapshot_id=None, encrypted=False,
    ),
    cloudbackup.SnapshotGroupCreated: cloudbackup.SnapshotGroupCreated(
        sequence=0, time=_T0, region_id=REGION, snapshot_group_id="ssg-1", snapshot_ids=("s-1",)
    ),
    cloudbackup.BackupJobStarted: cloudbackup.BackupJobStarted(
        sequence=0, time=_T0, region_id=REGION, job_id="j", instance_id="i",
        status=JobStatus.RUNNING,
    ),
}  # fmt: skip


def _exotic(cls: type[Event], field: str, value: object) -> Event:
    base = _BASES[cls]
    assert type(restored_event(stored_event(base))) is cls  # the base is stored flat
    return attrs.evolve(base, **{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("region_id", _Str("cn-hangzhou")),
        ("time", _Time(2026, 1, 1, tzinfo=_UTC)),
        ("disk_id", object()),
        ("snapshot_ids", (_Str("s-1"),)),
        ("size", True),
    ],
)
def test_an_event_a_tuple_cannot_give_back_exactly_is_stored_whole(
    field: str, value: object
) -> None:
    """An event holding a str/datetime subclass, a foreign object or a bool for an int is
    stored as itself and read as itself."""
    cls = cloudbackup.SnapshotGroupCreated if field == "snapshot_ids" else cloudbackup.DiskCreated
    event = _exotic(cls, field, value)
    assert event is stored_event(event)
    assert event is restored_event(event)


def test_an_enum_field_holding_its_value_is_stored_whole() -> None:
    """A JobStatus field holding the plain string is kept whole, not read back as the member."""
    event = _exotic(cloudbackup.BackupJobStarted, "status", "RUNNING")
    assert event is stored_event(event)


def test_the_log_stores_flat_tuples_and_lists_the_same_events() -> None:
    """After real calls the in-memory log holds untracked tuples, and lists the events emitted."""
    backend = InMemoryBackend()
    cloud = Cloud(backend=backend, block_size=4096)
    seen: list[Event] = []
    cloud.events.subscribe(seen.append)
    run_instance(cloud)
    cloud.ecs(REGION).create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20)
    stored = [v for _, v in backend.scan("event", "")]
    gc.collect()
    gc.collect()
    assert [] == [v for v in stored if type(v) is not tuple or gc.is_tracked(v)]
    assert seen == cloud.events.list()
    assert [type(e) for e in seen] == [type(e) for e in cloud.events]
    check_invariants(cloud)


def test_events_stored_whole_by_older_versions_still_read(tmp_path: Path) -> None:
    """A SQLite world whose events were stored as objects reads them, and goes on flat."""
    path = tmp_path / "old.db"
    with Cloud(backend=SqliteBackend(path), block_size=4096) as first:
        run_instance(first)
        events = first.events.list()
    backend = SqliteBackend(path)
    backend.begin()
    for event in events:
        backend.put("event", "", f"{event.sequence:016d}", event)  # as before the flat form
    backend.commit()
    backend.close()
    with Cloud(backend=SqliteBackend(path), block_size=4096) as again:
        assert events == again.events.list()
        again.ecs(REGION).create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20)
        assert events == again.events.list()[: len(events)]
        check_invariants(again)


def test_an_age_bound_trims_flat_events_by_their_time() -> None:
    """The age bound reads the oldest stored tuples' times and drops the ones too old."""
    retention = EventRetention(max_age=dt.timedelta(hours=1))
    cloud = make_cloud(block_size=4096)
    cloud = Cloud(backend=cloud.backend, block_size=4096, event_retention=retention)
    ecs = cloud.ecs(REGION)
    ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20)
    cloud.advance(dt.timedelta(hours=2))
    ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20)
    kept = cloud.events.list()
    assert 1 == len(kept)
    assert isinstance(kept[0], cloudbackup.DiskCreated)
    check_invariants(cloud)


_GOOD = stored_event(
    cloudbackup.DiskDeleted(
        sequence=0, time=dt.datetime(2026, 1, 1, tzinfo=_UTC), region_id=REGION, disk_id="d-1"
    )
)


@pytest.mark.parametrize(
    "damaged",
    [
        ("event/2", *_GOOD[1:]),  # type: ignore[index]
        _GOOD[:-1],  # type: ignore[index]
        (*_GOOD, "extra"),  # type: ignore[misc]
        ("event/1", "events.NoSuchEvent", *_GOOD[2:]),  # type: ignore[index]
        ("event/1", "ecs.Snapshot", *_GOOD[2:]),  # type: ignore[index]
        ("event/1", "events.DiskDeleted", "0", *_GOOD[3:]),  # type: ignore[index]
        ("event/1", "events.BackupJobStarted", 0, _GOOD[3], REGION, "j", "i", "NOPE"),  # type: ignore[index]
        ("event/1",),
        42,
        "event",
    ],
    ids=lambda v: repr(v)[:40],
)
def test_a_damaged_stored_event_is_a_corrupt_error(damaged: object) -> None:
    """A stored event with a wrong tag, arity, type name, item or enum value is
    StorageBackend.Corrupt on list and iteration, on both backends."""
    cloud = make_cloud(block_size=4096)
    cloud.ecs(REGION).create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20)
    backend = cloud.backend
    backend.begin()
    backend.put("event", "", f"{0:016d}", damaged)
    backend.commit()
    reopened = Cloud(backend=backend, block_size=4096)
    raises_code(errors.StorageBackendError, "StorageBackend.Corrupt", reopened.events.list)
    raises_code(errors.StorageBackendError, "StorageBackend.Corrupt", lambda: list(reopened.events))
    with pytest.raises(AssertionError, match="event"):
        check_invariants(reopened)
