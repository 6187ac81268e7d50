"""Token paging (``next_token``/``max_results``) on the describe calls: a walk over the tokens
returns every record that exists throughout it exactly once, whatever is created or deleted
between pages; bad tokens get ``InvalidParameter.NextToken``."""

from __future__ import annotations

import base64
import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _helpers import ZONE, make_cloud, raises_code
from cloudbackup import EcsService, Page, errors


def _walk(describe: Callable[..., Page[Any]], max_results: int, **filters: object) -> list[Any]:
    items: list[Any] = []
    token: str | None = None
    while True:
        page = describe(next_token=token, max_results=max_results, **filters)
        items.extend(page)
        token = page.next_token
        if token is None:
            return items


def test_walking_disk_tokens_returns_every_disk_once_in_id_order() -> None:
    """Seven disks in pages of three: 3 + 3 + 1, in id order, no repeats."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    ids = sorted(ecs.create_disk(zone_id=ZONE, size=20) for _ in range(7))
    first = ecs.describe_disks(max_results=3)
    assert 3 == len(first)
    assert 7 == first.total_count
    assert ids == [d.disk_id for d in _walk(ecs.describe_disks, 3)]


def test_snapshot_tokens_walk_newest_first() -> None:
    """DescribeSnapshots pages newest first, as its page-number form does."""
    import datetime as dt

    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    disk_id = ecs.create_disk(zone_id=ZONE, size=20, disk_category="cloud_essd")
    from _helpers import run_instance

    _, instance_id = run_instance(cloud)
    ecs.attach_disk(instance_id=instance_id, disk_id=disk_id)
    taken = []
    for _ in range(5):
        taken.append(ecs.create_snapshot(disk_id=disk_id))
        cloud.advance(dt.timedelta(minutes=1))
    walked = [s.snapshot_id for s in _walk(ecs.describe_snapshots, 2, disk_id=disk_id)]
    assert list(reversed(taken)) == walked
    assert walked == [s.snapshot_id for s in ecs.describe_snapshots(disk_id=disk_id)]


def test_page_number_paging_still_works() -> None:
    """Without a token or max_results, page_number/page_size page as before."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    ids = sorted(ecs.create_disk(zone_id=ZONE, size=20) for _ in range(5))
    page = ecs.describe_disks(page_number=2, page_size=2)
    assert ids[2:4] == [d.disk_id for d in page]
    assert None is page.next_token


def _token(*parts: str) -> str:
    import json

    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode()


@pytest.mark.parametrize(
    "token",
    [
        "garbage!",
        "",
        _token("DescribeSnapshots", "d-1"),  # another action's token
        _token("DescribeDisks"),  # no key
        _token("DescribeDisks", "a", "b"),  # too wide
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "d-\ud800",
        7,
    ],
)
def test_bad_tokens_are_refused(token: object) -> None:
    """A token this action never returned is InvalidParameter.NextToken."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    ecs.create_disk(zone_id=ZONE, size=20)
    raises_code(
        errors.InvalidParameterError,
        "InvalidParameter.NextToken",
        lambda: ecs.describe_disks(next_token=token),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("describe", "limit"),
    [
        ("describe_instances", 100),
        ("describe_disks", 500),
        ("describe_snapshots", 100),
        ("describe_snapshot_links", 100),
        ("describe_locked_snapshots", 100),
    ],
)
def test_max_results_range(describe: str, limit: int) -> None:
    """MaxResults is 1..limit; 0, limit + 1 and a bool are refused."""
    cloud = make_cloud()
    call = getattr(cloud.ecs("cn-hangzhou"), describe)
    assert limit == call(max_results=limit).page_size
    assert 1 == call(max_results=1).page_size
    for bad in (0, limit + 1, True):
        raises_code(
            errors.InvalidParameterError,
            "InvalidParameter.MaxResults",
            lambda bad=bad: call(max_results=bad),
        )


def test_default_max_results_is_ten() -> None:
    """A token walk without max_results returns pages of ten."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    for _ in range(12):
        ecs.create_disk(zone_id=ZONE, size=20)
    first = ecs.describe_disks(max_results=None, next_token=None, page_size=10)
    assert 10 == len(first)
    second = ecs.describe_disks(next_token=ecs.describe_disks(max_results=10).next_token)
    assert 2 == len(second)


