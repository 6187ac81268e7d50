"""Cloud Backup: policy bindings ("Add ECS Backup"), Stop Backup, DeleteUdmDisk, TAG rules."""

from __future__ import annotations

import re
from collections.abc import Callable

import attrs
import pytest

from _helpers import INSTANCE_TYPE, OTHER_REGION, REGION, ZONE, make_cloud, settle
from cloudbackup import (
    AdvancedOptions,
    BindingFilter,
    Cloud,
    DataDisk,
    HbrService,
    PolicyBinding,
    PolicyBindingCreated,
    PolicyBindingDeleted,
    PolicyBindingRequest,
    Rule,
    ServiceLinkedRoleCreated,
    SnapshotServiceActivated,
    TagFilter,
    UdmDetail,
    errors,
)
from cloudbackup.testing import check_invariants, world_state

DAILY = "I|1704067200|P1D"
BACKUP = Rule("BACKUP", schedule=DAILY, retention=30)
APP = UdmDetail(
    app_consistent=True,
    ram_role_name="AliyunECSInstanceForHbrRole",
    pre_script_path="/tmp/prescript.sh",
    post_script_path="/tmp/postscript.sh",
)


class World:
    """An opened Cloud Backup with a policy and instances of several kinds."""

    def __init__(self, *, instances: int = 3) -> None:
        self.cloud: Cloud = make_cloud()
        self.ecs = self.cloud.ecs(REGION)
        self.hbr: HbrService = self.cloud.hbr(REGION)
        self.hbr.open_hbr_service()
        self.policy = self.hbr.create_policy_v2(rules=[BACKUP])
        self.vms = self.ecs.run_instances(
            zone_id=ZONE, instance_type=INSTANCE_TYPE, amount=instances,
            data_disks=[DataDisk(size=20)],
        )  # fmt: skip
        [self.mixed] = self.ecs.run_instances(
            zone_id=ZONE,
            instance_type=INSTANCE_TYPE,
            data_disks=[DataDisk(size=20), DataDisk(category="cloud_ssd", size=20)],
        )
        [self.local] = self.ecs.run_instances(
            zone_id=ZONE,
            instance_type=INSTANCE_TYPE,
            data_disks=[DataDisk(category="local_ssd_pro", size=100)],
        )
        settle(self.cloud)

    def disks(self, instance_id: str) -> list[str]:
        """The instance's disks, system disk first."""
        found = self.ecs.describe_disks(instance_id=instance_id, page_size=100).items
        return [d.disk_id for d in sorted(found, key=lambda d: d.device or "")]

    def bind(self, *instance_ids: str, policy: str | None = None, **fields: object) -> None:
        """Bind instances to the policy."""
        self.hbr.create_policy_bindings(
            policy_id=policy or self.policy,
            policy_binding_list=[PolicyBindingRequest(i, **fields) for i in instance_ids],  # type: ignore[arg-type]
        )

    def binding(self, instance_id: str) -> PolicyBinding:
        """The instance's one binding."""
        [found] = self.hbr.describe_policy_bindings(data_source_ids=[instance_id]).items
        return found

    def refused(self, call: Callable[[], object]) -> errors.CloudBackupError:
        """Run a call that must fail; assert it changed nothing; return the error."""
        before = world_state(self.cloud)
        with pytest.raises(errors.CloudBackupError) as info:
            call()
        assert before == world_state(self.cloud)
        return info.value


# -- binding ---------------------------------------------------------------------------------
def test_first_binding_creates_the_role_and_activates_snapshots() -> None:
    """The role and the snapshot service appear once, as records, events and CheckRole."""
    w = World()
    assert False is w.hbr.check_role("UdmRole")
    w.bind(w.vms[0])
    w.bind(w.vms[1])
    assert True is w.hbr.check_role("UdmRole")
    account = w.hbr.describe_hbr_account()
    assert ("AliyunServiceRoleForHbrEcsBackup",) == account.roles
    assert account.snapshot_service_activated_time == w.cloud.now()
    assert ["AliyunServiceRoleForHbrEcsBackup"] == [
        e.role_name for e in w.cloud.events.list(ServiceLinkedRoleCreated)
    ]
    assert 1 == len(w.cloud.events.list(SnapshotServiceActivated))
    check_invariants(w.cloud)


