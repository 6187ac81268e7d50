"""Review 9: defects found in Cloud Backup's bindings and TAG rules (each failed before its fix)."""

from __future__ import annotations

import pytest

from _helpers import INSTANCE_TYPE, REGION, ZONE, make_cloud, settle
from cloudbackup import (
    AdvancedOptions,
    BindingFilter,
    Cloud,
    PolicyBindingRequest,
    Rule,
    TagFilter,
    UdmDetail,
    errors,
)
from cloudbackup.testing import check_invariants, world_state

BACKUP = Rule("BACKUP", schedule="I|1704067200|P1D", retention=30)


def _opened(instances: int) -> tuple[Cloud, list[str]]:
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    cloud.hbr(REGION).open_hbr_service()
    vms = ecs.run_instances(zone_id=ZONE, instance_type=INSTANCE_TYPE, amount=instances)
    settle(cloud)
    return cloud, list(vms)


def _policies_of(cloud: Cloud, instance_id: str) -> list[str]:
    found = cloud.hbr(REGION).describe_policy_bindings(data_source_ids=[instance_id]).items
    return [b.policy_id for b in found]


def test_a_repeated_data_source_id_in_an_in_filter_lists_its_binding_once() -> None:
    """Filters DataSourceId IN [vm, vm] list vm's one binding once, with TotalCount 1."""
    cloud, [vm] = _opened(1)
    hbr = cloud.hbr(REGION)
    policy = hbr.create_policy_v2(rules=[BACKUP])
    hbr.create_policy_bindings(policy_id=policy, policy_binding_list=[PolicyBindingRequest(vm)])
    page = hbr.describe_policy_bindings(filters=[BindingFilter("DataSourceId", (vm, vm), "IN")])
    assert ([vm], 1) == ([b.data_source_id for b in page.items], page.total_count)


def test_an_instance_unbound_by_a_tag_change_is_bound_by_another_matching_tag_rule() -> None:
    """Untagging the key one TAG policy matched leaves the instance bound to the other TAG
    policy it still matches (its tags match now, so it is protected)."""
    cloud, [vm] = _opened(1)
    ecs, hbr = cloud.ecs(REGION), cloud.hbr(REGION)
    env = hbr.create_policy_v2(rules=[BACKUP, Rule("TAG", tag_filters=(TagFilter("env", "prod"),))])
    team = hbr.create_policy_v2(rules=[BACKUP, Rule("TAG", tag_filters=(TagFilter("team", "a"),))])
    ecs.tag_resources(resource_type="instance", resource_ids=[vm], tags=[("env", "prod")])
    ecs.tag_resources(resource_type="instance", resource_ids=[vm], tags=[("team", "a")])
    assert [env] == _policies_of(cloud, vm)
    ecs.untag_resources(resource_type="instance", resource_ids=[vm], tag_keys=["env"])
    assert [team] == _policies_of(cloud, vm)
    check_invariants(cloud)


def test_deleting_a_tag_policy_lets_another_matching_tag_rule_bind_its_instances() -> None:
    """Deleting the TAG policy an instance was bound by binds it to the other TAG policy its
    tags match, as a tag change would."""
    cloud, [vm] = _opened(1)
    ecs, hbr = cloud.ecs(REGION), cloud.hbr(REGION)
    ecs.tag_resources(resource_type="instance", resource_ids=[vm], tags=[("env", "prod")])
    first = hbr.create_policy_v2(
        rules=[BACKUP, Rule("TAG", tag_filters=(TagFilter("env", "prod"),))]
    )
    second = hbr.create_policy_v2(rules=[BACKUP, Rule("TAG", tag_filters=(TagFilter("env", ""),))])
    assert [first] == _policies_of(cloud, vm)
    hbr.delete_policy_v2(first)
    assert [second] == _policies_of(cloud, vm)
    check_invariants(cloud)


@pytest.mark.parametrize(
    "detail",
    [
        {"ram_role_name": "no such role!"},
        {"pre_script_path": "tmp/prescript.sh"},
        {"post_script_path": "postscript.sh"},
    ],
)
def test_a_binding_refuses_app_consistent_values_the_guest_agent_cannot_run(
    detail: dict[str, str],
) -> None:
    """An application-consistent binding whose role name cannot name a RAM role, or whose
    script path is not absolute, is refused and changes nothing."""
    cloud, [vm] = _opened(1)
    hbr = cloud.hbr(REGION)
    policy = hbr.create_policy_v2(rules=[BACKUP])
    fields = {
        "app_consistent": True,
        "ram_role_name": "AliyunECSInstanceForHbrRole",
        "pre_script_path": "/tmp/prescript.sh",
        "post_script_path": "/tmp/postscript.sh",
        **detail,
    }
    request = PolicyBindingRequest(vm, advanced_options=AdvancedOptions(UdmDetail(**fields)))  # type: ignore[arg-type]
    before = world_state(cloud)
    with pytest.raises(errors.CloudBackupError):
        hbr.create_policy_bindings(policy_id=policy, policy_binding_list=[request])
    assert before == world_state(cloud)
