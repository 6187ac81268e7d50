"""Cloud Backup: activation, roles and backup policies (CreatePolicyV2 … DescribePoliciesV2)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import given, settings

from _helpers import OTHER_REGION, REGION, make_cloud
from cloudbackup import (
    PERMANENT,
    Cloud,
    HbrService,
    PolicyType,
    RetentionRule,
    Rule,
    RuleType,
    TagFilter,
    errors,
)
from cloudbackup.testing import strategies as cbst
from cloudbackup.testing import world_state

DAILY = "I|1704067200|P1D"
BACKUP = Rule("BACKUP", schedule=DAILY, retention=30)


def _hbr(cloud: Cloud | None = None) -> HbrService:
    hbr = (cloud or make_cloud()).hbr(REGION)
    hbr.open_hbr_service()
    return hbr


def _code(call: Callable[[], object]) -> str:
    with pytest.raises(errors.CloudBackupError) as info:
        call()
    return info.value.code


def _refused(cloud: Cloud, call: Callable[[], object]) -> errors.CloudBackupError:
    """Run a call that must fail; assert it changed nothing; return the error."""
    before = world_state(cloud)
    with pytest.raises(errors.CloudBackupError) as info:
        call()
    assert before == world_state(cloud)
    return info.value


def _opened() -> tuple[Cloud, HbrService]:
    cloud = make_cloud()
    return cloud, _hbr(cloud)


# -- service and roles -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "call",
    [
        lambda h: h.check_role("UdmRole"),
        lambda h: h.create_policy_v2(rules=[BACKUP]),
        lambda h: h.update_policy_v2(policy_id="po-0001"),
        lambda h: h.delete_policy_v2("po-0001"),
        lambda h: h.describe_policies_v2(),
        lambda h: h.create_policy_bindings(policy_id="po-1", policy_binding_list=[]),
        lambda h: h.update_policy_binding(policy_id="po-1", data_source_id="i-1"),
        lambda h: h.delete_policy_binding(policy_id="po-1", data_source_ids=["i-1"]),
        lambda h: h.describe_policy_bindings(),
        lambda h: h.delete_udm_ecs_instance("i-1"),
        lambda h: h.delete_udm_disk("d-1"),
    ],
)
def test_every_action_needs_the_service_opened(call: Callable[[HbrService], object]) -> None:
    """Before OpenHbrService every action answers ServiceNotActivated (403) and changes nothing."""
    cloud = make_cloud()
    hbr = cloud.hbr(REGION)
    before = world_state(cloud)
    with pytest.raises(errors.OperationDeniedError) as info:
        call(hbr)
    assert ("ServiceNotActivated", 403) == (info.value.code, info.value.http_status)
    assert before == world_state(cloud)


def test_opening_is_per_account_and_idempotent() -> None:
    """The order id is returned again; another region sees the service opened."""
    cloud = make_cloud()
    order = cloud.hbr(REGION).open_hbr_service()
    assert re.fullmatch(r"2\d{14}", order)
    assert order == cloud.hbr(OTHER_REGION).open_hbr_service()
    assert () == cloud.hbr(OTHER_REGION).describe_policies_v2().items
    assert order == cloud.hbr(OTHER_REGION).describe_hbr_account().order_id


def test_open_records_an_event_once() -> None:
    """One HbrServiceOpened event, however often the service is opened."""
    from cloudbackup import HbrServiceOpened

    cloud = make_cloud()
    cloud.hbr(REGION).open_hbr_service()
    cloud.hbr(REGION).open_hbr_service()
    assert 1 == len(cloud.events.list(HbrServiceOpened))


def test_check_role_types() -> None:
    """UdmRole is False before any binding; an unknown type is BadRequest."""
    hbr = _hbr()
    assert False is hbr.check_role("UdmRole")
    assert False is hbr.check_role("EcsRole")
    assert "BadRequest" == _code(lambda: hbr.check_role("udmrole"))


# -- creating policies -----------------------------------------------------------------------
def test_create_infers_udm_ecs_only_and_gives_ids() -> None:
    """A policy without a vault is UDM_ECS_ONLY; ids have the real shapes."""
    hbr = _hbr()
    policy_id = hbr.create_policy_v2(rules=[BACKUP], policy_name="daily")
    assert re.fullmatch(r"po-000[0-9a-z]{17}", policy_id)
    [policy] = hbr.describe_policies_v2(policy_id=policy_id).items
    assert PolicyType.UDM_ECS_ONLY == policy.policy_type
    [rule] = policy.rules
    assert rule.rule_id is not None and re.fullmatch(r"rule-000[0-9a-z]{17}", rule.rule_id)
    assert (RuleType.BACKUP, "COMPLETE", 0, 30) == (
        rule.rule_type,
        rule.backup_type,
        rule.keep_latest_snapshots,
        rule.retention,
    )


def test_a_vault_makes_a_standard_policy() -> None:
    """A BACKUP rule naming a vault makes the policy STANDARD (inferred)."""
    hbr = _hbr()
    rule = attrs.evolve(BACKUP, vault_id="v-0001")
    [policy] = hbr.describe_policies_v2(policy_id=hbr.create_policy_v2(rules=[rule])).items
    assert PolicyType.STANDARD == policy.policy_type


def test_a_standard_policy_may_keep_for_ever_but_ecs_policies_may_not() -> None:
    """Permanent retention: refused for UDM_ECS_ONLY with the seed's message."""
    cloud, hbr = _opened()
    error = _refused(
        cloud, lambda: hbr.create_policy_v2(rules=[attrs.evolve(BACKUP, retention=PERMANENT)])
    )
    assert "BadRequest" == error.code
    assert (
        "The policy contains permanent retention rules and cannot be applied to ECS instance "
        "backup." == error.message
    )
    assert "retention period" in error.recommend
    hbr.create_policy_v2(rules=[attrs.evolve(BACKUP, retention=PERMANENT, vault_id="v-1")])


