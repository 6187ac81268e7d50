"""Values of subclassed builtin types (issue 7, 5.4): a ``str`` subclass name, an ``int``
subclass retention, a named-tuple tag, a ``datetime`` subclass. Every public ECS and KMS method
must answer them exactly as it answers the plain values: the same result or the same error
code, and the same stored world. Run on both backends (``--cloudbackup-backend sqlite``), this
also proves they are treated identically there: SQLite stores builtin types only.
"""

from __future__ import annotations

import datetime as dt
import enum
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _helpers import instance_with_disk, make_cloud
from cloudbackup import Cloud, InMemoryBackend, errors
from cloudbackup._validate import exact_int, exact_str
from cloudbackup.testing import world_state
from test_fuzz import REGION, _build_world, _hints, _parameters, _values, _World
from test_fuzz import TARGETS as FUZZ_TARGETS

TARGETS = [(owner, name) for owner, name in FUZZ_TARGETS if owner in ("EcsService", "KmsService")]


class Name(str):
    """A str subclass with a hostile ``__str__`` (a plain ``str()`` would call it)."""

    def __str__(self) -> str:
        return "hostile"


class Number(int):
    """An int subclass with a hostile ``__index__``/``__int__``."""

    def __index__(self) -> int:
        return 7

    def __int__(self) -> int:
        return 7


class Tag(NamedTuple):
    key: str
    value: str


class Instant(dt.datetime):
    """A datetime subclass, like pandas' Timestamp."""


def subclassed(value: Any) -> Any:
    """``value`` with every str, int, 2-tuple and datetime inside it made a subclass instance."""
    kind = type(value)
    if kind is str:
        return Name(value)
    if kind is int:
        return Number(value)
    if kind is dt.datetime:
        return Instant(*value.timetuple()[:6], value.microsecond, value.tzinfo, fold=value.fold)
    if kind is tuple and len(value) == 2:
        return Tag(subclassed(value[0]), subclassed(value[1]))
    if kind is tuple:
        return tuple(subclassed(v) for v in value)
    if kind is list:
        return [subclassed(v) for v in value]
    if kind is dict:
        return {k: subclassed(v) for k, v in value.items()}
    if attrs.has(kind):
        changes = {f.name: subclassed(getattr(value, f.name)) for f in attrs.fields(kind) if f.init}
        try:
            return attrs.evolve(value, **changes)
        except errors.CloudBackupError:
            return value  # a request type that refuses the subclass up front: keep it plain
    return value


# -- valid-leaning arguments ------------------------------------------------------------------
_SMALL = st.integers(1, 40)


def _argument(world: _World, name: str) -> st.SearchStrategy[Any]:
    ids = st.sampled_from([i for i in world.ids if isinstance(i, str)])
    words = st.sampled_from(["name-one", "Backup-A", "a description", "alias/new-name"])
    by_name: dict[str, st.SearchStrategy[Any]] = {
        "offset": st.integers(0, 8192),
        "length": st.integers(0, 4096),
        "data": st.binary(min_size=1, max_size=64),
        "plaintext": st.binary(min_size=1, max_size=64),
        "cool_off_period": st.sampled_from([0, 1, 72]),
        "pending_window_in_days": st.integers(7, 30),
        "tags": st.lists(st.tuples(st.sampled_from(["env", "team"]), words), max_size=2),
        "status": st.sampled_from(["all", "progressing", "accomplished", "Running"]),
        "snapshot_type": st.sampled_from(["all", "user"]),
        "usage": st.sampled_from(["none", "disk"]),
        "disk_category": st.sampled_from(["cloud_essd", "cloud_ssd"]),
        "lock_mode": st.just("compliance"),
        "type": st.sampled_from(["offline", "online"]),
        "disk_type": st.sampled_from(["system", "data", "all"]),
        "alias_name": st.sampled_from(["alias/new-name", "alias/fuzz"]),
    }
    if name in by_name:
        return by_name[name]
    if name.endswith("_id") or name in ("key_id", "ciphertext_blob"):
        return ids
    if name.endswith("_ids"):
        return st.lists(ids, min_size=1, max_size=2, unique=True)
    if name.endswith(("name", "description")):
        return words
    if name in ("size", "new_size", "amount", "page_size", "page_number", "max_results"):
        return _SMALL
    if name.endswith(("_days", "_duration")):
        return _SMALL
    hint = _hints(world, name)
    return hint if hint is not None else _values(world)


