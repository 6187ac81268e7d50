"""Writes ``world-v1.db``: a small world saved by cloudbackup at SQLite schema version 1.

The migration tests open copies of that file, so they test what version 1 really wrote rather
than today's idea of it. To make it again, run this with version 1's source (commit 7840474)::

    git archive 7840474 src | tar -x -C /tmp/v1
    PYTHONPATH=/tmp/v1/src python tests/data/make_world_v1.py tests/data/world-v1.db

Sparse writes into 16 KiB blocks give blocks with zero margins, which version 1 stored whole.
"""

import datetime as dt
import sys
from pathlib import Path

import cloudbackup
from cloudbackup import Cloud, DataDisk, SqliteBackend, SystemDisk
from cloudbackup._backends._sqlite import SCHEMA_VERSION

assert SCHEMA_VERSION == 1, cloudbackup.__file__
path = Path(sys.argv[1])
path.unlink(missing_ok=True)
with Cloud(backend=SqliteBackend(path), seed=11, block_size=16384) as cloud:
    ecs = cloud.ecs("cn-hangzhou")
    [iid] = ecs.run_instances(
        zone_id="cn-hangzhou-h",
        instance_type="ecs.g7.large",
        instance_name="v1",
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
        ecs.write_disk(disk, 8192, f"{name} before the snapshot".encode() * 10)
        ecs.write_disk(disk, 5 * 16384 + 100, b"\x01" * 20000)
        ecs.create_snapshot(disk_id=disk, snapshot_name=f"{name}-snap", retention_days=30)
    cloud.advance(dt.timedelta(hours=1))
    for name, disk in sorted(disks.items()):
        ecs.write_disk(disk, 8192, f"{name} after the snapshot".encode() * 10)
print(path.stat().st_size)