def test_a_binding_has_the_real_fields() -> None:
    """Id pd-000…, protect all disks, snapshot group on, default timeout 30, not by tag."""
    w = World()
    w.bind(w.vms[0])
    binding = w.binding(w.vms[0])
    assert re.fullmatch(r"pd-000[0-9a-z]{17}", binding.policy_binding_id)
    assert (w.policy, w.vms[0], "UDM_ECS", False, False) == (
        binding.policy_id,
        binding.data_source_id,
        binding.source_type,
        binding.disabled,
        binding.created_by_tag,
    )
    assert UdmDetail() == binding.udm_detail
    assert 30 == binding.udm_detail.timeout_in_seconds
    [policy] = w.hbr.describe_policies_v2(policy_id=w.policy).items
    assert 1 == policy.policy_binding_count


def test_99_instances_in_one_call_but_not_100() -> None:
    """PolicyBindingList holds 1 to 99 instances."""
    w = World(instances=100)
    assert "BadRequest" == w.refused(lambda: w.bind(*w.vms)).code
    w.bind(*w.vms[:99])
    [policy] = w.hbr.describe_policies_v2(policy_id=w.policy).items
    assert 99 == policy.policy_binding_count
    assert "BadRequest" == w.refused(lambda: w.bind()).code


def test_one_policy_per_instance() -> None:
    """A bound instance cannot be bound again, to this or another policy."""
    w = World()
    other = w.hbr.create_policy_v2(rules=[BACKUP])
    w.bind(w.vms[0])
    for policy in (w.policy, other):
        error = w.refused(lambda p=policy: w.bind(w.vms[0], policy=p))
        assert ("PolicyAlreadyBoundWithThisDataSource", 400) == (error.code, error.http_status)
        assert (w.vms[0], w.policy) == error.ids


def test_a_call_binds_all_or_nothing() -> None:
    """One bad instance in the list: none of the others is bound."""
    w = World()
    w.bind(w.vms[2])
    assert "PolicyAlreadyBoundWithThisDataSource" == w.refused(lambda: w.bind(*w.vms)).code
    assert "InvalidInstanceId.NotFound" == w.refused(lambda: w.bind(w.vms[0], "i-none")).code
    assert "BadRequest" == w.refused(lambda: w.bind(w.vms[0], w.vms[0])).code


def test_instances_of_another_region_are_not_found() -> None:
    """The service's region is the instance's region (UdmRegionId)."""
    w = World()
    hbr = w.cloud.hbr(OTHER_REGION)
    policy = hbr.create_policy_v2(rules=[BACKUP])
    error = w.refused(
        lambda: hbr.create_policy_bindings(
            policy_id=policy, policy_binding_list=[PolicyBindingRequest(w.vms[0])]
        )
    )
    assert "InvalidInstanceId.NotFound" == error.code


def test_a_standard_policy_cannot_protect_instances() -> None:
    """UDM_ECS needs a UDM_ECS_ONLY policy; one keeping backups for ever gets the seed message."""
    w = World()
    standard = w.hbr.create_policy_v2(rules=[attrs.evolve(BACKUP, vault_id="v-1")])
    assert "BadRequest" == w.refused(lambda: w.bind(w.vms[0], policy=standard)).code
    forever = w.hbr.create_policy_v2(rules=[attrs.evolve(BACKUP, vault_id="v-1", retention=-1)])
    error = w.refused(lambda: w.bind(w.vms[0], policy=forever))
    assert error.message.startswith("The policy contains permanent retention rules")


@pytest.mark.parametrize(
    ("value", "expected"), [(True, True), (False, False), ("true", True), ("false", False)]
)
def test_disabled_takes_the_wire_strings(value: object, expected: bool) -> None:
    """CreatePolicyBindings' Disabled may be the wire's "true"/"false"."""
    w = World()
    w.bind(w.vms[0], disabled=value)
    assert expected is w.binding(w.vms[0]).disabled


@pytest.mark.parametrize("value", ["True", "yes", 1, None])
def test_disabled_refuses_other_values(value: object) -> None:
    """Anything but a bool or "true"/"false" is BadRequest."""
    w = World()
    assert "BadRequest" == w.refused(lambda: w.bind(w.vms[0], disabled=value)).code


