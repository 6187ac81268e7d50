"""Three decisions of Cloud Backup's semantics (issue 9): cancelling a job whose native
snapshot was made into a disk or image or locked; a native snapshot whose retention the user
extended in ECS; the ``PlanId`` of a manual job in ``DescribeBackupJobs2`` filters."""

from __future__ import annotations

import datetime as dt

import pytest

from _helpers import INSTANCE_TYPE, REGION, ZONE, make_cloud, settle
from cloudbackup import (
    BackupJob,
    BackupJobFilter,
    DataDisk,
    DiskDeviceMapping,
    HbrService,
    JobStatus,
    PolicyBindingRequest,
    Rule,
    RuleType,
)
from cloudbackup.testing import check_invariants


class Site:
    """An opened Cloud Backup and an instance with a data disk full of data (so a job runs
    for a while)."""

    def __init__(self) -> None:
        self.cloud = make_cloud()
        self.ecs = self.cloud.ecs(REGION)
        self.hbr: HbrService = self.cloud.hbr(REGION)
        self.hbr.open_hbr_service()
        [self.vm] = self.ecs.run_instances(
            zone_id=ZONE, instance_type=INSTANCE_TYPE, data_disks=[DataDisk(size=20)]
        )
        settle(self.cloud)
        disks = self.ecs.describe_disks(instance_id=self.vm).items
        self.disks = [d.disk_id for d in sorted(disks, key=lambda d: d.device or "")]
        for disk in self.disks:
            self.ecs.fill_disk(disk, 0, 2**30, seed=1)

    def job(self, job_id: str) -> BackupJob:
        """The job as DescribeBackupJobs2 shows it."""
        [found] = self.hbr.describe_backup_jobs2(filters=[BackupJobFilter("JobId", (job_id,))])
        return found

    def natives(self, job_id: str) -> tuple[str, ...]:
        """The native snapshots of a job (system disk first)."""
        return self.job(job_id).detail.disk_native_snapshot_id_list

    def exists(self, snapshot_id: str) -> bool:
        """Whether ECS still has the snapshot."""
        return bool(self.ecs.describe_snapshots(snapshot_ids=[snapshot_id]).items)


# -- a. CancelBackupJob and natives used meanwhile ---------------------------------------------
@pytest.mark.parametrize("use", ["disk", "image"])
def test_cancel_succeeds_when_a_native_was_made_into_a_disk_or_image(use: str) -> None:
    """Cancel succeeds while a native snapshot of the job was made into a disk or image:
    that snapshot stays in ECS, kept until deleted (out of Cloud Backup's lifecycle); the
    others are deleted and no point is made."""
    site = Site()
    job_id = site.hbr.create_backup_job(instance_id=site.vm, retention=7)
    system, data = site.natives(job_id)
    if use == "disk":
        site.ecs.create_disk(zone_id=ZONE, snapshot_id=data, disk_category="cloud_essd")
    else:
        site.ecs.create_image(
            disk_device_mappings=[
                DiskDeviceMapping(system, disk_type="system"),
                DiskDeviceMapping(data, disk_type="data"),
            ]
        )
    site.hbr.cancel_backup_job(job_id=job_id)
    job = site.job(job_id)
    kept = [data] if use == "disk" else [system, data]
    assert (JobStatus.CANCELED, None) == (job.status, job.point_id)
    assert [n for n in (system, data) if site.exists(n)] == kept
    shown = site.ecs.describe_snapshots(snapshot_ids=kept).items
    assert [None] * len(kept) == [s.retention_days for s in shown]
    site.cloud.advance(dt.timedelta(days=30))
    assert [n for n in (system, data) if site.exists(n)] == kept
    check_invariants(site.cloud)


