"""Extent maps and snapshot chains: the algorithms every piece of disk data goes through.

Guest content is stored in 4 KiB pages (:data:`~cloudbackup._extents.PAGE_SIZE`), each a
content-addressed, reference-counted blob of the :class:`~cloudbackup._store.BlockStore`
(sealed per page with the disk's data key on an encrypted disk), or described, not stored, as
generated content (a seed). Three ordered maps of extents (see :mod:`cloudbackup._extents`)
hold who has what:

- :data:`DISK_EXTENTS` (partition = disk id): the disk's current contents; unwritten or zeroed
  pages have no entry (disks are sparse);
- :data:`DISK_DIRTY` (partition = disk id): page ranges changed since the disk's latest
  snapshot, value = the run's length in pages;
- :data:`SNAPSHOT_EXTENTS` (partition = snapshot id): the snapshot's delta against the previous
  snapshot of its chain, with explicit zero extents where pages became zeros; the content at a
  snapshot is the chain's deltas up to it, newest first wins;
- :data:`SNAPSHOT_ZERO_BLOCKS` (partition = snapshot id, key = block index): runs of blocks the
  delta touches that were all zeros at the snapshot, value = the run's length in blocks.

Snapshots keep block-level accounting (what the real service bills): a snapshot's
incremental blocks are the blocks of the world's ``block_size`` its delta touches, minus the
blocks that were all zeros at the snapshot. Every figure is interval arithmetic over extents,
never a loop over blocks or pages.

:class:`BlockMaps` holds the operations on these maps; each costs the extents it touches (and,
for guest I/O, the bytes it moves), never the size of the disk:

- :meth:`~BlockMaps.write` / :meth:`~BlockMaps.generate` / :meth:`~BlockMaps.read`: a guest's
  byte range (real bytes, or generated content from a seed);
- :meth:`~BlockMaps.capture`: a new snapshot takes the disk's dirty extents;
- :meth:`~BlockMaps.remove`: a deleted snapshot's delta leaves its chain, at the cost of the
  smaller of its delta and the next snapshot's (the next one absorbs it, or its delta is
  applied onto it: :mod:`cloudbackup._extent_maps`); the newest marks its pages dirty on its
  disk again;
- :meth:`~BlockMaps.chain_extents`: the full contents at a snapshot, as extents;
  :meth:`~BlockMaps.read_at` a byte range of them;
- :meth:`~BlockMaps.reset`: roll a disk back to a snapshot's extents;
- :meth:`~BlockMaps.populate`: give a new disk a snapshot's extents;
- :meth:`~BlockMaps.release`: drop a disk's map.

They know nothing about instances, statuses or events: the ECS service checks the rules, then
calls these. Replication and restore reuse them.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._extent_maps import (
    DISK_DIRTY,
    DISK_EXTENTS,
    SNAPSHOT_DELTA_HOME,
    SNAPSHOT_EXTENTS,
    SNAPSHOT_ZERO_BLOCKS,
    ExtentMaps,
    Piece,
    block_key,
)
from ._extents import (
    PAGE_SIZE,
    Ranges,
    extent_length,
    join,
    page_key,
    parse_extent,
    size,
    slice_extent,
    subtract,
    union,
)
from ._services import _crypto
from .errors import StorageBackendError

__all__ = [
    "DISK_BLOCKS",
    "DISK_DIRTY",
    "DISK_EXTENTS",
    "SNAPSHOT_BLOCKS",
    "SNAPSHOT_DELTA_HOME",
    "SNAPSHOT_EXTENTS",
    "SNAPSHOT_ZERO_BLOCKS",
    "BlockMaps",
    "Piece",
    "block_key",
]

#: Older names of the content maps (before schema 7 they were block maps).
DISK_BLOCKS = DISK_EXTENTS
SNAPSHOT_BLOCKS = SNAPSHOT_EXTENTS

_ZERO_PAGE = bytes(PAGE_SIZE)
_FAR = 2**48  # beyond every page of every disk (64 TiB is 2**34 pages)


class BlockMaps(ExtentMaps):
    """The extent-map and chain operations over one store and its page contents (the
    ordered-map primitives and removing a snapshot's delta are :class:`ExtentMaps`')."""

    # -- page contents ---------------------------------------------------------------------
    def _checked(self, stored: bytes, digest: bytes) -> bytes:
        # A plaintext blob is its own proof: its digest is its SHA-256 (an encrypted one is
        # authenticated by AES-GCM instead), so damage is caught on every read.
        if hashlib.sha256(stored).digest() != digest:
            raise StorageBackendError(
                f"Block {digest.hex()} does not match its digest: the stored data is damaged.",
                code="StorageBackend.Corrupt",
                ids=(digest.hex(),),
                recommend="The stored world is damaged; restore it from a backup.",
            )
        return stored

    def _content(self, start: int, value: object, a: int, b: int, cipher: AESGCM | None) -> bytes:
        """The plaintext of pages ``[a, b)`` of the extent ``value`` starting at ``start``
        (empty bytes for zeros)."""
        if type(value) is bytes:
            stored = self.blocks.load(value)
            plain = (
                self._checked(stored, value)
                if cipher is None
                else _crypto.decrypt_page(cipher, stored, start)
            )
            wanted = PAGE_SIZE
        else:
            assert isinstance(value, tuple)
            head = value[0]
            wanted = (b - a) * PAGE_SIZE
            if head == "z":
                return b""
            if head == "g":
                return _crypto.keystream(value[2], a * PAGE_SIZE, wanted)
            if head == "G":
                if cipher is None:
                    raise StorageBackendError(
                        "Generated content with a sealed seed is on a disk without a data key.",
                        code="StorageBackend.Corrupt",
                        recommend="The stored world is damaged; restore it from a backup.",
                    )
                return _crypto.keystream(_crypto.open_seed(cipher, value[2]), a * PAGE_SIZE, wanted)
            digest, skip = value[1], value[2]
            stored = self.blocks.load(digest)
            if cipher is None:
                whole = self._checked(stored, digest)
            else:
                block = (start - skip) // self.pages_per_block
                whole = _crypto.decrypt_block(cipher, stored, block)
            first = skip + a - start
            plain = whole[first * PAGE_SIZE : (first + b - a) * PAGE_SIZE]
        if len(plain) != wanted:
            raise StorageBackendError(
                f"An extent at page {start} names {wanted} bytes, its blob holds {len(plain)}.",
                code="StorageBackend.Corrupt",
                recommend="The stored world is damaged; restore it from a backup.",
            )
        return plain

    def _assemble(
        self, pieces: list[tuple[int, object, int, int]], p0: int, p1: int, cipher: AESGCM | None
    ) -> bytearray:
        buf = bytearray((p1 - p0) * PAGE_SIZE)
        for start, value, a, b in pieces:
            data = self._content(start, value, a, b, cipher)
            if data:
                buf[(a - p0) * PAGE_SIZE : (b - p0) * PAGE_SIZE] = data
        return buf

    def _store_page(
        self, disk_id: str, page: int, data: bytes, cipher: AESGCM | None, nonce: bytes | None
    ) -> None:
        """Store one non-zero page of plaintext at ``page`` of a disk (an empty slot)."""
        if cipher is not None:
            assert nonce is not None
            data = _crypto.encrypt_page(cipher, nonce, data, page)
        digest = self.blocks.intern(data)
        self.store.raw_put(DISK_EXTENTS, disk_id, page_key(page), digest)

    # -- guest I/O -------------------------------------------------------------------------
    def read(self, disk_id: str, offset: int, length: int, cipher: AESGCM | None) -> bytes:
        """``length`` (> 0) bytes of a disk at ``offset``; unwritten pages read as zeros."""
        p0, p1 = offset // PAGE_SIZE, (offset + length - 1) // PAGE_SIZE + 1
        pieces = [
            (s, v, max(s, p0), min(s + extent_length(v), p1))
            for s, v in self._overlapping(DISK_EXTENTS, disk_id, p0, p1)
        ]
        buf = self._assemble(pieces, p0, p1, cipher)
        head = offset - p0 * PAGE_SIZE
        return bytes(memoryview(buf)[head : head + length])

    def write(
        self,
        disk_id: str,
        offset: int,
        payload: bytes,
        cipher: AESGCM | None,
        nonces: Callable[[int], list[bytes]],
    ) -> None:
        """Write ``payload`` (non-empty) at ``offset``; changed pages are marked dirty.

        Only the pages the range covers are touched (a read-modify-write of at most two
        partial edge pages). A page that becomes all zeros is dropped (disks are sparse);
        rewriting a page with the plaintext it already holds changes nothing. With a
        ``cipher`` every new page is sealed with a fresh nonce from ``nonces(count)``.
        """
        p0, p1 = offset // PAGE_SIZE, (offset + len(payload) - 1) // PAGE_SIZE + 1
        old = self.read(disk_id, p0 * PAGE_SIZE, (p1 - p0) * PAGE_SIZE, cipher)
        head = offset - p0 * PAGE_SIZE
        if head == 0 and len(payload) == len(old):
            new: bytes | bytearray = payload
        else:
            new = bytearray(old)
            new[head : head + len(payload)] = payload
        old_view, new_view = memoryview(old), memoryview(new)
        changed: list[int] = []
        for i in range(p1 - p0):
            lo, hi = i * PAGE_SIZE, (i + 1) * PAGE_SIZE
            if old_view[lo:hi] != new_view[lo:hi]:
                changed.append(p0 + i)
        if not changed:
            return
        runs = union((p, p + 1) for p in changed)
        stored = [
            p
            for p in changed
            if new_view[(p - p0) * PAGE_SIZE : (p - p0 + 1) * PAGE_SIZE] != _ZERO_PAGE
        ]
        fresh = iter(nonces(len(stored)) if cipher is not None and stored else ())
        for a, b in runs:
            for _, value in self._cut(DISK_EXTENTS, disk_id, a, b):
                self._drop(value)
        for p in stored:
            lo = (p - p0) * PAGE_SIZE
            data = bytes(new_view[lo : lo + PAGE_SIZE])
            self._store_page(disk_id, p, data, cipher, next(fresh, None))
        for a, b in runs:
            self._add_run(DISK_DIRTY, disk_id, a, b)

    def generate(
        self,
        disk_id: str,
        offset: int,
        length: int,
        seed: int,
        cipher: AESGCM | None,
        nonces: Callable[[int], list[bytes]],
    ) -> None:
        """Make bytes ``[offset, offset + length)`` (length > 0) generated content of ``seed``.

        Whole pages become one extent holding the seed (sealed under ``cipher`` when there is
        one), joined with a neighbour of the same seed; a partly covered edge page is
        regenerated, spliced into its old content and stored. The cost is O(1) records and at
        most two pages of bytes, whatever ``length``. Every covered page is marked dirty.
        """
        end = offset + length
        p0, p1 = offset // PAGE_SIZE, (end - 1) // PAGE_SIZE + 1
        f0, f1 = -(-offset // PAGE_SIZE), end // PAGE_SIZE
        if f0 >= f1:
            f0 = f1 = p1  # no whole page: every covered page is an edge
        edges = [*range(p0, f0), *range(max(f1, f0), p1)]
        edge_pages: list[tuple[int, bytes]] = []
        for p in edges:
            start = p * PAGE_SIZE
            page = bytearray(self.read(disk_id, start, PAGE_SIZE, cipher))
            lo, hi = max(offset, start), min(end, start + PAGE_SIZE)
            page[lo - start : hi - start] = _crypto.keystream(seed, lo, hi - lo)
            edge_pages.append((p, bytes(page)))
        for _, old in self._cut(DISK_EXTENTS, disk_id, p0, p1):
            self._drop(old)
        edge_pages = [(p, data) for p, data in edge_pages if data != _ZERO_PAGE]
        value: object | None = None
        if f0 < f1:
            value = (
                ("g", f1 - f0, seed)
                if cipher is None
                else self._sealed_neighbour(disk_id, f0, f1, seed, cipher)
            )
        wanted = len(edge_pages) + (1 if value is None and f0 < f1 else 0)
        fresh = iter(nonces(wanted) if cipher is not None and wanted else ())
        for p, data in edge_pages:
            self._store_page(disk_id, p, data, cipher, next(fresh, None))
        if f0 < f1:
            if value is None:
                assert cipher is not None
                value = ("G", f1 - f0, _crypto.seal_seed(cipher, next(fresh), seed))
            self.store.raw_put(DISK_EXTENTS, disk_id, page_key(f0), value)
            self._coalesce(DISK_EXTENTS, disk_id, f1)
            self._coalesce(DISK_EXTENTS, disk_id, f0)
        self._add_run(DISK_DIRTY, disk_id, p0, p1)

    def _sealed_neighbour(
        self, disk_id: str, f0: int, f1: int, seed: int, cipher: AESGCM
    ) -> object | None:
        """A sealed-seed value for pages ``[f0, f1)`` reusing a neighbour's sealed seed when
        the neighbour holds the same seed (so the two join); None if neither does."""
        store = self.store
        candidates = store.raw_range(
            DISK_EXTENTS, disk_id, stop=page_key(f0), reverse=True, limit=1
        )
        right = store.raw_get(DISK_EXTENTS, disk_id, page_key(f1))
        if right is not None:
            candidates.append((page_key(f1), right))
        for key, value in candidates:
            value = parse_extent(value, DISK_EXTENTS, disk_id, key)
            if (
                type(value) is tuple
                and value[0] == "G"
                and _crypto.open_seed(cipher, value[2]) == seed
            ):
                return ("G", f1 - f0, value[2])
        return None

    # -- chains ----------------------------------------------------------------------------
    def capture(self, disk_id: str, snapshot_id: str) -> int:
        """Give a new snapshot the disk's dirty extents as its delta; the disk is clean after.

        Returns:
            The delta's incremental size in blocks: the blocks it touches that are not all
            zeros on the disk now.
        """
        store = self.store
        dirty = self._runs(DISK_DIRTY, disk_id)
        if not dirty:
            return 0  # nothing changed since the last snapshot: an empty delta
        entries: list[Piece] = []
        for a, b in dirty:
            cur = a
            for s, v in self._overlapping(DISK_EXTENTS, disk_id, a, b):
                lo, hi = max(s, a), min(s + extent_length(v), b)
                if lo > cur:
                    entries.append((cur, ("z", lo - cur)))
                piece = slice_extent(v, lo - s, hi - lo)
                self._hold(piece)
                entries.append((lo, piece))
                cur = hi
            if cur < b:
                entries.append((cur, ("z", b - cur)))
        merged: list[Piece] = []
        for start, value in entries:
            if merged:
                prev_start, prev = merged[-1]
                prev_length = extent_length(prev)
                if prev_start + prev_length == start:
                    joined = join(prev, prev_length, value)
                    if joined is not None:
                        merged[-1] = (prev_start, joined)
                        self._drop(value)
                        continue
            merged.append((start, value))
        for start, value in merged:
            store.raw_put(SNAPSHOT_EXTENTS, snapshot_id, page_key(start), value)
        touched = self._blocks_of(dirty)
        zero = subtract(touched, self._nonzero_blocks(DISK_EXTENTS, disk_id, touched))
        for b0, b1 in zero:
            store.raw_put(SNAPSHOT_ZERO_BLOCKS, snapshot_id, block_key(b0), b1 - b0)
        store.raw_clear(DISK_DIRTY, disk_id)
        return size(touched) - size(zero)

    def _chain_pieces(
        self, chain: Sequence[str], snapshot_id: str, wanted: Ranges
    ) -> list[tuple[int, object, int, int]]:
        """``(start, value, a, b)``: which extent of which delta holds pages ``[a, b)`` of
        ``wanted`` at ``snapshot_id`` (newest delta first wins); uncovered pages are zeros."""
        upto = chain[: list(chain).index(snapshot_id) + 1]
        missing = wanted
        pieces: list[tuple[int, object, int, int]] = []
        for member in reversed(upto):
            if not missing:
                break
            home = self.home(member)
            found: list[tuple[int, int]] = []
            for a, b in missing:
                for s, v in self._overlapping(SNAPSHOT_EXTENTS, home, a, b):
                    lo, hi = max(s, a), min(s + extent_length(v), b)
                    pieces.append((s, v, lo, hi))
                    found.append((lo, hi))
            missing = subtract(missing, union(found))
        return pieces

    def read_at(
        self,
        chain: Sequence[str],
        snapshot_id: str,
        offset: int,
        length: int,
        cipher: AESGCM | None,
    ) -> bytes:
        """``length`` (> 0) bytes at ``offset`` of the content a snapshot of ``chain`` holds.

        Each page comes from the newest delta at or before the snapshot that holds it, so
        the cost is the extents read times the deltas searched, not the whole chain.
        """
        p0, p1 = offset // PAGE_SIZE, (offset + length - 1) // PAGE_SIZE + 1
        pieces = self._chain_pieces(chain, snapshot_id, [(p0, p1)])
        buf = self._assemble(pieces, p0, p1, cipher)
        head = offset - p0 * PAGE_SIZE
        return bytes(memoryview(buf)[head : head + length])

    def chain_extents(self, chain: Sequence[str], snapshot_id: str) -> list[Piece]:
        """The full contents at ``snapshot_id`` as non-zero extents in page order (values
        sliced from the chain's deltas; they hold no reference of their own).

        Costs the extents of the chain's deltas up to the snapshot, never its pages.
        """
        upto = chain[: list(chain).index(snapshot_id) + 1]
        uncovered: Ranges = [(0, _FAR)]
        out: list[Piece] = []
        for member in reversed(upto):
            if not uncovered:
                break
            delta = self._extents(SNAPSHOT_EXTENTS, self.home(member))
            starts = [a for a, _ in uncovered]
            spans: list[tuple[int, int]] = []
            for s, v in delta:
                e = s + extent_length(v)
                spans.append((s, e))
                if type(v) is tuple and v[0] == "z":
                    continue
                i = max(bisect.bisect_right(starts, s) - 1, 0)
                while i < len(uncovered) and uncovered[i][0] < e:
                    lo, hi = max(uncovered[i][0], s), min(uncovered[i][1], e)
                    if lo < hi:
                        out.append((lo, slice_extent(v, lo - s, hi - lo)))
                    i += 1
            uncovered = subtract(uncovered, union(spans))
        out.sort(key=lambda piece: piece[0])
        return out

    def reset(self, disk_id: str, target: list[Piece], later: Sequence[str]) -> None:
        """Make a disk's map equal ``target`` (:meth:`chain_extents` of its own chain).

        ``later`` are the snapshots after that one in the chain: the disk now differs from
        the newest of them exactly where they changed pages, so those are marked dirty.
        """
        store = self.store
        for _, value in target:
            self._hold(value)  # before the old map goes, so no shared blob is dropped
        for _, value in self._extents(DISK_EXTENTS, disk_id):
            self._drop(value)
        store.raw_clear(DISK_EXTENTS, disk_id)
        for start, value in target:
            store.raw_put(DISK_EXTENTS, disk_id, page_key(start), value)
        store.raw_clear(DISK_DIRTY, disk_id)
        for later_id in later:
            for start, value in self._extents(SNAPSHOT_EXTENTS, self.home(later_id)):
                self._add_run(DISK_DIRTY, disk_id, start, start + extent_length(value))

    def populate(
        self,
        disk_id: str,
        full: list[Piece],
        source: AESGCM | None,
        target: AESGCM | None,
        nonces: Callable[[int], list[bytes]] | None,
    ) -> None:
        """Give a new, empty disk the extents ``full``; all of it is dirty (never snapshotted).

        With ``nonces`` None the disk shares the pages and seeds (same data key). Otherwise
        the content is re-encrypted from ``source`` to ``target`` (either may be None for
        plaintext): stored pages are opened and sealed again page by page, seeds resealed.
        """
        store = self.store
        if nonces is None:
            for start, value in full:
                self._hold(value)
                store.raw_put(DISK_EXTENTS, disk_id, page_key(start), value)
        else:
            wanted = 0
            if target is not None:
                for _, value in full:
                    generated = type(value) is tuple and value[0] in ("g", "G")
                    wanted += 1 if generated else extent_length(value)
            fresh = iter(nonces(wanted) if wanted else ())
            for start, value in full:
                count = extent_length(value)
                if type(value) is tuple and value[0] in ("g", "G"):
                    seed = value[2] if value[0] == "g" else None
                    if seed is None:
                        assert source is not None
                        seed = _crypto.open_seed(source, value[2])
                    assert isinstance(seed, int)
                    resealed: object = (
                        ("g", count, seed)
                        if target is None
                        else ("G", count, _crypto.seal_seed(target, next(fresh), seed))
                    )
                    store.raw_put(DISK_EXTENTS, disk_id, page_key(start), resealed)
                    continue
                plain = self._content(start, value, start, start + count, source)
                for i in range(count):
                    data = plain[i * PAGE_SIZE : (i + 1) * PAGE_SIZE]
                    nonce = next(fresh, None)
                    if data != _ZERO_PAGE:
                        self._store_page(disk_id, start + i, data, target, nonce)
        for a, b in union((s, s + extent_length(v)) for s, v in full):
            store.raw_put(DISK_DIRTY, disk_id, page_key(a), b - a)

    def release(self, disk_id: str) -> None:
        """Drop a disk's whole map and dirty marks, releasing its pages."""
        store = self.store
        for _, value in self._extents(DISK_EXTENTS, disk_id):
            self._drop(value)
        store.raw_clear(DISK_EXTENTS, disk_id)
        store.raw_clear(DISK_DIRTY, disk_id)
