"""Envelope encryption of disks: only ciphertext at rest, and keys that must be usable."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from _helpers import (
    OTHER_REGION,
    REGION,
    ZONE,
    data_disk_ids,
    make_cloud,
    pattern,
    raises_code,
    rejected_unchanged,
    run_instance,
    stop,
)
from cloudbackup import Cloud, DataDisk, EcsService, InMemoryBackend, KeyState, errors

BS = 4096
SECRET = b"TOP-SECRET-PAYROLL-RECORD:" + pattern(9, 3 * BS)


def memory_cloud() -> tuple[Cloud, InMemoryBackend]:
    backend = InMemoryBackend()
    return make_cloud(backend=backend), backend


def windows(data: bytes, size: int = 24, step: int = 97) -> list[bytes]:
    """Distinct slices of ``data``, so a partial leak is found too."""
    return [data[i : i + size] for i in range(0, len(data) - size, step)]


def leaked(backend: InMemoryBackend, data: bytes) -> bool:
    """Whether any slice of ``data`` appears in any blob or in the records' repr."""
    pieces = windows(data)
    blobs = list(backend._blobs.values())
    records = repr(backend._records).encode()
    return any(piece in blob for blob in blobs for piece in pieces) or any(
        piece.hex().encode() in records or piece in records for piece in pieces
    )


def encrypted_instance(cloud: Cloud, kms_key_id: str | None = None) -> tuple[EcsService, str, str]:
    ecs, iid = run_instance(
        cloud, data_disks=[DataDisk(size=20, encrypted=True, kms_key_id=kms_key_id)]
    )
    [disk] = data_disk_ids(ecs, iid)
    return ecs, iid, disk


def test_plaintext_never_reaches_the_backend() -> None:
    """Guest data on an encrypted disk, its snapshot and disks made from it are ciphertext."""
    cloud, backend = memory_cloud()
    other_key = cloud.kms(REGION).create_key().key_id
    ecs, _, disk = encrypted_instance(cloud)
    ecs.write_disk(disk, 100, SECRET)
    ecs.write_disk(disk, 10 * BS + 5, SECRET[:50])
    snap = ecs.create_snapshot(disk_id=disk)
    same_key = ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", snapshot_id=snap)
    rekeyed = ecs.create_disk(
        zone_id=ZONE, disk_category="cloud_essd", snapshot_id=snap, kms_key_id=other_key
    )
    _, reader = run_instance(cloud, data_disks=[])
    for copy in (same_key, rekeyed):
        ecs.attach_disk(instance_id=reader, disk_id=copy)
        assert SECRET == ecs.read_disk(copy, 100, len(SECRET))
    assert SECRET == ecs.read_disk(disk, 100, len(SECRET))
    assert backend._blobs
    assert not leaked(backend, SECRET)


def test_the_same_data_unencrypted_is_visible() -> None:
    """Control: without encryption the backend holds the plaintext (the scan can fail)."""
    cloud, backend = memory_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)])
    [disk] = data_disk_ids(ecs, iid)
    ecs.write_disk(disk, 100, SECRET)
    assert leaked(backend, SECRET)


def test_equal_plaintext_blocks_do_not_share_ciphertext() -> None:
    """Identical plaintext blocks encrypt differently (no dedupe leak across blocks or disks)."""
    cloud, backend = memory_cloud()
    ecs, iid = run_instance(
        cloud, data_disks=[DataDisk(size=20, encrypted=True), DataDisk(size=20, encrypted=True)]
    )
    a, b = data_disk_ids(ecs, iid)
    block = pattern(4, BS)
    ecs.write_disk(a, 0, block * 3)
    ecs.write_disk(b, 0, block)
    assert 4 == len(backend._blobs)
    assert ecs.describe_disk(a).data_key != ecs.describe_disk(b).data_key


def test_rewriting_the_same_plaintext_changes_nothing() -> None:
    """Writing identical bytes again neither re-encrypts nor dirties the block."""
    cloud, backend = memory_cloud()
    ecs, _, disk = encrypted_instance(cloud)
    ecs.write_disk(disk, 0, SECRET)
    ecs.create_snapshot(disk_id=disk)
    blobs = dict(backend._blobs)
    ecs.write_disk(disk, 0, SECRET)
    assert blobs == backend._blobs
    assert 0 == ecs.describe_snapshot(ecs.create_snapshot(disk_id=disk)).incremental_size


