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
instead of sorting the region. An ordered index may be *partitioned by facets*: values of the
record a describe filters on (``Status``, ``SnapshotType``…). Each record then sits in the one
partition of its facet values, in the index's order, with a count per partition; a filtered page
merges the few partitions the filter matches (:meth:`~Repository.ordered` with ``where=``), and
its ``TotalCount`` is the sum of their counts (:meth:`~Repository.count`), read in one slice.

A repository may store some records in another form than the record object
(:class:`StoredForm`, e.g. a finished backup job as one flat tuple of atomic values, which the
cyclic garbage collector does not track): every read and write of the repository goes through
it, so callers only ever see records.
"""

from __future__ import annotations

import enum
import functools
import heapq
import itertools
import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Generic, TypeVar

import attrs

from ._store import Store, damaged_value, raw_kind
from .errors import InvalidParameterError, ResourceNotFoundError

__all__ = [
    "ORDER_COUNTS",
    "ORDER_SEPARATOR",
    "UNREAD",
    "Index",
    "OrderedIndex",
    "Repository",
    "RepositorySpec",
    "StoredForm",
    "Where",
    "facet_partition",
]

#: Joins an ordered index's sort key and the record id in the entry's key. NUL sorts below every
#: other code point and neither part holds it, so ``key + NUL + id`` orders entries exactly as
#: the pairs ``(key, id)`` do.
ORDER_SEPARATOR = "\x00"

#: How many entries each ordered index holds per region (partition the region, key the index's
#: kind, value the count; absent for none), so a page's ``TotalCount`` is one read on every
#: backend (SQLite's ``count(*)`` walks the rows). An index partitioned by facets keeps one count
#: per non-empty partition, under the key ``kind + NUL + facet values as a JSON list``: the
#: counts of one index are one ordered slice of the region's counts.
ORDER_COUNTS = raw_kind("index.counts")

#: Above every key ``kind + NUL + …`` of one index's counts: ``\x01`` follows NUL.
_COUNTS_END = "\x01"


def facet_partition(region_id: str, values: Sequence[str]) -> str:
    """The partition of a facet-partitioned ordered index that holds a region's records with
    these facet values (JSON, so no value can be confused with another, and ASCII, so always
    storable)."""
    return _facet_json((region_id, *values))


@functools.lru_cache(maxsize=4096)
def _facet_json(values: tuple[str, ...]) -> str:
    # Few distinct combinations are in use and each write names one: encode each once.
    return json.dumps(list(values))


T = TypeVar("T")

Where = Mapping[str, "str | Collection[str]"]
"""A filter on an index's facets: facet name -> the value, or a collection of the values
allowed; a facet it does not name may have any value."""


@attrs.frozen
class Index(Generic[T]):
    """A secondary index a repository keeps: raw kind ``kind``, partition = each value of
    ``partitions(record)``, key = the record's id."""

    kind: str = attrs.field(converter=raw_kind)
    partitions: Callable[[T], Iterable[str]]


@attrs.frozen
class OrderedIndex(Generic[T]):
    """An index of a region's records in one order: raw kind ``kind``, partition = the region,
    key = ``sort_key(record)``, :data:`ORDER_SEPARATOR` and the record's id (the id alone when
    ``sort_key`` is None: id order), value = the id.

    ``sort_key`` should not change while the record lives (a creation time does not) or the
    entry moves on every :meth:`Repository.put` that changes it; it must not hold NUL.

    With ``facets`` (the names of the values, e.g. ``("Status", "SnapshotType")``), the index
    is partitioned by ``facet_values(record)`` (one string per facet): partition =
    :func:`facet_partition` of the region and those values, so a record sits in exactly one
    partition and moves when one of its values changes (:meth:`Repository.put` reads the old
    record). The partitions are disjoint, so the records matching a filter on some facets are
    the union of the partitions it matches, and their count the sum of those partitions'.
    """

    kind: str = attrs.field(converter=raw_kind)
    sort_key: Callable[[T], str] | None
    facets: tuple[str, ...] = ()
    facet_values: Callable[[T], tuple[str, ...]] | None = None
    counted: bool = True
    """Whether the repository keeps this index's counts in :data:`ORDER_COUNTS`. An index whose
    records another counted index also lists in full (every snapshot is in the snapshots by
    time and in the snapshots by facets) can leave them out: its size is the other's, and each
    write then costs one count update less."""

    def __attrs_post_init__(self) -> None:
        if bool(self.facets) != (self.facet_values is not None):
            raise ValueError(f"{self.kind}: facets and facet_values go together")

    def entry(self, record: T, record_id: str) -> str:
        """The index key of ``record``."""
        if self.sort_key is None:
            return record_id
        return self.sort_key(record) + ORDER_SEPARATOR + record_id

    def values_of(self, record: T) -> tuple[str, ...]:
        """The facet values of ``record`` (none for an index that is not partitioned)."""
        return () if self.facet_values is None else self.facet_values(record)

    def partition(self, region_id: str, values: Sequence[str]) -> str:
        """The stored partition of the entries with these facet values in ``region_id``."""
        return facet_partition(region_id, values) if self.facets else region_id

    def count_key(self, values: Sequence[str]) -> str:
        """The key, in :data:`ORDER_COUNTS` under the region, of the count of the entries with
        these facet values."""
        if not self.facets:
            return self.kind
        return self.kind + ORDER_SEPARATOR + _facet_json(tuple(values))

    def matches(self, values: Sequence[str], where: Where) -> bool:
        """Whether the partition of ``values`` holds records with every facet value ``where``
        names (facet name -> the value, or a collection of the values allowed)."""
        for name, wanted in where.items():
            value = values[self.facets.index(name)]
            if isinstance(wanted, str):
                if value != str.__str__(wanted):  # a subclass's own __eq__ is not consulted
                    return False
            elif value not in {str.__str__(allowed) for allowed in wanted}:
                return False
        return True


