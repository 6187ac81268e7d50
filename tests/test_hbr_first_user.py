"""What a first user of Cloud Backup reads off the records: ids always set, defaults shown,
the job's retention and bytes against its point's (the oddities issue 9's audit found)."""

from __future__ import annotations

import datetime as dt
import re

from _helpers import INSTANCE_TYPE, REGION, ZONE, make_cloud, settle
from cloudbackup import (
    BackupJobFilter,
    Cloud,
    DataDisk,
    EcsService,
    HbrService,
    JobStatus,
    PolicyBindingRequest,
    RetentionRule,
    Rule,
    RuleType,
    UdmDetail,
)

GIB = 1024**3


def _opened() -> tuple[Cloud, EcsService, HbrService, str]:
    """An opened Cloud Backup and a Running instance with one data disk."""
    cloud = make_cloud()
    ecs, hbr = cloud.ecs(REGION), cloud.hbr(REGION)
    hbr.open_hbr_service()
    [vm] = ecs.run_instances(
        zone_id=ZONE, instance_type=INSTANCE_TYPE, data_disks=[DataDisk(size=20)]
    )
    settle(cloud)
    return cloud, ecs, hbr, vm


def test_every_rule_the_service_returns_has_its_rule_id() -> None:
    """Rule.rule_id is Optional only for requests: each described rule, after create and
    update, carries a rule-000… id, and an update keeps the ids it was given."""
    _cloud, _ecs, hbr, _vm = _opened()
    policy = hbr.create_policy_v2(
        rules=[
            Rule("BACKUP", schedule="I|1704067200|P1D", retention=7),
            Rule("TRANSITION", retention=7, retention_rules=(RetentionRule("WEEKLY", 30),)),
            Rule("SECURITY", immutable=True),
        ]
    )
    [created] = hbr.describe_policies_v2(policy_id=policy).items
    kept = created.rules[0]
    hbr.update_policy_v2(
        policy_id=policy,
        rules=[kept, Rule("BACKUP", schedule="I|1704067200|PT12H"), *created.rules[2:]],
    )
    [updated] = hbr.describe_policies_v2(policy_id=policy).items
    ids = [r.rule_id for r in (*created.rules, *updated.rules)]
    assert [True] * 6 == [bool(re.fullmatch(r"rule-000[0-9a-z]{17}", i or "")) for i in ids]
    assert kept.rule_id == updated.rules[0].rule_id


def test_a_binding_without_advanced_options_shows_the_defaults_and_takes_a_group() -> None:
    """advanced_options=None is every UdmDetail default, shown on the described binding
    (snapshot_group=True among them), and a job of it takes one snapshot-consistent group."""
    cloud, _ecs, hbr, vm = _opened()
    policy = hbr.create_policy_v2(rules=[Rule("BACKUP", schedule="I|1704153600|P1D", retention=7)])
    hbr.create_policy_bindings(policy_id=policy, policy_binding_list=[PolicyBindingRequest(vm)])
    [binding] = hbr.describe_policy_bindings().items
    assert (UdmDetail(), True) == (binding.udm_detail, binding.udm_detail.snapshot_group)
    cloud.advance(dt.timedelta(days=1, hours=1))
    [job] = hbr.describe_backup_jobs2()
    assert (JobStatus.COMPLETE, True) == (job.status, job.detail.snapshot_group_id is not None)


def test_a_job_shows_its_base_retention_and_its_point_the_special_one() -> None:
    """The first backup of a week gets the WEEKLY special retention: the job still shows the
    base retention it started with, the point (and its native snapshots) the longer one."""
    cloud, ecs, hbr, vm = _opened()
    policy = hbr.create_policy_v2(
        rules=[
            Rule("BACKUP", schedule="I|1704070800|P1D", retention=3),
            Rule("TRANSITION", retention=7, retention_rules=(RetentionRule("WEEKLY", 90),)),
        ]
    )
    hbr.create_policy_bindings(policy_id=policy, policy_binding_list=[PolicyBindingRequest(vm)])
    cloud.advance(dt.timedelta(hours=2))
    [job] = hbr.describe_backup_jobs2()
    [point] = hbr.describe_udm_snapshots(
        source_type="UDM_ECS", start_time=0, end_time=2**33, job_id=job.job_id
    ).snapshots
    natives = ecs.describe_snapshots(snapshot_ids=list(point.native_snapshot_id_list)).items
    assert (7, 7, 90, "WEEKLY") == (
        job.retention,
        point.base_retention,
        point.retention,
        point.advanced_retention_type and point.advanced_retention_type.value,
    )
    assert [90, 90] == [s.retention_days for s in natives]
    assert job.created_time + dt.timedelta(days=90) == point.expire_time


def test_job_bytes_are_the_disks_sizes_and_the_changed_bytes() -> None:
    """BytesTotal is the size of the disks backed up; ActualBytes the bytes their snapshots
    add (the sub-jobs' sum, the point's figure); BytesDone reaches ActualBytes at COMPLETE."""
    cloud, ecs, hbr, vm = _opened()
    disks = ecs.describe_disks(instance_id=vm, page_size=100).items
    data = next(d.disk_id for d in disks if d.type.value == "data")
    ecs.write_disk(data, 0, b"\x01" * 40_000)
    job_id = hbr.create_backup_job(instance_id=vm, retention=7)
    cloud.advance(dt.timedelta(hours=1))
    [job] = hbr.describe_backup_jobs2(filters=[BackupJobFilter("JobId", (job_id,))])
    subs = hbr.describe_backup_jobs2(
        source_type="UDM_ECS_DISK", filters=[BackupJobFilter("ParentId", (job_id,))]
    )
    [point] = hbr.describe_udm_snapshots(
        source_type="UDM_ECS", start_time=0, end_time=2**33, job_id=job_id
    ).snapshots
    sizes = sum(d.size for d in disks) * GIB
    assert (sizes, sizes) == (job.bytes_total, point.bytes_total)
    assert (40_960, 40_960, 40_960, 40_960) == (
        job.actual_bytes,
        sum(s.actual_bytes for s in subs),
        point.actual_bytes,
        job.bytes_done,
    )


def test_rules_of_takes_the_wire_string_as_rule_does() -> None:
    """Policy.rules_of accepts "BACKUP" as Rule("BACKUP", ...) does, and an unknown type has
    no rules."""
    _cloud, _ecs, hbr, _vm = _opened()
    policy = hbr.create_policy_v2(
        rules=[
            Rule("BACKUP", schedule="I|1704067200|P1D", retention=7),
            Rule("TRANSITION", retention=9),
        ]
    )
    [found] = hbr.describe_policies_v2(policy_id=policy).items
    assert (found.rules[:1], found.rules[1:], ()) == (
        found.rules_of("BACKUP"),
        found.rules_of(RuleType.TRANSITION),
        found.rules_of("COLD"),
    )
