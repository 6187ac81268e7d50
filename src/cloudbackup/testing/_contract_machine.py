"""The backend contract's state machine: random units of work and savepoints against a backend
and a dictionary model, compared after every step (run by :func:`check_storage_backend`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from .._backends._protocol import StorageBackend, clear_partition, count, get_many, scan_range
from ._contract_values import (
    _CHINA,
    _KEY_CHARS,
    _KINDS,
    _PARTITIONS,
    _Address,
    _digest,
    _expect,
    _expect_refused,
    _Extent,
    _Tier,
    _Volume,
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

    @rule(
        kind=st.sampled_from(_KINDS),
        partition=st.sampled_from(_PARTITIONS),
        start=st.none() | _keys,
        stop=st.none() | _keys,
        reverse=st.booleans(),
        limit=st.none() | st.integers(-1, 4),
    )
    def scan_range(
        self,
        kind: str,
        partition: str,
        start: str | None,
        stop: str | None,
        reverse: bool,
        limit: int | None,
    ) -> None:
        """scan_range returns exactly the model's slice of the partition."""
        expected = sorted(
            (a[2], value)
            for a, value in self.records.items()
            if a[:2] == (kind, partition)
            and (start is None or a[2] >= start)
            and (stop is None or a[2] < stop)
        )
        if reverse:
            expected.reverse()
        if limit is not None:
            expected = expected[: max(limit, 0)]
        actual = scan_range(
            self.backend, kind, partition, start, stop, reverse=reverse, limit=limit
        )
        _expect(expected, actual, f"scan_range({kind!r}, {partition!r}, {start!r}, {stop!r})")

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
