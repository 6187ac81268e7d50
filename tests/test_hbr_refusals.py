"""Every refused call of Cloud Backup's jobs, points and Run Now changes nothing, on both
backends: records, indexes, counters, timers, events and the clock stay as they were.

(Policies and bindings: ``test_hbr_atomicity.py``.)"""

from __future__ import annotations

import datetime as dt
import inspect
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _helpers import INSTANCE_TYPE, REGION, ZONE
from cloudbackup import (
    BackupJobFilter,
    Cloud,
    DataDisk,
    HbrService,
    InMemoryBackend,
    PolicyBindingRequest,
    Rule,
    RuleType,
    SqliteBackend,
    UdmDetail,
    errors,
)
from cloudbackup.testing import check_invariants, world_state

BACKENDS = ["memory", "sqlite"]


class Sly(str):
    """A str subclass that claims to equal everything."""

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0


class World:
    """Jobs and points in every state: a finished point, an immutable one, a running job."""

    def __init__(self, backend_name: str) -> None:
        if backend_name == "sqlite":
            backend: Any = SqliteBackend(Path(tempfile.mkdtemp()) / "world.db")
        else:
            backend = InMemoryBackend()
        self.cloud = cloud = Cloud(backend=backend, seed=5, block_size=4096)
        self.ecs = cloud.ecs(REGION)
        self.hbr = hbr = cloud.hbr(REGION)
        hbr.open_hbr_service()
        self.vms = self.ecs.run_instances(
            zone_id=ZONE, instance_type=INSTANCE_TYPE, amount=4, data_disks=[DataDisk(size=20)]
        )
        cloud.advance(dt.timedelta(minutes=5))
        daily = Rule("BACKUP", schedule="I|1893456000|P1D", retention=7)
        self.plain = hbr.create_policy_v2(rules=[daily, Rule("TRANSITION", retention=30)])
        self.locked = hbr.create_policy_v2(rules=[daily, Rule("SECURITY", immutable=True)])
        hbr.create_policy_bindings(
            policy_id=self.plain, policy_binding_list=[PolicyBindingRequest(self.vms[0])]
        )
        hbr.create_policy_bindings(
            policy_id=self.locked, policy_binding_list=[PolicyBindingRequest(self.vms[1])]
        )
        [plain] = hbr.describe_policies_v2(policy_id=self.plain).items
        self.backup_rule = plain.rules_of(RuleType.BACKUP)[0].rule_id or ""
        self.transition_rule = plain.rules_of(RuleType.TRANSITION)[0].rule_id or ""
        [locked] = hbr.describe_policies_v2(policy_id=self.locked).items
        locked_rule = locked.rules_of(RuleType.BACKUP)[0].rule_id or ""
        self.done_job = hbr.execute_policy_v2(policy_id=self.plain, rule_id=self.backup_rule)
        hbr.execute_policy_v2(policy_id=self.locked, rule_id=locked_rule)
        cloud.advance(dt.timedelta(hours=1))
        self.running_job = hbr.create_backup_job(instance_id=self.vms[2], retention=3)
        points = hbr.describe_udm_snapshots(source_type="UDM_ECS", start_time=0, end_time=2**33)
        by_instance = {p.instance_id: p for p in points}
        self.point = by_instance[self.vms[0]]
        self.immutable = by_instance[self.vms[1]]
        [self.sub_job] = [
            j.job_id
            for j in hbr.describe_backup_jobs2(
                source_type="UDM_ECS_DISK",
                filters=[BackupJobFilter("ParentId", (self.running_job,), "EQUAL")],
            )
        ][:1]
        self.state = world_state(cloud)


_WORLDS: dict[str, World] = {}


def _world(backend_name: str) -> World:
    if backend_name not in _WORLDS:
        _WORLDS[backend_name] = World(backend_name)
    return _WORLDS[backend_name]


