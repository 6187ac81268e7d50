"""A generic, deterministic codec for record values, so database backends need no entity code.

Record values are immutable trees of frozen ``attrs`` instances, enums, datetimes and plain
Python values. :class:`ValueCodec` turns such a tree into compact UTF-8 JSON and back, exactly:
``decode(encode(v)) == v`` with the same types all the way down (a tuple stays a tuple, an enum
member stays that member, a field declared ``init=False`` keeps its value).

Encoding, by type (checked by exact type, so subclasses of ``str``/``tuple``/... that are not
enums are refused instead of silently losing their type):

========================  ===================================================
``None``, ``bool``,       native JSON
``int``, ``str``,
finite ``float``
non-finite ``float``      ``["f", "inf"]``
``bytes``                 ``["b", "<base64>"]``
``tuple`` / ``list``      ``["t", item, ...]`` / ``["l", item, ...]``
``frozenset``             ``["s", item, ...]``, items sorted by their encoding
``dict`` (``str`` keys)   ``["d", {key: value, ...}]``, insertion order kept
``datetime.datetime``     ``["u", microseconds since 1970]`` in UTC (``timezone.utc``,
                          fold 0); else ``["dt", isoformat, zone, fold]``
``datetime.date``         ``["da", isoformat]``
``datetime.timedelta``    ``["td", days, seconds, microseconds]``
``enum.Enum`` member      ``["e", "type.Name", value]``
``attrs`` instance        ``["p", "type.Name", "layout", value, ...]``: the field values
                          in field order (written since schema version 10); files written
                          before hold ``["a", "type.Name", {field: value, ...}]``, which
                          still decodes
========================  ===================================================

An attrs value is stored by position, without its field names, so a record is about half as
long; the ``layout`` (:func:`layout_tag`: eight hex digits of a hash of the type name and the
field names in order) says which fields the positions stand for. A record whose layout is
the class's current one decodes directly. One written while the class had other fields
(an older or newer version of the library) raises :class:`LayoutMiss`; the SQLite backend
keeps every layout it ever wrote in its ``layouts`` table, gives the codec the field names
(:meth:`ValueCodec.learn_layout`) and decodes again, by name, as the keyed form does: a field
added since takes its default, an unknown field is refused.

Every JSON array is a tagged value and no JSON object appears outside a tag, so decoding is
unambiguous. Classes are named by their stable type name from :mod:`cloudbackup._typenames`
(``"ecs.Snapshot"``), never by where their code lives, so moving a class breaks no saved world;
an unregistered class is refused when it is written. On decode a name is looked up in the
registry only (the ``module:qualname`` paths of files older than schema version 4 through
:data:`~cloudbackup._typenames.LEGACY_NAMES`): a stored name can never make the decoder import
or call anything. Pickle is never used; it would execute whatever the file says and tie the
format to Python internals.
"""

from __future__ import annotations

import base64
import datetime as _dt
import enum
import hashlib
import json
import math
import operator
import re
import types
import typing
import zoneinfo
from collections.abc import Callable
from typing import Any

import attrs

from .._typenames import LEGACY_NAMES, TYPES, TypeRegistry, field_hints
from ..errors import StorageBackendError

__all__ = [
    "DEFAULT_CODEC",
    "LayoutMiss",
    "ValueCodec",
    "decode",
    "encode",
    "layout_tag",
    "rename_legacy_types",
]

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED_RE = re.compile(rf"{_IDENTIFIER}(?:\.{_IDENTIFIER})*\Z")
# Modules whose old ``module:qualname`` paths are the library's own (unknown, not untrusted).
_OWN_MODULES = "cloudbackup"
# attrs' private name for the hash cache of ``cache_hash=True`` classes; see _build_attrs.
_HASH_CACHE_FIELD = "_attrs_cached_hash"

_Json = Any
_MISSING = object()
# One encoder for every call: ``json.dumps`` with options builds a new one each time.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
# What that encoder writes for a bare str: its JSON string literal, non-ASCII kept as is.
_encode_str: Callable[[str], str] = json.encoder.encode_basestring
# Types whose values are their own JSON tree (checked by exact type, as _encode does).
_SELF_ENCODING = frozenset({str, int, bool, type(None)})
# UTC datetimes (the world's clock) are stored as microseconds since this instant.
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_MICROSECOND = _dt.timedelta(microseconds=1)
_UTC = _dt.timezone.utc


