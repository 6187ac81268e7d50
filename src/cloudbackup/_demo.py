"""The demo: a short, printed story of an instance backed up, rolled back, then protected.

Run it with ``python -m cloudbackup demo`` (or the ``cloudbackup demo`` console script).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Callable

from ._cloud import DEFAULT_BLOCK_SIZE, Cloud
from ._demo_hbr import hbr_story
from ._domain.requests import DataDisk, ResetDiskSpec, SystemDisk

__all__ = ["run_demo"]

_MIB = 1024 * 1024


def _fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def _blocks_touched(offset: int, length: int, block_size: int) -> int:
    """How many whole blocks a write of ``length`` bytes at ``offset`` lands in."""
    return (offset + length - 1) // block_size - offset // block_size + 1


def run_demo(
    echo: Callable[[str], None] = print,
    *,
    seed: int = 0,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> bool:
    """Tell the story, one line a step, on the in-memory default; True if the bytes matched.

    The ECS story (an instance rolled back from a snapshot group) is followed by Cloud
    Backup's (:func:`cloudbackup._demo_hbr.hbr_story`): a week of daily backups of the same
    instance, a skipped run, expiry, special and immutable retention, and a restore.

    Args:
        echo: Where each line goes (default: ``print``).
        seed: The world's seed; the story is identical for the same seed.
        block_size: The world's block size; every figure the story prints follows from it.
    """
    cloud = Cloud(seed=seed, block_size=block_size)
    region, zone = "cn-hangzhou", "cn-hangzhou-h"
    ecs = cloud.ecs(region)

    def status_of(instance_id: str) -> str:
        return ecs.describe_instances(instance_ids=[instance_id]).items[0].status.value

    def say(text: str) -> None:
        echo(f"[{cloud.now():%Y-%m-%d %H:%M:%S}Z] {text}")

    [instance_id] = ecs.run_instances(
        zone_id=zone,
        instance_type="ecs.g7.large",
        instance_name="orders-db",
        system_disk=SystemDisk(category="cloud_essd", size=40, performance_level="PL1"),
        data_disks=[
            DataDisk(category="cloud_essd", size=100, disk_name="data"),
            DataDisk(category="cloud_essd", size=20, disk_name="wal"),
        ],
    )
    disks = {d.disk_name or "system": d for d in ecs.describe_disks(instance_id=instance_id)}
    system, data, wal = disks["system"], disks["data"], disks["wal"]
    say(
        f"Created instance {instance_id} in {zone}: ESSD system disk {system.disk_id} "
        f"({system.size} GiB) and data disks {data.disk_id} ({data.size} GiB), "
        f"{wal.disk_id} ({wal.size} GiB)."
    )
    cloud.advance(_dt.timedelta(minutes=1))
    say(f"Advanced virtual time 1 minute: instance is {status_of(instance_id)}.")

    orders_v1 = b"order 1001: 3 widgets\n" * 2000
    config, config_offset = b"/etc/app.conf: v1\n", 10 * _MIB
    writes = [
        (data.disk_id, 0, orders_v1),
        (wal.disk_id, 0, b"commit 1001\n"),
        (system.disk_id, config_offset, config),
    ]
    for disk_id, offset, payload in writes:
        ecs.write_disk(disk_id, offset, payload)
    say(
        f"Guest wrote {len(orders_v1):,} bytes of orders to {data.disk_id} "
        f"(sha256 {_fingerprint(orders_v1)}), their commit record to {wal.disk_id}, and "
        f"{len(config)} bytes of configuration to the system disk {system.disk_id} at "
        f"{config_offset // _MIB} MiB."
    )

    group_id = ecs.create_snapshot_group(instance_id=instance_id, name="before-migration")
    group = ecs.describe_snapshot_groups(snapshot_group_ids=[group_id]).items[0]
    say(
        f"Took snapshot-consistent group {group_id}: {len(group.snapshot_ids)} snapshots of "
        f"all disks at one instant, status {group.status.value}."
    )

    ecs.write_disk(data.disk_id, 0, b"CORRUPTED BY A BAD MIGRATION\n" * 500)
    ecs.write_disk(wal.disk_id, 0, b"commit 9999 (bogus)\n")
    say("A bad migration overwrote the orders and the commit log.")

    ecs.stop_instance(instance_id)
    cloud.advance(_dt.timedelta(minutes=1))
    say(f"Stopped the instance for the rollback: {status_of(instance_id)}.")

    members = ecs.describe_snapshots(snapshot_ids=list(group.snapshot_ids)).items
    pairs = [ResetDiskSpec(disk_id=s.source_disk_id, snapshot_id=s.snapshot_id) for s in members]
    ecs.reset_disks(disks=pairs)
    say(f"Rolled back {len(pairs)} disks from group {group_id} with ResetDisks.")

    ecs.start_instance(instance_id)
    cloud.advance(_dt.timedelta(minutes=1))
    restored = ecs.read_disk(data.disk_id, 0, len(orders_v1))
    log = ecs.read_disk(wal.disk_id, 0, 12)
    ok = restored == orders_v1 and log == b"commit 1001\n"
    say(
        f"Started again and read back: orders sha256 {_fingerprint(restored)}, log {log!r} "
        f"-> {'identical to' if ok else 'DIFFERENT from'} what was there at the snapshot."
    )
    links = ecs.describe_snapshot_links(instance_id=instance_id).items
    total = sum(link.total_size for link in links)
    written = sum(len(payload) for _, _, payload in writes)
    blocks = sum(_blocks_touched(o, len(p), block_size) for _, o, p in writes)
    say(
        f"The {len(links)} snapshot chains hold {total // 1024:,} KiB for the {written:,} bytes "
        f"written: a snapshot keeps whole {block_size // 1024:,} KiB blocks, and the writes "
        f"landed in {blocks} of them ({blocks} x {block_size // 1024:,} KiB)."
    )
    say(
        f"The world logged {len(cloud.events)} events and stores "
        f"{cloud.storage_stats().blob_bytes // 1024:,} KiB of block data."
    )
    protected = hbr_story(
        cloud,
        say,
        region=region,
        zone=zone,
        instance_id=instance_id,
        data_disk_id=data.disk_id,
        orders_length=len(orders_v1),
    )
    return ok and protected
