"""Cloud Backup's invariants, part of :func:`~cloudbackup.testing.check_invariants`."""

from __future__ import annotations

import collections
import datetime as _dt
from typing import Any

from .._domain.ecs import Snapshot
from .._domain.hbr import HbrAccount, Policy, PolicyBinding, RuleType
from .._domain.hbr_jobs import BackupJob, JobStatus
from .._domain.hbr_points import BackupPoint, PointSourceType
from .._domain.hbr_tasks import TASK_FORGET_DAYS, TASK_RESULT_DAYS, HbrTask, TaskName, TaskStatus
from .._repository import ORDER_COUNTS, ORDER_SEPARATOR
from .._services.hbr import BINDING_OF_INSTANCE, BINDINGS_BY_POLICY, TAG_POLICIES
from .._services.hbr._core import ACTION_TASK, ECS_BACKUP_ROLE, tag_key_partition
from .._services.hbr.job_records import JOB_FORM
from .._services.hbr.jobs import (
    ACTION_JOB_COMPLETE,
    JOBS_BY_TIME,
    SUB_JOB_PARENT,
    UNFINISHED_JOB_OF_INSTANCE,
)
from .._services.hbr.points import (
    ACTION_POINT_EXPIRE,
    DISK_POINT_PARENT,
    POINT_OF_GROUP,
    POINT_OF_JOB,
    POINTS_BY_TIME,
    POINTS_DUE,
    POINTS_OF_GROUP,
    POINTS_OF_INSTANCE,
    POINTS_OF_JOB,
    time_key,
)
from .._services.hbr.scheduler import ACTION_RULE_FIRE, rule_timer_target

__all__ = [
    "all_points",
    "check_hbr",
    "check_hbr_jobs",
    "check_hbr_points",
    "check_hbr_tasks",
    "expiry_timers",
    "natives_of_running_jobs",
    "natives_released_by_points",
]


def natives_released_by_points(world: Any) -> dict[str, _dt.datetime]:
    """Native snapshots whose expiry Cloud Backup manages (ECS keeps no timer for them): each
    native of a live disk point -> the earliest pending point-expiry timer that releases it
    (the disk point's own, or its instance point's)."""
    points = all_points(world)
    due = {point_id: min(dues) for (_, point_id), dues in expiry_timers(world).items()}
    released: dict[str, _dt.datetime] = {}
    for point_id, point in points.items():
        if point.source_type is not PointSourceType.UDM_ECS_DISK:
            continue
        whens = [w for w in (due.get(point_id), due.get(point.parent_snapshot_id or "")) if w]
        if whens:
            released[point.native_snapshot_id_list[0]] = min(whens)
    return released


def all_jobs(world: Any) -> dict[str, BackupJob]:
    """Every backup job stored (in either stored form); a record of another type, or under
    another key, is reported and left out."""
    jobs: dict[str, BackupJob] = {}
    for partition, key, value in world.raw[BackupJob.KIND]:
        job = value if isinstance(value, BackupJob) else JOB_FORM.restored(value)
        if job is None:
            world.fail(f"{BackupJob.KIND} record {partition}/{key} is a {type(value).__name__}")
        elif job.job_id != key or job.region_id != partition:
            world.fail(f"{BackupJob.KIND} {key} is stored under {partition}/{key}")
        else:
            jobs[key] = job
    return jobs


def natives_of_running_jobs(world: Any) -> set[str]:
    """Native snapshots of running ``UDM_ECS`` jobs: Cloud Backup manages them from the take
    (ECS records their retention but keeps no expiry timer), until the job's end gives them to
    its point, deletes them or hands them back to ECS."""
    return {
        native
        for job in all_jobs(world).values()
        if job.source_type == "UDM_ECS" and job.status is JobStatus.RUNNING
        for native in job.detail.disk_native_snapshot_id_list
    }


