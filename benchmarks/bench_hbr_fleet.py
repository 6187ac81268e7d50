"""The fleet year through Cloud Backup (issue 9's last bullet). Run by hand; prints its figures.

    python benchmarks/bench_hbr_fleet.py --instances 1000 --days 365
    python benchmarks/bench_hbr_fleet.py --instances 100 --days 60 --backend sqlite
    python benchmarks/bench_hbr_fleet.py --scaling            # both sides, 100 and 1,000
    python benchmarks/bench_hbr_fleet.py --instances 100 --repeat 2   # min/median of 2 runs

N instances with 3 ESSD data disks of 20 GiB are bound to one daily policy (snapshot groups,
30-day retention, special retention: first backup of each week 90 days, month 365 days, year
730 days); every virtual day each data disk gets the substrate benchmark's churn (one 4 KiB
guest write of real bytes, ``Workload``), then the clock advances a day and the policy's timer
backs every instance up (a job, a snapshot group, a backup point; expired points delete their
snapshots). The same fleet year on the bare substrate (``bench_fleet.py real``: a
``create_snapshot(retention_days=30)`` per disk per day) runs in the same invocation for
comparison. Target: <= 2x the substrate's time, <= 1.5 GiB peak RSS.

Like for like: each binding names the instance's 3 data disks (``UdmDetail.disk_id_list``), so
Cloud Backup snapshots the disks the substrate does, not the system disk too (which a binding
without ``disk_id_list`` would protect). ``--scaling`` runs both sides at 100 and at 1,000
instances and prints how each grows.

Each measurement runs in a fresh child process, so peak RSS is the run's own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_fleet import DAY, REGION, fleet_year, make_fleet, peak_rss_mib

from cloudbackup import (
    AdvancedOptions,
    Churn,
    ChurnPattern,
    Cloud,
    InMemoryBackend,
    PolicyBindingRequest,
    RetentionRule,
    Rule,
    SqliteBackend,
    StorageBackend,
    UdmDetail,
    Workload,
)


def hbr_fleet_year(options: dict[str, Any]) -> dict[str, Any]:
    """One fleet year through Cloud Backup (in this process); its figures."""
    path: Path | None = None
    backend: StorageBackend
    if options["backend"] == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="bench-hbr-")) / "world.db"
        backend = SqliteBackend(path)
    else:
        backend = InMemoryBackend()
    cloud = Cloud(seed=8, backend=backend)
    ecs, hbr = cloud.ecs(REGION), cloud.hbr(REGION)
    start = time.perf_counter()
    fleet = make_fleet(cloud, options["instances"], 20)
    hbr.open_hbr_service()
    first = int((cloud.now() + dt.timedelta(hours=1)).timestamp())
    policy = hbr.create_policy_v2(
        rules=[
            Rule("BACKUP", schedule=f"I|{first}|P1D", retention=30),
            Rule(
                "TRANSITION",
                retention=30,
                retention_rules=(
                    RetentionRule("WEEKLY", 90),
                    RetentionRule("MONTHLY", 365),
                    RetentionRule("YEARLY", 730),
                ),
            ),
        ]
    )
    requests = [
        PolicyBindingRequest(
            ecs.describe_disks(disk_ids=disks[:1]).items[0].instance_id or "",
            advanced_options=AdvancedOptions(UdmDetail(disk_id_list=tuple(disks))),
        )
        for disks in fleet
    ]
    for at in range(0, len(requests), 99):
        hbr.create_policy_bindings(policy_id=policy, policy_binding_list=requests[at : at + 99])
    churns = {
        disk_id: Churn(ChurnPattern.UNIFORM, 4096, generated=False)
        for disks in fleet
        for disk_id in disks
    }
    workload = Workload(ecs, churns, seed=8, pool_pages=4096)
    setup = time.perf_counter() - start
    days: list[float] = []
    for day in range(options["days"]):
        t0 = time.perf_counter()
        workload.run_day(day)
        cloud.advance(DAY)
        days.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    jobs = hbr.describe_backup_jobs2(page_size=1)
    complete = hbr.describe_backup_jobs2(page_size=1, filters=[_status("COMPLETE")]).total_count
    result: dict[str, Any] = {
        "seconds": total,
        "setup_seconds": setup,
        "peak_rss_mib": peak_rss_mib(),
        "days": days,
        "jobs": jobs.total_count,
        "jobs_complete": complete,
        "snapshots_live": ecs.describe_snapshots(page_size=1).total_count,
        "blob_bytes": cloud.storage_stats().blob_bytes,
    }
    cloud.close()
    if path is not None:
        result["file_bytes"] = sum(
            p.stat().st_size for p in path.parent.iterdir() if p.name.startswith("world.db")
        )
    return result


def _status(value: str) -> Any:
    from cloudbackup import BackupJobFilter

    return BackupJobFilter("Status", (value,), "EQUAL")


CHILDREN = {"hbr": hbr_fleet_year, "substrate": fleet_year}


def in_child(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """Run ``CHILDREN[kind](options)`` in a fresh interpreter; its JSON result, with the
    child's CPU seconds (user + system: steadier than wall time on a shared machine)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [sys.executable, __file__, "_child", kind, json.dumps(options)],
        check=True,
        capture_output=True,
        text=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    result["cpu_seconds"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def compare(instances: int, days: int, backend: str) -> dict[str, dict[str, Any]]:
    """Cloud Backup's fleet year and the substrate's, same size, same invocation; printed
    as they finish and returned (``{"hbr": …, "substrate": …}``)."""
    options = {"instances": instances, "days": days, "backend": backend, "mode": "real"}
    print(f"fleet year, {instances:,} instances x 3 data disks x {days} days, {backend}")
    hbr = in_child("hbr", options)
    loop = sum(hbr["days"])
    print(
        f"  Cloud Backup: {hbr['seconds']:.1f} s (setup {hbr['setup_seconds']:.1f} s, "
        f"CPU {hbr['cpu_seconds']:.1f} s), peak RSS {hbr['peak_rss_mib']:,.0f} MiB, "
        f"{hbr['jobs']:,} jobs ({hbr['jobs_complete']:,} complete, "
        f"{1000 * loop / max(1, hbr['jobs']):.2f} ms per job with its churn), "
        f"{hbr['snapshots_live']:,} snapshots live",
        flush=True,
    )
    base = in_child("substrate", options)
    print(
        f"  substrate:    {base['seconds']:.1f} s (setup {base['setup_seconds']:.1f} s, "
        f"CPU {base['cpu_seconds']:.1f} s), peak RSS {base['peak_rss_mib']:,.0f} MiB, "
        f"{base['snapshots_live']:,} snapshots live",
        flush=True,
    )
    print(
        f"  ratio {hbr['seconds'] / base['seconds']:.2f}x wall, "
        f"{hbr['cpu_seconds'] / base['cpu_seconds']:.2f}x CPU (target <= 2x); peak RSS "
        f"{hbr['peak_rss_mib']:,.0f} MiB vs {base['peak_rss_mib']:,.0f} MiB (target <= 1,536)",
        flush=True,
    )
    return {"hbr": hbr, "substrate": base}


def summary(runs: list[dict[str, dict[str, Any]]]) -> None:
    """Min and median over repeated runs of each side's CPU s, wall s, peak RSS and the
    Cloud Backup / substrate ratios (CPU seconds: the machine may be shared)."""
    print(f"over {len(runs)} runs (min / median):")

    def line(name: str, values: list[float], unit: str) -> None:
        low, mid = min(values), statistics.median(values)
        print(f"  {name}: {low:,.2f} / {mid:,.2f} {unit}", flush=True)

    for side, name in (("hbr", "Cloud Backup"), ("substrate", "substrate")):
        line(f"{name} CPU", [r[side]["cpu_seconds"] for r in runs], "s")
        line(f"{name} wall", [r[side]["seconds"] for r in runs], "s")
        line(f"{name} peak RSS", [r[side]["peak_rss_mib"] for r in runs], "MiB")
    jobs = runs[0]["hbr"]["jobs"]
    line("Cloud Backup CPU per job", [1000 * r["hbr"]["cpu_seconds"] / jobs for r in runs], "ms")
    line(
        "ratio CPU",
        [r["hbr"]["cpu_seconds"] / r["substrate"]["cpu_seconds"] for r in runs],
        "x (target <= 2x)",
    )
    line("ratio wall", [r["hbr"]["seconds"] / r["substrate"]["seconds"] for r in runs], "x")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        print(json.dumps(CHILDREN[sys.argv[2]](json.loads(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--backend", choices=["memory", "sqlite"], default="memory")
    parser.add_argument(
        "--scaling", action="store_true", help="both sides at 100 and at 1,000 instances"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="run both sides this many times; min/median"
    )
    args = parser.parse_args()
    if not args.scaling:
        runs = [compare(args.instances, args.days, args.backend) for _ in range(args.repeat)]
        if len(runs) > 1:
            summary(runs)
        return
    small = compare(100, args.days, args.backend)
    large = compare(1000, args.days, args.backend)
    print(f"growth 100 -> 1,000 instances (10x the work), {args.days} days:")
    for side, name in (("hbr", "Cloud Backup"), ("substrate", "substrate")):
        a, b = small[side], large[side]
        print(
            f"  {name}: {b['seconds'] / a['seconds']:.1f}x wall, "
            f"{b['cpu_seconds'] / a['cpu_seconds']:.1f}x CPU, "
            f"{b['peak_rss_mib'] / a['peak_rss_mib']:.1f}x peak RSS",
            flush=True,
        )


if __name__ == "__main__":
    main()