def layout_tag(type_name: str, names: tuple[str, ...]) -> str:
    """The layout of a class's stored values: eight hex digits of a hash of its type name and
    field names in order, so any change of the fields (added, removed, renamed, reordered)
    gives another layout."""
    text = type_name + ":" + ",".join(names)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()


class LayoutMiss(StorageBackendError):
    """A stored value uses a field layout this codec has not been told about.

    Raised by :meth:`ValueCodec.decode` for a positional attrs value whose layout is not the
    class's current one nor one given to :meth:`ValueCodec.learn_layout`; a backend that keeps
    the layouts it wrote (the SQLite backend's ``layouts`` table) teaches it and decodes again.
    Its code is ``StorageBackend.UnknownLayout``.
    """

    def __init__(self, type_name: str, tag: str) -> None:
        super().__init__(
            f"A stored {type_name} uses field layout {tag!r}, which this database does not "
            "describe.",
            code="StorageBackend.UnknownLayout",
            ids=(type_name, tag),
            recommend="Open the file with the cloudbackup version that wrote it, or restore it "
            "from a backup.",
        )
        self.type_name = type_name
        self.tag = tag


@attrs.frozen
class _AttrsLayout:
    """What the codec needs to know about one attrs class, computed once per class."""

    path: str
    tag: str
    """The layout's :func:`layout_tag`."""
    names: tuple[str, ...]
    name_set: frozenset[str]
    fields: tuple[attrs.Attribute[Any], ...]
    caches_hash: bool
    values: Callable[[Any], tuple[Any, ...]]
    """The field values of an instance, in ``names`` order (one C call)."""
    allowed: tuple[frozenset[type] | None, ...]
    """Per field, the exact types a decoded value may have (None: not checked)."""
    expected: tuple[str, ...]
    """Per field, the declared type as text (for the error message)."""


