"""Cloud Backup, the stored backup jobs of a region: the job records, their indexes and how a
folded ``UDM_ECS_DISK`` sub-job is found by its own id (:class:`JobRecords`).

A region keeps every job it ran (a job has no expiry): a fleet's year leaves hundreds of
thousands of them. So a job is stored as one flat tuple of atomic values (:data:`JOB_FORM`, read
back as the same :class:`BackupJob`), which the cyclic garbage collector stops tracking the
first time it looks at it: a job never reaches the collector's old generation, whose full
collections cost in proportion to the objects promoted into it (a running job too, which
outlives many young collections while its snapshots upload).

Part of the layered :class:`~cloudbackup.HbrService` (see ``_services/hbr/__init__.py``); the
jobs themselves run in :mod:`cloudbackup._services.hbr.jobs`.
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Sequence

from ..._domain.guest import ConsistentLevel
from ..._domain.hbr import AdvancedRetentionType, RetentionRule
from ..._domain.hbr_jobs import NO_DETAIL, BackupJob, JobDetail, JobStatus, SubJob, TriggerMode
from ..._domain.hbr_points import PointRetention
from ..._repository import Index, OrderedIndex, Repository, RepositorySpec, StoredForm
from ..._store import Store, raw_kind

__all__ = [
    "JOB_FORM",
    "JOBS",
    "JOBS_BY_TIME",
    "JOBS_OF_INSTANCE",
    "SUB_JOBS",
    "SUB_JOB_PARENT",
    "UNFINISHED_JOB_OF_INSTANCE",
    "JobRecords",
]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def _micros(at: _dt.datetime) -> str:
    return f"{(at - _EPOCH) // _dt.timedelta(microseconds=1):020d}"


# -- the stored form of a finished job ------------------------------------------------------
_FORM_TAG = "hbr.job/1"
"""The first item of a job's stored tuple: which layout the items follow."""
_STATUS = {s.value: s for s in JobStatus}
_TRIGGER = {t.value: t for t in TriggerMode}
_LEVEL = {c.value: c for c in ConsistentLevel}
_ADVANCED = {a.value: a for a in AdvancedRetentionType}

_S, _N, _I, _B, _T = str, type(None), int, bool, _dt.datetime
_OPT_S, _OPT_T = (_S, _N), (_T, _N)
_SUB_TYPES = (
    (_S,), (_S,), (_S,), _OPT_S, _OPT_S, (_I,), (_I,), _OPT_S, _OPT_T, (_I,), (_I,), (_I,)
)  # fmt: skip
"""The exact types of a folded :class:`SubJob`'s items (its status as the value)."""
_RULE_TYPES = ((_S,), (_B,), (_I,), (_I,))
"""A :class:`RetentionRule`: its type's value, whether the type is the enum member, the
retention and ``which_snapshot``."""


def _strings(value: object) -> bool:
    return type(value) is tuple and (not value or set(map(type, value)) == _JUST_STR)


_JUST_STR = {_S}
_DISK_ITEM = frozenset((_S, _I, _N))

_Types = tuple[tuple[type, ...], ...]
_CHECKED: dict[int, set[tuple[type, ...]]] = {}
"""Per layout (by the identity of its module-level types: hashing them would cost more than
the check), the item type sequences already checked against it: most stored tuples share a
few (which optional values are None), so a tuple is checked by one set lookup."""
_PAIR_TYPES: _Types = ((_S,), (_S,))


def _items(value: object, types: _Types) -> bool:
    """Whether ``value`` is a tuple whose items have exactly ``types`` (one tuple per item)."""
    if type(value) is not tuple or len(value) != len(types):
        return False
    actual = tuple(map(type, value))
    checked = _CHECKED.get(id(types))
    if checked is None:
        checked = _CHECKED[id(types)] = set()
    if actual in checked:
        return True
    if not all(kind in allowed for kind, allowed in zip(actual, types, strict=True)):
        return False
    if len(checked) < 1024:
        checked.add(actual)
    return True


