"""Cloud Backup: backup points (DescribeUdmSnapshots, DeleteSnapshot, Extend Retention,
Delete Backups), recorded directly as a finished backup job would record them."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import INSTANCE_TYPE, REGION, ZONE, make_cloud, rejected_unchanged, settle
from cloudbackup import (
    BackupPoint,
    Cloud,
    DataDisk,
    DiskSnapshotTaken,
    HbrService,
    PointRetention,
    PolicyBindingRequest,
    Rule,
    SnapshotDeleted,
    errors,
)
from cloudbackup.testing import check_invariants

GIB = 1024**3


class Fleet:
    """An opened Cloud Backup and one instance with a system disk and two data disks."""

    def __init__(self) -> None:
        self.cloud: Cloud = make_cloud()
        self.ecs = self.cloud.ecs(REGION)
        self.hbr: HbrService = self.cloud.hbr(REGION)
        self.hbr.open_hbr_service()
        [self.vm] = self.ecs.run_instances(
            zone_id=ZONE,
            instance_type=INSTANCE_TYPE,
            data_disks=[DataDisk(size=20), DataDisk(size=20)],
        )
        settle(self.cloud)
        found = self.ecs.describe_disks(instance_id=self.vm, page_size=100).items
        self.disks = [d.disk_id for d in sorted(found, key=lambda d: d.device or "")]
        self.jobs = 0

    def back_up(self, retention: PointRetention | int = 7, **fields: object) -> str:
        """Snapshot every disk and record the point as a finished job does; its id."""
        rule = retention if isinstance(retention, PointRetention) else PointRetention(retention)
        self.jobs += 1
        created = self.cloud.now()
        taken = []
        for disk in self.disks:
            native = self.ecs.create_snapshot(disk_id=disk, retention_days=rule.retention)
            taken.append(DiskSnapshotTaken(disk, native, 20 * GIB, 4096))
        self.cloud.advance(dt.timedelta(minutes=1))
        with self.hbr._world.store.unit():
            return self.hbr._record_point(
                job_id=f"job-{self.jobs:020d}",
                instance_id=self.vm,
                created=created,
                disks=taken,
                retention=rule,
                **fields,  # type: ignore[arg-type]
            )

    def point(self, snapshot_id: str, source_type: str = "UDM_ECS") -> BackupPoint:
        """The point as DescribeUdmSnapshots shows it."""
        [found] = self.hbr.describe_udm_snapshots(
            source_type=source_type,
            start_time=0,
            end_time=2**33,
            snapshot_ids=[snapshot_id],
        ).snapshots
        return found

    def exists(self, native: str) -> bool:
        """Whether ECS still has the native snapshot."""
        return bool(self.ecs.describe_snapshots(snapshot_ids=[native]).items)


@pytest.fixture
def fleet() -> Fleet:
    """A fresh fleet."""
    return Fleet()


def test_point_has_disk_points_and_native_snapshots(fleet: Fleet) -> None:
    """A recorded point lists its disks, native snapshots and per-disk points, 1:1 in order."""
    point_id = fleet.back_up()
    point = fleet.point(point_id)
    assert tuple(fleet.disks) == point.disk_id_list
    assert 3 == len(point.native_snapshot_id_list) == len(point.disk_point_ids)
    assert point_id.startswith("s-000")
    for disk_id, native, child_id in zip(
        point.disk_id_list, point.native_snapshot_id_list, point.disk_point_ids, strict=True
    ):
        child = fleet.point(child_id, "UDM_ECS_DISK")
        assert ((disk_id,), (native,), point_id) == (
            child.disk_id_list,
            child.native_snapshot_id_list,
            child.parent_snapshot_id,
        )
    check_invariants(fleet.cloud)


def test_expires_at_retention_with_native_snapshots(fleet: Fleet) -> None:
    """A point and its native snapshots stay until expiry and are gone right after it."""
    point = fleet.point(fleet.back_up(retention=3))
    expire = point.expire_time
    assert expire is not None
    fleet.cloud.run_until(expire - dt.timedelta(seconds=1))
    assert [point.snapshot_id] == [fleet.point(point.snapshot_id).snapshot_id]
    assert all(fleet.exists(n) for n in point.native_snapshot_id_list)
    fleet.cloud.run_until(expire + dt.timedelta(minutes=10))
    found = fleet.hbr.describe_udm_snapshots(source_type="UDM_ECS", start_time=0, end_time=2**33)
    assert 0 == found.total_count
    assert not any(fleet.exists(n) for n in point.native_snapshot_id_list)
    check_invariants(fleet.cloud)


def test_immutable_point_refuses_deletion_through_both_services(fleet: Fleet) -> None:
    """An immutable point refuses HBR and ECS deletion until it expires, then goes."""
    point = fleet.point(fleet.back_up(PointRetention(2, immutable=True)))
    rejected_unchanged(
        fleet.cloud,
        errors.OperationDeniedError,
        "OperationDenied.ImmutableBackup",
        lambda: fleet.hbr.delete_snapshot(snapshot_id=point.snapshot_id),
    )
    native = point.native_snapshot_id_list[0]
    rejected_unchanged(
        fleet.cloud,
        errors.OperationDeniedError,
        "OperationDenied.SnapshotLocked",
        lambda: fleet.ecs.delete_snapshot(native),
    )
    assert False is fleet.point(point.snapshot_id).can_be_deleted
    expire = point.expire_time
    assert expire is not None
    fleet.cloud.run_until(expire + dt.timedelta(minutes=10))
    assert not fleet.exists(native)
    check_invariants(fleet.cloud)


def test_delete_snapshot_removes_point_and_natives(fleet: Fleet) -> None:
    """DeleteSnapshot removes the point, its disk points and its native snapshots."""
    point = fleet.point(fleet.back_up())
    fleet.hbr.delete_snapshot(snapshot_id=point.snapshot_id)
    found = fleet.hbr.describe_udm_snapshots(
        source_type="UDM_ECS_DISK", start_time=0, end_time=2**33
    )
    assert (0, False) == (
        found.total_count,
        any(fleet.exists(n) for n in point.native_snapshot_id_list),
    )
    check_invariants(fleet.cloud)


def test_native_deleted_behind_back_makes_point_unusable(fleet: Fleet) -> None:
    """A native snapshot deleted in ECS shows on the point and refuses Extend Retention."""
    point = fleet.point(fleet.back_up())
    native = point.native_snapshot_id_list[1]
    fleet.ecs.delete_snapshot(native)
    shown = fleet.point(point.snapshot_id)
    assert ((native,), False) == (shown.missing_native_snapshot_ids, shown.usable)
    rejected_unchanged(
        fleet.cloud,
        errors.IncorrectStatusError,
        "NativeSnapshotNotExist",
        lambda: fleet.hbr.extend_backup_retention(snapshot_id=point.snapshot_id, retention_days=30),
    )


def test_extend_retention_instance_level_mirrors_natives(fleet: Fleet) -> None:
    """Extending an instance point extends its disk points and native snapshots."""
    point = fleet.point(fleet.back_up(retention=3))
    fleet.hbr.extend_backup_retention(snapshot_id=point.snapshot_id, retention_days=40)
    assert 40 == fleet.point(point.snapshot_id).retention
    natives = fleet.ecs.describe_snapshots(snapshot_ids=list(point.native_snapshot_id_list))
    assert {40} == {s.retention_days for s in natives.items}
    fleet.cloud.run_until(point.created_time + dt.timedelta(days=39))
    assert 40 == fleet.point(point.disk_point_ids[0], "UDM_ECS_DISK").retention
    fleet.cloud.run_until(point.created_time + dt.timedelta(days=40, minutes=10))
    assert not any(fleet.exists(n) for n in point.native_snapshot_id_list)
    check_invariants(fleet.cloud)


def test_extend_retention_refuses_decrease(fleet: Fleet) -> None:
    """Shortening retention is refused and changes nothing."""
    point_id = fleet.back_up(retention=10)
    rejected_unchanged(
        fleet.cloud,
        errors.OperationDeniedError,
        "InvalidOperation.DecreaseRetentionDaysUnsupported",
        lambda: fleet.hbr.extend_backup_retention(snapshot_id=point_id, retention_days=9),
    )


@pytest.mark.parametrize("days", [0, 65_537, True, 1.5, "30"])
def test_extend_retention_refuses_bad_days(fleet: Fleet, days: object) -> None:
    """Retention outside 1–65,536 whole days is refused and changes nothing."""
    point_id = fleet.back_up()
    rejected_unchanged(
        fleet.cloud,
        errors.InvalidParameterError,
        "InvalidRetentionDays.Malformed",
        lambda: fleet.hbr.extend_backup_retention(snapshot_id=point_id, retention_days=days),  # type: ignore[arg-type]
    )


def test_never_expire_keeps_point(fleet: Fleet) -> None:
    """Never Expire keeps the point and its natives past the old expiry."""
    point = fleet.point(fleet.back_up(retention=2))
    fleet.hbr.extend_backup_retention(snapshot_id=point.snapshot_id, retention_days=None)
    fleet.cloud.advance(dt.timedelta(days=30))
    shown = fleet.point(point.snapshot_id)
    assert (None, None) == (shown.retention, shown.expire_time)
    assert all(fleet.exists(n) for n in point.native_snapshot_id_list)


def test_disk_level_extension_outlives_instance_point(fleet: Fleet) -> None:
    """A disk point extended alone stays after its instance point expires, then goes."""
    point = fleet.point(fleet.back_up(retention=2))
    child = point.disk_point_ids[1]
    fleet.hbr.extend_backup_retention(snapshot_id=child, retention_days=5)
    fleet.cloud.run_until(point.created_time + dt.timedelta(days=3))
    found = fleet.hbr.describe_udm_snapshots(
        source_type="UDM_ECS_DISK", start_time=0, end_time=2**33
    )
    assert [child] == [p.snapshot_id for p in found]
    assert [True, False, True] == [not fleet.exists(n) for n in point.native_snapshot_id_list]
    fleet.cloud.run_until(point.created_time + dt.timedelta(days=5, minutes=10))
    assert not fleet.exists(point.native_snapshot_id_list[1])
    check_invariants(fleet.cloud)


def test_keep_latest_holds_last_point(fleet: Fleet) -> None:
    """Keep-latest never expires the instance's last point; the next point releases it."""
    first = fleet.point(fleet.back_up(PointRetention(1, keep_latest=True)))
    fleet.cloud.advance(dt.timedelta(days=5))
    assert first.snapshot_id == fleet.point(first.snapshot_id).snapshot_id
    assert all(fleet.exists(n) for n in first.native_snapshot_id_list)
    second = fleet.back_up(PointRetention(1, keep_latest=True))
    found = fleet.hbr.describe_udm_snapshots(source_type="UDM_ECS", start_time=0, end_time=2**33)
    assert [second] == [p.snapshot_id for p in found]
    check_invariants(fleet.cloud)


