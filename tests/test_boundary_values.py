"""Decisions at the edges (issue 7, 5.9 and 5.10): I/O length cap, empty writes, the end of
virtual time, a closed cloud's repr, damaged plaintext blocks, and docs that disagreed."""

from __future__ import annotations

from _helpers import (
    REGION,
    ZONE,
    data_disk_ids,
    events_since,
    instance_with_disk,
    make_cloud,
    raises_code,
    rejected_unchanged,
    run_instance,
    stop,
)
from cloudbackup import LATEST, Cloud, DataDisk, InstanceStatus, errors
from cloudbackup._blocks import DISK_BLOCKS, block_key
from cloudbackup._services.ecs.guest_io import GUEST_IO_MAX_BYTES

GIB = 2**30


def test_the_io_cap_is_64_mib() -> None:
    """One read or write moves at most 64 MiB."""
    assert 64 * 2**20 == GUEST_IO_MAX_BYTES


def test_reading_past_the_cap_is_refused_instead_of_exhausting_memory() -> None:
    """read_disk of 8 GiB of an empty disk is InvalidParameter.Length, not a MemoryError."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud, size=20)
    for length in (GUEST_IO_MAX_BYTES + 1, 8 * GIB):
        error = rejected_unchanged(
            cloud,
            errors.InvalidParameterError,
            "InvalidParameter.Length",
            lambda length=length: ecs.read_disk(disk, 0, length),
        )
        assert (disk,) == error.ids


def test_reading_exactly_the_cap_succeeds() -> None:
    """The cap itself is allowed."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud, size=20)
    ecs.write_disk(disk, GUEST_IO_MAX_BYTES - 3, b"end")
    data = ecs.read_disk(disk, 0, GUEST_IO_MAX_BYTES)
    assert (GUEST_IO_MAX_BYTES, b"end") == (len(data), data[-3:])


def test_writing_past_the_cap_is_refused() -> None:
    """write_disk of more than 64 MiB is InvalidParameter.Data and writes nothing."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud, size=20)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidParameter.Data",
        lambda: ecs.write_disk(disk, 0, memoryview(bytes(GUEST_IO_MAX_BYTES + 1))),
    )


def test_writing_exactly_the_cap_succeeds() -> None:
    """A write of exactly 64 MiB is accepted and reads back."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud, size=20)
    ecs.write_disk(disk, 0, b"\x01" * GUEST_IO_MAX_BYTES)
    assert b"\x01" * 8 == ecs.read_disk(disk, GUEST_IO_MAX_BYTES - 8, 8)


def test_a_zero_length_write_records_no_event() -> None:
    """Writing zero bytes changes nothing, so it records no DiskWritten event."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    mark = len(cloud.events.list())
    ecs.write_disk(disk, 5, b"")
    assert [] == events_since(cloud, mark)
    ecs.write_disk(disk, 5, b"x")
    assert ["DiskWritten"] == [type(e).__name__ for e in events_since(cloud, mark)]


def test_a_zero_length_write_is_still_checked() -> None:
    """An empty write past the end of the disk, or to a detached disk, is still refused."""
    cloud = make_cloud()
    ecs, iid, disk = instance_with_disk(cloud, size=20)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidParameter.OutOfRange",
        lambda: ecs.write_disk(disk, 20 * GIB + 1, b""),
    )
    ecs.detach_disk(instance_id=iid, disk_id=disk)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "IncorrectDiskStatus",
        lambda: ecs.write_disk(disk, 0, b""),
    )


def _at_the_end_of_time() -> tuple[Cloud, str]:
    cloud = make_cloud()
    _, iid = run_instance(cloud)
    cloud.run_until(LATEST)
    assert LATEST == cloud.now()
    return cloud, iid


def test_a_stop_at_the_end_of_virtual_time_is_refused() -> None:
    """A stop whose transition would finish after LATEST is refused and the instance runs on."""
    cloud, iid = _at_the_end_of_time()
    ecs = cloud.ecs(REGION)
    error = rejected_unchanged(
        cloud,
        errors.UnsupportedOperationError,
        "OperationDenied.EndOfTime",
        lambda: ecs.stop_instance(iid),
    )
    assert (400, (iid,)) == (error.http_status, error.ids)
    assert InstanceStatus.Running is ecs.describe_instance_attribute(iid).status


def test_a_stop_whose_transition_ends_exactly_at_the_end_is_allowed() -> None:
    """A transition that finishes at LATEST itself completes."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud)
    delay = cloud._world.timings.instance_stop
    cloud.run_until(LATEST - delay)
    ecs.stop_instance(iid)
    cloud.run_until(LATEST)
    assert InstanceStatus.Stopped is ecs.describe_instance_attribute(iid).status


