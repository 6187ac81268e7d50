"""Tests for the SQLite backend: durability, refusal of foreign files, processes, crashes."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import multiprocessing
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

import sqlite_crash_child as crash
from cloudbackup import Cloud, DataDisk, ManualClock, SystemDisk
from cloudbackup._backends import _sqlite, _sqlite_schema
from cloudbackup._backends._sqlite import APPLICATION_ID, SCHEMA_VERSION, ZERO_RUN, SqliteBackend
from cloudbackup._backends._sqlite_schema import with_margins, without_margins
from cloudbackup.errors import InvalidParameterError, StorageBackendError
from cloudbackup.testing import check_invariants
from cloudbackup.testing._contract_values import _SAMPLE_VALUES, _same

SPAWN = multiprocessing.get_context("spawn")
KIND = "test.record"
REGION, ZONE = "cn-hangzhou", "cn-hangzhou-h"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """The path of a database file that does not exist yet."""
    return tmp_path / "world.db"


@pytest.fixture
def backend(db: Path) -> Iterator[SqliteBackend]:
    """A backend on a new database file, closed after the test."""
    opened = SqliteBackend(db)
    yield opened
    opened.close()


def logical_dump(path: Path) -> list[str]:
    """Every table's schema and rows, as SQL text, read through a separate connection."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fill(backend: SqliteBackend) -> dict[bytes, bytes]:
    """Commit one record of every supported value type and a few blobs; return the blobs."""
    blobs = {hashlib.sha256(data).digest(): data for data in (b"", b"x" * 5000, os.urandom(99))}
    backend.begin()
    for number, value in enumerate(_SAMPLE_VALUES):
        backend.put(KIND, f"p{number % 3}", f"k{number:02d}", value)
    for digest, data in blobs.items():
        backend.put_blob(digest, data)
    backend.commit()
    return blobs


# -- durability and atomicity ---------------------------------------------------------------
def test_everything_survives_close_and_reopen(db: Path) -> None:
    """Records of every value type and every blob come back identical after close and reopen."""
    first = SqliteBackend(db)
    blobs = fill(first)
    before = {p: list(first.scan(KIND, p)) for p in first.partitions(KIND)}
    stats = first.blob_stats()
    first.close()

    second = SqliteBackend(db)
    after = {p: list(second.scan(KIND, p)) for p in second.partitions(KIND)}
    assert _same(before, after)
    assert stats == second.blob_stats()
    assert blobs == {digest: second.get_blob(digest) for digest in blobs}
    second.close()


def test_rollback_leaves_the_file_logically_unchanged(backend: SqliteBackend, db: Path) -> None:
    """After a unit of work full of changes (and a failed write) is rolled back, every table
    holds exactly what it held before."""
    blobs = fill(backend)
    before = logical_dump(db)
    backend.begin()
    backend.put(KIND, "p0", "k00", "replaced")
    backend.put(KIND, "new", "key", ("new", 1))
    backend.delete(KIND, "p1", "k01")
    backend.clear_partition(KIND, "p2")
    backend.put_blob(hashlib.sha256(b"new").digest(), b"new")
    for digest in blobs:
        backend.delete_blob(digest)
    with pytest.raises(StorageBackendError):
        backend.put(KIND, "p0", "bad", object())
    backend.rollback()
    assert before == logical_dump(db)


def test_unit_of_work_is_invisible_to_other_connections_until_commit(
    backend: SqliteBackend, db: Path
) -> None:
    """Another backend on the same file sees none of a unit's writes before commit, all after."""
    other = SqliteBackend(db)
    assert other.get(KIND, "p", "k") is None  # also caches the absence
    backend.begin()
    backend.put(KIND, "p", "k", 1)
    backend.put_blob(b"d" * 32, b"data")
    assert other.get(KIND, "p", "k") is None
    expected = []
    assert expected == list(other.scan(KIND, "p"))
    expected_stats = (0, 0)
    assert expected_stats == other.blob_stats()
    backend.commit()
    expected = 1
    assert expected == other.get(KIND, "p", "k")
    expected = [("k", 1)]
    assert expected == list(other.scan(KIND, "p"))
    expected = b"data"
    assert expected == other.get_blob(b"d" * 32)
    other.close()


def test_cache_follows_commits_of_other_connections(backend: SqliteBackend, db: Path) -> None:
    """A value cached by one backend is replaced when another backend commits a new one."""
    other = SqliteBackend(db)
    for version in range(3):
        other.begin()
        other.put(KIND, "p", "k", version)
        other.commit()
        assert version == backend.get(KIND, "p", "k")
        assert {"k": version} == backend.get_many(KIND, "p", ["k"])
        assert [("k", version)] == list(backend.scan(KIND, "p"))
    other.begin()
    other.delete(KIND, "p", "k")
    other.commit()
    assert backend.get(KIND, "p", "k") is None
    other.close()


def counting_decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the SQLite backend's record decodes: one list entry per decode."""
    calls: list[int] = []
    decode = _sqlite.DEFAULT_CODEC.decode

    def counted(data: bytes) -> object:
        calls.append(1)
        return decode(data)

    monkeypatch.setattr(_sqlite.DEFAULT_CODEC, "decode", counted)
    return calls


