"""Cloud Backup tasks (``DescribeTask``): the console's Delete Backups, Extend Retention and
Clone Now's preparation return a task ``t-000…`` that runs on virtual time."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from _helpers import INSTANCE_TYPE, REGION, ZONE, make_cloud, rejected_unchanged, settle
from cloudbackup import (
    BackupJobFilter,
    Cloud,
    DataDisk,
    HbrService,
    HbrTask,
    InMemoryBackend,
    JobStatus,
    SqliteBackend,
    SystemDisk,
    TaskName,
    TaskStatus,
    errors,
)
from cloudbackup._backends._codec import decode, encode
from cloudbackup._services.hbr.points import PointActions
from cloudbackup.testing import check_invariants
from cloudbackup.testing import strategies as cbst

OTHER_REGION = "cn-shanghai"


class Site:
    """An opened Cloud Backup and one ESSD instance with two data disks."""

    def __init__(self, cloud: Cloud | None = None) -> None:
        self.cloud = cloud if cloud is not None else make_cloud()
        self.ecs = self.cloud.ecs(REGION)
        self.hbr: HbrService = self.cloud.hbr(REGION)
        self.hbr.open_hbr_service()
        [self.vm] = self.ecs.run_instances(
            zone_id=ZONE,
            instance_type=INSTANCE_TYPE,
            system_disk=SystemDisk(category="cloud_essd"),
            data_disks=[DataDisk(size=20, category="cloud_essd")] * 2,
        )
        settle(self.cloud)

    def back_up(self, count: int) -> list[str]:
        """Run ``count`` manual backups an hour apart; their points, oldest first."""
        jobs = []
        for _ in range(count):
            jobs.append(self.hbr.create_backup_job(instance_id=self.vm, retention=30))
            self.cloud.advance(dt.timedelta(hours=1))
        return [self.job(j).point_id or "" for j in jobs]

    def job(self, job_id: str) -> Any:
        """The job as DescribeBackupJobs2 shows it."""
        [found] = self.hbr.describe_backup_jobs2(filters=[BackupJobFilter("JobId", (job_id,))])
        return found

    def points(self) -> list[str]:
        """The instance points listed now."""
        found = self.hbr.describe_udm_snapshots(source_type="UDM_ECS", start_time=0, end_time=2**33)
        return [p.snapshot_id for p in found]

    def task(self, task_id: str) -> HbrTask:
        """The task as DescribeTask shows it."""
        return self.hbr.describe_task(task_id=task_id)


def _check_task_shape(task: HbrTask) -> None:
    """What every task shows: progress in range, CompletedTime only when completed."""
    assert -1 <= task.progress <= 100
    assert (task.status is TaskStatus.COMPLETED) == (task.completed_time is not None)
    assert (task.status is TaskStatus.CREATED) == (task.finished_time is None)
    assert (task.progress == -1) <= (task.status is not TaskStatus.CREATED)
    assert task.created_time <= task.updated_time


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(count=st.integers(1, 14))
def test_delete_backups_progresses_in_steps_and_deletes_what_it_says(count: int) -> None:
    """Delete Backups deletes the range's points in min(10, n) one-minute steps: progress
    only grows, the listed points only shrink, and the finished Result names every point."""
    site = Site()
    made = site.back_up(count)
    task_id = site.hbr.delete_backups_in_range(instance_id=site.vm, start_time=0, end_time=2**33)
    steps = min(10, count)
    seen = [site.task(task_id)]
    listed = [len(site.points())]
    for _ in range(steps):
        site.cloud.advance(dt.timedelta(minutes=1))
        seen.append(site.task(task_id))
        listed.append(len(site.points()))
        check_invariants(site.cloud)
    for task in seen:
        _check_task_shape(task)
    assert [k * 100 // steps for k in range(steps)] + [100] == [t.progress for t in seen]
    assert listed == sorted(listed, reverse=True)
    done = seen[-1]
    assert (TaskStatus.COMPLETED, 100, "completed") == (
        done.status,
        done.progress,
        done.description,
    )
    assert ([count, 0], {"DeletedSnapshotIds": made}) == (
        [listed[0], listed[-1]],
        done.result_data(),
    )
    assert [TaskStatus.CREATED] * steps == [t.status for t in seen[:-1]]
    check_invariants(site.cloud)


def test_delete_backups_leaves_points_usable_until_their_step() -> None:
    """Until its step, a point of a running Delete Backups is still listed; a point made
    after the call in the range is not deleted."""
    site = Site()
    first, second = site.back_up(2)
    task_id = site.hbr.delete_backups_in_range(instance_id=site.vm, start_time=0, end_time=2**33)
    later = site.hbr.create_backup_job(instance_id=site.vm, retention=30)
    assert [first, second] == site.points()
    site.cloud.advance(dt.timedelta(minutes=1))
    assert [second] == site.points()[:1]
    site.cloud.advance(dt.timedelta(hours=1))
    assert [site.job(later).point_id] == site.points()
    assert {"DeletedSnapshotIds": [first, second]} == site.task(task_id).result_data()


def test_delete_backups_of_an_empty_range_completes_at_once() -> None:
    """An empty range gives a task completed at once, with nothing deleted."""
    site = Site()
    task = site.task(
        site.hbr.delete_backups_in_range(instance_id=site.vm, start_time=0, end_time=5)
    )
    assert (TaskStatus.COMPLETED, 100, {"DeletedSnapshotIds": []}, task.created_time) == (
        task.status,
        task.progress,
        task.result_data(),
        task.completed_time,
    )


def test_a_point_that_goes_meanwhile_is_skipped() -> None:
    """A point deleted by DeleteSnapshot while the task waits is gone, as asked: the task
    still completes."""
    site = Site()
    first, second = site.back_up(2)
    task_id = site.hbr.delete_backups_in_range(instance_id=site.vm, start_time=0, end_time=2**33)
    site.hbr.delete_snapshot(snapshot_id=second)
    site.cloud.advance(dt.timedelta(minutes=10))
    task = site.task(task_id)
    assert (100, [], {"DeletedSnapshotIds": [first, second]}) == (
        task.progress,
        site.points(),
        task.result_data(),
    )


def test_a_refused_step_fails_the_task_with_progress_minus_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When ECS refuses a step, the task stops: Progress -1, Result names the error and the
    points deleted until then; the failing point stays whole."""
    site = Site()
    made = site.back_up(3)
    task_id = site.hbr.delete_backups_in_range(instance_id=site.vm, start_time=0, end_time=2**33)
    doomed = site.hbr.describe_udm_snapshots(
        source_type="UDM_ECS", start_time=0, end_time=2**33, snapshot_ids=[made[1]]
    ).snapshots[0]
    original = PointActions._release_native

    def refuse(self: PointActions, snapshot_id: str, *, expired: bool = False) -> None:
        original(self, snapshot_id, expired=expired)
        if snapshot_id == doomed.native_snapshot_id_list[-1]:
            raise errors.OperationDeniedError(
                "refused", code="OperationDenied", recommend="Try again."
            )

    monkeypatch.setattr(PointActions, "_release_native", refuse)
    site.cloud.advance(dt.timedelta(minutes=10))
    task = site.task(task_id)
    _check_task_shape(task)
    data = task.result_data()
    assert (TaskStatus.COMPLETED, -1, True, [made[0]], made[1]) == (
        task.status,
        task.progress,
        task.failed,
        data["DeletedSnapshotIds"],
        data["SnapshotId"],
    )
    assert made[1:] == site.points()
    assert all(
        site.ecs.describe_snapshots(snapshot_ids=[n]).items for n in doomed.native_snapshot_id_list
    )
    check_invariants(site.cloud)


