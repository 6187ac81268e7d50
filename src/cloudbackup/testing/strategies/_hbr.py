"""Strategies for Cloud Backup: policy rules, whole rule lists, tag filters, binding requests,
and rule lists that break exactly one rule."""

from __future__ import annotations

import attrs
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ..._domain.hbr import (
    PERMANENT,
    AdvancedOptions,
    AdvancedRetentionType,
    PolicyBindingRequest,
    RetentionRule,
    Rule,
    TagFilter,
    TagOperator,
    UdmDetail,
)
from ..._domain.hbr_jobs import BackupJobFilter, JobStatus
from ..._domain.hbr_rules import (
    MAX_RETENTION_DAYS,
    MAX_RULES,
    MIN_ARCHIVE_DAYS,
    MIN_ARCHIVE_STAY_DAYS,
)
from ..._regions import REGIONS
from ._common import _bounded

__all__ = [
    "backup_job_filters",
    "backup_rules",
    "binding_requests",
    "invalid_policy_rule_lists",
    "policy_rule_lists",
    "policy_schedules",
    "retention_rules",
    "tag_filters",
]

# 2023-11-14T22:13:20Z; schedules start around it so that they are valid and in the past or
# future of the default clock alike.
_START = 1_700_000_000


def _region(region_id: object) -> str:
    if not isinstance(region_id, str) or region_id not in REGIONS:
        raise InvalidArgument(f"region_id={region_id!r} is not a region of the catalogue.")
    return region_id


def policy_schedules() -> st.SearchStrategy[str]:
    """Valid BACKUP schedules: ``I|{start}|{duration}`` with day, hour, week or month
    intervals, and ``C|{start}|{Quartz cron}`` with daily and weekly crons."""
    starts = st.integers(0, 2 * _START)
    durations = st.sampled_from(["P1D", "PT1H", "PT12H", "P7D", "P1W", "P1M", "P2D"])
    crons = st.sampled_from(
        ["0 0 2 ? * 3,5,7", "0 30 1 * * ?", "0 0 0 ? * 1", "0 0 12 1 * ?", "0 15 10 ? * MON-FRI"]
    )
    return st.one_of(
        st.builds(lambda s, d: f"I|{s}|{d}", starts, durations),
        st.builds(lambda s, c: f"C|{s}|{c}", starts, crons),
    )


def _retentions() -> st.SearchStrategy[int]:
    return st.integers(1, MAX_RETENTION_DAYS)


def backup_rules() -> st.SearchStrategy[Rule]:
    """Valid BACKUP rules of an ECS instance policy (schedule, retention, keep-latest)."""
    return st.builds(
        Rule,
        rule_type=st.just("BACKUP"),
        schedule=policy_schedules(),
        backup_type=st.sampled_from([None, "COMPLETE"]),
        retention=_retentions(),
        keep_latest_snapshots=st.sampled_from([None, 0, 1]),
    )


def retention_rules(*, max_size: int = 4) -> st.SearchStrategy[tuple[RetentionRule, ...]]:
    """Valid special retention: each of ``DAILY``/``WEEKLY``/``MONTHLY``/``YEARLY`` at most
    once, ``which_snapshot=1``."""
    size = _bounded("retention_rules max_size", max_size, 0, 4)
    kinds = st.lists(st.sampled_from(list(AdvancedRetentionType)), unique=True, max_size=size)
    return kinds.flatmap(
        lambda chosen: st.tuples(
            *(st.builds(RetentionRule, st.just(kind), _retentions()) for kind in chosen)
        )
    )


def _transition_rules() -> st.SearchStrategy[Rule]:
    def build(retention: int, specials: tuple[RetentionRule, ...], archive: int | None) -> Rule:
        if archive is not None and retention - archive < MIN_ARCHIVE_STAY_DAYS:
            archive = None
        return Rule(
            "TRANSITION", retention=retention, retention_rules=specials, archive_days=archive
        )

    return st.builds(
        build,
        _retentions(),
        retention_rules(),
        st.none() | st.integers(MIN_ARCHIVE_DAYS, 1000),
    )