def test_native_used_by_disk_survives_and_leaves_lifecycle(fleet: Fleet) -> None:
    """A native snapshot used to create a disk survives the point's deletion, kept forever."""
    point = fleet.point(fleet.back_up())
    native = point.native_snapshot_id_list[1]
    fleet.ecs.create_disk(zone_id=ZONE, snapshot_id=native, disk_category="cloud_essd")
    fleet.hbr.delete_snapshot(snapshot_id=point.snapshot_id)
    [kept] = fleet.ecs.describe_snapshots(snapshot_ids=[native]).items
    assert None is kept.retention_days
    assert not fleet.exists(point.native_snapshot_id_list[0])


def test_delete_backups_in_range_all_or_nothing(fleet: Fleet) -> None:
    """Deleting a time range refuses wholly when one point in it is immutable."""
    fleet.back_up()
    fleet.cloud.advance(dt.timedelta(hours=1))
    fleet.back_up(PointRetention(5, immutable=True))
    rejected_unchanged(
        fleet.cloud,
        errors.OperationDeniedError,
        "OperationDenied.ImmutableBackup",
        lambda: fleet.hbr.delete_backups_in_range(
            instance_id=fleet.vm, start_time=0, end_time=2**33
        ),
    )


def test_stop_backup_keeps_points_usable(fleet: Fleet) -> None:
    """DeleteUdmEcsInstance (Stop Backup) leaves the instance's points usable."""
    policy = fleet.hbr.create_policy_v2(
        rules=[Rule("BACKUP", schedule="I|1704067200|P1D", retention=7)]
    )
    fleet.hbr.create_policy_bindings(
        policy_id=policy, policy_binding_list=[PolicyBindingRequest(fleet.vm)]
    )
    point_id = fleet.back_up()
    fleet.hbr.delete_udm_ecs_instance(instance_id=fleet.vm)
    assert fleet.point(point_id).usable
    fleet.hbr.extend_backup_retention(snapshot_id=point_id, retention_days=30)


