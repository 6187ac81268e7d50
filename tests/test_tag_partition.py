"""ECS tag-index partitions: the fast path writes exactly what ``json.dumps`` writes."""

from __future__ import annotations

import json

from hypothesis import example, given
from hypothesis import strategies as st

from cloudbackup._services.ecs._core import tag_partition


class _Shouty(str):
    """A str subclass whose formatting differs from its value."""

    def __format__(self, spec: str) -> str:
        return "SHOUT"

    def __str__(self) -> str:
        return "SHOUT"


@given(st.text(), st.text(), st.text())
@example("cn-hangzhou", "HBR JobId", "job-000abc")
@example("cn-hangzhou", 'a"b', "v")
@example("cn-hangzhou", "k", "c\\d")
@example("cn-hangzhou", "\x7f", "\ud800")
@example("cn-hangzhou", "é", "\t")
def test_a_tag_partition_is_the_json_of_region_key_and_value(
    region: str, key: str, value: str
) -> None:
    """Any region, key and value (quotes, backslashes, controls, lone surrogates) give the
    JSON array json.dumps writes."""
    assert json.dumps([region, key, value]) == tag_partition(region, key, value)


def test_a_str_subclass_tag_gives_the_json_of_its_value() -> None:
    """A str subclass with its own formatting is written by value, as json.dumps writes it."""
    assert json.dumps(["r", "k", "v"]) == tag_partition("r", _Shouty("k"), "v")
