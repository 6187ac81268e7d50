"""Properties of incremental snapshot chains against a reference model of block versions.

The reference model tracks, per block, a write version (bumped whenever a write changes the
block's content) and the content. A snapshot holds a block when its version differs from the
previous surviving snapshot of the chain; the chain's TotalSize is the number of such non-zero
blocks. Restoring snapshot k, by ResetDisk or by CreateDisk, must give exactly the bytes as of k,
whichever other snapshots were deleted; the backend must hold exactly the distinct block contents
still referenced.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import GIB, ZONE, make_cloud, run_instance
from cloudbackup import Cloud, DataDisk, EcsService, StorageStats
from cloudbackup._blocks import SNAPSHOT_DELTA_HOME
from cloudbackup._domain.ecs import DiskType, SnapshotLink
from cloudbackup.testing import check_invariants

BS = 4096
SLOTS = 6


@attrs.define
class Model:
    """Per-block (version, content) of the disk, and of each surviving snapshot."""

    size_blocks: int
    disk: dict[int, tuple[int, bytes]] = attrs.field(factory=dict)
    snapshots: list[tuple[str, dict[int, tuple[int, bytes]]]] = attrs.field(factory=list)
    version: int = 0
    touched: set[int] = attrs.field(factory=set)

    def block(self, index: int) -> bytes:
        return self.disk.get(index, (0, bytes(BS)))[1]

    def write(self, offset: int, data: bytes) -> None:
        end = offset + len(data)
        for index in range(offset // BS, (end - 1) // BS + 1):
            start = index * BS
            buffer = bytearray(self.block(index))
            lo, hi = max(offset, start), min(end, start + BS)
            buffer[lo - start : hi - start] = data[lo - offset : hi - offset]
            self.touched.add(index)
            if bytes(buffer) != self.block(index):
                self.version += 1
                self.disk[index] = (self.version, bytes(buffer))

    def snapshot(self, snapshot_id: str) -> None:
        self.snapshots.append((snapshot_id, dict(self.disk)))

    def incremental_blocks(self) -> list[int]:
        """Per surviving snapshot: non-zero blocks whose version differs from the previous."""
        out = []
        previous: dict[int, tuple[int, bytes]] = {}
        for _, blocks in self.snapshots:
            changed = 0
            for index in set(blocks) | set(previous):
                version, content = blocks.get(index, (0, bytes(BS)))
                if version != previous.get(index, (0, b""))[0] and any(content):
                    changed += 1
            out.append(changed)
            previous = blocks
        return out

    def referenced_contents(self) -> set[bytes]:
        maps = [self.disk, *(blocks for _, blocks in self.snapshots)]
        return {content for m in maps for _, content in m.values() if any(content)}


def slot_block(model: Model, slot: int) -> int:
    """Spread the slots over the whole disk, the last one on its final block."""
    stride = max(1, (model.size_blocks - 1) // (SLOTS - 1))
    return min(slot * stride, model.size_blocks - 1)


contents = st.one_of(
    st.sampled_from([b"A", b"B", b"\x00"]).flatmap(
        lambda c: st.integers(1, 2 * BS).map(lambda n: c * n)
    ),
    st.binary(min_size=1, max_size=300),
)
write_op = st.tuples(st.just("write"), st.integers(0, SLOTS - 1), st.integers(0, BS - 1), contents)
snap_op = st.tuples(st.just("snap"))
delete_op = st.tuples(st.just("delete"), st.integers(0, 1000))
operations = st.lists(st.one_of(write_op, write_op, snap_op, delete_op), min_size=1, max_size=30)
sizes = st.one_of(st.integers(1, 8), st.sampled_from([64, 32768, 65536]))


class World:
    """A writer instance holding the disk under test and a reader instance for restored copies."""

    def __init__(self, size: int, *, encrypted: bool = False) -> None:
        self.cloud: Cloud = make_cloud(block_size=BS)
        self.encrypted = encrypted
        self.ecs: EcsService
        self.ecs, self.writer = run_instance(
            self.cloud,
            data_disks=[DataDisk(size=size, performance_level="PL0", encrypted=encrypted)],
        )
        _, self.reader = run_instance(self.cloud)
        [self.disk] = [
            d.disk_id
            for d in self.ecs.describe_disks(instance_id=self.writer, disk_type="data").items
        ]
        self.model = Model(size_blocks=size * GIB // BS)

    def apply(self, op: tuple[Any, ...]) -> None:
        ecs, model = self.ecs, self.model
        if op[0] == "write":
            _, slot, intra, data = op
            offset = slot_block(model, slot) * BS + intra
            data = data[: model.size_blocks * BS - offset]
            ecs.write_disk(self.disk, offset, data)
            model.write(offset, data)
        elif op[0] == "snap":
            model.snapshot(ecs.create_snapshot(disk_id=self.disk))
        elif op[0] == "delete" and model.snapshots:
            snapshot_id, _ = model.snapshots.pop(op[1] % len(model.snapshots))
            ecs.delete_snapshot(snapshot_id)

    def blocks_to_check(self) -> list[int]:
        return sorted(self.model.touched | {0, self.model.size_blocks - 1})

    def read_blocks(self, disk_id: str) -> dict[int, bytes]:
        return {i: self.ecs.read_disk(disk_id, i * BS, BS) for i in self.blocks_to_check()}

    def expected(self, blocks: dict[int, tuple[int, bytes]]) -> dict[int, bytes]:
        return {i: blocks.get(i, (0, bytes(BS)))[1] for i in self.blocks_to_check()}

    def check_accounting(self) -> None:
        ecs, model = self.ecs, self.model
        predicted = model.incremental_blocks()
        actual = [ecs.describe_snapshot(s).incremental_blocks for s, _ in model.snapshots]
        assert predicted == actual
        links = ecs.describe_snapshot_links(disk_ids=[self.disk]).items
        if model.snapshots:
            [link] = links
            assert [s for s, _ in model.snapshots] == list(link.snapshot_ids)
            assert (BS * sum(predicted), len(predicted)) == (link.total_size, link.total_count)
        else:
            assert () == links
        if not self.encrypted:  # ciphertext is never shared, so only plain blocks dedupe
            distinct = model.referenced_contents()
            assert StorageStats(len(distinct), BS * len(distinct)) == self.cloud.storage_stats()

    def check_restore_by_new_disk(self) -> None:
        ecs = self.ecs
        before = self.cloud.storage_stats()
        for snapshot_id, blocks in self.model.snapshots:
            copy = ecs.create_disk(
                zone_id=ZONE,
                disk_category="cloud_essd",
                performance_level="PL0",
                snapshot_id=snapshot_id,
            )
            ecs.attach_disk(instance_id=self.reader, disk_id=copy)
            assert self.expected(blocks) == self.read_blocks(copy)
            ecs.detach_disk(instance_id=self.reader, disk_id=copy)
            ecs.delete_disk(copy)
        assert before == self.cloud.storage_stats()

    def check_restore_by_reset(self) -> None:
        ecs = self.ecs
        ecs.detach_disk(instance_id=self.writer, disk_id=self.disk)
        for snapshot_id, blocks in reversed(self.model.snapshots):
            ecs.reset_disk(disk_id=self.disk, snapshot_id=snapshot_id)
            self.model.disk = dict(blocks)
            ecs.attach_disk(instance_id=self.writer, disk_id=self.disk)
            assert self.expected(blocks) == self.read_blocks(self.disk)
            ecs.detach_disk(instance_id=self.writer, disk_id=self.disk)
        ecs.attach_disk(instance_id=self.writer, disk_id=self.disk)


@settings(max_examples=150, deadline=None)
@given(sizes, operations)
def test_chain_sizes_match_the_version_model(size: int, ops: list[tuple[Any, ...]]) -> None:
    """After every step, per-snapshot and chain sizes and the stored blobs match the model."""
    world = World(size)
    for op in ops:
        world.apply(op)
        world.check_accounting()
    assert world.expected(world.model.disk) == world.read_blocks(world.disk)


@settings(max_examples=100, deadline=None)
@given(sizes, operations)
def test_restoring_snapshot_k_gives_the_bytes_as_of_k(
    size: int, ops: list[tuple[Any, ...]]
) -> None:
    """Every surviving snapshot restores byte-exact, by CreateDisk and by ResetDisk."""
    world = World(size)
    for op in ops:
        world.apply(op)
    world.check_restore_by_new_disk()
    world.check_restore_by_reset()
    world.check_accounting()


@settings(max_examples=100, deadline=None)
@given(
    sizes,
    st.lists(st.lists(write_op, min_size=1, max_size=4), min_size=1, max_size=8),
    st.data(),
)
def test_deleting_any_subset_keeps_the_others_restorable(
    size: int, batches: list[list[tuple[Any, ...]]], data: st.DataObject
) -> None:
    """Snapshot after each batch of writes; delete any subset in any order; the rest restore."""
    world = World(size)
    for batch in batches:
        for op in batch:
            world.apply(op)
        world.apply(("snap",))
    ids = [s for s, _ in world.model.snapshots]
    doomed = data.draw(st.lists(st.sampled_from(ids), unique=True), label="deleted")
    for snapshot_id in doomed:
        position = [s for s, _ in world.model.snapshots].index(snapshot_id)
        world.apply(("delete", position))
        world.check_accounting()
    world.check_restore_by_new_disk()
    world.check_restore_by_reset()


@settings(max_examples=60, deadline=None)
@given(sizes, operations)
def test_encrypted_chains_restore_exactly_and_count_the_same(
    size: int, ops: list[tuple[Any, ...]]
) -> None:
    """On an encrypted disk, sizes follow the same version model and restores are exact."""
    world = World(size, encrypted=True)
    for op in ops:
        world.apply(op)
        world.check_accounting()
    world.check_restore_by_new_disk()
    world.check_restore_by_reset()


@settings(max_examples=30, deadline=None)
@given(sizes, operations)
def test_deleting_everything_frees_all_but_the_disk(size: int, ops: list[tuple[Any, ...]]) -> None:
    """With every snapshot deleted, only the disk's own blocks remain stored."""
    world = World(size)
    for op in ops:
        world.apply(op)
    while world.model.snapshots:
        world.apply(("delete", 0))
    world.check_accounting()
    contents = {c for _, c in world.model.disk.values() if any(c)}
    assert StorageStats(len(contents), BS * len(contents)) == world.cloud.storage_stats()


