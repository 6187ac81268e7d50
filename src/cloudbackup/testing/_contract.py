"""The storage backend contract: one check that every :class:`StorageBackend` must pass.

:func:`check_storage_backend` runs deterministic checks of each rule of the protocol, then a
Hypothesis state machine that drives random sequences of units of work (with nested savepoints)
against the backend and a plain dictionary model, comparing the two after every step. A backend
author runs it from a test::

    def test_my_backend_keeps_the_contract(tmp_path):
        paths = (tmp_path / f"{n}.db" for n in itertools.count())
        check_storage_backend(lambda: MyBackend(next(paths)))
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import hashlib
import math
from collections.abc import Callable, Iterable
from typing import Any

import attrs
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from .._backends._protocol import StorageBackend, clear_partition, count, get_many
from .._typenames import stored_as
from ..errors import StorageBackendError

__all__ = ["check_storage_backend"]

_Address = tuple[str, str, str]
_Dump = tuple[dict[_Address, object], dict[bytes, bytes]]

_KINDS = ("contract.volume", "contract.copy")
_PARTITIONS = ("", "cn-hangzhou", "cn-shanghai", "d-0001")
_KEY_CHARS = "abz0\x00 é\uffff\U0001f600"
_CHINA = dt.timezone(dt.timedelta(hours=8))


# -- record values the checks store: nested frozen attrs, enums, datetimes ----------------
@stored_as("contract.Tier")
class _Tier(str, enum.Enum):
    """A storage tier: a ``(str, Enum)`` like the real API's enum values."""

    STANDARD = "Standard"
    ARCHIVE = "Archive"


@stored_as("contract.Extent")
@attrs.frozen
class _Extent:
    """A byte range of a volume."""

    offset: int
    """First byte."""
    length: int
    """Number of bytes."""


@stored_as("contract.Volume")
@attrs.frozen
class _Volume:
    """A record shaped like the library's own: nested values, hidden and derived fields."""

    name: str
    """A display name."""
    tier: _Tier
    """The storage tier."""
    created: dt.datetime
    """When it was created (timezone-aware)."""
    extents: tuple[_Extent, ...]
    """The written ranges."""
    tags: frozenset[str]
    """Free-form tags."""
    retention: dt.timedelta | None
    """How long it is kept, or ``None`` for ever."""
    secret: bytes = attrs.field(default=b"", repr=False)
    """Key material that must not appear in reprs."""
    written: int = attrs.field(init=False)
    """Total bytes of ``extents``; derived, not passed to ``__init__``."""

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "written", sum(extent.length for extent in self.extents))


_T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)

#: One value of every type a record may hold, for the deterministic checks.
_SAMPLE_VALUES: tuple[object, ...] = (
    _Volume(
        name="system",
        tier=_Tier.STANDARD,
        created=_T0,
        extents=(_Extent(0, 4096), _Extent(8192, 512)),
        tags=frozenset({"prod", "db"}),
        retention=dt.timedelta(days=7),
        secret=b"\x00\xffkey",
    ),
    _Tier.ARCHIVE,
    _Extent(offset=1, length=2),
    "text with é and \U0001f600",
    "",
    0,
    -(2**63),
    2**70,
    1.5,
    -0.0,
    True,
    False,
    b"",
    b"\x00\x01\xfe\xff",
    (),
    (1, ("nested", (b"x", None))),
    frozenset({1, 2, 3}),
    {"b": 1, "a": (2, 3)},
    _T0,
    dt.datetime(2024, 6, 30, 23, 59, 59, 999_999, tzinfo=_CHINA),
    dt.timedelta(days=-1, seconds=5, microseconds=7),
)