def test_extend_retention_task_is_completed_at_once() -> None:
    """Extend Retention returns a task completed when the call returns, naming the points
    extended (the instance point and its disk points)."""
    site = Site()
    [point_id] = site.back_up(1)
    task = site.task(site.hbr.extend_backup_retention(snapshot_id=point_id, retention_days=90))
    [point] = site.hbr.describe_udm_snapshots(
        source_type="UDM_ECS", start_time=0, end_time=2**33
    ).snapshots
    assert (TaskName.EXTEND_RETENTION, TaskStatus.COMPLETED, 100, site.cloud.now()) == (
        task.name,
        task.status,
        task.progress,
        task.completed_time,
    )
    assert {
        "RetentionDays": 90,
        "SnapshotIds": [point_id, *point.disk_point_ids],
    } == task.result_data()


def test_clone_now_task_follows_its_job() -> None:
    """Clone Now's task runs with its job's progress and completes with the job, naming
    the point it made."""
    site = Site()
    task_id = site.hbr.prepare_clone_now(instance_id=site.vm)
    running = site.task(task_id)
    _check_task_shape(running)
    job = site.job(running.job_id or "")
    assert (TaskName.CLONE_NOW, TaskStatus.CREATED, JobStatus.RUNNING) == (
        running.name,
        running.status,
        job.status,
    )
    site.cloud.advance(dt.timedelta(hours=1))
    done = site.task(task_id)
    job = site.job(running.job_id or "")
    _check_task_shape(done)
    assert (TaskStatus.COMPLETED, 100, job.complete_time) == (
        done.status,
        done.progress,
        done.completed_time,
    )
    assert {"JobId": job.job_id, "SnapshotId": job.point_id} == done.result_data()


