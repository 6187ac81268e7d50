"""Cloud Backup, schedules that fire: one engine timer per (policy, BACKUP rule), and
ExecutePolicyV2 (the console's Run Now).

A rule's timer is due at the schedule's next time (in the region's time zone); when it fires
it walks that policy's bindings (one range of ``BINDINGS_BY_POLICY``: the cost is the
bindings, not the region) and starts a job for each instance, one instance per unit of
work (the timer sets itself again at the same instant, naming the next binding in its
payload), then sets itself to the schedule's next time strictly after the one that fired; an
instance whose backup raises is undone alone and the others still run. So a fleet of 1,000
instances on a daily policy keeps one timer, not 1,000; an ``advance`` over a month fires
each due time in order (missed runs are never run in a burst later, and nothing runs before the
schedule's start). A binding that is suspended, or whose instance's previous job is still
running, gets a ``SKIPPED`` job saying why. ``UpdatePolicyV2`` re-times the timers of the
rules whose schedule changed (every binding's next run follows the new schedule); a deleted
rule or policy takes its timer with it.

Part of the layered :class:`~cloudbackup.HbrService` (see ``_services/hbr/__init__.py``).
"""

from __future__ import annotations

import datetime as _dt

from ..._domain.hbr import Policy, PolicyBinding, Rule, RuleType
from ..._domain.hbr_jobs import SUSPENDED_MESSAGE, BackupJob, TriggerMode
from ..._domain.hbr_points import PointRetention
from ..._domain.schedule import parse_schedule
from ..._engine import Timer
from ...errors import ResourceNotFoundError
from .._base import unit_of_work
from ._core import BINDINGS_BY_POLICY, policy_range
from .jobs import JobActions
from .retention import point_retention_of

__all__ = ["ACTION_RULE_FIRE", "SchedulerActions", "rule_timer_target"]

ACTION_RULE_FIRE = "hbr.rule_fire"
"""Timer: a policy's BACKUP rule comes due (target: :func:`rule_timer_target`)."""


def rule_timer_target(policy_id: str, rule_id: str) -> str:
    """The timer target of one BACKUP rule of a policy."""
    return f"{policy_id}/{rule_id}"


def _backup_rules(policy: Policy | None) -> dict[str, Rule]:
    if policy is None:
        return {}
    return {r.rule_id: r for r in policy.rules_of(RuleType.BACKUP) if r.rule_id is not None}


