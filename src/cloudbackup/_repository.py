"""Repositories: one per aggregate, the only way services read and write their records.

A :class:`Repository` knows its record class, the region it serves, how to name a missing record
(the real API's ``…NotFound`` code and a noun) and the indexes it keeps in step with every write
(such as which disks each instance has). Services ask it for a record (:meth:`~Repository.get`,
which raises the typed error, or :meth:`~Repository.find`), write with :meth:`~Repository.put`
and :meth:`~Repository.delete`, and read an index with :meth:`~Repository.members`. Every read
costs the records it returns: a describe of named ids reads those ids, an index lookup reads
that index's partition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

import attrs

from ._store import Store, raw_kind
from .errors import InvalidParameterError, ResourceNotFoundError

__all__ = ["Index", "Repository", "RepositorySpec"]

T = TypeVar("T")


@attrs.frozen
class Index(Generic[T]):
    """A secondary index a repository keeps: raw kind ``kind``, partition = each value of
    ``partitions(record)``, key = the record's id."""

    kind: str = attrs.field(converter=raw_kind)
    partitions: Callable[[T], Iterable[str]]


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

    def put(self, record: T) -> None:
        """Write a record, moving its index entries to where it now belongs."""
        record_id = self._spec.id_of(record)
        if self._spec.indexes:
            old = self._store.get(self._cls, self._region_id, record_id)
            for index in self._spec.indexes:
                before = set(index.partitions(old)) if old is not None else set()
                after = set(index.partitions(record))
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

    def open(self, store: Store, region_id: str) -> Repository[T]:
        """The repository of this aggregate in ``region_id``."""
        return Repository(self, store, region_id)
