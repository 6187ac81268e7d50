"""Writes ``world-v6.db``: a world saved by cloudbackup at SQLite schema version 6 (block maps).

The v7 migration tests open copies of that file, so they test what version 6 really wrote. To
make it again, run this with version 6's source (commit 0b6e708)::

    git archive 0b6e708 src | tar -x -C /tmp/v6
    PYTHONPATH=/tmp/v6/src python tests/data/make_world_v6.py tests/data/world-v6.db

64 KiB blocks (16 pages each), a plain and an encrypted data disk, each with a chain of two
snapshots where the second zeroes a whole block (an all-zero delta entry), a dirty block left
after the last snapshot, and a disk made from the encrypted snapshot under another key.
"""

import datetime as dt
import sys
from pathlib import Path

import cloudbackup
from cloudbackup import Cloud, DataDisk, SqliteBackend, SystemDisk
from cloudbackup._backends._sqlite import SCHEMA_VERSION

assert SCHEMA_VERSION == 6, cloudbackup.__file__
BS = 65536
path = Path(sys.argv[1])
path.unlink(missing_ok=True)
with Cloud(backend=SqliteBackend(path), seed=6, block_size=BS) as cloud:
    ecs = cloud.ecs("cn-hangzhou")
    kms = cloud.kms("cn-hangzhou")
    other = kms.create_key().key_id
    [iid] = ecs.run_instances(
        zone_id="cn-hangzhou-h",
        instance_type="ecs.g7.large",
        instance_name="v6",
        system_disk=SystemDisk(),
        data_disks=[
            DataDisk(size=20, disk_name="plain"),
            DataDisk(size=20, disk_name="sealed", encrypted=True),
        ],
    )
    cloud.advance(dt.timedelta(minutes=5))
    disks = {
        d.disk_name: d.disk_id for d in ecs.describe_disks(instance_id=iid, disk_type="data").items
    }
    for name, disk in sorted(disks.items()):
        ecs.write_disk(disk, 100, f"{name} block zero ".encode() * 300)
        ecs.write_disk(disk, BS + 5000, b"\x02" * 70000)
        ecs.write_disk(disk, 3 * BS, b"\x03" * BS)
        ecs.create_snapshot(disk_id=disk, snapshot_name=f"{name}-1")
        ecs.write_disk(disk, 3 * BS, bytes(BS))
        ecs.write_disk(disk, 100, f"{name} changed ".encode() * 10)
        ecs.create_snapshot(disk_id=disk, snapshot_name=f"{name}-2")
        ecs.write_disk(disk, 7 * BS + 1, b"dirty")
    [sealed_1] = ecs.describe_snapshots(snapshot_name="sealed-1").items
    ecs.create_disk(
        zone_id="cn-hangzhou-h",
        disk_name="copy",
        snapshot_id=sealed_1.snapshot_id,
        kms_key_id=other,
        encrypted=True,
    )
print(path.stat().st_size)
