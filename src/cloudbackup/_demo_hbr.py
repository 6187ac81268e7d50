"""The demo's second act: Cloud Backup protects the instance of the first for a week.

:func:`hbr_story` runs after the ECS story of :mod:`cloudbackup._demo`, in the same world and
region, and prints one line a step: a daily policy with special and immutable retention, a run
skipped because a long job was still uploading, a point expired and one kept by the WEEKLY rule,
an immutable point refusing deletion, and data brought back from a point through ECS.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections import Counter
from collections.abc import Callable

from ._cloud import Cloud
from ._domain.hbr import PolicyBindingRequest, RetentionRule, Rule, RuleType
from ._domain.hbr_jobs import BackupJobFilter, JobStatus
from .errors import CloudBackupError

__all__ = ["hbr_story"]

_GIB = 1024**3
_BASE_DAYS, _WEEKLY_DAYS = 2, 14
_FILL_OFFSET, _FILL_LENGTH = 1 * _GIB, 90 * _GIB
_RUN_NOW_LEAD = _dt.timedelta(minutes=10)


def _fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def _unix(moment: _dt.datetime) -> int:
    return int(moment.timestamp())


def _duration(delta: _dt.timedelta) -> str:
    """``16m 21.6s``: a job's length as a person reads it."""
    minutes, seconds = divmod(delta.total_seconds(), 60)
    return f"{int(minutes)}m {seconds:g}s" if minutes else f"{seconds:g}s"