def test_middle_deletion_moves_blocks_to_the_next_snapshot() -> None:
    """Deleting the middle of three snapshots hands the blocks the third still needs to it."""
    world = World(1)
    world.apply(("write", 0, 0, b"A" * BS))
    world.apply(("snap",))
    world.apply(("write", 1, 0, b"B" * BS))
    world.apply(("snap",))
    world.apply(("write", 2, 0, b"C" * BS))
    world.apply(("snap",))
    middle = world.model.snapshots[1][0]
    world.apply(("delete", 1))
    third = world.model.snapshots[1][0]
    assert 2 * BS == world.ecs.describe_snapshot(third).incremental_size
    assert middle not in world.ecs.describe_snapshot_links().items[0].snapshot_ids
    world.check_accounting()
    world.check_restore_by_new_disk()


@pytest.mark.parametrize("encrypted", [False, True])
def test_a_middle_snapshot_that_gathered_more_takes_its_successors_delta(
    encrypted: bool,
) -> None:
    """Deleting a middle snapshot whose delta is larger than its successor's applies the
    successor's delta onto it (its partition becomes the successor's), with exact counts,
    restores and invariants."""
    world = World(1, encrypted=encrypted)
    world.apply(("write", 0, 0, b"A" * BS))
    world.apply(("snap",))
    for slot in range(1, 5):
        world.apply(("write", slot, 0, b"B" * BS))
    world.apply(("write", 5, 0, bytes(BS)))
    world.apply(("snap",))
    world.apply(("write", 2, 0, b"C" * BS))
    world.apply(("snap",))
    middle, newest = world.model.snapshots[1][0], world.model.snapshots[2][0]
    world.apply(("delete", 1))
    store = world.cloud._world.store
    assert middle == store.raw_get(SNAPSHOT_DELTA_HOME, "", newest)
    assert 4 * BS == world.ecs.describe_snapshot(newest).incremental_size
    world.check_accounting()
    check_invariants(world.cloud)
    world.check_restore_by_new_disk()
    world.check_restore_by_reset()
    world.apply(("delete", 1))  # the newest, whose delta lives in the deleted one's partition
    world.check_accounting()
    check_invariants(world.cloud)
    world.check_restore_by_new_disk()