class SchedulerActions(JobActions):
    """Timers of policies' BACKUP rules; ExecutePolicyV2."""

    def _rules_changed(self, old: Policy | None, new: Policy | None) -> None:
        """Set, re-time or remove the timers of the policy's BACKUP rules (a rule whose
        schedule did not change keeps its timer)."""
        engine = self._world.engine
        before, after = _backup_rules(old), _backup_rules(new)
        either = new if new is not None else old
        if either is None:
            return
        policy_id = either.policy_id
        for rule_id, rule in before.items():
            kept = after.get(rule_id)
            if kept is None or kept.schedule != rule.schedule:
                engine.cancel_for(
                    ACTION_RULE_FIRE, self.region_id, rule_timer_target(policy_id, rule_id)
                )
        now = self._world.now()
        for rule_id, rule in after.items():
            previous = before.get(rule_id)
            if previous is not None and previous.schedule == rule.schedule:
                continue
            self._arm(policy_id, rule, now, new=previous is None and old is None)

    def _arm(self, policy_id: str, rule: Rule, after: _dt.datetime, *, new: bool = False) -> None:
        assert rule.schedule is not None and rule.rule_id is not None
        schedule = parse_schedule(rule.schedule)
        due = schedule.next_after(after, self.region.tzinfo)
        if due is not None:
            self._world.engine.schedule(
                due,
                ACTION_RULE_FIRE,
                self.region_id,
                rule_timer_target(policy_id, rule.rule_id),
                new_target=new,
            )

    def _on_rule_fire(self, timer: Timer) -> None:
        """A BACKUP rule came due: back up the next instance bound to its policy (the first,
        or the one whose :data:`BINDINGS_BY_POLICY` entry the timer's payload names), then
        set the timer again: at the same instant for the binding after it, or, after the
        last, to the schedule's next time.

        One binding per unit of work, as the points due at an instant expire one per unit: a
        unit that started every bound instance's job would hold, until it commits, the undo
        log of all their writes (the dirty-page maps their snapshots cleared, every record's
        previous version), and the collector would promote all of it to its oldest
        generation. A timer due at the same instant may now fire between two of these units
        (a snapshot's retention running out, say): each is a unit of its own anyway, and
        what they do is the same, only the order of their events differs. The timer keeps its
        target throughout, so changing or deleting the rule still cancels it; a timer stored
        before (no payload) starts with the first binding."""
        found = self._fire_at(timer)
        if found is None:
            return
        policy, rule, entries = found
        if entries:
            binding = self._bindings.get(str(entries[0][1]))
            retention = point_retention_of(policy, rule.rule_id)
            self._run_binding(policy, rule, binding, TriggerMode.SCHEDULE, retention)
        self._go_on(timer, policy, rule, entries)

    def _on_rule_fire_failed(self, timer: Timer) -> None:
        """After backing up one bound instance raised (and was undone): go on with the
        bindings after it, and the schedule, as if that one had run."""
        found = self._fire_at(timer)
        if found is not None:
            self._go_on(timer, *found)

    def _fire_at(self, timer: Timer) -> tuple[Policy, Rule, list[tuple[str, object]]] | None:
        """The policy and rule of a rule timer, and the index entries of the binding to
        back up now and the one after it (None: the rule is gone)."""
        policy_id, _, rule_id = timer.target_id.partition("/")
        policy = self._policies.find(policy_id)
        rule = _backup_rules(policy).get(rule_id)
        if policy is None or rule is None:
            return None
        start, stop = policy_range(policy_id)
        if timer.payload:  # set by the unit before: the binding to go on with
            start = max(start, timer.payload)
        entries = self._world.store.raw_range(
            BINDINGS_BY_POLICY.kind, self.region_id, start, stop, limit=2
        )
        return policy, rule, entries

    def _go_on(
        self, timer: Timer, policy: Policy, rule: Rule, entries: list[tuple[str, object]]
    ) -> None:
        """Set a rule's timer again: now, for the next binding, or after the last one, to the
        schedule's next time."""
        if len(entries) > 1:
            self._world.engine.schedule(
                timer.due,
                ACTION_RULE_FIRE,
                self.region_id,
                timer.target_id,
                entries[1][0],
                new_target=True,
            )
            return
        self._arm(policy.policy_id, rule, timer.due, new=True)

    def _run_binding(
        self,
        policy: Policy,
        rule: Rule,
        binding: PolicyBinding,
        trigger: TriggerMode,
        retention: PointRetention | None = None,
    ) -> BackupJob:
        """One run of ``rule`` for one bound instance: a job, or a ``SKIPPED`` one
        (``retention``: :func:`point_retention_of` the policy's rule, when known)."""
        if retention is None:
            retention = point_retention_of(policy, rule.rule_id)
        plan, rule_id = policy.policy_id, rule.rule_id
        if binding.disabled:
            return self._skip_job(
                binding.data_source_id, SUSPENDED_MESSAGE, retention=retention.retention,
                trigger=trigger, plan_id=plan, rule_id=rule_id,
            )  # fmt: skip
        running = self._unfinished_job(binding.data_source_id)
        if running is not None:
            return self._skip_job(
                binding.data_source_id,
                f"The previous backup job {running.job_id} of this instance is still running.",
                retention=retention.retention, trigger=trigger, plan_id=plan, rule_id=rule_id,
            )  # fmt: skip
        return self._start_job(
            binding.data_source_id, binding.udm_detail, retention=retention,
            trigger=trigger, plan_id=plan, rule_id=rule_id,
        )  # fmt: skip

    @unit_of_work
    def execute_policy_v2(
        self,
        *,
        policy_id: str,
        rule_id: str,
        data_source_id: str | None = None,
        source_type: str = "UDM_ECS",
    ) -> str | None:
        """``ExecutePolicyV2`` (the console's Run Now): run a policy's BACKUP rule now for one
        bound instance, or for every instance bound to it.

        Returns ``JobId``, as the real action does: the job of the named instance, or with no
        ``data_source_id`` the job of the first bound instance in id order (every job is
        listed by ``describe_backup_jobs2``); ``None`` when the policy has no binding.

        Each run is what a scheduled one would be (``TriggerMode`` ``MANUAL``): a suspended
        binding or an instance whose previous job is still running gets a ``SKIPPED`` job.
        The rule must be a BACKUP rule of the policy (``BadRequest``); a named instance must
        be bound to it (``ResourceNotFound``). The rule's own timer is not moved.
        """
        self._require_open()
        self._source_type(source_type)
        policy = self._policy(policy_id)
        wanted = self._id("RuleId", rule_id)
        rule = next((r for r in policy.rules if r.rule_id == wanted), None)
        if rule is None or rule.rule_type != RuleType.BACKUP:
            raise self._bad(
                f"Policy {policy.policy_id} has no BACKUP rule {wanted}.",
                "Name one of the policy's BACKUP rules (describe_policies_v2 lists them).",
                (policy.policy_id, wanted),
            )
        if data_source_id is None:
            bindings = self._bindings_of_policy(policy.policy_id)
        else:
            instance_id = self._id("DataSourceId", data_source_id)
            found = self._binding_of(instance_id)
            if found is None or found.policy_id != policy.policy_id:
                raise ResourceNotFoundError(
                    f"ECS instance {instance_id} is not bound to policy {policy.policy_id}.",
                    code="ResourceNotFound",
                    ids=(instance_id, policy.policy_id),
                    recommend="Bind it first (create_policy_bindings), or leave "
                    "data_source_id out to run every bound instance.",
                )
            bindings = [found]
        jobs = [
            self._run_binding(policy, rule, binding, TriggerMode.MANUAL) for binding in bindings
        ]
        return jobs[0].job_id if jobs else None
