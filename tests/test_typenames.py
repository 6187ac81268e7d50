"""Stable type names: stored values name their class by a registered name, not a module path."""

from __future__ import annotations

import datetime as dt
import enum
import importlib
import json
import pkgutil
import re
import shutil
import sqlite3
from pathlib import Path

import attrs
import pytest

import cloudbackup
from _helpers import REGION, instance_with_disk, make_cloud, run_instance, system_disk_id
from cloudbackup._backends._codec import DEFAULT_CODEC, ValueCodec, rename_legacy_types
from cloudbackup._backends._sqlite import SqliteBackend
from cloudbackup._engine import Timer
from cloudbackup._typenames import LEGACY_NAMES, TYPES, TypeRegistry
from cloudbackup.errors import StorageBackendError

WORLD_V1 = Path(__file__).parent / "data" / "world-v1.db"
# attrs values keyed or by position, enums, and events stored as flat tuples ("event/1", name, ...)
NAME = re.compile(r'\[(?:"[aep]"|"t","event/1"),"([^"]+)"')


def stored_names(path: Path) -> set[str]:
    """Every type name written in the records of a SQLite world file."""
    conn = sqlite3.connect(path)
    try:
        values = [bytes(row[0]).decode() for row in conn.execute("SELECT value FROM records")]
    finally:
        conn.close()
    return {name for value in values for name in NAME.findall(value)}


def test_timer_is_stored_under_its_registered_name() -> None:
    """A Timer is written as engine.Timer, not as the module path of its code."""
    due = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    data = DEFAULT_CODEC.encode(
        Timer(due=due, sequence=1, action="a", region_id="r", target_id="t")
    )
    assert '["p","engine.Timer",' == data.decode()[: len('["p","engine.Timer",')]
    assert b"_engine" not in data


@attrs.frozen
class Moved:
    """A class whose module is changed after registration, as a refactoring would."""

    value: int


class Colour(enum.Enum):
    """An enum whose module is changed after registration."""

    RED = "red"


LOCAL = TypeRegistry(parent=TYPES)
LOCAL.register(Moved, "test.Moved")
LOCAL.register(Colour, "test.Colour")


def test_stored_name_does_not_depend_on_the_module() -> None:
    """Values written before and after a class's __module__ changes decode to that class."""
    codec = ValueCodec(types=LOCAL)
    before = codec.encode((Moved(1), Colour.RED))
    Moved.__module__ = Colour.__module__ = "somewhere.else.entirely"
    try:
        after = ValueCodec(types=LOCAL).encode((Moved(1), Colour.RED))
        assert before == after
        assert (Moved(1), Colour.RED) == ValueCodec(types=LOCAL).decode(before)
    finally:
        Moved.__module__ = Colour.__module__ = __name__


def test_unregistered_class_is_refused_when_written() -> None:
    """Storing an instance of a class with no type name fails at encode time, saying why."""
    with pytest.raises(StorageBackendError) as info:
        DEFAULT_CODEC.encode(Moved(1))
    assert "StorageBackend.UnsupportedValue" == info.value.code
    assert "registered type name" in info.value.message


def test_subclass_of_a_registered_class_is_refused() -> None:
    """A subclass does not inherit its base's type name: it would decode as the base."""

    @attrs.frozen
    class Sub(Timer):
        pass

    due = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    with pytest.raises(StorageBackendError) as info:
        DEFAULT_CODEC.encode(Sub(due=due, sequence=1, action="a", region_id="r", target_id="t"))
    assert "StorageBackend.UnsupportedValue" == info.value.code


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("no.SuchType", "StorageBackend.UnknownClass"),
        ("test.Moved", "StorageBackend.UnknownClass"),  # registered only in LOCAL
        ("os:system", "StorageBackend.UntrustedClass"),
        ("subprocess:Popen", "StorageBackend.UntrustedClass"),
        ("cloudbackup._engine:Engine", "StorageBackend.UnknownClass"),
        ("cloudbackup:../../etc", "StorageBackend.Corrupt"),
    ],
)
def test_unknown_and_foreign_names_are_refused(name: str, code: str) -> None:
    """A name the registry does not hold is refused; nothing is imported."""
    with pytest.raises(StorageBackendError) as info:
        DEFAULT_CODEC.decode(json.dumps(["a", name, {}]).encode())
    assert code == info.value.code


