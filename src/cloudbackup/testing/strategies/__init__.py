"""Hypothesis strategies for the values :mod:`cloudbackup` takes and the rules it enforces.

Every strategy follows Hypothesis's own API style: plural names, keyword-only arguments that are
either plain bounds or strategies, ``min_size``/``max_size`` for lengths and
``min_value``/``max_value`` for numbers, invalid arguments raise
:class:`hypothesis.errors.InvalidArgument` when the strategy is built, and by default every
valid value can be generated. Values are valid for the call they are named after, so
``snapshot_names()`` always passes ``create_snapshot(snapshot_name=...)``::

    from hypothesis import given
    from cloudbackup.testing import strategies as cbst

    @given(cbst.snapshot_names(), cbst.retention_days())
    def test_my_backup_tool_names_its_snapshots(name, days): ...

The ``invalid_*`` strategies generate values that break exactly the rule they are named after;
each one's docstring names the error code the call answers with, for error-path tests.

The strategies live in one private module per subject (ECS resources, snapshots and tags,
KMS, whole worlds, invalid values); this package re-exports them all. Their bounds are the
library's own constants, never copies.
"""

from __future__ import annotations

import contextlib

from ._ecs import (
    data_disks as data_disks,
)
from ._ecs import (
    descriptions as descriptions,
)
from ._ecs import (
    disk_categories as disk_categories,
)
from ._ecs import (
    disk_device_mappings as disk_device_mappings,
)
from ._ecs import (
    disk_names as disk_names,
)
from ._ecs import (
    disk_sizes as disk_sizes,
)
from ._ecs import (
    instance_types as instance_types,
)
from ._ecs import (
    performance_levels as performance_levels,
)
from ._ecs import (
    region_ids as region_ids,
)
from ._ecs import (
    reset_disk_specs as reset_disk_specs,
)
from ._ecs import (
    snapshot_names as snapshot_names,
)
from ._ecs import (
    system_disks as system_disks,
)
from ._ecs import (
    zone_ids as zone_ids,
)
from ._guest import app_consistent_results as app_consistent_results
from ._guest import consistent_levels as consistent_levels
from ._guest import downgrade_reasons as downgrade_reasons
from ._guest import instance_ram_role_sets as instance_ram_role_sets
from ._guest import invalid_ram_role_names as invalid_ram_role_names
from ._guest import ram_role_names as ram_role_names
from ._guest import script_paths as script_paths
from ._invalid import (
    invalid_alias_names as invalid_alias_names,
)
from ._invalid import (
    invalid_cool_off_periods as invalid_cool_off_periods,
)
from ._invalid import (
    invalid_descriptions as invalid_descriptions,
)
from ._invalid import (
    invalid_disk_sizes as invalid_disk_sizes,
)
from ._invalid import (
    invalid_instance_types as invalid_instance_types,
)
from ._invalid import (
    invalid_key_specs as invalid_key_specs,
)
from ._invalid import (
    invalid_lock_durations as invalid_lock_durations,
)
from ._invalid import (
    invalid_pending_window_days as invalid_pending_window_days,
)
from ._invalid import (
    invalid_region_ids as invalid_region_ids,
)
from ._invalid import (
    invalid_retention_days as invalid_retention_days,
)
from ._invalid import (
    invalid_snapshot_names as invalid_snapshot_names,
)
from ._invalid import (
    invalid_tags as invalid_tags,
)
from ._invalid import (
    invalid_zone_ids as invalid_zone_ids,
)
from ._kms import (
    alias_names as alias_names,
)
from ._kms import (
    key_specs as key_specs,
)
from ._kms import (
    pending_window_days as pending_window_days,
)

