"""The Cloud Backup rules of the state machine: opening the service, policies (with TAG,
REPLICATION and SECURITY rules), bindings, suspension, unbinding, Stop Backup.

The model keeps what Cloud Backup's own calls decide (which policies exist, which are
immutable) and reads bindings through ``describe_policy_bindings`` before each call, because
the ECS rules change instance tags (and so tag-made bindings) behind these rules' backs. Every
call is held to :meth:`~.base.MachineBase.attempt`: a refused call must name an expected code
and change nothing. The invariants compare every policy's binding count with its pages and
check that every binding a TAG rule made still matches its instance's tags.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from ..._domain.hbr import PolicyBinding, PolicyBindingRequest, Rule, RuleType, TagFilter
from ..._domain.hbr_points import DiskSnapshotTaken, PointRetention
from ..._services.hbr import HbrService
from .base import AIM, PICK, RARELY, MachineBase
from .ecs_request_rules import TAG_KEYS

__all__ = ["HbrPointRules", "HbrRules"]

NOT_OPEN = "ServiceNotActivated"
BOUND = "PolicyAlreadyBoundWithThisDataSource"
NOT_FOUND = "ResourceNotFound"
NO_INSTANCE = "InvalidInstanceId.NotFound"
IMMUTABLE = "OperationDenied.ImmutableBackup"
BACKUP = Rule("BACKUP", schedule="I|4102444800|P1D", retention=7)
"""Starts in 2100, after any run of the machine: a backup job takes ECS snapshots (and its
point expires them) behind the ECS model's back, which does not track Cloud Backup's native
snapshots yet, so the machine's policies never fire."""

_TAG_RULES = st.builds(
    lambda key, value, op: Rule("TAG", tag_filters=(TagFilter(key, value, op),)),
    st.sampled_from(TAG_KEYS[:4]),
    st.sampled_from(("prod", "dev", "")),
    st.sampled_from(("EQUAL", "NOT")),
)
_EXTRA_RULES = st.lists(
    st.one_of(
        _TAG_RULES,
        st.just(Rule("SECURITY", immutable=True)),
        st.just(Rule("SECURITY", immutable=False)),
        st.just(Rule("TRANSITION", retention=30)),
    ),
    max_size=2,
    unique_by=lambda r: r.rule_type,
)


