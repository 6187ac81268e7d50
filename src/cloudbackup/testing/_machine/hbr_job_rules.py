"""Backup jobs in the state machine: in each of the machine's regions a policy fires every few
hours, and rules run it now (``execute_policy_v2``), back an instance up now
(``create_backup_job``) and cancel a running job (``cancel_backup_job``).

Jobs run on the machine's own instances, so Cloud Backup and the ECS rules meet: a disk
detached, deleted or snapshotted up to its quota, an instance stopped or released between two
runs, a native snapshot deleted, locked, extended or made into a disk out of band. The ECS
model stays exact for everything: after every step that can run a job it learns the native
snapshots jobs took (the ECS snapshots tagged ``HBR JobId``: their bytes are the model's own
disk bytes, their retention the job's) and from then on runs them itself: the job finishing
(the point's retention), the point expiring (released, or kept for the disks made from it).
Before a job a rule makes, the model predicts which disks it snapshots (or that it is
skipped or refused), and the world must agree.

After every step the jobs are held to what they promise: a COMPLETE job left a point whose
native snapshots exist (until the point expires), no job runs past its snapshots'
completion, a SKIPPED or FAILED job names its reason, no point outlives its expiry by more
than ten minutes nor goes before it, a CANCELED job left no point and no snapshot, and no
native snapshot outlives what owns it (its running job, its point, a disk or image made from
it, or a lock).
"""

from __future__ import annotations

import datetime as _dt

from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from ..._domain.ecs import CATEGORY_SPECS, DiskCategory
from ..._domain.hbr import PolicyBindingRequest, Rule
from ..._domain.hbr_jobs import JOB_TAG_KEY, SUSPENDED_MESSAGE, BackupJob, BackupJobFilter
from ..._domain.hbr_jobs import JobStatus as Js
from .base import PICK, RARELY, _Rejected, all_pages
from .hbr_rules import NO_INSTANCE, HbrPointRules
from .model import DiskModel

__all__ = ["HbrJobRules"]

JOB_RUNNING = "IncorrectStatus.JobRunning"
NOT_RUNNING = "IncorrectStatus.JobNotRunning"
JOB_INTERVAL = "PT12H"
"""The job policies' BACKUP interval: a day of virtual time runs them twice."""
JOB_RETENTION = 1
"""Days the job policies keep their points (few native snapshots live per disk)."""
LATE = _dt.timedelta(minutes=10)
"""How long after its expiry a point may still be shown."""
PREVIOUS_RUNNING = "The previous backup job"
FINISHED = (Js.COMPLETE, Js.PARTIAL_COMPLETE, Js.FAILED, Js.CANCELED, Js.SKIPPED)


