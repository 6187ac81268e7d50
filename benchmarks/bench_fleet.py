"""The fleet-year benchmarks of issue 8. Run by hand; prints its figures.

    python benchmarks/bench_fleet.py real --instances 1000 --repeat 3
    python benchmarks/bench_fleet.py generated --instances 1000 --repeat 3
    python benchmarks/bench_fleet.py real --instances 100 --backend sqlite
    python benchmarks/bench_fleet.py real --instances 100 --backend sqlite --synchronous NORMAL
    python benchmarks/bench_fleet.py bytes
    python benchmarks/bench_fleet.py expiry
    python benchmarks/bench_fleet.py all          # every target, small repeats

``real``: N instances with 3 ESSD data disks of 20 GiB each; every virtual day each data disk gets
one 4 KiB guest write of real bytes at a random page (content drawn from a seeded pool of 4,096
distinct pages, so the unique bytes stay 16 MiB while the maps hold a page per write) and one
``create_snapshot(retention_days=30)``, then the clock advances a day (expiring the snapshots of
30 days before). Target at 1,000 instances x 365 days, in memory: <= 60 s wall, <= 1 GiB peak
RSS, the last 30 days' median day <= 1.2x the median of days 31-60. With ``--backend sqlite``
(100 instances): <= 5x the in-memory time, and the file <= 1.2x the unique bytes held plus
metadata. A SQLite run also runs the same fleet in memory (in its own child) and prints the
ratio, and the file's parts: blob bodies, record payload (keys and values), the change log
(``record_changes``), and the rest (B-tree pages' slack, free pages, indexes). ``--synchronous``
is the SQLite backend's ``synchronous`` setting (``FULL``, its default, syncs every commit to
disk; ``NORMAL`` keeps every commit whole and survives a killed process, but not a power cut).

``generated``: the same fleet with 2 TiB data disks and 20 GiB of generated churn (``fill_disk``)
per disk per day, one range a day: the first disk of each instance a sequential log, the second a
hot set (5 % of the disk), the third uniform. Target <= 60 s, <= 1 GiB.

``bytes``: stored bytes after random 4 KiB writes of unique content vs the bytes written (target
<= 1.1x), and the cost of a 4 KiB write vs a 512 KiB write in the same run (target <= 0.1x).

``expiry``: expiring a snapshot whose delta is 10 blocks, on a 40,000-block disk vs a 40-block
disk (target <= 2x): the chain's oldest snapshot (its base, the whole disk) with a successor of 10
blocks, as retention expires chains, and a snapshot in the middle of its chain.

Each measurement runs in a fresh child process, so peak RSS is the run's own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cloudbackup import (
    Churn,
    ChurnPattern,
    Cloud,
    DataDisk,
    InMemoryBackend,
    SqliteBackend,
    StorageBackend,
    SystemDisk,
    Workload,
)

REGION = "cn-hangzhou"
ZONE = "cn-hangzhou-h"
DAY = dt.timedelta(days=1)


def peak_rss_mib() -> float:
    """This process's peak resident set, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_fleet(cloud: Cloud, instances: int, disk_gib: int) -> list[list[str]]:
    """``instances`` running instances, each with 3 ESSD data disks; their data disk ids."""
    ecs = cloud.ecs(REGION)
    ids: list[str] = []
    for start in range(0, instances, 100):
        ids += ecs.run_instances(
            zone_id=ZONE,
            instance_type="ecs.g7.large",
            system_disk=SystemDisk(),
            data_disks=[DataDisk(size=disk_gib, category="cloud_essd") for _ in range(3)],
            amount=min(100, instances - start),
        )
    cloud.advance(dt.timedelta(minutes=5))
    disks: list[list[str]] = []
    for instance_id in ids:
        found = ecs.describe_disks(instance_id=instance_id, disk_type="data", page_size=10)
        disks.append(sorted(d.disk_id for d in found.items))
    return disks


