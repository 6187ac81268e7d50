"""Cloud Backup, the ``Filters`` of DescribeBackupJobs2: which keys and operators it takes,
how they are checked, and each job's value of a key.

A helper module of the jobs layer (``jobs.py``), with no layer of its own.
"""

from __future__ import annotations

import datetime as _dt

from ... import _validate as v
from ..._domain.hbr_jobs import BackupJob, BackupJobFilter
from ...errors import InvalidParameterError

__all__ = [
    "JOB_FILTER_KEYS",
    "JOB_FILTER_OPERATORS",
    "MAX_FILTER_VALUES",
    "MAX_JOB_FILTERS",
    "job_field",
    "job_filters",
]

MAX_JOB_FILTERS = 5
MAX_FILTER_VALUES = 500
JOB_FILTER_KEYS = (
    "RegionId", "PlanId", "JobId", "VaultId", "InstanceId", "Bucket", "FileSystemId",
    "Status", "CreatedTime", "CompleteTime", "InstanceName", "BackupType", "ParentId",
)  # fmt: skip
JOB_FILTER_OPERATORS = (
    "EQUAL", "NOT_EQUAL", "GREATER_THAN", "GREATER_THAN_OR_EQUAL", "LESS_THAN",
    "LESS_THAN_OR_EQUAL", "BETWEEN", "IN",
)  # fmt: skip

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


_TIME_KEYS = ("CreatedTime", "CompleteTime")


def _unix(at: _dt.datetime | None) -> str:
    """A time as the filters compare it: UNIX seconds, zero-padded (``""`` when unset)."""
    return "" if at is None else f"{int((at - _EPOCH).total_seconds()):012d}"


def job_field(job: BackupJob, key: str) -> str | None:
    """The job's value of a filter key (``None``: no ECS job has it: never matches)."""
    values: dict[str, str | None] = {
        "RegionId": job.region_id,
        "PlanId": job.plan_id,  # a manual job has no PlanId: no PlanId filter matches it
        "JobId": job.job_id,
        "InstanceId": job.instance_id,
        "Status": job.status.value,
        "CreatedTime": _unix(job.created_time),
        "CompleteTime": None if job.complete_time is None else _unix(job.complete_time),
        "BackupType": job.backup_type,
        "ParentId": job.parent_id or "",
    }
    return values.get(key)


def job_filters(filters: object) -> list[tuple[str, str, tuple[str, ...]]]:
    """``DescribeBackupJobs2``'s ``Filters`` checked: ``(key, operator, values)`` each, times
    as zero-padded UNIX seconds (``BadRequest`` for what the real API refuses)."""
    if filters is None:
        return []
    if isinstance(filters, (str, bytes)) or not isinstance(filters, (list, tuple)):
        raise _bad("Filters must be a list of BackupJobFilter.", "Pass filters=[...].")
    if len(filters) > MAX_JOB_FILTERS:
        raise _bad(
            f"{len(filters)} filters given; at most {MAX_JOB_FILTERS}.",
            f"Use at most {MAX_JOB_FILTERS} filters.",
        )
    out = []
    for n, item in enumerate(filters):
        if not isinstance(item, BackupJobFilter):
            raise _bad(f"Filters[{n}] is not a BackupJobFilter.", "Pass BackupJobFilter items.")
        key = v.choice(f"Filters[{n}].Key", item.key, JOB_FILTER_KEYS, code="BadRequest")
        op = v.choice(
            f"Filters[{n}].Operator", item.operator, JOB_FILTER_OPERATORS, code="BadRequest"
        )
        if op == "IN" and key == "CompleteTime":
            raise _bad(
                "The IN operator cannot be used with CompleteTime.",
                "Filter CompleteTime with EQUAL, BETWEEN or a comparison.",
            )
        values = item.values
        if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
            raise _bad(f"Filters[{n}].Values must be a list.", "Pass values=[...].")
        need = (2, 2) if op == "BETWEEN" else (1, MAX_FILTER_VALUES) if op == "IN" else (1, 1)
        if not need[0] <= len(values) <= need[1]:
            raise _bad(
                f"Filters[{n}] with {op} takes {need[0]}"
                + ("" if need[0] == need[1] else f" to {need[1]}")
                + f" values, not {len(values)}.",
                f"BETWEEN takes [low, high], IN 1 to {MAX_FILTER_VALUES} values, the others one.",
            )
        texts = tuple(v.text(f"Filters[{n}].Values", x, 0, 256, code="BadRequest") for x in values)
        if key in _TIME_KEYS:
            texts = tuple(_unix_value(f"Filters[{n}].Values", t) for t in texts)
        out.append((key, op, texts))
    return out


def _unix_value(name: str, text: str) -> str:
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise InvalidParameterError(
            f"{name} {text!r} is not a time in UNIX seconds.",
            code="BadRequest",
            recommend="Give times as UNIX seconds, e.g. '1700000000'.",
        )
    return f"{int(text):012d}"


def _bad(message: str, recommend: str) -> InvalidParameterError:
    return InvalidParameterError(message, code="BadRequest", recommend=recommend)