class HbrJobRules(HbrPointRules):
    """Backup jobs of the machine's instances, run by schedule, Run Now and Backup Now."""

    def __init__(self) -> None:
        super().__init__()
        self.job_policies: dict[str, tuple[str, str]] = {}
        """Region -> (policy id, BACKUP rule id) of the policy that fires every few hours."""
        self.job_days: dict[str, int] = {}
        """Retention of the jobs ``create_backup_job`` started (others keep JOB_RETENTION)."""
        self.open_jobs: dict[str, str] = {}
        """Job id -> region, for jobs seen running (or not yet seen finished)."""
        self.job_points: dict[str, tuple[str, str, _dt.datetime | None]] = {}
        """Point id -> (region, job id, expiry) of every point a finished job left."""
        self.jobs_seen_until: dict[str, _dt.datetime] = {}
        """Region -> the creation time up to which its jobs were read."""
        self.cancelled: dict[str, str] = {}
        """Job id -> region of the jobs cancel_backup_job stopped."""
        self.jobs_done: set[str] = set()
        """Jobs whose finish was checked."""
        self.jobs_moved = True
        """Whether a job may have started or finished since the jobs were last read (only
        time and the job rules start or finish jobs)."""

    # -- set-up ------------------------------------------------------------------------
    def start_job_policies(self) -> None:
        """In every region a policy whose BACKUP rule starts now and fires every
        :data:`JOB_INTERVAL`, bound to the region's first instance (called by the seed)."""
        start = int(self.now.timestamp())
        backup = Rule("BACKUP", schedule=f"I|{start}|{JOB_INTERVAL}", retention=JOB_RETENTION)
        for region in self.REGION_IDS:
            hbr = self.hbr(region)
            policy_id = hbr.create_policy_v2(rules=[backup])
            [policy] = hbr.describe_policies_v2(policy_id=policy_id).items
            [rule_id] = [r.rule_id for r in policy.rules if r.rule_type == "BACKUP"]
            assert rule_id is not None
            self.job_policies[region] = (policy_id, rule_id)
            first = next(i for i, x in self.instances.items() if x.region_id == region)
            hbr.create_policy_bindings(
                policy_id=policy_id, policy_binding_list=[PolicyBindingRequest(first)]
            )
            self.jobs_seen_until[region] = self.now

    # -- what jobs did -------------------------------------------------------------------
    def time_moved(self) -> None:
        """Scheduled runs may have taken native snapshots: the model learns them."""
        super().time_moved()
        self.jobs_moved = True
        self.learn_natives()

    def learn_natives(self) -> list[str]:
        """Add the native snapshots Cloud Backup jobs took since the last step to the model
        (bytes from the model's disks, retention from the job), then let the model run them
        to the present. Answers the ids learned."""
        self.jobs_moved = True
        learned = []
        for region in self.REGION_IDS if self.job_policies else ():
            known = self.snapshots.keys() | set(self.model.gone["snapshot"])
            for s in all_pages(self.ecs(region).describe_snapshots):
                job_id = dict(s.tags).get(JOB_TAG_KEY)
                if job_id is None or s.snapshot_id in known:
                    continue
                disk = self.disks.get(s.source_disk_id or "")
                if disk is None:
                    raise AssertionError(f"job {job_id} snapshotted {s.source_disk_id}, unknown")
                self.model.learn_native(
                    s.snapshot_id,
                    disk,
                    created=s.creation_time,
                    job_id=job_id,
                    days=self.job_days.get(job_id, JOB_RETENTION),
                    group_id=s.snapshot_group_id,
                )
                self.model.tags[s.snapshot_id] = {JOB_TAG_KEY: job_id}
                learned.append(s.snapshot_id)
        if learned:
            self.note("native snapshots of a backup job learned")
            for happened in self.model.advance(self.now):
                self.note(happened)
        return learned

    def _jobs(self, region: str, where: list[BackupJobFilter]) -> list[BackupJob]:
        hbr = self.hbr(region)
        out: list[BackupJob] = []
        number = 1
        while True:
            page = hbr.describe_backup_jobs2(filters=where, page_number=number, page_size=99)
            out.extend(page.items)
            if len(out) >= page.total_count or not page.items:
                return out
            number += 1

    def _running_job(self, region: str, instance_id: str) -> str | None:
        where = [
            BackupJobFilter("InstanceId", (instance_id,), "EQUAL"),
            BackupJobFilter("Status", ("RUNNING",), "EQUAL"),
        ]
        found = self._jobs(region, where)
        return found[0].job_id if found else None

    def _predicted_disks(self, instance_id: str) -> set[str]:
        """The disks a job of ``instance_id`` started now snapshots, by the model: its
        attached cloud disks, all or none in one group when every one is of the ESSD family
        (refused as ``create_snapshot_group`` would be), else each that ECS would snapshot."""
        disks = self.model.instance_disks(instance_id)
        chosen = [d for d in disks if not CATEGORY_SPECS[d.category].local]
        if chosen and all(CATEGORY_SPECS[d.category].consistent_group for d in chosen):
            return {d.disk_id for d in chosen} if not self._group_problems(chosen) else set()
        return {d.disk_id for d in chosen if not self.model.snapshot_problems(d)}

    def _group_problems(self, members: list[DiskModel]) -> set[str]:
        problems: set[str] = set()
        if len(members) > self.LIMITS.snapshot_group_max_disks:
            problems.add("NumberExceed.TooManyDisks")
        if len({d.category is DiskCategory.cloud_regional_disk_auto for d in members}) > 1:
            problems.add("InvalidDisk.DiskCategoryInconsistent")
        for disk in members:
            if disk.multi_attach:
                problems.add("InvalidOperation.MultiAttachDisk")
            problems |= self.model.snapshot_problems(disk)
        return problems

    def _check_started(self, region: str, job_id: str, instance_id: str, want: set[str]) -> None:
        """The job a rule started snapshotted exactly the disks the model predicted."""
        self.open_jobs[job_id] = region
        learned = self.learn_natives()
        got = {self.snapshots[s].disk_id for s in learned if self.snapshots[s].backup_job == job_id}
        if got != want:
            raise AssertionError(
                f"job {job_id} of {instance_id} snapshotted {sorted(got)}; the model expected "
                f"{sorted(want)}"
            )
        self.note("backup job started" if want else "backup job started with no disk")

    # -- rules -------------------------------------------------------------------------
    @precondition(lambda self: self.job_policies)
    @rule(region_pick=PICK, pick=PICK, every=RARELY)
    def run_policy_now(self, region_pick: int, pick: int, every: bool) -> None:
        """``execute_policy_v2`` for one bound instance (rarely, every one): a job starts,
        or a SKIPPED one says the binding is suspended or a job is running."""
        self.jobs_moved = True
        region = self.pick(self.REGION_IDS, region_pick)
        policy_id, rule_id = self.job_policies[region]
        hbr = self.hbr(region)
        bound = hbr.describe_policy_bindings(policy_id=policy_id, max_results=100).items
        if every or not bound:
            made = self.attempt(
                "execute_policy_v2",
                set(),
                lambda: hbr.execute_policy_v2(policy_id=policy_id, rule_id=rule_id),
            )
            if isinstance(made, str) != bool(bound):
                raise AssertionError(f"execute_policy_v2 of {policy_id} returned {made!r}")
            self.learn_natives()
            return
        binding = self.pick(bound, pick)
        vm = binding.data_source_id
        running = self._running_job(region, vm)
        live = vm in self.instances
        want = self._predicted_disks(vm) if live else set()
        made = self.attempt(
            "execute_policy_v2",
            set(),
            lambda: hbr.execute_policy_v2(policy_id=policy_id, rule_id=rule_id, data_source_id=vm),
        )
        assert isinstance(made, str)
        [job] = self._jobs(region, [BackupJobFilter("JobId", (made,), "EQUAL")])
        if binding.disabled or running is not None:
            reason = SUSPENDED_MESSAGE if binding.disabled else PREVIOUS_RUNNING
            if job.status is not Js.SKIPPED or not (job.error_message or "").startswith(reason):
                raise AssertionError(f"job {made} should be SKIPPED ({reason}): {job}")
            self.note(f"backup job skipped: {'suspended' if binding.disabled else 'running'}")
            self.open_jobs[made] = region
            return
        if not live:
            if job.status is not Js.FAILED:
                raise AssertionError(f"job {made} of released {vm} is {job.status.value}")
            self.note("backup job of a released instance failed")
            self.open_jobs[made] = region
            return
        self._check_started(region, made, vm, want)

    @precondition(lambda self: self.job_policies)
    @rule(pick=PICK, days=st.integers(1, 2), gone=RARELY)
    def create_backup_job(self, pick: int, days: int, gone: bool) -> None:
        """``create_backup_job`` (Backup Now): refused while the instance's previous job runs
        or for an instance that is gone; else the model's disks are snapshotted."""
        self.jobs_moved = True
        if not self.instances:
            return
        vm = self.id_or_gone("instance", self.instances, pick, gone)
        instance = self.instances.get(vm)
        region = instance.region_id if instance is not None else self.REGION_IDS[0]
        problems: set[str] = set()
        want: set[str] = set()
        if instance is None:
            problems.add(NO_INSTANCE)
        else:
            if self._running_job(region, vm) is not None:
                problems.add(JOB_RUNNING)
            want = self._predicted_disks(vm)
        hbr = self.hbr(region)
        made = self.attempt(
            "create_backup_job",
            problems,
            lambda: hbr.create_backup_job(instance_id=vm, retention=days),
        )
        if isinstance(made, _Rejected):
            return
        assert isinstance(made, str)
        self.job_days[made] = days
        self._check_started(region, made, vm, want)

    @precondition(lambda self: self.open_jobs)
    @rule(pick=PICK, finished=RARELY)
    def cancel_backup_job(self, pick: int, finished: bool) -> None:
        """``cancel_backup_job`` on a running job: it leaves no point and its natives go,
        except one a disk or image was made from (kept until deleted) or a lock holds (ECS
        releases it when lock and retention end); a finished job is refused."""
        jobs = sorted(self.open_jobs.items())
        job_id, region = self.pick(jobs, pick)
        [job] = self._jobs(region, [BackupJobFilter("JobId", (job_id,), "EQUAL")])
        if finished and job.status is Js.RUNNING:
            done = [(j, r) for j, r in self.cancelled.items()]
            if done:
                job_id, region = self.pick(done, pick)
                [job] = self._jobs(region, [BackupJobFilter("JobId", (job_id,), "EQUAL")])
        natives = [s for s in self.snapshots.values() if s.backup_job == job_id]
        problems = set() if job.status is Js.RUNNING else {NOT_RUNNING}
        hbr = self.hbr(region)
        if self.ok("cancel_backup_job", problems, lambda: hbr.cancel_backup_job(job_id=job_id)):
            self.jobs_moved = True
            for native in natives:
                native.job_done = None
                said = self.model.release_native(native)
                if said is not None and "released" not in said:
                    self.note("cancel_backup_job: a native in use stays")
            self.cancelled[job_id] = region

    # -- invariants --------------------------------------------------------------------
    @invariant()
    def jobs_keep_their_promises(self) -> None:
        """Jobs and their points keep what they promise (see the module's docstring)."""
        if not self.job_policies:
            return
        if self.jobs_moved:
            self._read_jobs()
        self._check_points()
        self._check_natives_owned()

    def _read_jobs(self) -> None:
        self.jobs_moved = False
        for region in self.REGION_IDS:
            self._read_new_jobs(region)
        for region in self.REGION_IDS:
            mine = sorted(j for j, r in self.open_jobs.items() if r == region)
            if mine:
                where = [BackupJobFilter("JobId", tuple(mine), "IN")]
                for job in self._jobs(region, where):
                    self._check_job(region, job)

    def _read_new_jobs(self, region: str) -> None:
        """Jobs created since the last step (newest first, until an older one)."""
        since = self.jobs_seen_until[region]
        hbr = self.hbr(region)
        number = 1
        while True:
            page = hbr.describe_backup_jobs2(page_number=number, page_size=99)
            for job in page.items:
                if job.created_time < since:
                    break
                if job.job_id not in self.jobs_done:
                    self.open_jobs.setdefault(job.job_id, region)
            else:
                if page.items and number * 99 < page.total_count:
                    number += 1
                    continue
            break
        self.jobs_seen_until[region] = self.now

    def _check_job(self, region: str, job: BackupJob) -> None:
        now = self.now
        if job.status is Js.RUNNING:
            due = job.expected_completion_time
            if due is None or due < now or due > job.created_time + self.TIMINGS.snapshot_base:
                raise AssertionError(f"job {job.job_id} runs past its completion ({due})")
            return
        del self.open_jobs[job.job_id]
        self.jobs_done.add(job.job_id)
        self.note(f"backup job: {job.status.value}")
        if job.status in (Js.SKIPPED, Js.FAILED, Js.CANCELED) and not job.error_message:
            raise AssertionError(f"{job.status.value} job {job.job_id} names no reason")
        if job.status is Js.SKIPPED and not (
            job.error_message == SUSPENDED_MESSAGE
            or (job.error_message or "").startswith(PREVIOUS_RUNNING)
        ):
            raise AssertionError(f"job {job.job_id} skipped for {job.error_message!r}")
        points = tuple(
            self.hbr(region).describe_udm_snapshots(
                source_type="UDM_ECS", start_time=0, end_time=2**33, job_id=job.job_id
            )
        )
        if job.status is Js.CANCELED:  # a native in use (disk, image, lock) may stay
            left = [
                s.snapshot_id
                for s in self.snapshots.values()
                if s.backup_job == job.job_id
                and not self.model.held(s)
                and s.retention is not None
                and s.point_expire is not None
            ]
            if points or left:
                raise AssertionError(f"cancelled job {job.job_id} left {list(points)} {left}")
        if job.status in (Js.COMPLETE, Js.PARTIAL_COMPLETE):
            expire = job.created_time + _dt.timedelta(days=job.retention)
            if not points and job.point_id is not None and expire <= now:
                self.note("backup point of a job expired")
                return  # its point came and went within the step
            if [job.point_id] != [p.snapshot_id for p in points]:
                raise AssertionError(f"{job.status.value} job {job.job_id} left {list(points)}")
            [point] = points
            self.job_points[point.snapshot_id] = (region, job.job_id, point.expire_time)
            for native in point.native_snapshot_id_list:
                if native not in self.snapshots:
                    raise AssertionError(f"job {job.job_id}'s point lacks native {native}")

    def _check_points(self) -> None:
        """A point is shown until its expiry, and gone ten minutes after it; it is usable
        exactly while its native snapshots exist."""
        now = self.now
        for region in self.REGION_IDS:
            mine = {p: e for p, (r, _, e) in self.job_points.items() if r == region}
            if not mine:
                continue
            shown = {
                p.snapshot_id: p
                for p in self.hbr(region).describe_udm_snapshots(
                    source_type="UDM_ECS", start_time=0, end_time=2**33, snapshot_ids=list(mine)
                )
            }
            for point_id, expire in mine.items():
                point = shown.get(point_id)
                if point is None:
                    if expire is None or expire > now:
                        raise AssertionError(f"point {point_id} went before its expiry {expire}")
                    del self.job_points[point_id]
                    self.note("backup point of a job expired")
                    continue
                if expire is not None and expire + LATE < now:
                    raise AssertionError(f"point {point_id} outlived its expiry {expire}")
                whole = all(n in self.snapshots for n in point.native_snapshot_id_list)
                if point.usable != whole:
                    raise AssertionError(f"point {point_id} usable={point.usable}, natives {whole}")
                if not whole:
                    self.note("backup point unusable: a native snapshot deleted out of band")

    def _check_natives_owned(self) -> None:
        """Every native snapshot a job took has an owner: its running job, its point, a disk
        or image made from it (released from Cloud Backup, kept until deleted), or a lock."""
        pointed = {p: j for p, (_, j, _) in self.job_points.items()}
        owners = set(pointed.values()) | set(self.open_jobs)
        for native in self.snapshots.values():
            if native.backup_job is None or native.backup_job in owners:
                continue
            if native.retention is None or (
                native.lock is not None and native.lock.holds(self.now)
            ):
                continue
            if native.backup_job in self.cancelled and native.point_expire is None:
                continue  # left locked by a cancel: ECS releases it when its retention ends
            if native.point_expire is not None and native.point_expire > self.now:
                raise AssertionError(
                    f"native {native.snapshot_id} of job {native.backup_job}: no point seen"
                )
            raise AssertionError(f"native {native.snapshot_id} outlived its point")
