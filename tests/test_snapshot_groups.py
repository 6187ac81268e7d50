"""Snapshot-consistent groups: the rules of CreateSnapshotGroup, and cross-disk consistency."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from _helpers import (
    INSTANCE_TYPE,
    OTHER_ZONE,
    REGION,
    ZONE,
    data_disk_ids,
    make_cloud,
    raises_code,
    rejected_unchanged,
    run_instance,
    settle,
    stop,
    system_disk_id,
)
from cloudbackup import (
    Cloud,
    DataDisk,
    DiskDeviceMapping,
    EcsService,
    Limits,
    ResetDiskSpec,
    SnapshotGroupStatus,
    SnapshotStatus,
    errors,
)

# -- rules ---------------------------------------------------------------------------


def test_group_of_an_instance_captures_every_disk_at_one_instant() -> None:
    """With only instance_id, every disk gets a member snapshot, all at the same instant."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)] * 2)
    group_id = ecs.create_snapshot_group(instance_id=iid, name="nightly", description="all disks")
    [group] = ecs.describe_snapshot_groups().items
    members = [ecs.describe_snapshot(s) for s in group.snapshot_ids]
    disks = {d.disk_id for d in ecs.describe_disks(instance_id=iid).items}
    assert (group_id, iid, "nightly", "all disks") == (
        group.snapshot_group_id,
        group.instance_id,
        group.name,
        group.description,
    )
    assert group_id.startswith("ssg-bp1")
    assert disks == {s.source_disk_id for s in members}
    assert {cloud.now()} == {s.creation_time for s in members} | {group.creation_time}
    assert {group_id} == {s.snapshot_group_id for s in members}
    assert all(("acs:ecs:createFrom", iid) in s.tags for s in members)
    assert (SnapshotGroupStatus.accomplished, "100%") == (group.status, group.progress)


def test_disk_ids_choose_members_and_exclude_ids_drop_them() -> None:
    """DiskId picks members; ExcludeDiskId leaves disks of the instance out."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)] * 2)
    a, b = data_disk_ids(ecs, iid)
    system = system_disk_id(ecs, iid)
    picked = ecs.create_snapshot_group(instance_id=iid, disk_ids=[a])
    dropped = ecs.create_snapshot_group(instance_id=iid, exclude_disk_ids=[a])

    def sources(group_id: str) -> set[str]:
        [group] = ecs.describe_snapshot_groups(snapshot_group_ids=[group_id]).items
        return {ecs.describe_snapshot(s).source_disk_id for s in group.snapshot_ids}

    assert {a} == sources(picked)
    assert {b, system} == sources(dropped)


def test_disk_id_and_exclude_disk_id_conflict() -> None:
    """Both lists at once: InvalidParam.ExcludeDiskIdsAndDiskIds.Conflict."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)] * 2)
    a, b = data_disk_ids(ecs, iid)
    rejected_unchanged(
        cloud,
        errors.DependencyViolationError,
        "InvalidParam.ExcludeDiskIdsAndDiskIds.Conflict",
        lambda: ecs.create_snapshot_group(instance_id=iid, disk_ids=[a], exclude_disk_ids=[b]),
    )


def test_group_needs_an_instance_or_disks() -> None:
    """Neither instance nor disks: MissingParameter."""
    cloud = make_cloud()
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "MissingParamter.InstanceId",
        lambda: cloud.ecs(REGION).create_snapshot_group(),
    )


def test_with_instance_only_its_disks_may_be_named() -> None:
    """Another instance's disk with instance_id: InvalidParameter.DiskId; unknown: NotFound."""
    cloud = make_cloud()
    ecs, a = run_instance(cloud)
    _, b = run_instance(cloud, data_disks=[DataDisk(size=20)])
    [foreign] = data_disk_ids(ecs, b)
    rejected_unchanged(
        cloud,
        errors.DependencyViolationError,
        "InvalidParameter.DiskId",
        lambda: ecs.create_snapshot_group(instance_id=a, disk_ids=[foreign]),
    )
    rejected_unchanged(
        cloud,
        errors.ResourceNotFoundError,
        "InvalidDiskId.NotFound",
        lambda: ecs.create_snapshot_group(instance_id=a, exclude_disk_ids=["d-nope"]),
    )