def test_time_window_includes_both_ends(fleet: Fleet) -> None:
    """StartTime and EndTime are whole UNIX seconds, both included."""
    point = fleet.point(fleet.back_up())
    second = int(point.created_time.timestamp())

    def count(start: int, end: int, **filters: object) -> int:
        return fleet.hbr.describe_udm_snapshots(
            source_type="UDM_ECS",
            start_time=start,
            end_time=end,
            **filters,  # type: ignore[arg-type]
        ).total_count

    for filters in ({"instance_id": fleet.vm}, {"snapshot_ids": [point.snapshot_id]}, {}):
        assert (1, 1, 0, 0) == (
            count(second, second, **filters),
            count(0, second, **filters),
            count(0, second - 1, **filters),
            count(second + 1, 2**33, **filters),
        )


def test_point_in_last_microsecond_of_end_second_is_included(fleet: Fleet) -> None:
    """A point created at the last microsecond of EndTime's second is listed on every path."""
    now = fleet.cloud.now()
    fleet.cloud.advance(dt.timedelta(seconds=1, microseconds=999_999 - now.microsecond))
    point = fleet.point(fleet.back_up())
    assert 999_999 == point.created_time.microsecond
    second = int(point.created_time.timestamp())
    for source_type, filters in (
        ("UDM_ECS", {}),
        ("UDM_ECS", {"instance_id": fleet.vm}),
        ("UDM_ECS", {"disk_id": fleet.disks[0]}),
        ("UDM_ECS_DISK", {"disk_id": fleet.disks[0]}),
        ("UDM_ECS_DISK", {}),
    ):
        found = fleet.hbr.describe_udm_snapshots(
            source_type=source_type,
            start_time=second,
            end_time=second,
            **filters,  # type: ignore[arg-type]
        )
        assert found.total_count > 0, (source_type, filters)