def tag_filters() -> st.SearchStrategy[TagFilter]:
    """Valid TAG rule filters: a key, a value (maybe empty), ``EQUAL`` or ``NOT``."""
    text = st.text(st.characters(codec="utf-8"), max_size=16)
    return st.builds(
        TagFilter,
        key=st.text(st.characters(codec="utf-8"), min_size=1, max_size=16),
        value=text,
        operator=st.sampled_from(list(TagOperator)),
    )


def policy_rule_lists(*, region_id: str = "cn-hangzhou") -> st.SearchStrategy[list[Rule]]:
    """Valid ``Rules`` of an ECS instance (``UDM_ECS_ONLY``) policy in ``region_id``: one
    BACKUP rule and maybe a TRANSITION, REPLICATION (to another region), SECURITY and TAG rule,
    in any order."""
    region = _region(region_id)
    others = sorted(set(REGIONS) - {region})
    optional = st.tuples(
        st.none() | _transition_rules(),
        st.none()
        | st.builds(
            Rule,
            rule_type=st.just("REPLICATION"),
            replication_region_id=st.sampled_from(others),
            retention=_retentions(),
        ),
        st.none() | st.builds(Rule, rule_type=st.just("SECURITY"), immutable=st.booleans()),
        st.none()
        | st.builds(
            Rule,
            rule_type=st.just("TAG"),
            tag_filters=st.lists(tag_filters(), min_size=1, max_size=3).map(tuple),
        ),
    )
    return st.tuples(backup_rules(), optional).flatmap(
        lambda pair: st.permutations([pair[0], *(r for r in pair[1] if r is not None)])
    )


def binding_requests(
    instance_ids: st.SearchStrategy[str],
) -> st.SearchStrategy[PolicyBindingRequest]:
    """Valid ``PolicyBindingList`` items for the instances ``instance_ids`` draws (protect
    all disks; crash-consistent; ``disabled`` as a bool or the wire's string)."""
    if not isinstance(instance_ids, st.SearchStrategy):
        raise InvalidArgument(f"instance_ids={instance_ids!r} must be a strategy.")
    options = st.none() | st.builds(
        AdvancedOptions,
        st.builds(
            UdmDetail,
            snapshot_group=st.booleans(),
            timeout_in_seconds=st.integers(1, 3600),
            enable_fs_freeze=st.booleans(),
            enable_writers=st.booleans(),
        ),
    )
    return st.builds(
        PolicyBindingRequest,
        data_source_id=instance_ids,
        disabled=st.sampled_from([False, True, "true", "false"]),
        policy_binding_description=st.none() | st.text(st.characters(codec="utf-8"), max_size=20),
        advanced_options=options,
    )


