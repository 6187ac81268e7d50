"""Determinism: the same seed and calls give the same ids, records and events; seeds differ."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cloudbackup
from _helpers import REGION, ZONE, backend_state, data_disk_ids, pattern
from cloudbackup import Cloud, DataDisk, Event, SqliteBackend, errors
from cloudbackup.testing import check_invariants


def scenario(seed: int) -> tuple[Cloud, list[str]]:
    """A fixed story touching every id kind: instance, disks, snapshots, group, image, keys."""
    cloud = Cloud(seed=seed, block_size=4096)
    kms = cloud.kms(REGION)
    ecs = cloud.ecs(REGION)
    key = kms.create_key().key_id
    ids = [key]
    ids += ecs.run_instances(
        zone_id=ZONE,
        instance_type="ecs.g7.large",
        data_disks=[DataDisk(size=20), DataDisk(size=20, encrypted=True, kms_key_id=key)],
    )
    cloud.advance(dt.timedelta(minutes=2))
    disks = data_disk_ids(ecs, ids[1])
    ids += disks
    for n, disk in enumerate(disks):
        ecs.write_disk(disk, 4096 * n, pattern(n, 10000))
    ids.append(ecs.create_snapshot(disk_id=disks[0], retention_days=1))
    ids.append(ecs.create_snapshot_group(instance_id=ids[1]))
    ids.append(ecs.create_disk(zone_id=ZONE, snapshot_id=ids[-2]))
    ids.append(ecs.describe_snapshot_links().items[0].snapshot_link_id)
    system = ecs.describe_disks(instance_id=ids[1], disk_type="system").items[0].disk_id
    ids.append(ecs.create_image(snapshot_id=ecs.create_snapshot(disk_id=system)))
    cloud.advance(dt.timedelta(days=2))
    return cloud, ids


def events(cloud: Cloud) -> list[Event]:
    return list(cloud.events)


def test_same_seed_same_everything() -> None:
    """Two runs of the same calls on the same seed agree on ids, records, blobs and events."""
    a, ids_a = scenario(7)
    b, ids_b = scenario(7)
    assert ids_a == ids_b
    assert events(a) == events(b)
    assert backend_state(a) == backend_state(b)
    assert a.storage_stats() == b.storage_stats()


def test_different_seed_different_ids() -> None:
    """Another seed gives other ids for every resource but the same story of events."""
    a, ids_a = scenario(7)
    b, ids_b = scenario(8)
    assert all(x != y for x, y in zip(ids_a, ids_b, strict=True))
    assert 0 == len(set(ids_a) & set(ids_b))
    assert [type(e) for e in events(b)] == [type(e) for e in events(a)]
    assert [e.time for e in events(b)] == [e.time for e in events(a)]


def test_ids_have_the_real_shapes() -> None:
    """Ids use the real prefixes, the region infix and the real lengths."""
    _, ids = scenario(1)
    key, instance, disk_a, disk_b, snapshot, group, new_disk, link, image = ids
    assert re.fullmatch(r"key-bp1[0-9a-z]{18}", key)
    for value, prefix in (
        (instance, "i-"),
        (disk_a, "d-"),
        (disk_b, "d-"),
        (new_disk, "d-"),
        (snapshot, "s-"),
        (group, "ssg-"),
        (link, "sl-"),
        (image, "m-"),
    ):
        assert re.fullmatch(rf"{prefix}bp1[0-9a-z]{{17}}", value), value


def test_rejected_calls_consume_no_ids() -> None:
    """A rejected call leaves the id sequence untouched: the next id is as if it never ran."""
    plain = Cloud(seed=3)
    with_failure = Cloud(seed=3)
    with pytest.raises(errors.InvalidParameterError):
        with_failure.ecs(REGION).create_disk(zone_id=ZONE, size=1)
    assert plain.ecs(REGION).create_disk(zone_id=ZONE, size=20) == with_failure.ecs(
        REGION
    ).create_disk(zone_id=ZONE, size=20)


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=0, max_value=2**63), st.integers(min_value=1, max_value=5))
def test_ids_depend_only_on_seed_and_order(seed: int, count: int) -> None:
    """For any seed, creating the same resources twice yields the same ids, all distinct."""

    def make() -> list[str]:
        ecs = Cloud(seed=seed).ecs(REGION)
        return [ecs.create_disk(zone_id=ZONE, size=20) for _ in range(count)]

    first = make()
    assert first == make()
    assert len(set(first)) == count


def test_encryption_is_deterministic_too() -> None:
    """Ciphertext blobs of encrypted disks are identical across runs of the same seed."""
    a, _ = scenario(11)
    b, _ = scenario(11)
    assert backend_state(a)[1] == backend_state(b)[1]


def test_two_processes_sharing_a_world_never_reuse_an_id_or_a_sequence(tmp_path: Path) -> None:
    """Two Clouds on one SQLite file, calls alternating: each sees the other's commits, so the
    counters each keeps in memory are read again and no id, event or timer number repeats."""
    path = tmp_path / "shared.db"
    one = Cloud(seed=3, block_size=4096, backend=SqliteBackend(path))
    two = Cloud(seed=3, block_size=4096, backend=SqliteBackend(path))
    made: list[str] = []
    for n in range(6):
        cloud = (one, two)[n % 2]
        made.append(
            cloud.ecs(REGION).create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20)
        )
        made.append(cloud.kms(REGION).create_key().key_id)
    assert len(set(made)) == len(made)
    assert list(range(12)) == [e.sequence for e in one.events]
    check_invariants(two)
    one.close()
    two.close()


def test_a_rolled_back_unit_forgets_the_counters_it_advanced() -> None:
    """A call rejected after taking ids and event numbers (a dry run) gives them back: the next
    call takes the very numbers a world that never saw the rejected call would."""
    plain = Cloud(seed=5, block_size=4096)
    tried = Cloud(seed=5, block_size=4096)
    for cloud in (plain, tried):
        cloud.ecs(REGION).create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20)
    with pytest.raises(errors.DryRunOperationError):
        tried.ecs(REGION).run_instances(
            zone_id=ZONE,
            instance_type="ecs.g7.large",
            data_disks=[DataDisk(size=20)],
            dry_run=True,
        )
    after = [
        (
            cloud.ecs(REGION).run_instances(zone_id=ZONE, instance_type="ecs.g7.large"),
            [(e.sequence, type(e).__name__) for e in cloud.events],
            [t.sequence for t in cloud._world.engine.pending()],
        )
        for cloud in (plain, tried)
    ]
    assert after[0] == after[1]


class _Text(str):
    """A str subclass whose ``__str__``, ``__eq__`` and ``__hash__`` lie (so it finds no
    record by itself)."""

    def __str__(self) -> str:
        return "lie"

    def __eq__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return 0


class _Count(int):
    """An int subclass whose ``__index__``/``__int__`` lie."""

    def __index__(self) -> int:
        return 7

    def __int__(self) -> int:
        return 7


def test_subclassed_arguments_reach_records_and_events_as_the_exact_builtins() -> None:
    """Positional and keyword arguments of a subclassed str or int (which the wrappers'
    all-exact fast path must not let through) are recorded as the plain values they equal."""
    cloud = Cloud(block_size=4096)
    ecs = cloud.ecs(REGION)
    [instance_id] = ecs.run_instances(
        zone_id=ZONE, instance_type="ecs.g7.large", data_disks=[DataDisk(size=20)]
    )
    cloud.advance(dt.timedelta(minutes=2))
    [disk_id] = data_disk_ids(ecs, instance_id)
    ecs.write_disk(_Text(disk_id), _Count(8192), b"abc")
    ecs.modify_disk_attribute(disk_id=_Text(disk_id), disk_name=_Text("data-disk"))
    written = cloud.events.list(cloudbackup.DiskWritten)[-1]
    modified = cloud.events.list(cloudbackup.DiskModified)[-1]
    assert (disk_id, 8192, "data-disk") == (written.disk_id, written.offset, modified.disk_name)
    assert (str, int, str, str) == (
        type(written.disk_id),
        type(written.offset),
        type(modified.disk_id),
        type(modified.disk_name),
    )
    assert b"abc" == ecs.read_disk(disk_id, 8192, 3)