_RETENTION_TYPES: _Types = ((_I,), (tuple,), (_B,), (_B,), _OPT_S, _OPT_S)


def _retention_ok(value: object) -> bool:
    if value is None or _SHARED_RETENTIONS.get(value) is value:  # type: ignore[call-overload]
        return True  # no point retention, or a stored one already checked
    return _items(value, _RETENTION_TYPES) and all(
        _items(r, _RULE_TYPES)
        for r in value[1]  # type: ignore[index]
    )


_JOB_TYPES: _Types = (
    (_S,), (_S,), (_S,), (_S,), (_S,), (_S,), (_S,), (_T,), (_T,), (_I,),
    _OPT_S, _OPT_S, _OPT_S, _OPT_S, _OPT_S, _OPT_S, (_S,), _OPT_T, _OPT_T, _OPT_T,
    (_I,), (_I,), (_I,), (_I,), (_I,),
    _OPT_S, (tuple,), (tuple,), _OPT_S, _OPT_S, _OPT_S, (tuple,), (_B,), _OPT_S,
    (tuple,), (tuple,), (tuple,), (tuple, _N), _OPT_S,
)  # fmt: skip
"""The exact types of a stored job's items, in :func:`_stored_job`'s order; the tuples' items
are checked by :func:`_valid`."""


def _valid(flat: tuple[object, ...]) -> bool:
    """Whether ``flat`` is a finished job's stored tuple, item types and all."""
    return (
        _items(flat, _JOB_TYPES)
        and flat[0] == _FORM_TAG
        and _strings(flat[26])
        and _strings(flat[27])
        and all(_items(pair, _PAIR_TYPES) for pair in flat[31])  # type: ignore[attr-defined]
        and _strings(flat[34])
        and _DISK_ITEM.issuperset(map(type, flat[35]))  # type: ignore[call-overload]
        and all(_items(sub, _SUB_TYPES) for sub in flat[36])  # type: ignore[attr-defined]
        and _retention_ok(flat[37])
    )


def _stored_job(job: BackupJob) -> object:
    """What the job repository stores for ``job``: one flat tuple of atomic values (enums as
    their values, the detail's fields inline), which the cyclic garbage collector does not
    track; a job holding a value the tuple cannot give back exactly (a ``str`` subclass, an
    enum's value…) as itself."""
    d, kept = job.detail, job.point_retention
    level = d.consistent_level
    if (
        type(job.status) is not JobStatus
        or type(job.trigger_mode) is not TriggerMode
        or (level is not None and type(level) is not ConsistentLevel)
        or not all(type(s.status) is JobStatus for s in job.sub_jobs)
    ):
        return job  # an enum's value where its member belongs: kept whole
    flat = (
        _FORM_TAG, job.job_id, job.region_id, job.source_type, job.instance_id,
        job.status.value, job.trigger_mode.value, job.created_time, job.updated_time,
        job.retention, job.parent_id, job.disk_id, job.plan_id, job.rule_id, job.job_name,
        job.error_message, job.backup_type, job.start_time, job.complete_time,
        job.expected_completion_time, job.progress, job.bytes_total, job.bytes_done,
        job.actual_bytes, job.speed,
        d.native_snapshot_id, d.disk_native_snapshot_id_list, d.disk_id_list,
        d.snapshot_group_id, None if level is None else level.value, d.downgrade_reason,
        d.skipped_disks, d.do_copy, d.disk_dev_name,
        job.sub_job_ids, job.sub_job_disks,
        tuple([_stored_sub_job(s) for s in job.sub_jobs]) if job.sub_jobs else (),
        None if kept is None else _stored_retention(kept),
        job.point_id,
    )  # fmt: skip
    return flat if _valid(flat) else job


def _stored_sub_job(sub: SubJob) -> tuple[object, ...]:
    return (
        sub.job_id, sub.disk_id, sub.status.value, sub.native_snapshot_id, sub.disk_dev_name,
        sub.actual_bytes, sub.bytes_total, sub.error_message, sub.complete_time, sub.progress,
        sub.bytes_done, sub.speed,
    )  # fmt: skip


