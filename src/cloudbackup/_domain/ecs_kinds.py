"""ECS domain, the kinds: the enums of instance, disk, snapshot and lock states, what each disk
category allows (sizes, snapshots, local or not), and the device names.

The records that use them are in :mod:`cloudbackup._domain.ecs`, which re-exports every name
here.
"""

from __future__ import annotations

import enum

import attrs

from .._typenames import stored_as

__all__ = [
    "CATEGORY_SPECS",
    "DATA_DEVICES",
    "GIB",
    "PL_MIN_SIZE",
    "SYSTEM_DEVICE",
    "CategorySpec",
    "DiskCategory",
    "DiskStatus",
    "DiskType",
    "InstanceStatus",
    "LockStatus",
    "PerformanceLevel",
    "SnapshotGroupStatus",
    "SnapshotStatus",
    "SnapshotUsage",
]


@stored_as("ecs.InstanceStatus")
class InstanceStatus(str, enum.Enum):
    """``Status`` of an ECS instance."""

    Pending = "Pending"
    Starting = "Starting"
    Running = "Running"
    Stopping = "Stopping"
    Stopped = "Stopped"


@stored_as("ecs.DiskCategory")
class DiskCategory(str, enum.Enum):
    """``Category`` / ``DiskCategory`` of an ECS disk."""

    cloud = "cloud"
    cloud_efficiency = "cloud_efficiency"
    cloud_ssd = "cloud_ssd"
    cloud_essd = "cloud_essd"
    cloud_auto = "cloud_auto"
    cloud_essd_entry = "cloud_essd_entry"
    cloud_regional_disk_auto = "cloud_regional_disk_auto"
    elastic_ephemeral_disk_standard = "elastic_ephemeral_disk_standard"
    elastic_ephemeral_disk_premium = "elastic_ephemeral_disk_premium"
    local_ssd_pro = "local_ssd_pro"
    local_hdd_pro = "local_hdd_pro"
    ephemeral = "ephemeral"
    ephemeral_ssd = "ephemeral_ssd"


@stored_as("ecs.PerformanceLevel")
class PerformanceLevel(str, enum.Enum):
    """``PerformanceLevel`` of an ESSD (``cloud_essd``) disk."""

    PL0 = "PL0"
    PL1 = "PL1"
    PL2 = "PL2"
    PL3 = "PL3"


@stored_as("ecs.DiskType")
class DiskType(str, enum.Enum):
    """``Type`` of a disk: the instance's system disk or a data disk."""

    system = "system"
    data = "data"


@stored_as("ecs.DiskStatus")
class DiskStatus(str, enum.Enum):
    """``Status`` of a disk."""

    In_use = "In_use"
    Available = "Available"
    Attaching = "Attaching"
    Detaching = "Detaching"
    Creating = "Creating"
    ReIniting = "ReIniting"


@stored_as("ecs.SnapshotStatus")
class SnapshotStatus(str, enum.Enum):
    """``Status`` of a snapshot."""

    progressing = "progressing"
    accomplished = "accomplished"
    failed = "failed"


@stored_as("ecs.SnapshotGroupStatus")
class SnapshotGroupStatus(str, enum.Enum):
    """``Status`` of a snapshot-consistent group."""

    progressing = "progressing"
    accomplished = "accomplished"
    failed = "failed"


@stored_as("ecs.SnapshotUsage")
class SnapshotUsage(str, enum.Enum):
    """``Usage`` of a snapshot: whether disks or images were created from it."""

    none = "none"
    image = "image"
    disk = "disk"
    image_disk = "image_disk"


@stored_as("ecs.LockStatus")
class LockStatus(str, enum.Enum):
    """``LockStatus`` of a snapshot lock (compliance mode)."""

    compliance_cooloff = "compliance-cooloff"
    compliance = "compliance"
    expired = "expired"


@attrs.frozen
class CategorySpec:
    """What a disk category allows."""

    min_size: int
    """Smallest size in GiB (for ESSD, of PL1; see ``pl_min_size``)."""
    max_size: int
    """Largest size in GiB."""
    snapshot: bool
    """Snapshots can be taken of it."""
    consistent_group: bool
    """It may be a member of a snapshot-consistent group."""
    instant_access: bool
    """Its snapshots are usable as soon as they are created (ESSD family)."""
    local: bool
    """A local disk: lives on the host, cannot be created alone, detached or backed up."""
    from_snapshot: bool
    """A disk of this category can be created from a snapshot."""
    system_disk: bool
    """It can be an instance's system disk."""


_ESSD = {
    "snapshot": True,
    "consistent_group": True,
    "instant_access": True,
    "local": False,
    "from_snapshot": True,
    "system_disk": True,
}

#: Size ranges and capabilities of every category (facts §8.1).
CATEGORY_SPECS: dict[DiskCategory, CategorySpec] = {
    DiskCategory.cloud: CategorySpec(5, 2000, True, False, False, False, True, True),
    DiskCategory.cloud_efficiency: CategorySpec(20, 32768, True, False, False, False, True, True),
    DiskCategory.cloud_ssd: CategorySpec(20, 32768, True, False, False, False, True, True),
    DiskCategory.cloud_essd: CategorySpec(1, 65536, **_ESSD),
    DiskCategory.cloud_auto: CategorySpec(1, 65536, **_ESSD),
    DiskCategory.cloud_essd_entry: CategorySpec(10, 32768, **_ESSD),
    DiskCategory.cloud_regional_disk_auto: CategorySpec(10, 65536, **_ESSD),
    DiskCategory.elastic_ephemeral_disk_standard: CategorySpec(
        64, 8192, False, False, False, False, False, False
    ),
    DiskCategory.elastic_ephemeral_disk_premium: CategorySpec(
        64, 8192, False, False, False, False, False, False
    ),
    DiskCategory.local_ssd_pro: CategorySpec(1, 8192, False, False, False, True, False, False),
    DiskCategory.local_hdd_pro: CategorySpec(1, 8192, False, False, False, True, False, False),
    DiskCategory.ephemeral: CategorySpec(5, 1024, False, False, False, True, False, False),
    DiskCategory.ephemeral_ssd: CategorySpec(5, 800, False, False, False, True, False, False),
}

#: Minimum ESSD size in GiB by performance level.
PL_MIN_SIZE: dict[PerformanceLevel, int] = {
    PerformanceLevel.PL0: 1,
    PerformanceLevel.PL1: 20,
    PerformanceLevel.PL2: 461,
    PerformanceLevel.PL3: 1261,
}

GIB = 1024**3

SYSTEM_DEVICE = "/dev/xvda"
"""The device name of an instance's system disk."""
DATA_DEVICES = tuple(f"/dev/xvd{c}" for c in "bcdefghijklmnopqrstuvwxyz")
"""The device names data disks get, in order; there are 25, so no instance has more."""
