"""Cloud Backup: sub-jobs folded into their instance job's record (``BackupJob.with_sub_jobs``
and ``BackupJob.folded_sub_jobs``)."""

from __future__ import annotations

import datetime as dt

import attrs
from hypothesis import given
from hypothesis import strategies as st

from cloudbackup import BackupJob, JobDetail, JobStatus, SubJob, TriggerMode

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
NATIVES = ("s-a", "s-b", "s-c", "s-d")
DISKS = ("d-0", "d-1", "d-2", "d-3")


def _job(status: JobStatus, minutes: int | None, natives: tuple[str, ...]) -> BackupJob:
    """An instance job of 4 disks in ``status``, finished ``minutes`` after it started."""
    end = None if minutes is None else T0 + dt.timedelta(minutes=minutes)
    return BackupJob(
        job_id="job-000parent", region_id="cn-hangzhou", source_type="UDM_ECS",
        instance_id="i-1", status=status, trigger_mode=TriggerMode.SCHEDULE, created_time=T0,
        updated_time=end or T0, retention=7, start_time=T0, complete_time=end,
        detail=JobDetail(disk_native_snapshot_id_list=natives, disk_id_list=DISKS),
    )  # fmt: skip


SUBS = st.lists(
    st.builds(
        SubJob,
        job_id=st.just(""),
        disk_id=st.sampled_from(["d-0", "d-1", "d-2", "d-3", ""]),
        status=st.sampled_from(list(JobStatus)),
        native_snapshot_id=st.none() | st.sampled_from(NATIVES),
        disk_dev_name=st.none() | st.sampled_from(["/dev/xvdb", "/dev/xvdc"]),
        actual_bytes=st.integers(0, 2**40),
        bytes_total=st.integers(0, 2**40),
        error_message=st.none() | st.text(max_size=5),
        complete_time=st.none() | st.sampled_from([T0, T0 + dt.timedelta(minutes=30)]),
        progress=st.sampled_from([0, 5_000, 9_999, 10_000]),
        bytes_done=st.integers(0, 2**40),
        speed=st.integers(0, 10**6),
    ),
    max_size=4,
)


@given(
    st.sampled_from(list(JobStatus)),
    st.none() | st.integers(0, 120),
    st.lists(st.sampled_from(NATIVES), max_size=4).map(tuple),
    SUBS,
)
def test_folding_gives_back_exactly_the_sub_jobs_folded(
    status: JobStatus, minutes: int | None, natives: tuple[str, ...], subs: list[SubJob]
) -> None:
    """Whatever the job's state and its sub-jobs, the folded record gives them back as given."""
    subs = [attrs.evolve(s, job_id=f"job-000sub{n}") for n, s in enumerate(subs)]
    folded = _job(status, minutes, natives).with_sub_jobs(subs)
    assert tuple(subs) == folded.folded_sub_jobs()


def test_a_job_that_completed_stores_no_sub_job_whole() -> None:
    """Sub-jobs that ran and completed with their job cost their id and sizes alone."""
    running = [
        SubJob(f"job-000sub{n}", f"d-{n}", native_snapshot_id=NATIVES[n], actual_bytes=4096 * n,
               bytes_total=20 << 30, disk_dev_name="/dev/xvdb")
        for n in range(3)
    ]  # fmt: skip
    job = _job(JobStatus.RUNNING, None, NATIVES[:3]).with_sub_jobs(running)
    assert ((), tuple(running)) == (job.sub_jobs, job.folded_sub_jobs())
    end = T0 + dt.timedelta(minutes=30)
    done = [
        SubJob(s.job_id, s.disk_id, JobStatus.COMPLETE, s.native_snapshot_id, s.disk_dev_name,
               s.actual_bytes, s.bytes_total, None, end, 10_000, s.actual_bytes,
               int(s.actual_bytes / 1024 / 1800))
        for s in running
    ]  # fmt: skip
    finished = _job(JobStatus.COMPLETE, 30, NATIVES[:3]).with_sub_jobs(done)
    assert ((), tuple(done)) == (finished.sub_jobs, finished.folded_sub_jobs())


def test_a_sub_job_that_failed_alone_is_stored_whole() -> None:
    """A sub-job whose snapshot ECS refused is kept whole; the others still follow the job."""
    subs = [
        SubJob("job-000sub0", "d-0", native_snapshot_id="s-a", bytes_total=20 << 30),
        SubJob("job-000sub1", "d-1", JobStatus.FAILED, error_message="quota", complete_time=T0),
        SubJob("job-000sub2", "d-2", native_snapshot_id="s-b", bytes_total=20 << 30),
    ]
    job = _job(JobStatus.RUNNING, None, ("s-a", "s-b")).with_sub_jobs(subs)
    assert ((subs[1],), tuple(subs)) == (job.sub_jobs, job.folded_sub_jobs())


def test_a_sub_job_whose_size_is_not_whole_gib_is_stored_whole() -> None:
    """Sizes are folded in GiB: a BytesTotal that is not whole GiB keeps its sub-job whole
    (and exact)."""
    subs = [SubJob("job-000sub0", "d-0", native_snapshot_id="s-a", bytes_total=(20 << 30) + 1)]
    job = _job(JobStatus.RUNNING, None, ("s-a",)).with_sub_jobs(subs)
    assert ((subs[0],), tuple(subs)) == (job.sub_jobs, job.folded_sub_jobs())
