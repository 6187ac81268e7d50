"""The connection-level half of :class:`~._sqlite.SqliteBackend`: checked statements and blobs.

:class:`SqliteBase` runs statements on the backend's connection, turning SQLite's failures
into :class:`~cloudbackup.errors.StorageBackendError` (see :mod:`._sqlite_files`), checks that
the backend is open and in the right process, stores blobs (``blobs``, ``blob_heads`` and
``blob_stats``, without their zero margins, a body of a page or more cut to fill whole pages:
see :mod:`._sqlite_schema`), and keeps the ``layouts`` table that
describes the positional record values :mod:`._codec` writes. :class:`~._sqlite.SqliteBackend`
builds units of work, records and caches on top of it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any

from ..errors import StorageBackendError
from ._codec import DEFAULT_CODEC, LayoutMiss
from ._sqlite_files import translate
from ._sqlite_schema import split_body, with_margins, without_margins

__all__ = ["SqliteBase"]


class SqliteBase:
    """Statements on one SQLite connection, and the blob methods of the storage protocol."""

    _path: str
    _timeout: float
    _conn: sqlite3.Connection
    _closed: bool
    _pid: int
    _in_unit: bool
    _layouts_in_file: set[str] | None
    _layout_generation: int
    #: The database's page size, which decides where a blob body is cut (see split_body).
    _page_size: int

    # -- blobs ---------------------------------------------------------------------------
    def get_blob(self, digest: bytes) -> bytes | None:
        """The blob stored under ``digest``, or ``None``.

        Raises:
            StorageBackendError: The backend is closed, or the stored blob is damaged.
        """
        self._check_open()
        row = self._query_one(
            "SELECT b.size, b.body_offset, b.tail, b.head_id, h.head FROM blobs AS b "
            "LEFT JOIN blob_heads AS h ON h.id = b.head_id WHERE b.digest = ?",
            (bytes(digest),),
        )
        if row is None:
            return None
        size, offset, tail, head_id, head = row
        if head_id is None:
            head = b""
        body = head + tail if isinstance(head, bytes) and isinstance(tail, bytes) else None
        if not (
            isinstance(size, int)
            and isinstance(offset, int)
            and body is not None
            and 0 <= offset <= offset + len(body) <= size
        ):
            raise StorageBackendError(
                f"{self._path} holds a blob whose stored part (offset {offset!r}, "
                f"{type(tail).__name__}, head {head_id!r}: {type(head).__name__}) does not "
                f"fit its size {size!r}.",
                code="StorageBackend.Corrupt",
                ids=(bytes(digest).hex(),),
                recommend="Restore the file from a backup.",
            )
        return with_margins(size, offset, body)

    def put_blob(self, digest: bytes, data: bytes) -> None:
        """Store ``data`` under ``digest`` inside the open unit of work, unless already there.

        A body of a page or more is stored as a head row and a tail (see
        :func:`._sqlite_schema.split_body`): the head is inserted only when the digest is new.

        Raises:
            StorageBackendError: No unit of work is open.
        """
        self._check_in_unit()
        data, digest = bytes(data), bytes(digest)
        offset, body = without_margins(data)
        head, tail = split_body(body, self._page_size)
        head_id = None
        if head:
            try:
                cursor = self._conn.execute(
                    "INSERT INTO blob_heads (head) SELECT ? "
                    "WHERE NOT EXISTS (SELECT 1 FROM blobs WHERE digest = ?)",
                    (head, digest),
                )
            except sqlite3.Error as exc:
                raise self._translate(exc, "writing to") from exc
            if cursor.rowcount != 1:
                return  # stored already
            head_id = cursor.lastrowid
        self._write(
            "INSERT OR IGNORE INTO blobs (digest, size, body_offset, tail, head_id) "
            "VALUES (?, ?, ?, ?, ?)",
            (digest, len(data), offset, tail, head_id),
        )

    def delete_blob(self, digest: bytes) -> None:
        """Remove a blob inside the open unit of work; a missing blob is a no-op.

        Raises:
            StorageBackendError: No unit of work is open.
        """
        self._check_in_unit()
        self._write("DELETE FROM blobs WHERE digest = ?", (bytes(digest),))

    def blob_stats(self) -> tuple[int, int]:
        """``(number of blobs, total bytes of blob data)``, kept up to date by triggers.

        Raises:
            StorageBackendError: The backend is closed.
        """
        self._check_open()
        row = self._query_one("SELECT count, bytes FROM blob_stats WHERE id = 0", ())
        if row is None:
            raise StorageBackendError(
                f"{self._path} lacks its blob statistics row.",
                code="StorageBackend.Corrupt",
                recommend="Restore the file from a backup.",
            )
        return int(row[0]), int(row[1])

    # -- layouts of stored values (see _codec) --------------------------------------------
    def _decode(self, data: bytes) -> object:
        """Decode a stored value; layouts other than the current ones are read from the file's
        ``layouts`` table (and kept by the codec: a tag names one layout forever)."""
        while True:
            try:
                return DEFAULT_CODEC.decode(data)
            except LayoutMiss as miss:
                row = self._query_one(
                    "SELECT type_name, fields FROM layouts WHERE tag = ?", (miss.tag,)
                )
                if row is None:
                    raise
                try:
                    names = json.loads(row[1])
                except (TypeError, ValueError):
                    names = None
                # Learning a damaged description raises StorageBackend.Corrupt; a good one
                # makes the next round go further.
                DEFAULT_CODEC.learn_layout(
                    miss.tag, row[0], tuple(names) if type(names) is list else ()
                )

    def _record_layouts(self) -> None:
        """Add the codec's layouts the file's ``layouts`` table lacks, inside the unit."""
        known = self._layouts_in_file
        if known is None:
            rows = self._query_all("SELECT tag FROM layouts", ())
            known = self._layouts_in_file = {row[0] for row in rows}
        generation = DEFAULT_CODEC.layout_generation
        for tag, type_name, names in DEFAULT_CODEC.layouts():
            if tag not in known:
                self._write(
                    "INSERT OR IGNORE INTO layouts (tag, type_name, fields) VALUES (?, ?, ?)",
                    (tag, type_name, json.dumps(names, ensure_ascii=False)),
                )
                known.add(tag)
        self._layout_generation = generation

    def _forget_layouts(self) -> None:
        """A rollback may have undone layouts written in the unit: read the table again."""
        self._layouts_in_file = None
        self._layout_generation = -1

    # -- statements ----------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise StorageBackendError(
                f"This SqliteBackend ({self._path}) has been closed.",
                code="StorageBackend.Closed",
                recommend="Open a new SqliteBackend on the same path.",
            )
        if os.getpid() != self._pid:
            # A SQLite connection must never cross fork(): both processes would share its
            # locks and file offsets, which can corrupt the database.
            raise StorageBackendError(
                f"This SqliteBackend ({self._path}) was opened in process {self._pid}.",
                code="StorageBackend.WrongProcess",
                recommend="Open a new SqliteBackend in each process (after fork or spawn).",
            )

    def _check_in_unit(self) -> None:
        self._check_open()
        if not self._in_unit:
            raise StorageBackendError(
                "Writes and commits need an open unit of work.",
                code="StorageBackend.NoUnit",
                recommend="Call begin() first; cloudbackup services do this for every call.",
            )

    def _translate(self, exc: sqlite3.Error, action: str) -> StorageBackendError:
        return translate(exc, action, self._path, self._timeout)

    def _query_one(self, sql: str, params: tuple[object, ...]) -> tuple[Any, ...] | None:
        try:
            row: tuple[Any, ...] | None = self._conn.execute(sql, params).fetchone()
        except sqlite3.Error as exc:
            raise self._translate(exc, "reading") from exc
        return row

    def _query_all(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        try:
            rows: list[tuple[Any, ...]] = self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._translate(exc, "reading") from exc
        return rows

    def _write(self, sql: str, params: tuple[object, ...]) -> None:
        try:
            self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise self._translate(exc, "writing to") from exc

    def _execute(self, conn: sqlite3.Connection, sql: str, action: str) -> None:
        try:
            conn.execute(sql)
        except sqlite3.Error as exc:
            raise self._translate(exc, action) from exc
