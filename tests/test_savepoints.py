"""Nested units of work: a savepoint that fails undoes exactly its own work, on both backends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from _helpers import INSTANCE_TYPE, ZONE, make_cloud
from cloudbackup import Event, InMemoryBackend
from cloudbackup._backends import StorageBackend
from cloudbackup._backends._sqlite import SqliteBackend
from cloudbackup._engine import Engine
from cloudbackup._store import Store
from cloudbackup._time import ManualClock
from cloudbackup.errors import StorageBackendError


class Boom(Exception):
    pass


def fails(store: Store, body: Callable[[], object]) -> None:
    """Run ``body`` in a unit of work (a savepoint if one is open) that then raises Boom."""

    def run() -> None:
        with store.unit():
            body()
            raise Boom

    with pytest.raises(Boom):
        run()


@pytest.fixture(params=["memory", "sqlite"])
def make_backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], StorageBackend]]:
    """A factory of backends of one kind; SQLite ones share one file, so reopening is possible."""
    made: list[StorageBackend] = []
    memory = InMemoryBackend()

    def make() -> StorageBackend:
        backend: StorageBackend = (
            memory if request.param == "memory" else SqliteBackend(tmp_path / "w.db")
        )
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


def test_failed_nested_unit_undoes_only_its_own_writes(
    make_backend: Callable[[], StorageBackend],
) -> None:
    """Records, counters and callbacks of a failed nested unit vanish; the outer unit commits."""
    store = Store(make_backend())
    called: list[str] = []
    with store.unit():
        store.raw_put("k", "p", "outer", 1)
        assert 0 == store.next_number("id")

        def inner() -> None:
            store.raw_put("k", "p", "inner", 2)
            store.raw_put("k", "p", "outer", 3)
            store.next_number("id")
            store.backend.put_blob(b"d" * 32, b"blob")
            store.after_commit(lambda: called.append("inner"))

        fails(store, inner)
        store.after_commit(lambda: called.append("outer"))
        assert [("outer", 1)] == store.raw_scan("k", "p")
        assert 1 == store.next_number("id")
        assert store.backend.get_blob(b"d" * 32) is None
    assert [("outer", 1)] == store.raw_scan("k", "p")
    assert ["outer"] == called
    assert (0, 0) == store.backend.blob_stats()


def test_successful_nested_unit_joins_the_outer_one(
    make_backend: Callable[[], StorageBackend],
) -> None:
    """A nested unit that ends normally keeps its writes; the outer rollback undoes both."""
    store = Store(make_backend())
    with store.unit():
        with store.unit():
            store.raw_put("k", "p", "inner", 1)
        store.raw_put("k", "p", "outer", 2)
    assert [("inner", 1), ("outer", 2)] == store.raw_scan("k", "p")

    def joined() -> None:
        with store.unit():
            store.raw_put("k", "p", "inner", 9)

    fails(store, joined)
    assert [("inner", 1), ("outer", 2)] == store.raw_scan("k", "p")


def test_savepoints_nest_three_deep(make_backend: Callable[[], StorageBackend]) -> None:
    """Rolling back the middle savepoint undoes the released innermost one with it."""
    store = Store(make_backend())
    with store.unit():
        store.raw_put("k", "p", "a", 1)

        def middle() -> None:
            store.raw_put("k", "p", "b", 2)
            with store.unit():
                store.raw_put("k", "p", "c", 3)
                store.raw_delete("k", "p", "a")

        fails(store, middle)
        with store.unit():
            store.raw_put("k", "p", "d", 4)
    assert [("a", 1), ("d", 4)] == store.raw_scan("k", "p")


def test_cache_is_right_after_partial_rollback_commit_and_reopen(
    make_backend: Callable[[], StorageBackend],
) -> None:
    """Reads after a partial rollback, after commit and after reopening see the same state."""
    backend = make_backend()
    store = Store(backend)
    with store.unit():
        store.raw_put("k", "p", "kept", "v1")
    with store.unit():
        store.raw_put("k", "p", "kept", "v2")

        def inner() -> None:
            assert "v2" == store.raw_get("k", "p", "kept")  # cached inside the savepoint
            store.raw_put("k", "p", "kept", "v3")
            store.raw_put("k", "p", "new", "x")
            assert "v3" == store.raw_get("k", "p", "kept")

        fails(store, inner)
        assert "v2" == store.raw_get("k", "p", "kept")
        assert store.raw_get("k", "p", "new") is None
    assert "v2" == store.raw_get("k", "p", "kept")
    assert [("kept", "v2")] == store.raw_scan("k", "p")
    reopened = make_backend()
    assert [("kept", "v2")] == list(reopened.scan("k", "p"))


def test_events_of_a_failed_nested_unit_never_reach_the_log_or_subscribers(
    make_backend: Callable[[], StorageBackend],
) -> None:
    """An event emitted in a rolled-back savepoint vanishes; the next event takes its number."""
    cloud = make_cloud(backend=make_backend())
    seen: list[Event] = []
    cloud.events.subscribe(seen.append)
    ecs = cloud.ecs("cn-hangzhou")
    store = cloud._world.store
    before = len(cloud.events)
    with store.unit():
        fails(store, lambda: ecs.run_instances(zone_id=ZONE, instance_type=INSTANCE_TYPE))
        disk_id = ecs.create_disk(zone_id=ZONE, size=20)
    events = cloud.events.list(since=before)
    assert [disk_id] == [getattr(e, "disk_id", None) for e in events]
    assert [before] == [e.sequence for e in events]
    assert events == seen
    assert () == ecs.describe_instances().items


def test_engine_heap_is_right_after_partial_rollback() -> None:
    """A timer scheduled in a rolled-back savepoint never fires; one scheduled after does."""
    store = Store(InMemoryBackend())
    clock = ManualClock()
    engine = Engine(store, clock)
    fired: list[str] = []
    engine.register("a", lambda timer: fired.append(timer.target_id))
    engine.next_due()  # build the in-memory heap first
    start = clock.now()
    with store.unit():
        fails(store, lambda: engine.schedule(start + dt.timedelta(seconds=1), "a", "r", "ghost"))
        engine.schedule(start + dt.timedelta(seconds=2), "a", "r", "real")
    assert start + dt.timedelta(seconds=2) == engine.next_due()
    engine.run_until(start + dt.timedelta(seconds=5))
    assert ["real"] == fired


@pytest.mark.parametrize("call", ["release", "rollback_to"])
def test_savepoint_calls_need_an_open_savepoint(
    make_backend: Callable[[], StorageBackend], call: str
) -> None:
    """release/rollback_to without a savepoint, and savepoint outside a unit, are refused."""
    backend = make_backend()
    with pytest.raises(StorageBackendError) as caught:
        backend.savepoint()
    assert "StorageBackend.NoUnit" == caught.value.code
    backend.begin()
    with pytest.raises(StorageBackendError) as caught:
        getattr(backend, call)()
    assert "StorageBackend.NoSavepoint" == caught.value.code
    backend.rollback()


class CountingBackend(InMemoryBackend):
    """An in-memory backend that counts the writes of counter records."""

    def __init__(self) -> None:
        super().__init__()
        self.counter_puts = 0

    def put(self, kind: str, partition: str, key: str, value: object) -> None:
        if (kind, partition) == ("meta", "counter"):
            self.counter_puts += 1
        super().put(kind, partition, key, value)


def test_a_counter_is_written_once_per_unit_however_many_numbers_it_takes() -> None:
    """Ten numbers of one counter in one unit write its record once, with the last value."""
    backend = CountingBackend()
    store = Store(backend)
    with store.unit():
        taken = [store.next_number("id") for _ in range(10)]
    assert (list(range(10)), 1, 10) == (
        taken,
        backend.counter_puts,
        backend.get("meta", "counter", "id"),
    )


def test_numbers_taken_before_and_inside_a_failed_savepoint(
    make_backend: Callable[[], StorageBackend],
) -> None:
    """A failed savepoint gives back exactly its own numbers, not those taken before it."""
    store = Store(make_backend())
    with store.unit():
        before = [store.next_number("id"), store.next_number("nonce", 5)]
        fails(store, lambda: (store.next_number("id"), store.next_number("nonce", 7)))
        fails(store, lambda: store.next_number("timer"))
        after = [store.next_number("id"), store.next_number("nonce"), store.next_number("timer")]
    assert ([0, 0], [1, 5, 0]) == (before, after)
    with store.unit():
        assert [2, 6, 1] == [store.next_number(n) for n in ("id", "nonce", "timer")]


def test_numbers_of_a_rolled_back_unit_are_given_back(
    make_backend: Callable[[], StorageBackend],
) -> None:
    """A unit that raises writes no counter, and the next unit takes the same numbers again."""
    store = Store(make_backend())
    with store.unit():
        store.next_number("id")
    fails(store, lambda: [store.next_number("id") for _ in range(3)])
    with store.unit():
        assert (1, 1) == (store.peek_number("id"), store.next_number("id"))
    assert 2 == store.backend.get("meta", "counter", "id")


def test_a_counter_failing_to_flush_rolls_the_unit_back() -> None:
    """If writing the counters at the end of a unit fails, the unit's other writes are undone."""

    class FailingCounters(InMemoryBackend):
        def put(self, kind: str, partition: str, key: str, value: object) -> None:
            if (kind, partition) == ("meta", "counter"):
                raise StorageBackendError("disk full", recommend="Free space.")
            super().put(kind, partition, key, value)

    store = Store(FailingCounters())

    def write() -> None:
        with store.unit():
            store.raw_put("k", "p", "x", 1)
            store.next_number("id")

    with pytest.raises(StorageBackendError):
        write()
    assert ([], 0) == (store.raw_scan("k", "p"), store.peek_number("id"))
