"""Typed usage examples of the public API: ``mypy --strict`` must accept this module.

Each function uses the API the way a user would and pins the types it gets back with
annotations, so a change to a public signature or return type fails type-checking. The
``# type: ignore[...]`` lines are deliberate misuses: with ``warn_unused_ignores`` (part of
``--strict``) they fail as soon as the API stops rejecting them. ``run_examples`` also runs
everything, so the examples cannot rot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import cloudbackup
from cloudbackup import (
    CATEGORY_SPECS,
    DEFAULT_START,
    ECS_SERVICE_ALIAS,
    REGIONS,
    CategorySpec,
    Clock,
    Cloud,
    DataDisk,
    Disk,
    DiskCategory,
    DiskCreated,
    DiskDeviceMapping,
    EcsService,
    Event,
    Image,
    InMemoryBackend,
    Instance,
    InstanceStatus,
    KeyState,
    KmsKey,
    KmsService,
    Limits,
    LockedSnapshotInfo,
    LockStatus,
    ManualClock,
    Page,
    Region,
    ResetDiskSpec,
    Snapshot,
    SnapshotGroup,
    SnapshotLink,
    SnapshotStatus,
    StorageBackend,
    StorageStats,
    SystemDisk,
    TagResource,
    Timings,
    errors,
)


def build_world() -> tuple[Cloud, EcsService, KmsService]:
    backend: StorageBackend = InMemoryBackend()
    clock: Clock = ManualClock(DEFAULT_START)
    cloud = Cloud(
        backend=backend,
        clock=clock,
        seed=7,
        block_size=4096,
        timings=Timings(instance_start=dt.timedelta(seconds=5)),
        limits=Limits(manual_snapshots_per_disk=10),
    )
    return cloud, cloud.ecs("cn-hangzhou"), cloud.kms("cn-hangzhou")


def instances(cloud: Cloud, ecs: EcsService) -> str:
    ids: list[str] = ecs.run_instances(
        zone_id="cn-hangzhou-h",
        instance_type="ecs.g7.large",
        system_disk=SystemDisk(category="cloud_essd", size=40),
        data_disks=[DataDisk(size=20), DataDisk(category="cloud_ssd", size=40)],
    )
    fired: int = cloud.advance(dt.timedelta(minutes=1))
    assert fired >= 1
    page: Page[Instance] = ecs.describe_instances(status="Running")
    one: Instance = ecs.describe_instance_attribute(ids[0])
    assert one.instance_id == ids[0]
    for instance in page:
        status: InstanceStatus = instance.status
        started: dt.datetime | None = instance.start_time
        assert status is InstanceStatus.Running and started is not None
    total: int = page.total_count
    assert total == len(ids)
    return ids[0]


def disks_and_data(ecs: EcsService, instance_id: str) -> str:
    disks: Page[Disk] = ecs.describe_disks(instance_id=instance_id, disk_type="data")
    first: Disk = disks.items[0]
    category: DiskCategory = first.category
    spec: CategorySpec = CATEGORY_SPECS[category]
    size_bytes: int = first.size_bytes
    assert spec.snapshot and size_bytes == first.size * 1024**3
    ecs.write_disk(first.disk_id, 0, b"hello")
    data: bytes = ecs.read_disk(first.disk_id, 0, 5)
    assert data == b"hello"
    return first.disk_id


def snapshots(cloud: Cloud, ecs: EcsService, instance_id: str, disk_id: str) -> str:
    snapshot_id: str = ecs.create_snapshot(disk_id=disk_id, retention_days=30, tags=[("k", "v")])
    snapshot: Snapshot = ecs.describe_snapshot(snapshot_id)
    state: SnapshotStatus = snapshot.status
    expires: dt.datetime | None = snapshot.expire_time
    size: int = snapshot.incremental_size
    assert state is SnapshotStatus.accomplished and expires is not None and size >= 0
    links: Page[SnapshotLink] = ecs.describe_snapshot_links(disk_ids=[disk_id])
    chain_size: int = links.items[0].total_size
    assert chain_size >= size
    group_id: str = ecs.create_snapshot_group(instance_id=instance_id, disk_ids=[disk_id])
    groups: Page[SnapshotGroup] = ecs.describe_snapshot_groups(snapshot_group_ids=[group_id])
    token: str | None = groups.next_token
    assert token is None
    ecs.lock_snapshot(snapshot_id=snapshot_id, lock_duration=1, cool_off_period=1)
    locked: Page[LockedSnapshotInfo] = ecs.describe_locked_snapshots(max_results=10)
    assert locked.items[0].lock_status is LockStatus.compliance_cooloff
    cool_off_end: dt.datetime = locked.items[0].cool_off_period_expired_time
    lock_end: dt.datetime | None = locked.items[0].lock_expired_time
    assert lock_end is not None and cool_off_end < lock_end
    ecs.unlock_snapshot(snapshot_id)
    ecs.modify_snapshot_attribute(snapshot_id=snapshot_id, retention_days=31)
    return snapshot_id


def tags_tokens_and_paging(ecs: EcsService, instance_id: str) -> None:
    ecs.tag_resources(resource_type="instance", resource_ids=[instance_id], tags=[("env", "a")])
    listed: Page[TagResource] = ecs.list_tag_resources(
        resource_type="instance", tags=[("env", "a")]
    )
    first: TagResource = listed.items[0]
    assert first.resource_id == instance_id
    tagged: Page[Instance] = ecs.describe_instances(tags=[("env", "a")], max_results=5)
    more: str | None = tagged.next_token
    assert more is None
    ecs.untag_resources(resource_type="instance", resource_ids=[instance_id], all=True)
    disk: str = ecs.create_disk(zone_id="cn-hangzhou-h", size=20, client_token="typed-1")
    assert disk == ecs.create_disk(zone_id="cn-hangzhou-h", size=20, client_token="typed-1")
    refusals: list[str] = []
    try:
        ecs.create_disk(zone_id="cn-hangzhou-h", size=20, client_token=1)  # type: ignore[arg-type]
    except errors.InvalidParameterError as refused:
        refusals.append(refused.code)
    assert ["InvalidClientToken.Malformed"] == refusals


def restore(
    cloud: Cloud, ecs: EcsService, instance_id: str, disk_id: str, snapshot_id: str
) -> None:
    ecs.stop_instance(instance_id)
    cloud.run_until(cloud.now() + dt.timedelta(minutes=1))
    ecs.reset_disk(disk_id=disk_id, snapshot_id=snapshot_id)
    answers: list[str] = []
    try:
        ecs.reset_disks(
            disks=[ResetDiskSpec(disk_id=disk_id, snapshot_id=snapshot_id)], dry_run=True
        )
    except errors.DryRunOperationError as passed:
        answers.append(passed.code)
    assert ["DryRunOperation"] == answers
    new_disk: str = ecs.create_disk(
        zone_id="cn-hangzhou-h", snapshot_id=snapshot_id, disk_category="cloud_essd"
    )
    system = ecs.describe_disks(instance_id=instance_id, disk_type="system").items[0]
    system_snapshot = ecs.create_snapshot(disk_id=system.disk_id)
    image_id: str = ecs.create_image(
        disk_device_mappings=[
            DiskDeviceMapping(snapshot_id=system_snapshot, disk_type="system"),
            DiskDeviceMapping(snapshot_id=snapshot_id),
        ]
    )
    images: Page[Image] = ecs.describe_images(image_ids=[image_id])
    assert images.items[0].size == system.size
    ecs.delete_image(image_id)
    ecs.delete_disk(new_disk)


def guest_side(ecs: EcsService, instance_id: str, disk_id: str) -> None:
    """A RAM role, a guest agent and a script that writes and sleeps."""
    response: cloudbackup.InstanceRamRoleResponse = ecs.attach_instance_ram_role(
        [instance_id], "AliyunECSInstanceForHbrRole"
    )
    assert response.fail_count == 0
    roles: cloudbackup.Page[cloudbackup.InstanceRamRoleSet] = ecs.describe_instance_ram_role(
        instance_ids=[instance_id]
    )
    assert [r.ram_role_name for r in roles] == ["AliyunECSInstanceForHbrRole"]

    def flush(guest: cloudbackup.Guest) -> None:
        guest.write_disk(disk_id, 0, b"flushed")
        guest.sleep(1.5)

    agent: cloudbackup.GuestAgent = ecs.guest(instance_id)
    agent.install_script("/tmp/prescript.sh", flush)
    paths: tuple[str, ...] = agent.script_paths()
    assert paths == ("/tmp/prescript.sh",)
    level: cloudbackup.ConsistentLevel = cloudbackup.ConsistentLevel.APP
    reason: cloudbackup.DowngradeReason = cloudbackup.DowngradeReason.NoRamRoleBound
    assert (level.value, reason.value) == ("APP", "HBR.NoRamRoleBound")
    detached: cloudbackup.InstanceRamRoleResponse = ecs.detach_instance_ram_role([instance_id])
    assert detached.results[0].success


def keys(cloud: Cloud, kms: KmsService) -> None:
    key: KmsKey = kms.create_key(key_spec="Aliyun_SM4", description="typed")
    state: KeyState = key.key_state
    arn: str = key.arn
    assert state is KeyState.Enabled and arn.endswith(key.key_id)
    kms.create_alias("alias/typed", key.key_id)
    listed: Page[KmsKey] = kms.list_keys(page_size=100)
    assert listed.total_count >= 1
    blob: str = kms.encrypt(key.key_id, b"secret")
    plain: bytes = kms.decrypt(blob)
    assert plain == b"secret"
    kms.schedule_key_deletion(key.key_id, 7)
    kms.cancel_key_deletion(key.key_id)
    service_alias: str = ECS_SERVICE_ALIAS
    assert service_alias == "alias/acs/ecs"


def events_and_errors(cloud: Cloud, ecs: EcsService) -> None:
    seen: list[Event] = []
    unsubscribe: Callable[[], None] = cloud.events.subscribe(seen.append)
    created: list[DiskCreated] = cloud.events.list(DiskCreated)
    assert created and created[0].disk_id.startswith("d-")
    try:
        ecs.describe_disk("d-missing")
    except errors.ResourceNotFoundError as error:
        code: str = error.code
        ids: tuple[str, ...] = error.ids
        status: int = error.http_status
        recommend: str = error.recommend
        assert code == "InvalidDiskId.NotFound" and ids and status == 404 and recommend
    unsubscribe()
    stats: StorageStats = cloud.storage_stats()
    assert stats.blob_bytes >= 0
    next_due: dt.datetime | None = cloud.next_event_time()
    assert next_due is None or next_due >= cloud.now()
    region: Region = REGIONS["cn-hangzhou"]
    zone_ids: tuple[str, ...] = region.zones
    tz: dt.tzinfo = region.tzinfo
    assert zone_ids and tz is not None
    version: str = cloudbackup.__version__
    assert version


def misuse_is_rejected_by_the_type_checker(cloud: Cloud, ecs: EcsService) -> None:
    """Never called: each line must be a type error."""
    cloud.advance(60)  # type: ignore[arg-type]
    ecs.write_disk("d-1", 0, "text")  # type: ignore[arg-type]
    ecs.create_snapshot("d-1")  # type: ignore[call-arg]
    size: str = ecs.describe_disk("d-1").size  # type: ignore[assignment]
    ecs.run_instances(zone_id="z", instance_type="t", data_disks=[{"size": 20}])  # type: ignore[list-item]
    Cloud(seed="1")  # type: ignore[arg-type]
    del size


def run_examples() -> None:
    """Run every example against a fresh world."""
    with Cloud() as scratch:
        assert scratch.now() == DEFAULT_START
    cloud, ecs, kms = build_world()
    instance_id = instances(cloud, ecs)
    disk_id = disks_and_data(ecs, instance_id)
    guest_side(ecs, instance_id, disk_id)
    snapshot_id = snapshots(cloud, ecs, instance_id, disk_id)
    tags_tokens_and_paging(ecs, instance_id)
    restore(cloud, ecs, instance_id, disk_id, snapshot_id)
    keys(cloud, kms)
    events_and_errors(cloud, ecs)
