"""Child processes for the SQLite tests: crash-safety writers and multiprocessing workers.

Usage: ``python sqlite_crash_child.py DB_PATH SEED SYNCHRONOUS`` (backend mode), or
``python sqlite_crash_child.py cloud DB_PATH SEED SYNCHRONOUS FIRST_OP INSTANCE DISK...``
(ECS mode, see :func:`cloud_main`).

It opens the database, finds the last committed unit (the ``crash.head`` record), and from the
next one on runs units of work forever. It prints ``begin N`` before unit N, ``commit N`` just
before committing it and ``ack N`` once the commit has returned. A unit writes a few records
and blobs, deletes a record and a blob written three units earlier, and moves the head. Every
unit is a pure function of ``(SEED, N)``, so :func:`apply_to_model` can rebuild what units
``0..N`` must leave behind.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import sys
from typing import Any

from cloudbackup._backends._protocol import StorageBackend
from cloudbackup._backends._sqlite import SqliteBackend

RECORD_KIND = "crash.record"
HEAD = ("crash.head", "", "head")
PARTITIONS = 4


def unit_writes(seed: int, number: int) -> tuple[dict[tuple[str, str, str], object], list[bytes]]:
    """The records and blob contents unit ``number`` writes."""
    rng = random.Random(f"{seed}:{number}")
    records: dict[tuple[str, str, str], object] = {}
    blobs = [rng.randbytes(rng.randint(1, 16 * 1024)) for _ in range(rng.randint(1, 3))]
    digests = tuple(hashlib.sha256(blob).digest() for blob in blobs)
    for index in range(rng.randint(2, 6)):
        address = (RECORD_KIND, f"p{rng.randrange(PARTITIONS)}", f"{number:06d}-{index}")
        records[address] = (number, index, rng.random(), digests, "é" * rng.randint(0, 3))
    return records, blobs


def unit_deletes(seed: int, number: int) -> tuple[tuple[str, str, str] | None, bytes | None]:
    """The record and blob digest unit ``number`` deletes: the first ones of unit ``number-3``."""
    if number < 3:
        return None, None
    records, blobs = unit_writes(seed, number - 3)
    return next(iter(records)), hashlib.sha256(blobs[0]).digest()


def apply_unit(backend: StorageBackend, seed: int, number: int) -> None:
    """Run unit ``number``'s writes on ``backend`` inside an open unit of work."""
    records, blobs = unit_writes(seed, number)
    for blob in blobs:
        backend.put_blob(hashlib.sha256(blob).digest(), blob)
    for address, value in records.items():
        backend.put(*address, value)
    gone_record, gone_blob = unit_deletes(seed, number)
    if gone_record is not None:
        backend.delete(*gone_record)
    if gone_blob is not None:
        backend.delete_blob(gone_blob)
    backend.put(*HEAD, number)


def apply_to_model(
    records: dict[tuple[str, str, str], object], blobs: dict[bytes, bytes], seed: int, number: int
) -> None:
    """Apply unit ``number`` to a dictionary model of the database, as :func:`apply_unit` does."""
    written, contents = unit_writes(seed, number)
    for blob in contents:
        blobs.setdefault(hashlib.sha256(blob).digest(), blob)
    records.update(written)
    gone_record, gone_blob = unit_deletes(seed, number)
    if gone_record is not None:
        records.pop(gone_record, None)
    if gone_blob is not None:
        blobs.pop(gone_blob, None)
    records[HEAD] = number


# -- ECS mode: guest writes, snapshots and snapshot deletions through a real Cloud ----------
CLOUD_SEED = 7
CLOUD_BLOCK_SIZE = 4096
SPAN = 64 * 1024  # every write falls in the first SPAN bytes of a disk
KEEP_SNAPSHOTS = 4  # a "delete" op removes a disk's oldest snapshot once it has more


def cloud_op(seed: int, number: int) -> tuple[str, int, int, bytes]:
    """ECS operation ``number``: ``(kind, disk index, offset, data)``.

    ``kind`` is ``write`` (``data`` at ``offset``), ``snapshot`` (named ``crash-NNNNN``) or
    ``delete`` (the disk's oldest ``crash-`` snapshot, if it has more than KEEP_SNAPSHOTS).
    """
    rng = random.Random(f"cloud:{seed}:{number}")
    disk = rng.randrange(2)
    roll = rng.random()
    # Deletions outnumber snapshots, so each disk keeps about KEEP_SNAPSHOTS of them.
    if roll < 0.15:
        return "snapshot", disk, 0, b""
    if roll < 0.4:
        return "delete", disk, 0, b""
    length = rng.randint(1, 12 * 1024)
    offset = rng.randrange(SPAN - length)
    return "write", disk, offset, rng.randbytes(length)


def snapshot_name(number: int) -> str:
    """The name of the snapshot ECS operation ``number`` creates."""
    return f"crash-{number:05d}"