def test_update_suspends_and_resumes_with_a_bool_only() -> None:
    """UpdatePolicyBinding's Disabled is a boolean: "true" is refused there."""
    w = World()
    w.bind(w.vms[0])
    w.hbr.update_policy_binding(policy_id=w.policy, data_source_id=w.vms[0], disabled=True)
    assert True is w.binding(w.vms[0]).disabled
    error = w.refused(
        lambda: w.hbr.update_policy_binding(
            policy_id=w.policy,
            data_source_id=w.vms[0],
            disabled="false",  # type: ignore[arg-type]
        )
    )
    assert "BadRequest" == error.code
    w.hbr.update_policy_binding(policy_id=w.policy, data_source_id=w.vms[0], disabled=False)
    assert False is w.binding(w.vms[0]).disabled


def test_update_of_an_unbound_instance_is_not_found() -> None:
    """Updating a binding that does not exist is ResourceNotFound."""
    w = World()
    error = w.refused(
        lambda: w.hbr.update_policy_binding(policy_id=w.policy, data_source_id=w.vms[0])
    )
    assert "ResourceNotFound" == error.code


# -- disks and application consistency -------------------------------------------------------
def test_disk_lists() -> None:
    """Listed disks must be attached and not local; the exclude list is kept as given."""
    w = World()
    system, data = w.disks(w.vms[0])
    only = AdvancedOptions(UdmDetail(disk_id_list=(data,), exclude_disk_id_list=(system,)))
    w.bind(w.vms[0], advanced_options=only)
    assert (data,) == w.binding(w.vms[0]).udm_detail.disk_id_list
    foreign = AdvancedOptions(UdmDetail(disk_id_list=(data,)))
    assert (
        "InvalidDiskId.NotFound"
        == w.refused(lambda: w.bind(w.vms[1], advanced_options=foreign)).code
    )
    local = w.disks(w.local)[1]
    error = w.refused(
        lambda: w.bind(w.local, advanced_options=AdvancedOptions(UdmDetail(disk_id_list=(local,))))
    )
    assert "DiskCategory.OperationNotSupported" == error.code
    w.bind(w.local)  # protect all: local disks are skipped by jobs, not refused here


def test_application_consistency_rules() -> None:
    """One instance, ESSD disks, a RAM role and both scripts."""
    w = World()
    app = AdvancedOptions(APP)
    assert "BadRequest" == w.refused(lambda: w.bind(w.vms[0], w.vms[1], advanced_options=app)).code
    no_role = AdvancedOptions(attrs.evolve(APP, ram_role_name=None))
    assert "BadRequest" == w.refused(lambda: w.bind(w.vms[0], advanced_options=no_role)).code
    error = w.refused(lambda: w.bind(w.mixed, advanced_options=app))
    assert "DiskCategory.OperationNotSupported" == error.code
    essd_only = AdvancedOptions(attrs.evolve(APP, disk_id_list=tuple(w.disks(w.mixed)[:2])))
    w.bind(w.mixed, advanced_options=essd_only)
    w.bind(w.vms[0], advanced_options=app)
    detail = w.binding(w.vms[0]).udm_detail
    assert (True, 30, True, True) == (
        detail.app_consistent,
        detail.timeout_in_seconds,
        detail.enable_fs_freeze,
        detail.enable_writers,
    )


@pytest.mark.parametrize("timeout", [0, 3601, True, 30.0])
def test_timeout_in_seconds_bounds(timeout: object) -> None:
    """TimeoutInSeconds is an int of 1–3,600 s."""
    w = World()
    app = AdvancedOptions(attrs.evolve(APP, timeout_in_seconds=timeout))
    assert "BadRequest" == w.refused(lambda: w.bind(w.vms[0], advanced_options=app)).code


# -- the replication key ---------------------------------------------------------------------
def test_destination_kms_key() -> None:
    """The key must be an Enabled symmetric key of the REPLICATION region, fixed once set."""
    w = World()
    kms = w.cloud.kms(OTHER_REGION)
    key = kms.create_key().key_id
    other_key = kms.create_key().key_id
    off = kms.create_key().key_id
    kms.disable_key(off)
    here = w.cloud.kms(REGION).create_key().key_id
    keyed = lambda k: AdvancedOptions(UdmDetail(destination_kms_key_id=k))  # noqa: E731
    assert "BadRequest" == w.refused(lambda: w.bind(w.vms[0], advanced_options=keyed(key))).code
    replicated = w.hbr.create_policy_v2(
        rules=[BACKUP, Rule("REPLICATION", replication_region_id=OTHER_REGION, retention=7)]
    )
    error = w.refused(lambda: w.bind(w.vms[0], policy=replicated, advanced_options=keyed(here)))
    assert "InvalidParameter.KMSKeyId.NotFound" == error.code
    error = w.refused(lambda: w.bind(w.vms[0], policy=replicated, advanced_options=keyed(off)))
    assert "InvalidParameter.KMSKeyId.CMKNotEnabled" == error.code
    w.bind(w.vms[0], policy=replicated, advanced_options=keyed(key))
    assert key == w.binding(w.vms[0]).udm_detail.destination_kms_key_id
    error = w.refused(
        lambda: w.hbr.update_policy_binding(
            policy_id=replicated, data_source_id=w.vms[0], advanced_options=keyed(other_key)
        )
    )
    assert "OperationDenied.KmsKeyImmutable" == error.code
    w.hbr.update_policy_binding(
        policy_id=replicated, data_source_id=w.vms[0], advanced_options=keyed(None)
    )
    assert key == w.binding(w.vms[0]).udm_detail.destination_kms_key_id


