"""Tests for the record value codec of database backends (cloudbackup._backends._codec)."""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
import os
import subprocess
import sys
import zoneinfo
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudbackup._backends._codec import (
    DEFAULT_CODEC,
    LayoutMiss,
    ValueCodec,
    decode,
    encode,
    layout_tag,
)
from cloudbackup._typenames import TYPES, TypeRegistry
from cloudbackup.errors import StorageBackendError

# This module's classes are only known to a codec whose registry names them (set up below).
LOCAL_TYPES = TypeRegistry(parent=TYPES)
CODEC = ValueCodec(types=LOCAL_TYPES)


class Category(str, enum.Enum):
    """A (str, Enum) like the domain's."""

    ESSD = "cloud_essd"
    SSD = "cloud_ssd"


class Level(enum.IntEnum):
    """An IntEnum, which is also an int."""

    PL0 = 0
    PL1 = 1


class Access(enum.Flag):
    """A Flag enum, whose combined members have no name."""

    READ = 1
    WRITE = 2


@attrs.frozen
class Block:
    """A nested frozen value."""

    index: int
    digest: bytes


@attrs.frozen
class Disk:
    """A frozen value with every kind of field the codec must keep."""

    disk_id: str
    category: Category
    blocks: tuple[Block, ...]
    created: dt.datetime
    tags: frozenset[str] = frozenset()
    key: bytes = attrs.field(default=b"", repr=False)
    _secret: str = attrs.field(default="", alias="secret")
    block_count: int = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "block_count", len(self.blocks))


@attrs.define(eq=False)
class Entity:
    """A mutable, identity-compared, dict-based attrs class."""

    name: str
    size: int = 0


@attrs.frozen(cache_hash=True)
class Hashed:
    """A frozen class that caches its hash in a hidden slot."""

    items: tuple[int, ...]


@attrs.frozen
class Converted:
    """A field whose converter is not idempotent and whose validator is strict."""

    doubled: int = attrs.field(converter=lambda value: value * 2)
    small: int = attrs.field(default=0, validator=attrs.validators.le(10))


@attrs.frozen
class Evolved:
    """A class that grew fields after values of it were stored."""

    name: str
    added: int = 7
    listed: tuple[str, ...] = attrs.field(factory=tuple)


class Outer:
    """Holds a nested class, named ``Outer.Inner`` by its qualname."""

    @attrs.frozen
    class Inner:
        """A class nested in another."""

        value: int


@attrs.frozen
class Measured:
    """A value with a float field and an optional text field."""

    ratio: float
    note: str | None = None


for _cls in (Category, Level, Access, Block, Disk, Entity, Hashed, Converted, Evolved, Measured):
    LOCAL_TYPES.register(_cls, f"test.{_cls.__name__}")
LOCAL_TYPES.register(Outer.Inner, "test.Outer_Inner")

UTC = dt.timezone.utc
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")

