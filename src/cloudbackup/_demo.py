"""The demo: a short, printed story of an instance backed up and rolled back.

Run it with ``python -m cloudbackup demo`` (or the ``cloudbackup demo`` console script).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Callable

from ._cloud import Cloud
from ._domain.requests import DataDisk, ResetDiskSpec, SystemDisk

__all__ = ["run_demo"]

_MIB = 1024 * 1024


def _fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def run_demo(echo: Callable[[str], None] = print, *, seed: int = 0) -> bool:
    """Tell the story, one line a step, on the in-memory default; True if the bytes matched.

    Args:
        echo: Where each line goes (default: ``print``).
        seed: The world's seed; the story is identical for the same seed.
    """
    cloud = Cloud(seed=seed)
    region, zone = "cn-hangzhou", "cn-hangzhou-h"
    ecs = cloud.ecs(region)

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
    status = ecs.describe_instance_attribute(instance_id).status.value
    say(f"Advanced virtual time 1 minute: instance is {status}.")

    orders_v1 = b"order 1001: 3 widgets\n" * 2000
    ecs.write_disk(data.disk_id, 0, orders_v1)
    ecs.write_disk(wal.disk_id, 0, b"commit 1001\n")
    ecs.write_disk(system.disk_id, 10 * _MIB, b"/etc/app.conf: v1\n")
    say(
        f"Guest wrote {len(orders_v1):,} bytes of orders to {data.disk_id} "
        f"(sha256 {_fingerprint(orders_v1)}) and their commit record to {wal.disk_id}."
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
    status = ecs.describe_instance_attribute(instance_id).status.value
    say(f"Stopped the instance for the rollback: {status}.")

    pairs = [
        ResetDiskSpec(disk_id=ecs.describe_snapshot(s).source_disk_id, snapshot_id=s)
        for s in group.snapshot_ids
    ]
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
    say(
        f"The 3 snapshot chains hold {total // 1024} KiB; the world logged "
        f"{len(cloud.events)} events and stores {cloud.storage_stats().blob_bytes // 1024} KiB "
        "of block data."
    )
    return ok
