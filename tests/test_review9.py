"""Review 9: defects found in this session's first wave outside Cloud Backup, each with the
test that failed before its fix."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from dateutil import tz

from _helpers import INSTANCE_TYPE, REGION, ZONE, make_cloud, settle
from cloudbackup import Cloud, EcsService, SqliteBackend, parse_schedule
from cloudbackup.testing import check_invariants, world_state

UTC = dt.timezone.utc
LOS_ANGELES = tz.gettz("America/Los_Angeles")


def test_a_cron_fires_on_the_last_evening_of_2199_west_of_utc() -> None:
    """The horizon is the end of 2199 on the region's wall clock: 22:00 on 31 December 2199
    in Los Angeles (06:00 UTC in 2200) still fires after the 20:00 run."""
    schedule = parse_schedule("C|0|0 0 20,22 * * ?")
    assert LOS_ANGELES is not None
    after_eight = dt.datetime(2200, 1, 1, 4, tzinfo=UTC)  # 2199-12-31 20:00 PST
    expected = dt.datetime(2200, 1, 1, 6, tzinfo=UTC)  # 2199-12-31 22:00 PST
    assert expected == schedule.next_after(after_eight, LOS_ANGELES)
    assert None is schedule.next_after(expected, LOS_ANGELES)


class _Boom(Exception):
    """Raised inside a savepoint to roll it back."""


def _world_with_a_failed_savepoint(backend: str, tmp_path: Path, *, fail: bool) -> Cloud:
    """Two running instances; one unit stops the second, when ``fail`` opens a savepoint
    that snapshots, stops the first and creates a disk, checks the filtered totals moved, and
    raises, then creates a disk."""
    cloud = (
        make_cloud()
        if backend == "memory"
        else make_cloud(backend=SqliteBackend(str(tmp_path / f"world-{fail}.db")))
    )
    ecs = cloud.ecs(REGION)
    [first, second] = ecs.run_instances(zone_id=ZONE, instance_type=INSTANCE_TYPE, amount=2)
    settle(cloud)
    [system_disk] = ecs.describe_disks(instance_id=first).items
    store = ecs._world.store
    with store.unit():
        ecs.stop_instance(second)
        if fail:
            kept = _totals(ecs)

            def savepoint() -> None:
                with store.unit():
                    ecs.create_snapshot(disk_id=system_disk.disk_id)
                    ecs.stop_instance(first)
                    ecs.create_disk(zone_id=ZONE, size=20)
                    assert (0, 2, 1, 1) == _totals(ecs)
                    raise _Boom

            with pytest.raises(_Boom):
                savepoint()
            assert kept == _totals(ecs)
        ecs.create_disk(zone_id=ZONE, size=20)  # numbers the savepoint gave back are reused
    return cloud


def _totals(ecs: EcsService) -> tuple[int, ...]:
    """Filtered TotalCounts, each read from the facet counts."""
    return (
        ecs.describe_instances(status="Running").total_count,
        ecs.describe_instances(status="Stopping").total_count,
        ecs.describe_snapshots(snapshot_type="user").total_count,
        ecs.describe_disks(status="Available").total_count,
    )


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_rolled_back_savepoint_leaves_every_facet_partition_and_count_as_it_was(
    backend: str, tmp_path: Path
) -> None:
    """Status changes, a snapshot and a new disk made inside a savepoint that raises leave the
    world (facet indexes, their counts, id counters) exactly as if the savepoint never ran,
    while the enclosing unit's own change stays."""
    failed = _world_with_a_failed_savepoint(backend, tmp_path, fail=True)
    control = _world_with_a_failed_savepoint(backend, tmp_path, fail=False)
    assert world_state(control) == world_state(failed)
    assert (1, 1, 0, 1) == _totals(failed.ecs(REGION))
    check_invariants(failed)
