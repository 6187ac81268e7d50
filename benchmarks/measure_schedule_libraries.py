"""Measure Python cron and ISO 8601 duration libraries against the conformance vectors.

The charter says: use a maintained library if one passes the vectors. This script is how we
checked (results in docs/reference/schedules.md). It is not part of the test suite and needs the
libraries installed somewhere, e.g.::

    pip install --target /tmp/schedlibs croniter==7.0.0 cron-converter==2.0.2 \\
        apscheduler==3.11.3 cronsim==2.8 cron-schedule-triggers==0.0.11 \\
        quartz-cron-checker==0.2.1 isodate==0.7.2 aniso8601==10.0.1
    PYTHONPATH=src python3 benchmarks/measure_schedule_libraries.py --libs /tmp/schedlibs

Each cron library answers every vector the way Quartz 2.3.2 is asked: a parse (valid /
invalid), ``isSatisfiedBy`` (matches) or successive ``getTimeAfter`` calls (next fire times,
strictly after the previous one, in the vector's time zone). Only the 243
``gold_quartz_consensus`` vectors are scored (both real Quartz versions agree there).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import sys
import zoneinfo
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE = ROOT.parent / "shared" / "conformance"
UTC = dt.timezone.utc

NextAfter = Callable[[str, dt.datetime, dt.tzinfo], "dt.datetime | None"]


# -- cron adapters: (expression, after, tz) -> next fire strictly after `after` -------------
def _ours(expression: str, after: dt.datetime, tz: dt.tzinfo) -> dt.datetime | None:
    from cloudbackup._domain.cron import parse_cron

    return parse_cron(expression).next_after(after, tz)


def _croniter(expression: str, after: dt.datetime, tz: dt.tzinfo) -> dt.datetime | None:
    from croniter import croniter  # type: ignore[import-not-found]

    start = after.astimezone(tz)
    result = croniter(expression, start, second_at_beginning=True).get_next(dt.datetime)
    return result.astimezone(UTC)  # type: ignore[no-any-return]


def _cron_converter(expression: str, after: dt.datetime, tz: dt.tzinfo) -> dt.datetime | None:
    from cron_converter import Cron  # type: ignore[import-not-found]

    schedule = Cron(expression).schedule(after.astimezone(tz))
    return schedule.next().astimezone(UTC)  # type: ignore[no-any-return]


def _apscheduler(expression: str, after: dt.datetime, tz: dt.tzinfo) -> dt.datetime | None:
    # APScheduler has no Quartz parser: give CronTrigger the fields by name, '?' as '*'.
    from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-not-found]

    fields = expression.split()
    if len(fields) not in (6, 7):
        raise ValueError("not 6 or 7 fields")
    names = ["second", "minute", "hour", "day", "month", "day_of_week", "year"]
    kwargs = {
        name: ("*" if value == "?" else value) for name, value in zip(names, fields, strict=False)
    }
    trigger = CronTrigger(timezone=tz, **kwargs)
    result = trigger.get_next_fire_time(None, after.astimezone(tz) + dt.timedelta(seconds=1))
    return None if result is None else result.astimezone(UTC)


def _cronsim(expression: str, after: dt.datetime, tz: dt.tzinfo) -> dt.datetime | None:
    from cronsim import CronSim  # type: ignore[import-not-found]

    return next(CronSim(expression, after.astimezone(tz))).astimezone(UTC)  # type: ignore[no-any-return]


def _cstriggers(expression: str, after: dt.datetime, tz: dt.tzinfo) -> dt.datetime | None:
    from cstriggers.core.trigger import QuartzCron  # type: ignore[import-not-found]

    wall = after.astimezone(tz).replace(tzinfo=None) + dt.timedelta(seconds=1)
    try:
        result = QuartzCron(expression, start_date=wall).next_trigger()
    except StopIteration:
        return None
    return result.replace(tzinfo=tz).astimezone(UTC)  # type: ignore[no-any-return]


def _quartz_cron_checker(expression: str, after: dt.datetime, tz: dt.tzinfo) -> dt.datetime | None:
    from quartz_cron_checker import QuartzCronChecker  # type: ignore[import-not-found]

    QuartzCronChecker.from_cron_string(expression) if hasattr(
        QuartzCronChecker, "from_cron_string"
    ) else QuartzCronChecker(*expression.split())
    raise NotImplementedError("validates only; computes no fire times")


CRON_LIBRARIES: dict[str, NextAfter] = {
    "cloudbackup (ours)": _ours,
    "croniter 7.0.0": _croniter,
    "cron-converter 2.0.2": _cron_converter,
    "APScheduler 3.11.3 CronTrigger": _apscheduler,
    "cronsim 2.8": _cronsim,
    "cron-schedule-triggers 0.0.11": _cstriggers,
    "quartz-cron-checker 0.2.1": _quartz_cron_checker,
}


def _instant(text: str, tz: dt.tzinfo) -> dt.datetime:
    if text.endswith("Z"):
        return dt.datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def _check_cron(next_after: NextAfter, vector: dict[str, Any]) -> str | None:
    """``None`` when the library gives Quartz's answer, else the reason it does not."""
    tz = zoneinfo.ZoneInfo(vector["tz"])
    quartz = vector["quartz_java_2_3_2"]
    expression = vector["expression"]
    wants_error = quartz["status"] == "PARSE_ERROR"
    probe = _instant(
        vector.get("start")
        or vector.get("start_utc")
        or vector.get("instant")
        or "2024-01-01T00:00:00",
        tz,
    )
    try:
        next_after(expression, probe - dt.timedelta(seconds=1), tz)
    except NotImplementedError as error:
        return f"no evaluator ({error})"
    except Exception as error:
        return None if wants_error else f"refused or crashed: {type(error).__name__}"
    if wants_error:
        return "accepted an expression Quartz refuses"
    kind = vector["kind"]
    if kind in ("valid", "invalid"):
        return None
    try:
        if kind == "matches":
            instant = _instant(vector["instant"], tz)
            got = next_after(expression, instant - dt.timedelta(seconds=1), tz) == instant
            return None if got == quartz["result"] else "wrong isSatisfiedBy"
        want = [None if r == "null" else dt.datetime.fromisoformat(r) for r in quartz["result"]]
        steps = len(want) if kind == "next_sequence" else vector["n"]
        current: dt.datetime | None = _instant(vector.get("start") or vector["start_utc"], tz)
        times = []
        for _ in range(steps):
            assert current is not None
            current = next_after(expression, current, tz)
            times.append(current)
            if current is None:
                break
        if kind == "nth_next":
            times = times[-1:]
        return None if times == want else "wrong fire times"
    except Exception as error:
        return f"crashed evaluating: {type(error).__name__}"