reset_op = st.tuples(st.just("reset"), st.integers(0, 1000))


def reset_to(world: World, choice: int) -> None:
    """Roll the disk back to a surviving snapshot (detached, as ResetDisk allows)."""
    if not world.model.snapshots:
        return
    snapshot_id, blocks = world.model.snapshots[choice % len(world.model.snapshots)]
    world.ecs.detach_disk(instance_id=world.writer, disk_id=world.disk)
    world.ecs.reset_disk(disk_id=world.disk, snapshot_id=snapshot_id)
    world.ecs.attach_disk(instance_id=world.writer, disk_id=world.disk)
    world.model.disk = dict(blocks)


@settings(max_examples=100, deadline=None)
@given(sizes, st.lists(st.one_of(write_op, snap_op, delete_op, reset_op), max_size=30))
def test_rollbacks_in_between_keep_every_snapshot_exact(
    size: int, ops: list[tuple[Any, ...]]
) -> None:
    """With ResetDisk interleaved, snapshots still restore exactly and blobs stay exact."""
    world = World(size)
    for op in ops:
        if op[0] == "reset":
            reset_to(world, op[1])
        else:
            world.apply(op)
        assert world.expected(world.model.disk) == world.read_blocks(world.disk)
        distinct = world.model.referenced_contents()
        assert StorageStats(len(distinct), BS * len(distinct)) == world.cloud.storage_stats()
        links = world.ecs.describe_snapshot_links(disk_ids=[world.disk]).items
        held = sum(
            world.ecs.describe_snapshot(s).incremental_size for s, _ in world.model.snapshots
        )
        assert held == sum(link.total_size for link in links)
    world.check_restore_by_new_disk()
    world.check_restore_by_reset()


