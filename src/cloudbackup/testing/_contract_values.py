"""What the backend contract check stores and how it compares: sample record values (nested
frozen attrs, enums, datetimes), equality that keeps types, and dumps of a backend's state."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import math
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from .._backends._protocol import StorageBackend
from .._typenames import stored_as
from ..errors import StorageBackendError

_Address = tuple[str, str, str]
_Dump = tuple[dict[_Address, object], dict[bytes, bytes]]

_KINDS = ("contract.volume", "contract.copy")
_PARTITIONS = ("", "cn-hangzhou", "cn-shanghai", "d-0001")
_KEY_CHARS = "abz0\x00 é\uffff\U0001f600"
_CHINA = dt.timezone(dt.timedelta(hours=8))


# -- record values the checks store: nested frozen attrs, enums, datetimes ----------------
@stored_as("contract.Tier")
class _Tier(str, enum.Enum):
    """A storage tier: a ``(str, Enum)`` like the real API's enum values."""

    STANDARD = "Standard"
    ARCHIVE = "Archive"


@stored_as("contract.Extent")
@attrs.frozen
class _Extent:
    """A byte range of a volume."""

    offset: int
    """First byte."""
    length: int
    """Number of bytes."""


@stored_as("contract.Volume")
@attrs.frozen
class _Volume:
    """A record shaped like the library's own: nested values, hidden and derived fields."""

    name: str
    """A display name."""
    tier: _Tier
    """The storage tier."""
    created: dt.datetime
    """When it was created (timezone-aware)."""
    extents: tuple[_Extent, ...]
    """The written ranges."""
    tags: frozenset[str]
    """Free-form tags."""
    retention: dt.timedelta | None
    """How long it is kept, or ``None`` for ever."""
    secret: bytes = attrs.field(default=b"", repr=False)
    """Key material that must not appear in reprs."""
    written: int = attrs.field(init=False)
    """Total bytes of ``extents``; derived, not passed to ``__init__``."""

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "written", sum(extent.length for extent in self.extents))


_T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)

#: One value of every type a record may hold, for the deterministic checks.
_SAMPLE_VALUES: tuple[object, ...] = (
    _Volume(
        name="system",
        tier=_Tier.STANDARD,
        created=_T0,
        extents=(_Extent(0, 4096), _Extent(8192, 512)),
        tags=frozenset({"prod", "db"}),
        retention=dt.timedelta(days=7),
        secret=b"\x00\xffkey",
    ),
    _Tier.ARCHIVE,
    _Extent(offset=1, length=2),
    "text with é and \U0001f600",
    "",
    0,
    -(2**63),
    2**70,
    1.5,
    -0.0,
    True,
    False,
    b"",
    b"\x00\x01\xfe\xff",
    (),
    (1, ("nested", (b"x", None))),
    frozenset({1, 2, 3}),
    {"b": 1, "a": (2, 3)},
    _T0,
    dt.datetime(2024, 6, 30, 23, 59, 59, 999_999, tzinfo=_CHINA),
    dt.timedelta(days=-1, seconds=5, microseconds=7),
)


# -- comparisons ----------------------------------------------------------------------------
def _same(expected: object, actual: object) -> bool:
    """Whether two values are equal with the same types all the way down."""
    if type(expected) is not type(actual):
        return False
    if isinstance(expected, float):
        assert isinstance(actual, float)
        return (math.isnan(expected) and math.isnan(actual)) or repr(expected) == repr(actual)
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, (tuple, list))
        return len(expected) == len(actual) and all(map(_same, expected, actual))
    if isinstance(expected, dict):
        assert isinstance(actual, dict)
        return list(expected) == list(actual) and all(
            _same(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, dt.datetime):
        assert isinstance(actual, dt.datetime)
        return (expected, expected.tzinfo, expected.fold) == (actual, actual.tzinfo, actual.fold)
    if attrs.has(type(expected)):
        fields: tuple[attrs.Attribute[Any], ...] = attrs.fields(type(expected))  # type: ignore[arg-type]
        return all(
            _same(getattr(expected, field.name), getattr(actual, field.name)) for field in fields
        )
    return expected == actual


def _fail(what: str) -> AssertionError:
    return AssertionError(f"Storage backend contract violated: {what}")


def _expect(expected: object, actual: object, what: str) -> None:
    if not _same(expected, actual):
        raise _fail(f"{what}: expected {expected!r}, got {actual!r}")


def _expect_refused(call: Callable[[], object], what: str) -> None:
    """``call`` must raise :class:`StorageBackendError`, and nothing else."""
    try:
        call()
    except StorageBackendError:
        return
    except Exception as exc:
        raise _fail(f"{what} raised {exc!r} instead of StorageBackendError") from exc
    raise _fail(f"{what} did not raise StorageBackendError")


def _dump(backend: StorageBackend, digests: Iterable[bytes] = ()) -> _Dump:
    """Everything a backend holds in the contract's kinds, plus the named blobs."""
    records: dict[_Address, object] = {}
    for kind in _KINDS:
        for partition in list(backend.partitions(kind)):
            for key, value in list(backend.scan(kind, partition)):
                records[(kind, partition, key)] = value
    blobs: dict[bytes, bytes] = {}
    for digest in digests:
        data = backend.get_blob(digest)
        if data is not None:
            blobs[digest] = data
    return records, blobs


def _expect_dump(expected: _Dump, backend: StorageBackend, what: str) -> None:
    records, blobs = expected
    actual_records, actual_blobs = _dump(backend, blobs)
    _expect(sorted(records), sorted(actual_records), f"{what}: record addresses")
    for address, value in records.items():
        _expect(value, actual_records[address], f"{what}: record {address}")
        _expect(value, backend.get(*address), f"{what}: get{address}")
    _expect(blobs, actual_blobs, f"{what}: blobs")
    _expect(
        (len(blobs), sum(map(len, blobs.values()))), backend.blob_stats(), f"{what}: blob_stats"
    )


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
