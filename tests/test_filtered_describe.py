"""Filtered describes read the partitions of an index by facets: DescribeSnapshots filtered by
status, type, source disk type and encryption, DescribeDisks by status, category, zone, type
and encryption, DescribeInstances by status and zone answer exactly what filtering every
record and sorting would, on both backends, page by page and token by token."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _helpers import REGION, ZONE, settle
from cloudbackup import Cloud, DataDisk, InMemoryBackend, SqliteBackend, SystemDisk, errors
from cloudbackup._domain.ecs import Disk, Instance, Snapshot
from cloudbackup._services.ecs._requests import token_page
from cloudbackup.testing import check_invariants

OTHER_ZONE = "cn-hangzhou-i"

#: The data disks of the first instance: (category, encrypted). Efficiency disks' snapshots
#: stay progressing for a while; ESSD ones are accomplished at once.
DATA_DISKS = (
    ("cloud_essd", False),
    ("cloud_efficiency", False),
    ("cloud_ssd", True),
    ("cloud_essd", True),
)

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("snap"), st.integers(0, len(DATA_DISKS))),
        st.tuples(st.just("advance"), st.sampled_from([1, 20, 600])),
        st.tuples(st.just("auto"), st.integers(0, 50)),
        st.tuples(st.just("delete"), st.integers(0, 50)),
        st.tuples(st.just("detach"), st.integers(1, len(DATA_DISKS))),
        st.tuples(st.just("stop"), st.integers(0, 1)),
        st.tuples(st.just("group"), st.integers(0, 1)),
        st.tuples(st.just("ungroup"), st.integers(0, 50)),
    ),
    max_size=25,
)

SNAPSHOT_FILTERS = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["all", "progressing", "accomplished", "failed"]),
        "snapshot_type": st.sampled_from(["all", "auto", "user"]),
        "source_disk_type": st.sampled_from(["system", "data", "Data"]),
        "encrypted": st.booleans(),
        "usage": st.sampled_from(["none", "disk"]),
    },
)
DISK_FILTERS = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["All", "In_use", "Available"]),
        "category": st.sampled_from(["cloud_essd", "cloud_efficiency", "cloud_ssd"]),
        "zone_id": st.sampled_from([ZONE, OTHER_ZONE]),
        "disk_type": st.sampled_from(["all", "system", "data"]),
        "encrypted": st.booleans(),
    },
)
INSTANCE_FILTERS = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["Running", "Stopped", "Stopping"]),
        "zone_id": st.sampled_from([ZONE, OTHER_ZONE]),
    },
)


def build(cloud: Cloud, ops: Sequence[tuple[str, int]]) -> None:
    """Two instances (one per zone) and the snapshots, deletions, detaches and stops ``ops``
    name; an op that the world refuses at that moment is skipped."""
    ecs = cloud.ecs(REGION)
    (first,) = ecs.run_instances(
        zone_id=ZONE,
        instance_type="ecs.g7.large",
        system_disk=SystemDisk(category="cloud_essd"),
        data_disks=[DataDisk(category=c, size=20, encrypted=e) for c, e in DATA_DISKS],
    )
    (second,) = ecs.run_instances(zone_id=OTHER_ZONE, instance_type="ecs.g7.large")
    settle(cloud)
    instances = [first, second]
    disks = sorted(
        ecs.describe_disks(instance_id=first, page_size=100).items,
        key=lambda d: (d.type.value != "system", d.device or ""),
    )
    for op, arg in ops:
        snapshots = [s.snapshot_id for s in ecs._snapshots.scan()]
        try:
            if op == "snap":
                ecs.create_snapshot(disk_id=disks[arg].disk_id)
            elif op == "advance":
                cloud.advance(dt.timedelta(minutes=arg))
            elif op == "auto" and snapshots:
                store = ecs._world.store
                with store.unit():
                    found = ecs._snapshots.get(snapshots[arg % len(snapshots)])
                    ecs._snapshots.put(attrs.evolve(found, snapshot_type="auto"))
            elif op == "delete" and snapshots:
                ecs.delete_snapshot(snapshots[arg % len(snapshots)])
            elif op == "detach":
                ecs.detach_disk(instance_id=first, disk_id=disks[arg].disk_id)
            elif op == "stop":
                ecs.stop_instance(instances[arg])
            elif op == "group":  # of the ESSD disks (one of them, or both)
                chosen = [disks[1].disk_id, disks[4].disk_id][arg:]
                ecs.create_snapshot_group(disk_ids=chosen)
            elif op == "ungroup":
                groups = [g.snapshot_group_id for g in ecs._groups.scan()]
                if groups:
                    ecs.delete_snapshot_group(groups[arg % len(groups)])
        except Exception as error:  # refused by a rule of the world: the op is skipped
            if not hasattr(error, "code"):
                raise


def brute_snapshots(cloud: Cloud, filters: dict[str, Any]) -> list[Snapshot]:
    """Every stored snapshot the filters match, newest first (the scan-and-sort answer)."""
    status = filters.get("status", "all")
    stype = filters.get("snapshot_type", "all")
    src = filters.get("source_disk_type")
    found = [
        s
        for s in cloud.ecs(REGION)._snapshots.scan()
        if status in ("all", s.status.value)
        and stype in ("all", s.snapshot_type)
        and (src is None or s.source_disk_type.value == src.lower())
        and filters.get("encrypted", s.encrypted) is s.encrypted
        and filters.get("usage", s.usage.value) == s.usage.value
    ]
    return sorted(found, key=lambda s: (s.creation_time, s.snapshot_id), reverse=True)


def brute_disks(cloud: Cloud, filters: dict[str, Any]) -> list[Disk]:
    """Every stored disk the filters match, in id order."""
    status = filters.get("status", "All")
    return [
        d
        for d in cloud.ecs(REGION)._disks.scan()
        if status in ("All", d.status.value)
        and filters.get("category", d.category.value) == d.category.value
        and filters.get("zone_id", d.zone_id) == d.zone_id
        and filters.get("disk_type", "all") in ("all", d.type.value)
        and filters.get("encrypted", d.encrypted) is d.encrypted
    ]


def brute_instances(cloud: Cloud, filters: dict[str, Any]) -> list[Instance]:
    """Every stored instance the filters match, in id order."""
    return [
        i
        for i in cloud.ecs(REGION)._instances.scan()
        if filters.get("status", i.status.value) == i.status.value
        and filters.get("zone_id", i.zone_id) == i.zone_id
    ]


def token_walk(describe: Callable[..., Any], size: int, **filters: Any) -> list[list[str]]:
    """The ids of every token page of a walk (describes that return no TotalCount)."""
    walked = []
    page = describe(max_results=size, **filters)
    walked.append([item.snapshot_group_id for item in page.items])
    while page.next_token is not None:
        page = describe(max_results=size, next_token=page.next_token, **filters)
        walked.append([item.snapshot_group_id for item in page.items])
    return walked


def pages(
    describe: Callable[..., Any], filters: dict[str, Any], size: int, ident: str
) -> list[tuple[int, list[str]]]:
    """Every token page of a walk (total count and ids), then three numbered pages."""
    walked = []
    page = describe(max_results=size, **filters)
    walked.append((page.total_count, [getattr(item, ident) for item in page.items]))
    while page.next_token is not None:
        page = describe(max_results=size, next_token=page.next_token, **filters)
        walked.append((page.total_count, [getattr(item, ident) for item in page.items]))
    for number in (1, 2, 3):
        page = describe(page_number=number, page_size=size, **filters)
        walked.append((page.total_count, [getattr(item, ident) for item in page.items]))
    return walked


def expected_pages(found: Sequence[Any], size: int, ident: str) -> list[tuple[int, list[str]]]:
    """The walk :func:`pages` should see over the brute-force answer ``found``."""
    ids = [getattr(item, ident) for item in found]
    walked = [(len(ids), ids[start : start + size]) for start in range(0, max(len(ids), 1), size)]
    for number in (1, 2, 3):
        walked.append((len(ids), ids[(number - 1) * size : number * size]))
    return walked


def both_clouds(ops: Sequence[tuple[str, int]], folder: Path) -> list[Cloud]:
    """The same world built on the in-memory and on the SQLite backend."""
    clouds = []
    for backend in (InMemoryBackend(), SqliteBackend(folder / "world.db")):
        cloud = Cloud(seed=4, block_size=4096, backend=backend)
        build(cloud, ops)
        clouds.append(cloud)
    return clouds


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=OPS,
    snapshot_filters=st.lists(SNAPSHOT_FILTERS, min_size=1, max_size=4),
    disk_filters=st.lists(DISK_FILTERS, min_size=1, max_size=3),
    instance_filters=st.lists(INSTANCE_FILTERS, min_size=1, max_size=2),
    group_statuses=st.lists(st.sampled_from(["progressing", "accomplished", "failed"])),
    size=st.integers(1, 4),
)
def test_filtered_pages_equal_filtering_every_record(
    ops: list[tuple[str, int]],
    snapshot_filters: list[dict[str, Any]],
    disk_filters: list[dict[str, Any]],
    instance_filters: list[dict[str, Any]],
    group_statuses: list[str],
    size: int,
) -> None:
    """Filtered snapshot, disk and instance pages (token walks and numbered pages), region-wide
    chain pages and group pages by status are the brute-force filter-and-sort answer, on both
    backends, and the indexes pass the invariants."""
    with tempfile.TemporaryDirectory() as folder:
        for cloud in both_clouds(ops, Path(folder)):
            ecs = cloud.ecs(REGION)
            for filters in snapshot_filters:
                expected = expected_pages(brute_snapshots(cloud, filters), size, "snapshot_id")
                actual = pages(ecs.describe_snapshots, filters, size, "snapshot_id")
                assert expected == actual
            for filters in disk_filters:
                expected = expected_pages(brute_disks(cloud, filters), size, "disk_id")
                assert expected == pages(ecs.describe_disks, filters, size, "disk_id")
            for filters in instance_filters:
                expected = expected_pages(brute_instances(cloud, filters), size, "instance_id")
                assert expected == pages(ecs.describe_instances, filters, size, "instance_id")
            chains = [link for link in ecs._links.scan() if link.snapshot_ids]
            expected = expected_pages(chains, size, "snapshot_link_id")
            assert expected == pages(ecs.describe_snapshot_links, {}, size, "snapshot_link_id")
            groups = [
                g.snapshot_group_id
                for g in ecs._groups.scan()
                if not group_statuses or g.status.value in group_statuses
            ]
            expected_walk = [groups[i : i + size] for i in range(0, max(len(groups), 1), size)]
            walk = token_walk(ecs.describe_snapshot_groups, size, status=group_statuses or None)
            assert expected_walk == walk
            check_invariants(cloud)
            cloud.close()


def test_a_token_walk_across_a_status_change_is_the_scan_answer_at_each_page() -> None:
    """A status=progressing token walk whose snapshots finish between pages gets, at each page,
    exactly the page the scan-and-sort answer cuts at that moment from the same token."""
    cloud = Cloud(seed=2, block_size=4096)
    build(cloud, [])
    ecs = cloud.ecs(REGION)
    efficiency = ecs.describe_disks(category="cloud_efficiency").items[0].disk_id
    essd = ecs.describe_disks(category="cloud_essd", disk_type="data").items[0].disk_id
    for _ in range(3):
        ecs.create_snapshot(disk_id=efficiency)
        ecs.create_snapshot(disk_id=essd)
        cloud.advance(dt.timedelta(hours=2))  # each efficiency snapshot finishes
    ecs.create_snapshot(disk_id=efficiency)  # progressing

    def oracle(token: str | None) -> tuple[list[str], bool]:
        page = token_page(
            brute_snapshots(cloud, {"status": "accomplished"}),
            lambda s: (s.creation_time.isoformat(timespec="microseconds"), s.snapshot_id),
            scope="DescribeSnapshots",
            next_token=token,
            max_results=2,
            page_number=1,
            page_size=10,
            width=2,
            descending=True,
        )
        return [s.snapshot_id for s in page.items], page.next_token is not None

    first = ecs.describe_snapshots(status="accomplished", max_results=2)
    assert oracle(None) == ([s.snapshot_id for s in first.items], first.next_token is not None)
    cloud.advance(dt.timedelta(hours=2))  # the newest one is accomplished now: above the token
    second = ecs.describe_snapshots(
        status="accomplished", max_results=2, next_token=first.next_token
    )
    assert oracle(first.next_token) == (
        [s.snapshot_id for s in second.items],
        second.next_token is not None,
    )
    assert (7, 7) == (second.total_count, len(brute_snapshots(cloud, {"status": "accomplished"})))
    progressing = ecs.describe_snapshots(status="progressing", page_size=50)
    assert (0, []) == (progressing.total_count, list(progressing.items))


@pytest.mark.parametrize("status", ["progressing", "accomplished"])
def test_a_snapshot_moves_to_the_partition_of_its_new_status(status: str) -> None:
    """A progressing snapshot is listed under progressing until it finishes, then only under
    accomplished, and the counts follow."""
    cloud = Cloud(seed=2, block_size=4096)
    build(cloud, [])
    ecs = cloud.ecs(REGION)
    efficiency = ecs.describe_disks(category="cloud_efficiency").items[0].disk_id
    snapshot_id = ecs.create_snapshot(disk_id=efficiency)
    before = ecs.describe_snapshots(status=status)
    cloud.advance(dt.timedelta(hours=2))
    after = ecs.describe_snapshots(status=status)
    listed = status == "progressing"
    assert ([snapshot_id] if listed else []) == [s.snapshot_id for s in before.items]
    assert ([] if listed else [snapshot_id]) == [s.snapshot_id for s in after.items]
    assert (int(listed), int(not listed)) == (before.total_count, after.total_count)


DATA = Path(__file__).parent / "data"
FACET_KINDS = (
    "ecs.snapshots_by_facets",
    "ecs.disks_by_facets",
    "ecs.instances_by_facets",
    "ecs.snapshot_links_by_facets",
    "ecs.snapshot_groups_by_facets",
)


def facet_rows(path: Path) -> list[tuple[str, str, str, bytes]]:
    """Every row of the facet indexes and of their counts, sorted."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT kind, partition, key, value FROM records WHERE kind IN (?, ?, ?, ?, ?) "
            "OR (kind = 'index.counts' AND instr(key, char(0)) > 0) "
            "ORDER BY kind, partition, key",
            FACET_KINDS,
        ).fetchall()
    finally:
        conn.close()
    return [tuple(row) for row in rows]


