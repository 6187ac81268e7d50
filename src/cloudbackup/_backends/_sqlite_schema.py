"""The SQLite backend's schema, and the migrations that bring older files up to it.

Version history (each step is one function, run inside the opening transaction):

1. ``meta``, ``records``, ``blobs`` (whole blobs) and ``blob_stats`` kept by triggers.
2. Blobs are stored without their zero margins (``body``, ``body_offset``).
3. Triggers log every record written to ``record_changes``, so other processes' caches survive.
4. Stored classes are named by stable type name (``ecs.Snapshot``), not module path.
5. The index of each KMS key's aliases (``kms.key_aliases``) is filled from the stored aliases.
6. The ECS tag indexes (``ecs.instance_tags``, ``ecs.disk_tags``, ``ecs.snapshot_tags``,
   ``ecs.image_tags``) are filled from the stored resources' tags.
7. Each region's snapshots by creation time (``ecs.snapshots_by_time``) are filled from the
   stored snapshots, so a region-wide ``DescribeSnapshots`` page reads the page.
8. Disk and snapshot block maps become page-granular extent maps (``ecs.disk_extents``,
   ``ecs.snapshot_extents``, ``ecs.disk_dirty_pages``, ``ecs.snapshot_zero_blocks``); each old
   block names a slice of its block-sized blob, which stays as it is.
9. Each region's snapshots, disks, instances, snapshot chains and snapshot-consistent groups
   are indexed by their facets (``ecs.snapshots_by_facets``, ``ecs.disks_by_facets``,
   ``ecs.instances_by_facets``, ``ecs.snapshot_links_by_facets``,
   ``ecs.snapshot_groups_by_facets``) with a count per partition, so a describe page filtered
   by status (and the like) reads the page. The snapshots by time lose their count (version 7's
   ``index.counts`` row): the facet counts add up to it.
10. Record values store attrs instances by position (``["p", type, layout, value, ...]``,
    see :mod:`._codec`) and UTC datetimes as microseconds; the ``layouts`` table keeps, for
    each layout written, its type name and field names, so a record written before a class's
    fields change still decodes by name. Records already stored keep their keyed form.
11. A blob body of a page or more is cut in two so that it fills whole database pages: its
    head (:func:`split_body`) is a row of ``blob_heads(id INTEGER PRIMARY KEY, head BLOB)``
    named by ``blobs.head_id``, and the rest stays in the ``blobs`` row (column ``body``
    renamed ``tail``). Blobs already stored stay whole (``head_id`` NULL). A trigger deletes
    a blob's head with its row.

A blob is stored without the runs of zero bytes at its start and end, in whole
:data:`ZERO_RUN` steps: ``body`` holds bytes ``body_offset`` to ``body_offset + len(body)`` of
the ``size``-byte blob, and every other byte is zero. A guest write of 16 KiB into an empty
512 KiB block stores about 16 KiB, not 512, so the file grows with what guests wrote rather
than with the block size. Ciphertext has no such runs and is stored whole.

Since version 11 a body of at least :func:`head_size` bytes is stored in two parts, so that a
4 KiB page of guest data costs one database page and some 90 bytes, not two pages' worth: a
row of at most the largest payload a table page holds inline (4,061 bytes in 4 KiB pages)
fills one page alone, and one longer by whole overflow pages (4,092 bytes each) fills them all.
The head is cut to such a length; the rest (the tail, under 4 KiB) is packed with the blob's
digest and size in ``blobs``, many rows to a page. Before, a 4,096-byte body and its row
overflowed into a second page holding 3,651 bytes, and left some 490 bytes in the ``blobs``
page: 4,600 bytes of file per 4,096 of body instead of about 4,230.
"""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
from collections.abc import Callable
from typing import Any, Final

from ..errors import StorageBackendError
from ._codec import DEFAULT_CODEC, decode, encode, rename_legacy_types

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "ZERO_RUN",
    "create",
    "migrate",
    "head_size",
    "set_schema_version",
    "split_body",
    "with_margins",
    "without_margins",
]

#: ``PRAGMA application_id`` of every cloudbackup database: the bytes ``b"CBak"``.
APPLICATION_ID: Final = 0x4342616B

#: Zero runs at the start and end of a blob are left out of the file in steps of this many bytes.
ZERO_RUN: Final = 4096
_ZEROS = bytes(ZERO_RUN)

