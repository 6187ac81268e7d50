"""What every service of a :class:`~cloudbackup.Cloud` shares, and the unit-of-work decorator."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from .._regions import Region
from .._settings import Limits, Timings
from .._validate import _EXACT, builtin
from .._world import World

__all__ = ["Limits", "RegionalService", "Timings", "unit_of_work"]


class RegionalService:
    """What every per-region service object (``cloud.ecs(...)``, ``cloud.kms(...)``) shares."""

    def __init__(self, world: World, region: Region) -> None:
        self._world = world
        self.region = region
        """The :class:`~cloudbackup.Region` this service acts in."""

    @property
    def region_id(self) -> str:
        """The region id, e.g. ``"cn-hangzhou"``."""
        return self.region.region_id

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.region_id}>"


F = TypeVar("F", bound=Callable[..., Any])


def _builtin_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments with callers' subclasses of builtin types made exact (see
    :func:`cloudbackup._validate.builtin`): identical answers on every backend.

    Most calls pass only exact ``str``/``int``/``None``/... values: they are returned as they
    are after one type lookup each.
    """
    for value in args:
        if type(value) not in _EXACT:
            break
    else:
        for value in kwargs.values():
            if type(value) not in _EXACT:
                break
        else:
            return args, kwargs
    return (
        tuple(builtin(a) for a in args),
        {k: builtin(a) for k, a in kwargs.items()},
    )


def unit_of_work(method: F) -> F:
    """Run a service method as one unit of work: all of it happens, or none of it."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = _builtin_arguments(args, kwargs)
        with self._world.store.unit():
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def consistent_read(method: F) -> F:
    """Run a read-only service method on one committed state of the backend."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = _builtin_arguments(args, kwargs)
        with self._world.store.reading():
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
