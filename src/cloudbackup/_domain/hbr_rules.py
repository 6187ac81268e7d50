"""The rules of a Cloud Backup policy's ``Rules`` list (facts §4), as pure checks.

:func:`checked_rules` takes what a caller passed to ``CreatePolicyV2``/``UpdatePolicyV2`` and
returns the normalized rules (exact builtin values, enums, defaults, rule ids) or raises the
typed error with the real code: ``BadRequest`` for a malformed rule (HBR's code for a bad
request), ``ArchiveDaysTooShort`` / ``ArchiveRetentionDaysTooShort`` for the archive rules.
Nothing here touches storage: the service hands in the old policy (on update) and an id
factory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .. import _validate as v
from .._regions import REGIONS
from ..errors import InvalidParameterError, OperationDeniedError
from .hbr import (
    PERMANENT,
    AdvancedRetentionType,
    DataSourceFilter,
    Policy,
    PolicyType,
    RetentionRule,
    Rule,
    RuleType,
    TagFilter,
    TagOperator,
)
from .schedule import parse_schedule

__all__ = [
    "MAX_RETENTION_DAYS",
    "MAX_RETENTION_RULES",
    "MAX_RULES",
    "MIN_ARCHIVE_DAYS",
    "MIN_ARCHIVE_STAY_DAYS",
    "NO_DESTINATION_REGION",
    "PERMANENT_REFUSED",
    "checked_rules",
    "infer_policy_type",
]

MAX_RULES = 10
"""A policy holds 1–10 rules."""
MAX_RETENTION_DAYS = 364_635
"""``Retention``: 1–364,635 days (999 years of 365 days)."""
MAX_RETENTION_RULES = 99
"""A TRANSITION rule holds at most 99 special-retention rules."""
MIN_ARCHIVE_DAYS = 30
"""A backup stays at least 30 days in the standard tier before archiving."""
MIN_ARCHIVE_STAY_DAYS = 60
"""An archived backup stays at least 60 days in the archive tier (``Retention − ArchiveDays``)."""

PERMANENT_REFUSED = (
    "The policy contains permanent retention rules and cannot be applied to ECS instance backup."
)
"""The seed's troubleshooting message for a permanent retention on ECS instance backup."""
PERMANENT_RECOMMEND = (
    "The number of manual snapshots that can be retained on a disk is limited: change the "
    "retention period to a specified duration in the backup policy."
)
NO_DESTINATION_REGION = "No destination region is specified."
"""The seed's troubleshooting message for a REPLICATION rule without a region."""
NO_DESTINATION_RECOMMEND = (
    "If you do not need replication, remove the REPLICATION rule (turn off Replication to "
    "Other Region); otherwise set its replication_region_id to the destination region and save "
    "the policy, or create another policy that fits and bind that one."
)

# Which optional fields each rule type may carry (the others must be left unset).
_FIELDS: dict[RuleType, frozenset[str]] = {
    RuleType.BACKUP: frozenset(
        {"schedule", "backup_type", "retention", "keep_latest_snapshots", "vault_id"}
    ),
    RuleType.TRANSITION: frozenset(
        {"retention", "keep_latest_snapshots", "retention_rules", "archive_days"}
    ),
    RuleType.REPLICATION: frozenset({"retention", "replication_region_id"}),
    RuleType.SECURITY: frozenset({"immutable"}),
    RuleType.TAG: frozenset({"data_source_filters", "tag_filters"}),
}
_OPTIONAL = (
    "schedule",
    "backup_type",
    "retention",
    "keep_latest_snapshots",
    "vault_id",
    "retention_rules",
    "archive_days",
    "cold_archive_days",
    "replication_region_id",
    "immutable",
    "data_source_filters",
    "tag_filters",
)
_AT_MOST_ONE = (RuleType.TRANSITION, RuleType.REPLICATION, RuleType.SECURITY)


def _bad(message: str, recommend: str, ids: Sequence[str] = ()) -> InvalidParameterError:
    return InvalidParameterError(message, code="BadRequest", ids=ids, recommend=recommend)


def infer_policy_type(rules: Sequence[Rule]) -> PolicyType:
    """``STANDARD`` when a BACKUP rule names a vault, else ``UDM_ECS_ONLY`` (facts §4.1)."""
    if any(
        isinstance(r, Rule) and r.rule_type == RuleType.BACKUP and r.vault_id is not None
        for r in rules
    ):
        return PolicyType.STANDARD
    return PolicyType.UDM_ECS_ONLY


def _retention(where: str, value: object, *, required: bool) -> int | None:
    if value is None:
        if required:
            raise _bad(
                f"{where}.Retention is required.",
                f"Give {where} a retention of 1 to {MAX_RETENTION_DAYS:,} days.",
            )
        return None
    if value == PERMANENT and type(value) is int:
        return PERMANENT
    return v.integer(f"{where}.Retention", value, 1, MAX_RETENTION_DAYS, code="BadRequest")