BAD_IDS = st.sampled_from(
    ["", "\ud800", "job-000none", "s-000none", 7, True, None, b"x", ["x"], Sly("x"), "x" * 300]
)
BAD_DAYS = st.sampled_from([0, -1, 364_636, True, "7", 7.0, None])
BAD_TIMES = st.sampled_from([-1, True, "0", 1.5, None, 2**70])


def _bad_calls(w: World) -> st.SearchStrategy[tuple[str, Callable[[], object]]]:
    hbr = w.hbr
    free = w.vms[3]
    bad_detail = st.sampled_from(
        [
            "detail",
            UdmDetail(destination_kms_key_id="key-1"),
            UdmDetail(disk_id_list=("d-none",)),
            UdmDetail(snapshot_group=1),  # type: ignore[arg-type]
            UdmDetail(app_consistent=True),
            UdmDetail(timeout_in_seconds=0),
        ]
    )
    return st.one_of(
        BAD_IDS.map(
            lambda i: ("job-instance", lambda: hbr.create_backup_job(instance_id=i, retention=7))
        ),
        BAD_DAYS.map(
            lambda d: ("job-days", lambda: hbr.create_backup_job(instance_id=free, retention=d))
        ),
        st.sampled_from(["", "x" * 65, "\udcff", 5]).map(
            lambda n: (
                "job-name",
                lambda: hbr.create_backup_job(instance_id=free, retention=7, job_name=n),
            )
        ),
        st.sampled_from(
            [("ECS_FILE", "COMPLETE"), ("UDM_ECS", "INCREMENTAL"), ("UDM_ECS_DISK", "COMPLETE")]
        ).map(
            lambda t: (
                "job-types",
                lambda: hbr.create_backup_job(
                    instance_id=free, retention=7, source_type=t[0], backup_type=t[1]
                ),
            )
        ),
        bad_detail.map(
            lambda d: (
                "job-detail",
                lambda: hbr.create_backup_job(instance_id=free, retention=7, detail=d),
            )
        ),
        st.just(("job-running", lambda: hbr.create_backup_job(instance_id=w.vms[2], retention=7))),
        st.just(("clone-running", lambda: hbr.prepare_clone_now(instance_id=w.vms[2]))),
        BAD_IDS.map(lambda i: ("clone-id", lambda: hbr.prepare_clone_now(instance_id=i))),
        BAD_IDS.map(lambda i: ("cancel-id", lambda: hbr.cancel_backup_job(job_id=i))),
        st.sampled_from([w.done_job or "", w.sub_job]).map(
            lambda j: ("cancel-state", lambda: hbr.cancel_backup_job(job_id=j))
        ),
        st.sampled_from(
            [
                {"page_size": 0},
                {"page_size": 100},
                {"page_number": 0},
                {"page_number": True},
                {"sort_direction": "UP"},
                {"source_type": "UDM_ECS_DISK"},
                {"filters": "Status"},
                {"filters": [BackupJobFilter("CompleteTime", ("1",), "IN")]},
                {"filters": [BackupJobFilter("JobId", ("\ud800",))]},
            ]
        ).map(lambda a: ("jobs-describe", lambda: hbr.describe_backup_jobs2(**a))),
        st.sampled_from(
            [
                {"policy_id": "po-000none", "rule_id": w.backup_rule},
                {"policy_id": w.plain, "rule_id": "rule-000none"},
                {"policy_id": w.plain, "rule_id": w.transition_rule},
                {"policy_id": w.plain, "rule_id": w.backup_rule, "data_source_id": free},
                {"policy_id": w.plain, "rule_id": w.backup_rule, "data_source_id": "\ud800"},
                {"policy_id": w.plain, "rule_id": w.backup_rule, "source_type": "OSS"},
                {"policy_id": w.locked, "rule_id": w.backup_rule},
                {"policy_id": Sly("x"), "rule_id": w.backup_rule},
            ]
        ).map(lambda a: ("execute", lambda: hbr.execute_policy_v2(**a))),
        st.tuples(st.sampled_from(["UDM_ECS", "ECS_FILE", 3]), BAD_TIMES).map(
            lambda a: (
                "points-describe",
                lambda: hbr.describe_udm_snapshots(
                    source_type=a[0], start_time=a[1], end_time=2**33
                ),
            )
        ),
        st.sampled_from(
            [
                {"instance_id": "\ud800"},
                {"snapshot_ids": "s-1"},
                {"snapshot_ids": [7]},
                {"disk_id": 3},
            ]
        ).map(
            lambda a: (
                "points-filter",
                lambda: hbr.describe_udm_snapshots(
                    source_type="UDM_ECS", start_time=0, end_time=2**33, **a
                ),
            )
        ),
        BAD_IDS.map(lambda i: ("delete-id", lambda: hbr.delete_snapshot(snapshot_id=i))),
        st.sampled_from(
            [
                {"snapshot_id": w.immutable.snapshot_id},
                {"snapshot_id": w.immutable.disk_point_ids[0], "source_type": "UDM_ECS_DISK"},
                {"snapshot_id": w.point.snapshot_id, "source_type": "UDM_ECS_DISK"},
                {"snapshot_id": w.point.snapshot_id, "instance_id": free},
                {"snapshot_id": w.point.snapshot_id, "source_type": "OSS"},
            ]
        ).map(lambda a: ("delete-point", lambda: hbr.delete_snapshot(**a))),
        st.sampled_from(
            [
                {"instance_id": w.vms[1], "start_time": 0, "end_time": 2**33},
                {"instance_id": "\ud800", "start_time": 0, "end_time": 2**33},
                {"instance_id": w.vms[0], "start_time": -1, "end_time": 2**33},
                {"instance_id": w.vms[0], "start_time": 0, "end_time": "x"},
            ]
        ).map(lambda a: ("delete-range", lambda: hbr.delete_backups_in_range(**a))),
        st.sampled_from(
            [
                {"retention_days": 1, "snapshot_id": w.point.snapshot_id},
                {"retention_days": 0, "snapshot_id": w.point.snapshot_id},
                {"retention_days": 65_537, "snapshot_id": w.point.snapshot_id},
                {"retention_days": True, "snapshot_id": w.point.snapshot_id},
                {"retention_days": 90},
                {
                    "retention_days": 90,
                    "snapshot_id": w.point.snapshot_id,
                    "snapshot_group_id": "ssg-1",
                },
                {"retention_days": 90, "snapshot_group_id": "ssg-000none"},
                {"retention_days": 90, "snapshot_id": "s-000none"},
                {"retention_days": 90, "snapshot_id": Sly("s")},
            ]
        ).map(lambda a: ("extend", lambda: hbr.extend_backup_retention(**a))),
        BAD_IDS.map(lambda i: ("task-id", lambda: hbr.describe_task(task_id=i))),
        st.sampled_from([{"token": ""}, {"token": 5}, {"resource_group_id": "\ud800"}]).map(
            lambda a: ("task-args", lambda: hbr.describe_task(task_id="t-000none", **a))
        ),
    )