@st.composite
def _kwargs(draw: st.DrawFn, world: _World, target: tuple[str, str]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for parameter in _parameters(*target):
        required = parameter.default is inspect.Parameter.empty
        if required or draw(st.booleans()):
            if isinstance(parameter.default, bool):
                kwargs[parameter.name] = draw(st.booleans())
            else:
                kwargs[parameter.name] = draw(_argument(world, parameter.name))
    return kwargs


# -- two identical worlds -------------------------------------------------------------------
_PAIR: list[tuple[_World, _World]] = []


def _worlds() -> tuple[_World, _World]:
    """Two worlds built alike (plain, subclassed); rebuilt after a call changed them."""
    if not _PAIR:
        _PAIR.append((_build_world(), _build_world()))
    return _PAIR[0]


def _outcome(world: _World, target: tuple[str, str], kwargs: dict[str, Any]) -> object:
    owner, name = target
    service = world.cloud.ecs(REGION) if owner == "EcsService" else world.cloud.kms(REGION)
    method: Callable[..., Any] = getattr(service, name)
    try:
        return ("ok", method(**kwargs))
    except errors.CloudBackupError as error:
        return ("error", error.code)


def _stored_subclasses(cloud: Cloud) -> list[str]:
    """Where the in-memory backend holds an instance of a subclass of a builtin type."""
    backend = cloud.backend
    if not isinstance(backend, InMemoryBackend):
        return []  # SQLite cannot store one at all: the comparison of outcomes shows it
    found: list[str] = []

    def visit(value: Any, where: str) -> None:
        kind = type(value)
        builtin_like = isinstance(value, (str, int, tuple, dt.datetime))
        if builtin_like and kind not in _PLAIN and not isinstance(value, enum.Enum):
            found.append(f"{where}: {kind.__name__}")
        if isinstance(value, (tuple, list)):
            for item in value:
                visit(item, where)
        elif attrs.has(kind):
            for field in attrs.fields(kind):
                visit(getattr(value, field.name), f"{where}.{field.name}")

    for kind_name, partitions in backend._records.items():
        for partition, records in partitions.items():
            for key, value in records.items():
                visit(value, f"{kind_name}/{partition}/{key}")
    return found


_PLAIN = (str, int, bool, tuple, dt.datetime)

SUBCLASS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("target", TARGETS, ids=[f"{o}.{n}" for o, n in TARGETS])
@SUBCLASS
@given(data=st.data())
def test_subclassed_values_are_answered_like_plain_ones(
    target: tuple[str, str], data: st.DataObject
) -> None:
    """The same call with subclassed values gives the plain call's result or error code and
    leaves the same stored world, with no subclass instance stored."""
    plain_world, sub_world = _worlds()
    kwargs = data.draw(_kwargs(plain_world, target))
    expected = _outcome(plain_world, target, kwargs)
    actual = _outcome(sub_world, target, subclassed(kwargs))
    if expected[0] == "ok" or actual[0] == "ok":
        _PAIR.clear()
    assert expected == actual
    assert world_state(plain_world.cloud) == world_state(sub_world.cloud)
    assert [] == _stored_subclasses(sub_world.cloud)


def test_the_subclasses_are_really_hostile() -> None:
    """str() and int() of the test's subclasses do not give the value back."""
    assert ("hostile", 7) == (str(Name("x")), int(Number(3)))
    assert ("x", 3) == (exact_str(Name("x")), exact_int(Number(3)))
    assert (str, int) == (type(exact_str(Name("x"))), type(exact_int(Number(3))))


def test_a_subclassed_name_retention_and_tag_are_stored_as_plain_values() -> None:
    """A snapshot made from subclassed values holds exact builtin types, on any backend."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    snap = ecs.create_snapshot(
        disk_id=Name(disk),
        snapshot_name=Name("nightly"),
        retention_days=Number(3),
        tags=[Tag(Name("env"), Name("prod"))],
    )
    found = ecs.describe_snapshot(snap)
    assert ("nightly", 3, (("env", "prod"),)) == (
        found.snapshot_name,
        found.retention_days,
        found.tags,
    )
    assert (str, int, tuple, str) == (
        type(found.snapshot_name),
        type(found.retention_days),
        type(found.tags[0]),
        type(found.tags[0][0]),
    )


def test_exported_request_types_and_their_subclasses_are_rebuilt_plain() -> None:
    """A request type exported from ``cloudbackup`` (its module is the package itself) has its
    fields made builtin, and a caller's subclass of it comes back as the package's class."""
    from cloudbackup import DataDisk, PolicyBindingRequest
    from cloudbackup._validate import builtin

    class Disk(DataDisk):
        @property
        def hostile(self) -> str:
            return "hostile"

    rebuilt = builtin(Disk(category=Name("cloud_essd"), size=Number(20)))
    assert DataDisk(category="cloud_essd", size=20) == rebuilt
    assert (DataDisk, str, int) == (type(rebuilt), type(rebuilt.category), type(rebuilt.size))
    binding = builtin(PolicyBindingRequest(Name("i-1")))
    assert (PolicyBindingRequest, str) == (type(binding), type(binding.data_source_id))
