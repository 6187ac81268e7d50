"""DescribeBackupJobs2 and DescribePolicyBindings against brute-force references: every
filter, operator, sort order and page gives exactly the matching items, in order, once."""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _helpers import INSTANCE_TYPE, REGION, ZONE, make_cloud, settle
from cloudbackup import (
    BackupJob,
    BackupJobFilter,
    BindingFilter,
    Cloud,
    HbrService,
    PolicyBinding,
    PolicyBindingRequest,
    Rule,
)

START = 1704067200
COMPARE: dict[str, Callable[[object, tuple[object, ...]], bool]] = {
    "EQUAL": lambda x, vs: x == vs[0],
    "NOT_EQUAL": lambda x, vs: x != vs[0],
    "GREATER_THAN": lambda x, vs: operator.gt(x, vs[0]),
    "GREATER_THAN_OR_EQUAL": lambda x, vs: operator.ge(x, vs[0]),
    "LESS_THAN": lambda x, vs: operator.lt(x, vs[0]),
    "LESS_THAN_OR_EQUAL": lambda x, vs: operator.le(x, vs[0]),
    "BETWEEN": lambda x, vs: operator.le(vs[0], x) and operator.le(x, vs[1]),
    "IN": lambda x, vs: x in vs,
}
"""What each operator means, written apart from the library."""


class Region:
    """Jobs of every kind: scheduled runs of several instances at the same instants (ties),
    manual ones, skipped ones (suspended binding), failed ones (a released instance) and a
    running one; bindings of three policies."""

    def __init__(self) -> None:
        self.cloud: Cloud = make_cloud(seed=9)
        ecs = self.cloud.ecs(REGION)
        self.hbr: HbrService = self.cloud.hbr(REGION)
        self.hbr.open_hbr_service()
        self.vms = ecs.run_instances(zone_id=ZONE, instance_type=INSTANCE_TYPE, amount=7)
        settle(self.cloud)
        six_hourly = Rule("BACKUP", schedule=f"I|{START + 3600}|PT6H", retention=3)
        self.policies = [self.hbr.create_policy_v2(rules=[six_hourly]) for _ in range(3)]
        for n, vm in enumerate(self.vms[:6]):
            self.hbr.create_policy_bindings(
                policy_id=self.policies[n % 2],
                policy_binding_list=[PolicyBindingRequest(vm, disabled=n == 5)],
            )
        self.hbr.create_backup_job(instance_id=self.vms[6], retention=1)
        self.cloud.advance(dt.timedelta(hours=14))
        ecs.delete_instance(self.vms[4], force=True)
        self.cloud.advance(dt.timedelta(hours=6, minutes=30))
        self.hbr.create_backup_job(instance_id=self.vms[6], retention=2)
        self.jobs = self._all_jobs()
        self.bindings = list(self.hbr.describe_policy_bindings(max_results=100))

    def _all_jobs(self) -> list[BackupJob]:
        out: list[BackupJob] = []
        page = 1
        while True:
            got = list(self.hbr.describe_backup_jobs2(page_number=page, page_size=99))
            out += got
            if len(got) < 99:
                return out
            page += 1


_REGION: list[Region] = []


def _region() -> Region:
    if not _REGION:
        _REGION.append(Region())
    return _REGION[0]


def _unix(at: dt.datetime | None) -> int | None:
    return None if at is None else int(at.timestamp())


def _job_value(job: BackupJob, key: str) -> object:
    """The job's value for a filter key, None when the job has none (never matches)."""
    return {
        "InstanceId": job.instance_id,
        "JobId": job.job_id,
        "Status": job.status.value,
        "PlanId": job.plan_id,  # absent on a manual job: matches no filter
        "RegionId": job.region_id,
        "BackupType": job.backup_type,
        "CreatedTime": _unix(job.created_time),
        "CompleteTime": _unix(job.complete_time),
    }[key]


@st.composite
def job_filters(draw: st.DrawFn, region: Region) -> tuple[BackupJobFilter, str, tuple[object, ...]]:
    """A valid filter, and the key and typed values the reference compares with."""
    jobs = region.jobs
    key = draw(
        st.sampled_from(
            ["InstanceId", "JobId", "Status", "PlanId", "CreatedTime", "CompleteTime", "RegionId"]
        )
    )
    pool: list[object] = sorted(
        {v for v in (_job_value(j, key) for j in jobs) if v is not None}, key=str
    )
    if key in ("CreatedTime", "CompleteTime"):
        pool += [START, START + 10**6]
    elif key == "Status":
        pool += ["FAILED", "CANCELED", "PARTIAL_COMPLETE"]
    else:
        pool += ["zz-none", ""]
    ops = [o for o in COMPARE if not (o == "IN" and key == "CompleteTime")]
    op = draw(st.sampled_from(ops))
    count = 2 if op == "BETWEEN" else draw(st.integers(1, 4)) if op == "IN" else 1
    values = tuple(draw(st.sampled_from(pool)) for _ in range(count))
    if op == "BETWEEN":
        values = tuple(sorted(values, key=lambda x: (str(type(x)), x)))  # type: ignore[arg-type]
    return BackupJobFilter(key, tuple(str(x) for x in values), op), key, values


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_describe_backup_jobs2_equals_a_brute_force_reference(data: st.DataObject) -> None:
    """Any 0-3 filters, either sort direction and any page size: the pages, read in turn,
    are exactly the matching jobs by creation time (ties by job id), each once, and
    TotalCount counts them."""
    region = _region()
    chosen = data.draw(st.lists(job_filters(region), max_size=3))
    direction = data.draw(st.sampled_from(["ASCEND", "DESCEND"]))
    size = data.draw(st.integers(1, 99))
    expected = sorted(
        (
            j
            for j in region.jobs
            if all(
                (value := _job_value(j, key)) is not None
                and COMPARE[f.operator](
                    value, tuple(int(x) if isinstance(value, int) else x for x in f.values)
                )
                for f, key, _ in chosen
            )
        ),
        key=lambda j: (j.created_time, j.job_id),
        reverse=direction == "DESCEND",
    )
    seen: list[str] = []
    page = 1
    while True:
        got = region.hbr.describe_backup_jobs2(
            filters=[f for f, _, _ in chosen],
            sort_direction=direction,
            page_number=page,
            page_size=size,
        )
        assert len(expected) == got.total_count
        seen += [j.job_id for j in got]
        if len(got.items) < size:
            break
        page += 1
    assert [j.job_id for j in expected] == seen


