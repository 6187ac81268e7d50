"""The virtual-time event loop: order, tie-break, timers as records, rollback."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import make_cloud, run_instance
from cloudbackup import (
    DEFAULT_START,
    Cloud,
    DataDisk,
    InMemoryBackend,
    ManualClock,
    SnapshotStatus,
)
from cloudbackup._backends import SqliteBackend, StorageBackend
from cloudbackup._engine import Engine, FailedTimer, Timer
from cloudbackup._store import Store
from cloudbackup.errors import InvalidParameterError, StorageBackendError

T0 = DEFAULT_START


def seconds(n: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=n)


def make_engine(
    backend: StorageBackend | None = None,
) -> tuple[Engine, Store, ManualClock, list[tuple[dt.datetime, str]]]:
    """An engine whose 'record' action logs (clock time, target) as it fires."""
    store = Store(InMemoryBackend() if backend is None else backend)
    clock = ManualClock()
    engine = Engine(store, clock)
    fired: list[tuple[dt.datetime, str]] = []
    engine.register("record", lambda timer: fired.append((clock.now(), timer.target_id)))
    return engine, store, clock, fired


def schedule(engine: Engine, store: Store, due: dt.datetime, target: str) -> Timer:
    with store.unit():
        return engine.schedule(due, "record", "cn-hangzhou", target)


def test_timers_fire_in_due_order_not_scheduling_order() -> None:
    """Timers scheduled out of order fire in order of their due time."""
    engine, store, _, fired = make_engine()
    for n in (30, 10, 20):
        schedule(engine, store, seconds(n), f"t{n}")
    assert 3 == engine.run_until(seconds(100))
    assert ["t10", "t20", "t30"] == [target for _, target in fired]


def test_clock_reads_each_timers_due_time_when_it_fires() -> None:
    """While a timer runs, the clock reads its due instant; afterwards the target instant."""
    engine, store, clock, fired = make_engine()
    schedule(engine, store, seconds(5), "a")
    schedule(engine, store, seconds(50), "b")
    engine.run_until(seconds(60))
    assert [(seconds(5), "a"), (seconds(50), "b")] == fired
    assert seconds(60) == clock.now()


def test_ties_fire_in_scheduling_order() -> None:
    """Timers due at the same instant fire in the order they were scheduled."""
    engine, store, _, fired = make_engine()
    names = [f"n{i}" for i in range(12)]
    for name in names:
        schedule(engine, store, seconds(7), name)
    engine.run_until(seconds(7))
    assert names == [target for _, target in fired]


@settings(max_examples=50)
@given(st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=30))
def test_firing_order_is_sorted_by_due_then_sequence(dues: list[int]) -> None:
    """Any set of timers fires sorted by (due, scheduling order)."""
    engine, store, _, fired = make_engine()
    for i, due in enumerate(dues):
        schedule(engine, store, seconds(due), str(i))
    engine.run_until(seconds(1000))
    expected = [str(i) for i, _ in sorted(enumerate(dues), key=lambda p: (p[1], p[0]))]
    assert expected == [target for _, target in fired]


def test_only_due_timers_fire() -> None:
    """A timer due after the target instant waits; it fires inclusive of its due instant."""
    engine, store, _, fired = make_engine()
    schedule(engine, store, seconds(10), "a")
    assert 0 == engine.run_until(seconds(9))
    assert [] == fired
    assert seconds(10) == engine.next_due()
    assert 1 == engine.run_until(seconds(10))
    assert engine.next_due() is None


def test_timers_scheduled_by_a_handler_fire_in_the_same_run() -> None:
    """A handler may schedule follow-up work; it fires in the same run if due in time."""
    engine, store, clock, fired = make_engine()

    def chain(timer: Timer) -> None:
        fired.append((clock.now(), timer.target_id))
        if timer.target_id != "c":
            engine.schedule(
                clock.now() + dt.timedelta(seconds=1),
                "chain",
                "cn-hangzhou",
                chr(ord(timer.target_id) + 1),
            )

    engine.register("chain", chain)
    with store.unit():
        engine.schedule(seconds(1), "chain", "cn-hangzhou", "a")
    assert 3 == engine.run_until(seconds(10))
    assert [(seconds(1), "a"), (seconds(2), "b"), (seconds(3), "c")] == fired


def test_timers_are_records_in_the_backend() -> None:
    """Every pending timer is a record of kind engine.timer, keyed in firing order."""
    engine, store, _, _ = make_engine()
    a = schedule(engine, store, seconds(2), "a")
    b = schedule(engine, store, seconds(1), "b")
    keys = [key for key, _ in store.backend.scan(Timer.KIND, "")]
    assert [b.key, a.key] == keys
    assert [b, a] == engine.pending()


def test_cancelled_timer_does_not_fire() -> None:
    """cancel_for removes the pending timer of an (action, region, target)."""
    engine, store, _, fired = make_engine()
    schedule(engine, store, seconds(1), "a")
    schedule(engine, store, seconds(2), "b")
    with store.unit():
        engine.cancel_for("record", "cn-hangzhou", "a")
    engine.run_until(seconds(5))
    assert ["b"] == [target for _, target in fired]
    assert [] == engine.pending()


def test_rescheduling_a_target_replaces_its_timer() -> None:
    """A second timer for the same (action, region, target) replaces the first: no stale one."""
    engine, store, _, fired = make_engine()
    schedule(engine, store, seconds(1), "a")
    later = schedule(engine, store, seconds(3), "a")
    assert [later] == engine.pending()
    engine.run_until(seconds(5))
    assert [(seconds(3), "a")] == fired


def test_rolled_back_schedule_leaves_no_timer() -> None:
    """A timer scheduled in a unit of work that rolls back never fires."""
    engine, store, _, fired = make_engine()
    engine.next_due()  # build the heap mirror first

    def rejected() -> None:
        with store.unit():
            engine.schedule(seconds(1), "record", "cn-hangzhou", "ghost")
            raise RuntimeError("reject")

    with pytest.raises(RuntimeError):
        rejected()
    assert engine.next_due() is None
    assert 0 == engine.run_until(seconds(5))
    assert [] == fired


def test_failing_handler_is_undone_and_recorded_as_failed() -> None:
    """A handler that raises has its writes undone and its timer kept as a FailedTimer."""
    engine, store, clock, _ = make_engine()

    def broken(timer: Timer) -> None:
        store.set_meta("touched", True)
        raise RuntimeError("handler failed")

    engine.register("broken", broken)
    with store.unit():
        timer = engine.schedule(seconds(3), "broken", "cn-hangzhou", "x")
    with pytest.raises(RuntimeError, match="handler failed"):
        engine.run_until(seconds(5))
    assert store.meta("touched") is None
    assert [] == engine.pending()
    assert [FailedTimer(timer=timer, error="RuntimeError: handler failed")] == engine.failed()
    assert seconds(5) == clock.now()
    assert seconds(5) == store.meta("clock")


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_failing_handler_does_not_stop_the_other_timers(backend: str) -> None:
    """Timers due around a failing one in the same run_until all fire, in order, on both
    backends (SQLite finds its next timer with first(), memory with a heap)."""
    engine, store, clock, fired = make_engine(
        SqliteBackend(":memory:") if backend == "sqlite" else None
    )
    counters: list[int] = []

    def broken(timer: Timer) -> None:
        counters.append(store.next_number("probe"))
        engine.schedule(seconds(4), "record", "cn-hangzhou", "from-broken")
        raise ValueError("bad payload")

    engine.register("broken", broken)
    schedule(engine, store, seconds(1), "before")
    with store.unit():
        engine.schedule(seconds(2), "broken", "cn-hangzhou", "x")
    schedule(engine, store, seconds(3), "after")
    with pytest.raises(ValueError, match="bad payload") as caught:
        engine.run_until(seconds(10))
    assert [(seconds(1), "before"), (seconds(3), "after")] == fired
    assert ["broken"] == [failed.timer.action for failed in engine.failed()]
    notes = getattr(caught.value, "__notes__", ["Engine.failed() (Python 3.10 has no notes)"])
    assert any("Engine.failed()" in note for note in notes)
    assert [] == engine.pending()
    assert seconds(10) == clock.now()
    with store.unit():  # the failed handler's counter step was undone with it
        assert counters == [store.next_number("probe")]


def test_run_until_the_past_is_refused() -> None:
    """run_until an instant before now raises, fires nothing and leaves the clock."""
    engine, store, clock, fired = make_engine()
    clock.advance_to(seconds(100))
    schedule(engine, store, seconds(50), "late")
    with pytest.raises(InvalidParameterError):
        engine.run_until(seconds(10))
    assert seconds(100) == clock.now()
    assert [] == fired
    assert 1 == engine.run_until(seconds(100))
    assert [(seconds(100), "late")] == fired


def test_cloud_next_event_time_reports_the_earliest_timer() -> None:
    """After run_instances, the next event is the instance finishing its boot."""
    cloud = make_cloud()
    run_instance(cloud, wait=False)
    timings = cloud._world.timings
    assert T0 + timings.instance_pending + timings.instance_start == cloud.next_event_time()


def test_pending_work_survives_reopening_the_backend() -> None:
    """A progressing snapshot's timer lives in the backend: a new Cloud on it completes it."""
    backend = InMemoryBackend()
    cloud = Cloud(backend=backend, block_size=4096)
    ecs, instance_id = run_instance(cloud, data_disks=[DataDisk(category="cloud_ssd", size=20)])
    [disk] = ecs.describe_disks(instance_id=instance_id, disk_type="data").items
    ecs.write_disk(disk.disk_id, 0, b"x" * 4096)
    snapshot_id = ecs.create_snapshot(disk_id=disk.disk_id)
    assert SnapshotStatus.progressing is ecs.describe_snapshot(snapshot_id).status
    stopped_at = cloud.now()

    reopened = Cloud(backend=backend, block_size=4096)
    assert stopped_at == reopened.now()
    assert reopened.next_event_time() is not None
    reopened.advance(dt.timedelta(hours=1))
    assert (
        SnapshotStatus.accomplished
        is reopened.ecs("cn-hangzhou").describe_snapshot(snapshot_id).status
    )


