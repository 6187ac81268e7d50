"""Cloud Backup: policies' BACKUP rules fire on their schedule and start jobs for their bindings."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _helpers import INSTANCE_TYPE, REGION, ZONE, settle
from cloudbackup import (
    BackupJob,
    Cloud,
    DataDisk,
    HbrService,
    JobStatus,
    PolicyBindingRequest,
    Rule,
    Timings,
    TriggerMode,
)
from cloudbackup._domain.schedule import parse_schedule
from cloudbackup._regions import get_region
from cloudbackup.testing import check_invariants

TZ = get_region(REGION).tzinfo


class Fleet:
    """An opened Cloud Backup with ``instances`` ESSD instances and a policy on ``schedule``."""

    def __init__(
        self, *, instances: int = 2, schedule: str | None = None, job_days: float = 0
    ) -> None:
        timings = Timings(snapshot_base=dt.timedelta(days=job_days)) if job_days else None
        self.cloud = Cloud(block_size=4096, timings=timings)
        self.ecs = self.cloud.ecs(REGION)
        self.hbr: HbrService = self.cloud.hbr(REGION)
        self.hbr.open_hbr_service()
        self.vms = self.ecs.run_instances(
            zone_id=ZONE, instance_type=INSTANCE_TYPE, amount=instances,
            data_disks=[DataDisk(size=20)],
        )  # fmt: skip
        settle(self.cloud)
        self.start = int(self.cloud.now().timestamp()) + 3600
        self.schedule = schedule or f"I|{self.start}|P1D"
        self.policy = self.hbr.create_policy_v2(
            rules=[Rule("BACKUP", schedule=self.schedule, retention=30)]
        )
        self.hbr.create_policy_bindings(
            policy_id=self.policy,
            policy_binding_list=[PolicyBindingRequest(i) for i in self.vms],
        )
        self.created = self.cloud.now()

    def jobs(self, *, status: str | None = None) -> list[BackupJob]:
        """Every UDM_ECS job, oldest first (several pages)."""
        out: list[BackupJob] = []
        number = 1
        while True:
            page = self.hbr.describe_backup_jobs2(
                page_number=number, page_size=99, sort_direction="ASCEND"
            )
            out.extend(page.items)
            if len(out) >= page.total_count or not page.items:
                break
            number += 1
        return [j for j in out if status is None or j.status.value == status]

    def expected_times(self, until: dt.datetime) -> list[dt.datetime]:
        """The schedule's runs after the policy was made, up to ``until``."""
        return list(parse_schedule(self.schedule).fire_times(self.created, until, TZ))


def test_a_daily_rule_backs_up_every_bound_instance_at_each_due_time() -> None:
    """Three days of a daily rule give each bound instance three complete jobs at the due times."""
    fleet = Fleet()
    fleet.cloud.advance(dt.timedelta(days=3))
    times = fleet.expected_times(fleet.cloud.now())
    jobs = fleet.jobs()
    assert 3 == len(times)
    assert sorted(t for t in times for _ in fleet.vms) == [j.created_time for j in jobs]
    assert {JobStatus.COMPLETE} == {j.status for j in jobs}
    assert {TriggerMode.SCHEDULE} == {j.trigger_mode for j in jobs}
    assert sorted(fleet.vms * 3) == sorted(j.instance_id for j in jobs)
    check_invariants(fleet.cloud)


def test_no_job_runs_before_the_schedule_starts() -> None:
    """A schedule starting in ten days starts no job in the nine days before it."""
    fleet = Fleet(
        schedule=f"I|{int(dt.datetime(2024, 1, 11, tzinfo=dt.timezone.utc).timestamp())}|PT1H"
    )
    fleet.cloud.advance(dt.timedelta(days=9))
    assert [] == fleet.jobs()
    fleet.cloud.advance(dt.timedelta(days=1, hours=1))
    assert 2 * 2 == len(fleet.jobs())


def test_a_run_due_while_the_previous_job_runs_is_skipped_with_the_reason() -> None:
    """With jobs taking 1.5 days, every second daily run of an instance is skipped and says why."""
    fleet = Fleet(instances=1, job_days=1.5)
    fleet.cloud.advance(dt.timedelta(days=4))
    statuses = [j.status for j in fleet.jobs()]
    assert [
        JobStatus.COMPLETE,
        JobStatus.SKIPPED,
        JobStatus.COMPLETE,
        JobStatus.SKIPPED,
    ] == statuses
    skipped = fleet.jobs(status="SKIPPED")[0]
    assert "still running" in (skipped.error_message or "")
    check_invariants(fleet.cloud)


