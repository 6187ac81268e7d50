"""Cloud Backup retention arithmetic: which period a backup falls in, which special retention
it earns, and the retention a policy's rule gives a new point.

Pure functions, no storage: the points layer keeps, per instance, the last period of each kind
that already has its first point (see :func:`first_of_periods`), so choosing "the first point
of the week" reads one small record, never the instance's history.

Periods are the region's local calendar: a day starts at 00:00 local time, a week on Sunday
00:00, a month on the 1st, a year on 1 January. In a region with daylight saving, the local
date of the instant is what counts (an hour that repeats belongs to the same day).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence

from ..._domain.hbr import AdvancedRetentionType, Policy, RetentionRule, RuleType
from ..._domain.hbr_points import PointRetention

__all__ = [
    "PERIOD_ORDER",
    "effective_retention",
    "first_of_periods",
    "period_key",
    "point_retention_of",
]

PERIOD_ORDER: tuple[AdvancedRetentionType, ...] = (
    AdvancedRetentionType.DAILY,
    AdvancedRetentionType.WEEKLY,
    AdvancedRetentionType.MONTHLY,
    AdvancedRetentionType.YEARLY,
)
"""The period kinds, shortest first (a tie in retention goes to the longest period)."""


def period_key(kind: AdvancedRetentionType, instant: _dt.datetime, zone: _dt.tzinfo) -> str:
    """The local-time period of ``instant`` as a string that sorts in time order:
    ``2026-11-30`` (day), the Sunday that starts its week (week), ``2026-11`` (month),
    ``2026`` (year)."""
    return _period_of_day(kind, instant.astimezone(zone).date())


def _period_of_day(kind: AdvancedRetentionType, day: _dt.date) -> str:
    if kind is AdvancedRetentionType.DAILY:
        return day.isoformat()
    if kind is AdvancedRetentionType.WEEKLY:
        sunday = day - _dt.timedelta(days=(day.weekday() + 1) % 7)  # Monday is 0
        return sunday.isoformat()
    if kind is AdvancedRetentionType.MONTHLY:
        return f"{day.year:04d}-{day.month:02d}"
    return f"{day.year:04d}"


def first_of_periods(
    last: Mapping[str, str], instant: _dt.datetime, zone: _dt.tzinfo
) -> tuple[frozenset[AdvancedRetentionType], dict[str, str]]:
    """Which periods a point made at ``instant`` is the first of, given ``last`` (period kind
    -> the latest period that already has its first point), and the updated ``last``.

    Points of an instance are recorded in time order, so a point is the first of its period
    exactly when its period is later than the last one seen.
    """
    firsts: set[AdvancedRetentionType] = set()
    updated = dict(last)
    day = instant.astimezone(zone).date()  # one conversion for the four periods
    for kind in PERIOD_ORDER:
        key = _period_of_day(kind, day)
        seen = last.get(kind.value)
        if seen is None or key > seen:
            firsts.add(kind)
            updated[kind.value] = key
    return frozenset(firsts), updated


def effective_retention(
    base: int, special: Sequence[RetentionRule], firsts: frozenset[AdvancedRetentionType]
) -> tuple[int, AdvancedRetentionType | None]:
    """The retention (days) of a point and the special retention that set it: the longest of
    ``base`` and every special rule whose period the point is first of. The type is shown
    only when a special retention is strictly longer than ``base``; between special rules of
    equal retention the longer period wins."""
    best, kind = base, None
    for rule in special:
        rule_kind = AdvancedRetentionType(rule.advanced_retention_type)
        if rule_kind not in firsts:
            continue
        longer = rule.retention > best
        tie = (
            kind is not None
            and rule.retention == best
            and PERIOD_ORDER.index(rule_kind) > PERIOD_ORDER.index(kind)
        )
        if longer or tie:
            best, kind = rule.retention, rule_kind
    return best, kind


def point_retention_of(policy: Policy, rule_id: str | None = None) -> PointRetention:
    """What a point made by ``policy``'s BACKUP rule ``rule_id`` (default: its first BACKUP
    rule) is kept for: the TRANSITION rule's retention when there is one (it has priority),
    else the BACKUP rule's; the TRANSITION rule's special retention; ``KeepLatestSnapshots``;
    the SECURITY rule's ``Immutable``."""
    backups = policy.rules_of(RuleType.BACKUP)
    rule = next((r for r in backups if r.rule_id == rule_id), None) if rule_id else None
    rule = rule or backups[0]
    transitions = policy.rules_of(RuleType.TRANSITION)
    base = rule.retention
    special: tuple[RetentionRule, ...] = ()
    if transitions:
        if transitions[0].retention is not None:
            base = transitions[0].retention
        special = transitions[0].retention_rules
    kept = PointRetention(
        retention=1 if base is None else base,
        special=special,
        keep_latest=rule.keep_latest_snapshots == 1,
        immutable=policy.immutable,
        policy_id=policy.policy_id,
        rule_id=rule.rule_id,
    )
    # One object per value in use (a value, immutable: it cannot go stale): the jobs of a rule
    # then share it, each fire of the rule (one unit per bound instance) making no new one.
    # Keyed with the types of its fields too, so equal values of other types never mix.
    key = (
        kept,
        type(kept.retention), type(kept.immutable), type(kept.policy_id), type(kept.rule_id),
        tuple([(type(r.advanced_retention_type), type(r.retention), type(r.which_snapshot))
               for r in special]),
    )  # fmt: skip
    if len(_IN_USE) >= 1024:
        _IN_USE.clear()
    return _IN_USE.setdefault(key, kept)


_IN_USE: dict[tuple[object, ...], PointRetention] = {}
"""The point retentions :func:`point_retention_of` gave, by value and the types of their
fields."""
