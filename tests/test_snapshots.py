"""Snapshots: CreateSnapshot rules, quotas, status, describe, retention and deletion."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import (
    GIB,
    ZONE,
    data_disk_ids,
    instance_with_disk,
    make_cloud,
    pattern,
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
    DiskCategory,
    DiskType,
    Limits,
    SnapshotStatus,
    SnapshotUsage,
    Timings,
    errors,
)

DAY = dt.timedelta(days=1)


# -- CreateSnapshot parameters -------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "a",  # too short
        "a" * 129,  # too long
        "auto-backup",  # reserved prefix
        "Auto-backup",
        "http://snap",
        "https://snap",
        "1st-snap",  # must start with a letter
        "-snap",
        "",
    ],
)
def test_invalid_snapshot_names(name: str) -> None:
    """Names must be 2–128 chars, start with a letter, not with auto or http(s)://."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidSnapshotName.Malformed",
        lambda: ecs.create_snapshot(disk_id=disk, snapshot_name=name),
    )


@pytest.mark.parametrize("name", ["ab", "a" * 128, "nightly-2024", "快照", "autumn"[1:] + "x"])
def test_valid_snapshot_names(name: str) -> None:
    """Names at the limits and CJK names are accepted and kept."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    snap = ecs.create_snapshot(disk_id=disk, snapshot_name=name)
    assert name == ecs.describe_snapshot(snap).snapshot_name


@pytest.mark.parametrize("description", ["x", "x" * 257])
def test_invalid_descriptions(description: str) -> None:
    """Descriptions must be 2–256 characters."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidDescription.Malformed",
        lambda: ecs.create_snapshot(disk_id=disk, description=description),
    )


@pytest.mark.parametrize("days", [0, -1, 65537, True, "7", 1.0])
def test_invalid_retention_days(days: object) -> None:
    """RetentionDays must be an integer 1–65,536."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidRetentionDays.Malformed",
        lambda: ecs.create_snapshot(disk_id=disk, retention_days=days),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("days", [1, 65536, None])
def test_valid_retention_days(days: int | None) -> None:
    """1 and 65,536 days are accepted; None keeps the snapshot until deleted."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    snap = ecs.describe_snapshot(ecs.create_snapshot(disk_id=disk, retention_days=days))
    assert days == snap.retention_days
    expected = None if days is None else snap.creation_time + dt.timedelta(days=days)
    assert expected == snap.expire_time


def test_tags_are_limited_to_twenty() -> None:
    """Twenty tags are fine, twenty-one are not; reserved key prefixes are refused."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    tags = [(f"k{i}", "v") for i in range(20)]
    snap = ecs.create_snapshot(disk_id=disk, tags=tags)
    assert tuple(tags) == ecs.describe_snapshot(snap).tags
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidTagCount",
        lambda: ecs.create_snapshot(disk_id=disk, tags=[*tags, ("k20", "v")]),
    )
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidTagKey.Malformed",
        lambda: ecs.create_snapshot(disk_id=disk, tags=[("acs:ecs:x", "v")]),
    )


def test_snapshot_fields_describe_its_source() -> None:
    """A snapshot records its source disk, instance, size, category and type."""
    cloud = make_cloud()
    ecs, iid, disk = instance_with_disk(cloud, size=30)
    snap = ecs.describe_snapshot(ecs.create_snapshot(disk_id=disk))
    assert (disk, iid, 30, DiskCategory.cloud_essd, DiskType.data, "user") == (
        snap.source_disk_id,
        snap.instance_id,
        snap.source_disk_size,
        snap.source_disk_category,
        snap.source_disk_type,
        snap.snapshot_type,
    )
    assert (SnapshotUsage.none, cloud.now()) == (snap.usage, snap.creation_time)
    assert snap.snapshot_id.startswith("s-bp1")


# -- status: instant ESSD vs progressing standard ------------------------------------


@pytest.mark.parametrize("category", ["cloud_essd", "cloud_auto", "cloud_essd_entry"])
def test_essd_family_snapshots_are_instant(category: str) -> None:
    """ESSD-family snapshots are accomplished, available and 100% at once."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud, category=category, size=40)
    ecs.write_disk(disk, 0, pattern(1, 50000))
    snap = ecs.describe_snapshot(ecs.create_snapshot(disk_id=disk))
    assert (SnapshotStatus.accomplished, True, True, "100%", cloud.now()) == (
        snap.status,
        snap.instant_access,
        snap.available,
        snap.progress,
        snap.completion_time,
    )


