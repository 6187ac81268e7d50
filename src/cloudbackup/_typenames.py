"""Stable names for the classes and enums the library stores, independent of where code lives.

A database backend writes each frozen ``attrs`` value and enum member with the *type name* of
its class (``"ecs.Snapshot"``, ``"engine.Timer"``), never with its module path, so moving a
class to another module (or renaming the module) leaves every saved world readable. Classes
register their name with the :func:`stored_as` decorator where they are defined::

    @stored_as("engine.Timer")
    @attrs.frozen
    class Timer: ...

A name is a lowercase namespace and a class name joined by a dot. A class can be registered
once, and a name names one class; the registry is filled at import time and never by data, so
a stored name can never make the decoder import or call anything.

Files written before schema version 4 name classes by ``module:qualname``;
:data:`LEGACY_NAMES` maps each such path the library ever wrote to its type name, so those
values decode and :func:`cloudbackup._backends._sqlite_schema.migrate` rewrites them.
"""

from __future__ import annotations

import re
import sys
import typing
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

__all__ = ["LEGACY_NAMES", "TYPES", "TypeRegistry", "field_hints", "stored_as"]

_NAME_RE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*\.[A-Za-z][A-Za-z0-9_]*\Z")

T = TypeVar("T", bound=type)


class TypeRegistry:
    """Type names of stored classes, both ways; optionally extending a parent registry.

    Args:
        parent: A registry whose names this one also knows (and may not redefine).
    """

    def __init__(self, parent: TypeRegistry | None = None) -> None:
        self._parent = parent
        self._by_name: dict[str, type] = {}
        self._by_class: dict[type, str] = {}

    def register(self, cls: type, name: str) -> None:
        """Give ``cls`` the stable type name ``name``.

        Raises:
            ValueError: ``name`` is malformed, already names another class, or ``cls``
                already has another name.
        """
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ValueError(
                f"{name!r} is not a type name: use 'namespace.ClassName', e.g. 'ecs.Snapshot'."
            )
        known = self.resolve(name)
        if known is not None and known is not cls:
            raise ValueError(f"Type name {name!r} already names {known!r}.")
        current = self.name_of(cls)
        if current is not None and current != name:
            raise ValueError(f"{cls!r} is already stored as {current!r}.")
        self._by_name[name] = cls
        self._by_class[cls] = name

    def name_of(self, cls: type) -> str | None:
        """The type name of exactly ``cls`` (not of a base class), or ``None``."""
        name = self._by_class.get(cls)
        if name is None and self._parent is not None:
            return self._parent.name_of(cls)
        return name

    def resolve(self, name: str) -> type | None:
        """The class registered as ``name``, or ``None``."""
        cls = self._by_name.get(name)
        if cls is None and self._parent is not None:
            return self._parent.resolve(name)
        return cls

    def names(self) -> Mapping[str, type]:
        """Every registered name with its class (the parent's included)."""
        found = dict(self._parent.names()) if self._parent is not None else {}
        found.update(self._by_name)
        return MappingProxyType(found)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.names()))


#: The registry of every class the library stores.
TYPES = TypeRegistry()


def stored_as(name: str) -> Callable[[T], T]:
    """Class decorator: register the class in :data:`TYPES` under the stable ``name``.

    Put it above ``@attrs.frozen`` (it must see the final class).
    """

    def register(cls: T) -> T:
        TYPES.register(cls, name)
        return cls

    return register


def _legacy(prefix: str, namespace: str, *names: str) -> dict[str, str]:
    return {f"{prefix}:{name}": f"{namespace}.{name}" for name in names}


#: ``module:qualname`` paths written by schema versions 1 to 3, with the type name each is now.
#: Frozen history: it describes old files, so it never changes when code moves.
LEGACY_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "cloudbackup._engine:Timer": "engine.Timer",
        **_legacy(
            "cloudbackup",
            "ecs",
            "DataKey",
            "Disk",
            "DiskAttachment",
            "DiskCategory",
            "DiskStatus",
            "DiskType",
            "Image",
            "ImageDiskMapping",
            "Instance",
            "InstanceStatus",
            "LockStatus",
            "PerformanceLevel",
            "Snapshot",
            "SnapshotGroup",
            "SnapshotGroupStatus",
            "SnapshotLink",
            "SnapshotLock",
            "SnapshotStatus",
            "SnapshotUsage",
        ),
        **_legacy("cloudbackup", "kms", "Alias", "KeySpec", "KeyState", "KeyUsage", "KmsKey"),
        **_legacy(
            "cloudbackup",
            "events",
            "AliasCreated",
            "AliasDeleted",
            "AliasUpdated",
            "DiskAttached",
            "DiskCreated",
            "DiskDeleted",
            "DiskDetached",
            "DiskModified",
            "DiskReset",
            "DiskResized",
            "DiskWritten",
            "ImageCreated",
            "ImageDeleted",
            "InstanceCreated",
            "InstanceDeleted",
            "InstanceStatusChanged",
            "KeyCreated",
            "KeyDeleted",
            "KeyStateChanged",
            "SnapshotCompleted",
            "SnapshotCreated",
            "SnapshotDeleted",
            "SnapshotGroupCreated",
            "SnapshotGroupDeleted",
            "SnapshotLocked",
            "SnapshotModified",
            "SnapshotUnlocked",
        ),
    }
)


def field_hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of ``cls``'s fields, or none if they cannot be resolved.

    Public classes are re-homed (``__module__ = "cloudbackup"``), so the annotations are
    resolved in the namespace of the module that defined them, found through a function of
    the class body, plus every registered class.
    """
    namespace: dict[str, Any] = {}
    module = sys.modules.get(cls.__module__)
    if module is not None:
        namespace.update(vars(module))
    for member in vars(cls).values():
        function = getattr(member, "fget", None) or getattr(member, "__func__", member)
        defined_in = getattr(function, "__globals__", None)
        if isinstance(defined_in, dict) and defined_in.get("__name__", "").startswith(
            "cloudbackup."
        ):
            namespace.update(defined_in)
            break
    for registered in TYPES.names().values():
        namespace.setdefault(registered.__name__, registered)
    try:
        return typing.get_type_hints(cls, globalns=namespace)
    except Exception:  # an annotation naming something not importable: check nothing
        return {}
