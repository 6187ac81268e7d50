"""``Cloud(seed=...)``: the range of seeds, refused up front, and a world's settings compared."""

from __future__ import annotations

import copy
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import REGION
from cloudbackup import Cloud, InMemoryBackend, SqliteBackend, errors

SEED_MAX = 2**64 - 1
SEED_MIN = -(2**64 - 1)


class _Seed(int):
    """An int subclass whose text differs from the int it equals."""

    def __str__(self) -> str:
        return "not-the-number"

    __repr__ = __str__
    __format__ = None  # type: ignore[assignment]


def _first_key_id(cloud: Cloud) -> str:
    return cloud.kms(REGION).create_key().key_id


@pytest.mark.parametrize("seed", [SEED_MIN, -1, 0, 1, 2**63, SEED_MAX])
def test_seeds_at_and_inside_the_bounds_work(seed: int) -> None:
    """Seeds from -(2**64 - 1) to 2**64 - 1 are accepted and make ids."""
    assert _first_key_id(Cloud(seed=seed)).startswith("key-bp1")


@pytest.mark.parametrize(
    "seed",
    [SEED_MAX + 1, SEED_MIN - 1, 10**5000, -(10**5000), 2**200],
    ids=["max+1", "min-1", "10**5000", "-10**5000", "2**200"],
)
def test_seeds_beyond_64_bits_are_refused_up_front(seed: int) -> None:
    """A seed beyond 64 bits is InvalidParameter at Cloud(), not a ValueError at the first id,
    and the backend it was given stays empty."""
    backend = InMemoryBackend()
    before = copy.deepcopy(backend._records)
    with pytest.raises(errors.InvalidParameterError) as info:
        Cloud(seed=seed, backend=backend)
    assert ("InvalidParameter", 400) == (info.value.code, info.value.http_status)
    assert "64 bits" in info.value.message
    assert "seed" in info.value.recommend
    assert before == backend._records


@pytest.mark.parametrize("seed", [True, False, 1.0, "1", None])
def test_non_integer_seeds_are_refused(seed: object) -> None:
    """bool, float, str and None seeds are InvalidParameter."""
    with pytest.raises(errors.InvalidParameterError) as info:
        Cloud(seed=seed)  # type: ignore[arg-type]
    assert "InvalidParameter" == info.value.code


def test_an_int_subclass_seed_is_the_int_it_equals() -> None:
    """An int subclass with its own text gives the ids of the plain int it equals."""
    assert _first_key_id(Cloud(seed=7)) == _first_key_id(Cloud(seed=_Seed(7)))


def test_an_int_subclass_seed_reopens_as_the_plain_int(tmp_path: pathlib.Path) -> None:
    """A SQLite world made with an int subclass seed is stored as the int: reopening it with
    the plain int goes on with the same ids."""
    db = tmp_path / "world.db"
    with Cloud(backend=SqliteBackend(db), seed=_Seed(2**64 - 1)) as cloud:
        first = _first_key_id(cloud)
    with Cloud(backend=SqliteBackend(db), seed=2**64 - 1) as cloud:
        second = _first_key_id(cloud)
    plain = Cloud(seed=2**64 - 1)
    assert [first, second] == [_first_key_id(plain), _first_key_id(plain)]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=-(2**70), max_value=2**70))
def test_a_seed_is_accepted_exactly_when_it_fits_64_bits(seed: int) -> None:
    """Any integer is either refused with InvalidParameter or makes ids; which is decided by
    its size alone."""
    fits = SEED_MIN <= seed <= SEED_MAX
    try:
        cloud = Cloud(seed=seed, backend=InMemoryBackend())
    except errors.InvalidParameterError:
        assert not fits
    else:
        assert fits
        assert _first_key_id(cloud).startswith("key-bp1")


def test_world_mismatch_lists_both_settings_in_the_same_order() -> None:
    """Reopening a world with another seed says what it holds and what was asked, key by key
    in the same order."""
    backend = InMemoryBackend()
    Cloud(seed=1, backend=backend)
    with pytest.raises(errors.StorageBackendError) as info:
        Cloud(seed=2, backend=backend, account_id="9876543210987654")
    message = info.value.message
    assert "StorageBackend.WorldMismatch" == info.value.code
    held, asked = message.split(", not ")
    keys = ["format=", "seed=", "account_id=", "block_size="]
    assert [held.index(k) for k in keys] == sorted(held.index(k) for k in keys)
    assert [asked.index(k) for k in keys] == sorted(asked.index(k) for k in keys)
    assert ("seed=1" in held, "seed=2" in asked) == (True, True)
    assert "account_id='9876543210987654'" in asked
