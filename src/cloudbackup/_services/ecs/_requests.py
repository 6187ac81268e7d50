"""What every ECS request shares, whatever the resource: ``ClientToken`` idempotency, ``DryRun``,
and ``NextToken``/``MaxResults`` paging.

One mechanism each, used by every action that has the parameter:

- :func:`ecs_action` runs an action as one unit of work. With ``client_token`` it remembers
  the token, a fingerprint of the parameters and the result (stored in the region, so durable
  on SQLite and rolled back with the unit): the same token with the same parameters returns
  the first result and does nothing; with other parameters it is ``IdempotentParameterMismatch``.
  With ``dry_run=True`` it runs the whole action, then raises ``DryRunOperation`` inside the
  unit, so everything the action did (records, ids, events, timers) is rolled back; an action
  that would fail raises that failure instead.
- :func:`token_page` cuts a sorted result into keyset pages: a ``NextToken`` holds the sort key
  of the last record returned, so a walk over the tokens returns every record that exists
  throughout the walk exactly once, whatever is created or deleted between pages.
  :func:`keyset_page` gives the same pages from an ordered source (an ordered index) that it
  reads from the token's position, so a page costs the page, not every matching record.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import inspect
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ... import _validate as v
from ..._domain.requests import Page, paginate
from ..._repository import OrderedIndex, Repository, Where
from ..._store import raw_kind
from ...errors import DependencyViolationError, DryRunOperationError, InvalidParameterError
from .._base import _builtin_arguments

__all__ = [
    "CLIENT_TOKENS",
    "MAX_CLIENT_TOKEN_LENGTH",
    "ecs_action",
    "finish_read",
    "id_order_page",
    "keyset_page",
    "token_page",
]

CLIENT_TOKENS = raw_kind("ecs.client_tokens")
"""Raw kind: partition = region id, key = ``Action:ClientToken``, value = ``(fingerprint,
result)`` of the first call that used the token."""

MAX_CLIENT_TOKEN_LENGTH = 64
"""``ClientToken``: at most 64 ASCII characters (the real limit)."""

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

_NOT_PARAMETERS = ("self", "client_token", "dry_run")


def _client_token(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not (
        1 <= len(value) <= MAX_CLIENT_TOKEN_LENGTH and value.isascii()
    ):
        raise InvalidParameterError(
            f"The client token {value!r} is not valid.",
            code="InvalidClientToken.Malformed",
            recommend=f"Pass ClientToken as 1 to {MAX_CLIENT_TOKEN_LENGTH} ASCII characters, "
            "unique for each request (a UUID is the usual choice).",
        )
    return str.__str__(value)  # a plain str, whatever subclass came in


def _canonical(value: object) -> object:
    """``value`` with every list made a tuple, so ``[a]`` and ``(a,)`` are the same request."""
    if isinstance(value, (list, tuple)):
        return tuple(_canonical(item) for item in value)
    return value


def _fingerprint(
    signature: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> str:
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    params = sorted(
        (name, _canonical(value))
        for name, value in bound.arguments.items()
        if name not in _NOT_PARAMETERS
    )
    # repr escapes lone surrogates, so any parameter value has a fingerprint.
    text = repr(params).encode("utf-8", "backslashreplace")
    return hashlib.sha256(text).hexdigest()


def ecs_action(
    action: str, *, dry_run: bool = False, client_token: bool = False
) -> Callable[[F], F]:
    """Run an ECS action as one unit of work, with the real ``DryRun`` and ``ClientToken``.

    Args:
        action: The real action's name, e.g. ``"CreateDisk"`` (names the token's scope and the
            ``DryRunOperation`` message).
        dry_run: Whether the action has ``DryRun``: the method then takes ``dry_run=``.
        client_token: Whether the action has ``ClientToken``: the method then takes
            ``client_token=`` and returns a str, a list of str, or None.
    """

    def decorate(method: F) -> F:
        signature = inspect.signature(method)
        params = signature.parameters
        assert ("dry_run" in params) is dry_run, f"{action}: dry_run parameter"
        assert ("client_token" in params) is client_token, f"{action}: client_token parameter"

        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            # Subclassed builtins made exact, as for every other unit of work.
            args, kwargs = _builtin_arguments(args, kwargs)
            store = self._world.store
            with store.unit():
                dry = v.boolean("DryRun", kwargs.get("dry_run", False)) if dry_run else False
                token = _client_token(kwargs.get("client_token")) if client_token else None
                if token is not None:
                    key = f"{action}:{token}"
                    fingerprint = _fingerprint(signature, (self, *args), kwargs)
                    first = store.raw_get(CLIENT_TOKENS, self.region_id, key)
                    if first is not None:
                        assert isinstance(first, tuple)
                        if first[0] != fingerprint:
                            raise DependencyViolationError(
                                f"The client token {token} was used for a {action} request "
                                "with other parameters.",
                                code="IdempotentParameterMismatch",
                                http_status=403,
                                recommend="Use a new client token for a new request; reuse "
                                "one only to retry exactly the same request.",
                            )
                        if dry:
                            raise _passed(action)
                        return first[1]
                result = method(self, *args, **kwargs)
                if dry:
                    raise _passed(action)  # inside the unit: everything the call did rolls back
                if token is not None:
                    store.raw_put(CLIENT_TOKENS, self.region_id, key, (fingerprint, result))
                return result

        return wrapper  # type: ignore[return-value]

    return decorate


def _passed(action: str) -> DryRunOperationError:
    return DryRunOperationError(
        f"Request validation has been passed with DryRun flag set: {action} would succeed.",
        recommend="Call again without dry_run to perform the request.",
    )


def finish_read(action: str, dry_run: object, result: T) -> T:
    """``result`` of a describe call, or ``DryRunOperation`` when it was a dry run (a read
    changes nothing, so it needs no unit to roll back)."""
    if v.boolean("DryRun", dry_run):
        raise _passed(action)
    return result


def _encode_token(scope: str, key: tuple[str, ...]) -> str:
    raw = json.dumps([scope, *key]).encode("ascii")  # json escapes non-ASCII and surrogates
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _bad_token(token: object) -> InvalidParameterError:
    return InvalidParameterError(
        f"The NextToken {token!r} is not one this request returned.",
        code="InvalidParameter.NextToken",
        recommend="Pass the NextToken of the previous page of the same action unchanged, or "
        "no NextToken to start from the first page.",
    )


def _decode_token(scope: str, token: object, width: int) -> tuple[str, ...]:
    if not isinstance(token, str) or not token or not token.isascii():
        raise _bad_token(token)
    try:
        parts = json.loads(base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii"))
    except (binascii.Error, ValueError):
        raise _bad_token(token) from None
    if (
        not isinstance(parts, list)
        or len(parts) != width + 1
        or parts[0] != scope
        or not all(isinstance(part, str) for part in parts)
    ):
        raise _bad_token(token)
    return tuple(parts[1:])


def token_page(
    items: Sequence[T],
    sort_key: Callable[[T], tuple[str, ...]],
    *,
    scope: str,
    next_token: object,
    max_results: object,
    page_number: int,
    page_size: int,
    width: int = 1,
    max_limit: int = 100,
    default_results: int = 10,
    descending: bool = False,
) -> Page[T]:
    """One page of ``items``: token-paged when ``next_token`` or ``max_results`` is given
    (in ``sort_key`` order), else the ``page_number``/``page_size`` page (in the order given).

    Args:
        items: Every matching record.
        sort_key: The record's unique sort key (the id last, so keys never tie), ``width``
            strings long.
        scope: The action the token belongs to; a token of another action is refused.
        next_token: ``NextToken`` of the previous page, or ``None`` for the first.
        max_results: ``MaxResults`` (1..``max_limit``), ``None`` for ``default_results``.
        descending: Newest first (the key order reversed).
    """
    if next_token is None and max_results is None:
        return paginate(items, page_number, page_size)
    limit = v.integer(
        "MaxResults", default_results if max_results is None else max_results, 1, max_limit
    )
    ordered = sorted(items, key=sort_key, reverse=descending)
    if next_token is not None:
        after = _decode_token(scope, next_token, width)
        if descending:
            ordered = [item for item in ordered if sort_key(item) < after]
        else:
            ordered = [item for item in ordered if sort_key(item) > after]
    chosen = ordered[:limit]
    token = _encode_token(scope, sort_key(chosen[-1])) if len(ordered) > limit else None
    return Page(tuple(chosen), len(items), 1, limit, token)


def keyset_page(
    fetch: Callable[[tuple[str, ...] | None, int], Sequence[T]],
    total: int,
    sort_key: Callable[[T], tuple[str, ...]],
    *,
    scope: str,
    next_token: object,
    max_results: object,
    page_number: int,
    page_size: int,
    width: int = 1,
    max_limit: int = 100,
    default_results: int = 10,
) -> Page[T] | None:
    """The page :func:`token_page` would cut from every matching record, read from an ordered
    source instead: ``fetch(after, n)`` returns the first ``n`` records in page order past the
    sort key ``after`` (``None``: from the first), and ``total`` is how many match.

    Token pages read ``MaxResults + 1`` records from the token's position; numbered pages read
    the records before the page and the page. Returns ``None`` for a ``NextToken`` of several
    parts one of which holds NUL (no record's does, but an ordered index joins its parts with
    NUL), which the caller answers the slow way so that the answer stays exactly
    :func:`token_page`'s.
    """
    if next_token is None and max_results is None:
        start = (page_number - 1) * page_size
        items = fetch(None, start + page_size)[start:]
        return Page(tuple(items), total, page_number, page_size)
    limit = v.integer(
        "MaxResults", default_results if max_results is None else max_results, 1, max_limit
    )
    after = None if next_token is None else _decode_token(scope, next_token, width)
    if after is not None and width > 1 and any("\x00" in part for part in after):
        return None
    chosen = fetch(after, limit + 1)
    token = _encode_token(scope, sort_key(chosen[limit - 1])) if len(chosen) > limit else None
    return Page(tuple(chosen[:limit]), total, 1, limit, token)


def id_order_page(
    repository: Repository[T],
    *,
    scope: str,
    next_token: object,
    max_results: object,
    page_number: int,
    page_size: int,
    max_limit: int = 100,
    index: OrderedIndex[T] | None = None,
    where: Where | None = None,
) -> Page[T]:
    """The page :func:`token_page` cuts from every record of the region in id order, read as
    an ordered slice of the region's records from the token's position; or, with ``index``
    (an id-ordered index partitioned by facets), from the records with the facet values
    ``where`` names, read from the partitions they sit in."""
    if index is None:

        def fetch(after: tuple[str, ...] | None, limit: int) -> list[T]:
            return repository.in_id_order(after=None if after is None else after[0], limit=limit)

        total = repository.count_all()
    else:
        chosen = index

        def fetch(after: tuple[str, ...] | None, limit: int) -> list[T]:
            start = None if after is None else after[0]
            return repository.ordered(
                chosen, where=where, after=start, descending=False, limit=limit
            )

        total = repository.count(index, where=where)
    page = keyset_page(
        fetch,
        total,
        lambda record: (repository.id_of(record),),
        scope=scope,
        next_token=next_token,
        max_results=max_results,
        page_number=page_number,
        page_size=page_size,
        max_limit=max_limit,
    )
    assert page is not None  # one-part keys never send a token the slow way
    return page