def test_disks_of_several_instances_in_one_zone() -> None:
    """Without instance_id, disks of several instances of one zone form one group."""
    cloud = make_cloud()
    ecs, a = run_instance(cloud, data_disks=[DataDisk(size=20)])
    _, b = run_instance(cloud, data_disks=[DataDisk(size=20)])
    disks = data_disk_ids(ecs, a) + data_disk_ids(ecs, b)
    group_id = ecs.create_snapshot_group(disk_ids=disks)
    [group] = ecs.describe_snapshot_groups(snapshot_group_ids=[group_id]).items
    assert group.instance_id is None
    assert 2 == len(group.snapshot_ids)


def test_disks_must_share_one_zone() -> None:
    """Disks of two zones: InvalidDiskIds.NotInSameZone."""
    cloud = make_cloud()
    ecs, a = run_instance(cloud, data_disks=[DataDisk(size=20)])
    _, b = run_instance(cloud, zone=OTHER_ZONE, data_disks=[DataDisk(size=20)])
    disks = data_disk_ids(ecs, a) + data_disk_ids(ecs, b)
    rejected_unchanged(
        cloud,
        errors.DependencyViolationError,
        "InvalidDiskIds.NotInSameZone",
        lambda: ecs.create_snapshot_group(disk_ids=disks),
    )


@pytest.mark.parametrize("category", ["cloud_essd", "cloud_auto", "cloud_essd_entry"])
def test_essd_family_is_accepted(category: str) -> None:
    """ESSD, ESSD AutoPL and ESSD Entry disks may be grouped."""
    cloud = make_cloud()
    ecs, iid = run_instance(
        cloud, system_disk=None, data_disks=[DataDisk(category=category, size=40)]
    )
    ecs.create_snapshot_group(instance_id=iid)


@pytest.mark.parametrize(
    "category", ["cloud", "cloud_ssd", "cloud_efficiency", "local_ssd_pro", "ephemeral_ssd"]
)
def test_other_categories_are_refused(category: str) -> None:
    """A non-ESSD member refuses the whole group: DiskCategory.OperationNotSupported."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(category=category, size=100)])
    rejected_unchanged(
        cloud,
        errors.UnsupportedOperationError,
        "DiskCategory.OperationNotSupported",
        lambda: ecs.create_snapshot_group(instance_id=iid),
    )
    [other] = data_disk_ids(ecs, iid)
    ecs.create_snapshot_group(instance_id=iid, exclude_disk_ids=[other])


def test_regional_disks_group_only_with_regional_disks() -> None:
    """Regional ESSD with zonal ESSD: InvalidDisk.DiskCategoryInconsistent."""
    cloud = make_cloud()
    ecs, iid = run_instance(
        cloud, data_disks=[DataDisk(category="cloud_regional_disk_auto", size=20)]
    )
    rejected_unchanged(
        cloud,
        errors.DependencyViolationError,
        "InvalidDisk.DiskCategoryInconsistent",
        lambda: ecs.create_snapshot_group(instance_id=iid),
    )
    ecs.create_snapshot_group(instance_id=iid, disk_ids=data_disk_ids(ecs, iid))


def test_multi_attach_disks_are_refused() -> None:
    """A multi-attach member: InvalidOperation.MultiAttachDisk."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud)
    shared = ecs.create_disk(
        zone_id=ZONE, disk_category="cloud_essd", size=20, multi_attach="Enabled"
    )
    ecs.attach_disk(instance_id=iid, disk_id=shared)
    rejected_unchanged(
        cloud,
        errors.UnsupportedOperationError,
        "InvalidOperation.MultiAttachDisk",
        lambda: ecs.create_snapshot_group(instance_id=iid),
    )
    ecs.create_snapshot_group(instance_id=iid, exclude_disk_ids=[shared])


