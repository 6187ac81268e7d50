"""Block maps and snapshot chains: the algorithms every piece of disk data goes through.

A disk is a sparse map ``block index -> content digest`` (record kind :data:`DISK_BLOCKS`); the
blocks changed since its latest snapshot are marked in :data:`DISK_DIRTY`. A snapshot stores only
its delta against the previous snapshot of its chain (:data:`SNAPSHOT_BLOCKS`), so the full
content at a snapshot is the chain's deltas up to it, oldest first. Block contents live once in
the :class:`~cloudbackup._store.BlockStore`, reference counted; :data:`~cloudbackup._store.ZERO`
stands for an all-zero block, which is never stored.

:class:`BlockMaps` holds the operations on these maps, each costing the blocks it touches:

- :meth:`~BlockMaps.write` / :meth:`~BlockMaps.read`: a guest's byte range, sealed with the
  disk's data key when it has one;
- :meth:`~BlockMaps.capture`: a new snapshot takes the disk's dirty blocks;
- :meth:`~BlockMaps.merge_into_next`: a deleted snapshot hands the blocks the next snapshot
  still needs to it (or, as the newest, marks them dirty on its disk again);
- :meth:`~BlockMaps.materialize`: the full map at a snapshot; :meth:`~BlockMaps.read_at`
  a byte range of it;
- :meth:`~BlockMaps.reset`: roll a disk back to a materialized map;
- :meth:`~BlockMaps.fill`: give a new disk a materialized map;
- :meth:`~BlockMaps.release`: drop a disk's map.

They know nothing about instances, statuses or events: the ECS service checks the rules, then
calls these. Replication and restore reuse them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._services import _crypto
from ._store import ZERO, BlockStore, Store, digest_of, raw_kind
from .errors import StorageBackendError

__all__ = [
    "DISK_BLOCKS",
    "DISK_DIRTY",
    "SNAPSHOT_BLOCKS",
    "BlockMaps",
    "block_index",
    "block_key",
]

# Raw record kinds of the block maps. Keys are block indexes as 12 hex digits, so that key
# order is block order.
DISK_BLOCKS = raw_kind("ecs.disk_blocks")
"""partition = disk id: the disk's current contents, block index -> digest."""
DISK_DIRTY = raw_kind("ecs.disk_dirty")
"""partition = disk id: blocks changed since the disk's latest snapshot."""
SNAPSHOT_BLOCKS = raw_kind("ecs.snapshot_blocks")
"""partition = snapshot id: the snapshot's delta against the previous snapshot of its chain."""


def block_key(index: int) -> str:
    """The record key of block ``index`` (12 hex digits: key order is block order)."""
    return f"{index:012x}"


def block_index(key: str) -> int:
    """The block index a record key names."""
    return int(key, 16)


