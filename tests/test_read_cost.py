"""Reads that name their records read only those records: describe_locked_snapshots with
snapshot ids and describe_snapshot_links with chain ids or disk ids never scan the region."""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Iterator

from _helpers import instance_with_disk, make_cloud, pattern, settle, system_disk_id
from cloudbackup import Cloud, DataDisk, InMemoryBackend, SnapshotLink
from cloudbackup._domain.ecs import Disk, Snapshot

ZONE = "cn-hangzhou-h"


class CountingBackend(InMemoryBackend):
    """An in-memory backend that counts its reads by kind: whole partitions scanned, and
    single records read."""

    def __init__(self) -> None:
        super().__init__()
        self.scans: collections.Counter[str] = collections.Counter()
        self.gets: collections.Counter[str] = collections.Counter()

    def scan(self, kind: str, partition: str) -> Iterator[tuple[str, object]]:
        self.scans[kind] += 1
        return super().scan(kind, partition)

    def get(self, kind: str, partition: str, key: str) -> object | None:
        self.gets[kind] += 1
        return super().get(kind, partition, key)

    def reset(self) -> None:
        """Forget the counts so far."""
        self.scans.clear()
        self.gets.clear()


def _region_of_chains(backend: CountingBackend) -> tuple[Cloud, list[str], list[str]]:
    """A region with five disks, each with a locked snapshot: (cloud, disk ids, snapshot ids)."""
    cloud = make_cloud(backend=backend)
    ecs, instance_id, first = instance_with_disk(cloud)
    disks = [first]
    for _ in range(4):
        disk_id = ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20)
        ecs.attach_disk(disk_id=disk_id, instance_id=instance_id)
        disks.append(disk_id)
    settle(cloud)
    snapshots = []
    for index, disk_id in enumerate(disks):
        ecs.write_disk(disk_id, 0, pattern(index, 4096))
        snapshot_id = ecs.create_snapshot(disk_id=disk_id)
        ecs.lock_snapshot(snapshot_id=snapshot_id, lock_duration=1)
        snapshots.append(snapshot_id)
    return cloud, disks, snapshots


def test_locked_snapshots_by_id_read_only_the_named_snapshots() -> None:
    """describe_locked_snapshots(snapshot_ids=[one]) reads one snapshot and scans none."""
    backend = CountingBackend()
    cloud, _, snapshots = _region_of_chains(backend)
    backend.reset()
    page = cloud.ecs("cn-hangzhou").describe_locked_snapshots(snapshot_ids=[snapshots[2]])
    assert [snapshots[2]] == [info.snapshot_id for info in page.items]
    assert (0, 1) == (backend.scans[Snapshot.KIND], backend.gets[Snapshot.KIND])


def test_snapshot_links_by_id_read_only_the_named_chains() -> None:
    """describe_snapshot_links(snapshot_link_ids=[one]) reads one chain and scans none."""
    backend = CountingBackend()
    cloud, disks, _ = _region_of_chains(backend)
    ecs = cloud.ecs("cn-hangzhou")
    link_id = ecs.describe_disk(disks[3]).snapshot_link_id
    assert link_id is not None
    backend.reset()
    page = ecs.describe_snapshot_links(snapshot_link_ids=[link_id])
    assert [link_id] == [link.snapshot_link_id for link in page.items]
    assert (0, 1) == (backend.scans[SnapshotLink.KIND], backend.gets[SnapshotLink.KIND])


def test_snapshot_links_by_disk_read_the_disk_and_its_chain_only() -> None:
    """describe_snapshot_links(disk_ids=[two]) reads two disks and two chains, scans none,
    and answers exactly those disks' chains in id order."""
    backend = CountingBackend()
    cloud, disks, _ = _region_of_chains(backend)
    ecs = cloud.ecs("cn-hangzhou")
    expected = sorted(str(ecs.describe_disk(d).snapshot_link_id) for d in (disks[4], disks[1]))
    backend.reset()
    page = ecs.describe_snapshot_links(disk_ids=[disks[4], disks[1]])
    assert expected == [link.snapshot_link_id for link in page.items]
    assert (0, 0) == (backend.scans[SnapshotLink.KIND], backend.scans["ecs.disk"])
    assert (2, 2) == (backend.gets[SnapshotLink.KIND], backend.gets["ecs.disk"])


