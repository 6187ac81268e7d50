"""How long one ``Schedule.next_after`` call takes, as the fleet year makes it.

The fleet year through Cloud Backup asks every binding for its next run once per virtual day
(365,000 calls at 1,000 instances), all in one region's zone; the target is well under 50 µs a
call. Each case walks ``--days`` daily runs for ``--bindings`` bindings sharing one schedule::

    PYTHONPATH=src python3 benchmarks/bench_schedule.py [--bindings 200] [--days 365]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from cloudbackup import parse_schedule
from cloudbackup._regions import get_region

START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
CASES = [
    ("daily cron", "C|1704067200|0 0 2 * * ?"),
    ("Tue/Thu/Sat cron", "C|1704067200|0 0 2 ? * 3,5,7"),
    ("last-Friday cron", "C|1704067200|0 30 1 ? * 6L"),
    ("daily interval", "I|1704067200|P1D"),
    ("hourly interval", "I|1704067200|PT1H"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bindings", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    end = START + dt.timedelta(days=args.days)
    print(f"{args.bindings} bindings x {args.days} days, microseconds per next_after call")
    for region in ("cn-hangzhou", "us-east-1"):
        tz = get_region(region).tzinfo
        for name, text in CASES:
            schedule = parse_schedule(text)
            calls = 0
            began = time.perf_counter()
            for _ in range(args.bindings):
                current: dt.datetime | None = START
                while current is not None and current < end:
                    current = schedule.next_after(current, tz)
                    calls += 1
            spent = time.perf_counter() - began
            print(f"  {region:12} {name:18} {spent / calls * 1e6:6.1f} us  ({calls} calls)")


if __name__ == "__main__":
    main()
