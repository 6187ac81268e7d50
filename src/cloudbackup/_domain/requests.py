"""Request value types: the structured parameters of ECS actions, and the paged result type."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Generic, TypeVar

import attrs

__all__ = ["DataDisk", "DiskDeviceMapping", "Page", "ResetDiskSpec", "SystemDisk"]

T = TypeVar("T")


@attrs.frozen
class SystemDisk:
    """``SystemDisk.*`` of ``RunInstances`` / ``CreateInstance``."""

    category: str = "cloud_essd"
    """``SystemDisk.Category``."""
    size: int = 40
    """``SystemDisk.Size`` in GiB (20–2,048 for a system disk)."""
    performance_level: str | None = None
    """``SystemDisk.PerformanceLevel`` for ``cloud_essd`` (default ``PL1``)."""
    disk_name: str | None = None
    description: str | None = None
    encrypted: bool = False
    kms_key_id: str | None = None


@attrs.frozen
class DataDisk:
    """One ``DataDisk.N.*`` of ``RunInstances`` / ``CreateInstance``."""

    category: str = "cloud_essd"
    size: int | None = None
    """``DataDisk.N.Size`` in GiB; required unless ``snapshot_id`` is given (then it defaults
    to, and may not be below, the snapshot's source disk size)."""
    performance_level: str | None = None
    snapshot_id: str | None = None
    """Create the disk from this snapshot."""
    encrypted: bool | None = None
    kms_key_id: str | None = None
    delete_with_instance: bool = True
    disk_name: str | None = None
    description: str | None = None


@attrs.frozen
class ResetDiskSpec:
    """One ``Disk.N`` of ``ResetDisks``: roll ``disk_id`` back to ``snapshot_id``."""

    disk_id: str
    snapshot_id: str


@attrs.frozen
class DiskDeviceMapping:
    """One ``DiskDeviceMapping.N`` of ``CreateImage``."""

    snapshot_id: str
    disk_type: str = "data"
    """``system`` or ``data``."""
    device: str | None = None
    """``/dev/xvda`` for the system disk, ``/dev/xvdb``–``/dev/xvdz`` for data disks."""
    size: int | None = None
    """GiB, at least the snapshot's source disk size."""


@attrs.frozen
class Page(Generic[T]):
    """One page of a ``Describe*`` result."""

    items: tuple[T, ...]
    """The records on this page."""
    total_count: int
    """``TotalCount``: how many records match in all."""
    page_number: int
    page_size: int
    next_token: str | None = None
    """``NextToken`` for token-paged actions: pass it back to get the next page."""

    def __iter__(self) -> Iterator[T]:
        """Iterate over the records of this page."""
        return iter(self.items)

    def __len__(self) -> int:
        """How many records this page holds."""
        return len(self.items)


def paginate(items: Sequence[T], page_number: int, page_size: int) -> Page[T]:
    """Cut ``items`` into the requested page."""
    start = (page_number - 1) * page_size
    end = start + page_size
    return Page(tuple(items[start:end]), len(items), page_number, page_size)
