"""cloudbackup: an executable, faithful, deterministic model of Alibaba Cloud Backup's ECS
instance backup, with the ECS disks, snapshots, snapshot-consistent groups and KMS keys beneath.

Start with :class:`Cloud`::

    import datetime
    from cloudbackup import Cloud, DataDisk, SystemDisk

    cloud = Cloud(seed=1)
    ecs = cloud.ecs("cn-hangzhou")
    [instance_id] = ecs.run_instances(zone_id="cn-hangzhou-h", instance_type="ecs.g7.large",
                                      system_disk=SystemDisk(), data_disks=[DataDisk(size=100)])
    cloud.advance(datetime.timedelta(minutes=1))
"""

from __future__ import annotations

import contextlib

from . import errors as errors
from ._backends import InMemoryBackend as InMemoryBackend
from ._backends import SqliteBackend as SqliteBackend
from ._backends import StorageBackend as StorageBackend
from ._cloud import DEFAULT_ACCOUNT_ID as DEFAULT_ACCOUNT_ID
from ._cloud import DEFAULT_BLOCK_SIZE as DEFAULT_BLOCK_SIZE
from ._cloud import Cloud as Cloud
from ._cloud import StorageStats as StorageStats
from ._domain.duration import Duration as Duration
from ._domain.duration import parse_duration as parse_duration
from ._domain.ecs import CATEGORY_SPECS as CATEGORY_SPECS
from ._domain.ecs import CategorySpec as CategorySpec
from ._domain.ecs import DataKey as DataKey
from ._domain.ecs import Disk as Disk
from ._domain.ecs import DiskAttachment as DiskAttachment
from ._domain.ecs import DiskCategory as DiskCategory
from ._domain.ecs import DiskStatus as DiskStatus
from ._domain.ecs import DiskType as DiskType
from ._domain.ecs import Image as Image
from ._domain.ecs import ImageDiskMapping as ImageDiskMapping
from ._domain.ecs import Instance as Instance
from ._domain.ecs import InstanceStatus as InstanceStatus
from ._domain.ecs import LockStatus as LockStatus
from ._domain.ecs import PerformanceLevel as PerformanceLevel
from ._domain.ecs import Snapshot as Snapshot
from ._domain.ecs import SnapshotGroup as SnapshotGroup
from ._domain.ecs import SnapshotGroupMember as SnapshotGroupMember
from ._domain.ecs import SnapshotGroupStatus as SnapshotGroupStatus
from ._domain.ecs import SnapshotLink as SnapshotLink
from ._domain.ecs import SnapshotLock as SnapshotLock
from ._domain.ecs import SnapshotStatus as SnapshotStatus
from ._domain.ecs import SnapshotUsage as SnapshotUsage
from ._domain.guest import AppConsistentResult as AppConsistentResult
from ._domain.guest import ConsistentLevel as ConsistentLevel
from ._domain.guest import DowngradeReason as DowngradeReason
from ._domain.guest import InstanceRamRoleResponse as InstanceRamRoleResponse
from ._domain.guest import InstanceRamRoleResult as InstanceRamRoleResult
from ._domain.guest import InstanceRamRoleSet as InstanceRamRoleSet
from ._domain.hbr import PERMANENT as PERMANENT
from ._domain.hbr import AdvancedOptions as AdvancedOptions
from ._domain.hbr import AdvancedRetentionType as AdvancedRetentionType
from ._domain.hbr import BindingFilter as BindingFilter
from ._domain.hbr import DataSourceFilter as DataSourceFilter
from ._domain.hbr import HbrAccount as HbrAccount
from ._domain.hbr import HbrServiceOpened as HbrServiceOpened
from ._domain.hbr import Policy as Policy
from ._domain.hbr import PolicyBinding as PolicyBinding
from ._domain.hbr import PolicyBindingCreated as PolicyBindingCreated
from ._domain.hbr import PolicyBindingDeleted as PolicyBindingDeleted
from ._domain.hbr import PolicyBindingRequest as PolicyBindingRequest
from ._domain.hbr import PolicyBindingUpdated as PolicyBindingUpdated
from ._domain.hbr import PolicyCreated as PolicyCreated
from ._domain.hbr import PolicyDeleted as PolicyDeleted
from ._domain.hbr import PolicyType as PolicyType
from ._domain.hbr import PolicyUpdated as PolicyUpdated
from ._domain.hbr import RetentionRule as RetentionRule
from ._domain.hbr import Rule as Rule
from ._domain.hbr import RuleType as RuleType
from ._domain.hbr import ServiceLinkedRoleCreated as ServiceLinkedRoleCreated
from ._domain.hbr import SnapshotServiceActivated as SnapshotServiceActivated
from ._domain.hbr import TagFilter as TagFilter
from ._domain.hbr import TagOperator as TagOperator
from ._domain.hbr import UdmDetail as UdmDetail
from ._domain.hbr_jobs import BackupJob as BackupJob
from ._domain.hbr_jobs import BackupJobFilter as BackupJobFilter
from ._domain.hbr_jobs import BackupJobFinished as BackupJobFinished
from ._domain.hbr_jobs import BackupJobStarted as BackupJobStarted
from ._domain.hbr_jobs import JobDetail as JobDetail
from ._domain.hbr_jobs import JobStatus as JobStatus
from ._domain.hbr_jobs import SubJob as SubJob
from ._domain.hbr_jobs import TriggerMode as TriggerMode
from ._domain.hbr_jobs import retention_in_days as retention_in_days
from ._domain.hbr_points import BackupCapacity as BackupCapacity
from ._domain.hbr_points import BackupPoint as BackupPoint
from ._domain.hbr_points import BackupPointDeleted as BackupPointDeleted
from ._domain.hbr_points import BackupPointRecorded as BackupPointRecorded
from ._domain.hbr_points import BackupPointRetentionExtended as BackupPointRetentionExtended
from ._domain.hbr_points import DiskCapacity as DiskCapacity
from ._domain.hbr_points import DiskSnapshotTaken as DiskSnapshotTaken
from ._domain.hbr_points import InstanceCapacity as InstanceCapacity
from ._domain.hbr_points import PointRetention as PointRetention
from ._domain.hbr_points import PointSourceType as PointSourceType
from ._domain.hbr_points import PointStatus as PointStatus
from ._domain.hbr_points import UdmSnapshots as UdmSnapshots
from ._domain.hbr_tasks import HbrTask as HbrTask
from ._domain.hbr_tasks import TaskName as TaskName
from ._domain.hbr_tasks import TaskStatus as TaskStatus
from ._domain.kms import Alias as Alias
from ._domain.kms import KeySpec as KeySpec
from ._domain.kms import KeyState as KeyState
from ._domain.kms import KeyUsage as KeyUsage
from ._domain.kms import KmsKey as KmsKey
from ._domain.requests import DataDisk as DataDisk
from ._domain.requests import DiskDeviceMapping as DiskDeviceMapping
from ._domain.requests import Page as Page
from ._domain.requests import ResetDiskSpec as ResetDiskSpec
from ._domain.requests import SystemDisk as SystemDisk
from ._domain.responses import LockedSnapshotInfo as LockedSnapshotInfo
from ._domain.schedule import Schedule as Schedule
from ._domain.schedule import ScheduleKind as ScheduleKind
from ._domain.schedule import parse_schedule as parse_schedule
from ._domain.tags import TagResource as TagResource
from ._events import AliasCreated as AliasCreated
from ._events import AliasDeleted as AliasDeleted
from ._events import AliasUpdated as AliasUpdated
from ._events import DiskAttached as DiskAttached
from ._events import DiskCreated as DiskCreated
from ._events import DiskDeleted as DiskDeleted
from ._events import DiskDetached as DiskDetached
from ._events import DiskModified as DiskModified
from ._events import DiskReset as DiskReset
from ._events import DiskResized as DiskResized
from ._events import DiskWritten as DiskWritten
from ._events import Event as Event
from ._events import EventLog as EventLog
from ._events import ImageCreated as ImageCreated
from ._events import ImageDeleted as ImageDeleted
from ._events import InstanceCreated as InstanceCreated
from ._events import InstanceDeleted as InstanceDeleted
from ._events import InstanceStatusChanged as InstanceStatusChanged
from ._events import KeyCreated as KeyCreated
from ._events import KeyDeleted as KeyDeleted
from ._events import KeyStateChanged as KeyStateChanged
from ._events import SnapshotCompleted as SnapshotCompleted
from ._events import SnapshotCreated as SnapshotCreated
from ._events import SnapshotDeleted as SnapshotDeleted
from ._events import SnapshotGroupCreated as SnapshotGroupCreated
from ._events import SnapshotGroupDeleted as SnapshotGroupDeleted
from ._events import SnapshotLocked as SnapshotLocked
from ._events import SnapshotModified as SnapshotModified
from ._events import SnapshotUnlocked as SnapshotUnlocked
from ._regions import REGIONS as REGIONS
from ._regions import Region as Region
from ._services.ecs import EcsService as EcsService
from ._services.ecs.guest_agent import Guest as Guest
from ._services.ecs.guest_agent import GuestAgent as GuestAgent
from ._services.hbr import HbrService as HbrService
from ._services.kms import ECS_SERVICE_ALIAS as ECS_SERVICE_ALIAS
from ._services.kms import KmsService as KmsService
from ._settings import EventRetention as EventRetention
from ._settings import Limits as Limits
from ._settings import Timings as Timings
from ._time import DEFAULT_START as DEFAULT_START
from ._time import LATEST as LATEST
from ._time import Clock as Clock
from ._time import ManualClock as ManualClock
from ._time import SystemClock as SystemClock
from ._version import version as _version
from ._workload import Churn as Churn
from ._workload import ChurnPattern as ChurnPattern
from ._workload import Workload as Workload
from ._workload import churn_ranges as churn_ranges

