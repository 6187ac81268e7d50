"""ECS of one region: instances, disks with real data, snapshots and their chains, groups,
images, locks.

:class:`EcsService` is built in layers, one module per resource, each layer a class that
extends the one beneath it and may call only what is beneath it (so no module imports one
above it, and there is no import cycle)::

    guest_agent.py GuestAgentActions guest(): the guest agent, its scripts, app consistency
    ram_roles.py   RamRoleActions    Attach/Detach/DescribeInstanceRamRole
    tags.py        TagActions        TagResources, UntagResources, ListTagResources
    instances.py   InstanceActions   RunInstances … DescribeInstanceAttribute, status timers
    images.py      ImageActions      CreateImage, DescribeImages, DeleteImage
    reset.py       ResetActions      ResetDisk, ResetDisks
    guest_io.py    GuestIo           write_disk / read_disk (the guest's data plane)
    disks.py       DiskActions       CreateDisk, Attach/Detach/Delete/ResizeDisk, DescribeDisks
    groups.py      GroupActions      Create/Describe/DeleteSnapshotGroup(s)
    locks.py       LockActions       LockSnapshot, UnlockSnapshot, DescribeLockedSnapshots
    snapshots.py   SnapshotActions   CreateSnapshot, DescribeSnapshots, ModifySnapshotAttribute…
    chains.py      SnapshotChains    take / remove / materialize snapshots, completion, expiry
    _core.py       EcsCore           repositories, the key ring, lookups and shared checks

The block maps under the chains are :mod:`cloudbackup._blocks`; the records are
:mod:`cloudbackup._domain.ecs`; what ECS offers other services is :mod:`.interface`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..._blocks import DISK_BLOCKS, DISK_DIRTY, SNAPSHOT_BLOCKS
from ..._engine import Timer
from ..._world import Scope, ServiceSpec, register_service
from .._interfaces import ECS_INSTANCES, ECS_SNAPSHOTS, GUEST_AGENT
from ._core import (
    ACTION_INSTANCE_TRANSITION,
    ACTION_SNAPSHOT_COMPLETE,
    ACTION_SNAPSHOT_EXPIRE,
    ATTACHED_TO,
    INSTANCE_DISKS,
    TAG_INDEX_KINDS,
)
from ._requests import CLIENT_TOKENS
from .guest_agent import GuestAgentActions, guest_agent
from .interface import instance_inventory, snapshot_source

__all__ = [
    "ATTACHED_TO",
    "CLIENT_TOKENS",
    "DISK_BLOCKS",
    "DISK_DIRTY",
    "INSTANCE_DISKS",
    "SNAPSHOT_BLOCKS",
    "SPEC",
    "TAG_INDEX_KINDS",
    "TIMER_HANDLERS",
    "EcsService",
]


class EcsService(GuestAgentActions):
    """Elastic Compute Service of one region: ``cloud.ecs("cn-hangzhou")``.

    Methods are the real API actions in snake_case with the real parameter names; records use
    the real field names. Every call is one unit of work: it happens completely or not at all.
    ``write_disk`` and ``read_disk`` have no real API counterpart: they are what a guest does
    to its block device; ``guest(instance_id)`` is the instance's guest agent, where the
    scripts of application-consistent backups are installed. Creating calls take the real
    ``client_token=`` (idempotency), calls whose real action has ``DryRun`` take
    ``dry_run=``, and ``describe_*`` calls of actions with ``NextToken`` take
    ``next_token=``/``max_results=``.
    """


TIMER_HANDLERS: dict[str, Callable[[Any, Timer], None]] = {
    ACTION_INSTANCE_TRANSITION: EcsService._on_instance_transition,
    ACTION_SNAPSHOT_COMPLETE: EcsService._on_snapshot_complete,
    ACTION_SNAPSHOT_EXPIRE: EcsService._on_snapshot_expire,
}

SPEC = register_service(
    ServiceSpec(
        name="ecs",
        cls=EcsService,
        scope=Scope.REGIONAL,
        timers=TIMER_HANDLERS,
        provides={
            ECS_SNAPSHOTS: snapshot_source,
            GUEST_AGENT: guest_agent,
            ECS_INSTANCES: instance_inventory,
        },
    )
)