def fleet_year(options: dict[str, Any]) -> dict[str, Any]:
    """One fleet-year run (in this process); its figures."""
    generated = options["mode"] == "generated"
    path: Path | None = None
    backend: StorageBackend
    if options["backend"] == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="bench-fleet-")) / "world.db"
        backend = SqliteBackend(path, synchronous=options.get("synchronous", "FULL"))
    else:
        backend = InMemoryBackend()
    cloud = Cloud(seed=8, backend=backend)
    ecs = cloud.ecs(REGION)
    start = time.perf_counter()
    cpu_start = time.process_time()
    fleet = make_fleet(cloud, options["instances"], 2048 if generated else 20)
    churns: dict[str, Churn] = {}
    for disks in fleet:
        for n, disk_id in enumerate(disks):
            if generated:
                pattern = (ChurnPattern.SEQUENTIAL, ChurnPattern.HOT_SET, ChurnPattern.UNIFORM)[n]
                churns[disk_id] = Churn(pattern, 20 * 2**30, hot_fraction=0.05)
            else:
                churns[disk_id] = Churn(ChurnPattern.UNIFORM, 4096, generated=False)
    workload = Workload(ecs, churns, seed=8, pool_pages=4096)
    setup = time.perf_counter() - start
    days: list[float] = []
    written = 0
    for day in range(options["days"]):
        t0 = time.perf_counter()
        written += workload.run_day(day)
        for disk_id in churns:
            ecs.create_snapshot(disk_id=disk_id, retention_days=30)
        cloud.advance(DAY)
        days.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    stats = cloud.storage_stats()
    result: dict[str, Any] = {
        "seconds": total,
        "cpu_seconds": cpu,
        "setup_seconds": setup,
        "peak_rss_mib": peak_rss_mib(),
        "days": days,
        "bytes_written": written,
        "blob_bytes": stats.blob_bytes,
        "blob_count": stats.blob_count,
        "snapshots_live": ecs.describe_snapshots(page_size=1).total_count,
    }
    cloud.close()
    if path is not None:
        result["file_bytes"] = sum(
            p.stat().st_size for p in path.parent.iterdir() if p.name.startswith("world.db")
        )
        result.update(file_parts(path))
        shutil.rmtree(path.parent)
    return result


def file_parts(path: Path) -> dict[str, int]:
    """What a closed SQLite world file holds: blob bodies, record payload, change log rows."""
    conn = sqlite3.connect(path)
    try:
        one = lambda sql: conn.execute(sql).fetchone()  # noqa: E731
        records = one(
            "SELECT count(*), coalesce(sum(length(kind) + length(partition) + length(key)"
            " + length(value)), 0) FROM records"
        )
        page_size = one("PRAGMA page_size")[0]
        return {
            "blob_body_bytes": one("SELECT coalesce(sum(length(tail)), 0) FROM blobs")[0]
            + one("SELECT coalesce(sum(length(head)), 0) FROM blob_heads")[0],
            "records": records[0],
            "record_payload_bytes": records[1],
            "change_log_rows": one("SELECT count(*) FROM record_changes")[0],
            "change_log_bytes": one(
                "SELECT coalesce(sum(length(kind) + length(partition) + length(key) + 8), 0)"
                " FROM record_changes"
            )[0],
            "free_bytes": one("PRAGMA freelist_count")[0] * page_size,
            **table_bytes(conn, page_size),
        }
    finally:
        conn.close()


