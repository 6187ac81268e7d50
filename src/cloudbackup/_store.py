"""Typed access to a backend: units of work, counters, and content-addressed blocks."""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import ClassVar, Protocol, TypeVar

from ._backends import (
    StorageBackend,
    clear_partition,
    count,
    get_many,
    read_snapshot,
    scan_range,
)
from .errors import StorageBackendError

__all__ = [
    "ZERO",
    "BlockStore",
    "Record",
    "Store",
    "damaged_value",
    "digest_of",
    "raw_kind",
    "raw_kinds",
]


class Record(Protocol):
    """An entity type stored through :class:`Store`: it names its own kind."""

    KIND: ClassVar[str]


R = TypeVar("R")

_raw_kinds: set[str] = set()


def raw_kind(name: str) -> str:
    """Declare ``name`` as a raw record kind (a map of plain values, not of a stored class).

    Every module that writes raw records names their kind through this function, so
    :data:`RAW_KINDS` (and with it ``cloudbackup.testing.KINDS``) lists them all without a
    hand-kept copy. Returns ``name``.
    """
    _raw_kinds.add(name)
    return name


def raw_kinds() -> frozenset[str]:
    """Every raw record kind declared so far with :func:`raw_kind`."""
    return frozenset(_raw_kinds)


_META = raw_kind("meta")
_COUNTERS = "counter"


