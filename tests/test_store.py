"""Units of work over a backend, and content-addressed, reference-counted blocks."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import make_cloud
from cloudbackup import Cloud, InMemoryBackend, errors
from cloudbackup._store import ZERO, BlockStore, Store


def fresh() -> Store:
    return Store(InMemoryBackend())


class Boom(Exception):
    pass


def abort(store: Store, body: Callable[[], object], error: type[BaseException] = Boom) -> None:
    """Run ``body`` inside a unit of work, then raise ``error`` from inside it."""
    with store.unit():
        body()
        raise error


def test_finished_unit_commits() -> None:
    """Writes of a unit that ends normally are kept."""
    store = fresh()
    with store.unit():
        store.raw_put("k", "p", "a", 1)
    assert 1 == store.raw_get("k", "p", "a")
    assert not store.in_unit


def test_unit_rolls_back_on_error() -> None:
    """Every write of a unit that raises is undone, including overwrites and deletes."""
    store = fresh()
    with store.unit():
        store.raw_put("k", "p", "keep", "old")
        store.raw_put("k", "p", "gone", "x")

    def body() -> None:
        store.raw_put("k", "p", "keep", "new")
        store.raw_delete("k", "p", "gone")
        store.raw_put("k", "p", "added", 1)
        store.set_meta("m", 1)
        store.next_number("counter")

    with pytest.raises(Boom):
        abort(store, body)
    assert [("gone", "x"), ("keep", "old")] == store.raw_scan("k", "p")
    assert store.meta("m") is None
    assert store.backend.get("meta", "counter", "counter") is None
    assert not store.in_unit


def test_counters_roll_back() -> None:
    """A counter reserved in a rolled-back unit is handed out again."""
    store = fresh()
    reserved: list[int] = []
    with pytest.raises(Boom):
        abort(store, lambda: reserved.append(store.next_number("ids", 5)))
    assert [0] == reserved
    with store.unit():
        assert 0 == store.next_number("ids")
        assert 1 == store.next_number("ids")


def test_unit_rolls_back_on_base_exceptions_too() -> None:
    """KeyboardInterrupt inside a unit still rolls it back."""
    store = fresh()
    with pytest.raises(KeyboardInterrupt):
        abort(store, lambda: store.raw_put("k", "p", "a", 1), KeyboardInterrupt)
    assert store.raw_get("k", "p", "a") is None


def test_backend_rolls_back_uncommitted_work() -> None:
    """A backend unit that is rolled back instead of committed leaves nothing behind."""
    backend = InMemoryBackend()
    backend.begin()
    backend.put("k", "p", "a", 1)
    backend.put_blob(b"d", b"data")
    backend.rollback()
    assert backend.get("k", "p", "a") is None
    assert backend.get_blob(b"d") is None
    assert (0, 0) == backend.blob_stats()


def test_writes_outside_a_unit_are_refused() -> None:
    """The backend refuses writes with no unit open."""
    backend = InMemoryBackend()
    with pytest.raises(errors.StorageBackendError):
        backend.put("k", "p", "a", 1)


def test_nested_units_join_the_outer_one() -> None:
    """An inner unit commits nothing by itself; the outermost unit decides."""
    store = fresh()
    with store.unit():
        with store.unit():
            store.raw_put("k", "p", "inner", 1)
        assert store.in_unit
        store.raw_put("k", "p", "outer", 2)
    assert [("inner", 1), ("outer", 2)] == store.raw_scan("k", "p")


def test_error_from_inner_unit_rolls_back_the_outer_one() -> None:
    """An error that escapes an inner unit through the outer one undoes both."""
    store = fresh()

    def body() -> None:
        store.raw_put("k", "p", "outer", 1)
        abort(store, lambda: store.raw_put("k", "p", "inner", 2))

    with pytest.raises(Boom):
        abort(store, body, KeyError)
    assert [] == store.raw_scan("k", "p")
    assert not store.in_unit


def test_after_commit_runs_after_the_outermost_commit() -> None:
    """after_commit callbacks run once, after the outermost unit commits, in order."""
    store = fresh()
    seen: list[tuple[str, bool]] = []
    with store.unit():
        store.after_commit(lambda: seen.append(("a", store.in_unit)))
        with store.unit():
            store.after_commit(lambda: seen.append(("b", store.in_unit)))
        assert [] == seen
    assert [("a", False), ("b", False)] == seen


def test_after_commit_is_dropped_on_rollback() -> None:
    """Callbacks of a rolled-back unit never run, nor in the next unit."""
    store = fresh()
    seen: list[str] = []
    with pytest.raises(Boom):
        abort(store, lambda: store.after_commit(lambda: seen.append("x")))
    with store.unit():
        pass
    assert [] == seen


def test_after_commit_needs_an_open_unit() -> None:
    """after_commit outside a unit is a StorageBackendError."""
    with pytest.raises(errors.StorageBackendError):
        fresh().after_commit(lambda: None)


def test_rollback_listeners_are_told() -> None:
    """on_rollback listeners run after each rollback, not after commits."""
    store = fresh()
    calls: list[int] = []
    store.on_rollback(lambda: calls.append(1))
    with store.unit():
        pass
    with pytest.raises(Boom):
        abort(store, lambda: None)
    assert [1] == calls


def test_failed_commit_drops_callbacks_and_tells_listeners() -> None:
    """If the backend's commit fails, callbacks are dropped and listeners told."""

    class FailingCommit(InMemoryBackend):
        def commit(self) -> None:
            raise errors.StorageBackendError("disk full")

    store = Store(FailingCommit())
    seen: list[str] = []
    store.on_rollback(lambda: seen.append("rolled back"))
    with pytest.raises(errors.StorageBackendError), store.unit():
        store.after_commit(lambda: seen.append("callback"))
    assert ["rolled back"] == seen


