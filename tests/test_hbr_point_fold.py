"""Cloud Backup: a ``UDM_ECS_DISK`` point is folded into its instance point's record (no
record of its own) until it stops following it, and reads exactly as a stored one."""

from __future__ import annotations

import datetime as dt
import gc

import attrs
import pytest

from _helpers import REGION
from cloudbackup import BackupPoint, PointSourceType, PointStatus, errors
from cloudbackup._services.hbr.points import DISK_POINT_PARENT
from cloudbackup.testing import check_invariants
from test_hbr_points import GIB, Fleet


def _stored(fleet: Fleet, point_id: str) -> BackupPoint | None:
    return fleet.hbr._world.store.get(BackupPoint, REGION, point_id)


def _every_way(fleet: Fleet, point: BackupPoint, child_id: str) -> list[list[BackupPoint]]:
    """The disk point as each DescribeUdmSnapshots filter shows it."""
    asks: list[dict[str, object]] = [
        {"snapshot_ids": [child_id]},
        {"disk_id": fleet.point(child_id, "UDM_ECS_DISK").disk_id_list[0]},
        {"instance_id": point.instance_id},
        {"job_id": point.job_id},
        {},
    ]
    return [
        [
            p
            for p in fleet.hbr.describe_udm_snapshots(
                source_type="UDM_ECS_DISK", start_time=0, end_time=2**33, **ask
            )
            if p.snapshot_id == child_id
        ]
        for ask in asks
    ]


def test_disk_points_are_no_records_and_read_as_the_instance_point_says() -> None:
    """A new point's disk points have no record; every filter shows each one with the instance
    point's fields and its own disk, native snapshot, sizes, device and status."""
    fleet = Fleet()
    point = fleet.point(fleet.back_up(retention=5, snapshot_group_id="ssg-x"))
    for at, child_id in enumerate(point.disk_point_ids):
        assert _stored(fleet, child_id) is None
        expected = attrs.evolve(
            point,
            snapshot_id=child_id,
            source_type=PointSourceType.UDM_ECS_DISK,
            disk_id_list=(point.disk_id_list[at],),
            native_snapshot_id_list=(point.native_snapshot_id_list[at],),
            disk_point_ids=(),
            parent_snapshot_id=point.snapshot_id,
            bytes_total=20 * GIB,
            actual_bytes=4096,
            disk_device=None,
            disk_fold=(),
        )
        assert [[expected]] * 5 == _every_way(fleet, point, child_id)
    check_invariants(fleet.cloud)


def test_fold_is_one_untracked_tuple() -> None:
    """The fold of an instance point is a flat tuple of small values that the cyclic garbage
    collector stops tracking."""
    fleet = Fleet()
    point = _stored(fleet, fleet.back_up())
    assert point is not None
    gc.collect()
    assert (12, False) == (len(point.disk_fold), gc.is_tracked(point.disk_fold))


def test_a_disk_point_extended_alone_is_stored_whole_and_the_others_stay_folded() -> None:
    """Extending one disk point makes it a record (its lookup entry goes); its siblings stay
    folded, and every describe shows the same as before but the new retention."""
    fleet = Fleet()
    point = fleet.point(fleet.back_up(retention=2))
    child = point.disk_point_ids[1]
    before = fleet.point(child, "UDM_ECS_DISK")
    fleet.hbr.extend_backup_retention(snapshot_id=child, retention_days=9)
    assert attrs.evolve(before, retention=9) == _stored(fleet, child)
    store = fleet.hbr._world.store
    listed = [k for k, _ in store.raw_scan(DISK_POINT_PARENT, REGION)]
    assert sorted([point.disk_point_ids[0], point.disk_point_ids[2]]) == listed
    assert [[attrs.evolve(before, retention=9)]] * 5 == _every_way(fleet, point, child)
    fleet.cloud.advance(dt.timedelta(days=3))
    assert [child] == [
        p.snapshot_id
        for p in fleet.hbr.describe_udm_snapshots(
            source_type="UDM_ECS_DISK", start_time=0, end_time=2**33
        )
    ]
    assert [] == store.raw_scan(DISK_POINT_PARENT, REGION)
    check_invariants(fleet.cloud)


def test_siblings_of_a_disk_point_deleted_alone_keep_their_status() -> None:
    """Deleting one disk point makes the instance point PARTIAL_COMPLETE; its folded siblings
    still show COMPLETE, as they did when they were records."""
    fleet = Fleet()
    point = fleet.point(fleet.back_up())
    first, *rest = point.disk_point_ids
    fleet.hbr.delete_snapshot(snapshot_id=first, source_type="UDM_ECS_DISK")
    shown = [fleet.point(c, "UDM_ECS_DISK") for c in rest]
    assert PointStatus.PARTIAL_COMPLETE == fleet.point(point.snapshot_id).status
    assert [PointStatus.COMPLETE] * 2 == [c.status for c in shown]
    assert [(point.disk_id_list[n],) for n in (1, 2)] == [c.disk_id_list for c in shown]
    for child in rest:
        fleet.hbr.delete_snapshot(snapshot_id=child, source_type="UDM_ECS_DISK")
        check_invariants(fleet.cloud)
    assert (
        ()
        == fleet.hbr.describe_udm_snapshots(
            source_type="UDM_ECS", start_time=0, end_time=2**33
        ).snapshots
    )


@pytest.mark.parametrize("damaged", [7, "s-000nosuchpoint"])
def test_a_damaged_fold_lookup_is_a_storage_error(damaged: object) -> None:
    """A folded disk point's lookup entry that names no instance point listing it is damaged
    storage, never a missing point."""
    fleet = Fleet()
    point = fleet.point(fleet.back_up())
    store = fleet.hbr._world.store
    with store.unit():
        store.raw_put(DISK_POINT_PARENT, REGION, point.disk_point_ids[0], damaged)
    with pytest.raises(errors.StorageBackendError):
        fleet.point(point.disk_point_ids[0], "UDM_ECS_DISK")