def test_clone_now_task_is_cancelled_with_its_job() -> None:
    """Cancelling Clone Now's job shows the task cancelled at once, without CompletedTime."""
    site = Site()
    task_id = site.hbr.prepare_clone_now(instance_id=site.vm)
    job_id = site.task(task_id).job_id or ""
    site.hbr.cancel_backup_job(job_id=job_id)
    seen_now = site.task(task_id)
    site.cloud.advance(dt.timedelta(hours=1))
    seen_later = site.task(task_id)
    for task in (seen_now, seen_later):
        _check_task_shape(task)
    assert (TaskStatus.CANCELLED, None) == (seen_later.status, seen_later.completed_time)
    assert seen_now == seen_later
    check_invariants(site.cloud)


def test_clone_now_task_fails_when_its_job_fails() -> None:
    """Clone Now's job failing (its native snapshots deleted before it finished) gives
    Progress -1 and the job's error message."""
    site = Site()
    task_id = site.hbr.prepare_clone_now(instance_id=site.vm)
    job = site.job(site.task(task_id).job_id or "")
    for native in job.detail.disk_native_snapshot_id_list:
        site.ecs.delete_snapshot(snapshot_id=native)
    site.cloud.advance(dt.timedelta(hours=1))
    task = site.task(task_id)
    _check_task_shape(task)
    assert (-1, site.job(job.job_id).error_message) == (
        task.progress,
        task.result_data()["ErrorMessage"],
    )


def test_finished_tasks_expire_then_are_forgotten() -> None:
    """A finished task keeps its Result 7 days, is then expired (no Result, no
    CompletedTime), and is forgotten (TaskNotFound) 30 days after it finished."""
    site = Site()
    [point_id] = site.back_up(1)
    task_id = site.hbr.extend_backup_retention(snapshot_id=point_id, retention_days=90)
    done = site.task(task_id)
    site.cloud.run_until(done.created_time + dt.timedelta(days=7) - dt.timedelta(seconds=1))
    assert done == site.task(task_id)
    site.cloud.run_until(done.created_time + dt.timedelta(days=7))
    expired = site.task(task_id)
    _check_task_shape(expired)
    assert ("expired", "", None, 100) == (
        expired.description,
        expired.result,
        expired.completed_time,
        expired.progress,
    )
    site.cloud.run_until(done.created_time + dt.timedelta(days=30) - dt.timedelta(seconds=1))
    assert TaskStatus.EXPIRED == site.task(task_id).status
    site.cloud.run_until(done.created_time + dt.timedelta(days=30))
    rejected_unchanged(
        site.cloud,
        errors.ResourceNotFoundError,
        "TaskNotFound",
        lambda: site.hbr.describe_task(task_id=task_id),
    )
    check_invariants(site.cloud)


