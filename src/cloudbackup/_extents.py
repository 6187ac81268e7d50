"""Extents and interval arithmetic: the vocabulary of the page-granular data plane.

A disk's contents, a snapshot's delta and a disk's dirty set are ordered maps keyed by start
page (:func:`page_key`: 12 hex digits, so key order is page order). Each entry covers a run of
:data:`PAGE_SIZE`-byte pages ``[start, start + n)``; its value (an *extent value*) says what is
there, in one of these stored forms:

================================  ==============================================================
``digest`` (bytes)                one page, stored as the page-sized blob ``digest`` (sealed
                                  with the disk's data key on an encrypted disk)
``(n, digest, skip)``             ``n`` pages: pages ``skip ..`` of a block-sized blob written
                                  by a version before schema 7 (migrated worlds)
``("g", n, seed)``                ``n`` pages of generated content (an unencrypted disk)
``("G", n, sealed_seed)``         the same with the seed sealed under the disk's data key
``("z", n)``                      ``n`` pages that became zeros (snapshot deltas only)
================================  ==============================================================

Every value that names a digest holds one reference to that blob. Generated content is
defined by its seed alone: byte ``x`` of the disk (an absolute offset) is byte ``x`` of
:func:`cloudbackup._services._crypto.keystream`, so an extent can be cut anywhere and two
adjacent ranges filled with one seed are one extent.

The interval helpers work on sorted lists of disjoint, non-adjacent half-open ranges
``[(a, b), ...]``; they cost the ranges they are given.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._store import damaged_value

__all__ = [
    "PAGE_SIZE",
    "Ranges",
    "block_cover",
    "extent_digest",
    "extent_length",
    "intersect",
    "join",
    "page_key",
    "page_of",
    "parse_extent",
    "size",
    "slice_extent",
    "subtract",
    "union",
]

PAGE_SIZE = 4096
"""Bytes per page: the unit guest content is stored in (the smallest block size, so it divides
every block size)."""

Ranges = list[tuple[int, int]]
"""Sorted, disjoint, non-adjacent half-open ranges."""


def page_key(page: int) -> str:
    """The record key of page ``page`` (12 hex digits: key order is page order)."""
    return f"{page:012x}"


def page_of(key: str) -> int:
    """The page a record key names."""
    return int(key, 16)


def parse_extent(value: object, kind: str, partition: str, key: str) -> object:
    """``value`` if it is a well-formed extent value, else the typed Corrupt error."""
    if type(value) is bytes:
        if len(value) == 32:
            return value
    elif type(value) is tuple and len(value) in (2, 3):
        head = value[0]
        if len(value) == 3 and type(head) is int and head >= 1:
            if type(value[1]) is bytes and len(value[1]) == 32:
                skip = value[2]
                if type(skip) is int and skip >= 0:
                    return value
        elif head == "z" and len(value) == 2:
            if type(value[1]) is int and value[1] >= 1:
                return value
        elif head in ("g", "G") and len(value) == 3 and type(value[1]) is int and value[1] >= 1:
            seed = value[2]
            if (head == "g" and type(seed) is int and 0 <= seed < 2**64) or (
                head == "G" and type(seed) is bytes
            ):
                return value
    raise damaged_value(kind, partition, key, value, "an extent")


def extent_length(value: object) -> int:
    """How many pages an extent value covers."""
    if type(value) is bytes:
        return 1
    assert isinstance(value, tuple)
    head = value[0]
    return head if type(head) is int else value[1]


def extent_digest(value: object) -> bytes | None:
    """The blob an extent value references (one reference), or None."""
    if type(value) is bytes:
        return value
    assert isinstance(value, tuple)
    if type(value[0]) is int:
        return value[1]  # type: ignore[no-any-return]
    return None


def slice_extent(value: object, offset: int, count: int) -> object:
    """The value of ``count`` pages starting ``offset`` pages into an extent of ``value``."""
    if type(value) is bytes:
        assert offset == 0 and count == 1
        return value
    assert isinstance(value, tuple)
    head = value[0]
    if type(head) is int:
        return (count, value[1], value[2] + offset)
    if head == "z":
        return ("z", count)
    return (head, count, value[2])


def join(left: object, left_length: int, right: object) -> object | None:
    """One value for ``left`` (of ``left_length`` pages) followed by ``right``, if they can be
    one extent (zeros, one seed, or consecutive pages of one legacy blob); else None.

    Joining two legacy slices leaves one reference where there were two: the caller drops one.
    """
    if type(left) is bytes or type(right) is bytes:
        return None
    assert isinstance(left, tuple) and isinstance(right, tuple)
    head = left[0]
    if type(head) is int:
        if type(right[0]) is int and right[1] == left[1] and right[2] == left[2] + left_length:
            return (left_length + right[0], left[1], left[2])
        return None
    if head != right[0]:
        return None
    if head == "z":
        return ("z", left_length + right[1])
    if left[2] == right[2]:
        return (head, left_length + right[1], left[2])
    return None


def block_cover(start: int, stop: int, pages_per_block: int) -> tuple[int, int]:
    """The blocks ``[first, last + 1)`` that pages ``[start, stop)`` touch."""
    return start // pages_per_block, (stop - 1) // pages_per_block + 1


def union(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """The union of any ranges, as sorted disjoint non-adjacent ranges."""
    out: Ranges = []
    for a, b in sorted(ranges):
        if a >= b:
            continue
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def subtract(ranges: Ranges, minus: Ranges) -> Ranges:
    """``ranges`` without ``minus`` (both sorted and disjoint)."""
    out: Ranges = []
    j = 0
    for a, b in ranges:
        while j < len(minus) and minus[j][1] <= a:
            j += 1
        k = j
        cur = a
        while k < len(minus) and minus[k][0] < b:
            ma, mb = minus[k]
            if ma > cur:
                out.append((cur, ma))
            cur = max(cur, mb)
            k += 1
        if cur < b:
            out.append((cur, b))
    return out


def intersect(ranges: Ranges, other: Ranges) -> Ranges:
    """The ranges both cover (both sorted and disjoint)."""
    out: Ranges = []
    i = j = 0
    while i < len(ranges) and j < len(other):
        a = max(ranges[i][0], other[j][0])
        b = min(ranges[i][1], other[j][1])
        if a < b:
            out.append((a, b))
        if ranges[i][1] < other[j][1]:
            i += 1
        else:
            j += 1
    return out


def size(ranges: Iterable[tuple[int, int]]) -> int:
    """How many units the ranges cover (they must be disjoint)."""
    return sum(b - a for a, b in ranges)
