"""Parameter checks shared by every service: each raises a typed error with the real code."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from typing import TypeVar

from .errors import InvalidParameterError

__all__ = [
    "boolean",
    "choice",
    "enum_value",
    "id_list",
    "integer",
    "name_text",
    "optional_text",
    "page",
    "text",
]

E = TypeVar("E", bound=enum.Enum)


def _bad(name: str, value: object, expect: str, code: str | None) -> InvalidParameterError:
    return InvalidParameterError(
        f"The parameter {name}={value!r} is not valid: {expect}.",
        code=code or f"InvalidParameter.{name}",
        recommend=f"Pass {name} as {expect}.",
    )


def integer(name: str, value: object, lo: int, hi: int, *, code: str | None = None) -> int:
    """``value`` if it is an int (not a bool) within ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _bad(name, value, f"an integer from {lo} to {hi}", code)
    return value


def boolean(name: str, value: object, *, code: str | None = None) -> bool:
    """``value`` if it is a bool."""
    if not isinstance(value, bool):
        raise _bad(name, value, "True or False", code)
    return value


def text(name: str, value: object, lo: int, hi: int, *, code: str | None = None) -> str:
    """``value`` if it is a str of ``lo``..``hi`` characters."""
    if not isinstance(value, str) or not lo <= len(value) <= hi:
        raise _bad(name, value, f"a string of {lo} to {hi} characters", code)
    return value


def optional_text(
    name: str, value: object, lo: int, hi: int, *, code: str | None = None
) -> str | None:
    """Like :func:`text` but ``None`` passes through."""
    return None if value is None else text(name, value, lo, hi, code=code)


_NAME_START = re.compile(r"^[A-Za-z\u4e00-\u9fff]")


def name_text(
    name: str,
    value: object,
    *,
    code: str,
    lo: int = 2,
    hi: int = 128,
    forbid_auto: bool = False,
) -> str | None:
    """An ECS resource name: ``lo``..``hi`` chars, starts with a letter, no ``http(s)://``.

    With ``forbid_auto`` it also may not start with ``auto`` (reserved for automatic snapshots).
    """
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not lo <= len(value) <= hi
        or not _NAME_START.match(value)
        or value.startswith(("http://", "https://"))
        or (forbid_auto and value.lower().startswith("auto"))
    ):
        rule = f"{lo} to {hi} characters, starting with a letter, not with http:// or https://"
        if forbid_auto:
            rule += " and not with 'auto'"
        raise InvalidParameterError(
            f"The name {value!r} of {name} is not valid: {rule}.",
            code=code,
            recommend=f"Choose a {name} of {rule}.",
        )
    return value


def enum_value(name: str, value: object, cls: type[E], *, code: str | None = None) -> E:
    """The member of ``cls`` that ``value`` is or names."""
    if isinstance(value, cls):
        return value
    for member in cls:
        if isinstance(value, str) and member.value == value:
            return member
    allowed = ", ".join(str(m.value) for m in cls)
    raise _bad(name, value, f"one of {allowed}", code)


def choice(name: str, value: object, allowed: Sequence[str], *, code: str | None = None) -> str:
    """``value`` if it is one of ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise _bad(name, value, f"one of {', '.join(allowed)}", code)
    return value


def id_list(
    name: str, value: object, *, max_items: int, code: str | None = None
) -> tuple[str, ...]:
    """A list or tuple of id strings with at most ``max_items`` items, duplicates refused."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise _bad(name, value, "a list of id strings", code)
    if len(value) > max_items:
        raise _bad(name, value, f"a list of at most {max_items} ids", code)
    ids: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item:
            raise _bad(name, value, "a list of non-empty id strings", code)
        if item in ids:
            raise _bad(name, value, "a list without duplicate ids", code)
        ids.append(item)
    return tuple(ids)


def page(page_number: object, page_size: object, *, max_size: int = 100) -> tuple[int, int]:
    """Validated ``(page_number, page_size)`` for the real API's page-based paging."""
    return (
        integer("PageNumber", page_number, 1, 2**31 - 1),
        integer("PageSize", page_size, 1, max_size),
    )
