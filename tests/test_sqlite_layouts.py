"""The SQLite backend's ``layouts`` table (schema version 10): attrs values are stored by
position, and every layout written is described in the file, so a value written before its
class's fields changed still decodes by name."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudbackup._backends._codec import DEFAULT_CODEC, layout_tag
from cloudbackup._backends._sqlite import SCHEMA_VERSION, SqliteBackend
from cloudbackup._domain.ecs import DiskAttachment
from cloudbackup.errors import StorageBackendError

KIND = "test.record"
WHEN = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
VALUE = DiskAttachment(instance_id="i-1", device="/dev/xvdb", attached_time=WHEN)
NAMES = ("instance_id", "device", "attached_time")


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


def layouts(path: Path) -> dict[str, tuple[str, list[str]]]:
    """The file's layouts table, read through a separate connection."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT tag, type_name, fields FROM layouts").fetchall()
    finally:
        conn.close()
    return {tag: (type_name, json.loads(fields)) for tag, type_name, fields in rows}


def raw_put(path: Path, key: str, tree: object) -> None:
    """Store a record's JSON tree directly, as another version of the library would."""
    conn = sqlite3.connect(path)
    try:
        conn.execute(
            "INSERT OR REPLACE INTO records (kind, partition, key, value) VALUES (?, '', ?, ?)",
            (KIND, key, json.dumps(tree).encode()),
        )
        conn.commit()
    finally:
        conn.close()


def add_layout(path: Path, tag: str, type_name: str, fields: str) -> None:
    """Describe a layout in the file's table directly."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("INSERT OR REPLACE INTO layouts VALUES (?, ?, ?)", (tag, type_name, fields))
        conn.commit()
    finally:
        conn.close()


def test_a_committed_value_has_its_layout_described_in_the_file(
    backend: SqliteBackend, db: Path
) -> None:
    """After a commit the file names the value's layout with its type name and field names."""
    backend.begin()
    backend.put(KIND, "", "a", VALUE)
    backend.commit()
    tag = layout_tag("ecs.DiskAttachment", NAMES)
    assert ("ecs.DiskAttachment", list(NAMES)) == layouts(db)[tag]


def test_a_rolled_back_unit_leaves_no_layout_and_the_next_commit_writes_it(
    backend: SqliteBackend, db: Path
) -> None:
    """A unit that described a layout and rolled back leaves none; the next unit writes it."""
    backend.begin()
    backend.put(KIND, "", "a", VALUE)
    backend.rollback()
    before = layouts(db)
    backend.begin()
    backend.put(KIND, "", "b", VALUE)
    backend.commit()
    tag = layout_tag("ecs.DiskAttachment", NAMES)
    assert ({}, True) == (before, tag in layouts(db))


def test_a_layout_written_inside_a_rolled_back_savepoint_is_written_again(
    backend: SqliteBackend, db: Path
) -> None:
    """A savepoint rolled back after describing a layout does not leave the unit without it."""
    backend.begin()
    backend.savepoint()
    backend.put(KIND, "", "a", VALUE)
    backend.rollback_to()
    backend.put(KIND, "", "b", VALUE)
    backend.commit()
    assert layout_tag("ecs.DiskAttachment", NAMES) in layouts(db)


def test_a_value_of_an_older_layout_decodes_by_name(backend: SqliteBackend, db: Path) -> None:
    """A value written when the class's fields were in another order decodes to the same value
    through the layout the file describes."""
    backend.begin()
    backend.put(KIND, "", "seed", VALUE)
    backend.commit()
    old = ("attached_time", "device", "instance_id")
    tag = layout_tag("ecs.DiskAttachment", old)
    add_layout(db, tag, "ecs.DiskAttachment", json.dumps(old))
    when = json.loads(DEFAULT_CODEC.encode(WHEN))
    raw_put(db, "old", ["p", "ecs.DiskAttachment", tag, when, "/dev/xvdb", "i-1"])
    with SqliteBackend(db) as reader:
        assert VALUE == reader.get(KIND, "", "old")


def test_a_value_of_an_undescribed_layout_is_refused(backend: SqliteBackend, db: Path) -> None:
    """A positional value whose layout the file does not describe raises UnknownLayout."""
    backend.begin()
    backend.put(KIND, "", "seed", VALUE)
    backend.commit()
    tag = layout_tag("ecs.DiskAttachment", ("device", "instance_id", "attached_time", "gone"))
    raw_put(db, "old", ["p", "ecs.DiskAttachment", tag, "/dev/xvdb", "i-1", ["u", 0], 1])
    with SqliteBackend(db) as reader, pytest.raises(StorageBackendError) as info:
        reader.get(KIND, "", "old")
    expected = ("StorageBackend.UnknownLayout", ("ecs.DiskAttachment", tag))
    assert expected == (info.value.code, info.value.ids)


@pytest.mark.parametrize(
    "fields",
    ['["device", "instance_id"]', "not json", '{"a": 1}', '["device", 7, "x"]'],
)
def test_a_damaged_layout_description_is_corrupt(db: Path, fields: str) -> None:
    """A layouts row that does not match its tag makes the value StorageBackend.Corrupt."""
    SqliteBackend(db).close()
    old = ("device", "instance_id", "attached_time")
    tag = layout_tag("ecs.DiskAttachment", old)
    add_layout(db, tag, "ecs.DiskAttachment", fields)
    raw_put(db, "old", ["p", "ecs.DiskAttachment", tag, "/dev/xvdb", "i-1", ["u", 0]])
    with SqliteBackend(db) as reader, pytest.raises(StorageBackendError) as info:
        reader.get(KIND, "", "old")
    assert "StorageBackend.Corrupt" == info.value.code


def test_keyed_values_of_older_files_still_decode(db: Path) -> None:
    """A value in the keyed form files before version 10 hold decodes as it always did."""
    SqliteBackend(db).close()
    keyed = {
        "instance_id": "i-1",
        "device": "/dev/xvdb",
        "attached_time": ["dt", WHEN.isoformat(), None, 0],
    }
    raw_put(db, "old", ["a", "ecs.DiskAttachment", keyed])
    with SqliteBackend(db) as reader:
        assert VALUE == reader.get(KIND, "", "old")


def test_a_version_9_file_gets_the_layouts_table(db: Path) -> None:
    """A file at schema version 9 (no layouts table) is migrated to 10 and takes new values."""
    SqliteBackend(db).close()
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE layouts")
    conn.execute("UPDATE meta SET value = '9' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with SqliteBackend(db) as backend:
        backend.begin()
        backend.put(KIND, "", "a", VALUE)
        backend.commit()
        got = backend.get(KIND, "", "a")
    conn = sqlite3.connect(db)
    version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    conn.close()
    assert (str(SCHEMA_VERSION), VALUE) == (version, got)
    assert layout_tag("ecs.DiskAttachment", NAMES) in layouts(db)


def test_a_record_is_shorter_by_its_field_names() -> None:
    """The positional form of a small record is at most 70 % of the keyed form's bytes."""
    keyed = {
        "instance_id": "i-bp1i9g5vsavpu4jpenbe",
        "device": "/dev/xvdb",
        "attached_time": ["dt", WHEN.isoformat(), None, 0],
    }
    value = DiskAttachment("i-bp1i9g5vsavpu4jpenbe", "/dev/xvdb", WHEN)
    positional = len(DEFAULT_CODEC.encode(value))
    before = len(json.dumps(["a", "ecs.DiskAttachment", keyed], separators=(",", ":")))
    assert positional <= 0.7 * before