def test_legacy_paths_decode_through_the_alias_table() -> None:
    """A value written with the old module:qualname decodes to the registered class."""
    due = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    timer = Timer(due=due, sequence=1, action="a", region_id="r", target_id="t")
    legacy = DEFAULT_CODEC.encode(timer).replace(b"engine.Timer", b"cloudbackup._engine:Timer")
    assert timer == DEFAULT_CODEC.decode(legacy)
    assert DEFAULT_CODEC.encode(timer) == rename_legacy_types(legacy)


def test_every_legacy_path_names_a_registered_class() -> None:
    """Each old path of the alias table leads to a class the registry holds."""
    unknown = sorted(path for path, name in LEGACY_NAMES.items() if TYPES.resolve(name) is None)
    assert [] == unknown


def test_registry_refuses_malformed_and_conflicting_names() -> None:
    """Names are namespace.ClassName; one name per class and one class per name."""
    registry = TypeRegistry(parent=TYPES)
    for bad in ("Timer", "engine:Timer", "Engine.Timer", "engine.", ""):
        with pytest.raises(ValueError, match="not a type name"):
            registry.register(Moved, bad)
    with pytest.raises(ValueError, match="already names"):
        registry.register(Moved, "engine.Timer")
    registry.register(Moved, "test.Moved")
    registry.register(Moved, "test.Moved")  # the same registration again is harmless
    with pytest.raises(ValueError, match="already stored as"):
        registry.register(Moved, "test.Other")


def test_every_record_class_of_the_package_is_registered() -> None:
    """Every attrs class with a KIND (and every Event subclass) has a type name."""
    missing = []
    for info in pkgutil.walk_packages(cloudbackup.__path__, "cloudbackup."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and attrs.has(value)
                and hasattr(value, "KIND")
                and value is not cloudbackup.Event
                and TYPES.name_of(value) is None
            ):
                missing.append(f"{value.__module__}.{value.__qualname__}")
    assert [] == sorted(set(missing))


def test_a_whole_world_stores_only_registered_names(tmp_path: Path) -> None:
    """Every type name in a world that used every kind of record is a registered one."""
    path = tmp_path / "world.db"
    with make_cloud(backend=SqliteBackend(path)) as cloud:
        kms = cloud.kms(REGION)
        key = kms.create_key()
        kms.create_alias("alias/backup", key.key_id)
        ecs, instance_id, disk_id = instance_with_disk(cloud, encrypted=True, kms_key_id=key.key_id)
        ecs.write_disk(disk_id, 0, b"data")
        snapshot_id = ecs.create_snapshot(disk_id=disk_id, retention_days=2)
        ecs.lock_snapshot(snapshot_id=snapshot_id, lock_duration=1, cool_off_period=1)
        ecs.create_snapshot_group(instance_id=instance_id)
        cloud.advance(dt.timedelta(hours=1))
        system_snapshot = ecs.create_snapshot(disk_id=system_disk_id(ecs, instance_id))
        cloud.advance(dt.timedelta(hours=1))
        ecs.create_image(snapshot_id=system_snapshot)
        run_instance(cloud, wait=False)
        kms.schedule_key_deletion(kms.create_key().key_id, 7)
    names = stored_names(path)
    assert {
        "engine.Timer",
        "ecs.Snapshot",
        "ecs.Image",
        "kms.KmsKey",
        "events.DiskWritten",
    } <= names
    assert set() == {name for name in names if TYPES.resolve(name) is None}


def test_version_1_world_is_migrated_to_type_names(tmp_path: Path) -> None:
    """Opening the real version-1 world rewrites every module path to its type name."""
    db = tmp_path / "world.db"
    shutil.copyfile(WORLD_V1, db)
    old = stored_names(db)
    assert "cloudbackup._engine:Timer" in old
    SqliteBackend(db).close()
    new = stored_names(db)
    assert {LEGACY_NAMES[name] for name in old} == new
    assert set() == {name for name in new if TYPES.resolve(name) is None}