class BlockMaps:
    """The block-map and chain operations over one store and its block contents."""

    def __init__(self, store: Store, blocks: BlockStore) -> None:
        self.store = store
        self.blocks = blocks

    @property
    def block_size(self) -> int:
        """Bytes per block."""
        return self.blocks.block_size

    # -- guest I/O -------------------------------------------------------------------------
    def plain(self, digest: bytes, cipher: AESGCM | None, index: int) -> bytes:
        """The plaintext of block ``index`` stored under ``digest`` (zeros for ``ZERO``)."""
        stored = self.blocks.load(digest)
        if digest == ZERO:
            return stored
        if cipher is None:
            # A plaintext block is its own proof: its digest is its SHA-256 (an encrypted
            # block is authenticated by AES-GCM instead), so damage is caught on every read.
            if hashlib.sha256(stored).digest() != digest:
                raise StorageBackendError(
                    f"Block {digest.hex()} does not match its digest: the stored data is damaged.",
                    code="StorageBackend.Corrupt",
                    ids=(digest.hex(),),
                    recommend="The stored world is damaged; restore it from a backup.",
                )
            return stored
        return _crypto.decrypt_block(cipher, stored, index)

    def read(self, disk_id: str, offset: int, length: int, cipher: AESGCM | None) -> bytes:
        """``length`` (> 0) bytes of a disk at ``offset``; unwritten blocks read as zeros."""
        bs = self.blocks.block_size
        first, last = offset // bs, (offset + length - 1) // bs
        keys = [block_key(i) for i in range(first, last + 1)]
        found = self.store.raw_get_many(DISK_BLOCKS, disk_id, keys)
        zero = self.blocks.zero_block
        parts: list[bytes] = []
        for index, key in enumerate(keys, start=first):
            digest = found.get(key)
            if digest is None:
                parts.append(zero)
            else:
                digest = digest_of(digest, DISK_BLOCKS, disk_id, key)
                parts.append(self.plain(digest, cipher, index))
        head = offset - first * bs
        if head == 0 and len(parts) * bs == length:
            return b"".join(parts)
        return b"".join(parts)[head : head + length]

    def write(
        self,
        disk_id: str,
        offset: int,
        payload: bytes,
        cipher: AESGCM | None,
        nonces: Callable[[int], list[bytes]],
    ) -> None:
        """Write ``payload`` (non-empty) at ``offset``; changed blocks are marked dirty.

        A block that becomes all zeros is dropped (disks are sparse). With a ``cipher`` every
        new block is sealed with a fresh nonce from ``nonces(count)``; rewriting a block with
        the plaintext it already holds changes nothing.
        """
        store, blocks = self.store, self.blocks
        bs = blocks.block_size
        first, last = offset // bs, (offset + len(payload) - 1) // bs
        keys = [block_key(i) for i in range(first, last + 1)]
        current = store.raw_get_many(DISK_BLOCKS, disk_id, keys)
        fresh = nonces(len(keys)) if cipher is not None else []
        zero = blocks.zero_block
        for n, index in enumerate(range(first, last + 1)):
            key = keys[n]
            start = index * bs
            lo = max(offset, start) - start
            hi = min(offset + len(payload), start + bs) - start
            piece = payload[start + lo - offset : start + hi - offset]
            old = current.get(key, ZERO)
            old = digest_of(old, DISK_BLOCKS, disk_id, key)
            old_plain: bytes | None = None
            block: bytes | bytearray
            if lo == 0 and hi == bs:
                block = piece
            else:
                old_plain = self.plain(old, cipher, index)
                block = bytearray(old_plain)  # one copy, spliced in place
                block[lo:hi] = piece
            # Only a block whose new piece is all zeros can have become all zeros.
            if piece.count(0) == len(piece) and block == zero:
                new = ZERO
            elif cipher is not None:
                if old != ZERO:
                    if old_plain is None:
                        old_plain = self.plain(old, cipher, index)
                    if old_plain == block:
                        continue
                sealed = _crypto.encrypt_block(cipher, fresh[n], bytes(block), index)
                new = blocks.intern(sealed)
            else:
                new = blocks.intern(bytes(block))
            if new == old:
                blocks.decref(new)
                continue
            if new == ZERO:
                store.raw_delete(DISK_BLOCKS, disk_id, key)
            else:
                store.raw_put(DISK_BLOCKS, disk_id, key, new)
            blocks.decref(old)
            store.raw_put(DISK_DIRTY, disk_id, key, True)

    # -- chains ----------------------------------------------------------------------------
    def capture(self, disk_id: str, snapshot_id: str) -> int:
        """Give a new snapshot the disk's dirty blocks as its delta; the disk is clean after.

        Returns:
            How many non-zero blocks the delta holds (its incremental size in blocks).
        """
        store = self.store
        dirty = [key for key, _ in store.raw_scan(DISK_DIRTY, disk_id)]
        current = store.raw_get_many(DISK_BLOCKS, disk_id, dirty)
        held = 0
        for key in dirty:
            digest = current.get(key, ZERO)
            digest = digest_of(digest, DISK_BLOCKS, disk_id, key)
            store.raw_put(SNAPSHOT_BLOCKS, snapshot_id, key, digest)
            if digest != ZERO:
                self.blocks.incref(digest)
                held += 1
        store.raw_clear(DISK_DIRTY, disk_id)
        return held

    def merge_into_next(
        self, snapshot_id: str, next_id: str | None, dirty_disk_id: str | None
    ) -> tuple[int, int]:
        """Drop a snapshot's delta, keeping every other snapshot of its chain whole.

        Blocks the next snapshot (``next_id``) does not override move to it; the others are
        released. Without a next snapshot the delta is released, and when ``dirty_disk_id``
        names the disk the chain belongs to, those blocks are marked dirty on it again (its
        next snapshot must hold them).

        Returns:
            ``(moved, freed)``: non-zero blocks moved to the next snapshot, and released.
        """
        store = self.store
        delta = store.raw_scan(SNAPSHOT_BLOCKS, snapshot_id)
        moved = freed = 0
        if next_id is not None:
            child_has = store.raw_get_many(SNAPSHOT_BLOCKS, next_id, [k for k, _ in delta])
            for key, digest in delta:
                digest = digest_of(digest, SNAPSHOT_BLOCKS, snapshot_id, key)
                if key in child_has:
                    if digest != ZERO:
                        self.blocks.decref(digest)
                        freed += 1
                else:
                    store.raw_put(SNAPSHOT_BLOCKS, next_id, key, digest)
                    moved += digest != ZERO
        else:
            if dirty_disk_id is not None:
                for key, _ in delta:
                    store.raw_put(DISK_DIRTY, dirty_disk_id, key, True)
            for key, digest in delta:
                digest = digest_of(digest, SNAPSHOT_BLOCKS, snapshot_id, key)
                if digest != ZERO:
                    self.blocks.decref(digest)
                    freed += 1
        store.raw_clear(SNAPSHOT_BLOCKS, snapshot_id)
        return moved, freed

    def materialize(self, chain: Sequence[str], snapshot_id: str) -> dict[str, bytes]:
        """The full block map at ``snapshot_id``: the deltas of ``chain`` up to it, oldest
        first, without zero blocks."""
        full: dict[str, bytes] = {}
        for member in chain:
            for key, digest in self.store.raw_scan(SNAPSHOT_BLOCKS, member):
                digest = digest_of(digest, SNAPSHOT_BLOCKS, member, key)
                full[key] = digest
            if member == snapshot_id:
                break
        return {k: d for k, d in full.items() if d != ZERO}

    def read_at(
        self,
        chain: Sequence[str],
        snapshot_id: str,
        offset: int,
        length: int,
        cipher: AESGCM | None,
    ) -> bytes:
        """``length`` (> 0) bytes at ``offset`` of the content a snapshot of ``chain`` holds.

        Each block comes from the newest delta at or before the snapshot that holds it, so
        the cost is the blocks read times the deltas searched, not the whole chain's blocks.
        """
        bs = self.blocks.block_size
        first, last = offset // bs, (offset + length - 1) // bs
        wanted = [block_key(i) for i in range(first, last + 1)]
        found: dict[str, bytes] = {}
        upto = list(chain[: chain.index(snapshot_id) + 1])
        for member in reversed(upto):
            missing = [k for k in wanted if k not in found]
            if not missing:
                break
            for key, digest in self.store.raw_get_many(SNAPSHOT_BLOCKS, member, missing).items():
                digest = digest_of(digest, SNAPSHOT_BLOCKS, member, key)
                found[key] = digest
        parts = [
            self.plain(found.get(key, ZERO), cipher, index)
            for index, key in enumerate(wanted, start=first)
        ]
        head = offset - first * bs
        return b"".join(parts)[head : head + length]

    def reset(self, disk_id: str, target: Mapping[str, bytes], later: Sequence[str]) -> None:
        """Make a disk's map equal ``target`` (a materialized snapshot of its own chain).

        ``later`` are the snapshots after that one in the chain: the disk now differs from
        the newest of them exactly where they changed blocks, so those are marked dirty.
        """
        store = self.store
        current = dict(store.raw_scan(DISK_BLOCKS, disk_id))
        for key in set(current) | set(target):
            old = current.get(key, ZERO)
            new = target.get(key, ZERO)
            old = digest_of(old, DISK_BLOCKS, disk_id, key)
            if old == new:
                continue
            if new == ZERO:
                store.raw_delete(DISK_BLOCKS, disk_id, key)
            else:
                self.blocks.incref(new)
                store.raw_put(DISK_BLOCKS, disk_id, key, new)
            self.blocks.decref(old)
        store.raw_clear(DISK_DIRTY, disk_id)
        for later_id in later:
            for key, _ in store.raw_scan(SNAPSHOT_BLOCKS, later_id):
                store.raw_put(DISK_DIRTY, disk_id, key, True)

    def fill(
        self,
        disk_id: str,
        full: Mapping[str, bytes],
        reseal: Callable[[int, int, bytes], bytes] | None = None,
    ) -> None:
        """Give a new, empty disk the map ``full``; every block is dirty (never snapshotted).

        Without ``reseal`` the disk shares the blocks. With it, block ``n`` (in key order) at
        ``index`` becomes ``reseal(n, index, digest)``: a new, already interned digest (the
        content re-encrypted under the disk's own key).
        """
        store = self.store
        for n, (key, digest) in enumerate(sorted(full.items())):
            if reseal is None:
                self.blocks.incref(digest)
                new = digest
            else:
                new = reseal(n, block_index(key), digest)
            store.raw_put(DISK_BLOCKS, disk_id, key, new)
            store.raw_put(DISK_DIRTY, disk_id, key, True)

    def release(self, disk_id: str) -> None:
        """Drop a disk's whole map and dirty marks, releasing its blocks."""
        store = self.store
        for key, digest in store.raw_scan(DISK_BLOCKS, disk_id):
            digest = digest_of(digest, DISK_BLOCKS, disk_id, key)
            self.blocks.decref(digest)
        store.raw_clear(DISK_BLOCKS, disk_id)
        store.raw_clear(DISK_DIRTY, disk_id)
