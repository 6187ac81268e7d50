"""Argument checking and building blocks shared by the strategy modules; the bounds
come from the library's own constants (:mod:`cloudbackup._domain.limits` and friends)."""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ..._domain.ecs import (
    DiskCategory,
    PerformanceLevel,
)
from ..._regions import REGIONS

T = TypeVar("T")

# '-' (the real API's documented alphabet, which the model's looser rule accepts too).
_CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
_NAME_FIRST = st.sampled_from(string.ascii_letters) | _CJK
_NAME_REST = st.sampled_from(string.ascii_letters + string.digits + ":_.-") | _CJK
_REAL_INSTANCE_TYPES = (
    "ecs.g7.large",
    "ecs.g7.xlarge",
    "ecs.c7.2xlarge",
    "ecs.r7.4xlarge",
    "ecs.g6e.8xlarge",
    "ecs.g8i.large",
    "ecs.t6-c1m1.large",
    "ecs.i3.2xlarge",
    "ecs.d1ne.4xlarge",
    "ecs.ebmg7.32xlarge",
)
_LOWER_DIGITS = string.ascii_lowercase + string.digits
# Categories that take a disk of any size from 1 GiB, with the performance level that does.
_ANY_SIZE: dict[DiskCategory, PerformanceLevel | None] = {
    DiskCategory.cloud_auto: None,
    DiskCategory.cloud_essd: PerformanceLevel.PL0,
}


# -- argument handling -----------------------------------------------------------------------
def _bounded(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidArgument(f"{name}={value!r} must be an integer from {lo} to {hi}.")
    return value


def _range(what: str, min_value: object, max_value: object, lo: int, hi: int) -> tuple[int, int]:
    low = lo if min_value is None else _bounded(f"{what} min_value", min_value, lo, hi)
    high = hi if max_value is None else _bounded(f"{what} max_value", max_value, lo, hi)
    if low > high:
        raise InvalidArgument(f"{what}: min_value={low} is above max_value={high}.")
    return low, high


def _optional_flag(name: str, value: object) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r} must be True, False or None.")
    return value


def _lift(value: object, convert: Callable[[object], T]) -> st.SearchStrategy[T]:
    """A strategy from an argument that is a plain value (checked now) or a strategy."""
    if isinstance(value, st.SearchStrategy):
        return value.map(convert)
    return st.just(convert(value))


def _as_category(value: object) -> DiskCategory:
    if isinstance(value, DiskCategory):
        return value
    try:
        return DiskCategory(value)
    except ValueError:
        raise InvalidArgument(f"{value!r} is not a disk category.") from None


def _as_level(value: object) -> PerformanceLevel | None:
    if value is None or isinstance(value, PerformanceLevel):
        return value
    try:
        return PerformanceLevel(value)
    except ValueError:
        raise InvalidArgument(f"{value!r} is not a performance level.") from None


def _as_region(value: object) -> str:
    if not isinstance(value, str) or value not in REGIONS:
        raise InvalidArgument(f"{value!r} is not a region id this model knows.")
    return value


def _as_strategy(name: str, value: object) -> st.SearchStrategy[Any]:
    if not isinstance(value, st.SearchStrategy):
        raise InvalidArgument(f"{name} must be a Hypothesis strategy, not {value!r}.")
    return value


def _lengths(low: int, high: int) -> st.SearchStrategy[int]:
    # Hypothesis rarely draws the longest text on its own; the rules' edges matter most.
    return st.sampled_from(sorted({low, high})) | st.integers(low, high)


def _sized_text(alphabet: st.SearchStrategy[str], low: int, high: int) -> st.SearchStrategy[str]:
    return _lengths(low, high).flatmap(lambda n: st.text(alphabet, min_size=n, max_size=n))


def _outside(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.integers(max_value=lo - 1) | st.integers(min_value=hi + 1)
