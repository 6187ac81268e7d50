"""Block maps and chains (cloudbackup._blocks): the algorithms, tested on their own."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cloudbackup import InMemoryBackend
from cloudbackup._blocks import (
    DISK_BLOCKS,
    DISK_DIRTY,
    SNAPSHOT_BLOCKS,
    BlockMaps,
    block_index,
    block_key,
)
from cloudbackup._store import BlockStore, Store

BS = 16
BLOCKS = 6
SIZE = BS * BLOCKS
DISK = "d-1"


class Chain:
    """One disk and its snapshot chain over BlockMaps, next to a plain bytearray model."""

    def __init__(self, cipher: AESGCM | None = None) -> None:
        self.store = Store(InMemoryBackend())
        self.maps = BlockMaps(self.store, BlockStore(self.store, BS))
        self.cipher = cipher
        self.model = bytearray(SIZE)
        self.chain: list[str] = []
        self.expected: dict[str, bytes] = {}
        self._ids: Iterator[int] = itertools.count(1)
        self._nonce = itertools.count(1)

    def nonces(self, amount: int) -> list[bytes]:
        """Fresh, never repeated nonces."""
        return [next(self._nonce).to_bytes(12, "big") for _ in range(amount)]

    def write(self, offset: int, data: bytes) -> None:
        """Write through BlockMaps and into the model."""
        data = data[: SIZE - offset]
        if data:
            with self.store.unit():
                self.maps.write(DISK, offset, data, self.cipher, self.nonces)
            self.model[offset : offset + len(data)] = data

    def snapshot(self) -> str:
        """Capture the disk into a new snapshot at the end of the chain."""
        snapshot_id = f"s-{next(self._ids)}"
        with self.store.unit():
            self.maps.capture(DISK, snapshot_id)
        self.chain.append(snapshot_id)
        self.expected[snapshot_id] = bytes(self.model)
        return snapshot_id

    def delete(self, position: int) -> None:
        """Delete the snapshot at ``position`` of the chain, merging into the next one."""
        snapshot_id = self.chain.pop(position)
        following = self.chain[position] if position < len(self.chain) else None
        with self.store.unit():
            self.maps.merge_into_next(snapshot_id, following, None if following else DISK)
        del self.expected[snapshot_id]

    def content(self, snapshot_id: str) -> bytes:
        """The bytes materialized at a snapshot."""
        full = self.maps.materialize(self.chain, snapshot_id)
        return self.blocks_to_bytes(full)

    def blocks_to_bytes(self, full: dict[str, bytes]) -> bytes:
        """Plaintext bytes of a block map."""
        out = bytearray(SIZE)
        for key, digest in full.items():
            index = block_index(key)
            out[index * BS : (index + 1) * BS] = self.maps.plain(digest, self.cipher, index)
        return bytes(out)

    def disk(self) -> bytes:
        """What the disk reads now."""
        return self.maps.read(DISK, 0, SIZE, self.cipher)

    def reset(self, snapshot_id: str) -> None:
        """Roll the disk back to one of its snapshots."""
        later = self.chain[self.chain.index(snapshot_id) + 1 :]
        with self.store.unit():
            self.maps.reset(DISK, self.maps.materialize(self.chain, snapshot_id), later)
        self.model[:] = self.expected[snapshot_id]

    def refs(self) -> dict[bytes, int]:
        """Reference count every digest should have: one per map entry holding it."""
        counts: dict[bytes, int] = {}
        for kind, partitions in ((DISK_BLOCKS, [DISK]), (SNAPSHOT_BLOCKS, self.chain)):
            for partition in partitions:
                for _, digest in self.store.raw_scan(kind, partition):
                    assert isinstance(digest, bytes)
                    if digest:
                        counts[digest] = counts.get(digest, 0) + 1
        return counts


writes = st.tuples(st.integers(0, SIZE - 1), st.binary(min_size=1, max_size=2 * BS))
zero_writes = st.tuples(st.integers(0, SIZE - 1), st.integers(1, 2 * BS).map(lambda n: bytes(n)))
operation = st.one_of(
    st.tuples(st.just("write"), writes | zero_writes),
    st.tuples(st.just("snapshot"), st.none()),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(st.just("reset"), st.integers(0, 50)),
)


def run(chain: Chain, ops: list[tuple[str, object]]) -> None:
    """Apply the operations, checking every remaining snapshot and the disk after each."""
    for name, arg in ops:
        if name == "write":
            assert isinstance(arg, tuple)
            chain.write(*arg)
        elif name == "snapshot":
            chain.snapshot()
        elif name == "delete" and chain.chain:
            assert isinstance(arg, int)
            chain.delete(arg % len(chain.chain))
        elif name == "reset" and chain.chain:
            assert isinstance(arg, int)
            chain.reset(chain.chain[arg % len(chain.chain)])
        assert bytes(chain.model) == chain.disk()
        assert {s: chain.expected[s] for s in chain.chain} == {
            s: chain.content(s) for s in chain.chain
        }
        assert chain.refs() == chain.maps.blocks.all_refcounts()


@settings(max_examples=300, deadline=None)
@given(st.lists(operation, max_size=30))
# A parent and its child both hold block 0; deleting the parent must keep the child's.
@example(
    [
        ("write", (0, b"a" * BS)),
        ("snapshot", None),
        ("write", (0, b"b" * BS)),
        ("snapshot", None),
        ("delete", 0),
    ]
)
# Deleting the newest snapshot must mark its blocks dirty, or the next one misses them.
@example([("write", (0, b"a")), ("snapshot", None), ("delete", 0), ("snapshot", None)])
def test_any_writes_snapshots_deletions_and_resets_keep_every_snapshot_exact(
    ops: list[tuple[str, object]],
) -> None:
    """Property: every remaining snapshot materializes to the bytes the model had at it."""
    run(Chain(), ops)


@settings(max_examples=40, deadline=None)
@given(st.lists(operation, max_size=20))
def test_the_same_holds_for_sealed_blocks(ops: list[tuple[str, object]]) -> None:
    """Property: with a data key, the chain still materializes to the model's bytes."""
    run(Chain(AESGCM(bytes(32))), ops)


