"""Cloud Backup, Clone Now's preparation (console operation): a one-day backup of an ECS
instance with an ESSD system disk."""

from __future__ import annotations

import datetime as dt

import pytest

from _helpers import INSTANCE_TYPE, REGION, ZONE, make_cloud, rejected_unchanged, settle
from cloudbackup import (
    BackupJobFilter,
    DataDisk,
    JobStatus,
    SystemDisk,
    TriggerMode,
    errors,
)
from cloudbackup.testing import check_invariants


def test_clone_now_backs_up_every_disk_for_one_day() -> None:
    """Clone Now's preparation is a manual "Clone Now" job of every cloud disk as one
    snapshot-consistent group; its point restores the state of the moment and is gone (with
    its native snapshots) one day later."""
    cloud = make_cloud()
    ecs, hbr = cloud.ecs(REGION), cloud.hbr(REGION)
    hbr.open_hbr_service()
    [vm] = ecs.run_instances(
        zone_id=ZONE, instance_type=INSTANCE_TYPE, data_disks=[DataDisk(size=20)]
    )
    settle(cloud)
    disks = sorted(ecs.describe_disks(instance_id=vm).items, key=lambda d: d.device or "")
    ecs.write_disk(disks[1].disk_id, 0, b"state to clone")
    task_id = hbr.prepare_clone_now(instance_id=vm)
    job_id = hbr.describe_task(task_id=task_id).job_id
    ecs.write_disk(disks[1].disk_id, 0, b"later writes!!")
    cloud.advance(dt.timedelta(hours=1))
    [job] = hbr.describe_backup_jobs2(filters=[BackupJobFilter("JobId", (job_id,))])
    assert (JobStatus.COMPLETE, TriggerMode.MANUAL, "Clone Now", 1) == (
        job.status,
        job.trigger_mode,
        job.job_name,
        job.retention,
    )
    [point] = hbr.describe_udm_snapshots(
        source_type="UDM_ECS", start_time=0, end_time=2**33, job_id=job_id
    ).snapshots
    assert [d.disk_id for d in disks] == list(point.disk_id_list)
    assert (True, job.created_time + dt.timedelta(days=1)) == (
        point.snapshot_group_id is not None,
        point.expire_time,
    )
    clone = ecs.create_disk(
        zone_id=ZONE, snapshot_id=point.native_snapshot_id_list[1], disk_category="cloud_essd"
    )
    ecs.attach_disk(instance_id=vm, disk_id=clone)
    settle(cloud)
    assert b"state to clone" == ecs.read_disk(clone, 0, 14)
    natives = [n for n in point.native_snapshot_id_list if n != point.native_snapshot_id_list[1]]
    cloud.run_until(point.expire_time + dt.timedelta(minutes=10))  # type: ignore[operator]
    left = hbr.describe_udm_snapshots(source_type="UDM_ECS", start_time=0, end_time=2**33)
    assert (0, []) == (left.total_count, list(ecs.describe_snapshots(snapshot_ids=natives).items))
    check_invariants(cloud)


@pytest.mark.parametrize("category", ["cloud_ssd", "cloud_efficiency"])
def test_clone_now_needs_an_essd_system_disk(category: str) -> None:
    """An instance whose system disk is not ESSD is refused with the reason and what to do,
    and nothing changes, even when its data disks are ESSD."""
    cloud = make_cloud()
    ecs, hbr = cloud.ecs(REGION), cloud.hbr(REGION)
    hbr.open_hbr_service()
    [vm] = ecs.run_instances(
        zone_id=ZONE,
        instance_type=INSTANCE_TYPE,
        system_disk=SystemDisk(category=category),
        data_disks=[DataDisk(size=20)],
    )
    settle(cloud)
    error = rejected_unchanged(
        cloud,
        errors.OperationDeniedError,
        "OperationDenied.SystemDiskNotEssd",
        lambda: hbr.prepare_clone_now(instance_id=vm),
    )
    assert (403, True, vm) == (error.http_status, category in str(error), error.ids[0])


def test_clone_now_of_an_instance_without_its_system_disk_is_refused() -> None:
    """An instance whose system disk is detached has nothing to clone from: refused."""
    cloud = make_cloud()
    ecs, hbr = cloud.ecs(REGION), cloud.hbr(REGION)
    hbr.open_hbr_service()
    [vm] = ecs.run_instances(
        zone_id=ZONE, instance_type=INSTANCE_TYPE, data_disks=[DataDisk(size=20)]
    )
    settle(cloud)
    system = next(d for d in ecs.describe_disks(instance_id=vm).items if d.device == "/dev/xvda")
    ecs.stop_instance(vm)
    settle(cloud)
    ecs.detach_disk(instance_id=vm, disk_id=system.disk_id)
    settle(cloud)
    error = rejected_unchanged(
        cloud,
        errors.OperationDeniedError,
        "OperationDenied.SystemDiskNotEssd",
        lambda: hbr.prepare_clone_now(instance_id=vm),
    )
    assert "no system disk" in str(error)