def test_replication_without_a_region_is_refused_with_the_seed_message() -> None:
    """REPLICATION needs a destination region: "No destination region is specified."."""
    cloud, hbr = _opened()
    error = _refused(
        cloud, lambda: hbr.create_policy_v2(rules=[BACKUP, Rule("REPLICATION", retention=7)])
    )
    assert ("BadRequest", "No destination region is specified.") == (error.code, error.message)
    assert "replication_region_id" in error.recommend


@pytest.mark.parametrize("destination", [REGION, "mars-1", ""])
def test_replication_must_name_another_catalogue_region(destination: str) -> None:
    """The destination is another region of the catalogue."""
    cloud, hbr = _opened()
    rule = Rule("REPLICATION", replication_region_id=destination, retention=7)
    assert "BadRequest" == _refused(cloud, lambda: hbr.create_policy_v2(rules=[BACKUP, rule])).code


def test_replication_to_another_region_is_kept() -> None:
    """A valid REPLICATION rule is stored with its region and retention."""
    hbr = _hbr()
    rule = Rule("REPLICATION", replication_region_id=OTHER_REGION, retention=7)
    [policy] = hbr.describe_policies_v2(policy_id=hbr.create_policy_v2(rules=[BACKUP, rule])).items
    assert OTHER_REGION == policy.replication_region_id


@pytest.mark.parametrize(
    ("retention", "accepted"), [(0, False), (1, True), (364_635, True), (364_636, False)]
)
def test_retention_bounds(retention: int, accepted: bool) -> None:
    """Retention is 1–364,635 days."""
    hbr = _hbr()
    call = lambda: hbr.create_policy_v2(rules=[attrs.evolve(BACKUP, retention=retention)])  # noqa: E731
    if accepted:
        call()
    else:
        assert "BadRequest" == _code(call)