# -- unbinding -------------------------------------------------------------------------------
def test_delete_policy_binding() -> None:
    """Unbinding removes the bindings and lowers the count; unknown ones are refused whole."""
    w = World()
    w.bind(*w.vms)
    error = w.refused(
        lambda: w.hbr.delete_policy_binding(policy_id=w.policy, data_source_ids=[w.vms[0], w.mixed])
    )
    assert "ResourceNotFound" == error.code
    w.hbr.delete_policy_binding(policy_id=w.policy, data_source_ids=[w.vms[0], w.vms[1]])
    assert [w.vms[2]] == [b.data_source_id for b in w.hbr.describe_policy_bindings().items]
    [policy] = w.hbr.describe_policies_v2(policy_id=w.policy).items
    assert 1 == policy.policy_binding_count
    assert 2 == len(w.cloud.events.list(PolicyBindingDeleted))
    check_invariants(w.cloud)


def test_deleting_a_policy_unbinds_everything() -> None:
    """DeletePolicyV2 removes every binding; the instances can be bound again."""
    w = World()
    w.bind(*w.vms)
    w.hbr.delete_policy_v2(w.policy)
    assert 0 == w.hbr.describe_policy_bindings().total_count
    w.bind(w.vms[0], policy=w.hbr.create_policy_v2(rules=[BACKUP]))
    check_invariants(w.cloud)


def test_stop_backup_removes_the_binding_even_of_a_released_instance() -> None:
    """DeleteUdmEcsInstance removes the instance's binding, released or not."""
    w = World()
    w.bind(w.vms[0], w.vms[1])
    w.ecs.delete_instance(w.vms[1], force=True)
    w.hbr.delete_udm_ecs_instance(w.vms[1])
    w.hbr.delete_udm_ecs_instance(w.vms[0])
    assert 0 == w.hbr.describe_policy_bindings().total_count
    assert "ResourceNotFound" == w.refused(lambda: w.hbr.delete_udm_ecs_instance(w.vms[0])).code
    check_invariants(w.cloud)


def test_delete_udm_disk() -> None:
    """Protect all: the disk is excluded; a list: it leaves it, and the last one unbinds."""
    w = World()
    data = w.disks(w.vms[0])[1]
    w.bind(w.vms[0])
    w.hbr.delete_udm_disk(data)
    assert (data,) == w.binding(w.vms[0]).udm_detail.exclude_disk_id_list
    assert "ResourceNotFound" == w.refused(lambda: w.hbr.delete_udm_disk(data)).code
    s1, d1 = w.disks(w.vms[1])
    w.bind(w.vms[1], advanced_options=AdvancedOptions(UdmDetail(disk_id_list=(s1, d1))))
    w.hbr.delete_udm_disk(s1)
    assert (d1,) == w.binding(w.vms[1]).udm_detail.disk_id_list
    w.hbr.delete_udm_disk(d1)
    assert () == w.hbr.describe_policy_bindings(data_source_ids=[w.vms[1]]).items
    assert "ResourceNotFound" == w.refused(lambda: w.hbr.delete_udm_disk("d-none")).code
    check_invariants(w.cloud)


