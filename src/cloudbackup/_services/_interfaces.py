"""The small typed interfaces services offer each other.

A service never calls another service's private methods: it asks the world for the provider of
an interface (``world.provider(KEY_RING, region)``) and uses only what the interface declares.
The provider registers the interface in its :class:`~cloudbackup._world.ServiceSpec`
(``provides=``). These are typing Protocols, so a test double only has to have the methods.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import attrs

from .._domain.ecs import Snapshot
from .._domain.guest import AppConsistentResult
from .._regions import Region
from .._world import Interface, World

__all__ = [
    "ECS_INSTANCES",
    "ECS_SNAPSHOTS",
    "GUEST_AGENT",
    "INSTANCE_WATCHERS",
    "KEY_RING",
    "AppConsistency",
    "BackupDisk",
    "BackupInstance",
    "InstanceInventory",
    "InstanceWatcher",
    "KeyRing",
    "SnapshotSource",
    "instance_tags_changed",
]

T = TypeVar("T")


class KeyRing(Protocol):
    """What KMS offers ECS: customer master keys used for envelope encryption of disk data.

    Errors carry the ECS error codes, because ECS is the caller the user sees:
    ``InvalidParameter.KMSKeyId.NotFound``, ``InvalidKMSKeyId.NotSymmetric``,
    ``InvalidParameter.KMSKeyId.CMKNotEnabled``.
    """

    def key_for_encryption(self, key_id: str | None) -> str:
        """The id of the key to encrypt new data with: ``key_id`` (an id, ARN or alias) once
        checked usable, or with ``None`` the region's ECS service key (``alias/acs/ecs``,
        created on first use)."""
        ...

    def check_usable(self, key_id: str) -> None:
        """Raise unless ``key_id`` exists, is symmetric and is ``Enabled``."""
        ...

    def wrap_data_key(self, key_id: str, plaintext: bytes) -> bytes:
        """Encrypt (wrap) a data key under the master key ``key_id``."""
        ...

    def unwrap_data_key(self, key_id: str, ciphertext: bytes) -> bytes:
        """Decrypt (unwrap) a data key; the master key must still exist and be ``Enabled``."""
        ...


KEY_RING: Interface[KeyRing] = Interface("KeyRing")
"""The key ring interface; KMS provides it, per region."""


class SnapshotSource(Protocol):
    """What ECS offers Cloud Backup in its region: snapshots as the unit of backup.

    Every method is one unit of work (nested inside the caller's, if any) and raises the ECS
    errors its public counterpart raises. Copying a snapshot's content to another region
    (``CopySnapshot``, replication) is not offered yet: it arrives with cross-region
    replication, in a later issue.
    """

    def take_snapshot(
        self,
        disk_id: str,
        *,
        retention_days: int | None = None,
        tags: Sequence[tuple[str, str]] = (),
        snapshot_name: str | None = None,
        managed: bool = False,
    ) -> str:
        """Snapshot one disk (``CreateSnapshot``); returns the snapshot id.

        ``managed=True``: the caller manages the snapshot's lifecycle from the start. ECS
        records its ``retention_days`` (``DescribeSnapshots`` shows it) but sets no expiry
        timer for it: the caller must, on every path, either manage it on
        (:meth:`manage_snapshots`), hand it back (:meth:`unmanage_snapshot`) or delete it
        (:meth:`remove_snapshot`), or it outlives its retention. Cloud Backup takes a running
        job's native snapshots so (their point, or the job's end, decides what becomes of
        them), instead of a timer per snapshot cancelled when the point is recorded."""
        ...

    def take_snapshot_group(
        self,
        instance_id: str,
        *,
        disk_ids: Sequence[str] | None = None,
        snapshot_name: str | None = None,
        retention_days: int | None = None,
        tags: Sequence[tuple[str, str]] = (),
        managed: bool = False,
    ) -> tuple[str, tuple[str, ...]]:
        """Snapshot an instance's disks (all, or ``disk_ids``) at one instant
        (``CreateSnapshotGroup``); returns the group id and its snapshot ids, in the order of
        ``disk_ids``. ``snapshot_name``, ``retention_days`` and ``tags`` are given to the
        group and to each member snapshot; ``managed`` as for :meth:`take_snapshot`."""
        ...

    def remove_snapshot(self, snapshot_id: str) -> None:
        """Delete a snapshot (``DeleteSnapshot``); a missing id is ``InvalidSnapshotId.NotFound``,
        a locked or used one is refused as ``delete_snapshot`` refuses it."""
        ...

    def read_snapshot(self, snapshot_id: str, offset: int, length: int) -> bytes:
        """The bytes the source disk held at the snapshot, ``length`` from ``offset``
        (decrypted: exactly what the guest had written)."""
        ...

    def describe_chain(self, disk_id: str) -> tuple[Snapshot, ...]:
        """Every snapshot of a disk, oldest first (its snapshot chain)."""
        ...

    def chain_bytes(self, disk_id: str) -> int:
        """Bytes held by the disk's snapshot chain(s) (``TotalSize`` of its snapshot links;
        0 for a disk never snapshotted or unknown): one index read, never the region."""
        ...

    def find_snapshot(self, snapshot_id: str) -> Snapshot | None:
        """The snapshot, or ``None`` if it does not exist (any more)."""
        ...

    def keep_snapshot(self, snapshot_id: str, retention_days: int | None) -> None:
        """Keep the snapshot ``retention_days`` from its creation (``None``: until deleted),
        longer or shorter than now: the owner of a backup point manages its native snapshots'
        lifecycle. A missing id is ``InvalidSnapshotId.NotFound``."""
        ...

    def manage_snapshots(self, snapshot_ids: Sequence[str], retention_days: int | None) -> None:
        """Keep each snapshot ``retention_days`` from its creation (``None``: until deleted),
        its expiry left to the caller: ECS keeps no expiry timer for it (it drops the one it
        had; a snapshot taken ``managed`` has none). The caller releases it when the retention
        runs out, or hands it back, with :meth:`unmanage_snapshot`. Cloud Backup manages its
        points' native snapshots so: one timer per point, not one per snapshot. A missing id
        is ``InvalidSnapshotId.NotFound`` (and nothing changes)."""
        ...

    def unmanage_snapshot(self, snapshot_id: str, *, expired: bool) -> None:
        """Hand a managed snapshot back to ECS. ``expired``: its owner's retention has run out
        (or its own has), so ECS releases it now as at expiry (``SnapshotDeleted`` reason
        ``retention``) unless a lock holds it (released when the lock ends) or a disk or image
        made from it (released when the last goes); else its expiry timer is set again."""
        ...

    def hold_snapshot(
        self, snapshot_id: str, start: _dt.datetime, until: _dt.datetime | None
    ) -> None:
        """Hold the snapshot with a compliance lock (no cool-off) effective from ``start`` to
        ``until`` (``None``: for ever), replacing a hold that ends sooner: ECS then refuses
        to delete it (``OperationDenied.SnapshotLocked``) until ``until``. Immutable backup
        points are held this way."""
        ...


ECS_SNAPSHOTS: Interface[SnapshotSource] = Interface("SnapshotSource")
"""The snapshot interface; ECS provides it, per region."""


class AppConsistency(Protocol):
    """What ECS offers Cloud Backup in its region for application-consistent backups: the
    guest agent of each instance (the Cloud Assistant agent in the real product).

    Scripts are the user's, installed with ``cloud.ecs(region).guest(instance_id)``; they live
    in the process, never in storage.
    """

    def run_app_consistent(
        self,
        instance_id: str,
        take: Callable[[], T],
        *,
        ram_role_name: str,
        pre_script_path: str,
        post_script_path: str,
        enable_fs_freeze: bool = True,
        timeout_in_seconds: int = 30,
        enable_writers: bool = True,
    ) -> AppConsistentResult[T]:
        """Run ``take()`` (the snapshot or snapshot group) inside the application-consistent
        sequence of the instance's guest: check the RAM role, run the pre-freeze script,
        freeze guest I/O (``enable_fs_freeze``), ``take()``, thaw, run the post-thaw script.

        Returns what ``take()`` returned with the consistency reached; whatever goes wrong on
        the guest side (no role, no script, a script that fails or times out, an instance
        that is not Running) makes it ``CRASH`` with the ``DowngradeReason``, and ``take()``
        is still called. The guest is thawed whatever happens; an error ``take()`` raises
        is raised after the thaw (and the post-thaw script). Bad arguments raise before
        anything runs.
        """
        ...


GUEST_AGENT: Interface[AppConsistency] = Interface("AppConsistency")
"""The guest agent interface; ECS provides it, per region."""


@attrs.frozen
class BackupDisk:
    """A disk as Cloud Backup sees it: what it needs to choose and snapshot it."""

    disk_id: str
    category: str
    """``cloud_essd``, ``cloud_efficiency``, ``ephemeral_ssd``…"""
    essd: bool
    """Of the ESSD family (may join a snapshot-consistent group; application consistency)."""
    local: bool
    """A local disk: never backed up."""
    device: str | None
    """``/dev/xvda`` for the system disk."""


@attrs.frozen
class BackupInstance:
    """An ECS instance as Cloud Backup sees it."""

    instance_id: str
    status: str
    """``Running``, ``Stopped``…"""
    tags: tuple[tuple[str, str], ...]
    disks: tuple[BackupDisk, ...]
    """The disks attached now, system disk first."""
    os_type: str = "linux"
    """``linux`` or ``windows``: the form its guest agent's script paths take."""