def expiry_timers(world: Any) -> dict[tuple[str, str], list[_dt.datetime]]:
    """(region, point id) -> when its pending expiry timers fire: the timer of the instant
    it is listed under in ``hbr.points_due``, or its own (a world stored before). An entry
    under an instant with no timer, and an instant's timer with no entry, are reported."""
    found: dict[tuple[str, str], list[_dt.datetime]] = collections.defaultdict(list)
    instants: dict[tuple[str, str], _dt.datetime] = {}
    for timer in world.timers:
        if timer.action != ACTION_POINT_EXPIRE:
            continue
        if timer.target_id.startswith("s-"):
            found[(timer.region_id, timer.target_id)].append(timer.due)
        elif timer.target_id != time_key(timer.due) or (
            (timer.region_id, timer.target_id) in instants
        ):
            world.fail(f"point-expiry timer {timer} names another or a repeated instant")
        else:
            instants[(timer.region_id, timer.target_id)] = timer.due
    listed = set()
    for region, key, point_id in world.raw[POINTS_DUE]:
        at, _, named = key.partition(ORDER_SEPARATOR)
        due = instants.get((region, at))
        if due is None or named != point_id:
            world.fail(f"point {point_id} is due at {at} in {region}, with no timer then")
            continue
        listed.add((region, at))
        found[(region, named)].append(due)
    for region, at in set(instants) - listed:
        world.fail(f"point-expiry timer of {at} in {region} has no point due then")
    return found


def all_points(world: Any) -> dict[str, BackupPoint]:
    """Every backup point: those stored, and the disk points folded into their instance
    point (listed by it, no record of their own)."""
    points: dict[str, BackupPoint] = world._entities(BackupPoint, "snapshot_id")
    folded = {}
    for point in points.values():
        for child_id in point.disk_point_ids:
            if child_id not in points:
                child = point.folded_disk_point(child_id)
                if child is not None:
                    folded[child_id] = child
    return points | folded


def check_hbr(world: Any) -> None:
    """Cloud Backup's records agree with each other and with their indexes (``world`` is
    :func:`check_invariants`' view of every record; problems go to ``world.fail``)."""

    policies: dict[str, Policy] = world._entities(Policy, "policy_id")
    bindings: dict[str, PolicyBinding] = world._entities(PolicyBinding, "policy_binding_id")
    counts = collections.Counter(b.policy_id for b in bindings.values())
    for policy in policies.values():
        if policy.policy_binding_count != counts[policy.policy_id]:
            world.fail(
                f"policy {policy.policy_id} counts {policy.policy_binding_count} bindings, "
                f"has {counts[policy.policy_id]}"
            )
    rule_ids = [r.rule_id for p in policies.values() for r in p.rules]
    if None in rule_ids or len(set(rule_ids)) != len(rule_ids):
        world.fail(f"rule ids are missing or repeated: {sorted(map(str, rule_ids))[:5]}")
    per_instance = collections.Counter(b.data_source_id for b in bindings.values())
    for binding in bindings.values():
        found = policies.get(binding.policy_id)
        if found is None or found.region_id != binding.region_id:
            world.fail(f"binding {binding.policy_binding_id} names a missing policy")
        if per_instance[binding.data_source_id] > 1:
            world.fail(f"instance {binding.data_source_id} has several bindings")
        if binding.created_by_tag != bool(binding.hit_tags):
            world.fail(f"binding {binding.policy_binding_id} by tag without hit tags (or not)")
    by_instance = {(p, k) for p, k, _ in world.raw[BINDING_OF_INSTANCE.kind]}
    if by_instance != {(b.data_source_id, i) for i, b in bindings.items()}:
        world.fail("the bindings-by-instance index disagrees with the bindings")
    by_policy = {(p, k, v) for p, k, v in world.raw[BINDINGS_BY_POLICY.kind]}
    expected = {(b.region_id, BINDINGS_BY_POLICY.entry(b, i), i) for i, b in bindings.items()}
    if by_policy != expected:
        world.fail(f"the bindings-by-policy index disagrees at {sorted(by_policy ^ expected)[:3]}")
    counted = {(p, v) for p, k, v in world.raw[ORDER_COUNTS] if k == BINDINGS_BY_POLICY.kind}
    per_region = collections.Counter(b.region_id for b in bindings.values())
    if counted != set(per_region.items()):
        world.fail(f"the bindings-by-policy counts {counted} != {dict(per_region)}")
    tagged = {(p, k) for p, k, _ in world.raw[TAG_POLICIES]}
    wanted = {
        (tag_key_partition(p.region_id, f.key), p.policy_id)
        for p in policies.values()
        for r in p.rules
        if r.rule_type is RuleType.TAG
        for f in r.tag_filters
    }
    if tagged != wanted:
        world.fail(f"the TAG-rule index disagrees at {sorted(tagged ^ wanted)[:3]}")
    accounts = [a for _, _, a in world.raw[HbrAccount.KIND] if isinstance(a, HbrAccount)]
    account = accounts[0] if accounts else HbrAccount()
    if (policies or bindings) and not account.opened:
        world.fail("Cloud Backup holds policies or bindings but was never opened")
    if bindings and (
        ECS_BACKUP_ROLE not in account.roles or account.snapshot_service_activated_time is None
    ):
        world.fail("instances are bound but the role or the snapshot service is missing")
    check_hbr_jobs(world, policies)
    check_hbr_points(world)
    check_hbr_tasks(world)


