"""Cloud Backup: backup jobs (CreateBackupJob, ExecutePolicyV2, CancelBackupJob,
DescribeBackupJobs2) and what a job does to ECS."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import INSTANCE_TYPE, REGION, ZONE, rejected_unchanged, settle
from cloudbackup import (
    BackupJob,
    BackupJobFilter,
    Cloud,
    DataDisk,
    HbrService,
    JobStatus,
    Limits,
    PolicyBindingRequest,
    Rule,
    Timings,
    TriggerMode,
    UdmDetail,
    errors,
    retention_in_days,
)
from cloudbackup.testing import check_invariants
from cloudbackup.testing import strategies as cbst

DAILY = "I|1704067200|P1D"
APP = UdmDetail(
    app_consistent=True,
    ram_role_name="AliyunECSInstanceForHbrRole",
    pre_script_path="/tmp/prescript.sh",
    post_script_path="/tmp/postscript.sh",
)


class Region:
    """An opened Cloud Backup and ECS instances of several kinds."""

    def __init__(self, *, job_minutes: int = 0, limits: Limits | None = None) -> None:
        timings = Timings(snapshot_base=dt.timedelta(minutes=job_minutes)) if job_minutes else None
        self.cloud = Cloud(block_size=4096, timings=timings, limits=limits)
        self.ecs = self.cloud.ecs(REGION)
        self.hbr: HbrService = self.cloud.hbr(REGION)
        self.hbr.open_hbr_service()
        [self.vm] = self.ecs.run_instances(
            zone_id=ZONE, instance_type=INSTANCE_TYPE,
            data_disks=[DataDisk(size=20), DataDisk(size=30)],
        )  # fmt: skip
        [self.mixed] = self.ecs.run_instances(
            zone_id=ZONE, instance_type=INSTANCE_TYPE,
            data_disks=[DataDisk(size=20), DataDisk(category="cloud_ssd", size=20)],
        )  # fmt: skip
        [self.local] = self.ecs.run_instances(
            zone_id=ZONE, instance_type=INSTANCE_TYPE,
            data_disks=[DataDisk(category="local_ssd_pro", size=100)],
        )  # fmt: skip
        settle(self.cloud)

    def disks(self, instance_id: str) -> list[str]:
        """The instance's disks, system disk first."""
        found = self.ecs.describe_disks(instance_id=instance_id, page_size=100).items
        return [d.disk_id for d in sorted(found, key=lambda d: d.device or "")]

    def job(self, job_id: str) -> BackupJob:
        """One UDM_ECS job by id."""
        [found] = self.hbr.describe_backup_jobs2(filters=[BackupJobFilter("JobId", (job_id,))])
        return found

    def subs(self, job_id: str) -> list[BackupJob]:
        """A job's UDM_ECS_DISK sub-jobs, in disk order."""
        return list(
            self.hbr.describe_backup_jobs2(
                source_type="UDM_ECS_DISK",
                filters=[BackupJobFilter("ParentId", (job_id,), "EQUAL")],
                sort_direction="ASCEND",
            )
        )

    def snapshots_of_job(self, job_id: str) -> list[str]:
        """The ECS snapshots tagged with the job's id."""
        found = self.ecs.describe_snapshots(tags=[("HBR JobId", job_id)], page_size=100).items
        return sorted(s.snapshot_id for s in found)


@pytest.fixture
def region() -> Region:
    """A fresh region."""
    return Region()


def test_an_essd_instance_is_backed_up_as_one_snapshot_group(region: Region) -> None:
    """A manual job of an all-ESSD instance takes one named, tagged group and completes."""
    job_id = region.hbr.create_backup_job(instance_id=region.vm, retention=7, job_name="now")
    running = region.job(job_id)
    assert (JobStatus.RUNNING, TriggerMode.MANUAL) == (running.status, running.trigger_mode)
    assert running.detail.snapshot_group_id is not None
    subs = region.subs(job_id)
    assert region.disks(region.vm) == [s.disk_id for s in subs]
    assert [job_id] * 3 == [s.parent_id for s in subs]
    snapshots = region.ecs.describe_snapshots(tags=[("HBR JobId", job_id)], page_size=100).items
    assert {f"Created-from-HBR-job:{job_id}"} == {s.snapshot_name for s in snapshots}
    assert {7} == {s.retention_days for s in snapshots}
    assert sorted(running.detail.disk_native_snapshot_id_list) == region.snapshots_of_job(job_id)
    check_invariants(region.cloud)
    region.cloud.advance(dt.timedelta(hours=1))
    done = region.job(job_id)
    assert (JobStatus.COMPLETE, 10_000) == (done.status, done.progress)
    assert done.complete_time is not None and done.complete_time > done.start_time  # type: ignore[operator]
    assert {JobStatus.COMPLETE} == {s.status for s in region.subs(job_id)}
    check_invariants(region.cloud)


