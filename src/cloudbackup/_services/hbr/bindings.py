"""Cloud Backup, policy bindings ("Add ECS Backup"): CreatePolicyBindings, UpdatePolicyBinding,
DeletePolicyBinding, DescribePolicyBindings, DeleteUdmEcsInstance (Stop Backup), DeleteUdmDisk.

Part of the layered :class:`~cloudbackup.HbrService` (see ``_services/hbr/__init__.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from ... import _validate as v
from ..._domain.guest import RAM_ROLE_NAME, is_script_path
from ..._domain.hbr import (
    AdvancedOptions,
    BindingFilter,
    Policy,
    PolicyBinding,
    PolicyBindingCreated,
    PolicyBindingDeleted,
    PolicyBindingRequest,
    PolicyBindingUpdated,
    PolicyType,
    TagFilter,
    UdmDetail,
)
from ..._domain.hbr_rules import PERMANENT_RECOMMEND, PERMANENT_REFUSED
from ..._domain.requests import Page
from ..._regions import get_region
from ..._repository import ORDER_SEPARATOR
from ...errors import (
    DependencyViolationError,
    InvalidParameterError,
    OperationDeniedError,
    ResourceNotFoundError,
    UnsupportedOperationError,
)
from .._base import consistent_read, unit_of_work
from .._interfaces import KEY_RING, BackupInstance
from ..ecs._requests import keyset_page, token_page
from ._core import BINDINGS_BY_POLICY, policy_range
from .account import AccountActions

__all__ = [
    "BINDING_FILTER_KEYS",
    "BINDING_FILTER_OPERATORS",
    "MAX_BINDINGS_PER_CALL",
    "BindingActions",
]

MAX_BINDINGS_PER_CALL = 99
"""Instances one ``CreatePolicyBindings`` call binds (the console's 99 at a time)."""
MAX_DESCRIPTION = 255
"""``PolicyBindingDescription``: at most 255 characters (this model's bound)."""
MAX_TIMEOUT_SECONDS = 3600
"""``TimeoutInSeconds``: 1–3,600 s in this model (the API documents only the default, 30)."""
BINDING_FILTER_KEYS = ("PolicyId", "DataSourceId", "DataSourceType")
BINDING_FILTER_OPERATORS = (
    "EQUAL",
    "NOT_EQUAL",
    "GREATER_THAN",
    "GREATER_THAN_OR_EQUAL",
    "LESS_THAN",
    "LESS_THAN_OR_EQUAL",
    "BETWEEN",
    "IN",
)

FILTER_TESTS: dict[str, Callable[[str, tuple[str, ...]], bool]] = {
    "EQUAL": lambda x, vs: x == vs[0],
    "NOT_EQUAL": lambda x, vs: x != vs[0],
    "GREATER_THAN": lambda x, vs: x > vs[0],
    "GREATER_THAN_OR_EQUAL": lambda x, vs: x >= vs[0],
    "LESS_THAN": lambda x, vs: x < vs[0],
    "LESS_THAN_OR_EQUAL": lambda x, vs: x <= vs[0],
    "BETWEEN": lambda x, vs: vs[0] <= x <= vs[1],
    "IN": lambda x, vs: x in vs,
}
"""What each filter operator of the real describe actions (``DescribePolicyBindings``,
``DescribeBackupJobs2``) means for a field's wire string and the filter's values."""


def _field(binding: PolicyBinding, key: str) -> str:
    if key == "PolicyId":
        return binding.policy_id
    if key == "DataSourceId":
        return binding.data_source_id
    return binding.source_type


def _sort_key(binding: PolicyBinding) -> tuple[str, str, str]:
    return (binding.policy_id, binding.data_source_id, binding.policy_binding_id)


class BindingActions(AccountActions):
    """CreatePolicyBindings, UpdatePolicyBinding, DeletePolicyBinding, DescribePolicyBindings,
    DeleteUdmEcsInstance, DeleteUdmDisk."""

    # -- checks -----------------------------------------------------------------------
    def _require_bindable(self, policy: Policy) -> None:
        """A policy can protect ECS instances only if it is ``UDM_ECS_ONLY`` and keeps
        nothing for ever."""
        if policy.has_permanent_retention:
            raise InvalidParameterError(
                PERMANENT_REFUSED,
                code="BadRequest",
                ids=(policy.policy_id,),
                recommend=PERMANENT_RECOMMEND,
            )
        if policy.policy_type is not PolicyType.UDM_ECS_ONLY:
            raise self._bad(
                f"Policy {policy.policy_id} is a STANDARD policy; ECS instances (UDM_ECS) are "
                "protected by UDM_ECS_ONLY policies.",
                "Bind the instance to a policy without a vault (PolicyType UDM_ECS_ONLY).",
                (policy.policy_id,),
            )

    def _options(
        self,
        value: object,
        *,
        policy: Policy | None,
        instance: BackupInstance | None,
        batch: int,
        old: UdmDetail | None = None,
    ) -> AdvancedOptions:
        """Validated, normalized ``AdvancedOptions`` for one instance."""
        if value is None:
            detail = UdmDetail() if old is None else old
            return AdvancedOptions(detail)
        if not isinstance(value, AdvancedOptions) or not isinstance(value.udm_detail, UdmDetail):
            raise self._bad(
                "AdvancedOptions must be an AdvancedOptions holding a UdmDetail.",
                "Pass advanced_options=AdvancedOptions(udm_detail=UdmDetail(...)).",
            )
        d = value.udm_detail
        disk_ids = v.id_list("DiskIdList", d.disk_id_list, max_items=64, code="BadRequest")
        excluded = v.id_list(
            "ExcludeDiskIdList", d.exclude_disk_id_list, max_items=64, code="BadRequest"
        )
        if instance is not None:
            disks = {disk.disk_id: disk for disk in instance.disks}
            for disk_id in disk_ids:
                disk = disks.get(disk_id)
                if disk is None:
                    raise ResourceNotFoundError(
                        f"Disk {disk_id} is not attached to ECS instance {instance.instance_id}.",
                        code="InvalidDiskId.NotFound",
                        ids=(disk_id, instance.instance_id),
                        recommend="List only disks attached to the instance, or leave "
                        "disk_id_list empty to protect all of them.",
                    )
                if disk.local:
                    raise UnsupportedOperationError(
                        f"Disk {disk_id} is a local disk ({disk.category}); ECS instance backup "
                        "cannot back up local disks.",
                        code="DiskCategory.OperationNotSupported",
                        ids=(disk_id,),
                        recommend="Protect data on local disks with ECS file backup or "
                        "database backup instead; leave the disk out of disk_id_list.",
                    )
        snapshot_group = v.boolean("SnapshotGroup", d.snapshot_group, code="BadRequest")
        app = v.boolean("AppConsistent", d.app_consistent, code="BadRequest")
        fs_freeze = v.boolean("EnableFsFreeze", d.enable_fs_freeze, code="BadRequest")
        writers = v.boolean("EnableWriters", d.enable_writers, code="BadRequest")
        timeout = v.integer(
            "TimeoutInSeconds", d.timeout_in_seconds, 1, MAX_TIMEOUT_SECONDS, code="BadRequest"
        )
        role = v.optional_text("RamRoleName", d.ram_role_name, 1, 64, code="BadRequest")
        pre = v.optional_text("PreScriptPath", d.pre_script_path, 1, 1024, code="BadRequest")
        post = v.optional_text("PostScriptPath", d.post_script_path, 1, 1024, code="BadRequest")
        if app:
            self._check_app_consistent(instance, disk_ids, excluded, batch, role, pre, post)
        key = self._destination_key(
            d.destination_kms_key_id, policy, None if old is None else old.destination_kms_key_id
        )
        return AdvancedOptions(
            UdmDetail(
                disk_ids, excluded, snapshot_group, app, role, pre, post, fs_freeze, timeout,
                writers, key,
            )
        )  # fmt: skip

    def _check_app_consistent(
        self,
        instance: BackupInstance | None,
        disk_ids: tuple[str, ...],
        excluded: tuple[str, ...],
        batch: int,
        role: str | None,
        pre: str | None,
        post: str | None,
    ) -> None:
        if batch != 1:
            raise self._bad(
                f"Application-consistent backup is available for a single ECS instance; this "
                f"call binds {batch}.",
                "Bind the instance that needs application consistency in a call of its own.",
            )
        missing = [n for n, x in (("RamRoleName", role), ("PreScriptPath", pre),
                                  ("PostScriptPath", post)) if x is None]  # fmt: skip
        if missing:
            raise self._bad(
                f"Application-consistent backup needs {', '.join(missing)}.",
                "Give ram_role_name (e.g. AliyunECSInstanceForHbrRole), pre_script_path and "
                "post_script_path.",
            )
        # The guest agent refuses what cannot name a role or a script: a binding holding such
        # values would make every job raise instead of downgrading, so refuse them here.
        if role is not None and not RAM_ROLE_NAME.fullmatch(role):
            raise self._bad(
                f"RamRoleName {role!r} is not a RAM role name (1-64 letters, digits, '.', '-').",
                "Give the name of the role attached to the instance, e.g. "
                "AliyunECSInstanceForHbrRole.",
            )
        os_type = "linux" if instance is None else instance.os_type
        example = "C:\\scripts\\pre.bat" if os_type == "windows" else "/tmp/prescript.sh"
        for name, path in (("PreScriptPath", pre), ("PostScriptPath", post)):
            if path is not None and not is_script_path(path, os_type):
                raise self._bad(
                    f"{name} {path!r} is not an absolute path on a {os_type} instance.",
                    f"Give the absolute path of the script on the instance, e.g. {example!r}.",
                )
        if instance is None:
            return
        chosen = [
            d
            for d in instance.disks
            if not d.local and (d.disk_id in disk_ids if disk_ids else d.disk_id not in excluded)
        ]
        plain = [d.disk_id for d in chosen if not d.essd]
        if plain:
            raise UnsupportedOperationError(
                f"Application-consistent backup needs ESSD disks; {', '.join(plain)} of "
                f"instance {instance.instance_id} are not.",
                code="DiskCategory.OperationNotSupported",
                ids=(instance.instance_id, *plain),
                recommend="Turn app_consistent off, or protect only ESSD-family disks.",
            )

    def _destination_key(self, value: object, policy: Policy | None, old: str | None) -> str | None:
        if value is None:
            return old  # once set, a key stays even when an update leaves it out
        if policy is None:
            raise self._bad(
                "DestinationKmsKeyId applies to a policy's REPLICATION rule; this backup has "
                "no policy.",
                "Leave destination_kms_key_id unset.",
            )
        key = v.text("DestinationKmsKeyId", value, 1, 128, code="BadRequest")
        if old is not None:
            if key == old:
                return old
            raise OperationDeniedError(
                f"The replication key {old} is set; it cannot be changed to {key}.",
                code="OperationDenied.KmsKeyImmutable",
                ids=(old, key),
                recommend="Keep destination_kms_key_id as it is (leave it out of the update).",
            )
        destination = policy.replication_region_id
        if destination is None:
            raise self._bad(
                f"Policy {policy.policy_id} has no REPLICATION rule, so there is no "
                "destination region for DestinationKmsKeyId.",
                "Add a REPLICATION rule to the policy, or leave destination_kms_key_id unset.",
                (policy.policy_id,),
            )
        self._world.provider(KEY_RING, get_region(destination)).check_usable(key)
        return key

    @staticmethod
    def _disabled(value: object, *, strings: bool) -> bool:
        if isinstance(value, bool):
            return value
        if strings and isinstance(value, str) and v.exact_str(value) in ("true", "false"):
            return v.exact_str(value) == "true"
        raise InvalidParameterError(
            f"Disabled={v._shown(value)} is not valid.",
            code="BadRequest",
            recommend="Pass True or False"
            + (' (or the wire\'s "true"/"false").' if strings else "."),
        )

    # -- writes -----------------------------------------------------------------------
    def _bind(
        self,
        policy: Policy,
        instance_id: str,
        options: AdvancedOptions,
        *,
        disabled: bool = False,
        description: str | None = None,
        hit_tags: tuple[TagFilter, ...] = (),
    ) -> PolicyBinding:
        """Store a new binding and its events (the caller updates the policy's count)."""
        now = self._world.now()
        binding = PolicyBinding(
            policy_binding_id=self._world.ids.new_id("pd-", "000", 20),
            policy_id=policy.policy_id,
            region_id=self.region_id,
            data_source_id=instance_id,
            created_time=now,
            updated_time=now,
            disabled=disabled,
            policy_binding_description=description,
            advanced_options=options,
            created_by_tag=bool(hit_tags),
            hit_tags=hit_tags,
        )
        self._bindings.put(binding, old=None)
        self._world.events._emit(
            PolicyBindingCreated,
            time=now,
            region_id=self.region_id,
            policy_binding_id=binding.policy_binding_id,
            policy_id=policy.policy_id,
            data_source_id=instance_id,
            created_by_tag=binding.created_by_tag,
        )
        return binding

    def _unbind(self, binding: PolicyBinding) -> None:
        """Delete a binding and its events (the caller updates the policy's count)."""
        self._bindings.delete(binding)
        self._world.events._emit(
            PolicyBindingDeleted,
            time=self._world.now(),
            region_id=self.region_id,
            policy_binding_id=binding.policy_binding_id,
            policy_id=binding.policy_id,
            data_source_id=binding.data_source_id,
        )

    def _store_updated(self, binding: PolicyBinding, updated: PolicyBinding) -> None:
        """Store ``updated`` (a changed copy of ``binding``) stamped now, and its event."""
        now = self._world.now()
        self._bindings.put(attrs.evolve(updated, updated_time=now), old=binding)
        self._world.events._emit(
            PolicyBindingUpdated,
            time=now,
            region_id=self.region_id,
            policy_binding_id=binding.policy_binding_id,
            policy_id=binding.policy_id,
            data_source_id=binding.data_source_id,
        )

    def _count(self, policy: Policy, change: int) -> Policy:
        changed = attrs.evolve(policy, policy_binding_count=policy.policy_binding_count + change)
        self._policies.put(changed, old=policy)
        return changed

    def _already_bound(self, instance_id: str, existing: PolicyBinding) -> DependencyViolationError:
        return DependencyViolationError(
            f"ECS instance {instance_id} is already bound to policy {existing.policy_id}; an "
            "instance can be bound to one policy only.",
            code="PolicyAlreadyBoundWithThisDataSource",
            http_status=400,
            ids=(instance_id, existing.policy_id),
            recommend="Unbind it first (delete_policy_binding), or update that policy instead.",
        )

    @unit_of_work
    def create_policy_bindings(
        self, *, policy_id: str, policy_binding_list: Sequence[PolicyBindingRequest]
    ) -> None:
        """``CreatePolicyBindings`` ("Add ECS Backup"): bind up to 99 ECS instances to a policy,
        all or none.

        Each instance must exist in this region and be bound to no policy yet
        (``PolicyAlreadyBoundWithThisDataSource``). The first binding of the account creates
        the service-linked role ``AliyunServiceRoleForHbrEcsBackup`` and activates the ECS
        snapshot service. ``advanced_options`` is checked per instance: listed disks must be
        attached and not local, application consistency needs one instance, ESSD disks, a
        RAM role and both scripts, and ``destination_kms_key_id`` an ``Enabled`` symmetric key
        of the policy's REPLICATION region.

        Args:
            policy_id: A ``UDM_ECS_ONLY`` policy of this region.
            policy_binding_list: 1 to 99 :class:`~cloudbackup.PolicyBindingRequest`, each
                instance once.
        """
        account = self._require_open()
        policy = self._policy(policy_id)
        self._require_bindable(policy)
        if (
            isinstance(policy_binding_list, (str, bytes))
            or not isinstance(policy_binding_list, (list, tuple))
            or not 1 <= len(policy_binding_list) <= MAX_BINDINGS_PER_CALL
        ):
            raise self._bad(
                "PolicyBindingList must list 1 to 99 instances.",
                f"Bind 1 to {MAX_BINDINGS_PER_CALL} instances per call.",
            )
        batch = len(policy_binding_list)
        seen: set[str] = set()
        planned: list[tuple[str, AdvancedOptions, bool, str | None]] = []
        for n, item in enumerate(policy_binding_list):
            if not isinstance(item, PolicyBindingRequest):
                raise self._bad(
                    f"PolicyBindingList[{n}] is not a PolicyBindingRequest.",
                    "Pass cloudbackup.PolicyBindingRequest items.",
                )
            self._source_type(item.source_type)
            instance_id = self._id(f"PolicyBindingList[{n}].DataSourceId", item.data_source_id)
            if instance_id in seen:
                raise self._bad(
                    f"ECS instance {instance_id} is listed twice.",
                    "List each instance once.",
                    (instance_id,),
                )
            seen.add(instance_id)
            instance = self._instance(instance_id)
            existing = self._binding_of(instance_id)
            if existing is not None:
                raise self._already_bound(instance_id, existing)
            disabled = self._disabled(item.disabled, strings=True)
            description = v.optional_text(
                "PolicyBindingDescription", item.policy_binding_description, 0, MAX_DESCRIPTION,
                code="BadRequest",
            )  # fmt: skip
            options = self._options(
                item.advanced_options, policy=policy, instance=instance, batch=batch
            )
            planned.append((instance_id, options, disabled, description))
        self._activate_for_ecs(account)
        for instance_id, options, disabled, description in planned:
            self._bind(policy, instance_id, options, disabled=disabled, description=description)
        self._count(policy, len(planned))

    @unit_of_work
    def update_policy_binding(
        self,
        *,
        policy_id: str,
        data_source_id: str,
        source_type: str = "UDM_ECS",
        disabled: bool | None = None,
        policy_binding_description: str | None = None,
        advanced_options: AdvancedOptions | None = None,
    ) -> None:
        """``UpdatePolicyBinding``: suspend (``disabled=True``) or resume a binding, or change
        its description or options. ``Disabled`` is a boolean here (the wire's type).

        ``advanced_options`` replaces the binding's options whole, except
        ``destination_kms_key_id``: once set it stays, and another key is refused
        (``OperationDenied.KmsKeyImmutable``).
        """
        self._require_open()
        policy = self._policy(policy_id)
        self._source_type(source_type)
        instance_id = self._id("DataSourceId", data_source_id)
        binding = self._binding_of(instance_id)
        if binding is None or binding.policy_id != policy.policy_id:
            raise ResourceNotFoundError(
                f"ECS instance {instance_id} is not bound to policy {policy.policy_id}.",
                code="ResourceNotFound",
                ids=(policy.policy_id, instance_id),
                recommend="Check the ids with describe_policy_bindings.",
            )
        changes: dict[str, object] = {}
        if disabled is not None:
            changes["disabled"] = self._disabled(disabled, strings=False)
        if policy_binding_description is not None:
            changes["policy_binding_description"] = v.text(
                "PolicyBindingDescription", policy_binding_description, 0, MAX_DESCRIPTION,
                code="BadRequest",
            )  # fmt: skip
        if advanced_options is not None:
            instance = self._inventory.find_instance(instance_id)  # may have been released
            changes["advanced_options"] = self._options(
                advanced_options,
                policy=policy,
                instance=instance,
                batch=1,
                old=binding.udm_detail,
            )
        updated = attrs.evolve(binding, **changes)  # type: ignore[arg-type]
        if updated == binding:
            return
        self._store_updated(binding, updated)

    @unit_of_work
    def delete_policy_binding(
        self, *, policy_id: str, data_source_ids: Sequence[str], source_type: str = "UDM_ECS"
    ) -> None:
        """``DeletePolicyBinding``: unbind instances from a policy (their backup points stay).

        Args:
            policy_id: The policy.
            data_source_ids: 1 to 99 instance ids, each bound to that policy.
        """
        self._require_open()
        policy = self._policy(policy_id)
        self._source_type(source_type)
        ids = v.id_list(
            "DataSourceIds", data_source_ids, max_items=MAX_BINDINGS_PER_CALL, code="BadRequest"
        )
        if not ids:
            raise self._bad("Name the instances to unbind.", "Pass data_source_ids=[...].")
        bindings = []
        for instance_id in ids:
            binding = self._binding_of(instance_id)
            if binding is None or binding.policy_id != policy.policy_id:
                raise ResourceNotFoundError(
                    f"ECS instance {instance_id} is not bound to policy {policy.policy_id}.",
                    code="ResourceNotFound",
                    ids=(policy.policy_id, instance_id),
                    recommend="Check the ids with describe_policy_bindings.",
                )
            bindings.append(binding)
        for binding in bindings:
            self._unbind(binding)
        self._count(policy, -len(bindings))

    @unit_of_work
    def delete_udm_ecs_instance(self, instance_id: str) -> None:
        """``DeleteUdmEcsInstance`` (the console's Stop Backup): stop protecting an ECS
        instance, released or not. Its binding goes; its backup points stay usable."""
        self._require_open()
        instance = self._id("InstanceId", instance_id)
        binding = self._binding_of(instance)
        if binding is None:
            raise ResourceNotFoundError(
                f"ECS instance {instance} is not protected by Cloud Backup in {self.region_id}.",
                code="ResourceNotFound",
                ids=(instance,),
                recommend="Check the instance id and the region (UdmRegionId).",
            )
        self._unbind(binding)
        self._count(self._policies.get(binding.policy_id), -1)

    @unit_of_work
    def delete_udm_disk(self, disk_id: str) -> None:
        """``DeleteUdmDisk``: stop protecting one disk of a protected instance.

        With Protect All Disks the disk joins ``exclude_disk_id_list``; with a disk list it
        leaves the list, and when it was the last disk listed the binding goes (nothing is
        left to protect: an empty list would mean every disk).
        """
        self._require_open()
        disk = self._id("DiskId", disk_id)
        owner = self._inventory.disk_owner(disk)
        binding = None if owner is None else self._binding_of(owner)
        detail = None if binding is None else binding.udm_detail
        protected = detail is not None and (
            disk in detail.disk_id_list
            if detail.disk_id_list
            else disk not in detail.exclude_disk_id_list
        )
        if binding is None or detail is None or not protected:
            raise ResourceNotFoundError(
                f"Disk {disk} is not protected by Cloud Backup in {self.region_id}.",
                code="ResourceNotFound",
                ids=(disk,),
                recommend="Name a disk attached to a protected ECS instance.",
            )
        if detail.disk_id_list:
            remaining = tuple(d for d in detail.disk_id_list if d != disk)
            if not remaining:
                self._unbind(binding)
                self._count(self._policies.get(binding.policy_id), -1)
                return
            detail = attrs.evolve(detail, disk_id_list=remaining)
        else:
            detail = attrs.evolve(detail, exclude_disk_id_list=(*detail.exclude_disk_id_list, disk))
        self._store_updated(
            binding, attrs.evolve(binding, advanced_options=AdvancedOptions(detail))
        )

    # -- reads ------------------------------------------------------------------------
    @consistent_read
    def describe_policy_bindings(
        self,
        *,
        policy_id: str | None = None,
        data_source_ids: Sequence[str] | None = None,
        source_type: str | None = None,
        filters: Sequence[BindingFilter] | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> Page[PolicyBinding]:
        """``DescribePolicyBindings``: bindings in ``(policy id, instance id)`` order, token
        paged (``max_results`` 10–100, default 10).

        Cost: a page of all bindings, or of one policy's, reads the page (an ordered index);
        naming instances reads their bindings; other filters read the candidates the cheaper
        conditions leave (the region's bindings when none applies).
        """
        self._require_open()
        policy = None if policy_id is None else self._id("PolicyId", policy_id)
        ids = v.id_list("DataSourceIds", data_source_ids, max_items=100, code="BadRequest")
        if source_type is not None:
            self._source_type(source_type)
        checked = self._filters(filters)
        limit = v.integer(
            "MaxResults", 10 if max_results is None else max_results, 10, 100, code="BadRequest"
        )
        if not ids and not checked:
            return self._ordered_bindings(policy, limit, next_token)
        if ids:
            candidates = [b for b in (self._binding_of(i) for i in ids) if b is not None]
        else:
            candidates = self._candidates(checked)
        found = [
            b
            for b in candidates
            if (policy is None or b.policy_id == policy)
            and all(FILTER_TESTS[op](_field(b, key), values) for key, op, values in checked)
        ]
        return token_page(
            found, _sort_key, scope="DescribePolicyBindings", next_token=next_token,
            max_results=limit, page_number=1, page_size=limit, width=3,
        )  # fmt: skip

    def _ordered_bindings(
        self, policy: str | None, limit: int, next_token: object
    ) -> Page[PolicyBinding]:
        if policy is None:
            start, stop = None, None
            total = self._bindings.count(BINDINGS_BY_POLICY)
        else:
            start, stop = policy_range(policy)
            found = self._policies.find(policy)
            total = 0 if found is None else found.policy_binding_count

        def fetch(after: tuple[str, ...] | None, n: int) -> list[PolicyBinding]:
            first = start if after is None else ORDER_SEPARATOR.join(after) + ORDER_SEPARATOR
            if start is not None and first is not None and first < start:
                first = start  # a token from another listing: start at this policy
            entries = self._world.store.raw_range(
                BINDINGS_BY_POLICY.kind, self.region_id, first, stop, limit=n
            )
            return self._bindings.named_or_all([str(i) for _, i in entries]) if entries else []

        page = keyset_page(
            fetch, total, _sort_key, scope="DescribePolicyBindings", next_token=next_token,
            max_results=limit, page_number=1, page_size=limit, width=3,
        )  # fmt: skip
        if page is None:  # a token holding NUL: no binding sorts there
            return Page((), total, 1, limit, None)
        return page

    def _candidates(self, checked: list[tuple[str, str, tuple[str, ...]]]) -> list[PolicyBinding]:
        for key, op, values in checked:
            if op in ("EQUAL", "IN") and key == "DataSourceId":
                chosen = values[:1] if op == "EQUAL" else values
                found = (self._binding_of(i) for i in dict.fromkeys(chosen))
                return [b for b in found if b is not None]
            if op in ("EQUAL", "IN") and key == "PolicyId":
                chosen = values[:1] if op == "EQUAL" else values
                return [b for p in dict.fromkeys(chosen) for b in self._bindings_of_policy(p)]
        return self._bindings.scan()

    def _filters(self, filters: object) -> list[tuple[str, str, tuple[str, ...]]]:
        if filters is None:
            return []
        if isinstance(filters, (str, bytes)) or not isinstance(filters, (list, tuple)):
            raise self._bad("Filters must be a list of BindingFilter.", "Pass filters=[...].")
        if len(filters) > 100:
            raise self._bad(f"{len(filters)} filters given; at most 100.", "Use fewer filters.")
        out = []
        for n, item in enumerate(filters):
            if not isinstance(item, BindingFilter):
                raise self._bad(
                    f"Filters[{n}] is not a BindingFilter.", "Pass BindingFilter items."
                )
            key = v.choice(f"Filters[{n}].Key", item.key, BINDING_FILTER_KEYS, code="BadRequest")
            op = v.choice(
                f"Filters[{n}].Operator", item.operator, BINDING_FILTER_OPERATORS, code="BadRequest"
            )
            values = item.values
            if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
                raise self._bad(f"Filters[{n}].Values must be a list.", "Pass values=[...].")
            need = (2, 2) if op == "BETWEEN" else (1, 10) if op == "IN" else (1, 1)
            if not need[0] <= len(values) <= need[1]:
                raise self._bad(
                    f"Filters[{n}] with {op} takes {need[0]}"
                    + ("" if need[0] == need[1] else f" to {need[1]}")
                    + f" values, not {len(values)}.",
                    "BETWEEN takes [low, high], IN 1 to 10 values, the others one.",
                )
            texts = tuple(
                v.text(f"Filters[{n}].Values", x, 0, 256, code="BadRequest") for x in values
            )
            out.append((key, op, texts))
        return out
