"""Cloud Backup: a backup job is stored as one flat tuple of atomic values, which the cyclic
garbage collector does not track, and read back as the same job (``JOB_FORM``)."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import INSTANCE_TYPE, REGION, ZONE, settle
from cloudbackup import (
    AdvancedRetentionType,
    BackupJob,
    BackupJobFilter,
    Cloud,
    ConsistentLevel,
    DataDisk,
    JobDetail,
    JobStatus,
    PointRetention,
    RetentionRule,
    StorageBackend,
    SubJob,
    Timings,
    TriggerMode,
    errors,
)
from cloudbackup._domain.hbr_jobs import NO_DETAIL
from cloudbackup._services.hbr.job_records import JOB_FORM, JobRecords
from cloudbackup._store import Store
from cloudbackup.testing import check_invariants


class Weird(str):
    """A str subclass: a value the flat tuple cannot give back with its type."""


T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
TIMES = st.sampled_from([T0, T0 + dt.timedelta(minutes=30, microseconds=7)])
TEXT = st.none() | st.text(max_size=4)
NUMBER = st.integers(0, 2**62)
SUB_JOBS = st.builds(
    SubJob, job_id=st.text(max_size=3), disk_id=st.text(max_size=3),
    status=st.sampled_from(list(JobStatus)), native_snapshot_id=TEXT, disk_dev_name=TEXT,
    actual_bytes=NUMBER, bytes_total=NUMBER, error_message=TEXT,
    complete_time=st.none() | TIMES, progress=NUMBER, bytes_done=NUMBER, speed=NUMBER,
)  # fmt: skip
RULES = st.builds(
    RetentionRule,
    advanced_retention_type=st.sampled_from(list(AdvancedRetentionType))
    | st.sampled_from(["DAILY", "Custom"]),
    retention=NUMBER,
    which_snapshot=NUMBER,
)
DETAILS = st.just(JobDetail()) | st.builds(
    JobDetail, native_snapshot_id=TEXT, disk_native_snapshot_id_list=st.lists(st.text()).map(tuple),
    disk_id_list=st.lists(st.text(max_size=3)).map(tuple), snapshot_group_id=TEXT,
    consistent_level=st.none() | st.sampled_from([*ConsistentLevel, "CRASH"]),
    downgrade_reason=TEXT,
    skipped_disks=st.lists(st.tuples(st.text(max_size=2), st.text(max_size=2))).map(tuple),
    do_copy=st.booleans(), disk_dev_name=TEXT,
)  # fmt: skip
JOBS = st.builds(
    BackupJob, job_id=st.text(min_size=1, max_size=4), region_id=st.just(REGION),
    source_type=st.sampled_from(["UDM_ECS", "UDM_ECS_DISK"]), instance_id=st.text(max_size=4),
    status=st.sampled_from([*JobStatus, "COMPLETE"]),
    trigger_mode=st.sampled_from([*TriggerMode, "MANUAL"]),
    created_time=TIMES, updated_time=TIMES, retention=NUMBER, parent_id=TEXT, disk_id=TEXT,
    plan_id=TEXT, rule_id=TEXT, job_name=TEXT | st.just(Weird("w")), error_message=TEXT,
    backup_type=st.just("COMPLETE"), start_time=st.none() | TIMES,
    complete_time=st.none() | TIMES, expected_completion_time=st.none() | TIMES,
    progress=NUMBER | st.just(True), bytes_total=NUMBER, bytes_done=NUMBER,
    actual_bytes=NUMBER, speed=NUMBER, detail=DETAILS,
    sub_job_ids=st.lists(st.text(max_size=3), max_size=3).map(tuple),
    sub_job_disks=st.lists(st.none() | st.text(max_size=3) | NUMBER, max_size=6).map(tuple),
    sub_jobs=st.lists(SUB_JOBS, max_size=2).map(tuple),
    point_retention=st.none()
    | st.builds(PointRetention, retention=NUMBER, special=st.lists(RULES, max_size=3).map(tuple),
                keep_latest=st.booleans(), immutable=st.booleans(), policy_id=TEXT,
                rule_id=TEXT),
    point_id=TEXT,
)  # fmt: skip


def _plain(job: BackupJob) -> bool:
    """Whether every value of the job is of its declared type (no str subclass, no bool for
    an int, no enum's value for its member)."""
    level = job.detail.consistent_level
    return (
        type(job.job_name) is not Weird
        and type(job.progress) is int
        and isinstance(job.status, JobStatus)
        and isinstance(job.trigger_mode, TriggerMode)
        and (level is None or isinstance(level, ConsistentLevel))
    )


def _plainly(job: BackupJob) -> BackupJob:
    """The job with each value of its declared type (what the service itself stores)."""
    level = job.detail.consistent_level
    return attrs.evolve(
        job,
        job_name=None if job.job_name is None else str.__str__(job.job_name),
        progress=int(job.progress),
        status=JobStatus(job.status),
        trigger_mode=TriggerMode(job.trigger_mode),
        detail=attrs.evolve(
            job.detail, consistent_level=None if level is None else ConsistentLevel(level)
        ),
    )


def _same(expected: BackupJob, actual: BackupJob) -> None:
    """Equal, and with the same types all the way down (a str enum equals its value)."""
    assert (expected, repr(expected)) == (actual, repr(actual))


@given(JOBS)
def test_a_job_round_trips_through_its_stored_tuple_exactly(job: BackupJob) -> None:
    """A job of plain values is stored as a tuple that reads back as the same job; one
    holding a value a tuple cannot give back is stored whole."""
    stored = JOB_FORM.stored(job)
    if not _plain(job):
        assert job is stored
        return
    assert tuple is type(stored)
    restored = JOB_FORM.restored(stored)
    assert restored is not None
    _same(job, restored)
    for _ in range(4):  # each look untracks one more level of tuples (they nest 4 deep)
        gc.collect()
    assert not gc.is_tracked(stored)


def test_restored_jobs_share_the_empty_detail_and_the_point_retention() -> None:
    """A job without snapshots reads back with the one shared empty JobDetail (the default
    detail of a new job too), and the jobs of one rule with one PointRetention object."""
    kept = PointRetention(7, (RetentionRule("WEEKLY", 30),), policy_id="po-1", rule_id="r-1")
    job = BackupJob(
        job_id="job-1", region_id=REGION, source_type="UDM_ECS", instance_id="i-1",
        status=JobStatus.SKIPPED, trigger_mode=TriggerMode.SCHEDULE, created_time=T0,
        updated_time=T0, retention=7, detail=JobDetail(), point_retention=kept,
    )  # fmt: skip
    first, second = JOB_FORM.stored(job), JOB_FORM.stored(attrs.evolve(job, job_id="job-2"))
    assert isinstance(first, tuple) and isinstance(second, tuple)
    assert first[37] is second[37]  # the stored retention too is shared
    one, two = JOB_FORM.restored(first), JOB_FORM.restored(second)
    assert one is not None and two is not None
    assert (NO_DETAIL, NO_DETAIL) == (one.detail, two.detail)
    assert one.detail is NO_DETAIL and one.point_retention is two.point_retention
    fields = {f.name for f in attrs.fields(BackupJob) if f.default is attrs.NOTHING}
    assert NO_DETAIL is BackupJob(**{k: getattr(job, k) for k in fields}).detail


@pytest.mark.parametrize(
    "damage",
    [
        lambda flat: flat[:-1],  # one item short
        lambda flat: ("hbr.job/0", *flat[1:]),  # an unknown layout
        lambda flat: (*flat[:5], "DONE", *flat[6:]),  # no such status
        lambda flat: (*flat[:9], "7", *flat[10:]),  # a retention that is no int
        lambda flat: (*flat[:36], (("x",),), *flat[37:]),  # a sub-job of one item
        lambda flat: [*flat],  # a list
    ],
)
def test_a_damaged_stored_job_is_no_job(damage: Callable[[tuple[object, ...]], object]) -> None:
    """A stored value that is not exactly a job's tuple restores as nothing (the repository
    then raises StorageBackend.Corrupt)."""
    job = BackupJob(
        job_id="job-1", region_id=REGION, source_type="UDM_ECS", instance_id="i-1",
        status=JobStatus.COMPLETE, trigger_mode=TriggerMode.MANUAL, created_time=T0,
        updated_time=T0, retention=7,
    )  # fmt: skip
    stored = JOB_FORM.stored(job)
    assert isinstance(stored, tuple)
    assert None is JOB_FORM.restored(damage(stored))


@settings(max_examples=25, deadline=None)
@given(st.lists(JOBS.map(lambda job: _plainly(job)), min_size=1, max_size=4))
def test_jobs_round_trip_through_either_backend(jobs: list[BackupJob]) -> None:
    """Jobs written through the job repository read back exactly, one by one and in a scan,
    on the selected backend (SQLite encodes the tuples; it refuses a str subclass anyway)."""
    store = Store(_factory())
    records = JobRecords(store, REGION)
    numbered = [attrs.evolve(j, job_id=f"job-{n:03d}") for n, j in enumerate(jobs)]
    with store.unit():
        for job in numbered:
            records.put(job, old=None)
    for job in numbered:
        back = records.get(job.job_id)
        _same(job, back)
    assert [repr(j) for j in numbered] == [repr(j) for j in records.scan()]
    store.backend.close()


_factory: Callable[[], StorageBackend]


@pytest.fixture(autouse=True)
def _backend(cloudbackup_backend_factory: Callable[[], StorageBackend]) -> None:
    """The selected backend's factory, for the Hypothesis tests (which take no fixtures)."""
    global _factory
    _factory = cloudbackup_backend_factory


def _fleet() -> tuple[Cloud, str]:
    """A region with one instance of three disks backed up once, the job finished."""
    cloud = Cloud(block_size=4096)
    ecs, hbr = cloud.ecs(REGION), cloud.hbr(REGION)
    hbr.open_hbr_service()
    [vm] = ecs.run_instances(
        zone_id=ZONE, instance_type=INSTANCE_TYPE, data_disks=[DataDisk(size=20)] * 2
    )
    settle(cloud)
    job_id = hbr.create_backup_job(instance_id=vm, retention=7)
    cloud.advance(dt.timedelta(hours=1))
    return cloud, job_id


def _answers(cloud: Cloud, job_id: str) -> list[BackupJob]:
    """Every describe answer about the job: by id, its sub-jobs, and the region's page."""
    hbr = cloud.hbr(REGION)
    return [
        *hbr.describe_backup_jobs2(filters=[BackupJobFilter("JobId", (job_id,))]).items,
        *hbr.describe_backup_jobs2(
            source_type="UDM_ECS_DISK", filters=[BackupJobFilter("ParentId", (job_id,))]
        ).items,
        *hbr.describe_backup_jobs2(filters=[BackupJobFilter("Status", ("COMPLETE",))]).items,
    ]


def test_an_old_worlds_finished_job_stored_whole_reads_the_same() -> None:
    """A finished job stored as a BackupJob record (by a world made before the tuple form)
    answers every describe exactly as the tuple does, and the invariants hold."""
    cloud, job_id = _fleet()
    store = cloud._world.store
    stored = store.raw_get(BackupJob.KIND, REGION, job_id)
    assert tuple is type(stored)
    before = _answers(cloud, job_id)
    assert JobStatus.COMPLETE == before[0].status and 5 == len(before)
    whole = JOB_FORM.restored(stored)
    assert whole is not None
    with store.unit():
        store.raw_put(BackupJob.KIND, REGION, job_id, whole)
    assert [repr(j) for j in before] == [repr(j) for j in _answers(cloud, job_id)]
    check_invariants(cloud)


def test_a_damaged_job_record_is_refused_as_corrupt() -> None:
    """A job record holding a tuple that is no job is StorageBackend.Corrupt, not a wrong job."""
    cloud, job_id = _fleet()
    store = cloud._world.store
    stored = store.raw_get(BackupJob.KIND, REGION, job_id)
    assert isinstance(stored, tuple)
    with store.unit():
        store.raw_put(BackupJob.KIND, REGION, job_id, (*stored[:5], "DONE", *stored[6:]))
    with pytest.raises(errors.StorageBackendError) as info:
        _answers(cloud, job_id)
    assert "StorageBackend.Corrupt" == info.value.code
    with pytest.raises(AssertionError):
        check_invariants(cloud)


def test_a_running_job_is_a_tuple_too_and_runs_as_before() -> None:
    """A running job is stored as a tuple; it shows its progress, finishes and lists as a
    job does, and the invariants hold."""
    cloud = Cloud(block_size=4096, timings=Timings(snapshot_base=dt.timedelta(minutes=30)))
    ecs, hbr = cloud.ecs(REGION), cloud.hbr(REGION)
    hbr.open_hbr_service()
    [vm] = ecs.run_instances(zone_id=ZONE, instance_type=INSTANCE_TYPE)
    settle(cloud)
    job_id = hbr.create_backup_job(instance_id=vm, retention=7)
    store = cloud._world.store
    assert tuple is type(store.raw_get(BackupJob.KIND, REGION, job_id))
    cloud.advance(dt.timedelta(minutes=10))
    [running] = hbr.describe_backup_jobs2(filters=[BackupJobFilter("Status", ("RUNNING",))])
    assert (job_id, JobStatus.RUNNING) == (running.job_id, running.status)
    assert 0 < running.progress < 10_000
    check_invariants(cloud)
    cloud.advance(dt.timedelta(hours=1))
    assert tuple is type(store.raw_get(BackupJob.KIND, REGION, job_id))
    [done] = hbr.describe_backup_jobs2().items
    assert (job_id, JobStatus.COMPLETE, 10_000) == (done.job_id, done.status, done.progress)
    check_invariants(cloud)