def as_version_8(path: Path) -> None:
    """Turn a current file into what schema 8 left: no facet index rows or counts."""
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM records WHERE kind IN (?, ?, ?, ?, ?)", FACET_KINDS)
    conn.execute("DELETE FROM records WHERE kind = 'index.counts' AND instr(key, char(0)) > 0")
    conn.execute("UPDATE meta SET value = '8' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()


def test_a_version_8_world_gets_the_very_facet_rows_the_code_writes(tmp_path: Path) -> None:
    """A world saved before the facet indexes (schema 8) is migrated to hold exactly the rows
    and counts the code writes, so its filtered describes answer as before."""
    db = tmp_path / "world.db"
    ops = [("snap", 0), ("snap", 2), ("snap", 1), ("auto", 1), ("detach", 3), ("stop", 1)]
    ops += [("group", 0), ("group", 1), ("snap", 4), ("delete", 0), ("delete", 0), ("delete", 0)]
    with Cloud(backend=SqliteBackend(db), seed=3, block_size=4096) as cloud:
        build(cloud, [*ops, ("snap", 3)])
        ecs = cloud.ecs(REGION)
        before = (
            ecs.describe_snapshots(status="progressing"),
            ecs.describe_snapshots(snapshot_type="auto", encrypted=False),
            ecs.describe_disks(status="Available", page_size=100),
            ecs.describe_instances(status="Stopping"),
        )
    written = facet_rows(db)
    as_version_8(db)
    assert [] == facet_rows(db)
    with Cloud(backend=SqliteBackend(db), seed=3, block_size=4096) as cloud:
        ecs = cloud.ecs(REGION)
        after = (
            ecs.describe_snapshots(status="progressing"),
            ecs.describe_snapshots(snapshot_type="auto", encrypted=False),
            ecs.describe_disks(status="Available", page_size=100),
            ecs.describe_instances(status="Stopping"),
        )
        check_invariants(cloud)
    assert (before, written) == (after, facet_rows(db))
    assert [2, 1, 1, 1] == [page.total_count for page in after]


@pytest.mark.parametrize(
    ("name", "seed", "block_size"), [("world-v1.db", 11, 16384), ("world-v6.db", 6, 65536)]
)
def test_old_worlds_open_with_facet_indexes_that_match_their_records(
    tmp_path: Path, name: str, seed: int, block_size: int
) -> None:
    """Worlds written at schema 1 and 6 open with facet indexes matching every record: the
    invariants hold and each filtered describe is the brute-force answer."""
    db = tmp_path / "world.db"
    shutil.copyfile(DATA / name, db)
    with Cloud(backend=SqliteBackend(db), seed=seed, block_size=block_size) as cloud:
        check_invariants(cloud)
        ecs = cloud.ecs(REGION)
        assert facet_rows(db)
        for snapshot_filters in ({"status": "accomplished"}, {"source_disk_type": "data"}):
            expected = expected_pages(brute_snapshots(cloud, snapshot_filters), 2, "snapshot_id")
            assert expected == pages(ecs.describe_snapshots, snapshot_filters, 2, "snapshot_id")
        for disk_filters in ({"status": "In_use"}, {"category": "cloud_essd", "zone_id": ZONE}):
            expected = expected_pages(brute_disks(cloud, disk_filters), 2, "disk_id")
            assert expected == pages(ecs.describe_disks, disk_filters, 2, "disk_id")
        expected = expected_pages(brute_instances(cloud, {"status": "Running"}), 2, "instance_id")
        assert expected == pages(ecs.describe_instances, {"status": "Running"}, 2, "instance_id")
        assert len(brute_snapshots(cloud, {})) == ecs.describe_snapshots(status="all").total_count


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ('ecs.snapshots_by_facets\x00["accomplished", "user", "system", "false"]', 0),
        ('ecs.snapshots_by_facets\x00["accomplished", "user", "system", "false"]', "3"),
        ("ecs.snapshots_by_facets\x00not json", 1),
        ('ecs.snapshots_by_facets\x00["accomplished"]', 1),
        ('ecs.snapshots_by_facets\x00["accomplished", "user", "system", 5]', 1),
    ],
)
def test_a_damaged_facet_count_is_a_typed_corrupt_error(key: str, value: object) -> None:
    """A facet count that is not a positive int, or whose key does not name the index's facet
    values, makes a filtered describe raise StorageBackend.Corrupt naming the key."""
    cloud = Cloud(seed=2, block_size=4096)
    build(cloud, [("snap", 0)])
    ecs = cloud.ecs(REGION)
    with ecs._world.store.unit():
        ecs._world.store.raw_put("index.counts", REGION, key, value)
    with pytest.raises(errors.StorageBackendError) as info:
        ecs.describe_snapshots(status="accomplished")
    assert ("StorageBackend.Corrupt", (key,)) == (info.value.code, info.value.ids)


class Weird(str):
    """A str subclass with its own equality and hash, as a hostile caller might pass."""

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0


def test_filters_given_as_str_subclasses_answer_as_plain_strings() -> None:
    """Filter values given as str subclasses (that claim to equal anything) select exactly what
    the plain strings select."""
    cloud = Cloud(seed=2, block_size=4096)
    build(cloud, [("snap", 0), ("snap", 2), ("stop", 1), ("detach", 1)])
    ecs = cloud.ecs(REGION)
    for describe, filters in (
        (ecs.describe_snapshots, {"status": "progressing", "source_disk_type": "data"}),
        (ecs.describe_disks, {"status": "Available", "zone_id": ZONE, "category": "cloud_essd"}),
        (ecs.describe_instances, {"status": "Stopping", "zone_id": OTHER_ZONE}),
    ):
        plain = describe(page_size=50, **filters)
        weird = describe(page_size=50, **{k: Weird(v) for k, v in filters.items()})
        assert (1, plain) == (plain.total_count, weird)