class CloudModel:
    """What the first SPAN bytes of each disk and each kept snapshot must hold."""

    def __init__(self, disks: int) -> None:
        self.contents = [bytearray(SPAN) for _ in range(disks)]
        self.snapshots: dict[str, tuple[int, bytes]] = {}

    def apply(self, seed: int, number: int) -> None:
        """Apply ECS operation ``number`` as a correct Cloud would."""
        kind, disk, offset, data = cloud_op(seed, number)
        if kind == "write":
            self.contents[disk][offset : offset + len(data)] = data
        elif kind == "snapshot":
            self.snapshots[snapshot_name(number)] = (disk, bytes(self.contents[disk]))
        else:
            names = sorted(n for n, (d, _) in self.snapshots.items() if d == disk)
            if len(names) > KEEP_SNAPSHOTS:
                del self.snapshots[names[0]]

    def observable(self) -> tuple[tuple[bytes, ...], frozenset[str]]:
        """Disk contents and snapshot names: what a reopened world is compared with."""
        return tuple(bytes(c) for c in self.contents), frozenset(self.snapshots)


def crash_snapshots(ecs: Any, instance_id: str) -> dict[str, Any]:
    """The instance's ``crash-`` snapshots by name."""
    found: dict[str, Any] = {}
    for number in itertools.count(1):
        page = ecs.describe_snapshots(instance_id=instance_id, page_number=number, page_size=100)
        for snapshot in page.items:
            if (snapshot.snapshot_name or "").startswith("crash-"):
                found[snapshot.snapshot_name] = snapshot
        if len(page.items) < 100:
            break
    return found


def run_cloud_op(ecs: Any, instance_id: str, disk_ids: list[str], seed: int, number: int) -> None:
    """Perform ECS operation ``number`` through the public API."""
    kind, disk, offset, data = cloud_op(seed, number)
    if kind == "write":
        ecs.write_disk(disk_ids[disk], offset, data)
    elif kind == "snapshot":
        ecs.create_snapshot(disk_id=disk_ids[disk], snapshot_name=snapshot_name(number))
    else:
        mine = sorted(
            (name, snapshot.snapshot_id)
            for name, snapshot in crash_snapshots(ecs, instance_id).items()
            if snapshot.source_disk_id == disk_ids[disk]
        )
        if len(mine) > KEEP_SNAPSHOTS:
            ecs.delete_snapshot(mine[0][1])


def cloud_main(argv: list[str]) -> None:
    """ECS mode: run ECS operations from ``FIRST_OP`` on, printing begin/ack lines, until killed."""
    from cloudbackup import Cloud

    path, seed, synchronous, first = argv[2], int(argv[3]), argv[4], int(argv[5])
    instance_id, disk_ids = argv[6], argv[7:]
    backend = SqliteBackend(path, synchronous=synchronous, timeout=30.0)
    cloud = Cloud(backend=backend, seed=CLOUD_SEED, block_size=CLOUD_BLOCK_SIZE)
    ecs = cloud.ecs("cn-hangzhou")
    print(f"open {first - 1}", flush=True)
    number = first
    while True:
        print(f"begin {number}", flush=True)
        run_cloud_op(ecs, instance_id, disk_ids, seed, number)
        print(f"ack {number}", flush=True)
        number += 1


# -- entry points for multiprocessing tests (this module imports little, so spawn is quick) --
def hold_write_lock(path: str, locked: Any, release: Any) -> None:
    """Open a unit of work, write a record and a blob, signal ``locked``, wait, then commit."""
    backend = SqliteBackend(path)
    backend.begin()
    backend.put("test.record", "p", "k", "from the child")
    backend.put_blob(b"c" * 32, b"child blob")
    locked.set()
    release.wait(60)
    backend.commit()
    backend.close()


def increment(path: str, times: int, start: Any) -> None:
    """Add one to the shared counter record ``times`` times, one unit of work each."""
    backend = SqliteBackend(path, timeout=30.0)
    start.wait(60)
    for _ in range(times):
        backend.begin()
        value = backend.get("test.record", "counter", "n")
        if not isinstance(value, int):
            raise TypeError(f"counter is {value!r}")
        backend.put("test.record", "counter", "n", value + 1)
        backend.commit()
    backend.close()


def main(argv: list[str]) -> None:
    """Write units of work to the database named on the command line until killed."""
    if argv[1] == "cloud":
        cloud_main(argv)
        return
    path, seed, synchronous = argv[1], int(argv[2]), argv[3]
    backend = SqliteBackend(path, synchronous=synchronous, timeout=30.0)
    head = backend.get(*HEAD)
    number = -1 if head is None else int(head)  # type: ignore[call-overload]
    print(f"open {number}", flush=True)
    while True:
        number += 1
        print(f"begin {number}", flush=True)
        backend.begin()
        apply_unit(backend, seed, number)
        print(f"commit {number}", flush=True)
        backend.commit()
        print(f"ack {number}", flush=True)


if __name__ == "__main__":
    main(sys.argv)
