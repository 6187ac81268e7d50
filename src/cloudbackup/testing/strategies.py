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
"""

from __future__ import annotations

import datetime as _dt
import re
import string
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from .._cloud import DEFAULT_ACCOUNT_ID, Cloud
from .._domain.ecs import (
    CATEGORY_SPECS,
    PL_MIN_SIZE,
    DiskCategory,
    DiskType,
    PerformanceLevel,
    SnapshotGroupMember,
    SnapshotLock,
    SnapshotStatus,
)
from .._domain.kms import KeySpec
from .._domain.requests import DataDisk, DiskDeviceMapping, ResetDiskSpec, SystemDisk
from .._domain.responses import LockedSnapshotInfo
from .._domain.tags import TAG_RESOURCE_TYPES, TagResource
from .._regions import REGIONS

__all__ = [
    "account_ids",
    "alias_names",
    "block_sizes",
    "block_writes",
    "clouds",
    "client_tokens",
    "cool_off_periods",
    "data_disks",
    "descriptions",
    "disk_device_mappings",
    "disk_categories",
    "disk_names",
    "disk_sizes",
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
    "region_ids",
    "reset_disk_specs",
    "retention_days",
    "snapshot_group_members",
    "snapshot_names",
    "system_disks",
    "tag_resources",
    "tags",
    "zone_ids",
]

T = TypeVar("T")

#: The rules' bounds, in one place (facts §8.3–8.5, §10).
NAME_MIN, NAME_MAX = 2, 128
DESCRIPTION_MIN, DESCRIPTION_MAX = 2, 256
RETENTION_MIN, RETENTION_MAX = 1, 65536
LOCK_MIN, LOCK_MAX = 1, 36500
COOL_OFF_MIN, COOL_OFF_MAX = 0, 72
PENDING_WINDOW_MIN, PENDING_WINDOW_MAX = 7, 366
ALIAS_MIN, ALIAS_MAX = 7, 255
TAGS_MAX, TAG_KEY_MAX, TAG_VALUE_MAX = 20, 128, 128
SYSTEM_DISK_MIN, SYSTEM_DISK_MAX = 20, 2048
BLOCK_SIZE_MIN, BLOCK_SIZE_MAX = 4096, 4 * 1024 * 1024

# ECS names start with a letter (ASCII or CJK) and go on with letters, digits, ':', '_', '.',
# '-' (the real API's documented alphabet, which the model's looser rule accepts too).
_CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
_NAME_FIRST = st.sampled_from(string.ascii_letters) | _CJK
_NAME_REST = st.sampled_from(string.ascii_letters + string.digits + ":_.-") | _CJK
_REAL_INSTANCE_TYPES = (
    "ecs.g7.large",
    "ecs.g7.xlarge",
    "ecs.c7.2xlarge",
    "ecs.r7.4xlarge",
    "ecs.g6e.8xlarge",
    "ecs.g8i.large",
    "ecs.t6-c1m1.large",
    "ecs.i3.2xlarge",
    "ecs.d1ne.4xlarge",
    "ecs.ebmg7.32xlarge",
)
_LOWER_DIGITS = string.ascii_lowercase + string.digits
_INSTANCE_TYPE = re.compile(r"ecs\.[a-z0-9-]+\.[a-z0-9]+")
# Categories that take a disk of any size from 1 GiB, with the performance level that does.
_ANY_SIZE: dict[DiskCategory, PerformanceLevel | None] = {
    DiskCategory.cloud_auto: None,
    DiskCategory.cloud_essd: PerformanceLevel.PL0,
}


# -- argument handling -----------------------------------------------------------------------
def _bounded(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidArgument(f"{name}={value!r} must be an integer from {lo} to {hi}.")
    return value


def _range(what: str, min_value: object, max_value: object, lo: int, hi: int) -> tuple[int, int]:
    low = lo if min_value is None else _bounded(f"{what} min_value", min_value, lo, hi)
    high = hi if max_value is None else _bounded(f"{what} max_value", max_value, lo, hi)
    if low > high:
        raise InvalidArgument(f"{what}: min_value={low} is above max_value={high}.")
    return low, high


def _optional_flag(name: str, value: object) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r} must be True, False or None.")
    return value


def _lift(value: object, convert: Callable[[object], T]) -> st.SearchStrategy[T]:
    """A strategy from an argument that is a plain value (checked now) or a strategy."""
    if isinstance(value, st.SearchStrategy):
        return value.map(convert)
    return st.just(convert(value))


def _as_category(value: object) -> DiskCategory:
    if isinstance(value, DiskCategory):
        return value
    try:
        return DiskCategory(value)
    except ValueError:
        raise InvalidArgument(f"{value!r} is not a disk category.") from None


def _as_level(value: object) -> PerformanceLevel | None:
    if value is None or isinstance(value, PerformanceLevel):
        return value
    try:
        return PerformanceLevel(value)
    except ValueError:
        raise InvalidArgument(f"{value!r} is not a performance level.") from None


def _as_region(value: object) -> str:
    if not isinstance(value, str) or value not in REGIONS:
        raise InvalidArgument(f"{value!r} is not a region id this model knows.")
    return value


def _as_strategy(name: str, value: object) -> st.SearchStrategy[Any]:
    if not isinstance(value, st.SearchStrategy):
        raise InvalidArgument(f"{name} must be a Hypothesis strategy, not {value!r}.")
    return value


def _lengths(low: int, high: int) -> st.SearchStrategy[int]:
    # Hypothesis rarely draws the longest text on its own; the rules' edges matter most.
    return st.sampled_from(sorted({low, high})) | st.integers(low, high)


def _sized_text(alphabet: st.SearchStrategy[str], low: int, high: int) -> st.SearchStrategy[str]:
    return _lengths(low, high).flatmap(lambda n: st.text(alphabet, min_size=n, max_size=n))


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
        lo, hi = max(lo, SYSTEM_DISK_MIN), min(hi, SYSTEM_DISK_MAX)
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


# -- snapshots -------------------------------------------------------------------------------
def retention_days(
    *, min_value: int = RETENTION_MIN, max_value: int = RETENTION_MAX
) -> st.SearchStrategy[int]:
    """``RetentionDays``: 1–65,536 days. ``st.none() | retention_days()`` adds "keep forever"."""
    low, high = _range("retention_days", min_value, max_value, RETENTION_MIN, RETENTION_MAX)
    return st.integers(low, high)


def lock_durations(
    *, min_value: int = LOCK_MIN, max_value: int = LOCK_MAX
) -> st.SearchStrategy[int]:
    """``LockDuration`` of ``lock_snapshot``: 1–36,500 days."""
    low, high = _range("lock_durations", min_value, max_value, LOCK_MIN, LOCK_MAX)
    return st.integers(low, high)


def cool_off_periods(
    *, min_value: int = COOL_OFF_MIN, max_value: int = COOL_OFF_MAX
) -> st.SearchStrategy[int]:
    """``CoolOffPeriod`` of ``lock_snapshot``: 0–72 hours (0 locks at once)."""
    low, high = _range("cool_off_periods", min_value, max_value, COOL_OFF_MIN, COOL_OFF_MAX)
    return st.integers(low, high)


def tags(
    *, min_size: int = 0, max_size: int = TAGS_MAX
) -> st.SearchStrategy[list[tuple[str, str]]]:
    """``Tag`` lists: up to 20 ``(key, value)`` pairs with distinct keys of 1–128 characters
    (not starting ``aliyun`` or ``acs:``) and values of up to 128 characters."""
    low, high = _range("tags", min_size, max_size, 0, TAGS_MAX)
    text = st.characters(codec="utf-8")
    keys = st.text(text, min_size=1, max_size=TAG_KEY_MAX).filter(
        lambda k: not k.startswith(("aliyun", "acs:"))
    )
    values = st.text(text, max_size=TAG_VALUE_MAX)
    return _lengths(low, high).flatmap(
        lambda n: st.lists(
            st.tuples(keys, values), min_size=n, max_size=n, unique_by=lambda pair: pair[0]
        )
    )


CLIENT_TOKEN_MAX = 64


def client_tokens(*, min_size: int = 1, max_size: int = CLIENT_TOKEN_MAX) -> st.SearchStrategy[str]:
    """``ClientToken``: 1–64 ASCII characters."""
    low, high = _range("client_tokens", min_size, max_size, 1, CLIENT_TOKEN_MAX)
    return st.text(st.characters(max_codepoint=127), min_size=low, max_size=high)


def invalid_client_tokens() -> st.SearchStrategy[str]:
    """Client tokens that are empty, longer than 64 characters or not ASCII
    (``InvalidClientToken.Malformed``)."""
    return st.one_of(
        st.just(""),
        st.text(st.characters(max_codepoint=127), min_size=CLIENT_TOKEN_MAX + 1, max_size=100),
        st.tuples(
            st.text(st.characters(max_codepoint=127), max_size=30),
            st.characters(min_codepoint=128, codec="utf-8"),
        ).map(lambda parts: parts[0] + parts[1]),
    )


def tag_resources() -> st.SearchStrategy[TagResource]:
    """``ListTagResources`` items: a resource of a taggable type with one of its tags."""
    prefixes = {"instance": "i-", "disk": "d-", "snapshot": "s-", "image": "m-"}

    def build(kind: str, suffix: str, pair: list[tuple[str, str]]) -> TagResource:
        [(key, value)] = pair
        return TagResource(prefixes[kind] + suffix, kind, key, value)

    return st.builds(
        build,
        st.sampled_from(TAG_RESOURCE_TYPES),
        st.text(st.sampled_from(_LOWER_DIGITS), min_size=1, max_size=20),
        tags(min_size=1, max_size=1),
    )


_INSTANTS = st.datetimes(
    min_value=_dt.datetime(2020, 1, 1),
    max_value=_dt.datetime(2100, 1, 1),
    timezones=st.just(_dt.timezone.utc),
)


def locked_snapshot_infos() -> st.SearchStrategy[LockedSnapshotInfo]:
    """``DescribeLockedSnapshots`` items whose times and status agree, as the service makes
    them: cool-off ends ``cool_off_period`` hours after the lock was set, the lock expires
    ``lock_duration`` days after its snapshot was accomplished (None while progressing)."""

    def build(
        suffix: str,
        duration: int,
        cool_off: int,
        created: _dt.datetime,
        effective: int | None,
        seen_after: int,
    ) -> LockedSnapshotInfo:
        lock = SnapshotLock(
            lock_mode="compliance",
            lock_duration=duration,
            cool_off_period=cool_off,
            lock_created_time=created,
            effective_from=None
            if effective is None
            else created + _dt.timedelta(seconds=effective),
        )
        now = created + _dt.timedelta(seconds=seen_after)
        return LockedSnapshotInfo(
            snapshot_id="s-" + suffix,
            lock_status=lock.status(now),
            lock_mode=lock.lock_mode,
            lock_duration=duration,
            cool_off_period=cool_off,
            lock_creation_time=created,
            cool_off_period_expired_time=lock.cool_off_end(),
            lock_expired_time=lock.lock_expire(),
        )

    return st.builds(
        build,
        st.text(st.sampled_from(_LOWER_DIGITS), min_size=1, max_size=20),
        lock_durations(),
        cool_off_periods(),
        _INSTANTS,
        st.none() | st.integers(0, 86_400),
        st.integers(0, 40_000 * 86_400),
    )


def snapshot_group_members() -> st.SearchStrategy[SnapshotGroupMember]:
    """``DescribeSnapshotGroups`` member records whose status, progress, remaining time and
    availability agree (accomplished is 100% with 0 s left; progressing is 0–99%)."""

    def build(
        suffix: str,
        disk: str,
        kind: DiskType,
        status: SnapshotStatus,
        percent: int,
        remain: int,
        instant: bool,
    ) -> SnapshotGroupMember:
        done = status is SnapshotStatus.accomplished
        progressing = status is SnapshotStatus.progressing
        return SnapshotGroupMember(
            snapshot_id="s-" + suffix,
            source_disk_id="d-" + disk,
            source_disk_type=kind,
            status=status,
            progress="100%" if done else f"{percent if progressing else 0}%",
            remain_time=remain if progressing else 0,
            instant_access=instant,
            available=done or (instant and progressing),
        )

    ids = st.text(st.sampled_from(_LOWER_DIGITS), min_size=1, max_size=20)
    return st.builds(
        build,
        ids,
        ids,
        st.sampled_from(DiskType),
        st.sampled_from(SnapshotStatus),
        st.integers(0, 99),
        st.integers(0, 10**7),
        st.booleans(),
    )


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
    max_size: int = 16,
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
    low, high = _range("disk_device_mappings", min_size, max_size, 0, 16)
    devices = [f"/dev/xvd{letter}" for letter in "bcdefghijklmnopqrstuvwxyz"]

    @st.composite
    def build(draw: st.DrawFn) -> list[DiskDeviceMapping]:
        mappings = [
            DiskDeviceMapping(
                snapshot_id=draw(systems),
                disk_type="system",
                device=draw(st.sampled_from([None, "/dev/xvda"])),
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
    *, pairs: st.SearchStrategy[tuple[str, str]], min_size: int = 1, max_size: int = 16
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
    low, high = _range("reset_disk_specs", min_size, max_size, 1, 16)
    return st.lists(source, min_size=low, max_size=high, unique_by=lambda p: p[0]).map(
        lambda chosen: [ResetDiskSpec(disk_id=d, snapshot_id=s) for d, s in chosen]
    )


# -- KMS -------------------------------------------------------------------------------------
def key_specs(*, symmetric: bool | None = None) -> st.SearchStrategy[KeySpec]:
    """KMS key specs; ``symmetric=True`` gives those that can encrypt disks."""
    want = _optional_flag("symmetric", symmetric)
    return st.sampled_from([s for s in KeySpec if want is None or s.symmetric is want])


def alias_names(*, min_size: int = ALIAS_MIN, max_size: int = ALIAS_MAX) -> st.SearchStrategy[str]:
    """KMS alias names: ``alias/`` then letters, digits, ``_``, ``-`` and ``/``, 7–255
    characters in all, never the reserved ``alias/acs…``."""
    low, high = _range("alias_names", min_size, max_size, ALIAS_MIN, ALIAS_MAX)
    body = _sized_text(
        st.sampled_from(string.ascii_letters + string.digits + "_-/"),
        low - len("alias/"),
        high - len("alias/"),
    )
    return body.filter(lambda b: not b.startswith("acs")).map(lambda b: "alias/" + b)


def pending_window_days(
    *, min_value: int = PENDING_WINDOW_MIN, max_value: int = PENDING_WINDOW_MAX
) -> st.SearchStrategy[int]:
    """``PendingWindowInDays`` of ``schedule_key_deletion``: 7–366."""
    low, high = _range(
        "pending_window_days", min_value, max_value, PENDING_WINDOW_MIN, PENDING_WINDOW_MAX
    )
    return st.integers(low, high)


# -- the world and its data ------------------------------------------------------------------
def block_sizes() -> st.SearchStrategy[int]:
    """``Cloud(block_size=...)`` values: powers of two from 4 KiB to 4 MiB."""
    sizes = []
    size = BLOCK_SIZE_MIN
    while size <= BLOCK_SIZE_MAX:
        sizes.append(size)
        size *= 2
    return st.sampled_from(sizes)


def account_ids() -> st.SearchStrategy[str]:
    """16-digit account ids, as ``Cloud(account_id=...)`` takes."""
    return st.text(st.sampled_from(string.digits), min_size=16, max_size=16) | st.just(
        DEFAULT_ACCOUNT_ID
    )


def clouds(
    *,
    seeds: st.SearchStrategy[int] | None = None,
    block_sizes: st.SearchStrategy[int] | None = None,
    account_ids: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[Cloud]:
    """Fresh, empty :class:`~cloudbackup.Cloud` worlds, each with its own seed.

    Args:
        seeds: Default any integer of 0–2**32-1.
        block_sizes: Default 4 KiB, which keeps data-heavy tests fast; pass
            :func:`cloudbackup.testing.strategies.block_sizes` for all of them.
        account_ids: Default :data:`~cloudbackup.DEFAULT_ACCOUNT_ID`.
    """
    return st.builds(
        lambda seed, block_size, account_id: Cloud(
            seed=seed, block_size=block_size, account_id=account_id
        ),
        st.integers(0, 2**32 - 1) if seeds is None else _as_strategy("seeds", seeds),
        st.just(BLOCK_SIZE_MIN)
        if block_sizes is None
        else _as_strategy("block_sizes", block_sizes),
        st.just(DEFAULT_ACCOUNT_ID)
        if account_ids is None
        else _as_strategy("account_ids", account_ids),
    )


def block_writes(
    *,
    disk_size_bytes: int,
    block_size: int = BLOCK_SIZE_MIN,
    min_size: int = 1,
    max_size: int | None = None,
) -> st.SearchStrategy[tuple[int, bytes]]:
    """``(offset, data)`` pairs a guest can write with ``write_disk``: inside the disk.

    Offsets favour block boundaries and data favours whole blocks, repeated patterns and
    zeros, so that writes overwrite, de-duplicate and free blocks.

    Args:
        disk_size_bytes: The disk's size (or the span of it to write in); required.
        block_size: The world's block size, to aim at block boundaries.
        min_size: Shortest write in bytes (0 allows empty writes).
        max_size: Longest write; default four blocks (at most ``disk_size_bytes``).
    """
    if isinstance(disk_size_bytes, bool) or not isinstance(disk_size_bytes, int):
        raise InvalidArgument(f"disk_size_bytes={disk_size_bytes!r} must be an integer.")
    if disk_size_bytes < 1:
        raise InvalidArgument(f"disk_size_bytes={disk_size_bytes} must be positive.")
    _bounded("block_size", block_size, 1, 2**40)
    high = min(4 * block_size, disk_size_bytes) if max_size is None else max_size
    _bounded("block_writes max_size", high, 0, disk_size_bytes)
    _bounded("block_writes min_size", min_size, 0, high)

    @st.composite
    def build(draw: st.DrawFn) -> tuple[int, bytes]:
        nice = [n for n in (1, block_size, 2 * block_size) if min_size <= n <= high]
        lengths = st.integers(min_size, high)
        length = draw(st.sampled_from(nice) | lengths if nice else lengths)
        room = disk_size_bytes - length
        offset = draw(
            st.integers(0, room // block_size).map(lambda b: b * block_size) | st.integers(0, room)
        )
        style = draw(st.sampled_from(["random", "fill", "zeros", "pattern"]))
        if style == "zeros":
            data = bytes(length)
        elif style == "fill":
            data = bytes([draw(st.integers(0, 255))]) * length
        elif style == "random" and length <= 512:
            data = draw(st.binary(min_size=length, max_size=length))
        else:
            seed = draw(st.binary(min_size=1, max_size=64))
            data = (seed * (length // len(seed) + 1))[:length]
        return offset, data

    return build()


# -- invalid values: one broken rule each ----------------------------------------------------
def invalid_region_ids() -> st.SearchStrategy[str]:
    """Strings that are no region id. Calls answer ``InvalidRegionId.NotFound``."""
    near = st.sampled_from(sorted(REGIONS)).map(lambda r: r.upper())
    return (near | st.text(max_size=30)).filter(lambda r: r not in REGIONS)


def invalid_zone_ids(
    *, region_id: str | st.SearchStrategy[str] | None = None
) -> st.SearchStrategy[str]:
    """Strings that are no zone of ``region_id`` (other regions' zones included). Calls in that
    region answer ``InvalidZoneId.NotFound``. Default region: ``cn-hangzhou``."""
    regions = _lift("cn-hangzhou" if region_id is None else region_id, _as_region)
    every = sorted(z for r in REGIONS.values() for z in r.zones)
    return regions.flatmap(
        lambda r: (st.sampled_from(every) | st.text(max_size=30)).filter(
            lambda z: z not in REGIONS[r].zones
        )
    )


def invalid_snapshot_names() -> st.SearchStrategy[str]:
    """Snapshot names that break a rule: too short, too long, not starting with a letter,
    starting with ``auto`` or ``http(s)://``. ``create_snapshot`` and
    ``modify_snapshot_attribute`` answer ``InvalidSnapshotName.Malformed``."""
    rest = st.text(_NAME_REST, max_size=20)
    return st.one_of(
        st.text(max_size=NAME_MIN - 1),
        st.builds(
            lambda f, r: f + r,
            _NAME_FIRST,
            st.text(_NAME_REST, min_size=NAME_MAX, max_size=NAME_MAX + 40),
        ),
        st.builds(
            lambda f, r: f + r, st.sampled_from(string.digits + "_-.: /"), st.text(min_size=1)
        ),
        st.builds(lambda a, r: a + r, st.sampled_from(["auto", "Auto", "AUTO", "aUtO"]), rest),
        st.builds(lambda p, r: p + r, st.sampled_from(["http://", "https://"]), rest),
    )


def invalid_descriptions() -> st.SearchStrategy[str]:
    """Descriptions of the wrong length (under 2 or over 256 characters). Calls answer
    ``InvalidDescription.Malformed``."""
    return st.text(max_size=DESCRIPTION_MIN - 1) | st.text(
        min_size=DESCRIPTION_MAX + 1, max_size=DESCRIPTION_MAX + 50
    )


def _outside(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.integers(max_value=lo - 1) | st.integers(min_value=hi + 1)


def invalid_retention_days() -> st.SearchStrategy[int]:
    """``RetentionDays`` out of 1–65,536 (bools too). Calls answer
    ``InvalidRetentionDays.Malformed``."""
    return _outside(RETENTION_MIN, RETENTION_MAX) | st.booleans()


def invalid_lock_durations() -> st.SearchStrategy[int]:
    """``LockDuration`` out of 1–36,500. ``lock_snapshot`` answers
    ``InvalidParameter.LockDuration``."""
    return _outside(LOCK_MIN, LOCK_MAX) | st.booleans()


def invalid_cool_off_periods() -> st.SearchStrategy[int]:
    """``CoolOffPeriod`` out of 0–72. ``lock_snapshot`` answers
    ``InvalidParameter.CoolOffPeriod``."""
    return _outside(COOL_OFF_MIN, COOL_OFF_MAX)


def invalid_pending_window_days() -> st.SearchStrategy[int]:
    """``PendingWindowInDays`` out of 7–366. ``schedule_key_deletion`` answers
    ``InvalidParameter``."""
    return _outside(PENDING_WINDOW_MIN, PENDING_WINDOW_MAX)


def invalid_disk_sizes(
    *,
    category: DiskCategory | str = DiskCategory.cloud_essd,
    performance_level: PerformanceLevel | str | None = None,
    disk_type: str = "data",
) -> st.SearchStrategy[int]:
    """Sizes in GiB outside the range of ``category`` (and ``performance_level``).

    ``create_disk`` answers ``InvalidSize.ValueNotSupported``, ``run_instances`` for a data
    disk ``InvalidDataDiskSize.ValueNotSupported``. For ``disk_type="system"``,
    ``run_instances`` answers ``InvalidSystemDiskSize.LessThanMinSize`` below 20 GiB,
    ``InvalidSystemDiskSize.MoreThanMaxSize`` above 2,048 GiB and
    ``InvalidSystemDiskSize.ValueNotSupported`` below the category's or level's minimum.
    """
    lo, hi = _size_range(_as_category(category), _as_level(performance_level), disk_type)
    return _outside(lo, hi)


def invalid_alias_names() -> st.SearchStrategy[str]:
    """Alias names that break a rule: no ``alias/`` prefix, the reserved ``alias/acs``, or a
    length outside 7–255. KMS answers ``InvalidParameter``."""
    body = st.text(st.sampled_from(string.ascii_letters + string.digits + "_-/"), max_size=20)
    return st.one_of(
        st.text(max_size=40).filter(lambda n: not n.startswith("alias/")),
        body.map(lambda b: "alias/acs" + b),
        st.just("alias/"),
        body.map(lambda b: "alias/" + b + "x" * ALIAS_MAX),
    )


def invalid_tags() -> st.SearchStrategy[list[Any]]:
    """Tag lists that break a rule: over 20 tags (``InvalidTagCount``), or one bad
    pair: an empty or reserved (``aliyun``/``acs:``) or over-long key, or an item that is not a
    ``(str, str)`` tuple (``InvalidTagKey.Malformed``), an over-long value
    (``InvalidTagValue.Malformed``); the good pairs around it may repeat a key
    (``Duplicate.TagKey``)."""
    good = tags(max_size=3)
    bad_pair: st.SearchStrategy[Any] = st.one_of(
        st.tuples(st.just(""), st.text(max_size=5)),
        st.tuples(st.sampled_from(["aliyun", "acs:", "aliyunX", "acs:ecs:x"]), st.text(max_size=5)),
        st.tuples(st.text(min_size=TAG_KEY_MAX + 1, max_size=TAG_KEY_MAX + 20), st.just("v")),
        st.tuples(st.just("k"), st.text(min_size=TAG_VALUE_MAX + 1, max_size=TAG_VALUE_MAX + 20)),
        st.lists(st.text(max_size=3), min_size=2, max_size=2),
        st.tuples(st.just("k")),
        st.tuples(st.just("k"), st.just("v"), st.just("w")),
        st.tuples(st.integers(), st.just("v")),
    )
    one_bad = st.tuples(good, bad_pair, good).map(lambda t: [*t[0], t[1], *t[2]])
    too_many = st.lists(
        st.integers(0, 10**6).map(lambda n: (f"k{n}", "v")),
        min_size=TAGS_MAX + 1,
        max_size=TAGS_MAX + 5,
        unique=True,
    )
    return one_bad | too_many


def invalid_instance_types() -> st.SearchStrategy[str]:
    """Strings that are no instance type (not ``ecs.<family>.<size>`` in lower case).
    ``run_instances`` answers ``InvalidInstanceType.ValueNotSupported``."""
    return st.one_of(
        st.sampled_from(
            ["", "g7.large", "ecs.G7.large", "ecs..large", "ecs.g7.", "ecs.g7.large\n", "ecs.g7"]
        ),
        st.text(max_size=30),
    ).filter(lambda t: _INSTANCE_TYPE.fullmatch(t) is None)


def invalid_key_specs() -> st.SearchStrategy[str]:
    """Strings that are no KMS key spec. ``create_key`` answers ``InvalidParameter``."""
    specs = {s.value for s in KeySpec}
    return (st.sampled_from(sorted(specs)).map(str.lower) | st.text(max_size=20)).filter(
        lambda s: s not in specs
    )
