"""Cloud Backup (HBR) of one region, for ECS instance backup: the service and its roles,
backup policies, policy bindings.

:class:`HbrService` is built in layers, one module per resource, each layer a class that
extends the one beneath it and may call only what is beneath it (as ECS is)::

    tasks.py      TaskActions     DescribeTask; each task's timer (steps, expiry)
    clone.py      CloneActions    Clone Now's preparation (console)
    scheduler.py  SchedulerActions timers of BACKUP rules; ExecutePolicyV2
    jobs.py       JobActions      how a backup job runs; CreateBackupJob, CancelBackupJob,
                                  DescribeBackupJobs2 (job_filters.py: its Filters)
    statistics.py StatisticsActions  Instance Backup Capacity, per instance/disk sizes (console)
    points.py     PointActions    DescribeUdmSnapshots, DeleteSnapshot, Extend Retention and
                                  Delete Backups (console), point expiry, recording a job's
                                  point (retention.py: the retention arithmetic)
    point_store.py PointStore     how points are stored and found: by id (stored or folded
                                  into their instance point), a job's and a group's points
                                  (point_indexes.py: the indexes)
    policies.py   PolicyActions   Create/Update/Delete/DescribePolicies V2
    tag_rules.py  TagRuleActions  bindings made and removed by TAG rules; the tag-change hook
    bindings.py   BindingActions  Create/Update/Delete/DescribePolicyBinding(s),
                                  DeleteUdmEcsInstance, DeleteUdmDisk
    account.py    AccountActions  OpenHbrService, CheckRole; the role and the snapshot service
    _core.py      HbrCore         repositories, the account record, the ECS interface

The records are :mod:`cloudbackup._domain.hbr`, the policy rules
:mod:`cloudbackup._domain.hbr_rules`. Cloud Backup reaches ECS only through
:data:`~cloudbackup._services._interfaces.ECS_INSTANCES` and KMS only through
:data:`~cloudbackup._services._interfaces.KEY_RING`; it offers ECS the tag-change hook
:data:`~cloudbackup._services._interfaces.INSTANCE_WATCHERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..._engine import Timer
from ..._world import Scope, ServiceSpec, register_service
from .._interfaces import INSTANCE_WATCHERS
from ._core import ACTION_TASK, BINDING_OF_INSTANCE, BINDINGS_BY_POLICY, TAG_POLICIES
from .jobs import ACTION_JOB_COMPLETE
from .points import ACTION_POINT_EXPIRE
from .scheduler import ACTION_RULE_FIRE
from .tag_rules import tag_watcher
from .tasks import TaskActions

__all__ = ["BINDINGS_BY_POLICY", "BINDING_OF_INSTANCE", "SPEC", "TAG_POLICIES", "HbrService"]


class HbrService(TaskActions):
    """Cloud Backup of one region (the region of the protected instances, ``UdmRegionId``):
    ``cloud.hbr("cn-hangzhou")``.

    Methods are the real API actions in snake_case with the real parameter names; records use
    the real field names. Every call is one unit of work: it happens completely or not at all.
    Before :meth:`open_hbr_service` every other action answers ``ServiceNotActivated`` (403);
    activation, the service-linked role and the ECS snapshot service are the account's, not
    the region's.
    """


TIMER_HANDLERS: dict[str, Callable[[Any, Timer], None]] = {
    ACTION_RULE_FIRE: HbrService._on_rule_fire,
    ACTION_JOB_COMPLETE: HbrService._on_job_complete,
    ACTION_POINT_EXPIRE: HbrService._on_point_expire,
    ACTION_TASK: HbrService._on_task_timer,
}

SPEC = register_service(
    ServiceSpec(
        name="hbr",
        cls=HbrService,
        scope=Scope.REGIONAL,
        timers=TIMER_HANDLERS,
        timer_failures={
            ACTION_POINT_EXPIRE: HbrService._on_point_expire_failed,
            ACTION_RULE_FIRE: HbrService._on_rule_fire_failed,
            ACTION_JOB_COMPLETE: HbrService._on_job_complete_failed,
        },
        provides={INSTANCE_WATCHERS: tag_watcher},
    )
)
