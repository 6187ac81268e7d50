"""Cloud Backup, how backup points are found: the ordered indexes of the points repository
and the small lookups beside it (a job's points, a snapshot-consistent group's point, an
instance's period marks). Split from :mod:`.points`, which re-exports every name.
"""

from __future__ import annotations

import datetime as _dt

from ..._domain.hbr_points import BackupPoint, PointSourceType
from ..._repository import OrderedIndex, RepositorySpec
from ..._store import raw_kind

__all__ = [
    "POINTS_DUE",
    "DISK_POINT_PARENT",
    "PERIOD_MARKS",
    "POINTS",
    "POINTS_BY_TIME",
    "POINTS_OF_DISK",
    "POINTS_OF_GROUP",
    "POINTS_OF_INSTANCE",
    "POINTS_OF_JOB",
    "POINT_OF_GROUP",
    "POINT_OF_JOB",
    "time_key",
]

_EPOCH = _dt.datetime(1, 1, 1, tzinfo=_dt.timezone.utc)


def time_key(instant: _dt.datetime, *, after: bool = False) -> str:
    """A sort key of an instant: microseconds since year 1, 20 digits; ``after``: the key of
    the next microsecond (an exclusive stop that exists even for ``datetime.max``)."""
    return f"{(instant - _EPOCH) // _dt.timedelta(microseconds=1) + after:020d}"


def _disk_of(point: BackupPoint) -> str:
    return point.disk_id_list[0] if point.source_type is PointSourceType.UDM_ECS_DISK else ""


POINTS_BY_TIME: OrderedIndex[BackupPoint] = OrderedIndex(
    "hbr.points_by_time",
    lambda p: time_key(p.created_time),
    ("SourceType",),
    lambda p: (p.source_type.value,),
)
"""A region's points of each source type by creation time."""
POINTS_OF_INSTANCE: OrderedIndex[BackupPoint] = OrderedIndex(
    "hbr.points_of_instance",
    lambda p: time_key(p.created_time),
    ("SourceType", "InstanceId"),
    lambda p: (p.source_type.value, p.instance_id),
    counted=False,
)
"""An instance's points of each source type by creation time (its latest is one read)."""
POINTS_OF_DISK: OrderedIndex[BackupPoint] = OrderedIndex(
    "hbr.points_of_disk",
    lambda p: time_key(p.created_time),
    ("SourceType", "DiskId"),
    lambda p: (p.source_type.value, _disk_of(p)),
    counted=False,
)
"""A disk's ``UDM_ECS_DISK`` points by creation time."""
POINT_OF_JOB = raw_kind("hbr.point_of_job")
"""partition = region, key = backup job id, value = the ids of the points the job made (its
``UDM_ECS`` point first, then its disk points), joined by ``,``: one partition per region, an
untracked string per job (the entry goes with the job's last point)."""
POINT_OF_GROUP = raw_kind("hbr.point_of_group")
"""partition = region, key = ECS snapshot-consistent group id, value = the ``UDM_ECS`` point
made with it: one partition per region."""
POINTS_OF_JOB = "hbr.points_of_job"
"""A world stored before :data:`POINT_OF_JOB`: partition = backup job id, key = each point it
made. Read when :data:`POINT_OF_JOB` has no entry for the job, emptied as its points go, never
written (so not declared with ``raw_kind``: a new world does not hold it)."""
POINTS_OF_GROUP = "hbr.points_of_group"
"""A world stored before :data:`POINT_OF_GROUP`: partition = snapshot-consistent group id, key
= the instance point made with it. Read when :data:`POINT_OF_GROUP` has no entry, emptied as
its point goes, never written."""
POINTS = RepositorySpec(
    BackupPoint,
    lambda p: p.snapshot_id,
    "ResourceNotFound",
    "backup point",
    (),
    (POINTS_BY_TIME, POINTS_OF_INSTANCE, POINTS_OF_DISK),
)

PERIOD_MARKS = raw_kind("hbr.period_marks")
"""partition = region, key = instance id, value = JSON ``{period kind: latest period that has
its first point}``: how a new point knows it is the first of its day/week/month/year."""
DISK_POINT_PARENT = raw_kind("hbr.disk_point_parent")
"""partition = region, key = the id of a ``UDM_ECS_DISK`` point folded into its instance
point (no record of its own), value = that ``UDM_ECS`` point's id: how a folded disk point is
found by id. A disk point stored whole (extended alone, or stored before disk points were
folded) has no entry. The ordered indexes list a folded disk point exactly as a stored one
(its own entry, its own id), so a describe by disk or by time reads the same slices."""
POINTS_DUE = raw_kind("hbr.points_due")
"""partition = region, key = :func:`time_key` of an expiry instant, ``NUL`` and a point id,
value = the point id: the points (instance points, and disk points stored whole with a
retention of their own) whose retention runs out at that instant. One timer per instant
(target = the instant's key) expires them all: a daily policy's points of one day share one."""