def test_a_mixed_instance_gets_per_disk_snapshots_with_a_downgrade_reason(region: Region) -> None:
    """An instance with a non-ESSD disk gets one crash-consistent snapshot per disk and says why."""
    job = region.job(region.hbr.create_backup_job(instance_id=region.mixed, retention=7))
    assert job.detail.snapshot_group_id is None
    assert "HBR.SnapshotGroupNotSupported" == job.detail.downgrade_reason
    assert 3 == len(job.detail.disk_native_snapshot_id_list)


def test_local_disks_are_skipped_with_the_reason(region: Region) -> None:
    """A local disk is never backed up: it is listed as skipped with the reason."""
    job = region.job(region.hbr.create_backup_job(instance_id=region.local, retention=7))
    [(disk_id, reason)] = job.detail.skipped_disks
    assert region.disks(region.local)[1] == disk_id
    assert "local disk" in reason
    assert [region.disks(region.local)[0]] == [s.disk_id for s in region.subs(job.job_id)]


def test_an_ecs_error_on_one_disk_fails_that_sub_job_alone() -> None:
    """With one disk at its snapshot quota, its sub-job fails and the job is PARTIAL_COMPLETE."""
    region = Region(limits=Limits(manual_snapshots_per_disk=1))
    full = region.disks(region.mixed)[2]
    region.ecs.create_snapshot(disk_id=full)
    job_id = region.hbr.create_backup_job(instance_id=region.mixed, retention=7)
    subs = {s.disk_id: s for s in region.subs(job_id)}
    assert JobStatus.FAILED == subs[full].status
    assert "256" not in (subs[full].error_message or "") and subs[full].error_message
    region.cloud.advance(dt.timedelta(hours=1))
    assert JobStatus.PARTIAL_COMPLETE == region.job(job_id).status


def test_app_consistency_without_a_role_downgrades_to_crash(region: Region) -> None:
    """An application-consistent job on an instance with no RAM role is CRASH with the reason."""
    job = region.job(region.hbr.create_backup_job(instance_id=region.vm, retention=7, detail=APP))
    assert ("CRASH", "HBR.NoRamRoleBound") == (
        job.detail.consistent_level.value if job.detail.consistent_level else None,
        job.detail.downgrade_reason,
    )


def test_a_released_instance_fails_its_job_with_the_seed_message(region: Region) -> None:
    """The scheduled run of a released instance fails saying so and what to do."""
    policy = region.hbr.create_policy_v2(rules=[Rule("BACKUP", schedule=DAILY, retention=7)])
    region.hbr.create_policy_bindings(
        policy_id=policy, policy_binding_list=[PolicyBindingRequest(region.vm)]
    )
    region.ecs.delete_instance(region.vm, force=True)
    region.cloud.advance(dt.timedelta(days=1))
    [job] = region.hbr.describe_backup_jobs2().items
    assert JobStatus.FAILED == job.status
    assert (job.error_message or "").startswith("This ECS instance has been released.")
    assert "Stop Backup" in (job.error_message or "")


def test_cancelling_a_running_job_leaves_no_snapshot_and_no_timer() -> None:
    """A cancelled job is CANCELED, its native snapshots are gone and nothing fires for it."""
    region = Region(job_minutes=30)
    job_id = region.hbr.create_backup_job(instance_id=region.vm, retention=7)
    region.cloud.advance(dt.timedelta(minutes=10))
    assert 0 < region.job(job_id).progress < 10_000
    region.hbr.cancel_backup_job(job_id=job_id)
    assert JobStatus.CANCELED == region.job(job_id).status
    assert {JobStatus.CANCELED} == {s.status for s in region.subs(job_id)}
    assert [] == region.snapshots_of_job(job_id)
    assert [] == [t for t in region.cloud._world.engine.pending() if t.target_id == job_id]
    region.cloud.advance(dt.timedelta(hours=1))
    assert JobStatus.CANCELED == region.job(job_id).status
    check_invariants(region.cloud)