def table_bytes(conn: sqlite3.Connection, page_size: int) -> dict[str, int]:
    """The bytes of pages each table fills (its indexes included), from SQLite's ``dbstat``
    table; none when this SQLite lacks it."""
    try:
        rows = conn.execute("SELECT name, count(*) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.Error:
        return {}
    found = {"pages_blobs": 0, "pages_records": 0, "pages_record_changes": 0, "pages_other": 0}
    for name, pages in rows:
        table = "blobs" if name in ("sqlite_autoindex_blobs_1", "blob_heads") else name
        key = f"pages_{table}" if f"pages_{table}" in found else "pages_other"
        found[key] += pages * page_size
    return found


def flatness(days: list[float]) -> tuple[float, float, float]:
    """Median seconds of days 31-60 and of the last 30 days, and their ratio."""
    early = statistics.median(days[30:60])
    late = statistics.median(days[-30:])
    return early, late, late / early


def stored_bytes(options: dict[str, Any]) -> dict[str, Any]:
    """Random unique 4 KiB writes: stored bytes vs written; a 4 KiB vs a 512 KiB write."""
    import random

    cloud = Cloud(seed=9)
    ecs = cloud.ecs(REGION)
    [instance] = ecs.run_instances(
        zone_id=ZONE,
        instance_type="ecs.g7.large",
        system_disk=SystemDisk(),
        data_disks=[DataDisk(size=100, category="cloud_essd")],
    )
    cloud.advance(dt.timedelta(minutes=5))
    [disk] = [d.disk_id for d in ecs.describe_disks(instance_id=instance, disk_type="data").items]
    rng = random.Random(9)
    pages = 100 * 2**30 // 4096
    before = cloud.storage_stats().blob_bytes
    writes = options.get("writes", 20_000)
    for _ in range(writes):
        ecs.write_disk(disk, rng.randrange(pages) * 4096, rng.randbytes(4096))
    ratio = (cloud.storage_stats().blob_bytes - before) / (writes * 4096)

    def cost(size: int, count: int) -> float:
        payloads = [rng.randbytes(size) for _ in range(count)]
        offsets = [rng.randrange(pages - size // 4096) * 4096 for _ in range(count)]
        t0 = time.perf_counter()
        for offset, payload in zip(offsets, payloads, strict=True):
            ecs.write_disk(disk, offset, payload)
        return (time.perf_counter() - t0) / count

    small = min(cost(4096, 2000) for _ in range(3))
    large = min(cost(512 * 1024, 200) for _ in range(3))
    return {
        "stored_over_written": ratio,
        "write_4k_us": small * 1e6,
        "write_512k_us": large * 1e6,
        "write_ratio": small / large,
    }


def expiry_cost(_: dict[str, Any]) -> dict[str, Any]:
    """Seconds to expire a snapshot whose delta is 10 blocks, on a 40,000- vs a 40-block disk.

    Two cases, each the median of 20 repetitions: ``oldest``, the way retention expires a chain
    (the oldest snapshot, which holds the whole disk as its base, goes; its successor's delta is
    10 blocks), and ``middle`` (a snapshot with a 10-block delta between two others).
    """
    block = 512 * 1024

    def one(blocks_on_disk: int, oldest: bool, repeats: int = 20) -> float:
        cloud = Cloud(seed=10)
        ecs = cloud.ecs(REGION)
        gib = max(20, blocks_on_disk * block // 2**30)
        [instance] = ecs.run_instances(
            zone_id=ZONE,
            instance_type="ecs.g7.large",
            system_disk=SystemDisk(),
            data_disks=[DataDisk(size=gib, category="cloud_essd")],
        )
        cloud.advance(dt.timedelta(minutes=5))
        [disk] = [
            d.disk_id for d in ecs.describe_disks(instance_id=instance, disk_type="data").items
        ]
        # The disk holds blocks_on_disk blocks of data, all in the chain's first snapshot.
        page = bytes(range(256)) * 16
        for b in range(blocks_on_disk):
            ecs.write_disk(disk, b * block, page[:-8] + b.to_bytes(8, "big"))
        ecs.create_snapshot(disk_id=disk)
        cloud.advance(dt.timedelta(hours=12))
        times: list[float] = []
        for r in range(repeats):
            for b in range(10):  # a 10-block delta, then a newer snapshot above it
                ecs.write_disk(disk, b * block, r.to_bytes(4, "big") * 1024)
            ten = ecs.create_snapshot(disk_id=disk)
            ecs.write_disk(disk, 20 * block, r.to_bytes(4, "big") * 1024)
            ecs.create_snapshot(disk_id=disk)
            cloud.advance(dt.timedelta(hours=1))
            chain = ecs.describe_snapshots(disk_id=disk, page_size=100).items
            doomed = min(chain, key=lambda s: s.creation_time).snapshot_id if oldest else ten
            t0 = time.perf_counter()
            ecs.delete_snapshot(snapshot_id=doomed)
            times.append(time.perf_counter() - t0)
        cloud.close()
        return statistics.median(times)

    out: dict[str, Any] = {}
    for case, oldest in (("oldest", True), ("middle", False)):
        big = one(40_000, oldest)
        small = one(40, oldest)
        out[f"{case}_big_ms"] = big * 1e3
        out[f"{case}_small_ms"] = small * 1e3
        out[f"{case}_ratio"] = big / small
    return out


CHILDREN = {"fleet": fleet_year, "bytes": stored_bytes, "expiry": expiry_cost}


def in_child(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """Run ``CHILDREN[kind](options)`` in a fresh interpreter; its JSON result."""
    out = subprocess.run(
        [sys.executable, __file__, "_child", kind, json.dumps(options)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    return result


def report_fleet(options: dict[str, Any], repeat: int) -> None:
    runs = [in_child("fleet", options) for _ in range(repeat)]
    print(
        f"{options['mode']} fleet year, {options['instances']} instances x 3 disks x "
        f"{options['days']} days, {options['backend']}"
    )
    for n, run in enumerate(runs, 1):
        early, late, ratio = flatness(run["days"]) if options["days"] >= 90 else (0, 0, 0)
        extra = ""
        if "file_bytes" in run:
            held = max(run["blob_bytes"], 1)
            extra = f", file {run['file_bytes']:,} B = {run['file_bytes'] / held:.2f}x blob bytes"
            payload = run["blob_body_bytes"] + run["record_payload_bytes"]
            rest = run["file_bytes"] - payload - run["change_log_bytes"]
            extra += (
                f" = {run['file_bytes'] / max(payload, 1):.2f}x (blob bodies + record payload): "
                f"blob bodies {run['blob_body_bytes']:,} B, {run['records']:,} records "
                f"{run['record_payload_bytes']:,} B, change log {run['change_log_rows']:,} rows "
                f"{run['change_log_bytes']:,} B, rest {rest:,} B "
                f"(free pages {run['free_bytes']:,} B)"
            )
            if "pages_records" in run:
                extra += (
                    f"; pages: blobs {run['pages_blobs']:,} B, records {run['pages_records']:,} B,"
                    f" change log {run['pages_record_changes']:,} B, other {run['pages_other']:,} B"
                )
        print(
            f"  run {n}: {run['seconds']:.1f} s ({run['cpu_seconds']:.1f} s CPU; setup "
            f"{run['setup_seconds']:.1f} s), "
            f"peak RSS {run['peak_rss_mib']:,.0f} MiB, days 31-60 median {early * 1e3:.0f} ms, "
            f"last 30 median {late * 1e3:.0f} ms ({ratio:.2f}x), "
            f"{run['bytes_written']:,} B written, "
            f"{run['blob_bytes']:,} B in {run['blob_count']:,} blobs, "
            f"{run['snapshots_live']:,} snapshots live{extra}"
        )
    seconds = sorted(r["seconds"] for r in runs)
    rss = sorted(r["peak_rss_mib"] for r in runs)
    print(
        f"  min/median: {seconds[0]:.1f}/{statistics.median(seconds):.1f} s, "
        f"{rss[0]:,.0f}/{statistics.median(rss):,.0f} MiB"
    )
    if options["backend"] == "sqlite":
        memory = [in_child("fleet", {**options, "backend": "memory"}) for _ in range(repeat)]
        fast = sorted(r["seconds"] for r in memory)
        cpu = sorted(r["cpu_seconds"] for r in runs)
        fast_cpu = sorted(r["cpu_seconds"] for r in memory)
        print(
            f"  in memory min/median: {fast[0]:.1f}/{statistics.median(fast):.1f} s "
            f"({fast_cpu[0]:.1f}/{statistics.median(fast_cpu):.1f} s CPU); "
            f"SQLite ({options['synchronous']}) / memory: {seconds[0] / fast[0]:.2f}x (min), "
            f"{statistics.median(seconds) / statistics.median(fast):.2f}x (median); CPU "
            f"{cpu[0]:.1f}/{statistics.median(cpu):.1f} s: {cpu[0] / fast_cpu[0]:.2f}x (min), "
            f"{statistics.median(cpu) / statistics.median(fast_cpu):.2f}x (median)"
        )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        print(json.dumps(CHILDREN[sys.argv[2]](json.loads(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["real", "generated", "bytes", "expiry", "all"])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--backend", choices=["memory", "sqlite"], default="memory")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--synchronous", choices=["FULL", "NORMAL"], default="FULL", help="SQLite's setting"
    )
    parser.add_argument("--writes", type=int, default=20_000, help="4 KiB writes in 'bytes'")
    args = parser.parse_args()
    todo = ["real", "generated", "bytes", "expiry"] if args.what == "all" else [args.what]
    for what in todo:
        if what in ("real", "generated"):
            options = {
                "mode": what,
                "instances": args.instances,
                "days": args.days,
                "backend": args.backend,
                "synchronous": args.synchronous,
            }
            report_fleet(options, args.repeat)
        else:
            runs = [in_child(what, {"writes": args.writes}) for _ in range(args.repeat)]
            for run in runs:
                print(what, {k: round(v, 4) for k, v in run.items()})


if __name__ == "__main__":
    main()