def test_latest_end_time_accepted_reads_every_path(fleet: Fleet) -> None:
    """EndTime at its ceiling (9999-12-31 23:59:59) answers on every read path, no overflow."""
    point = fleet.point(fleet.back_up())
    ceiling = 253_402_300_799
    paths: list[dict[str, object]] = [
        {},
        {"instance_id": fleet.vm},
        {"disk_id": fleet.disks[0]},
        {"job_id": point.job_id},
        {"snapshot_ids": [point.snapshot_id]},
    ]
    for source_type in ("UDM_ECS", "UDM_ECS_DISK"):
        expected = 1 if source_type == "UDM_ECS" else len(fleet.disks)
        for filters in paths:
            if source_type == "UDM_ECS_DISK" and "disk_id" in filters:
                want = 1
            elif source_type == "UDM_ECS_DISK" and "snapshot_ids" in filters:
                want = 0
            else:
                want = expected
            found = fleet.hbr.describe_udm_snapshots(
                source_type=source_type,
                start_time=0,
                end_time=ceiling,
                **filters,  # type: ignore[arg-type]
            )
            assert (want, want) == (found.total_count, len(found.snapshots)), filters


def test_filters_by_disk_job_and_instance(fleet: Fleet) -> None:
    """DiskId, JobId and InstanceId filters give the points they name, UDM_ECS or disk."""
    first = fleet.back_up()
    fleet.cloud.advance(dt.timedelta(hours=2))
    second = fleet.back_up()
    disk = fleet.disks[1]

    def ids(source_type: str, **filters: object) -> list[str]:
        found = fleet.hbr.describe_udm_snapshots(
            source_type=source_type,
            start_time=0,
            end_time=2**33,
            **filters,  # type: ignore[arg-type]
        )
        return [p.snapshot_id for p in found]

    assert [first, second] == ids("UDM_ECS", disk_id=disk)
    assert [first] == ids("UDM_ECS", job_id="job-00000000000000000001")
    assert [first, second] == ids("UDM_ECS", instance_id=fleet.vm)
    assert [] == ids("UDM_ECS", instance_id="i-other")
    disk_points = ids("UDM_ECS_DISK", disk_id=disk)
    assert [fleet.point(first).disk_point_ids[1], fleet.point(second).disk_point_ids[1]] == (
        disk_points
    )


