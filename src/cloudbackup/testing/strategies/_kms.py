"""Strategies for KMS keys and aliases."""

from __future__ import annotations

import string

from hypothesis import strategies as st

from ..._domain.kms import (
    ALIAS_NAME_MAX,
    ALIAS_NAME_MIN,
    PENDING_WINDOW_MAX,
    PENDING_WINDOW_MIN,
    KeySpec,
)
from ._common import _optional_flag, _range, _sized_text


# -- KMS -------------------------------------------------------------------------------------
def key_specs(*, symmetric: bool | None = None) -> st.SearchStrategy[KeySpec]:
    """KMS key specs; ``symmetric=True`` gives those that can encrypt disks."""
    want = _optional_flag("symmetric", symmetric)
    return st.sampled_from([s for s in KeySpec if want is None or s.symmetric is want])


def alias_names(
    *, min_size: int = ALIAS_NAME_MIN, max_size: int = ALIAS_NAME_MAX
) -> st.SearchStrategy[str]:
    """KMS alias names: ``alias/`` then letters, digits, ``_``, ``-`` and ``/``, 7–255
    characters in all, never the reserved ``alias/acs…``."""
    low, high = _range("alias_names", min_size, max_size, ALIAS_NAME_MIN, ALIAS_NAME_MAX)
    body = _sized_text(
        st.sampled_from(string.ascii_letters + string.digits + "_-/"),
        low - len("alias/"),
        high - len("alias/"),
    )
    return body.filter(lambda b: not b.startswith("acs")).map(lambda b: "alias/" + b)


def pending_window_days(
    *, min_value: int = PENDING_WINDOW_MIN, max_value: int = PENDING_WINDOW_MAX
) -> st.SearchStrategy[int]:
    """``PendingWindowInDays`` of ``schedule_key_deletion``: 7–366."""
    low, high = _range(
        "pending_window_days", min_value, max_value, PENDING_WINDOW_MIN, PENDING_WINDOW_MAX
    )
    return st.integers(low, high)
