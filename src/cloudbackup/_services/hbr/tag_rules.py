"""Cloud Backup, TAG rules: bind the ECS instances whose tags match a policy's TAG rule, now
and whenever their tags change, and unbind those that stop matching.

How tag changes reach Cloud Backup without it scanning the region: ECS calls the
:class:`~cloudbackup._services._interfaces.InstanceWatcher` hook, inside the unit of work
that changed an instance's tags (created with tags, ``TagResources``, ``UntagResources``).
Cloud Backup keeps :data:`~._core.TAG_POLICIES`, the policies whose TAG rules look at each
tag key of the region, so a change reads the policies of the keys that changed and the
instance's binding: its cost follows the change. Only creating or updating a policy with a
TAG rule reads instances: through ECS's tag index for an ``EQUAL`` filter with a value, else
the region's instances (ECS indexes tags by key and value, not by key alone).

A binding made this way shows ``created_by_tag`` and the rule's filters as ``hit_tags``. A
TAG rule never takes an instance bound to another policy (one policy per instance); a binding
made by a call is never removed by tags.

Part of the layered :class:`~cloudbackup.HbrService` (see ``_services/hbr/__init__.py``).
"""

from __future__ import annotations

import attrs

from ..._domain.hbr import AdvancedOptions, Policy, PolicyBinding, Rule, RuleType, TagFilter
from .._interfaces import BackupInstance, InstanceWatcher
from ._core import TAG_POLICIES, tag_key_partition
from .bindings import BindingActions

__all__ = ["TagRuleActions", "tag_watcher"]


def _tag_rules(policy: Policy | None) -> tuple[Rule, ...]:
    return () if policy is None else policy.rules_of(RuleType.TAG)


def _hit(policy: Policy, tags: tuple[tuple[str, str], ...]) -> tuple[TagFilter, ...]:
    """The filters of the first TAG rule of ``policy`` that ``tags`` match (all its filters),
    or ``()``."""
    for rule in _tag_rules(policy):
        if all(f.matches(tags) for f in rule.tag_filters):
            return rule.tag_filters
    return ()