class Sneaky(str):
    """A str subclass that lies about equality."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = str.__hash__


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"source_type": "ECS"}, "BadRequest"),
        ({"start_time": True}, "BadRequest"),
        ({"start_time": 1.5}, "BadRequest"),
        ({"end_time": -1}, "BadRequest"),
        ({"snapshot_ids": ["s-1", "s-1"]}, "BadRequest"),
        ({"snapshot_ids": "s-1"}, "BadRequest"),
        ({"instance_id": "i-\ud800"}, "BadRequest"),
    ],
)
def test_describe_refuses_bad_requests(fleet: Fleet, fields: dict[str, object], code: str) -> None:
    """Malformed DescribeUdmSnapshots requests are refused with BadRequest."""
    request: dict[str, object] = {"source_type": "UDM_ECS", "start_time": 0, "end_time": 2**33}
    request.update(fields)
    rejected_unchanged(
        fleet.cloud,
        errors.InvalidParameterError,
        code,
        lambda: fleet.hbr.describe_udm_snapshots(**request),  # type: ignore[arg-type]
    )


def test_hostile_ids_find_nothing(fleet: Fleet) -> None:
    """A str subclass id is read as its plain value: it deletes nothing it does not name."""
    point_id = fleet.back_up()
    rejected_unchanged(
        fleet.cloud,
        errors.ResourceNotFoundError,
        "ResourceNotFound",
        lambda: fleet.hbr.delete_snapshot(snapshot_id=Sneaky("s-0000000000000000000x")),
    )
    fleet.hbr.delete_snapshot(snapshot_id=Sneaky(point_id))
    assert (
        0
        == fleet.hbr.describe_udm_snapshots(
            source_type="UDM_ECS", start_time=0, end_time=2**33
        ).total_count
    )


def test_delete_disk_point_alone(fleet: Fleet) -> None:
    """Deleting one disk point removes its native snapshot; its instance point lists the rest."""
    point = fleet.point(fleet.back_up())
    fleet.hbr.delete_snapshot(snapshot_id=point.disk_point_ids[0], source_type="UDM_ECS_DISK")
    shown = fleet.point(point.snapshot_id)
    assert (point.disk_id_list[1:], "PARTIAL_COMPLETE") == (shown.disk_id_list, shown.status)
    assert not fleet.exists(point.native_snapshot_id_list[0])
    check_invariants(fleet.cloud)


def test_wrong_source_type_or_instance_is_not_found(fleet: Fleet) -> None:
    """DeleteSnapshot naming another SourceType or InstanceId finds nothing, changes nothing."""
    point_id = fleet.back_up()
    for fields in ({"source_type": "UDM_ECS_DISK"}, {"instance_id": "i-someoneelse"}):
        rejected_unchanged(
            fleet.cloud,
            errors.ResourceNotFoundError,
            "ResourceNotFound",
            lambda fields=fields: fleet.hbr.delete_snapshot(snapshot_id=point_id, **fields),  # type: ignore[misc]
        )


def test_before_open_service_not_activated() -> None:
    """Before OpenHbrService, describing points answers ServiceNotActivated."""
    cloud = make_cloud()
    rejected_unchanged(
        cloud,
        errors.OperationDeniedError,
        "ServiceNotActivated",
        lambda: cloud.hbr(REGION).describe_udm_snapshots(
            source_type="UDM_ECS", start_time=0, end_time=1
        ),
    )


def test_group_level_extension(fleet: Fleet) -> None:
    """Extend Retention of a consistency group extends its instance point and disk points."""
    point_id = fleet.back_up(snapshot_group_id="ssg-testgroup")
    fleet.hbr.extend_backup_retention(snapshot_group_id="ssg-testgroup", retention_days=99)
    point = fleet.point(point_id)
    children = [fleet.point(c, "UDM_ECS_DISK").retention for c in point.disk_point_ids]
    assert (99, [99, 99, 99]) == (point.retention, children)


WINDOW = 64 * 1024


@settings(max_examples=15, deadline=None)
@given(
    writes=st.lists(
        st.tuples(st.integers(0, WINDOW - 1), st.binary(min_size=1, max_size=6000)),
        min_size=1,
        max_size=4,
    )
)
def test_every_point_restores_byte_exact(writes: list[tuple[int, bytes]]) -> None:
    """Each point, restored to a new disk through ECS, holds exactly what the disk held when it
    was backed up, whatever was written after."""
    fleet = Fleet()
    disk = fleet.disks[1]
    model = bytearray(WINDOW)
    expected: dict[str, bytes] = {}
    for offset, data in writes:
        data = data[: WINDOW - offset]
        fleet.ecs.write_disk(disk, offset, data)
        model[offset : offset + len(data)] = data
        expected[fleet.back_up()] = bytes(model)
    fleet.ecs.write_disk(disk, 0, b"\x5a" * WINDOW)
    for point_id, contents in expected.items():
        native = fleet.point(point_id).native_snapshot_id_list[1]
        restored = fleet.ecs.create_disk(
            zone_id=ZONE, snapshot_id=native, disk_category="cloud_essd"
        )
        fleet.ecs.attach_disk(instance_id=fleet.vm, disk_id=restored)
        settle(fleet.cloud)
        assert contents == fleet.ecs.read_disk(restored, 0, WINDOW)


def test_statistics_lag_at_most_a_day_live_is_exact(fleet: Fleet) -> None:
    """The console's capacity is refreshed at most once per 24 h; the live figure is exact
    and equals the sum of the protected disks' snapshot chains."""
    policy = fleet.hbr.create_policy_v2(
        rules=[Rule("BACKUP", schedule="I|1704067200|P1D", retention=7)]
    )
    fleet.hbr.create_policy_bindings(
        policy_id=policy, policy_binding_list=[PolicyBindingRequest(fleet.vm)]
    )
    before = fleet.hbr.describe_backup_capacity()
    fleet.ecs.write_disk(fleet.disks[1], 0, b"x" * 3 * 4096)
    fleet.back_up()
    live = fleet.hbr.live_backup_capacity()
    chains = {
        link.source_disk_id: link.total_size
        for link in fleet.ecs.describe_snapshot_links(instance_id=fleet.vm).items
    }
    assert sum(chains.values()) == live.instance_backup_capacity > 0
    [instance] = live.instances
    assert {d.disk_id: d.backup_bytes for d in instance.disks} == {
        d: chains.get(d, 0) for d in fleet.disks
    }
    fleet.cloud.run_until(before.refreshed_time + dt.timedelta(hours=24, microseconds=-1))
    assert before == fleet.hbr.describe_backup_capacity()
    fleet.cloud.run_until(before.refreshed_time + dt.timedelta(hours=24))
    shown = fleet.hbr.describe_backup_capacity()
    assert (live.instance_backup_capacity, fleet.cloud.now()) == (
        shown.instance_backup_capacity,
        shown.refreshed_time,
    )


