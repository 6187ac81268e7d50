"""Cloud Backup retention: special retention (first point of a day/week/month/year, local
time), expiry on time, immutability, checked against brute-force references."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _helpers import INSTANCE_TYPE, make_cloud, settle
from cloudbackup import (
    AdvancedRetentionType,
    DiskSnapshotTaken,
    PointRetention,
    RetentionRule,
    Rule,
    errors,
)
from cloudbackup._regions import get_region
from cloudbackup._services.hbr.retention import (
    PERIOD_ORDER,
    effective_retention,
    first_of_periods,
    point_retention_of,
)
from cloudbackup.testing import check_invariants
from cloudbackup.testing.strategies import (
    backup_instants,
    point_retentions,
    retention_extensions,
)

ZONED_REGIONS = ("cn-hangzhou", "eu-central-1", "us-east-1")
"""UTC+8 without daylight saving, and two regions with it."""


def brute_period(kind: AdvancedRetentionType, instant: dt.datetime, zone: dt.tzinfo) -> object:
    """The period of ``instant``, computed another way than the library does."""
    day = instant.astimezone(zone).date()
    if kind is AdvancedRetentionType.DAILY:
        return day.toordinal()
    if kind is AdvancedRetentionType.WEEKLY:  # ISO weeks start Monday: shift Sunday into it
        return tuple((day + dt.timedelta(days=1)).isocalendar())[:2]
    if kind is AdvancedRetentionType.MONTHLY:
        return (day.year, day.month)
    return day.year


def brute_firsts(
    times: list[dt.datetime], zone: dt.tzinfo
) -> list[frozenset[AdvancedRetentionType]]:
    """For each time (sorted), the periods no earlier time shares."""
    out = []
    for i, t in enumerate(times):
        out.append(
            frozenset(
                k
                for k in PERIOD_ORDER
                if all(brute_period(k, u, zone) != brute_period(k, t, zone) for u in times[:i])
            )
        )
    return out


@settings(max_examples=300, deadline=None)
@given(times=backup_instants(), region=st.sampled_from(ZONED_REGIONS))
def test_first_of_period_equals_brute_force(times: list[dt.datetime], region: str) -> None:
    """Per-instance period markers choose exactly the first point of each local period."""
    zone = get_region(region).tzinfo
    marks: dict[str, str] = {}
    chosen = []
    for t in times:
        firsts, marks = first_of_periods(marks, t, zone)
        chosen.append(firsts)
    assert brute_firsts(times, zone) == chosen


def test_sunday_and_year_boundaries_in_local_time() -> None:
    """Saturday 23:59 and Sunday 00:00 local are different weeks; 31 Dec and 1 Jan different
    years (in UTC+8, 16:00 UTC is already the next local day)."""
    zone = get_region("cn-hangzhou").tzinfo
    saturday = dt.datetime(2025, 12, 27, 15, 59, tzinfo=dt.timezone.utc)  # Sat 23:59 local
    sunday = saturday + dt.timedelta(minutes=1)  # Sun 00:00 local
    _, marks = first_of_periods({}, saturday, zone)
    again, marks = first_of_periods(marks, sunday, zone)
    assert {AdvancedRetentionType.DAILY, AdvancedRetentionType.WEEKLY} == set(again)
    new_year = dt.datetime(2025, 12, 31, 16, 0, tzinfo=dt.timezone.utc)  # 1 Jan 00:00 local
    later, _ = first_of_periods(marks, new_year, zone)
    assert set(PERIOD_ORDER) - {AdvancedRetentionType.WEEKLY} == set(later)


def test_longest_applicable_retention_wins() -> None:
    """The longest of base and every qualifying special retention sets the point's."""
    rules = (
        RetentionRule("WEEKLY", 60),
        RetentionRule("MONTHLY", 365),
        RetentionRule("YEARLY", 200),
    )
    firsts = frozenset({AdvancedRetentionType.WEEKLY, AdvancedRetentionType.YEARLY})
    assert (200, AdvancedRetentionType.YEARLY) == effective_retention(30, rules, firsts)
    assert (30, None) == effective_retention(30, rules, frozenset())
    assert (60, AdvancedRetentionType.WEEKLY) == effective_retention(
        30, rules, frozenset({AdvancedRetentionType.WEEKLY})
    )


def test_point_retention_of_policy() -> None:
    """A policy's TRANSITION retention beats its BACKUP one; special retention, keep-latest
    and immutability come from the policy."""
    cloud = make_cloud()
    hbr = cloud.hbr("cn-hangzhou")
    hbr.open_hbr_service()
    policy_id = hbr.create_policy_v2(
        rules=[
            Rule("BACKUP", schedule="I|1704067200|P1D", retention=7, keep_latest_snapshots=1),
            Rule("TRANSITION", retention=30, retention_rules=(RetentionRule("WEEKLY", 90),)),
            Rule("SECURITY", immutable=True),
        ]
    )
    [policy] = hbr.describe_policies_v2(policy_id=policy_id).items
    got = point_retention_of(policy)
    assert (30, True, True, (RetentionRule("WEEKLY", 90),)) == (
        got.retention,
        got.keep_latest,
        got.immutable,
        tuple(got.special),
    )