#: The schema version this module writes. Older files are migrated on open; newer are refused.
SCHEMA_VERSION = 11

_SCHEMA_V1 = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    """CREATE TABLE records (
        kind TEXT NOT NULL,
        partition TEXT NOT NULL,
        key TEXT NOT NULL,
        value BLOB NOT NULL,
        PRIMARY KEY (kind, partition, key)
    ) WITHOUT ROWID""",
    # A rowid table: block contents are large rows, which WITHOUT ROWID tables store badly.
    """CREATE TABLE blobs (
        digest BLOB PRIMARY KEY,
        size INTEGER NOT NULL,
        data BLOB NOT NULL
    )""",
    """CREATE TABLE blob_stats (
        id INTEGER PRIMARY KEY CHECK (id = 0),
        count INTEGER NOT NULL,
        bytes INTEGER NOT NULL
    )""",
    "INSERT INTO blob_stats (id, count, bytes) VALUES (0, 0, 0)",
    """CREATE TRIGGER blobs_counted_in AFTER INSERT ON blobs BEGIN
        UPDATE blob_stats SET count = count + 1, bytes = bytes + NEW.size WHERE id = 0;
    END""",
    """CREATE TRIGGER blobs_counted_out AFTER DELETE ON blobs BEGIN
        UPDATE blob_stats SET count = count - 1, bytes = bytes - OLD.size WHERE id = 0;
    END""",
    "INSERT INTO meta (key, value) VALUES ('format', 'cloudbackup')",
)


def create(conn: sqlite3.Connection) -> int:
    """Create the version-1 schema in an empty database; returns that version (1).

    A new file is created at version 1 and brought forward by the same steps as an old one,
    so a migrated file and a new one have the same schema.
    """
    for statement in _SCHEMA_V1:
        conn.execute(statement)
    set_schema_version(conn, 1)
    return 1


def _v1_to_v2(conn: sqlite3.Connection) -> None:
    """Version 2 stores blobs without their zero margins; a v1 row is a whole blob at offset 0.

    The column is renamed as well as joined by an offset, so that a process still running
    version 1 on the file fails on its next blob statement instead of reading a body as if it
    were the whole blob.
    """
    conn.execute("ALTER TABLE blobs RENAME COLUMN data TO body")
    conn.execute("ALTER TABLE blobs ADD COLUMN body_offset INTEGER NOT NULL DEFAULT 0")


def _v2_to_v3(conn: sqlite3.Connection) -> None:
    """Version 3 logs which records each commit changed, so other processes' caches survive.

    Triggers keep the log, not this module's code, so a process still running version 2 on
    the file logs its writes too. (``INSERT OR REPLACE`` fires only the insert trigger, as
    recursive triggers are off; one row names the record either way.)
    """
    conn.execute(
        """CREATE TABLE record_changes (
            seq INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            partition TEXT NOT NULL,
            key TEXT NOT NULL
        )"""
    )
    log = "INSERT INTO record_changes (kind, partition, key) VALUES"
    conn.execute(
        f"""CREATE TRIGGER records_logged_in AFTER INSERT ON records BEGIN
            {log} (NEW.kind, NEW.partition, NEW.key);
        END"""
    )
    conn.execute(
        f"""CREATE TRIGGER records_logged_out AFTER DELETE ON records BEGIN
            {log} (OLD.kind, OLD.partition, OLD.key);
        END"""
    )
    conn.execute(
        f"""CREATE TRIGGER records_logged_changed AFTER UPDATE ON records BEGIN
            {log} (OLD.kind, OLD.partition, OLD.key);
            {log} (NEW.kind, NEW.partition, NEW.key);
        END"""
    )


