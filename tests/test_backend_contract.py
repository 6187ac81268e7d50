"""The storage backend contract check, run against every shipped backend and against broken ones."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cloudbackup._backends import _memory
from cloudbackup._backends._memory import InMemoryBackend
from cloudbackup._backends._protocol import StorageBackend
from cloudbackup._backends._sqlite import SqliteBackend
from cloudbackup.testing._contract import check_storage_backend


def sqlite_factory(tmp_path: Path, **options: object) -> Callable[[], StorageBackend]:
    """A factory of new SQLite backends, each on its own new file under ``tmp_path``."""
    numbers = itertools.count()

    def factory() -> StorageBackend:
        return SqliteBackend(tmp_path / f"world-{next(numbers)}.db", **options)  # type: ignore[arg-type]

    return factory


def test_in_memory_backend_keeps_the_contract() -> None:
    """The default in-memory backend passes the contract check."""
    check_storage_backend(InMemoryBackend)


def test_sqlite_backend_keeps_the_contract(tmp_path: Path) -> None:
    """The SQLite backend, with its defaults, passes the contract check."""
    check_storage_backend(sqlite_factory(tmp_path))


@pytest.mark.parametrize(
    "options",
    [{"cache_size": 0}, {"cache_size": 3}, {"synchronous": "NORMAL"}],
    ids=["no-cache", "tiny-cache", "synchronous-normal"],
)
def test_sqlite_backend_settings_keep_the_contract(
    tmp_path: Path, options: dict[str, object]
) -> None:
    """The SQLite backend passes the contract check without a cache, with one that evicts
    constantly, and at synchronous=NORMAL."""
    check_storage_backend(sqlite_factory(tmp_path, **options), max_examples=30)


# -- the check has teeth: each of these broken backends must fail it --------------------------
class Base(SqliteBackend):
    """A correct backend to break in one way per subclass: a private in-memory database."""

    def __init__(self) -> None:
        super().__init__(":memory:")


class ScansUnordered(Base):
    """scan in reverse key order."""

    def scan(self, kind: str, partition: str) -> Iterator[tuple[str, object]]:
        return iter(list(super().scan(kind, partition))[::-1])


class RollbackCommits(Base):
    """rollback keeps the writes."""

    def rollback(self) -> None:
        self.commit()


class WritesWithoutUnit(Base):
    """put outside a unit of work silently opens and commits one."""

    def put(self, kind: str, partition: str, key: str, value: object) -> None:
        if self._in_unit:
            super().put(kind, partition, key, value)
            return
        self.begin()
        super().put(kind, partition, key, value)
        self.commit()


class NestedBeginAllowed(Base):
    """begin inside a unit of work is ignored."""

    def begin(self) -> None:
        if not self._in_unit:
            super().begin()


class AcceptsNone(Base):
    """put of None deletes instead of raising."""

    def put(self, kind: str, partition: str, key: str, value: object) -> None:
        if value is None:
            self.delete(kind, partition, key)
        else:
            super().put(kind, partition, key, value)


class ListsForTuples(Base):
    """A lossy codec: tuples come back as lists."""

    def get(self, kind: str, partition: str, key: str) -> object | None:
        value = super().get(kind, partition, key)
        return list(value) if isinstance(value, tuple) else value


class StaleAfterDelete(Base):
    """get keeps serving a record after it was deleted."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[tuple[str, str, str], object] = {}

    def get(self, kind: str, partition: str, key: str) -> object | None:
        value = super().get(kind, partition, key)
        if value is None:
            return self.seen.get((kind, partition, key))
        self.seen[(kind, partition, key)] = value
        return value


class CountsDuplicateBlobs(Base):
    """blob_stats counts a blob once per put."""

    def __init__(self) -> None:
        super().__init__()
        self.extra = 0

    def put_blob(self, digest: bytes, data: bytes) -> None:
        if self.get_blob(digest) is not None:
            self.extra += 1
        super().put_blob(digest, data)

    def blob_stats(self) -> tuple[int, int]:
        count, size = super().blob_stats()
        return count + self.extra, size


