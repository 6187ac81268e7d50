"""The snapshot interface ECS offers Cloud Backup, tested through the interface only."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import (
    GIB,
    REGION,
    instance_with_disk,
    make_cloud,
    pattern,
    raises_code,
    rejected_unchanged,
    system_disk_id,
)
from cloudbackup import Cloud, errors
from cloudbackup._regions import get_region
from cloudbackup._services._interfaces import ECS_SNAPSHOTS, SnapshotSource


def source(cloud: Cloud) -> SnapshotSource:
    """The region's snapshot interface, as another service would get it."""
    return cloud._world.provider(ECS_SNAPSHOTS, get_region(REGION))


def test_a_snapshot_reads_back_what_the_disk_held_when_it_was_taken() -> None:
    """read_snapshot returns the bytes of the moment of the snapshot, not the disk's now."""
    cloud = make_cloud()
    ecs, _, disk_id = instance_with_disk(cloud)
    snaps = source(cloud)
    ecs.write_disk(disk_id, 1000, pattern(1, 9000))
    first = snaps.take_snapshot(disk_id)
    ecs.write_disk(disk_id, 5000, pattern(2, 3000))
    second = snaps.take_snapshot(disk_id, retention_days=3, tags=[("k", "v")])
    ecs.write_disk(disk_id, 0, pattern(3, 20000))
    assert pattern(1, 9000) == snaps.read_snapshot(first, 1000, 9000)
    expected = bytearray(12000)
    expected[1000:10000] = pattern(1, 9000)
    expected[5000:8000] = pattern(2, 3000)
    assert bytes(expected) == snaps.read_snapshot(second, 0, 12000)
    assert (first, second) == tuple(s.snapshot_id for s in snaps.describe_chain(disk_id))
    assert (3, (("k", "v"),)) == (
        ecs.describe_snapshot(second).retention_days,
        ecs.describe_snapshot(second).tags,
    )


def test_an_encrypted_snapshot_reads_back_its_plaintext() -> None:
    """On an encrypted disk the interface gives the plaintext the guest wrote."""
    cloud = make_cloud()
    ecs, _, disk_id = instance_with_disk(cloud, encrypted=True)
    snaps = source(cloud)
    ecs.write_disk(disk_id, 4096 * 3 + 7, pattern(4, 5000))
    snapshot_id = snaps.take_snapshot(disk_id)
    assert pattern(4, 5000) == snaps.read_snapshot(snapshot_id, 4096 * 3 + 7, 5000)


def test_removing_a_middle_snapshot_keeps_the_others_readable() -> None:
    """After remove_snapshot the chain shrinks and the later snapshot still reads whole."""
    cloud = make_cloud()
    ecs, _, disk_id = instance_with_disk(cloud)
    snaps = source(cloud)
    ecs.write_disk(disk_id, 0, pattern(5, 8192))
    first = snaps.take_snapshot(disk_id)
    ecs.write_disk(disk_id, 4096, pattern(6, 100))
    second = snaps.take_snapshot(disk_id)
    snaps.remove_snapshot(first)
    expected = bytearray(pattern(5, 8192))
    expected[4096:4196] = pattern(6, 100)
    assert (second,) == tuple(s.snapshot_id for s in snaps.describe_chain(disk_id))
    assert bytes(expected) == snaps.read_snapshot(second, 0, 8192)


def test_a_group_snapshots_every_disk_of_the_instance_at_one_instant() -> None:
    """take_snapshot_group returns the group and one snapshot per disk, each readable."""
    cloud = make_cloud()
    ecs, instance_id, disk_id = instance_with_disk(cloud)
    snaps = source(cloud)
    ecs.write_disk(disk_id, 0, pattern(7, 300))
    group_id, members = snaps.take_snapshot_group(instance_id)
    assert (
        members == ecs.describe_snapshot_groups(snapshot_group_ids=[group_id]).items[0].snapshot_ids
    )
    by_disk = {ecs.describe_snapshot(s).source_disk_id: s for s in members}
    assert {disk_id, system_disk_id(ecs, instance_id)} == set(by_disk)
    assert pattern(7, 300) == snaps.read_snapshot(by_disk[disk_id], 0, 300)