def test_blocks_a_rollback_changed_stay_in_the_next_snapshot() -> None:
    """S1 holds A; S2 holds B; roll back to S1; S3; delete S2: S3 still holds the block.

    A rollback rewrites the blocks it changes, as changed-block tracking sees it, so the next
    snapshot holds them; deleting the snapshot in between does not make it smaller
    (docs/reference/semantics.md). The contents are stored once all the same.
    """
    world = World(1)
    world.apply(("write", 0, 0, b"A" * BS))
    world.apply(("snap",))
    world.apply(("write", 0, 0, b"B" * BS))
    world.apply(("snap",))
    reset_to(world, 0)
    world.apply(("snap",))
    world.apply(("delete", 1))
    ecs = world.ecs
    held = [ecs.describe_snapshot(s).incremental_blocks for s, _ in world.model.snapshots]
    assert [1, 1] == held
    assert StorageStats(1, BS) == world.cloud.storage_stats()  # one distinct block content
    world.check_restore_by_new_disk()


@pytest.mark.parametrize("instance_id", [None, "i-1"])
def test_a_chain_with_a_newest_snapshot_is_the_evolved_record(instance_id: str | None) -> None:
    """SnapshotLink.with_newest builds exactly the record attrs.evolve would."""
    link = SnapshotLink(
        snapshot_link_id="sl-1",
        region_id="cn-hangzhou",
        source_disk_id="d-1",
        source_disk_size=40,
        source_disk_type=DiskType.data,
        instance_id="i-0",
        block_size=4096,
        snapshot_ids=("s-1",),
        total_blocks=3,
    )
    expected = attrs.evolve(
        link,
        snapshot_ids=("s-1", "s-2"),
        total_blocks=10,
        source_disk_size=80,
        instance_id=instance_id,
    )
    assert expected == link.with_newest("s-2", 7, 80, instance_id)
