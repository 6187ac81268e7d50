"""The storage seam: every piece of state passes through a :class:`StorageBackend`.

A backend holds two things:

* **records**: immutable values (frozen ``attrs`` instances, or plain ``str``/``int``/``bytes``/
  ``tuple`` values) addressed by ``(kind, partition, key)``, all three strings. ``kind`` names the
  entity type (``"ecs.disk"``), ``partition`` groups records that are read together (a region,
  or the id of the disk whose blocks these are), ``key`` identifies the record in its partition.
* **blobs**: block contents addressed by their content digest, stored once.

The layers above never ask a backend for anything entity-specific, so a new entity type needs no
backend code. Records are treated as immutable: a backend may keep the very object it was given
(the in-memory backend does) or serialise it (a database backend does).

Units of work: :meth:`StorageBackend.begin` opens one, :meth:`~StorageBackend.commit` makes all of
its writes visible and durable at once, :meth:`~StorageBackend.rollback` undoes every one of them.
Reads inside a unit of work see its own writes.

Savepoints nest inside a unit of work: :meth:`~StorageBackend.savepoint` marks the current state,
:meth:`~StorageBackend.release` closes the innermost savepoint and keeps its writes as part of
the enclosing savepoint or unit, and :meth:`~StorageBackend.rollback_to` undoes exactly the
writes (records and blobs) made since the innermost savepoint and closes it, leaving the unit
open. ``commit`` and ``rollback`` close every open savepoint with the unit. SQLite implements
them with ``SAVEPOINT``/``RELEASE``/``ROLLBACK TO``, the in-memory backend with a stack of undo
logs. :meth:`cloudbackup._store.Store.unit` opened inside an open unit becomes a savepoint, so a
nested call that fails leaves no trace while the outer call carries on.

Required methods are those of the protocol. Four optional methods may be added for speed:
``get_many(kind, partition, keys) -> dict``, ``count(kind, partition) -> int``,
``clear_partition(kind, partition) -> None`` and ``scan_range(kind, partition, start, stop,
reverse, limit) -> list`` (an ordered slice of a partition: what block maps and ordered indexes
read); the functions of the same names in this module use them when present and fall back to the
required methods otherwise. A backend that several
processes can share should also offer ``generation() -> int``, a number that changes whenever
another process commits, so that caches above it (the event loop's timer queue) know to reload,
and a durable one ``first(kind, partition) -> (key, value) | None``, the record with the smallest
key, so that the event loop finds its next timer without loading them all, and
``read_snapshot()``, a context manager inside which every read sees one committed state (see
:func:`read_snapshot`), so that a reader never sees half of another process's commit.

Rules every backend keeps (the contract check, :func:`cloudbackup.testing.check_storage_backend`,
tests them):

* ``scan`` and ``partitions`` order keys by code point (which is also UTF-8 byte order).
* An address (kind, partition or key) that has no UTF-8 encoding (it holds a lone surrogate,
  as ``"s-\ud800"`` does) holds nothing: ``get`` returns ``None``, ``scan``/``count``/
  ``get_many`` find nothing, ``delete``/``clear_partition`` do nothing, and ``put`` raises
  :class:`~cloudbackup.errors.StorageBackendError` code ``StorageBackend.UnsupportedKey``
  (:func:`storable` and :func:`check_storable` help). So a hostile id is a clean "not found"
  on every backend.
* Reads outside a unit of work see committed state only.
* If ``commit`` raises, the unit of work is over and none of its writes happened.
* ``close`` may be called more than once; every other call on a closed backend raises
  :class:`~cloudbackup.errors.StorageBackendError` with code ``StorageBackend.Closed``.
* Values are what the library stores: frozen ``attrs`` instances of ``cloudbackup`` classes,
  enums, tz-aware datetimes, timedeltas, ``bytes``, ``str``, ``int``, ``float``, ``bool``,
  ``None`` inside them, and tuples, frozensets and str-keyed dicts of these.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol, runtime_checkable

from ..errors import StorageBackendError

__all__ = [
    "StorageBackend",
    "check_storable",
    "clear_partition",
    "count",
    "get_many",
    "read_snapshot",
    "scan_range",
    "storable",
]


@runtime_checkable
class StorageBackend(Protocol):
    """The protocol every storage backend implements; every method here is required."""

    # -- units of work -------------------------------------------------------------------
    def begin(self) -> None:
        """Open a unit of work. Raises if one is already open."""
        ...

    def commit(self) -> None:
        """Make every write of the open unit of work permanent, atomically."""
        ...

    def rollback(self) -> None:
        """Undo every write of the open unit of work."""
        ...

    def savepoint(self) -> None:
        """Open a savepoint inside the open unit of work; savepoints nest.

        Raises ``StorageBackendError`` code ``StorageBackend.NoUnit`` outside a unit of work.
        """
        ...

    def release(self) -> None:
        """Close the innermost savepoint, keeping its writes in the enclosing one (or unit).

        Raises ``StorageBackendError`` code ``StorageBackend.NoSavepoint`` if none is open.
        """
        ...

    def rollback_to(self) -> None:
        """Undo every write made since the innermost savepoint opened, and close it.

        Reads afterwards see the state the savepoint marked; the unit of work stays open.
        Raises ``StorageBackendError`` code ``StorageBackend.NoSavepoint`` if none is open.
        """
        ...

    # -- records -------------------------------------------------------------------------
    def get(self, kind: str, partition: str, key: str) -> object | None:
        """The record at ``(kind, partition, key)``, or ``None``."""
        ...

    def put(self, kind: str, partition: str, key: str, value: object) -> None:
        """Create or replace a record. ``value`` must not be ``None``."""
        ...

    def delete(self, kind: str, partition: str, key: str) -> None:
        """Remove a record; removing a missing record is a no-op."""
        ...

    def scan(self, kind: str, partition: str) -> Iterator[tuple[str, object]]:
        """Every ``(key, value)`` of a partition, ordered by key.

        The caller may write to the same partition while iterating only after it has
        materialised the iterator (``list(...)``).
        """
        ...

    def partitions(self, kind: str) -> Iterator[str]:
        """Every partition of ``kind`` that holds at least one record, in sorted order."""
        ...

    # -- blobs ---------------------------------------------------------------------------
    def get_blob(self, digest: bytes) -> bytes | None:
        """The blob stored under ``digest``, or ``None``."""
        ...

    def put_blob(self, digest: bytes, data: bytes) -> None:
        """Store ``data`` under ``digest`` (idempotent: the same digest means the same data)."""
        ...

    def delete_blob(self, digest: bytes) -> None:
        """Remove a blob; a missing blob is a no-op."""
        ...

    def blob_stats(self) -> tuple[int, int]:
        """``(number of blobs, total bytes of blob data)`` currently stored."""
        ...

    def close(self) -> None:
        """Release resources. A closed backend raises on every further call."""
        ...


def read_snapshot(backend: StorageBackend) -> AbstractContextManager[object]:
    """A block in which every read of ``backend`` sees one committed state.

    Uses ``backend.read_snapshot()`` when it has one; a backend without it serves one process
    only (like the in-memory one), where nothing can commit between two reads of one call.
    """
    fast = getattr(backend, "read_snapshot", None)
    if fast is not None:
        manager: AbstractContextManager[object] = fast()
        return manager
    return nullcontext()


def get_many(
    backend: StorageBackend, kind: str, partition: str, keys: Iterable[str]
) -> dict[str, object]:
    """The records present among ``keys``; uses ``backend.get_many`` when it has one."""
    fast = getattr(backend, "get_many", None)
    if fast is not None:
        result: dict[str, object] = fast(kind, partition, keys)
        return result
    found: dict[str, object] = {}
    for key in keys:
        value = backend.get(kind, partition, key)
        if value is not None:
            found[key] = value
    return found


def count(backend: StorageBackend, kind: str, partition: str) -> int:
    """How many records a partition holds; uses ``backend.count`` when it has one."""
    fast = getattr(backend, "count", None)
    if fast is not None:
        result: int = fast(kind, partition)
        return result
    return sum(1 for _ in backend.scan(kind, partition))


def clear_partition(backend: StorageBackend, kind: str, partition: str) -> None:
    """Delete every record of a partition; uses ``backend.clear_partition`` when it has one."""
    fast = getattr(backend, "clear_partition", None)
    if fast is not None:
        fast(kind, partition)
        return
    for key, _ in list(backend.scan(kind, partition)):
        backend.delete(kind, partition, key)


def scan_range(
    backend: StorageBackend,
    kind: str,
    partition: str,
    start: str | None = None,
    stop: str | None = None,
    *,
    reverse: bool = False,
    limit: int | None = None,
) -> list[tuple[str, object]]:
    """The records of a partition with ``start <= key < stop``, in key order.

    ``None`` leaves that end open. With ``reverse`` the order is descending (so ``stop=k,
    reverse=True, limit=1`` is the record just below ``k``); ``limit`` keeps the first
    ``limit`` of that order. Uses ``backend.scan_range(kind, partition, start, stop, reverse,
    limit)`` when it has one, which must cost the records it returns (plus a logarithm), not the
    partition; the fallback scans the partition.
    """
    fast = getattr(backend, "scan_range", None)
    if fast is not None:
        result: list[tuple[str, object]] = list(fast(kind, partition, start, stop, reverse, limit))
        return result
    items = [
        (key, value)
        for key, value in backend.scan(kind, partition)
        if (start is None or key >= start) and (stop is None or key < stop)
    ]
    if reverse:
        items.reverse()
    return items if limit is None else items[: max(limit, 0)]


def storable(*parts: str) -> bool:
    """Whether every part of an address has a UTF-8 encoding (holds no lone surrogate)."""
    # One check of the joined text (every write pays it): ASCII has no surrogate, and the
    # encoder refuses any surrogate code point, paired across two parts or not.
    joined = "".join(parts)
    if joined.isascii():
        return True
    try:
        joined.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_storable(*parts: str) -> None:
    """Raise ``StorageBackend.UnsupportedKey`` unless every part of an address is storable."""
    if not storable(*parts):
        raise StorageBackendError(
            f"Cannot store a record at {parts!r}: the address holds a lone surrogate, which "
            "has no UTF-8 encoding.",
            code="StorageBackend.UnsupportedKey",
            ids=tuple(part.encode("utf-8", "backslashreplace").decode() for part in parts),
            recommend="Use kinds, partitions and keys that are valid Unicode text.",
        )