@attrs.frozen
class StoredForm(Generic[T]):
    """How a repository stores its records when not as the record objects themselves.

    ``stored(record)`` is what is written: the record itself, or another value (say a flat
    tuple of atomic values: the in-memory backend keeps what is written, and a tuple of
    strings, numbers, datetimes and such tuples is an object the cyclic garbage collector
    stops tracking, where a record object is tracked as long as it lives). ``restored(value)``
    gives the record back from a stored value that is not a record object, or None when the
    value is no record at all (the repository then raises the typed ``StorageBackend.Corrupt``
    error). A stored record object is always read as itself, so records written before a
    repository had a stored form (or that ``stored`` keeps whole) still read. Both backends
    store the value as it is (SQLite encodes tuples, as any stored value).
    """

    stored: Callable[[T], object]
    restored: Callable[[object], T | None]


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
        self._kind: str = spec.cls.KIND  # type: ignore[attr-defined]
        self._form = spec.stored_form

    def _read(self, record_id: str) -> T | None:
        """The record stored under ``record_id`` (in its stored form, if any), or None."""
        if self._form is None:
            return self._store.get(self._cls, self._region_id, record_id)
        return self._restore(record_id, self._store.raw_get(self._kind, self._region_id, record_id))

    def _restore(self, key: str, value: object) -> T | None:
        """A stored value of this repository as its record (None stays None)."""
        if value is None or isinstance(value, self._cls):
            return value
        form = self._form
        record = None if form is None else form.restored(value)
        if record is None:
            raise damaged_value(self._kind, self._region_id, key, value, f"a {self._cls.__name__}")
        return record

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
        found = self._read(record_id)
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
        return self._read(record_id)

    def put(self, record: T, *, old: T | _Unread | None = UNREAD) -> None:
        """Write a record, moving its index entries to where it now belongs.

        ``old`` is the record as stored now (None: there is none), when the caller has just
        read it in this unit of work or made the id in it: it is then not read again.
        """
        record_id = self._spec.id_of(record)
        if self._spec.indexes or self._spec.ordered:
            if old is UNREAD:
                old = self._read(record_id)
            for ordered in self._spec.ordered:
                entry = ordered.entry(record, record_id)
                values = ordered.values_of(record)
                if old is not None:
                    old_entry, old_values = ordered.entry(old, record_id), ordered.values_of(old)
                    if (old_entry, old_values) == (entry, values):
                        continue  # the common case: an update that moves no entry
                    old_partition = ordered.partition(self._region_id, old_values)
                    self._store.raw_delete(ordered.kind, old_partition, old_entry)
                    if old_values != values and ordered.counted:
                        self._add_to_count(ordered, old_values, -1)
                        self._add_to_count(ordered, values, 1)
                elif ordered.counted:
                    self._add_to_count(ordered, values, 1)
                partition = ordered.partition(self._region_id, values)
                self._store.raw_put(ordered.kind, partition, entry, record_id)
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
        if self._form is None:
            self._store.put(self._cls, self._region_id, record_id, record)
        else:
            self._store.raw_put(self._kind, self._region_id, record_id, self._form.stored(record))

    def delete(self, record: T) -> None:
        """Delete a record and its index entries."""
        record_id = self._spec.id_of(record)
        for index in self._spec.indexes:
            for partition in index.partitions(record):
                self._store.raw_delete(index.kind, partition, record_id)
        for ordered in self._spec.ordered:
            entry, values = ordered.entry(record, record_id), ordered.values_of(record)
            partition = ordered.partition(self._region_id, values)
            if self._store.raw_get(ordered.kind, partition, entry) is not None:
                self._store.raw_delete(ordered.kind, partition, entry)
                if ordered.counted:
                    self._add_to_count(ordered, values, -1)
        self._store.delete(self._cls, self._region_id, record_id)

    def scan(self) -> list[T]:
        """Every record of the region, in id order."""
        if self._form is None:
            return self._store.scan(self._cls, self._region_id)
        found = self._store.raw_scan(self._kind, self._region_id)
        return [self._restore(key, value) for key, value in found]  # type: ignore[misc]

    def named_or_all(self, ids: Sequence[str]) -> list[T]:
        """The named records that exist (direct reads, in the order named), or every record
        of the region when no id is named."""
        if not ids:
            return self.scan()
        named = (self._read(i) for i in ids)
        return [record for record in named if record is not None]

    def ordered(
        self,
        index: OrderedIndex[T],
        *,
        where: Where | None = None,
        before: str | None = None,
        after: str | None = None,
        descending: bool,
        limit: int,
    ) -> list[T]:
        """Up to ``limit`` records in ``index``'s order (reversed when ``descending``), from
        just past the entry key ``before`` (descending) or ``after`` (ascending).

        For an index partitioned by facets, only the records whose facet values are those
        ``where`` names (facet name -> value; None or empty: every record): the partitions it
        matches, merged.

        Reads the matching partitions' counts (one slice), up to ``limit`` index entries of
        each matching partition and the ``limit`` records chosen: the cost follows the page
        and the number of facet combinations, not the region.
        """
        if limit < 1:
            return []
        if descending:
            start, stop = None, before
        else:
            # Strictly after ``after``: every entry key that extends it sorts above it.
            start, stop = (None if after is None else after + ORDER_SEPARATOR), None
        if not index.facets:
            partitions = [self._region_id]
        else:
            partitions = [
                index.partition(self._region_id, values)
                for values, _ in self._partition_counts(index, where or {})
            ]
        slices = [
            self._store.raw_range(
                index.kind, partition, start, stop, reverse=descending, limit=limit
            )
            for partition in partitions
        ]
        if len(slices) == 1:
            entries = slices[0]
        else:  # the partitions are disjoint: merge them by entry key
            merged = heapq.merge(*slices, key=lambda entry: entry[0], reverse=descending)
            entries = list(itertools.islice(merged, limit))
        return self.named_or_all([str(record_id) for _, record_id in entries]) if entries else []

    def in_id_order(self, *, after: str | None, limit: int) -> list[T]:
        """Up to ``limit`` records of the region in id order, from just past the id ``after``:
        one ordered slice of the region's records, so the cost follows the page."""
        start = None if after is None else after + ORDER_SEPARATOR  # the least string above
        entries = self._store.raw_range(self._kind, self._region_id, start, limit=limit)
        return [self._restore(key, value) for key, value in entries]  # type: ignore[misc]

    def count_all(self) -> int:
        """How many records the region holds."""
        return self._store.raw_count(self._kind, self._region_id)

    def count(self, index: OrderedIndex[T], *, where: Where | None = None) -> int:
        """How many records ``index`` lists (every record of the region it covers), or for an
        index partitioned by facets how many have the facet values ``where`` names: one read,
        or one slice of the index's counts."""
        if not index.counted:
            raise ValueError(f"{index.kind} keeps no counts: count the index that does")
        if index.facets:
            return sum(count for _, count in self._partition_counts(index, where or {}))
        found = self._store.raw_get(ORDER_COUNTS, self._region_id, index.kind)
        return self._checked_count(index.kind, found)

    def _checked_count(self, key: str, found: object) -> int:
        if found is None:
            return 0
        if type(found) is not int or found < 1:
            raise damaged_value(ORDER_COUNTS, self._region_id, key, found, "a count")
        return found

    def _partition_counts(
        self, index: OrderedIndex[T], where: Where
    ) -> list[tuple[tuple[str, ...], int]]:
        """The facet values of each non-empty partition of ``index`` that ``where`` matches,
        with its count: one ordered slice of the region's counts, as long as the index has
        non-empty partitions (facet combinations in use), however many records they hold."""
        unknown = set(where) - set(index.facets)
        if unknown:
            raise ValueError(f"{index.kind} has no facet {sorted(unknown)}")
        prefix = index.kind + ORDER_SEPARATOR
        rows = self._store.raw_range(
            ORDER_COUNTS, self._region_id, prefix, index.kind + _COUNTS_END
        )
        found = []
        for key, value in rows:
            try:
                values = json.loads(key[len(prefix) :])
            except ValueError:
                values = None
            if (
                not isinstance(values, list)
                or len(values) != len(index.facets)
                or not all(isinstance(v, str) for v in values)
            ):
                raise damaged_value(ORDER_COUNTS, self._region_id, key, value, "a facet count")
            if index.matches(values, where):
                found.append((tuple(values), self._checked_count(key, value)))
        return found

    def _add_to_count(self, index: OrderedIndex[T], values: Sequence[str], change: int) -> None:
        key = index.count_key(values)
        found = self._store.raw_get(ORDER_COUNTS, self._region_id, key)
        count = self._checked_count(key, found) + change
        if count:
            self._store.raw_put(ORDER_COUNTS, self._region_id, key, count)
        else:
            self._store.raw_delete(ORDER_COUNTS, self._region_id, key)

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
    stored_form: StoredForm[T] | None = None
    """How the records are stored when not as themselves (None: as themselves)."""

    def open(self, store: Store, region_id: str) -> Repository[T]:
        """The repository of this aggregate in ``region_id``."""
        return Repository(self, store, region_id)