def test_member_rules_of_create_snapshot_apply() -> None:
    """A member that could not be snapshotted alone refuses the group (instance Stopping)."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud)
    ecs.stop_instance(iid)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "IncorrectInstanceStatus",
        lambda: ecs.create_snapshot_group(instance_id=iid),
    )


def test_disk_count_limit_is_configurable() -> None:
    """Limits.snapshot_group_max_disks caps members: NumberExceed.TooManyDisks."""
    cloud = Cloud(block_size=4096, limits=Limits(snapshot_group_max_disks=2))
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)] * 2)
    raises_code(
        errors.QuotaExceededError,
        "NumberExceed.TooManyDisks",
        lambda: ecs.create_snapshot_group(instance_id=iid),
    )
    error = raises_code(
        errors.CloudBackupError,
        "NumberExceed.TooManyDisks",
        lambda: ecs.create_snapshot_group(
            disk_ids=[*data_disk_ids(ecs, iid), system_disk_id(ecs, iid)]
        ),
    )
    assert isinstance(error, errors.CloudBackupError)
    ecs.create_snapshot_group(instance_id=iid, disk_ids=data_disk_ids(ecs, iid))


def test_capacity_limit_is_configurable() -> None:
    """Limits.snapshot_group_max_tib caps total size: CapacityExceed.TooManyDisks."""
    cloud = Cloud(block_size=4096, limits=Limits(snapshot_group_max_tib=1))
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=1000)])
    rejected_unchanged(
        cloud,
        errors.QuotaExceededError,
        "CapacityExceed.TooManyDisks",
        lambda: ecs.create_snapshot_group(instance_id=iid),
    )
    ecs.create_snapshot_group(instance_id=iid, disk_ids=data_disk_ids(ecs, iid))


def test_default_limits_are_128_disks_and_256_tib() -> None:
    """By default 256 TiB fit in a group and one GiB more does not."""
    limits = Limits()
    assert (128, 256) == (limits.snapshot_group_max_disks, limits.snapshot_group_max_tib)
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=65536)] * 4)
    big = data_disk_ids(ecs, iid)
    ecs.create_snapshot_group(instance_id=iid, disk_ids=big)
    rejected_unchanged(
        cloud,
        errors.QuotaExceededError,
        "CapacityExceed.TooManyDisks",
        lambda: ecs.create_snapshot_group(instance_id=iid),
    )


def test_default_disk_count_limit_is_128() -> None:
    """128 disks in one group are accepted; 129 are NumberExceed.TooManyDisks."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    instances = ecs.run_instances(
        zone_id=ZONE, instance_type=INSTANCE_TYPE, data_disks=[DataDisk(size=20)] * 16, amount=9
    )
    settle(cloud)
    disks = [d for iid in instances for d in data_disk_ids(ecs, iid)]
    group_id = ecs.create_snapshot_group(disk_ids=disks[:128])
    assert 128 == len(
        ecs.describe_snapshot_groups(snapshot_group_ids=[group_id]).items[0].snapshot_ids
    )
    raises_code(
        errors.CloudBackupError,
        "NumberExceed.TooManyDisks",
        lambda: ecs.create_snapshot_group(disk_ids=disks[:129]),
    )


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"name": "x"}, "InvalidParameter.Name"),
        ({"name": "http://g"}, "InvalidParameter.Name"),
        ({"description": "x"}, "InvalidDescription.Malformed"),
        ({"tags": [("k", "v")] * 21}, "InvalidTagCount"),
    ],
)
def test_group_parameters_are_validated(kwargs: dict[str, object], code: str) -> None:
    """Names, descriptions and tags follow the ECS rules."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        code,
        lambda: ecs.create_snapshot_group(instance_id=iid, **kwargs),  # type: ignore[arg-type]
    )


def test_describe_snapshot_groups_filters_and_pages() -> None:
    """DescribeSnapshotGroups filters by id, instance, name and status and pages by token."""
    cloud = make_cloud()
    ecs, a = run_instance(cloud)
    _, b = run_instance(cloud)
    groups = [ecs.create_snapshot_group(instance_id=a, name=f"g{n}x") for n in range(3)]
    other = ecs.create_snapshot_group(instance_id=b)

    def ids(**kwargs: object) -> list[str]:
        return [
            g.snapshot_group_id
            for g in ecs.describe_snapshot_groups(max_results=100, **kwargs).items
        ]  # type: ignore[arg-type]

    assert set(groups) | {other} == set(ids())
    assert set(groups) == set(ids(instance_id=a))
    assert [groups[1]] == ids(name="g1x")
    assert set(groups) | {other} == set(ids(status=["accomplished"]))
    assert [] == ids(status=["progressing"])
    first = ecs.describe_snapshot_groups(max_results=3)
    assert (3, 4) == (len(first.items), first.total_count)
    assert first.next_token is not None
    rest = ecs.describe_snapshot_groups(max_results=3, next_token=first.next_token)
    assert (1, None) == (len(rest.items), rest.next_token)
    assert set(groups) | {other} == {g.snapshot_group_id for g in first.items + rest.items}
    raises_code(
        errors.InvalidParameterError,
        "InvalidParameter.NextToken",
        lambda: ecs.describe_snapshot_groups(next_token="abc"),
    )


@pytest.mark.parametrize("status", [0, 1.5, True, object(), "accomplished", ["done"]])
def test_describe_snapshot_groups_validates_status(status: object) -> None:
    """Status.N must be a list of group statuses; anything else is InvalidParameter.Status."""
    ecs = make_cloud().ecs(REGION)
    raises_code(
        errors.InvalidParameterError,
        "InvalidParameter.Status",
        lambda: ecs.describe_snapshot_groups(status=status),  # type: ignore[arg-type]
    )


def test_describe_snapshot_groups_takes_at_most_ten_ids() -> None:
    """SnapshotGroupId.N takes 1–10 ids."""
    ecs = make_cloud().ecs(REGION)
    assert (
        0
        == ecs.describe_snapshot_groups(
            snapshot_group_ids=[f"ssg-{n}" for n in range(10)]
        ).total_count
    )
    raises_code(
        errors.InvalidParameterError,
        "InvalidParameter.SnapshotGroupId",
        lambda: ecs.describe_snapshot_groups(snapshot_group_ids=[f"ssg-{n}" for n in range(11)]),
    )


def test_delete_group_deletes_its_members() -> None:
    """DeleteSnapshotGroup removes the group and its member snapshots."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)])
    group_id = ecs.create_snapshot_group(instance_id=iid)
    ecs.delete_snapshot_group(group_id)
    assert 0 == ecs.describe_snapshots().total_count
    assert 0 == ecs.describe_snapshot_groups().total_count
    raises_code(
        errors.ResourceNotFoundError,
        "InvalidSnapshotGroup.NotFound",
        lambda: ecs.delete_snapshot_group(group_id),
    )