def test_group_members_are_taken_named_kept_and_tagged_as_asked() -> None:
    """Each member of take_snapshot_group carries the name, retention, expiry timer and tags
    asked (after acs:ecs:createFrom), and its snapshot record is written once."""
    cloud = make_cloud()
    ecs, instance_id, disk_id = instance_with_disk(cloud)
    snaps = source(cloud)
    puts: list[str] = []
    backend = cloud._world.store.backend
    real_put = backend.put

    def counting_put(kind: str, partition: str, key: str, value: object) -> None:
        puts.append(f"{kind}/{key}")
        real_put(kind, partition, key, value)

    backend.put = counting_put  # type: ignore[method-assign]
    group_id, members = snaps.take_snapshot_group(
        instance_id, disk_ids=[disk_id], snapshot_name="bak-1", retention_days=3,
        tags=[("hbr", "job-1")],
    )  # fmt: skip
    backend.put = real_put  # type: ignore[method-assign]
    snapshot = ecs.describe_snapshot(members[0])
    assert ("bak-1", 3, (("acs:ecs:createFrom", instance_id), ("hbr", "job-1"))) == (
        snapshot.snapshot_name,
        snapshot.retention_days,
        snapshot.tags,
    )
    assert group_id == snapshot.snapshot_group_id
    assert [f"ecs.snapshot/{members[0]}"] == [p for p in puts if p.startswith("ecs.snapshot/")]
    expiry = [t for t in cloud._world.engine.pending() if t.target_id == members[0]]
    assert [snapshot.expire_time] == [t.due for t in expiry]


def test_a_group_with_a_bad_retention_is_refused_and_changes_nothing() -> None:
    """take_snapshot_group checks RetentionDays (after the group's own checks) and a refused
    call leaves no group, snapshot or timer."""
    cloud = make_cloud()
    _, instance_id, _ = instance_with_disk(cloud)
    snaps = source(cloud)
    for days in (0, 65_537, "3"):
        rejected_unchanged(
            cloud,
            errors.InvalidParameterError,
            "InvalidRetentionDays.Malformed",
            lambda days=days: snaps.take_snapshot_group(instance_id, retention_days=days),  # type: ignore[misc]
        )
    rejected_unchanged(
        cloud,
        errors.ResourceNotFoundError,
        "InvalidInstanceId.NotFound",
        lambda: snaps.take_snapshot_group("i-none", retention_days=0),
    )


def test_bad_requests_are_refused_with_the_ecs_codes_and_change_nothing() -> None:
    """Missing ids and out-of-range reads are refused; nothing changes."""
    cloud = make_cloud()
    _, _, disk_id = instance_with_disk(cloud)
    snaps = source(cloud)
    snapshot_id = snaps.take_snapshot(disk_id)
    cases = [
        (
            errors.ResourceNotFoundError,
            "InvalidSnapshotId.NotFound",
            lambda: snaps.remove_snapshot("s-none"),
        ),
        (
            errors.ResourceNotFoundError,
            "InvalidSnapshotId.NotFound",
            lambda: snaps.read_snapshot("s-none", 0, 1),
        ),
        (
            errors.ResourceNotFoundError,
            "InvalidDiskId.NotFound",
            lambda: snaps.describe_chain("d-none"),
        ),
        (
            errors.ResourceNotFoundError,
            "InvalidDiskId.NotFound",
            lambda: snaps.take_snapshot("d-none"),
        ),
        (
            errors.InvalidParameterError,
            "InvalidParameter.OutOfRange",
            lambda: snaps.read_snapshot(snapshot_id, 20 * GIB, 1),
        ),
        (
            errors.InvalidParameterError,
            "InvalidParameter.Offset",
            lambda: snaps.read_snapshot(snapshot_id, -1, 1),
        ),
        (
            errors.InvalidParameterError,
            "InvalidParameter.Length",
            lambda: snaps.read_snapshot(snapshot_id, 0, True),
        ),
    ]
    for cls, code, call in cases:
        rejected_unchanged(cloud, cls, code, call)
    assert b"\0" == snaps.read_snapshot(snapshot_id, 20 * GIB - 1, 1)
    assert b"" == snaps.read_snapshot(snapshot_id, 20 * GIB, 0)


