"""The bounds of request values, named once: the real API's documented limits and the
model's own (facts §8.3–8.5, §10).

The services check requests against these names and ``cloudbackup.testing`` draws values from
them, so each number is written once; ``tests/test_limits.py`` calls the services at each bound
and one step past it.
"""

from __future__ import annotations

__all__ = [
    "BLOCK_SIZE_MAX",
    "BLOCK_SIZE_MIN",
    "COOL_OFF_PERIOD_MAX",
    "COOL_OFF_PERIOD_MIN",
    "DESCRIPTION_MAX",
    "DESCRIPTION_MIN",
    "IMAGE_DATA_DISKS_MAX",
    "LOCK_DURATION_MAX",
    "LOCK_DURATION_MIN",
    "NAME_MAX",
    "NAME_MIN",
    "RESET_DISKS_MAX",
    "RETENTION_DAYS_MAX",
    "RETENTION_DAYS_MIN",
    "SYSTEM_DISK_SIZE_MAX",
    "SYSTEM_DISK_SIZE_MIN",
]

NAME_MIN, NAME_MAX = 2, 128
"""``SnapshotName``, ``DiskName``, ``InstanceName``, ``ImageName``, group ``Name``: 2–128
characters."""
DESCRIPTION_MIN, DESCRIPTION_MAX = 2, 256
"""``Description``: 2–256 characters."""
RETENTION_DAYS_MIN, RETENTION_DAYS_MAX = 1, 65536
"""``RetentionDays`` of a snapshot: 1–65,536 days (None keeps it forever)."""
LOCK_DURATION_MIN, LOCK_DURATION_MAX = 1, 36500
"""``LockDuration`` of ``LockSnapshot``: 1–36,500 days."""
COOL_OFF_PERIOD_MIN, COOL_OFF_PERIOD_MAX = 0, 72
"""``CoolOffPeriod`` of ``LockSnapshot``: 0–72 hours."""
SYSTEM_DISK_SIZE_MIN, SYSTEM_DISK_SIZE_MAX = 20, 2048
"""``SystemDisk.Size`` of ``RunInstances``: 20–2,048 GiB (within the category's range)."""
IMAGE_DATA_DISKS_MAX = 16
"""``DiskDeviceMapping`` of ``CreateImage``: one system disk and at most 16 data disks."""
RESET_DISKS_MAX = 16
"""``Disk.N`` of ``ResetDisks``: 1–16 ``(disk, snapshot)`` pairs."""
BLOCK_SIZE_MIN, BLOCK_SIZE_MAX = 4096, 4 * 1024 * 1024
"""``Cloud(block_size=...)``: a power of two from 4 KiB to 4 MiB (the model's own)."""