def test_the_chain_of_a_released_disk_is_still_found_by_its_disk_id() -> None:
    """A disk released after its snapshot keeps its chain: describe_snapshot_links by that
    disk id still answers it (by reading the region's chains)."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    [instance_id] = ecs.run_instances(
        zone_id=ZONE, instance_type="ecs.g7.large", data_disks=[DataDisk(size=20)]
    )
    settle(cloud)
    [disk] = ecs.describe_disks(instance_id=instance_id, disk_type="data").items
    ecs.write_disk(disk.disk_id, 0, pattern(1, 4096))
    snapshot_id = ecs.create_snapshot(disk_id=disk.disk_id)
    link_id = ecs.describe_snapshot(snapshot_id).snapshot_link_id
    ecs.detach_disk(disk_id=disk.disk_id, instance_id=instance_id)
    ecs.delete_disk(disk.disk_id)
    page = ecs.describe_snapshot_links(disk_ids=[disk.disk_id])
    assert [(link_id, (snapshot_id,))] == [
        (link.snapshot_link_id, link.snapshot_ids) for link in page.items
    ]


class RangeCountingBackend(CountingBackend):
    """A counting backend that also counts the entries its ordered slices return, by kind."""

    def __init__(self) -> None:
        super().__init__()
        self.ranged: collections.Counter[str] = collections.Counter()

    def scan_range(
        self,
        kind: str,
        partition: str,
        start: str | None,
        stop: str | None,
        reverse: bool,
        limit: int | None,
    ) -> list[tuple[str, object]]:
        found = super().scan_range(kind, partition, start, stop, reverse, limit)
        self.ranged[kind] += len(found)
        return found

    def reset(self) -> None:
        """Forget the counts so far."""
        super().reset()
        self.ranged.clear()


def _reads_of_region_pages(snapshots: int) -> tuple[int, int, int, int, int]:
    """(snapshot scans, snapshot gets, index entries read, counts read, total count) for a first
    page of 10 and a NextToken page of 10 of a region-wide describe_snapshots over
    ``snapshots``."""
    backend = RangeCountingBackend()
    cloud = make_cloud(backend=backend)
    ecs, _, disk_id = instance_with_disk(cloud)
    for _ in range(snapshots):
        ecs.create_snapshot(disk_id=disk_id, retention_days=30)
        settle(cloud)
    backend.reset()
    first = ecs.describe_snapshots(max_results=10)
    ecs.describe_snapshots(max_results=10, next_token=first.next_token)
    entries, counts = backend.ranged["ecs.snapshots_by_time"], backend.ranged["index.counts"]
    gets = backend.gets[Snapshot.KIND]
    return backend.scans[Snapshot.KIND], gets, entries, counts, first.total_count


def test_a_region_wide_snapshot_page_reads_the_page_not_the_region() -> None:
    """Two region-wide describe_snapshots pages of 10 read 11 index entries and their 11
    snapshots each (the 11th says whether a next page exists) and the one facet count of the
    region's snapshots, for 25 snapshots as for 100."""
    assert (0, 22, 22, 2, 25) == _reads_of_region_pages(25)
    assert (0, 22, 22, 2, 100) == _reads_of_region_pages(100)


def test_snapshot_links_of_an_instance_read_only_its_chains() -> None:
    """describe_snapshot_links(instance_id=...) reads the instance's chains through the index
    of chains by instance and scans none."""
    backend = CountingBackend()
    cloud, disks, _ = _region_of_chains(backend)
    ecs = cloud.ecs("cn-hangzhou")
    instance_id = ecs.describe_disk(disks[0]).attachments[0].instance_id
    expected = sorted(str(ecs.describe_disk(disk_id).snapshot_link_id) for disk_id in disks)
    backend.reset()
    page = ecs.describe_snapshot_links(instance_id=instance_id, page_size=50)
    assert expected == [link.snapshot_link_id for link in page.items]
    assert (0, 5) == (backend.scans[SnapshotLink.KIND], backend.gets[SnapshotLink.KIND])


def test_snapshot_links_of_a_released_disk_read_only_its_chain() -> None:
    """describe_snapshot_links(disk_ids=[a released disk]) finds the chain that outlived the
    disk through the index of chains by source disk, and scans none."""
    backend = CountingBackend()
    cloud, disks, _ = _region_of_chains(backend)
    ecs = cloud.ecs("cn-hangzhou")
    link_id = ecs.describe_disk(disks[4]).snapshot_link_id
    ecs.detach_disk(
        disk_id=disks[4], instance_id=ecs.describe_disk(disks[4]).attachments[0].instance_id
    )
    settle(cloud)
    ecs.delete_disk(disk_id=disks[4])
    backend.reset()
    page = ecs.describe_snapshot_links(disk_ids=[disks[4]])
    assert [link_id] == [link.snapshot_link_id for link in page.items]
    assert (0, 1) == (backend.scans[SnapshotLink.KIND], backend.gets[SnapshotLink.KIND])