def test_a_locked_snapshot_cannot_be_removed_through_the_interface() -> None:
    """remove_snapshot obeys the same rules as delete_snapshot (a compliance lock holds)."""
    cloud = make_cloud()
    ecs, _, disk_id = instance_with_disk(cloud)
    snaps = source(cloud)
    snapshot_id = snaps.take_snapshot(disk_id, retention_days=10)
    ecs.lock_snapshot(snapshot_id=snapshot_id, lock_duration=1)
    raises_code(
        errors.OperationDeniedError,
        "OperationDenied.SnapshotLocked",
        lambda: snaps.remove_snapshot(snapshot_id),
    )


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 40000), st.integers(1, 9000), st.integers(0, 99)),
        min_size=1,
        max_size=6,
    ),
    st.integers(0, 40000),
    st.integers(0, 9000),
)
def test_reading_any_range_of_any_snapshot_matches_a_bytearray(
    writes: list[tuple[int, int, int]], offset: int, length: int
) -> None:
    """Property: a snapshot after each write reads back exactly like a plain bytearray."""
    cloud = make_cloud()
    ecs, _, disk_id = instance_with_disk(cloud)
    snaps = source(cloud)
    model = bytearray(50000)
    taken: list[tuple[str, bytes]] = []
    for start, size, seed in writes:
        data = pattern(seed, size)
        ecs.write_disk(disk_id, start, data)
        model[start : start + size] = data
        taken.append((snaps.take_snapshot(disk_id), bytes(model)))
    for snapshot_id, content in taken:
        assert content[offset : offset + length] == snaps.read_snapshot(
            snapshot_id, offset, min(length, 50000 - offset)
        )


def test_read_snapshot_is_one_consistent_read_while_another_process_deletes(
    tmp_path: object,
) -> None:
    """A snapshot deleted by another process mid-read gives the old bytes, never zeros."""
    import datetime as dt

    from cloudbackup import SqliteBackend

    path = f"{tmp_path}/w.db"
    with (
        Cloud(seed=0, block_size=4096, backend=SqliteBackend(path)) as first,
        Cloud(seed=0, block_size=4096, backend=SqliteBackend(path)) as second,
    ):
        ecs, _, disk_id = instance_with_disk(first)
        ecs.write_disk(disk_id, 0, b"X" * 4096)
        snapshot_id = source(first).take_snapshot(disk_id)
        first.advance(dt.timedelta(hours=1))
        store = ecs._maps.store
        original = store.raw_range
        interleaved: list[int] = []

        def delete_meanwhile(*args: Any, **kwargs: Any) -> list[tuple[str, object]]:
            if not interleaved:  # the extent maps are read by ranges
                interleaved.append(1)
                second.ecs(REGION).delete_snapshot(snapshot_id)
            return original(*args, **kwargs)

        store.raw_range = delete_meanwhile  # type: ignore[method-assign]
        assert (b"XXXX", [1]) == (source(first).read_snapshot(snapshot_id, 0, 4), interleaved)


def test_describe_chain_reads_one_committed_state() -> None:
    """describe_chain opens one read snapshot for all its reads."""
    from contextlib import contextmanager

    cloud = make_cloud()
    _, _, disk_id = instance_with_disk(cloud)
    snapshot_id = source(cloud).take_snapshot(disk_id)
    store = cloud._world.store
    original = store.reading
    opened: list[int] = []

    @contextmanager
    def counting():  # type: ignore[no-untyped-def]
        opened.append(1)
        with original():
            yield

    store.reading = counting  # type: ignore[method-assign]
    chain = source(cloud).describe_chain(disk_id)
    assert ((snapshot_id,), [1]) == (tuple(s.snapshot_id for s in chain), opened[:1])