def test_delete_group_keeps_members_used_by_an_image() -> None:
    """A member used by a custom image survives the group's deletion, outside any group."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)])
    group_id = ecs.create_snapshot_group(instance_id=iid)
    [group] = ecs.describe_snapshot_groups().items
    system_snap = next(
        s for s in group.snapshot_ids if ecs.describe_snapshot(s).source_disk_type.value == "system"
    )
    ecs.create_image(disk_device_mappings=[DiskDeviceMapping(system_snap, disk_type="system")])
    ecs.delete_snapshot_group(group_id)
    [kept] = ecs.describe_snapshots().items
    assert (system_snap, None) == (kept.snapshot_id, kept.snapshot_group_id)
    assert 0 == ecs.describe_snapshot_groups().total_count


def test_delete_group_is_refused_whole_by_a_disk_user_or_a_lock() -> None:
    """A member used by a disk or locked refuses the whole deletion; nothing is deleted."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)])
    group_id = ecs.create_snapshot_group(instance_id=iid)
    [group] = ecs.describe_snapshot_groups().items
    first, second = group.snapshot_ids
    disk = ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", snapshot_id=second)
    rejected_unchanged(
        cloud,
        errors.OperationDeniedError,
        "SnapshotCreatedDisk",
        lambda: ecs.delete_snapshot_group(group_id),
    )
    ecs.delete_disk(disk)
    ecs.lock_snapshot(snapshot_id=first, lock_duration=1)
    rejected_unchanged(
        cloud,
        errors.OperationDeniedError,
        "OperationDenied.SnapshotLocked",
        lambda: ecs.delete_snapshot_group(group_id),
    )