class LateDatetime(dt.datetime):
    """A datetime subclass, as pandas' Timestamp is."""


def test_record_point_takes_datetime_subclass_and_refuses_naive(fleet: Fleet) -> None:
    """A datetime subclass is stored as a plain UTC datetime; a naive one is refused and the
    failed recording leaves nothing behind."""
    native = fleet.ecs.create_snapshot(disk_id=fleet.disks[0])
    now = fleet.cloud.now()
    odd = LateDatetime(now.year, now.month, now.day, tzinfo=dt.timezone.utc)

    def record(created: dt.datetime) -> str:
        with fleet.hbr._world.store.unit():
            return fleet.hbr._record_point(
                job_id="job-1",
                instance_id=fleet.vm,
                created=created,
                disks=[DiskSnapshotTaken(fleet.disks[0], native)],
                retention=PointRetention(3),
            )

    rejected_unchanged(
        fleet.cloud,
        errors.InvalidParameterError,
        "InvalidParameter",
        lambda: record(now.replace(tzinfo=None)),
    )
    point = fleet.point(record(odd))
    assert dt.datetime is type(point.created_time)


def test_record_point_with_missing_native_changes_nothing(fleet: Fleet) -> None:
    """Recording a point whose native snapshot does not exist fails and leaves nothing."""

    def record() -> str:
        with fleet.hbr._world.store.unit():
            return fleet.hbr._record_point(
                job_id="job-1",
                instance_id=fleet.vm,
                created=fleet.cloud.now(),
                disks=[DiskSnapshotTaken(fleet.disks[0], "s-nosuchsnapshot")],
                retention=PointRetention(3),
            )

    rejected_unchanged(
        fleet.cloud, errors.ResourceNotFoundError, "InvalidSnapshotId.NotFound", record
    )