def test_cancelling_a_finished_job_or_a_sub_job_is_refused_and_changes_nothing(
    region: Region,
) -> None:
    """Only a running UDM_ECS job can be cancelled; the refusal changes nothing."""
    job_id = region.hbr.create_backup_job(instance_id=region.vm, retention=7)
    sub = region.subs(job_id)[0].job_id
    rejected_unchanged(
        region.cloud, errors.IncorrectStatusError, "IncorrectStatus.JobNotRunning",
        lambda: region.hbr.cancel_backup_job(job_id=sub),
    )  # fmt: skip
    region.cloud.advance(dt.timedelta(hours=1))
    rejected_unchanged(
        region.cloud, errors.IncorrectStatusError, "IncorrectStatus.JobNotRunning",
        lambda: region.hbr.cancel_backup_job(job_id=job_id),
    )  # fmt: skip
    rejected_unchanged(
        region.cloud, errors.ResourceNotFoundError, "ResourceNotFound",
        lambda: region.hbr.cancel_backup_job(job_id="job-000nosuchjob000000"),
    )  # fmt: skip


def test_a_second_manual_job_while_one_runs_is_refused() -> None:
    """Backup Now of an instance whose job still runs is refused and changes nothing."""
    region = Region(job_minutes=30)
    region.hbr.create_backup_job(instance_id=region.vm, retention=7)
    rejected_unchanged(
        region.cloud, errors.IncorrectStatusError, "IncorrectStatus.JobRunning",
        lambda: region.hbr.create_backup_job(instance_id=region.vm, retention=7),
    )  # fmt: skip


@pytest.mark.parametrize(
    "fields",
    [
        {"retention": 0},
        {"retention": 364_636},
        {"retention": True},
        {"retention": 7.0},
        {"retention": 7, "source_type": "UDM_ECS_DISK"},
        {"retention": 7, "backup_type": "INCREMENTAL"},
        {"retention": 7, "job_name": ""},
        {"retention": 7, "detail": UdmDetail(destination_kms_key_id="key")},
        {"retention": 7, "detail": UdmDetail(app_consistent=True)},
        {"retention": 7, "instance_id": "i-\udcff"},
    ],
)
def test_bad_create_backup_job_is_refused_and_changes_nothing(
    region: Region, fields: dict[str, object]
) -> None:
    """A malformed CreateBackupJob is BadRequest and changes nothing."""
    arguments: dict[str, object] = {"instance_id": region.vm, **fields}
    rejected_unchanged(
        region.cloud, errors.InvalidParameterError, "BadRequest",
        lambda: region.hbr.create_backup_job(**arguments),  # type: ignore[arg-type]
    )  # fmt: skip


def test_a_str_subclass_instance_id_is_read_as_its_plain_value(region: Region) -> None:
    """An instance id passed as a str subclass backs up that instance."""

    class Sneaky(str):
        def __eq__(self, other: object) -> bool:
            return False

        __hash__ = str.__hash__

    job = region.job(region.hbr.create_backup_job(instance_id=Sneaky(region.vm), retention=7))
    assert region.vm == job.instance_id and type(job.instance_id) is str


def test_execute_policy_v2_runs_one_or_every_bound_instance(region: Region) -> None:
    """Run Now of a BACKUP rule starts MANUAL jobs for the named instance or for all."""
    policy = region.hbr.create_policy_v2(
        rules=[Rule("BACKUP", schedule=DAILY, retention=7), Rule("TRANSITION", retention=30)]
    )
    region.hbr.create_policy_bindings(
        policy_id=policy,
        policy_binding_list=[PolicyBindingRequest(region.vm), PolicyBindingRequest(region.mixed)],
    )
    [p] = region.hbr.describe_policies_v2(policy_id=policy).items
    backup, transition = p.rules
    job_id = region.hbr.execute_policy_v2(
        policy_id=policy, rule_id=backup.rule_id, data_source_id=region.vm
    )  # type: ignore[arg-type]
    assert [(job_id, region.vm)] == [
        (j.job_id, j.instance_id) for j in region.hbr.describe_backup_jobs2()
    ]
    region.cloud.advance(dt.timedelta(minutes=5))
    first = region.hbr.execute_policy_v2(policy_id=policy, rule_id=backup.rule_id)  # type: ignore[arg-type]
    jobs = list(region.hbr.describe_backup_jobs2())
    first_bound = min(region.vm, region.mixed, key=lambda i: i)
    assert [first_bound] == [j.instance_id for j in jobs if j.job_id == first]
    assert {TriggerMode.MANUAL} == {j.trigger_mode for j in jobs}
    assert sorted([region.vm, region.vm, region.mixed]) == sorted(j.instance_id for j in jobs)
    rejected_unchanged(
        region.cloud, errors.InvalidParameterError, "BadRequest",
        lambda: region.hbr.execute_policy_v2(policy_id=policy, rule_id=transition.rule_id),  # type: ignore[arg-type]
    )  # fmt: skip
    rejected_unchanged(
        region.cloud, errors.ResourceNotFoundError, "ResourceNotFound",
        lambda: region.hbr.execute_policy_v2(
            policy_id=policy, rule_id=backup.rule_id, data_source_id=region.local  # type: ignore[arg-type]
        ),
    )  # fmt: skip


