"""Readers see one committed state: read_disk against another process overwriting the disk."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from _helpers import SMALL_BLOCK, instance_with_disk, make_cloud
from cloudbackup import Cloud
from cloudbackup._backends._sqlite import SqliteBackend
from cloudbackup.errors import StorageBackendError

SRC = Path(__file__).parent.parent / "src"

#: The writer: overwrites one whole block with two contents in turn, so each commit deletes the
#: blob the previous one wrote. It prints "ready" after its first commit.
WRITER = """
import sys
from cloudbackup import Cloud
from cloudbackup._backends._sqlite import SqliteBackend
path, disk_id, block, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
contents = [bytes([1]) * block, bytes([2]) * block]
with Cloud(backend=SqliteBackend(path, timeout=60), block_size=block) as cloud:
    ecs = cloud.ecs("cn-hangzhou")
    for n in range(count):
        ecs.write_disk(disk_id, 0, contents[n % 2])
        if n == 0:
            print("ready", flush=True)
"""


def test_read_disk_never_sees_half_of_another_process_commit(tmp_path: Path) -> None:
    """While another process overwrites a block, every read_disk returns a whole old or new
    block; none fails with a block that is referenced but missing."""
    path = tmp_path / "world.db"
    with make_cloud(backend=SqliteBackend(path)) as cloud:
        _, _, disk_id = instance_with_disk(cloud)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), disk_id, str(SMALL_BLOCK), "600"],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    reads: list[bytes] = []
    failures: list[StorageBackendError] = []
    try:
        assert writer.stdout is not None
        assert "ready" == writer.stdout.readline().strip()
        with Cloud(backend=SqliteBackend(path, timeout=60), block_size=SMALL_BLOCK) as reader:
            ecs = reader.ecs("cn-hangzhou")
            deadline = time.monotonic() + 120
            while writer.poll() is None and time.monotonic() < deadline:
                try:
                    reads.append(ecs.read_disk(disk_id, 0, SMALL_BLOCK))
                except StorageBackendError as exc:
                    failures.append(exc)
    finally:
        writer.kill() if writer.poll() is None else None
        writer.wait()
    assert [] == [str(failure) for failure in failures[:3]]
    assert len(reads) >= 20, "the reader barely overlapped the writer"
    assert {bytes([1]) * SMALL_BLOCK, bytes([2]) * SMALL_BLOCK} >= set(reads)
