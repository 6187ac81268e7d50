"""Repositories: typed lookups and the indexes they keep in step with every write."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import attrs
import pytest

from cloudbackup import InMemoryBackend, StorageBackend, errors
from cloudbackup._repository import Index, Repository, RepositorySpec, StoredForm
from cloudbackup._store import Store


@attrs.frozen
class Box:
    """A record with an id and the tags it is indexed under."""

    KIND: ClassVar[str] = "test.box"

    box_id: str
    shelves: tuple[str, ...] = ()


ON_SHELF: Index[Box] = Index("test.shelf", lambda b: b.shelves)
BOXES = RepositorySpec(Box, lambda b: b.box_id, "InvalidBoxId.NotFound", "box", (ON_SHELF,))


def open_boxes() -> tuple[Store, Repository[Box]]:
    """A fresh store and its box repository in one region."""
    store = Store(InMemoryBackend())
    return store, BOXES.open(store, "cn-hangzhou")


@pytest.mark.parametrize("bad", ["", None, 7, b"b-1"])
def test_get_refuses_an_id_that_is_not_a_string_as_malformed(bad: object) -> None:
    """A non-string or empty id is the .Malformed variant of the NotFound code."""
    _, boxes = open_boxes()
    with pytest.raises(errors.InvalidParameterError) as info:
        boxes.get(bad)
    assert "InvalidBoxId.Malformed" == info.value.code


def test_get_of_a_missing_id_is_the_typed_not_found_error() -> None:
    """A missing box is ResourceNotFoundError with the code, the id and a recommendation."""
    _, boxes = open_boxes()
    with pytest.raises(errors.ResourceNotFoundError) as info:
        boxes.get("b-9")
    assert ("InvalidBoxId.NotFound", ("b-9",), 404) == (
        info.value.code,
        info.value.ids,
        info.value.http_status,
    )
    assert None is boxes.find("b-9")


def test_the_index_follows_every_put_and_delete() -> None:
    """Moving a record between partitions moves its index entries; delete removes them."""
    store, boxes = open_boxes()
    with store.unit():
        boxes.put(Box("b-1", ("left",)))
        boxes.put(Box("b-2", ("left", "right")))
    assert (["b-1", "b-2"], ["b-2"]) == (
        [b.box_id for b in boxes.members(ON_SHELF, "left")],
        [b.box_id for b in boxes.members(ON_SHELF, "right")],
    )
    with store.unit():
        boxes.put(Box("b-1", ("right",)))
        boxes.delete(Box("b-2", ("left", "right")))
    assert ([], ["b-1"]) == (
        boxes.members(ON_SHELF, "left"),
        [b.box_id for b in boxes.members(ON_SHELF, "right")],
    )
    assert [] == store.raw_scan("test.shelf", "left")


def test_named_or_all_reads_the_named_records_in_order_and_skips_missing_ones() -> None:
    """With ids: those that exist, in the order named; without: the whole region."""
    store, boxes = open_boxes()
    with store.unit():
        for n in (3, 1, 2):
            boxes.put(Box(f"b-{n}"))
    assert ["b-2", "b-3"] == [b.box_id for b in boxes.named_or_all(["b-2", "b-9", "b-3"])]
    assert ["b-1", "b-2", "b-3"] == [b.box_id for b in boxes.named_or_all([])]


class ReadCounting(InMemoryBackend):
    """An in-memory backend that counts record reads."""

    gets = 0

    def get(self, kind: str, partition: str, key: str) -> object | None:
        self.gets += 1
        return super().get(kind, partition, key)


def test_put_with_the_old_record_given_moves_the_index_without_reading_it() -> None:
    """put(old=...) moves index entries as a plain put does, and reads no record."""
    backend = ReadCounting()
    store = Store(backend)
    boxes = BOXES.open(store, "cn-hangzhou")
    first, moved = Box("b-1", ("left",)), Box("b-1", ("right",))
    with store.unit():
        boxes.put(first, old=None)
        boxes.put(moved, old=first)
    assert (0, [], ["b-1"], moved) == (
        backend.gets,
        store.raw_scan("test.shelf", "left"),
        [key for key, _ in store.raw_scan("test.shelf", "right")],
        boxes.find("b-1"),
    )


def test_put_without_the_old_record_reads_it() -> None:
    """A plain put reads the stored record once, to find the index entries to move."""
    backend = ReadCounting()
    store = Store(backend)
    boxes = BOXES.open(store, "cn-hangzhou")
    with store.unit():
        boxes.put(Box("b-1", ("left",)))
        boxes.put(Box("b-1", ("right",)))
    assert (2, []) == (backend.gets, store.raw_scan("test.shelf", "left"))


def _box_stored(box: Box) -> object:
    """A box stored as a flat tuple, except one on the shelf "whole" (stored as itself)."""
    return box if "whole" in box.shelves else ("box/1", box.box_id, box.shelves)


def _box_restored(value: object) -> Box | None:
    """A box from its stored tuple, or None for anything else."""
    if type(value) is tuple and len(value) == 3 and value[0] == "box/1":
        return Box(value[1], value[2])
    return None


FLAT_BOXES = RepositorySpec(
    Box,
    lambda b: b.box_id,
    "InvalidBoxId.NotFound",
    "box",
    (ON_SHELF,),
    stored_form=StoredForm(_box_stored, _box_restored),
)


def test_a_stored_form_is_what_is_written_and_every_read_gives_the_record(
    cloudbackup_backend_factory: Callable[[], StorageBackend],
) -> None:
    """With a stored form, the backend holds the tuples and get/find/scan/members/pages read
    records, on either backend."""
    store = Store(cloudbackup_backend_factory())
    boxes = FLAT_BOXES.open(store, "cn-hangzhou")
    with store.unit():
        for box_id in ("b-2", "b-1", "b-3"):
            boxes.put(Box(box_id, ("top",)))
    one, two, three = Box("b-1", ("top",)), Box("b-2", ("top",)), Box("b-3", ("top",))
    assert ("box/1", "b-1", ("top",)) == store.raw_get(Box.KIND, "cn-hangzhou", "b-1")
    assert (one, one) == (boxes.get("b-1"), boxes.find("b-1"))
    assert [one, two, three] == boxes.scan() == boxes.members(ON_SHELF, "top")
    assert [three, one] == boxes.named_or_all(["b-3", "b-9", "b-1"])
    assert [two, three] == boxes.in_id_order(after="b-1", limit=5)
    with store.unit():
        boxes.put(Box("b-1", ("bottom",)))  # the old record is read through the form
    assert [two, three] == boxes.members(ON_SHELF, "top")
    assert [Box("b-1", ("bottom",))] == boxes.members(ON_SHELF, "bottom")


def test_a_record_stored_whole_still_reads_and_a_foreign_value_is_corrupt() -> None:
    """A record object under a stored form's kind (written before the form, or kept whole)
    reads as itself; a value the form does not know is StorageBackend.Corrupt."""
    store = Store(InMemoryBackend())
    boxes = FLAT_BOXES.open(store, "cn-hangzhou")
    kept = Box("b-1", ("whole",))
    with store.unit():
        boxes.put(kept)
        store.raw_put(Box.KIND, "cn-hangzhou", "b-2", ("box/2", "b-2", ()))
    assert kept is store.raw_get(Box.KIND, "cn-hangzhou", "b-1")
    assert kept == boxes.get("b-1")
    for read in (
        lambda: boxes.get("b-2"),
        boxes.scan,
        lambda: boxes.in_id_order(after=None, limit=5),
    ):
        with pytest.raises(errors.StorageBackendError) as info:
            read()
        assert "StorageBackend.Corrupt" == info.value.code