class Store:
    """Wraps a :class:`StorageBackend` with units of work and typed reads.

    A unit opened inside an open unit is a savepoint: if its block raises, exactly its own
    writes (records, blobs, id counters, events) and the :meth:`after_commit` callbacks it
    registered are undone and the rollback listeners run, while the enclosing unit stays open
    and may still commit. If it ends normally its work joins the enclosing unit. Only the
    outermost unit commits; callbacks run once it has, so subscribers never see work that was
    rolled back.
    """

    def __init__(self, backend: StorageBackend) -> None:
        self.backend = backend
        self._depth = 0
        self._broken = False
        self._after_commit: list[Callable[[], None]] = []
        self._rollback_listeners: list[Callable[[], None]] = []
        self._external_listeners: list[Callable[[], None]] = []
        self._generation: int | None = None
        # Whether the backend's generation() moves with this Store's own commits too.
        self._counts_own_commits = getattr(backend, "generation_counts_own_commits", False) is True
        # The next number of each counter as the open unit sees it (a cache of the stored
        # counter records), and those advanced but not yet written: written once per unit,
        # before it commits or opens a savepoint (see next_number).
        self._numbers: dict[str, int] = {}
        self._unflushed: dict[str, int] = {}
        self._scan_range: Callable[..., list[tuple[str, object]]] | None = getattr(
            backend, "scan_range", None
        )
        self.check_external()  # the generation the world is read at

    # -- units of work -------------------------------------------------------------------
    def unit(self) -> _Unit:
        """A unit of work: commits when the block ends, rolls back if it raises."""
        return _Unit(self)

    def _begin(self) -> int:
        """Open the outermost unit, or a savepoint inside the open one. Returns the mark of
        the after-commit callbacks a savepoint must drop if it fails (-1: the outermost)."""
        if self._depth:
            # Counters advanced so far go to the backend first, so that the savepoint's
            # undo log gives back exactly the numbers it took (and no others).
            if self._unflushed:
                self._flush_numbers()
            self.backend.savepoint()
            self._depth += 1
            return len(self._after_commit)
        self.backend.begin()
        self._depth = 1
        self._broken = False
        try:
            self.check_external()
        except BaseException:
            self._depth = 0
            self._roll_back_whole()
            raise
        return -1

    def _end(self, mark: int, failure: BaseException | None) -> None:
        """Close what :meth:`_begin` opened: ``failure`` is what the block raised, if any."""
        if mark >= 0:
            self._end_savepoint(mark, failure)
            return
        if failure is not None:
            self._depth = 0
            self._roll_back_whole()
            return  # the with statement raises ``failure`` on
        if self._unflushed:
            try:
                self._flush_numbers()
            except BaseException:
                self._depth = 0
                self._roll_back_whole()
                raise
        self._depth = 0
        if self._broken:
            # A savepoint failed to roll back: its half-done writes must not be committed.
            self._roll_back_whole()
            raise StorageBackendError(
                "A savepoint inside this unit of work could not be rolled back, so the unit "
                "was rolled back whole instead of committed.",
                recommend="Check the storage backend, then retry the call.",
            )
        try:
            self.backend.commit()
        except BaseException:
            self._after_commit.clear()
            self._numbers.clear()
            for listener in self._rollback_listeners:
                listener()
            raise
        if self._counts_own_commits and self._generation is not None:
            self._generation += 1  # our own commit is not another writer's
        if not self._after_commit:
            return
        callbacks, self._after_commit = self._after_commit, []
        failed: BaseException | None = None
        for callback in callbacks:  # all of them run, whatever one of them raises
            try:
                callback()
            except Exception as exc:  # re-raised below
                failed = failed or exc
        if failed is not None:
            raise failed

    def _roll_back_whole(self) -> None:
        """Roll the outermost unit back, drop its callbacks and tell the rollback listeners."""
        self._broken = False
        self._after_commit.clear()
        self._numbers.clear()
        self._unflushed.clear()
        try:
            self.backend.rollback()
        finally:
            for listener in self._rollback_listeners:
                listener()

    def _end_savepoint(self, mark: int, failure: BaseException | None) -> None:
        """Close a savepoint: release it, or roll back exactly its work if ``failure``."""
        self._depth -= 1
        if failure is None:
            self.backend.release()
            return
        del self._after_commit[mark:]
        # Its counters were either never written (given back here) or written after the
        # savepoint opened (given back by the backend's rollback).
        self._numbers.clear()
        self._unflushed.clear()
        try:
            self.backend.rollback_to()
        except StorageBackendError:
            self._broken = True
            raise
        except Exception as exc:
            self._broken = True
            raise StorageBackendError(
                f"The storage backend could not roll back to a savepoint: "
                f"{type(exc).__name__}: {exc}",
                recommend="The unit of work rolls back whole; check the backend.",
            ) from exc
        finally:
            for listener in self._rollback_listeners:
                listener()

    @contextmanager
    def reading(self) -> Iterator[None]:
        """A block whose reads all see one committed state, for calls that only read.

        On a backend several processes share (SQLite) this is one read transaction, so a
        block map and the blocks it names are read from the same commit. Inside a unit of
        work it adds nothing: the unit already sees one state.
        """
        if self._depth:
            yield
            return
        with read_snapshot(self.backend):
            yield

    @property
    def in_unit(self) -> bool:
        """Whether a unit of work is open."""
        return self._depth > 0

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` after the open unit of work commits (dropped on rollback)."""
        if not self._depth:
            raise StorageBackendError("after_commit needs an open unit of work.")
        self._after_commit.append(callback)

    def on_external_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` when another process has committed to a shared backend."""
        self._external_listeners.append(listener)

    def check_external(self) -> None:
        """Tell the external-change listeners if the backend's generation moved.

        Backends that several processes (SQLite) or several ``Cloud`` objects (the in-memory
        one) can share have ``generation()``; for the others this does nothing.
        """
        generation = getattr(self.backend, "generation", None)
        if generation is None:
            return
        current = generation()
        if current != self._generation:
            first_look = self._generation is None
            self._generation = current
            self._numbers.clear()
            if not first_look:
                for listener in self._external_listeners:
                    listener()

    def on_rollback(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every rollback, whole or to a savepoint (caches reset here)."""
        self._rollback_listeners.append(listener)

    # -- typed records -------------------------------------------------------------------
    def get(self, cls: type[R], partition: str, key: str) -> R | None:
        """The record of ``cls`` at ``(partition, key)``, or None."""
        value = self.backend.get(cls.KIND, partition, key)  # type: ignore[attr-defined]
        if value is not None and not isinstance(value, cls):
            raise _damaged(cls, partition, key, value)
        return value

    def put(self, cls: type[R], partition: str, key: str, value: R) -> None:
        """Store ``value`` as the record of ``cls`` at ``(partition, key)``."""
        self.backend.put(cls.KIND, partition, key, value)  # type: ignore[attr-defined]

    def delete(self, cls: type[object], partition: str, key: str) -> None:
        """Delete the record of ``cls`` at ``(partition, key)`` if present."""
        self.backend.delete(cls.KIND, partition, key)  # type: ignore[attr-defined]

    def scan(self, cls: type[R], partition: str) -> list[R]:
        """Every record of ``cls`` in ``partition``, ordered by key."""
        out: list[R] = []
        for key, value in self.backend.scan(cls.KIND, partition):  # type: ignore[attr-defined]
            if not isinstance(value, cls):
                raise _damaged(cls, partition, key, value)
            out.append(value)
        return out

    # -- raw maps (block maps, dirty sets, timers) ----------------------------------------
    def raw_get(self, kind: str, partition: str, key: str) -> object | None:
        """A raw record."""
        return self.backend.get(kind, partition, key)

    def raw_get_many(self, kind: str, partition: str, keys: list[str]) -> dict[str, object]:
        """Raw records among ``keys``."""
        return get_many(self.backend, kind, partition, keys)

    def raw_put(self, kind: str, partition: str, key: str, value: object) -> None:
        """Write a raw record."""
        self.backend.put(kind, partition, key, value)

    def raw_delete(self, kind: str, partition: str, key: str) -> None:
        """Delete a raw record."""
        self.backend.delete(kind, partition, key)

    def raw_scan(self, kind: str, partition: str) -> list[tuple[str, object]]:
        """Every raw ``(key, value)`` of a partition, ordered by key."""
        return list(self.backend.scan(kind, partition))

    def raw_range(
        self,
        kind: str,
        partition: str,
        start: str | None = None,
        stop: str | None = None,
        *,
        reverse: bool = False,
        limit: int | None = None,
    ) -> list[tuple[str, object]]:
        """Raw ``(key, value)`` pairs with ``start <= key < stop`` in key order (descending with
        ``reverse``), at most ``limit``: see :func:`cloudbackup._backends.scan_range`."""
        fast = self._scan_range
        if fast is not None:  # the backend's own, called without the dispatch (a hot path)
            found = fast(kind, partition, start, stop, reverse, limit)
            return found if type(found) is list else list(found)
        return scan_range(self.backend, kind, partition, start, stop, reverse=reverse, limit=limit)

    def raw_count(self, kind: str, partition: str) -> int:
        """How many records a partition holds."""
        return count(self.backend, kind, partition)

    def raw_clear(self, kind: str, partition: str) -> None:
        """Delete a whole partition."""
        clear_partition(self.backend, kind, partition)

    # -- meta and counters ---------------------------------------------------------------
    def meta(self, name: str) -> object | None:
        """A world-level setting (account id, seed, clock position, schema of the world).

        The stored clock must be a datetime: anything else is a Corrupt error.
        """
        value = self.backend.get(_META, "", name)
        if name == "clock" and value is not None and type(value) is not _dt.datetime:
            raise damaged_value(_META, "", name, value, "a datetime")
        return value

    def set_meta(self, name: str, value: object) -> None:
        """Write a world-level setting."""
        self.backend.put(_META, "", name, value)

    def next_number(self, name: str, amount: int = 1) -> int:
        """Reserve ``amount`` consecutive numbers of counter ``name`` (inside a unit of work);
        returns the first.

        The counter record is written once per unit of work, however many numbers it takes:
        just before the unit commits, and before a savepoint opens, so a savepoint that rolls
        back gives back exactly its own numbers. Between units the next value is kept in
        memory; a rollback, or another process committing to a shared backend, makes it be
        read again.
        """
        first = self._numbers.get(name)
        if first is None or not self._depth:
            first = self.peek_number(name)
            if not self._depth:
                self.backend.put(_META, _COUNTERS, name, first + amount)  # raises: no unit
        self._numbers[name] = self._unflushed[name] = first + amount
        return first

    def peek_number(self, name: str) -> int:
        """The number :meth:`next_number` would return next (without reserving it)."""
        first = self._numbers.get(name)
        if first is not None:
            return first
        current = self.backend.get(_META, _COUNTERS, name)
        if current is not None and (type(current) is not int or current < 0):
            raise damaged_value(_META, _COUNTERS, name, current, "a counter")
        return 0 if current is None else current

    def _flush_numbers(self) -> None:
        """Write the counters advanced since the last flush."""
        put = self.backend.put
        for name, value in self._unflushed.items():
            put(_META, _COUNTERS, name, value)
        self._unflushed.clear()


