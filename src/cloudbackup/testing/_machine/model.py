"""The reference model of :class:`~cloudbackup.testing.CloudStateMachine`: what the world should be.

The model is small and independent of the library's code: plain records of every instance,
disk (with its bytes), snapshot (with the bytes it would restore), group, image, KMS key and
alias, and the rules that say which calls a world in this state must refuse (each ``*_problems``
method answers the set of error codes a call may raise; empty means it must succeed) and how
each accepted call and each passing second changes the state. It calls nothing: the rule sets
(:mod:`.ecs_rules`, :mod:`.kms_rules`) make the real calls and keep the model in step.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

import attrs

from ... import Limits, Timings
from ..._domain.ecs import CATEGORY_SPECS, DiskCategory, DiskType, InstanceStatus
from ..._domain.kms import KeySpec, KeyState
from ..._domain.tags import SYSTEM_TAG_PREFIXES

__all__ = [
    "KMS_NOT_ENABLED",
    "KMS_NOT_FOUND",
    "NOT_FOUND",
    "STABLE",
    "DiskModel",
    "InstanceModel",
    "KeyModel",
    "LockModel",
    "Model",
    "SnapshotModel",
    "user_tags",
]

NOT_FOUND = {
    "instance": "InvalidInstanceId.NotFound",
    "disk": "InvalidDiskId.NotFound",
    "snapshot": "InvalidSnapshotId.NotFound",
    "group": "InvalidSnapshotGroup.NotFound",
    "image": "InvalidImageId.NotFound",
}
"""The code a call answers for an id of each kind that does not exist (or no longer does)."""
KMS_NOT_FOUND = "InvalidParameter.KMSKeyId.NotFound"
KMS_NOT_ENABLED = "InvalidParameter.KMSKeyId.CMKNotEnabled"
STABLE = (InstanceStatus.Running, InstanceStatus.Stopped)
"""Instance statuses in which disks may be attached, detached and snapshotted."""


def user_tags(tags: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The tags a user set (the service's own ``acs:``/``aliyun`` tags left out)."""
    return {k: v for k, v in tags if not k.startswith(SYSTEM_TAG_PREFIXES)}


@attrs.define
class InstanceModel:
    """An instance: its status, and the status it moves to at ``due``."""

    instance_id: str
    region_id: str
    zone_id: str
    status: InstanceStatus
    target: InstanceStatus | None
    due: _dt.datetime | None
    ever_started: bool = False


@attrs.define
class DiskModel:
    """A disk: where it is, what it is attached to, and the bytes of its first ``WRITE_SPAN``."""

    disk_id: str
    region_id: str
    zone_id: str
    category: DiskCategory
    size: int
    type: DiskType
    data: bytearray
    attached: list[str] = attrs.field(factory=list)
    multi_attach: bool = False
    key_id: str | None = None
    delete_with_instance: bool = False
    source_snapshot_id: str | None = None
    ever_attached: bool = False


@attrs.define
class LockModel:
    """A compliance-mode snapshot lock."""

    duration: int
    cool_off: int
    created: _dt.datetime
    effective: _dt.datetime | None

    def status(self, now: _dt.datetime) -> str:
        """``cooloff``, ``compliance`` or ``expired``."""
        if now < self.created + _dt.timedelta(hours=self.cool_off):
            return "cooloff"
        if self.effective is not None and now >= self.effective + _dt.timedelta(days=self.duration):
            return "expired"
        return "compliance"

    def holds(self, now: _dt.datetime) -> bool:
        """Whether the lock still protects its snapshot."""
        return self.status(now) != "expired"

    def end(self) -> _dt.datetime | None:
        """When the lock stops holding (None while its snapshot progresses)."""
        if self.effective is None:
            return None
        return max(
            self.effective + _dt.timedelta(days=self.duration),
            self.created + _dt.timedelta(hours=self.cool_off),
        )