class TagRuleActions(BindingActions):
    """Bindings made and removed by TAG rules."""

    def _index_tag_policy(self, old: Policy | None, new: Policy | None) -> None:
        """Keep :data:`TAG_POLICIES` in step with a policy's TAG rules."""
        store = self._world.store
        before = {f.key for r in _tag_rules(old) for f in r.tag_filters}
        after = {f.key for r in _tag_rules(new) for f in r.tag_filters}
        policy_id = (new or old).policy_id  # type: ignore[union-attr]
        for key in sorted(before - after):
            store.raw_delete(TAG_POLICIES, tag_key_partition(self.region_id, key), policy_id)
        for key in sorted(after - before):
            store.raw_put(TAG_POLICIES, tag_key_partition(self.region_id, key), policy_id, True)

    def _sync_tag_rules(self, policy: Policy) -> Policy:
        """After a policy's rules changed: bind every unbound instance its TAG rules match,
        unbind its tag-made bindings that no longer match; returns the policy with its count."""
        rules = _tag_rules(policy)
        change = 0
        released: list[str] = []
        for binding in self._bindings_of_policy(policy.policy_id):
            if not binding.created_by_tag:
                continue
            instance = self._inventory.find_instance(binding.data_source_id)
            if instance is None:
                continue  # released: the binding stays until Stop Backup
            hit = _hit(policy, instance.tags)
            if not hit:
                self._unbind(binding)
                released.append(binding.data_source_id)
                change -= 1
            elif hit != binding.hit_tags:  # another rule (or filter) matches it now
                self._bindings.put(_with_hits(binding, hit), old=binding)
        matched: dict[str, BackupInstance] = {}
        for rule in rules:
            for instance in self._candidates_of(rule.tag_filters):
                if all(f.matches(instance.tags) for f in rule.tag_filters):
                    matched.setdefault(instance.instance_id, instance)
        activated = False
        for instance_id in sorted(matched):
            if self._binding_of(instance_id) is None:
                if not activated:
                    self._activate_for_ecs(self._account())
                    activated = True
                self._bind(
                    policy,
                    instance_id,
                    AdvancedOptions(),
                    hit_tags=_hit(policy, matched[instance_id].tags),
                )
                change += 1
        policy = self._count(policy, change) if change else policy
        self._offer_unbound(released, skip=policy.policy_id)
        return policy

    def _candidates_of(self, filters: tuple[TagFilter, ...]) -> tuple[BackupInstance, ...]:
        for f in filters:
            if f.operator == "EQUAL" and f.value:
                return self._inventory.instances_tagged(f.key, f.value)
        return self._inventory.instances_with_tag_key(filters[0].key)

    def _tag_policies_of(self, keys: object) -> list[str]:
        """The ids of the policies whose TAG rules look at any of ``keys``, sorted."""
        store = self._world.store
        return sorted(
            {
                str(policy_id)
                for key in keys  # type: ignore[attr-defined]
                for policy_id, _ in store.raw_scan(
                    TAG_POLICIES, tag_key_partition(self.region_id, key)
                )
            }
        )

    def _bind_by_tags(
        self, instance_id: str, tags: tuple[tuple[str, str], ...], *, skip: str | None = None
    ) -> bool:
        """Bind an unbound instance to the first policy (in id order, ``skip`` aside) whose TAG
        rule its ``tags`` match; whether it was bound. Every filter needs its key on the
        instance (``EQUAL`` and ``NOT`` alike), so the policies indexed under the instance's
        own tag keys are all the candidates: the cost follows its tags, not the region."""
        for policy_id in self._tag_policies_of(sorted({k for k, _ in tags})):
            if policy_id == skip:
                continue
            policy = self._policies.get(policy_id)
            hit = _hit(policy, tags)
            if hit:
                self._activate_for_ecs(self._account())
                self._bind(policy, instance_id, AdvancedOptions(), hit_tags=hit)
                self._count(policy, 1)
                return True
        return False

    def _offer_unbound(self, instance_ids: list[str], *, skip: str) -> None:
        """Instances a policy just let go of (deleted, or its TAG rules no longer match them)
        go to another TAG rule that matches them, as a tag change would have sent them."""
        for instance_id in instance_ids:
            instance = self._inventory.find_instance(instance_id)
            if instance is not None and self._binding_of(instance_id) is None:
                self._bind_by_tags(instance_id, instance.tags, skip=skip)

    def _instance_tags_changed(
        self,
        instance_id: str,
        before: tuple[tuple[str, str], ...],
        after: tuple[tuple[str, str], ...],
    ) -> None:
        """The :class:`InstanceWatcher` hook: follow one instance's tag change."""
        if not self._account().opened:
            return  # no policy can exist before the service is opened
        old, new = dict(before), dict(after)
        keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        if not self._tag_policies_of(keys):
            return  # no TAG rule looks at what changed: nothing can have changed for them
        binding: PolicyBinding | None = self._binding_of(instance_id)
        if binding is not None and binding.created_by_tag:
            policy = self._policies.get(binding.policy_id)
            hit = _hit(policy, after)
            if hit:
                if hit != binding.hit_tags:
                    self._bindings.put(_with_hits(binding, hit), old=binding)
                return
            self._unbind(binding)
            self._count(policy, -1)
            # Another TAG rule may match on a key that did not change: offer it every policy
            # of the instance's keys, not only of the changed ones.
            self._bind_by_tags(instance_id, after, skip=binding.policy_id)
            return
        if binding is None:
            self._bind_by_tags(instance_id, after)


def _with_hits(binding: PolicyBinding, hit: tuple[TagFilter, ...]) -> PolicyBinding:
    return attrs.evolve(binding, hit_tags=hit)


class _TagWatcher:
    """The :class:`InstanceWatcher` adapter over one region's Cloud Backup."""

    def __init__(self, hbr: TagRuleActions) -> None:
        self._hbr = hbr

    def instance_tags_changed(
        self,
        instance_id: str,
        before: tuple[tuple[str, str], ...],
        after: tuple[tuple[str, str], ...],
    ) -> None:
        """Bind or unbind the instance as the region's TAG rules say."""
        self._hbr._instance_tags_changed(instance_id, before, after)


def tag_watcher(hbr: TagRuleActions) -> InstanceWatcher:
    """The tag-change hook of ``hbr`` (the factory Cloud Backup registers)."""
    return _TagWatcher(hbr)
