"""Hostile input at the storage boundary: ids no backend can store, damaged and foreign files."""

from __future__ import annotations

import hashlib
import inspect
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from _helpers import REGION, ZONE, instance_with_disk, make_cloud
from cloudbackup import Cloud, EcsService, InMemoryBackend, KmsService, ResetDiskSpec
from cloudbackup._backends import StorageBackend
from cloudbackup._backends._sqlite import SqliteBackend
from cloudbackup.errors import CloudBackupError, InvalidParameterError, StorageBackendError
from cloudbackup.testing import world_state

BAD = "\ud800"

#: Plausible values for the required parameters that are not ids.
REQUIRED: dict[str, object] = {
    "instance_type": "ecs.g7.large",
    "lock_duration": 1,
    "new_size": 40,
    "offset": 0,
    "length": 1,
    "seed": 1,
    "data": b"x",
    "plaintext": b"x",
    "pending_window_in_days": 7,
    "ciphertext_blob": b"\x00" * 64,
    "disks": [ResetDiskSpec(disk_id="d-" + BAD, snapshot_id="s-" + BAD)],
    "resource_type": "disk",
    "tags": [("k", "v")],
    "ram_role_name": "AliyunECSInstanceForHbrRole",
}


def hostile_value(name: str) -> object:
    """A value for parameter ``name`` that holds a lone surrogate where an id belongs."""
    if name.endswith("_ids"):
        return ["x-" + BAD]
    if name.endswith("_id"):
        return "x-" + BAD
    if name == "alias_name":
        return "alias/" + BAD
    return REQUIRED[name]


def targets() -> list[tuple[str, str]]:
    """Every public method of the services that takes an id (found by introspection)."""
    found = []
    for cls in (EcsService, KmsService):
        for name in dir(cls):
            member = inspect.getattr_static(cls, name)
            if name.startswith("_") or not inspect.isfunction(member):
                continue
            params = inspect.signature(member).parameters
            if any(p.endswith(("_id", "_ids")) or p in ("alias_name", "disks") for p in params):
                found.append((cls.__name__, name))
    return found


def build_world(backend: StorageBackend) -> Cloud:
    """A small world: an instance with a data disk, a snapshot and a key."""
    cloud = make_cloud(backend=backend)
    ecs, _, disk_id = instance_with_disk(cloud)
    ecs.create_snapshot(disk_id=disk_id)
    cloud.kms(REGION).create_key()
    return cloud


def outcome(cloud: Cloud, owner: str, method: str) -> tuple[str, str]:
    """Call ``method`` with a lone surrogate in every id; return what happened."""
    service = cloud.ecs(REGION) if owner == "EcsService" else cloud.kms(REGION)
    call = getattr(service, method)
    kwargs: dict[str, Any] = {}
    for name, param in inspect.signature(call).parameters.items():
        if name.endswith(("_id", "_ids")) or name in ("alias_name", "disks"):
            kwargs[name] = ZONE if name == "zone_id" else hostile_value(name)
        elif param.default is inspect.Parameter.empty:
            kwargs[name] = REQUIRED[name]
    before = world_state(cloud)
    try:
        call(**kwargs)
    except CloudBackupError as exc:
        assert before == world_state(cloud), f"{method} refused but changed the world"
        return type(exc).__name__, exc.code
    return "ok", ""


@pytest.mark.parametrize("target", targets(), ids=[f"{o}.{m}" for o, m in targets()])
def test_lone_surrogate_ids_get_the_same_answer_on_both_backends(
    target: tuple[str, str], tmp_path: Path
) -> None:
    """An id holding a lone surrogate is answered the same by memory and SQLite: a typed error
    (usually not found) that changes nothing, never a raw UnicodeEncodeError."""
    memory = build_world(InMemoryBackend())
    sqlite = build_world(SqliteBackend(tmp_path / "w.db"))
    try:
        assert outcome(memory, *target) == outcome(sqlite, *target)
    finally:
        memory.close()
        sqlite.close()


