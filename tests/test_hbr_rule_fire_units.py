"""Cloud Backup: a BACKUP rule's fire backs up one bound instance per unit of work."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from cloudbackup import HbrService
from cloudbackup._domain.schedule import parse_schedule
from cloudbackup._services.hbr.retention import point_retention_of
from cloudbackup._services.hbr.scheduler import ACTION_RULE_FIRE, rule_timer_target
from cloudbackup.testing import check_invariants
from test_hbr_schedule_firing import TZ, Fleet


def _first_due(fleet: Fleet) -> dt.datetime:
    due = parse_schedule(fleet.schedule).next_after(fleet.created, TZ)
    assert due is not None
    return due


def _rule_timers(fleet: Fleet) -> list[tuple[str, dt.datetime, str]]:
    return [
        (t.target_id, t.due, t.payload)
        for t in fleet.cloud._world.engine.pending()
        if t.action == ACTION_RULE_FIRE
    ]


def _rule_target(fleet: Fleet) -> str:
    policy = fleet.hbr.describe_policies_v2().items[0]
    (rule,) = [r for r in policy.rules if r.rule_type.value == "BACKUP"]
    assert rule.rule_id is not None
    return rule_timer_target(fleet.policy, rule.rule_id)


def _job_instances(fleet: Fleet) -> list[str]:
    return sorted(j.instance_id for j in fleet.jobs())


def test_a_fire_starts_every_bound_instance_at_its_instant_and_leaves_one_timer() -> None:
    """After a fire every bound instance has a job started at the due time, and the rule has
    one timer left: the schedule's next time, with no binding to go on with."""
    fleet = Fleet(instances=3)
    due = _first_due(fleet)
    fired = fleet.cloud.run_until(due)
    assert sorted(fleet.vms) == _job_instances(fleet)
    assert {due} == {j.start_time for j in fleet.jobs()}
    assert [(_rule_target(fleet), due + dt.timedelta(days=1), "")] == _rule_timers(fleet)
    assert fired >= 3  # one unit per bound instance
    check_invariants(fleet.cloud)


def test_a_fire_that_fails_for_one_instance_backs_up_the_others_and_keeps_the_schedule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An instance whose backup raises is undone alone: the instances bound after it still
    get their jobs, and the rule fires again at the schedule's next time."""
    fleet = Fleet(instances=3)
    due = _first_due(fleet)
    bad = sorted(fleet.vms)[1]
    real = HbrService._run_binding

    def run_binding(self: HbrService, policy, rule, binding, *args, **kwargs):  # type: ignore[no-untyped-def]
        if binding.data_source_id == bad:
            raise RuntimeError(f"cannot back up {bad}")
        return real(self, policy, rule, binding, *args, **kwargs)

    monkeypatch.setattr(HbrService, "_run_binding", run_binding)
    with pytest.raises(RuntimeError, match=bad):
        fleet.cloud.run_until(due)
    assert sorted(set(fleet.vms) - {bad}) == _job_instances(fleet)
    assert [(_rule_target(fleet), due + dt.timedelta(days=1), "")] == _rule_timers(fleet)
    assert [(ACTION_RULE_FIRE, _rule_target(fleet))] == [
        (f.timer.action, f.timer.target_id) for f in fleet.cloud._world.engine.failed()
    ]
    monkeypatch.undo()
    fleet.cloud.run_until(due + dt.timedelta(days=1))
    assert sorted([*fleet.vms, *(set(fleet.vms) - {bad})]) == _job_instances(fleet)


def test_a_fire_with_no_binding_only_sets_the_next_time() -> None:
    """A rule whose policy has no binding left starts no job and keeps its schedule."""
    fleet = Fleet(instances=2)
    bindings = fleet.hbr.describe_policy_bindings(policy_id=fleet.policy).items
    fleet.hbr.delete_policy_binding(
        policy_id=fleet.policy, data_source_ids=[b.data_source_id for b in bindings]
    )
    due = _first_due(fleet)
    fleet.cloud.run_until(due)
    assert [] == _job_instances(fleet)
    assert [(_rule_target(fleet), due + dt.timedelta(days=1), "")] == _rule_timers(fleet)


class _Text(str):
    """A str subclass: equal to a plain id, not the same value."""


def test_a_rules_point_retention_is_one_object_and_never_mixes_types() -> None:
    """Two fires of a rule share one point retention object, and a rule whose id is an equal
    str subclass gets its own (its retention keeps the subclass)."""
    fleet = Fleet(instances=1)
    (policy,) = fleet.hbr._policies.named_or_all([fleet.policy])
    (rule,) = [r for r in policy.rules if r.rule_id is not None]
    assert rule.rule_id is not None
    first = point_retention_of(policy, rule.rule_id)
    assert first is point_retention_of(policy, rule.rule_id)
    odd = attrs.evolve(rule, rule_id=_Text(rule.rule_id))
    other = point_retention_of(attrs.evolve(policy, rules=(odd,)), _Text(rule.rule_id))
    assert (first, _Text) == (other, type(other.rule_id))
