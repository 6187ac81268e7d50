"""The storage backend contract: one check that every :class:`StorageBackend` must pass.

:func:`check_storage_backend` runs deterministic checks of each rule of the protocol, then a
Hypothesis state machine that drives random sequences of units of work (with nested savepoints)
against the backend and a plain dictionary model, comparing the two after every step. A backend
author runs it from a test::

    def test_my_backend_keeps_the_contract(tmp_path):
        paths = (tmp_path / f"{n}.db" for n in itertools.count())
        check_storage_backend(lambda: MyBackend(next(paths)))

This module holds the deterministic checks and :func:`check_storage_backend`; the values they
store and the comparisons are in :mod:`._contract_values`, the state machine in
:mod:`._contract_machine`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from .._backends._protocol import StorageBackend, clear_partition, count, get_many, scan_range
from ..errors import StorageBackendError
from ._contract_machine import _BackendMachine
from ._contract_ranges import check_scan_range
from ._contract_values import (
    _KINDS,
    _PARTITIONS,
    _SAMPLE_VALUES,
    _digest,
    _Dump,
    _dump,
    _expect,
    _expect_dump,
    _expect_refused,
    _fail,
    _Volume,
)

__all__ = ["check_storage_backend"]


# -- deterministic checks -------------------------------------------------------------------
def _check_empty(backend: StorageBackend) -> None:
    """A new backend holds nothing."""
    kind, partition = _KINDS[0], _PARTITIONS[1]
    _expect(None, backend.get(kind, partition, "a"), "get on a new backend")
    _expect([], list(backend.scan(kind, partition)), "scan on a new backend")
    _expect([], list(backend.partitions(kind)), "partitions on a new backend")
    _expect(None, backend.get_blob(_digest(b"")), "get_blob on a new backend")
    _expect((0, 0), backend.blob_stats(), "blob_stats on a new backend")
    _expect(0, count(backend, kind, partition), "count on a new backend")
    _expect({}, get_many(backend, kind, partition, ["a", "b"]), "get_many on a new backend")


def _check_values_round_trip(backend: StorageBackend) -> None:
    """Every supported value type comes back equal, with the same types, before and after commit."""
    kind, partition = _KINDS[0], _PARTITIONS[1]
    keys = [f"v{i:02d}" for i in range(len(_SAMPLE_VALUES))]
    backend.begin()
    for key, value in zip(keys, _SAMPLE_VALUES, strict=True):
        backend.put(kind, partition, key, value)
    for key, value in zip(keys, _SAMPLE_VALUES, strict=True):
        _expect(value, backend.get(kind, partition, key), f"get({key}) inside the unit")
    backend.commit()
    for key, value in zip(keys, _SAMPLE_VALUES, strict=True):
        _expect(value, backend.get(kind, partition, key), f"get({key}) after commit")
    _expect(
        list(zip(keys, _SAMPLE_VALUES, strict=True)),
        list(backend.scan(kind, partition)),
        "scan after commit",
    )
    volume = backend.get(kind, partition, keys[0])
    if not isinstance(volume, _Volume) or volume.written != 4608:
        raise _fail(f"an init=False field did not survive storage: {volume!r}")


def _check_replace_and_delete(backend: StorageBackend) -> None:
    """get sees replacements and deletions at once, inside the unit and after commit."""
    kind, partition = _KINDS[0], _PARTITIONS[1]
    backend.begin()
    backend.put(kind, partition, "a", "first")
    backend.put(kind, partition, "b", "kept")
    backend.commit()
    _expect("first", backend.get(kind, partition, "a"), "get after commit")
    backend.begin()
    backend.put(kind, partition, "a", "second")
    _expect("second", backend.get(kind, partition, "a"), "get of a replaced record in the unit")
    backend.delete(kind, partition, "a")
    _expect(None, backend.get(kind, partition, "a"), "get of a deleted record in the unit")
    _expect({}, get_many(backend, kind, partition, ["a"]), "get_many of a deleted record")
    backend.commit()
    _expect(None, backend.get(kind, partition, "a"), "get of a deleted record after commit")
    _expect([("b", "kept")], list(backend.scan(kind, partition)), "scan after the delete")
    backend.begin()
    backend.put(kind, partition, "a", "third")
    backend.commit()
    _expect("third", backend.get(kind, partition, "a"), "get of a re-created record")


def _check_scan_order_and_partitions(backend: StorageBackend) -> None:
    """scan orders by key (code point order), partitions are sorted, non-empty and per kind."""
    kind, other = _KINDS
    keys = ["b", "a", "", "ab", "a\x00", "\U0001f600", "\uffff", "é", "B", "a b", "aa"]
    backend.begin()
    for number, key in enumerate(keys):
        backend.put(kind, "p2", key, number)
        backend.put(kind, "p1", key, -number)
    backend.put(other, "p0", "only", "other kind")
    backend.commit()
    expected = sorted((key, number) for number, key in enumerate(keys))
    _expect(expected, list(backend.scan(kind, "p2")), "scan order")
    _expect(["p1", "p2"], list(backend.partitions(kind)), "partitions")
    _expect(["p0"], list(backend.partitions(other)), "partitions of another kind")
    _expect([], list(backend.scan(kind, "p0")), "scan of a partition of another kind")
    _expect(len(keys), count(backend, kind, "p1"), "count")
    backend.begin()
    for key, _ in list(backend.scan(kind, "p1")):
        backend.delete(kind, "p1", key)
    _expect(["p2"], list(backend.partitions(kind)), "partitions after emptying one")
    backend.commit()
    _expect(["p2"], list(backend.partitions(kind)), "partitions after committing that")
    _expect(0, count(backend, kind, "p1"), "count of an emptied partition")


def _baseline(backend: StorageBackend) -> _Dump:
    """Commit a small world and return what it holds."""
    blobs = {_digest(data): data for data in (b"one", b"two" * 100, b"")}
    backend.begin()
    for number, value in enumerate(_SAMPLE_VALUES[:6]):
        backend.put(_KINDS[number % 2], _PARTITIONS[number % 3], f"k{number}", value)
    for digest, data in blobs.items():
        backend.put_blob(digest, data)
    backend.commit()
    return _dump(backend, blobs)


def _check_rollback_restores(backend: StorageBackend) -> None:
    """A rolled-back unit of work leaves records and blobs exactly as they were."""
    before = _baseline(backend)
    (first, *rest), digests = list(before[0]), list(before[1])
    backend.begin()
    backend.put(*first, "overwritten")
    backend.delete(*rest[0])
    backend.put(_KINDS[0], "new-partition", "new", _SAMPLE_VALUES[0])
    backend.put(*rest[1], _SAMPLE_VALUES[-1])
    backend.delete(*rest[1])
    backend.put_blob(_digest(b"new"), b"new")
    backend.delete_blob(digests[0])
    backend.delete_blob(digests[1])
    backend.put_blob(digests[1], before[1][digests[1]])
    clear_partition(backend, *rest[2][:2])
    _expect(None, backend.get(*rest[0]), "get of a record deleted inside the unit")
    _expect("overwritten", backend.get(*first), "get of a record replaced inside the unit")
    _expect(None, backend.get_blob(digests[0]), "get_blob of a blob deleted inside the unit")
    backend.rollback()
    _expect_dump(before, backend, "after rollback")
    _expect(None, backend.get_blob(_digest(b"new")), "a blob put by a rolled-back unit")
    _expect(
        [], list(backend.scan(_KINDS[0], "new-partition")), "a record put by a rolled-back unit"
    )


def _check_commit_keeps(backend: StorageBackend) -> None:
    """A committed unit of work keeps every write, and a later rollback does not undo it."""
    before = _baseline(backend)
    records, blobs = dict(before[0]), dict(before[1])
    first = next(iter(records))
    backend.begin()
    backend.put(*first, ("replaced", 1))
    records[first] = ("replaced", 1)
    backend.put_blob(_digest(b"kept"), b"kept")
    blobs[_digest(b"kept")] = b"kept"
    backend.commit()
    backend.begin()
    backend.rollback()
    _expect_dump((records, blobs), backend, "after commit and an empty rollback")


def _check_writes_need_a_unit(backend: StorageBackend) -> None:
    """Writes, commits and rollbacks outside a unit of work raise and change nothing."""
    before = _baseline(backend)
    address = next(iter(before[0]))
    digest = next(iter(before[1]))
    attempts: list[tuple[str, Callable[[], object]]] = [
        ("put outside a unit", lambda: backend.put(*address, "x")),
        ("put of a new record outside a unit", lambda: backend.put(_KINDS[0], "p", "new", 1)),
        ("delete outside a unit", lambda: backend.delete(*address)),
        ("put_blob outside a unit", lambda: backend.put_blob(_digest(b"z"), b"z")),
        ("delete_blob outside a unit", lambda: backend.delete_blob(digest)),
        ("clear_partition outside a unit", lambda: clear_partition(backend, *address[:2])),
        ("commit outside a unit", backend.commit),
        ("rollback outside a unit", backend.rollback),
    ]
    for what, call in attempts:
        _expect_refused(call, what)
    backend.begin()
    backend.commit()
    for what, call in attempts:
        _expect_refused(call, what + " (after a commit)")
    backend.begin()
    backend.rollback()
    for what, call in attempts:
        _expect_refused(call, what + " (after a rollback)")
    _expect_dump(before, backend, "after refused writes")


def _check_nested_begin_refused(backend: StorageBackend) -> None:
    """begin inside a unit of work raises and leaves that unit open and working."""
    kind, partition = _KINDS[0], _PARTITIONS[0]
    backend.begin()
    backend.put(kind, partition, "a", 1)
    _expect_refused(backend.begin, "begin inside a unit of work")
    _expect(1, backend.get(kind, partition, "a"), "a write made before the nested begin")
    backend.put(kind, partition, "b", 2)
    backend.commit()
    _expect([("a", 1), ("b", 2)], list(backend.scan(kind, partition)), "after the commit")


def _check_savepoint_rollback_restores(backend: StorageBackend) -> None:
    """rollback_to undoes exactly the writes since its savepoint; the unit goes on and commits."""
    before = _baseline(backend)
    (first, *rest), digests = list(before[0]), list(before[1])
    backend.begin()
    backend.put(*first, "kept")
    backend.put_blob(_digest(b"kept"), b"kept")
    backend.savepoint()
    backend.put(*first, "undone")
    backend.delete(*rest[0])
    backend.put(_KINDS[0], "new-partition", "new", _SAMPLE_VALUES[0])
    backend.put_blob(_digest(b"undone"), b"undone")
    backend.delete_blob(digests[0])
    backend.delete_blob(_digest(b"kept"))
    clear_partition(backend, *rest[2][:2])
    _expect("undone", backend.get(*first), "get of a record replaced inside the savepoint")
    backend.rollback_to()
    _expect("kept", backend.get(*first), "get after rollback_to of a record put before it")
    _expect(before[0][rest[0]], backend.get(*rest[0]), "a record deleted in the savepoint")
    _expect([], list(backend.scan(_KINDS[0], "new-partition")), "a partition made in it")
    _expect(None, backend.get_blob(_digest(b"undone")), "a blob put in the savepoint")
    _expect(b"kept", backend.get_blob(_digest(b"kept")), "a blob deleted in the savepoint")
    _expect(before[1][digests[0]], backend.get_blob(digests[0]), "a committed blob deleted in it")
    _expect_refused(backend.rollback_to, "rollback_to with no savepoint open")
    _expect_refused(backend.release, "release with no savepoint open")
    backend.commit()
    records, blobs = before
    expected = (
        {**records, first: "kept"},
        {**blobs, _digest(b"kept"): b"kept"},
    )
    _expect_dump(expected, backend, "after the commit that followed rollback_to")


def _check_savepoints_nest(backend: StorageBackend) -> None:
    """A released savepoint joins the enclosing one: rolling that back undoes both."""
    kind, partition = _KINDS[0], _PARTITIONS[1]
    _expect_refused(backend.savepoint, "savepoint outside a unit of work")
    backend.begin()
    backend.put(kind, partition, "a", 1)
    backend.savepoint()
    backend.put(kind, partition, "b", 2)
    backend.put(kind, partition, "a", 10)  # written in both savepoints: undo keeps the oldest
    backend.put_blob(_digest(b"nested"), b"nested")
    backend.savepoint()
    backend.put(kind, partition, "c", 3)
    backend.delete(kind, partition, "a")
    backend.delete_blob(_digest(b"nested"))
    backend.release()
    _expect([("b", 2), ("c", 3)], list(backend.scan(kind, partition)), "after release")
    backend.rollback_to()
    _expect([("a", 1)], list(backend.scan(kind, partition)), "after the outer rollback_to")
    _expect(None, backend.get_blob(_digest(b"nested")), "a blob put then deleted in savepoints")
    _expect((0, 0), backend.blob_stats(), "blob_stats after the outer rollback_to")
    backend.savepoint()
    backend.put(kind, partition, "d", 4)
    backend.savepoint()  # left open: commit closes it with the unit
    backend.put(kind, partition, "e", 5)
    backend.commit()
    _expect([("a", 1), ("d", 4), ("e", 5)], list(backend.scan(kind, partition)), "after commit")
    backend.begin()
    backend.savepoint()
    backend.put(kind, partition, "f", 6)
    backend.rollback()  # rollback closes open savepoints and undoes everything
    _expect([("a", 1), ("d", 4), ("e", 5)], list(backend.scan(kind, partition)), "after rollback")
    _expect_refused(backend.release, "release after the unit ended")


def _check_unencodable_addresses_hold_nothing(backend: StorageBackend) -> None:
    """An address with a lone surrogate holds nothing: reads find nothing, put is refused."""
    kind, partition, bad = _KINDS[0], _PARTITIONS[1], "s-\ud800"
    backend.begin()
    backend.put(kind, partition, "a", 1)
    _expect_refused(lambda: backend.put(kind, partition, bad, 1), "put at a lone surrogate key")
    _expect_refused(lambda: backend.put(kind, bad, "a", 1), "put at a lone surrogate partition")
    backend.delete(kind, partition, bad)
    clear_partition(backend, kind, bad)
    backend.commit()
    _expect(None, backend.get(kind, partition, bad), "get of a lone surrogate key")
    _expect([], list(backend.scan(kind, bad)), "scan of a lone surrogate partition")
    _expect(0, count(backend, kind, bad), "count of a lone surrogate partition")
    _expect({"a": 1}, get_many(backend, kind, partition, ["a", bad]), "get_many with one")
    _expect([("a", 1)], list(backend.scan(kind, partition)), "the partition afterwards")


def _check_none_refused(backend: StorageBackend) -> None:
    """put of None raises, changes nothing, and the unit of work can still commit."""
    kind, partition = _KINDS[0], _PARTITIONS[0]
    backend.begin()
    backend.put(kind, partition, "kept", "value")
    _expect_refused(lambda: backend.put(kind, partition, "kept", None), "put of None")
    _expect_refused(lambda: backend.put(kind, partition, "new", None), "put of None (new key)")
    _expect("value", backend.get(kind, partition, "kept"), "the record a None put targeted")
    _expect(None, backend.get(kind, partition, "new"), "a record only a None put targeted")
    backend.commit()
    _expect([("kept", "value")], list(backend.scan(kind, partition)), "after the commit")


def _check_blobs(backend: StorageBackend) -> None:
    """Blobs are stored once per digest, come back as bytes, and are counted by blob_stats."""
    data = b"block" * 1000
    digest = _digest(data)
    backend.begin()
    backend.put_blob(digest, data)
    backend.put_blob(digest, data)
    backend.put_blob(_digest(b""), b"")
    backend.delete_blob(_digest(b"missing"))
    _expect((2, len(data)), backend.blob_stats(), "blob_stats inside the unit")
    backend.commit()
    _expect(data, backend.get_blob(digest), "get_blob after commit")
    _expect(b"", backend.get_blob(_digest(b"")), "get_blob of an empty blob")
    _expect((2, len(data)), backend.blob_stats(), "blob_stats after a duplicate put_blob")
    backend.begin()
    backend.put_blob(digest, data)
    backend.delete_blob(digest)
    backend.commit()
    _expect(None, backend.get_blob(digest), "get_blob after delete_blob")
    _expect((1, 0), backend.blob_stats(), "blob_stats after delete_blob")


def _check_delete_missing_is_a_no_op(backend: StorageBackend) -> None:
    """Deleting a missing record changes nothing."""
    before = _baseline(backend)
    backend.begin()
    backend.delete(_KINDS[0], "nowhere", "nothing")
    backend.delete(*next(iter(before[0]))[:2], "not-there")
    backend.commit()
    _expect_dump(before, backend, "after deleting missing records")


def _check_optional_methods(backend: StorageBackend) -> None:
    """get_many, count and clear_partition agree with the required methods."""
    kind, partition = _KINDS[1], _PARTITIONS[2]
    backend.begin()
    for number in range(30):
        backend.put(kind, partition, f"{number:03d}", number)
    backend.put(kind, "kept", "x", "kept")
    keys = ["029", "missing", "000", "007", "000"]
    expected_many = {key: int(key) for key in keys if key != "missing"}
    _expect(expected_many, get_many(backend, kind, partition, keys), "get_many in a unit")
    backend.commit()
    _expect(expected_many, get_many(backend, kind, partition, iter(keys)), "get_many")
    _expect(30, count(backend, kind, partition), "count")
    backend.begin()
    clear_partition(backend, kind, partition)
    _expect(0, count(backend, kind, partition), "count after clear_partition")
    _expect({}, get_many(backend, kind, partition, keys), "get_many after clear_partition")
    _expect(None, backend.get(kind, partition, "007"), "get after clear_partition")
    backend.rollback()
    _expect(30, count(backend, kind, partition), "count after rolling back clear_partition")
    # Reads made inside the rolled-back unit must not outlive it (a cache of them, say).
    _expect(7, backend.get(kind, partition, "007"), "get after rolling back clear_partition")
    _expect(
        expected_many,
        get_many(backend, kind, partition, keys),
        "get_many after rolling back clear_partition",
    )
    backend.begin()
    clear_partition(backend, kind, partition)
    backend.commit()
    _expect([], list(backend.scan(kind, partition)), "scan after clear_partition")
    _expect(["kept"], list(backend.partitions(kind)), "partitions after clear_partition")


def _check_write_after_materialised_scan(backend: StorageBackend) -> None:
    """Writing to a partition while walking a materialised scan of it works."""
    kind, partition = _KINDS[0], _PARTITIONS[3]
    backend.begin()
    for number in range(10):
        backend.put(kind, partition, f"{number}", number)
    for key, value in list(backend.scan(kind, partition)):
        assert isinstance(value, int)
        if value % 2:
            backend.delete(kind, partition, key)
        else:
            backend.put(kind, partition, key, value * 10)
    backend.commit()
    _expect(
        [(f"{n}", n * 10) for n in range(0, 10, 2)],
        list(backend.scan(kind, partition)),
        "scan after rewriting a partition",
    )


def _check_closed_backend_refuses(backend: StorageBackend) -> None:
    """After close, every method raises StorageBackendError; closing again is harmless."""
    before = _baseline(backend)
    address = next(iter(before[0]))
    digest = next(iter(before[1]))
    backend.close()
    calls: list[tuple[str, Callable[[], object]]] = [
        ("begin", backend.begin),
        ("commit", backend.commit),
        ("rollback", backend.rollback),
        ("get", lambda: backend.get(*address)),
        ("put", lambda: backend.put(*address, 1)),
        ("delete", lambda: backend.delete(*address)),
        ("scan", lambda: list(backend.scan(*address[:2]))),
        ("partitions", lambda: list(backend.partitions(address[0]))),
        ("get_blob", lambda: backend.get_blob(digest)),
        ("put_blob", lambda: backend.put_blob(_digest(b"x"), b"x")),
        ("delete_blob", lambda: backend.delete_blob(digest)),
        ("blob_stats", backend.blob_stats),
        ("get_many", lambda: get_many(backend, address[0], address[1], [address[2]])),
        ("count", lambda: count(backend, *address[:2])),
        ("clear_partition", lambda: clear_partition(backend, *address[:2])),
        ("scan_range", lambda: scan_range(backend, *address[:2], limit=1)),
    ]
    for what, call in calls:
        _expect_refused(call, f"{what} after close")
    try:
        backend.close()
    except StorageBackendError:
        pass
    except Exception as exc:
        raise _fail(f"a second close raised {exc!r}") from exc


def _check_closed_inside_unit(backend: StorageBackend) -> None:
    """Closing with a unit of work open makes every later call raise."""
    backend.begin()
    backend.put(_KINDS[0], "p", "k", 1)
    backend.close()
    _expect_refused(backend.commit, "commit after closing inside a unit")
    _expect_refused(lambda: backend.get(_KINDS[0], "p", "k"), "get after closing inside a unit")


_UNIT_CHECKS: tuple[Callable[[StorageBackend], None], ...] = (
    _check_empty,
    _check_values_round_trip,
    _check_replace_and_delete,
    _check_scan_order_and_partitions,
    _check_rollback_restores,
    _check_commit_keeps,
    _check_writes_need_a_unit,
    _check_nested_begin_refused,
    _check_savepoint_rollback_restores,
    _check_savepoints_nest,
    _check_unencodable_addresses_hold_nothing,
    _check_none_refused,
    _check_blobs,
    _check_delete_missing_is_a_no_op,
    _check_optional_methods,
    check_scan_range,
    _check_write_after_materialised_scan,
    _check_closed_backend_refuses,
    _check_closed_inside_unit,
)


def check_storage_backend(
    factory: Callable[[], StorageBackend],
    *,
    max_examples: int = 100,
    stateful_step_count: int = 50,
    derandomize: bool = True,
) -> None:
    """Check that the backends ``factory`` makes keep the :class:`StorageBackend` contract.

    Runs deterministic checks of every rule of the protocol (reads and writes, scan order,
    partitions, blobs and their statistics, commit, rollback restoring exactly, writes outside a
    unit of work, nested ``begin``, savepoints (``savepoint``, ``release``, ``rollback_to``,
    nested, and closed by ``commit``/``rollback``), ``None`` values, addresses holding a lone
    surrogate (absent, and refused by ``put``), ``close``, and the optional
    ``get_many``, ``count``, ``clear_partition`` and ``scan_range`` through the protocol's
    helpers (``scan_range`` with every combination of bounds, direction and limit, on empty,
    committed, uncommitted, rolled-back and large partitions, against the scanning fallback),
    then a
    Hypothesis state machine that runs random units of work and savepoints against a backend
    and a dictionary model and compares them after every step. Stored values include nested
    frozen ``attrs`` instances, enums, datetimes, timedeltas, bytes, tuples, frozensets and
    dicts, so a serialising backend's codec is exercised too.

    Args:
        factory: Returns a new, empty, open backend on every call. The check closes each one.
        max_examples: How many random programs the state machine runs.
        stateful_step_count: The most steps in one program.
        derandomize: Run the same programs every time (the default, in keeping with
            cloudbackup's determinism); pass ``False`` to explore new ones on each run.

    Raises:
        AssertionError: The backend broke the contract; the message says how.
    """
    for check in _UNIT_CHECKS:
        backend = factory()
        try:
            check(backend)
        except AssertionError as exc:
            raise _fail(f"{check.__doc__} -- {exc}") from exc
        finally:
            with contextlib.suppress(StorageBackendError):
                backend.close()

    class _Run(_BackendMachine):
        def __init__(self) -> None:
            super().__init__(factory)

    options: dict[str, Any] = {}
    if derandomize:
        options["database"] = None
    run_state_machine_as_test(  # type: ignore[no-untyped-call,unused-ignore]
        _Run,
        settings=settings(
            max_examples=max_examples,
            stateful_step_count=stateful_step_count,
            deadline=None,
            derandomize=derandomize,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            **options,
        ),
    )
