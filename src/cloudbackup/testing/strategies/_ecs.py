"""Strategies for ECS places, disks, instances, images and resets."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ..._domain.ecs import (
    CATEGORY_SPECS,
    PL_MIN_SIZE,
    DiskCategory,
    PerformanceLevel,
)
from ..._domain.ecs_enums import DATA_DEVICES, SYSTEM_DEVICE
from ..._domain.limits import (
    DESCRIPTION_MAX,
    DESCRIPTION_MIN,
    IMAGE_DATA_DISKS_MAX,
    NAME_MAX,
    NAME_MIN,
    RESET_DISKS_MAX,
    SYSTEM_DISK_SIZE_MAX,
    SYSTEM_DISK_SIZE_MIN,
)
from ..._domain.requests import DataDisk, DiskDeviceMapping, ResetDiskSpec, SystemDisk
from ..._regions import REGIONS
from ._common import (
    _ANY_SIZE,
    _LOWER_DIGITS,
    _NAME_FIRST,
    _NAME_REST,
    _REAL_INSTANCE_TYPES,
    _as_category,
    _as_level,
    _as_region,
    _as_strategy,
    _lift,
    _optional_flag,
    _range,
    _sized_text,
)


# -- places ----------------------------------------------------------------------------------
def region_ids(
    *,
    supports_backup_policy: bool | None = None,
    supports_encrypted_snapshot_copy: bool | None = None,
    supports_snapshot_group: bool | None = None,
) -> st.SearchStrategy[str]:
    """Region ids of the catalogue (``cloudbackup.REGIONS``), e.g. ``"cn-hangzhou"``.

    Args:
        supports_backup_policy: Only regions with (True) or without (False) the capability;
            None for both. The other two flags work the same way.
        supports_encrypted_snapshot_copy: See above.
        supports_snapshot_group: See above.
    """
    flags = {
        "supports_backup_policy": _optional_flag("supports_backup_policy", supports_backup_policy),
        "supports_encrypted_snapshot_copy": _optional_flag(
            "supports_encrypted_snapshot_copy", supports_encrypted_snapshot_copy
        ),
        "supports_snapshot_group": _optional_flag(
            "supports_snapshot_group", supports_snapshot_group
        ),
    }
    found = sorted(
        region_id
        for region_id, region in REGIONS.items()
        if all(want is None or getattr(region, flag) is want for flag, want in flags.items())
    )
    if not found:
        raise InvalidArgument(f"No region has the capabilities {flags}.")
    return st.sampled_from(found)


def zone_ids(*, region_id: str | st.SearchStrategy[str] | None = None) -> st.SearchStrategy[str]:
    """Zone ids, e.g. ``"cn-hangzhou-h"``: of ``region_id`` (a region id or a strategy of
    them), or of any region when it is None."""
    if region_id is None:
        return st.sampled_from(sorted(z for r in REGIONS.values() for z in r.zones))
    return _lift(region_id, _as_region).flatmap(lambda r: st.sampled_from(REGIONS[r].zones))


# -- disks -----------------------------------------------------------------------------------
def disk_categories(
    *,
    snapshot_capable: bool | None = None,
    consistent_group: bool | None = None,
    local: bool | None = None,
    system_disk: bool | None = None,
    from_snapshot: bool | None = None,
) -> st.SearchStrategy[DiskCategory]:
    """Disk categories (:class:`~cloudbackup.DiskCategory`), filtered by capability.

    Each flag keeps only the categories whose :class:`~cloudbackup.CategorySpec` has the
    capability (True) or lacks it (False); None ignores it. ``disk_categories(local=False)``
    are the categories ``create_disk`` accepts.
    """
    flags = {
        "snapshot": _optional_flag("snapshot_capable", snapshot_capable),
        "consistent_group": _optional_flag("consistent_group", consistent_group),
        "local": _optional_flag("local", local),
        "system_disk": _optional_flag("system_disk", system_disk),
        "from_snapshot": _optional_flag("from_snapshot", from_snapshot),
    }
    found = [
        category
        for category, spec in CATEGORY_SPECS.items()
        if all(want is None or getattr(spec, flag) is want for flag, want in flags.items())
    ]
    if not found:
        raise InvalidArgument(f"No disk category has the capabilities {flags}.")
    return st.sampled_from(found)


def performance_levels() -> st.SearchStrategy[PerformanceLevel]:
    """ESSD performance levels ``PL0``–``PL3``."""
    return st.sampled_from(list(PerformanceLevel))


def _size_range(
    category: DiskCategory, level: PerformanceLevel | None, disk_type: str
) -> tuple[int, int]:
    spec = CATEGORY_SPECS[category]
    if level is not None and category is not DiskCategory.cloud_essd:
        raise InvalidArgument(f"performance_level applies to cloud_essd only, not {category}.")
    if category is DiskCategory.cloud_essd:
        lo = PL_MIN_SIZE[level or PerformanceLevel.PL1]
    else:
        lo = spec.min_size
    hi = spec.max_size
    if disk_type == "system":
        if not spec.system_disk:
            raise InvalidArgument(f"{category.value} cannot be a system disk.")
        lo, hi = max(lo, SYSTEM_DISK_SIZE_MIN), min(hi, SYSTEM_DISK_SIZE_MAX)
    elif disk_type != "data":
        raise InvalidArgument(f"disk_type={disk_type!r} must be 'data' or 'system'.")
    return lo, hi


def disk_sizes(
    *,
    category: DiskCategory | str | st.SearchStrategy[Any] = DiskCategory.cloud_essd,
    performance_level: PerformanceLevel | str | st.SearchStrategy[Any] | None = None,
    disk_type: str = "data",
    min_value: int | None = None,
    max_value: int | None = None,
) -> st.SearchStrategy[int]:
    """Sizes in GiB valid for a disk of ``category`` (and ESSD ``performance_level``).

    Args:
        category: A category, its name, or a strategy of them.
        performance_level: For ``cloud_essd``: ``PL0``–``PL3`` or a strategy of them; None
            means the default ``PL1``.
        disk_type: ``"data"`` (the category's range) or ``"system"`` (also 20–2,048 GiB).
        min_value: Narrow the range (must lie inside it); likewise ``max_value``.
        max_value: See above.
    """
    if isinstance(category, st.SearchStrategy) or isinstance(performance_level, st.SearchStrategy):
        categories = _lift(category, _as_category)
        levels = _lift(performance_level, _as_level)
        return st.tuples(categories, levels).flatmap(
            lambda pair: disk_sizes(
                category=pair[0],
                performance_level=pair[1] if pair[0] is DiskCategory.cloud_essd else None,
                disk_type=disk_type,
                min_value=min_value,
                max_value=max_value,
            )
        )
    lo, hi = _size_range(_as_category(category), _as_level(performance_level), disk_type)
    low, high = _range("disk_sizes", min_value, max_value, lo, hi)
    return st.integers(low, high)


def disk_names(*, min_size: int = NAME_MIN, max_size: int = NAME_MAX) -> st.SearchStrategy[str]:
    """ECS resource names (disks, instances, images, groups): 2–128 characters, starting with a
    letter, of letters, digits, ``:``, ``_``, ``.`` and ``-``."""
    low, high = _range("disk_names", min_size, max_size, NAME_MIN, NAME_MAX)
    return st.builds(
        lambda first, rest: first + rest,
        _NAME_FIRST,
        _sized_text(_NAME_REST, low - 1, high - 1),
    )


def snapshot_names(*, min_size: int = NAME_MIN, max_size: int = NAME_MAX) -> st.SearchStrategy[str]:
    """Valid ``SnapshotName`` values: 2–128 characters, starting with a letter, not starting
    with ``auto`` (reserved for automatic snapshots) nor ``http://``/``https://``."""
    return disk_names(min_size=min_size, max_size=max_size).filter(
        lambda name: not name.lower().startswith("auto")
    )


def descriptions(
    *, min_size: int = DESCRIPTION_MIN, max_size: int = DESCRIPTION_MAX
) -> st.SearchStrategy[str]:
    """Valid ``Description`` values: 2–256 characters of any text, not a URL."""
    low, high = _range("descriptions", min_size, max_size, DESCRIPTION_MIN, DESCRIPTION_MAX)
    return _sized_text(st.characters(codec="utf-8"), low, high).filter(
        lambda text: not text.startswith(("http://", "https://"))
    )


def system_disks(
    *,
    categories: st.SearchStrategy[Any] | None = None,
    encrypted: bool | None = None,
    kms_key_ids: st.SearchStrategy[str | None] | None = None,
) -> st.SearchStrategy[SystemDisk]:
    """:class:`~cloudbackup.SystemDisk` requests that ``run_instances`` accepts.

    Args:
        categories: Strategy of categories; default every category that can be a system disk.
        encrypted: Only encrypted (True) or plain (False) disks; None for both.
        kms_key_ids: Key ids for encrypted disks; default None, the region's ECS service key.
            Pass ``st.sampled_from([...])`` of Enabled symmetric keys of the region.
    """
    cats = disk_categories(system_disk=True) if categories is None else categories
    cats = _as_strategy("categories", cats).map(_as_category)
    want = _optional_flag("encrypted", encrypted)
    keys = st.none() if kms_key_ids is None else _as_strategy("kms_key_ids", kms_key_ids)

    @st.composite
    def build(draw: st.DrawFn) -> SystemDisk:
        category = draw(cats)
        level = None
        if category is DiskCategory.cloud_essd:
            level = draw(st.none() | performance_levels())
        size = draw(disk_sizes(category=category, performance_level=level, disk_type="system"))
        is_encrypted = draw(st.booleans()) if want is None else want
        return SystemDisk(
            category=category.value,
            size=size,
            performance_level=None if level is None else level.value,
            disk_name=draw(st.none() | disk_names()),
            description=draw(st.none() | descriptions()),
            encrypted=is_encrypted,
            kms_key_id=draw(keys) if is_encrypted else None,
        )

    return build()


def data_disks(
    *,
    categories: st.SearchStrategy[Any] | None = None,
    encrypted: bool | None = None,
    kms_key_ids: st.SearchStrategy[str | None] | None = None,
    snapshot_ids: st.SearchStrategy[str | None] | None = None,
) -> st.SearchStrategy[DataDisk]:
    """:class:`~cloudbackup.DataDisk` requests that ``run_instances`` accepts.

    Local disks (``local_ssd_pro``…) are included: they come with the instance. Only cloud
    disks that can be snapshotted are ever encrypted.

    Args:
        categories: Strategy of categories; default every category.
        encrypted: Only encrypted (True) or plain (False) disks; None for both.
        kms_key_ids: Key ids for encrypted disks; default None (the ECS service key).
        snapshot_ids: Snapshots to create disks from (None entries make empty disks). Such
            disks leave ``size`` None so it defaults to the snapshot's source size, and use only
            the categories that accept any size from 1 GiB (``cloud_auto``, ``cloud_essd`` at
            ``PL0``), so every request stays valid. Default: no snapshots.
    """
    cats = disk_categories() if categories is None else categories
    cats = _as_strategy("categories", cats).map(_as_category)
    want = _optional_flag("encrypted", encrypted)
    keys = st.none() if kms_key_ids is None else _as_strategy("kms_key_ids", kms_key_ids)
    sources = st.none() if snapshot_ids is None else _as_strategy("snapshot_ids", snapshot_ids)

    def encryptable(category: DiskCategory) -> bool:
        spec = CATEGORY_SPECS[category]
        return spec.snapshot and not spec.local

    @st.composite
    def build(draw: st.DrawFn) -> DataDisk:
        snapshot_id = draw(sources)
        pool = cats
        if want:
            pool = pool.filter(encryptable)
        if snapshot_id is not None:
            pool = pool.filter(lambda c: c in _ANY_SIZE)
        category = draw(pool)
        level = None
        size = None
        if snapshot_id is not None:
            # The size defaults to the snapshot's source size, which any of these accept.
            level = _ANY_SIZE[category]
        else:
            if category is DiskCategory.cloud_essd:
                level = draw(st.none() | performance_levels())
            size = draw(disk_sizes(category=category, performance_level=level))
        is_encrypted = want if want is not None else (encryptable(category) and draw(st.booleans()))
        return DataDisk(
            category=category.value,
            size=size,
            performance_level=None if level is None else level.value,
            snapshot_id=snapshot_id,
            encrypted=is_encrypted or None,
            kms_key_id=draw(keys) if is_encrypted else None,
            delete_with_instance=draw(st.booleans()),
            disk_name=draw(st.none() | disk_names()),
            description=draw(st.none() | descriptions()),
        )

    return build()


def instance_types() -> st.SearchStrategy[str]:
    """Instance types such as ``ecs.g7.large``: real ones, and any ``ecs.<family>.<size>``."""
    family = st.text(st.sampled_from(_LOWER_DIGITS + "-"), min_size=1, max_size=12)
    size = st.text(st.sampled_from(_LOWER_DIGITS), min_size=1, max_size=10)
    made = st.builds(lambda f, s: f"ecs.{f}.{s}", family, size)
    return st.sampled_from(_REAL_INSTANCE_TYPES) | made


def disk_device_mappings(
    *,
    system_snapshot_ids: st.SearchStrategy[str],
    data_snapshot_ids: st.SearchStrategy[str] | None = None,
    min_size: int = 0,
    max_size: int = IMAGE_DATA_DISKS_MAX,
) -> st.SearchStrategy[list[DiskDeviceMapping]]:
    """``DiskDeviceMapping`` lists that ``create_image`` accepts: one system mapping first,
    then ``min_size``..``max_size`` (at most 16) data mappings on distinct devices.

    Args:
        system_snapshot_ids: Strategy of available snapshot ids for the system disk
            (required: ids only exist in a world).
        data_snapshot_ids: Strategy of available snapshot ids for data disks; default the
            same as ``system_snapshot_ids``.
        min_size: Fewest data mappings.
        max_size: Most data mappings.
    """
    systems = _as_strategy("system_snapshot_ids", system_snapshot_ids)
    datas = (
        systems
        if data_snapshot_ids is None
        else _as_strategy("data_snapshot_ids", data_snapshot_ids)
    )
    low, high = _range("disk_device_mappings", min_size, max_size, 0, IMAGE_DATA_DISKS_MAX)
    devices = list(DATA_DEVICES)

    @st.composite
    def build(draw: st.DrawFn) -> list[DiskDeviceMapping]:
        mappings = [
            DiskDeviceMapping(
                snapshot_id=draw(systems),
                disk_type="system",
                device=draw(st.sampled_from([None, SYSTEM_DEVICE])),
            )
        ]
        count = draw(st.integers(low, high))
        chosen = draw(st.permutations(devices))[:count]
        for device in chosen:
            mappings.append(
                DiskDeviceMapping(
                    snapshot_id=draw(datas),
                    disk_type="data",
                    device=draw(st.sampled_from([None, device])),
                )
            )
        if any(m.device is None for m in mappings[1:]):
            # Devices left to the service are handed out in order; name all or none of them.
            mappings = [mappings[0]] + [
                DiskDeviceMapping(m.snapshot_id, "data") for m in mappings[1:]
            ]
        return mappings

    return build()


def reset_disk_specs(
    *, pairs: st.SearchStrategy[tuple[str, str]], min_size: int = 1, max_size: int = RESET_DISKS_MAX
) -> st.SearchStrategy[list[ResetDiskSpec]]:
    """``ResetDiskSpec`` lists for ``reset_disks``: ``min_size``..``max_size`` (1–16) pairs,
    each disk named once.

    Args:
        pairs: Strategy of ``(disk_id, snapshot_id)`` pairs, the snapshot one of that disk's
            (required: ids only exist in a world).
        min_size: Fewest pairs.
        max_size: Most pairs.
    """
    source = _as_strategy("pairs", pairs)
    low, high = _range("reset_disk_specs", min_size, max_size, 1, RESET_DISKS_MAX)
    return st.lists(source, min_size=low, max_size=high, unique_by=lambda p: p[0]).map(
        lambda chosen: [ResetDiskSpec(disk_id=d, snapshot_id=s) for d, s in chosen]
    )
