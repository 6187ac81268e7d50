"""The default backend: everything in process memory, units of work by a stack of undo logs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..errors import StorageBackendError
from ._protocol import check_storable

__all__ = ["InMemoryBackend"]

_MISSING = object()

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
        self._records: dict[str, dict[str, dict[str, object]]] = {}
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
                self._records.setdefault(kind, {}).setdefault(partition, {})[key] = old
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
        if not part:
            return {}
        return {key: part[key] for key in keys if key in part}

    def put(self, kind: str, partition: str, key: str, value: object) -> None:
        """Create or replace a record."""
        undo, _ = self._check_in_unit()
        if value is None:
            raise StorageBackendError("A record value cannot be None.", ids=(kind, key))
        check_storable(kind, partition, key)
        part = self._records.setdefault(kind, {}).setdefault(partition, {})
        address = (kind, partition, key)
        if address not in undo:
            undo[address] = part.get(key, _MISSING)
        part[key] = value

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
        if not part:
            return iter(())
        return iter(sorted(part.items()))

    def count(self, kind: str, partition: str) -> int:
        """How many records a partition holds."""
        self._check_open()
        return len(self._records.get(kind, {}).get(partition, ()))

    def partitions(self, kind: str) -> Iterator[str]:
        """Every non-empty partition of ``kind``, sorted."""
        self._check_open()
        return iter(sorted(p for p, part in self._records.get(kind, {}).items() if part))

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

    def _raw_delete(self, kind: str, partition: str, key: str) -> None:
        parts = self._records.get(kind)
        if parts is None:
            return
        part = parts.get(partition)
        if part is None:
            return
        part.pop(key, None)
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
