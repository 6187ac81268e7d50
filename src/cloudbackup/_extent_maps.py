"""Ordered extent maps, and how a snapshot leaves its chain.

The maps (the raw kinds below, described in :mod:`cloudbackup._blocks`) are ordered by start
page; :class:`ExtentMaps` holds the primitives on them (each O(log n + the extents it
touches)) and the three ways a snapshot's delta leaves its chain:

- :meth:`~ExtentMaps.merge_into_next`: the deleted snapshot's pages the next snapshot does not
  override move into the next snapshot's delta (costs the deleted snapshot's delta);
- :meth:`~ExtentMaps.absorb_next`: the next snapshot's delta is applied onto the deleted one's,
  whose partition then holds the next snapshot's delta (costs the next snapshot's delta);
- :meth:`~ExtentMaps.remove`: the cheaper of the two, chosen from bounded counts of the two
  deltas, so deleting any snapshot of a chain costs the smaller delta.

:class:`cloudbackup._blocks.BlockMaps` adds page contents, guest I/O and whole-chain reads.
"""

from __future__ import annotations

from ._extents import (
    PAGE_SIZE,
    Ranges,
    block_cover,
    extent_digest,
    extent_length,
    intersect,
    join,
    page_key,
    page_of,
    parse_extent,
    size,
    slice_extent,
    subtract,
    union,
)
from ._store import BlockStore, Store, damaged_value, raw_kind

__all__ = [
    "DISK_DIRTY",
    "DISK_EXTENTS",
    "SNAPSHOT_DELTA_HOME",
    "SNAPSHOT_EXTENTS",
    "SNAPSHOT_ZERO_BLOCKS",
    "ExtentMaps",
    "Piece",
    "block_key",
]

DISK_EXTENTS = raw_kind("ecs.disk_extents")
"""partition = disk id: the disk's current contents, start page -> extent value."""
DISK_DIRTY = raw_kind("ecs.disk_dirty_pages")
"""partition = disk id: page runs changed since the disk's latest snapshot (start -> pages)."""
SNAPSHOT_EXTENTS = raw_kind("ecs.snapshot_extents")
"""partition = snapshot id: the snapshot's delta, start page -> extent value (zeros explicit)."""
SNAPSHOT_ZERO_BLOCKS = raw_kind("ecs.snapshot_zero_blocks")
"""partition = snapshot id: runs of touched blocks that were all zeros (start block -> blocks)."""
SNAPSHOT_DELTA_HOME = raw_kind("ecs.snapshot_delta_home")
"""partition = ``""``, key = snapshot id: the partition of :data:`SNAPSHOT_EXTENTS` and
:data:`SNAPSHOT_ZERO_BLOCKS` that holds the snapshot's delta, when it is not the snapshot's own
id. Deleting a snapshot whose successor's delta is the smaller one (always so for the oldest
snapshot under retention: it holds the chain's base) applies the successor's delta onto the
deleted one's and hands that partition to the successor, so retention costs what the
successor changed, not what the disk holds (see :meth:`ExtentMaps.remove`)."""

Piece = tuple[int, object]
"""``(start page, extent value)``."""


def block_key(index: int) -> str:
    """The record key of block ``index`` (12 hex digits: key order is block order)."""
    return f"{index:012x}"


def _run(value: object, kind: str, partition: str, key: str) -> int:
    """A stored run length (of a dirty or zero-block run): an int of at least 1."""
    if type(value) is not int or value < 1:
        raise damaged_value(kind, partition, key, value, "a run length")
    return value


_PROBE = 8
"""How many extents :meth:`ExtentMaps.remove` first reads of each delta to compare them."""