def test_service_calls_are_units_of_work() -> None:
    """A rejected service call leaves the backend byte-for-byte as before."""
    backend = InMemoryBackend()
    cloud = make_cloud(backend=backend)
    ecs = cloud.ecs("cn-hangzhou")
    before = dict(backend._records)
    with pytest.raises(errors.InvalidParameterError):
        ecs.create_disk(zone_id="cn-hangzhou-h", size=1)  # cloud disks start at 5 GiB
    assert before == backend._records


# -- blocks --------------------------------------------------------------------------


def blocks() -> BlockStore:
    return BlockStore(fresh(), 4096)


def test_intern_stores_content_once_and_counts_references() -> None:
    """Interning equal content twice keeps one blob with two references."""
    bs = blocks()
    data = b"a" * 4096
    with bs.store.unit():
        d1 = bs.intern(data)
        d2 = bs.intern(data)
    assert hashlib.sha256(data).digest() == d1
    assert d1 == d2
    assert 2 == bs.refcount(d1)
    assert (1, 4096) == bs.store.backend.blob_stats()
    assert data == bs.load(d1)


def test_blob_goes_with_its_last_reference() -> None:
    """decref deletes the blob only when the count reaches zero."""
    bs = blocks()
    with bs.store.unit():
        digest = bs.intern(b"b" * 4096)
        bs.incref(digest, 2)
    with bs.store.unit():
        bs.decref(digest, 2)
    assert 1 == bs.refcount(digest)
    assert bs.store.backend.get_blob(digest) is not None
    with bs.store.unit():
        bs.decref(digest)
    assert 0 == bs.refcount(digest)
    assert bs.store.backend.get_blob(digest) is None
    assert (0, 0) == bs.store.backend.blob_stats()


def test_zero_digest_is_free() -> None:
    """ZERO holds no blob, loads as a zero block and ignores reference changes."""
    bs = blocks()
    with bs.store.unit():
        bs.incref(ZERO)
        bs.decref(ZERO)
    assert bytes(4096) == bs.load(ZERO)
    assert 0 == bs.refcount(ZERO)
    assert {} == bs.all_refcounts()


def test_missing_blob_is_a_storage_error() -> None:
    """Loading a digest that the backend lost raises StorageBackendError."""
    with pytest.raises(errors.StorageBackendError):
        blocks().load(b"\x01" * 32)


def test_block_refcounts_roll_back() -> None:
    """A rolled-back intern leaves neither blob nor count."""
    bs = blocks()
    with pytest.raises(Boom):
        abort(bs.store, lambda: bs.intern(b"c" * 4096))
    assert {} == bs.all_refcounts()
    assert (0, 0) == bs.store.backend.blob_stats()


@settings(max_examples=50)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 3)), max_size=40))
def test_refcounts_match_a_counter_model(ops: list[tuple[bool, int]]) -> None:
    """Random interns and decrefs agree with a plain counter; blobs exist iff counted."""
    bs = blocks()
    contents = [bytes([i + 1]) * 4096 for i in range(4)]
    model = [0, 0, 0, 0]
    for add, which in ops:
        with bs.store.unit():
            if add:
                bs.intern(contents[which])
                model[which] += 1
            elif model[which]:
                bs.decref(hashlib.sha256(contents[which]).digest())
                model[which] -= 1
    expected = {hashlib.sha256(c).digest(): n for c, n in zip(contents, model, strict=True) if n}
    assert expected == bs.all_refcounts()
    assert (len(expected), 4096 * len(expected)) == bs.store.backend.blob_stats()


def test_two_clouds_sharing_an_in_memory_backend_never_hand_out_one_id_twice() -> None:
    """A Cloud that keeps counters in memory notices another Cloud's commits on the same
    in-memory backend (its generation moves), so alternating calls get distinct ids."""
    backend = InMemoryBackend()
    first, second = Cloud(seed=3, backend=backend), Cloud(seed=3, backend=backend)
    ids = [
        cloud.kms("cn-hangzhou").create_key().key_id
        for cloud in (first, second, first, second, first)
    ]
    assert len(set(ids)) == len(ids)
    alone = Cloud(seed=3)
    assert ids == [alone.kms("cn-hangzhou").create_key().key_id for _ in ids]


def test_an_in_memory_backend_counts_commits_and_a_store_its_own() -> None:
    """generation() moves on every commit (not on a rollback), and a Store running alone never
    takes its own commits for another writer's."""
    backend = InMemoryBackend()
    cloud = Cloud(seed=3, backend=backend)
    before = backend.generation()
    calls: list[str] = []
    cloud._world.store.on_external_change(lambda: calls.append("external"))
    cloud.kms("cn-hangzhou").create_key()
    cloud.kms("cn-hangzhou").create_key()
    assert before + 2 == backend.generation()
    backend.begin()
    backend.rollback()
    assert before + 2 == backend.generation()
    assert [] == calls
