"""Cloud Backup's invariants, part of :func:`~cloudbackup.testing.check_invariants`."""

from __future__ import annotations

import collections
from typing import Any

from .._domain.hbr import HbrAccount, Policy, PolicyBinding, RuleType
from .._repository import ORDER_COUNTS
from .._services.hbr import BINDING_OF_INSTANCE, BINDINGS_BY_POLICY, TAG_POLICIES
from .._services.hbr._core import ECS_BACKUP_ROLE, tag_key_partition

__all__ = ["check_hbr"]


def check_hbr(world: Any) -> None:
    """Cloud Backup's records agree with each other and with their indexes (``world`` is
    :func:`check_invariants`' view of every record; problems go to ``world.fail``)."""

    policies: dict[str, Policy] = world._entities(Policy, "policy_id")
    bindings: dict[str, PolicyBinding] = world._entities(PolicyBinding, "policy_binding_id")
    counts = collections.Counter(b.policy_id for b in bindings.values())
    for policy in policies.values():
        if policy.policy_binding_count != counts[policy.policy_id]:
            world.fail(
                f"policy {policy.policy_id} counts {policy.policy_binding_count} bindings, "
                f"has {counts[policy.policy_id]}"
            )
    rule_ids = [r.rule_id for p in policies.values() for r in p.rules]
    if None in rule_ids or len(set(rule_ids)) != len(rule_ids):
        world.fail(f"rule ids are missing or repeated: {sorted(map(str, rule_ids))[:5]}")
    per_instance = collections.Counter(b.data_source_id for b in bindings.values())
    for binding in bindings.values():
        found = policies.get(binding.policy_id)
        if found is None or found.region_id != binding.region_id:
            world.fail(f"binding {binding.policy_binding_id} names a missing policy")
        if per_instance[binding.data_source_id] > 1:
            world.fail(f"instance {binding.data_source_id} has several bindings")
        if binding.created_by_tag != bool(binding.hit_tags):
            world.fail(f"binding {binding.policy_binding_id} by tag without hit tags (or not)")
    by_instance = {(p, k) for p, k, _ in world.raw[BINDING_OF_INSTANCE.kind]}
    if by_instance != {(b.data_source_id, i) for i, b in bindings.items()}:
        world.fail("the bindings-by-instance index disagrees with the bindings")
    by_policy = {(p, k, v) for p, k, v in world.raw[BINDINGS_BY_POLICY.kind]}
    expected = {(b.region_id, BINDINGS_BY_POLICY.entry(b, i), i) for i, b in bindings.items()}
    if by_policy != expected:
        world.fail(f"the bindings-by-policy index disagrees at {sorted(by_policy ^ expected)[:3]}")
    counted = {(p, v) for p, k, v in world.raw[ORDER_COUNTS] if k == BINDINGS_BY_POLICY.kind}
    per_region = collections.Counter(b.region_id for b in bindings.values())
    if counted != set(per_region.items()):
        world.fail(f"the bindings-by-policy counts {counted} != {dict(per_region)}")
    tagged = {(p, k) for p, k, _ in world.raw[TAG_POLICIES]}
    wanted = {
        (tag_key_partition(p.region_id, f.key), p.policy_id)
        for p in policies.values()
        for r in p.rules
        if r.rule_type is RuleType.TAG
        for f in r.tag_filters
    }
    if tagged != wanted:
        world.fail(f"the TAG-rule index disagrees at {sorted(tagged ^ wanted)[:3]}")
    accounts = [a for _, _, a in world.raw[HbrAccount.KIND] if isinstance(a, HbrAccount)]
    account = accounts[0] if accounts else HbrAccount()
    if (policies or bindings) and not account.opened:
        world.fail("Cloud Backup holds policies or bindings but was never opened")
    if bindings and (
        ECS_BACKUP_ROLE not in account.roles or account.snapshot_service_activated_time is None
    ):
        world.fail("instances are bound but the role or the snapshot service is missing")