def test_delete_backups_in_range_deletes_exactly_the_window(fleet: Fleet) -> None:
    """Delete Backups removes the instance's points in the window, and only those."""
    first = fleet.point(fleet.back_up())
    fleet.cloud.advance(dt.timedelta(hours=3))
    second = fleet.point(fleet.back_up())
    start = int(second.created_time.timestamp())
    task_id = fleet.hbr.delete_backups_in_range(
        instance_id=fleet.vm, start_time=start, end_time=start + 60
    )
    fleet.cloud.advance(dt.timedelta(minutes=10))
    task = fleet.hbr.describe_task(task_id=task_id)
    assert {"DeletedSnapshotIds": [second.snapshot_id]} == task.result_data()
    found = fleet.hbr.describe_udm_snapshots(source_type="UDM_ECS", start_time=0, end_time=2**33)
    assert [first.snapshot_id] == [p.snapshot_id for p in found]
    assert not any(fleet.exists(n) for n in second.native_snapshot_id_list)
    check_invariants(fleet.cloud)


def _native_timers(fleet: Fleet, natives: tuple[str, ...]) -> list[str]:
    """The ECS expiry timers pending for ``natives``."""
    return [
        t.target_id
        for t in fleet.cloud._world.engine.pending()
        if t.action == "ecs.snapshot_expire" and t.target_id in natives
    ]


