"""Benchmark of describe paging (issue 8, item 4). Run by hand; prints its figures.

    python benchmarks/bench_describe.py                 # 1k vs 100k snapshots, in memory
    python benchmarks/bench_describe.py --small 500 --large 20000 --backend sqlite

Builds two worlds through the API, one with ``--small`` snapshots and one with ``--large``
(spread over the data disks of several instances, one snapshot per disk per virtual hour so no
disk ever has one in progress), then times, several repetitions each (min and median):

- a region-wide ``describe_snapshots`` page of 100 (the first page, and the page after a
  ``NextToken`` from the middle of the region);
- the same filtered by ``disk_id`` (reads the disk's chain);
- filtered by the facets of the index ``ecs.snapshots_by_facets``: ``status``, ``status`` and
  ``snapshot_type``, ``source_disk_type`` and ``encrypted`` (first page and a ``NextToken``
  page: they read the page from the matching partitions);
- filtered by ``usage`` (no index: it reads every snapshot of the matching partitions, here the
  region, reported for comparison).

The target for the region-wide and facet-filtered pages is large/small <= 2x.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cloudbackup import Cloud, DataDisk, SqliteBackend, SystemDisk

REGION, ZONE = "cn-hangzhou", "cn-hangzhou-h"
DISKS_PER_INSTANCE = 16


def build(snapshots: int, disks: int, backend: str, folder: Path) -> tuple[Cloud, list[str]]:
    """A world holding ``snapshots`` snapshots over ``disks`` data disks."""
    if backend == "sqlite":
        cloud = Cloud(backend=SqliteBackend(folder / f"{snapshots}.db", synchronous="OFF"), seed=8)
    else:
        cloud = Cloud(seed=8)
    ecs = cloud.ecs(REGION)
    disk_ids: list[str] = []
    while len(disk_ids) < disks:
        count = min(DISKS_PER_INSTANCE, disks - len(disk_ids))
        (instance_id,) = ecs.run_instances(
            zone_id=ZONE,
            instance_type="ecs.g7.large",
            system_disk=SystemDisk(),
            data_disks=[DataDisk(category="cloud_essd", size=20) for _ in range(count)],
        )
        cloud.advance(dt.timedelta(minutes=1))
        found = ecs.describe_disks(instance_id=instance_id, disk_type="data", page_size=100)
        disk_ids.extend(d.disk_id for d in found.items)
    made = 0
    while made < snapshots:
        for disk_id in disk_ids[: snapshots - made]:
            ecs.create_snapshot(disk_id=disk_id, retention_days=65_536)
            made += 1
        cloud.advance(dt.timedelta(hours=1))
    return cloud, disk_ids


def timed(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(min, median) milliseconds of ``call`` over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return min(times), statistics.median(times)


def measure(cloud: Cloud, disk_ids: list[str], repeat: int) -> dict[str, tuple[float, float]]:
    """Milliseconds per page for each kind of describe."""
    ecs = cloud.ecs(REGION)
    middle = ecs.describe_snapshots(max_results=100)
    for _ in range(len(disk_ids) // 200):
        if middle.next_token is None:
            break
        middle = ecs.describe_snapshots(max_results=100, next_token=middle.next_token)
    token = middle.next_token
    return {
        "region-wide, first page": timed(lambda: ecs.describe_snapshots(page_size=100), repeat),
        "region-wide, NextToken": timed(
            lambda: ecs.describe_snapshots(max_results=100, next_token=token), repeat
        ),
        "disk_id filter": timed(
            lambda: ecs.describe_snapshots(disk_id=disk_ids[0], page_size=100), repeat
        ),
        "status filter": timed(
            lambda: ecs.describe_snapshots(status="accomplished", page_size=100), repeat
        ),
        "status filter, NextToken": timed(
            lambda: ecs.describe_snapshots(
                status="accomplished", max_results=100, next_token=token
            ),
            repeat,
        ),
        "status + type filter": timed(
            lambda: ecs.describe_snapshots(
                status="accomplished", snapshot_type="user", page_size=100
            ),
            repeat,
        ),
        "source type + encrypted filter": timed(
            lambda: ecs.describe_snapshots(source_disk_type="data", encrypted=False, page_size=100),
            repeat,
        ),
        "usage filter (no index)": timed(
            lambda: ecs.describe_snapshots(usage="none", page_size=100),
            max(3, repeat // 4),
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--disks", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--backend", choices=("memory", "sqlite"), default="memory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        results = {}
        for size in (args.small, args.large):
            start = time.perf_counter()
            cloud, disk_ids = build(size, min(args.disks, size), args.backend, Path(folder))
            built = time.perf_counter() - start
            results[size] = measure(cloud, disk_ids, args.repeat)
            cloud.close()
            print(f"built {size:,} snapshots ({args.backend}) in {built:.1f} s")
    print(f"{'describe_snapshots, 100 a page':32} {args.small:>9,} {args.large:>9,}  ratio")
    for name in results[args.small]:
        (small_min, small_med), (large_min, large_med) = (
            results[args.small][name],
            results[args.large][name],
        )
        print(
            f"{name:32} {small_min:7.3f}ms {large_min:7.3f}ms  {large_min / small_min:5.2f}x min"
            f"   (median {small_med:.3f} / {large_med:.3f} ms, {large_med / small_med:.2f}x)"
        )


if __name__ == "__main__":
    main()
