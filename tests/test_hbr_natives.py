"""Cloud Backup: a running job's native snapshots are managed from the take (ECS records their
retention, keeps no expiry timer), and every way a job ends leaves none behind: its point
manages them, or they are deleted, or handed back to ECS's own expiry."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import INSTANCE_TYPE, REGION, ZONE, settle
from cloudbackup import (
    BackupJob,
    BackupJobFilter,
    Cloud,
    DataDisk,
    HbrService,
    JobStatus,
    PointSourceType,
    PolicyBindingRequest,
    Rule,
    Timings,
    errors,
)
from cloudbackup._engine import Timer
from cloudbackup._services.ecs import ACTION_SNAPSHOT_EXPIRE
from cloudbackup._services.hbr.jobs import FINISH_FAILED
from cloudbackup._services.hbr.points import PointActions
from cloudbackup.testing import check_invariants

RETENTION = 7
AFTER_RETENTION = dt.timedelta(days=RETENTION, hours=2)


class Region:
    """An opened Cloud Backup, an all-ESSD instance (a snapshot group per job) and a mixed one
    (one snapshot per disk, one of them progressing while it uploads); jobs take 30 minutes."""

    def __init__(self) -> None:
        timings = Timings(snapshot_base=dt.timedelta(minutes=30))
        self.cloud = Cloud(block_size=4096, timings=timings)
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
        settle(self.cloud)

    def job(self, job_id: str) -> BackupJob:
        """One UDM_ECS job by id."""
        [found] = self.hbr.describe_backup_jobs2(filters=[BackupJobFilter("JobId", (job_id,))])
        return found

    def natives(self, job_id: str) -> list[str]:
        """The job's native snapshots, as it lists them."""
        return list(self.job(job_id).detail.disk_native_snapshot_id_list)

    def existing(self, snapshot_ids: list[str]) -> list[str]:
        """Those of ``snapshot_ids`` that ECS still has."""
        found = self.ecs.describe_snapshots(snapshot_ids=snapshot_ids, page_size=100).items
        return sorted(s.snapshot_id for s in found)

    def ecs_timers(self, snapshot_ids: list[str]) -> dict[str, dt.datetime]:
        """The pending ECS expiry timers of ``snapshot_ids``."""
        wanted = set(snapshot_ids)
        return {
            t.target_id: t.due
            for t in self.cloud._world.engine.pending()
            if t.action == ACTION_SNAPSHOT_EXPIRE and t.target_id in wanted
        }

    def kept_by_a_point(self, snapshot_id: str) -> bool:
        """Whether a live backup point lists the snapshot."""
        points = self.hbr.describe_udm_snapshots(
            source_type=PointSourceType.UDM_ECS, start_time=0, end_time=2**33
        ).snapshots
        return any(snapshot_id in p.native_snapshot_id_list for p in points)


@pytest.fixture
def region() -> Region:
    """A fresh region."""
    return Region()


@pytest.mark.parametrize("which", ["vm", "mixed"])
def test_a_running_jobs_natives_show_its_retention_with_no_ecs_timer(
    region: Region, which: str
) -> None:
    """While the job runs its natives carry its retention in ECS and ECS keeps no timer."""
    job_id = region.hbr.create_backup_job(instance_id=getattr(region, which), retention=9)
    natives = region.natives(job_id)
    shown = region.ecs.describe_snapshots(snapshot_ids=natives, page_size=100).items
    retention = [s.retention_days for s in shown]
    assert ([9] * len(natives), {}) == (retention, region.ecs_timers(natives))
    assert JobStatus.RUNNING == region.job(job_id).status
    check_invariants(region.cloud)


def test_a_completed_jobs_natives_are_its_points_and_go_with_it(region: Region) -> None:
    """A completed job's natives are managed by its point (no ECS timer) and go at its expiry."""
    job_id = region.hbr.create_backup_job(instance_id=region.vm, retention=RETENTION)
    natives = region.natives(job_id)
    region.cloud.advance(dt.timedelta(hours=1))
    assert JobStatus.COMPLETE == region.job(job_id).status
    assert ({}, sorted(natives)) == (region.ecs_timers(natives), region.existing(natives))
    region.cloud.advance(AFTER_RETENTION)
    assert [] == region.existing(natives)
    check_invariants(region.cloud)