def test_a_suspended_binding_is_skipped_with_the_seed_message() -> None:
    """A suspended binding's runs are SKIPPED with "The backup plan has been suspended." and
    how to resume it."""
    fleet = Fleet(instances=1)
    fleet.hbr.update_policy_binding(
        policy_id=fleet.policy, data_source_id=fleet.vms[0], disabled=True
    )
    fleet.cloud.advance(dt.timedelta(days=2))
    jobs = fleet.jobs()
    assert [JobStatus.SKIPPED] * 2 == [j.status for j in jobs]
    [message] = {j.error_message or "" for j in jobs}
    assert ("The backup plan has been suspended.", True) == (
        message[:35],
        "update_policy_binding" in message and "disabled=False" in message,
    )


def test_updating_the_schedule_applies_from_the_next_run() -> None:
    """After the rule's schedule changes to every 12 hours, runs follow the new schedule."""
    fleet = Fleet(instances=1)
    fleet.cloud.advance(dt.timedelta(days=1, hours=2))
    [policy] = fleet.hbr.describe_policies_v2(policy_id=fleet.policy).items
    rule = policy.rules[0]
    start = int(fleet.cloud.now().timestamp())
    fleet.hbr.update_policy_v2(
        policy_id=fleet.policy,
        rules=[Rule("BACKUP", rule_id=rule.rule_id, schedule=f"I|{start}|PT12H", retention=30)],
    )
    changed = fleet.cloud.now()
    fleet.cloud.advance(dt.timedelta(days=1))
    later = [j.created_time for j in fleet.jobs() if j.created_time > changed]
    assert [changed + dt.timedelta(hours=12), changed + dt.timedelta(hours=24)] == later


def test_deleting_the_policy_stops_its_runs() -> None:
    """A deleted policy leaves no timer: no job starts after it is gone."""
    fleet = Fleet(instances=1)
    fleet.cloud.advance(dt.timedelta(days=1, hours=2))
    before = len(fleet.jobs())
    fleet.hbr.delete_policy_v2(fleet.policy)
    fleet.cloud.advance(dt.timedelta(days=3))
    assert before == len(fleet.jobs())
    assert [] == [t for t in fleet.cloud._world.engine.pending() if t.action == "hbr.rule_fire"]


def test_unbinding_an_instance_stops_its_runs_only() -> None:
    """After one instance is unbound, only the other keeps getting jobs."""
    fleet = Fleet(instances=2)
    fleet.hbr.delete_policy_binding(policy_id=fleet.policy, data_source_ids=[fleet.vms[0]])
    fleet.cloud.advance(dt.timedelta(days=2))
    assert [fleet.vms[1]] * 2 == [j.instance_id for j in fleet.jobs()]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hours=st.integers(min_value=1, max_value=48),
    steps=st.lists(st.integers(min_value=1, max_value=24 * 40), min_size=1, max_size=4),
)
def test_fire_times_are_the_schedules_whatever_the_advances(hours: int, steps: list[int]) -> None:
    """However time is advanced, jobs start exactly at the schedule's times, strictly
    increasing, none before the start and no burst of missed runs."""
    fleet = Fleet(instances=1, schedule=None)
    fleet.hbr.delete_policy_v2(fleet.policy)
    fleet.schedule = f"I|{fleet.start}|PT{hours}H"
    fleet.policy = fleet.hbr.create_policy_v2(
        rules=[Rule("BACKUP", schedule=fleet.schedule, retention=30)]
    )
    fleet.hbr.create_policy_bindings(
        policy_id=fleet.policy, policy_binding_list=[PolicyBindingRequest(fleet.vms[0])]
    )
    fleet.created = fleet.cloud.now()
    for step in steps:
        fleet.cloud.advance(dt.timedelta(hours=step))
    times = [j.created_time for j in fleet.jobs() if j.plan_id == fleet.policy]
    assert fleet.expected_times(fleet.cloud.now()) == times
    assert all(a < b for a, b in itertools.pairwise(times))
