"""Every refused Cloud Backup call changes nothing, on both backends, whatever the bad input:
records, indexes, counters, events and the clock stay as they were."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _helpers import INSTANCE_TYPE, OTHER_REGION, REGION, ZONE
from cloudbackup import (
    AdvancedOptions,
    BindingFilter,
    Cloud,
    DataDisk,
    InMemoryBackend,
    PolicyBindingRequest,
    Rule,
    SqliteBackend,
    TagFilter,
    UdmDetail,
    errors,
)
from cloudbackup.testing import check_invariants, world_state
from cloudbackup.testing import strategies as cbst

BACKENDS = ["memory", "sqlite"]
BACKUP = Rule("BACKUP", schedule="I|1704067200|P1D", retention=30)


class World:
    """An opened Cloud Backup with policies (one with TAG, REPLICATION and SECURITY rules),
    bound and unbound instances, and a replication key."""

    def __init__(self, backend_name: str) -> None:
        if backend_name == "sqlite":
            path = Path(tempfile.mkdtemp()) / "world.db"
            backend: Any = SqliteBackend(path)
        else:
            backend = InMemoryBackend()
        self.cloud = cloud = Cloud(backend=backend, seed=3, block_size=4096)
        self.ecs = cloud.ecs(REGION)
        self.hbr = cloud.hbr(REGION)
        self.hbr.open_hbr_service()
        self.key = cloud.kms(OTHER_REGION).create_key().key_id
        self.vms = self.ecs.run_instances(
            zone_id=ZONE, instance_type=INSTANCE_TYPE, amount=4, data_disks=[DataDisk(size=20)]
        )
        self.ecs.tag_resources(
            resource_type="instance", resource_ids=[self.vms[3]], tags=[("env", "prod")]
        )
        cloud.advance(dt.timedelta(minutes=5))
        self.policy = self.hbr.create_policy_v2(
            rules=[
                BACKUP,
                Rule("REPLICATION", replication_region_id=OTHER_REGION, retention=7),
                Rule("SECURITY", immutable=True),
                Rule("TAG", tag_filters=(TagFilter("env", "prod"),)),
            ]
        )
        self.plain = self.hbr.create_policy_v2(rules=[BACKUP])
        self.hbr.create_policy_bindings(
            policy_id=self.policy,
            policy_binding_list=[
                PolicyBindingRequest(
                    self.vms[0],
                    advanced_options=AdvancedOptions(UdmDetail(destination_kms_key_id=self.key)),
                )
            ],
        )
        self.hbr.create_policy_bindings(
            policy_id=self.plain, policy_binding_list=[PolicyBindingRequest(self.vms[1])]
        )
        self.state = world_state(cloud)


_WORLDS: dict[str, World] = {}


def _world(backend_name: str) -> World:
    if backend_name not in _WORLDS:
        _WORLDS[backend_name] = World(backend_name)
    return _WORLDS[backend_name]


class Sly(str):
    """A str subclass that claims to equal everything."""

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0


def _bad_ids(w: World) -> st.SearchStrategy[Any]:
    return st.sampled_from(
        ["", "\ud800", "i-none", 7, True, None, b"i-1", ["i-1"], Sly("i-none"), "x" * 200]
    )


def _bad_calls(w: World) -> st.SearchStrategy[tuple[str, Callable[[], object]]]:
    hbr = w.hbr
    free = w.vms[2]
    invalid_rules = cbst.invalid_policy_rule_lists()
    bad_options = st.sampled_from(
        [
            "options",
            AdvancedOptions("detail"),  # type: ignore[arg-type]
            AdvancedOptions(UdmDetail(disk_id_list=("d-none",))),
            AdvancedOptions(UdmDetail(snapshot_group=1)),  # type: ignore[arg-type]
            AdvancedOptions(UdmDetail(timeout_in_seconds=0)),
            AdvancedOptions(UdmDetail(app_consistent=True)),
            AdvancedOptions(UdmDetail(destination_kms_key_id="key-none")),
            AdvancedOptions(UdmDetail(destination_kms_key_id="\udcff")),
            AdvancedOptions(UdmDetail(ram_role_name="")),
        ]
    )
    bad_disabled = st.sampled_from(["yes", 1, 0, None, "TRUE", 2.0])
    return st.one_of(
        invalid_rules.map(lambda c: ("create", lambda: hbr.create_policy_v2(rules=c[1]))),
        invalid_rules.map(
            lambda c: ("update", lambda: hbr.update_policy_v2(policy_id=w.plain, rules=c[1]))
        ),
        st.just(("immutable", lambda: hbr.update_policy_v2(policy_id=w.policy, rules=[BACKUP]))),
        _bad_ids(w).map(lambda i: ("delete-policy", lambda: hbr.delete_policy_v2(i))),
        st.tuples(_bad_ids(w), st.integers(0, 2)).map(
            lambda p: (
                "bind-id",
                lambda: hbr.create_policy_bindings(
                    policy_id=w.plain,
                    policy_binding_list=[
                        PolicyBindingRequest(free),
                        PolicyBindingRequest(p[0]),
                    ][p[1] % 2 :],
                ),
            )
        ),
        st.sampled_from(w.vms[:2]).map(
            lambda vm: (
                "bound",
                lambda: hbr.create_policy_bindings(
                    policy_id=w.plain,
                    policy_binding_list=[PolicyBindingRequest(free), PolicyBindingRequest(vm)],
                ),
            )
        ),
        bad_options.map(
            lambda o: (
                "options",
                lambda: hbr.create_policy_bindings(
                    policy_id=w.plain,
                    policy_binding_list=[PolicyBindingRequest(free, advanced_options=o)],
                ),
            )
        ),
        bad_disabled.map(
            lambda d: (
                "disabled",
                lambda: hbr.create_policy_bindings(
                    policy_id=w.plain,
                    policy_binding_list=[PolicyBindingRequest(free, disabled=d)],
                ),
            )
        ),
        bad_disabled.filter(lambda d: d is not None).map(
            lambda d: (
                "update-disabled",
                lambda: hbr.update_policy_binding(
                    policy_id=w.plain, data_source_id=w.vms[1], disabled=d
                ),
            )
        ),
        st.just(
            (
                "key-change",
                lambda: hbr.update_policy_binding(
                    policy_id=w.policy,
                    data_source_id=w.vms[0],
                    advanced_options=AdvancedOptions(UdmDetail(destination_kms_key_id="other")),
                ),
            )
        ),
        _bad_ids(w).map(
            lambda i: (
                "unbind",
                lambda: hbr.delete_policy_binding(policy_id=w.plain, data_source_ids=[w.vms[1], i]),
            )
        ),
        _bad_ids(w).map(lambda i: ("stop", lambda: hbr.delete_udm_ecs_instance(i))),
        _bad_ids(w).map(lambda i: ("disk", lambda: hbr.delete_udm_disk(i))),
        st.sampled_from(
            [
                [BindingFilter("Status", ("x",))],
                [BindingFilter("PolicyId", ())],
                "filters",
                [BindingFilter("PolicyId", ("\ud800",))],
            ]
        ).map(lambda f: ("describe", lambda: hbr.describe_policy_bindings(filters=f))),
        st.sampled_from([9, 101, True, "x"]).map(
            lambda n: ("page", lambda: hbr.describe_policies_v2(max_results=n))
        ),
        st.sampled_from(["", "udmrole", None, Sly("x")]).map(
            lambda t: ("role", lambda: hbr.check_role(t))
        ),
    )


@pytest.mark.parametrize("backend_name", BACKENDS)
@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_every_refused_call_changes_nothing(backend_name: str, data: st.DataObject) -> None:
    """A bad request raises a typed error with a code and a recommendation; state is unchanged."""
    w = _world(backend_name)
    label, call = data.draw(_bad_calls(w))
    with pytest.raises(errors.CloudBackupError) as info:
        call()
    assert info.value.code and info.value.recommend, label
    assert w.state == world_state(w.cloud), label


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_the_world_still_holds_its_invariants(backend_name: str) -> None:
    """After every refusal the world is consistent and the same calls still succeed."""
    w = _world(backend_name)
    check_invariants(w.cloud)
    assert 3 == w.hbr.describe_policy_bindings().total_count  # one bound by its tag


def test_both_backends_give_the_same_answers() -> None:
    """The same calls on memory and SQLite give the same policies and bindings."""
    answers = []
    for name in BACKENDS:
        w = World(name)
        answers.append((w.hbr.describe_policies_v2().items, w.hbr.describe_policy_bindings().items))
    assert answers[0] == answers[1]


def test_a_sly_str_id_is_used_as_its_plain_text() -> None:
    """A str subclass that equals everything names exactly its own text."""
    w = World("memory")
    with pytest.raises(errors.ResourceNotFoundError):
        w.hbr.delete_policy_v2(Sly("po-000none"))
    w.hbr.create_policy_bindings(
        policy_id=Sly(w.plain), policy_binding_list=[PolicyBindingRequest(Sly(w.vms[2]))]
    )
    binding = w.hbr.describe_policy_bindings(data_source_ids=[w.vms[2]]).items[0]
    assert (str, str) == (type(binding.data_source_id), type(binding.policy_id))
    assert attrs.evolve(binding).data_source_id == w.vms[2]