class ValueCodec:
    """Encodes record values to bytes and back; see the module docstring for the format.

    Args:
        types: The registry of type names this codec writes and reads. Defaults to
            :data:`cloudbackup._typenames.TYPES`, every class the library stores; pass a
            ``TypeRegistry(parent=TYPES)`` to store classes of your own as well.
    """

    def __init__(self, *, types: TypeRegistry = TYPES) -> None:
        if not isinstance(types, TypeRegistry):
            raise TypeError(f"types must be a TypeRegistry, not {type(types).__name__}.")
        self._types = types
        self._layouts: dict[type, _AttrsLayout] = {}
        # Layouts other than the current ones: tag -> (type name, field names).
        self._foreign: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._generation = 0

    @property
    def layout_generation(self) -> int:
        """A number that grows whenever this codec computes the layout of another class."""
        return self._generation

    def layouts(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """``(tag, type name, field names)`` of every class layout this codec has computed."""
        return [(layout.tag, layout.path, layout.names) for layout in self._layouts.values()]

    def field_names(self, type_name: str, tag: str) -> tuple[str, ...] | None:
        """The field names layout ``tag`` of ``type_name`` stands for, if this codec knows it."""
        foreign = self._foreign.get(tag)
        if foreign is not None:
            return foreign[1] if foreign[0] == type_name else None
        cls = self._types.resolve(type_name) if type(type_name) is str else None
        if cls is None or not attrs.has(cls):
            return None
        layout = self._layout(cls)
        return layout.names if layout.tag == tag else None

    def learn_layout(self, tag: str, type_name: str, names: tuple[str, ...]) -> None:
        """Decode values stored with layout ``tag`` (``type_name``'s fields ``names``) by name.

        Raises:
            StorageBackendError: ``tag`` is not the layout of ``type_name`` and ``names``
                (code ``StorageBackend.Corrupt``): the description is damaged.
        """
        if (
            type(type_name) is not str
            or type(names) is not tuple
            or not all(type(name) is str for name in names)
            or len(set(names)) != len(names)
            or layout_tag(type_name, names) != tag
        ):
            raise _corrupt(f"a description of layout {tag!r} that does not match it")
        self._foreign[tag] = (type_name, names)

    @property
    def types(self) -> TypeRegistry:
        """The registry of type names this codec uses."""
        return self._types

    # -- public API ----------------------------------------------------------------------
    def encode(self, value: object) -> bytes:
        """Encode ``value`` into compact, deterministic bytes.

        Args:
            value: A record value built from the supported types.

        Returns:
            UTF-8 JSON bytes; equal values built the same way give equal bytes.

        Raises:
            StorageBackendError: ``value`` holds a type the codec cannot store exactly, or an
                instance of a class with no registered type name.
        """
        kind = type(value)
        # The commonest small records (counters, index entries) skip building a tree; the
        # bytes are exactly what the general path gives.
        if kind is str:
            assert isinstance(value, str)
            text = _encode_str(value)
        elif kind is int:
            text = int.__repr__(value)
        else:
            text = _ENCODER.encode(self._encode(value))
        # surrogatepass: a str may hold lone surrogates; they must survive the round trip.
        return text.encode("utf-8", "surrogatepass")

    def decode(self, data: bytes) -> object:
        """Rebuild the value that :meth:`encode` turned into ``data``.

        Args:
            data: Bytes produced by :meth:`encode` (of this or an earlier version).

        Returns:
            A value equal to, and of the same types as, the encoded one.

        Raises:
            StorageBackendError: ``data`` is not bytes or not a valid encoding, names a type
                the registry does not hold (or a module path outside cloudbackup), or a field
                that no longer exists.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            # A damaged row: SQLite hands back whatever the column holds (text, a number, NULL).
            raise _corrupt(f"a stored value of type {type(data).__name__}, not bytes")
        try:
            tree = json.loads(bytes(data).decode("utf-8", "surrogatepass"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise _corrupt(f"the stored value is not valid JSON ({exc})") from exc
        try:
            return self._decode(tree)
        except RecursionError:
            raise _corrupt("a value nested too deeply to decode") from None

    # -- encoding ------------------------------------------------------------------------
    def _encode(self, value: object) -> _Json:
        kind = type(value)
        if value is None or kind is bool or kind is int or kind is str:
            return value
        if kind is float:
            assert isinstance(value, float)
            return value if math.isfinite(value) else ["f", repr(value)]
        if kind is bytes:
            assert isinstance(value, bytes)
            return ["b", base64.b64encode(value).decode("ascii")]
        if kind is tuple or kind is list:
            assert isinstance(value, (tuple, list))
            return ["t" if kind is tuple else "l", *(self._encode(item) for item in value)]
        if kind is frozenset:
            assert isinstance(value, frozenset)
            # Set iteration order depends on PYTHONHASHSEED; sorting the encoded items makes
            # the bytes the same in every process.
            items = [self._encode(item) for item in value]
            items.sort(key=_canonical)
            return ["s", *items]
        if kind is dict:
            assert isinstance(value, dict)
            out: dict[str, _Json] = {}
            for key, item in value.items():
                if type(key) is not str:
                    raise _unsupported(value, f"dict keys must be str, not {type(key).__name__}")
                out[key] = self._encode(item)
            return ["d", out]
        if kind is _dt.datetime:
            assert isinstance(value, _dt.datetime)
            if value.tzinfo is _UTC and not value.fold:
                return ["u", (value - _EPOCH) // _MICROSECOND]
            return self._encode_datetime(value)
        if kind is _dt.date:
            assert isinstance(value, _dt.date)
            return ["da", value.isoformat()]
        if kind is _dt.timedelta:
            assert isinstance(value, _dt.timedelta)
            return ["td", value.days, value.seconds, value.microseconds]
        if isinstance(value, enum.Enum):
            return ["e", self._type_name(kind), self._encode(value.value)]
        if attrs.has(kind):
            layout = self._layout(kind)
            encode = self._encode
            return [
                "p",
                layout.path,
                layout.tag,
                # Exact str, int, bool and None encode as themselves (a shortcut).
                *[
                    item if type(item) in _SELF_ENCODING else encode(item)
                    for item in layout.values(value)
                ],
            ]
        raise _unsupported(value, f"{kind.__module__}.{kind.__qualname__} is not supported")

    def _encode_datetime(self, value: _dt.datetime) -> _Json:
        tz = value.tzinfo
        if tz is None or type(tz) is _dt.timezone:
            # Fixed offsets (UTC included) are fully described by the ISO offset.
            zone = None
        elif type(tz) is zoneinfo.ZoneInfo and tz.key is not None:
            zone = "zoneinfo:" + tz.key
            value = value.replace(tzinfo=None)
        else:
            raise _unsupported(
                value, f"time zone {tz!r} is neither datetime.timezone nor zoneinfo.ZoneInfo"
            )
        return ["dt", value.isoformat(), zone, value.fold]

    def _layout(self, cls: type) -> _AttrsLayout:
        layout = self._layouts.get(cls)
        if layout is None:
            fields = tuple(attrs.fields(cls))
            hash_code = getattr(getattr(cls, "__hash__", None), "__code__", None)
            hints = field_hints(cls)
            path = self._type_name(cls)
            names = tuple(field.name for field in fields)
            layout = _AttrsLayout(
                path=path,
                tag=layout_tag(path, names),
                names=names,
                name_set=frozenset(field.name for field in fields),
                fields=fields,
                caches_hash=hash_code is not None and _HASH_CACHE_FIELD in hash_code.co_names,
                values=_values_getter(tuple(field.name for field in fields)),
                allowed=tuple(_allowed(hints.get(field.name, Any)) for field in fields),
                expected=tuple(str(hints.get(field.name, "Any")) for field in fields),
            )
            self._layouts[cls] = layout
            self._generation += 1
        return layout

    def _type_name(self, cls: type) -> str:
        """The registered type name of exactly ``cls``; an unregistered class is refused."""
        name = self._types.name_of(cls)
        if name is None:
            raise StorageBackendError(
                f"Cannot store an instance of {cls.__module__}.{cls.__qualname__}: the class "
                "has no registered type name.",
                code="StorageBackend.UnsupportedValue",
                recommend=(
                    "Decorate the class with @cloudbackup._typenames.stored_as('area.Name') "
                    "(or register it in the codec's TypeRegistry)."
                ),
            )
        return name

    # -- decoding ------------------------------------------------------------------------
    def _decode(self, tree: _Json) -> object:
        if type(tree) is not list:
            if type(tree) is dict:
                raise _corrupt("an untagged JSON object")
            return tree
        if not tree or type(tree[0]) is not str:
            raise _corrupt("an array without a tag")
        tag = tree[0]
        decoder = _DECODERS.get(tag)
        if decoder is None:
            raise _corrupt(f"the unknown tag {tag!r}")
        try:
            return decoder(self, tree)
        except StorageBackendError:
            raise
        except (TypeError, ValueError, KeyError, IndexError, OverflowError) as exc:
            raise _corrupt(f"a malformed {tag!r} value ({exc!r})") from exc

    def _decode_items(self, tree: list[_Json]) -> list[object]:
        return [self._decode(item) for item in tree[1:]]

    def _decode_dict(self, tree: list[_Json]) -> object:
        _, mapping = tree
        if type(mapping) is not dict:
            raise _corrupt("a dict tag without a JSON object")
        return {key: self._decode(item) for key, item in mapping.items()}

    def _decode_datetime(self, tree: list[_Json]) -> object:
        _, text, zone, fold = tree
        value = _dt.datetime.fromisoformat(text)
        if zone is not None:
            if not (isinstance(zone, str) and zone.startswith("zoneinfo:")):
                raise _corrupt(f"the unknown time zone {zone!r}")
            value = value.replace(tzinfo=zoneinfo.ZoneInfo(zone[len("zoneinfo:") :]))
        return value.replace(fold=fold) if fold else value

    def _decode_enum(self, tree: list[_Json]) -> object:
        _, path, raw = tree
        cls = self._resolve(path)
        if not issubclass(cls, enum.Enum):
            raise _corrupt(f"{path} is not an enum")
        return cls(self._decode(raw))

    def _decode_attrs(self, tree: list[_Json]) -> object:
        _, path, stored = tree
        if type(stored) is not dict:
            raise _corrupt(f"fields of {path} without a JSON object")
        cls = self._resolve(path)
        if not attrs.has(cls):
            raise _corrupt(f"{path} is not an attrs class")
        return self._build_attrs(cls, path, stored)

    def _decode_positional(self, tree: list[_Json]) -> object:
        path, tag = tree[1], tree[2]
        cls = self._resolve(path)
        if not attrs.has(cls):
            raise _corrupt(f"{path} is not an attrs class")
        layout = self._layout_for_decode(cls, path)
        if tag == layout.tag:
            if len(tree) - 3 != len(layout.fields):
                raise _corrupt(f"a {path} with {len(tree) - 3} of its {len(layout.fields)} fields")
            instance: object = object.__new__(cls)
            for field, allowed, expected, raw in zip(
                layout.fields, layout.allowed, layout.expected, tree[3:], strict=True
            ):
                value = raw if type(raw) in _SELF_ENCODING else self._decode(raw)
                if allowed is not None and type(value) not in allowed:
                    raise _field_corrupt(field.name, path, value, expected)
                object.__setattr__(instance, field.name, value)
            if layout.caches_hash:
                object.__setattr__(instance, _HASH_CACHE_FIELD, None)
            return instance
        foreign = self._foreign.get(tag) if type(tag) is str else None
        if foreign is None:
            if type(tag) is not str:
                raise _corrupt(f"a {path} with the layout {tag!r}")
            raise LayoutMiss(path, tag)
        type_name, names = foreign
        if type_name != path or len(tree) - 3 != len(names):
            raise _corrupt(f"a {path} that does not fit its layout {tag!r}")
        return self._build_attrs(cls, path, dict(zip(names, tree[3:], strict=True)))

    def _build_attrs(self, cls: type, path: str, stored: dict[str, _Json]) -> object:
        # Rebuild the instance the way pickle does (``object.__new__`` then set each field),
        # not through ``__init__``:
        # * validators ran when the value was first built; re-running them on load would make
        #   a file unreadable as soon as a rule is tightened, and converters are not required
        #   to be idempotent, so running them twice could change the value;
        # * ``init=False`` fields cannot be passed to ``__init__`` at all, and
        #   ``__attrs_post_init__`` could recompute them differently from what was stored;
        # * ``object.__setattr__`` works for frozen and slotted classes alike.
        # The price: a class must keep its whole state in attrs fields (which is what frozen
        # record values do anyway).
        layout = self._layout_for_decode(cls, path)
        if not layout.name_set.issuperset(stored):
            unknown = stored.keys() - layout.name_set
            raise StorageBackendError(
                f"A stored {path} has fields this version does not know: {sorted(unknown)}.",
                code="StorageBackend.SchemaTooNew",
                recommend="Open the file with the cloudbackup version that wrote it, or newer.",
            )
        instance: object = object.__new__(cls)
        for field, allowed, expected in zip(
            layout.fields, layout.allowed, layout.expected, strict=True
        ):
            raw = stored.get(field.name, _MISSING)
            if raw is _MISSING:
                value = _default_of(field, instance, path)
            else:
                value = self._decode(raw)
                if allowed is not None and type(value) not in allowed:
                    raise _field_corrupt(field.name, path, value, expected)
            object.__setattr__(instance, field.name, value)
        if layout.caches_hash:
            object.__setattr__(instance, _HASH_CACHE_FIELD, None)
        return instance

    def _layout_for_decode(self, cls: type, path: str) -> _AttrsLayout:
        layout = self._layouts.get(cls)
        if layout is None:
            # The class was just resolved from ``path``; _layout re-checks it, harmlessly.
            layout = self._layout(cls)
        return layout

    def _resolve(self, name: str) -> type:
        """The class a stored type name (or a pre-version-4 ``module:qualname``) stands for."""
        if type(name) is not str:
            raise _corrupt(f"the class name {name!r}, which is not a string")
        if ":" in name:
            return self._resolve_legacy(name)
        cls = self._types.resolve(name)
        if cls is None:
            raise StorageBackendError(
                f"Type {name!r} is not known to this version of cloudbackup.",
                code="StorageBackend.UnknownClass",
                ids=(name,),
                recommend="Open the file with the cloudbackup version that wrote it, or newer.",
            )
        return cls

    def _resolve_legacy(self, path: str) -> type:
        module_name, _, qualname = path.partition(":")
        if not _DOTTED_RE.match(module_name) or not _DOTTED_RE.match(qualname):
            raise _corrupt(f"the malformed class name {path!r}")
        new_name = LEGACY_NAMES.get(path)
        cls = None if new_name is None else self._types.resolve(new_name)
        if cls is not None:
            return cls
        if module_name != _OWN_MODULES and not module_name.startswith(_OWN_MODULES + "."):
            raise StorageBackendError(
                f"Refusing to load class {path}: it is not one cloudbackup ever stored.",
                code="StorageBackend.UntrustedClass",
                ids=(path,),
                recommend="Only open databases written by cloudbackup.",
            )
        raise StorageBackendError(
            f"Class {path} is not one this version of cloudbackup can read.",
            code="StorageBackend.UnknownClass",
            ids=(path,),
            recommend="Open the file with the cloudbackup version that wrote it.",
        )


def _decode_float(codec: ValueCodec, tree: list[_Json]) -> object:
    _, text = tree
    if text not in ("inf", "-inf", "nan"):
        raise _corrupt(f"the float {text!r}")
    return float(text)


def _decode_bytes(codec: ValueCodec, tree: list[_Json]) -> object:
    _, text = tree
    return base64.b64decode(text.encode("ascii"), validate=True)


def _decode_utc(codec: ValueCodec, tree: list[_Json]) -> object:
    _, micros = tree
    if type(micros) is not int:
        raise _corrupt(f"the UTC time {micros!r}")
    return _EPOCH + _dt.timedelta(microseconds=micros)


def _decode_date(codec: ValueCodec, tree: list[_Json]) -> object:
    _, text = tree
    return _dt.date.fromisoformat(text)


def _decode_timedelta(codec: ValueCodec, tree: list[_Json]) -> object:
    _, days, seconds, microseconds = tree
    return _dt.timedelta(days=days, seconds=seconds, microseconds=microseconds)


_DECODERS: dict[str, Callable[[ValueCodec, list[_Json]], object]] = {
    "f": _decode_float,
    "b": _decode_bytes,
    "t": lambda codec, tree: tuple(codec._decode_items(tree)),
    "l": lambda codec, tree: codec._decode_items(tree),
    "s": lambda codec, tree: frozenset(codec._decode_items(tree)),
    "d": ValueCodec._decode_dict,
    "dt": ValueCodec._decode_datetime,
    "da": _decode_date,
    "td": _decode_timedelta,
    "e": ValueCodec._decode_enum,
    "a": ValueCodec._decode_attrs,
    "p": ValueCodec._decode_positional,
    "u": _decode_utc,
}


def _values_getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A function giving an object's attributes ``names`` as a tuple, in that order."""
    if not names:
        return lambda _: ()
    if len(names) == 1:
        one = operator.attrgetter(names[0])
        return lambda value: (one(value),)
    many: Callable[[Any], tuple[Any, ...]] = operator.attrgetter(*names)
    return many


def _default_of(field: attrs.Attribute[Any], instance: object, path: str) -> object:
    """The default of a field missing from a stored value (written before the field existed)."""
    default: Any = field.default
    if default is attrs.NOTHING:
        raise StorageBackendError(
            f"A stored {path} lacks field {field.name!r}, which has no default.",
            code="StorageBackend.Corrupt",
            recommend="Migrate the database, or open it with the version that wrote it.",
        )
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        return default.factory(instance) if default.takes_self else default.factory()
    return default


def _allowed(hint: Any) -> frozenset[type] | None:
    """The exact types a decoded value of declared type ``hint`` may have (None: unchecked).

    The decoder builds values of exact types (a tuple is a ``tuple``, an attrs value is an
    instance of exactly its registered class), so one ``type(value) in allowed`` test per
    field is enough. Shallow on purpose: containers are checked for their own type, not their
    items (attrs and enum items are checked when they are decoded themselves).
    """
    if hint is None or hint is type(None):
        return frozenset({type(None)})
    if hint is float:
        return frozenset({float, int})
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        found: set[type] = set()
        for arg in typing.get_args(hint):
            part = _allowed(arg)
            if part is None:
                return None
            found |= part
        return frozenset(found)
    if origin is not None:
        hint = origin
    if hint in _CONTAINERS:
        return frozenset({hint})
    if hint in (bool, int, str, bytes, _dt.datetime, _dt.date, _dt.timedelta):
        return frozenset({hint})
    if isinstance(hint, type) and (attrs.has(hint) or issubclass(hint, enum.Enum)):
        return frozenset({hint} | {cls for cls in TYPES.names().values() if issubclass(cls, hint)})
    return None  # Any, object, Literal, an abstract collection: not checked


_CONTAINERS = (tuple, list, frozenset, dict)


def _canonical(tree: _Json) -> str:
    return json.dumps(tree, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def _unsupported(value: object, why: str) -> StorageBackendError:
    return StorageBackendError(
        f"Cannot store value of type {type(value).__name__}: {why}.",
        code="StorageBackend.UnsupportedValue",
        recommend=(
            "Build record values from frozen attrs classes, enums, datetimes, timedeltas, "
            "bytes, str, int, float, bool, None, tuples, frozensets and str-keyed dicts."
        ),
    )


def _field_corrupt(name: str, path: str, value: object, expected: str) -> StorageBackendError:
    return _corrupt(
        f"field {name!r} of a {path} holding {type(value).__name__} {value!r:.40} "
        f"where {expected} is declared"
    )


def _corrupt(what: str) -> StorageBackendError:
    return StorageBackendError(
        f"Cannot decode a stored value: found {what}.",
        code="StorageBackend.Corrupt",
        recommend="The database is damaged or was not written by cloudbackup.",
    )


#: The codec backends use: the classes registered in :data:`cloudbackup._typenames.TYPES`.
DEFAULT_CODEC = ValueCodec()


def encode(value: object) -> bytes:
    """Encode ``value`` with :data:`DEFAULT_CODEC`; see :meth:`ValueCodec.encode`."""
    return DEFAULT_CODEC.encode(value)


def decode(data: bytes) -> object:
    """Decode ``data`` with :data:`DEFAULT_CODEC`; see :meth:`ValueCodec.decode`."""
    return DEFAULT_CODEC.decode(data)


def rename_legacy_types(data: bytes) -> bytes:
    """``data`` with every ``module:qualname`` of :data:`LEGACY_NAMES` replaced by its type name.

    Works on the JSON tree, so it needs none of the classes; frozensets are sorted again, as
    their order follows the encoded items. Data that does not parse is returned unchanged
    (decoding it reports the damage).
    """
    try:
        tree = json.loads(bytes(data).decode("utf-8", "surrogatepass"))
    except (UnicodeDecodeError, ValueError):
        return data
    renamed = _rename(tree)
    text = json.dumps(renamed, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.encode("utf-8", "surrogatepass")


def _rename(tree: _Json) -> _Json:
    if type(tree) is dict:
        return {key: _rename(item) for key, item in tree.items()}
    if type(tree) is not list or not tree or type(tree[0]) is not str:
        return tree
    tag = tree[0]
    if tag in ("a", "e") and len(tree) == 3 and type(tree[1]) is str:
        return [tag, LEGACY_NAMES.get(tree[1], tree[1]), _rename(tree[2])]
    if tag == "p" and len(tree) >= 3 and type(tree[1]) is str:
        # (Positional values name registered types only; renaming them keeps this total.)
        items = [_rename(item) for item in tree[3:]]
        return [tag, LEGACY_NAMES.get(tree[1], tree[1]), tree[2], *items]
    items = [_rename(item) for item in tree[1:]]
    if tag == "s":
        items.sort(key=_canonical)
    return [tag, *items]
