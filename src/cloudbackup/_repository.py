"""Repositories: one per aggregate, the only way services read and write their records.

A :class:`Repository` knows its record class, the region it serves, how to name a missing record
(the real API's ``…NotFound`` code and a noun) and the indexes it keeps in step with every write
(such as which disks each instance has). Services ask it for a record (:meth:`~Repository.get`,
which raises the typed error, or :meth:`~Repository.find`), write with :meth:`~Repository.put`
and :meth:`~Repository.delete`, and read an index with :meth:`~Repository.members`. Every read
costs the records it returns: a describe of named ids reads those ids, an index lookup reads
that index's partition.

An :class:`OrderedIndex` lists a region's records in the order a describe action returns them
(``DescribeSnapshots``: newest first), so a page is read from a position in it
(:meth:`~Repository.ordered`: ``Store.raw_range`` for page size + 1 entries, then those records)
instead of sorting the region.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

import attrs

from ._store import Store, damaged_value, raw_kind
from .errors import InvalidParameterError, ResourceNotFoundError

__all__ = ["ORDER_SEPARATOR", "UNREAD", "Index", "OrderedIndex", "Repository", "RepositorySpec"]

#: Joins an ordered index's sort key and the record id in the entry's key. NUL sorts below every
#: other code point and neither part holds it, so ``key + NUL + id`` orders entries exactly as
#: the pairs ``(key, id)`` do.
ORDER_SEPARATOR = "\x00"

#: How many entries each ordered index holds per region (partition the region, key the index's
#: kind, value the count; absent for none), so a page's ``TotalCount`` is one read on every
#: backend (SQLite's ``count(*)`` walks the rows).
ORDER_COUNTS = raw_kind("index.counts")

T = TypeVar("T")


@attrs.frozen
class Index(Generic[T]):
    """A secondary index a repository keeps: raw kind ``kind``, partition = each value of
    ``partitions(record)``, key = the record's id."""

    kind: str = attrs.field(converter=raw_kind)
    partitions: Callable[[T], Iterable[str]]


@attrs.frozen
class OrderedIndex(Generic[T]):
    """An index of a region's records in one order: raw kind ``kind``, partition = the region,
    key = ``sort_key(record)``, :data:`ORDER_SEPARATOR` and the record's id, value = the id.

    ``sort_key`` must not change while the record lives (a creation time does) or the entry
    moves on every :meth:`Repository.put` that changes it; it must not hold NUL.
    """

    kind: str = attrs.field(converter=raw_kind)
    sort_key: Callable[[T], str]

    def entry(self, record: T, record_id: str) -> str:
        """The index key of ``record``."""
        return self.sort_key(record) + ORDER_SEPARATOR + record_id


class _Unread(enum.Enum):
    """The type of :data:`UNREAD`."""

    UNREAD = "unread"


UNREAD = _Unread.UNREAD
"""``Repository.put``'s default ``old``: the stored record is read to move index entries."""