# -- duration adapters: text -> (years, months, other seconds) or raise ----------------------
def _duration_ours(text: str) -> tuple[Decimal, ...]:
    from cloudbackup import parse_duration

    d = parse_duration(text)
    sign = -1 if d.negative else 1
    days = d.weeks * 7 + d.days
    return (sign * d.years, sign * d.months, sign * (days * 86400 + d.time_seconds()))


def _duration_isodate(text: str) -> tuple[Decimal, ...]:
    import isodate  # type: ignore[import-not-found]

    value = isodate.parse_duration(text)
    if isinstance(value, dt.timedelta):
        years, months, delta = Decimal(0), Decimal(0), value
    else:
        years, months, delta = Decimal(str(value.years)), Decimal(str(value.months)), value.tdelta
    seconds = Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 10**6
    return (years, months, seconds)


def _duration_aniso(text: str) -> tuple[Decimal, ...]:
    import aniso8601  # type: ignore[import-not-found]

    value = aniso8601.parse_duration(text)  # a timedelta: years and months become days
    seconds = Decimal(value.days * 86400 + value.seconds) + Decimal(value.microseconds) / 10**6
    return (Decimal(0), Decimal(0), seconds)


DURATION_LIBRARIES: dict[str, Callable[[str], tuple[Decimal, ...]]] = {
    "cloudbackup (ours)": _duration_ours,
    "isodate 0.7.2": _duration_isodate,
    "aniso8601 10.0.1": _duration_aniso,
}

_UNITS = {"PnY": 0, "PnM": 1}


def _expected_duration(vector: dict[str, Any]) -> tuple[Decimal, ...] | None:
    components = vector.get("components")
    if not components:
        return None

    def part(key: str) -> Decimal:
        value = components.get(key)
        return Decimal(value) if value is not None else Decimal(0)

    days = part("PnW") * 7 + part("PnD")
    return (
        part("PnY"),
        part("PnM"),
        days * 86400 + part("TnH") * 3600 + part("TnM") * 60 + part("TnS"),
    )


def _check_duration(
    parse: Callable[[str], tuple[Decimal, ...]], vector: dict[str, Any]
) -> str | None:
    try:
        got = parse(vector["input"])
    except Exception:
        return None if not vector["valid"] else "refused a valid duration"
    if not vector["valid"]:
        return "accepted an invalid duration"
    expected = _expected_duration(vector)
    if expected is not None and got != expected:
        if got[:2] != expected[:2]:
            return "years/months not kept as calendar units"
        return "lost precision or units"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--libs", help="a folder the libraries were installed into (--target)")
    args = parser.parse_args()
    if args.libs:
        sys.path.append(args.libs)  # after site-packages: the project's own deps win
    cron = json.loads((CONFORMANCE / "quartz_cron_vectors.json").read_text())["vectors"]
    gold = [v for v in cron if v["gold_quartz_consensus"]]
    print(f"cron: {len(gold)} gold_quartz_consensus vectors")
    for name, next_after in CRON_LIBRARIES.items():
        reasons = collections.Counter(
            reason for reason in (_check_cron(next_after, v) for v in gold) if reason
        )
        failed = sum(reasons.values())
        top = "; ".join(f"{count} {reason}" for reason, count in reasons.most_common(4))
        print(f"  {name:34} pass {len(gold) - failed:3}  fail {failed:3}  {top}")
    durations = json.loads((CONFORMANCE / "iso8601_duration_vectors.json").read_text())["vectors"]
    public = [v for v in durations if v["function"] == "parse_duration"]
    print(f"durations: {len(public)} parse_duration vectors")
    for name, parse in DURATION_LIBRARIES.items():
        reasons = collections.Counter(
            reason for reason in (_check_duration(parse, v) for v in public) if reason
        )
        failed = sum(reasons.values())
        top = "; ".join(f"{count} {reason}" for reason, count in reasons.most_common(4))
        print(f"  {name:34} pass {len(public) - failed:3}  fail {failed:3}  {top}")


if __name__ == "__main__":
    main()
