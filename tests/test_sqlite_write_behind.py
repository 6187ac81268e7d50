"""Tests for the SQLite backend's write-behind buffer (cloudbackup._backends._sqlite_buffer)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudbackup._backends._memory import InMemoryBackend
from cloudbackup._backends._protocol import StorageBackend, count, get_many, scan_range
from cloudbackup._backends._sqlite import SqliteBackend
from cloudbackup._backends._sqlite_cache import RecordCache
from cloudbackup.errors import StorageBackendError

KIND = "test.record"


class CountingConnection:
    """Wraps a sqlite3 connection and counts the statements run through it, by first words."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.executed: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self.executed[" ".join(sql.split()[:3])] += 1
        return self.conn.execute(sql, *args)

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        self.executed["MANY " + " ".join(sql.split()[:3])] += 1
        return self.conn.executemany(sql, rows)


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[SqliteBackend]:
    opened = SqliteBackend(tmp_path / "w.db")
    yield opened
    opened.close()


def counting(backend: SqliteBackend) -> CountingConnection:
    wrapped = CountingConnection(backend._conn)
    backend._conn = wrapped  # type: ignore[assignment]
    return wrapped


def test_a_unit_sends_its_writes_in_one_statement_each_at_commit(backend: SqliteBackend) -> None:
    """Forty puts and ten deletes of one unit cost one executemany each, none before commit."""
    conn = counting(backend)
    backend.begin()
    for number in range(40):
        backend.put(KIND, f"p{number % 4}", f"k{number}", number)
    for number in range(10):
        backend.delete(KIND, "p0", f"k{number * 4}")
    put, delete = "INSERT OR REPLACE", "DELETE FROM records"
    writes = (put, delete, "MANY " + put, "MANY " + delete)
    before_commit = [conn.executed[word] for word in writes]
    backend.commit()
    assert ([0, 0, 0, 0], [0, 0, 1, 1]) == (before_commit, [conn.executed[w] for w in writes])
    assert 30 == sum(count(backend, KIND, f"p{n}") for n in range(4))


def test_writing_one_address_again_sends_only_the_last_value(backend: SqliteBackend) -> None:
    """A counter written five times in a unit reaches SQLite once, with its last value."""
    backend.begin()
    for number in range(5):
        backend.put(KIND, "p", "counter", number)
    backend.put(KIND, "p", "gone", "x")
    backend.delete(KIND, "p", "gone")
    backend.commit()
    rows = backend._conn.execute("SELECT key, value FROM records WHERE kind = ?", (KIND,))
    assert [("counter", b"4")] == rows.fetchall()


def test_another_connection_sees_no_buffered_write_until_commit(
    backend: SqliteBackend, tmp_path: Path
) -> None:
    """Buffered (and flushed-for-a-read) writes stay invisible to a reader until commit."""
    reader = SqliteBackend(tmp_path / "w.db")
    backend.begin()
    backend.put(KIND, "p", "a", 1)
    backend.put(KIND, "q", "b", 2)
    assert [("a", 1)] == list(backend.scan(KIND, "p"))  # sends p's writes, not q's
    assert ([], None, 0) == (list(reader.scan(KIND, "p")), reader.get(KIND, "q", "b"), 0)
    backend.commit()
    assert ([("a", 1)], 2) == (list(reader.scan(KIND, "p")), reader.get(KIND, "q", "b"))
    reader.close()


def test_reads_inside_the_unit_see_buffered_writes_without_the_cache(tmp_path: Path) -> None:
    """With no record cache, get, get_many, count, scan_range and partitions see the unit's
    buffered puts and deletes."""
    backend = SqliteBackend(tmp_path / "w.db", cache_size=0)
    backend.begin()
    backend.put(KIND, "p", "a", 1)
    backend.put(KIND, "p", "b", 2)
    backend.commit()
    backend.begin()
    backend.delete(KIND, "p", "a")
    backend.put(KIND, "p", "c", 3)
    backend.put(KIND, "r", "z", 9)
    found = (
        backend.get(KIND, "p", "a"),
        backend.get(KIND, "p", "c"),
        get_many(backend, KIND, "p", ["a", "b", "c"]),
    )
    assert (None, 3, {"b": 2, "c": 3}) == found
    assert (1, 2, [("c", 3), ("b", 2)], ["p", "r"]) == (
        count(backend, KIND, "r"),
        count(backend, KIND, "p"),
        scan_range(backend, KIND, "p", reverse=True),
        list(backend.partitions(KIND)),
    )
    backend.rollback()
    assert ([("a", 1), ("b", 2)], []) == (
        list(backend.scan(KIND, "p")),
        list(backend.scan(KIND, "r")),
    )
    backend.close()