aware_datetimes = st.datetimes(
    timezones=st.sampled_from([UTC, dt.timezone(dt.timedelta(hours=-5, minutes=-30)), SHANGHAI])
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | aware_datetimes
    | st.datetimes()
    | st.dates()
    | st.timedeltas()
    | st.sampled_from(Category)
    | st.sampled_from(Level)
    | st.sampled_from([Access.READ, Access.READ | Access.WRITE])
)
blocks = st.builds(Block, index=st.integers(0, 2**40), digest=st.binary(min_size=32, max_size=32))
disks = st.builds(
    Disk,
    disk_id=st.text(),
    category=st.sampled_from(Category),
    blocks=st.lists(blocks, max_size=4).map(tuple),
    created=aware_datetimes,
    tags=st.frozensets(st.text(max_size=5), max_size=4),
    key=st.binary(max_size=32),
    secret=st.text(max_size=5),
)
hashables = st.recursive(
    scalars | blocks,
    lambda inner: st.lists(inner, max_size=4).map(tuple) | st.frozensets(inner, max_size=4),
    max_leaves=12,
)
values = st.recursive(
    hashables | disks,
    lambda inner: (
        st.lists(inner, max_size=4).map(tuple)
        | st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


def same(expected: object, actual: object) -> bool:
    """Equal, with the same types all the way down (1, 1.0 and True are all equal in Python)."""
    if type(expected) is not type(actual):
        return False
    if isinstance(expected, float):
        assert isinstance(actual, float)
        return repr(expected) == repr(actual)
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, (tuple, list))
        return len(expected) == len(actual) and all(map(same, expected, actual))
    if isinstance(expected, frozenset):
        assert isinstance(actual, frozenset)
        return len(expected) == len(actual) and all(
            any(same(item, other) for other in actual) for item in expected
        )
    if isinstance(expected, dict):
        assert isinstance(actual, dict)
        return list(expected) == list(actual) and all(
            same(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, dt.datetime):
        assert isinstance(actual, dt.datetime)
        return (expected, expected.tzinfo, expected.fold) == (actual, actual.tzinfo, actual.fold)
    if attrs.has(type(expected)):
        fields: Any = attrs.fields(type(expected))
        return all(same(getattr(expected, f.name), getattr(actual, f.name)) for f in fields)
    return bool(expected == actual)


@given(values)
def test_round_trip_is_exact(value: object) -> None:
    """Decoding an encoding gives an equal value with the same types all the way down."""
    decoded = CODEC.decode(CODEC.encode(value))
    assert same(value, decoded)


@given(values)
def test_encoding_is_deterministic_and_canonical(value: object) -> None:
    """Encoding the same value twice, or its decoded copy, gives the same bytes."""
    data = CODEC.encode(value)
    assert data == CODEC.encode(value)
    assert data == CODEC.encode(CODEC.decode(data))


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_every_float_round_trips(value: float) -> None:
    """NaN, infinities and negative zero survive, and the output stays standard JSON."""
    data = CODEC.encode(value)
    json.loads(data, parse_constant=lambda name: pytest.fail(f"non-standard JSON {name}"))
    decoded = CODEC.decode(data)
    assert isinstance(decoded, float)
    assert repr(value) == repr(decoded) or (math.isnan(value) and math.isnan(decoded))


@given(st.text(alphabet=st.characters(codec=None, categories=["Cs"]), min_size=1))
def test_lone_surrogates_round_trip(value: str) -> None:
    """Strings holding lone surrogates (valid Python str, invalid UTF-8) survive."""
    assert value == CODEC.decode(CODEC.encode(value))


def test_attrs_fields_that_init_would_not_accept_round_trip() -> None:
    """init=False, repr=False and aliased private fields all keep their stored values."""
    disk = Disk("d-1", Category.ESSD, (Block(0, b"x" * 32),), dt.datetime(2024, 1, 1, tzinfo=UTC))
    disk = attrs.evolve(disk, secret="s3cret")
    decoded = CODEC.decode(CODEC.encode(disk))
    assert isinstance(decoded, Disk)
    expected = (1, "s3cret", b"")
    assert expected == (decoded.block_count, decoded._secret, decoded.key)
    assert disk == decoded


def test_converters_and_validators_do_not_run_again() -> None:
    """Decoding neither re-applies a converter nor re-checks a validator."""
    value = Converted(5)
    object.__setattr__(value, "small", 99)  # stored before the validator was tightened
    decoded = CODEC.decode(CODEC.encode(value))
    assert isinstance(decoded, Converted)
    expected = (10, 99)
    assert expected == (decoded.doubled, decoded.small)


def test_cached_hash_class_is_hashable_after_decoding() -> None:
    """A cache_hash=True class gets its hidden cache slot reset, so hash() works."""
    value = Hashed((1, 2, 3))
    decoded = CODEC.decode(CODEC.encode(value))
    assert hash(value) == hash(decoded)
    assert {value} == {decoded}


def test_mutable_dict_based_attrs_class_round_trips() -> None:
    """A non-slotted, mutable attrs class comes back with the same field values."""
    decoded = CODEC.decode(CODEC.encode(Entity("vault", 3)))
    assert isinstance(decoded, Entity)
    expected = ("vault", 3)
    assert expected == (decoded.name, decoded.size)


def test_nested_class_round_trips() -> None:
    """A class nested in another is found again through its qualname."""
    assert Outer.Inner(4) == CODEC.decode(CODEC.encode(Outer.Inner(4)))


def test_enum_members_round_trip_as_members() -> None:
    """str, int and flag enum members come back as the same members."""
    value = (Category.SSD, Level.PL1, Access.READ | Access.WRITE)
    decoded = CODEC.decode(CODEC.encode(value))
    assert isinstance(decoded, tuple)
    assert list(value) == list(decoded)
    assert all(a is b for a, b in zip(value, decoded, strict=True))


def test_zoneinfo_datetimes_keep_their_zone_and_fold() -> None:
    """A ZoneInfo datetime keeps its zone (not just its offset) and its fold."""
    new_york = zoneinfo.ZoneInfo("America/New_York")
    value = dt.datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=new_york)
    decoded = CODEC.decode(CODEC.encode(value))
    assert isinstance(decoded, dt.datetime)
    assert (new_york, 1, value.utcoffset()) == (decoded.tzinfo, decoded.fold, decoded.utcoffset())


def test_frozenset_encoding_does_not_depend_on_hash_seed() -> None:
    """Two processes with different PYTHONHASHSEED encode the same frozenset to the same bytes."""
    script = (
        "import sys; from cloudbackup._backends._codec import encode; "
        "sys.stdout.write(encode(frozenset({'a','b','c','d','e','f', 'gh', 1, 2.5})).decode())"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    expected = 1
    assert expected == len(outputs)


def test_dict_insertion_order_is_kept() -> None:
    """A dict comes back with its keys in the same order."""
    value = {"z": 1, "a": 2, "m": 3}
    decoded = decode(encode(value))
    assert isinstance(decoded, dict)
    expected = ["z", "a", "m"]
    assert expected == list(decoded)


def test_missing_field_takes_its_default_on_decode() -> None:
    """A value stored before a field existed decodes with that field's default or factory."""
    data = json.dumps(["a", "test.Evolved", {"name": "old"}]).encode()
    assert Evolved("old", 7, ()) == CODEC.decode(data)


def test_unknown_field_is_refused() -> None:
    """A stored field the class does not have (a newer writer) is refused, not dropped."""
    data = json.dumps(["a", "test.Block", {"index": 1, "digest": ["b", ""], "x": 1}])
    with pytest.raises(StorageBackendError) as info:
        CODEC.decode(data.encode())
    expected = "StorageBackend.SchemaTooNew"
    assert expected == info.value.code


def test_missing_field_without_default_is_refused() -> None:
    """A stored value lacking a field that has no default is reported as corrupt."""
    data = json.dumps(["a", "test.Block", {"index": 1}]).encode()
    with pytest.raises(StorageBackendError) as info:
        CODEC.decode(data)
    expected = "StorageBackend.Corrupt"
    assert expected == info.value.code


@pytest.mark.parametrize(
    "path",
    [
        "os:system",
        "subprocess:Popen",
        "builtins:object",
        "cloudbackupx.evil:Thing",
        f"{__name__}:Block",  # the old form of a name, outside cloudbackup
    ],
)
def test_default_codec_refuses_classes_outside_cloudbackup(path: str) -> None:
    """Module paths outside cloudbackup are refused as untrusted; nothing is ever imported."""
    with pytest.raises(StorageBackendError) as info:
        DEFAULT_CODEC.decode(json.dumps(["a", path, {}]).encode())
    expected = "StorageBackend.UntrustedClass"
    assert expected == info.value.code


@pytest.mark.parametrize(
    "path",
    [
        "cloudbackup.errors:CloudBackupError",  # a class, but neither attrs nor an enum
        "cloudbackup._backends._codec:__builtins__",
        "cloudbackup.errors:Iterable",  # imported into a trusted module from elsewhere
        "cloudbackup:../../etc",
        "cloudbackup.no_such_module:Thing",
        "cloudbackup.errors:NoSuchClass",
    ],
)
def test_names_that_are_not_trusted_record_classes_are_refused(path: str) -> None:
    """Names that do not lead to an attrs class defined in a trusted module are refused."""
    with pytest.raises(StorageBackendError):
        DEFAULT_CODEC.decode(json.dumps(["a", path, {}]).encode())


@pytest.mark.parametrize(
    "data",
    [b"not json", b"{}", b"[]", b'["zz", 1]', b'["b", "***"]', b'["td", 1]', b"\xff\xfe"],
)
def test_malformed_data_is_refused(data: bytes) -> None:
    """Bytes that are not a valid encoding raise StorageBackendError, nothing else."""
    with pytest.raises(StorageBackendError):
        DEFAULT_CODEC.decode(data)


def make_local_class() -> type:
    """Define a class inside a function, where no import can find it."""

    @attrs.frozen
    class Local:
        value: int

    return Local


class Token(str):
    """A str subclass that is not an enum."""


@pytest.mark.parametrize(
    "value",
    [
        object(),
        {1: "int key"},
        {"a": {"b": set()}},
        Token("t"),
        bytearray(b"x"),
        make_local_class()(1),
        dt.datetime(2024, 1, 1, tzinfo=dt.tzinfo()),
    ],
    ids=["object", "int-key", "set", "str-subclass", "bytearray", "local-class", "odd-tz"],
)
def test_unsupported_values_are_refused_when_encoding(value: object) -> None:
    """Values the codec could not give back exactly are refused at write time."""
    with pytest.raises(StorageBackendError) as info:
        CODEC.encode(value)
    expected = "StorageBackend.UnsupportedValue"
    assert expected == info.value.code


def test_default_codec_refuses_to_encode_unregistered_classes() -> None:
    """Storing an instance of a class the default registry does not name fails at write time."""
    with pytest.raises(StorageBackendError) as info:
        encode(Block(1, b""))
    expected = "StorageBackend.UnsupportedValue"
    assert expected == info.value.code


def test_codec_needs_a_type_registry() -> None:
    """A codec is built on a TypeRegistry, nothing else."""
    with pytest.raises(TypeError, match="TypeRegistry"):
        ValueCodec(types=("cloudbackup",))  # type: ignore[arg-type]


def test_encoding_is_compact() -> None:
    """The encoding has no whitespace between tokens and keeps non-ASCII text as UTF-8."""
    data = encode(("é", {"a": 1}))
    expected = b'["t","\xc3\xa9",["d",{"a":1}]]'
    assert expected == data


@given(st.one_of(st.integers(), st.text(alphabet=st.characters(codec=None))))
def test_bare_int_and_str_encode_as_plain_json(value: object) -> None:
    """A bare int or str (the fast path) gives exactly the JSON the general encoder writes."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    expected = text.encode("utf-8", "surrogatepass")
    assert expected == encode(value)
    assert value == decode(expected)


def test_str_subclass_and_bool_do_not_take_the_fast_path() -> None:
    """A str subclass is refused and a bool stays a bool: the fast path checks exact types."""

    class Name(str):
        """A str subclass."""

    with pytest.raises(StorageBackendError):
        encode(Name("x"))
    assert b"true" == encode(True)
    assert True is decode(encode(True))


@given(st.floats(allow_nan=True, allow_infinity=True), st.one_of(st.none(), st.text()))
def test_float_and_optional_fields_round_trip_exactly(ratio: float, note: str | None) -> None:
    """Every float field (infinities and NaN included) and an optional str field round-trip."""
    decoded = CODEC.decode(CODEC.encode(Measured(ratio, note)))
    assert isinstance(decoded, Measured)
    assert (repr(ratio), note) == (repr(decoded.ratio), decoded.note)


# -- positional values and their layouts (schema version 10) -----------------------------------
def layout_of(cls: type, name: str) -> str:
    """The layout tag ``cls``'s current fields give under type name ``name``."""
    return layout_tag(name, tuple(field.name for field in attrs.fields(cls)))


def test_attrs_values_are_stored_by_position_with_their_layout() -> None:
    """An attrs value is its type name, its layout and its field values in field order."""
    expected = ["p", "test.Block", layout_of(Block, "test.Block"), 3, ["b", "eA=="]]
    assert expected == json.loads(CODEC.encode(Block(3, b"x")))


def test_the_layout_changes_with_any_change_of_the_fields() -> None:
    """Reordering, renaming or adding a field, or another type name, gives another layout."""
    base = layout_tag("test.Block", ("index", "digest"))
    others = {
        layout_tag("test.Block", ("digest", "index")),
        layout_tag("test.Block", ("index", "hash")),
        layout_tag("test.Block", ("index", "digest", "size")),
        layout_tag("test.Other", ("index", "digest")),
    }
    assert (4, False) == (len(others), base in others)


def test_utc_datetimes_are_stored_as_microseconds_and_come_back_exact() -> None:
    """A UTC datetime is ["u", microseconds]; it decodes equal, with timezone.utc itself."""
    value = dt.datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC)
    data = encode(value)
    decoded = decode(data)
    assert isinstance(decoded, dt.datetime)
    expected = (["u", 1_709_251_199_999_999], value, UTC)
    assert expected == (json.loads(data), decoded, decoded.tzinfo)


def test_other_datetimes_keep_their_zone_and_fold() -> None:
    """Offsets other than UTC, zoneinfo zones and fold=1 keep the ISO form and come back exact."""
    values = [
        dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        dt.datetime(2024, 1, 1, fold=1, tzinfo=UTC),
        dt.datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=zoneinfo.ZoneInfo("America/New_York")),
        dt.datetime(2024, 1, 1),
    ]
    tags = [json.loads(encode(value))[0] for value in values]
    back = [decode(encode(value)) for value in values]
    assert (["dt"] * 4, values) == (tags, back)
    assert [v.fold for v in values] == [v.fold for v in back]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "tree",
    [
        ["u", "1"],
        ["u", 1.5],
        ["u", True],
        ["u", 10**30],
        ["u"],
        ["p", "test.Block", "xx"],
        ["p", "test.Block"],
        ["p", "test.Block", 7, 1, ["b", ""]],
        ["p", "test.Category", "00000000"],
    ],
)
def test_malformed_positional_values_are_corrupt(tree: list[Any]) -> None:
    """A damaged "u" or "p" value is StorageBackend.Corrupt (or UnknownLayout), never raw."""
    with pytest.raises(StorageBackendError) as info:
        CODEC.decode(json.dumps(tree).encode())
    assert info.value.code in ("StorageBackend.Corrupt", "StorageBackend.UnknownLayout")


