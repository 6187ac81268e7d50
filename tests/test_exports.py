"""Guards the public API: exactly these names are exported, importable, with public paths."""

from __future__ import annotations

import enum
import importlib
import inspect
import types

import pytest

import cloudbackup
from cloudbackup import errors

#: Every public name, sorted. Adding or removing one is an API change: update this list,
#: the CHANGELOG and the reference docs together.
EXPECTED = [
    "AdvancedOptions",
    "AdvancedRetentionType",
    "Alias",
    "AliasCreated",
    "AliasDeleted",
    "AliasUpdated",
    "AppConsistentResult",
    "BackupCapacity",
    "BackupJob",
    "BackupJobFilter",
    "BackupJobFinished",
    "BackupJobStarted",
    "BackupPoint",
    "BackupPointDeleted",
    "BackupPointRecorded",
    "BackupPointRetentionExtended",
    "BindingFilter",
    "CATEGORY_SPECS",
    "CategorySpec",
    "Churn",
    "ChurnPattern",
    "Clock",
    "Cloud",
    "ConsistentLevel",
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_START",
    "DataDisk",
    "DataKey",
    "DataSourceFilter",
    "Disk",
    "DiskAttached",
    "DiskAttachment",
    "DiskCapacity",
    "DiskCategory",
    "DiskCreated",
    "DiskDeleted",
    "DiskDetached",
    "DiskDeviceMapping",
    "DiskModified",
    "DiskReset",
    "DiskResized",
    "DiskSnapshotTaken",
    "DiskStatus",
    "DiskType",
    "DiskWritten",
    "DowngradeReason",
    "Duration",
    "ECS_SERVICE_ALIAS",
    "EcsService",
    "Event",
    "EventLog",
    "EventRetention",
    "Guest",
    "GuestAgent",
    "HbrAccount",
    "HbrService",
    "HbrServiceOpened",
    "HbrTask",
    "Image",
    "ImageCreated",
    "ImageDeleted",
    "ImageDiskMapping",
    "InMemoryBackend",
    "Instance",
    "InstanceCapacity",
    "InstanceCreated",
    "InstanceDeleted",
    "InstanceRamRoleResponse",
    "InstanceRamRoleResult",
    "InstanceRamRoleSet",
    "InstanceStatus",
    "InstanceStatusChanged",
    "JobDetail",
    "JobStatus",
    "KeyCreated",
    "KeyDeleted",
    "KeySpec",
    "KeyState",
    "KeyStateChanged",
    "KeyUsage",
    "KmsKey",
    "KmsService",
    "LATEST",
    "Limits",
    "LockStatus",
    "LockedSnapshotInfo",
    "ManualClock",
    "PERMANENT",
    "Page",
    "PerformanceLevel",
    "PointRetention",
    "PointSourceType",
    "PointStatus",
    "Policy",
    "PolicyBinding",
    "PolicyBindingCreated",
    "PolicyBindingDeleted",
    "PolicyBindingRequest",
    "PolicyBindingUpdated",
    "PolicyCreated",
    "PolicyDeleted",
    "PolicyType",
    "PolicyUpdated",
    "REGIONS",
    "Region",
    "ResetDiskSpec",
    "RetentionRule",
    "Rule",
    "RuleType",
    "Schedule",
    "ScheduleKind",
    "ServiceLinkedRoleCreated",
    "Snapshot",
    "SnapshotCompleted",
    "SnapshotCreated",
    "SnapshotDeleted",
    "SnapshotGroup",
    "SnapshotGroupCreated",
    "SnapshotGroupDeleted",
    "SnapshotGroupMember",
    "SnapshotGroupStatus",
    "SnapshotLink",
    "SnapshotLock",
    "SnapshotLocked",
    "SnapshotModified",
    "SnapshotServiceActivated",
    "SnapshotStatus",
    "SnapshotUnlocked",
    "SnapshotUsage",
    "SqliteBackend",
    "StorageBackend",
    "StorageStats",
    "SubJob",
    "SystemClock",
    "SystemDisk",
    "TagFilter",
    "TagOperator",
    "TagResource",
    "TaskName",
    "TaskStatus",
    "Timings",
    "TriggerMode",
    "UdmDetail",
    "UdmSnapshots",
    "Workload",
    "churn_ranges",
    "errors",
    "parse_duration",
    "parse_schedule",
    "retention_in_days",
]


def test_all_is_exactly_the_expected_list() -> None:
    """cloudbackup.__all__ holds exactly the expected names, each once."""
    assert EXPECTED == sorted(cloudbackup.__all__)
    assert len(set(cloudbackup.__all__)) == len(cloudbackup.__all__)


@pytest.mark.parametrize("name", EXPECTED)
def test_every_name_is_importable(name: str) -> None:
    """``from cloudbackup import <name>`` works for every exported name."""
    module = importlib.import_module("cloudbackup")
    namespace: dict[str, object] = {}
    exec(f"from cloudbackup import {name} as imported", namespace)
    assert getattr(module, name) is namespace["imported"]


@pytest.mark.parametrize(
    "name",
    [
        n
        for n in EXPECTED
        if inspect.isclass(getattr(cloudbackup, n)) or inspect.isfunction(getattr(cloudbackup, n))
    ],
)
def test_public_module_is_cloudbackup(name: str) -> None:
    """Classes and functions show the public path, e.g. cloudbackup.Snapshot."""
    obj = getattr(cloudbackup, name)
    assert "cloudbackup" == obj.__module__
    if inspect.isclass(obj) and not issubclass(obj, enum.Enum):
        assert f"<class 'cloudbackup.{name}'>" == repr(obj)


def test_errors_module_is_public_and_its_classes_live_there() -> None:
    """cloudbackup.errors is exported and its classes keep cloudbackup.errors as module."""
    assert cloudbackup.errors is errors
    assert isinstance(errors, types.ModuleType)
    for name in errors.__all__:
        assert "cloudbackup.errors" == getattr(errors, name).__module__


def test_no_private_module_leaks_into_the_namespace() -> None:
    """Besides __all__, the package namespace holds only dunders, private names and modules."""
    extra = {
        name
        for name in dir(cloudbackup)
        if not name.startswith("_") and name not in cloudbackup.__all__
    }
    assert extra <= {"annotations", "contextlib", "testing"}


def test_version_is_a_string() -> None:
    """__version__ is a PEP 440 string."""
    assert isinstance(cloudbackup.__version__, str)
    assert cloudbackup.__version__[0].isdigit()