def test_unknown_or_foreign_task_is_task_not_found() -> None:
    """An unknown id, or a task of another region, answers TaskNotFound (404)."""
    site = Site()
    [point_id] = site.back_up(1)
    task_id = site.hbr.extend_backup_retention(snapshot_id=point_id, retention_days=90)
    other = site.cloud.hbr(OTHER_REGION)
    for call in (
        lambda: other.describe_task(task_id=task_id),
        lambda: site.hbr.describe_task(task_id="t-000none"),
    ):
        error = rejected_unchanged(site.cloud, errors.ResourceNotFoundError, "TaskNotFound", call)
        assert (404, True) == (error.http_status, bool(error.recommend))


@pytest.mark.parametrize("bad", ["", "\ud800", 7, None, b"t", "x" * 129])
def test_malformed_task_id_is_bad_request(bad: object) -> None:
    """A TaskId that is not 1–128 characters of text is BadRequest and changes nothing."""
    site = Site()
    rejected_unchanged(
        site.cloud,
        errors.InvalidParameterError,
        "BadRequest",
        lambda: site.hbr.describe_task(task_id=bad),  # type: ignore[arg-type]
    )


def test_refused_console_operations_make_no_task() -> None:
    """A refused Clone Now, Extend Retention or Delete Backups makes no task, no timer and no
    id (the backend is exactly as before)."""
    site = Site()
    [point_id] = site.back_up(1)
    rejected_unchanged(
        site.cloud,
        errors.ResourceNotFoundError,
        "InvalidInstanceId.NotFound",
        lambda: site.hbr.prepare_clone_now(instance_id="i-none"),
    )
    rejected_unchanged(
        site.cloud,
        errors.OperationDeniedError,
        "InvalidOperation.DecreaseRetentionDaysUnsupported",
        lambda: site.hbr.extend_backup_retention(snapshot_id=point_id, retention_days=1),
    )
    rejected_unchanged(
        site.cloud,
        errors.InvalidParameterError,
        "BadRequest",
        lambda: site.hbr.delete_backups_in_range(instance_id=site.vm, start_time=-1, end_time=9),
    )
    assert [point_id] == site.points()


def _story(backend: Any) -> list[HbrTask]:
    cloud = Cloud(seed=11, block_size=4096, backend=backend)
    site = Site(cloud)
    made = site.back_up(3)
    tasks = [
        site.hbr.delete_backups_in_range(instance_id=site.vm, start_time=0, end_time=2**33),
        site.hbr.extend_backup_retention(snapshot_id=made[0], retention_days=60),
        site.hbr.prepare_clone_now(instance_id=site.vm),
    ]
    seen = [site.task(t) for t in tasks]
    cloud.advance(dt.timedelta(minutes=2))
    seen += [site.task(t) for t in tasks]
    cloud.advance(dt.timedelta(days=8))
    return seen + [site.task(t) for t in tasks]


def test_both_backends_tell_the_same_tasks() -> None:
    """The same story of tasks reads the same on the in-memory and SQLite backends."""
    path = Path(tempfile.mkdtemp()) / "tasks.db"
    assert _story(InMemoryBackend()) == _story(SqliteBackend(path))


@settings(max_examples=60, deadline=None)
@given(task=cbst.hbr_tasks())
def test_generated_tasks_have_the_shape_of_real_ones_and_round_trip(task: HbrTask) -> None:
    """hbr_tasks() gives records shaped as the service makes them, and each round-trips
    through the storage codec exactly."""
    _check_task_shape(task)
    assert task == decode(encode(task))


def test_hbr_tasks_refuses_a_bad_bound() -> None:
    """hbr_tasks(max_points=0) is refused when drawn."""
    with pytest.raises(InvalidArgument):
        cbst.hbr_tasks(max_points=0).example()