def test_managed_snapshots_keep_retention_without_timer_all_or_nothing() -> None:
    """manage_snapshots sets retention with no ECS expiry timer; one missing id changes
    nothing; unmanage_snapshot sets the timer again."""
    cloud = make_cloud()
    ecs, _, disk_id = instance_with_disk(cloud)
    snaps = source(cloud)
    first = snaps.take_snapshot(disk_id, retention_days=3)
    second = snaps.take_snapshot(disk_id, retention_days=3)

    def timers() -> list[str]:
        return sorted(
            t.target_id for t in cloud._world.engine.pending() if t.action == "ecs.snapshot_expire"
        )

    rejected_unchanged(
        cloud,
        errors.ResourceNotFoundError,
        "InvalidSnapshotId.NotFound",
        lambda: snaps.manage_snapshots([first, "s-missing", second], 9),
    )
    snaps.manage_snapshots([first, second], 9)
    assert ([9, 9], []) == (
        [ecs.describe_snapshot(s).retention_days for s in (first, second)],
        timers(),
    )
    snaps.unmanage_snapshot(second, expired=False)
    assert [second] == timers()
    snaps.unmanage_snapshot(first, expired=True)
    assert ([second], [second]) == (
        [s.snapshot_id for s in snaps.describe_chain(disk_id)],
        timers(),
    )


def test_a_snapshot_taken_managed_records_its_retention_but_no_timer() -> None:
    """take_snapshot and take_snapshot_group with managed=True keep the retention asked (as
    DescribeSnapshots shows it) and set no ECS expiry timer; without it the timer is set."""
    cloud = make_cloud()
    ecs, instance_id, disk_id = instance_with_disk(cloud)
    snaps = source(cloud)
    single = snaps.take_snapshot(disk_id, retention_days=4, snapshot_name="bak-1", managed=True)
    group_id, members = snaps.take_snapshot_group(
        instance_id, disk_ids=[disk_id], retention_days=5, managed=True
    )
    plain = snaps.take_snapshot(disk_id, retention_days=6)

    def expiry(snapshot_id: str) -> list[object]:
        pending = cloud._world.engine.pending()
        wanted = ("ecs.snapshot_expire", snapshot_id)
        return [t.due for t in pending if (t.action, t.target_id) == wanted]

    shown = [ecs.describe_snapshot(s) for s in (single, members[0], plain)]
    assert ([4, 5, 6], "bak-1", group_id) == (
        [s.retention_days for s in shown],
        shown[0].snapshot_name,
        shown[1].snapshot_group_id,
    )
    assert ([], [], [shown[2].expire_time]) == (expiry(single), expiry(members[0]), expiry(plain))
    snaps.unmanage_snapshot(single, expired=False)
    assert [shown[0].expire_time] == expiry(single)


def test_a_managed_take_refused_changes_nothing() -> None:
    """A managed take is checked as CreateSnapshot/CreateSnapshotGroup check theirs: a bad
    retention, name or disk is refused with the ECS code and leaves nothing behind."""
    cloud = make_cloud()
    _, instance_id, disk_id = instance_with_disk(cloud)
    snaps = source(cloud)
    for days in (0, 65_537, "3"):
        rejected_unchanged(
            cloud,
            errors.InvalidParameterError,
            "InvalidRetentionDays.Malformed",
            lambda days=days: snaps.take_snapshot(disk_id, retention_days=days, managed=True),  # type: ignore[misc]
        )
        rejected_unchanged(
            cloud,
            errors.InvalidParameterError,
            "InvalidRetentionDays.Malformed",
            lambda days=days: snaps.take_snapshot_group(  # type: ignore[misc]
                instance_id, retention_days=days, managed=True
            ),
        )
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidSnapshotName.Malformed",
        lambda: snaps.take_snapshot(disk_id, snapshot_name="auto-x", managed=True),
    )
    rejected_unchanged(
        cloud,
        errors.ResourceNotFoundError,
        "InvalidDiskId.NotFound",
        lambda: snaps.take_snapshot("d-none", retention_days=3, managed=True),
    )