def _v3_to_v4(conn: sqlite3.Connection) -> None:
    """Version 4 names stored classes by stable type name (``ecs.Snapshot``), not module path.

    Every record is rewritten at the JSON level through
    :data:`cloudbackup._typenames.LEGACY_NAMES`, without building the values, so a record
    whose class has since changed its fields migrates all the same; a path the table does not
    know is left as it is (decoding it then says which class is unknown).
    """
    rows = conn.execute(
        "SELECT kind, partition, key, value FROM records WHERE instr(value, ?) > 0",
        (b'"cloudbackup',),
    ).fetchall()
    for kind, partition, key, value in rows:
        renamed = rename_legacy_types(value)
        if renamed != value:
            conn.execute(
                "UPDATE records SET value = ? WHERE kind = ? AND partition = ? AND key = ?",
                (renamed, kind, partition, key),
            )


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def _stored_fields(value: bytes) -> dict[str, Any]:
    """The fields of a stored attrs value as JSON trees, by name: keyed (``["a", type,
    {...}]``) or positional (``["p", type, layout, ...]``, with a layout the codec knows).

    Raises ValueError, TypeError, KeyError or IndexError for anything else; the migrations
    skip such values (decoding them later says what is wrong).
    """
    tree = json.loads(value)
    if tree[0] == "p":
        names = DEFAULT_CODEC.field_names(tree[1], tree[2])
        if names is None or len(names) != len(tree) - 3:
            raise KeyError(tree[2])
        return dict(zip(names, tree[3:], strict=True))
    fields = tree[2]
    if type(fields) is not dict:
        raise TypeError(type(fields).__name__)
    return fields


def _v4_to_v5(conn: sqlite3.Connection) -> None:
    """Version 5 keeps, beside each KMS alias, an index of the aliases of each key.

    The index (raw kind ``kms.key_aliases``: partition ``region|key id``, key the alias name,
    value ``true``) is built from the stored aliases at the JSON level, so that deleting a key
    or listing its aliases reads only that key's aliases, not the region's. A value that is
    not an alias of the expected shape is skipped (decoding it later says what is wrong).
    """
    rows = conn.execute("SELECT value FROM records WHERE kind = 'kms.alias'").fetchall()
    for (value,) in rows:
        try:
            fields = _stored_fields(value)
            entry = (f"{fields['region_id']}|{fields['key_id']}", fields["alias_name"])
        except (ValueError, TypeError, KeyError, IndexError):
            continue
        if not all(isinstance(part, str) for part in entry):
            continue
        conn.execute(
            "INSERT OR REPLACE INTO records (kind, partition, key, value) "
            "VALUES ('kms.key_aliases', ?, ?, ?)",
            (*entry, b"true"),
        )


#: The record kinds whose tags version 6 indexes, each with the raw kind of its tag index.
_TAG_INDEXES = (
    ("ecs.instance", "ecs.instance_tags"),
    ("ecs.disk", "ecs.disk_tags"),
    ("ecs.snapshot", "ecs.snapshot_tags"),
    ("ecs.image", "ecs.image_tags"),
)


def _tag_entries(value: bytes) -> list[str]:
    """The tag-index partitions of one stored resource (``[region, key, value]`` as ASCII
    JSON, as ``cloudbackup._services.ecs._core.tag_partition`` writes them); none for a value
    that is not a resource of the expected shape (decoding it later says what is wrong)."""
    try:
        fields = _stored_fields(value)
        region_id, tags = fields["region_id"], fields.get("tags", ["t"])
        if not isinstance(region_id, str) or not isinstance(tags, list) or tags[:1] != ["t"]:
            return []
        pairs = [(tag[1], tag[2]) for tag in tags[1:] if isinstance(tag, list) and len(tag) == 3]
    except (ValueError, TypeError, KeyError, IndexError):
        return []
    return [
        json.dumps([region_id, key, tag_value])
        for key, tag_value in pairs
        if isinstance(key, str) and isinstance(tag_value, str)
    ]


def _v5_to_v6(conn: sqlite3.Connection) -> None:
    """Version 6 keeps, beside ECS instances, disks, snapshots and images, an index of the
    resources that carry each tag, so a ``tags=`` filter reads only the tagged resources.

    Each index (raw kind ``ecs.<resource>_tags``: partition ``[region, tag key, tag value]``
    as JSON, key the resource id, value ``true``) is built from the stored resources at the
    JSON level. Snapshots could carry tags before this version; without the index a tag
    filter would silently miss them.
    """
    for kind, index_kind in _TAG_INDEXES:
        rows = conn.execute("SELECT key, value FROM records WHERE kind = ?", (kind,)).fetchall()
        for key, value in rows:
            for partition in _tag_entries(value):
                conn.execute(
                    "INSERT OR REPLACE INTO records (kind, partition, key, value) "
                    "VALUES (?, ?, ?, ?)",
                    (index_kind, partition, key, b"true"),
                )