@pytest.mark.parametrize("spec", ["Aliyun_AES_256", "Aliyun_SM4"])
def test_customer_keys_of_both_symmetric_specs_work(spec: str) -> None:
    """A disk encrypted under an AES-256 or SM4 CMK stores and restores data."""
    cloud, backend = memory_cloud()
    key = cloud.kms(REGION).create_key(key_spec=spec).key_id
    ecs, _, disk = encrypted_instance(cloud, key)
    ecs.write_disk(disk, 0, SECRET)
    snap = ecs.create_snapshot(disk_id=disk)
    assert (True, key) == (
        ecs.describe_snapshot(snap).encrypted,
        ecs.describe_snapshot(snap).kms_key_id,
    )
    copy = ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", snapshot_id=snap)
    assert key == ecs.describe_disk(copy).kms_key_id
    _, reader = run_instance(cloud)
    ecs.attach_disk(instance_id=reader, disk_id=copy)
    assert SECRET == ecs.read_disk(copy, 0, len(SECRET))
    assert not leaked(backend, SECRET)


def test_disk_from_encrypted_snapshot_is_encrypted() -> None:
    """Without encrypted= the disk is encrypted anyway, under the snapshot's key."""
    cloud = make_cloud()
    ecs, _, disk = encrypted_instance(cloud)
    snap = ecs.create_snapshot(disk_id=disk)
    copy = ecs.describe_disk(
        ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", snapshot_id=snap)
    )
    assert (True, ecs.describe_disk(disk).kms_key_id) == (copy.encrypted, copy.kms_key_id)


def test_unencrypted_snapshot_can_seed_an_encrypted_disk() -> None:
    """Encrypting on the way: a plain snapshot restores into an encrypted disk."""
    cloud, backend = memory_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)])
    [disk] = data_disk_ids(ecs, iid)
    ecs.write_disk(disk, 0, SECRET)
    snap = ecs.create_snapshot(disk_id=disk)
    copy = ecs.create_disk(
        zone_id=ZONE, disk_category="cloud_essd", snapshot_id=snap, encrypted=True
    )
    ecs.write_disk(disk, 0, bytes(len(SECRET)))
    ecs.delete_snapshot(snap, force=True)
    _, reader = run_instance(cloud)
    ecs.attach_disk(instance_id=reader, disk_id=copy)
    assert SECRET == ecs.read_disk(copy, 0, len(SECRET))
    assert not leaked(backend, SECRET)


# -- unusable keys -------------------------------------------------------------------


class Setup:
    """An encrypted disk with data and a snapshot, on a customer key, plus a reader instance."""

    def __init__(self) -> None:
        self.cloud = make_cloud()
        self.kms = self.cloud.kms(REGION)
        self.key = self.kms.create_key().key_id
        self.other_key = self.kms.create_key().key_id
        self.ecs, self.instance, self.disk = encrypted_instance(self.cloud, self.key)
        self.ecs.write_disk(self.disk, 0, SECRET)
        self.snapshot = self.ecs.create_snapshot(disk_id=self.disk)

    def operations(self) -> dict[str, Callable[[], object]]:
        ecs = self.ecs
        return {
            "write": lambda: ecs.write_disk(self.disk, 0, b"more"),
            "read": lambda: ecs.read_disk(self.disk, 0, 10),
            "snapshot": lambda: ecs.create_snapshot(disk_id=self.disk),
            "disk from snapshot": lambda: ecs.create_disk(
                zone_id=ZONE, disk_category="cloud_essd", snapshot_id=self.snapshot
            ),
            "disk from snapshot, new key": lambda: ecs.create_disk(
                zone_id=ZONE,
                disk_category="cloud_essd",
                snapshot_id=self.snapshot,
                kms_key_id=self.other_key,
            ),
            "new disk on the key": lambda: ecs.create_disk(
                zone_id=ZONE, disk_category="cloud_essd", size=20, kms_key_id=self.key
            ),
        }


@pytest.mark.parametrize(
    "operation",
    [
        "write",
        "read",
        "snapshot",
        "disk from snapshot",
        "disk from snapshot, new key",
        "new disk on the key",
    ],
)
def test_disabled_key_blocks_everything_until_enabled(operation: str) -> None:
    """A Disabled CMK: CMKNotEnabled, nothing changes; after EnableKey it works."""
    setup = Setup()
    setup.kms.disable_key(setup.key)
    call = setup.operations()[operation]
    error = rejected_unchanged(
        setup.cloud, errors.KmsKeyError, "InvalidParameter.KMSKeyId.CMKNotEnabled", call
    )
    assert setup.key in error.ids
    setup.kms.enable_key(setup.key)
    call()


@pytest.mark.parametrize(
    "operation",
    [
        "write",
        "read",
        "snapshot",
        "disk from snapshot",
        "disk from snapshot, new key",
        "new disk on the key",
    ],
)
def test_key_pending_deletion_blocks_everything_until_cancelled(operation: str) -> None:
    """A CMK pending deletion: CMKNotEnabled; after CancelKeyDeletion it works."""
    setup = Setup()
    setup.kms.schedule_key_deletion(setup.key, 7)
    call = setup.operations()[operation]
    rejected_unchanged(
        setup.cloud, errors.KmsKeyError, "InvalidParameter.KMSKeyId.CMKNotEnabled", call
    )
    setup.kms.cancel_key_deletion(setup.key)
    call()