@pytest.mark.parametrize("category", ["cloud", "cloud_efficiency", "cloud_ssd"])
def test_standard_snapshots_progress_for_their_upload_time(category: str) -> None:
    """Other snapshots stay progressing for base + incremental bytes / throughput."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud, category=category, size=40)
    ecs.write_disk(disk, 0, pattern(2, 3 * 4096))
    snap_id = ecs.create_snapshot(disk_id=disk)
    snap = ecs.describe_snapshot(snap_id)
    assert (SnapshotStatus.progressing, False, "0%") == (snap.status, snap.available, snap.progress)
    duration = Timings().snapshot_duration(3 * 4096)
    created = cloud.now()
    cloud.run_until(created + duration - dt.timedelta(microseconds=1))
    assert SnapshotStatus.progressing is ecs.describe_snapshot(snap_id).status
    cloud.run_until(created + duration)
    snap = ecs.describe_snapshot(snap_id)
    assert (SnapshotStatus.accomplished, created + duration, "100%") == (
        snap.status,
        snap.completion_time,
        snap.progress,
    )


def test_one_snapshot_in_progress_per_disk() -> None:
    """A second snapshot while one progresses is IncorrectDiskStatus.CreatingSnapshot."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud, category="cloud_ssd")
    ecs.create_snapshot(disk_id=disk)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "IncorrectDiskStatus.CreatingSnapshot",
        lambda: ecs.create_snapshot(disk_id=disk),
    )
    settle(cloud)
    ecs.create_snapshot(disk_id=disk)


def test_progressing_snapshot_of_one_disk_does_not_block_another() -> None:
    """The in-progress rule is per disk."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(category="cloud_ssd", size=20)] * 2)
    a, b = data_disk_ids(ecs, iid)
    ecs.create_snapshot(disk_id=a)
    ecs.create_snapshot(disk_id=b)


# -- where snapshots may be taken ----------------------------------------------------


@pytest.mark.parametrize("category", ["local_ssd_pro", "local_hdd_pro", "ephemeral_ssd"])
def test_local_disks_cannot_be_snapshotted(category: str) -> None:
    """Local disks refuse snapshots: DiskCategory.OperationNotSupported."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(category=category, size=100)])
    [disk] = data_disk_ids(ecs, iid)
    rejected_unchanged(
        cloud,
        errors.UnsupportedOperationError,
        "DiskCategory.OperationNotSupported",
        lambda: ecs.create_snapshot(disk_id=disk),
    )


def test_elastic_ephemeral_disks_cannot_be_snapshotted() -> None:
    """Elastic ephemeral disks refuse snapshots too."""
    cloud = make_cloud()
    ecs, iid = run_instance(
        cloud, data_disks=[DataDisk(category="elastic_ephemeral_disk_standard", size=64)]
    )
    [disk] = data_disk_ids(ecs, iid)
    rejected_unchanged(
        cloud,
        errors.UnsupportedOperationError,
        "DiskCategory.OperationNotSupported",
        lambda: ecs.create_snapshot(disk_id=disk),
    )


def test_instance_must_be_running_or_stopped() -> None:
    """Pending, Starting and Stopping instances refuse snapshots; Running and Stopped allow."""
    cloud = make_cloud()
    ecs, iid, disk = instance_with_disk(cloud)
    ecs.create_snapshot(disk_id=disk)
    ecs.stop_instance(iid)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "IncorrectInstanceStatus",
        lambda: ecs.create_snapshot(disk_id=disk),
    )
    settle(cloud)
    ecs.create_snapshot(disk_id=disk)
    ecs.start_instance(iid)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "IncorrectInstanceStatus",
        lambda: ecs.create_snapshot(disk_id=disk),
    )


def test_pending_instance_refuses_snapshots() -> None:
    """A freshly created, still Pending instance's disks cannot be snapshotted."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, wait=False)
    system = system_disk_id(ecs, iid)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "IncorrectInstanceStatus",
        lambda: ecs.create_snapshot(disk_id=system),
    )


def test_never_started_instance_is_never_used() -> None:
    """A Stopped instance that never ran: IncorrectDiskStatus.NeverUsed."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    iid = ecs.create_instance(zone_id=ZONE, instance_type="ecs.g7.large")
    settle(cloud)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "IncorrectDiskStatus.NeverUsed",
        lambda: ecs.create_snapshot(disk_id=system_disk_id(ecs, iid)),
    )


