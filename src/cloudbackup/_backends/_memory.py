"""The default backend: everything in process memory, units of work by a stack of undo logs."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from typing import Any

from sortedcontainers import SortedList

from ..errors import StorageBackendError
from ._protocol import check_storable

__all__ = ["InMemoryBackend"]

_MISSING = object()

#: A partition whose key list grows past this many keys moves it into a ``SortedList``.
#: Below it a plain list kept with ``bisect`` is faster (one C-level memmove per new key);
#: above it, inserting or deleting near the front of a plain list moves the whole list
#: (8.4 us per insert + delete at 100k keys against 1.9 us for a ``SortedList``).
SORTED_LIST_FROM: int = 2048


class _Partition(dict[str, object]):
    """The records of one partition by key, and its keys in code point order (``order``).

    A ``dict`` itself, so that reads by key cost what they cost in a dict. ``order`` is built
    by the first ordered read (:meth:`ordered`) and kept from then on: a partition that is only
    ever read by key (most are) never pays for ordering its keys. Keeping it costs a binary
    search per new or deleted key, and string comparisons touch memory that a dict insert never
    touches (a new key in a 333-key partition: 1.9 us without, 4.6 us with, measured).
    """

    __slots__ = ("order",)

    def __init__(self) -> None:
        super().__init__()
        # None until the first ordered read; then a sorted plain list while small, a
        # SortedList once past SORTED_LIST_FROM keys.
        self.order: Any = None

    def ordered(self) -> Any:
        """The keys in order, building the order on the first call."""
        keys = self.order
        if keys is None:
            keys = sorted(self)
            if len(keys) > SORTED_LIST_FROM:
                keys = SortedList(keys)
            self.order = keys
        return keys

    def add_key(self, key: str) -> None:
        keys = self.order
        if keys is None:
            return
        if type(keys) is list:
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                insort(keys, key)
            if len(keys) > SORTED_LIST_FROM:
                self.order = SortedList(keys)
        else:
            keys.add(key)

    def remove_key(self, key: str) -> None:
        keys = self.order
        if keys is None:
            return
        if type(keys) is list:
            del keys[bisect_left(keys, key)]
        else:
            keys.remove(key)

    def key_range(
        self, start: str | None, stop: str | None, reverse: bool, limit: int | None
    ) -> list[str]:
        """The keys with ``start <= key < stop``, ascending (descending with ``reverse``),
        at most ``limit``: two binary searches and a slice."""
        keys = self.ordered()
        plain = type(keys) is list
        low = 0
        if start is not None:
            low = bisect_left(keys, start) if plain else keys.bisect_left(start)
        high = len(keys)
        if stop is not None:
            high = bisect_left(keys, stop) if plain else keys.bisect_left(stop)
        if limit is not None:
            if limit <= 0:
                return []
            if reverse:
                low = max(low, high - limit)
            else:
                high = min(high, low + limit)
        if low >= high:
            return []
        found: list[str] = list(keys[low:high])
        if reverse:
            found.reverse()
        return found


_Undo = dict[tuple[str, str, str], object]
_BlobUndo = dict[bytes, bytes | None]


class InMemoryBackend:
    """Keeps every record and blob in dictionaries; the default backend.

    Writes go straight into the dictionaries while a unit of work records the previous value of
    every key it touches once, so a rollback restores exactly what was there and a commit costs
    nothing but dropping the log. Record values are kept as given (they are immutable).

    Each savepoint pushes a fresh pair of logs: ``rollback_to`` replays only the top pair,
    ``release`` folds it into the one below (keeping, per key, the older previous value).
    """

    def __init__(self) -> None:
        self._records: dict[str, dict[str, _Partition]] = {}
        self._blobs: dict[bytes, bytes] = {}
        self._blob_bytes = 0
        # One (record log, blob log) pair for the unit, and one more per open savepoint.
        self._logs: list[tuple[_Undo, _BlobUndo]] = []
        self._closed = False

    # -- units of work -------------------------------------------------------------------
    def begin(self) -> None:
        """Open a unit of work."""
        self._check_open()
        if self._logs:
            raise StorageBackendError(
                "A unit of work is already open on this backend.",
                code="StorageBackend.UnitOpen",
                recommend="Commit or roll back the open unit of work first.",
            )
        self._logs.append(({}, {}))

    def commit(self) -> None:
        """Keep every write of the open unit of work (and of its open savepoints)."""
        self._check_in_unit()
        self._logs.clear()

    def rollback(self) -> None:
        """Restore every key the open unit of work touched."""
        self._check_in_unit()
        while self._logs:
            self._undo_top()

    def savepoint(self) -> None:
        """Open a savepoint: later writes go to a new undo log."""
        self._check_in_unit()
        self._logs.append(({}, {}))

    def release(self) -> None:
        """Fold the innermost savepoint's undo log into the enclosing one."""
        self._check_savepoint()
        undo, blob_undo = self._logs.pop()
        below, blob_below = self._logs[-1]
        for address, old in undo.items():
            below.setdefault(address, old)
        for digest, old_blob in blob_undo.items():
            blob_below.setdefault(digest, old_blob)

    def rollback_to(self) -> None:
        """Restore every key written since the innermost savepoint, and close it."""
        self._check_savepoint()
        self._undo_top()

    def _undo_top(self) -> None:
        undo, blob_undo = self._logs.pop()
        for (kind, partition, key), old in undo.items():
            if old is _MISSING:
                self._raw_delete(kind, partition, key)
            else:
                self._raw_put(kind, partition, key, old)
        for digest, old_blob in blob_undo.items():
            if old_blob is None:
                self._raw_delete_blob(digest)
            else:
                self._raw_put_blob(digest, old_blob)

    # -- records -------------------------------------------------------------------------
    def get(self, kind: str, partition: str, key: str) -> object | None:
        """The record at ``(kind, partition, key)``, or ``None``."""
        self._check_open()
        part = self._records.get(kind, {}).get(partition)
        if part is None:
            return None
        return part.get(key)

    def get_many(self, kind: str, partition: str, keys: Iterable[str]) -> dict[str, object]:
        """The records present among ``keys``."""
        self._check_open()
        part = self._records.get(kind, {}).get(partition)
        if part is None:
            return {}
        return {key: part[key] for key in keys if key in part}

    def put(self, kind: str, partition: str, key: str, value: object) -> None:
        """Create or replace a record."""
        undo, _ = self._check_in_unit()
        if value is None:
            raise StorageBackendError("A record value cannot be None.", ids=(kind, key))
        check_storable(kind, partition, key)
        address = (kind, partition, key)
        if address not in undo:
            part = self._records.get(kind, {}).get(partition)
            undo[address] = _MISSING if part is None else part.get(key, _MISSING)
        self._raw_put(kind, partition, key, value)

    def delete(self, kind: str, partition: str, key: str) -> None:
        """Remove a record if present."""
        undo, _ = self._check_in_unit()
        part = self._records.get(kind, {}).get(partition)
        if part is None or key not in part:
            return
        address = (kind, partition, key)
        if address not in undo:
            undo[address] = part[key]
        self._raw_delete(kind, partition, key)

    def scan(self, kind: str, partition: str) -> Iterator[tuple[str, object]]:
        """Every ``(key, value)`` of a partition, ordered by key."""
        self._check_open()
        part = self._records.get(kind, {}).get(partition)
        if part is None:
            return iter(())
        return iter([(key, part[key]) for key in part.ordered()])

    def scan_range(
        self,
        kind: str,
        partition: str,
        start: str | None,
        stop: str | None,
        reverse: bool,
        limit: int | None,
    ) -> list[tuple[str, object]]:
        """The records with ``start <= key < stop`` in key order (descending with ``reverse``),
        at most ``limit``; costs O(log n + returned). See :func:`._protocol.scan_range`."""
        self._check_open()
        part = self._records.get(kind, {}).get(partition)
        if part is None:
            return []
        return [(key, part[key]) for key in part.key_range(start, stop, reverse, limit)]

    def count(self, kind: str, partition: str) -> int:
        """How many records a partition holds."""
        self._check_open()
        part = self._records.get(kind, {}).get(partition)
        return 0 if part is None else len(part)

    def clear_partition(self, kind: str, partition: str) -> None:
        """Delete every record of a partition inside the open unit of work."""
        undo, _ = self._check_in_unit()
        part = self._records.get(kind, {}).get(partition)
        if part is None:
            return
        for key, old in part.items():
            undo.setdefault((kind, partition, key), old)
        parts = self._records[kind]
        del parts[partition]
        if not parts:
            del self._records[kind]

    def partitions(self, kind: str) -> Iterator[str]:
        """Every non-empty partition of ``kind``, sorted."""
        self._check_open()
        return iter(sorted(self._records.get(kind, {})))

    # -- blobs ---------------------------------------------------------------------------
    def get_blob(self, digest: bytes) -> bytes | None:
        """The blob stored under ``digest``, or ``None``."""
        self._check_open()
        return self._blobs.get(digest)

    def put_blob(self, digest: bytes, data: bytes) -> None:
        """Store ``data`` under ``digest`` unless it is already there."""
        _, blob_undo = self._check_in_unit()
        if digest in self._blobs:
            return
        if digest not in blob_undo:
            blob_undo[digest] = None
        self._raw_put_blob(digest, bytes(data))

    def delete_blob(self, digest: bytes) -> None:
        """Remove a blob if present."""
        _, blob_undo = self._check_in_unit()
        old = self._blobs.get(digest)
        if old is None:
            return
        if digest not in blob_undo:
            blob_undo[digest] = old
        self._raw_delete_blob(digest)

    def blob_stats(self) -> tuple[int, int]:
        """``(number of blobs, total bytes)``."""
        self._check_open()
        return len(self._blobs), self._blob_bytes

    def close(self) -> None:
        """Drop everything; later calls raise."""
        self._records.clear()
        self._blobs.clear()
        self._blob_bytes = 0
        self._logs.clear()
        self._closed = True

    def __repr__(self) -> str:
        return f"InMemoryBackend(blobs={len(self._blobs)}, bytes={self._blob_bytes})"

    # -- internals -----------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise StorageBackendError(
                "This backend has been closed.",
                code="StorageBackend.Closed",
                recommend="Create a new backend and Cloud.",
            )

    def _check_in_unit(self) -> tuple[_Undo, _BlobUndo]:
        self._check_open()
        if not self._logs:
            raise StorageBackendError(
                "Writes and commits need an open unit of work.",
                code="StorageBackend.NoUnit",
                recommend="Call begin() first; cloudbackup services do this for every call.",
            )
        return self._logs[-1]

    def _check_savepoint(self) -> None:
        self._check_in_unit()
        if len(self._logs) < 2:
            raise StorageBackendError(
                "No savepoint is open in this unit of work.",
                code="StorageBackend.NoSavepoint",
                recommend="Call savepoint() before release() or rollback_to().",
            )

    def _raw_put(self, kind: str, partition: str, key: str, value: object) -> None:
        parts = self._records.get(kind)
        if parts is None:
            parts = self._records[kind] = {}
        part = parts.get(partition)
        if part is None:
            part = parts[partition] = _Partition()
        if key not in part:
            part.add_key(key)
        part[key] = value

    def _raw_delete(self, kind: str, partition: str, key: str) -> None:
        parts = self._records.get(kind)
        if parts is None:
            return
        part = parts.get(partition)
        if part is None or key not in part:
            return
        del part[key]
        part.remove_key(key)
        if not part:
            del parts[partition]
            if not parts:
                # Leave no empty kind behind: a rolled-back unit must leave the dicts as it
                # found them, not merely equivalent.
                del self._records[kind]

    def _raw_put_blob(self, digest: bytes, data: bytes) -> None:
        previous = self._blobs.get(digest)
        if previous is not None:  # a rollback restoring a blob that was deleted then put again
            self._blob_bytes -= len(previous)
        self._blobs[digest] = data
        self._blob_bytes += len(data)

    def _raw_delete_blob(self, digest: bytes) -> None:
        data = self._blobs.pop(digest, None)
        if data is not None:
            self._blob_bytes -= len(data)
