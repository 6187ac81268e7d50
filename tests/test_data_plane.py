"""The guest's data plane: bytes at offsets of a disk, sparse, bounded, block-deduplicated."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import (
    GIB,
    SMALL_BLOCK,
    ZONE,
    data_disk_ids,
    instance_with_disk,
    make_cloud,
    pattern,
    raises_code,
    rejected_unchanged,
    run_instance,
    stop,
)
from cloudbackup import DataDisk, DiskWritten, StorageStats, errors

BS = SMALL_BLOCK


def test_unwritten_space_reads_as_zeros() -> None:
    """A fresh disk reads zeros anywhere."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    assert bytes(10000) == ecs.read_disk(disk, 0, 10000)
    assert bytes(5) == ecs.read_disk(disk, 20 * GIB - 5, 5)


def test_write_then_read_back() -> None:
    """Bytes written at an offset read back exactly; neighbours stay zero."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    ecs.write_disk(disk, 1000, b"hello world")
    assert b"hello world" == ecs.read_disk(disk, 1000, 11)
    assert bytes(3) + b"hello world" + bytes(3) == ecs.read_disk(disk, 997, 17)


def test_partial_block_writes_keep_the_rest_of_the_block() -> None:
    """Overwriting part of a block keeps its other bytes; writes may straddle blocks."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    base = pattern(1, 3 * BS)
    ecs.write_disk(disk, 0, base)
    ecs.write_disk(disk, BS - 2, b"ABCD")
    ecs.write_disk(disk, 2 * BS + 100, b"Z")
    expected = bytearray(base)
    expected[BS - 2 : BS + 2] = b"ABCD"
    expected[2 * BS + 100] = ord("Z")
    assert bytes(expected) == ecs.read_disk(disk, 0, 3 * BS)


def test_bounds_are_checked() -> None:
    """Reads and writes must lie within the disk; the last byte is reachable."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    end = 20 * GIB
    ecs.write_disk(disk, end - 1, b"!")
    assert b"!" == ecs.read_disk(disk, end - 1, 1)
    assert b"" == ecs.read_disk(disk, end, 0)
    ecs.write_disk(disk, end, b"")
    for call in (
        lambda: ecs.write_disk(disk, end, b"x"),
        lambda: ecs.write_disk(disk, end - 1, b"xy"),
        lambda: ecs.read_disk(disk, end - 1, 2),
        lambda: ecs.read_disk(disk, end + 1, 0),
    ):
        rejected_unchanged(cloud, errors.InvalidParameterError, "InvalidParameter.OutOfRange", call)


@pytest.mark.parametrize("offset", [-1, 1.5, "0", True, None])
def test_offset_must_be_a_non_negative_int(offset: object) -> None:
    """Negative, float, string, bool or None offsets are refused."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    for call in (
        lambda: ecs.write_disk(disk, offset, b"x"),  # type: ignore[arg-type]
        lambda: ecs.read_disk(disk, offset, 1),  # type: ignore[arg-type]
    ):
        rejected_unchanged(cloud, errors.InvalidParameterError, "InvalidParameter.Offset", call)


@pytest.mark.parametrize("length", [-1, 2.0, "1", False])
def test_read_length_must_be_a_non_negative_int(length: object) -> None:
    """Bad lengths are InvalidParameter.Length."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    raises_code(
        errors.InvalidParameterError,
        "InvalidParameter.Length",
        lambda: ecs.read_disk(disk, 0, length),  # type: ignore[arg-type]
    )


def test_data_must_be_bytes_like() -> None:
    """bytearray and memoryview are accepted; str is refused."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    ecs.write_disk(disk, 0, bytearray(b"ab"))
    ecs.write_disk(disk, 2, memoryview(b"cd"))
    assert b"abcd" == ecs.read_disk(disk, 0, 4)
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidParameter.Data",
        lambda: ecs.write_disk(disk, 0, "text"),  # type: ignore[arg-type]
    )


def test_a_32_tib_disk_costs_nothing_until_written() -> None:
    """A 32 TiB disk holds no blob; one write at its far end stores exactly one block."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud, size=32 * 1024)
    assert StorageStats(0, 0) == cloud.storage_stats()
    end = 32 * 1024 * GIB
    assert bytes(64) == ecs.read_disk(disk, end - 64, 64)
    ecs.write_disk(disk, end - 3, b"end")
    assert StorageStats(1, BS) == cloud.storage_stats()
    assert b"end" == ecs.read_disk(disk, end - 3, 3)


def test_writing_zeros_frees_blocks() -> None:
    """Zeroing a whole block (or the rest of it) releases its blob."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    ecs.write_disk(disk, 0, pattern(2, 2 * BS))
    assert StorageStats(2, 2 * BS) == cloud.storage_stats()
    ecs.write_disk(disk, 0, bytes(BS))
    assert StorageStats(1, BS) == cloud.storage_stats()
    ecs.write_disk(disk, BS, bytes(2 * BS))
    assert StorageStats(0, 0) == cloud.storage_stats()
    assert bytes(2 * BS) == ecs.read_disk(disk, 0, 2 * BS)