_SHARED_RETENTIONS: dict[tuple[object, ...], tuple[object, ...]] = {}
"""The stored form of each point retention in use, shared by the jobs that keep it (a rule's
jobs all do): the jobs' tuples then hold one more reference each, not five more tuples."""


_RETENTION_OF: dict[int, tuple[PointRetention, tuple[object, ...]]] = {}
"""The stored form of the point retentions last stored, by the object's identity (the jobs of
one rule hold one object; it is kept here with its form, so its id is not reused)."""


def _stored_retention(kept: PointRetention) -> tuple[object, ...]:
    known = _RETENTION_OF.get(id(kept))
    if known is not None and known[0] is kept:
        return known[1]
    stored = _new_stored_retention(kept)
    if len(_RETENTION_OF) >= 256:
        _RETENTION_OF.clear()
    _RETENTION_OF[id(kept)] = (kept, stored)
    return stored


def _new_stored_retention(kept: PointRetention) -> tuple[object, ...]:
    rules = []
    for rule in kept.special:
        kind = rule.advanced_retention_type
        if isinstance(kind, AdvancedRetentionType):
            rules.append((kind.value, True, rule.retention, rule.which_snapshot))
        else:
            rules.append((kind, False, rule.retention, rule.which_snapshot))
    kept_for = (kept.keep_latest, kept.immutable, kept.policy_id, kept.rule_id)
    stored = (kept.retention, tuple(rules), *kept_for)
    if not _retention_ok(stored):
        return stored  # the job is then stored whole
    # Only a tuple whose items have exactly the types of their places is shared: two such
    # tuples that are equal hold the same values of the same types (True == 1 cannot mix).
    if len(_SHARED_RETENTIONS) >= 1024:
        _SHARED_RETENTIONS.clear()
    return _SHARED_RETENTIONS.setdefault(stored, stored)


@functools.lru_cache(maxsize=256)
def _retention(stored: tuple[object, ...]) -> PointRetention:
    """A stored :class:`PointRetention` (one object per distinct value in use: the jobs of a
    rule share it)."""
    retention, rules, keep_latest, immutable, policy_id, rule_id = stored
    special = tuple(
        [
            RetentionRule(_ADVANCED[kind] if member else kind, days, which)
            for kind, member, days, which in rules  # type: ignore[attr-defined]
        ]
    )
    args = (retention, special, keep_latest, immutable, policy_id, rule_id)
    return PointRetention(*args)  # type: ignore[arg-type]


def _restored_job(value: object) -> BackupJob | None:
    """The job stored as ``value`` by :func:`_stored_job` (None: ``value`` is no stored job)."""
    if type(value) is not tuple or not _valid(value):
        return None
    (
        _, job_id, region_id, source_type, instance_id, status, trigger, created, updated,
        retention, parent_id, disk_id, plan_id, rule_id, job_name, error_message, backup_type,
        start, complete, expected, progress, bytes_total, bytes_done, actual_bytes, speed,
        native, natives, disks, group, level, downgrade, skipped, do_copy, dev,
        sub_job_ids, sub_job_disks, subs, kept, point_id,
    ) = value  # fmt: skip
    try:
        if not (natives or disks or skipped or do_copy) and (
            native is group is level is downgrade is dev is None
        ):
            detail = NO_DETAIL
        else:
            detail = JobDetail(
                native, natives, disks, group, None if level is None else _LEVEL[level],
                downgrade, skipped, do_copy, dev,
            )  # fmt: skip
        sub_jobs = tuple([SubJob(s[0], s[1], _STATUS[s[2]], *s[3:]) for s in subs])
        return BackupJob(
            job_id, region_id, source_type, instance_id, _STATUS[status], _TRIGGER[trigger],
            created, updated, retention, parent_id, disk_id, plan_id, rule_id, job_name,
            error_message, backup_type, start, complete, expected, progress, bytes_total,
            bytes_done, actual_bytes, speed, detail,
            sub_job_ids, sub_job_disks, sub_jobs, None if kept is None else _retention(kept),
            point_id,
        )  # fmt: skip
    except KeyError:  # an enum value the stored tuple should not hold
        return None