def test_a_rolled_back_savepoint_drops_exactly_its_buffered_writes(
    backend: SqliteBackend,
) -> None:
    """Writes buffered before a savepoint survive its rollback; those after it do not, even
    through a released inner savepoint."""
    backend.begin()
    backend.put(KIND, "p", "before", 1)
    backend.savepoint()
    backend.put(KIND, "p", "outer", 2)
    backend.savepoint()
    backend.put(KIND, "p", "inner", 3)
    backend.release()
    backend.put(KIND, "p", "after", 4)
    backend.rollback_to()
    backend.commit()
    assert [("before", 1)] == list(backend.scan(KIND, "p"))


def test_a_write_that_failed_to_reach_sqlite_stops_the_unit_from_committing(
    backend: SqliteBackend,
) -> None:
    """When SQLite refuses buffered writes sent for a read (disk full), commit raises
    StorageBackend.WriteFailed and the file keeps its last committed state."""
    backend.begin()
    backend.put(KIND, "p", "kept", 1)
    backend.commit()
    pages = backend._conn.execute("PRAGMA page_count").fetchone()[0]
    backend._conn.execute(f"PRAGMA max_page_count = {pages + 4}")
    backend.begin()
    backend.put(KIND, "p", "small", 2)
    backend.put(KIND, "q", "big", b"\1" * 2**20)
    with pytest.raises(StorageBackendError):
        list(backend.scan(KIND, "q"))
    with pytest.raises(StorageBackendError) as raised:
        backend.commit()
    assert "StorageBackend.WriteFailed" == raised.value.code
    backend._conn.execute("PRAGMA max_page_count = 1073741823")
    assert ([("kept", 1)], []) == (list(backend.scan(KIND, "p")), list(backend.scan(KIND, "q")))


OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("put"), st.sampled_from("pq"), st.sampled_from("abcde"), st.integers(0, 9)
        ),
        st.tuples(st.just("delete"), st.sampled_from("pq"), st.sampled_from("abcde")),
        st.tuples(st.just("clear"), st.sampled_from("pq")),
        st.tuples(st.sampled_from(["savepoint", "release", "rollback_to", "read"])),
    ),
    max_size=40,
)


def run_program(backend: StorageBackend, program: list[tuple[Any, ...]]) -> list[object]:
    """Run ``program`` in one unit of work, returning everything the reads saw."""
    seen: list[object] = []
    depth = 0
    backend.begin()
    for op in program:
        name = op[0]
        if name == "put":
            backend.put(KIND, op[1], op[2], op[3])
        elif name == "delete":
            backend.delete(KIND, op[1], op[2])
        elif name == "clear":
            backend.clear_partition(KIND, op[1])  # type: ignore[attr-defined]
        elif name == "savepoint":
            backend.savepoint()
            depth += 1
        elif depth and name in ("release", "rollback_to"):
            getattr(backend, name)()
            depth -= 1
        elif name == "read":
            seen.append(
                (
                    backend.get(KIND, "p", "a"),
                    get_many(backend, KIND, "q", ["b", "c"]),
                    scan_range(backend, KIND, "p", "b", None, reverse=True, limit=2),
                    count(backend, KIND, "q"),
                    list(backend.partitions(KIND)),
                )
            )
    backend.commit()
    seen.append([list(backend.scan(KIND, part)) for part in "pq"])
    return seen


@settings(max_examples=60, deadline=None)
@given(OPS)
def test_buffered_units_read_and_commit_like_the_in_memory_backend(
    tmp_path_factory: pytest.TempPathFactory, program: list[tuple[Any, ...]]
) -> None:
    """Random writes, clears, savepoints and reads in a unit see and leave the same records
    on SQLite (cached and uncached) as on the in-memory backend."""
    path = tmp_path_factory.mktemp("wb") / "w.db"
    memory = InMemoryBackend()
    expected = run_program(memory, program)
    for cache_size in (10_000, 0):
        sqlite = SqliteBackend(path, cache_size=cache_size)
        sqlite.begin()
        sqlite.clear_partition(KIND, "p")
        sqlite.clear_partition(KIND, "q")
        sqlite.commit()
        assert expected == run_program(sqlite, program)
        sqlite.close()


def test_the_record_cache_evicts_its_oldest_entries_and_keeps_its_bound() -> None:
    """A full cache forgets its oldest entries first and never holds more than its size."""
    cache = RecordCache(16)
    sizes = []
    for number in range(100):
        cache.put((KIND, "p", f"k{number:03}"), number)
        sizes.append(len(cache))
    assert (16, None, 99) == (
        max(sizes),
        cache.get((KIND, "p", "k000")),
        cache.get((KIND, "p", "k099")),
    )
    cache.forget_partition(KIND, "p")
    assert 0 == len(cache)


def test_the_wal_is_checkpointed_at_four_thousand_pages(backend: SqliteBackend) -> None:
    """The backend lets the WAL grow to 16,000 pages before copying it into the file."""
    assert 16000 == backend._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