@pytest.mark.parametrize(
    ("rules", "accepted"),
    [
        ([], False),
        ([BACKUP] * 10, True),
        ([BACKUP] * 11, False),
        ([Rule("TRANSITION", retention=30)], False),
        ([BACKUP, Rule("TRANSITION", retention=30)], True),
        ([BACKUP, Rule("TRANSITION", retention=30), Rule("TRANSITION", retention=40)], False),
        ([BACKUP, Rule("SECURITY", immutable=True), Rule("SECURITY", immutable=True)], False),
        ([Rule("BACKUP", schedule=DAILY)], False),
        ([Rule("BACKUP", schedule=DAILY), Rule("TRANSITION", retention=9)], True),
        ([attrs.evolve(BACKUP, backup_type="INCREMENTAL")], False),
        ([attrs.evolve(BACKUP, keep_latest_snapshots=2)], False),
        ([attrs.evolve(BACKUP, replication_region_id=OTHER_REGION)], False),
        ([BACKUP, Rule("SECURITY", immutable=1)], False),
        ([BACKUP, Rule("TAG", tag_filters=(TagFilter("env", "prod", "LIKE"),))], False),
        ([BACKUP, Rule("BOGUS")], False),
        ([attrs.evolve(BACKUP, rule_id="rule-000abc")], False),
        ([attrs.evolve(BACKUP, schedule="X|1|P1D")], False),
        ([attrs.evolve(BACKUP, schedule=None)], False),
        ((BACKUP,), True),
        ("BACKUP", False),
    ],
)
def test_structural_rules(rules: Any, accepted: bool) -> None:
    """1–10 rules, at least one BACKUP, at most one TRANSITION/SECURITY, fields per type."""
    cloud, hbr = _opened()
    if accepted:
        hbr.create_policy_v2(rules=rules)
    else:
        assert "BadRequest" == _refused(cloud, lambda: hbr.create_policy_v2(rules=rules)).code


@pytest.mark.parametrize(
    ("specials", "accepted"),
    [
        ((RetentionRule("DAILY", 7), RetentionRule("WEEKLY", 60)), True),
        ((RetentionRule("MONTHLY", 365), RetentionRule("YEARLY", 3650)), True),
        ((RetentionRule("WEEKLY", 60, which_snapshot=2),), False),
        ((RetentionRule("WEEKLY", 60, which_snapshot=True),), False),
        ((RetentionRule("WEEKLY", 0),), False),
        ((RetentionRule("HOURLY", 5),), False),
        ((RetentionRule("WEEKLY", 5), RetentionRule("WEEKLY", 9)), False),
        (tuple(RetentionRule("WEEKLY", 5) for _ in range(100)), False),
    ],
)
def test_special_retention(specials: tuple[RetentionRule, ...], accepted: bool) -> None:
    """Special retention: DAILY/WEEKLY/MONTHLY/YEARLY once each, which_snapshot=1, ≤ 99."""
    cloud, hbr = _opened()
    rules = [BACKUP, Rule("TRANSITION", retention=30, retention_rules=specials)]
    if accepted:
        hbr.create_policy_v2(rules=rules)
    else:
        assert "BadRequest" == _refused(cloud, lambda: hbr.create_policy_v2(rules=rules)).code


@pytest.mark.parametrize(
    ("retention", "archive", "code"),
    [
        (400, 29, "ArchiveDaysTooShort"),
        (400, 30, None),
        (89, 30, "ArchiveRetentionDaysTooShort"),
        (90, 30, None),
        (200, 141, "ArchiveRetentionDaysTooShort"),
        (200, 140, None),
    ],
)
def test_archive_days(retention: int, archive: int, code: str | None) -> None:
    """At least 30 days in standard, then at least 60 in archive, with the real codes."""
    cloud, hbr = _opened()
    rules = [BACKUP, Rule("TRANSITION", retention=retention, archive_days=archive)]
    if code is None:
        hbr.create_policy_v2(rules=rules)
    else:
        assert code == _refused(cloud, lambda: hbr.create_policy_v2(rules=rules)).code


def test_cold_archive_days_only_on_update() -> None:
    """ColdArchiveDays exists only in UpdatePolicyV2's request."""
    hbr = _hbr()
    rule = Rule("TRANSITION", retention=400, archive_days=30, cold_archive_days=100)
    assert "BadRequest" == _code(lambda: hbr.create_policy_v2(rules=[BACKUP, rule]))
    policy_id = hbr.create_policy_v2(rules=[BACKUP])
    hbr.update_policy_v2(policy_id=policy_id, rules=[BACKUP, rule])
    [policy] = hbr.describe_policies_v2(policy_id=policy_id).items
    assert 100 == policy.rules_of(RuleType.TRANSITION)[0].cold_archive_days