@settings(max_examples=60, deadline=None)
@given(st.lists(writes, max_size=10), st.lists(writes, max_size=10))
def test_a_snapshot_holds_exactly_the_blocks_changed_since_the_previous_one(
    before: list[tuple[int, bytes]], after: list[tuple[int, bytes]]
) -> None:
    """Property: capture takes the dirty blocks, and leaves the disk clean."""
    chain = Chain()
    for offset, data in before:
        chain.write(offset, data)
    chain.snapshot()
    dirty = {k for k, _ in chain.store.raw_scan(DISK_DIRTY, DISK)}
    assert set() == dirty
    for offset, data in after:
        chain.write(offset, data)
    dirty = {k for k, _ in chain.store.raw_scan(DISK_DIRTY, DISK)}
    second = chain.snapshot()
    assert dirty == {k for k, _ in chain.store.raw_scan(SNAPSHOT_BLOCKS, second)}


def test_fill_shares_the_blocks_and_marks_them_dirty() -> None:
    """fill without reseal gives a new disk the same digests, each dirty and referenced."""
    chain = Chain()
    chain.write(0, b"x" * SIZE)
    snapshot_id = chain.snapshot()
    full = chain.maps.materialize(chain.chain, snapshot_id)
    with chain.store.unit():
        chain.maps.fill("d-2", full)
    assert full == dict(chain.store.raw_scan(DISK_BLOCKS, "d-2"))
    assert set(full) == {k for k, _ in chain.store.raw_scan(DISK_DIRTY, "d-2")}
    assert bytes(chain.model) == chain.maps.read("d-2", 0, SIZE, None)


def test_release_drops_the_map_and_its_references() -> None:
    """release leaves no block of the disk and no reference held by it."""
    chain = Chain()
    chain.write(0, b"y" * SIZE)
    with chain.store.unit():
        chain.maps.release(DISK)
    assert ([], {}) == (chain.store.raw_scan(DISK_BLOCKS, DISK), chain.maps.blocks.all_refcounts())


def test_block_keys_sort_in_block_order() -> None:
    """Keys are fixed-width hex, so key order is index order, and they round-trip."""
    indexes = [0, 1, 15, 16, 255, 2**40]
    assert indexes == sorted(indexes, key=block_key)
    assert indexes == [block_index(block_key(i)) for i in indexes]
