"""Fleet workloads: churn ranges are exact, pure and inside their pattern; Workload writes them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import (
    GIB,
    data_disk_ids,
    instance_with_disk,
    make_cloud,
    raises_code,
    rejected_unchanged,
    run_instance,
)
from cloudbackup import Churn, ChurnPattern, DataDisk, Workload, churn_ranges, errors
from cloudbackup.testing import strategies as cbst

PAGE = 4096
DISK = 20 * GIB
IDS = st.text("abcdefghij0123456789-", min_size=1, max_size=24)


def _check_shape(ranges: tuple[tuple[int, int], ...], churn: Churn, disk_size: int) -> None:
    """Ranges are page-aligned, sorted, disjoint, never adjacent, inside the disk, and sum to
    the day's churn."""
    assert churn.bytes_per_day == sum(length for _, length in ranges)
    end = -1
    for offset, length in ranges:
        assert 0 == offset % PAGE
        assert 0 == length % PAGE
        assert length > 0
        assert offset > end  # sorted, disjoint and not adjacent (adjacent ones are merged)
        end = offset + length
    assert end <= disk_size


@settings(max_examples=300, deadline=None)
@given(cbst.churns(disk_size=DISK), st.integers(0, 10**6), IDS, st.integers(0, 3650))
def test_churn_ranges_are_exact_sorted_and_inside_the_disk(
    churn: Churn, seed: int, disk_id: str, day: int
) -> None:
    """Every day's ranges sum to bytes_per_day exactly and lie, merged, inside the disk."""
    ranges = churn_ranges(churn, disk_size=DISK, seed=seed, disk_id=disk_id, day=day)
    _check_shape(ranges, churn, DISK)
    assert ranges == churn_ranges(churn, disk_size=DISK, seed=seed, disk_id=disk_id, day=day)


@settings(max_examples=200, deadline=None)
@given(
    cbst.churns(disk_size=DISK, patterns=st.just(ChurnPattern.HOT_SET)),
    st.integers(0, 10**6),
    st.lists(st.integers(0, 3650), min_size=2, max_size=5),
)
def test_hot_set_days_stay_in_one_region_of_the_hot_fraction(
    churn: Churn, seed: int, days: list[int]
) -> None:
    """A hot set's ranges, over any days, lie in one region no larger than hot_fraction of it."""
    spans = [
        r
        for day in days
        for r in churn_ranges(churn, disk_size=DISK, seed=seed, disk_id="d", day=day)
    ]
    low = min(offset for offset, _ in spans)
    high = max(offset + length for offset, length in spans)
    assert high - low <= int(DISK * churn.hot_fraction)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 2048).map(lambda pages: pages * PAGE),
    st.integers(0, 10**6),
    st.integers(0, 10**5),
)
def test_a_sequential_log_continues_where_the_previous_day_stopped(
    per_day: int, seed: int, day: int
) -> None:
    """Day d+1 of a log starts at the byte after day d's last byte, wrapping at the disk's end."""
    size = GIB
    churn = Churn(ChurnPattern.SEQUENTIAL, per_day)
    today = churn_ranges(churn, disk_size=size, seed=seed, disk_id="log", day=day)
    tomorrow = churn_ranges(churn, disk_size=size, seed=seed, disk_id="log", day=day + 1)
    # The day ends where its lowest range ends (the range from 0 when it wraps).
    last_end = (today[0][0] + today[0][1]) % size
    first = tomorrow[-1][0] if len(tomorrow) == 2 else tomorrow[0][0]
    assert last_end == first


def test_a_log_that_covers_the_whole_disk_each_day_is_one_range() -> None:
    """A daily churn equal to the disk is the whole disk, in one range, every day."""
    churn = Churn(ChurnPattern.SEQUENTIAL, GIB)
    for day in range(3):
        assert ((0, GIB),) == churn_ranges(churn, disk_size=GIB, seed=1, disk_id="d", day=day)


def test_uniform_days_differ_and_seeds_matter() -> None:
    """Different days and different seeds choose different slots (the seed decides)."""
    churn = Churn(ChurnPattern.UNIFORM, 64 * PAGE, chunk_bytes=PAGE)
    a = churn_ranges(churn, disk_size=DISK, seed=1, disk_id="d", day=0)
    assert a != churn_ranges(churn, disk_size=DISK, seed=1, disk_id="d", day=1)
    assert a != churn_ranges(churn, disk_size=DISK, seed=2, disk_id="d", day=0)
    assert a != churn_ranges(churn, disk_size=DISK, seed=1, disk_id="e", day=0)


BAD_CHURNS: list[dict[str, Any]] = [
    {"pattern": "uniform", "bytes_per_day": PAGE},
    {"pattern": ChurnPattern.UNIFORM, "bytes_per_day": 0},
    {"pattern": ChurnPattern.UNIFORM, "bytes_per_day": PAGE + 1},
    {"pattern": ChurnPattern.UNIFORM, "bytes_per_day": True},
    {"pattern": ChurnPattern.UNIFORM, "bytes_per_day": float(PAGE)},
    {"pattern": ChurnPattern.UNIFORM, "bytes_per_day": 3 * PAGE, "chunk_bytes": 2 * PAGE},
    {"pattern": ChurnPattern.UNIFORM, "bytes_per_day": PAGE, "chunk_bytes": 0},
    {"pattern": ChurnPattern.HOT_SET, "bytes_per_day": PAGE, "hot_fraction": 0},
    {"pattern": ChurnPattern.HOT_SET, "bytes_per_day": PAGE, "hot_fraction": 1.5},
    {"pattern": ChurnPattern.HOT_SET, "bytes_per_day": PAGE, "hot_fraction": float("nan")},
    {"pattern": ChurnPattern.HOT_SET, "bytes_per_day": PAGE, "hot_fraction": True},
    {"pattern": ChurnPattern.UNIFORM, "bytes_per_day": PAGE, "generated": 1},
]


