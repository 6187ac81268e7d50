"""``client_token=`` on every creating call: a retry returns the first result and creates
nothing; other parameters with the same token are ``IdempotentParameterMismatch``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import (
    INSTANCE_TYPE,
    ZONE,
    backend_state,
    instance_with_disk,
    make_cloud,
    rejected_unchanged,
)
from cloudbackup import Cloud, DataDisk, EcsService, SqliteBackend, errors

Create = Callable[[EcsService, str, str, str | None], object]


def _setup(cloud: Cloud) -> tuple[EcsService, str, str]:
    ecs, instance_id, disk_id = instance_with_disk(cloud)
    return ecs, instance_id, disk_id


CREATES: dict[str, Create] = {
    "run_instances": lambda ecs, i, d, t: ecs.run_instances(
        zone_id=ZONE, instance_type=INSTANCE_TYPE, data_disks=[DataDisk(size=20)], client_token=t
    ),
    "create_instance": lambda ecs, i, d, t: ecs.create_instance(
        zone_id=ZONE, instance_type=INSTANCE_TYPE, client_token=t
    ),
    "create_disk": lambda ecs, i, d, t: ecs.create_disk(zone_id=ZONE, size=20, client_token=t),
    "create_snapshot": lambda ecs, i, d, t: ecs.create_snapshot(disk_id=d, client_token=t),
    "create_snapshot_group": lambda ecs, i, d, t: ecs.create_snapshot_group(
        instance_id=i, client_token=t
    ),
}


@pytest.mark.parametrize("name", sorted(CREATES))
def test_a_retry_with_the_same_token_returns_the_first_result(name: str) -> None:
    """The same token and parameters answer the first result and change nothing."""
    cloud = make_cloud()
    ecs, instance_id, disk_id = _setup(cloud)
    create = CREATES[name]
    first = create(ecs, instance_id, disk_id, "token-1")
    before = backend_state(cloud)
    assert first == create(ecs, instance_id, disk_id, "token-1")
    assert before == backend_state(cloud)


@pytest.mark.parametrize("name", sorted(CREATES))
def test_without_a_token_every_call_creates(name: str) -> None:
    """Without a client token two identical calls create two resources."""
    cloud = make_cloud()
    ecs, instance_id, disk_id = _setup(cloud)
    create = CREATES[name]
    first = create(ecs, instance_id, disk_id, None)
    cloud.advance(dt.timedelta(hours=1))  # let a progressing snapshot finish
    assert first != create(ecs, instance_id, disk_id, None)


def test_other_parameters_with_the_same_token_are_a_mismatch() -> None:
    """The token of a 20 GiB disk cannot create a 30 GiB disk: 403 and nothing changes."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    ecs.create_disk(zone_id=ZONE, size=20, client_token="t")
    error = rejected_unchanged(
        cloud,
        errors.DependencyViolationError,
        "IdempotentParameterMismatch",
        lambda: ecs.create_disk(zone_id=ZONE, size=30, client_token="t"),
    )
    assert 403 == error.http_status


def test_defaults_spelled_out_and_lists_as_tuples_are_the_same_request() -> None:
    """Passing a default explicitly, or a tuple for a list, is the same request."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    first = ecs.run_instances(
        zone_id=ZONE, instance_type=INSTANCE_TYPE, data_disks=[DataDisk(size=20)], client_token="t"
    )
    again = ecs.run_instances(
        zone_id=ZONE,
        instance_type=INSTANCE_TYPE,
        data_disks=(DataDisk(size=20),),
        amount=1,
        client_token="t",
    )
    assert first == again
    assert 1 == ecs.describe_instances().total_count


def test_tokens_are_scoped_to_the_action() -> None:
    """One token used for CreateDisk and for CreateSnapshot names two requests."""
    cloud = make_cloud()
    ecs, _, disk_id = instance_with_disk(cloud)
    new_disk = ecs.create_disk(zone_id=ZONE, size=20, client_token="same")
    snapshot_id = ecs.create_snapshot(disk_id=disk_id, client_token="same")
    assert new_disk.startswith("d-")
    assert snapshot_id.startswith("s-")


def test_a_refused_call_does_not_use_up_its_token() -> None:
    """A call refused for its parameters stores no token: a corrected retry succeeds."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    with pytest.raises(errors.CloudBackupError):
        ecs.create_disk(zone_id=ZONE, size=10**9, client_token="t")
    disk_id = ecs.create_disk(zone_id=ZONE, size=20, client_token="t")
    assert 20 == ecs.describe_disk(disk_id).size