retention_rules = st.lists(
    st.builds(
        RetentionRule,
        st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]),
        st.integers(min_value=1, max_value=60),
    ),
    max_size=3,
    unique_by=lambda r: r.advanced_retention_type,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    region=st.sampled_from(ZONED_REGIONS),
    base=st.integers(min_value=1, max_value=20),
    special=retention_rules,
    immutable=st.booleans(),
    steps=st.lists(st.integers(min_value=600, max_value=9 * 24 * 3600), min_size=1, max_size=8),
)
def test_points_expire_exactly_on_time(
    region: str,
    base: int,
    special: list[RetentionRule],
    immutable: bool,
    steps: list[int],
) -> None:
    """No point goes before its effective expiry (brute-force special retention), every point
    and native snapshot is gone by expiry + 10 minutes, immutable points refuse deletion."""
    cloud = make_cloud()
    ecs, hbr = cloud.ecs(region), cloud.hbr(region)
    hbr.open_hbr_service()
    zone_id = get_region(region).zones[0]
    [vm] = ecs.run_instances(zone_id=zone_id, instance_type=INSTANCE_TYPE)
    settle(cloud)
    [disk] = [d.disk_id for d in ecs.describe_disks(instance_id=vm).items]
    tz = get_region(region).tzinfo
    rule = PointRetention(base, special=tuple(special), immutable=immutable)
    expected: dict[str, dt.datetime] = {}
    natives: dict[str, str] = {}
    times: list[dt.datetime] = []
    for n, step in enumerate(steps):
        cloud.advance(dt.timedelta(seconds=step))
        created = cloud.now()
        times.append(created)
        native = ecs.create_snapshot(disk_id=disk, retention_days=base)
        with hbr._world.store.unit():
            point_id = hbr._record_point(
                job_id=f"job-{n:020d}",
                instance_id=vm,
                created=created,
                disks=[DiskSnapshotTaken(disk, native)],
                retention=rule,
            )
        firsts = brute_firsts(times, tz)[-1]
        days = max([base] + [r.retention for r in special if r.advanced_retention_type in firsts])
        expected[point_id] = created + dt.timedelta(days=days)
        natives[point_id] = native
        now = cloud.now()
        present = {
            p.snapshot_id
            for p in hbr.describe_udm_snapshots(source_type="UDM_ECS", start_time=0, end_time=2**33)
        }
        assert {p for p, e in expected.items() if e > now} == present
        for point_id in sorted(present) if immutable else ():
            with pytest.raises(errors.OperationDeniedError, match="immutable backup"):
                hbr.delete_snapshot(snapshot_id=point_id)
    last = max(expected.values())
    cloud.run_until(last + dt.timedelta(minutes=10))
    left = hbr.describe_udm_snapshots(source_type="UDM_ECS_DISK", start_time=0, end_time=2**33)
    assert 0 == left.total_count
    assert [] == list(ecs.describe_snapshots(snapshot_ids=list(natives.values())).items)
    check_invariants(cloud)


@settings(max_examples=20, deadline=None)
@given(rule=point_retentions(max_days=400), extension=retention_extensions())
def test_strategies_give_accepted_values(rule: PointRetention, extension: int | None) -> None:
    """Every generated PointRetention records a point; every generated extension is accepted
    unless it shortens the point (the only refusal)."""
    cloud = make_cloud()
    ecs, hbr = cloud.ecs("cn-hangzhou"), cloud.hbr("cn-hangzhou")
    hbr.open_hbr_service()
    [vm] = ecs.run_instances(zone_id="cn-hangzhou-h", instance_type=INSTANCE_TYPE)
    settle(cloud)
    [disk] = [d.disk_id for d in ecs.describe_disks(instance_id=vm).items]
    native = ecs.create_snapshot(disk_id=disk)
    with hbr._world.store.unit():
        point_id = hbr._record_point(
            job_id="job-1",
            instance_id=vm,
            created=cloud.now(),
            disks=[DiskSnapshotTaken(disk, native)],
            retention=rule,
        )
    [point] = hbr.describe_udm_snapshots(
        source_type="UDM_ECS", start_time=0, end_time=2**33, snapshot_ids=[point_id]
    )
    shortens = extension is not None and point.retention is not None and extension < point.retention
    if shortens:
        with pytest.raises(errors.OperationDeniedError):
            hbr.extend_backup_retention(snapshot_id=point_id, retention_days=extension)
    else:
        hbr.extend_backup_retention(snapshot_id=point_id, retention_days=extension)
    check_invariants(cloud)