def test_policies_need_a_region_with_policies() -> None:
    """A region without backup policies refuses create_policy_v2."""
    cloud = make_cloud()
    cloud.hbr(REGION).open_hbr_service()
    code = _code(lambda: cloud.hbr("eu-west-1").create_policy_v2(rules=[BACKUP]))
    assert "OperationDenied.NotSupported" == code


def test_names_and_descriptions() -> None:
    """A str subclass name is stored as a plain str; lone surrogates are refused."""

    class Name(str):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = str.__hash__

    hbr = _hbr()
    policy_id = hbr.create_policy_v2(rules=[BACKUP], policy_name=Name("nightly"))
    [policy] = hbr.describe_policies_v2(policy_id=policy_id).items
    assert str is type(policy.policy_name)
    assert "BadRequest" == _code(lambda: hbr.create_policy_v2(rules=[BACKUP], policy_name="\ud800"))
    assert "BadRequest" == _code(lambda: hbr.create_policy_v2(rules=[BACKUP], policy_name="x" * 65))
    assert "BadRequest" == _code(lambda: hbr.create_policy_v2(rules=[BACKUP], policy_type="STD"))


def test_bool_is_not_a_retention() -> None:
    """True is not 1 day."""
    hbr = _hbr()
    assert "BadRequest" == _code(
        lambda: hbr.create_policy_v2(rules=[attrs.evolve(BACKUP, retention=True)])
    )


# -- updating and deleting -------------------------------------------------------------------
def test_update_keeps_named_rule_ids_and_gives_new_ones() -> None:
    """A rule naming its id keeps it; a new rule gets a new id; the type stays."""
    hbr = _hbr()
    policy_id = hbr.create_policy_v2(rules=[BACKUP])
    [old] = hbr.describe_policies_v2(policy_id=policy_id).items
    kept = attrs.evolve(BACKUP, rule_id=old.rules[0].rule_id, retention=60)
    hbr.update_policy_v2(policy_id=policy_id, rules=[kept, Rule("TRANSITION", retention=90)])
    [new] = hbr.describe_policies_v2(policy_id=policy_id).items
    assert old.rules[0].rule_id == new.rules[0].rule_id
    assert 60 == new.rules[0].retention
    assert new.rules[1].rule_id not in (None, old.rules[0].rule_id)
    assert old.policy_type == new.policy_type


@pytest.mark.parametrize("rule_id", ["rule-000doesnotexist", None])
def test_update_refuses_a_foreign_rule_id(rule_id: str | None) -> None:
    """A rule id of no rule of this policy (or of a rule of another type) is refused."""
    cloud, hbr = _opened()
    policy_id = hbr.create_policy_v2(rules=[BACKUP, Rule("TRANSITION", retention=30)])
    [policy] = hbr.describe_policies_v2(policy_id=policy_id).items
    wrong = rule_id or policy.rules[1].rule_id  # the TRANSITION rule's id on a BACKUP rule
    rules = [attrs.evolve(BACKUP, rule_id=wrong)]
    assert (
        "BadRequest"
        == _refused(cloud, lambda: hbr.update_policy_v2(policy_id=policy_id, rules=rules)).code
    )


def test_immutable_can_never_be_turned_off() -> None:
    """Once a SECURITY rule is immutable, dropping it or setting False is refused."""
    cloud, hbr = _opened()
    policy_id = hbr.create_policy_v2(rules=[BACKUP, Rule("SECURITY", immutable=True)])
    for rules in ([BACKUP], [BACKUP, Rule("SECURITY", immutable=False)]):
        error = _refused(cloud, lambda r=rules: hbr.update_policy_v2(policy_id=policy_id, rules=r))
        assert ("OperationDenied.ImmutableBackup", (policy_id,)) == (error.code, error.ids)
    hbr.update_policy_v2(policy_id=policy_id, rules=[BACKUP, Rule("SECURITY", immutable=True)])
    off = hbr.create_policy_v2(rules=[BACKUP, Rule("SECURITY", immutable=False)])
    hbr.update_policy_v2(policy_id=off, rules=[BACKUP, Rule("SECURITY", immutable=True)])