class HbrRules(MachineBase):
    """Rules for every Cloud Backup call the machine makes."""

    MAX_POLICIES = 4

    def __init__(self) -> None:
        super().__init__()
        self.hbr_open = False
        self.policies: dict[str, tuple[str, bool]] = {}
        """Policy id -> (region, immutable), as Cloud Backup's calls made them."""

    def hbr(self, region_id: str) -> HbrService:
        """Cloud Backup of a region of the world under test."""
        return self.cloud.hbr(region_id)

    def _gate(self) -> set[str]:
        return set() if self.hbr_open else {NOT_OPEN}

    def _binding(self, region: str, instance_id: str) -> PolicyBinding | None:
        if not self.hbr_open:
            return None
        found = self.hbr(region).describe_policy_bindings(data_source_ids=[instance_id]).items
        return found[0] if found else None

    @precondition(lambda self: not self.hbr_open)
    @rule()
    def open_hbr_service(self) -> None:
        """``open_hbr_service``: once opened, it stays opened (the same order id)."""
        self.hbr(self.REGION_IDS[0]).open_hbr_service()
        self.hbr_open = True
        self.note("open_hbr_service: ok")

    @precondition(lambda self: len(self.policies) < self.MAX_POLICIES)
    @rule(region_pick=PICK, extra=_EXTRA_RULES, broken=RARELY)
    def create_policy(self, region_pick: int, extra: list[Rule], broken: bool) -> None:
        """``create_policy_v2`` (a TAG rule binds the matching instances at once); broken, the
        REPLICATION rule names no region."""
        region = self.pick(self.REGION_IDS, region_pick)
        rules = [BACKUP, *extra]
        problems = self._gate()
        if broken:
            rules.append(Rule("REPLICATION", retention=7))
            problems = problems or {"BadRequest"}
        made = self.attempt(
            "create_policy_v2", problems, lambda: self.hbr(region).create_policy_v2(rules=rules)
        )
        if isinstance(made, str):
            immutable = any(r.rule_type == "SECURITY" and r.immutable for r in rules)
            self.policies[made] = (region, immutable)

    @precondition(lambda self: self.policies)
    @rule(pick=PICK, extra=_EXTRA_RULES)
    def update_policy(self, pick: int, extra: list[Rule]) -> None:
        """``update_policy_v2`` replacing the rules; turning immutability off is refused."""
        policy_id = self.pick(self.policies, pick)
        region, immutable = self.policies[policy_id]
        keeps = any(r.rule_type == "SECURITY" and r.immutable for r in extra)
        problems = self._gate() or ({IMMUTABLE} if immutable and not keeps else set())
        if self.ok(
            "update_policy_v2",
            problems,
            lambda: self.hbr(region).update_policy_v2(policy_id=policy_id, rules=[BACKUP, *extra]),
        ):
            self.policies[policy_id] = (region, immutable or keeps)

    @precondition(lambda self: self.policies)
    @rule(pick=PICK)
    def delete_policy(self, pick: int) -> None:
        """``delete_policy_v2``: every binding goes with the policy."""
        policy_id = self.pick(self.policies, pick)
        region, _ = self.policies[policy_id]
        if self.ok(
            "delete_policy_v2",
            self._gate(),
            lambda: self.hbr(region).delete_policy_v2(policy_id),
        ):
            del self.policies[policy_id]
            assert self.hbr(region).describe_policy_bindings(policy_id=policy_id).items == ()

    @precondition(lambda self: self.policies)
    @rule(pick=PICK, picks=st.lists(PICK, min_size=1, max_size=3), gone=RARELY, aim=AIM)
    def bind(self, pick: int, picks: list[int], gone: bool, aim: bool) -> None:
        """``create_policy_bindings``: all or none; aimed, only unbound live instances."""
        policy_id = self.pick(self.policies, pick)
        region, _ = self.policies[policy_id]
        live = [i for i, x in self.instances.items() if x.region_id == region]
        pool = self.aimed(live, lambda i: self._binding(region, i) is None, aim)
        if not pool and not self.model.gone["instance"]:
            self.idle("create_policy_bindings")
            return
        ids = list(dict.fromkeys(self.id_or_gone("instance", pool, p, gone) for p in picks))
        problems = self._gate()
        if not problems:
            for instance_id in ids:
                if instance_id not in live:
                    problems.add(NO_INSTANCE)
                elif self._binding(region, instance_id) is not None:
                    problems.add(BOUND)
        self.attempt(
            "create_policy_bindings",
            problems,
            lambda: self.hbr(region).create_policy_bindings(
                policy_id=policy_id,
                policy_binding_list=[PolicyBindingRequest(i) for i in ids],
            ),
        )

    def _bound(self) -> list[tuple[str, PolicyBinding]]:
        if not self.hbr_open:
            return []
        return [(region, b) for region in self.REGION_IDS for b in self._all_bindings(region)]

    def _all_bindings(self, region: str) -> list[PolicyBinding]:
        out: list[PolicyBinding] = []
        token = None
        while True:
            page = self.hbr(region).describe_policy_bindings(next_token=token, max_results=100)
            out.extend(page.items)
            token = page.next_token
            if token is None:
                return out

    @rule(pick=PICK, disabled=st.booleans())
    def suspend_or_resume(self, pick: int, disabled: bool) -> None:
        """``update_policy_binding(disabled=...)`` on a binding."""
        bound = self._bound()
        if not bound:
            self.idle("update_policy_binding")
            return
        region, binding = self.pick(bound, pick)
        self.attempt(
            "update_policy_binding",
            set(),
            lambda: self.hbr(region).update_policy_binding(
                policy_id=binding.policy_id,
                data_source_id=binding.data_source_id,
                disabled=disabled,
            ),
        )
        assert disabled is self._binding(region, binding.data_source_id).disabled  # type: ignore[union-attr]

    @rule(pick=PICK, stop=st.booleans(), wrong=RARELY)
    def unbind(self, pick: int, stop: bool, wrong: bool) -> None:
        """``delete_policy_binding`` or Stop Backup (``delete_udm_ecs_instance``); wrong, the
        binding is named under another policy."""
        bound = self._bound()
        if not bound:
            self.idle("delete_policy_binding")
            return
        region, binding = self.pick(bound, pick)
        hbr = self.hbr(region)
        if stop:
            call: Any = lambda: hbr.delete_udm_ecs_instance(binding.data_source_id)  # noqa: E731
            problems: set[str] = set()
        else:
            others = [p for p, (r, _) in self.policies.items() if r == region]
            policy = binding.policy_id
            if wrong and len(others) > 1:
                policy = next(p for p in others if p != binding.policy_id)
            problems = {NOT_FOUND} if policy != binding.policy_id else set()
            call = lambda: hbr.delete_policy_binding(  # noqa: E731
                policy_id=policy, data_source_ids=[binding.data_source_id]
            )
        if self.ok("unbind", problems, call):
            assert self._binding(region, binding.data_source_id) is None

    @invariant()
    def hbr_pages_agree(self) -> None:
        """Each policy's binding count equals its bindings; tag-made bindings still match."""
        if not self.hbr_open:
            return
        for region in self.REGION_IDS:
            bindings = self._all_bindings(region)
            per_policy: dict[str, int] = {}
            for b in bindings:
                per_policy[b.policy_id] = per_policy.get(b.policy_id, 0) + 1
            policies = self.hbr(region).describe_policies_v2(max_results=100).items
            for policy in policies:
                if policy.policy_binding_count != per_policy.get(policy.policy_id, 0):
                    raise AssertionError(f"policy {policy.policy_id} miscounts its bindings")
                for b in bindings:
                    if b.policy_id != policy.policy_id or not b.created_by_tag:
                        continue
                    if b.data_source_id not in self.instances:
                        continue  # released: the binding stays until Stop Backup
                    tags = tuple(self.model.tags.get(b.data_source_id, {}).items())
                    rules = policy.rules_of(RuleType.TAG)
                    if not any(all(f.matches(tags) for f in r.tag_filters) for r in rules):
                        raise AssertionError(f"binding {b.policy_binding_id} no longer matches")