def test_deleting_every_member_deletes_the_group() -> None:
    """When its last member snapshot goes, the group goes with it."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud)
    group_id = ecs.create_snapshot_group(instance_id=iid)
    [member] = ecs.describe_snapshot_groups().items[0].snapshot_ids
    ecs.delete_snapshot(member)
    raises_code(
        errors.ResourceNotFoundError,
        "InvalidSnapshotGroup.NotFound",
        lambda: ecs.delete_snapshot_group(group_id),
    )


# -- consistency ---------------------------------------------------------------------

REC = 4096


class App:
    """A database on two disks: each transaction writes its data record, then its commit record.

    The invariant: every commit in the log refers to a data record present on the data disk.
    """

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.ecs: EcsService
        self.ecs, self.instance = run_instance(cloud, data_disks=[DataDisk(size=20)] * 2)
        self.log, self.data = data_disk_ids(self.ecs, self.instance)
        _, self.reader = run_instance(cloud)

    def write_data(self, n: int) -> None:
        self.ecs.write_disk(self.data, n * REC, b"DATA%06d" % n)

    def commit(self, n: int) -> None:
        self.ecs.write_disk(self.log, n * 64, b"COMMIT%06d" % n)

    def read_copy(self, snapshot_id: str, count: int, step: int) -> list[bytes]:
        disk = self.ecs.create_disk(
            zone_id=ZONE, disk_category="cloud_essd", snapshot_id=snapshot_id
        )
        self.ecs.attach_disk(instance_id=self.reader, disk_id=disk)
        records = [self.ecs.read_disk(disk, n * step, 12) for n in range(count)]
        self.ecs.detach_disk(instance_id=self.reader, disk_id=disk)
        self.ecs.delete_disk(disk)
        return records

    def consistent(self, log_snapshot: str, data_snapshot: str, count: int) -> bool:
        log = self.read_copy(log_snapshot, count, 64)
        data = self.read_copy(data_snapshot, count, REC)
        return all(
            data[n].startswith(b"DATA%06d" % n)
            for n in range(count)
            if log[n].startswith(b"COMMIT")
        )

    def group(self) -> tuple[str, str]:
        """(log snapshot, data snapshot) of a snapshot-consistent group of the two disks."""
        group_id = self.ecs.create_snapshot_group(
            instance_id=self.instance, disk_ids=[self.log, self.data]
        )
        [group] = self.ecs.describe_snapshot_groups(snapshot_group_ids=[group_id]).items
        by_disk = {self.ecs.describe_snapshot(s).source_disk_id: s for s in group.snapshot_ids}
        return by_disk[self.log], by_disk[self.data]


def test_two_single_disk_snapshots_can_tear_a_transaction() -> None:
    """Data snapshot, then a transaction, then log snapshot: the log commits missing data."""
    app = App(make_cloud())
    app.write_data(0)
    app.commit(0)
    data_snapshot = app.ecs.create_snapshot(disk_id=app.data)
    app.write_data(1)
    app.commit(1)
    log_snapshot = app.ecs.create_snapshot(disk_id=app.log)
    assert app.consistent(log_snapshot, data_snapshot, 2) is False


def test_a_snapshot_consistent_group_never_tears_it() -> None:
    """The same story with a group captured at one instant is consistent."""
    app = App(make_cloud())
    app.write_data(0)
    app.commit(0)
    app.write_data(1)
    log_snapshot, data_snapshot = app.group()
    app.commit(1)
    assert app.consistent(log_snapshot, data_snapshot, 2) is True


def test_group_rollback_restores_a_consistent_pair() -> None:
    """ResetDisks from a group brings both disks back to the same instant."""
    cloud = make_cloud()
    app = App(cloud)
    app.write_data(0)
    app.commit(0)
    log_snapshot, data_snapshot = app.group()
    app.write_data(1)
    app.commit(1)
    stop(cloud, app.ecs, app.instance)
    app.ecs.reset_disks(
        disks=[ResetDiskSpec(app.log, log_snapshot), ResetDiskSpec(app.data, data_snapshot)]
    )
    app.ecs.start_instance(app.instance)
    settle(cloud)
    assert b"COMMIT000000" == app.ecs.read_disk(app.log, 0, 12)
    assert bytes(12) == app.ecs.read_disk(app.log, 64, 12)
    assert bytes(12) == app.ecs.read_disk(app.data, REC, 12)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=5), st.data())
def test_consistency_over_random_interleavings(count: int, data: st.DataObject) -> None:
    """For any placement of the captures among the application's writes, two single-disk
    snapshots are torn exactly when some transaction's data write falls after the data
    snapshot and its commit before the log snapshot; a group is never torn."""
    steps = [step for n in range(count) for step in (("data", n), ("commit", n))]
    slots = len(steps) + 1
    at_data = data.draw(st.integers(0, slots - 1), label="data snapshot before step")
    at_log = data.draw(st.integers(0, slots - 1), label="log snapshot before step")
    at_group = data.draw(st.integers(0, slots - 1), label="group before step")
    app = App(make_cloud())
    snaps: dict[str, str] = {}
    for position in range(slots):
        if at_data == position:
            snaps["data"] = app.ecs.create_snapshot(disk_id=app.data)
        if at_log == position:
            snaps["log"] = app.ecs.create_snapshot(disk_id=app.log)
        if at_group == position:
            snaps["group_log"], snaps["group_data"] = app.group()
        if position < len(steps):
            kind, n = steps[position]
            if kind == "data":
                app.write_data(n)
            else:
                app.commit(n)
        app.cloud.advance(dt.timedelta(seconds=1))
    # Transaction n writes its data at step 2n and its commit at step 2n + 1.
    torn = any(at_data <= 2 * n and 2 * n + 1 < at_log for n in range(count))
    event(f"torn={torn}")
    assert (not torn) == app.consistent(snaps["log"], snaps["data"], count)
    assert app.consistent(snaps["group_log"], snaps["group_data"], count)
    assert SnapshotStatus.accomplished is app.ecs.describe_snapshot(snaps["group_log"]).status


def test_disks_named_with_an_instance_are_checked_in_the_order_given() -> None:
    """With instance_id and disk_ids, the first bad disk named decides: NotFound or not attached."""
    cloud = make_cloud()
    ecs, a = run_instance(cloud, data_disks=[DataDisk(size=20)])
    _, b = run_instance(cloud, data_disks=[DataDisk(size=20)])
    [own], [foreign] = data_disk_ids(ecs, a), data_disk_ids(ecs, b)
    rejected_unchanged(
        cloud,
        errors.DependencyViolationError,
        "InvalidParameter.DiskId",
        lambda: ecs.create_snapshot_group(instance_id=a, disk_ids=[own, foreign, "d-nope"]),
    )
    rejected_unchanged(
        cloud,
        errors.ResourceNotFoundError,
        "InvalidDiskId.NotFound",
        lambda: ecs.create_snapshot_group(instance_id=a, disk_ids=[own, "d-nope", foreign]),
    )
    group_id = ecs.create_snapshot_group(instance_id=a, disk_ids=[own, system_disk_id(ecs, a)])
    [group] = ecs.describe_snapshot_groups(snapshot_group_ids=[group_id]).items
    snapshots = {s.snapshot_id: s.source_disk_id for s in group.snapshots}
    assert [own, system_disk_id(ecs, a)] == [snapshots[s] for s in group.snapshot_ids]


def test_a_group_checks_the_instance_of_every_disk_it_takes() -> None:
    """A group of a Stopping instance is refused (its status is read once for all its disks)."""
    cloud = make_cloud()
    ecs, a = run_instance(cloud, data_disks=[DataDisk(size=20), DataDisk(size=20)])
    first = ecs.create_snapshot_group(instance_id=a)
    ecs.stop_instance(instance_id=a)  # Stopping: not Running nor Stopped
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "IncorrectInstanceStatus",
        lambda: ecs.create_snapshot_group(instance_id=a, disk_ids=data_disk_ids(ecs, a)),
    )
    assert first.startswith("ssg-")