__version__ = _version()  # the installed metadata's version; the source tree's when not installed
del _version

__all__ = [
    "BackupCapacity",
    "DiskCapacity",
    "InstanceCapacity",
    "BackupPoint",
    "BackupPointDeleted",
    "BackupPointRecorded",
    "BackupPointRetentionExtended",
    "DiskSnapshotTaken",
    "PointRetention",
    "PointSourceType",
    "PointStatus",
    "UdmSnapshots",
    "HbrTask",
    "TaskName",
    "TaskStatus",
    "AdvancedOptions",
    "AdvancedRetentionType",
    "Alias",
    "AliasCreated",
    "AliasDeleted",
    "AliasUpdated",
    "AppConsistentResult",
    "BackupJob",
    "BackupJobFilter",
    "BackupJobFinished",
    "BackupJobStarted",
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
    "DiskCategory",
    "DiskCreated",
    "DiskDeleted",
    "DiskDetached",
    "DiskDeviceMapping",
    "DiskModified",
    "DiskReset",
    "DiskResized",
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
    "Image",
    "ImageCreated",
    "ImageDeleted",
    "ImageDiskMapping",
    "InMemoryBackend",
    "Instance",
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
    "Timings",
    "TriggerMode",
    "UdmDetail",
    "Workload",
    "churn_ranges",
    "errors",
    "parse_duration",
    "parse_schedule",
    "retention_in_days",
]


def _fixup_module_metadata() -> None:
    # Show public paths (cloudbackup.Snapshot) in reprs and tracebacks, not private modules.
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith("cloudbackup._"):
            with contextlib.suppress(AttributeError, TypeError):
                obj.__module__ = "cloudbackup"


_fixup_module_metadata()
del _fixup_module_metadata