@pytest.mark.parametrize(
    "arguments",
    [
        {"page_size": 0},
        {"page_size": 100},
        {"page_number": 0},
        {"sort_direction": "UP"},
        {"source_type": "ECS_FILE"},
        {"source_type": "UDM_ECS_DISK"},
        {"filters": [BackupJobFilter("Status", ("COMPLETE",))] * 6},
        {"filters": [BackupJobFilter("CompleteTime", ("1700000000",), "IN")]},
        {"filters": [BackupJobFilter("CreatedTime", ("yesterday",), "EQUAL")]},
        {"filters": [BackupJobFilter("Colour", ("red",))]},
        {
            "filters": [
                BackupJobFilter("Status", ("a", "b"), "BETWEEN"),
                BackupJobFilter("JobId", ()),
            ]
        },
        {"filters": [BackupJobFilter("JobId", tuple(str(n) for n in range(501)))]},
    ],
)
def test_bad_describe_backup_jobs2_is_refused(region: Region, arguments: dict[str, object]) -> None:
    """A malformed DescribeBackupJobs2 is BadRequest."""
    rejected_unchanged(
        region.cloud, errors.InvalidParameterError, "BadRequest",
        lambda: region.hbr.describe_backup_jobs2(**arguments),  # type: ignore[arg-type]
    )  # fmt: skip


def test_describe_backup_jobs2_pages_sorts_and_filters(region: Region) -> None:
    """Pages cover every job once in creation order; Status, InstanceId and time filters select."""
    made: list[str] = []
    for _ in range(5):
        made.append(region.hbr.create_backup_job(instance_id=region.vm, retention=7))
        made.append(region.hbr.create_backup_job(instance_id=region.mixed, retention=7))
        region.cloud.advance(dt.timedelta(hours=1))
    pages = [
        region.hbr.describe_backup_jobs2(page_number=n, page_size=3, sort_direction="ASCEND")
        for n in (1, 2, 3, 4)
    ]
    assert {10} == {p.total_count for p in pages}
    listed = [j.job_id for p in pages for j in p.items]
    assert sorted(made) == sorted(listed) and len(listed) == 10
    created = [j.created_time for p in pages for j in p.items]
    assert sorted(created) == created
    newest = region.hbr.describe_backup_jobs2(page_size=1).items[0]
    assert max(created) == newest.created_time
    mine = region.hbr.describe_backup_jobs2(
        filters=[BackupJobFilter("InstanceId", (region.vm,), "EQUAL")], page_size=99
    )
    assert (5, {region.vm}) == (mine.total_count, {j.instance_id for j in mine})
    complete = region.hbr.describe_backup_jobs2(
        filters=[BackupJobFilter("Status", ("COMPLETE",))], page_size=99
    )
    assert 10 == complete.total_count
    cut = int(created[4].timestamp())
    later = region.hbr.describe_backup_jobs2(
        filters=[BackupJobFilter("CreatedTime", (str(cut),), "GREATER_THAN_OR_EQUAL")],
        page_size=99,
    )
    assert 6 == later.total_count
    assert (
        0
        == region.hbr.describe_backup_jobs2(
            filters=[BackupJobFilter("VaultId", ("v-1",))]
        ).total_count
    )


@settings(max_examples=50, deadline=None)
@given(
    amount=st.integers(min_value=1, max_value=60),
    unit=st.sampled_from(["DAYS", "WEEKS", "MONTHS", "YEARS"]),
    day=st.integers(min_value=0, max_value=3000),
)
def test_retention_in_days_counts_the_calendar(amount: int, unit: str, day: int) -> None:
    """Months and years move the local date by the calendar; days and weeks are fixed."""
    tz = dt.timezone(dt.timedelta(hours=8))
    start = dt.datetime(2020, 1, 1, tzinfo=tz) + dt.timedelta(days=day)
    days = retention_in_days(amount, unit, start=start, tz=tz)
    end = start.date() + dt.timedelta(days=days)
    if unit == "DAYS":
        assert amount == days
    elif unit == "WEEKS":
        assert 7 * amount == days
    else:
        months = amount * (12 if unit == "YEARS" else 1)
        assert (start.year * 12 + start.month - 1 + months) == end.year * 12 + end.month - 1
        assert min(start.day, end.day) == end.day or end.day == start.day