def test_deleted_snapshots_and_cancelled_deletions_leave_no_timers() -> None:
    """Deleting a snapshot with retention, or cancelling a key's deletion, removes its timer."""
    cloud = make_cloud()
    ecs, instance_id = run_instance(cloud, data_disks=[DataDisk(size=20)])
    [disk] = ecs.describe_disks(instance_id=instance_id, disk_type="data").items
    snapshot_id = ecs.create_snapshot(disk_id=disk.disk_id, retention_days=30)
    ecs.modify_snapshot_attribute(snapshot_id=snapshot_id, retention_days=60)
    kms = cloud.kms("cn-hangzhou")
    key = kms.create_key()
    kms.schedule_key_deletion(key.key_id, 7)
    actions = sorted(t.action for t in cloud._world.engine.pending())
    assert ["ecs.snapshot_expire", "kms.delete_key"] == actions
    ecs.delete_snapshot(snapshot_id)
    kms.cancel_key_deletion(key.key_id)
    assert [] == cloud._world.engine.pending()
    assert cloud.next_event_time() is None


class DiskFullBackend(InMemoryBackend):
    """An in-memory backend whose commits fail (rolling back) while ``full`` is set."""

    full = False

    def commit(self) -> None:
        if self.full:
            self.rollback()
            raise StorageBackendError("disk full", code="StorageBackend.SqliteError")
        super().commit()