def check_hbr_jobs(world: Any, policies: dict[str, Policy]) -> None:
    """Backup jobs and the BACKUP rules' timers: a running job's native snapshots that exist
    are of its disks and it has one completion timer, a finished job none; an instance runs
    one job at a time; sub-jobs and their parent agree; each BACKUP rule has at most one
    timer, of a rule that exists."""
    jobs = all_jobs(world)
    snapshots: dict[str, Snapshot] = world._entities(Snapshot, "snapshot_id")
    completion = collections.Counter(
        t.target_id for t in world.timers if t.action == ACTION_JOB_COMPLETE
    )
    running = collections.Counter(
        j.instance_id
        for j in jobs.values()
        if j.source_type == "UDM_ECS" and j.status is JobStatus.RUNNING
    )
    for instance_id, n in running.items():
        if n > 1:
            world.fail(f"instance {instance_id} runs {n} backup jobs at once")
    sub_parents = {(p, k): v for p, k, v in world.raw[SUB_JOB_PARENT]}
    folded_ids = {s.job_id for j in jobs.values() for s in j.folded_sub_jobs()}
    if {k for _, k in sub_parents} != folded_ids:
        world.fail("the sub-job parent entries are not the folded sub-jobs")
    for job in jobs.values():
        if job.source_type == "UDM_ECS":
            want = 1 if job.status is JobStatus.RUNNING else 0
            if completion[job.job_id] != want:
                world.fail(f"job {job.job_id} ({job.status.value}) has {completion[job.job_id]} "
                           "completion timers")  # fmt: skip
            if job.status is JobStatus.RUNNING:
                # A native may be deleted out of band while the job runs (its sub-job then
                # fails when the job finishes); one that exists is of a disk the job backs up.
                for s in job.detail.disk_native_snapshot_id_list:
                    native = snapshots.get(s)
                    if native is not None and native.source_disk_id not in job.detail.disk_id_list:
                        world.fail(f"running job {job.job_id} names {s}, not its snapshot")
            subs = job.folded_sub_jobs()
            if job.sub_job_disks and tuple(s.job_id for s in subs) != job.sub_job_ids:
                world.fail(f"job {job.job_id}'s folded sub-jobs are not its sub_job_ids")
            folded = {s.job_id: job.sub_job_item(s) for s in subs}
            for sub_id in job.sub_job_ids:
                sub = folded.get(sub_id) or jobs.get(sub_id)
                if sub is None or sub.parent_id != job.job_id:
                    world.fail(f"job {job.job_id} names sub-job {sub_id}, which is not its own")
                elif job.status.finished and not sub.status.finished:
                    world.fail(f"finished job {job.job_id} has running sub-job {sub_id}")
                elif sub_id in folded and (
                    sub_id in jobs or sub_parents.get((job.region_id, sub_id)) != job.job_id
                ):
                    world.fail(f"folded sub-job {sub_id} is a record or lacks its parent entry")
        else:
            parent = jobs.get(job.parent_id or "")
            if parent is None or job.job_id not in parent.sub_job_ids:
                world.fail(f"sub-job {job.job_id} has no parent listing it")
    unfinished = {(p, k) for p, k, _ in world.raw[UNFINISHED_JOB_OF_INSTANCE.kind]}
    expected = {
        (j.instance_id, i)
        for i, j in jobs.items()
        if j.source_type == "UDM_ECS" and j.status is JobStatus.RUNNING
    }
    if unfinished != expected:
        world.fail(f"the unfinished-job index disagrees at {sorted(unfinished ^ expected)[:3]}")
    counted: collections.Counter[str] = collections.Counter()
    for p, k, v in world.raw[ORDER_COUNTS]:
        if k.startswith(JOBS_BY_TIME.kind):
            counted[p] += v
    per_region = collections.Counter(
        j.region_id for j in jobs.values() if j.source_type == "UDM_ECS"
    )  # sub-jobs are listed by their parent, not by time
    if +counted != +per_region:
        world.fail(f"the jobs-by-time counts {dict(counted)} != {dict(per_region)}")
    targets = collections.Counter(
        (t.region_id, t.target_id) for t in world.timers if t.action == ACTION_RULE_FIRE
    )
    rules = {
        (p.region_id, rule_timer_target(p.policy_id, r.rule_id or ""))
        for p in policies.values()
        for r in p.rules_of(RuleType.BACKUP)
    }
    for target, n in targets.items():
        if n > 1 or target not in rules:
            world.fail(f"BACKUP rule timer {target} is stale or repeated ({n})")