# -- describing ------------------------------------------------------------------------------
def test_describe_pages_and_filters() -> None:
    """Token pages in (policy, instance) order; per-policy pages; filters by key and operator."""
    w = World(instances=12)
    other = w.hbr.create_policy_v2(rules=[BACKUP])
    w.bind(*w.vms[:8])
    w.bind(*w.vms[8:], policy=other)
    everything = []
    token = None
    while True:
        page = w.hbr.describe_policy_bindings(next_token=token)
        assert 12 == page.total_count
        everything.extend(page.items)
        token = page.next_token
        if token is None:
            break
    keys = [(b.policy_id, b.data_source_id) for b in everything]
    assert sorted(keys) == keys and 12 == len(set(keys))
    mine = w.hbr.describe_policy_bindings(policy_id=w.policy, max_results=10)
    assert (8, None) == (mine.total_count, mine.next_token)
    assert sorted(w.vms[:8]) == [b.data_source_id for b in mine]
    first = w.hbr.describe_policy_bindings(policy_id=other, max_results=10)
    assert 4 == len(first.items)
    by_filter = w.hbr.describe_policy_bindings(
        filters=[BindingFilter("PolicyId", (other,), "EQUAL")]
    )
    assert sorted(w.vms[8:]) == [b.data_source_id for b in by_filter]
    not_other = w.hbr.describe_policy_bindings(
        filters=[BindingFilter("PolicyId", (other,), "NOT_EQUAL")], max_results=100
    )
    assert 8 == not_other.total_count
    between = w.hbr.describe_policy_bindings(
        filters=[BindingFilter("DataSourceId", tuple(sorted(w.vms)[2:4]), "BETWEEN")]
    )
    assert sorted(w.vms)[2:4] == [b.data_source_id for b in between]
    for bad in (
        BindingFilter("Status", ("x",)),
        BindingFilter("PolicyId", ("x",), "LIKE"),
        BindingFilter("PolicyId", ("a", "b"), "EQUAL"),
        BindingFilter("PolicyId", tuple("abcdefghijk")),
    ):
        assert (
            "BadRequest"
            == w.refused(lambda b=bad: w.hbr.describe_policy_bindings(filters=[b])).code
        )


def test_a_token_pages_within_its_policy() -> None:
    """A policy's pages never leave the policy, whatever the token."""
    w = World(instances=25)
    other = w.hbr.create_policy_v2(rules=[BACKUP])
    w.bind(*w.vms[:5], policy=other)
    w.bind(*w.vms[5:])
    seen = []
    token = None
    while True:
        page = w.hbr.describe_policy_bindings(policy_id=w.policy, next_token=token)
        seen.extend(b.data_source_id for b in page)
        token = page.next_token
        if token is None:
            break
    assert sorted(w.vms[5:]) == seen


# -- TAG rules -------------------------------------------------------------------------------
def _tag_policy(w: World, *filters: TagFilter) -> str:
    return w.hbr.create_policy_v2(rules=[BACKUP, Rule("TAG", tag_filters=filters)])


def test_a_tag_rule_binds_matching_instances_now() -> None:
    """Creating a TAG policy binds the instances tagged so; they show created_by_tag/hit_tags."""
    w = World()
    w.ecs.tag_resources(resource_type="instance", resource_ids=w.vms[:2], tags=[("env", "prod")])
    w.ecs.tag_resources(resource_type="instance", resource_ids=[w.vms[2]], tags=[("env", "dev")])
    policy = _tag_policy(w, TagFilter("env", "prod"))
    bound = w.hbr.describe_policy_bindings(policy_id=policy).items
    assert sorted(w.vms[:2]) == [b.data_source_id for b in bound]
    assert all(b.created_by_tag for b in bound)
    assert [(TagFilter("env", "prod", "EQUAL"),)] * 2 == [b.hit_tags for b in bound]
    assert True is w.hbr.check_role("UdmRole")
    check_invariants(w.cloud)


def test_tag_changes_bind_and_unbind_later() -> None:
    """Tagging binds, retagging or untagging unbinds; a called binding is never unbound."""
    w = World()
    policy = _tag_policy(w, TagFilter("env", "prod"))
    w.bind(w.vms[2])  # bound by a call, to the other policy
    w.ecs.tag_resources(resource_type="instance", resource_ids=w.vms, tags=[("env", "prod")])
    bound = w.hbr.describe_policy_bindings(policy_id=policy).items
    assert sorted(w.vms[:2]) == [b.data_source_id for b in bound]
    assert w.policy == w.binding(w.vms[2]).policy_id
    w.ecs.tag_resources(resource_type="instance", resource_ids=[w.vms[0]], tags=[("env", "dev")])
    w.ecs.untag_resources(resource_type="instance", resource_ids=[w.vms[1]], tag_keys=["env"])
    assert () == w.hbr.describe_policy_bindings(policy_id=policy).items
    assert 2 == len([e for e in w.cloud.events.list(PolicyBindingCreated) if e.created_by_tag])
    [p] = w.hbr.describe_policies_v2(policy_id=policy).items
    assert 0 == p.policy_binding_count
    check_invariants(w.cloud)


