"""Tags on ECS resources: the ``ListTagResources`` record and the rules for changing a
resource's tags (``TagResources`` overwrites a key's value, ``UntagResources`` removes keys).

Tags are ``(key, value)`` pairs, as on every ECS record that has them; a resource holds at most
:data:`MAX_TAGS_PER_RESOURCE` of them and each key at most once.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

__all__ = [
    "MAX_TAGS_PER_RESOURCE",
    "SYSTEM_TAG_PREFIXES",
    "TAG_KEY_MAX_LENGTH",
    "TAG_VALUE_MAX_LENGTH",
    "TAG_RESOURCE_TYPES",
    "TagResource",
    "Tags",
    "tags_merged",
    "tags_without",
]

Tags = tuple[tuple[str, str], ...]
"""A resource's tags: ``(key, value)`` pairs, each key once, in the order they were added."""

MAX_TAGS_PER_RESOURCE = 20
"""How many tags one resource may hold (the real "Tag limits")."""

TAG_KEY_MAX_LENGTH = 128
"""A tag key is 1–128 characters."""

TAG_VALUE_MAX_LENGTH = 128
"""A tag value is at most 128 characters (it may be empty)."""

TAG_RESOURCE_TYPES = ("instance", "disk", "snapshot", "image")
"""The ``ResourceType`` values of ``TagResources`` that this model has resources for."""


@attrs.frozen
class TagResource:
    """One tag of one resource: an item of ``ListTagResources`` (``TagResources.TagResource``)."""

    resource_id: str
    """``ResourceId``: the tagged resource, e.g. ``i-…``."""
    resource_type: str
    """``ResourceType``: ``instance``, ``disk``, ``snapshot`` or ``image``."""
    tag_key: str
    """``TagKey``."""
    tag_value: str
    """``TagValue`` (may be empty)."""


def tags_merged(current: Tags, new: Iterable[tuple[str, str]]) -> Tags:
    """``current`` with every pair of ``new`` added; a key already present takes the new value
    in its old place (``TagResources`` overwrites)."""
    merged = dict(current)
    for key, value in new:
        merged[key] = value
    return tuple(merged.items())


SYSTEM_TAG_PREFIXES = ("aliyun", "acs:")
"""Tag keys the service itself sets (``acs:ecs:createFrom``); users may not set or remove them."""


def tags_without(current: Tags, keys: Iterable[str] | None) -> Tags:
    """``current`` without the pairs whose key is in ``keys``; ``None`` removes every tag the
    user set (``UntagResources`` with ``All``), keeping the service's own system tags."""
    if keys is None:
        return tuple(pair for pair in current if pair[0].startswith(SYSTEM_TAG_PREFIXES))
    gone = set(keys)
    return tuple(pair for pair in current if pair[0] not in gone)