def check_hbr_points(world: Any) -> None:
    """Backup points: instance and disk points agree, every point that has not expired has
    its native snapshots (unless deleted outside Cloud Backup: then the point shows it when
    described), immutable ones locked in ECS until expiry, expiry timers where due, indexes
    and counts."""
    stored: dict[str, BackupPoint] = world._entities(BackupPoint, "snapshot_id")
    points = all_points(world)
    dues = expiry_timers(world)
    for region, point_id in dues:
        found = points.get(point_id)
        if found is None or found.region_id != region:
            world.fail(f"an expiry timer is pending for point {point_id}, which is gone")
        elif found.source_type is PointSourceType.UDM_ECS_DISK and dues[(region, point_id)] != [
            found.expire_time
        ]:
            world.fail(f"disk point {point_id} expires {found.expire_time}, timers {dues}")
    snapshots: dict[str, Snapshot] = world._entities(Snapshot, "snapshot_id")
    now = world.now
    for point_id, point in points.items():
        if len(point.disk_id_list) != len(point.native_snapshot_id_list):
            world.fail(f"point {point_id} lists disks and native snapshots unequally")
        expire = point.expire_time
        if point.source_type is PointSourceType.UDM_ECS:
            if len(point.disk_point_ids) != len(point.disk_id_list) or not point.disk_id_list:
                world.fail(f"point {point_id} lists its disk points unequally")
            if point.disk_fold and len(point.disk_fold) != 4 * len(point.disk_point_ids):
                world.fail(f"point {point_id} folds {len(point.disk_fold)} values")
            for child_id in point.disk_point_ids:
                child = points.get(child_id)
                if child is None or child.parent_snapshot_id != point_id:
                    world.fail(f"point {point_id} lists disk point {child_id}, which is not its")
            timers = dues.get((point.region_id, point_id), [])
            held = point.keep_latest and expire is not None and expire <= now
            if expire is not None and [expire] != timers and not held:
                world.fail(f"point {point_id} expires {expire} but its timers are {timers}")
            if expire is not None and expire < now and not point.keep_latest:
                world.fail(f"point {point_id} outlived its expiry {expire}")
        else:
            parent = points.get(point.parent_snapshot_id or "")
            if parent is not None and point_id not in parent.disk_point_ids:
                world.fail(f"disk point {point_id} is not listed by its instance point")
            if parent is None and expire is not None and expire < now:
                world.fail(f"disk point {point_id} outlived its expiry {expire}")
            native = snapshots.get(point.native_snapshot_id_list[0])
            if native is not None and point.immutable and (expire is None or expire > now):
                lock = native.lock
                if lock is None or not lock.holds(now):
                    world.fail(f"immutable point {point_id}: native {native.snapshot_id} unlocked")
    by_time = {(p, k, v) for p, k, v in world.raw[POINTS_BY_TIME.kind]}
    expected = {
        (
            POINTS_BY_TIME.partition(p.region_id, POINTS_BY_TIME.values_of(p)),
            POINTS_BY_TIME.entry(p, i),
            i,
        )
        for i, p in points.items()
    }
    if by_time != expected:
        world.fail(f"the points-by-time index disagrees at {sorted(by_time ^ expected)[:3]}")
    by_instance = {v for _, _, v in world.raw[POINTS_OF_INSTANCE.kind]}
    if by_instance != set(points):
        world.fail("the points-of-instance index disagrees with the points")
    _check_point_lookups(world, points)
    parents = {(r, i, str(p)) for r, i, p in world.raw[DISK_POINT_PARENT]}
    folded = {
        (p.region_id, i, str(p.parent_snapshot_id)) for i, p in points.items() if i not in stored
    }
    if parents != folded:
        world.fail(f"folded disk points' lookup disagrees at {sorted(parents ^ folded)[:3]}")


def _rows(world: Any, kind: str) -> list[tuple[str, str]]:
    """Every ``(partition, key)`` of a kind a world stored before holds (not in ``KINDS``: a
    new world never writes it)."""
    backend = world.cloud.backend
    return [(p, k) for p in list(backend.partitions(kind)) for k, _ in backend.scan(kind, p)]


