"""Cloud Backup, what every part of it shares: repositories, the account record, activation,
and the ECS and KMS interfaces it reaches them through.

Part of the layered :class:`~cloudbackup.HbrService`: this layer may use every layer beneath
it (see ``_services/hbr/__init__.py``), never one above.
"""

from __future__ import annotations

import datetime as _dt
import json

import attrs

from ... import _validate as v
from ..._domain.hbr import HbrAccount, Policy, PolicyBinding
from ..._domain.hbr_tasks import TASK_RESULT_DAYS, HbrTask, TaskName, TaskStatus
from ..._regions import Region
from ..._repository import ORDER_SEPARATOR, Index, OrderedIndex, RepositorySpec
from ..._store import raw_kind
from ..._world import World
from ...errors import InvalidParameterError, OperationDeniedError, ResourceNotFoundError
from .._base import RegionalService
from .._interfaces import ECS_INSTANCES, BackupInstance, InstanceInventory

__all__ = [
    "ACCOUNT_KEY",
    "ACTION_TASK",
    "BINDINGS",
    "BINDINGS_BY_POLICY",
    "BINDING_OF_INSTANCE",
    "ECS_BACKUP_ROLE",
    "POLICIES",
    "TAG_POLICIES",
    "TASKS",
    "HbrCore",
    "policy_range",
    "tag_key_partition",
]

ECS_BACKUP_ROLE = "AliyunServiceRoleForHbrEcsBackup"
"""The service-linked role Cloud Backup creates on the first binding of an ECS instance."""

ACCOUNT_KEY = "hbr"
"""The key of the account's :class:`~cloudbackup.HbrAccount` record (partition ``""``: the
account, not a region)."""

POLICIES = RepositorySpec(Policy, lambda p: p.policy_id, "ResourceNotFound", "backup policy")

BINDING_OF_INSTANCE: Index[PolicyBinding] = Index(
    "hbr.instance_bindings", lambda b: (b.data_source_id,)
)
"""partition = ECS instance id: its binding (an instance is bound to at most one policy)."""
BINDINGS_BY_POLICY: OrderedIndex[PolicyBinding] = OrderedIndex(
    "hbr.bindings_by_policy", lambda b: b.policy_id + ORDER_SEPARATOR + b.data_source_id
)
"""A region's bindings by ``(policy id, instance id)``: a policy's bindings are one range of
it, so paging them, deleting a policy or (later) scheduling its instances costs them alone."""
BINDINGS = RepositorySpec(
    PolicyBinding,
    lambda b: b.policy_binding_id,
    "ResourceNotFound",
    "policy binding",
    (BINDING_OF_INSTANCE,),
    (BINDINGS_BY_POLICY,),
)

TASKS = RepositorySpec(HbrTask, lambda t: t.task_id, "TaskNotFound", "task")
"""The region's asynchronous tasks (``DescribeTask``)."""
ACTION_TASK = "hbr.task"
"""Timer: a task's next step (a Delete Backups step, Clone Now's job finishing) or, once it
finished, its expiry and then its end."""

TAG_POLICIES = raw_kind("hbr.tag_policies")
"""partition = :func:`tag_key_partition` (region, tag key), key = policy id: the policies
whose TAG rules look at that key, so a tag change reads the policies it can concern."""


def tag_key_partition(region_id: str, key: str) -> str:
    """The :data:`TAG_POLICIES` partition of a region's tag key (JSON: unambiguous, ASCII)."""
    return json.dumps([region_id, key])


def policy_range(policy_id: str) -> tuple[str, str]:
    """``(start, stop)`` of one policy's entries in :data:`BINDINGS_BY_POLICY`."""
    return policy_id + ORDER_SEPARATOR, policy_id + "\x01"