def test_a_positional_value_with_too_few_or_many_fields_is_corrupt() -> None:
    """A value of the current layout with a field missing or one too many is Corrupt."""
    tag = layout_of(Block, "test.Block")
    codes = []
    for values in ([1], [1, ["b", ""], 2]):
        with pytest.raises(StorageBackendError) as info:
            CODEC.decode(json.dumps(["p", "test.Block", tag, *values]).encode())
        codes.append(info.value.code)
    assert ["StorageBackend.Corrupt"] * 2 == codes


def test_a_positional_field_of_the_wrong_type_is_corrupt() -> None:
    """The declared field types are checked on the positional path as on the keyed one."""
    data = json.dumps(["p", "test.Block", layout_of(Block, "test.Block"), "one", ["b", ""]])
    with pytest.raises(StorageBackendError) as info:
        CODEC.decode(data.encode())
    assert "StorageBackend.Corrupt" == info.value.code


def test_an_unknown_layout_is_reported_with_its_type_and_tag() -> None:
    """A layout the codec was not told about raises LayoutMiss (StorageBackend.UnknownLayout)."""
    old = layout_tag("test.Evolved", ("name",))
    codec = ValueCodec(types=LOCAL_TYPES)
    with pytest.raises(LayoutMiss) as info:
        codec.decode(json.dumps(["p", "test.Evolved", old, "x"]).encode())
    expected = ("StorageBackend.UnknownLayout", "test.Evolved", old)
    assert expected == (info.value.code, info.value.type_name, info.value.tag)


