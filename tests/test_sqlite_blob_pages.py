"""SQLite blob storage since schema version 11: a body of a page or more is cut into a head
row (``blob_heads``) that fills whole database pages and a tail packed beside its digest."""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudbackup._backends._sqlite import SCHEMA_VERSION, SqliteBackend
from cloudbackup._backends._sqlite_schema import head_size, split_body
from cloudbackup.errors import StorageBackendError

#: Body lengths around the places where a head gains an overflow page (4 KiB pages).
EDGES = [0, 1, 4056, 4057, 4058, 4059, 4096, 8148, 8149, 8150, 8151, 8192, 12288, 65536]


def digest_of(data: bytes) -> bytes:
    """The SHA-256 digest blobs are stored under."""
    return hashlib.sha256(data).digest()


def head_rows(path: Path) -> int:
    """How many rows ``blob_heads`` holds, read through a separate connection."""
    conn = sqlite3.connect(path)
    try:
        count: int = conn.execute("SELECT count(*) FROM blob_heads").fetchone()[0]
    finally:
        conn.close()
    return count


def page_count(path: Path) -> int:
    """The database's size in pages, the WAL folded in."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages: int = conn.execute("PRAGMA page_count").fetchone()[0]
    finally:
        conn.close()
    return pages


@pytest.mark.parametrize("page_size", [1024, 4096, 65536])
@given(length=st.integers(0, 300_000))
@settings(max_examples=200)
def test_a_head_is_never_longer_than_its_body(page_size: int, length: int) -> None:
    """The head is 0 below one page's inline payload and otherwise at most the body, leaving
    a tail shorter than one overflow page."""
    head = head_size(length, page_size)
    assert (True, True) == (0 <= head <= length, length - head < page_size - 4)


@pytest.mark.parametrize("page_size", [1024, 4096, 65536])
@pytest.mark.parametrize("pages", [0, 1, 2, 3])
@pytest.mark.parametrize("extra", [-1, 0, 1, 2, 100])
def test_a_head_row_fills_whole_pages_exactly(
    tmp_path: Path, page_size: int, pages: int, extra: int
) -> None:
    """A head row, whatever the body's length, takes one table page, filled but for the
    cell's few header bytes, and overflow pages filled to the last byte."""
    length = page_size - 39 + pages * (page_size - 4) + extra
    head, _ = split_body(os.urandom(length), page_size)
    if not head:  # too short to fill a page: the body stays whole in its blobs row
        assert (0, -1) == (pages, extra)
        return
    conn = sqlite3.connect(tmp_path / "pages.db")
    conn.execute(f"PRAGMA page_size = {page_size}")
    conn.execute("CREATE TABLE blob_heads (id INTEGER PRIMARY KEY, head BLOB NOT NULL)")
    conn.execute("INSERT INTO blob_heads (head) VALUES (?)", (head,))
    conn.commit()
    try:
        rows = conn.execute(
            "SELECT pagetype, count(*), sum(unused) FROM dbstat WHERE name = 'blob_heads' "
            "GROUP BY pagetype ORDER BY pagetype"
        ).fetchall()
    except sqlite3.OperationalError:
        pytest.skip("this SQLite has no dbstat table")
    finally:
        conn.close()
    leaf = [row for row in rows if row[0] == "leaf"]
    spill = [row[1:] for row in rows if row[0] == "overflow"] or [(0, 0)]
    # A byte short of a boundary (a longer serial type too), the head keeps one page fewer.
    overflow = spill[0][0] if spill[0][0] in (pages - 1, pages) else None
    assert (1, True, (overflow, 0)) == (leaf[0][1], leaf[0][2] <= 32, spill[0])


@given(
    lengths=st.lists(st.sampled_from(EDGES) | st.integers(0, 20_000), min_size=1, max_size=8),
    margin=st.sampled_from([0, 4096, 8192]),
)
@settings(max_examples=40)
def test_blobs_of_every_length_come_back_byte_exact(
    tmp_path_factory: pytest.TempPathFactory, lengths: list[int], margin: int
) -> None:
    """Blobs of lengths around every cut (with zero margins or without) read back exactly,
    after reopening too, and blob_stats counts each once however often it was put."""
    db = tmp_path_factory.mktemp("blobs") / "world.db"
    blobs = {}
    for length in lengths:
        data = bytes(margin) + os.urandom(length) + bytes(margin)
        blobs[digest_of(data)] = data
    with SqliteBackend(db) as backend:
        backend.begin()
        for digest, data in blobs.items():
            backend.put_blob(digest, data)
            backend.put_blob(digest, data)
        backend.commit()
        assert blobs == {digest: backend.get_blob(digest) for digest in blobs}
    with SqliteBackend(db) as backend:
        assert blobs == {digest: backend.get_blob(digest) for digest in blobs}
        expected = (len(blobs), sum(map(len, blobs.values())))
        assert expected == backend.blob_stats()


def test_deleting_a_blob_deletes_its_head(tmp_path: Path) -> None:
    """A deleted blob leaves no head row behind, and putting it again stores one head."""
    db = tmp_path / "world.db"
    data = os.urandom(4096)
    with SqliteBackend(db) as backend:
        backend.begin()
        backend.put_blob(digest_of(data), data)
        backend.commit()
        found = [head_rows(db)]
        backend.begin()
        backend.delete_blob(digest_of(data))
        backend.commit()
        found.append(head_rows(db))
        backend.begin()
        backend.put_blob(digest_of(data), data)
        backend.put_blob(digest_of(data), data)
        backend.commit()
        found.append(head_rows(db))
        assert data == backend.get_blob(digest_of(data))
    assert [1, 0, 1] == found


