"""Strategies for the guest side of an instance: RAM role names, script paths, consistency."""

from __future__ import annotations

import string

from hypothesis import strategies as st

from ..._domain.guest import (
    RAM_ROLE_NAME,
    SCRIPT_PATH_MAX,
    ConsistentLevel,
    DowngradeReason,
)
from ._common import _range, _sized_text

RAM_ROLE_NAME_MAX = 64
"""The longest RAM role name (characters)."""


# -- the guest side --------------------------------------------------------------------------
def ram_role_names(
    *, min_size: int = 1, max_size: int = RAM_ROLE_NAME_MAX
) -> st.SearchStrategy[str]:
    """``RamRoleName`` of ``attach_instance_ram_role``: 1–64 letters, digits, ``.`` and ``-``
    (every well-formed name is taken to name an existing role)."""
    low, high = _range("ram_role_names", min_size, max_size, 1, RAM_ROLE_NAME_MAX)
    return _sized_text(st.sampled_from(string.ascii_letters + string.digits + ".-"), low, high)


def invalid_ram_role_names() -> st.SearchStrategy[str]:
    """Strings that cannot name a RAM role (empty, too long, another character, a lone
    surrogate). Calls answer ``InvalidRamRole.NotFound``."""
    too_long = _sized_text(st.sampled_from("ab"), RAM_ROLE_NAME_MAX + 1, RAM_ROLE_NAME_MAX + 8)
    other = st.text(max_size=20)
    surrogate = st.just("role\udc80")
    return (st.just("") | too_long | other | surrogate).filter(
        lambda name: not RAM_ROLE_NAME.fullmatch(name)
    )


def script_paths(
    *, os_type: str = "linux", max_size: int = SCRIPT_PATH_MAX
) -> st.SearchStrategy[str]:
    """Absolute script paths for ``guest(...).install_script`` on an instance of ``os_type``
    (``linux``: ``/...``; ``windows``: ``C:\\...``), at most ``max_size`` characters."""
    if os_type not in ("linux", "windows"):
        from hypothesis.errors import InvalidArgument

        raise InvalidArgument(f"os_type={os_type!r} must be 'linux' or 'windows'")
    _, high = _range("script_paths", 3, max_size, 3, SCRIPT_PATH_MAX)
    body = st.text(
        st.characters(codec="utf-8", exclude_characters="\x00"), min_size=0, max_size=high - 3
    )
    if os_type == "windows":
        drive = st.sampled_from(string.ascii_uppercase)
        return st.tuples(drive, body).map(lambda p: f"{p[0]}:\\{p[1]}")
    return body.map(lambda b: "/" + b)


def consistent_levels() -> st.SearchStrategy[ConsistentLevel]:
    """``ConsistentLevel`` values: ``APP``, ``FS``, ``CRASH``."""
    return st.sampled_from(ConsistentLevel)


def downgrade_reasons() -> st.SearchStrategy[DowngradeReason]:
    """``DowngradeReason`` values."""
    return st.sampled_from(DowngradeReason)
