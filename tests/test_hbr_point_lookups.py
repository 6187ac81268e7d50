"""Cloud Backup: a job's points and a consistency group's point are found through one small
entry each in a per-region lookup (no partition per job or group), and a world stored with the
older per-job / per-group index partitions answers the same."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from _helpers import REGION
from cloudbackup import BackupPoint, errors
from cloudbackup._services.hbr.points import (
    DISK_POINT_PARENT,
    POINT_OF_GROUP,
    POINT_OF_JOB,
    POINTS_OF_GROUP,
    POINTS_OF_JOB,
)
from cloudbackup.testing import check_invariants
from test_hbr_points import Fleet


def _job(n: int) -> str:
    return f"job-{n:020d}"


def _by_job(fleet: Fleet, job_id: str, source_type: str) -> list[BackupPoint]:
    found = fleet.hbr.describe_udm_snapshots(
        source_type=source_type, start_time=0, end_time=2**33, job_id=job_id
    )
    return [attrs.evolve(p, disk_fold=()) for p in found]  # folded or not, the same point


def _as_stored_before(fleet: Fleet) -> None:
    """Rewrite the fleet as a world stored before disk points were folded and before the
    lookups kept them: every disk point a record, one index partition per job and per group,
    and no per-region entries."""
    store = fleet.hbr._world.store
    with store.unit():
        for point_id, parent_id in store.raw_scan(DISK_POINT_PARENT, REGION):
            parent = store.get(BackupPoint, REGION, str(parent_id))
            assert parent is not None
            child = parent.folded_disk_point(point_id)
            assert child is not None
            store.put(BackupPoint, REGION, point_id, child)
            store.raw_delete(DISK_POINT_PARENT, REGION, point_id)
        for _, parent in store.raw_scan(BackupPoint.KIND, REGION):
            assert isinstance(parent, BackupPoint)
            if parent.disk_fold:
                unfolded = attrs.evolve(parent, disk_fold=())
                store.put(BackupPoint, REGION, parent.snapshot_id, unfolded)
        for job_id, listed in store.raw_scan(POINT_OF_JOB, REGION):
            for point_id in str(listed).split(","):
                store.raw_put(POINTS_OF_JOB, job_id, point_id, True)
            store.raw_delete(POINT_OF_JOB, REGION, job_id)
        for group_id, owner in store.raw_scan(POINT_OF_GROUP, REGION):
            store.raw_put(POINTS_OF_GROUP, group_id, str(owner), True)
            store.raw_delete(POINT_OF_GROUP, REGION, group_id)


def _story(fleet: Fleet) -> list[object]:
    """Back up, describe by job, extend by group and by disk, delete alone and whole, expire:
    what each step shows."""
    seen: list[object] = []
    first = fleet.back_up(retention=2, snapshot_group_id="ssg-first")
    second = fleet.back_up(retention=2, snapshot_group_id="ssg-second")
    third = fleet.back_up(retention=9)
    check_invariants(fleet.cloud)
    for n in (1, 2, 3):
        seen += [_by_job(fleet, _job(n), kind) for kind in ("UDM_ECS", "UDM_ECS_DISK")]
    fleet.hbr.extend_backup_retention(snapshot_group_id="ssg-second", retention_days=4)
    child = fleet.point(first).disk_point_ids[2]
    fleet.hbr.extend_backup_retention(snapshot_id=child, retention_days=5)
    fleet.hbr.delete_snapshot(
        snapshot_id=fleet.point(third).disk_point_ids[0], source_type="UDM_ECS_DISK"
    )
    check_invariants(fleet.cloud)
    seen += [_by_job(fleet, _job(n), "UDM_ECS_DISK") for n in (1, 2, 3)]
    fleet.cloud.advance(dt.timedelta(days=3))  # the first point goes, its extended disk stays
    check_invariants(fleet.cloud)
    seen += [_by_job(fleet, _job(n), kind) for n in (1, 2) for kind in ("UDM_ECS", "UDM_ECS_DISK")]
    fleet.hbr.delete_snapshot(snapshot_id=second)
    with pytest.raises(errors.ResourceNotFoundError):
        fleet.hbr.extend_backup_retention(snapshot_group_id="ssg-second", retention_days=30)
    fleet.cloud.advance(dt.timedelta(days=3))
    check_invariants(fleet.cloud)
    seen += [_by_job(fleet, _job(n), "UDM_ECS_DISK") for n in (1, 2, 3)]
    return seen


def test_lookups_are_one_partition_per_region_and_go_with_the_last_point() -> None:
    """Every job's points and every group's point sit in one partition of the region; a job's
    entry stays while any of its points lives (an extended disk point) and then goes."""
    fleet = Fleet()
    _story(fleet)
    store = fleet.hbr._world.store
    assert [_job(3)] == [job for job, _ in store.raw_scan(POINT_OF_JOB, REGION)]
    assert [] == store.raw_scan(POINT_OF_GROUP, REGION)
    assert [] == store.raw_scan(POINTS_OF_JOB, _job(3))


def test_a_world_stored_before_folding_and_lookups_answers_the_same() -> None:
    """A world whose disk points are records and whose points are listed in per-job and
    per-group index partitions describes by job, extends by group and disk, deletes and
    expires exactly as a new one, and leaves no stale entry."""
    new, old = Fleet(), Fleet()
    old_back_up = old.back_up

    def back_up_then_rewrite(*args: object, **fields: object) -> str:
        made = old_back_up(*args, **fields)  # type: ignore[arg-type]
        _as_stored_before(old)
        return made

    old.back_up = back_up_then_rewrite  # type: ignore[method-assign]
    assert _story(new) == _story(old)
    store = old.hbr._world.store
    assert [] == store.raw_scan(POINT_OF_JOB, REGION)
    listed = [store.raw_scan(POINTS_OF_JOB, _job(n)) for n in (1, 2, 3)]
    assert [[], [], [(p, True) for p in _by_job_ids(old, 3)]] == listed


def _by_job_ids(fleet: Fleet, n: int) -> list[str]:
    found = _by_job(fleet, _job(n), "UDM_ECS") + _by_job(fleet, _job(n), "UDM_ECS_DISK")
    return sorted(p.snapshot_id for p in found)


@pytest.mark.parametrize("kind", [POINT_OF_JOB, POINT_OF_GROUP])
@pytest.mark.parametrize("damaged", [7, ""])
def test_a_damaged_lookup_entry_is_a_storage_error(kind: str, damaged: object) -> None:
    """A job or group entry that is not a point id string is reported as damaged storage,
    never read as no point."""
    fleet = Fleet()
    fleet.back_up(snapshot_group_id="ssg-g")
    store = fleet.hbr._world.store
    key = _job(1) if kind == POINT_OF_JOB else "ssg-g"
    with store.unit():
        store.raw_put(kind, REGION, key, damaged)
    if kind == POINT_OF_JOB:
        with pytest.raises(errors.StorageBackendError):
            _by_job(fleet, key, "UDM_ECS")
    else:
        with pytest.raises(errors.StorageBackendError):
            fleet.hbr.extend_backup_retention(snapshot_group_id=key, retention_days=30)
