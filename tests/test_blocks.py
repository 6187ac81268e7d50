"""Extent maps and chains (cloudbackup._blocks): the algorithms, tested on their own against a
bytearray model, on several block sizes."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cloudbackup import InMemoryBackend, StorageBackend
from cloudbackup._backends._sqlite import SqliteBackend
from cloudbackup._blocks import (
    DISK_DIRTY,
    DISK_EXTENTS,
    SNAPSHOT_DELTA_HOME,
    SNAPSHOT_EXTENTS,
    SNAPSHOT_ZERO_BLOCKS,
    BlockMaps,
    block_key,
)
from cloudbackup._extents import PAGE_SIZE, extent_digest, page_key, page_of
from cloudbackup._services._crypto import keystream
from cloudbackup._store import BlockStore, Store

BLOCKS = 6
DISK = "d-1"


class Chain:
    """One disk and its snapshot chain over BlockMaps, next to a plain bytearray model.

    The model also keeps, per snapshot, the pages its delta touches, so block accounting can
    be recounted block by block from bytes.
    """

    def __init__(
        self,
        block_size: int = 4 * PAGE_SIZE,
        cipher: AESGCM | None = None,
        backend: StorageBackend | None = None,
        way: str = "remove",
    ) -> None:
        self.block_size = block_size
        self.size = block_size * BLOCKS
        self.store = Store(backend if backend is not None else InMemoryBackend())
        self.way = way
        self.maps = BlockMaps(self.store, BlockStore(self.store, block_size))
        self.cipher = cipher
        self.model = bytearray(self.size)
        self.chain: list[str] = []
        self.expected: dict[str, bytes] = {}
        self.touched: dict[str, set[int]] = {}
        self.counted: dict[str, int] = {}
        self.dirty: set[int] = set()
        self._ids: Iterator[int] = itertools.count(1)
        self._nonce = itertools.count(1)

    def nonces(self, amount: int) -> list[bytes]:
        """Fresh, never repeated nonces."""
        return [next(self._nonce).to_bytes(12, "big") for _ in range(amount)]

    def _pages(self, offset: int, length: int) -> range:
        return range(offset // PAGE_SIZE, (offset + length - 1) // PAGE_SIZE + 1)

    def write(self, offset: int, data: bytes) -> None:
        """Write through BlockMaps and into the model."""
        data = data[: self.size - offset]
        if not data:
            return
        with self.store.unit():
            self.maps.write(DISK, offset, data, self.cipher, self.nonces)
        before = bytes(self.model)
        self.model[offset : offset + len(data)] = data
        for p in self._pages(offset, len(data)):
            page = slice(p * PAGE_SIZE, (p + 1) * PAGE_SIZE)
            if before[page] != self.model[page]:
                self.dirty.add(p)

    def fill(self, offset: int, length: int, seed: int) -> None:
        """Generate content through BlockMaps and into the model."""
        length = min(length, self.size - offset)
        if length <= 0:
            return
        with self.store.unit():
            self.maps.generate(DISK, offset, length, seed, self.cipher, self.nonces)
        self.model[offset : offset + length] = keystream(seed, offset, length)
        self.dirty.update(self._pages(offset, length))

    def _count(self, pages: set[int], content: bytes) -> int:
        per = self.block_size // PAGE_SIZE
        blocks = {p // per for p in pages}
        zero = bytes(self.block_size)
        return sum(
            1 for b in blocks if content[b * self.block_size : (b + 1) * self.block_size] != zero
        )

    def snapshot(self) -> str:
        """Capture the disk into a new snapshot at the end of the chain."""
        snapshot_id = f"s-{next(self._ids)}"
        with self.store.unit():
            held = self.maps.capture(DISK, snapshot_id)
        self.chain.append(snapshot_id)
        self.expected[snapshot_id] = bytes(self.model)
        self.touched[snapshot_id] = set(self.dirty)
        self.dirty = set()
        self.counted[snapshot_id] = held
        assert self._count(self.touched[snapshot_id], self.expected[snapshot_id]) == held
        return snapshot_id

    def delete(self, position: int) -> None:
        """Delete the snapshot at ``position`` of the chain the chain's ``way``: ``remove``
        (as the service does: the smaller delta does the work), ``merge`` (always
        merge_into_next), ``absorb`` (absorb_next whenever there is a next snapshot) or
        ``base`` (the service before: only the oldest absorbs)."""
        snapshot_id = self.chain.pop(position)
        following = self.chain[position] if position < len(self.chain) else None
        held = self.counted[snapshot_id]
        with self.store.unit():
            if self.way == "remove":
                moved, freed = self.maps.remove(
                    snapshot_id, following, held, None if following else DISK
                )
            elif following is not None and (
                self.way == "absorb" or (self.way == "base" and position == 0)
            ):
                moved, freed = self.maps.absorb_next(snapshot_id, following, held)
            else:
                moved, freed = self.maps.merge_into_next(
                    snapshot_id, following, None if following else DISK
                )
        assert self.counted.pop(snapshot_id) == moved + freed
        pages = self.touched.pop(snapshot_id)
        if following is None:
            self.dirty |= pages
            assert moved == 0
        else:
            self.touched[following] |= pages
            self.counted[following] += moved
            recount = self._count(self.touched[following], self.expected[following])
            assert recount == self.counted[following]
        del self.expected[snapshot_id]

    def content(self, snapshot_id: str) -> bytes:
        """The bytes of a snapshot, read through read_at."""
        return self.maps.read_at(self.chain, snapshot_id, 0, self.size, self.cipher)

    def disk(self, disk_id: str = DISK) -> bytes:
        """What the disk reads now."""
        return self.maps.read(disk_id, 0, self.size, self.cipher)

    def reset(self, snapshot_id: str) -> None:
        """Roll the disk back to one of its snapshots."""
        later = self.chain[self.chain.index(snapshot_id) + 1 :]
        with self.store.unit():
            self.maps.reset(DISK, self.maps.chain_extents(self.chain, snapshot_id), later)
        self.model[:] = self.expected[snapshot_id]
        self.dirty = set().union(*(self.touched[s] for s in later))

    def refs(self) -> dict[bytes, int]:
        """Reference count every digest should have: one per extent naming it."""
        counts: dict[bytes, int] = {}
        maps = [(DISK_EXTENTS, p) for p in self.store.backend.partitions(DISK_EXTENTS)]
        maps += [(SNAPSHOT_EXTENTS, self.maps.home(s)) for s in self.chain]
        for kind, partition in maps:
            for _, value in self.store.raw_scan(kind, partition):
                digest = extent_digest(value)
                if digest is not None:
                    counts[digest] = counts.get(digest, 0) + 1
        return counts

    def check(self) -> None:
        """Disk, every snapshot, references and the dirty set agree with the model."""
        assert bytes(self.model) == self.disk()
        assert {s: self.expected[s] for s in self.chain} == {s: self.content(s) for s in self.chain}
        refs = self.maps.blocks.all_refcounts()
        assert self.refs() == refs
        backend = self.store.backend
        sizes = [len(backend.get_blob(digest) or b"") for digest in refs]
        page = PAGE_SIZE + (28 if self.cipher is not None else 0)
        assert ([page] * len(refs), (len(refs), sum(sizes))) == (sizes, backend.blob_stats())
        dirty = set()
        for key, count in self.store.raw_scan(DISK_DIRTY, DISK):
            assert isinstance(count, int)
            dirty.update(range(page_of(key), page_of(key) + count))
        assert self.dirty == dirty
        per = self.block_size // PAGE_SIZE
        zero_block = bytes(self.block_size)
        for snapshot_id in self.chain:
            touched = {p // per for p in self.touched[snapshot_id]}
            content = self.expected[snapshot_id]
            zero = {
                b
                for b in touched
                if content[b * self.block_size : (b + 1) * self.block_size] == zero_block
            }
            stored = set()
            for key, count in self.store.raw_scan(
                SNAPSHOT_ZERO_BLOCKS, self.maps.home(snapshot_id)
            ):
                assert isinstance(count, int)
                stored.update(range(page_of(key), page_of(key) + count))
            assert (zero, len(touched) - len(zero)) == (stored, self.counted[snapshot_id])


def _operations(size: int) -> st.SearchStrategy[list[tuple[str, object]]]:
    offsets = st.one_of(
        st.integers(0, size - 1),
        st.integers(0, size // PAGE_SIZE - 1).map(lambda p: p * PAGE_SIZE),
        st.integers(1, size // PAGE_SIZE - 1).map(lambda p: p * PAGE_SIZE - 1),
    )
    lengths = st.integers(1, 3 * PAGE_SIZE)
    writes = st.tuples(offsets, st.binary(min_size=1, max_size=64), lengths).map(
        lambda t: (t[0], (t[1] * (t[2] // len(t[1]) + 1))[: t[2]])
    )
    zero_writes = st.tuples(offsets, lengths.map(bytes))
    fills = st.tuples(offsets, st.integers(1, size), st.integers(0, 3))
    return st.lists(
        st.one_of(
            st.tuples(st.just("write"), writes | zero_writes),
            st.tuples(st.just("fill"), fills),
            st.tuples(st.just("snapshot"), st.none()),
            st.tuples(st.just("delete"), st.integers(0, 50)),
            st.tuples(st.just("reset"), st.integers(0, 50)),
        ),
        max_size=25,
    )


def run(chain: Chain, ops: list[tuple[str, object]]) -> None:
    """Apply the operations, checking every remaining snapshot and the disk after each."""
    for name, arg in ops:
        if name == "write":
            assert isinstance(arg, tuple)
            chain.write(*arg)
        elif name == "fill":
            assert isinstance(arg, tuple)
            chain.fill(*arg)
        elif name == "snapshot":
            chain.snapshot()
        elif name == "delete" and chain.chain:
            assert isinstance(arg, int)
            chain.delete(arg % len(chain.chain))
        elif name == "reset" and chain.chain:
            assert isinstance(arg, int)
            chain.reset(chain.chain[arg % len(chain.chain)])
        chain.check()


@settings(max_examples=200, deadline=None)
@given(_operations(4 * PAGE_SIZE * BLOCKS))
# A parent and its child both hold page 0; deleting the parent must keep the child's.
@example(
    [
        ("write", (0, b"a" * PAGE_SIZE)),
        ("snapshot", None),
        ("write", (0, b"b" * PAGE_SIZE)),
        ("snapshot", None),
        ("delete", 0),
    ]
)
# Deleting the newest snapshot must mark its pages dirty, or the next one misses them.
@example([("write", (0, b"a")), ("snapshot", None), ("delete", 0), ("snapshot", None)])
# A page zeroed inside a block that keeps content elsewhere: the block still counts.
@example(
    [
        ("write", (0, b"a" * 2 * PAGE_SIZE)),
        ("snapshot", None),
        ("write", (0, bytes(PAGE_SIZE))),
        ("snapshot", None),
        ("delete", 0),
    ]
)
# A block zeroed in a deleted snapshot stays a zero block of the next one.
@example(
    [
        ("write", (0, b"a" * PAGE_SIZE)),
        ("snapshot", None),
        ("write", (0, bytes(PAGE_SIZE))),
        ("snapshot", None),
        ("write", (5 * 4 * PAGE_SIZE, b"b")),
        ("snapshot", None),
        ("delete", 1),
    ]
)
# A fill's unaligned edges are stored pages spliced into the old content.
@example([("write", (0, b"q" * 3 * PAGE_SIZE)), ("fill", (100, PAGE_SIZE * 2, 1))])
def test_any_sequence_keeps_every_snapshot_exact_on_16k_blocks(
    ops: list[tuple[str, object]],
) -> None:
    """Property: with 16 KiB blocks every snapshot reads back its model bytes, and counts add up."""
    run(Chain(4 * PAGE_SIZE), ops)


@settings(max_examples=100, deadline=None)
@given(_operations(PAGE_SIZE * BLOCKS))
def test_any_sequence_keeps_every_snapshot_exact_on_4k_blocks(
    ops: list[tuple[str, object]],
) -> None:
    """Property: with 4 KiB blocks (one page per block) the same holds."""
    run(Chain(PAGE_SIZE), ops)


@settings(max_examples=25, deadline=None)
@given(_operations(16 * PAGE_SIZE * BLOCKS))
def test_any_sequence_keeps_every_snapshot_exact_on_64k_blocks(
    ops: list[tuple[str, object]],
) -> None:
    """Property: with 64 KiB blocks the same holds."""
    run(Chain(16 * PAGE_SIZE), ops)


@pytest.mark.slow
@settings(max_examples=10, deadline=None)
@given(_operations(128 * PAGE_SIZE * BLOCKS))
def test_any_sequence_keeps_every_snapshot_exact_on_512k_blocks(
    ops: list[tuple[str, object]],
) -> None:
    """Property: with the default 512 KiB blocks the same holds."""
    run(Chain(128 * PAGE_SIZE), ops)


@settings(max_examples=40, deadline=None)
@given(_operations(4 * PAGE_SIZE * BLOCKS))
def test_the_same_holds_for_sealed_pages_and_seeds(ops: list[tuple[str, object]]) -> None:
    """Property: with a data key the chain still reads back the model's bytes, no stored blob
    holds plaintext of any page, and no seed is stored in the clear."""
    chain = Chain(4 * PAGE_SIZE, AESGCM(bytes(32)))
    run(chain, ops)
    pages = {bytes(chain.model[i : i + PAGE_SIZE]) for i in range(0, chain.size, PAGE_SIZE)}
    pages |= {
        data[i : i + PAGE_SIZE]
        for data in chain.expected.values()
        for i in range(0, chain.size, PAGE_SIZE)
    }
    pages.discard(bytes(PAGE_SIZE))
    blobs = [chain.store.backend.get_blob(d) or b"" for d in chain.maps.blocks.all_refcounts()]
    assert [] == [page for page in pages for blob in blobs if page[:64] in blob]
    for kind in (DISK_EXTENTS, SNAPSHOT_EXTENTS):
        for partition in chain.store.backend.partitions(kind):
            for _, value in chain.store.raw_scan(kind, partition):
                assert not (isinstance(value, tuple) and value[0] == "g")


def test_a_4k_write_stores_one_page_whatever_the_block_size() -> None:
    """A 4 KiB write into a 512 KiB block stores one 4 KiB page, not a block."""
    chain = Chain(128 * PAGE_SIZE)
    chain.write(5 * PAGE_SIZE, b"w" * PAGE_SIZE)
    assert (1, PAGE_SIZE) == tuple(chain.store.backend.blob_stats())


def test_a_fill_of_the_whole_disk_is_one_extent() -> None:
    """Two aligned fills with one seed at adjacent ranges join into one extent, no blob."""
    chain = Chain(128 * PAGE_SIZE)
    half = chain.size // 2
    chain.fill(0, half, 9)
    chain.fill(half, half, 9)
    stored = chain.store.raw_scan(DISK_EXTENTS, DISK)
    assert [(page_key(0), ("g", chain.size // PAGE_SIZE, 9))] == stored
    assert (0, 0) == tuple(chain.store.backend.blob_stats())
    assert keystream(9, 0, chain.size) == chain.disk()


def test_populate_shares_the_extents_and_marks_them_dirty() -> None:
    """populate without re-encryption gives a new disk the same extents, all dirty."""
    chain = Chain()
    chain.write(0, b"x" * chain.size)
    chain.fill(PAGE_SIZE, 3 * PAGE_SIZE, 2)
    snapshot_id = chain.snapshot()
    full = chain.maps.chain_extents(chain.chain, snapshot_id)
    with chain.store.unit():
        chain.maps.populate("d-2", full, None, None, None)
    stored = [(page_of(k), v) for k, v in chain.store.raw_scan(DISK_EXTENTS, "d-2")]
    assert full == stored
    assert [(page_key(0), chain.size // PAGE_SIZE)] == chain.store.raw_scan(DISK_DIRTY, "d-2")
    assert bytes(chain.model) == chain.disk("d-2")
    assert chain.refs() == chain.maps.blocks.all_refcounts()


def test_populate_reencrypts_pages_and_reseals_seeds() -> None:
    """populate from one data key to another re-seals every page and seed; bytes stay."""
    source, target = AESGCM(bytes(32)), AESGCM(b"\x01" * 32)
    chain = Chain(cipher=source)
    chain.write(10, b"secret" * 3000)
    chain.fill(9 * PAGE_SIZE, 5 * PAGE_SIZE, 7)
    snapshot_id = chain.snapshot()
    full = chain.maps.chain_extents(chain.chain, snapshot_id)
    with chain.store.unit():
        chain.maps.populate("d-2", full, source, target, chain.nonces)
    assert bytes(chain.model) == chain.maps.read("d-2", 0, chain.size, target)
    shared = {extent_digest(v) for _, v in full} & {
        extent_digest(v) for _, v in chain.store.raw_scan(DISK_EXTENTS, "d-2")
    }
    assert set() == shared - {None}


def test_release_drops_the_map_and_its_references() -> None:
    """release leaves no extent of the disk and no reference held by it."""
    chain = Chain()
    chain.write(0, b"y" * chain.size)
    with chain.store.unit():
        chain.maps.release(DISK)
    assert ([], {}) == (
        chain.store.raw_scan(DISK_EXTENTS, DISK),
        chain.maps.blocks.all_refcounts(),
    )


def test_keys_sort_in_page_order() -> None:
    """Keys are fixed-width hex, so key order is index order, and they round-trip."""
    indexes = [0, 1, 15, 16, 255, 2**40]
    assert indexes == sorted(indexes, key=page_key)
    assert indexes == [page_of(page_key(i)) for i in indexes]
    assert [page_key(i) for i in indexes] == [block_key(i) for i in indexes]


WAYS = ("remove", "merge", "absorb", "base")


def _backend(name: str, directory: str, way: str) -> StorageBackend:
    if name == "sqlite":
        return SqliteBackend(f"{directory}/{way}.db")
    return InMemoryBackend()


def _state(chain: Chain) -> tuple[object, ...]:
    """What must not depend on the way snapshots are removed."""
    dirty = chain.store.raw_scan(DISK_DIRTY, DISK)
    return (chain.chain, chain.counted, chain.maps.blocks.all_refcounts(), dirty)


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
@settings(max_examples=60, deadline=None)
@given(ops=_operations(4 * PAGE_SIZE * BLOCKS), encrypted=st.booleans())
# Two deletions from the middle: the second removes a snapshot that absorbed the first's
# successor, so its delta lives in an older, deleted snapshot's partition.
@example(
    ops=[
        ("write", (0, b"a" * 3 * PAGE_SIZE)),
        ("snapshot", None),
        ("write", (0, b"b" * 2 * PAGE_SIZE)),
        ("snapshot", None),
        ("write", (0, b"c")),
        ("snapshot", None),
        ("write", (8 * PAGE_SIZE, bytes(PAGE_SIZE))),
        ("snapshot", None),
        ("delete", 1),
        ("delete", 1),
        ("delete", 1),
    ],
    encrypted=False,
)
# The removed snapshot's zero block is overridden by the next one's smaller delta: the
# block was not counted, so it is not freed, and the next one's write counts it.
@example(
    ops=[
        ("write", (0, b"a" * PAGE_SIZE)),
        ("snapshot", None),
        ("write", (0, bytes(PAGE_SIZE))),
        ("write", (8 * PAGE_SIZE, b"x")),
        ("snapshot", None),
        ("write", (0, b"b")),
        ("snapshot", None),
        ("delete", 1),
    ],
    encrypted=False,
)
def test_every_way_of_removing_a_snapshot_gives_the_same_chain(
    backend: str, ops: list[tuple[str, object]], encrypted: bool
) -> None:
    """Property: remove, always-merge, always-absorb and oldest-only-absorb leave the same
    snapshot bytes, counts, zero blocks, dirty pages and blob references, on both backends."""
    cipher = AESGCM(bytes(32)) if encrypted else None
    with tempfile.TemporaryDirectory() as directory:
        chains = [
            Chain(4 * PAGE_SIZE, cipher, _backend(backend, directory, way), way) for way in WAYS
        ]
        for op in ops:
            for chain in chains:
                run(chain, [op])
            assert [_state(chains[0])] * len(WAYS) == [_state(chain) for chain in chains]
        for chain in chains:
            chain.store.backend.close()


def _pages(chain: Chain, pages: range, fill: int) -> None:
    """Write distinct bytes to each page of ``pages``: one extent per page."""
    for page in pages:
        chain.write(page * PAGE_SIZE, bytes([fill, page % 256]) * (PAGE_SIZE // 2))


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
@pytest.mark.parametrize(
    ("own", "following"),
    [
        (0, 0),
        (1, 0),
        (0, 1),
        (3, 1),
        (1, 3),
        (2, 2),
        (40, 39),
        (39, 40),
        (40, 40),
        (9, 8),
        (3, 10),
        (10, 3),
        (1, 40),
    ],
)
def test_remove_applies_the_smaller_delta(backend: str, own: int, following: int) -> None:
    """remove absorbs the next snapshot's delta exactly when it has fewer extents than the
    removed one's (a tie merges), and the chain stays exact either way."""
    with tempfile.TemporaryDirectory() as directory:
        chain = Chain(16 * PAGE_SIZE, None, _backend(backend, directory, "remove"))
        _pages(chain, range(50), 1)
        chain.snapshot()
        _pages(chain, range(own), 2)
        middle = chain.snapshot()
        _pages(chain, range(10, 10 + following), 3)
        newest = chain.snapshot()
        chain.delete(1)
        chain.check()
        home = chain.store.raw_get(SNAPSHOT_DELTA_HOME, "", newest)
        assert (middle if following < own else None) == home
        chain.store.backend.close()


