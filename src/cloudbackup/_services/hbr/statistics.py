"""Cloud Backup, console statistics of ECS instance backup (no API): Instance Backup Capacity
and the backup size of each protected instance and disk.

The console's figures lag: they are refreshed at most once per 24 hours of virtual time
(:meth:`StatisticsActions.describe_backup_capacity`); the exact figure of now is
:meth:`StatisticsActions.live_backup_capacity`. Both cost the protected instances' disks (one
chain-size read each through ECS's links-of-disk index), never the region's snapshots; a
console read within 24 hours of the last refresh costs one record.

Part of the layered :class:`~cloudbackup.HbrService` (see ``_services/hbr/__init__.py``).
"""

from __future__ import annotations

import datetime as _dt
import json

from ..._domain.hbr_points import BackupCapacity, DiskCapacity, InstanceCapacity
from ..._store import raw_kind
from .._base import consistent_read, unit_of_work
from .points import PointActions

__all__ = ["CAPACITY_STATS", "STATISTICS_REFRESH", "StatisticsActions"]

STATISTICS_REFRESH = _dt.timedelta(hours=24)
"""The console's statistics are at most this old (the seed: up to 24 h latency)."""

CAPACITY_STATS = raw_kind("hbr.capacity_stats")
"""partition = region, key ``""``: the console's last refreshed figures (JSON)."""


class StatisticsActions(PointActions):
    """Instance Backup Capacity and per instance / per disk backup sizes (console)."""

    def _measure(self) -> BackupCapacity:
        natives = self._natives
        instances: list[InstanceCapacity] = []
        for binding in sorted(self._bindings.scan(), key=lambda b: b.data_source_id):
            found = self._inventory.find_instance(binding.data_source_id)
            if found is None:
                continue
            disks = tuple(
                DiskCapacity(d.disk_id, natives.chain_bytes(d.disk_id))
                for d in found.disks
                if not d.local
            )
            instances.append(
                InstanceCapacity(found.instance_id, sum(d.backup_bytes for d in disks), disks)
            )
        return BackupCapacity(
            instance_backup_capacity=sum(i.backup_bytes for i in instances),
            instances=tuple(instances),
            refreshed_time=self._world.now(),
        )

    @consistent_read
    def live_backup_capacity(self) -> BackupCapacity:
        """Console statistics as they are this instant (no 24-hour lag): the sum of the
        snapshot chains of every protected (bound) instance's disks, and each one's."""
        self._require_open()
        return self._measure()

    @unit_of_work
    def describe_backup_capacity(self) -> BackupCapacity:
        """Console operation (Overview, Instance Backup Capacity; no API): the figures as the
        console shows them, measured at ``refreshed_time``, at most 24 hours ago. The first
        call, and the first after 24 hours, measures again."""
        self._require_open()
        store, now = self._world.store, self._world.now()
        cached = store.raw_get(CAPACITY_STATS, self.region_id, "")
        if isinstance(cached, str):
            try:
                shown = BackupCapacity.from_json(json.loads(cached))
            except (ValueError, KeyError, TypeError, AssertionError):
                shown = None  # a damaged cache is measured again, as a stale one is
            if shown is not None and now - shown.refreshed_time < STATISTICS_REFRESH:
                return shown
        fresh = self._measure()
        store.raw_put(CAPACITY_STATS, self.region_id, "", json.dumps(fresh.to_json()))
        return fresh