class _Unit:
    """The context manager :meth:`Store.unit` returns (a class, not a generator: it is entered
    on every call of every service)."""

    __slots__ = ("_mark", "_store")

    def __init__(self, store: Store) -> None:
        self._store = store
        self._mark = -1

    def __enter__(self) -> None:
        self._mark = self._store._begin()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        failure: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._store._end(self._mark, failure)


def damaged_value(
    kind: str, partition: str, key: str, value: object, expected: str
) -> StorageBackendError:
    """The typed error for a stored value that decodes but is not what its address holds."""
    return StorageBackendError(
        f"The record at ({kind!r}, {partition!r}, {key!r}) holds {type(value).__name__} "
        f"{value!r:.60}, not {expected}.",
        code="StorageBackend.Corrupt",
        ids=(key,),
        recommend="The stored world is damaged; restore it from a backup.",
    )


def digest_of(value: object, kind: str, partition: str, key: str) -> bytes:
    """``value`` if it is a stored block digest (bytes), else the typed Corrupt error."""
    if type(value) is not bytes:
        raise damaged_value(kind, partition, key, value, "a block digest")
    return value


def _damaged(cls: type, partition: str, key: str, value: object) -> StorageBackendError:
    """A record of ``cls``'s kind that holds something else: the backend's data is damaged."""
    return StorageBackendError(
        f"The record at ({getattr(cls, 'KIND', cls.__name__)!r}, {partition!r}, {key!r}) holds "
        f"a {type(value).__name__}, not a {cls.__name__}.",
        code="StorageBackend.Corrupt",
        ids=(key,),
        recommend="The stored world is damaged; restore it from a backup.",
    )


