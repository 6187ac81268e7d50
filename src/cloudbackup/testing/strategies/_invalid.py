"""Strategies of invalid values: each breaks exactly the rule it is named after."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import strategies as st

from ..._domain.ecs import (
    DiskCategory,
    PerformanceLevel,
)
from ..._domain.kms import (
    ALIAS_NAME_MAX,
    PENDING_WINDOW_MAX,
    PENDING_WINDOW_MIN,
    KeySpec,
)
from ..._domain.limits import (
    COOL_OFF_PERIOD_MAX,
    COOL_OFF_PERIOD_MIN,
    DESCRIPTION_MAX,
    DESCRIPTION_MIN,
    LOCK_DURATION_MAX,
    LOCK_DURATION_MIN,
    NAME_MAX,
    NAME_MIN,
    RETENTION_DAYS_MAX,
    RETENTION_DAYS_MIN,
)
from ..._domain.tags import (
    MAX_TAGS_PER_RESOURCE,
    SYSTEM_TAG_PREFIXES,
    TAG_KEY_MAX_LENGTH,
    TAG_VALUE_MAX_LENGTH,
)
from ..._regions import REGIONS

# The service's own pattern (a private name, read here so the two cannot drift apart).
from ..._services.ecs.instances import _INSTANCE_TYPE
from ._common import (
    _NAME_FIRST,
    _NAME_REST,
    _as_category,
    _as_level,
    _as_region,
    _lift,
    _outside,
)
from ._ecs import _size_range
from ._snapshots import tags


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


def invalid_retention_days() -> st.SearchStrategy[int]:
    """``RetentionDays`` out of 1–65,536 (bools too). Calls answer
    ``InvalidRetentionDays.Malformed``."""
    return _outside(RETENTION_DAYS_MIN, RETENTION_DAYS_MAX) | st.booleans()


def invalid_lock_durations() -> st.SearchStrategy[int]:
    """``LockDuration`` out of 1–36,500. ``lock_snapshot`` answers
    ``InvalidParameter.LockDuration``."""
    return _outside(LOCK_DURATION_MIN, LOCK_DURATION_MAX) | st.booleans()


def invalid_cool_off_periods() -> st.SearchStrategy[int]:
    """``CoolOffPeriod`` out of 0–72. ``lock_snapshot`` answers
    ``InvalidParameter.CoolOffPeriod``."""
    return _outside(COOL_OFF_PERIOD_MIN, COOL_OFF_PERIOD_MAX)


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
        body.map(lambda b: "alias/" + b + "x" * ALIAS_NAME_MAX),
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
        st.tuples(
            st.sampled_from([p + s for p in SYSTEM_TAG_PREFIXES for s in ("", "X", "ecs:x")]),
            st.text(max_size=5),
        ),
        st.tuples(
            st.text(min_size=TAG_KEY_MAX_LENGTH + 1, max_size=TAG_KEY_MAX_LENGTH + 20), st.just("v")
        ),
        st.tuples(
            st.just("k"),
            st.text(min_size=TAG_VALUE_MAX_LENGTH + 1, max_size=TAG_VALUE_MAX_LENGTH + 20),
        ),
        st.lists(st.text(max_size=3), min_size=2, max_size=2),
        st.tuples(st.just("k")),
        st.tuples(st.just("k"), st.just("v"), st.just("w")),
        st.tuples(st.integers(), st.just("v")),
    )
    one_bad = st.tuples(good, bad_pair, good).map(lambda t: [*t[0], t[1], *t[2]])
    too_many = st.lists(
        st.integers(0, 10**6).map(lambda n: (f"k{n}", "v")),
        min_size=MAX_TAGS_PER_RESOURCE + 1,
        max_size=MAX_TAGS_PER_RESOURCE + 5,
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