def test_scan_decodes_each_record_once_while_nothing_changes(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second scan of an unchanged partition is served from the cache; after one record
    changes, only that record is decoded again."""
    with SqliteBackend(db) as writer:
        writer.begin()
        for number in range(50):
            writer.put(KIND, "p", f"k{number:02d}", ("value", number))
        writer.commit()
    reader = SqliteBackend(db)
    decodes = counting_decodes(monkeypatch)
    first = list(reader.scan(KIND, "p"))
    second = list(reader.scan(KIND, "p"))
    assert (first, 50) == (second, len(decodes))
    reader.begin()
    reader.put(KIND, "p", "k07", ("changed", 7))
    reader.commit()
    third = dict(reader.scan(KIND, "p"))
    assert (("changed", 7), 50) == (third["k07"], len(decodes))
    reader.close()


def test_scan_inside_a_rolled_back_unit_leaves_no_trace(backend: SqliteBackend) -> None:
    """What a scan saw of a unit's own writes is forgotten when the unit rolls back."""
    backend.begin()
    backend.put(KIND, "p", "a", 1)
    backend.commit()
    backend.begin()
    backend.put(KIND, "p", "a", 2)
    backend.put(KIND, "p", "b", 3)
    assert [("a", 2), ("b", 3)] == list(backend.scan(KIND, "p"))
    backend.rollback()
    assert [("a", 1)] == list(backend.scan(KIND, "p"))
    assert backend.get(KIND, "p", "b") is None


def test_a_partition_larger_than_the_cache_is_not_cached(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scanning more records than the cache holds leaves the cache as it was."""
    with SqliteBackend(db) as writer:
        writer.begin()
        for number in range(20):
            writer.put(KIND, "big", f"k{number:02d}", number)
        writer.put(KIND, "small", "k", "kept")
        writer.commit()
    backend = SqliteBackend(db, cache_size=10)
    backend.get(KIND, "small", "k")
    decodes = counting_decodes(monkeypatch)
    assert list(range(20)) == [value for _, value in backend.scan(KIND, "big")]
    assert "kept" == backend.get(KIND, "small", "k")
    assert 20 == len(decodes)
    backend.close()


def test_a_reader_keeps_the_cache_of_records_another_process_did_not_change(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After another connection commits, only the records it changed (and the partitions it
    cleared) are decoded again."""
    writer = SqliteBackend(db)
    writer.begin()
    for number in range(50):
        writer.put(KIND, "p", f"k{number:02d}", number)
        writer.put(KIND, "q", f"k{number:02d}", number)
    writer.commit()
    reader = SqliteBackend(db)
    decodes = counting_decodes(monkeypatch)
    list(reader.scan(KIND, "p"))
    list(reader.scan(KIND, "q"))
    writer.begin()
    writer.put(KIND, "p", "k07", "changed")
    writer.delete(KIND, "p", "k08")
    writer.clear_partition(KIND, "q")
    writer.commit()
    after = dict(reader.scan(KIND, "p"))
    assert ("changed", "k08" in after, []) == (after["k07"], False, list(reader.scan(KIND, "q")))
    assert 100 + 1 == len(decodes)
    writer.close()
    reader.close()


def test_the_change_log_is_pruned_every_so_many_commits(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a log of 3 kept rows pruned every 4 commits, the log grows between prunes and is
    cut back to 3 rows on the first commit and every fourth after it."""
    monkeypatch.setattr(_sqlite, "CHANGES_KEPT", 3)
    monkeypatch.setattr(_sqlite, "_PRUNE_EVERY", 4)
    backend = SqliteBackend(db)
    sizes = []
    for number in range(9):
        backend.begin()
        backend.put(KIND, "p", f"k{number}", number)
        backend.commit()
        sizes.append(backend._conn.execute("SELECT count(*) FROM record_changes").fetchone()[0])
    assert [1, 2, 3, 4, 3, 4, 5, 6, 3] == sizes
    backend.close()


def test_a_reader_further_behind_than_the_change_log_drops_its_cache(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the change rows a reader needs were pruned, it forgets everything and still reads
    every record's latest value."""
    monkeypatch.setattr(_sqlite, "CHANGES_KEPT", 3)
    monkeypatch.setattr(_sqlite, "_PRUNE_EVERY", 1)
    writer, reader = SqliteBackend(db), SqliteBackend(db)
    writer.begin()
    for number in range(10):
        writer.put(KIND, "p", f"k{number}", 0)
    writer.commit()
    assert [0] * 10 == [value for _, value in reader.scan(KIND, "p")]
    for number in range(10):
        writer.begin()
        writer.put(KIND, "p", f"k{number}", number + 1)
        writer.commit()
    count = writer._conn.execute("SELECT count(*) FROM record_changes").fetchone()[0]
    assert 3 == count
    assert list(range(1, 11)) == [value for _, value in reader.scan(KIND, "p")]
    writer.close()
    reader.close()


def test_writes_of_a_process_that_does_not_log_them_still_reach_readers(db: Path) -> None:
    """A writer that knows nothing of the change log (an older cloudbackup, or plain SQL) is
    logged by the file's triggers, so a reader's cache still follows it."""
    reader = SqliteBackend(db)
    reader.begin()
    reader.put(KIND, "p", "x", 1)
    reader.commit()
    assert 1 == reader.get(KIND, "p", "x")
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(
        "INSERT OR REPLACE INTO records (kind, partition, key, value) VALUES (?, ?, ?, ?)",
        (KIND, "p", "x", _sqlite.DEFAULT_CODEC.encode(2)),
    )
    assert (2, [("x", 2)]) == (reader.get(KIND, "p", "x"), list(reader.scan(KIND, "p")))
    conn.execute("DELETE FROM records WHERE key = 'x'")
    assert (None, []) == (reader.get(KIND, "p", "x"), list(reader.scan(KIND, "p")))
    conn.close()
    reader.close()


def test_a_failed_refresh_never_leaves_a_stale_cache(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If reading the change log fails, the backend neither believes its cache current nor,
    after a commit of its own, skips the changes it missed."""
    reader, writer = SqliteBackend(db), SqliteBackend(db)
    reader.begin()
    reader.put(KIND, "p", "x", 1)
    reader.commit()
    assert 1 == reader.get(KIND, "p", "x")
    writer.begin()
    writer.put(KIND, "p", "x", 2)
    writer.commit()
    real = reader._query_all

    def fail_once(sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        monkeypatch.setattr(reader, "_query_all", real)
        raise StorageBackendError("simulated read failure", code="StorageBackend.SqliteError")

    monkeypatch.setattr(reader, "_query_all", fail_once)
    with pytest.raises(StorageBackendError):
        reader.get(KIND, "p", "x")
    reader.begin()
    reader.put(KIND, "p", "y", 0)
    reader.commit()
    writer.begin()
    writer.put(KIND, "q", "z", 0)
    writer.commit()
    assert (2, [("x", 2), ("y", 0)]) == (reader.get(KIND, "p", "x"), list(reader.scan(KIND, "p")))
    reader.close()
    writer.close()


class TwoBackendsOneFile(RuleBasedStateMachine):
    """Two backends on one file, as two processes would hold it, one with a tiny cache: every
    read, inside or outside a unit of work, matches a model of the committed records."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.mkdtemp()
        path = Path(self.folder) / "world.db"
        self.backends = [
            SqliteBackend(path, synchronous="OFF", cache_size=size) for size in (3, 1000)
        ]
        self.model: dict[tuple[str, str], int] = {}

    def expected(self, model: dict[tuple[str, str], int], partition: str) -> list[Any]:
        return sorted((key, value) for (part, key), value in model.items() if part == partition)

    @rule(
        who=st.integers(0, 1),
        ops=st.lists(
            st.tuples(
                st.sampled_from(["put", "delete", "clear", "get", "scan"]),
                st.sampled_from(["p", "q"]),
                st.sampled_from(["a", "b", "c", "d"]),
                st.integers(0, 3),
            ),
            max_size=6,
        ),
        keep=st.booleans(),
    )
    def unit_of_work(self, who: int, ops: list[tuple[str, str, str, int]], keep: bool) -> None:
        backend = self.backends[who]
        pending = dict(self.model)
        backend.begin()
        for op, partition, key, value in ops:
            if op == "put":
                backend.put(KIND, partition, key, value)
                pending[(partition, key)] = value
            elif op == "delete":
                backend.delete(KIND, partition, key)
                pending.pop((partition, key), None)
            elif op == "clear":
                backend.clear_partition(KIND, partition)
                pending = {address: v for address, v in pending.items() if address[0] != partition}
            elif op == "get":
                assert pending.get((partition, key)) == backend.get(KIND, partition, key)
            else:
                assert self.expected(pending, partition) == list(backend.scan(KIND, partition))
        if keep:
            backend.commit()
            self.model = pending
        else:
            backend.rollback()

    @rule(who=st.integers(0, 1), partition=st.sampled_from(["p", "q"]))
    def scan(self, who: int, partition: str) -> None:
        found = list(self.backends[who].scan(KIND, partition))
        assert self.expected(self.model, partition) == found

    @rule(who=st.integers(0, 1), partition=st.sampled_from(["p", "q"]), key=st.sampled_from("abcd"))
    def get(self, who: int, partition: str, key: str) -> None:
        assert self.model.get((partition, key)) == self.backends[who].get(KIND, partition, key)

    @invariant()
    def both_see_every_key(self) -> None:
        for backend in self.backends:
            for partition in ("p", "q"):
                found = backend.get_many(KIND, partition, "abcd")
                wanted = {k: v for (part, k), v in self.model.items() if part == partition}
                assert wanted == found

    def teardown(self) -> None:
        for backend in self.backends:
            backend.close()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.mark.parametrize("kept", [1, 50_000])
def test_two_backends_on_one_file_never_read_a_stale_record(
    kept: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state machine above, with the change log kept whole and pruned to one row."""
    monkeypatch.setattr(_sqlite, "CHANGES_KEPT", kept)
    run_state_machine_as_test(
        TwoBackendsOneFile, settings=settings(max_examples=60, stateful_step_count=25)
    )


def test_close_with_an_open_unit_of_work_discards_it(db: Path) -> None:
    """Closing inside a unit of work rolls it back."""
    first = SqliteBackend(db)
    first.begin()
    first.put(KIND, "p", "k", "uncommitted")
    first.close()
    with SqliteBackend(db) as second:
        assert second.get(KIND, "p", "k") is None


def test_closed_backend_refuses_every_call(backend: SqliteBackend) -> None:
    """After close, a call raises StorageBackendError with code StorageBackend.Closed."""
    backend.close()
    with pytest.raises(StorageBackendError) as info:
        backend.get(KIND, "p", "k")
    expected = "StorageBackend.Closed"
    assert expected == info.value.code
    backend.close()  # closing twice is harmless


def test_get_many_reads_more_keys_than_one_statement_may_bind(backend: SqliteBackend) -> None:
    """get_many splits a long key list into several statements and keeps the caller's order."""
    backend.begin()
    for number in range(0, 1500, 2):
        backend.put(KIND, "p", f"{number:05d}", number)
    backend.commit()
    keys = [f"{number:05d}" for number in reversed(range(1500))]
    fresh = SqliteBackend(backend.path, cache_size=0)
    expected = {key: int(key) for key in keys if int(key) % 2 == 0}
    actual = fresh.get_many(KIND, "p", keys)
    assert list(expected.items()) == list(actual.items())
    fresh.close()


# -- zero margins: what a blob costs in the file ---------------------------------------------
@st.composite
def sparse_blobs(draw: st.DrawFn) -> bytes:
    """Blobs made of zero runs and non-zero pieces, of any length, often near ZERO_RUN edges."""
    lengths = st.one_of(
        st.integers(0, 3 * ZERO_RUN),
        st.sampled_from([ZERO_RUN - 1, ZERO_RUN, ZERO_RUN + 1, 2 * ZERO_RUN]),
    )
    pieces = draw(st.lists(st.tuples(st.booleans(), lengths, st.integers(1, 255)), max_size=6))
    return b"".join(bytes([fill]) * n if solid else bytes(n) for solid, n, fill in pieces)


def reference_margins(data: bytes) -> tuple[int, int]:
    """``(offset, end)`` worked out the slow way: the offset is the longest run of whole
    ZERO_RUN zero steps at the start; the end is the first of ``offset + k * ZERO_RUN`` (or the
    length) after which every byte is zero."""
    offset = 0
    while offset + ZERO_RUN <= len(data) and not any(data[offset : offset + ZERO_RUN]):
        offset += ZERO_RUN
    ends = [*range(offset, len(data), ZERO_RUN), len(data)]
    return offset, next(end for end in ends if not any(data[end:]))


@given(sparse_blobs())
def test_zero_margins_are_left_out_exactly(data: bytes) -> None:
    """A blob comes back byte-exact from its body, and the body is exactly the part between
    the zero margins that whole ZERO_RUN steps can cut."""
    offset, body = without_margins(data)
    assert data == with_margins(len(data), offset, body)
    start, end = reference_margins(data)
    assert (start, data[start:end]) == (offset, body)


def test_a_sparse_block_costs_its_written_bytes_in_the_file(backend: SqliteBackend) -> None:
    """16 KiB written into a 512 KiB block stores about 16 KiB; blob_stats counts 512 KiB."""
    block = bytearray(512 * 1024)
    block[100_000:116_384] = os.urandom(16_384)
    digest = hashlib.sha256(block).digest()
    backend.begin()
    backend.put_blob(digest, bytes(block))
    backend.commit()
    stored = backend._conn.execute(
        "SELECT length(b.tail) + coalesce(length(h.head), 0) FROM blobs AS b "
        "LEFT JOIN blob_heads AS h ON h.id = b.head_id WHERE digest = ?",
        (digest,),
    ).fetchone()[0]
    assert stored <= 16_384 + 2 * ZERO_RUN
    assert bytes(block) == backend.get_blob(digest)
    assert (1, 512 * 1024) == backend.blob_stats()


@pytest.mark.parametrize(("offset", "length"), [(-1, 101), (10, 91), (4096, 1), ("ten", 90)])
def test_a_blob_row_that_does_not_fit_its_size_is_reported_corrupt(
    backend: SqliteBackend, db: Path, offset: object, length: int
) -> None:
    """A damaged row (stored bytes outside the blob, or an offset that is not a number) raises
    StorageBackend.Corrupt naming the digest, instead of returning wrong bytes."""
    digest = hashlib.sha256(b"x").digest()
    backend.begin()
    backend.put_blob(digest, b"x" * 100)
    backend.commit()
    conn = sqlite3.connect(db)
    conn.execute(
        "UPDATE blobs SET body_offset = ?, tail = ? WHERE digest = ?",
        (offset, b"x" * length, digest),
    )
    conn.commit()
    conn.close()
    with pytest.raises(StorageBackendError) as info:
        backend.get_blob(digest)
    assert ("StorageBackend.Corrupt", (digest.hex(),)) == (info.value.code, info.value.ids)


#: A world written by cloudbackup at schema version 1 (commit 7840474), by
#: ``tests/data/make_world_v1.py``; tests open copies of it, never the file itself.
WORLD_V1 = Path(__file__).parent / "data" / "world-v1.db"


def columns(path: Path) -> list[tuple[Any, ...]]:
    """Every column of every table, as PRAGMA table_info reports it."""
    conn = sqlite3.connect(path)
    try:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return [
            (table, *row) for table in tables for row in conn.execute(f"PRAGMA table_info({table})")
        ]
    finally:
        conn.close()


def read_at(ecs: Any, disk_id: str, offset: int, text: bytes) -> bytes:
    """What a guest reads at ``offset`` for ``len(text)`` bytes."""
    data: bytes = ecs.read_disk(disk_id, offset, len(text))
    return data


def test_world_written_by_version_1_opens_migrated_and_whole(tmp_path: Path) -> None:
    """A real version-1 world opens at the current schema (the same one a new file gets): its
    disks read as they were left, its snapshots restore byte-exact, and it takes new writes."""
    db = tmp_path / "world.db"
    shutil.copyfile(WORLD_V1, db)
    with Cloud(backend=SqliteBackend(db), seed=11, block_size=16384) as cloud:
        ecs = cloud.ecs(REGION)
        [instance] = ecs.describe_instances(instance_name="v1").items
        disks = ecs.describe_disks(instance_id=instance.instance_id, disk_type="data").items
        by_name = {disk.disk_name: disk.disk_id for disk in disks}
        ones = b"\x01" * 20000
        for name, disk_id in by_name.items():
            now = f"{name} after the snapshot".encode() * 10
            assert now == read_at(ecs, disk_id, 8192, now)
            assert ones == read_at(ecs, disk_id, 5 * 16384 + 100, ones)
        ecs.stop_instance(instance.instance_id)
        cloud.advance(dt.timedelta(minutes=5))
        for disk_id in by_name.values():
            [snapshot] = ecs.describe_snapshots(disk_id=disk_id).items
            ecs.reset_disk(disk_id=disk_id, snapshot_id=snapshot.snapshot_id)
        ecs.start_instance(instance.instance_id)
        cloud.advance(dt.timedelta(minutes=5))
        for name, disk_id in by_name.items():
            then = f"{name} before the snapshot".encode() * 10
            assert then == read_at(ecs, disk_id, 8192, then)
            assert ones == read_at(ecs, disk_id, 5 * 16384 + 100, ones)
            ecs.write_disk(disk_id, 3 * 16384, b"new")
            assert b"new" == read_at(ecs, disk_id, 3 * 16384, b"new")
    with SqliteBackend(tmp_path / "new.db"):
        pass
    assert columns(tmp_path / "new.db") == columns(db)
    conn = sqlite3.connect(db)
    version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    conn.close()
    assert str(SCHEMA_VERSION) == version


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT data FROM blobs WHERE digest = ?",
        "INSERT OR IGNORE INTO blobs (digest, size, data) VALUES (?, 1, x'00')",
    ],
)
def test_version_1_blob_statements_fail_on_a_migrated_file(tmp_path: Path, statement: str) -> None:
    """A process still running version 1 on a file another process migrated gets an error on
    its next blob statement (these are version 1's), never a body read as a whole blob."""
    db = tmp_path / "world.db"
    shutil.copyfile(WORLD_V1, db)
    SqliteBackend(db).close()
    conn = sqlite3.connect(db)
    try:
        with pytest.raises(sqlite3.OperationalError, match="data"):
            conn.execute(statement, (b"d" * 32,))
    finally:
        conn.close()


# -- the file: identity, schema version, migration, settings ----------------------------------
def test_new_file_is_marked_as_a_cloudbackup_database(backend: SqliteBackend, db: Path) -> None:
    """A new database carries the application id, the schema version and WAL mode."""
    conn = sqlite3.connect(db)
    found = (
        conn.execute("PRAGMA application_id").fetchone()[0],
        conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0],
        conn.execute("PRAGMA journal_mode").fetchone()[0],
    )
    conn.close()
    assert (APPLICATION_ID, str(SCHEMA_VERSION), "wal") == found


@pytest.mark.parametrize(("level", "number"), [("FULL", 2), ("normal", 1), ("OFF", 0)])
def test_synchronous_level_is_applied(db: Path, level: str, number: int) -> None:
    """The synchronous setting reaches SQLite."""
    with SqliteBackend(db, synchronous=level) as opened:
        assert number == opened._conn.execute("PRAGMA synchronous").fetchone()[0]


@pytest.mark.parametrize(
    "options",
    [
        {"synchronous": "SOMETIMES"},
        {"timeout": -1},
        {"timeout": float("inf")},
        {"timeout": "5"},
        {"cache_size": -1},
    ],
)
def test_invalid_settings_are_refused(db: Path, options: dict[str, Any]) -> None:
    """Out-of-range settings raise StorageBackendError before any file is created."""
    with pytest.raises(StorageBackendError) as info:
        SqliteBackend(db, **options)
    expected = "StorageBackend.InvalidSetting"
    assert expected == info.value.code
    assert not db.exists()


def test_empty_existing_file_becomes_a_database(db: Path) -> None:
    """A zero-byte file (e.g. from mkstemp) is initialised like a missing one."""
    db.write_bytes(b"")
    with SqliteBackend(db) as opened:
        expected = (0, 0)
        assert expected == opened.blob_stats()


def test_newer_schema_is_refused_and_left_untouched(db: Path) -> None:
    """A file written by a newer schema raises StorageBackend.SchemaTooNew and is not changed."""
    with SqliteBackend(db) as opened:
        fill(opened)
    conn = sqlite3.connect(db)
    conn.execute(
        "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),)
    )
    conn.commit()
    conn.close()
    before = file_digest(db)
    with pytest.raises(StorageBackendError) as info:
        SqliteBackend(db)
    expected = ("StorageBackend.SchemaTooNew", before)
    assert expected == (info.value.code, file_digest(db))
    assert "Upgrade cloudbackup" in info.value.recommend


def make_text_file(path: Path) -> None:
    """A file that is not SQLite at all."""
    path.write_text("hello, this is not a database\n" * 200)


def make_foreign_database(path: Path) -> None:
    """Another application's SQLite database."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.execute("INSERT INTO users VALUES ('ada')")
    conn.commit()
    conn.close()


def make_other_application_id(path: Path) -> None:
    """An empty SQLite database that another application has claimed."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1234")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("DROP TABLE t")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("make", [make_text_file, make_foreign_database, make_other_application_id])
def test_foreign_files_are_refused_and_left_untouched(db: Path, make: Any) -> None:
    """A file that is not a cloudbackup database raises StorageBackend.NotCloudbackup and keeps
    its bytes."""
    make(db)
    before = file_digest(db)
    with pytest.raises(StorageBackendError) as info:
        SqliteBackend(db)
    expected = ("StorageBackend.NotCloudbackup", before)
    assert expected == (info.value.code, file_digest(db))
    assert str(db) in info.value.message


def test_older_schema_is_migrated_once(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening a file with an older schema runs each migration step once, in one transaction."""
    with SqliteBackend(db) as opened:
        fill(opened)
    calls: list[int] = []

    def add_labels(conn: sqlite3.Connection) -> None:
        calls.append(1)
        conn.execute("CREATE TABLE labels (name TEXT PRIMARY KEY)")

    monkeypatch.setattr(_sqlite_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(_sqlite_schema, "_MIGRATIONS", {SCHEMA_VERSION: add_labels})
    with SqliteBackend(db) as migrated:
        assert _same(_SAMPLE_VALUES[5], migrated.get(KIND, "p2", "k05"))
    with SqliteBackend(db):
        pass
    conn = sqlite3.connect(db)
    version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert ([1], str(SCHEMA_VERSION + 1)) == (calls, version)
    assert "labels" in tables


def test_missing_migration_step_is_refused_without_change(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a migration step for the file's version, opening fails and changes nothing."""
    with SqliteBackend(db) as opened:
        fill(opened)
    before = logical_dump(db)
    monkeypatch.setattr(_sqlite_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(_sqlite_schema, "_MIGRATIONS", {})
    with pytest.raises(StorageBackendError) as info:
        SqliteBackend(db)
    expected = "StorageBackend.NoMigration"
    assert expected == info.value.code
    assert before == logical_dump(db)


def test_failing_migration_step_changes_nothing(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A migration step that fails half-way leaves the file at its old version and content."""
    with SqliteBackend(db) as opened:
        fill(opened)
    before = logical_dump(db)

    def half_done(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE partial (x)")
        conn.execute("DELETE FROM records")
        raise sqlite3.OperationalError("disk I/O error (simulated)")

    monkeypatch.setattr(_sqlite_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(_sqlite_schema, "_MIGRATIONS", {SCHEMA_VERSION: half_done})
    with pytest.raises(StorageBackendError):
        SqliteBackend(db)
    assert before == logical_dump(db)


# -- one writer at a time ---------------------------------------------------------------------
def test_begin_takes_the_write_lock_at_once(backend: SqliteBackend, db: Path) -> None:
    """A unit of work holds the write lock from begin on, so a second writer times out even
    before the first has written anything."""
    backend.begin()
    other = SqliteBackend(db, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(StorageBackendError) as info:
        other.begin()
    waited = time.monotonic() - started
    backend.rollback()
    expected = "StorageBackend.Busy"
    assert expected == info.value.code
    assert 0.15 <= waited < 120  # at least the timeout; the bound only catches a hang
    assert str(db) in info.value.message
    other.begin()  # the failed begin left it usable
    other.rollback()
    other.close()


def test_writer_in_another_process_blocks_then_commits(db: Path) -> None:
    """While another process holds a unit of work open, begin fails with StorageBackend.Busy
    after the timeout and reads see only committed state; after its commit, everything shows."""
    reader = SqliteBackend(db, timeout=0.3)
    assert reader.get(KIND, "p", "k") is None
    locked, release = SPAWN.Event(), SPAWN.Event()
    child = SPAWN.Process(target=crash.hold_write_lock, args=(str(db), locked, release))
    child.start()
    try:
        deadline = time.monotonic() + 60
        while not locked.wait(0.05):
            assert child.is_alive(), "the child died before taking the lock"
            assert time.monotonic() < deadline, "the child never took the lock"
        started = time.monotonic()
        with pytest.raises(StorageBackendError) as info:
            reader.begin()
        waited = time.monotonic() - started
        expected = "StorageBackend.Busy"
        assert expected == info.value.code
        assert 0.25 <= waited < 120  # at least the timeout; the bound only catches a hang
        assert reader.get(KIND, "p", "k") is None
        assert reader.get_blob(b"c" * 32) is None
        expected = []
        assert expected == list(reader.partitions(KIND))
    finally:
        release.set()
        child.join(60)
    expected = 0
    assert expected == child.exitcode
    expected = "from the child"
    assert expected == reader.get(KIND, "p", "k")
    expected = b"child blob"
    assert expected == reader.get_blob(b"c" * 32)
    reader.begin()
    reader.rollback()
    reader.close()


def test_concurrent_writers_lose_no_update(db: Path) -> None:
    """Read-modify-write units of work from several processes at once add up exactly."""
    with SqliteBackend(db) as setup:
        setup.begin()
        setup.put(KIND, "counter", "n", 0)
        setup.commit()
    start = SPAWN.Event()
    workers = [SPAWN.Process(target=crash.increment, args=(str(db), 40, start)) for _ in range(3)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(120)
    expected = [0, 0, 0]
    assert expected == [worker.exitcode for worker in workers]
    with SqliteBackend(db) as check:
        expected = 120
        assert expected == check.get(KIND, "counter", "n")


def use_inherited_backend(backend: SqliteBackend, results: Any) -> None:
    """In a forked child: try to use a backend the parent opened."""
    try:
        backend.get(KIND, "p", "k")
    except StorageBackendError as exc:
        results.put(exc.code)
    else:
        results.put("no error")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_backend_refuses_use_after_fork(backend: SqliteBackend) -> None:
    """A forked child cannot use the parent's connection, which would risk corrupting the file."""
    fork = multiprocessing.get_context("fork")
    results = fork.Queue()
    child = fork.Process(target=use_inherited_backend, args=(backend, results))
    child.start()
    code = results.get(timeout=60)
    child.join(60)
    expected = "StorageBackend.WrongProcess"
    assert expected == code
    assert backend.get(KIND, "p", "k") is None  # the parent's connection still works


# -- a whole Cloud in the file ----------------------------------------------------------------
def world_view(cloud: Cloud) -> dict[str, object]:
    """Everything a user can read about a small world, for before/after comparisons."""
    ecs, kms = cloud.ecs(REGION), cloud.kms(REGION)
    return {
        "now": cloud.now(),
        "next_event": cloud.next_event_time(),
        "instances": ecs.describe_instances(page_size=100).items,
        "disks": ecs.describe_disks(page_size=100).items,
        "snapshots": ecs.describe_snapshots(page_size=100).items,
        "links": ecs.describe_snapshot_links(page_size=100).items,
        "keys": list(kms.list_keys(page_size=100)),
        "events": list(cloud.events),
        "storage": cloud.storage_stats(),
    }


def test_reopened_world_is_identical_and_its_pending_events_still_fire(db: Path) -> None:
    """Closing and reopening gives back the same world, and a snapshot still progressing at
    close finishes at its due virtual time after reopen, with its bytes intact."""
    with Cloud(backend=SqliteBackend(db), seed=3) as cloud:
        ecs = cloud.ecs(REGION)
        [instance_id] = ecs.run_instances(
            zone_id=ZONE,
            instance_type="ecs.g7.large",
            system_disk=SystemDisk(),
            data_disks=[DataDisk(category="cloud_ssd", size=20)],
        )
        cloud.advance(dt.timedelta(minutes=5))
        [disk] = ecs.describe_disks(instance_id=instance_id, disk_type="data").items
        ecs.write_disk(disk.disk_id, 4096, b"kept across a restart" * 100)
        snapshot_id = ecs.create_snapshot(disk_id=disk.disk_id, snapshot_name="progressing")
        due = cloud.next_event_time()
        before = world_view(cloud)
        expected_status = "progressing"
        assert expected_status == ecs.describe_snapshot(snapshot_id).status.value

    with Cloud(backend=SqliteBackend(db), seed=3) as cloud:
        assert before == world_view(cloud)
        ecs = cloud.ecs(REGION)
        snapshot = ecs.describe_snapshot(snapshot_id)
        assert expected_status == snapshot.status.value
        assert due is not None
        cloud.run_until(due)
        expected = ("accomplished", due)
        assert expected == (ecs.describe_snapshot(snapshot_id).status.value, cloud.now())
        ecs.write_disk(disk.disk_id, 4096, b"x" * 2100)
        ecs.stop_instance(instance_id)
        cloud.advance(dt.timedelta(minutes=5))
        ecs.reset_disk(disk_id=disk.disk_id, snapshot_id=snapshot_id)
        ecs.start_instance(instance_id)
        cloud.advance(dt.timedelta(minutes=5))
        restored = ecs.read_disk(disk.disk_id, 4096, 2100)
    expected_bytes = b"kept across a restart" * 100
    assert expected_bytes == restored


def test_event_loop_sees_timers_that_another_connection_scheduled(db: Path) -> None:
    """A Cloud fires a timer that another Cloud on the same file scheduled after it had
    already built its timer queue (the backend's generation tells it to reload)."""
    driver = Cloud(backend=SqliteBackend(db), seed=5)
    ecs = driver.ecs(REGION)
    [instance_id] = ecs.run_instances(
        zone_id=ZONE,
        instance_type="ecs.g7.large",
        system_disk=SystemDisk(),
        data_disks=[DataDisk(category="cloud_ssd", size=20)],
    )
    driver.advance(dt.timedelta(minutes=5))  # builds the driver's timer queue
    [disk] = ecs.describe_disks(instance_id=instance_id, disk_type="data").items
    with Cloud(backend=SqliteBackend(db), seed=5) as other:
        snapshot_id = other.ecs(REGION).create_snapshot(disk_id=disk.disk_id)
    assert "progressing" == ecs.describe_snapshot(snapshot_id).status.value
    driver.advance(dt.timedelta(hours=1))
    assert "accomplished" == ecs.describe_snapshot(snapshot_id).status.value
    driver.close()


def progressing_snapshot(cloud: Cloud) -> tuple[str, str]:
    """A Running instance's cloud_ssd disk and a snapshot of it still progressing."""
    ecs = cloud.ecs(REGION)
    [instance_id] = ecs.run_instances(
        zone_id=ZONE,
        instance_type="ecs.g7.large",
        system_disk=SystemDisk(),
        data_disks=[DataDisk(category="cloud_ssd", size=20)],
    )
    cloud.advance(dt.timedelta(minutes=5))
    [disk] = ecs.describe_disks(instance_id=instance_id, disk_type="data").items
    return disk.disk_id, ecs.create_snapshot(disk_id=disk.disk_id)


def test_a_busy_backend_delays_a_timer_without_losing_it(db: Path) -> None:
    """When the write lock is held elsewhere, advance raises Busy, leaves the clock, and the
    pending snapshot completes on the next advance."""
    cloud = Cloud(backend=SqliteBackend(db, timeout=0), seed=6)
    ecs = cloud.ecs(REGION)
    disk_id, snapshot_id = progressing_snapshot(cloud)
    before = cloud.now()
    blocker = SqliteBackend(db)
    blocker.begin()
    with pytest.raises(StorageBackendError) as caught:
        cloud.advance(dt.timedelta(hours=1))
    assert "StorageBackend.Busy" == caught.value.code
    assert before == cloud.now()
    blocker.rollback()
    blocker.close()
    cloud.advance(dt.timedelta(hours=1))
    assert "accomplished" == ecs.describe_snapshot(snapshot_id).status.value
    ecs.create_snapshot(disk_id=disk_id)  # no longer blocked by the first one
    cloud.close()


def test_clouds_sharing_a_file_share_virtual_time(db: Path) -> None:
    """When one Cloud advances a shared world, another on the same file catches up before its
    next call, so its snapshots are stamped with the shared time."""
    first = Cloud(backend=SqliteBackend(db), seed=6)
    disk_id, _ = progressing_snapshot(first)
    second = Cloud(backend=SqliteBackend(db), seed=6)
    second.advance(dt.timedelta(days=10))
    assert second.now() == first.now()
    first.ecs(REGION).describe_disk(disk_id)
    snapshot_id = first.ecs(REGION).create_snapshot(disk_id=disk_id, retention_days=1)
    created = first.ecs(REGION).describe_snapshot(snapshot_id).creation_time
    assert second.now() == created
    first.close()
    second.close()


def test_reopening_with_a_clock_behind_the_world_is_refused(db: Path) -> None:
    """A clock earlier than the stored virtual time would run time backwards: refused."""
    with Cloud(backend=SqliteBackend(db), seed=6) as cloud:
        cloud.advance(dt.timedelta(days=1))
    with pytest.raises(InvalidParameterError):
        Cloud(backend=SqliteBackend(db), seed=6, clock=ManualClock())


def test_plaintext_of_an_encrypted_disk_never_reaches_the_file(db: Path) -> None:
    """What a guest writes to an encrypted disk appears nowhere in the database files, while
    the same kind of write to a plain disk does (so the search itself works)."""
    secret, visible = b"TOP-SECRET-PAYLOAD-0123456789" * 40, b"PLAIN-VISIBLE-PAYLOAD-987654" * 40
    with Cloud(backend=SqliteBackend(db), seed=5) as cloud:
        ecs = cloud.ecs(REGION)
        [instance_id] = ecs.run_instances(
            zone_id=ZONE,
            instance_type="ecs.g7.large",
            system_disk=SystemDisk(),
            data_disks=[
                DataDisk(category="cloud_essd", size=20, disk_name="sealed", encrypted=True),
                DataDisk(category="cloud_essd", size=20, disk_name="plain"),
            ],
        )
        cloud.advance(dt.timedelta(minutes=5))
        disks = ecs.describe_disks(instance_id=instance_id, disk_type="data").items
        by_name = {disk.disk_name: disk.disk_id for disk in disks}
        ecs.write_disk(by_name["sealed"], 0, secret)
        ecs.write_disk(by_name["plain"], 0, visible)
        ecs.create_snapshot(disk_id=by_name["sealed"], snapshot_name="sealed-snap")
        assert secret == ecs.read_disk(by_name["sealed"], 0, len(secret))
        files = [Path(f"{db}{suffix}") for suffix in ("", "-wal")]
        while_open = b"".join(f.read_bytes() for f in files if f.exists())
    after_close = db.read_bytes()
    for content in (while_open, after_close):
        assert secret[:29] not in content
        assert visible[:28] in content


# -- crash safety -----------------------------------------------------------------------------
CRASH_SEED = 20240101
CHILD = Path(__file__).with_name("sqlite_crash_child.py")


def wait_for_line(path: Path, prefix: str, timeout: float) -> None:
    """Wait until the file holds a line starting with ``prefix``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(line.startswith(prefix) for line in path.read_text().splitlines()):
            return
        time.sleep(0.005)
    raise AssertionError(f"the child never printed {prefix!r}")


def wait_for_ack(path: Path, number: int, timeout: float) -> None:
    """Wait until the child has acknowledged unit (or operation) ``number``.

    The crash tests wait for progress counted in units, not in seconds, so a slow or loaded
    machine makes them slower but never makes them kill a child before it did any work.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines()
        if any(line.startswith("ack ") and int(line.split()[1]) >= number for line in lines):
            return
        time.sleep(0.005)
    raise AssertionError(f"the child never acknowledged {number}")


@pytest.mark.slow
def test_sigkill_at_random_points_loses_no_acknowledged_unit(tmp_path: Path) -> None:
    """SIGKILL a writer at random moments again and again: after each reopen, every acknowledged
    unit of work is there, and the file holds exactly units 0..N for some N (no half unit)."""
    trials = int(os.environ.get("CLOUDBACKUP_CRASH_TRIALS", "40"))
    rng = random.Random(CRASH_SEED)
    db = tmp_path / "crash.db"
    records: dict[tuple[str, str, str], object] = {}
    blobs: dict[bytes, bytes] = {}
    head = -1
    outcomes: Counter[str] = Counter()
    promised = 0
    for trial in range(trials):
        synchronous = ("FULL", "NORMAL")[trial % 2]
        out, err = tmp_path / f"out-{trial}.txt", tmp_path / f"err-{trial}.txt"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            child = subprocess.Popen(
                [sys.executable, str(CHILD), str(db), str(CRASH_SEED), synchronous],
                stdout=stdout,
                stderr=stderr,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            )
            try:
                wait_for_line(out, "open", 120)
                more = rng.randint(1, 3)  # acknowledged units before the kill, whatever the speed
                wait_for_ack(out, head + more, 120)
                promised += more
                time.sleep(rng.uniform(0, 0.02))  # then a random point of the units that follow
            finally:
                child.send_signal(signal.SIGKILL)
                child.wait(30)
        expected = -signal.SIGKILL
        assert expected == child.returncode, err.read_text()
        lines = out.read_text().splitlines()
        acked = [int(line.split()[1]) for line in lines if line.startswith("ack ")]
        last_acked = max(acked, default=head)
        last = lines[-1].split()[0]

        with SqliteBackend(db) as reopened:
            found = reopened.get(*crash.HEAD)
            new_head = -1 if found is None else found
            assert isinstance(new_head, int)
            # Every acknowledged unit is there. The unit being written when the kill came is
            # there only if the kill came after its COMMIT began (and before its "ack" line).
            allowed = {last_acked, last_acked + 1} if last == "commit" else {last_acked}
            assert new_head in allowed, (trial, new_head, lines[-3:])
            touched = set()
            for number in range(head + 1, new_head + 1):
                _, contents = crash.unit_writes(CRASH_SEED, number)
                touched.update(hashlib.sha256(blob).digest() for blob in contents)
                touched.add(crash.unit_deletes(CRASH_SEED, number)[1])
                crash.apply_to_model(records, blobs, CRASH_SEED, number)
            stored = {
                (crash.RECORD_KIND, partition, key): value
                for partition in list(reopened.partitions(crash.RECORD_KIND))
                for key, value in reopened.scan(crash.RECORD_KIND, partition)
            }
            if found is not None:
                stored[crash.HEAD] = found
            assert sorted(records) == sorted(stored), trial
            assert all(_same(records[address], stored[address]) for address in records), trial
            expected_stats = (len(blobs), sum(map(len, blobs.values())))
            assert expected_stats == reopened.blob_stats()
            for digest in touched - {None}:
                assert blobs.get(digest) == reopened.get_blob(digest)  # type: ignore[arg-type]
        outcomes[f"last line {last!r}"] += 1
        if new_head == last_acked + 1:
            outcomes["kill after commit, before ack"] += 1
        head = new_head

    with SqliteBackend(db) as final:
        for digest, data in blobs.items():
            assert data == final.get_blob(digest)
        expected = "ok"
        assert expected == final._conn.execute("PRAGMA integrity_check").fetchone()[0]
    print(f"\nSIGKILL trials: {trials}, units committed: {head + 1}, {dict(outcomes)}")
    assert head + 1 >= promised  # every unit acknowledged before a kill survived it


# -- crash safety of a whole Cloud ----------------------------------------------------------------
def make_crash_world(db: Path) -> tuple[str, list[str]]:
    """A world with a Running instance and two ESSD data disks, one encrypted."""
    backend = SqliteBackend(db)
    with Cloud(backend=backend, seed=crash.CLOUD_SEED, block_size=crash.CLOUD_BLOCK_SIZE) as cloud:
        ecs = cloud.ecs(REGION)
        [instance_id] = ecs.run_instances(
            zone_id=ZONE,
            instance_type="ecs.g7.large",
            system_disk=SystemDisk(),
            data_disks=[
                DataDisk(category="cloud_essd", size=20, disk_name="plain"),
                DataDisk(category="cloud_essd", size=20, disk_name="sealed", encrypted=True),
            ],
        )
        cloud.advance(dt.timedelta(minutes=5))
        disks = ecs.describe_disks(instance_id=instance_id, disk_type="data").items
        by_name = {disk.disk_name: disk.disk_id for disk in disks}
    return instance_id, [by_name["plain"], by_name["sealed"]]


def crash_image(db: Path, target: Path) -> Path:
    """Copy a database and its WAL as a killed process left them (no -shm: SQLite rebuilds it)."""
    for suffix in ("", "-wal"):
        source = Path(f"{db}{suffix}")
        if source.exists():
            shutil.copyfile(source, f"{target}{suffix}")
    return target


def restored_snapshots(ecs: Any, cloud: Cloud, instance_id: str) -> dict[str, tuple[str, bytes]]:
    """Every crash- snapshot's source disk and bytes, read back after ResetDisk."""
    snapshots = crash.crash_snapshots(ecs, instance_id)
    restored: dict[str, tuple[str, bytes]] = {}
    ecs.stop_instance(instance_id)
    cloud.advance(dt.timedelta(minutes=5))
    for name, snapshot in sorted(snapshots.items()):
        ecs.reset_disk(disk_id=snapshot.source_disk_id, snapshot_id=snapshot.snapshot_id)
        ecs.start_instance(instance_id)
        cloud.advance(dt.timedelta(minutes=5))
        data = ecs.read_disk(snapshot.source_disk_id, 0, crash.SPAN)
        restored[name] = (snapshot.source_disk_id, data)
        ecs.stop_instance(instance_id)
        cloud.advance(dt.timedelta(minutes=5))
    return restored


@pytest.mark.slow
def test_sigkill_during_ecs_operations_keeps_every_acknowledged_one(tmp_path: Path) -> None:
    """SIGKILL a process doing guest writes, snapshots and snapshot deletions through a Cloud:
    after each kill the world holds exactly the acknowledged operations (plus, at most, the one
    that was running), and every snapshot restores byte-exact."""
    trials = int(os.environ.get("CLOUDBACKUP_CLOUD_CRASH_TRIALS", "25"))
    rng = random.Random(CRASH_SEED + 1)
    db = tmp_path / "cloud.db"
    instance_id, disk_ids = make_crash_world(db)
    model = crash.CloudModel(len(disk_ids))
    done = -1
    outcomes: Counter[str] = Counter()
    promised = 0
    for trial in range(trials):
        synchronous = ("FULL", "NORMAL")[trial % 2]
        out, err = tmp_path / f"cloud-out-{trial}.txt", tmp_path / f"cloud-err-{trial}.txt"
        command = [sys.executable, str(CHILD), "cloud", str(db), str(CRASH_SEED), synchronous]
        with out.open("wb") as stdout, err.open("wb") as stderr:
            child = subprocess.Popen(
                [*command, str(done + 1), instance_id, *disk_ids],
                stdout=stdout,
                stderr=stderr,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            )
            try:
                wait_for_line(out, "open", 120)
                more = rng.randint(1, 2)  # acknowledged operations before the kill
                wait_for_ack(out, done + more, 120)
                promised += more
                time.sleep(rng.uniform(0, 0.05))  # then a random point of the ones that follow
            finally:
                child.send_signal(signal.SIGKILL)
                child.wait(30)
        expected_code = -signal.SIGKILL
        assert expected_code == child.returncode, err.read_text()
        lines = out.read_text().splitlines()
        acked = [int(line.split()[1]) for line in lines if line.startswith("ack ")]
        last_acked = max(acked, default=done)
        for number in range(done + 1, last_acked + 1):
            model.apply(CRASH_SEED, number)
        candidates = {model.observable(): last_acked}
        running = lines[-1].startswith("begin ")
        if running:
            after = copy.deepcopy(model)
            after.apply(CRASH_SEED, last_acked + 1)
            candidates.setdefault(after.observable(), last_acked + 1)

        image = crash_image(db, tmp_path / f"image-{trial}.db")
        backend = SqliteBackend(image)
        with Cloud(
            backend=backend, seed=crash.CLOUD_SEED, block_size=crash.CLOUD_BLOCK_SIZE
        ) as cloud:
            ecs = cloud.ecs(REGION)
            contents = tuple(ecs.read_disk(disk_id, 0, crash.SPAN) for disk_id in disk_ids)
            names = frozenset(crash.crash_snapshots(ecs, instance_id))
            assert (contents, names) in candidates, (trial, lines[-2:])
            if candidates[(contents, names)] != last_acked:
                model = after
                outcomes["running operation had committed"] += 1
            done = candidates[(contents, names)]
            expected = {
                name: (disk_ids[disk], data) for name, (disk, data) in model.snapshots.items()
            }
            assert expected == restored_snapshots(ecs, cloud, instance_id)
        image.unlink()
        outcomes["killed while an operation ran" if running else "killed between operations"] += 1
        outcomes["snapshots restored"] += len(expected)
    print(f"\nECS SIGKILL trials: {trials}, operations done: {done + 1}, {dict(outcomes)}")
    assert done + 1 >= promised  # every operation acknowledged before a kill survived it


def test_a_version_1_world_gets_the_key_aliases_index_when_migrated(tmp_path: Path) -> None:
    """Migration fills the key -> aliases index, so a key's aliases are found in an old world."""
    db = tmp_path / "world.db"
    shutil.copyfile(WORLD_V1, db)
    with Cloud(backend=SqliteBackend(db), seed=11, block_size=16384) as cloud:
        kms = cloud.kms(REGION)
        (alias,) = kms.list_aliases()
        found = [a.alias_name for a in kms.list_aliases_by_key_id(alias.key_id)]
        assert ["alias/acs/ecs"] == found
        check_invariants(cloud)


def test_the_key_aliases_migration_skips_values_it_cannot_read(tmp_path: Path) -> None:
    """A damaged alias value is left for the decoder to report; the migration still runs."""
    db = tmp_path / "world.db"
    shutil.copyfile(WORLD_V1, db)
    conn = sqlite3.connect(db)
    conn.execute(
        "INSERT INTO records (kind, partition, key, value) "
        "VALUES ('kms.alias', 'cn-hangzhou', 'alias/bad', CAST('[1]' AS BLOB))"
    )
    conn.commit()
    conn.close()
    SqliteBackend(db).close()
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT partition, key FROM records WHERE kind = 'kms.key_aliases'"
    ).fetchall()
    version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    conn.close()
    assert ([("cn-hangzhou|key-bp1uorh1mm2x13rhcm8yd", "alias/acs/ecs")], str(SCHEMA_VERSION)) == (
        rows,
        version,
    )


TAG_INDEX_KINDS = ("ecs.instance_tags", "ecs.disk_tags", "ecs.snapshot_tags", "ecs.image_tags")


def tag_index_rows(path: Path) -> list[tuple[str, str, str]]:
    """Every row of the ECS tag indexes, sorted."""
    conn = sqlite3.connect(path)
    try:
        marks = ", ".join("?" * len(TAG_INDEX_KINDS))
        rows = conn.execute(
            f"SELECT kind, partition, key FROM records WHERE kind IN ({marks}) "
            "ORDER BY kind, partition, key",
            TAG_INDEX_KINDS,
        ).fetchall()
    finally:
        conn.close()
    return [tuple(row) for row in rows]


def test_a_version_5_world_gets_its_tag_indexes_when_migrated(tmp_path: Path) -> None:
    """A world saved before the tag indexes (schema 5, no index rows) is migrated to hold the
    very rows the code writes, so tag filters find its tagged snapshots and the invariants hold."""
    db = tmp_path / "world.db"
    with Cloud(backend=SqliteBackend(db), seed=3) as cloud:
        ecs = cloud.ecs(REGION)
        (instance_id,) = ecs.run_instances(
            zone_id=ZONE, instance_type="ecs.g7.large", tags=[("env", "prod")]
        )
        cloud.advance(dt.timedelta(minutes=5))
        (system,) = ecs.describe_disks(instance_id=instance_id).items
        tagged = ecs.create_snapshot(disk_id=system.disk_id, tags=[("env", "prod"), ("b", "2")])
        ecs.create_snapshot(disk_id=system.disk_id, tags=[("env", "dev")])
        ecs.create_image(snapshot_id=tagged, tags=[("c", "3")])
    written = tag_index_rows(db)
    conn = sqlite3.connect(db)
    conn.execute(
        f"DELETE FROM records WHERE kind IN ({', '.join('?' * len(TAG_INDEX_KINDS))})",
        TAG_INDEX_KINDS,
    )
    conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    assert [] == tag_index_rows(db)
    with Cloud(backend=SqliteBackend(db), seed=3) as cloud:
        ecs = cloud.ecs(REGION)
        found = [s.snapshot_id for s in ecs.describe_snapshots(tags=[("env", "prod")]).items]
        assert [tagged] == found
        check_invariants(cloud)
    assert {kind for kind, _, _ in written} == set(TAG_INDEX_KINDS)
    assert written == tag_index_rows(db)


def test_the_tag_index_migration_skips_values_it_cannot_read(tmp_path: Path) -> None:
    """A damaged or tagless resource value gets no index row; the migration still runs."""
    db = tmp_path / "world.db"
    shutil.copyfile(WORLD_V1, db)
    conn = sqlite3.connect(db)
    for key, value in [("s-bad", "[1]"), ("s-odd", '["a","x",{"region_id":1,"tags":["t"]}]')]:
        conn.execute(
            "INSERT INTO records (kind, partition, key, value) "
            "VALUES ('ecs.snapshot', 'cn-hangzhou', ?, CAST(? AS BLOB))",
            (key, value),
        )
    conn.commit()
    conn.close()
    SqliteBackend(db).close()
    conn = sqlite3.connect(db)
    version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    conn.close()
    assert ([], str(SCHEMA_VERSION)) == (tag_index_rows(db), version)


def snapshot_order_rows(path: Path) -> list[tuple[str, str, bytes]]:
    """Every row of the snapshots-by-creation-time index and of its counts, sorted."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT partition, key, value FROM records "
            "WHERE kind = 'ecs.snapshots_by_time' "
            "OR (kind = 'index.counts' AND key = 'ecs.snapshots_by_time') "
            "ORDER BY kind, partition, key"
        ).fetchall()
    finally:
        conn.close()
    return [tuple(row) for row in rows]


def chain_index_rows(path: Path) -> list[tuple[str, str, str]]:
    """Every row of the indexes of chains by instance and by source disk, sorted."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT kind, partition, key FROM records "
            "WHERE kind IN ('ecs.instance_links', 'ecs.disk_links') ORDER BY kind, partition, key"
        ).fetchall()
    finally:
        conn.close()
    return [tuple(row) for row in rows]


def test_a_version_6_world_gets_its_snapshot_order_when_migrated(tmp_path: Path) -> None:
    """A world saved before the snapshots-by-time index (schema 6, no index rows) is migrated to
    hold the very rows the code writes, so a region-wide describe still lists every snapshot."""
    db = tmp_path / "world.db"
    with Cloud(backend=SqliteBackend(db), seed=3) as cloud:
        ecs = cloud.ecs(REGION)
        (instance_id,) = ecs.run_instances(zone_id=ZONE, instance_type="ecs.g7.large")
        cloud.advance(dt.timedelta(minutes=5))
        (system,) = ecs.describe_disks(instance_id=instance_id).items
        taken = []
        for _ in range(3):
            taken.append(ecs.create_snapshot(disk_id=system.disk_id))
            cloud.advance(dt.timedelta(seconds=1))
        before = ecs.describe_snapshots(page_size=100)
    written = snapshot_order_rows(db)
    chains = chain_index_rows(db)
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM records WHERE kind = 'ecs.snapshots_by_time'")
    conn.execute("DELETE FROM records WHERE kind IN ('ecs.instance_links', 'ecs.disk_links')")
    conn.execute("DELETE FROM records WHERE kind = 'index.counts'")
    conn.execute("UPDATE meta SET value = '6' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    assert ([], []) == (snapshot_order_rows(db), chain_index_rows(db))
    with Cloud(backend=SqliteBackend(db), seed=3) as cloud:
        after = cloud.ecs(REGION).describe_snapshots(page_size=100)
        links = cloud.ecs(REGION).describe_snapshot_links(instance_id=instance_id)
        check_invariants(cloud)
    # Three entries; their count is the facet index's from schema 9 on, not a row of its own.
    assert (3, list(reversed(taken))) == (len(written), [s.snapshot_id for s in after.items])
    assert (before, written) == (after, snapshot_order_rows(db))
    chain_of_instance = [
        ("ecs.instance_links", instance_id, link.snapshot_link_id) for link in links
    ]
    assert (2, 1, chains) == (len(chains), len(links), chain_index_rows(db))
    assert chain_of_instance == [row for row in chains if row[0] == "ecs.instance_links"]


def test_the_snapshot_order_migration_skips_values_it_cannot_read(tmp_path: Path) -> None:
    """A damaged snapshot value, or one without a readable creation time, gets no index row."""
    db = tmp_path / "world.db"
    shutil.copyfile(WORLD_V1, db)
    conn = sqlite3.connect(db)
    values = [
        ("s-bad", "[1]"),
        ("s-odd", '["a","x",{"creation_time":["dt",5,null,0]}]'),
        ("s-late", '["a","x",{"creation_time":["dt","not a time",null,0]}]'),
        ("s-tag", '["a","x",{"creation_time":["da","2026-01-01"]}]'),
    ]
    for key, value in values:
        conn.execute(
            "INSERT INTO records (kind, partition, key, value) "
            "VALUES ('ecs.snapshot', 'cn-hangzhou', ?, CAST(? AS BLOB))",
            (key, value),
        )
    conn.commit()
    conn.close()
    SqliteBackend(db).close()
    assert [] == [row for row in snapshot_order_rows(db) if row[1].endswith(tuple(dict(values)))]
