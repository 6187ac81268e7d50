"""Strategies for Cloud Backup's backup points: what a rule keeps a point for, the retention
Extend Retention accepts, and instants of backups spread over local calendar boundaries."""

from __future__ import annotations

import datetime as _dt

from hypothesis import strategies as st

from ..._domain.hbr import RetentionRule
from ..._domain.hbr_points import MAX_EXTENDED_RETENTION, PointRetention
from ..._domain.hbr_rules import MAX_RETENTION_DAYS
from ._common import _bounded
from ._hbr import retention_rules

__all__ = ["backup_instants", "point_retentions", "retention_extensions"]


def point_retentions(*, max_days: int = MAX_RETENTION_DAYS) -> st.SearchStrategy[PointRetention]:
    """Valid :class:`~cloudbackup.PointRetention` values: base retention 1–``max_days``,
    special retention (each period at most once, 1–``max_days`` days), keep-latest and
    immutability either way."""
    days = _bounded("point_retentions max_days", max_days, 1, MAX_RETENTION_DAYS)

    def capped(rules: tuple[RetentionRule, ...]) -> tuple[RetentionRule, ...]:
        return tuple(r for r in rules if r.retention <= days)

    return st.builds(
        PointRetention,
        retention=st.integers(1, days),
        special=retention_rules().map(capped),
        keep_latest=st.booleans(),
        immutable=st.booleans(),
    )


def retention_extensions() -> st.SearchStrategy[int | None]:
    """What Extend Retention accepts: whole days 1–65,536, or ``None`` (Never Expire)."""
    return st.none() | st.integers(1, MAX_EXTENDED_RETENTION)


def backup_instants(
    *, start: _dt.datetime | None = None, max_gap_days: int = 40, max_size: int = 25
) -> st.SearchStrategy[list[_dt.datetime]]:
    """Increasing UTC instants of backups, from ``start`` (default: somewhere in 2024-2031),
    gaps of one second to ``max_gap_days``: they cross midnights, Sundays, month and year ends
    and daylight-saving changes of every region's local time."""
    gap = _bounded("backup_instants max_gap_days", max_gap_days, 1, 3650)
    size = _bounded("backup_instants max_size", max_size, 1, 1000)
    first = (
        st.just(start)
        if start is not None
        else st.datetimes(_dt.datetime(2024, 1, 1), _dt.datetime(2031, 12, 31)).map(
            lambda d: d.replace(tzinfo=_dt.timezone.utc)
        )
    )
    steps = st.lists(st.integers(1, gap * 86_400), min_size=0, max_size=size - 1)

    def spread(origin: _dt.datetime, gaps: list[int]) -> list[_dt.datetime]:
        out = [origin]
        for seconds in gaps:
            out.append(out[-1] + _dt.timedelta(seconds=seconds))
        return out

    return st.builds(spread, first, steps)