def _special(where: str, items: object) -> tuple[RetentionRule, ...]:
    if isinstance(items, (str, bytes)) or not isinstance(items, (list, tuple)):
        raise _bad(f"{where}.RetentionRules must be a list.", "Pass a list of RetentionRule.")
    if len(items) > MAX_RETENTION_RULES:
        raise _bad(
            f"{where}.RetentionRules holds {len(items)} rules; at most "
            f"{MAX_RETENTION_RULES} are allowed.",
            f"Keep at most {MAX_RETENTION_RULES} special retention rules.",
        )
    out: list[RetentionRule] = []
    for n, item in enumerate(items):
        at = f"{where}.RetentionRules[{n}]"
        if not isinstance(item, RetentionRule):
            raise _bad(f"{at} is not a RetentionRule.", "Pass cloudbackup.RetentionRule items.")
        kind = v.enum_value(
            f"{at}.AdvancedRetentionType",
            item.advanced_retention_type,
            AdvancedRetentionType,
            code="BadRequest",
        )
        if isinstance(item.which_snapshot, bool) or item.which_snapshot != 1:
            raise _bad(
                f"{at}.WhichSnapshot={item.which_snapshot!r}: only 1 (the first backup of the "
                "period) is supported.",
                "Set which_snapshot=1.",
            )
        retention = _retention(at, item.retention, required=True)
        assert retention is not None
        if any(o.advanced_retention_type == kind for o in out):
            raise _bad(
                f"{at} repeats the special retention type {kind.value}.",
                "Give each of DAILY, WEEKLY, MONTHLY and YEARLY at most once.",
            )
        out.append(RetentionRule(kind, retention, 1))
    return tuple(out)


def _tag_filters(where: str, items: object) -> tuple[TagFilter, ...]:
    if isinstance(items, (str, bytes)) or not isinstance(items, (list, tuple)) or not items:
        raise _bad(
            f"{where}.TagFilters must be a non-empty list.",
            "Pass tag_filters=[TagFilter(key=..., value=..., operator='EQUAL')].",
        )
    if len(items) > 20:
        raise _bad(f"{where}.TagFilters holds {len(items)} filters.", "Use at most 20 filters.")
    out: list[TagFilter] = []
    for n, item in enumerate(items):
        at = f"{where}.TagFilters[{n}]"
        if not isinstance(item, TagFilter):
            raise _bad(f"{at} is not a TagFilter.", "Pass cloudbackup.TagFilter items.")
        key = v.text(f"{at}.Key", item.key, 1, 128, code="BadRequest")
        value = v.text(f"{at}.Value", item.value, 0, 128, code="BadRequest")
        operator = v.enum_value(f"{at}.Operator", item.operator, TagOperator, code="BadRequest")
        out.append(TagFilter(key, value, operator))
    return tuple(out)


def _data_source_filters(
    where: str, items: object, policy_type: PolicyType
) -> tuple[DataSourceFilter, ...]:
    if isinstance(items, (str, bytes)) or not isinstance(items, (list, tuple)):
        raise _bad(f"{where}.DataSourceFilters must be a list.", "Pass DataSourceFilter items.")
    if not items:
        items = (DataSourceFilter(),)
    for n, item in enumerate(items):
        at = f"{where}.DataSourceFilters[{n}]"
        if not isinstance(item, DataSourceFilter):
            raise _bad(f"{at} is not a DataSourceFilter.", "Pass DataSourceFilter items.")
        v.choice(f"{at}.SourceType", item.source_type, ("UDM_ECS",), code="BadRequest")
    if policy_type is not PolicyType.UDM_ECS_ONLY:
        raise _bad(
            f"{where}: a TAG rule for ECS instances (UDM_ECS) needs a UDM_ECS_ONLY policy.",
            "Create the tag rule in a policy without a vault (PolicyType UDM_ECS_ONLY).",
        )
    return (DataSourceFilter("UDM_ECS"),)