class InstanceInventory(Protocol):
    """What ECS offers Cloud Backup about its region's instances (read-only)."""

    def find_instance(self, instance_id: str) -> BackupInstance | None:
        """The instance with its attached disks, or ``None`` (never created, or released)."""
        ...

    def instances_tagged(self, key: str, value: str) -> tuple[BackupInstance, ...]:
        """The instances tagged ``key=value`` (read through ECS's tag index: costs them)."""
        ...

    def instances_with_tag_key(self, key: str) -> tuple[BackupInstance, ...]:
        """The instances that carry ``key`` with any value (reads the region's instances:
        ECS keeps no index by key alone)."""
        ...

    def disk_owner(self, disk_id: str) -> str | None:
        """The instance a disk is attached to, or ``None`` (unattached or unknown)."""
        ...


ECS_INSTANCES: Interface[InstanceInventory] = Interface("InstanceInventory")
"""The instance view Cloud Backup uses; ECS provides it, per region."""


class InstanceWatcher(Protocol):
    """Told by ECS, inside the unit of work that made the change, when an instance's tags
    change (created with tags, ``TagResources``, ``UntagResources``). Cloud Backup offers it to
    bind and unbind instances through TAG rules without ever scanning the region."""

    def instance_tags_changed(
        self,
        instance_id: str,
        before: tuple[tuple[str, str], ...],
        after: tuple[tuple[str, str], ...],
    ) -> None:
        """React to an instance's tags going from ``before`` to ``after``."""
        ...


INSTANCE_WATCHERS: Interface[InstanceWatcher] = Interface("InstanceWatcher")
"""The tag-change hook; every service that offers it is told (see :meth:`World.providers`)."""


def instance_tags_changed(
    world: World,
    region: Region,
    instance_id: str,
    before: tuple[tuple[str, str], ...],
    after: tuple[tuple[str, str], ...],
) -> None:
    """Tell every :class:`InstanceWatcher` of ``region`` that an instance's tags changed
    (ECS calls this inside the unit of work that changed them, so a watcher's failure rolls
    the change back with it)."""
    if before != after:
        for watcher in world.providers(INSTANCE_WATCHERS, region):
            watcher.instance_tags_changed(instance_id, before, after)