def test_retention_in_days_clamps_to_the_month_end() -> None:
    """31 January 2024 plus one month is 29 February: 29 days; plus one year is 366 days."""
    tz = dt.timezone.utc
    start = dt.datetime(2024, 1, 31, 12, tzinfo=tz)
    assert 29 == retention_in_days(1, "MONTHS", start=start, tz=tz)
    assert 366 == retention_in_days(1, "YEARS", start=start, tz=tz)
    for bad in ((0, "DAYS"), (1, "FORTNIGHTS"), (True, "DAYS"), (1000, "YEARS")):
        with pytest.raises(errors.InvalidParameterError):
            retention_in_days(bad[0], bad[1], start=start, tz=tz)  # type: ignore[arg-type]


def test_a_finished_job_records_one_backup_point_and_a_cancelled_one_none() -> None:
    """A complete job leaves its UDM_ECS point (named on the job); a cancelled job leaves none."""
    region = Region(job_minutes=30)
    done = region.hbr.create_backup_job(instance_id=region.vm, retention=7)
    region.cloud.advance(dt.timedelta(hours=1))
    cancelled = region.hbr.create_backup_job(instance_id=region.vm, retention=7)
    region.hbr.cancel_backup_job(job_id=cancelled)
    region.cloud.advance(dt.timedelta(hours=1))
    points = region.hbr.describe_udm_snapshots(
        source_type="UDM_ECS", start_time=0, end_time=2**31, instance_id=region.vm
    )
    assert [done] == [p.job_id for p in points]
    assert region.job(done).point_id == points.snapshots[0].snapshot_id
    assert region.job(cancelled).point_id is None
    check_invariants(region.cloud)


def _expected(job: BackupJob, key: str, op: str, values: tuple[str, ...]) -> bool:
    """The filter's meaning, written out independently: ids compare as strings, times as
    integers of UNIX seconds, keys of other source types and the CompleteTime of a job not
    yet complete match nothing."""
    unix = {
        "CreatedTime": job.created_time,
        "CompleteTime": job.complete_time,
    }
    if key in unix:
        at = unix[key]
        if at is None:
            return False
        x: object = int(at.timestamp())
        vs: tuple[object, ...] = tuple(int(v) for v in values)
    else:
        fields = {
            "RegionId": job.region_id,
            "PlanId": job.plan_id,  # absent on a manual job: matches no filter
            "JobId": job.job_id,
            "InstanceId": job.instance_id,
            "Status": job.status.value,
            "BackupType": job.backup_type,
            "ParentId": job.parent_id or "",
        }
        if fields.get(key) is None:
            return False
        x, vs = fields[key], values
    tests = {
        "EQUAL": lambda: x == vs[0],
        "NOT_EQUAL": lambda: x != vs[0],
        "GREATER_THAN": lambda: x > vs[0],  # type: ignore[operator]
        "GREATER_THAN_OR_EQUAL": lambda: x >= vs[0],  # type: ignore[operator]
        "LESS_THAN": lambda: x < vs[0],  # type: ignore[operator]
        "LESS_THAN_OR_EQUAL": lambda: x <= vs[0],  # type: ignore[operator]
        "BETWEEN": lambda: vs[0] <= x <= vs[1],  # type: ignore[operator]
        "IN": lambda: x in vs,
    }
    return bool(tests[op]())


def _filtered_region() -> tuple[Region, list[BackupJob]]:
    """A region with finished, failed-disk and running jobs."""
    region = Region(job_minutes=90)
    for instance_id in (region.vm, region.mixed, region.local):
        region.hbr.create_backup_job(instance_id=instance_id, retention=7)
        region.cloud.advance(dt.timedelta(hours=2))
    region.hbr.create_backup_job(instance_id=region.vm, retention=7)  # still running
    jobs = list(region.hbr.describe_backup_jobs2(page_size=99, sort_direction="ASCEND"))
    return region, jobs


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_describe_backup_jobs2_filters_mean_what_they_say(data: st.DataObject) -> None:
    """Any valid filter list selects exactly the jobs its written-out meaning selects."""
    region, jobs = _filtered_region()
    known = [j.job_id for j in jobs] + [region.vm, region.mixed, REGION, "COMPLETE"]
    filters = data.draw(
        cbst.backup_job_filters(values=st.one_of(st.sampled_from(known), st.text(max_size=3)))
    )
    page = region.hbr.describe_backup_jobs2(filters=filters, page_size=99, sort_direction="ASCEND")
    expected = [
        j.job_id for j in jobs if all(_expected(j, f.key, f.operator, f.values) for f in filters)
    ]
    assert (expected, len(expected)) == ([j.job_id for j in page], page.total_count)