def _one_rule(
    n: int,
    rule: object,
    *,
    policy_type: PolicyType,
    region_id: str,
    update: bool,
) -> Rule:
    where = f"Rules[{n}]"
    if not isinstance(rule, Rule):
        raise _bad(f"{where} is not a Rule.", "Pass cloudbackup.Rule objects.")
    kind = v.enum_value(f"{where}.RuleType", rule.rule_type, RuleType, code="BadRequest")
    allowed = _FIELDS[kind] | (
        {"cold_archive_days"} if update and kind is RuleType.TRANSITION else set()
    )
    for name in _OPTIONAL:
        value = getattr(rule, name)
        if name not in allowed and value is not None and value != ():
            raise _bad(
                f"{where}: {name} does not apply to a {kind.value} rule.",
                f"Leave {name} unset on {kind.value} rules"
                + (
                    " (cold_archive_days is accepted only by update_policy_v2)."
                    if name == "cold_archive_days"
                    else "."
                ),
            )
    fields: dict[str, object] = {"rule_type": kind, "rule_id": rule.rule_id}
    if kind is RuleType.BACKUP:
        schedule = v.text(f"{where}.Schedule", rule.schedule, 1, 4096, code="BadRequest")
        fields["schedule"] = parse_schedule(schedule, parameter=f"{where}.Schedule").text
        allowed_types = (
            ("COMPLETE",)
            if policy_type is PolicyType.UDM_ECS_ONLY
            else (
                "COMPLETE",
                "INCREMENTAL",
            )
        )
        fields["backup_type"] = v.choice(
            f"{where}.BackupType", rule.backup_type or "COMPLETE", allowed_types, code="BadRequest"
        )
        fields["retention"] = _retention(where, rule.retention, required=False)
        fields["keep_latest_snapshots"] = v.integer(
            f"{where}.KeepLatestSnapshots", rule.keep_latest_snapshots or 0, 0, 1, code="BadRequest"
        )
        if rule.vault_id is not None:
            fields["vault_id"] = v.text(f"{where}.VaultId", rule.vault_id, 1, 64, code="BadRequest")
    elif kind is RuleType.TRANSITION:
        retention = _retention(where, rule.retention, required=True)
        fields["retention"] = retention
        fields["keep_latest_snapshots"] = v.integer(
            f"{where}.KeepLatestSnapshots", rule.keep_latest_snapshots or 0, 0, 1, code="BadRequest"
        )
        fields["retention_rules"] = _special(where, rule.retention_rules)
        if rule.archive_days is not None:
            days = v.integer(
                f"{where}.ArchiveDays", rule.archive_days, 0, MAX_RETENTION_DAYS, code="BadRequest"
            )
            if days < MIN_ARCHIVE_DAYS:
                raise InvalidParameterError(
                    f"{where}.ArchiveDays={days}: a backup must stay at least "
                    f"{MIN_ARCHIVE_DAYS} days in the standard tier before it is archived.",
                    code="ArchiveDaysTooShort",
                    recommend=f"Set archive_days to {MIN_ARCHIVE_DAYS} or more.",
                )
            assert retention is not None
            if retention != PERMANENT and retention - days < MIN_ARCHIVE_STAY_DAYS:
                raise InvalidParameterError(
                    f"{where}: Retention {retention} leaves {retention - days} days in the "
                    f"archive tier after ArchiveDays {days}; at least "
                    f"{MIN_ARCHIVE_STAY_DAYS} are required.",
                    code="ArchiveRetentionDaysTooShort",
                    recommend=f"Make retention at least archive_days + {MIN_ARCHIVE_STAY_DAYS}.",
                )
            fields["archive_days"] = days
        if rule.cold_archive_days is not None:
            cold = v.integer(
                f"{where}.ColdArchiveDays",
                rule.cold_archive_days,
                1,
                MAX_RETENTION_DAYS,
                code="BadRequest",
            )
            if fields.get("archive_days") is not None and cold <= fields["archive_days"]:  # type: ignore[operator]
                raise _bad(
                    f"{where}.ColdArchiveDays={cold} must come after ArchiveDays.",
                    "Set cold_archive_days above archive_days.",
                )
            fields["cold_archive_days"] = cold
    elif kind is RuleType.REPLICATION:
        destination = rule.replication_region_id
        if destination is None or destination == "":
            raise InvalidParameterError(
                NO_DESTINATION_REGION, code="BadRequest", recommend=NO_DESTINATION_RECOMMEND
            )
        destination = v.text(f"{where}.ReplicationRegionId", destination, 1, 64, code="BadRequest")
        if destination not in REGIONS or destination == region_id:
            raise _bad(
                f"{where}.ReplicationRegionId {destination!r} is not another region of the "
                "catalogue.",
                f"Replicate to a region other than {region_id}: one of "
                f"{', '.join(sorted(set(REGIONS) - {region_id}))}.",
                ids=(destination,),
            )
        fields["replication_region_id"] = destination
        fields["retention"] = _retention(where, rule.retention, required=True)
    elif kind is RuleType.SECURITY:
        fields["immutable"] = v.boolean(f"{where}.Immutable", rule.immutable, code="BadRequest")
        if policy_type is not PolicyType.UDM_ECS_ONLY:
            raise _bad(
                f"{where}: Immutable is valid only in UDM_ECS_ONLY policies.",
                "Put the SECURITY rule in a policy for ECS instances.",
            )
    else:
        fields["tag_filters"] = _tag_filters(where, rule.tag_filters)
        fields["data_source_filters"] = _data_source_filters(
            where, rule.data_source_filters, policy_type
        )
    return Rule(**fields)  # type: ignore[arg-type]