@st.composite
def binding_filters(draw: st.DrawFn, region: Region) -> BindingFilter:
    """A valid DescribePolicyBindings filter over the region's ids and a few others."""
    key = draw(st.sampled_from(["PolicyId", "DataSourceId", "DataSourceType"]))
    pool = {
        "PolicyId": [*region.policies, "po-000", "zz"],
        "DataSourceId": [*region.vms, "i-", "zz"],
        "DataSourceType": ["UDM_ECS", "OSS", "A"],
    }[key]
    op = draw(st.sampled_from(list(COMPARE)))
    count = 2 if op == "BETWEEN" else draw(st.integers(1, 4)) if op == "IN" else 1
    values = [draw(st.sampled_from(pool)) for _ in range(count)]
    return BindingFilter(key, tuple(sorted(values) if op == "BETWEEN" else values), op)


def _binding_value(binding: PolicyBinding, key: str) -> str:
    return {
        "PolicyId": binding.policy_id,
        "DataSourceId": binding.data_source_id,
        "DataSourceType": binding.source_type,
    }[key]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_describe_policy_bindings_equals_a_brute_force_reference(data: st.DataObject) -> None:
    """Any filters, PolicyId and DataSourceIds, any MaxResults: the token pages, read in turn,
    are exactly the matching bindings in (policy, instance) order, each once."""
    region = _region()
    chosen = data.draw(st.lists(binding_filters(region), max_size=3))
    policy = data.draw(st.none() | st.sampled_from(region.policies))
    ids = data.draw(
        st.none() | st.lists(st.sampled_from(region.vms), min_size=1, max_size=3, unique=True)
    )
    size = data.draw(st.integers(10, 100))
    expected = sorted(
        (
            b
            for b in region.bindings
            if (policy is None or b.policy_id == policy)
            and (ids is None or b.data_source_id in ids)
            and all(COMPARE[f.operator](_binding_value(b, f.key), f.values) for f in chosen)
        ),
        key=lambda b: (b.policy_id, b.data_source_id),
    )
    seen: list[str] = []
    token = None
    while True:
        got = region.hbr.describe_policy_bindings(
            policy_id=policy,
            data_source_ids=ids,
            filters=chosen or None,
            max_results=size,
            next_token=token,
        )
        assert len(expected) == got.total_count
        seen += [b.policy_binding_id for b in got]
        token = got.next_token
        if token is None:
            break
    assert [b.policy_binding_id for b in expected] == seen


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_describe_udm_snapshots_equals_a_brute_force_reference(data: st.DataObject) -> None:
    """Any window (both ends included), source type and filters by instance, disk, job and
    ids: exactly the matching points, oldest first (ties by id)."""
    region = _region()
    hbr = region.hbr
    everything = [
        *hbr.describe_udm_snapshots(source_type="UDM_ECS", start_time=0, end_time=2**33),
        *hbr.describe_udm_snapshots(source_type="UDM_ECS_DISK", start_time=0, end_time=2**33),
    ]
    times = sorted({int(p.created_time.timestamp()) for p in everything})
    edges = st.sampled_from([0, *times, *(t + 1 for t in times), *(t - 1 for t in times)])
    start, end = data.draw(edges), data.draw(edges)
    kind = data.draw(st.sampled_from(["UDM_ECS", "UDM_ECS_DISK"]))
    instance = data.draw(st.none() | st.sampled_from(region.vms))
    disk = data.draw(st.none() | st.sampled_from([d for p in everything for d in p.disk_id_list]))
    job = data.draw(st.none() | st.sampled_from([p.job_id for p in everything]))
    ids = data.draw(
        st.none()
        | st.lists(st.sampled_from([p.snapshot_id for p in everything]), max_size=4, unique=True)
    )
    expected = sorted(
        (
            p
            for p in everything
            if p.source_type.value == kind
            and start <= int(p.created_time.timestamp()) <= end
            and (instance is None or p.instance_id == instance)
            and (disk is None or disk in p.disk_id_list)
            and (job is None or p.job_id == job)
            and (not ids or p.snapshot_id in ids)
        ),
        key=lambda p: (p.created_time, p.snapshot_id),
    )
    got = hbr.describe_udm_snapshots(
        source_type=kind,
        start_time=start,
        end_time=end,
        instance_id=instance,
        disk_id=disk,
        job_id=job,
        snapshot_ids=ids,
    )
    assert [p.snapshot_id for p in expected] == [p.snapshot_id for p in got]
    assert len(expected) == got.total_count