JOB_FORM: StoredForm[BackupJob] = StoredForm(_stored_job, _restored_job)
"""How the job repositories store a job: as a flat tuple of atomic values."""

UNFINISHED_JOB_OF_INSTANCE: Index[BackupJob] = Index(
    "hbr.unfinished_job_of_instance",
    lambda j: (
        (j.instance_id,) if j.source_type == "UDM_ECS" and j.status is JobStatus.RUNNING else ()
    ),
)
"""partition = instance id: its running ``UDM_ECS`` job (at most one)."""
JOBS_OF_INSTANCE: Index[BackupJob] = Index(
    "hbr.jobs_of_instance", lambda j: (j.instance_id,) if j.source_type == "UDM_ECS" else ()
)
"""partition = instance id: its ``UDM_ECS`` jobs (``InstanceId`` filters read these)."""
JOBS_BY_TIME: OrderedIndex[BackupJob] = OrderedIndex(
    "hbr.jobs_by_time",
    lambda j: _micros(j.created_time),
    ("SourceType", "Status"),
    lambda j: (j.source_type, j.status.value),
)
"""A region's ``UDM_ECS`` jobs by creation time, partitioned by source type and status: a
``DescribeBackupJobs2`` page reads the page. Sub-jobs are not listed: they are only ever
reached through their parent (``ParentId``) or by id (see :data:`SUB_JOBS`)."""
JOBS = RepositorySpec(
    BackupJob,
    lambda j: j.job_id,
    "ResourceNotFound",
    "backup job",
    (UNFINISHED_JOB_OF_INSTANCE, JOBS_OF_INSTANCE),
    (JOBS_BY_TIME,),
    JOB_FORM,
)
"""The jobs of a region; ``UDM_ECS`` jobs are written through it (with their indexes)."""
SUB_JOBS = RepositorySpec(
    BackupJob, lambda j: j.job_id, "ResourceNotFound", "backup job", stored_form=JOB_FORM
)
"""The same records, without indexes: how ``UDM_ECS_DISK`` sub-jobs stored as records of
their own (by a world made before sub-jobs were folded into their instance job, see
:class:`~cloudbackup.SubJob`) are written when their job finishes."""
SUB_JOB_PARENT = raw_kind("hbr.sub_job_parent")
"""partition = region, key = a folded sub-job's id, value = its instance job's id: how a
sub-job is found by its own id (``CancelBackupJob``, a ``JobId`` filter). One small entry
per sub-job instead of a record."""


class JobRecords(Repository[BackupJob]):
    """The jobs of a region: instance jobs are records; their sub-jobs are read from the
    instance job's record (:meth:`BackupJob.folded_sub_jobs`), or are records of their own when
    stored before sub-jobs were folded. ``find``/``get``/``named_or_all`` give both."""

    def __init__(self, store: Store, region_id: str) -> None:
        super().__init__(JOBS, store, region_id)

    def find(self, record_id: str) -> BackupJob | None:
        found = super().find(record_id)
        return found if found is not None else self.folded_sub_job(record_id)

    def get(self, record_id: object) -> BackupJob:
        if isinstance(record_id, str) and record_id and super().find(record_id) is None:
            sub = self.folded_sub_job(record_id)
            if sub is not None:
                return sub
        return super().get(record_id)

    def named_or_all(self, ids: Sequence[str]) -> list[BackupJob]:
        if not ids:
            return self.scan()
        return [j for j in (self.find(i) for i in ids) if j is not None]

    def folded_sub_job(self, sub_id: str) -> BackupJob | None:
        """A sub-job folded into its instance job, as a whole item (None: no such sub-job)."""
        parent_id = self._store.raw_get(SUB_JOB_PARENT, self._region_id, sub_id)
        parent = None if not isinstance(parent_id, str) else super().find(parent_id)
        if parent is None:
            return None
        subs = parent.folded_sub_jobs()
        return next((parent.sub_job_item(s) for s in subs if s.job_id == sub_id), None)