#: The digest that stands for an all-zero (never written, or zeroed) block; it holds no blob.
ZERO = b""

_BLOCKS = raw_kind("blob.refs")


class BlockStore:
    """Content-addressed block contents, stored once per SHA-256 digest and reference counted.

    A block map (a disk's current contents, a snapshot's delta) holds digests; every digest held
    by a map is one reference. When the last reference goes, the blob goes.
    """

    def __init__(self, store: Store, block_size: int) -> None:
        self.store = store
        self.block_size = block_size
        self._zero_block = bytes(block_size)

    @property
    def zero_block(self) -> bytes:
        """A block of zeros."""
        return self._zero_block

    def intern(self, data: bytes) -> bytes:
        """Store ``data`` (one block, already encrypted if need be) and return its digest.

        The caller owns one new reference to the digest. All-zero plaintext should be passed as
        :data:`ZERO` by the caller instead; this method stores whatever it is given.
        """
        digest = hashlib.sha256(data).digest()
        refs = self.store.raw_get(_BLOCKS, "", digest.hex())
        if refs is None:
            self.store.backend.put_blob(digest, data)
            self.store.raw_put(_BLOCKS, "", digest.hex(), 1)
        else:
            self.store.raw_put(_BLOCKS, "", digest.hex(), _count(refs, digest.hex(), 1) + 1)
        return digest

    def incref(self, digest: bytes, amount: int = 1) -> None:
        """Add ``amount`` references to an existing digest."""
        if digest == ZERO or amount == 0:
            return
        refs = _count(self.store.raw_get(_BLOCKS, "", digest.hex()), digest.hex(), 1)
        self.store.raw_put(_BLOCKS, "", digest.hex(), refs + amount)

    def decref(self, digest: bytes, amount: int = 1) -> None:
        """Drop ``amount`` references; the blob is deleted with its last reference."""
        if digest == ZERO or amount == 0:
            return
        refs = _count(self.store.raw_get(_BLOCKS, "", digest.hex()), digest.hex(), amount)
        if refs == amount:
            self.store.raw_delete(_BLOCKS, "", digest.hex())
            self.store.backend.delete_blob(digest)
        else:
            self.store.raw_put(_BLOCKS, "", digest.hex(), refs - amount)

    def load(self, digest: bytes) -> bytes:
        """The stored bytes of ``digest`` (zeros for :data:`ZERO`)."""
        if digest == ZERO:
            return self._zero_block
        data = self.store.backend.get_blob(digest)
        if data is None:
            raise StorageBackendError(
                f"Block {digest.hex()} is referenced but missing from the backend.",
                ids=(digest.hex(),),
                recommend="The backend lost data; restore it from a copy.",
            )
        return data

    def refcount(self, digest: bytes) -> int:
        """How many references a digest has (0 if unknown)."""
        refs = self.store.raw_get(_BLOCKS, "", digest.hex())
        return 0 if refs is None else _count(refs, digest.hex(), 1)

    def all_refcounts(self) -> dict[bytes, int]:
        """Every digest with its reference count (for invariant checks)."""
        out: dict[bytes, int] = {}
        for key, refs in self.store.raw_scan(_BLOCKS, ""):
            out[bytes.fromhex(key)] = _count(refs, key, 1)
        return out


def _count(refs: object, key: str, at_least: int) -> int:
    """A stored reference count, which must be an int of at least ``at_least``."""
    if type(refs) is not int or refs < at_least:
        raise damaged_value(_BLOCKS, "", key, refs, f"a reference count of at least {at_least}")
    return refs
