"""Parameter checks shared by every service: each raises a typed error with the real code.

Every check returns a value of the exact builtin type (``str``, ``int``, ``tuple``), never the
caller's subclass of it: a ``str`` subclass name, an ``int`` subclass retention or a named
tuple is normalized here, at the boundary, so what the services store is the same on every
backend (the SQLite codec stores builtin types only) and no subclass's overridden methods run
inside a unit of work.
"""

from __future__ import annotations

import datetime as _dt
import enum
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from attrs import has as _attrs_has

from .errors import InvalidParameterError

__all__ = [
    "boolean",
    "builtin",
    "exact_int",
    "exact_str",
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


def _bad(
    name: str, value: object, expect: str, code: str | None, http_status: int | None = None
) -> InvalidParameterError:
    return InvalidParameterError(
        f"The parameter {name}={_shown(value)} is not valid: {expect}.",
        code=code or f"InvalidParameter.{name}",
        http_status=http_status,
        recommend=f"Pass {name} as {expect}.",
    )


def _shown(value: object) -> str:
    """``repr(value)`` that a hostile ``__repr__`` cannot break or lengthen without bound."""
    try:
        text = object.__repr__(value) if _hostile_repr(value) else repr(value)
    except Exception:  # a repr that raises must not hide the parameter error
        text = object.__repr__(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _hostile_repr(value: object) -> bool:
    # Builtin values print themselves; a subclass's __repr__ is the caller's code.
    return type(value) not in (str, int, float, bool, bytes, tuple, list, dict, type(None))


def exact_str(value: str) -> str:
    """``value`` as an exact ``str`` (a subclass instance becomes a plain copy)."""
    return value if type(value) is str else str.__str__(value)


def exact_int(value: int) -> int:
    """``value`` as an exact ``int`` (a subclass instance becomes a plain copy)."""
    return value if type(value) is int else int.__index__(value)


def builtin(value: object, depth: int = 0) -> object:
    """``value`` with every subclass of ``str``, ``int``, ``float``, ``tuple`` (a named tuple),
    ``list`` or ``datetime`` inside it (also in the fields of a request object) replaced by
    an exact builtin copy; enums, ``bool`` and everything else are left as they are.

    Every public service method's arguments pass through this before the method runs, so a
    caller's subclass never reaches a stored record or an event, and no overridden method of
    it runs inside a unit of work. Containers nested deeper than 8 levels (or cyclic) are left
    alone for the validators to refuse.
    """
    kind = type(value)
    if kind in _EXACT or isinstance(value, enum.Enum) or depth > 8:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, _dt.datetime):
        return _dt.datetime(
            *_dt.datetime.timetuple(value)[:6],
            _dt.datetime.microsecond.__get__(value),
            _dt.datetime.tzinfo.__get__(value),
            fold=_dt.datetime.fold.__get__(value),
        )
    if isinstance(value, tuple):
        return tuple(builtin(item, depth + 1) for item in tuple.__iter__(value))
    if isinstance(value, list):
        return [builtin(item, depth + 1) for item in list.__iter__(value)]
    own = _own_request_type(kind)
    if own is not None:
        changes = {
            f.alias: builtin(getattr(value, f.name), depth + 1)
            for f in own.__attrs_attrs__
            if f.init
        }
        return own(**changes)
    return value


_EXACT = frozenset({str, int, bool, float, bytes, type(None), _dt.datetime})


def _own_request_type(kind: type) -> Any:
    """The package's own attrs class that ``kind`` is or derives from (``DataDisk``,
    ``PolicyBindingRequest``, ...), else None. Exported classes name ``cloudbackup`` as their
    module, the others a submodule of it; a caller's subclass is rebuilt as the package's class,
    so none of its overrides runs inside a unit of work."""
    for base in kind.__mro__:
        module = base.__dict__.get("__module__", "")
        if (module == "cloudbackup" or module.startswith("cloudbackup.")) and _attrs_has(base):
            return base
    return None


def integer(
    name: str,
    value: object,
    lo: int,
    hi: int,
    *,
    code: str | None = None,
    http_status: int | None = None,
) -> int:
    """``value`` as an exact ``int`` if it is an int (not a bool) within ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(name, value, f"an integer from {lo} to {hi}", code, http_status)
    number = exact_int(value)
    if not lo <= number <= hi:
        raise _bad(name, number, f"an integer from {lo} to {hi}", code, http_status)
    return number


def boolean(name: str, value: object, *, code: str | None = None) -> bool:
    """``value`` if it is a bool."""
    if not isinstance(value, bool):
        raise _bad(name, value, "True or False", code)
    return value


def is_utf8(value: str) -> bool:
    """Whether ``value`` can travel as UTF-8 (the real API's encoding): no lone surrogates."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text(name: str, value: object, lo: int, hi: int, *, code: str | None = None) -> str:
    """``value`` as an exact ``str`` if it is a UTF-8 str of ``lo``..``hi`` characters."""
    if not isinstance(value, str):
        raise _bad(name, value, f"a string of {lo} to {hi} characters", code)
    string = exact_str(value)
    if not lo <= len(string) <= hi or not is_utf8(string):
        raise _bad(name, string, f"a string of {lo} to {hi} characters", code)
    return string


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
    if isinstance(value, str):
        value = exact_str(value)
    if (
        not isinstance(value, str)
        or not lo <= len(value) <= hi
        or not _NAME_START.match(value)
        or not is_utf8(value)
        or value.startswith(("http://", "https://"))
        or (forbid_auto and value.lower().startswith("auto"))
    ):
        rule = f"{lo} to {hi} characters, starting with a letter, not with http:// or https://"
        if forbid_auto:
            rule += " and not with 'auto'"
        raise InvalidParameterError(
            f"The name {_shown(value)} of {name} is not valid: {rule}.",
            code=code,
            recommend=f"Choose a {name} of {rule}.",
        )
    return value


def enum_value(name: str, value: object, cls: type[E], *, code: str | None = None) -> E:
    """The member of ``cls`` that ``value`` is or names."""
    if isinstance(value, cls):
        return value
    for member in cls:
        if isinstance(value, str) and member.value == exact_str(value):
            return member
    allowed = ", ".join(str(m.value) for m in cls)
    raise _bad(name, value, f"one of {allowed}", code)


def choice(
    name: str,
    value: object,
    allowed: Sequence[str],
    *,
    code: str | None = None,
    http_status: int | None = None,
) -> str:
    """The item of ``allowed`` that ``value`` equals (so always an exact ``str``)."""
    if isinstance(value, str):
        string = exact_str(value)
        for item in allowed:
            if item == string:
                return item
    raise _bad(name, value, f"one of {', '.join(allowed)}", code, http_status)


def id_list(
    name: str, value: object, *, max_items: int, code: str | None = None
) -> tuple[str, ...]:
    """A tuple of exact id strings from a list or tuple of at most ``max_items`` non-empty
    strings; duplicates are refused."""
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
        string = exact_str(item)
        if string in ids:
            raise _bad(name, value, "a list without duplicate ids", code)
        ids.append(string)
    return tuple(ids)


def page(page_number: object, page_size: object, *, max_size: int = 100) -> tuple[int, int]:
    """Validated ``(page_number, page_size)`` for the real API's page-based paging."""
    return (
        integer("PageNumber", page_number, 1, 2**31 - 1),
        integer("PageSize", page_size, 1, max_size),
    )