class ExtentMaps:
    """The ordered extent maps of one store: primitives, and removing a snapshot's delta."""

    def __init__(self, store: Store, blocks: BlockStore) -> None:
        self.store = store
        self.blocks = blocks
        self.pages_per_block = blocks.block_size // PAGE_SIZE

    @property
    def block_size(self) -> int:
        """Bytes per block (the unit of snapshot accounting)."""
        return self.blocks.block_size

    # -- references -------------------------------------------------------------------------
    def _hold(self, value: object) -> None:
        digest = extent_digest(value)
        if digest is not None:
            self.blocks.incref(digest)

    def _drop(self, value: object) -> None:
        digest = extent_digest(value)
        if digest is not None:
            self.blocks.decref(digest)

    def home(self, snapshot_id: str) -> str:
        """The partition holding a snapshot's delta (see :data:`SNAPSHOT_DELTA_HOME`)."""
        value = self.store.raw_get(SNAPSHOT_DELTA_HOME, "", snapshot_id)
        if value is None:
            return snapshot_id
        if type(value) is not str or not value:
            raise damaged_value(SNAPSHOT_DELTA_HOME, "", snapshot_id, value, "a partition name")
        return value

    # -- ordered maps ----------------------------------------------------------------------
    def _extents(self, kind: str, partition: str) -> list[Piece]:
        """Every extent of a map, in page order."""
        return [
            (page_of(key), parse_extent(value, kind, partition, key))
            for key, value in self.store.raw_scan(kind, partition)
        ]

    def _overlapping(self, kind: str, partition: str, a: int, b: int) -> list[Piece]:
        """The extents of a map that overlap pages ``[a, b)``, in page order: O(log n + k)."""
        store = self.store
        out: list[Piece] = []
        below = store.raw_range(kind, partition, stop=page_key(a), reverse=True, limit=1)
        if below:
            key, value = below[0]
            value = parse_extent(value, kind, partition, key)
            start = page_of(key)
            if start + extent_length(value) > a:
                out.append((start, value))
        for key, value in store.raw_range(kind, partition, start=page_key(a), stop=page_key(b)):
            out.append((page_of(key), parse_extent(value, kind, partition, key)))
        return out

    def _cut(self, kind: str, partition: str, a: int, b: int) -> list[Piece]:
        """Remove pages ``[a, b)`` from a map; the removed pieces, clipped to ``[a, b)``.

        Each removed piece carries the reference its value names, now owned by the caller
        (who moves it elsewhere or drops it). An extent cut in two keeps a reference per part.
        """
        store = self.store
        removed: list[Piece] = []
        for start, value in self._overlapping(kind, partition, a, b):
            end = start + extent_length(value)
            lo, hi = max(start, a), min(end, b)
            if start < a:
                store.raw_put(kind, partition, page_key(start), slice_extent(value, 0, a - start))
                self._hold(value)
            else:
                store.raw_delete(kind, partition, page_key(start))
            if end > b:
                store.raw_put(kind, partition, page_key(b), slice_extent(value, b - start, end - b))
                self._hold(value)
            removed.append((lo, slice_extent(value, lo - start, hi - lo)))
        return removed

    def _coalesce(self, kind: str, partition: str, at: int) -> None:
        """Join the extent ending at page ``at`` with the one starting there, if they can be one."""
        store = self.store
        right_key = page_key(at)
        right = store.raw_get(kind, partition, right_key)
        if right is None:
            return
        below = store.raw_range(kind, partition, stop=right_key, reverse=True, limit=1)
        if not below:
            return
        left_key, left = below[0]
        left = parse_extent(left, kind, partition, left_key)
        left_length = extent_length(left)
        if page_of(left_key) + left_length != at:
            return
        right = parse_extent(right, kind, partition, right_key)
        joined = join(left, left_length, right)
        if joined is None:
            return
        store.raw_delete(kind, partition, right_key)
        store.raw_put(kind, partition, left_key, joined)
        self._drop(right)  # two references became one

    def _add_run(self, kind: str, partition: str, a: int, b: int) -> None:
        """Add ``[a, b)`` to a map of runs (dirty pages, zero blocks), merging what it meets."""
        store = self.store
        lo, hi = a, b
        below = store.raw_range(kind, partition, stop=page_key(a + 1), reverse=True, limit=1)
        if below:
            key, value = below[0]
            start = page_of(key)
            end = start + _run(value, kind, partition, key)
            if end >= a:  # overlaps or touches: the merged run is stored under its key
                lo, hi = start, max(hi, end)
        for key, value in store.raw_range(
            kind, partition, start=page_key(a + 1), stop=page_key(b + 1)
        ):
            hi = max(hi, page_of(key) + _run(value, kind, partition, key))
            store.raw_delete(kind, partition, key)
        store.raw_put(kind, partition, page_key(lo), hi - lo)

    def _runs(self, kind: str, partition: str) -> Ranges:
        """Every run of a map of runs, as ranges."""
        return [
            (page_of(key), page_of(key) + _run(value, kind, partition, key))
            for key, value in self.store.raw_scan(kind, partition)
        ]

    def _blocks_of(self, ranges: list[tuple[int, int]]) -> Ranges:
        ppb = self.pages_per_block
        return union(block_cover(a, b, ppb) for a, b in ranges)

    def _nonzero_blocks(self, kind: str, partition: str, blocks: Ranges) -> Ranges:
        """Which of ``blocks`` hold a non-zero extent of a map."""
        ppb = self.pages_per_block
        found: list[tuple[int, int]] = []
        for b0, b1 in blocks:
            for s, v in self._overlapping(kind, partition, b0 * ppb, b1 * ppb):
                if not (type(v) is tuple and v[0] == "z"):
                    lo, hi = max(s, b0 * ppb), min(s + extent_length(v), b1 * ppb)
                    found.append(block_cover(lo, hi, ppb))
        return intersect(blocks, union(found))

    # -- removing a snapshot from its chain ------------------------------------------------
    def _fewer_extents(self, a: str, b: str) -> bool:
        """Whether delta partition ``a`` holds fewer extents than ``b``.

        Reads at most about twice the smaller count from each (bounded slices, growing
        fourfold): O(log n + min), never a count of the larger delta (on SQLite a count is a
        scan of the partition's index range).
        """
        raw_range = self.store.raw_range
        limit = _PROBE
        while True:
            in_a = len(raw_range(SNAPSHOT_EXTENTS, a, limit=limit))
            if in_a < limit:  # all of a: b is larger iff it has more than that
                return len(raw_range(SNAPSHOT_EXTENTS, b, limit=in_a + 1)) > in_a
            if len(raw_range(SNAPSHOT_EXTENTS, b, limit=limit)) < limit:
                return False  # all of b, fewer than a's first `limit`
            limit *= 4

    def remove(
        self, snapshot_id: str, next_id: str | None, held: int, dirty_disk_id: str | None
    ) -> tuple[int, int]:
        """Drop a snapshot's delta from its chain, wherever the snapshot is in it, at the
        cost of the smaller of its own delta and the next snapshot's.

        With a next snapshot (``next_id``) whose delta has fewer extents, that delta is
        applied onto this one's (:meth:`absorb_next`); otherwise this one's pages move into
        the next (:meth:`merge_into_next`). Both leave every other snapshot's contents, zero
        blocks and counts the same; only which partition holds the next snapshot's delta
        differs (:data:`SNAPSHOT_DELTA_HOME`). Without a next snapshot see
        :meth:`merge_into_next` (``dirty_disk_id``).

        Args:
            held: the snapshot's incremental blocks (as its record counts them).

        Returns:
            ``(moved, freed)`` as :meth:`merge_into_next`.
        """
        if next_id is None:
            return self.merge_into_next(snapshot_id, None, dirty_disk_id)
        own, top = self.home(snapshot_id), self.home(next_id)
        if self._fewer_extents(top, own):
            return self._absorb(snapshot_id, next_id, own, top, held)
        return self._merge(snapshot_id, own, top, None)

    def merge_into_next(
        self, snapshot_id: str, next_id: str | None, dirty_disk_id: str | None
    ) -> tuple[int, int]:
        """Drop a snapshot's delta, keeping every other snapshot of its chain whole.

        Pages the next snapshot (``next_id``) does not override move to it; the others are
        released. Without a next snapshot the delta is released, and when ``dirty_disk_id``
        names the disk the chain belongs to, its pages are marked dirty on it again (its
        next snapshot must hold them). Costs the extents of the delta (and those of the next
        snapshot's delta it meets), not the disk.

        Returns:
            ``(moved, freed)``: counted blocks that moved to the next snapshot's delta, and
            counted blocks released (they add up to the snapshot's incremental blocks).
        """
        return self._merge(
            snapshot_id,
            self.home(snapshot_id),
            None if next_id is None else self.home(next_id),
            dirty_disk_id,
        )

    def _merge(
        self, own: str, snapshot_id: str, next_id: str | None, dirty_disk_id: str | None
    ) -> tuple[int, int]:
        """:meth:`merge_into_next` of snapshot ``own`` whose delta lives in partition
        ``snapshot_id``, into the delta partition ``next_id`` (homes already resolved)."""
        store = self.store
        store.raw_delete(SNAPSHOT_DELTA_HOME, "", own)
        delta = self._extents(SNAPSHOT_EXTENTS, snapshot_id)
        zero = self._runs(SNAPSHOT_ZERO_BLOCKS, snapshot_id)
        touched = self._blocks_of([(s, s + extent_length(v)) for s, v in delta])
        held = size(touched) - size(zero)
        store.raw_clear(SNAPSHOT_EXTENTS, snapshot_id)
        store.raw_clear(SNAPSHOT_ZERO_BLOCKS, snapshot_id)
        if next_id is None:
            for s, v in delta:
                self._drop(v)
                if dirty_disk_id is not None:
                    self._add_run(DISK_DIRTY, dirty_disk_id, s, s + extent_length(v))
            return 0, held
        ppb = self.pages_per_block
        child_blocks: list[tuple[int, int]] = []
        for b0, b1 in touched:
            for s, v in self._overlapping(SNAPSHOT_EXTENTS, next_id, b0 * ppb, b1 * ppb):
                lo, hi = max(s, b0 * ppb), min(s + extent_length(v), b1 * ppb)
                child_blocks.append(block_cover(lo, hi, ppb))
        moving = subtract(touched, union(child_blocks))
        zero_moving = intersect(zero, moving)
        moved = size(moving) - size(zero_moving)
        seams: list[int] = []
        for s, v in delta:
            e = s + extent_length(v)
            covered = union(
                (max(cs, s), min(cs + extent_length(cv), e))
                for cs, cv in self._overlapping(SNAPSHOT_EXTENTS, next_id, s, e)
            )
            gaps = subtract([(s, e)], covered)
            if not gaps:
                self._drop(v)
            for n, (a, b) in enumerate(gaps):
                piece = slice_extent(v, a - s, b - a)
                if n:
                    self._hold(piece)
                store.raw_put(SNAPSHOT_EXTENTS, next_id, page_key(a), piece)
                seams += (a, b)
        for at in seams:
            self._coalesce(SNAPSHOT_EXTENTS, next_id, at)
        for b0, b1 in zero_moving:
            self._add_run(SNAPSHOT_ZERO_BLOCKS, next_id, b0, b1)
        return moved, held - moved

    def absorb_next(self, snapshot_id: str, next_id: str, held: int) -> tuple[int, int]:
        """Drop a snapshot that has a next snapshot (``held``: its counted blocks) by
        applying the next snapshot's delta onto its delta, which then becomes the next
        snapshot's.

        The result is what :meth:`merge_into_next` gives, wherever the snapshot is in its
        chain, but the work is the next snapshot's delta (and the extents of this one's it
        overrides), not this one's: under retention the oldest snapshot holds the chain's
        base, everything the disk held, while its successor holds a day's change; a daily
        snapshot kept between longer-kept ones has gathered the days before it.

        Returns:
            ``(moved, freed)`` as :meth:`merge_into_next`.
        """
        return self._absorb(snapshot_id, next_id, self.home(snapshot_id), self.home(next_id), held)

    def _absorb(
        self, snapshot_id: str, next_id: str, base: str, top: str, held: int
    ) -> tuple[int, int]:
        """:meth:`absorb_next` with the two delta partitions (``base``: the deleted
        snapshot's, ``top``: the next one's) already resolved."""
        store = self.store
        ppb = self.pages_per_block
        delta = self._extents(SNAPSHOT_EXTENTS, top)
        top_zero = self._runs(SNAPSHOT_ZERO_BLOCKS, top)
        overridden = self._blocks_of([(s, s + extent_length(v)) for s, v in delta])
        # Counted blocks of the oldest snapshot that the next one overrides are freed; the
        # rest stay counted, now by the next snapshot.
        base_touched: list[tuple[int, int]] = []
        for b0, b1 in overridden:
            for s, v in self._overlapping(SNAPSHOT_EXTENTS, base, b0 * ppb, b1 * ppb):
                lo, hi = max(s, b0 * ppb), min(s + extent_length(v), b1 * ppb)
                base_touched.append(block_cover(lo, hi, ppb))
        base_zero = intersect(overridden, self._cut_runs(SNAPSHOT_ZERO_BLOCKS, base, overridden))
        freed = size(intersect(overridden, union(base_touched))) - size(base_zero)
        seams: list[int] = []
        for s, v in delta:
            e = s + extent_length(v)
            for _, piece in self._cut(SNAPSHOT_EXTENTS, base, s, e):
                self._drop(piece)
            store.raw_put(SNAPSHOT_EXTENTS, base, page_key(s), v)  # the reference moves
            seams += (s, e)
        for at in seams:
            self._coalesce(SNAPSHOT_EXTENTS, base, at)
        for b0, b1 in top_zero:
            self._add_run(SNAPSHOT_ZERO_BLOCKS, base, b0, b1)
        store.raw_clear(SNAPSHOT_EXTENTS, top)
        store.raw_clear(SNAPSHOT_ZERO_BLOCKS, top)
        store.raw_delete(SNAPSHOT_DELTA_HOME, "", snapshot_id)
        # The base partition is named after this snapshot (or an older, deleted one: homes
        # only ever pass forward along a chain), never after next_id, so the next snapshot
        # now always has a home of its own.
        store.raw_put(SNAPSHOT_DELTA_HOME, "", next_id, base)
        return held - freed, freed

    def _cut_runs(self, kind: str, partition: str, ranges: Ranges) -> Ranges:
        """Remove ``ranges`` from a map of runs; the runs removed (clipped to ``ranges``)."""
        store = self.store
        removed: list[tuple[int, int]] = []
        for a, b in ranges:
            found: list[tuple[str, int, int]] = []
            below = store.raw_range(kind, partition, stop=page_key(a), reverse=True, limit=1)
            for key, value in below + store.raw_range(
                kind, partition, start=page_key(a), stop=page_key(b)
            ):
                start = page_of(key)
                end = start + _run(value, kind, partition, key)
                if end > a:
                    found.append((key, start, end))
            for key, start, end in found:
                store.raw_delete(kind, partition, key)
                if start < a:
                    store.raw_put(kind, partition, key, a - start)
                if end > b:
                    store.raw_put(kind, partition, page_key(b), end - b)
                removed.append((max(start, a), min(end, b)))
        return union(removed)
