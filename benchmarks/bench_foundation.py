"""Benchmarks of the foundation (issue 2). Run by hand; prints its figures.

    python benchmarks/bench_foundation.py            # all four
    python benchmarks/bench_foundation.py a c        # some

(a) create_snapshot on a 32 TiB disk vs a 1 GiB disk with the same writes: time ratio (≤ 1.2).
(b) bytes held after 100 snapshots of random overlapping writes vs the exact unique bytes that
    must be held: ratio (1.00).
(c) reading back 256 MiB restored from a snapshot vs a plain copy of 256 MiB: speed ratio
    (≥ 0.3).
(d) create + describe snapshot operations per second vs moto's EC2 backend create_snapshot
    called directly (needs `pip install 'moto[ec2]'`, the `bench` extra): ratio.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import sys
import time
from collections.abc import Callable

from cloudbackup import Cloud, DataDisk, SystemDisk

MIB = 1024 * 1024


def _instance_with(cloud: Cloud, *disks: DataDisk) -> tuple[str, list[str]]:
    ecs = cloud.ecs("cn-hangzhou")
    [instance_id] = ecs.run_instances(
        zone_id="cn-hangzhou-h",
        instance_type="ecs.g7.large",
        system_disk=SystemDisk(),
        data_disks=list(disks),
    )
    cloud.advance(dt.timedelta(minutes=1))
    data = ecs.describe_disks(instance_id=instance_id, disk_type="data", page_size=100).items
    by_name = {d.disk_name: d.disk_id for d in data}
    return instance_id, [by_name[d.disk_name] for d in disks]


def bench_a(rounds: int = 200, writes_per_round: int = 16) -> float:
    """create_snapshot time on a 32 TiB disk over a 1 GiB disk, same writes."""
    cloud = Cloud(seed=1)
    ecs = cloud.ecs("cn-hangzhou")
    _, (big, small) = _instance_with(
        cloud,
        DataDisk(category="cloud_essd", size=32768, performance_level="PL0", disk_name="big"),
        DataDisk(category="cloud_essd", size=1, performance_level="PL0", disk_name="small"),
    )
    rng = random.Random(1)
    times: dict[str, list[float]] = {big: [], small: []}
    for _ in range(rounds):
        writes = [
            (rng.randrange(0, 1 * 1024 * MIB - 4096), rng.randbytes(4096))
            for _ in range(writes_per_round)
        ]
        for disk in (big, small):
            for offset, data in writes:
                ecs.write_disk(disk, offset, data)
        order = (small, big) if len(times[big]) % 2 else (big, small)
        for disk in order:
            start = time.perf_counter()
            ecs.create_snapshot(disk_id=disk)
            times[disk].append(time.perf_counter() - start)
    big_t, small_t = statistics.median(times[big]), statistics.median(times[small])
    ratio = big_t / small_t
    print(
        f"(a) create_snapshot median over {rounds} rounds of {writes_per_round} writes: "
        f"32 TiB {big_t * 1e3:.3f} ms, 1 GiB {small_t * 1e3:.3f} ms, ratio {ratio:.3f} "
        f"(target <= 1.2)"
    )
    return ratio


def bench_b(snapshots: int = 100, writes_per_snapshot: int = 20) -> float:
    """Bytes held vs the exact unique changed bytes, for whole-block and arbitrary writes."""
    block_size = 64 * 1024
    span = 64 * MIB

    def run(aligned: bool, seed: int) -> tuple[int, int, int]:
        cloud = Cloud(seed=seed, block_size=block_size)
        ecs = cloud.ecs("cn-hangzhou")
        _, (disk,) = _instance_with(
            cloud, DataDisk(category="cloud_essd", size=20, disk_name="disk1")
        )
        rng = random.Random(seed)
        shadow = bytearray(span)  # the reference: what the guest sees in the written span
        images: list[bytes] = []
        for _ in range(snapshots):
            for _ in range(writes_per_snapshot):
                if aligned:  # whole blocks at random (overlapping) positions
                    blocks = rng.randrange(1, 4)
                    offset = rng.randrange(0, span // block_size - blocks) * block_size
                    length = blocks * block_size
                else:
                    length = rng.randrange(1, 3 * block_size)
                    offset = rng.randrange(0, span - length)
                data = rng.randbytes(length)
                ecs.write_disk(disk, offset, data)
                shadow[offset : offset + length] = data
            ecs.create_snapshot(disk_id=disk)
            images.append(bytes(shadow))
        images.append(bytes(shadow))  # the disk itself
        # What changed between consecutive images (the first against zeros): whole blocks
        # the guest rewrote, and, byte by byte, the bytes that really differ.
        changed_blocks = changed_bytes = 0
        previous = bytes(span)
        for image in images:
            for start in range(0, span, block_size):
                a, b = previous[start : start + block_size], image[start : start + block_size]
                if a != b:
                    changed_blocks += block_size
                    changed_bytes += sum(1 for x, y in zip(a, b, strict=True) if x != y)
            previous = image
        changed = changed_blocks if aligned else changed_bytes
        # Block-exact: the distinct non-zero block contents some image holds.
        distinct = {
            image[start : start + block_size]
            for image in images
            for start in range(0, span, block_size)
            if image[start : start + block_size].count(0) != block_size
        }
        held = cloud.storage_stats().blob_bytes
        return held, sum(len(c) for c in distinct), changed

    held, distinct, changed = run(True, 2)
    ratio = held / changed
    print(
        f"(b) {snapshots} snapshots x {writes_per_snapshot} random overlapping whole-block "
        f"writes: held {held:,} bytes, exact unique changed bytes {changed:,}, ratio "
        f"{ratio:.4f} (target 1.00); distinct block contents {distinct:,}"
    )
    held_u, distinct_u, changed_u = run(False, 3)
    print(
        f"    same with arbitrary (unaligned) writes: held {held_u:,} bytes = distinct block "
        f"contents {distinct_u:,} (ratio {held_u / distinct_u:.4f}); bytes that really "
        f"changed {changed_u:,}, so {64}-KiB blocks cost {held_u / changed_u:.2f}x"
    )
    return ratio


def bench_c(size: int = 256 * MIB, repeats: int = 5) -> float:
    """Read speed of 256 MiB restored from a snapshot vs copying 256 MiB of bytes."""
    cloud = Cloud(seed=3)
    ecs = cloud.ecs("cn-hangzhou")
    instance_id, (disk,) = _instance_with(
        cloud, DataDisk(category="cloud_essd", size=20, disk_name="src")
    )
    rng = random.Random(3)
    payload = b"".join(rng.randbytes(MIB) for _ in range(size // MIB))
    ecs.write_disk(disk, 0, payload)
    snapshot_id = ecs.create_snapshot(disk_id=disk)
    restored = ecs.create_disk(zone_id="cn-hangzhou-h", disk_category="cloud_essd",
                               snapshot_id=snapshot_id)  # fmt: skip
    ecs.attach_disk(instance_id=instance_id, disk_id=restored)

    def timed(fn: Callable[[], object]) -> float:
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        return best

    read_t = timed(lambda: ecs.read_disk(restored, 0, size))
    copy_t = timed(lambda: bytearray(payload))  # one copy of the bytes
    assert ecs.read_disk(restored, 0, size) == payload
    ratio = copy_t / read_t
    print(
        f"(c) 256 MiB restored read {read_t * 1e3:.1f} ms ({size / MIB / read_t:,.0f} MiB/s) vs "
        f"bytes copy {copy_t * 1e3:.1f} ms ({size / MIB / copy_t:,.0f} MiB/s): "
        f"{ratio:.2f}x (target >= 0.3)"
    )
    return ratio


def bench_d(operations: int = 2000) -> float | None:
    """create+describe snapshot pairs per second vs moto's backend create_snapshot direct."""
    cloud = Cloud(seed=4)
    ecs = cloud.ecs("cn-hangzhou")
    # Spread over 8 disks so that no disk passes the real quota of 256 manual snapshots.
    specs = [DataDisk(category="cloud_essd", size=20, disk_name=f"disk{i}") for i in range(8)]
    _, disks = _instance_with(cloud, *specs)
    start = time.perf_counter()
    for n in range(operations):
        snapshot_id = ecs.create_snapshot(disk_id=disks[n % len(disks)])
        ecs.describe_snapshots(snapshot_ids=[snapshot_id])
    ours = operations / (time.perf_counter() - start)
    try:
        from moto import mock_aws
        from moto.ec2.models import ec2_backends
    except ImportError:
        print(f"(d) cloudbackup {ours:,.0f} create+describe pairs/s; moto not installed")
        return None
    with mock_aws():
        backend = ec2_backends["123456789012"]["us-east-1"]
        volume = backend.create_volume(size=20, zone_name="us-east-1a")
        start = time.perf_counter()
        for _ in range(operations):
            backend.create_snapshot(volume.id, "bench")
        theirs = operations / (time.perf_counter() - start)
    ratio = ours / theirs
    print(
        f"(d) cloudbackup {ours:,.0f} create+describe pairs/s vs moto backend "
        f"create_snapshot {theirs:,.0f}/s: ratio {ratio:.2f}"
    )
    return ratio


BENCHES = {"a": bench_a, "b": bench_b, "c": bench_c, "d": bench_d}

if __name__ == "__main__":
    chosen = sys.argv[1:] or list(BENCHES)
    print(f"python {sys.version.split()[0]}")
    for name in chosen:
        BENCHES[name]()
