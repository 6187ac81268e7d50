"""The write-behind buffer of :class:`~._sqlite.SqliteBackend`: a unit's record writes, held
until they must reach SQLite.

A unit of work of the fleet year writes some twenty records; one ``INSERT`` statement each cost
more than the rest of the write. The backend keeps them here instead, the last write per
address only (a counter written four times is written once), and sends them with one
``executemany`` per statement, in key order, when SQLite must see them:

* at commit (before ``COMMIT``) and when a savepoint opens (before ``SAVEPOINT``, so that the
  savepoint's ``ROLLBACK TO`` undoes exactly what was written after it: everything still
  buffered when it rolls back was written after it, and is dropped);
* before a read that SQLite answers for a partition with buffered writes (``scan``,
  ``scan_range``, ``count``, ``partitions``): only that partition's writes (or that kind's) go.

Reads of one address (``get``, ``get_many``) are answered from the buffer. Values are encoded
when they are written, so a value the codec refuses is refused by ``put`` itself.
"""

from __future__ import annotations

from typing import Final

__all__ = ["PENDING_DELETE", "WriteBuffer"]

#: What :meth:`WriteBuffer.pending` gives for an address whose last buffered write is a delete.
PENDING_DELETE: Final = b""
# An encoded value is never empty (the codec writes at least one JSON token), so b"" is free.


class WriteBuffer:
    """Encoded record writes by partition, the last one per address; ``b""`` is a delete."""

    def __init__(self) -> None:
        self._parts: dict[tuple[str, str], dict[str, bytes]] = {}

    def __bool__(self) -> bool:
        return bool(self._parts)

    def put(self, kind: str, partition: str, key: str, data: bytes) -> None:
        """Buffer a write of ``data`` (encoded, never empty) at an address."""
        part = self._parts.get((kind, partition))
        if part is None:
            part = self._parts[(kind, partition)] = {}
        part[key] = data

    def delete(self, kind: str, partition: str, key: str) -> None:
        """Buffer a delete of an address."""
        self.put(kind, partition, key, PENDING_DELETE)

    def pending(self, kind: str, partition: str, key: str) -> bytes | None:
        """The buffered write at an address (:data:`PENDING_DELETE` for a delete), or None."""
        part = self._parts.get((kind, partition))
        return None if part is None else part.get(key)

    def dirty(self, kind: str, partition: str) -> bool:
        """Whether a partition has buffered writes."""
        return (kind, partition) in self._parts

    def drop_partition(self, kind: str, partition: str) -> None:
        """Forget a partition's buffered writes (it is being cleared anyway)."""
        self._parts.pop((kind, partition), None)

    def clear(self) -> None:
        """Forget every buffered write (the unit or savepoint they belong to rolled back)."""
        self._parts.clear()

    def take(
        self, kind: str | None = None, partition: str | None = None
    ) -> tuple[list[tuple[str, str, str, bytes]], list[tuple[str, str, str]]]:
        """Remove and return buffered writes as ``(puts, deletes)`` rows, in address order.

        All of them, or those of ``kind`` (and of ``partition`` when given too).
        """
        if kind is None:
            chosen = list(self._parts)
        elif partition is not None:
            chosen = [(kind, partition)] if (kind, partition) in self._parts else []
        else:
            chosen = [address for address in self._parts if address[0] == kind]
        chosen.sort()
        puts: list[tuple[str, str, str, bytes]] = []
        deletes: list[tuple[str, str, str]] = []
        for address in chosen:
            part = self._parts.pop(address)
            k, p = address
            for key in sorted(part):
                data = part[key]
                if data:
                    puts.append((k, p, key, data))
                else:
                    deletes.append((k, p, key))
        return puts, deletes
