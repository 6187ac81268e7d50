"""A durable backend on the standard library's :mod:`sqlite3`, shareable between processes.

Layout of the database file (schema version :data:`SCHEMA_VERSION`)::

    meta(key TEXT PRIMARY KEY, value TEXT)                        schema_version, format
    records(kind, partition, key, value BLOB,
            PRIMARY KEY (kind, partition, key)) WITHOUT ROWID     values encoded by _codec,
                                                                  classes by type name (v4)
    blobs(digest BLOB PRIMARY KEY, size INTEGER, tail BLOB,       block contents, once each,
          body_offset INTEGER, head_id INTEGER)                   without their zero margins
    blob_heads(id INTEGER PRIMARY KEY, head BLOB)                 a body's first pages (v11)
    blob_stats(id = 0, count, bytes)                              kept by triggers on blobs
    record_changes(seq INTEGER PRIMARY KEY, kind, partition, key) records written, in order,
                                                                  logged by triggers on records
    layouts(tag TEXT PRIMARY KEY, type_name, fields) WITHOUT ROWID  the field names of each
                                                                  attrs layout written (v10)

The backend is this module's :class:`SqliteBackend` (units of work, savepoints, reads and
writes, cross-process cache upkeep) on :class:`._sqlite_base.SqliteBase` (checked statements
and blobs), and helpers beside it: :mod:`._sqlite_schema` (the schema, its migrations from
every older version, and how a blob is stored without its zero margins), :mod:`._sqlite_files`
(whether a file is ours, and what SQLite's failures mean), :mod:`._sqlite_cache` (the
decoded-record cache and how it follows the change log) and :mod:`._sqlite_buffer` (the
write-behind buffer: a unit's record writes reach SQLite in one ``executemany`` per statement
at commit, when a savepoint opens, or before a read of their partition).

Triggers on ``records`` log the address of every record inserted, replaced or deleted to
``record_changes``, inside the writing transaction, whatever version of this module wrote it;
every 64th commit of a backend prunes the log to its last :data:`CHANGES_KEPT` rows. When
another connection has committed, a backend forgets only the cached records those rows name, so
a process reading a world that another process writes keeps the rest of its cache.

``PRAGMA application_id`` is :data:`APPLICATION_ID`, so a file written by anything else is
refused before anything is changed in it; a file without it counts as new only when it holds no
schema object at all. A damaged file of ours raises ``StorageBackend.Corrupt``.

Savepoints (:meth:`SqliteBackend.savepoint`) are SQL ``SAVEPOINT``/``RELEASE``/``ROLLBACK TO``
inside the unit's transaction. :meth:`SqliteBackend.read_snapshot` holds one read transaction
so that several reads see one commit.

A unit of work is one SQLite transaction started with ``BEGIN IMMEDIATE``: it takes the write
lock up front, so at most one process writes at a time and a unit never fails half-way for lack
of the lock. Reads outside a unit of work run in autocommit mode and see committed data only;
calls that issue several statements wrap them in one read transaction so they see one
snapshot. The journal is WAL, so readers never wait for the writer.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Final

from ..errors import StorageBackendError
from . import _sqlite_schema as _schema
from ._codec import DEFAULT_CODEC
from ._protocol import check_storable, storable
from ._sqlite_base import SqliteBase
from ._sqlite_buffer import WriteBuffer
from ._sqlite_cache import ABSENT, RecordCache
from ._sqlite_files import check_path, identify, range_query, too_new
from ._sqlite_schema import APPLICATION_ID, SCHEMA_VERSION, ZERO_RUN

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "ZERO_RUN", "SqliteBackend"]

#: How many rows of ``record_changes`` are kept. A backend that falls further behind than this
#: (idle while others commit) drops its whole cache instead. Each row costs some 60 bytes of
#: file: 2,000 (about 200 units of work of the fleet year, a few seconds of a busy writer) keep
#: the log to some 0.15 MB; 10,000 kept 0.7 MB, 1 % of the 100-instance fleet year's file.
CHANGES_KEPT: Final = 2_000


_SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")
_MAX_TIMEOUT = 3600.0
# SQLite refuses more than 32,766 host parameters per statement (999 before 3.32).
_IN_CHUNK = 500
# The WAL is copied into the file once it holds this many pages (SQLite's default is 1,000):
# a unit rewrites the same hot pages (indexes, counters, the change log), so a longer WAL
# copies each of them once for more commits, and syncs the file less often. In the 100-instance
# fleet year (synchronous=NORMAL, 40 days) the commits' share went from 8.7 s at 4,000 pages to
# 7.6 s at 16,000 and 5.9 s at 40,000; the -wal file beside the database grows to this many
# pages (64 MiB) in a long run and is folded into the file when the last connection closes.
_CHECKPOINT_PAGES = 16000
# record_changes is pruned every this many commits of a backend, not at each one.
_PRUNE_EVERY = 64
_PUT = "INSERT OR REPLACE INTO records (kind, partition, key, value) VALUES (?, ?, ?, ?)"
_DELETE = "DELETE FROM records WHERE kind = ? AND partition = ? AND key = ?"


class SqliteBackend(SqliteBase):
    """Keeps every record and blob in one SQLite database file.

    Several processes (or several backends in one process) may open the same file: they share
    one world. One of them writes at a time; the others wait for the write lock up to
    ``timeout`` seconds when they begin a unit of work, then fail with
    :class:`~cloudbackup.errors.StorageBackendError` code ``StorageBackend.Busy``.

    Decoded records are cached per backend. The cache is write-through inside a unit of work,
    forgets what a rolled-back unit wrote, and, whenever SQLite's ``PRAGMA data_version`` shows
    that another connection committed, forgets the records that the file's change log says were
    written since, so it never serves a value that is not the committed (or, inside a unit,
    the unit's own) state.

    Args:
        path: The database file. Created (with its directory's permissions) when missing;
            ``":memory:"`` gives a private, non-durable database.
        timeout: Seconds :meth:`begin` waits for another writer to finish, from 0 to 3600.
        synchronous: SQLite's ``PRAGMA synchronous`` level: ``"FULL"`` (the default) makes
            every commit survive power loss; ``"NORMAL"`` is faster and survives a crash of the
            process or a kill, but the last commits before a power cut or OS crash may be lost
            (never half of one); ``"OFF"`` and ``"EXTRA"`` as in SQLite's documentation.
        cache_size: How many decoded records to keep; 0 disables the cache.

    Raises:
        InvalidParameterError: ``path`` is not a ``str`` or path-like of ``str``, or holds a
            NUL character or a lone surrogate (code ``InvalidParameter.Path``).
        StorageBackendError: The file is not a cloudbackup database, was written by a newer
            schema, is damaged (``StorageBackend.Corrupt``), cannot be opened, or another
            process held it locked for ``timeout`` seconds while it was being created or
            migrated.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 5.0,
        synchronous: str = "FULL",
        cache_size: int = 10_000,
    ) -> None:
        level = synchronous.upper() if isinstance(synchronous, str) else synchronous
        if level not in _SYNCHRONOUS_LEVELS:
            raise StorageBackendError(
                f"synchronous={synchronous!r} is not a SQLite synchronous level.",
                code="StorageBackend.InvalidSetting",
                recommend=f"Use one of {', '.join(_SYNCHRONOUS_LEVELS)}.",
            )
        if not isinstance(timeout, (int, float)) or not 0 <= timeout <= _MAX_TIMEOUT:
            raise StorageBackendError(
                f"timeout={timeout!r} must be a number of seconds from 0 to {_MAX_TIMEOUT:g}.",
                code="StorageBackend.InvalidSetting",
                recommend="Pass a bounded busy timeout, e.g. timeout=5.0.",
            )
        if not isinstance(cache_size, int) or cache_size < 0:
            raise StorageBackendError(
                f"cache_size={cache_size!r} must be a non-negative int.",
                code="StorageBackend.InvalidSetting",
                recommend="Pass cache_size=0 to disable the cache.",
            )
        self._path = check_path(path)
        self._timeout = float(timeout)
        self._synchronous = level
        self._cache_size = cache_size
        self._cache = RecordCache(cache_size)
        # The open unit's record writes not yet sent to SQLite (see _sqlite_buffer).
        self._buffer = WriteBuffer()
        # Set when buffered writes failed to reach SQLite: the unit can no longer commit.
        self._lost_writes = False
        # The layout tags the file's layouts table holds (None: not read yet, or a rollback
        # may have undone some), and the codec's layout_generation they were checked against.
        self._layouts_in_file: set[str] | None = None
        self._layout_generation = -1
        # Commits since record_changes was last pruned.
        self._unpruned = _PRUNE_EVERY
        # Addresses whose cache entries a rollback must forget (written or read in the unit).
        self._touched: set[tuple[str, str, str]] = set()
        # Whether the open unit of work wrote records (so its commit prunes record_changes).
        self._wrote = False
        self._data_version: int | None = None
        # The last record_changes row this backend's cache accounts for.
        self._change_seq: int | None = None
        self._in_unit = False
        # Whether a read transaction (read_snapshot or a multi-statement read) is open.
        self._reading = False
        # How many savepoints are open inside the unit of work (named sp1, sp2, ...).
        self._savepoints = 0
        self._closed = False
        self._pid = os.getpid()
        self._conn = self._connect()

    # -- opening -------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self._path, timeout=self._timeout, isolation_level=None, cached_statements=256
            )
        except sqlite3.Error as exc:
            raise StorageBackendError(
                f"Cannot open SQLite database {self._path}: {exc}.",
                code="StorageBackend.CannotOpen",
                recommend="Check that the directory exists and is writable.",
            ) from exc
        try:
            self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        # Look before touching: nothing below writes to a file that is not ours.
        version = identify(conn, self._path, self._timeout)
        if version is not None and version > _schema.SCHEMA_VERSION:
            raise too_new(self._path, version)
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() not in ("wal", "memory"):
                raise StorageBackendError(
                    f"SQLite database {self._path} cannot use WAL (journal mode is {mode}).",
                    code="StorageBackend.CannotOpen",
                    recommend="Put the database on a local file system that supports WAL.",
                )
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            conn.execute(f"PRAGMA wal_autocheckpoint = {_CHECKPOINT_PAGES}")
            self._page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        except sqlite3.Error as exc:
            raise self._translate(exc, "setting up") from exc
        if version == _schema.SCHEMA_VERSION:
            return
        # Create or migrate under the write lock, looking again: another process may have
        # done it while this one waited.
        self._execute(conn, "BEGIN IMMEDIATE", "creating the schema in")
        try:
            version = identify(conn, self._path, self._timeout)
            if version is None:
                version = _schema.create(conn)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            if version > _schema.SCHEMA_VERSION:
                raise too_new(self._path, version)
            _schema.migrate(conn, version)
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self._translate(exc, "creating the schema in") from exc
            raise

    # -- units of work -------------------------------------------------------------------
    def begin(self) -> None:
        """Open a unit of work: take the database's write lock (``BEGIN IMMEDIATE``).

        Raises:
            StorageBackendError: A unit of work is already open, or another connection held
                the write lock for longer than ``timeout`` (code ``StorageBackend.Busy``).
        """
        self._check_open()
        if self._in_unit or self._reading:
            raise StorageBackendError(
                "A unit of work or read snapshot is already open on this backend.",
                code="StorageBackend.UnitOpen",
                recommend="Commit or roll back the open unit of work first.",
            )
        self._execute(self._conn, "BEGIN IMMEDIATE", "starting a unit of work on")
        self._in_unit = True
        self._savepoints = 0
        self._touched, self._wrote = set(), False
        try:
            # Nobody else can commit while this unit holds the write lock, so one look at
            # data_version here keeps the cache right for the whole unit.
            self._refresh_cache()
        except BaseException:
            self._abort()
            raise

    def commit(self) -> None:
        """Commit the open unit of work: every write becomes visible and durable at once.

        Raises:
            StorageBackendError: No unit of work is open, or SQLite failed to commit; the unit
                of work is then rolled back and closed.
        """
        self._check_in_unit()
        if self._lost_writes:
            self._abort()
            raise StorageBackendError(
                f"Writes of this unit of work could not be written to {self._path}, so it was "
                "rolled back instead of committed.",
                code="StorageBackend.WriteFailed",
                recommend="Check the database file and its disk, then retry the call.",
            )
        try:
            self._send()
            seq = self._prune_changes() if self._wrote else None
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._abort()
            raise self._translate(exc, "committing to") from exc
        except BaseException:
            self._abort()
            raise
        if seq is not None and self._change_seq is not None:
            # begin() reconciled the cache with every earlier change (had it failed, the unit
            # would not have opened), and nobody else committed since.
            self._change_seq = seq
        self._in_unit = False
        self._savepoints = 0
        self._touched, self._wrote = set(), False

    def savepoint(self) -> None:
        """Open a savepoint inside the unit of work (``SAVEPOINT``); savepoints nest.

        Raises:
            StorageBackendError: No unit of work is open.
        """
        self._check_in_unit()
        # What is buffered belongs to the enclosing level: it must reach SQLite before the
        # savepoint, so that rollback_to undoes exactly what the buffer holds after it.
        self._flush()
        self._execute(self._conn, f"SAVEPOINT sp{self._savepoints + 1}", "writing to")
        self._savepoints += 1

    def release(self) -> None:
        """Close the innermost savepoint and keep its writes in the unit (``RELEASE``).

        Raises:
            StorageBackendError: No savepoint is open.
        """
        self._check_savepoint()
        self._execute(self._conn, f"RELEASE sp{self._savepoints}", "writing to")
        self._savepoints -= 1

    def rollback_to(self) -> None:
        """Undo the writes made since the innermost savepoint, and close it (``ROLLBACK TO``).

        Cached records the unit of work wrote or read are forgotten, so later reads come from
        the database as it stood when the savepoint was opened.

        Raises:
            StorageBackendError: No savepoint is open.
        """
        self._check_savepoint()
        name = f"sp{self._savepoints}"
        # Forget first: even if SQLite fails below, the cache must not outlive the writes.
        for address in self._touched:
            self._cache.forget(address)
        # Everything buffered was written since the savepoint opened (savepoint() flushed).
        self._buffer.clear()
        self._forget_layouts()
        self._execute(self._conn, f"ROLLBACK TO {name}", "rolling back on")
        self._execute(self._conn, f"RELEASE {name}", "rolling back on")
        self._savepoints -= 1

    def _check_savepoint(self) -> None:
        self._check_in_unit()
        if not self._savepoints:
            raise StorageBackendError(
                "No savepoint is open in this unit of work.",
                code="StorageBackend.NoSavepoint",
                recommend="Call savepoint() before release() or rollback_to().",
            )

    def _prune_changes(self) -> int | None:
        """Cut record_changes to its newest CHANGES_KEPT rows every _PRUNE_EVERY commits (so
        that most commits do not touch the log's oldest page); return the newest seq."""
        seq: int | None = self._conn.execute("SELECT max(seq) FROM record_changes").fetchone()[0]
        self._unpruned += 1
        if seq is not None and self._unpruned >= _PRUNE_EVERY:
            self._unpruned = 0
            # Keep at least the newest row: the next seq is the largest plus one, and readers
            # rely on seq never going back.
            keep = max(1, CHANGES_KEPT)
            self._conn.execute("DELETE FROM record_changes WHERE seq <= ?", (seq - keep,))
        return seq

    def rollback(self) -> None:
        """Roll back the open unit of work; the database is as it was before :meth:`begin`.

        Raises:
            StorageBackendError: No unit of work is open.
        """
        self._check_in_unit()
        self._abort(raise_errors=True)

    def _abort(self, *, raise_errors: bool = False) -> None:
        for address in self._touched:
            self._cache.forget(address)
        self._buffer.clear()
        self._forget_layouts()
        self._lost_writes = False
        self._touched, self._wrote = set(), False
        self._in_unit = False
        self._savepoints = 0
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            # SQLite rolls back by itself when the connection closes or the process dies.
            self._cache.clear()
            if raise_errors:
                raise self._translate(exc, "rolling back on") from exc

    # -- records -------------------------------------------------------------------------
    def get(self, kind: str, partition: str, key: str) -> object | None:
        """The record at ``(kind, partition, key)``, or ``None``.

        Raises:
            StorageBackendError: The backend is closed or the stored value cannot be decoded.
        """
        self._check_open()
        if not storable(kind, partition, key):
            return None  # an address that cannot be stored holds nothing
        self._sync_cache()
        address = (kind, partition, key)
        cached = self._cache.get(address)
        if cached is not None:
            return None if cached is ABSENT else cached
        pending = self._buffer.pending(kind, partition, key)
        if pending is not None:
            value = self._decode(pending) if pending else None  # b'': a buffered delete
        else:
            row = self._query_one(
                "SELECT value FROM records WHERE kind = ? AND partition = ? AND key = ?",
                address,
            )
            value = None if row is None else self._decode(row[0])
        self._cache_read(address, ABSENT if value is None else value)
        return value

    def get_many(self, kind: str, partition: str, keys: Iterable[str]) -> dict[str, object]:
        """The records present among ``keys``, in the order of ``keys``, read in one snapshot.

        Raises:
            StorageBackendError: The backend is closed or a stored value cannot be decoded.
        """
        self._check_open()
        if not storable(kind, partition):
            return {}
        wanted = [key for key in dict.fromkeys(keys) if storable(key)]
        found: dict[str, object] = {}
        missing: list[str] = []
        raw: dict[str, bytes] = {}
        with self._snapshot():
            for key in wanted:
                cached = self._cache.get((kind, partition, key))
                if cached is not None:
                    if cached is not ABSENT:
                        found[key] = cached
                    continue
                pending = self._buffer.pending(kind, partition, key)
                if pending is None:
                    missing.append(key)
                elif pending:  # b'' is a buffered delete
                    found[key] = self._decode(pending)
            for start in range(0, len(missing), _IN_CHUNK):
                chunk = missing[start : start + _IN_CHUNK]
                marks = ",".join("?" * len(chunk))
                raw.update(
                    self._query_all(
                        "SELECT key, value FROM records WHERE kind = ? AND partition = ? "
                        f"AND key IN ({marks})",
                        (kind, partition, *chunk),
                    )
                )
        for key in missing:
            data = raw.get(key)
            value = ABSENT if data is None else self._decode(data)
            self._cache_read((kind, partition, key), value)
            if value is not ABSENT:
                found[key] = value
        return {key: found[key] for key in wanted if key in found}

    def put(self, kind: str, partition: str, key: str, value: object) -> None:
        """Create or replace a record inside the open unit of work.

        Raises:
            StorageBackendError: No unit of work is open, ``value`` is ``None``, or ``value``
                holds a type the codec cannot store.
        """
        self._check_in_unit()
        if value is None:
            raise StorageBackendError("A record value cannot be None.", ids=(kind, key))
        check_storable(kind, partition, key)
        data = DEFAULT_CODEC.encode(value)
        if DEFAULT_CODEC.layout_generation != self._layout_generation:
            self._record_layouts()
        address = (kind, partition, key)
        self._touched.add(address)
        self._wrote = True
        self._buffer.put(kind, partition, key, data)
        self._cache.put(address, value)

    def delete(self, kind: str, partition: str, key: str) -> None:
        """Remove a record inside the open unit of work; a missing record is a no-op.

        Raises:
            StorageBackendError: No unit of work is open.
        """
        self._check_in_unit()
        if not storable(kind, partition, key):
            return
        address = (kind, partition, key)
        self._touched.add(address)
        self._wrote = True
        self._buffer.delete(kind, partition, key)
        self._cache.put(address, ABSENT)

    def first(self, kind: str, partition: str) -> tuple[str, object] | None:
        """The ``(key, value)`` with the smallest key of a partition, or None (one indexed read):
        the event loop finds its next timer without loading every timer."""
        found = self.scan_range(kind, partition, None, None, False, 1)
        return found[0] if found else None

    def scan(self, kind: str, partition: str) -> Iterator[tuple[str, object]]:
        """Every ``(key, value)`` of a partition, ordered by key, as of this call.

        Rows are read and decoded in one read snapshot, and the decoded values are cached, so
        describing the same region again decodes only what changed. A partition larger than
        the cache is decoded without being cached: it would only push everything else out.

        Raises:
            StorageBackendError: The backend is closed, or a stored value cannot be decoded.
        """
        self._check_open()
        if not storable(kind, partition):
            return iter(())
        self._flush(kind, partition)
        with self._snapshot():
            rows = self._query_all(
                "SELECT key, value FROM records WHERE kind = ? AND partition = ? ORDER BY key",
                (kind, partition),
            )
            found = self._decode_rows(kind, partition, rows)
        return iter(found)

    def _decode_rows(
        self, kind: str, partition: str, rows: list[tuple[Any, ...]]
    ) -> list[tuple[str, object]]:
        """Decode ``(key, data)`` rows through the cache, inside the reading snapshot (the cache
        was checked against that state); more rows than the cache holds are not cached."""
        found: list[tuple[str, object]] = []
        keep = len(rows) <= self._cache_size
        for key, data in rows:
            address = (kind, partition, key)
            value = self._cache.get(address)
            if value is None or value is ABSENT:
                value = self._decode(data)
                if keep:
                    self._cache_read(address, value)
            found.append((key, value))
        return found

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
        at most ``limit``, in one snapshot and one ``SELECT`` along the primary key (see
        :func:`._sqlite_files.range_query`); decoded values are cached as :meth:`scan` does.

        Raises:
            StorageBackendError: The backend is closed, or a stored value cannot be decoded.
        """
        self._check_open()
        if not storable(kind, partition) or (limit is not None and limit <= 0):
            return []
        sql, params = range_query(start, stop, reverse, limit)
        if self._in_unit:  # the unit's transaction is the snapshot (the common case)
            if self._buffer.dirty(kind, partition):
                self._flush(kind, partition)
            return self._decode_rows(
                kind, partition, self._query_all(sql, (kind, partition, *params))
            )
        with self._snapshot():
            rows = self._query_all(sql, (kind, partition, *params))
            return self._decode_rows(kind, partition, rows)

    def count(self, kind: str, partition: str) -> int:
        """How many records a partition holds.

        Raises:
            StorageBackendError: The backend is closed.
        """
        self._check_open()
        if not storable(kind, partition):
            return 0
        self._flush(kind, partition)
        row = self._query_one(
            "SELECT count(*) FROM records WHERE kind = ? AND partition = ?", (kind, partition)
        )
        assert row is not None
        result: int = row[0]
        return result

    def clear_partition(self, kind: str, partition: str) -> None:
        """Delete every record of a partition inside the open unit of work.

        Raises:
            StorageBackendError: No unit of work is open.
        """
        self._check_in_unit()
        if not storable(kind, partition):
            return
        # Forgotten entries need no undo on rollback: the next read goes to the database.
        self._cache.forget_partition(kind, partition)
        self._buffer.drop_partition(kind, partition)  # deleted below anyway
        self._wrote = True
        self._write("DELETE FROM records WHERE kind = ? AND partition = ?", (kind, partition))

    def partitions(self, kind: str) -> Iterator[str]:
        """Every partition of ``kind`` that holds at least one record, sorted.

        Raises:
            StorageBackendError: The backend is closed.
        """
        self._check_open()
        found: list[str] = []
        if not storable(kind):
            return iter(found)
        # Skip from one partition to the next through the primary key instead of reading
        # every record of ``kind``: the cost follows the number of partitions, not records.
        self._flush(kind, None)
        with self._snapshot():
            row = self._query_one(
                "SELECT partition FROM records WHERE kind = ? ORDER BY partition LIMIT 1",
                (kind,),
            )
            while row is not None:
                found.append(row[0])
                row = self._query_one(
                    "SELECT partition FROM records WHERE kind = ? AND partition > ? "
                    "ORDER BY partition LIMIT 1",
                    (kind, row[0]),
                )
        return iter(found)

    def generation(self) -> int:
        """A number that changes whenever another connection commits (``PRAGMA data_version``).

        The event loop compares it between runs to notice timers scheduled by other processes.
        """
        self._check_open()
        row = self._query_one("PRAGMA data_version", ())
        assert row is not None
        return int(row[0])

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def path(self) -> str:
        """The database file this backend opened."""
        return self._path

    def close(self) -> None:
        """Roll back any open unit of work and close the database; later calls raise.

        Closing twice is allowed.
        """
        if self._closed:
            return
        self._closed = True
        self._in_unit = False
        self._cache.clear()
        self._buffer.clear()
        self._touched = set()
        if os.getpid() == self._pid:
            self._conn.close()

    def __enter__(self) -> SqliteBackend:
        """Use the backend as a context manager that closes it on exit."""
        self._check_open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the backend."""
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"synchronous={self._synchronous}"
        return f"SqliteBackend({self._path!r}, {state})"

    # -- internals -----------------------------------------------------------------------
    def _cache_read(self, address: tuple[str, str, str], value: object) -> None:
        # A read inside a unit of work may see the unit's own, uncommitted writes (a partition
        # it cleared, say): remember it as touched so that a rollback forgets it too.
        if self._in_unit:
            self._touched.add(address)
        self._cache.put(address, value)

    def _sync_cache(self) -> None:
        """Outside a unit of work or read snapshot, forget what other connections changed."""
        if not self._in_unit and not self._reading:
            self._refresh_cache()

    def _refresh_cache(self) -> None:
        """Forget the cached records that other connections changed since the cache was filled.

        ``PRAGMA data_version`` moves only when another connection commits; then the rows of
        ``record_changes`` after the last one this cache accounts for name what changed. If
        some were pruned, or they name more records than the cache holds, the whole cache goes.
        The version is recorded only once the cache agrees with it: if reading the log fails,
        the cache is emptied and the next call starts afresh.
        """
        if not self._cache_size:
            return
        row = self._query_one("PRAGMA data_version", ())
        assert row is not None
        if row[0] == self._data_version:
            return
        try:
            self._change_seq = self._cache.forget_changes_since(
                self._change_seq, self._query_one, self._query_all
            )
        except BaseException:
            self._cache.clear()
            self._data_version = self._change_seq = None
            raise
        self._data_version = row[0]

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """Make every read inside the block see one committed state (one read transaction).

        A reader that looks up a block map and then the blocks it names must not see another
        process's commit in between (the block it was about to read could be gone). Inside a
        unit of work, or inside another read snapshot, this adds nothing. Writes inside a read
        snapshot are refused (``begin`` raises ``StorageBackend.UnitOpen``).
        """
        self._check_open()
        with self._snapshot():
            yield

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """Run several reads in one read transaction unless one (or a unit) is already open."""
        if self._in_unit or self._reading:
            yield
            return
        self._execute(self._conn, "BEGIN", "reading")
        self._reading = True
        try:
            # PRAGMA data_version is the transaction's first read: it opens the snapshot, so
            # the cache is checked against exactly the state the following reads will see.
            self._refresh_cache()
            yield
        finally:
            self._reading = False
            if self._conn.in_transaction:
                try:
                    self._conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    raise self._translate(exc, "reading") from exc

    def _send(self, kind: str | None = None, partition: str | None = None) -> None:
        """Send the buffered writes (all, or of ``kind``/``partition``) to SQLite, one
        ``executemany`` per statement; SQLite's errors are raised as they are."""
        puts, deletes = self._buffer.take(kind, partition)
        if puts:
            self._conn.executemany(_PUT, puts)
        if deletes:
            self._conn.executemany(_DELETE, deletes)

    def _flush(self, kind: str | None = None, partition: str | None = None) -> None:
        """:meth:`_send` if anything (of ``kind``/``partition``) is buffered.

        If SQLite fails, some buffered writes may be lost: the unit is marked so that it
        cannot commit (:meth:`commit` rolls it back), and the error is raised.
        """
        if not self._buffer:
            return
        if kind is not None and partition is not None and not self._buffer.dirty(kind, partition):
            return
        try:
            self._send(kind, partition)
        except sqlite3.Error as exc:
            self._lost_writes = True
            raise self._translate(exc, "writing to") from exc