class ListsEmptyPartitions(Base):
    """partitions keeps partitions whose records were all deleted."""

    def __init__(self) -> None:
        super().__init__()
        self.ever: dict[str, set[str]] = {}

    def put(self, kind: str, partition: str, key: str, value: object) -> None:
        super().put(kind, partition, key, value)
        self.ever.setdefault(kind, set()).add(partition)

    def partitions(self, kind: str) -> Iterator[str]:
        return iter(sorted(set(super().partitions(kind)) | self.ever.get(kind, set())))


class IgnoresClose(Base):
    """close does nothing."""

    def close(self) -> None:
        pass


class WrongErrorType(Base):
    """Refuses writes outside a unit of work with RuntimeError instead of StorageBackendError."""

    def delete(self, kind: str, partition: str, key: str) -> None:
        if not self._in_unit:
            raise RuntimeError("no unit of work")
        super().delete(kind, partition, key)


class RollbackToKeepsWrites(Base):
    """rollback_to only releases the savepoint, keeping its writes."""

    def rollback_to(self) -> None:
        self.release()


class ReleaseUndoesWrites(Base):
    """release rolls the savepoint back instead of keeping its writes."""

    def release(self) -> None:
        self.rollback_to()


class RangesIncludeStop(Base):
    """scan_range includes a key equal to its stop bound."""

    def scan_range(
        self,
        kind: str,
        partition: str,
        start: str | None,
        stop: str | None,
        reverse: bool,
        limit: int | None,
    ) -> list[tuple[str, object]]:
        found = super().scan_range(kind, partition, start, None, reverse, None)
        found = [(key, value) for key, value in found if stop is None or key <= stop]
        return found if limit is None else found[: max(limit, 0)]


class RangesMissUncommittedWrites(InMemoryBackend):
    """scan_range answers from the last committed state, not the open unit's writes."""

    def __init__(self) -> None:
        super().__init__()
        self.committed: list[tuple[str, str, str, object]] = []

    def commit(self) -> None:
        super().commit()
        self.committed = [
            (kind, partition, key, value)
            for kind, parts in self._records.items()
            for partition, part in parts.items()
            for key, value in part.items()
        ]

    def scan_range(
        self,
        kind: str,
        partition: str,
        start: str | None,
        stop: str | None,
        reverse: bool,
        limit: int | None,
    ) -> list[tuple[str, object]]:
        found = sorted(
            (key, value)
            for k, p, key, value in self.committed
            if (k, p) == (kind, partition)
            and (start is None or key >= start)
            and (stop is None or key < stop)
        )
        if reverse:
            found.reverse()
        return found if limit is None else found[: max(limit, 0)]


class RollbackToUndoesTheWholeUnit(InMemoryBackend):
    """rollback_to undoes every write of the unit, not only those since the savepoint."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0

    def begin(self) -> None:
        super().begin()
        self.depth = 0

    def savepoint(self) -> None:
        self._check_in_unit()
        self.depth += 1

    def release(self) -> None:
        if not self.depth:
            super().release()
        self.depth -= 1

    def rollback_to(self) -> None:
        if not self.depth:
            super().rollback_to()
        self.depth -= 1
        super().rollback()
        super().begin()


class StoresSurrogateKeys(InMemoryBackend):
    """put accepts a key with a lone surrogate (the in-memory backend before 5.3)."""

    def put(self, kind: str, partition: str, key: str, value: object) -> None:
        check = _memory.check_storable
        _memory.check_storable = lambda *parts: None  # type: ignore[assignment]
        try:
            super().put(kind, partition, key, value)
        finally:
            _memory.check_storable = check


@pytest.mark.parametrize(
    "broken",
    [
        StoresSurrogateKeys,
        RollbackToKeepsWrites,
        ReleaseUndoesWrites,
        RollbackToUndoesTheWholeUnit,
        ScansUnordered,
        RollbackCommits,
        WritesWithoutUnit,
        NestedBeginAllowed,
        AcceptsNone,
        ListsForTuples,
        StaleAfterDelete,
        CountsDuplicateBlobs,
        ListsEmptyPartitions,
        RangesIncludeStop,
        RangesMissUncommittedWrites,
        IgnoresClose,
        WrongErrorType,
    ],
)
def test_contract_check_catches_a_broken_backend(broken: type[StorageBackend]) -> None:
    """The contract check raises AssertionError for a backend that breaks one rule."""
    with pytest.raises(AssertionError, match="contract violated"):
        check_storage_backend(broken, max_examples=20)