def test_targets_cover_the_id_taking_methods() -> None:
    """Introspection finds the methods that take ids (describe, delete, attach, ...)."""
    names = {method for _, method in targets()}
    assert {"describe_disks", "delete_snapshot", "attach_disk", "describe_key"} <= names
    assert len(names) >= 35


@pytest.mark.parametrize("make", [InMemoryBackend, lambda: SqliteBackend(":memory:")])
def test_backends_treat_unencodable_addresses_as_absent_and_refuse_to_store_them(
    make: Any,
) -> None:
    """get/scan/count/get_many find nothing at such an address, delete is a no-op, put raises."""
    backend: StorageBackend = make()
    backend.begin()
    backend.put("k", "p", "a", 1)
    backend.delete("k", "p", BAD)
    with pytest.raises(StorageBackendError) as info:
        backend.put("k", "p", BAD, 1)
    assert "StorageBackend.UnsupportedKey" == info.value.code
    backend.commit()
    assert backend.get("k", "p", BAD) is None
    assert backend.get("k", BAD, "a") is None
    assert [] == list(backend.scan("k", BAD))
    assert [] == list(backend.partitions(BAD))
    assert {"a": 1} == backend.get_many("k", "p", ["a", BAD])  # type: ignore[attr-defined]
    assert [("a", 1)] == list(backend.scan("k", "p"))
    backend.close()