# -- comparisons ----------------------------------------------------------------------------
def _same(expected: object, actual: object) -> bool:
    """Whether two values are equal with the same types all the way down."""
    if type(expected) is not type(actual):
        return False
    if isinstance(expected, float):
        assert isinstance(actual, float)
        return (math.isnan(expected) and math.isnan(actual)) or repr(expected) == repr(actual)
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, (tuple, list))
        return len(expected) == len(actual) and all(map(_same, expected, actual))
    if isinstance(expected, dict):
        assert isinstance(actual, dict)
        return list(expected) == list(actual) and all(
            _same(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, dt.datetime):
        assert isinstance(actual, dt.datetime)
        return (expected, expected.tzinfo, expected.fold) == (actual, actual.tzinfo, actual.fold)
    if attrs.has(type(expected)):
        fields: tuple[attrs.Attribute[Any], ...] = attrs.fields(type(expected))  # type: ignore[arg-type]
        return all(
            _same(getattr(expected, field.name), getattr(actual, field.name)) for field in fields
        )
    return expected == actual


def _fail(what: str) -> AssertionError:
    return AssertionError(f"Storage backend contract violated: {what}")


def _expect(expected: object, actual: object, what: str) -> None:
    if not _same(expected, actual):
        raise _fail(f"{what}: expected {expected!r}, got {actual!r}")


def _expect_refused(call: Callable[[], object], what: str) -> None:
    """``call`` must raise :class:`StorageBackendError`, and nothing else."""
    try:
        call()
    except StorageBackendError:
        return
    except Exception as exc:
        raise _fail(f"{what} raised {exc!r} instead of StorageBackendError") from exc
    raise _fail(f"{what} did not raise StorageBackendError")


def _dump(backend: StorageBackend, digests: Iterable[bytes] = ()) -> _Dump:
    """Everything a backend holds in the contract's kinds, plus the named blobs."""
    records: dict[_Address, object] = {}
    for kind in _KINDS:
        for partition in list(backend.partitions(kind)):
            for key, value in list(backend.scan(kind, partition)):
                records[(kind, partition, key)] = value
    blobs: dict[bytes, bytes] = {}
    for digest in digests:
        data = backend.get_blob(digest)
        if data is not None:
            blobs[digest] = data
    return records, blobs


def _expect_dump(expected: _Dump, backend: StorageBackend, what: str) -> None:
    records, blobs = expected
    actual_records, actual_blobs = _dump(backend, blobs)
    _expect(sorted(records), sorted(actual_records), f"{what}: record addresses")
    for address, value in records.items():
        _expect(value, actual_records[address], f"{what}: record {address}")
        _expect(value, backend.get(*address), f"{what}: get{address}")
    _expect(blobs, actual_blobs, f"{what}: blobs")
    _expect(
        (len(blobs), sum(map(len, blobs.values()))), backend.blob_stats(), f"{what}: blob_stats"
    )


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


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
    _check_write_after_materialised_scan,
    _check_closed_backend_refuses,
    _check_closed_inside_unit,
)


# -- the state machine ----------------------------------------------------------------------
_keys = st.text(st.sampled_from(_KEY_CHARS), max_size=3)
_addresses = st.tuples(st.sampled_from(_KINDS), st.sampled_from(_PARTITIONS), _keys)
_datetimes = st.datetimes(timezones=st.sampled_from([dt.timezone.utc, _CHINA]))
_extents = st.builds(_Extent, offset=st.integers(0, 2**45), length=st.integers(0, 2**20))
_volumes = st.builds(
    _Volume,
    name=st.text(max_size=8),
    tier=st.sampled_from(_Tier),
    created=_datetimes,
    extents=st.lists(_extents, max_size=3).map(tuple),
    tags=st.frozensets(st.text(max_size=4), max_size=3),
    retention=st.none() | st.timedeltas(),
    secret=st.binary(max_size=16),
)
_scalars = (
    st.integers()
    | st.text(max_size=10)
    | st.binary(max_size=16)
    | st.booleans()
    | st.floats(allow_nan=False)
    | _datetimes
    | st.sampled_from(_Tier)
)
_values: st.SearchStrategy[object] = (
    _volumes
    | _scalars
    | st.lists(_scalars | _extents, max_size=3).map(tuple)
    | st.dictionaries(st.text(max_size=3), _scalars, max_size=3)
)