def test_region_wide_describes_in_id_order_scan_nothing() -> None:
    """describe_disks, describe_instances, describe_images and KMS list_keys without filters
    read their page from an ordered slice of the region and scan no partition of it."""
    backend = CountingBackend()
    cloud, disks, _ = _region_of_chains(backend)
    ecs = cloud.ecs("cn-hangzhou")
    instance_id = ecs.describe_disk(disks[0]).attachments[0].instance_id
    system = system_disk_id(ecs, instance_id)
    images = []
    for _ in range(3):
        images.append(ecs.create_image(snapshot_id=ecs.create_snapshot(disk_id=system)))
        settle(cloud)
    kms = cloud.kms("cn-hangzhou")
    keys = sorted(kms.create_key().key_id for _ in range(3))
    every_disk = sorted([*disks, system])
    backend.reset()
    assert every_disk[1:3] == [
        d.disk_id for d in ecs.describe_disks(page_number=2, page_size=1)
    ] + [d.disk_id for d in ecs.describe_disks(page_number=3, page_size=1)]
    assert sorted(images)[1:2] == [
        i.image_id for i in ecs.describe_images(page_number=2, page_size=1)
    ]
    assert [instance_id] == [i.instance_id for i in ecs.describe_instances(page_size=5)]
    assert keys[2:] == [k.key_id for k in kms.list_keys(page_number=2, page_size=2)]
    assert 0 == sum(backend.scans.values())


def _reads_of_filtered_pages(snapshots: int) -> tuple[int, int, int, int, int]:
    """(snapshot scans, snapshot gets, index entries and counts read, total count, disk gets)
    for a first page of 10 and a NextToken page of 10 of describe_snapshots filtered by
    status, type, source disk type and encryption, and of describe_disks filtered by status,
    over ``snapshots`` snapshots spread over 64 data disks (16 efficiency disks, whose newest
    snapshot is still progressing, and 48 ESSD)."""
    backend = RangeCountingBackend()
    cloud = make_cloud(backend=backend)
    ecs = cloud.ecs("cn-hangzhou")
    disks: list[str] = []
    for category in ("cloud_efficiency", "cloud_essd", "cloud_essd", "cloud_essd"):
        (instance_id,) = ecs.run_instances(
            zone_id=ZONE,
            instance_type="ecs.g7.large",
            data_disks=[DataDisk(category=category, size=20) for _ in range(16)],
        )
        settle(cloud)
        found = ecs.describe_disks(instance_id=instance_id, disk_type="data", page_size=100)
        disks.extend(d.disk_id for d in found.items)
    made = 0
    while made < snapshots:
        cloud.advance(dt.timedelta(hours=3))  # the previous round's snapshots finish
        for disk_id in disks[: snapshots - made]:
            ecs.create_snapshot(disk_id=disk_id, retention_days=65_536)
            made += 1
    backend.reset()
    filters = {"status": "accomplished", "snapshot_type": "user", "source_disk_type": "data"}
    first = ecs.describe_snapshots(max_results=10, encrypted=False, **filters)
    ecs.describe_snapshots(max_results=10, encrypted=False, next_token=first.next_token, **filters)
    disk_page = ecs.describe_disks(status="In_use", category="cloud_essd", max_results=10)
    ecs.describe_disks(status="In_use", max_results=10, next_token=disk_page.next_token)
    ranged = sum(backend.ranged.values())
    gets = backend.gets
    return (
        backend.scans[Snapshot.KIND],
        gets[Snapshot.KIND],
        ranged,
        first.total_count,
        gets[Disk.KIND],
    )


def test_a_filtered_snapshot_page_reads_the_page_not_the_region() -> None:
    """Two filtered describe_snapshots pages of 10 read 11 snapshots each and the same index
    entries whether the region holds 1,000 snapshots or 10,000; filtered describe_disks pages
    read their page too."""
    small, large = _reads_of_filtered_pages(1_000), _reads_of_filtered_pages(10_000)
    assert (0, 22, 1_000 - 16, 22) == small[:2] + small[3:]
    assert (0, 22, 10_000 - 16, 22) == large[:2] + large[3:]
    assert small[2] == large[2]