def test_recorded_point_manages_its_natives_with_one_timer(fleet: Fleet) -> None:
    """A recorded point's natives keep its retention in ECS but no ECS timer: the point's one
    timer releases them (as ECS would: reason ``retention``)."""
    point = fleet.point(fleet.back_up(retention=3))
    natives = point.native_snapshot_id_list
    shown = fleet.ecs.describe_snapshots(snapshot_ids=list(natives)).items
    expire = point.expire_time
    assert expire is not None
    assert ([3, 3, 3], []) == ([s.retention_days for s in shown], _native_timers(fleet, natives))
    since = fleet.cloud.events.list()[-1].sequence
    fleet.cloud.run_until(expire)
    deleted = {
        e.snapshot_id: e.reason
        for e in fleet.cloud.events.list(since=since)
        if isinstance(e, SnapshotDeleted)
    }
    assert dict.fromkeys(natives, "retention") == deleted
    check_invariants(fleet.cloud)


def test_deleting_a_point_hands_a_locked_native_back_to_ecs(fleet: Fleet) -> None:
    """A native its owner locked in ECS outlives DeleteSnapshot, then ECS expires it itself
    (its timer set again) when its retention runs out."""
    point = fleet.point(fleet.back_up(retention=5))
    locked = point.native_snapshot_id_list[0]
    fleet.ecs.lock_snapshot(snapshot_id=locked, lock_duration=2)
    fleet.hbr.delete_snapshot(snapshot_id=point.snapshot_id)
    assert ([True, False, False], [locked]) == (
        [fleet.exists(n) for n in point.native_snapshot_id_list],
        _native_timers(fleet, point.native_snapshot_id_list),
    )
    check_invariants(fleet.cloud)
    fleet.cloud.advance(dt.timedelta(days=3))
    assert fleet.exists(locked)  # lock over, retention not yet
    check_invariants(fleet.cloud)
    fleet.cloud.advance(dt.timedelta(days=2))
    assert not fleet.exists(locked)
    check_invariants(fleet.cloud)


def test_expiry_of_a_point_keeps_a_native_locked_and_kept_longer_in_ecs(fleet: Fleet) -> None:
    """At a point's expiry a native its owner kept longer and locked in ECS stays until its
    own retention (past the lock) runs out."""
    point = fleet.point(fleet.back_up(retention=1))
    locked = point.native_snapshot_id_list[1]
    fleet.ecs.modify_snapshot_attribute(snapshot_id=locked, retention_days=5)
    fleet.ecs.lock_snapshot(snapshot_id=locked, lock_duration=3)
    fleet.cloud.advance(dt.timedelta(days=1, minutes=1))
    assert [False, True, False] == [fleet.exists(n) for n in point.native_snapshot_id_list]
    check_invariants(fleet.cloud)
    fleet.cloud.advance(dt.timedelta(days=3))
    assert fleet.exists(locked)  # lock over, its own retention not yet
    check_invariants(fleet.cloud)
    fleet.cloud.advance(dt.timedelta(days=1))
    assert not fleet.exists(locked)
    check_invariants(fleet.cloud)


def test_extending_a_disk_point_keeps_managing_its_native(fleet: Fleet) -> None:
    """A disk point extended past its instance point keeps its native (no ECS timer) until the
    disk point itself expires."""
    point = fleet.point(fleet.back_up(retention=1))
    child = point.disk_point_ids[0]
    native = point.native_snapshot_id_list[0]
    fleet.hbr.extend_backup_retention(snapshot_id=child, retention_days=3)
    assert ([3], []) == (
        [s.retention_days for s in fleet.ecs.describe_snapshots(snapshot_ids=[native]).items],
        _native_timers(fleet, (native,)),
    )
    fleet.cloud.advance(dt.timedelta(days=1, minutes=1))
    assert [True, False, False] == [fleet.exists(n) for n in point.native_snapshot_id_list]
    check_invariants(fleet.cloud)
    fleet.cloud.advance(dt.timedelta(days=2))
    assert not fleet.exists(native)
    check_invariants(fleet.cloud)
