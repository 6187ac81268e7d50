"""Cloud Backup (HBR) domain: policies, their rules, policy bindings and the account's service
state, for ECS instance backup (source type ``UDM_ECS``).

Field names follow the real API's fields in snake_case (``PolicyBindingList[].DataSourceId`` is
``data_source_id``), enum values are the real ones. The same attrs classes are what a caller
passes in (a :class:`Rule`, a :class:`PolicyBindingRequest`) and what a describe returns: the
service validates what comes in, fills in ids and defaults, and stores the normalized value.
Records are frozen; services change them with :func:`attrs.evolve`.

How the wire's JSON strings map: ``CreatePolicyV2``'s ``Rules`` string is a JSON list of rule
objects with PascalCase keys (``RuleType``, ``Schedule``, ``RetentionRules``…); here it is a
sequence of :class:`Rule`, each key in snake_case (``rule_type``, ``schedule``,
``retention_rules``), nested lists as tuples of :class:`RetentionRule` / :class:`TagFilter` /
:class:`DataSourceFilter`. ``CreatePolicyBindings``' ``PolicyBindingList`` is a sequence of
:class:`PolicyBindingRequest`; its ``AdvancedOptions.UdmDetail`` is
``AdvancedOptions(udm_detail=UdmDetail(...))``.
"""

from __future__ import annotations

import datetime as _dt
import enum
from typing import ClassVar

import attrs

from .._events import Event
from .._typenames import stored_as

__all__ = [
    "PERMANENT",
    "AdvancedOptions",
    "AdvancedRetentionType",
    "BindingFilter",
    "DataSourceFilter",
    "HbrAccount",
    "HbrServiceOpened",
    "Policy",
    "PolicyBinding",
    "PolicyBindingCreated",
    "PolicyBindingDeleted",
    "PolicyBindingRequest",
    "PolicyBindingUpdated",
    "PolicyCreated",
    "PolicyDeleted",
    "PolicyType",
    "PolicyUpdated",
    "RetentionRule",
    "Rule",
    "RuleType",
    "ServiceLinkedRoleCreated",
    "SnapshotServiceActivated",
    "TagFilter",
    "TagOperator",
    "UdmDetail",
]

PERMANENT = -1
"""``Retention`` of a rule kept forever (the console's permanent retention). The API documents
no encoding for it; ``-1`` is what ECS uses for "forever" in automatic snapshot policies. A
policy that holds it cannot be applied to ECS instance backup (the seed's troubleshooting)."""


@stored_as("hbr.RuleType")
class RuleType(str, enum.Enum):
    """``RuleType`` of a policy rule."""

    BACKUP = "BACKUP"
    """When to back up (``Schedule``), with the base ``Retention``."""
    TRANSITION = "TRANSITION"
    """Lifecycle: ``Retention``, special retention (``RetentionRules``), archiving."""
    REPLICATION = "REPLICATION"
    """Copy backups to ``ReplicationRegionId``, kept there for its own ``Retention``."""
    SECURITY = "SECURITY"
    """``Immutable``: backup points cannot be deleted before they expire."""
    TAG = "TAG"
    """Bind every ECS instance whose tags match ``TagFilters``, now and later."""


@stored_as("hbr.PolicyType")
class PolicyType(str, enum.Enum):
    """``PolicyType``: inferred at creation when not given, fixed afterwards."""

    STANDARD = "STANDARD"
    """Every source type except ECS instances (its BACKUP rules name a ``VaultId``)."""
    UDM_ECS_ONLY = "UDM_ECS_ONLY"
    """ECS instance backup only (no vault)."""


@stored_as("hbr.AdvancedRetentionType")
class AdvancedRetentionType(str, enum.Enum):
    """``RetentionRules[].AdvancedRetentionType``: which first-of-period backup it keeps."""

    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"
    YEARLY = "YEARLY"


@stored_as("hbr.TagOperator")
class TagOperator(str, enum.Enum):
    """``TagFilters[].Operator``."""

    EQUAL = "EQUAL"
    """The instance has the key, with this value (or any value when ``Value`` is empty)."""
    NOT = "NOT"
    """The instance has the key with another value."""