def test_update_with_nothing_new_changes_nothing() -> None:
    """An update that changes no field leaves the policy and the log as they were."""
    cloud = make_cloud()
    hbr = _hbr(cloud)
    policy_id = hbr.create_policy_v2(rules=[BACKUP], policy_name="a")
    before = world_state(cloud)
    hbr.update_policy_v2(policy_id=policy_id, policy_name="a")
    assert before == world_state(cloud)


def test_unknown_policies_are_not_found() -> None:
    """A policy id that does not exist is ResourceNotFound (404); a non-string is BadRequest."""
    hbr = _hbr()
    assert "ResourceNotFound" == _code(lambda: hbr.delete_policy_v2("po-000nothing"))
    assert "ResourceNotFound" == _code(lambda: hbr.update_policy_v2(policy_id="po-000x"))
    assert "BadRequest" == _code(lambda: hbr.delete_policy_v2(7))  # type: ignore[arg-type]


def test_policies_are_regional() -> None:
    """A policy of one region is not found in another."""
    cloud = make_cloud()
    policy_id = _hbr(cloud).create_policy_v2(rules=[BACKUP])
    assert "ResourceNotFound" == _code(lambda: cloud.hbr(OTHER_REGION).delete_policy_v2(policy_id))


# -- describing ------------------------------------------------------------------------------
def test_describe_pages_by_token() -> None:
    """25 policies: pages of 10, 10 and 5 with TotalCount 25, each once, in id order."""
    hbr = _hbr()
    made = sorted(hbr.create_policy_v2(rules=[BACKUP]) for _ in range(25))
    seen: list[str] = []
    token = None
    sizes = []
    while True:
        page = hbr.describe_policies_v2(next_token=token)
        assert 25 == page.total_count
        sizes.append(len(page))
        seen.extend(p.policy_id for p in page)
        token = page.next_token
        if token is None:
            break
    assert made == seen
    assert [10, 10, 5] == sizes
    assert 25 == len(hbr.describe_policies_v2(max_results=100).items)


@pytest.mark.parametrize("max_results", [9, 101, True, "10"])
def test_describe_max_results_is_10_to_100(max_results: object) -> None:
    """MaxResults outside 10–100 (or not an int) is BadRequest."""
    hbr = _hbr()
    assert "BadRequest" == _code(lambda: hbr.describe_policies_v2(max_results=max_results))  # type: ignore[arg-type]


def test_describe_refuses_a_forged_token() -> None:
    """A token this action never gave is refused."""
    hbr = _hbr()
    assert "InvalidParameter.NextToken" == _code(lambda: hbr.describe_policies_v2(next_token="x"))


# -- properties ------------------------------------------------------------------------------
@settings(max_examples=40)
@given(cbst.policy_rule_lists())
def test_every_generated_rule_list_is_accepted(rules: list[Rule]) -> None:
    """policy_rule_lists() always passes create_policy_v2, and describe returns as many rules."""
    hbr = _hbr()
    [policy] = hbr.describe_policies_v2(policy_id=hbr.create_policy_v2(rules=rules)).items
    assert len(rules) == len(policy.rules)
    assert [RuleType(r.rule_type) for r in rules] == [r.rule_type for r in policy.rules]


@settings(max_examples=60)
@given(cbst.invalid_policy_rule_lists())
def test_every_invalid_rule_list_is_refused_with_its_code(case: tuple[str, list[Any]]) -> None:
    """invalid_policy_rule_lists() is refused with the code it names, changing nothing."""
    code, rules = case
    cloud, hbr = _opened()
    assert code == _refused(cloud, lambda: hbr.create_policy_v2(rules=rules)).code