def _check_point_lookups(world: Any, points: dict[str, BackupPoint]) -> None:
    """A job's entry lists every live point it made (and goes with its last one); a group's
    entry names its live instance point; a world stored before them uses the per-job and
    per-group index entries instead, which list exactly the live points."""
    of_job = {(r, job): str(ids).split(",") for r, job, ids in world.raw[POINT_OF_JOB]}
    old_of_job = {(job, i) for job, i in _rows(world, POINTS_OF_JOB)}
    for (region, job), ids in of_job.items():
        if not any(points.get(i) is not None for i in ids):
            world.fail(f"job {job} in {region} is listed with points {ids}, none alive")
    groups = {(r, group): owner for r, group, owner in world.raw[POINT_OF_GROUP]}
    old_groups = {(group, i) for group, i in _rows(world, POINTS_OF_GROUP)}
    for point_id, point in points.items():
        listed = of_job.get((point.region_id, point.job_id))
        if listed is None and (point.job_id, point_id) not in old_of_job:
            world.fail(f"point {point_id} is listed under no job")
        if listed is not None and point_id not in listed:
            world.fail(f"point {point_id} is not listed under its job {point.job_id}")
        group = point.snapshot_group_id
        if point.source_type is PointSourceType.UDM_ECS and group:
            new, old = groups.get((point.region_id, group)), (group, point_id) in old_groups
            if (new == point_id) == old:
                world.fail(f"point {point_id}: group {group} lists it {new!r} / {old}")
    stale_old = {(j, i) for j, i in old_of_job if i not in points} | {
        (g, i) for g, i in old_groups if i not in points
    }
    if stale_old:
        world.fail(f"stale per-job/per-group point index entries {sorted(stale_old)[:3]}")
    for (region, group), owner in groups.items():
        found = points.get(str(owner))
        if found is None or (found.region_id, found.snapshot_group_id) != (region, group):
            world.fail(f"group {group} in {region} names point {owner}, not its")


def check_hbr_tasks(world: Any) -> None:
    """Tasks: ``Progress`` 0–100 or -1 (only once finished), ``CompletedTime`` exactly when
    ``completed``, one timer each (the next step while running, then expiry and the end),
    and a Delete Backups task's points gone up to the steps it ran (all of them once it
    completed without failing)."""
    tasks: dict[str, HbrTask] = world._entities(HbrTask, "task_id")
    points = {v for _, _, v in world.raw[POINTS_OF_INSTANCE.kind]}
    now = world.now
    for task_id, task in tasks.items():
        running = task.status is TaskStatus.CREATED
        if not -1 <= task.progress <= 100 or (running and not 0 <= task.progress <= 99):
            world.fail(f"task {task_id} ({task.description}) shows progress {task.progress}")
        if (task.status is TaskStatus.COMPLETED) != (task.completed_time is not None):
            world.fail(
                f"task {task_id} ({task.description}) has CompletedTime {task.completed_time}"
            )
        if running == (task.finished_time is not None) or task.updated_time < task.created_time:
            world.fail(f"task {task_id} ({task.description}) has wrong times")
        timers = world.timers_for(ACTION_TASK, task_id)
        finished = task.finished_time
        if finished is not None:
            days = TASK_FORGET_DAYS if task.status is TaskStatus.EXPIRED else TASK_RESULT_DAYS
            due = finished + _dt.timedelta(days=days)
            dues = [t.due for t in timers]
            late = task.name is TaskName.CLONE_NOW and len(dues) == 1 and dues[0] > due
            if dues != [due] and not late:  # Clone Now: ended when its job's timer fired
                world.fail(f"finished task {task_id} has timers {timers}, not one at {due}")
            if finished + _dt.timedelta(days=TASK_FORGET_DAYS) < now:
                world.fail(f"task {task_id} outlived {TASK_FORGET_DAYS} days after it finished")
        elif len(timers) != 1:
            world.fail(f"running task {task_id} has timers {timers}")
        if task.name is TaskName.DELETE_BACKUPS and task.steps:
            ids = task.snapshot_ids
            if task.progress == 100 or running:
                ran = len(ids) if task.progress == 100 else task.steps_done * len(ids) // task.steps
                left = [i for i in ids[:ran] if i in points]
                if left:
                    world.fail(f"Delete Backups task {task_id} ran past points {left}")
            if running and task.progress != task.steps_done * 100 // task.steps:
                world.fail(
                    f"Delete Backups task {task_id} shows {task.progress}% after "
                    f"{task.steps_done}/{task.steps} steps"
                )