class HbrCore(RegionalService):
    """What every part of Cloud Backup shares."""

    def __init__(self, world: World, region: Region) -> None:
        super().__init__(world, region)
        store, region_id = world.store, region.region_id
        self._policies = POLICIES.open(store, region_id)
        self._bindings = BINDINGS.open(store, region_id)
        self._tasks = TASKS.open(store, region_id)

    # -- the account ------------------------------------------------------------------
    def _account(self) -> HbrAccount:
        found = self._world.store.get(HbrAccount, "", ACCOUNT_KEY)
        return HbrAccount() if found is None else found

    def _put_account(self, account: HbrAccount) -> None:
        self._world.store.put(HbrAccount, "", ACCOUNT_KEY, account)

    def _require_open(self) -> HbrAccount:
        """The account record; ``ServiceNotActivated`` (403) before ``OpenHbrService``."""
        account = self._account()
        if not account.opened:
            raise OperationDeniedError(
                "Cloud Backup is not activated for this account.",
                code="ServiceNotActivated",
                http_status=403,
                recommend="Activate it first with open_hbr_service() (activation is free).",
            )
        return account

    # -- what ECS offers --------------------------------------------------------------
    @property
    def _inventory(self) -> InstanceInventory:
        """The region's instances, through ECS's interface."""
        return self._world.provider(ECS_INSTANCES, self.region)

    def _instance(self, instance_id: str) -> BackupInstance:
        found = self._inventory.find_instance(instance_id)
        if found is None:
            raise ResourceNotFoundError(
                f"The ECS instance {instance_id} does not exist in region {self.region_id}.",
                code="InvalidInstanceId.NotFound",
                ids=(instance_id,),
                recommend="Check the instance id and that the service's region "
                "(UdmRegionId) is the instance's region.",
            )
        return found

    # -- tasks ------------------------------------------------------------------------
    def _new_task(
        self,
        name: TaskName,
        *,
        next_step: _dt.datetime | None,
        instance_id: str | None = None,
        job_id: str | None = None,
        snapshot_ids: tuple[str, ...] = (),
        steps: int = 0,
    ) -> HbrTask:
        """Store a new running task (``t-000…``) and its timer at ``next_step``."""
        now = self._world.now()
        task = HbrTask(
            task_id=self._world.ids.new_id("t-", "000", 20), region_id=self.region_id,
            name=name, status=TaskStatus.CREATED, created_time=now, updated_time=now,
            instance_id=instance_id, job_id=job_id, snapshot_ids=snapshot_ids, steps=steps,
        )  # fmt: skip
        self._tasks.put(task, old=None)
        if next_step is not None:
            self._world.engine.schedule(
                next_step, ACTION_TASK, self.region_id, task.task_id, new_target=True
            )
        return task

    def _end_task(
        self,
        task: HbrTask,
        status: TaskStatus,
        progress: int,
        result: str,
        *,
        new: bool = False,
        at: _dt.datetime | None = None,
    ) -> HbrTask:
        """Store the task finished at ``at`` (default now; ``completed``: ``Progress`` 100,
        or -1 when it failed; ``cancelled``) and set its expiry timer (``new``: the task has
        no timer pending)."""
        now = self._world.now() if at is None else at
        ended = attrs.evolve(
            task,
            status=status,
            progress=progress,
            result=result,
            updated_time=now,
            finished_time=now,
            completed_time=now if status is TaskStatus.COMPLETED else None,
        )
        self._tasks.put(ended, old=task)
        self._world.engine.schedule(
            max(now + _dt.timedelta(days=TASK_RESULT_DAYS), self._world.now()),
            ACTION_TASK,
            self.region_id,
            task.task_id,
            new_target=new,
        )
        return ended

    # -- lookups ----------------------------------------------------------------------
    def _policy(self, policy_id: object) -> Policy:
        """The policy, or ``BadRequest`` (not an id) / ``ResourceNotFound`` (404)."""
        return self._policies.get(self._id("PolicyId", policy_id))

    @staticmethod
    def _id(name: str, value: object) -> str:
        return v.text(name, value, 1, 128, code="BadRequest")

    def _source_type(self, value: object) -> str:
        return v.choice("SourceType", value, ("UDM_ECS",), code="BadRequest")

    def _binding_of(self, instance_id: str) -> PolicyBinding | None:
        found = self._bindings.members(BINDING_OF_INSTANCE, instance_id)
        return found[0] if found else None

    def _bindings_of_policy(self, policy_id: str) -> list[PolicyBinding]:
        start, stop = policy_range(policy_id)
        entries = self._world.store.raw_range(BINDINGS_BY_POLICY.kind, self.region_id, start, stop)
        return self._bindings.named_or_all([str(i) for _, i in entries]) if entries else []

    def _bad(
        self, message: str, recommend: str, ids: tuple[str, ...] = ()
    ) -> InvalidParameterError:
        return InvalidParameterError(message, code="BadRequest", ids=ids, recommend=recommend)
