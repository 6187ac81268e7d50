"""Cron and duration parsing against other projects' vectors (``../shared/conformance/``).

The vectors are read from beside the repository, never copied into it; without them (a wheel
install) these tests skip. Every ``gold_quartz_consensus`` cron vector must pass. Every other
cron vector must agree with Quartz 2.3.2 except the ones listed in :data:`REFUSED`, where we
refuse an expression Quartz half-reads (docs/reference/schedules.md, "Deviations").
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cloudbackup import parse_duration
from cloudbackup._domain.cron import parse_cron
from cloudbackup.errors import InvalidScheduleError

CONFORMANCE = Path(__file__).resolve().parent.parent.parent / "shared" / "conformance"
CRON_FILE = CONFORMANCE / "quartz_cron_vectors.json"
DURATION_FILE = CONFORMANCE / "iso8601_duration_vectors.json"

#: Expressions Quartz 2.3.2 accepts by ignoring part of them, which we refuse (documented).
REFUSED = {
    "0 15 10 * * ? 2005 *",  # an 8th field: Quartz stops reading after the year
    "L 30 * * * ?",  # 'L' in seconds: Quartz stores nothing and fails when evaluating
    "L 15 10 15 * ? 2010",
    "0 L 10 15 * ? 2010",
    "0 15 L 15 * ? 2010",
    "0 15 10 15 L ? 2010",
    "0 15 10 15 * ? L",
    "0 15 10 ? * 0#1 2010",  # day-of-week 0, 8, 14 before '#': Quartz skips the range check
    "0 15 10 ? * 8#1 2010",
    "0 15 10 ? * 14#1 2010",
    "0 15 10 0W * ?",  # day 0 before 'W'
    "0 0 * * * ?h",  # a character after '?'
    "0 0 14/2 ? * mon/3 *",  # a step after a name: Quartz drops '/3', go-quartz steps
}


def _load(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        pytest.skip(f"conformance vectors not found at {path}")
    vectors: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["vectors"]
    return vectors


def _cron_vectors() -> list[Any]:
    if not CRON_FILE.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason="no conformance vectors"))]
    return [
        pytest.param(vector, id=vector["id"])
        for vector in json.loads(CRON_FILE.read_text(encoding="utf-8"))["vectors"]
    ]


def _instant(text: str, tz: dt.tzinfo) -> dt.datetime:
    if text.endswith("Z"):
        return dt.datetime.fromisoformat(text[:-1]).replace(tzinfo=dt.timezone.utc)
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def _quartz_answer(vector: dict[str, Any]) -> object:
    """What Quartz 2.3.2 returned, in the shape :func:`_our_answer` gives."""
    quartz = vector["quartz_java_2_3_2"]
    if quartz["status"] == "PARSE_ERROR":
        return "invalid"
    if vector["kind"] in ("valid", "invalid"):
        return "valid"
    if vector["kind"] == "matches":
        return quartz["result"]
    return [None if r == "null" else dt.datetime.fromisoformat(r) for r in quartz["result"]]


def _our_answer(vector: dict[str, Any]) -> object:
    tz = zoneinfo.ZoneInfo(vector["tz"])
    try:
        cron = parse_cron(vector["expression"])
    except InvalidScheduleError:
        return "invalid"
    if vector["kind"] in ("valid", "invalid"):
        return "valid"
    if vector["kind"] == "matches":
        return cron.matches(_instant(vector["instant"], tz), tz)
    current: dt.datetime | None = _instant(vector.get("start") or vector["start_utc"], tz)
    steps = len(vector["quartz_java_2_3_2"]["result"]) if vector["kind"] == "next_sequence" else 0
    times: list[dt.datetime | None] = []
    for _ in range(steps or vector["n"]):
        assert current is not None
        current = cron.next_after(current, tz)
        times.append(current)
        if current is None:
            break
    return times if steps else times[-1:]


@pytest.mark.parametrize("vector", _cron_vectors())
def test_cron_vector_agrees_with_quartz(vector: dict[str, Any]) -> None:
    """Each vector gives Quartz 2.3.2's answer, except the documented refusals."""
    expected = "invalid" if vector["expression"] in REFUSED else _quartz_answer(vector)
    assert expected == _our_answer(vector)


def test_every_gold_vector_is_checked_against_quartz() -> None:
    """The 243 gold vectors are all among those that follow Quartz (none is refused)."""
    vectors = _load(CRON_FILE)
    gold = [v for v in vectors if v["gold_quartz_consensus"]]
    assert 243 == len(gold)
    assert [] == [v["id"] for v in gold if v["expression"] in REFUSED]


def test_every_refused_expression_is_in_the_vectors() -> None:
    """The list of refusals names only expressions the vectors hold (it cannot go stale)."""
    expressions = {v["expression"] for v in _load(CRON_FILE)}
    assert set() == REFUSED - expressions


def _duration_vectors() -> list[Any]:
    if not DURATION_FILE.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason="no conformance vectors"))]
    return [
        pytest.param(vector, id=f"{index}-{vector['input'][:30]}")
        for index, vector in enumerate(
            json.loads(DURATION_FILE.read_text(encoding="utf-8"))["vectors"]
        )
        if vector["function"] == "parse_duration"
    ]


_COMPONENTS = {
    "PnY": "years",
    "PnM": "months",
    "PnW": "weeks",
    "PnD": "days",
    "TnH": "hours",
    "TnM": "minutes",
    "TnS": "seconds",
}


@pytest.mark.parametrize("vector", _duration_vectors())
def test_duration_vector(vector: dict[str, Any]) -> None:
    """Valid strings parse to their components (calendar units kept); invalid ones are refused."""
    text = vector["input"]
    if not vector["valid"]:
        with pytest.raises(InvalidScheduleError) as caught:
            parse_duration(text)
        assert "BadRequest" == caught.value.code
        return
    duration = parse_duration(text)
    components = vector.get("components")
    if components is not None:
        expected = {
            name: Decimal(components[key]) if components.get(key) is not None else Decimal(0)
            for key, name in _COMPONENTS.items()
        }
        actual = {name: getattr(duration, name) for name in _COMPONENTS.values()}
        assert expected == actual
    reference = vector.get("isodate_value")
    if reference is not None and reference["type"] == "Duration":
        assert (Decimal(str(reference["years"])), Decimal(reference["months"])) == (
            (-1 if duration.negative else 1) * duration.years,
            (-1 if duration.negative else 1) * duration.months,
        )
    if reference is not None and "total_seconds" in reference and not duration.has_calendar_units:
        total = (duration.time_seconds()) * (-1 if duration.negative else 1)
        assert Decimal(str(reference["total_seconds"])) == total