def test_a_cancelled_jobs_natives_are_deleted_or_handed_to_ecs(region: Region) -> None:
    """Cancelling deletes the natives; one made into a disk stays kept until deleted, one
    locked in ECS gets its ECS timer back and goes once its lock and retention end."""
    job_id = region.hbr.create_backup_job(instance_id=region.vm, retention=RETENTION)
    plain, used, locked = region.natives(job_id)
    disk_id = region.ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", snapshot_id=used)
    region.ecs.lock_snapshot(snapshot_id=locked, lock_duration=2)
    region.hbr.cancel_backup_job(job_id=job_id)
    assert sorted([locked, used]) == region.existing([plain, used, locked])
    expire = region.ecs.describe_snapshot(locked).expire_time
    assert ({locked: expire}, None) == (
        region.ecs_timers([plain, used, locked]),
        region.ecs.describe_snapshot(used).retention_days,
    )
    check_invariants(region.cloud)
    region.cloud.advance(AFTER_RETENTION)
    assert [used] == region.existing([plain, used, locked])
    region.ecs.delete_disk(disk_id)
    check_invariants(region.cloud)


def test_a_job_whose_completion_raises_fails_and_hands_its_natives_to_ecs(
    region: Region, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If recording the point raises, the job is FAILED with no point, its sub-jobs too, and
    its natives get ECS timers at their retention: they go then; the instance backs up again."""

    def broken(self: PointActions, **kwargs: object) -> str:
        raise errors.InvalidParameterError("broken", code="BadRequest")

    monkeypatch.setattr(PointActions, "_record_point", broken)
    job_id = region.hbr.create_backup_job(instance_id=region.mixed, retention=RETENTION)
    natives = region.natives(job_id)
    with pytest.raises(errors.InvalidParameterError):
        region.cloud.advance(dt.timedelta(hours=1))
    job = region.job(job_id)
    assert (JobStatus.FAILED, FINISH_FAILED, None) == (job.status, job.error_message, job.point_id)
    subs = region.hbr.describe_backup_jobs2(
        source_type="UDM_ECS_DISK", filters=[BackupJobFilter("ParentId", (job_id,))]
    ).items
    assert {JobStatus.FAILED} == {s.status for s in subs}
    expires = {s: region.ecs.describe_snapshot(s).expire_time for s in natives}
    assert (expires, False) == (region.ecs_timers(natives), region.kept_by_a_point(natives[0]))
    assert ["hbr.job_complete"] == [f.timer.action for f in region.cloud._world.engine.failed()]
    check_invariants(region.cloud)
    monkeypatch.undo()
    again = region.hbr.create_backup_job(instance_id=region.mixed, retention=RETENTION)
    region.cloud.advance(AFTER_RETENTION)
    assert ([], JobStatus.COMPLETE) == (region.existing(natives), region.job(again).status)
    check_invariants(region.cloud)


def test_a_failing_completion_of_a_job_already_ended_changes_nothing(
    region: Region, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recovery of a completion timer whose job is no longer running does nothing."""
    job_id = region.hbr.create_backup_job(instance_id=region.vm, retention=RETENTION)
    region.cloud.advance(dt.timedelta(hours=1))
    before = region.job(job_id)
    timer = Timer(region.cloud.now(), 0, "hbr.job_complete", REGION, job_id)
    region.hbr._on_job_complete_failed(timer)
    assert before == region.job(job_id)


@pytest.mark.parametrize("release", ["instance", "stop_backup", "delete_udm_disk"])
def test_natives_of_a_job_whose_instance_or_disk_goes_mid_job_never_leak(
    region: Region, release: str
) -> None:
    """Released in ECS or unprotected in Cloud Backup while the job runs: the job still ends,
    and after the retention every native is gone (a progressing one of a released disk goes
    with it at once)."""
    rule = Rule("BACKUP", schedule="I|1704067200|P30D", retention=7)
    policy = region.hbr.create_policy_v2(rules=[rule])
    region.hbr.create_policy_bindings(
        policy_id=policy, policy_binding_list=[PolicyBindingRequest(region.mixed)]
    )
    job_id = region.hbr.create_backup_job(instance_id=region.mixed, retention=RETENTION)
    natives = region.natives(job_id)
    if release == "instance":
        region.ecs.delete_instance(region.mixed, force=True)
    elif release == "stop_backup":
        region.hbr.delete_udm_ecs_instance(region.mixed)
    else:
        region.hbr.delete_udm_disk(region.job(job_id).detail.disk_id_list[1])
    check_invariants(region.cloud)
    region.cloud.advance(dt.timedelta(hours=1))
    assert region.job(job_id).status in (JobStatus.COMPLETE, JobStatus.PARTIAL_COMPLETE)
    check_invariants(region.cloud)
    region.cloud.advance(AFTER_RETENTION)
    assert [] == region.existing(natives)
    check_invariants(region.cloud)


def test_natives_taken_with_timers_in_a_world_stored_before_still_work(region: Region) -> None:
    """A job started before natives were managed from the take (each with an ECS timer) ends
    as before: its point drops the timers, a cancel deletes them, and nothing leaks."""
    world = region.cloud._world
    ids = [
        region.hbr.create_backup_job(instance_id=i, retention=RETENTION)
        for i in (region.vm, region.mixed)
    ]
    ecs = region.ecs
    for job_id in ids:
        for native in region.natives(job_id):
            with world.store.unit():
                ecs._schedule_expiry(ecs._snapshots.get(native), new=True)  # as stored before
    region.hbr.cancel_backup_job(job_id=ids[1])
    region.cloud.advance(dt.timedelta(hours=1))
    all_natives = region.natives(ids[0]) + region.natives(ids[1])
    assert ({}, sorted(region.natives(ids[0]))) == (
        region.ecs_timers(all_natives),
        region.existing(all_natives),
    )
    check_invariants(region.cloud)
    region.cloud.advance(AFTER_RETENTION)
    assert [] == region.existing(all_natives)


def test_the_invariants_report_a_native_left_without_a_timer_by_a_finished_job(
    region: Region,
) -> None:
    """A job that ends without handing its natives on leaves them with retention and no
    timer: the invariants say so (the rule exempts only running jobs' and points' natives)."""
    job_id = region.hbr.create_backup_job(instance_id=region.vm, retention=RETENTION)
    with region.cloud._world.store.unit():
        region.hbr._end_job(region.hbr._jobs.get(job_id), JobStatus.FAILED, "leaked")
        region.cloud._world.engine.cancel_for("hbr.job_complete", REGION, job_id)
    with pytest.raises(AssertionError, match="with no timer then"):
        check_invariants(region.cloud)


ENDINGS = ("complete", "cancel", "fail", "release", "stop_backup", "delete_native")
HOLDS = ("none", "disk", "lock")


@settings(max_examples=60, deadline=None)
@given(
    which=st.sampled_from(["vm", "mixed"]),
    ending=st.sampled_from(ENDINGS),
    hold=st.sampled_from(HOLDS),
    minutes=st.integers(0, 40),
)
def test_a_native_never_leaks_however_its_job_ends(
    which: str, ending: str, hold: str, minutes: int
) -> None:
    """Whatever ends the job (and whatever holds a native meanwhile), once the retention has
    passed every native is gone or kept by a point, a lock or a disk made from it."""
    region = Region()
    instance_id = getattr(region, which)
    job_id = region.hbr.create_backup_job(instance_id=instance_id, retention=RETENTION)
    natives = region.natives(job_id)
    region.cloud.advance(dt.timedelta(minutes=minutes))
    if hold == "disk":
        region.ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", snapshot_id=natives[0])
    elif hold == "lock":
        region.ecs.lock_snapshot(snapshot_id=natives[0], lock_duration=3)
    running = region.job(job_id).status is JobStatus.RUNNING
    if ending == "cancel" and running:
        region.hbr.cancel_backup_job(job_id=job_id)
    elif ending == "fail" and running:
        original = PointActions._record_point
        PointActions._record_point = lambda self, **kw: 1 / 0  # type: ignore[assignment,method-assign]
        try:
            with pytest.raises(ZeroDivisionError):
                region.cloud.advance(dt.timedelta(hours=1))
        finally:
            PointActions._record_point = original  # type: ignore[method-assign]
    elif ending == "release":
        region.ecs.delete_instance(instance_id, force=True)
    elif ending == "stop_backup":
        region.hbr.create_policy_bindings(
            policy_id=region.hbr.create_policy_v2(
                rules=[Rule("BACKUP", schedule="I|1704067200|P30D", retention=7)]
            ),
            policy_binding_list=[PolicyBindingRequest(instance_id)],
        )
        region.hbr.delete_udm_ecs_instance(instance_id)
    elif ending == "delete_native" and hold != "lock":
        region.ecs.delete_snapshot(natives[-1], force=True)
    check_invariants(region.cloud)
    region.cloud.advance(dt.timedelta(hours=1))
    assert region.job(job_id).status is not JobStatus.RUNNING
    check_invariants(region.cloud)
    region.cloud.advance(dt.timedelta(days=RETENTION + 4))
    for native in region.existing(natives):
        snapshot = region.ecs.describe_snapshot(native)
        lock = snapshot.lock
        held = (lock is not None and lock.holds(region.cloud.now())) or snapshot.disk_refs > 0
        assert (native, True) == (native, held or region.kept_by_a_point(native))
    check_invariants(region.cloud)