@stored_as("hbr.RetentionRule")
@attrs.frozen
class RetentionRule:
    """One ``RetentionRules[]`` item of a TRANSITION rule (special retention)."""

    advanced_retention_type: AdvancedRetentionType | str
    """``DAILY``, ``WEEKLY``, ``MONTHLY`` or ``YEARLY``: keep the first backup of each
    day/week/month/year of the region's local time."""
    retention: int
    """``Retention``: days to keep such a backup, 1–364,635."""
    which_snapshot: int = 1
    """``WhichSnapshot``: only ``1`` (the first backup of the period) is supported."""


@stored_as("hbr.TagFilter")
@attrs.frozen
class TagFilter:
    """One ``TagFilters[]`` item of a TAG rule, and one ``HitTags[]`` item of a binding."""

    key: str
    """``Key``: the ECS instance tag key."""
    value: str = ""
    """``Value``; empty matches any value (with ``EQUAL``)."""
    operator: TagOperator | str = TagOperator.EQUAL
    """``Operator``: ``EQUAL`` or ``NOT``."""

    def matches(self, tags: tuple[tuple[str, str], ...]) -> bool:
        """Whether an instance with ``tags`` matches this filter."""
        for key, value in tags:
            if key == self.key:
                if self.operator == TagOperator.NOT:
                    return value != self.value
                return self.value == "" or value == self.value
        return False


@stored_as("hbr.DataSourceFilter")
@attrs.frozen
class DataSourceFilter:
    """One ``DataSourceFilters[]`` item of a TAG rule: which source type it binds."""

    source_type: str = "UDM_ECS"
    """``SourceType``: only ``UDM_ECS`` (ECS instances) in this model."""


@stored_as("hbr.Rule")
@attrs.frozen
class Rule:
    """One ``Rules[]`` item of a policy, in the wire's fields (each applies to some types).

    Pass it to :meth:`~cloudbackup.HbrService.create_policy_v2`; the stored rule has its
    ``rule_id`` and defaults filled in.
    """

    rule_type: RuleType | str
    """``RuleType``: ``BACKUP``, ``TRANSITION``, ``REPLICATION``, ``SECURITY`` or ``TAG``."""
    rule_id: str | None = None
    """``RuleId`` (``rule-000…``): given by the service, so always set on the rules
    ``describe_policies_v2`` returns (``None`` only in a request, for a new rule); pass it on
    update to keep a rule."""
    schedule: str | None = None
    """BACKUP: ``I|{unix start}|{ISO 8601 duration}`` or ``C|{unix start}|{Quartz cron}``."""
    backup_type: str | None = None
    """BACKUP: ``COMPLETE`` (the default, and the only type for ECS instances)."""
    retention: int | None = None
    """BACKUP/TRANSITION/REPLICATION: days, 1–364,635 (:data:`PERMANENT` for ever)."""
    keep_latest_snapshots: int | None = None
    """BACKUP/TRANSITION: ``1`` never expires the latest backup point, ``0`` (default) may."""
    vault_id: str | None = None
    """BACKUP: a vault (``v-000…``); its presence makes the policy ``STANDARD``."""
    retention_rules: tuple[RetentionRule, ...] = ()
    """TRANSITION: special retention, at most 99."""
    archive_days: int | None = None
    """TRANSITION: days in the standard tier before archiving (at least 30, and the
    ``Retention`` at least 60 days beyond it)."""
    cold_archive_days: int | None = None
    """TRANSITION: days before the cold archive tier (``UpdatePolicyV2`` only)."""
    replication_region_id: str | None = None
    """REPLICATION: the destination region (another region of the catalogue)."""
    immutable: bool | None = None
    """SECURITY: backup lock; once true it can never be turned off."""
    data_source_filters: tuple[DataSourceFilter, ...] = ()
    """TAG: which source types the rule binds (``UDM_ECS``)."""
    tag_filters: tuple[TagFilter, ...] = ()
    """TAG: the instance tags to match (every filter must match)."""