def test_equal_blocks_are_stored_once() -> None:
    """Identical block contents, on one disk or two, share one blob."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20), DataDisk(size=20)])
    a, b = data_disk_ids(ecs, iid)
    block = pattern(3, BS)
    ecs.write_disk(a, 0, block * 3)
    ecs.write_disk(b, 7 * BS, block)
    assert StorageStats(1, BS) == cloud.storage_stats()


def test_overwrite_frees_the_old_content() -> None:
    """Replacing a block's content releases the old blob if nothing else holds it."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    ecs.write_disk(disk, 0, pattern(4, BS))
    ecs.write_disk(disk, 0, pattern(5, BS))
    assert StorageStats(1, BS) == cloud.storage_stats()
    assert pattern(5, BS) == ecs.read_disk(disk, 0, BS)


def test_guest_io_needs_a_running_instance() -> None:
    """Reads and writes of a stopped instance's disk are IncorrectInstanceStatus."""
    cloud = make_cloud()
    ecs, iid, disk = instance_with_disk(cloud)
    ecs.write_disk(disk, 0, b"data")
    stop(cloud, ecs, iid)
    for call in (lambda: ecs.write_disk(disk, 0, b"more"), lambda: ecs.read_disk(disk, 0, 4)):
        rejected_unchanged(cloud, errors.IncorrectStatusError, "IncorrectInstanceStatus", call)


def test_guest_io_needs_an_attached_disk() -> None:
    """An Available disk has no guest: IncorrectDiskStatus."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    disk = ecs.create_disk(zone_id=ZONE, size=20)
    for call in (lambda: ecs.write_disk(disk, 0, b"x"), lambda: ecs.read_disk(disk, 0, 1)):
        rejected_unchanged(cloud, errors.IncorrectStatusError, "IncorrectDiskStatus", call)


def test_pending_instance_cannot_do_io() -> None:
    """A disk of an instance still booting is not writable yet."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(size=20)], wait=False)
    [disk] = data_disk_ids(ecs, iid)
    rejected_unchanged(
        cloud,
        errors.IncorrectStatusError,
        "IncorrectInstanceStatus",
        lambda: ecs.write_disk(disk, 0, b"x"),
    )


@pytest.mark.parametrize("category", ["local_ssd_pro", "local_hdd_pro", "ephemeral_ssd"])
def test_local_disks_hold_data(category: str) -> None:
    """Local disks store and return bytes like cloud disks."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud, data_disks=[DataDisk(category=category, size=100)])
    [disk] = data_disk_ids(ecs, iid)
    ecs.write_disk(disk, 5 * BS + 1, b"local")
    assert b"local" == ecs.read_disk(disk, 5 * BS + 1, 5)
    assert StorageStats(1, BS) == cloud.storage_stats()


def test_system_disks_hold_data() -> None:
    """The system disk is a disk like the others."""
    cloud = make_cloud()
    ecs, iid = run_instance(cloud)
    [system] = [d.disk_id for d in ecs.describe_disks(instance_id=iid).items]
    ecs.write_disk(system, 0, b"MBR")
    assert b"MBR" == ecs.read_disk(system, 0, 3)


def test_write_records_an_event_but_an_empty_write_does_not() -> None:
    """A write emits DiskWritten with offset and length; an empty write changes nothing."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    before = len(cloud.events)
    ecs.write_disk(disk, 10, b"")
    assert before == len(cloud.events)
    ecs.write_disk(disk, 10, b"abc")
    [event] = cloud.events.list(DiskWritten, since=before)
    assert (disk, 10, 3) == (event.disk_id, event.offset, event.length)


def test_released_disk_frees_its_blocks() -> None:
    """Deleting a disk drops the blobs only it held."""
    cloud = make_cloud()
    ecs, iid, disk = instance_with_disk(cloud)
    ecs.write_disk(disk, 0, pattern(6, 4 * BS))
    ecs.detach_disk(instance_id=iid, disk_id=disk)
    ecs.delete_disk(disk)
    assert StorageStats(0, 0) == cloud.storage_stats()


writes = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=6 * BS),
        st.one_of(
            st.binary(min_size=1, max_size=2 * BS),
            st.integers(1, 2 * BS).map(bytes),
            st.integers(1, 3000).map(lambda n: bytes([7]) * n),
        ),
    ),
    max_size=15,
)


@settings(max_examples=60, deadline=None)
@given(writes)
def test_disk_behaves_like_a_bytearray(ops: list[tuple[int, bytes]]) -> None:
    """Any sequence of writes reads back like the same writes to a bytearray of zeros."""
    cloud = make_cloud()
    ecs, _, disk = instance_with_disk(cloud)
    model = bytearray(8 * BS)
    for offset, data in ops:
        ecs.write_disk(disk, offset, data)
        model[offset : offset + len(data)] = data
    assert bytes(model) == ecs.read_disk(disk, 0, len(model))
    contents = {bytes(model[i : i + BS]) for i in range(0, len(model), BS)} - {bytes(BS)}
    assert StorageStats(len(contents), BS * len(contents)) == cloud.storage_stats()