@pytest.mark.parametrize("due", [None, 30], ids=["no-timer", "timer-due"])
def test_advance_whose_commit_fails_leaves_the_clock(due: int | None) -> None:
    """When the backend cannot commit, advance raises and the clock stays where it stood."""
    backend = DiskFullBackend()
    cloud = Cloud(backend=backend)
    if due is not None:
        engine = cloud._world.engine
        engine.register("noop", lambda timer: None)
        with cloud._world.store.unit():
            engine.schedule(T0 + dt.timedelta(seconds=due), "noop", "cn-hangzhou", "x")
    backend.full = True
    with pytest.raises(StorageBackendError, match="disk full"):
        cloud.advance(dt.timedelta(minutes=1))
    assert T0 == cloud.now()
    assert T0 == backend.get("meta", "", "clock")
    backend.full = False
    assert (1 if due else 0) == cloud.advance(dt.timedelta(minutes=1))
    assert T0 + dt.timedelta(minutes=1) == cloud.now()


class Instant(dt.datetime):
    """A datetime subclass, like pandas' Timestamp."""


def test_run_until_a_datetime_subclass_stores_a_plain_datetime() -> None:
    """A datetime-subclass instant is accepted as the plain datetime of the same value."""
    cloud = make_cloud()
    target = Instant(2024, 1, 2, tzinfo=dt.timezone.utc)
    run_instance(cloud)
    cloud.run_until(target)
    assert dt.datetime is type(cloud.now())
    assert T0 + dt.timedelta(days=1) == cloud.now()
    assert dt.datetime is type(cloud.backend.get("meta", "", "clock"))
    assert all(dt.datetime is type(event.time) for event in cloud.events)


def test_a_subscriber_that_raises_after_a_timer_committed_leaves_the_clock_forward() -> None:
    """A subscriber failing after a timer's unit committed does not rewind the clock."""
    cloud = make_cloud()
    ecs, _ = run_instance(cloud, wait=False)

    def boom(event: object) -> None:
        if type(event).__name__ == "InstanceStatusChanged":
            raise RuntimeError("subscriber failed")

    unsubscribe = cloud.events.subscribe(boom)
    with pytest.raises(RuntimeError, match="subscriber failed"):
        cloud.advance(dt.timedelta(minutes=5))
    unsubscribe()
    stored = cloud.backend.get("meta", "", "clock")
    assert (stored, True) == (cloud.now(), T0 < cloud.now())
    ecs.create_disk(zone_id="cn-hangzhou-h", size=20, disk_category="cloud_essd")
    times = [event.time for event in cloud.events.list()]
    assert sorted(times) == times