Step = tuple[str, int]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    initial=st.integers(0, 12),
    page=st.integers(1, 4),
    steps=st.lists(
        st.tuples(st.sampled_from(["create", "delete"]), st.integers(0, 50)), max_size=12
    ),
)
def test_a_walk_sees_every_survivor_exactly_once_while_disks_come_and_go(
    initial: int, page: int, steps: list[Step]
) -> None:
    """Creates and deletes between pages: survivors appear once, nothing appears twice, and
    nothing that never existed appears."""
    cloud = make_cloud()
    ecs: EcsService = cloud.ecs("cn-hangzhou")
    existing = [ecs.create_disk(zone_id=ZONE, size=20) for _ in range(initial)]
    ever = set(existing)
    present_throughout = set(existing)
    seen: list[str] = []
    token: str | None = None
    pending = list(steps)
    while True:
        result = ecs.describe_disks(next_token=token, max_results=page)
        seen.extend(d.disk_id for d in result)
        token = result.next_token
        if token is None:
            break
        if pending:  # change the world between two pages
            action, n = pending.pop(0)
            if action == "create":
                new = ecs.create_disk(zone_id=ZONE, size=20)
                existing.append(new)
                ever.add(new)
            elif existing:
                gone = existing.pop(n % len(existing))
                ecs.delete_disk(gone)
                present_throughout.discard(gone)
    assert len(seen) == len(set(seen))
    assert present_throughout <= set(seen)
    assert set(seen) <= ever


def _paged_world() -> tuple[EcsService, list[str]]:
    """A region with instances, disks and snapshots, several snapshots sharing a creation
    time (ties broken by id) and some deleted: (ECS, the data disk ids)."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    disks = [ecs.create_disk(zone_id=ZONE, size=20) for _ in range(5)]
    ecs.run_instances(zone_id=ZONE, instance_type="ecs.g7.large", amount=3)
    cloud.advance(dt.timedelta(minutes=5))
    (instance_id,) = ecs.run_instances(zone_id=ZONE, instance_type="ecs.g7.large")
    cloud.advance(dt.timedelta(minutes=5))
    for disk_id in disks:
        ecs.attach_disk(disk_id=disk_id, instance_id=instance_id)
    cloud.advance(dt.timedelta(minutes=5))
    taken = []
    for round_ in range(5):
        for disk_id in disks[: 2 + round_ % 3]:
            taken.append(ecs.create_snapshot(disk_id=disk_id))
        cloud.advance(dt.timedelta(minutes=10, seconds=1 + round_))
    for snapshot_id in taken[3:12:4]:
        ecs.delete_snapshot(snapshot_id=snapshot_id)
    cloud.advance(dt.timedelta(minutes=5))
    return ecs, disks


def _same_pages(fast: Callable[..., Page[Any]], slow: Callable[..., Page[Any]]) -> None:
    """Every numbered page and every token walk of ``fast`` equals that of ``slow``."""
    total = slow(page_size=1).total_count
    for size in (1, 2, 3, 7, 50):
        for number in range(1, total // size + 3):
            expected = slow(page_number=number, page_size=size)
            assert expected == fast(page_number=number, page_size=size)
        assert _walk(slow, size) == _walk(fast, size)
        token = slow(max_results=size).next_token
        if token is not None:
            assert slow(max_results=size, next_token=token) == fast(
                max_results=size, next_token=token
            )


def test_region_wide_describes_page_as_the_filtered_ones_do() -> None:
    """Region-wide describes, read from ordered slices, give exactly the pages that a filter
    matching every record (answered by sorting the matches) gives."""
    ecs, _ = _paged_world()
    _same_pages(ecs.describe_snapshots, functools.partial(ecs.describe_snapshots, encrypted=False))
    _same_pages(ecs.describe_disks, functools.partial(ecs.describe_disks, encrypted=False))
    _same_pages(ecs.describe_instances, functools.partial(ecs.describe_instances, status="Running"))


def test_hand_made_snapshot_tokens_are_answered_as_before() -> None:
    """A NextToken naming no snapshot (its creation time cut short, holding NUL, a lone
    surrogate or an astral code point) places the page where the sorted answer places it."""
    ecs, _ = _paged_world()
    middle = ecs.describe_snapshots(max_results=4).items[-1]
    when = middle.creation_time.isoformat(timespec="microseconds")
    for token in (
        _token("DescribeSnapshots", when[:10] + "\x00", "s"),
        _token("DescribeSnapshots", when, "\x00"),
        _token("DescribeSnapshots", when + "\x00", ""),
        _token("DescribeSnapshots", when[:16], middle.snapshot_id),
        _token("DescribeSnapshots", when, middle.snapshot_id[:5] + "\ud800"),
        _token("DescribeSnapshots", when[:12] + "\udfff", ""),
        _token("DescribeSnapshots", when, middle.snapshot_id + "\U0001f600"),
        _token("DescribeSnapshots", "", ""),
    ):
        slow = ecs.describe_snapshots(max_results=5, next_token=token, encrypted=False)
        assert slow == ecs.describe_snapshots(max_results=5, next_token=token)