def hbr_story(
    cloud: Cloud,
    say: Callable[[str], None],
    *,
    region: str,
    zone: str,
    instance_id: str,
    data_disk_id: str,
    orders_length: int,
) -> bool:
    """Protect ``instance_id`` with Cloud Backup for a week; True if the restore matched.

    Args:
        cloud: The world of the ECS story, its instance ``Running``.
        say: Prints one line with the virtual time.
        region: The instance's region (Cloud Backup's ``UdmRegionId``).
        zone: The instance's zone, where the restored disk is created.
        instance_id: The instance to protect.
        data_disk_id: Its data disk, whose first ``orders_length`` bytes are the orders.
        orders_length: How many bytes of orders the guest keeps at offset 0.
    """
    ecs, hbr = cloud.ecs(region), cloud.hbr(region)
    order_id = hbr.open_hbr_service()
    # The daily run is at the next whole hour after the next one: an interval schedule starts
    # at a UNIX second and repeats every ISO 8601 duration.
    first_run = _unix(cloud.now()) // 3600 * 3600 + 2 * 3600
    policy_id = hbr.create_policy_v2(
        policy_name="orders-daily",
        rules=[
            Rule("BACKUP", schedule=f"I|{first_run}|P1D", retention=_BASE_DAYS),
            Rule(
                "TRANSITION",
                retention=_BASE_DAYS,
                retention_rules=(RetentionRule("WEEKLY", _WEEKLY_DAYS),),
            ),
            Rule("SECURITY", immutable=True),
        ],
    )
    daily_at = _dt.datetime.fromtimestamp(first_run, _dt.timezone.utc)
    policy = hbr.describe_policies_v2(policy_id=policy_id).items[0]
    by_type = {rule.rule_type: rule for rule in policy.rules}
    backup, transition = by_type[RuleType.BACKUP], by_type[RuleType.TRANSITION]
    [weekly] = transition.retention_rules
    say(
        f"Opened Cloud Backup (order {order_id}) and created policy {policy_id}: "
        f"{backup.schedule} (daily at {daily_at:%H:%M}Z), "
        f"points kept {transition.retention} days, the first of each week "
        f"{weekly.retention} days, immutable: {by_type[RuleType.SECURITY].immutable}."
    )

    hbr.create_policy_bindings(
        policy_id=policy_id, policy_binding_list=[PolicyBindingRequest(instance_id)]
    )
    [binding] = hbr.describe_policy_bindings(policy_id=policy_id).items
    detail = binding.advanced_options.udm_detail if binding.advanced_options else None
    say(
        f"Bound {instance_id} to it (snapshot group: "
        f"{detail.snapshot_group if detail else True}); the role "
        f"AliyunServiceRoleForHbrEcsBackup exists: {hbr.check_role('UdmRole')}."
    )
    orders_at_backup = _fingerprint(ecs.read_disk(data_disk_id, 0, orders_length))

    # A long job: just before the second daily run, the guest writes a lot and the policy is
    # run now, so the run due while that job still uploads is skipped.
    second_run = daily_at + _dt.timedelta(days=1)
    cloud.advance(second_run - _RUN_NOW_LEAD - cloud.now())
    ecs.fill_disk(data_disk_id, _FILL_OFFSET, _FILL_LENGTH, seed=9)
    long_job_id = hbr.execute_policy_v2(
        policy_id=policy_id, rule_id=backup.rule_id or "", data_source_id=instance_id
    )
    [long_job] = hbr.describe_backup_jobs2(
        filters=[BackupJobFilter("JobId", (long_job_id or "",))]
    ).items
    expected = long_job.expected_completion_time or long_job.created_time
    say(
        f"Guest filled {_FILL_LENGTH // _GIB} GiB of {data_disk_id}; ran the policy now "
        f"(job {long_job.job_id}), {_RUN_NOW_LEAD.total_seconds() / 60:g} minutes before a "
        f"daily run: its upload takes {_duration(expected - long_job.created_time)}."
    )

    week_end = binding.created_time + _dt.timedelta(days=7)
    cloud.advance(week_end - cloud.now())
    jobs = hbr.describe_backup_jobs2(page_size=99, sort_direction="ASCEND").items
    counts = Counter(job.status.value for job in jobs)
    skipped = next((job for job in jobs if job.status is JobStatus.SKIPPED), None)
    say(
        f"A week later DescribeBackupJobs2 lists {len(jobs)} jobs ("
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        + (
            f"): {skipped.job_id} due at {skipped.created_time:%H:%M}Z was SKIPPED: "
            f"{skipped.error_message}"
            if skipped
            else "): no run was SKIPPED, though one fell due while the long job ran."
        )
    )

    now = _unix(cloud.now())
    listed = hbr.describe_udm_snapshots(source_type="UDM_ECS", start_time=0, end_time=now)
    live = {point.snapshot_id: point for point in listed.snapshots}
    made = [job for job in jobs if job.point_id is not None]
    expired = [job for job in made if job.point_id not in live]
    kept = [
        p
        for p in live.values()
        if p.advanced_retention_type is not None
        and p.created_time + _dt.timedelta(days=p.base_retention or 0) < cloud.now()
    ]
    if not expired or not kept:
        say(
            f"DescribeUdmSnapshots lists {listed.total_count} of the {len(made)} points made: "
            f"{len(expired)} expired and {len(kept)} kept past their base retention, where "
            f"the policy should have expired some and kept the first of the week."
        )
        return False
    first_expired, first_kept = expired[0], kept[0]
    say(
        f"DescribeUdmSnapshots lists {listed.total_count} of the {len(made)} points made: "
        f"{len(expired)} expired, e.g. {first_expired.point_id} of "
        f"{first_expired.created_time:%m-%d %H:%M}Z (gone after {first_expired.retention} days); "
        f"{first_kept.snapshot_id} of {first_kept.created_time:%m-%d %H:%M}Z (group "
        f"{first_kept.snapshot_group_id}, {len(first_kept.disk_id_list)} disks) stays: "
        f"{first_kept.advanced_retention_type.value if first_kept.advanced_retention_type else ''}"
        f" keeps it {first_kept.retention} days, until {first_kept.expire_time:%m-%d %H:%M}Z."
    )

    newest = listed.snapshots[-1]
    refusals: list[str] = []
    attempts: list[Callable[[], None]] = [
        lambda: hbr.delete_snapshot(snapshot_id=newest.snapshot_id),
        lambda: ecs.delete_snapshot(newest.native_snapshot_id_list[0]),
    ]
    for attempt in attempts:
        try:
            attempt()
        except CloudBackupError as error:
            refusals.append(error.code)
        else:
            refusals.append("deleted")
    still = hbr.describe_udm_snapshots(
        source_type="UDM_ECS", start_time=0, end_time=now, snapshot_ids=[newest.snapshot_id]
    ).total_count
    say(
        f"Immutable point {newest.snapshot_id}: DeleteSnapshot refused with {refusals[0]}, "
        f"ECS DeleteSnapshot of its native snapshot with {refusals[1]}; "
        f"still listed: {still == 1}."
    )

    ecs.write_disk(data_disk_id, 0, b"orders lost by a bad deploy\n")
    damaged = _fingerprint(ecs.read_disk(data_disk_id, 0, orders_length))
    native = dict(zip(first_kept.disk_id_list, first_kept.native_snapshot_id_list, strict=True))
    restored_id = ecs.create_disk(
        zone_id=zone,
        disk_category="cloud_essd",
        snapshot_id=native[data_disk_id],
        disk_name="orders-restored",
    )
    ecs.attach_disk(instance_id=instance_id, disk_id=restored_id)
    cloud.advance(_dt.timedelta(minutes=1))
    restored = _fingerprint(ecs.read_disk(restored_id, 0, orders_length))
    ok = restored == orders_at_backup and skipped is not None
    say(
        f"A bad deploy overwrote the orders (sha256 {damaged}); restored them from point "
        f"{first_kept.snapshot_id}: disk {restored_id} from its native snapshot "
        f"{native[data_disk_id]}, attached and read: "
        f"sha256 {restored} {'equals' if ok else 'DIFFERS FROM'} the orders at the backup "
        f"({orders_at_backup})."
    )
    return ok