def test_simultaneous_jobs_list_in_one_order_with_or_without_a_filter() -> None:
    """Jobs created at the same instant (one policy fire) are listed in the same order, either
    direction, whether or not an InstanceId filter (in any value order) selects them."""
    region = Region()
    policy = region.hbr.create_policy_v2(rules=[Rule("BACKUP", schedule=DAILY, retention=7)])
    region.hbr.create_policy_bindings(
        policy_id=policy,
        policy_binding_list=[PolicyBindingRequest(region.vm), PolicyBindingRequest(region.mixed)],
    )
    region.cloud.advance(dt.timedelta(days=1, hours=1))
    pair = (region.vm, region.mixed)
    for direction in ("ASCEND", "DESCEND"):
        unfiltered = [j.job_id for j in region.hbr.describe_backup_jobs2(sort_direction=direction)]
        assert 2 == len(unfiltered)
        for values in (pair, pair[::-1]):
            found = region.hbr.describe_backup_jobs2(
                sort_direction=direction, filters=[BackupJobFilter("InstanceId", values)]
            )
            assert unfiltered == [j.job_id for j in found], (direction, values)


def test_a_running_job_matches_no_complete_time_filter() -> None:
    """A job still running has no CompleteTime: no CompleteTime filter lists it, not even
    NOT_EQUAL or LESS_THAN, while the finished job it is compared with is found."""
    region = Region()
    done = region.hbr.create_backup_job(instance_id=region.vm, retention=7)
    region.cloud.advance(dt.timedelta(hours=1))
    region.hbr.create_backup_job(instance_id=region.vm, retention=7)  # still running
    finished = str(int(region.job(done).complete_time.timestamp()))  # type: ignore[union-attr]
    for operator, values in (
        ("NOT_EQUAL", ("1",)),
        ("LESS_THAN", ("9999999999",)),
        ("LESS_THAN_OR_EQUAL", (finished,)),
        ("BETWEEN", ("0", "9999999999")),
    ):
        found = region.hbr.describe_backup_jobs2(
            filters=[BackupJobFilter("CompleteTime", values, operator)]
        )
        assert [done] == [j.job_id for j in found], operator


def _jobs_by_time_entries(cloud: Cloud) -> list[str]:
    """The job ids the region's jobs-by-time index lists (every facet partition, read
    through the store: either backend)."""
    from cloudbackup._services.hbr.jobs import JOBS_BY_TIME

    store = cloud._world.store
    return sorted(
        str(job_id)
        for source_type in ("UDM_ECS", "UDM_ECS_DISK")
        for status in JobStatus
        for _, job_id in store.raw_range(
            JOBS_BY_TIME.kind,
            JOBS_BY_TIME.partition(REGION, (source_type, status.value)),
            None,
            None,
        )
    )


def test_sub_jobs_are_reached_through_their_parent_not_the_time_index() -> None:
    """Only UDM_ECS jobs sit in the jobs-by-time index; sub-jobs still list by ParentId and
    JobId, running and finished, and the counts agree."""
    region = Region(job_minutes=30)
    job_id = region.hbr.create_backup_job(instance_id=region.vm, retention=7)
    running = [s.job_id for s in region.subs(job_id)]
    assert [job_id] == _jobs_by_time_entries(region.cloud)
    assert 3 == len(running)
    region.cloud.advance(dt.timedelta(hours=1))
    assert {JobStatus.COMPLETE} == {s.status for s in region.subs(job_id)}
    [one] = region.hbr.describe_backup_jobs2(
        source_type="UDM_ECS_DISK",
        filters=[
            BackupJobFilter("JobId", (running[1],), "EQUAL"),
            BackupJobFilter("ParentId", (job_id,), "EQUAL"),
        ],
    ).items
    assert (running[1], JobStatus.COMPLETE) == (one.job_id, one.status)
    assert [job_id] == _jobs_by_time_entries(region.cloud)
    assert 1 == region.hbr.describe_backup_jobs2(page_size=1).total_count
    check_invariants(region.cloud)


def _unfold_sub_jobs(region: Region, job_id: str, *, indexed: bool) -> list[BackupJob]:
    """Store a job as a world made before sub-jobs were folded holds it: the instance job
    without folded sub-jobs, each sub-job a record of its own (``indexed``: with the jobs-by-time
    entry and count sub-jobs had before they left that index)."""
    from cloudbackup._services.hbr.jobs import JOBS, SUB_JOB_PARENT, SUB_JOBS

    store = region.cloud._world.store
    jobs, subs = JOBS.open(store, REGION), SUB_JOBS.open(store, REGION)
    items = region.subs(job_id)
    with store.unit():
        parent = jobs.get(job_id)
        jobs.put(attrs.evolve(parent, sub_job_disks=(), sub_jobs=()), old=parent)
        for sub in items:
            store.raw_delete(SUB_JOB_PARENT, REGION, sub.job_id)
            (jobs if indexed else subs).put(sub, old=None)
    return items