@pytest.mark.parametrize(
    "operation",
    [
        "write",
        "read",
        "snapshot",
        "disk from snapshot",
        "disk from snapshot, new key",
        "new disk on the key",
    ],
)
def test_deleted_key_makes_the_data_unrecoverable(operation: str) -> None:
    """After the deletion date: KMSKeyId.NotFound for every use of the data or the key."""
    setup = Setup()
    setup.kms.schedule_key_deletion(setup.key, 7)
    setup.cloud.advance(dt.timedelta(days=7))
    raises_code(
        errors.ResourceNotFoundError,
        "Forbidden.KeyNotFound",
        lambda: setup.kms.describe_key(setup.key),
    )
    rejected_unchanged(
        setup.cloud,
        errors.KmsKeyError,
        "InvalidParameter.KMSKeyId.NotFound",
        setup.operations()[operation],
    )


def test_key_of_another_region_cannot_encrypt() -> None:
    """KMS keys are regional: another region's key is KMSKeyId.NotFound."""
    cloud = make_cloud()
    foreign = cloud.kms(OTHER_REGION).create_key()
    ecs = cloud.ecs(REGION)
    _, _, disk = encrypted_instance(cloud)
    snap = ecs.create_snapshot(disk_id=disk)
    for name in (foreign.key_id, foreign.arn):
        for call in (
            lambda name=name: ecs.create_disk(
                zone_id=ZONE, disk_category="cloud_essd", size=20, kms_key_id=name
            ),
            lambda name=name: ecs.create_disk(
                zone_id=ZONE, disk_category="cloud_essd", snapshot_id=snap, kms_key_id=name
            ),
            lambda name=name: ecs.run_instances(
                zone_id=ZONE,
                instance_type="ecs.g7.large",
                data_disks=[DataDisk(size=20, kms_key_id=name)],
            ),
        ):
            rejected_unchanged(
                cloud, errors.KmsKeyError, "InvalidParameter.KMSKeyId.NotFound", call
            )


def test_disabled_key_blocks_reset_and_attach() -> None:
    """Rolling back or attaching an encrypted disk needs its key too."""
    setup = Setup()
    ecs = setup.ecs
    stop(setup.cloud, ecs, setup.instance)
    ecs.detach_disk(instance_id=setup.instance, disk_id=setup.disk)
    setup.kms.disable_key(setup.key)
    for call in (
        lambda: ecs.reset_disk(disk_id=setup.disk, snapshot_id=setup.snapshot),
        lambda: ecs.attach_disk(instance_id=setup.instance, disk_id=setup.disk),
    ):
        rejected_unchanged(
            setup.cloud, errors.KmsKeyError, "InvalidParameter.KMSKeyId.CMKNotEnabled", call
        )
    setup.kms.enable_key(setup.key)
    ecs.reset_disk(disk_id=setup.disk, snapshot_id=setup.snapshot)
    ecs.attach_disk(instance_id=setup.instance, disk_id=setup.disk)


def test_reenabled_key_reads_the_same_bytes() -> None:
    """Disable then enable: the data is intact."""
    setup = Setup()
    setup.kms.disable_key(setup.key)
    setup.kms.enable_key(setup.key)
    assert KeyState.Enabled is setup.kms.describe_key(setup.key).key_state
    assert SECRET == setup.ecs.read_disk(setup.disk, 0, len(SECRET))


def test_deleting_things_needs_no_key() -> None:
    """Snapshots and disks of a disabled key can still be deleted (no decryption needed)."""
    setup = Setup()
    setup.kms.disable_key(setup.key)
    setup.ecs.delete_snapshot(setup.snapshot)
    setup.ecs.delete_instance(setup.instance, force=True)
    assert 0 == setup.ecs.describe_disks().total_count


def test_a_sealed_block_moved_to_another_position_does_not_open() -> None:
    """Blocks authenticate their position: swapping two ciphertext blocks in the backend makes
    reads fail with StorageBackend.Corrupt instead of returning each other's data."""
    cloud, backend = memory_cloud()
    ecs, _, disk = encrypted_instance(cloud)
    ecs.write_disk(disk, 0, b"A" * BS + b"B" * BS)
    blocks = backend._records["ecs.disk_extents"][disk]
    first, second = sorted(blocks)
    blocks[first], blocks[second] = blocks[second], blocks[first]
    raises_code(
        errors.StorageBackendError, "StorageBackend.Corrupt", lambda: ecs.read_disk(disk, 0, 1)
    )