def _snapshot_order_entry(snapshot_id: str, value: bytes) -> str | None:
    """The ``ecs.snapshots_by_time`` key of one stored snapshot (its creation time in ISO
    format to the microsecond, NUL, its id, as ``cloudbackup._repository.OrderedIndex``
    writes it); ``None`` for a value that is not a snapshot of the expected shape (decoding it
    later says what is wrong)."""
    try:
        stored: Any = _stored_fields(value)["creation_time"]
        if stored[0] == "u" and type(stored[1]) is int:
            when = _EPOCH + _dt.timedelta(microseconds=stored[1])
        else:
            tag, text, _, _ = stored
            if tag != "dt" or not isinstance(text, str):
                return None
            when = _dt.datetime.fromisoformat(text)
    except (ValueError, TypeError, KeyError, IndexError):
        return None
    return when.isoformat(timespec="microseconds") + "\x00" + snapshot_id


def _v6_to_v7(conn: sqlite3.Connection) -> None:
    """Version 7 keeps each region's snapshots in creation-time order, so a region-wide
    ``DescribeSnapshots`` page reads page size + 1 index entries instead of every snapshot.

    The index (raw kind ``ecs.snapshots_by_time``: partition the region, key the creation time
    to the microsecond, NUL and the id, value the id) is built from the stored snapshots at the
    JSON level; without it, older worlds would describe no snapshot region-wide. So are the
    indexes of chains by instance and by source disk, read by ``DescribeSnapshotLinks``.
    """
    insert = "INSERT OR REPLACE INTO records (kind, partition, key, value) VALUES (?, ?, ?, ?)"
    rows = conn.execute(
        "SELECT partition, key, value FROM records WHERE kind = 'ecs.snapshot'"
    ).fetchall()
    for region_id, snapshot_id, value in rows:
        entry = _snapshot_order_entry(snapshot_id, value)
        if entry is not None:
            encoded = json.dumps(snapshot_id, ensure_ascii=False).encode()
            conn.execute(insert, ("ecs.snapshots_by_time", region_id, entry, encoded))
    # And how many entries each region's index holds (raw kind ``index.counts``).
    counts = conn.execute(
        "SELECT partition, count(*) FROM records WHERE kind = 'ecs.snapshots_by_time' "
        "GROUP BY partition"
    ).fetchall()
    for region_id, count in counts:
        conn.execute(insert, ("index.counts", region_id, "ecs.snapshots_by_time", b"%d" % count))
    # The chains of each instance and source disk (partition the instance or disk id, key the
    # chain id, value ``true``), so a describe of them reads their chains, not the region's.
    links = conn.execute("SELECT key, value FROM records WHERE kind = 'ecs.snapshot_link'")
    for link_id, value in links.fetchall():
        try:
            fields = _stored_fields(value)
            owners = [("ecs.instance_links", fields.get("instance_id"))]
            owners.append(("ecs.disk_links", fields["source_disk_id"]))
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            continue
        for index_kind, owner in owners:
            if isinstance(owner, str):
                conn.execute(insert, (index_kind, owner, link_id, b"true"))


_PAGE_SIZE = 4096


def _old_digest(value: bytes) -> bytes | None:
    """The digest an old block-map record holds, or None if it is not one (damaged)."""
    try:
        digest = decode(value)
    except StorageBackendError:
        return None
    return digest if type(digest) is bytes and len(digest) in (0, 32) else None