def test_never_attached_disk_refuses_but_detached_disk_allows() -> None:
    """A disk never attached: IncorrectDiskStatus.NeverAttached; a detached one is fine."""
    cloud = make_cloud()
    ecs, iid, disk = instance_with_disk(cloud)
    loose = ecs.create_disk(zone_id=ZONE, size=20)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "IncorrectDiskStatus.NeverAttached",
        lambda: ecs.create_snapshot(disk_id=loose),
    )
    ecs.detach_disk(instance_id=iid, disk_id=disk)
    snap = ecs.describe_snapshot(ecs.create_snapshot(disk_id=disk))
    assert snap.instance_id is None


def test_missing_disk() -> None:
    """A snapshot of an unknown disk is InvalidDiskId.NotFound."""
    cloud = make_cloud()
    rejected_unchanged(
        cloud,
        errors.ResourceNotFoundError,
        "InvalidDiskId.NotFound",
        lambda: cloud.ecs("cn-hangzhou").create_snapshot(disk_id="d-missing"),
    )


# -- the 256-snapshot quota ----------------------------------------------------------


def test_quota_with_a_small_limit() -> None:
    """With Limits(manual_snapshots_per_disk=3), the 4th is QuotaExceed.Snapshot until one goes."""
    cloud = Cloud(block_size=4096, limits=Limits(manual_snapshots_per_disk=3))
    ecs, _, disk = instance_with_disk(cloud)
    snaps = [ecs.create_snapshot(disk_id=disk) for _ in range(3)]
    error = rejected_unchanged(
        cloud,
        errors.QuotaExceededError,
        "QuotaExceed.Snapshot",
        lambda: ecs.create_snapshot(disk_id=disk),
    )
    assert (403, (disk,)) == (error.http_status, error.ids)
    ecs.delete_snapshot(snaps[1])
    ecs.create_snapshot(disk_id=disk)


def test_quota_is_per_disk() -> None:
    """Another disk of the same instance has its own quota."""
    cloud = Cloud(block_size=4096, limits=Limits(manual_snapshots_per_disk=1))
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)] * 2)
    a, b = data_disk_ids(ecs, iid)
    ecs.create_snapshot(disk_id=a)
    ecs.create_snapshot(disk_id=b)
    with pytest.raises(errors.QuotaExceededError):
        ecs.create_snapshot(disk_id=a)