def test_a_job_stored_before_sub_jobs_were_folded_runs_cancels_and_lists_the_same() -> None:
    """An old world's job whose sub-jobs are records of their own lists them, finishes them
    and refuses to cancel them as a folded job does."""
    folded = Region(job_minutes=30)
    old = Region(job_minutes=30)
    for r in (folded, old):  # enough changed bytes for a Speed above 0 KB/s
        r.ecs.write_disk(r.disks(r.vm)[1], 0, b"\x07" * (4 << 20))
    ids = [r.hbr.create_backup_job(instance_id=r.vm, retention=7) for r in (folded, old)]
    assert ids[0] == ids[1]
    before = _unfold_sub_jobs(old, ids[1], indexed=False)
    assert folded.subs(ids[0]) == before == old.subs(ids[1])
    rejected_unchanged(
        old.cloud, errors.IncorrectStatusError, "IncorrectStatus.JobNotRunning",
        lambda: old.hbr.cancel_backup_job(job_id=before[0].job_id),
    )  # fmt: skip
    for r in (folded, old):
        r.cloud.advance(dt.timedelta(hours=1))
    assert folded.subs(ids[0]) == old.subs(ids[1])
    assert {JobStatus.COMPLETE} == {s.status for s in old.subs(ids[1])}
    assert 0 < old.subs(ids[1])[1].speed
    check_invariants(old.cloud)


def test_a_native_deleted_while_the_job_runs_fails_its_sub_job_folded_or_stored() -> None:
    """A native snapshot deleted out of band fails its sub-job when the job finishes (the
    others complete, the job is PARTIAL_COMPLETE), the same with sub-jobs folded or stored."""
    folded = Region(job_minutes=30)
    old = Region(job_minutes=30)
    ids = [r.hbr.create_backup_job(instance_id=r.vm, retention=7) for r in (folded, old)]
    _unfold_sub_jobs(old, ids[1], indexed=False)
    for r, job_id in zip((folded, old), ids, strict=True):
        gone = r.subs(job_id)[1].detail.native_snapshot_id or ""
        r.ecs.delete_snapshot(gone)
        r.cloud.advance(dt.timedelta(hours=1))
        check_invariants(r.cloud)
    subs = folded.subs(ids[0])
    assert subs == old.subs(ids[1])
    assert [JobStatus.COMPLETE, JobStatus.FAILED, JobStatus.COMPLETE] == [s.status for s in subs]
    assert (
        f"The native snapshot {subs[1].detail.native_snapshot_id} was deleted before the "
        "job finished." == subs[1].error_message
    )
    assert (10_000, 0) == (subs[0].progress, subs[1].speed)
    assert JobStatus.PARTIAL_COMPLETE == folded.job(ids[0]).status


def test_a_job_cancelled_with_folded_or_stored_sub_jobs_shows_the_same_sub_jobs() -> None:
    """Cancelling halfway gives the same CANCELED sub-jobs (progress, bytes, message) whether
    they are folded into the job or records of their own; a finished sub-job still refuses."""
    folded = Region(job_minutes=30)
    old = Region(job_minutes=30)
    ids = [r.hbr.create_backup_job(instance_id=r.vm, retention=7) for r in (folded, old)]
    _unfold_sub_jobs(old, ids[1], indexed=False)
    for r, job_id in zip((folded, old), ids, strict=True):
        r.cloud.advance(dt.timedelta(minutes=10))
        r.hbr.cancel_backup_job(job_id=job_id)
        check_invariants(r.cloud)
    subs = folded.subs(ids[0])
    assert subs == old.subs(ids[1])
    assert [(JobStatus.CANCELED, "The job was cancelled.")] * 3 == [
        (s.status, s.error_message) for s in subs
    ]
    assert 0 < subs[0].progress < 10_000
    rejected_unchanged(
        folded.cloud, errors.IncorrectStatusError, "IncorrectStatus.JobNotRunning",
        lambda: folded.hbr.cancel_backup_job(job_id=subs[1].job_id),
    )  # fmt: skip


