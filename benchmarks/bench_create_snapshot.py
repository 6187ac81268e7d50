"""create_snapshot rate: ours (in-memory ECS) vs moto's EC2 backend called directly (issue 8,
item 5). Run by hand; prints its figures.

    python benchmarks/bench_create_snapshot.py                 # 5 repetitions of 4,000 calls
    python benchmarks/bench_create_snapshot.py --calls 2000 --reps 3
    python benchmarks/bench_create_snapshot.py --profile       # and a cProfile top-15 of ours
    python benchmarks/bench_create_snapshot.py --max-events 1000  # a log trimmed on every event

Ours: ``ecs.create_snapshot(disk_id=..., description=..., retention_days=30)`` (a Cloud Backup
job's arguments; ``--no-retention`` leaves retention out, as moto's call has none) on the data disks
of running instances (2 instances × 16 ESSD data disks, calls spread round-robin so no disk
nears the real quota of 256 manual snapshots), each repetition on a fresh ``Cloud``. Theirs:
``ec2_backends[account][region].create_snapshot(volume_id, description)`` on a volume, inside
``mock_aws()``, no HTTP layer (needs the ``bench`` extra: ``pip install '.[bench]'``). The rate
is calls per second of the calls alone (setup excluded); the ratio is ours / theirs, of the
medians and of the best runs.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import pstats
import statistics
import sys
import time

from cloudbackup import Cloud, DataDisk, EventRetention, SystemDisk

REGION = "cn-hangzhou"
INSTANCES = 2
DISKS_PER_INSTANCE = 16


def _fleet(seed: int, max_events: int | None = None) -> tuple[Cloud, list[str]]:
    """A cloud with running instances and their data disks' ids (keeping at most
    ``max_events`` events if given, else the default retention)."""
    retention = None if max_events is None else EventRetention(max_events=max_events)
    cloud = Cloud(seed=seed, event_retention=retention)
    ecs = cloud.ecs(REGION)
    disks: list[str] = []
    for _ in range(INSTANCES):
        [instance_id] = ecs.run_instances(
            zone_id="cn-hangzhou-h",
            instance_type="ecs.g7.large",
            system_disk=SystemDisk(),
            data_disks=[
                DataDisk(category="cloud_essd", size=40, disk_name=f"data{i}")
                for i in range(DISKS_PER_INSTANCE)
            ],
        )
        cloud.advance(dt.timedelta(minutes=1))
        page = ecs.describe_disks(instance_id=instance_id, disk_type="data", page_size=100)
        disks.extend(d.disk_id for d in page.items)
    return cloud, disks


def ours(
    calls: int,
    seed: int = 1,
    profile: cProfile.Profile | None = None,
    retention: bool = True,
    max_events: int | None = None,
) -> float:
    """Calls per second of ``create_snapshot`` on a fresh cloud."""
    cloud, disks = _fleet(seed, max_events)
    ecs = cloud.ecs(REGION)
    create = ecs.create_snapshot
    targets = [disks[n % len(disks)] for n in range(calls)]
    if profile is not None:
        profile.enable()
    start = time.perf_counter()
    days = 30 if retention else None
    for disk_id in targets:
        create(disk_id=disk_id, description="daily backup", retention_days=days)
    elapsed = time.perf_counter() - start
    if profile is not None:
        profile.disable()
    assert cloud.events.first_sequence + len(cloud.events) > calls  # the calls did happen
    return calls / elapsed


def theirs(calls: int) -> float | None:
    """Calls per second of moto's EC2 backend ``create_snapshot``, or None without moto."""
    try:
        from moto import mock_aws
        from moto.ec2.models import ec2_backends
    except ImportError:
        return None
    with mock_aws():
        backend = ec2_backends["123456789012"]["us-east-1"]
        volume = backend.create_volume(size=40, zone_name="us-east-1a")
        start = time.perf_counter()
        for _ in range(calls):
            backend.create_snapshot(volume.id, "daily backup")
        return calls / (time.perf_counter() - start)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile top-15 of ours")
    parser.add_argument(
        "--no-retention", action="store_true", help="moto's arguments only: no retention_days"
    )
    parser.add_argument(
        "--max-events",
        type=int,
        default=None,
        help="keep at most this many events (a long simulation's log, trimmed on every event)",
    )
    args = parser.parse_args(argv)
    assert args.calls <= INSTANCES * DISKS_PER_INSTANCE * 256, "more calls than the quota allows"
    print(
        f"python {sys.version.split()[0]}; {args.calls} calls x {args.reps} repetitions; "
        f"retention_days={'none' if args.no_retention else 30}; "
        f"max_events={args.max_events or 'default'}"
    )
    mine: list[float] = []
    moto: list[float] = []
    for _ in range(args.reps):  # interleaved, so a load change hits both alike
        mine.append(ours(args.calls, retention=not args.no_retention, max_events=args.max_events))
        rate = theirs(args.calls)
        if rate is not None:
            moto.append(rate)
    print(
        f"cloudbackup create_snapshot: min {min(mine):,.0f}/s, median "
        f"{statistics.median(mine):,.0f}/s, max {max(mine):,.0f}/s"
    )
    if moto:
        print(
            f"moto ec2 backend create_snapshot: min {min(moto):,.0f}/s, median "
            f"{statistics.median(moto):,.0f}/s, max {max(moto):,.0f}/s"
        )
        print(
            f"ratio ours/moto: of medians {statistics.median(mine) / statistics.median(moto):.2f}, "
            f"of best runs {max(mine) / max(moto):.2f} (target >= 1.0)"
        )
    else:
        print("moto not installed (pip install '.[bench]'): no ratio")
    if args.profile:
        profile = cProfile.Profile()
        ours(
            args.calls,
            profile=profile,
            retention=not args.no_retention,
            max_events=args.max_events,
        )
        stats = pstats.Stats(profile)
        stats.sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main(sys.argv[1:])