@stored_as("hbr.Policy")
@attrs.frozen
class Policy:
    """A backup policy (``DescribePoliciesV2`` item)."""

    KIND: ClassVar[str] = "hbr.policy"

    policy_id: str
    """``po-000…``."""
    region_id: str
    policy_type: PolicyType
    rules: tuple[Rule, ...]
    created_time: _dt.datetime
    updated_time: _dt.datetime
    policy_name: str | None = None
    policy_description: str | None = None
    policy_binding_count: int = 0
    """``PolicyBindingCount``: data sources bound to it."""

    def rules_of(self, rule_type: RuleType | str) -> tuple[Rule, ...]:
        """The rules of one type (a :class:`RuleType` or its wire string, as ``Rule`` takes),
        in order; an unknown type has none."""
        return tuple(r for r in self.rules if r.rule_type == rule_type)

    @property
    def immutable(self) -> bool:
        """Whether a SECURITY rule locks its backup points."""
        return any(r.immutable for r in self.rules_of(RuleType.SECURITY))

    @property
    def replication_region_id(self) -> str | None:
        """The destination region of its REPLICATION rule, if it has one."""
        found = self.rules_of(RuleType.REPLICATION)
        return found[0].replication_region_id if found else None

    @property
    def has_permanent_retention(self) -> bool:
        """Whether any rule keeps backups for ever."""
        return any(
            r.retention == PERMANENT or any(s.retention == PERMANENT for s in r.retention_rules)
            for r in self.rules
        )


@stored_as("hbr.UdmDetail")
@attrs.frozen
class UdmDetail:
    """``AdvancedOptions.UdmDetail``: how an ECS instance is backed up."""

    disk_id_list: tuple[str, ...] = ()
    """``DiskIdList``: the disks to protect; empty protects every disk, also those attached
    later (the console's Protect All Disks)."""
    exclude_disk_id_list: tuple[str, ...] = ()
    """``ExcludeDiskIdList``: disks to skip; ignored when ``disk_id_list`` names disks."""
    snapshot_group: bool = True
    """``SnapshotGroup``: one snapshot-consistent group per backup when every disk is of the
    ESSD family (the console's default)."""
    app_consistent: bool = False
    """``AppConsistent``: application-consistent backup (one instance, ESSD disks only)."""
    ram_role_name: str | None = None
    """``RamRoleName``: required with ``app_consistent``."""
    pre_script_path: str | None = None
    """``PreScriptPath``: the pre-freeze script, required with ``app_consistent``."""
    post_script_path: str | None = None
    """``PostScriptPath``: the post-thaw script, required with ``app_consistent``."""
    enable_fs_freeze: bool = True
    """``EnableFsFreeze``: freeze file systems around the snapshot."""
    timeout_in_seconds: int = 30
    """``TimeoutInSeconds``: the longest I/O freeze, 1–3,600 s (only with ``app_consistent``)."""
    enable_writers: bool = True
    """``EnableWriters``: application-consistent (true) or file-system-consistent (false)."""
    destination_kms_key_id: str | None = None
    """``DestinationKmsKeyId``: the key of the REPLICATION rule's region that encrypts
    replicas; fixed once set."""


@stored_as("hbr.AdvancedOptions")
@attrs.frozen
class AdvancedOptions:
    """``AdvancedOptions`` of a binding: for ECS instances its ``UdmDetail``."""

    udm_detail: UdmDetail = attrs.field(factory=UdmDetail)
    """``UdmDetail``."""


@attrs.frozen
class PolicyBindingRequest:
    """One ``PolicyBindingList[]`` item of ``CreatePolicyBindings``."""

    data_source_id: str
    """``DataSourceId``: the ECS instance id (``i-…``) in the service's region."""
    source_type: str = "UDM_ECS"
    """``SourceType``: ``UDM_ECS``."""
    disabled: bool | str = False
    """``Disabled``: bind suspended. The wire sends the string ``"true"``/``"false"`` here
    (unlike ``UpdatePolicyBinding``'s boolean); both are accepted."""
    policy_binding_description: str | None = None
    """``PolicyBindingDescription``: free text, at most 255 characters."""
    advanced_options: AdvancedOptions | None = None
    """``AdvancedOptions``; ``None`` takes every default of :class:`UdmDetail`: all disks,
    ``snapshot_group=True`` (a snapshot-consistent group when every disk is ESSD), crash
    consistency. The binding described afterwards shows them all explicitly."""


@attrs.frozen
class BindingFilter:
    """One ``Filters[]`` item of ``DescribePolicyBindings``."""

    key: str
    """``Key``: ``PolicyId``, ``DataSourceId`` or ``DataSourceType``."""
    values: tuple[str, ...]
    """``Values``: 1–10 strings (``BETWEEN`` takes two: low and high)."""
    operator: str = "IN"
    """``Operator``: ``EQUAL``, ``NOT_EQUAL``, ``GREATER_THAN``, ``GREATER_THAN_OR_EQUAL``,
    ``LESS_THAN``, ``LESS_THAN_OR_EQUAL``, ``BETWEEN`` or ``IN`` (the default); strings
    compare in code-point order."""