class _BackendMachine(RuleBasedStateMachine):
    """Random units of work against a backend and a dictionary model, compared every step."""

    digests = Bundle("digests")

    def __init__(self, factory: Callable[[], StorageBackend]) -> None:
        super().__init__()
        self.backend = factory()
        self.committed: dict[_Address, object] = {}
        self.committed_blobs: dict[bytes, bytes] = {}
        self.records: dict[_Address, object] = {}
        self.blobs: dict[bytes, bytes] = {}
        self.seen_addresses: set[_Address] = set()
        self.seen_digests: set[bytes] = set()
        self.in_unit = False
        # The model's state when each open savepoint was taken, innermost last.
        self.savepoints: list[tuple[dict[_Address, object], dict[bytes, bytes]]] = []

    # -- units of work -----------------------------------------------------------------------
    @precondition(lambda self: not self.in_unit)
    @rule()
    def begin(self) -> None:
        """Open a unit of work."""
        self.backend.begin()
        self.in_unit = True

    @precondition(lambda self: self.in_unit)
    @rule()
    def begin_again(self) -> None:
        """A nested begin is refused; the open unit stays open."""
        _expect_refused(self.backend.begin, "begin inside a unit of work")

    @precondition(lambda self: self.in_unit)
    @rule()
    def commit(self) -> None:
        """Commit: the model's working state becomes its committed state."""
        self.backend.commit()
        self.in_unit = False
        self.savepoints.clear()
        self.committed = dict(self.records)
        self.committed_blobs = dict(self.blobs)

    @precondition(lambda self: self.in_unit)
    @rule()
    def rollback(self) -> None:
        """Roll back: the model's working state returns to its committed state."""
        self.backend.rollback()
        self.in_unit = False
        self.savepoints.clear()
        self.records = dict(self.committed)
        self.blobs = dict(self.committed_blobs)

    @precondition(lambda self: self.in_unit)
    @rule()
    def savepoint(self) -> None:
        """Open a savepoint: the model remembers its working state."""
        self.backend.savepoint()
        self.savepoints.append((dict(self.records), dict(self.blobs)))

    @precondition(lambda self: self.in_unit)
    @rule()
    def release(self) -> None:
        """Release the innermost savepoint (refused when none is open): its writes stay."""
        if not self.savepoints:
            _expect_refused(self.backend.release, "release with no savepoint open")
            return
        self.backend.release()
        self.savepoints.pop()

    @precondition(lambda self: self.in_unit)
    @rule()
    def rollback_to(self) -> None:
        """Roll back to the innermost savepoint (refused when none is open)."""
        if not self.savepoints:
            _expect_refused(self.backend.rollback_to, "rollback_to with no savepoint open")
            return
        self.backend.rollback_to()
        self.records, self.blobs = self.savepoints.pop()

    @precondition(lambda self: not self.in_unit)
    @rule()
    def savepoint_without_a_unit(self) -> None:
        """savepoint, release and rollback_to outside a unit of work are refused."""
        _expect_refused(self.backend.savepoint, "savepoint outside a unit of work")
        _expect_refused(self.backend.release, "release outside a unit of work")
        _expect_refused(self.backend.rollback_to, "rollback_to outside a unit of work")

    @precondition(lambda self: not self.in_unit)
    @rule()
    def commit_or_rollback_without_a_unit(self) -> None:
        """commit and rollback outside a unit of work are refused."""
        _expect_refused(self.backend.commit, "commit outside a unit of work")
        _expect_refused(self.backend.rollback, "rollback outside a unit of work")

    # -- records -----------------------------------------------------------------------------
    @rule(address=_addresses, value=_values)
    def put(self, address: _Address, value: object) -> None:
        """Create or replace a record (refused outside a unit of work)."""
        self.seen_addresses.add(address)
        if not self.in_unit:
            _expect_refused(lambda: self.backend.put(*address, value), "put outside a unit")
            return
        self.backend.put(*address, value)
        self.records[address] = value

    @precondition(lambda self: self.in_unit)
    @rule(address=_addresses)
    def put_none(self, address: _Address) -> None:
        """A None value is refused."""
        self.seen_addresses.add(address)
        _expect_refused(lambda: self.backend.put(*address, None), "put of None")

    @rule(data=st.data())
    def overwrite_existing(self, data: st.DataObject) -> None:
        """Replace a record the model holds (so replacements are common)."""
        if not self.records or not self.in_unit:
            return
        address = data.draw(st.sampled_from(sorted(self.records)), label="address")
        value = data.draw(_values, label="value")
        self.backend.put(*address, value)
        self.records[address] = value

    @rule(address=_addresses)
    def delete(self, address: _Address) -> None:
        """Delete a record, present or not (refused outside a unit of work)."""
        self.seen_addresses.add(address)
        if not self.in_unit:
            _expect_refused(lambda: self.backend.delete(*address), "delete outside a unit")
            return
        self.backend.delete(*address)
        self.records.pop(address, None)

    @rule(data=st.data())
    def delete_existing(self, data: st.DataObject) -> None:
        """Delete a record the model holds (so deletions of real records are common)."""
        if not self.records or not self.in_unit:
            return
        address = data.draw(st.sampled_from(sorted(self.records)), label="address")
        self.backend.delete(*address)
        del self.records[address]

    @precondition(lambda self: self.in_unit)
    @rule(kind=st.sampled_from(_KINDS), partition=st.sampled_from(_PARTITIONS))
    def clear_partition(self, kind: str, partition: str) -> None:
        """Delete a whole partition through the protocol's helper."""
        clear_partition(self.backend, kind, partition)
        for address in [a for a in self.records if a[:2] == (kind, partition)]:
            del self.records[address]

    @rule(
        kind=st.sampled_from(_KINDS),
        partition=st.sampled_from(_PARTITIONS),
        keys=st.lists(_keys, max_size=5),
    )
    def get_many(self, kind: str, partition: str, keys: list[str]) -> None:
        """get_many returns exactly the present records among the keys."""
        expected = {
            key: self.records[(kind, partition, key)]
            for key in keys
            if (kind, partition, key) in self.records
        }
        _expect(expected, get_many(self.backend, kind, partition, keys), "get_many")

    # -- blobs -------------------------------------------------------------------------------
    @rule(target=digests, data=st.binary(max_size=48))
    def put_blob(self, data: bytes) -> bytes:
        """Store a blob under its digest (refused outside a unit of work)."""
        digest = _digest(data)
        self.seen_digests.add(digest)
        if not self.in_unit:
            _expect_refused(lambda: self.backend.put_blob(digest, data), "put_blob outside")
            return digest
        self.backend.put_blob(digest, data)
        self.blobs.setdefault(digest, data)
        return digest

    @rule(digest=digests | st.binary(min_size=32, max_size=32))
    def delete_blob(self, digest: bytes) -> None:
        """Delete a blob, present or not (refused outside a unit of work)."""
        self.seen_digests.add(digest)
        if not self.in_unit:
            _expect_refused(lambda: self.backend.delete_blob(digest), "delete_blob outside")
            return
        self.backend.delete_blob(digest)
        self.blobs.pop(digest, None)

    # -- agreement ---------------------------------------------------------------------------
    @invariant()
    def backend_agrees_with_model(self) -> None:
        """Every read of the backend matches the model."""
        backend = self.backend
        for kind in _KINDS:
            expected_partitions = sorted({a[1] for a in self.records if a[0] == kind})
            _expect(expected_partitions, list(backend.partitions(kind)), f"partitions({kind!r})")
            for partition in _PARTITIONS:
                expected = sorted(
                    (a[2], value) for a, value in self.records.items() if a[:2] == (kind, partition)
                )
                where = f"({kind!r}, {partition!r})"
                _expect(expected, list(backend.scan(kind, partition)), f"scan{where}")
                _expect(len(expected), count(backend, kind, partition), f"count{where}")
        for address in self.seen_addresses:
            _expect(self.records.get(address), backend.get(*address), f"get{address}")
        for digest in self.seen_digests:
            _expect(self.blobs.get(digest), backend.get_blob(digest), f"get_blob({digest.hex()})")
        stats = (len(self.blobs), sum(map(len, self.blobs.values())))
        _expect(stats, backend.blob_stats(), "blob_stats")

    def teardown(self) -> None:
        """Close the backend."""
        self.backend.close()


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
    ``get_many``, ``count`` and ``clear_partition`` through the protocol's helpers), then a
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
