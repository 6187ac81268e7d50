"""Timings and Limits: validated when built, with bounds that keep the model inside its means."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _helpers import make_cloud, raises_code, run_instance
from cloudbackup import Cloud, DataDisk, EventRetention, InMemoryBackend, Limits, Timings, errors
from cloudbackup._settings import (
    MAX_DURATION,
    MAX_EVENT_AGE,
    MAX_EVENTS,
    MAX_SNAPSHOT_THROUGHPUT,
    MIN_SNAPSHOT_THROUGHPUT,
)

DURATIONS = ("instance_pending", "instance_start", "instance_stop", "snapshot_base")
#: field -> (lowest accepted, highest accepted)
LIMIT_BOUNDS = {
    "manual_snapshots_per_disk": (1, 65536),
    "data_disks_per_instance": (1, 25),
    "snapshot_group_max_disks": (1, 1024),
    "snapshot_group_max_tib": (1, 65536),
    "multi_attach_max_instances": (1, 1024),
}


class Days(dt.timedelta):
    """A timedelta subclass, as a library built on datetime might hand over."""


class Count(int):
    """An int subclass."""


def refused(cls: type[Any], **kwargs: Any) -> errors.InvalidParameterError:
    """Build ``cls(**kwargs)`` and return the InvalidParameter error it must raise."""
    with pytest.raises(errors.InvalidParameterError) as info:
        cls(**kwargs)
    assert "InvalidParameter" == info.value.code
    return info.value


@pytest.mark.parametrize("name", DURATIONS)
def test_each_duration_accepts_both_of_its_bounds(name: str) -> None:
    """Zero and MAX_DURATION are accepted for every duration of Timings."""
    assert dt.timedelta(0) == getattr(Timings(**{name: dt.timedelta(0)}), name)
    assert MAX_DURATION == getattr(Timings(**{name: MAX_DURATION}), name)


@pytest.mark.parametrize("name", DURATIONS)
@pytest.mark.parametrize(
    "value",
    [
        dt.timedelta(microseconds=-1),
        MAX_DURATION + dt.timedelta(microseconds=1),
        dt.timedelta(days=3_000_000),
        30,
        "soon",
        None,
    ],
)
def test_each_duration_refuses_values_past_its_bounds(name: str, value: object) -> None:
    """A negative, too long or non-timedelta duration is InvalidParameter at construction."""
    error = refused(Timings, **{name: value})
    assert name in error.message


def test_throughput_accepts_both_of_its_bounds() -> None:
    """1 MiB/s and 10**18 B/s are the slowest and fastest accepted snapshot uploads."""
    assert MIN_SNAPSHOT_THROUGHPUT == Timings(snapshot_throughput=1024**2).snapshot_throughput
    assert MAX_SNAPSHOT_THROUGHPUT == Timings(snapshot_throughput=10**18).snapshot_throughput


@pytest.mark.parametrize(
    "value", [MIN_SNAPSHOT_THROUGHPUT - 1, MAX_SNAPSHOT_THROUGHPUT + 1, 0, -5, True, 1.5e8, "1"]
)
def test_throughput_refuses_values_past_its_bounds(value: object) -> None:
    """A throughput outside 1 MiB/s–10**18 B/s, a bool or a non-int is InvalidParameter."""
    refused(Timings, snapshot_throughput=value)


@pytest.mark.parametrize("name", sorted(LIMIT_BOUNDS))
def test_each_limit_accepts_both_of_its_bounds(name: str) -> None:
    """Every limit accepts its lowest and highest documented value."""
    lo, hi = LIMIT_BOUNDS[name]
    assert lo == getattr(Limits(**{name: lo}), name)
    assert hi == getattr(Limits(**{name: hi}), name)


@pytest.mark.parametrize("name", sorted(LIMIT_BOUNDS))
@pytest.mark.parametrize("shift", ["below", "above", "bool", "float", "text"])
def test_each_limit_refuses_values_past_its_bounds(name: str, shift: str) -> None:
    """One below the lowest, one above the highest, a bool, a float or text is refused."""
    lo, hi = LIMIT_BOUNDS[name]
    value = {"below": lo - 1, "above": hi + 1, "bool": True, "float": 2.0, "text": "3"}[shift]
    error = refused(Limits, **{name: value})
    assert name in error.message


def test_evolve_is_validated_too() -> None:
    """attrs.evolve runs the same validators, so a bad value cannot sneak in afterwards."""
    with pytest.raises(errors.InvalidParameterError) as info:
        attrs.evolve(Limits(), data_disks_per_instance=30)
    assert "InvalidParameter" == info.value.code


def test_subclassed_values_are_normalised_to_the_plain_types() -> None:
    """A timedelta subclass and an int subclass are stored as a plain timedelta and int."""
    timings = Timings(instance_pending=Days(seconds=5), snapshot_throughput=Count(2**21))
    limits = Limits(data_disks_per_instance=Count(3))
    assert (dt.timedelta, int, int) == (
        type(timings.instance_pending),
        type(timings.snapshot_throughput),
        type(limits.data_disks_per_instance),
    )
    assert (dt.timedelta(seconds=5), 2**21, 3) == (
        timings.instance_pending,
        timings.snapshot_throughput,
        limits.data_disks_per_instance,
    )


def test_the_longest_timings_still_run_an_instance_and_a_snapshot() -> None:
    """With every duration at its maximum and the slowest upload, the model runs without error."""
    longest = Timings(
        instance_pending=MAX_DURATION,
        instance_start=MAX_DURATION,
        instance_stop=MAX_DURATION,
        snapshot_base=MAX_DURATION,
        snapshot_throughput=MIN_SNAPSHOT_THROUGHPUT,
    )
    cloud = Cloud(block_size=4096, timings=longest)
    ecs = cloud.ecs("cn-hangzhou")
    [instance_id] = ecs.run_instances(zone_id="cn-hangzhou-h", instance_type="ecs.g7.large")
    cloud.advance(2 * MAX_DURATION)
    assert "Running" == ecs.describe_instance_attribute(instance_id).status.value


def test_twenty_five_data_disks_fit_the_device_names() -> None:
    """At the ceiling of 25 data disks an instance gets /dev/xvdb–/dev/xvdz, no IndexError."""
    cloud = make_cloud(limits=Limits(data_disks_per_instance=25))
    ecs, instance_id = run_instance(cloud, data_disks=[DataDisk(size=20)] * 25)
    disks = ecs.describe_disks(instance_id=instance_id, disk_type="data", page_size=100).items
    assert "/dev/xvdz" == max(d.device or "" for d in disks)
    raises_code(
        errors.InvalidParameterError,
        "InvalidParameter",
        lambda: Limits(data_disks_per_instance=26),
    )


@given(st.integers(), st.integers())
def test_any_integer_limit_is_accepted_exactly_within_its_bounds(a: int, b: int) -> None:
    """Property: an integer limit is accepted if and only if it lies within its bounds."""
    for name, (lo, hi) in LIMIT_BOUNDS.items():
        for value in (a, b):
            inside = lo <= value <= hi
            try:
                Limits(**{name: value})
                accepted = True
            except errors.InvalidParameterError:
                accepted = False
            assert inside == accepted


# -- EventRetention -----------------------------------------------------------------------------
def test_event_retention_accepts_both_bounds_of_each_field_and_none() -> None:
    """max_events 1..MAX_EVENTS and max_age 0..MAX_EVENT_AGE are accepted, and None for each."""
    for count in (1, MAX_EVENTS, None):
        assert count == EventRetention(max_events=count).max_events
    for age in (dt.timedelta(0), MAX_EVENT_AGE, None):
        assert age == EventRetention(max_age=age).max_age


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_events": 0},
        {"max_events": -1},
        {"max_events": MAX_EVENTS + 1},
        {"max_events": True},
        {"max_events": 5.0},
        {"max_events": "5"},
        {"max_age": dt.timedelta(microseconds=-1)},
        {"max_age": MAX_EVENT_AGE + dt.timedelta(microseconds=1)},
        {"max_age": 3600},
        {"max_age": False},
    ],
    ids=repr,
)
def test_event_retention_refuses_values_past_its_bounds(kwargs: dict[str, object]) -> None:
    """Out-of-bounds, bool, float, str or a number of seconds for max_age: InvalidParameter."""
    error = refused(EventRetention, **kwargs)
    assert next(iter(kwargs)) in error.message


def test_event_retention_normalises_subclassed_values() -> None:
    """An int subclass and a timedelta subclass become the plain int and timedelta."""
    retention = EventRetention(max_events=Count(7), max_age=Days(hours=2))
    assert (int, dt.timedelta) == (type(retention.max_events), type(retention.max_age))
    assert (7, dt.timedelta(hours=2)) == (retention.max_events, retention.max_age)


@pytest.mark.parametrize("value", [42, "100", Limits(), (5, None)], ids=repr)
def test_cloud_refuses_an_event_retention_of_the_wrong_type(value: object) -> None:
    """Cloud(event_retention=...) with anything but an EventRetention is refused before the
    backend is touched."""
    backend = InMemoryBackend()
    raises_code(
        errors.InvalidParameterError,
        "InvalidParameter.EventRetention",
        lambda: Cloud(backend=backend, event_retention=value),  # type: ignore[arg-type]
    )
    assert {} == backend._records


@given(
    st.one_of(st.none(), st.integers(-3, MAX_EVENTS + 3)),
    st.one_of(st.none(), st.integers(-3, MAX_EVENT_AGE // dt.timedelta(microseconds=1) + 3)),
)
def test_event_retention_is_accepted_exactly_within_its_bounds(
    count: int | None, micros: int | None
) -> None:
    """Any count and age: accepted iff each is None or within its bounds, and round-trips
    through the form stored with a world."""
    age = None if micros is None else dt.timedelta(microseconds=micros)
    fits = (count is None or 1 <= count <= MAX_EVENTS) and (
        age is None or dt.timedelta(0) <= age <= MAX_EVENT_AGE
    )
    if fits:
        retention = EventRetention(max_events=count, max_age=age)
        assert retention == EventRetention.from_stored(retention.stored())
    else:
        refused(EventRetention, max_events=count, max_age=age)
