"""Strategies for fleet workloads: :class:`cloudbackup.Churn` values that fit a disk."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ..._workload import PAGE_BYTES, Churn, ChurnPattern
from ._common import _optional_flag

__all__ = ["churns"]


@st.composite
def _churn(
    draw: st.DrawFn, disk_size: int, patterns: tuple[ChurnPattern, ...], generated: bool | None
) -> Churn:
    pattern = draw(st.sampled_from(patterns))
    hot_fraction = draw(st.sampled_from((0.01, 0.05, 0.25, 0.5, 1.0)))
    room = int(disk_size * hot_fraction) if pattern is ChurnPattern.HOT_SET else disk_size
    pages = room // PAGE_BYTES
    chunk_pages = draw(st.integers(1, max(1, min(pages, 4096))))
    count = draw(st.integers(1, max(1, min(pages // chunk_pages, 64))))
    whole_day = draw(st.booleans())
    return Churn(
        pattern,
        count * chunk_pages * PAGE_BYTES,
        chunk_bytes=None if whole_day and count == 1 else chunk_pages * PAGE_BYTES,
        hot_fraction=hot_fraction,
        generated=draw(st.booleans()) if generated is None else generated,
    )


def churns(
    *,
    disk_size: int = 20 * 2**30,
    patterns: st.SearchStrategy[ChurnPattern] | None = None,
    generated: bool | None = None,
) -> st.SearchStrategy[Churn]:
    """Daily churns that fit a disk of ``disk_size`` bytes (so ``Workload`` accepts them).

    Args:
        disk_size: The disk's size in bytes (at least 1 GiB, as disks are).
        patterns: Where the churn lands; every :class:`~cloudbackup.ChurnPattern` by default.
        generated: ``True``/``False`` for generated content or real bytes only; both by default.
    """
    if isinstance(disk_size, bool) or not isinstance(disk_size, int) or disk_size < 2**30:
        raise InvalidArgument(f"disk_size={disk_size!r} must be an int of at least 1 GiB.")
    flag = _optional_flag("generated", generated)
    if patterns is None:
        return _churn(disk_size, tuple(ChurnPattern), flag)
    if not isinstance(patterns, st.SearchStrategy):
        raise InvalidArgument(f"patterns={patterns!r} must be a strategy of ChurnPattern.")
    return patterns.flatmap(lambda p: _churn(disk_size, (p,), flag))