def test_a_progressing_snapshot_at_the_end_of_virtual_time_is_refused() -> None:
    """A snapshot whose upload would finish after LATEST is refused; an instant one is not."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20, category="cloud_ssd")])
    [ssd] = data_disk_ids(ecs, iid)
    instant = ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20)
    ecs.attach_disk(instance_id=iid, disk_id=instant)
    cloud.run_until(LATEST)
    rejected_unchanged(
        cloud,
        errors.UnsupportedOperationError,
        "OperationDenied.EndOfTime",
        lambda: ecs.create_snapshot(disk_id=ssd),
    )
    ecs.create_snapshot(disk_id=instant)


def test_repr_of_a_closed_cloud_does_not_raise() -> None:
    """repr(cloud) after close() still names the account and the last known time."""
    cloud = make_cloud()
    expected = repr(cloud)
    cloud.close()
    assert expected == repr(cloud)


def _damage_first_block(cloud: Cloud, disk_id: str) -> None:
    store = cloud._world.store
    digest = store.raw_get(DISK_BLOCKS, disk_id, block_key(0))
    assert isinstance(digest, bytes)
    with store.unit():
        store.backend.delete_blob(digest)
        store.backend.put_blob(digest, b"\xff" * cloud._world.blocks.block_size)


def test_reading_a_damaged_plaintext_block_is_storage_corrupt() -> None:
    """A plaintext block that no longer matches its digest is StorageBackend.Corrupt on read."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    ecs.write_disk(disk, 0, b"intact")
    _damage_first_block(cloud, disk)
    error = raises_code(
        errors.StorageBackendError, "StorageBackend.Corrupt", lambda: ecs.read_disk(disk, 0, 6)
    )
    assert 500 == error.http_status


def test_reading_an_undamaged_block_passes_its_digest_check() -> None:
    """An intact block reads back unchanged (the check does not misfire)."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    ecs.write_disk(disk, 0, b"intact")
    assert b"intact" == ecs.read_disk(disk, 0, 6)


def test_detach_applies_delete_with_instance() -> None:
    """detach_disk(delete_with_instance=...) sets the disk's flag (api.md said it did not)."""
    cloud = make_cloud()
    ecs, iid, disk = instance_with_disk(cloud)
    assert ecs.describe_disk(disk).delete_with_instance
    ecs.detach_disk(instance_id=iid, disk_id=disk, delete_with_instance=False)
    assert not ecs.describe_disk(disk).delete_with_instance


def test_seventeen_data_disks_at_creation_are_instance_disk_number_limit_exceed() -> None:
    """run_instances with 17 data disks answers RunInstances' code, 400 (the docs said
    InvalidDataDiskSize.ValueNotSupported)."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    error = rejected_unchanged(
        cloud,
        errors.QuotaExceededError,
        "InstanceDiskNumber.LimitExceed",
        lambda: ecs.run_instances(
            zone_id=ZONE, instance_type="ecs.g7.large", data_disks=[DataDisk(size=20)] * 17
        ),
    )
    assert 400 == error.http_status


def test_a_duplicated_disk_id_in_a_group_is_invalid_parameter_disk_id() -> None:
    """disk_ids naming a disk twice is InvalidParameter.DiskId (the docs said
    NumberExceed.TooManyDisks)."""
    cloud = make_cloud()
    ecs, iid, disk = instance_with_disk(cloud)
    stop(cloud, ecs, iid)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidParameter.DiskId",
        lambda: ecs.create_snapshot_group(instance_id=iid, disk_ids=[disk, disk]),
    )


def test_a_tampered_ciphertext_is_invalid_parameter_400() -> None:
    """KMS decrypt of a tampered blob is InvalidParameter, 400 (the docs said a 500)."""
    cloud = make_cloud()
    kms = cloud.kms(REGION)
    key = kms.create_key().key_id
    blob = kms.encrypt(key_id=key, plaintext=b"secret")
    tampered = blob[:-4] + ("AAAA" if blob[-4:] != "AAAA" else "BBBB")
    error = raises_code(
        errors.InvalidParameterError,
        "InvalidParameter",
        lambda: kms.decrypt(ciphertext_blob=tampered),
    )
    assert 400 == error.http_status


def test_text_with_a_lone_surrogate_is_refused_and_changes_nothing() -> None:
    """Names, descriptions and tags must be UTF-8, as on the wire: a lone surrogate is a 400 on
    every backend, and the refused call leaves the world as it was."""
    cloud = make_cloud()
    ecs, instance_id = run_instance(cloud)
    disk_id = ecs.describe_disks(instance_id=instance_id).items[0].disk_id
    bad = "ab\ud800"
    cases = [
        (
            "InvalidSnapshotName.Malformed",
            lambda: ecs.create_snapshot(disk_id=disk_id, snapshot_name=bad),
        ),
        (
            "InvalidDescription.Malformed",
            lambda: ecs.create_snapshot(disk_id=disk_id, description=bad),
        ),
        (
            "InvalidTagKey.Malformed",
            lambda: ecs.create_disk(zone_id=ZONE, size=20, tags=[(bad, "v")]),
        ),
        (
            "InvalidTagValue.Malformed",
            lambda: ecs.create_disk(zone_id=ZONE, size=20, tags=[("k", bad)]),
        ),
        (
            "InvalidTagKey.Malformed",
            lambda: ecs.tag_resources(
                resource_type="instance", resource_ids=[instance_id], tags=[(bad, "v")]
            ),
        ),
    ]
    for code, call in cases:
        rejected_unchanged(cloud, errors.InvalidParameterError, code, call)