def _v7_to_v8(conn: sqlite3.Connection) -> None:
    """Version 8 keeps disks and snapshots as extent maps of 4 KiB pages instead of block maps.

    Keys and blobs cannot be re-cut here (the data keys are not available: an encrypted
    block is sealed whole), so each old block ``b`` becomes one extent of ``block_size / 4096``
    pages at page ``b * block_size / 4096`` that names its old blob at page offset 0: the value
    ``(pages, digest, 0)``. The blob and its reference count stay as they are (one reference
    per extent, as there was one per block entry). A snapshot's all-zero block becomes a zero
    extent and a one-block run of ``ecs.snapshot_zero_blocks``; a dirty block a dirty run. A
    record that does not hold a digest is copied unchanged, so reading it still reports the
    damage. Rows are rewritten in key order per map, so the cost is the old maps' entries.
    """
    row = conn.execute(
        "SELECT value FROM records WHERE kind = 'meta' AND partition = '' AND key = 'world'"
    ).fetchone()
    if row is None:
        return  # an empty file: nothing to migrate
    try:
        settings = dict(decode(row[0]))  # type: ignore[call-overload]
        pages = int(settings["block_size"]) // _PAGE_SIZE
    except (StorageBackendError, TypeError, ValueError, KeyError) as exc:
        raise StorageBackendError(
            "The world's settings record cannot be read, so its block maps cannot be migrated.",
            code="StorageBackend.Corrupt",
            recommend="The stored world is damaged; restore it from a backup.",
        ) from exc
    put = "INSERT OR REPLACE INTO records (kind, partition, key, value) VALUES (?, ?, ?, ?)"
    for old_kind, new_kind in (
        ("ecs.disk_blocks", "ecs.disk_extents"),
        ("ecs.snapshot_blocks", "ecs.snapshot_extents"),
        ("ecs.disk_dirty", "ecs.disk_dirty_pages"),
    ):
        rows = conn.execute(
            "SELECT partition, key, value FROM records WHERE kind = ?", (old_kind,)
        ).fetchall()
        for partition, key, value in rows:
            try:
                block = int(key, 16)
            except ValueError:
                conn.execute(put, (new_kind, partition, key, value))
                continue
            new_key = f"{block * pages:012x}"
            if old_kind == "ecs.disk_dirty":
                conn.execute(put, (new_kind, partition, new_key, encode(pages)))
                continue
            digest = _old_digest(value)
            if digest is None:
                conn.execute(put, (new_kind, partition, new_key, value))
            elif digest == b"":
                conn.execute(put, (new_kind, partition, new_key, encode(("z", pages))))
                conn.execute(
                    put, ("ecs.snapshot_zero_blocks", partition, f"{block:012x}", encode(1))
                )
            else:
                conn.execute(put, (new_kind, partition, new_key, encode((pages, digest, 0))))
        conn.execute("DELETE FROM records WHERE kind = ?", (old_kind,))


#: The facet indexes version 9 fills: the record kind, the index's raw kind, the field holding
#: the sort key (a creation time; None: id order) and each facet's field with the value an old
#: record that lacks the field decodes to (None: the field is required), in the order of the
#: facets of ``cloudbackup._services.ecs._core``'s ``…_BY_FACETS`` indexes.
_FACET_INDEXES: tuple[tuple[str, str, str | None, tuple[tuple[str, object], ...]], ...] = (
    (
        "ecs.snapshot",
        "ecs.snapshots_by_facets",
        "creation_time",
        (
            ("status", None),
            ("snapshot_type", "user"),
            ("source_disk_type", None),
            ("encrypted", False),
        ),
    ),
    (
        "ecs.disk",
        "ecs.disks_by_facets",
        None,
        (
            ("status", None),
            ("category", None),
            ("zone_id", None),
            ("type", None),
            ("encrypted", False),
        ),
    ),
    ("ecs.instance", "ecs.instances_by_facets", None, (("status", None), ("zone_id", None))),
    ("ecs.snapshot_link", "ecs.snapshot_links_by_facets", None, (("snapshot_ids", ["t"]),)),
    ("ecs.snapshot_group", "ecs.snapshot_groups_by_facets", None, (("status", None),)),
)