def test_quota_at_the_real_256() -> None:
    """By default a disk keeps 256 manual snapshots; the 257th is QuotaExceed.Snapshot."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    for n in range(256):
        ecs.write_disk(disk, 0, n.to_bytes(2, "big") + b"!")
        ecs.create_snapshot(disk_id=disk)
    assert 256 == ecs.describe_snapshots(disk_id=disk, page_size=1).total_count
    rejected_unchanged(
        cloud,
        errors.QuotaExceededError,
        "QuotaExceed.Snapshot",
        lambda: ecs.create_snapshot(disk_id=disk),
    )


def test_snapshots_of_a_released_disk_no_longer_block_a_new_disk() -> None:
    """The quota counts snapshots of this disk only."""
    cloud = Cloud(block_size=4096, limits=Limits(manual_snapshots_per_disk=1))
    ecs, _, disk = instance_with_disk(cloud)
    snap = ecs.create_snapshot(disk_id=disk)
    copy = ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", snapshot_id=snap)
    _, other = run_instance(cloud)
    ecs.attach_disk(instance_id=other, disk_id=copy)
    ecs.create_snapshot(disk_id=copy)


# -- describe ------------------------------------------------------------------------


def test_describe_snapshots_filters() -> None:
    """DescribeSnapshots filters by disk, instance, link, status, type, usage, source type…"""
    cloud = make_cloud()
    ecs, iid = run_instance(
        cloud, data_disks=[DataDisk(size=20), DataDisk(category="cloud_ssd", size=20)]
    )
    essd, ssd = data_disk_ids(ecs, iid)
    system = system_disk_id(ecs, iid)
    s_essd = ecs.create_snapshot(disk_id=essd, snapshot_name="alpha")
    s_sys = ecs.create_snapshot(disk_id=system)
    s_ssd = ecs.create_snapshot(disk_id=ssd)
    ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", snapshot_id=s_essd)

    def ids(**kwargs: object) -> set[str]:
        return {s.snapshot_id for s in ecs.describe_snapshots(page_size=100, **kwargs)}  # type: ignore[arg-type]

    assert {s_essd, s_sys, s_ssd} == ids()
    assert {s_essd} == ids(disk_id=essd)
    assert {s_essd, s_sys, s_ssd} == ids(instance_id=iid)
    link = ecs.describe_snapshot(s_sys).snapshot_link_id
    assert {s_sys} == ids(snapshot_link_id=link)
    assert {s_ssd} == ids(status="progressing")
    assert {s_essd, s_sys} == ids(status="accomplished")
    assert set() == ids(status="failed")
    assert {s_essd, s_sys, s_ssd} == ids(snapshot_type="user")
    assert set() == ids(snapshot_type="auto")
    assert {s_essd} == ids(usage="disk")
    assert {s_sys, s_ssd} == ids(usage="none")
    assert {s_sys} == ids(source_disk_type="system")
    assert {s_sys} == ids(source_disk_type="System")
    assert {s_essd, s_ssd} == ids(source_disk_type="data")
    assert {s_essd} == ids(snapshot_name="alpha")
    assert {s_essd, s_sys} == ids(snapshot_ids=[s_essd, s_sys])
    assert set() == ids(encrypted=True)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"status": "done"}, "InvalidStatus.NotFound"),
        ({"snapshot_type": "manual"}, "InvalidSnapshotType.NotFound"),
        ({"usage": "both"}, "InvalidUsage"),
        ({"source_disk_type": "root"}, "InvalidParameter.SourceDiskType"),
        ({"source_disk_type": 5}, "InvalidParameter.SourceDiskType"),
        ({"page_size": 101}, "InvalidParameter.PageSize"),
        ({"snapshot_ids": [f"s-{i}" for i in range(101)]}, "InvalidSnapshotIds.Malformed"),
        ({"encrypted": "yes"}, "InvalidParameter.Encrypted"),
    ],
)
def test_describe_snapshots_validates(kwargs: dict[str, object], code: str) -> None:
    """Bad filters are InvalidParameter errors, never crashes."""
    ecs = make_cloud().ecs("cn-hangzhou")
    raises_code(errors.InvalidParameterError, code, lambda: ecs.describe_snapshots(**kwargs))  # type: ignore[arg-type]


def test_describe_snapshots_pages_newest_first() -> None:
    """Pages of DescribeSnapshots are newest first, with TotalCount on every page."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    made = []
    for _ in range(7):
        made.append(ecs.create_snapshot(disk_id=disk))
        cloud.advance(dt.timedelta(minutes=1))
    pages = [ecs.describe_snapshots(page_size=3, page_number=n) for n in (1, 2, 3, 4)]
    assert [3, 3, 1, 0] == [len(p) for p in pages]
    assert {7} == {p.total_count for p in pages}
    assert made[::-1] == [s.snapshot_id for p in pages for s in p.items]
    assert [None] * 4 == [p.next_token for p in pages]  # page-numbered: no NextToken


# -- modify retention ----------------------------------------------------------------


def test_retention_extends_from_creation_time() -> None:
    """New retention counts from creation, not from the modification."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    snap = ecs.create_snapshot(disk_id=disk, retention_days=10)
    created = cloud.now()
    cloud.advance(5 * DAY)
    ecs.modify_snapshot_attribute(snapshot_id=snap, retention_days=12)
    assert created + 12 * DAY == ecs.describe_snapshot(snap).expire_time
    cloud.run_until(created + 12 * DAY - dt.timedelta(seconds=1))
    assert snap == ecs.describe_snapshot(snap).snapshot_id
    cloud.run_until(created + 12 * DAY)
    raises_code(
        errors.ResourceNotFoundError,
        "InvalidSnapshotId.NotFound",
        lambda: ecs.describe_snapshot(snap),
    )


def test_retention_cannot_shrink() -> None:
    """Shorter retention, or any retention on a keep-forever snapshot, is refused."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    timed = ecs.create_snapshot(disk_id=disk, retention_days=10)
    forever = ecs.create_snapshot(disk_id=disk)
    for snap, days in ((timed, 9), (forever, 65536)):
        rejected_unchanged(
            cloud,
            errors.OperationDeniedError,
            "InvalidOperation.DecreaseRetentionDaysUnsupported",
            lambda snap=snap, days=days: ecs.modify_snapshot_attribute(
                snapshot_id=snap, retention_days=days
            ),
        )
    ecs.modify_snapshot_attribute(snapshot_id=timed, retention_days=10)
    assert 10 == ecs.describe_snapshot(timed).retention_days