@pytest.mark.parametrize("fields", BAD_CHURNS)
def test_a_churn_outside_its_rules_is_refused(fields: dict[str, Any]) -> None:
    """Every field is checked: a bad one is InvalidParameter.Churn, naming what to pass."""
    error = raises_code(
        errors.InvalidParameterError, "InvalidParameter.Churn", lambda: Churn(**fields)
    )
    assert error.recommend


@pytest.mark.parametrize(
    "churn",
    [
        Churn(ChurnPattern.SEQUENTIAL, 2 * GIB),
        Churn(ChurnPattern.UNIFORM, 2 * GIB, chunk_bytes=GIB // 2),
        Churn(ChurnPattern.HOT_SET, 64 * 2**20, hot_fraction=0.01),
    ],
)
def test_a_churn_that_does_not_fit_its_disk_is_refused(churn: Churn) -> None:
    """More churn a day than the disk (or the hot set) holds is refused, naming the disk."""
    error = raises_code(
        errors.InvalidParameterError,
        "InvalidParameter.Churn",
        lambda: churn_ranges(churn, disk_size=GIB, seed=0, disk_id="d-1", day=0),
    )
    assert ("d-1",) == error.ids


def test_a_workload_writes_real_bytes_where_its_ranges_say() -> None:
    """Real-bytes churn lands exactly on the day's ranges, and nowhere else changes."""
    cloud = make_cloud(seed=4)
    ecs, _, disk_id = instance_with_disk(cloud, size=20)
    churn = Churn(ChurnPattern.UNIFORM, 4 * PAGE, chunk_bytes=PAGE, generated=False)
    workload = Workload(ecs, {disk_id: churn}, seed=5, pool_pages=8)
    assert 4 * PAGE == workload.run_day(0)
    ranges = workload.ranges(disk_id, 0)
    for offset, length in ranges:
        assert any(ecs.read_disk(disk_id, offset, length))
    gaps = [(0, PAGE)] if ranges[0][0] != 0 else [(ranges[-1][0] + ranges[-1][1], PAGE)]
    for offset, length in gaps:
        assert bytes(length) == ecs.read_disk(disk_id, offset, length)


def test_the_same_seed_writes_the_same_bytes_on_another_cloud() -> None:
    """Two worlds running one workload seed hold identical disks after three days."""
    contents = []
    for _ in range(2):
        cloud = make_cloud(seed=4)
        ecs, _, disk_id = instance_with_disk(cloud, size=20)
        churn = Churn(ChurnPattern.HOT_SET, 8 * PAGE, chunk_bytes=2 * PAGE, generated=False)
        workload = Workload(ecs, {disk_id: churn}, seed=6, pool_pages=None)
        for day in range(3):
            workload.run_day(day)
        ranges = [r for day in range(3) for r in workload.ranges(disk_id, day)]
        contents.append([ecs.read_disk(disk_id, o, n) for o, n in ranges])
    assert contents[0] == contents[1]


def test_a_workload_generates_content_through_fill_disk() -> None:
    """Generated churn stores no blob, and reads back as the fill_disk bytes of the day's seed."""
    cloud = make_cloud(seed=4)
    ecs, instance_id = run_instance(cloud, data_disks=[DataDisk(size=2048)])
    [disk_id] = data_disk_ids(ecs, instance_id)
    churn = Churn(ChurnPattern.UNIFORM, 20 * GIB, chunk_bytes=4 * GIB)
    workload = Workload(ecs, {disk_id: churn}, seed=7)
    before = cloud.storage_stats()
    assert 20 * GIB == workload.run_day(0)
    assert before == cloud.storage_stats()
    offset, _ = workload.ranges(disk_id, 0)[0]
    got = ecs.read_disk(disk_id, offset + GIB, 1000)
    # A reference disk filled directly with the same seed reads the same bytes.
    ecs2, other = run_instance(cloud, data_disks=[DataDisk(size=2048)])
    [other_disk] = data_disk_ids(ecs2, other)
    ecs2.fill_disk(other_disk, offset + GIB, 1000, seed=workload.fill_seed(disk_id, 0))
    assert got == ecs2.read_disk(other_disk, offset + GIB, 1000)
    assert any(got)


def test_a_workload_refuses_what_it_cannot_run() -> None:
    """A non-Churn value, a bad pool size, a churn too big for its disk, or an unknown disk
    are refused before anything is written."""
    cloud = make_cloud(seed=4)
    ecs, _, disk_id = instance_with_disk(cloud, size=20)
    ok = Churn(ChurnPattern.UNIFORM, PAGE)
    cases: list[Any] = [
        lambda: Workload(ecs, {disk_id: "uniform"}, seed=1),  # type: ignore[dict-item]
        lambda: Workload(ecs, {disk_id: ok}, seed=1, pool_pages=0),
        lambda: Workload(ecs, {disk_id: ok}, seed=1, pool_pages=True),
        lambda: Workload(ecs, {disk_id: Churn(ChurnPattern.SEQUENTIAL, 40 * GIB)}, seed=1),
    ]
    for case in cases:
        rejected_unchanged(cloud, errors.InvalidParameterError, "InvalidParameter.Churn", case)
    with pytest.raises(errors.ResourceNotFoundError):
        Workload(ecs, {"d-missing": ok}, seed=1)