@pytest.mark.parametrize("backend_name", BACKENDS)
@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_every_refused_job_or_point_call_changes_nothing(
    backend_name: str, data: st.DataObject
) -> None:
    """A bad request raises a typed error with a code and a recommendation; state is unchanged."""
    w = _world(backend_name)
    label, call = data.draw(_bad_calls(w))
    with pytest.raises(errors.CloudBackupError) as info:
        call()
    assert (True, True) == (bool(info.value.code), bool(info.value.recommend)), label
    assert w.state == world_state(w.cloud), label


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_after_the_refusals_the_world_holds_and_still_works(backend_name: str) -> None:
    """After every refusal the invariants hold and the refused things still work when asked
    right: the running job finishes and the plain point can be deleted."""
    w = _world(backend_name)
    check_invariants(w.cloud)
    w.cloud.advance(dt.timedelta(hours=1))
    w.hbr.delete_snapshot(snapshot_id=w.point.snapshot_id)
    left = w.hbr.describe_udm_snapshots(source_type="UDM_ECS", start_time=0, end_time=2**33)
    assert {w.vms[1], w.vms[2]} == {p.instance_id for p in left}
    check_invariants(w.cloud)


BEFORE_OPENING: dict[str, Callable[[HbrService], object]] = {
    "check_role": lambda h: h.check_role("UdmRole"),
    "create_policy_v2": lambda h: h.create_policy_v2(rules=[Rule("BACKUP", retention=1)]),
    "update_policy_v2": lambda h: h.update_policy_v2(policy_id="po-1"),
    "delete_policy_v2": lambda h: h.delete_policy_v2("po-1"),
    "describe_policies_v2": lambda h: h.describe_policies_v2(),
    "create_policy_bindings": lambda h: h.create_policy_bindings(
        policy_id="po-1", policy_binding_list=[PolicyBindingRequest("i-1")]
    ),
    "update_policy_binding": lambda h: h.update_policy_binding(
        policy_id="po-1", data_source_id="i-1"
    ),
    "delete_policy_binding": lambda h: h.delete_policy_binding(
        policy_id="po-1", data_source_ids=["i-1"]
    ),
    "describe_policy_bindings": lambda h: h.describe_policy_bindings(),
    "delete_udm_ecs_instance": lambda h: h.delete_udm_ecs_instance("i-1"),
    "delete_udm_disk": lambda h: h.delete_udm_disk("d-1"),
    "execute_policy_v2": lambda h: h.execute_policy_v2(policy_id="po-1", rule_id="rule-1"),
    "create_backup_job": lambda h: h.create_backup_job(instance_id="i-1", retention=7),
    "cancel_backup_job": lambda h: h.cancel_backup_job(job_id="job-1"),
    "describe_backup_jobs2": lambda h: h.describe_backup_jobs2(),
    "describe_udm_snapshots": lambda h: h.describe_udm_snapshots(
        source_type="UDM_ECS", start_time=0, end_time=1
    ),
    "delete_snapshot": lambda h: h.delete_snapshot(snapshot_id="s-1"),
    "delete_backups_in_range": lambda h: h.delete_backups_in_range(
        instance_id="i-1", start_time=0, end_time=1
    ),
    "extend_backup_retention": lambda h: h.extend_backup_retention(
        retention_days=9, snapshot_id="s-1"
    ),
    "describe_backup_capacity": lambda h: h.describe_backup_capacity(),
    "live_backup_capacity": lambda h: h.live_backup_capacity(),
    "prepare_clone_now": lambda h: h.prepare_clone_now(instance_id="i-1"),
    "describe_task": lambda h: h.describe_task(task_id="t-1"),
}
"""One call of every action but ``open_hbr_service`` and ``describe_hbr_account`` (readable
before activation, by design)."""


def test_the_list_of_actions_checked_before_opening_is_complete() -> None:
    """Every public action of HbrService is either checked below or one of the two that work
    before activation, so a new action cannot be forgotten."""
    public = {
        name
        for name, value in inspect.getmembers(HbrService)
        if not name.startswith("_") and callable(value)
    }
    assert public == set(BEFORE_OPENING) | {"open_hbr_service", "describe_hbr_account"}


@pytest.mark.parametrize("name", sorted(BEFORE_OPENING))
def test_every_action_but_opening_answers_service_not_activated(name: str) -> None:
    """Before OpenHbrService each action answers ServiceNotActivated (403), even with ids
    that do not exist, and changes nothing."""
    cloud = Cloud(seed=1, block_size=4096)
    hbr = cloud.hbr(REGION)
    before = world_state(cloud)
    with pytest.raises(errors.OperationDeniedError) as info:
        BEFORE_OPENING[name](hbr)
    assert ("ServiceNotActivated", 403, True) == (
        info.value.code,
        info.value.http_status,
        bool(info.value.recommend),
    )
    assert before == world_state(cloud)
