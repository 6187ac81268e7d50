"""Cloud Backup, backup policies: CreatePolicyV2, UpdatePolicyV2, DeletePolicyV2,
DescribePoliciesV2.

The rules themselves are checked by :mod:`cloudbackup._domain.hbr_rules`.

Part of the layered :class:`~cloudbackup.HbrService` (see ``_services/hbr/__init__.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ... import _validate as v
from ..._domain.hbr import Policy, PolicyCreated, PolicyDeleted, PolicyType, PolicyUpdated, Rule
from ..._domain.hbr_rules import checked_rules, infer_policy_type
from ..._domain.requests import Page
from ...errors import UnsupportedOperationError
from .._base import consistent_read, unit_of_work
from ..ecs._requests import id_order_page
from .tag_rules import TagRuleActions

__all__ = ["MAX_POLICY_DESCRIPTION", "MAX_POLICY_NAME", "PolicyActions"]

MAX_POLICY_NAME = 64
"""``PolicyName``: 1–64 characters (as ``PlanName``; the API documents no bound)."""
MAX_POLICY_DESCRIPTION = 255
"""``PolicyDescription``: at most 255 characters (this model's bound)."""


class PolicyActions(TagRuleActions):
    """CreatePolicyV2, UpdatePolicyV2, DeletePolicyV2, DescribePoliciesV2."""

    def _require_policy_region(self) -> None:
        if not self.region.supports_backup_policy:
            raise UnsupportedOperationError(
                f"Backup policies are not supported in region {self.region_id}.",
                code="OperationDenied.NotSupported",
                ids=(self.region_id,),
                recommend="Create the policy in a region the Policy Center lists, or use a "
                "backup plan in this region.",
            )

    def _rules_changed(self, old: Policy | None, new: Policy | None) -> None:
        """Hook: a policy was created (``old`` None), changed or deleted (``new`` None), in
        the caller's unit of work. The scheduler layer above sets its rules' timers here."""

    def _new_rule_id(self) -> str:
        return self._world.ids.new_id("rule-", "000", 20)

    @unit_of_work
    def create_policy_v2(
        self,
        *,
        rules: Sequence[Rule],
        policy_name: str | None = None,
        policy_description: str | None = None,
        policy_type: PolicyType | str | None = None,
    ) -> str:
        """``CreatePolicyV2``: create a backup policy; returns its ``PolicyId`` (``po-000…``).

        ``policy_type`` left out is inferred: a BACKUP rule naming a ``vault_id`` makes it
        ``STANDARD``, otherwise ``UDM_ECS_ONLY``; it is fixed afterwards. The rules are checked
        as :func:`cloudbackup._domain.hbr_rules.checked_rules` says (1–10 rules, at least one
        BACKUP with a valid schedule, at most one TRANSITION, retention 1–364,635 days, special
        retention, archive days, a REPLICATION rule's destination region, permanent retention
        refused for ECS instance backup). A TAG rule binds the matching instances at once.
        """
        self._require_open()
        self._require_policy_region()
        name = v.optional_text("PolicyName", policy_name, 1, MAX_POLICY_NAME, code="BadRequest")
        description = v.optional_text(
            "PolicyDescription", policy_description, 0, MAX_POLICY_DESCRIPTION, code="BadRequest"
        )
        if policy_type is None:
            kind = infer_policy_type(rules if isinstance(rules, (list, tuple)) else ())
        else:
            kind = v.enum_value("PolicyType", policy_type, PolicyType, code="BadRequest")
        checked = checked_rules(
            rules, policy_type=kind, region_id=self.region_id, new_rule_id=self._new_rule_id
        )
        now = self._world.now()
        policy = Policy(
            policy_id=self._world.ids.new_id("po-", "000", 20),
            region_id=self.region_id,
            policy_type=kind,
            rules=checked,
            created_time=now,
            updated_time=now,
            policy_name=name,
            policy_description=description,
        )
        self._policies.put(policy, old=None)
        self._index_tag_policy(None, policy)
        self._world.events._emit(
            PolicyCreated, time=now, region_id=self.region_id, policy_id=policy.policy_id
        )
        self._rules_changed(None, policy)
        self._sync_tag_rules(policy)
        return policy.policy_id

    @unit_of_work
    def update_policy_v2(
        self,
        *,
        policy_id: str,
        rules: Sequence[Rule] | None = None,
        policy_name: str | None = None,
        policy_description: str | None = None,
    ) -> None:
        """``UpdatePolicyV2``: change a policy's name, description or rules.

        ``rules`` replaces the whole list; a rule that names the ``rule_id`` of one of the
        policy's rules (of the same type) keeps that id, the others get new ids. The policy
        type cannot change, an immutable policy stays immutable
        (``OperationDenied.ImmutableBackup``), and the change applies to every bound instance
        from its next run. TAG rules are applied again: matching instances are bound, tag-made
        bindings that no longer match are removed.
        """
        self._require_open()
        policy = self._policy(policy_id)
        changes: dict[str, object] = {}
        if policy_name is not None:
            changes["policy_name"] = v.text(
                "PolicyName", policy_name, 1, MAX_POLICY_NAME, code="BadRequest"
            )
        if policy_description is not None:
            changes["policy_description"] = v.text(
                "PolicyDescription",
                policy_description,
                0,
                MAX_POLICY_DESCRIPTION,
                code="BadRequest",
            )
        if rules is not None:
            changes["rules"] = checked_rules(
                rules,
                policy_type=policy.policy_type,
                region_id=self.region_id,
                new_rule_id=self._new_rule_id,
                old=policy,
            )
        updated = attrs.evolve(policy, **changes)  # type: ignore[arg-type]
        if updated == policy:
            return
        now = self._world.now()
        updated = attrs.evolve(updated, updated_time=now)
        self._policies.put(updated, old=policy)
        self._index_tag_policy(policy, updated)
        self._world.events._emit(
            PolicyUpdated, time=now, region_id=self.region_id, policy_id=policy.policy_id
        )
        if rules is not None:
            self._rules_changed(policy, updated)
            self._sync_tag_rules(updated)

    @unit_of_work
    def delete_policy_v2(self, policy_id: str) -> None:
        """``DeletePolicyV2``: delete a policy and every binding it has (the instances' backup
        points stay)."""
        self._require_open()
        policy = self._policy(policy_id)
        released = []
        for binding in self._bindings_of_policy(policy.policy_id):
            self._unbind(binding)
            released.append(binding.data_source_id)
        self._index_tag_policy(policy, None)
        self._rules_changed(policy, None)
        self._policies.delete(policy)
        self._world.events._emit(
            PolicyDeleted,
            time=self._world.now(),
            region_id=self.region_id,
            policy_id=policy.policy_id,
        )
        # Its instances are unprotected now: another TAG rule that matches them takes them,
        # as it would have had they been unbound when it was created.
        self._offer_unbound(released, skip=policy.policy_id)

    @consistent_read
    def describe_policies_v2(
        self,
        *,
        policy_id: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> Page[Policy]:
        """``DescribePoliciesV2``: the region's policies in id order, token paged
        (``max_results`` 10–100, default 10; ``total_count`` is ``TotalCount``). A page reads
        the page, not the region."""
        self._require_open()
        limit = v.integer(
            "MaxResults", 10 if max_results is None else max_results, 10, 100, code="BadRequest"
        )
        if policy_id is not None:
            found = self._policies.find(self._id("PolicyId", policy_id))
            items = () if found is None else (found,)
            if next_token is not None:
                v.text("NextToken", next_token, 1, 4096, code="BadRequest")
                items = ()
            return Page(items, len(items), 1, limit, None)
        return id_order_page(
            self._policies,
            scope="DescribePoliciesV2",
            next_token=next_token,
            max_results=limit,
            page_number=1,
            page_size=limit,
        )
