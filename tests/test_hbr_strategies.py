"""The Cloud Backup strategies of cloudbackup.testing.strategies: what they generate passes the
real calls, and bad arguments to them are refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from _helpers import INSTANCE_TYPE, REGION, ZONE, make_cloud
from cloudbackup import (
    AdvancedRetentionType,
    PolicyBindingRequest,
    RetentionRule,
    Rule,
    TagFilter,
)
from cloudbackup.testing import check_invariants
from cloudbackup.testing import strategies as cbst

BACKUP = Rule("BACKUP", schedule="I|1704067200|P1D", retention=30)


@settings(max_examples=30)
@given(st.data())
def test_binding_requests_are_accepted(data: st.DataObject) -> None:
    """binding_requests() of existing instances always bind, all of them at once."""
    cloud = make_cloud()
    hbr = cloud.hbr(REGION)
    hbr.open_hbr_service()
    vms = cloud.ecs(REGION).run_instances(zone_id=ZONE, instance_type=INSTANCE_TYPE, amount=3)
    requests = data.draw(
        st.lists(
            cbst.binding_requests(st.sampled_from(vms)),
            min_size=1,
            max_size=3,
            unique_by=lambda r: r.data_source_id,
        )
    )
    policy = hbr.create_policy_v2(rules=[BACKUP])
    hbr.create_policy_bindings(policy_id=policy, policy_binding_list=requests)
    assert len(requests) == hbr.describe_policy_bindings(policy_id=policy).total_count
    check_invariants(cloud)


@settings(max_examples=30)
@given(cbst.retention_rules(), cbst.tag_filters())
def test_retention_rules_and_tag_filters_are_accepted(
    specials: tuple[RetentionRule, ...], tag: TagFilter
) -> None:
    """retention_rules() and tag_filters() pass create_policy_v2."""
    hbr = make_cloud().hbr(REGION)
    hbr.open_hbr_service()
    rules = [
        BACKUP,
        Rule("TRANSITION", retention=30, retention_rules=specials),
        Rule("TAG", tag_filters=(tag,)),
    ]
    [policy] = hbr.describe_policies_v2(policy_id=hbr.create_policy_v2(rules=rules)).items
    assert [AdvancedRetentionType(s.advanced_retention_type) for s in specials] == [
        s.advanced_retention_type for s in policy.rules[1].retention_rules
    ]


@given(cbst.policy_schedules())
def test_policy_schedules_parse(text: str) -> None:
    """policy_schedules() are valid BACKUP schedules."""
    from cloudbackup._domain.schedule import parse_schedule

    assert parse_schedule(text).text


@pytest.mark.parametrize(
    "build",
    [
        lambda: cbst.policy_rule_lists(region_id="mars-1"),
        lambda: cbst.invalid_policy_rule_lists(region_id=3),
        lambda: cbst.retention_rules(max_size=5),
        lambda: cbst.retention_rules(max_size=True),
        lambda: cbst.binding_requests("i-1"),  # type: ignore[arg-type]
    ],
)
def test_bad_strategy_arguments_raise(build: Callable[[], object]) -> None:
    """A Cloud Backup strategy called with a bad argument raises InvalidArgument at once."""
    with pytest.raises(InvalidArgument):
        build()


def test_binding_requests_draw_the_wire_strings() -> None:
    """The wire's "true"/"false" for Disabled is among what binding_requests() draws."""
    seen: set[object] = set()

    @settings(max_examples=200)
    @given(cbst.binding_requests(st.just("i-1")))
    def collect(request: PolicyBindingRequest) -> None:
        seen.add(request.disabled)

    collect()
    assert {"true", "false"} <= seen


def test_backup_job_filters_refuses_more_than_five() -> None:
    """backup_job_filters(max_size=6) is refused: DescribeBackupJobs2 takes at most 5 filters."""
    with pytest.raises(InvalidArgument):
        cbst.backup_job_filters(max_size=6).example()