def test_new_instances_with_tags_are_bound() -> None:
    """An instance created with a matching tag is bound at once."""
    w = World()
    policy = _tag_policy(w, TagFilter("team", "", "EQUAL"))
    [vm] = w.ecs.run_instances(zone_id=ZONE, instance_type=INSTANCE_TYPE, tags=[("team", "a")])
    assert [vm] == [b.data_source_id for b in w.hbr.describe_policy_bindings(policy_id=policy)]


def test_not_operator_and_empty_values() -> None:
    """NOT matches the key with another value; EQUAL with an empty value matches any value."""
    w = World()
    w.ecs.tag_resources(resource_type="instance", resource_ids=[w.vms[0]], tags=[("env", "prod")])
    w.ecs.tag_resources(resource_type="instance", resource_ids=[w.vms[1]], tags=[("env", "dev")])
    policy = _tag_policy(w, TagFilter("env", "prod", "NOT"))
    assert [w.vms[1]] == [
        b.data_source_id for b in w.hbr.describe_policy_bindings(policy_id=policy)
    ]


def test_updating_the_tag_rule_rebinds() -> None:
    """A new filter unbinds tag-made bindings that stop matching and binds the new matches."""
    w = World()
    w.ecs.tag_resources(resource_type="instance", resource_ids=[w.vms[0]], tags=[("env", "prod")])
    w.ecs.tag_resources(resource_type="instance", resource_ids=[w.vms[1]], tags=[("env", "dev")])
    policy = _tag_policy(w, TagFilter("env", "prod"))
    w.hbr.update_policy_v2(
        policy_id=policy, rules=[BACKUP, Rule("TAG", tag_filters=(TagFilter("env", "dev"),))]
    )
    assert [w.vms[1]] == [
        b.data_source_id for b in w.hbr.describe_policy_bindings(policy_id=policy)
    ]
    w.hbr.update_policy_v2(policy_id=policy, rules=[BACKUP])
    assert () == w.hbr.describe_policy_bindings(policy_id=policy).items
    check_invariants(w.cloud)


def test_tags_before_the_service_is_opened_do_nothing() -> None:
    """ECS tag changes reach Cloud Backup only once it is opened (no records before)."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    [vm] = ecs.run_instances(zone_id=ZONE, instance_type=INSTANCE_TYPE, tags=[("env", "prod")])
    ecs.tag_resources(resource_type="instance", resource_ids=[vm], tags=[("env", "dev")])
    assert cloud.hbr(REGION).describe_hbr_account().opened is False


def test_hit_tags_follow_the_rule_that_matches() -> None:
    """When an update changes the matching filter, the binding's hit tags follow it."""
    w = World()
    w.ecs.tag_resources(
        resource_type="instance", resource_ids=[w.vms[0]], tags=[("env", "prod"), ("team", "a")]
    )
    policy = _tag_policy(w, TagFilter("env", "prod"))
    new = (TagFilter("team", "a"),)
    w.hbr.update_policy_v2(policy_id=policy, rules=[BACKUP, Rule("TAG", tag_filters=new)])
    assert new == w.binding(w.vms[0]).hit_tags
    check_invariants(w.cloud)


def test_a_released_instance_keeps_its_tag_binding_until_stop_backup() -> None:
    """Releasing a tag-bound instance leaves its binding (its next job will fail) until Stop
    Backup removes it."""
    w = World()
    w.ecs.tag_resources(resource_type="instance", resource_ids=[w.vms[0]], tags=[("env", "prod")])
    policy = _tag_policy(w, TagFilter("env", "prod"))
    w.ecs.delete_instance(w.vms[0], force=True)
    w.hbr.update_policy_v2(policy_id=policy, rules=[BACKUP])
    assert [w.vms[0]] == [
        b.data_source_id for b in w.hbr.describe_policy_bindings(policy_id=policy)
    ]
    w.hbr.delete_udm_ecs_instance(w.vms[0])
    assert () == w.hbr.describe_policy_bindings(policy_id=policy).items
