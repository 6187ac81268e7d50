"""Extents at the service level: cost grows with the work (counted records, never timings), and
worlds saved with block maps (schema 6) open migrated and read byte-exact."""

from __future__ import annotations

import bisect
import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from _helpers import GIB, REGION, ZONE, instance_with_disk, make_cloud, stop
from cloudbackup import Cloud, InMemoryBackend, SqliteBackend
from cloudbackup._extents import (
    PAGE_SIZE,
    intersect,
    join,
    size,
    slice_extent,
    subtract,
    union,
)
from cloudbackup._regions import get_region
from cloudbackup._services._interfaces import ECS_SNAPSHOTS
from cloudbackup.testing import check_invariants

WORLD_V6 = Path(__file__).parent / "data" / "world-v6.db"


class CountingBackend(InMemoryBackend):
    """An in-memory backend that counts the records it hands out (a read costs what it returns).

    Its ``scan_range`` returns only the records asked for, as an ordered backend does (from a
    sorted key list kept per partition, dropped whenever the partition may have changed).
    """

    def __init__(self) -> None:
        super().__init__()
        self.read = 0
        self._sorted: dict[tuple[str, str], list[str]] = {}

    def put(self, kind: str, partition: str, key: str, value: object) -> None:
        """Write, forgetting the partition's sorted keys."""
        self._sorted.pop((kind, partition), None)
        super().put(kind, partition, key, value)

    def delete(self, kind: str, partition: str, key: str) -> None:
        """Delete, forgetting the partition's sorted keys."""
        self._sorted.pop((kind, partition), None)
        super().delete(kind, partition, key)

    def clear_partition(self, kind: str, partition: str) -> None:
        """Delete a partition (reading it, as the protocol's fallback does)."""
        self._sorted.pop((kind, partition), None)
        for key, _ in list(self.scan(kind, partition)):
            super().delete(kind, partition, key)

    def rollback(self) -> None:
        """Roll back, forgetting every sorted key list."""
        self._sorted.clear()
        super().rollback()

    def rollback_to(self) -> None:
        """Roll back to the savepoint, forgetting every sorted key list."""
        self._sorted.clear()
        super().rollback_to()

    def get(self, kind: str, partition: str, key: str) -> object | None:
        """One record read."""
        self.read += 1
        return super().get(kind, partition, key)

    def scan(self, kind: str, partition: str) -> Iterator[tuple[str, object]]:
        """Every record of the partition read."""
        items = list(super().scan(kind, partition))
        self.read += len(items)
        return iter(items)

    def scan_range(
        self,
        kind: str,
        partition: str,
        start: str | None,
        stop: str | None,
        reverse: bool,
        limit: int | None,
    ) -> list[tuple[str, object]]:
        """The records of the range read."""
        keys = self._sorted.get((kind, partition))
        if keys is None:
            keys = sorted(self._records.get(kind, {}).get(partition, {}))
            self._sorted[(kind, partition)] = keys
        lo = 0 if start is None else bisect.bisect_left(keys, start)
        hi = len(keys) if stop is None else bisect.bisect_left(keys, stop)
        chosen = keys[lo:hi]
        if reverse:
            chosen = chosen[::-1]
        if limit is not None:
            chosen = chosen[:limit]
        records = self._records[kind][partition] if chosen else {}
        self.read += len(chosen)
        return [(k, records[k]) for k in chosen]


def _scattered(ecs: object, disk: str, count: int, base: int = 0) -> None:
    """Give a disk ``count`` separate extents on even pages, alternating between two seeds."""
    for page in range(count):
        seed = base + page % 2
        ecs.fill_disk(disk, 2 * page * PAGE_SIZE, PAGE_SIZE, seed=seed)  # type: ignore[attr-defined]


