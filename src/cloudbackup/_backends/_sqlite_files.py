"""What a SQLite file is, and what SQLite's failures mean, for :class:`SqliteBackend`.

Before the backend touches a file it asks :func:`identify` whether the file is a cloudbackup
database (our ``PRAGMA application_id``), an empty file it may create one in, or anything else
(refused, byte for byte unchanged). Every ``sqlite3`` failure becomes a
:class:`~cloudbackup.errors.StorageBackendError` through :func:`translate`: ``Busy`` when
another connection held the lock, ``Corrupt`` when the file is damaged, ``SqliteError`` else.
"""

from __future__ import annotations

import os
import sqlite3

from ..errors import InvalidParameterError, StorageBackendError
from ._protocol import storable
from ._sqlite_schema import APPLICATION_ID, SCHEMA_VERSION

__all__ = [
    "check_path",
    "header_is_ours",
    "identify",
    "is_busy",
    "is_corrupt",
    "not_ours",
    "range_query",
    "storable_bound",
    "too_new",
    "translate",
]

_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
# The SQLite file header; bytes 68-71 hold the application_id, big-endian.
_HEADER_SIZE = 100


def identify(conn: sqlite3.Connection, path: str, timeout: float) -> int | None:
    """The schema version of a cloudbackup file, ``None`` for an empty file, else raise.

    A file is empty only if it holds no schema object at all (no table, view, index or
    trigger): anything else without our ``application_id`` belongs to someone else.
    """
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if app_id == 0:
            objects = [
                f"{row[0]} {row[1]}"
                for row in conn.execute(
                    "SELECT type, name FROM sqlite_master ORDER BY type, name LIMIT 6"
                )
            ]
            if not objects:
                return None
            raise not_ours(path, f"it holds other schema objects ({', '.join(objects[:5])})")
        if app_id != APPLICATION_ID:
            raise not_ours(path, f"its application_id is {app_id:#x}")
    except sqlite3.DatabaseError as exc:
        if is_busy(exc) or (is_corrupt(exc) and header_is_ours(path)):
            raise translate(exc, "opening", path, timeout) from exc
        raise not_ours(path, str(exc)) from exc
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        # Our application_id, but its schema cannot be read: a damaged cloudbackup file.
        raise translate(exc, "opening", path, timeout) from exc
    if row is None or not str(row[0]).isdigit():
        raise StorageBackendError(
            f"{path} is a cloudbackup database without a valid schema version.",
            code="StorageBackend.Corrupt",
            recommend="Restore the file from a backup.",
        )
    return int(row[0])


def header_is_ours(path: str) -> bool:
    """Whether the file's header (read directly: SQLite refused it) has our application_id."""
    try:
        with open(path, "rb") as file:
            header = file.read(_HEADER_SIZE)
    except OSError:
        return False
    return header[68:72] == APPLICATION_ID.to_bytes(4, "big")


def not_ours(path: str, why: str) -> StorageBackendError:
    """The refusal of a file that is not a cloudbackup database, saying ``why``."""
    return StorageBackendError(
        f"{path} is not a cloudbackup database: {why}.",
        code="StorageBackend.NotCloudbackup",
        recommend="Pass the path of a cloudbackup database, or of a new file.",
    )


def too_new(path: str, version: int) -> StorageBackendError:
    """The refusal of a file written by a newer cloudbackup (schema ``version``)."""
    return StorageBackendError(
        f"{path} has schema version {version}, newer than the "
        f"{SCHEMA_VERSION} this version of cloudbackup understands; it was left "
        "untouched.",
        code="StorageBackend.SchemaTooNew",
        recommend="Upgrade cloudbackup to open this database.",
    )


def translate(exc: sqlite3.Error, action: str, path: str, timeout: float) -> StorageBackendError:
    """The StorageBackendError for a failure of SQLite while ``action`` the file ``path``."""
    if is_busy(exc):
        return StorageBackendError(
            f"Gave up {action} {path} after waiting {timeout:g} s: another "
            "connection holds its write lock.",
            code="StorageBackend.Busy",
            recommend=(
                "Retry later, keep other processes' units of work short, or open the "
                "backend with a longer timeout."
            ),
        )
    if is_corrupt(exc):
        return StorageBackendError(
            f"{path} is damaged: SQLite failed while {action} it: {exc}.",
            code="StorageBackend.Corrupt",
            recommend=(
                "Restore the file from a backup (or a copy taken with the backup API); "
                "do not write to it."
            ),
        )
    return StorageBackendError(
        f"SQLite failed while {action} {path}: {exc}.",
        code="StorageBackend.SqliteError",
        recommend="Check the file system (space, permissions) and the database file.",
    )


def is_corrupt(exc: sqlite3.Error) -> bool:
    """Whether SQLite failed because the file is damaged (or not a database at all)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(exc)
    return "malformed" in text or "not a database" in text


def check_path(path: object) -> str:
    """``path`` as a string SQLite can open, or InvalidParameterError before anything opens."""
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidParameterError(
            f"path {path!r} is not a file path.",
            code="InvalidParameter.Path",
            recommend="Pass a str or pathlib.Path, or ':memory:' for a private database.",
        )
    text = os.fspath(path)
    if not isinstance(text, str) or "\x00" in text or not storable(text):
        raise InvalidParameterError(
            f"path {path!r} cannot name a file: it must be a str without NUL "
            "characters or lone surrogates.",
            code="InvalidParameter.Path",
            recommend="Pass a str or pathlib.Path, or ':memory:' for a private database.",
        )
    return str.__str__(text)  # a plain str, even when given a str subclass


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether SQLite failed because another connection held the lock too long."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    text = str(exc)
    return "database is locked" in text or "database is busy" in text


def range_query(
    start: str | None, stop: str | None, reverse: bool, limit: int | None
) -> tuple[str, tuple[object, ...]]:
    """The ``SELECT`` of ``scan_range`` and its parameters after ``(kind, partition)``.

    It walks the primary key ``(kind, partition, key)`` from one bound, so its cost follows the
    rows returned, not the partition. SQLite compares ``TEXT`` byte-wise in UTF-8, which is code
    point order, the order Python gives ``str``.
    """
    where = "kind = ? AND partition = ?"
    params: list[object] = []
    if start is not None:
        where += " AND key >= ?"
        params.append(storable_bound(start))
    if stop is not None:
        where += " AND key < ?"
        params.append(storable_bound(stop))
    sql = f"SELECT key, value FROM records WHERE {where} ORDER BY key"
    if reverse:
        sql += " DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return sql, tuple(params)


def storable_bound(bound: str) -> str:
    """A range bound that orders every storable key exactly as ``bound`` does, and has UTF-8.

    A stored key holds no lone surrogate, so at the first surrogate of ``bound`` every key that
    agrees with the text before it holds either a code point below U+D800 (it sorts lower) or
    one above U+DFFF (it sorts higher): the text before it plus U+E000, the first code point
    past the surrogates, splits the keys in the same place.
    """
    if storable(bound):
        return str.__str__(bound)
    for index, char in enumerate(bound):
        if "\ud800" <= char <= "\udfff":
            return str.__str__(bound[:index]) + "\ue000"
    raise AssertionError("unreachable: a bound without a surrogate is storable")