@stored_as("hbr.PolicyBinding")
@attrs.frozen
class PolicyBinding:
    """A policy bound to an ECS instance (``DescribePolicyBindings`` item)."""

    KIND: ClassVar[str] = "hbr.policy_binding"

    policy_binding_id: str
    """``pd-000…``."""
    policy_id: str
    region_id: str
    data_source_id: str
    """The ECS instance id."""
    created_time: _dt.datetime
    updated_time: _dt.datetime
    source_type: str = "UDM_ECS"
    disabled: bool = False
    """``Disabled``: suspended (scheduled runs are skipped: "The backup plan has been
    suspended.")."""
    policy_binding_description: str | None = None
    advanced_options: AdvancedOptions = attrs.field(factory=AdvancedOptions)
    created_by_tag: bool = False
    """``CreatedByTag``: bound by a TAG rule of the policy."""
    hit_tags: tuple[TagFilter, ...] = ()
    """``HitTags``: the tag filters that matched, for a binding made by a TAG rule."""

    @property
    def udm_detail(self) -> UdmDetail:
        """``AdvancedOptions.UdmDetail``."""
        return self.advanced_options.udm_detail


@stored_as("hbr.HbrAccount")
@attrs.frozen
class HbrAccount:
    """Cloud Backup's state for the account (activation is per account, not per region, as
    the real ``OpenHbrService`` and service-linked roles are)."""

    KIND: ClassVar[str] = "hbr.account"

    order_id: str | None = None
    """``OrderId`` of ``OpenHbrService``; ``None`` until the service is opened."""
    opened_time: _dt.datetime | None = None
    roles: tuple[str, ...] = ()
    """Service-linked roles created, e.g. ``AliyunServiceRoleForHbrEcsBackup``."""
    snapshot_service_activated_time: _dt.datetime | None = None
    """When Cloud Backup activated the ECS snapshot service for the account."""

    @property
    def opened(self) -> bool:
        """Whether ``OpenHbrService`` has been called."""
        return self.order_id is not None


@stored_as("events.HbrServiceOpened")
@attrs.frozen(kw_only=True)
class HbrServiceOpened(Event):
    """Cloud Backup was activated for the account (``OpenHbrService``)."""

    order_id: str


@stored_as("events.ServiceLinkedRoleCreated")
@attrs.frozen(kw_only=True)
class ServiceLinkedRoleCreated(Event):
    """A service-linked role was created (the first binding of an ECS instance)."""

    role_name: str


@stored_as("events.SnapshotServiceActivated")
@attrs.frozen(kw_only=True)
class SnapshotServiceActivated(Event):
    """Cloud Backup activated the ECS snapshot service for the account."""


@stored_as("events.PolicyCreated")
@attrs.frozen(kw_only=True)
class PolicyCreated(Event):
    """A backup policy was created (``CreatePolicyV2``)."""

    policy_id: str


@stored_as("events.PolicyUpdated")
@attrs.frozen(kw_only=True)
class PolicyUpdated(Event):
    """A backup policy's rules, name or description changed (``UpdatePolicyV2``)."""

    policy_id: str


@stored_as("events.PolicyDeleted")
@attrs.frozen(kw_only=True)
class PolicyDeleted(Event):
    """A backup policy was deleted, and every binding with it (``DeletePolicyV2``)."""

    policy_id: str


@stored_as("events.PolicyBindingCreated")
@attrs.frozen(kw_only=True)
class PolicyBindingCreated(Event):
    """An ECS instance was bound to a policy (by a call, or by a TAG rule)."""

    policy_binding_id: str
    policy_id: str
    data_source_id: str
    created_by_tag: bool


@stored_as("events.PolicyBindingUpdated")
@attrs.frozen(kw_only=True)
class PolicyBindingUpdated(Event):
    """A binding was suspended, resumed or given other options (``UpdatePolicyBinding``)."""

    policy_binding_id: str
    policy_id: str
    data_source_id: str


@stored_as("events.PolicyBindingDeleted")
@attrs.frozen(kw_only=True)
class PolicyBindingDeleted(Event):
    """A binding was removed (a call, Stop Backup, a deleted policy, or tags that no longer
    match)."""

    policy_binding_id: str
    policy_id: str
    data_source_id: str