def _facet_value(value: object) -> str | None:
    """A facet's text from its stored JSON: an enum's value, ``true``/``false`` for a bool or
    for whether a tuple holds anything (a chain's snapshots), or a string; None for anything
    else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and value[:1] == ["t"]:
        return "true" if len(value) > 1 else "false"
    if isinstance(value, str):
        return value
    if (
        isinstance(value, list)
        and len(value) == 3
        and value[0] == "e"
        and isinstance(value[2], str)
    ):
        return value[2]
    return None


def _facets_of(value: bytes, facets: tuple[tuple[str, object], ...]) -> list[str] | None:
    """The facet values of one stored record, or None for a value that is not a record of the
    expected shape (decoding it later says what is wrong)."""
    try:
        fields = _stored_fields(value)
        found = [_facet_value(fields.get(name, default)) for name, default in facets]
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None
    if not all(isinstance(part, str) for part in found):
        return None
    return [str(part) for part in found]


def _v8_to_v9(conn: sqlite3.Connection) -> None:
    """Version 9 keeps each region's snapshots, disks, instances, chains and groups in ordered
    indexes partitioned by the values describes filter on (status, type, category, zone…),
    with a count per partition, so a filtered page reads the page, not the region.

    Each entry (raw kind ``ecs.<resource>s_by_facets``: partition the region and the facet
    values as a JSON list, key the creation time to the microsecond, NUL and the id for
    snapshots, the id for the others, value the id) is built from the stored records
    at the JSON level, and each partition's count (raw kind ``index.counts``: partition the
    region, key the index's kind, NUL and the facet values as a JSON list). A record that is
    not of the expected shape gets no entry (decoding it later says what is wrong). The count
    of the snapshots by time is deleted: the facet counts add up to it, so a snapshot write
    updates one count, not two.
    """
    insert = "INSERT OR REPLACE INTO records (kind, partition, key, value) VALUES (?, ?, ?, ?)"
    for record_kind, index_kind, order_field, facets in _FACET_INDEXES:
        counts: dict[tuple[str, str], int] = {}
        rows = conn.execute(
            "SELECT partition, key, value FROM records WHERE kind = ?", (record_kind,)
        ).fetchall()
        for region_id, record_id, value in rows:
            values = _facets_of(value, facets)
            entry = record_id if order_field is None else _snapshot_order_entry(record_id, value)
            if values is None or entry is None:
                continue
            partition = json.dumps([region_id, *values])
            encoded = json.dumps(record_id, ensure_ascii=False).encode()
            conn.execute(insert, (index_kind, partition, entry, encoded))
            count_key = (region_id, index_kind + "\x00" + json.dumps(values))
            counts[count_key] = counts.get(count_key, 0) + 1
        for (region_id, key), count in counts.items():
            conn.execute(insert, ("index.counts", region_id, key, b"%d" % count))
    # The snapshots by time are no longer counted: the facet counts add up to their size.
    conn.execute(
        "DELETE FROM records WHERE kind = 'index.counts' AND key = 'ecs.snapshots_by_time'"
    )


def _v9_to_v10(conn: sqlite3.Connection) -> None:
    """Version 10 stores attrs values by position and keeps each layout's field names.

    The table is ``layouts(tag TEXT PRIMARY KEY, type_name TEXT, fields TEXT)`` (``fields``
    a JSON list of names), filled by the backend as it writes values of each layout. Records
    written before keep their keyed form, which decodes as it always did; the table is created
    here so that a process still running version 9 refuses the file instead of writing
    positional values it could not read.
    """
    conn.execute(
        """CREATE TABLE IF NOT EXISTS layouts (
            tag TEXT PRIMARY KEY,
            type_name TEXT NOT NULL,
            fields TEXT NOT NULL
        ) WITHOUT ROWID"""
    )


def _v10_to_v11(conn: sqlite3.Connection) -> None:
    """Version 11 stores a blob body of a page or more as a head row in ``blob_heads`` and a
    tail in ``blobs`` (see :func:`split_body`); blobs already stored stay whole.

    ``body`` is renamed ``tail`` so that a process still running version 10 on the file fails
    on its next blob statement instead of reading a tail as the whole body. The trigger, not
    this module's code, deletes a blob's head, so any deletion of a blob row takes its head.
    Each change is made only if missing, so the step also completes a file that has some.
    """
    columns = {row[1] for row in conn.execute("PRAGMA table_info(blobs)")}
    if "body" in columns:
        conn.execute("ALTER TABLE blobs RENAME COLUMN body TO tail")
    if "head_id" not in columns:
        conn.execute("ALTER TABLE blobs ADD COLUMN head_id INTEGER")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS blob_heads (id INTEGER PRIMARY KEY, head BLOB NOT NULL)"
    )
    conn.execute(
        """CREATE TRIGGER IF NOT EXISTS blob_heads_deleted AFTER DELETE ON blobs
        WHEN OLD.head_id IS NOT NULL BEGIN
            DELETE FROM blob_heads WHERE id = OLD.head_id;
        END"""
    )


#: Migration steps: ``_MIGRATIONS[v]`` turns a version ``v`` database into version ``v + 1``.
#: Each step runs inside the opening transaction, so a crash mid-migration changes nothing.
#: A new file is created at version 1 and brought forward by the same steps, so a migrated file
#: and a new one have the same schema.
_MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
    4: _v4_to_v5,
    5: _v5_to_v6,
    6: _v6_to_v7,
    7: _v7_to_v8,
    8: _v8_to_v9,
    9: _v9_to_v10,
    10: _v10_to_v11,
}


def migrate(conn: sqlite3.Connection, found: int) -> None:
    """Bring a database at schema version ``found`` up to :data:`SCHEMA_VERSION`.

    The caller holds the write lock inside a transaction, so a failure leaves the file as it
    was. Each step in ``_MIGRATIONS`` moves one version forward.

    Args:
        conn: An open connection inside a ``BEGIN IMMEDIATE`` transaction.
        found: The schema version the file holds.

    Raises:
        StorageBackendError: No migration step exists for some version on the way.
    """
    for version in range(found, SCHEMA_VERSION):
        step = _MIGRATIONS.get(version)
        if step is None:
            raise StorageBackendError(
                f"No migration from schema version {version} to {version + 1}.",
                code="StorageBackend.NoMigration",
                recommend="Open the file with an older cloudbackup and export its data.",
            )
        step(conn)
        set_schema_version(conn, version + 1)


def set_schema_version(conn: sqlite3.Connection, version: int) -> None:
    """Record ``version`` as the file's schema version."""
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(version),)
    )