def test_a_sub_job_stored_in_the_time_index_leaves_it_when_it_changes() -> None:
    """A sub-job written with a jobs-by-time entry (as before sub-jobs left the index) loses
    the entry and its count when its job finishes; the index then lists the job alone."""
    region = Region(job_minutes=30)
    job_id = region.hbr.create_backup_job(instance_id=region.vm, retention=7)
    _unfold_sub_jobs(region, job_id, indexed=True)
    assert 4 == len(_jobs_by_time_entries(region.cloud))
    region.cloud.advance(dt.timedelta(hours=1))
    assert [job_id] == _jobs_by_time_entries(region.cloud)
    assert {JobStatus.COMPLETE} == {s.status for s in region.subs(job_id)}
    check_invariants(region.cloud)


def test_a_job_counts_the_bytes_of_its_disks_and_of_their_snapshots(region: Region) -> None:
    """Each sub-job's BytesTotal is its disk's size and ActualBytes its native snapshot's
    incremental size; the instance job's are their sums."""
    region.ecs.write_disk(region.disks(region.vm)[1], 0, b"\x07" * 8192)
    job_id = region.hbr.create_backup_job(instance_id=region.vm, retention=7)
    region.cloud.advance(dt.timedelta(hours=1))
    subs = region.subs(job_id)
    sizes = {
        d.disk_id: d.size * 1024**3
        for d in region.ecs.describe_disks(instance_id=region.vm, page_size=100).items
    }
    natives = {
        s.disk_id: region.ecs.describe_snapshot(s.detail.native_snapshot_id or "").incremental_size
        for s in subs
    }
    assert [(sizes[s.disk_id or ""], natives[s.disk_id or ""]) for s in subs] == [
        (s.bytes_total, s.actual_bytes) for s in subs
    ]
    job = region.job(job_id)
    assert (sum(sizes.values()), sum(natives.values())) == (job.bytes_total, job.actual_bytes)
    assert 0 < natives[region.disks(region.vm)[1]]


def test_a_group_refused_after_a_member_was_taken_leaves_no_trace(
    region: Region, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A snapshot group ECS refuses after taking a member rolls back whole: every sub-job fails."""
    from cloudbackup._services.ecs.chains import SnapshotChains

    taken = SnapshotChains._take_snapshot
    calls: list[str] = []

    def second_refused(self: SnapshotChains, disk, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(disk.disk_id)
        if len(calls) == 2:
            raise errors.QuotaExceededError("refused", code="QuotaExceed.Snapshot")
        return taken(self, disk, *args, **kwargs)

    monkeypatch.setattr(SnapshotChains, "_take_snapshot", second_refused)
    groups = region.ecs.describe_snapshot_groups(max_results=100).items
    sequence = region.cloud.events.list()[-1].sequence
    job_id = region.hbr.create_backup_job(instance_id=region.vm, retention=7)
    job = region.job(job_id)
    assert (JobStatus.FAILED, None) == (job.status, job.detail.snapshot_group_id)
    assert [JobStatus.FAILED] * 3 == [s.status for s in region.subs(job_id)]
    assert ([], groups) == (
        region.snapshots_of_job(job_id),
        region.ecs.describe_snapshot_groups(max_results=100).items,
    )
    created = [type(e).__name__ for e in region.cloud.events.list(since=sequence + 1)]
    assert ["BackupJobStarted"] == [n for n in created if "Snapshot" in n or "Job" in n]
    check_invariants(region.cloud)


def test_a_finished_job_stores_its_sub_jobs_as_folding_them_anew_would() -> None:
    """Completed or partly failed, a job's stored record is what folding its sub-jobs gives."""
    region = Region(limits=Limits(manual_snapshots_per_disk=1))
    full = region.disks(region.mixed)[2]
    region.ecs.create_snapshot(disk_id=full)
    complete = region.hbr.create_backup_job(instance_id=region.vm, retention=7)
    partial = region.hbr.create_backup_job(instance_id=region.mixed, retention=7)
    region.cloud.advance(dt.timedelta(hours=1))
    jobs = [region.hbr._jobs.get(j) for j in (complete, partial)]
    assert [JobStatus.COMPLETE, JobStatus.PARTIAL_COMPLETE] == [j.status for j in jobs]
    assert jobs == [j.with_sub_jobs(j.folded_sub_jobs()) for j in jobs]
    ends = [{(s.status, s.complete_time, s.progress) for s in region.subs(complete)}]
    assert [{(JobStatus.COMPLETE, jobs[0].complete_time, 10_000)}] == ends


def test_jobs_use_the_snapshot_interface_the_world_offers(region: Region) -> None:
    """The snapshot interface a region's Cloud Backup keeps is the one the world provides."""
    from cloudbackup._services._interfaces import ECS_SNAPSHOTS

    offered = region.cloud._world.provider(ECS_SNAPSHOTS, region.hbr.region)
    assert (offered, offered) == (region.hbr._snapshot_source, region.hbr._snapshot_source)