def test_a_learned_older_layout_decodes_by_name_with_defaults() -> None:
    """Values of an older layout (fewer fields, another order) decode by name; added fields
    take their defaults or factories."""
    codec = ValueCodec(types=LOCAL_TYPES)
    names = ("listed", "name")
    tag = layout_tag("test.Evolved", names)
    codec.learn_layout(tag, "test.Evolved", names)
    data = json.dumps(["p", "test.Evolved", tag, ["t", "a"], "old"]).encode()
    assert Evolved("old", 7, ("a",)) == codec.decode(data)


def test_a_learned_layout_with_a_field_the_class_lost_is_refused() -> None:
    """A value of a layout naming a field the class no longer has is SchemaTooNew, not dropped."""
    codec = ValueCodec(types=LOCAL_TYPES)
    names = ("index", "digest", "size")
    tag = layout_tag("test.Block", names)
    codec.learn_layout(tag, "test.Block", names)
    with pytest.raises(StorageBackendError) as info:
        codec.decode(json.dumps(["p", "test.Block", tag, 1, ["b", ""], 3]).encode())
    assert "StorageBackend.SchemaTooNew" == info.value.code


@pytest.mark.parametrize(
    ("type_name", "names"),
    [
        ("test.Block", ("index",)),  # not the tag's fields
        ("test.Other", ("index", "digest")),  # not the tag's type
        ("test.Block", ("index", "index")),
        ("test.Block", ["index", "digest"]),
    ],
)
def test_a_layout_description_that_does_not_match_its_tag_is_refused(
    type_name: str, names: Any
) -> None:
    """learn_layout checks the description against the tag: a damaged row is Corrupt."""
    codec = ValueCodec(types=LOCAL_TYPES)
    with pytest.raises(StorageBackendError) as info:
        codec.learn_layout(layout_tag("test.Block", ("index", "digest")), type_name, names)
    assert "StorageBackend.Corrupt" == info.value.code


def test_a_learned_layout_of_another_type_is_not_used() -> None:
    """A value naming type A with a tag learned for type B is Corrupt (tags name one type)."""
    codec = ValueCodec(types=LOCAL_TYPES)
    names = ("index", "digest")
    tag = layout_tag("test.Other", names)
    codec.learn_layout(tag, "test.Other", names)
    with pytest.raises(StorageBackendError) as info:
        codec.decode(json.dumps(["p", "test.Block", tag, 1, ["b", ""]]).encode())
    assert "StorageBackend.Corrupt" == info.value.code