def invalid_policy_rule_lists(
    *, region_id: str = "cn-hangzhou"
) -> st.SearchStrategy[tuple[str, list[object]]]:
    """``(code, rules)``: a ``Rules`` list that ``create_policy_v2`` refuses with ``code``
    (``BadRequest``, ``ArchiveDaysTooShort`` or ``ArchiveRetentionDaysTooShort``)."""
    region = _region(region_id)
    backup = backup_rules()
    bad = "BadRequest"
    return st.one_of(
        st.just((bad, [])),
        st.lists(backup, min_size=MAX_RULES + 1, max_size=MAX_RULES + 2).map(lambda r: (bad, r)),
        st.just((bad, [Rule("TRANSITION", retention=30)])),
        backup.map(
            lambda b: (bad, [b, Rule("TRANSITION", retention=9), Rule("TRANSITION", retention=9)])
        ),
        backup.map(lambda b: (bad, [_evolve(b, retention=PERMANENT)])),
        backup.map(lambda b: (bad, [b, Rule("REPLICATION", retention=7)])),
        backup.map(
            lambda b: (bad, [b, Rule("REPLICATION", replication_region_id=region, retention=7)])
        ),
        st.builds(
            lambda b, n: (bad, [_evolve(b, retention=n)]),
            backup,
            st.integers(-(10**6), 0).filter(lambda n: n != PERMANENT)
            | st.integers(MAX_RETENTION_DAYS + 1, 10**9),
        ),
        backup.map(lambda b: (bad, [_evolve(b, retention=True)])),
        backup.map(lambda b: (bad, [_evolve(b, schedule="every day")])),
        backup.map(lambda b: (bad, [_evolve(b, archive_days=30)])),
        st.builds(
            lambda b, n: (
                "ArchiveDaysTooShort",
                [b, Rule("TRANSITION", retention=400, archive_days=n)],
            ),
            backup,
            st.integers(0, MIN_ARCHIVE_DAYS - 1),
        ),
        st.builds(
            lambda b, n: (
                "ArchiveRetentionDaysTooShort",
                [b, Rule("TRANSITION", retention=n + MIN_ARCHIVE_STAY_DAYS - 1, archive_days=n)],
            ),
            backup,
            st.integers(MIN_ARCHIVE_DAYS, 1000),
        ),
        backup.map(
            lambda b: (
                bad,
                [
                    b,
                    Rule(
                        "TRANSITION", retention=9, retention_rules=(RetentionRule("WEEKLY", 9, 2),)
                    ),
                ],
            )
        ),
        backup.map(lambda b: (bad, [b, Rule("SECURITY", immutable="yes")])),  # type: ignore[arg-type]
        backup.map(lambda b: (bad, [b, Rule("TAG", tag_filters=())])),
        backup.map(lambda b: (bad, [b, "BACKUP"])),
    )


def _evolve(rule: Rule, **changes: object) -> Rule:
    return attrs.evolve(rule, **changes)  # type: ignore[arg-type]


_JOB_KEYS = ("RegionId", "PlanId", "JobId", "InstanceId", "Status", "CreatedTime",
             "CompleteTime", "BackupType", "ParentId", "VaultId")  # fmt: skip
_JOB_OPERATORS = ("EQUAL", "NOT_EQUAL", "GREATER_THAN", "GREATER_THAN_OR_EQUAL", "LESS_THAN",
                  "LESS_THAN_OR_EQUAL", "BETWEEN", "IN")  # fmt: skip


def backup_job_filters(
    *, values: st.SearchStrategy[str] | None = None, max_size: int = 5
) -> st.SearchStrategy[list[BackupJobFilter]]:
    """Valid ``Filters`` for ``describe_backup_jobs2`` (0 to ``max_size`` ≤ 5 of them).

    ``values`` draws the ids compared (default: short strings); times are UNIX seconds around
    2024, statuses the job states. ``IN`` never goes with ``CompleteTime``.
    """
    size = _bounded("max_size", max_size, 0, 5)
    ids = (
        st.text("abcdefghijklmnopqrstuvwxyz0123456789-", max_size=24) if values is None else values
    )
    times = st.integers(1_700_000_000, 1_720_000_000).map(str)
    statuses = st.sampled_from([s.value for s in JobStatus])

    def one(key: str, operator: str) -> st.SearchStrategy[BackupJobFilter]:
        drawn = (
            times
            if key in ("CreatedTime", "CompleteTime")
            else (statuses if key == "Status" else ids)
        )
        count = (2, 2) if operator == "BETWEEN" else (1, 5) if operator == "IN" else (1, 1)
        return st.lists(drawn, min_size=count[0], max_size=count[1]).map(
            lambda vs: BackupJobFilter(key, tuple(vs), operator)
        )

    pairs = st.tuples(st.sampled_from(_JOB_KEYS), st.sampled_from(_JOB_OPERATORS)).filter(
        lambda kv: not (kv[0] == "CompleteTime" and kv[1] == "IN")
    )
    return st.lists(pairs.flatmap(lambda kv: one(*kv)), max_size=size)