def _write_cost(size_gib: int, extents: int) -> int:
    backend = CountingBackend()
    cloud = make_cloud(backend=backend, block_size=512 * 1024)
    ecs, _, disk = instance_with_disk(cloud, size=size_gib)
    ecs.fill_disk(disk, size_gib * GIB // 2, size_gib * GIB // 2, seed=3)
    _scattered(ecs, disk, extents)
    ecs.create_snapshot(disk_id=disk)
    backend.read = 0
    ecs.write_disk(disk, size_gib * GIB // 2 + 12345 * PAGE_SIZE + 100, b"w" * PAGE_SIZE)
    return backend.read


def test_a_4k_write_reads_the_same_records_on_a_20_gib_and_a_2_tib_disk() -> None:
    """A 4 KiB write reads O(1) records, whatever the disk's size or how many extents it has."""
    small, big = _write_cost(20, 10), _write_cost(2048, 2000)
    assert small == big
    assert small < 60


def _delete_cost(extents: int) -> tuple[int, int]:
    backend = CountingBackend()
    cloud = make_cloud(backend=backend, block_size=4096)
    ecs, _, disk = instance_with_disk(cloud)
    _scattered(ecs, disk, extents)
    ecs.create_snapshot(disk_id=disk)
    for n in range(10):
        ecs.write_disk(disk, (2 * n + 1) * PAGE_SIZE, b"d" * PAGE_SIZE)
    middle = ecs.create_snapshot(disk_id=disk, retention_days=1)
    _scattered(ecs, disk, extents, base=2)  # the next snapshot's delta is as big as the disk
    ecs.create_snapshot(disk_id=disk)
    backend.read = 0
    ecs.delete_snapshot(middle)
    deleted = backend.read
    check_invariants(cloud)
    for n in range(10):
        ecs.write_disk(disk, (2 * n + 1) * PAGE_SIZE, b"f" * PAGE_SIZE)
    ecs.create_snapshot(disk_id=disk, retention_days=1)
    _scattered(ecs, disk, extents, base=4)
    ecs.create_snapshot(disk_id=disk)
    backend.read = 0
    cloud.advance(dt.timedelta(days=1, minutes=1))
    expired = backend.read
    check_invariants(cloud)
    return deleted, expired


def test_deleting_or_expiring_a_10_extent_delta_costs_the_same_on_a_big_disk() -> None:
    """Deleting / expiring a snapshot with a 10-extent delta reads as many records whether the
    disk, the snapshot before and the snapshot after hold 40 extents or 4,000."""
    small, big = _delete_cost(40), _delete_cost(4000)
    assert small == big
    assert small[0] < 200


def test_interval_helpers_agree_with_sets() -> None:
    """union / subtract / intersect / size agree with the same operations on sets."""
    a = union([(0, 3), (2, 5), (7, 9), (9, 10)])
    b = union([(1, 2), (4, 8)])
    as_set = {x for lo, hi in a for x in range(lo, hi)}
    bs_set = {x for lo, hi in b for x in range(lo, hi)}
    assert [(0, 5), (7, 10)] == a
    assert as_set - bs_set == {x for lo, hi in subtract(a, b) for x in range(lo, hi)}
    assert as_set & bs_set == {x for lo, hi in intersect(a, b) for x in range(lo, hi)}
    assert len(as_set) == size(a)


def test_legacy_slices_join_only_when_consecutive() -> None:
    """Two slices of one old blob join when the second continues the first, not otherwise."""
    digest = bytes(32)
    left = slice_extent((4, digest, 0), 0, 2)
    assert (4, digest, 0) == join(left, 2, slice_extent((4, digest, 0), 2, 2))
    assert None is join(left, 2, slice_extent((4, digest, 0), 3, 1))
    assert ("z", 5) == join(("z", 2), 2, ("z", 3))
    assert None is join(("g", 2, 1), 2, ("g", 2, 2))


# -- migration from block maps (schema 6) ------------------------------------------------------
BS = 65536


def _expected(name: str, stage: int) -> bytes:
    """What the v6 world's disk ``name`` held: 1 = at its first snapshot, 2 = second, 3 = now."""
    model = bytearray(8 * BS)
    model[100 : 100 + 300 * len(f"{name} block zero ")] = f"{name} block zero ".encode() * 300
    model[BS + 5000 : BS + 75000] = b"\x02" * 70000
    model[3 * BS : 4 * BS] = b"\x03" * BS
    if stage >= 2:
        model[3 * BS : 4 * BS] = bytes(BS)
        changed = f"{name} changed ".encode() * 10
        model[100 : 100 + len(changed)] = changed
    if stage >= 3:
        model[7 * BS + 1 : 7 * BS + 6] = b"dirty"
    return bytes(model)


@pytest.fixture
def v6_world(tmp_path: Path) -> Iterator[Cloud]:
    """A copy of the schema-6 world, opened (and so migrated)."""
    db = tmp_path / "world.db"
    shutil.copyfile(WORLD_V6, db)
    with Cloud(backend=SqliteBackend(db), seed=6, block_size=BS) as cloud:
        yield cloud


def _disks(cloud: Cloud) -> dict[str, str]:
    return {d.disk_name: d.disk_id for d in cloud.ecs(REGION).describe_disks(page_size=100).items}


def test_a_schema_6_world_opens_as_extents_and_reads_byte_exact(v6_world: Cloud) -> None:
    """Every disk and snapshot of a block-map world reads as it was; invariants hold."""
    check_invariants(v6_world)
    ecs = v6_world.ecs(REGION)
    source = v6_world._world.provider(ECS_SNAPSHOTS, get_region(REGION))
    disks = _disks(v6_world)
    for name in ("plain", "sealed"):
        assert _expected(name, 3) == ecs.read_disk(disks[name], 0, 8 * BS)
        for stage in (1, 2):
            [snapshot] = ecs.describe_snapshots(snapshot_name=f"{name}-{stage}").items
            assert (4, 1)[stage - 1] == snapshot.incremental_blocks
            read = source.read_snapshot(snapshot.snapshot_id, 0, 8 * BS)
            assert _expected(name, stage) == read
    old = ("ecs.disk_blocks", "ecs.snapshot_blocks", "ecs.disk_dirty")
    assert [] == [k for k in old for _ in v6_world.backend.partitions(k)]


def test_a_migrated_world_takes_writes_deletions_and_restores(v6_world: Cloud) -> None:
    """Writing into an old block splits its extent; deleting the first snapshot merges it into
    the second; a disk made from the second and a reset both read the old bytes exactly."""
    ecs = v6_world.ecs(REGION)
    disks = _disks(v6_world)
    [instance] = ecs.describe_instances(instance_name="v6").items
    for name in ("plain", "sealed"):
        disk = disks[name]
        ecs.write_disk(disk, BS + 4096 * 3 + 7, b"split")
        model = bytearray(_expected(name, 3))
        model[BS + 4096 * 3 + 7 : BS + 4096 * 3 + 12] = b"split"
        assert bytes(model) == ecs.read_disk(disk, 0, 8 * BS)
        [first] = ecs.describe_snapshots(snapshot_name=f"{name}-1").items
        [second] = ecs.describe_snapshots(snapshot_name=f"{name}-2").items
        ecs.delete_snapshot(first.snapshot_id, force=True)
        copy = ecs.create_disk(zone_id=ZONE, snapshot_id=second.snapshot_id)
        ecs.attach_disk(instance_id=instance.instance_id, disk_id=copy)
        assert _expected(name, 2) == ecs.read_disk(copy, 0, 8 * BS)
    check_invariants(v6_world)
    stop(v6_world, ecs, instance.instance_id)
    for name in ("plain", "sealed"):
        [second] = ecs.describe_snapshots(snapshot_name=f"{name}-2").items
        ecs.reset_disk(disk_id=disks[name], snapshot_id=second.snapshot_id)
    ecs.start_instance(instance.instance_id)
    v6_world.advance(dt.timedelta(minutes=5))
    for name in ("plain", "sealed"):
        assert _expected(name, 2) == ecs.read_disk(disks[name], 0, 8 * BS)
    check_invariants(v6_world)


def test_the_copy_made_under_another_key_reads_the_first_snapshot(v6_world: Cloud) -> None:
    """The disk the v6 world re-encrypted from a snapshot reads that snapshot's bytes."""
    ecs = v6_world.ecs(REGION)
    disks = _disks(v6_world)
    [instance] = ecs.describe_instances(instance_name="v6").items
    ecs.attach_disk(instance_id=instance.instance_id, disk_id=disks["copy"])
    assert _expected("sealed", 1) == ecs.read_disk(disks["copy"], 0, 8 * BS)


def _expire_oldest_cost(extents: int) -> int:
    """Records read when retention expires a chain's oldest snapshot (its base holds
    ``extents`` extents) whose successor changed 10 pages."""
    backend = CountingBackend()
    cloud = make_cloud(backend=backend, block_size=4096)
    ecs, _, disk = instance_with_disk(cloud)
    _scattered(ecs, disk, extents)
    ecs.create_snapshot(disk_id=disk, retention_days=1)
    cloud.advance(dt.timedelta(hours=1))
    for n in range(10):
        ecs.write_disk(disk, (2 * n + 1) * PAGE_SIZE, b"d" * PAGE_SIZE)
    ecs.create_snapshot(disk_id=disk)
    backend.read = 0
    cloud.advance(dt.timedelta(days=1))
    expired = backend.read
    check_invariants(cloud)
    return expired


def test_expiring_the_oldest_snapshot_costs_its_successors_delta_not_the_base() -> None:
    """Retention expiring a chain's base (40 or 4,000 extents) under a 10-page successor reads
    as many records either way: the successor's delta is applied onto the base."""
    small, big = _expire_oldest_cost(40), _expire_oldest_cost(4000)
    assert small == big
    assert small < 300


def test_a_chain_whose_base_moved_reads_byte_exact_and_keeps_its_accounting() -> None:
    """After the oldest snapshots expire one by one (each successor takes over the base), every
    remaining snapshot reads what the disk held when it was taken, and the invariants hold."""
    cloud = make_cloud(block_size=16384)
    ecs, _, disk = instance_with_disk(cloud)
    held: list[tuple[str, bytes]] = []
    for day in range(6):
        ecs.write_disk(disk, day * 3 * PAGE_SIZE + 100, bytes([day + 1]) * 9000)
        if day == 3:
            ecs.write_disk(disk, 100, bytes(9000))  # zero what day 0 wrote
        snapshot_id = ecs.create_snapshot(disk_id=disk, retention_days=day + 1)
        held.append((snapshot_id, ecs.read_disk(disk, 0, 20 * PAGE_SIZE)))
        cloud.advance(dt.timedelta(hours=2))
    for _ in range(4):
        cloud.advance(dt.timedelta(days=1))
        check_invariants(cloud)
        alive = {s.snapshot_id for s in ecs.describe_snapshots(disk_id=disk).items}
        snapshots = cloud._world.provider(ECS_SNAPSHOTS, get_region("cn-hangzhou"))
        for snapshot_id, content in held:
            if snapshot_id in alive:
                assert content == snapshots.read_snapshot(snapshot_id, 0, 20 * PAGE_SIZE)
    assert 2 == len(alive)