def checked_rules(
    rules: object,
    *,
    policy_type: PolicyType,
    region_id: str,
    new_rule_id: Callable[[], str],
    old: Policy | None = None,
) -> tuple[Rule, ...]:
    """The normalized rules of a policy, each with its ``rule_id``.

    Args:
        rules: What the caller passed (a list of :class:`Rule`).
        policy_type: The policy's type (given, inferred, or the old policy's).
        region_id: The policy's region (a REPLICATION rule must name another one).
        new_rule_id: Makes a ``rule-000…`` id, called only once every check has passed.
        old: On update, the policy as stored: a rule that names one of its rule ids keeps it;
            an immutable policy stays immutable.

    Raises:
        InvalidParameterError: ``BadRequest``, ``ArchiveDaysTooShort``,
            ``ArchiveRetentionDaysTooShort``.
        OperationDeniedError: an update would turn immutability off.
    """
    if isinstance(rules, (str, bytes)) or not isinstance(rules, (list, tuple)):
        raise _bad("Rules must be a list of Rule.", "Pass rules=[Rule(...), ...].")
    if not 1 <= len(rules) <= MAX_RULES:
        raise _bad(
            f"A policy holds 1 to {MAX_RULES} rules, not {len(rules)}.",
            f"Give 1 to {MAX_RULES} rules, at least one of them BACKUP.",
        )
    checked = [
        _one_rule(n, r, policy_type=policy_type, region_id=region_id, update=old is not None)
        for n, r in enumerate(rules)
    ]
    counts = {kind: sum(1 for r in checked if r.rule_type is kind) for kind in RuleType}
    if counts[RuleType.BACKUP] < 1:
        raise _bad("A policy needs at least one BACKUP rule.", "Add a BACKUP rule with a schedule.")
    for kind in _AT_MOST_ONE:
        if counts[kind] > 1:
            raise _bad(
                f"A policy holds at most one {kind.value} rule, not {counts[kind]}.",
                f"Merge the {kind.value} rules into one.",
            )
    if not any(r.retention is not None for r in checked if r.rule_type is not RuleType.REPLICATION):
        raise _bad(
            "No rule says how long backups are kept.",
            "Give the BACKUP rule (or a TRANSITION rule) a retention in days.",
        )
    if policy_type is PolicyType.UDM_ECS_ONLY and any(
        r.retention == PERMANENT or any(s.retention == PERMANENT for s in r.retention_rules)
        for r in checked
    ):
        raise InvalidParameterError(
            PERMANENT_REFUSED, code="BadRequest", recommend=PERMANENT_RECOMMEND
        )
    if policy_type is PolicyType.UDM_ECS_ONLY and any(r.vault_id is not None for r in checked):
        raise _bad(
            "A UDM_ECS_ONLY policy backs up ECS instances to snapshots and names no vault.",
            "Drop vault_id, or create a STANDARD policy.",
        )
    # Rule ids: kept when they name a rule of the old policy of the same type, once each.
    known = {} if old is None else {r.rule_id: r for r in old.rules}
    used: set[str] = set()
    for n, rule in enumerate(checked):
        if rule.rule_id is None:
            continue
        rule_id = v.text(f"Rules[{n}].RuleId", rule.rule_id, 1, 64, code="BadRequest")
        previous = known.get(rule_id)
        if previous is None or previous.rule_type is not rule.rule_type or rule_id in used:
            raise _bad(
                f"Rules[{n}].RuleId {rule_id} is not a {RuleType(rule.rule_type).value} rule of "
                + (
                    "this policy."
                    if old is not None
                    else "a policy (ids are given by the service)."
                ),
                "Leave rule_id unset for a new rule; to keep a rule, pass the id "
                "describe_policies_v2 shows for it, once.",
                ids=(rule_id,),
            )
        used.add(rule_id)
        checked[n] = Rule(**{**_as_dict(rule), "rule_id": rule_id})  # type: ignore[arg-type]
    if (
        old is not None
        and old.immutable
        and not any(r.rule_type is RuleType.SECURITY and r.immutable for r in checked)
    ):
        raise OperationDeniedError(
            f"Policy {old.policy_id} has immutable backup turned on; it can never be turned off.",
            code="OperationDenied.ImmutableBackup",
            ids=(old.policy_id,),
            recommend="Keep the SECURITY rule with immutable=True; backup points made under it "
            "stay undeletable until they expire.",
        )
    return tuple(
        r if r.rule_id is not None else Rule(**{**_as_dict(r), "rule_id": new_rule_id()})  # type: ignore[arg-type]
        for r in checked
    )


def _as_dict(rule: Rule) -> dict[str, object]:
    return {name: getattr(rule, name) for name in ("rule_type", "rule_id", *_OPTIONAL)}