# -- damaged and foreign files ----------------------------------------------------------------
def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def small_world(path: Path) -> None:
    """A closed world file with an instance, a disk and some events."""
    with make_cloud(backend=SqliteBackend(path)) as cloud:
        ecs, _, disk_id = instance_with_disk(cloud)
        ecs.write_disk(disk_id, 0, b"x" * 20000)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def test_truncated_file_is_reported_as_corrupt(tmp_path: Path) -> None:
    """A world file cut short fails with StorageBackend.Corrupt, at open or at first read."""
    path = tmp_path / "w.db"
    small_world(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    def use() -> None:
        with Cloud(backend=SqliteBackend(path), block_size=4096) as cloud:
            ecs = cloud.ecs(REGION)
            ecs.describe_instances()
            ecs.describe_disks()
            list(cloud.events)

    with pytest.raises(StorageBackendError) as info:
        use()
    assert "StorageBackend.Corrupt" == info.value.code
    assert "backup" in info.value.recommend


@pytest.mark.parametrize("damage", ["text", "number", "empty", "json", "wrong-class"])
def test_damaged_records_are_reported_as_corrupt(tmp_path: Path, damage: str) -> None:
    """A record whose stored value is not an encoding of its kind is StorageBackend.Corrupt."""
    path = tmp_path / "w.db"
    small_world(path)
    values = {
        "text": "'not bytes'",
        "number": "42",
        "empty": "x''",
        "json": 'CAST(\'["a","ecs.Disk",7]\' AS BLOB)',
        "wrong-class": 'CAST(\'["e","ecs.DiskStatus","In_use"]\' AS BLOB)',
    }
    conn = sqlite3.connect(path)
    conn.execute(f"UPDATE records SET value = {values[damage]} WHERE kind = 'ecs.disk'")
    conn.commit()
    conn.close()
    with (
        Cloud(backend=SqliteBackend(path), block_size=4096) as cloud,
        pytest.raises(StorageBackendError) as info,
    ):
        cloud.ecs(REGION).describe_disks()
    assert "StorageBackend.Corrupt" == info.value.code


@pytest.mark.parametrize(
    "schema",
    [
        "CREATE VIEW answer AS SELECT 42",
        "CREATE TABLE t (x); CREATE INDEX i ON t (x); DROP TABLE t; CREATE VIEW v AS SELECT 1",
        "CREATE TEMP TABLE ignored (x); CREATE VIEW v2 AS SELECT 2",
    ],
    ids=["view", "view-after-dropped-table", "view-with-temp"],
)
def test_file_holding_only_a_view_is_refused_and_left_untouched(
    tmp_path: Path, schema: str
) -> None:
    """A SQLite file whose only schema object is a view is not ours: refused, bytes unchanged."""
    path = tmp_path / "view.db"
    conn = sqlite3.connect(path)
    conn.executescript(schema)
    conn.close()
    before = file_digest(path)
    with pytest.raises(StorageBackendError) as info:
        SqliteBackend(path)
    assert ("StorageBackend.NotCloudbackup", before) == (info.value.code, file_digest(path))
    assert "view" in info.value.message


@pytest.mark.parametrize("path", [None, 42, b"world.db", "a\x00b", "w-\ud800.db"])
def test_sqlite_backend_refuses_a_bad_path_up_front(path: object) -> None:
    """A path that is no file name raises InvalidParameterError before anything is opened."""
    with pytest.raises(InvalidParameterError) as info:
        SqliteBackend(path)  # type: ignore[arg-type]
    assert "InvalidParameter.Path" == info.value.code


def test_sqlite_backend_accepts_path_objects_and_subclassed_strings(tmp_path: Path) -> None:
    """A pathlib.Path and a str subclass both open the file they name."""

    class Name(str):
        pass

    with (
        SqliteBackend(tmp_path / "a.db") as first,
        SqliteBackend(Name(tmp_path / "b.db")) as second,
    ):
        assert (str(tmp_path / "a.db"), str(tmp_path / "b.db")) == (first.path, second.path)
    assert str is type(second.path)


_DECODABLE_DAMAGE = {
    # A field of the right class holding the wrong type.
    # (Values are stored by position: the size follows the category, the zone the region.)
    "disk-size-text": (
        "UPDATE records SET value = CAST(replace(CAST(value AS TEXT), '\"cloud_essd\"],20,', "
        "'\"cloud_essd\"],\"forty\",') AS BLOB) WHERE kind = 'ecs.disk'"
    ),
    "disk-zone-number": (
        "UPDATE records SET value = CAST(replace(CAST(value AS TEXT), "
        '\'"cn-hangzhou","cn-hangzhou-h"\', '
        "'\"cn-hangzhou\",7') AS BLOB) WHERE kind = 'ecs.disk'"
    ),
    "block-digest-number": "UPDATE records SET value = CAST('7' AS BLOB) "
    "WHERE kind = 'ecs.disk_extents'",
    "refcount-text": "UPDATE records SET value = CAST('\"x\"' AS BLOB) WHERE kind = 'blob.refs'",
    "refcount-zero": "UPDATE records SET value = CAST('0' AS BLOB) WHERE kind = 'blob.refs'",
    "counter-text": "UPDATE records SET value = CAST('\"x\"' AS BLOB) "
    "WHERE kind = 'meta' AND partition = 'counter'",
    "clock-text": "UPDATE records SET value = CAST('\"noon\"' AS BLOB) "
    "WHERE kind = 'meta' AND key = 'clock'",
}


@pytest.mark.parametrize("damage", sorted(_DECODABLE_DAMAGE))
def test_damaged_records_that_still_decode_are_reported_as_corrupt(
    tmp_path: Path, damage: str
) -> None:
    """A record that decodes but holds a wrong-typed value is StorageBackend.Corrupt, not raw."""
    path = tmp_path / "w.db"
    small_world(path)
    conn = sqlite3.connect(path)
    changed = conn.execute(_DECODABLE_DAMAGE[damage]).rowcount
    conn.commit()
    conn.close()

    def use() -> None:
        with Cloud(backend=SqliteBackend(path), block_size=4096) as cloud:
            ecs = cloud.ecs(REGION)
            (disk,) = [d for d in ecs.describe_disks() if d.type.value == "data"]
            ecs.read_disk(disk.disk_id, 0, 3)
            ecs.resize_disk(disk_id=disk.disk_id, new_size=disk.size + 10)
            ecs.write_disk(disk.disk_id, 0, b"xyz")
            ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20)

    with pytest.raises(StorageBackendError) as info:
        use()
    assert (True, "StorageBackend.Corrupt") == (changed > 0, info.value.code)