# -- Cloud Backup schedules ----------------------------------------------------------------
from ._schedules import (
    cron_expressions as cron_expressions,
)
from ._schedules import (
    durations as durations,
)
from ._schedules import (
    invalid_cron_expressions as invalid_cron_expressions,
)
from ._schedules import (
    invalid_durations as invalid_durations,
)
from ._schedules import (
    invalid_schedules as invalid_schedules,
)
from ._schedules import (
    schedules as schedules,
)
from ._snapshots import (
    client_tokens as client_tokens,
)
from ._snapshots import (
    cool_off_periods as cool_off_periods,
)
from ._snapshots import (
    invalid_client_tokens as invalid_client_tokens,
)
from ._snapshots import (
    lock_durations as lock_durations,
)
from ._snapshots import (
    locked_snapshot_infos as locked_snapshot_infos,
)
from ._snapshots import (
    retention_days as retention_days,
)
from ._snapshots import (
    snapshot_group_members as snapshot_group_members,
)
from ._snapshots import (
    tag_resources as tag_resources,
)
from ._snapshots import (
    tags as tags,
)
from ._workload import churns as churns
from ._world import (
    account_ids as account_ids,
)
from ._world import (
    block_sizes as block_sizes,
)
from ._world import (
    block_writes as block_writes,
)
from ._world import (
    clouds as clouds,
)
from ._world import (
    fill_requests as fill_requests,
)

__all__ = [
    "account_ids",
    "alias_names",
    "app_consistent_results",
    "block_sizes",
    "block_writes",
    "churns",
    "clouds",
    "client_tokens",
    "consistent_levels",
    "cool_off_periods",
    "data_disks",
    "descriptions",
    "disk_device_mappings",
    "disk_categories",
    "disk_names",
    "disk_sizes",
    "downgrade_reasons",
    "fill_requests",
    "instance_ram_role_sets",
    "instance_types",
    "invalid_alias_names",
    "invalid_client_tokens",
    "invalid_cool_off_periods",
    "invalid_descriptions",
    "invalid_disk_sizes",
    "invalid_instance_types",
    "invalid_key_specs",
    "invalid_lock_durations",
    "invalid_pending_window_days",
    "invalid_ram_role_names",
    "invalid_region_ids",
    "invalid_retention_days",
    "invalid_snapshot_names",
    "invalid_tags",
    "invalid_zone_ids",
    "key_specs",
    "lock_durations",
    "locked_snapshot_infos",
    "pending_window_days",
    "performance_levels",
    "ram_role_names",
    "region_ids",
    "reset_disk_specs",
    "retention_days",
    "script_paths",
    "snapshot_group_members",
    "snapshot_names",
    "system_disks",
    "tag_resources",
    "tags",
    "zone_ids",
    # Cloud Backup schedules
    "cron_expressions",
    "durations",
    "invalid_cron_expressions",
    "invalid_durations",
    "invalid_schedules",
    "schedules",
]


# -- Cloud Backup (policies, rules, bindings) ----------------------------------------------
from ._hbr import backup_job_filters as backup_job_filters
from ._hbr import backup_rules as backup_rules
from ._hbr import binding_requests as binding_requests
from ._hbr import invalid_policy_rule_lists as invalid_policy_rule_lists
from ._hbr import policy_rule_lists as policy_rule_lists
from ._hbr import policy_schedules as policy_schedules
from ._hbr import retention_rules as retention_rules
from ._hbr import tag_filters as tag_filters
from ._hbr_points import backup_instants as backup_instants
from ._hbr_points import point_retentions as point_retentions
from ._hbr_points import retention_extensions as retention_extensions
from ._hbr_tasks import hbr_tasks as hbr_tasks

__all__ += [
    "backup_job_filters",
    "backup_rules",
    "binding_requests",
    "invalid_policy_rule_lists",
    "policy_rule_lists",
    "policy_schedules",
    "backup_instants",
    "hbr_tasks",
    "point_retentions",
    "retention_extensions",
    "retention_rules",
    "tag_filters",
]


def _fixup_module_metadata() -> None:
    # Show the public path (cloudbackup.testing.strategies.tags) in reprs and tracebacks.
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith("cloudbackup.testing.strategies._"):
            with contextlib.suppress(AttributeError, TypeError):
                obj.__module__ = "cloudbackup.testing.strategies"


_fixup_module_metadata()
del _fixup_module_metadata