def test_cancel_succeeds_when_a_native_was_locked() -> None:
    """Cancel succeeds while a native snapshot of the job is locked in ECS: it stays until
    its lock and retention end, then ECS deletes it; the other is deleted at once."""
    site = Site()
    job_id = site.hbr.create_backup_job(instance_id=site.vm, retention=7)
    system, data = site.natives(job_id)
    site.ecs.lock_snapshot(snapshot_id=data, lock_duration=1, cool_off_period=1)
    site.hbr.cancel_backup_job(job_id=job_id)
    assert (JobStatus.CANCELED, [data]) == (
        site.job(job_id).status,
        [n for n in (system, data) if site.exists(n)],
    )
    check_invariants(site.cloud)
    site.cloud.advance(dt.timedelta(days=8))
    assert False == site.exists(data)  # noqa: E712
    check_invariants(site.cloud)


# -- b. ECS-side retention of a native Cloud Backup manages ------------------------------------
def test_a_native_whose_retention_was_extended_in_ecs_still_goes_with_its_point() -> None:
    """Cloud Backup manages the native snapshots it tagged: extending one's retention in ECS
    does not take it out of Cloud Backup's lifecycle; it goes when its point expires
    (Extend Retention, or a disk/image made from it, is how to keep it)."""
    site = Site()
    job_id = site.hbr.create_backup_job(instance_id=site.vm, retention=2)
    site.cloud.advance(dt.timedelta(hours=1))
    point_id = site.job(job_id).point_id
    system, data = site.natives(job_id)
    site.ecs.modify_snapshot_attribute(snapshot_id=data, retention_days=60)
    [point] = site.hbr.describe_udm_snapshots(
        source_type="UDM_ECS", start_time=0, end_time=2**33, snapshot_ids=[point_id or ""]
    ).snapshots
    assert point.expire_time is not None
    site.cloud.run_until(point.expire_time - dt.timedelta(seconds=1))
    assert (True, True) == (site.exists(system), site.exists(data))
    site.cloud.run_until(point.expire_time + dt.timedelta(minutes=10))
    assert (False, False) == (site.exists(system), site.exists(data))
    check_invariants(site.cloud)


# -- c. PlanId of a manual job ------------------------------------------------------------------
def test_a_manual_job_has_no_plan_id_and_no_plan_id_filter_matches_it() -> None:
    """A manual job has no PlanId (the response omits it): no PlanId filter matches it, not
    EQUAL "" nor NOT_EQUAL another plan; a policy's job matches its own PlanId."""
    site = Site()
    policy = site.hbr.create_policy_v2(
        rules=[Rule("BACKUP", schedule="I|1893456000|P1D", retention=7)]
    )
    [bound] = site.ecs.run_instances(zone_id=ZONE, instance_type=INSTANCE_TYPE)
    settle(site.cloud)
    site.hbr.create_policy_bindings(
        policy_id=policy, policy_binding_list=[PolicyBindingRequest(bound)]
    )
    [found] = site.hbr.describe_policies_v2(policy_id=policy).items
    rule_id = found.rules_of(RuleType.BACKUP)[0].rule_id or ""
    planned = site.hbr.execute_policy_v2(policy_id=policy, rule_id=rule_id) or ""
    manual = site.hbr.create_backup_job(instance_id=site.vm, retention=7)
    site.cloud.advance(dt.timedelta(hours=1))
    assert (None, policy) == (site.job(manual).plan_id, site.job(planned).plan_id)

    def matched(operator: str, *values: str) -> list[str]:
        page = site.hbr.describe_backup_jobs2(
            filters=[BackupJobFilter("PlanId", values, operator)], sort_direction="ASCEND"
        )
        return [j.job_id for j in page]

    assert [
        [planned],
        [],
        [],
        [planned],
        [],
        [planned],
    ] == [
        matched("EQUAL", policy),
        matched("EQUAL", ""),
        matched("IN", "", "po-000none"),
        matched("NOT_EQUAL", "po-000none"),
        matched("NOT_EQUAL", policy),
        matched("GREATER_THAN_OR_EQUAL", ""),
    ]