def test_removing_a_middle_snapshot_reads_only_a_probe_of_its_large_delta() -> None:
    """Removing a middle snapshot of 90 changed pages before one of 1 page reads the large
    delta's extents in that page's block (16 pages) and a few more, not all of them."""
    chain = Chain(16 * PAGE_SIZE)
    _pages(chain, range(94), 1)
    chain.snapshot()
    _pages(chain, range(90), 2)
    middle = chain.snapshot()
    _pages(chain, range(5, 6), 3)
    chain.snapshot()
    read: list[int] = []
    real_range, real_scan = chain.store.raw_range, chain.store.raw_scan

    def raw_range(kind: str, partition: str, *args: object, **kwargs: object) -> object:
        found = real_range(kind, partition, *args, **kwargs)  # type: ignore[arg-type]
        read.extend(1 for _ in found if (kind, partition) == (SNAPSHOT_EXTENTS, middle))
        return found

    def raw_scan(kind: str, partition: str) -> object:
        found = real_scan(kind, partition)
        read.extend(1 for _ in found if (kind, partition) == (SNAPSHOT_EXTENTS, middle))
        return found

    chain.store.raw_range = raw_range  # type: ignore[method-assign,assignment]
    chain.store.raw_scan = raw_scan  # type: ignore[method-assign,assignment]
    chain.delete(1)
    del chain.store.raw_range, chain.store.raw_scan
    chain.check()
    assert len(read) <= 16 + 8