def test_a_rolled_back_put_leaves_no_head(tmp_path: Path) -> None:
    """A blob put in a savepoint or unit that is rolled back leaves neither its row nor its
    head, and the file reads as before."""
    db = tmp_path / "world.db"
    data = os.urandom(9000)
    with SqliteBackend(db) as backend:
        backend.begin()
        backend.savepoint()
        backend.put_blob(digest_of(data), data)
        backend.rollback_to()
        in_unit = (backend.get_blob(digest_of(data)), backend.blob_stats())
        backend.put_blob(digest_of(data), data)
        backend.rollback()
        found = (in_unit, backend.get_blob(digest_of(data)), backend.blob_stats(), head_rows(db))
    assert ((None, (0, 0)), None, (0, 0), 0) == found


def test_four_kib_blobs_cost_little_more_than_a_page_each(tmp_path: Path) -> None:
    """200 random 4 KiB blobs grow the file by at most 1.05 pages each (they took 1.12, a
    row and an overflow page each, before version 11)."""
    db = tmp_path / "world.db"
    with SqliteBackend(db) as backend:
        backend.begin()
        backend.commit()
    before = page_count(db)
    rng = random.Random(9)
    with SqliteBackend(db) as backend:
        backend.begin()
        for _ in range(200):
            data = rng.randbytes(4096)
            backend.put_blob(digest_of(data), data)
        backend.commit()
    grown = page_count(db) - before
    assert (True, grown) == (grown <= 210, grown)


@pytest.mark.parametrize(
    ("statement", "damage"),
    [
        ("UPDATE blobs SET head_id = head_id + 1000", "head missing"),
        ("UPDATE blob_heads SET head = 'text'", "head not bytes"),
        ("UPDATE blob_heads SET head = zeroblob(9000)", "body longer than the blob"),
    ],
)
def test_a_damaged_head_is_reported_corrupt(tmp_path: Path, statement: str, damage: str) -> None:
    """A blob whose head row is missing, not bytes or too long for the blob raises
    StorageBackend.Corrupt naming the digest; it never returns a tail alone as the blob."""
    db = tmp_path / "world.db"
    data = os.urandom(5000)
    with SqliteBackend(db) as backend:
        backend.begin()
        backend.put_blob(digest_of(data), data)
        backend.commit()
        conn = sqlite3.connect(db)
        conn.execute(statement)
        conn.commit()
        conn.close()
        with pytest.raises(StorageBackendError) as info:
            backend.get_blob(digest_of(data))
    assert ("StorageBackend.Corrupt", (digest_of(data).hex(),)) == (info.value.code, info.value.ids)


def make_version_10(path: Path, blobs: dict[bytes, bytes]) -> None:
    """A file at schema version 10 holding ``blobs`` whole, as version 10 stored them."""
    with SqliteBackend(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER blob_heads_deleted")
    conn.execute("DROP TABLE blob_heads")
    conn.execute("ALTER TABLE blobs DROP COLUMN head_id")
    conn.execute("ALTER TABLE blobs RENAME COLUMN tail TO body")
    for digest, data in blobs.items():
        conn.execute(
            "INSERT INTO blobs (digest, size, body_offset, body) VALUES (?, ?, 0, ?)",
            (digest, len(data), data),
        )
    conn.execute("UPDATE meta SET value = '10' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()


def test_a_version_10_file_is_migrated_and_keeps_its_blobs_whole(tmp_path: Path) -> None:
    """A version-10 file opens at version 11: its blobs read back whole and can be deleted,
    new blobs are cut, and version 10's blob statement fails instead of reading a tail."""
    db = tmp_path / "world.db"
    old = {digest_of(data): data for data in (os.urandom(4096), os.urandom(100))}
    make_version_10(db, old)
    new = os.urandom(4096)
    with SqliteBackend(db) as backend:
        read = {digest: backend.get_blob(digest) for digest in old}
        backend.begin()
        backend.put_blob(digest_of(new), new)
        backend.delete_blob(next(iter(old)))
        backend.commit()
        found = (read, backend.get_blob(digest_of(new)), backend.blob_stats(), head_rows(db))
    assert (old, new, (2, 4196), 1) == found
    conn = sqlite3.connect(db)
    version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    with pytest.raises(sqlite3.OperationalError, match="body"):
        conn.execute("SELECT body FROM blobs")
    conn.close()
    assert (str(SCHEMA_VERSION), "11") == (version, str(SCHEMA_VERSION))


@pytest.mark.parametrize(
    ("cut", "previous"), [(4057, 0), (8149, 4057), (12240, 8149), (16332, 12240)]
)
def test_a_body_one_cut_long_goes_whole_to_its_head(cut: int, previous: int) -> None:
    """In 4 KiB pages a row of 4,061 + n * 4,092 bytes fills 1 + n pages, so a body of that
    length less its record header (4 bytes, 5 from 12,240 on) goes whole to the head, a byte
    more leaves a one-byte tail, and a byte less is cut at the previous length."""
    assert (cut, cut, previous) == (
        head_size(cut, 4096),
        head_size(cut + 1, 4096),
        head_size(cut - 1, 4096),
    )