class FullOnPutBackend(InMemoryBackend):
    """An in-memory backend whose writes of kind ``x`` fail like a full disk."""

    def put(self, kind: str, partition: str, key: str, value: object) -> None:
        if kind == "x":
            raise StorageBackendError("disk full", code="StorageBackend.SqliteError")
        super().put(kind, partition, key, value)


def _two_writing_timers(backend: StorageBackend) -> tuple[Engine, Store, ManualClock]:
    store = Store(backend)
    clock = ManualClock()
    engine = Engine(store, clock)
    engine.register("write", lambda timer: store.raw_put("x", "p", timer.target_id, b"1"))
    with store.unit():
        engine.schedule(seconds(1), "write", "r", "t1")
        engine.schedule(seconds(2), "write", "r", "t2")
    return engine, store, clock


def test_a_storage_failure_in_a_handler_keeps_the_timer_and_the_clock() -> None:
    """A disk-full error inside a handler rolls the unit back: timers stay, the clock stays."""
    engine, store, clock = _two_writing_timers(FullOnPutBackend())
    with pytest.raises(StorageBackendError, match="disk full"):
        engine.run_until(seconds(5))
    assert (["t1", "t2"], [], T0, None) == (
        [t.target_id for t in engine.pending()],
        engine.failed(),
        clock.now(),
        store.meta("clock"),
    )


def test_a_storage_failure_in_a_handler_on_a_full_sqlite_file_keeps_the_timer(
    tmp_path: object,
) -> None:
    """On SQLite with the page limit reached mid-handler, the timer stays and time stands."""
    backend = SqliteBackend(f"{tmp_path}/w.db")
    store = Store(backend)
    clock = ManualClock()
    engine = Engine(store, clock)
    engine.register("big", lambda timer: store.raw_put("x", "p", timer.target_id, b"\1" * 2**21))
    with store.unit():
        engine.schedule(seconds(1), "big", "r", "t1")
    pages = backend._conn.execute("PRAGMA page_count").fetchone()[0]
    backend._conn.execute(f"PRAGMA max_page_count = {pages + 20}")
    with pytest.raises(StorageBackendError):
        engine.run_until(seconds(5))
    assert (["t1"], [], T0) == (
        [t.target_id for t in engine.pending()],
        engine.failed(),
        clock.now(),
    )
    backend.close()


class BrokenSavepointBackend(InMemoryBackend):
    """An in-memory backend whose rollback to a savepoint fails (after undoing nothing)."""

    def rollback_to(self) -> None:
        raise OSError("I/O error during ROLLBACK TO")


def test_a_failed_savepoint_rollback_is_a_storage_error_and_keeps_the_timer() -> None:
    """If a handler's savepoint cannot be rolled back, the whole unit is and the timer stays."""
    store = Store(BrokenSavepointBackend())
    clock = ManualClock()
    engine = Engine(store, clock)

    def half_then_fail(timer: Timer) -> None:
        store.raw_put("x", "p", timer.target_id, b"half")
        raise RuntimeError("handler bug")

    engine.register("bad", half_then_fail)
    with store.unit():
        engine.schedule(seconds(1), "bad", "r", "t1")
    with pytest.raises(StorageBackendError, match="savepoint"):
        engine.run_until(seconds(5))
    assert (["t1"], [], T0, None) == (
        [t.target_id for t in engine.pending()],
        engine.failed(),
        clock.now(),
        store.raw_get("x", "p", "t1"),
    )


def test_a_unit_whose_savepoint_could_not_roll_back_refuses_to_commit() -> None:
    """Catching a failed savepoint rollback does not let the enclosing unit commit half a write."""
    store = Store(BrokenSavepointBackend())

    def inner() -> None:
        with store.unit():
            store.raw_put("x", "p", "inner", b"1")
            raise RuntimeError("inner failed")

    def outer() -> None:
        with store.unit():
            store.raw_put("x", "p", "outer", b"1")
            with pytest.raises(StorageBackendError):
                inner()

    with pytest.raises(StorageBackendError, match="rolled back whole"):
        outer()
    assert (None, None) == (store.raw_get("x", "p", "outer"), store.raw_get("x", "p", "inner"))
    with store.unit():
        store.raw_put("x", "p", "next", b"1")
    assert b"1" == store.raw_get("x", "p", "next")
