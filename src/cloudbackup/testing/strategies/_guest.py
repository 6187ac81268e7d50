"""Strategies for the guest side of an instance: RAM role names, script paths, consistency."""

from __future__ import annotations

import datetime as _dt
import string
from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ..._domain.guest import (
    RAM_ROLE_NAME,
    SCRIPT_PATH_MAX,
    AppConsistentResult,
    ConsistentLevel,
    DowngradeReason,
    InstanceRamRoleSet,
)
from ._common import _as_strategy, _range, _sized_text

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
        raise InvalidArgument(f"os_type={os_type!r} must be 'linux' or 'windows'")
    _, high = _range("script_paths", 3, max_size, 3, SCRIPT_PATH_MAX)
    characters = st.characters(codec="utf-8", exclude_characters="\x00")
    if os_type == "windows":
        drive = st.sampled_from(string.ascii_uppercase)
        body = st.text(characters, max_size=high - 3)
        return st.tuples(drive, body).map(lambda p: f"{p[0]}:\\{p[1]}")
    body = st.text(characters, max_size=high - 1)
    return body.map(lambda b: "/" + b)


def consistent_levels() -> st.SearchStrategy[ConsistentLevel]:
    """``ConsistentLevel`` values: ``APP``, ``FS``, ``CRASH``."""
    return st.sampled_from(ConsistentLevel)


def downgrade_reasons() -> st.SearchStrategy[DowngradeReason]:
    """``DowngradeReason`` values."""
    return st.sampled_from(DowngradeReason)


def instance_ram_role_sets() -> st.SearchStrategy[InstanceRamRoleSet]:
    """``DescribeInstanceRamRole`` items: an instance id and a well-formed role name."""
    suffix = st.text(
        st.sampled_from(string.ascii_lowercase + string.digits), min_size=1, max_size=20
    )
    return st.builds(InstanceRamRoleSet, suffix.map(lambda s: "i-" + s), ram_role_names())


_SCRIPT_TIME = st.integers(0, 86_400 * 10**6).map(lambda us: _dt.timedelta(microseconds=us))


def app_consistent_results(
    *, values: st.SearchStrategy[Any] | None = None
) -> st.SearchStrategy[AppConsistentResult[Any]]:
    """Results of the guest agent's application-consistent sequence whose fields agree, as the
    agent makes them: a downgrade reason only with ``CRASH``; no script time unless scripts
    ran. ``values`` gives what ``take()`` returned (default: snapshot ids)."""
    taken = (
        st.text(
            st.sampled_from(string.ascii_lowercase + string.digits), min_size=1, max_size=20
        ).map(lambda s: "s-" + s)
        if values is None
        else _as_strategy("values", values)
    )

    def build(
        value: Any,
        level: ConsistentLevel,
        reason: DowngradeReason | None,
        pre: _dt.timedelta,
        post: _dt.timedelta,
        post_error: str | None,
    ) -> AppConsistentResult[Any]:
        if level is not ConsistentLevel.CRASH:
            reason = None
        scripts_ran = level is ConsistentLevel.APP or reason in (
            DowngradeReason.PreScriptFailed,
            DowngradeReason.PreScriptTimeout,
        )
        if not scripts_ran:
            pre = post = _dt.timedelta(0)
            post_error = None
        message = "ok" if reason is None else f"downgraded: {reason.value}"
        return AppConsistentResult(value, level, reason, message, pre, post, post_error)

    return st.builds(
        build,
        taken,
        consistent_levels(),
        st.none() | downgrade_reasons(),
        _SCRIPT_TIME,
        _SCRIPT_TIME,
        st.none() | st.text(max_size=40),
    )