class Repository(Generic[T]):
    """The records of one class in one region, with the indexes kept beside them.

    Built by :meth:`RepositorySpec.open`.
    """

    def __init__(self, spec: RepositorySpec[T], store: Store, region_id: str) -> None:
        self._spec = spec
        self._store = store
        self._region_id = region_id
        self._cls = spec.cls

    def get(self, record_id: object) -> T:
        """The record, or a typed error: ``….Malformed`` for a non-string or empty id (400),
        ``….NotFound`` for an id this region does not hold (404)."""
        noun = self._spec.noun
        if not isinstance(record_id, str) or not record_id:
            raise InvalidParameterError(
                f"{record_id!r} is not a valid {noun} id.",
                code=self._spec.not_found.replace(".NotFound", ".Malformed"),
                recommend=f"Pass a {noun} id string.",
            )
        found = self._store.get(self._cls, self._region_id, record_id)
        if found is None:
            raise ResourceNotFoundError(
                f"The {noun} {record_id} does not exist in region {self._region_id}.",
                code=self._spec.not_found,
                ids=(record_id,),
                recommend=f"Check the id and the region; {noun}s are regional.",
            )
        return found

    def id_of(self, record: T) -> str:
        """The id of a record of this repository."""
        return self._spec.id_of(record)

    def find(self, record_id: str) -> T | None:
        """The record, or None."""
        return self._store.get(self._cls, self._region_id, record_id)

    def put(self, record: T, *, old: T | _Unread | None = UNREAD) -> None:
        """Write a record, moving its index entries to where it now belongs.

        ``old`` is the record as stored now (None: there is none), when the caller has just
        read it in this unit of work or made the id in it: it is then not read again.
        """
        record_id = self._spec.id_of(record)
        if self._spec.indexes or self._spec.ordered:
            if old is UNREAD:
                old = self._store.get(self._cls, self._region_id, record_id)
            for ordered in self._spec.ordered:
                entry = ordered.entry(record, record_id)
                if old is not None:
                    old_entry = ordered.entry(old, record_id)
                    if old_entry == entry:
                        continue
                    self._store.raw_delete(ordered.kind, self._region_id, old_entry)
                else:
                    self._add_to_count(ordered, 1)
                self._store.raw_put(ordered.kind, self._region_id, entry, record_id)
            for index in self._spec.indexes:
                after_parts = tuple(index.partitions(record))
                before_parts = () if old is None else tuple(index.partitions(old))
                if before_parts == after_parts:
                    continue  # the common case: an update that moves no index entry
                before, after = set(before_parts), set(after_parts)
                for partition in before - after:
                    self._store.raw_delete(index.kind, partition, record_id)
                for partition in after - before:
                    self._store.raw_put(index.kind, partition, record_id, True)
        self._store.put(self._cls, self._region_id, record_id, record)

    def delete(self, record: T) -> None:
        """Delete a record and its index entries."""
        record_id = self._spec.id_of(record)
        for index in self._spec.indexes:
            for partition in index.partitions(record):
                self._store.raw_delete(index.kind, partition, record_id)
        for ordered in self._spec.ordered:
            entry = ordered.entry(record, record_id)
            if self._store.raw_get(ordered.kind, self._region_id, entry) is not None:
                self._store.raw_delete(ordered.kind, self._region_id, entry)
                self._add_to_count(ordered, -1)
        self._store.delete(self._cls, self._region_id, record_id)

    def scan(self) -> list[T]:
        """Every record of the region, in id order."""
        return self._store.scan(self._cls, self._region_id)

    def named_or_all(self, ids: Sequence[str]) -> list[T]:
        """The named records that exist (direct reads, in the order named), or every record
        of the region when no id is named."""
        if not ids:
            return self.scan()
        named = (self._store.get(self._cls, self._region_id, i) for i in ids)
        return [record for record in named if record is not None]

    def ordered(
        self,
        index: OrderedIndex[T],
        *,
        before: str | None = None,
        after: str | None = None,
        descending: bool,
        limit: int,
    ) -> list[T]:
        """Up to ``limit`` records in ``index``'s order (reversed when ``descending``), from
        just past the entry key ``before`` (descending) or ``after`` (ascending).

        Reads ``limit`` index entries and their records: the cost follows the page, not the
        region.
        """
        if descending:
            entries = self._store.raw_range(
                index.kind, self._region_id, None, before, reverse=True, limit=limit
            )
        else:
            # Strictly after ``after``: every entry key that extends it sorts above it.
            start = None if after is None else after + ORDER_SEPARATOR
            entries = self._store.raw_range(index.kind, self._region_id, start, limit=limit)
        return self.named_or_all([str(record_id) for _, record_id in entries]) if entries else []

    def in_id_order(self, *, after: str | None, limit: int) -> list[T]:
        """Up to ``limit`` records of the region in id order, from just past the id ``after``:
        one ordered slice of the region's records, so the cost follows the page."""
        start = None if after is None else after + ORDER_SEPARATOR  # the least string above
        kind: str = self._cls.KIND  # type: ignore[attr-defined]
        entries = self._store.raw_range(kind, self._region_id, start, limit=limit)
        for key, value in entries:
            if not isinstance(value, self._cls):
                raise damaged_value(kind, self._region_id, key, value, f"a {self._cls.__name__}")
        return [value for _, value in entries]  # type: ignore[misc]

    def count_all(self) -> int:
        """How many records the region holds."""
        return self._store.raw_count(self._cls.KIND, self._region_id)  # type: ignore[attr-defined]

    def count(self, index: OrderedIndex[T]) -> int:
        """How many records ``index`` lists (every record of the region it covers): one read."""
        found = self._store.raw_get(ORDER_COUNTS, self._region_id, index.kind)
        if found is None:
            return 0
        if type(found) is not int or found < 1:
            raise damaged_value(ORDER_COUNTS, self._region_id, index.kind, found, "a count")
        return found

    def _add_to_count(self, index: OrderedIndex[T], change: int) -> None:
        count = self.count(index) + change
        if count:
            self._store.raw_put(ORDER_COUNTS, self._region_id, index.kind, count)
        else:
            self._store.raw_delete(ORDER_COUNTS, self._region_id, index.kind)

    def members(self, index: Index[T], partition: str) -> list[T]:
        """The records ``index`` lists under ``partition``, in id order."""
        ids = [record_id for record_id, _ in self._store.raw_scan(index.kind, partition)]
        return self.named_or_all(ids) if ids else []


@attrs.frozen
class RepositorySpec(Generic[T]):
    """How to build the repository of one aggregate, for any region: declared once per
    record class, opened per region with :meth:`open`."""

    cls: type[T]
    id_of: Callable[[T], str]
    not_found: str
    """The real API's code for a missing record, e.g. ``InvalidDiskId.NotFound``."""
    noun: str
    indexes: tuple[Index[T], ...] = ()
    ordered: tuple[OrderedIndex[T], ...] = ()

    def open(self, store: Store, region_id: str) -> Repository[T]:
        """The repository of this aggregate in ``region_id``."""
        return Repository(self, store, region_id)