@pytest.mark.parametrize("days", [0, 65537, -5])
def test_modified_retention_is_range_checked(days: int) -> None:
    """ModifySnapshotAttribute RetentionDays is 1–65,536 too."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    snap = ecs.create_snapshot(disk_id=disk, retention_days=1)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidRetentionDays.Malformed",
        lambda: ecs.modify_snapshot_attribute(snapshot_id=snap, retention_days=days),
    )


def test_modify_needs_an_attribute_and_a_ready_snapshot() -> None:
    """Nothing to modify is NoAttributeToModify; retention on a progressing one is NotReady."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud, category="cloud_ssd")
    snap = ecs.create_snapshot(disk_id=disk, retention_days=3)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "NoAttributeToModify",
        lambda: ecs.modify_snapshot_attribute(snapshot_id=snap),
    )
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "InvalidSnapshotId.NotReady",
        lambda: ecs.modify_snapshot_attribute(snapshot_id=snap, retention_days=5),
    )
    ecs.modify_snapshot_attribute(snapshot_id=snap, snapshot_name="renamed", description="dd")
    snapshot = ecs.describe_snapshot(snap)
    assert ("renamed", "dd") == (snapshot.snapshot_name, snapshot.description)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidSnapshotName.Malformed",
        lambda: ecs.modify_snapshot_attribute(snapshot_id=snap, snapshot_name="auto1"),
    )


@settings(max_examples=25, deadline=None)
@given(
    st.integers(min_value=1, max_value=40),
    st.integers(min_value=0, max_value=30),
    st.integers(min_value=0, max_value=40),
)
def test_retention_expiry_property(days: int, wait_before: int, extra: int) -> None:
    """A snapshot lives exactly creation + final retention days, whenever it is extended."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    snap = ecs.create_snapshot(disk_id=disk, retention_days=days)
    created = cloud.now()
    wait = min(wait_before, days - 1)
    cloud.advance(wait * DAY)
    ecs.modify_snapshot_attribute(snapshot_id=snap, retention_days=days + extra)
    end = created + (days + extra) * DAY
    cloud.run_until(end - dt.timedelta(seconds=1))
    assert 1 == ecs.describe_snapshots(snapshot_ids=[snap]).total_count
    cloud.run_until(end)
    assert 0 == ecs.describe_snapshots(snapshot_ids=[snap]).total_count


def test_retention_expiry_removes_the_snapshot_on_time() -> None:
    """At creation + retention days the snapshot is deleted with reason 'retention'."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    snap = ecs.create_snapshot(disk_id=disk, retention_days=2)
    created = cloud.now()
    cloud.run_until(created + 2 * DAY - dt.timedelta(microseconds=1))
    assert snap == ecs.describe_snapshot(snap).snapshot_id
    cloud.run_until(created + 2 * DAY)
    deleted = [e for e in cloud.events if type(e).__name__ == "SnapshotDeleted"]
    assert [(snap, "retention", created + 2 * DAY)] == [
        (e.snapshot_id, e.reason, e.time)
        for e in deleted  # type: ignore[attr-defined]
    ]


def test_snapshot_kept_by_an_image_is_released_when_the_image_goes() -> None:
    """Retention cannot release a snapshot an image uses; deleting the image then does."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud)
    snap = ecs.create_snapshot(disk_id=system_disk_id(ecs, iid), retention_days=1)
    image = ecs.create_image(snapshot_id=snap)
    cloud.advance(3 * DAY)
    assert SnapshotUsage.image is ecs.describe_snapshot(snap).usage
    ecs.delete_image(image)
    raises_code(
        errors.ResourceNotFoundError,
        "InvalidSnapshotId.NotFound",
        lambda: ecs.describe_snapshot(snap),
    )


# -- delete --------------------------------------------------------------------------


def test_delete_snapshot_ignores_missing_ids() -> None:
    """Deleting an id that does not exist is silently ignored (as the real API)."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    before = len(cloud.events)
    ecs.delete_snapshot("s-doesnotexist")
    assert before == len(cloud.events)


@pytest.mark.parametrize("bad", ["", None, 5])
def test_delete_snapshot_validates_the_id(bad: object) -> None:
    """A malformed id is InvalidSnapshotId.Malformed."""
    raises_code(
        errors.InvalidParameterError,
        "InvalidSnapshotId.Malformed",
        lambda: make_cloud().ecs("cn-hangzhou").delete_snapshot(bad),  # type: ignore[arg-type]
    )