@attrs.define
class SnapshotModel:
    """A snapshot: the bytes it restores, its retention, lock and what uses it."""

    snapshot_id: str
    region_id: str
    disk_id: str
    data: bytes
    source_size: int
    created: _dt.datetime
    instant: bool
    complete_due: _dt.datetime | None
    """When a progressing snapshot completes; None once accomplished."""
    key_id: str | None
    retention: int | None = None
    lock: LockModel | None = None
    disk_refs: int = 0
    image_refs: int = 0
    group_id: str | None = None
    of_restored_disk: bool = False
    """Whether its disk was itself created from a snapshot (a second-generation snapshot)."""
    system_tags: int = 0
    """How many of the service's own tags it carries (a group member of an attached disk
    carries ``acs:ecs:createFrom``); they count towards the 20 tags a resource may hold."""
    backup_job: str | None = None
    """The Cloud Backup job that took it (a native snapshot of a backup point), if any."""
    job_done: _dt.datetime | None = None
    """When its backup job finishes and gives it the point's retention (None: done)."""
    job_days: int | None = None
    """The retention in days its backup job keeps the point for."""
    point_expire: _dt.datetime | None = None
    """When its backup point expires and Cloud Backup releases it (None: not owned by a
    point any more)."""

    @property
    def progressing(self) -> bool:
        """Whether it is still being created."""
        return self.complete_due is not None

    @property
    def available(self) -> bool:
        """Whether disks, images and resets may use it."""
        return self.instant or not self.progressing

    def expire(self) -> _dt.datetime | None:
        """When its retention ends (None: kept until deleted)."""
        if self.retention is None:
            return None
        return self.created + _dt.timedelta(days=self.retention)


@attrs.define
class KeyModel:
    """A KMS key."""

    key_id: str
    region_id: str
    spec: KeySpec
    state: KeyState = KeyState.Enabled
    delete_date: _dt.datetime | None = None
    service: bool = False