@pytest.mark.parametrize("token", ["", "x" * 65, "ü", 7, b"token"])
def test_malformed_tokens_are_refused(token: object) -> None:
    """An empty, over-long, non-ASCII or non-string token is InvalidClientToken.Malformed."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidClientToken.Malformed",
        lambda: ecs.create_disk(zone_id=ZONE, size=20, client_token=token),  # type: ignore[arg-type]
    )


def test_sixty_four_ascii_characters_are_a_valid_token() -> None:
    """The longest token the real API accepts works."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    token = "a" * 64
    assert ecs.create_disk(zone_id=ZONE, size=20, client_token=token) == ecs.create_disk(
        zone_id=ZONE, size=20, client_token=token
    )


def test_tokens_survive_reopening_a_sqlite_world(tmp_path: Path) -> None:
    """A token stored on SQLite still answers the first result after close and reopen."""
    path = tmp_path / "world.db"
    cloud = Cloud(seed=3, backend=SqliteBackend(path))
    disk_id = cloud.ecs("cn-hangzhou").create_disk(zone_id=ZONE, size=20, client_token="t")
    cloud.close()
    reopened = Cloud(seed=3, backend=SqliteBackend(path))
    ecs = reopened.ecs("cn-hangzhou")
    assert disk_id == ecs.create_disk(zone_id=ZONE, size=20, client_token="t")
    assert 1 == ecs.describe_disks().total_count
    reopened.close()


def test_a_token_rolls_back_with_the_unit_that_stored_it() -> None:
    """A token stored inside a unit that fails is gone: the retry creates afresh."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    store = cloud._world.store

    def failing_unit() -> None:
        with store.unit():
            ecs.create_disk(zone_id=ZONE, size=20, client_token="t")
            raise RuntimeError("the caller's unit fails")

    with pytest.raises(RuntimeError):
        failing_unit()
    assert 0 == ecs.describe_disks().total_count
    ecs.create_disk(zone_id=ZONE, size=30, client_token="t")  # no mismatch: the token is free
    assert 1 == ecs.describe_disks().total_count


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(20, 40), min_size=1, max_size=6))
def test_replaying_requests_creates_one_disk_per_distinct_token(sizes: list[int]) -> None:
    """Each token creates one disk; replays return it, other sizes are refused."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    first_size: dict[str, int] = {}
    answers: dict[str, str] = {}
    for index, size in enumerate(sizes):
        token = f"t{index % 2}"
        if token not in first_size:
            first_size[token] = size
            answers[token] = ecs.create_disk(zone_id=ZONE, size=size, client_token=token)
        elif first_size[token] == size:
            assert answers[token] == ecs.create_disk(zone_id=ZONE, size=size, client_token=token)
        else:
            with pytest.raises(errors.DependencyViolationError):
                ecs.create_disk(zone_id=ZONE, size=size, client_token=token)
    assert len(answers) == ecs.describe_disks().total_count


def test_a_dry_run_with_a_used_token_answers_as_the_retry_would() -> None:
    """A dry-run retry of a used token is DryRunOperation; with other parameters, a mismatch."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    ecs.run_instances(zone_id=ZONE, instance_type=INSTANCE_TYPE, client_token="t")
    before = backend_state(cloud)
    with pytest.raises(errors.DryRunOperationError):
        ecs.run_instances(zone_id=ZONE, instance_type=INSTANCE_TYPE, client_token="t", dry_run=True)
    with pytest.raises(errors.DependencyViolationError):
        ecs.run_instances(
            zone_id=ZONE, instance_type=INSTANCE_TYPE, amount=2, client_token="t", dry_run=True
        )
    assert before == backend_state(cloud)