def test_snapshot_used_by_an_image_cannot_be_deleted() -> None:
    """SnapshotCreatedImage, even with force, until the image is deleted."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud)
    snap = ecs.create_snapshot(disk_id=system_disk_id(ecs, iid))
    image = ecs.create_image(snapshot_id=snap)
    for force in (False, True):
        rejected_unchanged(
            cloud,
            errors.OperationDeniedError,
            "SnapshotCreatedImage",
            lambda force=force: ecs.delete_snapshot(snap, force=force),
        )
    ecs.delete_image(image)
    ecs.delete_snapshot(snap)
    assert 0 == ecs.describe_snapshots().total_count


def test_snapshot_used_by_a_disk_needs_force() -> None:
    """SnapshotCreatedDisk unless force; the disk keeps its data afterwards."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    ecs.write_disk(disk, 0, b"keep me")
    snap = ecs.create_snapshot(disk_id=disk)
    copy = ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", snapshot_id=snap)
    assert SnapshotUsage.disk is ecs.describe_snapshot(snap).usage
    rejected_unchanged(
        cloud,
        errors.OperationDeniedError,
        "SnapshotCreatedDisk",
        lambda: ecs.delete_snapshot(snap),
    )
    ecs.delete_snapshot(snap, force=True)
    _, reader = run_instance(cloud)
    ecs.attach_disk(instance_id=reader, disk_id=copy)
    assert b"keep me" == ecs.read_disk(copy, 0, 7)
    assert ecs.describe_disk(copy).source_snapshot_id == snap
    ecs.detach_disk(instance_id=reader, disk_id=copy)
    ecs.delete_disk(copy)


def test_usage_goes_back_to_none_when_the_disk_goes() -> None:
    """Deleting the disk made from a snapshot clears its disk usage."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    snap = ecs.create_snapshot(disk_id=disk)
    copy = ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", snapshot_id=snap)
    ecs.delete_disk(copy)
    assert SnapshotUsage.none is ecs.describe_snapshot(snap).usage
    ecs.delete_snapshot(snap)


def test_deleting_a_progressing_snapshot_cancels_it() -> None:
    """A progressing snapshot can be deleted; its completion timer then does nothing."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud, category="cloud_ssd")
    ecs.write_disk(disk, 0, b"x" * 100)
    snap = ecs.create_snapshot(disk_id=disk)
    ecs.delete_snapshot(snap)
    settle(cloud, minutes=60)
    assert 0 == ecs.describe_snapshots().total_count
    assert [] == [e for e in cloud.events if type(e).__name__ == "SnapshotCompleted"]
    ecs.create_snapshot(disk_id=disk)


def test_snapshots_are_regional() -> None:
    """A snapshot id from another region is not found."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    snap = ecs.create_snapshot(disk_id=disk)
    raises_code(
        errors.ResourceNotFoundError,
        "InvalidSnapshotId.NotFound",
        lambda: cloud.ecs("cn-beijing").describe_snapshot(snap),
    )


def test_incremental_size_counts_changed_blocks() -> None:
    """The first snapshot holds every written block, later ones only the changed ones."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    ecs.write_disk(disk, 0, pattern(1, 5 * 4096))
    first = ecs.describe_snapshot(ecs.create_snapshot(disk_id=disk))
    ecs.write_disk(disk, 4096 + 10, b"changed")
    ecs.write_disk(disk, 3 * GIB, b"far away")
    second = ecs.describe_snapshot(ecs.create_snapshot(disk_id=disk))
    third = ecs.describe_snapshot(ecs.create_snapshot(disk_id=disk))
    assert [5 * 4096, 2 * 4096, 0] == [s.incremental_size for s in (first, second, third)]
    [link] = ecs.describe_snapshot_links().items
    assert (7 * 4096, 3, disk) == (link.total_size, link.total_count, link.source_disk_id)
    assert {first.snapshot_link_id} == {second.snapshot_link_id, third.snapshot_link_id}


def test_stopped_instance_snapshot_works() -> None:
    """Snapshots of a stopped instance's disks are allowed."""
    cloud = make_cloud()
    ecs, iid, disk = instance_with_disk(cloud)
    stop(cloud, ecs, iid)
    assert (
        SnapshotStatus.accomplished
        is ecs.describe_snapshot(ecs.create_snapshot(disk_id=disk)).status
    )