# -- backup points and retention ----------------------------------------------------------------
# Points live in a region of their own (POINT_REGION, outside REGION_IDS), on a disk of their
# own, so that their native snapshots' retention and locks, which Cloud Backup manages, never
# surprise the ECS rules' model of the shared regions.

POINT_REGION = "cn-qingdao"
DECREASE = "InvalidOperation.DecreaseRetentionDaysUnsupported"


class HbrPointRules(HbrRules):
    """Backup points: recorded as a finished job records them, deleted, extended, expired."""

    MAX_POINTS = 4
    """Below the small world's manual-snapshot quota per disk (5)."""

    def __init__(self) -> None:
        super().__init__()
        self.point_vm: str | None = None
        self.point_disk: str | None = None
        self.points: dict[str, tuple[_dt.datetime, int | None, bool, tuple[str, ...]]] = {}
        """Point id -> (created, retention days or None, immutable, native snapshot ids)."""
        self.point_jobs = 0
        self.leaving: dict[str, _dt.datetime] = {}
        """Point id -> when a Delete Backups task has deleted it at the latest."""
        self.tasks: dict[str, tuple[frozenset[str], _dt.datetime, int]] = {}
        """Running Delete Backups task -> (its points, deadline, progress last seen)."""

    def _point_alive(self, created: _dt.datetime, days: int | None) -> bool:
        return days is None or created + _dt.timedelta(days=days) > self.now

    def _live_points(self) -> list[str]:
        return sorted(p for p, (c, d, _, _) in self.points.items() if self._point_alive(c, d))

    @precondition(lambda self: self.hbr_open and len(self.points) < self.MAX_POINTS)
    @rule(days=st.integers(1, 6), immutable=st.booleans())
    def record_point(self, days: int, immutable: bool) -> None:
        """A backup job finishes: one native snapshot, recorded as a point kept ``days``."""
        ecs = self.ecs(POINT_REGION)
        if self.point_vm is None:
            zone = self.cloud.regions[POINT_REGION].zones[0]
            [self.point_vm] = ecs.run_instances(zone_id=zone, instance_type="ecs.g7.large")
            [disk] = ecs.describe_disks(instance_id=self.point_vm).items
            self.point_disk = disk.disk_id
        if self.point_disk is None or ecs.describe_instance_attribute(self.point_vm).status != (
            "Running"
        ):
            self.idle("record_point (the instance is starting)")
            return
        self.point_jobs += 1
        native = ecs.create_snapshot(disk_id=self.point_disk, retention_days=days)
        created = self.now
        hbr = self.hbr(POINT_REGION)
        with hbr._world.store.unit():
            point_id = hbr._record_point(
                job_id=f"job-{self.point_jobs:020d}",
                instance_id=self.point_vm,
                created=created,
                disks=[DiskSnapshotTaken(self.point_disk, native)],
                retention=PointRetention(days, immutable=immutable),
            )
        self.points[point_id] = (created, days, immutable, (native,))
        self.note(f"record_point: {days} days, immutable={immutable}")

    @precondition(lambda self: self.points)
    @rule(pick=PICK)
    def delete_point(self, pick: int) -> None:
        """``delete_snapshot``: refused for an immutable point that has not expired."""
        live = self._live_points()
        if not live:
            self.idle("delete_snapshot")
            return
        point_id = self.pick(live, pick)
        _, _, immutable, natives = self.points[point_id]
        problems = self._gate() or ({IMMUTABLE} if immutable else set())
        hbr = self.hbr(POINT_REGION)
        if self.ok("delete_snapshot", problems, lambda: hbr.delete_snapshot(snapshot_id=point_id)):
            del self.points[point_id]
            found = self.ecs(POINT_REGION).describe_snapshots(snapshot_ids=list(natives))
            assert tuple(found.items) == (), f"natives of {point_id} outlived it"

    @precondition(lambda self: self.points)
    @rule(pick=PICK, days=st.none() | st.integers(1, 12))
    def extend_point(self, pick: int, days: int | None) -> None:
        """Extend Retention (instance level): extend only."""
        live = self._live_points()
        if not live:
            self.idle("extend_backup_retention")
            return
        point_id = self.pick(live, pick)
        created, current, immutable, natives = self.points[point_id]
        shorter = current is None or (days is not None and days < current)
        problems = self._gate() or ({DECREASE} if shorter else set())
        hbr = self.hbr(POINT_REGION)
        if self.ok(
            "extend_backup_retention",
            problems,
            lambda: hbr.extend_backup_retention(snapshot_id=point_id, retention_days=days),
        ):
            self.points[point_id] = (created, days, immutable, natives)

    @precondition(lambda self: self.points)
    @rule()
    def delete_points_in_range(self) -> None:
        """Delete Backups (console) of every point: a task that deletes them within 10
        minutes; refused whole when one of them is immutable."""
        live = self._live_points()
        immutable = any(self.points[p][2] for p in live)
        problems = self._gate() or ({IMMUTABLE} if immutable else set())
        hbr = self.hbr(POINT_REGION)
        task = self.attempt(
            "delete_backups_in_range",
            problems,
            lambda: hbr.delete_backups_in_range(
                instance_id=self.point_vm or "", start_time=0, end_time=2**33
            ),
        )
        if isinstance(task, str):
            deadline = self.now + _dt.timedelta(minutes=10)
            for point_id in live:
                self.leaving.setdefault(point_id, deadline)
            self.tasks[task] = (frozenset(live), deadline, 0)

    @invariant()
    def console_tasks_finish_in_time(self) -> None:
        """A Delete Backups task's progress only grows; it completes by its deadline (10
        minutes) with every point it was given named in its Result."""
        for task_id, (ids, deadline, last) in list(self.tasks.items()):
            task = self.hbr(POINT_REGION).describe_task(task_id=task_id)
            if task.progress < last or task.failed:
                raise AssertionError(f"task {task_id} went from {last}% to {task.progress}%")
            if task.finished:
                named = task.result_data().get("DeletedSnapshotIds")
                if task.progress != 100 or not isinstance(named, list) or set(named) != ids:
                    raise AssertionError(f"task {task_id} ended {task.progress}%: {named}")
                del self.tasks[task_id]
            elif self.now >= deadline:
                raise AssertionError(f"task {task_id} still runs at {self.now}")
            else:
                self.tasks[task_id] = (ids, deadline, task.progress)

    @invariant()
    def points_expire_on_time(self) -> None:
        """A point is there exactly until its expiry; its native snapshots with it; an
        immutable one's natives refuse ECS deletion (their lock holds)."""
        if not self.hbr_open:
            return
        shown = self.hbr(POINT_REGION).describe_udm_snapshots(
            source_type="UDM_ECS", start_time=0, end_time=2**33
        )
        live = self._live_points()
        present = {p.snapshot_id for p in shown}
        staying = {p for p in live if p not in self.leaving}
        may_stay = {p for p in live if self.now < self.leaving.get(p, self.now)}
        if not staying <= present <= staying | may_stay:
            raise AssertionError(f"points {sorted(present)} but expected {live}")
        for point_id in [p for p in self.leaving if p not in present]:
            self.points.pop(point_id, None)
            del self.leaving[point_id]
        live = sorted(present)
        for point in shown:
            if not point.usable:
                raise AssertionError(f"point {point.snapshot_id} lost a native snapshot")
            _, _, immutable, natives = self.points[point.snapshot_id]
            if immutable:
                ecs = self.ecs(POINT_REGION)
                for native in natives:
                    lock = ecs.describe_snapshot(native).lock
                    if lock is None or not lock.holds(self.now):
                        raise AssertionError(f"immutable point {point.snapshot_id} unlocked")
        for point_id in [p for p in self.points if p not in live]:
            del self.points[point_id]
            self.leaving.pop(point_id, None)