class Model:
    """Every resource of the world as it should be, and the rules that predict each call."""

    def __init__(
        self,
        *,
        account_id: str,
        limits: Limits,
        timings: Timings,
        now: _dt.datetime,
        write_span: int,
    ) -> None:
        self.account_id = account_id
        self.limits = limits
        self.timings = timings
        self.now = now
        self.write_span = write_span
        self.instances: dict[str, InstanceModel] = {}
        self.disks: dict[str, DiskModel] = {}
        self.snapshots: dict[str, SnapshotModel] = {}
        self.groups: dict[str, str] = {}
        """group id -> region; its members are the snapshots naming it."""
        self.images: dict[str, tuple[str, tuple[str, ...]]] = {}
        """image id -> (region, snapshot ids of its mappings)."""
        self.keys: dict[str, KeyModel] = {}
        self.aliases: dict[tuple[str, str], str] = {}
        self.tags: dict[str, dict[str, str]] = {}
        """resource id -> the tags a user set on it (key -> value); none when absent."""
        self.gone: dict[str, list[str]] = {k: [] for k in (*NOT_FOUND, "key")}
        """Ids of every kind that existed once, to try calls on them."""

    # -- queries ---------------------------------------------------------------------------
    def region_disks(self, region_id: str) -> list[str]:
        """The disks of a region."""
        return [d for d, disk in self.disks.items() if disk.region_id == region_id]

    def disk_snapshots(self, disk_id: str) -> list[SnapshotModel]:
        """The snapshots taken of a disk."""
        return [s for s in self.snapshots.values() if s.disk_id == disk_id]

    def instance_disks(self, instance_id: str) -> list[DiskModel]:
        """The disks attached to an instance."""
        return [d for d in self.disks.values() if instance_id in d.attached]

    # -- KMS --------------------------------------------------------------------------------
    def resolve(self, region_id: str, ref: str) -> KeyModel | None:
        """The key a reference (id, ``alias/…`` or ARN) names in a region, if it exists."""
        lookup = ref
        prefix = f"acs:kms:{region_id}:{self.account_id}:"
        if lookup.startswith(prefix):
            lookup = lookup[len(prefix) :]
            if lookup.startswith("key/"):
                lookup = lookup[4:]
        if lookup.startswith("alias/"):
            target = self.aliases.get((region_id, lookup))
            if target is None:
                return None
            lookup = target
        key = self.keys.get(lookup)
        return key if key is not None and key.region_id == region_id else None

    def usable(self, key: KeyModel) -> bool:
        """Whether ECS may encrypt with a key."""
        return key.spec.symmetric and key.state is KeyState.Enabled

    def cmk_problems(self, region_id: str, ref: str | None) -> set[str]:
        """What ECS refuses about a key reference for a new encrypted disk (None: the service
        key)."""
        if ref is None:
            return set()
        key = self.resolve(region_id, ref)
        if key is None:
            return {KMS_NOT_FOUND}
        if not key.spec.symmetric:
            return {"InvalidKMSKeyId.NotSymmetric"}
        if key.state is not KeyState.Enabled:
            return {KMS_NOT_ENABLED}
        return set()

    def open_problems(self, region_id: str, key_id: str | None) -> set[str]:
        """Why data sealed under ``key_id`` cannot be opened now."""
        if key_id is None:
            return set()
        key = self.keys.get(key_id)
        if key is None or key.region_id != region_id:
            return {KMS_NOT_FOUND}
        if key.state is not KeyState.Enabled:
            return {KMS_NOT_ENABLED}
        return set()

    def key_ref(
        self, region_id: str, pick: int, form: str, usable_only: bool = False
    ) -> str | None:
        """A reference to some key (any region and state, or only keys ECS may use in
        ``region_id``): its id, an alias or an ARN."""
        every: Sequence[str] = [*self.keys, *self.gone["key"]]
        if usable_only:
            every = [
                k for k, key in self.keys.items() if key.region_id == region_id and self.usable(key)
            ]
        if not every:
            return None
        key_id = every[pick % len(every)]
        key = self.keys.get(key_id)
        if form == "alias" and key is not None:
            names = [n for (r, n), k in self.aliases.items() if k == key_id and r == region_id]
            if names:
                return sorted(names)[0]
        if form == "arn":
            home = key.region_id if key is not None else region_id
            return f"acs:kms:{home}:{self.account_id}:key/{key_id}"
        return key_id

    # -- ECS rules ---------------------------------------------------------------------------
    def io_problems(self, disk: DiskModel, length: int = 1) -> set[str]:
        """Why a guest cannot read or write ``length`` bytes of ``disk`` now."""
        if not disk.attached:
            return {"IncorrectDiskStatus"}
        if not any(self.instances[i].status is InstanceStatus.Running for i in disk.attached):
            return {"IncorrectInstanceStatus"}
        if not length:
            return set()  # nothing to decrypt
        return self.open_problems(disk.region_id, disk.key_id)

    def snapshot_problems(self, disk: DiskModel) -> set[str]:
        """Why ``create_snapshot`` refuses ``disk`` now."""
        problems = set()
        spec = CATEGORY_SPECS[disk.category]
        if not spec.snapshot:
            problems.add("DiskCategory.OperationNotSupported")
        if not disk.ever_attached:
            problems.add("IncorrectDiskStatus.NeverAttached")
        for instance_id in disk.attached:
            instance = self.instances[instance_id]
            if instance.status not in STABLE:
                problems.add("IncorrectInstanceStatus")
            if not instance.ever_started:
                problems.add("IncorrectDiskStatus.NeverUsed")
        snapshots = self.disk_snapshots(disk.disk_id)
        if any(s.progressing for s in snapshots):
            problems.add("IncorrectDiskStatus.CreatingSnapshot")
        if len(snapshots) >= self.limits.manual_snapshots_per_disk:
            problems.add("QuotaExceed.Snapshot")
        problems |= self.open_problems(disk.region_id, disk.key_id)
        return problems

    def attach_problems(self, disk: DiskModel, instance: InstanceModel) -> set[str]:
        """Why ``attach_disk`` refuses to attach ``disk`` to ``instance`` (same region)."""
        problems: set[str] = set()
        others = self.instance_disks(instance.instance_id)
        if instance.status not in STABLE:
            problems.add("IncorrectInstanceStatus")
        if disk.zone_id != instance.zone_id:
            problems.add("ResourcesNotInSameZone")
        if instance.instance_id in disk.attached or (disk.attached and not disk.multi_attach):
            problems.add("IncorrectDiskStatus")
        if disk.multi_attach and len(disk.attached) >= self.limits.multi_attach_max_instances:
            problems.add("DiskAttachedNumberExceeded")
        problems |= self.cmk_problems(disk.region_id, disk.key_id)
        if disk.type is DiskType.system:
            if instance.status is not InstanceStatus.Stopped:
                problems.add("IncorrectInstanceStatus")
            if any(d.type is DiskType.system for d in others):
                problems.add("InvalidOperation.SystemDiskExists")
        elif sum(d.type is DiskType.data for d in others) >= self.limits.data_disks_per_instance:
            problems.add("InstanceDiskLimitExceeded")
        return problems

    def detach_problems(self, disk: DiskModel, instance: InstanceModel) -> set[str]:
        """Why ``detach_disk`` refuses to detach ``disk`` from ``instance``."""
        if instance.instance_id not in disk.attached:
            return {"IncorrectDiskStatus"}
        problems = set()
        if CATEGORY_SPECS[disk.category].local:
            problems.add("DiskNotPortable")
        allowed = (InstanceStatus.Stopped,) if disk.type is DiskType.system else STABLE
        if instance.status not in allowed:
            problems.add("IncorrectInstanceStatus")
        return problems

    def reset_problems(self, disk_id: str, snapshot_id: str) -> set[str]:
        """Why ``reset_disk`` refuses to roll ``disk_id`` back to ``snapshot_id``."""
        disk = self.disks.get(disk_id)
        snapshot = self.snapshots.get(snapshot_id)
        problems = set()
        if disk is None:
            problems.add(NOT_FOUND["disk"])
        if snapshot is None or (disk is not None and snapshot.region_id != disk.region_id):
            problems.add(NOT_FOUND["snapshot"])
        if problems or disk is None or snapshot is None:
            return problems
        if snapshot.disk_id != disk.disk_id:
            problems.add("InvalidParameter.Mismatch")
        if not snapshot.available:
            problems.add("InvalidSnapshotId.NotReady")
        if any(self.instances[i].status is not InstanceStatus.Stopped for i in disk.attached):
            problems.add("IncorrectInstanceStatus")
        if any(s.progressing for s in self.disk_snapshots(disk.disk_id)):
            problems.add("IncorrectDiskStatus.HasUnfinishedSnapshot")
        problems |= self.open_problems(disk.region_id, disk.key_id)
        return problems

    def deletion_problems(self, snapshot: SnapshotModel, force: bool) -> set[str]:
        """Why ``delete_snapshot`` refuses a snapshot."""
        problems = set()
        if snapshot.lock is not None and snapshot.lock.holds(self.now):
            problems.add("OperationDenied.SnapshotLocked")
        if snapshot.image_refs:
            problems.add("SnapshotCreatedImage")
        if snapshot.disk_refs and not force:
            problems.add("SnapshotCreatedDisk")
        return problems

    def held(self, snapshot: SnapshotModel) -> bool:
        """Whether retention must wait: a holding lock, or images or disks made from it."""
        return (
            snapshot.image_refs > 0
            or snapshot.disk_refs > 0
            or (snapshot.lock is not None and snapshot.lock.holds(self.now))
        )

    # -- transitions ---------------------------------------------------------------------------
    def new_snapshot(
        self, snapshot_id: str, disk: DiskModel, retention: int | None, group_id: str | None
    ) -> SnapshotModel:
        """A snapshot of ``disk`` taken now."""
        instant = CATEGORY_SPECS[disk.category].instant_access
        snapshot = self.snapshots[snapshot_id] = SnapshotModel(
            snapshot_id=snapshot_id,
            region_id=disk.region_id,
            disk_id=disk.disk_id,
            data=bytes(disk.data),
            source_size=disk.size,
            created=self.now,
            instant=instant,
            complete_due=None if instant else self.now + self.timings.snapshot_base,
            key_id=disk.key_id,
            retention=retention,
            group_id=group_id,
            of_restored_disk=disk.source_snapshot_id is not None,
            system_tags=1 if group_id is not None and disk.attached else 0,
        )
        return snapshot

    def learn_native(
        self,
        snapshot_id: str,
        disk: DiskModel,
        *,
        created: _dt.datetime,
        job_id: str,
        days: int,
        group_id: str | None,
    ) -> SnapshotModel:
        """A native snapshot a Cloud Backup job took of ``disk`` at ``created`` (now, or
        earlier in the step that just ran: guests wrote nothing since, so its bytes are the
        disk's): ``days`` of ECS retention, finished with its job ``snapshot_base`` later,
        released when its point expires. Call :meth:`advance` to the present afterwards."""
        now = self.now
        self.now = created
        try:
            snapshot = self.new_snapshot(snapshot_id, disk, days, group_id)
        finally:
            self.now = now
        snapshot.backup_job = job_id
        snapshot.job_done = created + self.timings.snapshot_duration(0)
        snapshot.job_days = days
        snapshot.point_expire = created + _dt.timedelta(days=days)
        if group_id is not None:
            self.groups[group_id] = disk.region_id
        return snapshot

    def release_native(self, snapshot: SnapshotModel) -> str | None:
        """Cloud Backup lets a point's native snapshot go (the point expired or was deleted):
        one a disk or image was made from stays, kept until deleted; one a lock holds stays
        until ECS releases it; any other is deleted. Answers what happened."""
        snapshot.point_expire = None
        if snapshot.disk_refs or snapshot.image_refs:
            snapshot.retention = None
            return "native snapshot of an expired point kept for the disks made from it"
        if snapshot.lock is not None and snapshot.lock.holds(self.now):
            return "native snapshot of an expired point held by its lock"
        self.drop_snapshot(snapshot.snapshot_id)
        return "native snapshot released with its point"

    def drop_snapshot(self, snapshot_id: str) -> None:
        """A snapshot is deleted or released (its group goes with its last member)."""
        snapshot = self.snapshots.pop(snapshot_id)
        self.gone["snapshot"].append(snapshot_id)
        group_id = snapshot.group_id
        if group_id is not None and not any(
            s.group_id == group_id for s in self.snapshots.values()
        ):
            del self.groups[group_id]
            self.gone["group"].append(group_id)

    def release_if_expired(self, snapshot: SnapshotModel) -> bool:
        """Release a snapshot whose retention has run out and that nothing holds any more."""
        expire = snapshot.expire()
        if expire is not None and expire <= self.now and not self.held(snapshot):
            self.drop_snapshot(snapshot.snapshot_id)
            return True
        return False

    def destroy_disk(self, disk: DiskModel) -> list[str]:
        """A disk is deleted: its progressing, unlocked snapshots go; the snapshot it was made
        from may be released. Answers what happened, for the run's statistics."""
        happened = []
        for snapshot in self.disk_snapshots(disk.disk_id):
            locked = snapshot.lock is not None and snapshot.lock.holds(self.now)
            if snapshot.progressing and not locked:
                self.drop_snapshot(snapshot.snapshot_id)
        source = self.snapshots.get(disk.source_snapshot_id or "")
        del self.disks[disk.disk_id]
        if source is not None:
            source.disk_refs -= 1
            if self.release_if_expired(source):
                happened.append("expired source snapshot released with its last disk")
        self.gone["disk"].append(disk.disk_id)
        return happened

    def _due(self) -> list[tuple[_dt.datetime, int, str, Any]]:
        due: list[tuple[_dt.datetime, int, str, Any]] = []
        for instance in self.instances.values():
            if instance.due is not None:
                due.append((instance.due, 0, "instance", instance))
        for snapshot in self.snapshots.values():
            if snapshot.complete_due is not None:
                due.append((snapshot.complete_due, 1, "complete", snapshot))
            if snapshot.job_done is not None:
                due.append((snapshot.job_done, 1, "job", snapshot))
            if snapshot.point_expire is not None:
                due.append((max(snapshot.point_expire, self.now), 2, "point", snapshot))
            expire = snapshot.expire()
            if expire is None or snapshot.image_refs or snapshot.disk_refs:
                continue
            if snapshot.lock is not None:
                end = snapshot.lock.end()
                if end is None:
                    continue
                expire = max(expire, end)
            due.append((max(expire, self.now), 2, "expire", snapshot))
        for key in self.keys.values():
            if key.delete_date is not None:
                due.append((key.delete_date, 3, "key", key))
        return due

    def advance(self, target: _dt.datetime) -> list[str]:
        """Virtual time moves to ``target``: every due transition happens, in order. Answers
        what happened, for the run's statistics."""
        happened = []
        while True:
            due = self._due()
            if not due:
                break
            when, _, what, item = min(due, key=lambda d: (d[0], d[1]))
            if when > target:
                break
            self.now = max(self.now, when)
            if what == "instance":
                item.status, item.target, item.due = item.target, None, None
                if item.status is InstanceStatus.Running:
                    item.ever_started = True
            elif what == "complete":
                item.complete_due = None
                if item.lock is not None and item.lock.effective is None:
                    item.lock.effective = self.now
            elif what == "job":
                item.job_done, item.retention = None, item.job_days
            elif what == "point":
                if (said := self.release_native(item)) is not None:
                    happened.append(said)
            elif what == "expire":
                happened.append(
                    "snapshot of a restored disk expired"
                    if item.of_restored_disk
                    else "snapshot expired"
                )
                self.drop_snapshot(item.snapshot_id)
            else:
                del self.keys[item.key_id]
                self.gone["key"].append(item.key_id)
                for address in [a for a, k in self.aliases.items() if k == item.key_id]:
                    del self.aliases[address]
        for snapshot in self.snapshots.values():
            expire = snapshot.expire()
            if snapshot.disk_refs and expire is not None and expire <= target:
                happened.append("retention waits for a disk made from the snapshot")
        self.now = target
        return happened
