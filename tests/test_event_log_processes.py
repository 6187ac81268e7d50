"""A reader in one process sees a consistent event log while a writer in another process commits
events to the same bounded SQLite world: every read decodes and is a run of consecutive events,
and two reads agree on every event both hold."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlite_crash_child as crash
from cloudbackup import Cloud, Event, EventRetention, SnapshotCreated, SqliteBackend
from test_sqlite_backend import CHILD, CRASH_SEED, make_crash_world, wait_for_ack, wait_for_line

_READS = 40
"""Reads the reader makes while the writer runs."""
_KEPT = 25
"""Events the world keeps: the writer trims the log while the reader reads it."""


def _key(event: Event) -> tuple[object, ...]:
    """What identifies an event in a read: its sequence, type and time."""
    return (event.sequence, type(event).__name__, event.time)


def _consecutive(sequences: list[object]) -> bool:
    """Whether the sequences are non-empty and each is one more than the one before."""
    first = sequences[0] if sequences else None
    return isinstance(first, int) and sequences == list(range(first, first + len(sequences)))


def _agree(before: list[tuple[object, ...]], after: list[tuple[object, ...]]) -> bool:
    """Whether two reads hold the same event at every sequence both hold, and the later one
    does not go back."""
    old, new = {key[0]: key for key in before}, {key[0]: key for key in after}
    common = old.keys() & new.keys()
    return all(old[s] == new[s] for s in common) and after[-1][0] >= before[-1][0]  # type: ignore[operator]


def test_a_reader_in_another_process_sees_each_commit_whole_and_in_order(tmp_path: Path) -> None:
    """While a child process writes to disks, snapshots and deletes snapshots through a Cloud
    whose world keeps only the newest events, a Cloud in this process reads the stored event
    log again and again: every read decodes (no damaged or half-written event), holds
    consecutive sequences (no trimmed hole), agrees with the read before on the events both
    hold, and the log moves on while the writer runs."""
    db = tmp_path / "cloud.db"
    with Cloud(
        backend=SqliteBackend(db),
        seed=crash.CLOUD_SEED,
        block_size=crash.CLOUD_BLOCK_SIZE,
        event_retention=EventRetention(max_events=_KEPT),
    ):
        pass  # the world keeps its retention when make_crash_world reopens it
    instance_id, disk_ids = make_crash_world(db)
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    command = [sys.executable, str(CHILD), "cloud", str(db), str(CRASH_SEED), "NORMAL", "0"]
    reads: list[list[tuple[object, ...]]] = []
    with out.open("wb") as stdout, err.open("wb") as stderr:
        child = subprocess.Popen(
            [*command, instance_id, *disk_ids],
            stdout=stdout,
            stderr=stderr,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        try:
            wait_for_line(out, "open", 120)
            wait_for_ack(out, 1, 120)
            with Cloud(
                backend=SqliteBackend(db, timeout=30.0),
                seed=crash.CLOUD_SEED,
                block_size=crash.CLOUD_BLOCK_SIZE,
            ) as reader:
                for _ in range(_READS):
                    reads.append([_key(event) for event in reader.events.list()])
                    time.sleep(0.01)
                created = reader.events.list(SnapshotCreated)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(30)
    assert -signal.SIGKILL == child.returncode, err.read_text()
    holes = [i for i, read in enumerate(reads) if not _consecutive([key[0] for key in read])]
    disagreements = [i for i in range(1, len(reads)) if not _agree(reads[i - 1], reads[i])]
    expected = ([], [], True, True, True)
    actual = (
        holes,
        disagreements,
        reads[-1][-1][0] > reads[0][-1][0],  # type: ignore[operator]
        all(len(read) <= _KEPT for read in reads),
        all(event.region_id == "cn-hangzhou" for event in created),
    )
    assert expected == actual, err.read_text()
