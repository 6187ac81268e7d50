"""The decoded-record cache of :class:`SqliteBackend`, and how it follows the change log.

Each backend keeps the records it decoded, so a describe served twice decodes once. Other
processes' commits are followed through the file's ``record_changes`` log (kept by triggers,
see :mod:`._sqlite_schema`): :meth:`RecordCache.forget_changes_since` forgets exactly the
records the log names, or everything when the log has moved on further than the cache holds.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from typing import Any

__all__ = ["ABSENT", "RecordCache"]

ABSENT = object()
"""Cached for a record known not to exist (``None`` from :meth:`RecordCache.get` means unknown)."""


class RecordCache:
    """Decoded records by address, oldest evicted first, indexed by partition.

    Holds the decoded value, or :data:`ABSENT` for a record known not to exist. ``get`` returns
    ``None`` for an address it knows nothing about.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: dict[tuple[str, str, str], object] = {}
        self._by_partition: dict[tuple[str, str], set[str]] = {}

    def get(self, address: tuple[str, str, str]) -> object | None:
        return self._entries.get(address)

    def put(self, address: tuple[str, str, str], value: object) -> None:
        if not self._size:
            return
        entries = self._entries
        if address not in entries:
            if len(entries) >= self._size:
                self._evict()
            self._by_partition.setdefault((address[0], address[1]), set()).add(address[2])
        entries[address] = value

    def _evict(self) -> None:
        """Forget the oldest eighth of the entries (at least one).

        Dicts keep insertion order, so the first keys are the oldest. Evicting one at a time
        would cost more and more: a dict's iterator walks over the slots of keys removed from
        its front until the dict is next resized, so each ``next(iter(...))`` grows with them.
        """
        for address in list(islice(self._entries, max(1, self._size // 8))):
            self.forget(address)

    def forget(self, address: tuple[str, str, str]) -> None:
        if self._entries.pop(address, None) is not None:
            keys = self._by_partition[(address[0], address[1])]
            keys.discard(address[2])
            if not keys:
                del self._by_partition[(address[0], address[1])]

    def forget_partition(self, kind: str, partition: str) -> None:
        for key in self._by_partition.pop((kind, partition), ()):
            del self._entries[(kind, partition, key)]

    def clear(self) -> None:
        self._entries.clear()
        self._by_partition.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def forget_changes_since(
        self,
        since: int | None,
        query_one: Callable[[str, tuple[object, ...]], tuple[Any, ...] | None],
        query_all: Callable[[str, tuple[object, ...]], list[tuple[Any, ...]]],
    ) -> int:
        """Forget what ``record_changes`` rows after ``since`` name; return the newest seq.

        ``query_one`` and ``query_all`` run a read on the backend's connection.
        """
        if since is None or not len(self):
            self.clear()
            last = query_one("SELECT max(seq) FROM record_changes", ())
            return 0 if last is None or last[0] is None else int(last[0])
        changes = query_all(
            "SELECT seq, kind, partition, key FROM record_changes WHERE seq > ? ORDER BY seq",
            (since,),
        )
        if not changes:
            return since
        # Sequence numbers have no gaps (each is the largest so far plus one, and pruning
        # keeps the largest), so a first row past since + 1 means rows this cache needed
        # were pruned, even if that happened between this backend's statements.
        if changes[0][0] != since + 1 or len(changes) > len(self):
            self.clear()
        else:
            for _, kind, partition, key in changes:
                self.forget((kind, partition, key))
        return int(changes[-1][0])
