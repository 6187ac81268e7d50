"""The backend contract's checks of ``scan_range``: every combination of bounds, direction and
limit, on empty, committed, uncommitted, rolled-back and large partitions, compared with the
model and with the protocol's scanning fallback (run by :func:`check_storage_backend`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import cast

from .._backends._protocol import StorageBackend, scan_range
from ._contract_values import _KINDS, _PARTITIONS, _expect

# Keys ordered by code point across the planes (UTF-8 byte order agrees), with prefixes of
# one another, NUL, the code points on either side of the surrogates, the last BMP code point
# and an astral one.
_RANGE_KEYS = (
    "",
    "0",
    "a",
    "a\x00",
    "ab",
    "b",
    "z",
    "é",
    "\u4e2d",
    "\ud7ff",
    "\ue000",
    "\uffff",
    "\U0001f600",
)
# Bounds that name no key: between keys, past both ends, and holding lone surrogates (which no
# key can hold, but a bound may: it splits the keys at the same place as the code points do).
_PROBES = ("a\x00\x00", "aa", "c", "\ud800", "a\udfff", "\udbff\udfff", "\U0010ffff")
_BOUNDS: tuple[str | None, ...] = (None, *_RANGE_KEYS, *_PROBES)
_LIMITS = (None, -1, 0, 1, 2, 100)


class _ScanOnly:
    """One partition of a backend seen through ``scan`` only, so ``scan_range`` falls back;
    scanned once, as the backend's state does not change while the check slices it."""

    def __init__(self, backend: StorageBackend, kind: str, partition: str) -> None:
        self._address = (kind, partition)
        self._items = list(backend.scan(kind, partition))

    def scan(self, kind: str, partition: str) -> Iterator[tuple[str, object]]:
        assert (kind, partition) == self._address
        return iter(self._items)


def _model_range(
    items: Sequence[tuple[str, object]],
    start: str | None,
    stop: str | None,
    reverse: bool,
    limit: int | None,
) -> list[tuple[str, object]]:
    """What ``scan_range`` must return, from the items of a partition in key order."""
    found = [
        (key, value)
        for key, value in items
        if (start is None or key >= start) and (stop is None or key < stop)
    ]
    if reverse:
        found.reverse()
    return found if limit is None else found[: max(limit, 0)]


def _expect_ranges(
    backend: StorageBackend,
    kind: str,
    partition: str,
    items: Sequence[tuple[str, object]],
    what: str,
    bounds: tuple[str | None, ...] = _BOUNDS,
) -> None:
    """Every (start, stop, reverse, limit) slice agrees with the model and with the fallback."""
    fallback = cast(StorageBackend, _ScanOnly(backend, kind, partition))
    items = sorted(items)
    for start in bounds:
        for stop in bounds:
            for reverse in (False, True):
                for limit in _LIMITS:
                    expected = _model_range(items, start, stop, reverse, limit)
                    args = (kind, partition, start, stop)
                    actual = scan_range(backend, *args, reverse=reverse, limit=limit)
                    slow = scan_range(fallback, *args, reverse=reverse, limit=limit)
                    if _flat(actual) == _flat(expected) == _flat(slow):
                        continue  # the common case, without _expect's deep walk
                    where = f"{what}: scan_range{(*args, reverse, limit)!r}"
                    _expect(expected, actual, where)
                    _expect(slow, actual, f"{where} against the fallback")


def _flat(items: list[tuple[str, object]]) -> list[tuple[str, type, object]]:
    """Items compared by key, value type and value: exact for the flat values stored here."""
    return [(key, type(value), value) for key, value in items]


def check_scan_range(backend: StorageBackend) -> None:
    """scan_range slices a partition in key order both ways, bounded and limited, everywhere."""
    kind, partition = _KINDS[0], _PARTITIONS[2]
    _expect_ranges(backend, kind, partition, [], "an empty backend")
    _expect_ranges(backend, kind, "s-\ud800", [], "a partition holding a lone surrogate")
    committed = [(key, index) for index, key in enumerate(_RANGE_KEYS)]
    backend.begin()
    for key, value in reversed(committed):
        backend.put(kind, partition, key, value)
    backend.put(kind, _PARTITIONS[1], "b", "a neighbour")
    backend.put(_KINDS[1], partition, "b", "another kind")
    backend.commit()
    _expect_ranges(backend, kind, partition, committed, "after commit")
    _expect_ranges(backend, kind, _PARTITIONS[3], [], "an empty partition")

    backend.begin()
    backend.delete(kind, partition, "a")
    backend.delete(kind, partition, "\uffff")
    backend.put(kind, partition, "ab", "replaced")
    backend.put(kind, partition, "aa", "added")
    uncommitted: dict[str, object] = dict(committed)
    del uncommitted["a"], uncommitted["\uffff"]
    uncommitted.update({"ab": "replaced", "aa": "added"})
    _expect_ranges(backend, kind, partition, list(uncommitted.items()), "inside a unit")

    backend.savepoint()
    for key in _RANGE_KEYS:
        backend.delete(kind, partition, key)
    backend.put(kind, partition, "zz", "in the savepoint")
    _expect_ranges(
        backend, kind, partition, [("aa", "added"), ("zz", "in the savepoint")], "in a savepoint"
    )
    backend.rollback_to()
    _expect_ranges(backend, kind, partition, list(uncommitted.items()), "after rollback_to")
    backend.rollback()
    _expect_ranges(backend, kind, partition, committed, "after rollback")
    _check_large_partition(backend)


def _check_large_partition(backend: StorageBackend) -> None:
    """A partition of thousands of keys, written out of order and thinned at the front, slices
    like a small one (backends may change their structure as a partition grows)."""
    kind, partition = _KINDS[1], _PARTITIONS[3]
    numbers = [(n * 7919) % 3001 for n in range(3001)]  # every number below 3001, shuffled
    backend.begin()
    for number in numbers:
        backend.put(kind, partition, f"{number:05d}", number)
    backend.commit()
    items: dict[str, object] = {f"{n:05d}": n for n in numbers}
    bounds = (None, "", "00000", "00001", "01500", "01500\x00", "02999", "03000", "03001", "9")
    _expect_ranges(backend, kind, partition, list(items.items()), "3001 keys", bounds)
    backend.begin()
    for number in range(2900):
        backend.delete(kind, partition, f"{number:05d}")
        del items[f"{number:05d}"]
    backend.put(kind, partition, "01500", "back")
    items["01500"] = "back"
    _expect_ranges(backend, kind, partition, list(items.items()), "thinned in a unit", bounds)
    backend.rollback()
    items = {f"{n:05d}": n for n in numbers}
    _expect_ranges(backend, kind, partition, list(items.items()), "thinned, rolled back", bounds)