def without_margins(data: bytes) -> tuple[int, bytes]:
    """``(offset, body)``: ``data`` without its leading and trailing zeros, in ZERO_RUN steps.

    Compares whole ZERO_RUN slices (a memcmp each), so a 512 KiB block costs microseconds.
    """
    size = len(data)
    start = 0
    while start + ZERO_RUN <= size and data[start : start + ZERO_RUN] == _ZEROS:
        start += ZERO_RUN
    end = start + (size - start) // ZERO_RUN * ZERO_RUN
    if end == size or data[end:] == _ZEROS[: size - end]:
        while end > start and data[end - ZERO_RUN : end] == _ZEROS:
            end -= ZERO_RUN
    else:
        end = size
    if start == 0 and end == size:
        return 0, data
    return start, data[start:end]


def with_margins(size: int, offset: int, body: bytes) -> bytes:
    """The ``size``-byte blob whose bytes ``offset`` onwards start with ``body``, zeros else."""
    if offset == 0 and len(body) == size:
        return bytes(body)
    return b"".join((bytes(offset), body, bytes(size - offset - len(body))))


def head_size(length: int, page_size: int) -> int:
    """How many leading bytes of a ``length``-byte blob body go to its ``blob_heads`` row in a
    database of ``page_size``-byte pages: 0 (the body stays whole in ``blobs``) when it is
    shorter than one page's inline payload, else the longest head whose row fills one table
    page and whole overflow pages exactly.

    A table leaf holds a payload of up to ``page_size - 35`` bytes inline; a longer one keeps
    that much there only if the rest fills its ``page_size - 4``-byte overflow pages exactly,
    else it keeps some 490 bytes there and leaves its last overflow page part empty. The
    payload is the head and its record header: a size byte, the ``id`` column's (a rowid
    alias, stored as NULL: one byte) and the head's serial type.
    """
    inline, overflow = page_size - 35, page_size - 4
    pages = max(length - inline, 0) // overflow + 2
    while pages > 0:
        pages -= 1
        payload = inline + pages * overflow
        head = payload - 2 - _varint_size(2 * payload + 12)
        head = payload - 2 - _varint_size(2 * head + 12)
        if head <= length:
            return head
    return 0


def _varint_size(value: int) -> int:
    """Bytes of SQLite's varint encoding of a non-negative ``value`` (7 bits a byte)."""
    return max(1, min(9, (value.bit_length() + 6) // 7))


def split_body(body: bytes, page_size: int) -> tuple[bytes, bytes]:
    """``(head, tail)`` of a stored blob body (see :func:`head_size`); the head is empty when
    the body stays whole in its ``blobs`` row."""
    cut = head_size(len(body), page_size)
    return body[:cut], body[cut:]
