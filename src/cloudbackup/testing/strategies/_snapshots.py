"""Strategies for snapshots, locks, tags, client tokens and the records ECS returns."""

from __future__ import annotations

import datetime as _dt

from hypothesis import strategies as st

from ..._domain.ecs import (
    DiskType,
    SnapshotGroupMember,
    SnapshotLock,
    SnapshotStatus,
)
from ..._domain.limits import (
    COOL_OFF_PERIOD_MAX,
    COOL_OFF_PERIOD_MIN,
    LOCK_DURATION_MAX,
    LOCK_DURATION_MIN,
    RETENTION_DAYS_MAX,
    RETENTION_DAYS_MIN,
)
from ..._domain.responses import LockedSnapshotInfo
from ..._domain.tags import (
    MAX_TAGS_PER_RESOURCE,
    SYSTEM_TAG_PREFIXES,
    TAG_KEY_MAX_LENGTH,
    TAG_RESOURCE_TYPES,
    TAG_VALUE_MAX_LENGTH,
    TagResource,
)
from ..._services.ecs._requests import MAX_CLIENT_TOKEN_LENGTH
from ._common import _LOWER_DIGITS, _lengths, _range


# -- snapshots -------------------------------------------------------------------------------
def retention_days(
    *, min_value: int = RETENTION_DAYS_MIN, max_value: int = RETENTION_DAYS_MAX
) -> st.SearchStrategy[int]:
    """``RetentionDays``: 1–65,536 days. ``st.none() | retention_days()`` adds "keep forever"."""
    low, high = _range(
        "retention_days", min_value, max_value, RETENTION_DAYS_MIN, RETENTION_DAYS_MAX
    )
    return st.integers(low, high)


def lock_durations(
    *, min_value: int = LOCK_DURATION_MIN, max_value: int = LOCK_DURATION_MAX
) -> st.SearchStrategy[int]:
    """``LockDuration`` of ``lock_snapshot``: 1–36,500 days."""
    low, high = _range("lock_durations", min_value, max_value, LOCK_DURATION_MIN, LOCK_DURATION_MAX)
    return st.integers(low, high)


def cool_off_periods(
    *, min_value: int = COOL_OFF_PERIOD_MIN, max_value: int = COOL_OFF_PERIOD_MAX
) -> st.SearchStrategy[int]:
    """``CoolOffPeriod`` of ``lock_snapshot``: 0–72 hours (0 locks at once)."""
    low, high = _range(
        "cool_off_periods", min_value, max_value, COOL_OFF_PERIOD_MIN, COOL_OFF_PERIOD_MAX
    )
    return st.integers(low, high)


def tags(
    *, min_size: int = 0, max_size: int = MAX_TAGS_PER_RESOURCE
) -> st.SearchStrategy[list[tuple[str, str]]]:
    """``Tag`` lists: up to 20 ``(key, value)`` pairs with distinct keys of 1–128 characters
    (not starting ``aliyun`` or ``acs:``) and values of up to 128 characters."""
    low, high = _range("tags", min_size, max_size, 0, MAX_TAGS_PER_RESOURCE)
    text = st.characters(codec="utf-8")
    keys = st.text(text, min_size=1, max_size=TAG_KEY_MAX_LENGTH).filter(
        lambda k: not k.startswith(SYSTEM_TAG_PREFIXES)
    )
    values = st.text(text, max_size=TAG_VALUE_MAX_LENGTH)
    return _lengths(low, high).flatmap(
        lambda n: st.lists(
            st.tuples(keys, values), min_size=n, max_size=n, unique_by=lambda pair: pair[0]
        )
    )


def client_tokens(
    *, min_size: int = 1, max_size: int = MAX_CLIENT_TOKEN_LENGTH
) -> st.SearchStrategy[str]:
    """``ClientToken``: 1–64 ASCII characters."""
    low, high = _range("client_tokens", min_size, max_size, 1, MAX_CLIENT_TOKEN_LENGTH)
    return st.text(st.characters(max_codepoint=127), min_size=low, max_size=high)


def invalid_client_tokens() -> st.SearchStrategy[str]:
    """Client tokens that are empty, longer than 64 characters or not ASCII
    (``InvalidClientToken.Malformed``)."""
    return st.one_of(
        st.just(""),
        st.text(
            st.characters(max_codepoint=127), min_size=MAX_CLIENT_TOKEN_LENGTH + 1, max_size=100
        ),
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
