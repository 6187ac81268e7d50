"""ECS, tags: TagResources, UntagResources, ListTagResources on instances, disks, snapshots and
images.

Part of the layered :class:`~cloudbackup.EcsService`: this layer may use every layer beneath
it (see ``_services/ecs/__init__.py``), never one above.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from ... import _validate as v
from ..._domain.requests import Page
from ..._domain.tags import (
    MAX_TAGS_PER_RESOURCE,
    SYSTEM_TAG_PREFIXES,
    TAG_RESOURCE_TYPES,
    TagResource,
    tags_merged,
    tags_without,
)
from ..._repository import Index, Repository
from ...errors import InvalidParameterError
from .._interfaces import instance_tags_changed
from ._core import DISK_TAGS, IMAGE_TAGS, INSTANCE_TAGS, SNAPSHOT_TAGS
from ._requests import ecs_action, token_page
from .instances import InstanceActions

__all__ = ["TagActions"]

MAX_RESOURCE_IDS = 50
"""``ResourceId.N``: at most 50 resources per tag request."""
LIST_PAGE_SIZE = 50
"""``ListTagResources`` answers at most 50 tags per page."""


class TagActions(InstanceActions):
    """Tags: TagResources, UntagResources, ListTagResources."""

    def _tag_target(self, resource_type: object) -> tuple[str, Repository[Any], Index[Any]]:
        kind = v.choice(
            "ResourceType", resource_type, TAG_RESOURCE_TYPES, code="InvalidResourceType.NotFound"
        )
        targets: dict[str, tuple[Repository[Any], Index[Any]]] = {
            "instance": (self._instances, INSTANCE_TAGS),
            "disk": (self._disks, DISK_TAGS),
            "snapshot": (self._snapshots, SNAPSHOT_TAGS),
            "image": (self._images, IMAGE_TAGS),
        }
        repository, index = targets[kind]
        return kind, repository, index

    def _resource_ids(self, resource_ids: object, *, required: bool) -> tuple[str, ...]:
        ids = v.id_list("ResourceId", resource_ids, max_items=MAX_RESOURCE_IDS)
        if required and not ids:
            raise InvalidParameterError(
                "Name at least one resource.",
                code="MissingParameter.ResourceIds",
                recommend=f"Pass resource_ids with 1 to {MAX_RESOURCE_IDS} ids.",
            )
        return ids

    @ecs_action("TagResources")
    def tag_resources(
        self, *, resource_type: str, resource_ids: Sequence[str], tags: Sequence[tuple[str, str]]
    ) -> None:
        """``TagResources``: add tags to up to 50 resources of one type.

        A key the resource already has takes the new value. A resource may hold at most 20
        tags (``InvalidTagCount``); keys starting with ``aliyun`` or ``acs:`` are the
        service's own and refused.

        Args:
            resource_type: ``instance``, ``disk``, ``snapshot`` or ``image``.
            resource_ids: 1 to 50 ids of resources of that type in this region.
            tags: 1 to 20 ``(key, value)`` pairs, each key once.
        """
        kind, repository, _ = self._tag_target(resource_type)
        ids = self._resource_ids(resource_ids, required=True)
        pairs = self._tags(tags)
        if not pairs:
            raise InvalidParameterError(
                "Name at least one tag to add.",
                code="MissingParameter.Tags",
                recommend="Pass tags=[('key', 'value'), ...].",
            )
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys):
            raise InvalidParameterError(
                f"The tag keys {keys!r} repeat a key.",
                code="Duplicate.TagKey",
                recommend="Name each tag key once per request.",
            )
        for record in [repository.get(i) for i in ids]:
            merged = tags_merged(record.tags, pairs)
            if len(merged) > MAX_TAGS_PER_RESOURCE:
                raise InvalidParameterError(
                    f"The {kind} would hold {len(merged)} tags; at most "
                    f"{MAX_TAGS_PER_RESOURCE} are allowed.",
                    code="InvalidTagCount",
                    ids=(repository.id_of(record),),
                    recommend="Remove tags with untag_resources first, or add fewer.",
                )
            repository.put(attrs.evolve(record, tags=merged))
            if kind == "instance":  # Cloud Backup's TAG rules follow instance tags
                instance_tags_changed(
                    self._world, self.region, repository.id_of(record), record.tags, merged
                )

    @ecs_action("UntagResources")
    def untag_resources(
        self,
        *,
        resource_type: str,
        resource_ids: Sequence[str],
        tag_keys: Sequence[str] | None = None,
        all: bool = False,
    ) -> None:
        """``UntagResources``: remove tags from up to 50 resources of one type.

        Args:
            resource_type: ``instance``, ``disk``, ``snapshot`` or ``image``.
            resource_ids: 1 to 50 ids of resources of that type in this region.
            tag_keys: 1 to 20 keys to remove (a key the resource lacks is ignored).
            all: With no ``tag_keys``: remove every tag the user set (``All``); the
                service's own ``acs:`` tags stay.
        """
        kind, repository, _ = self._tag_target(resource_type)
        ids = self._resource_ids(resource_ids, required=True)
        every = v.boolean("All", all)
        keys = v.id_list("TagKey", tag_keys, max_items=MAX_TAGS_PER_RESOURCE)
        if any(len(key) > 128 or key.startswith(SYSTEM_TAG_PREFIXES) for key in keys):
            raise InvalidParameterError(
                f"The tag keys {keys!r} are not all keys a user can remove.",
                code="InvalidTagKey.Malformed",
                recommend="Tag keys are 1–128 characters and may not start with 'aliyun' "
                "or 'acs:'.",
            )
        if not keys and not every:
            raise InvalidParameterError(
                "Name the tag keys to remove, or pass all=True.",
                code="MissingParameter.TagKey",
                recommend="Pass tag_keys=[...] or all=True.",
            )
        for record in [repository.get(i) for i in ids]:
            kept = tags_without(record.tags, keys if keys else None)
            if kept != record.tags:
                repository.put(attrs.evolve(record, tags=kept))
                if kind == "instance":  # Cloud Backup's TAG rules follow instance tags
                    instance_tags_changed(
                        self._world, self.region, repository.id_of(record), record.tags, kept
                    )

    def list_tag_resources(
        self,
        *,
        resource_type: str,
        resource_ids: Sequence[str] | None = None,
        tags: Sequence[tuple[str, str]] | None = None,
        next_token: str | None = None,
    ) -> Page[TagResource]:
        """``ListTagResources``: the tags of the named resources, or of the resources that
        carry every given tag, 50 at a time in ``(resource id, tag key)`` order.

        Args:
            resource_type: ``instance``, ``disk``, ``snapshot`` or ``image``.
            resource_ids: Up to 50 ids (missing ones are skipped).
            tags: Up to 20 ``(key, value)`` pairs a resource must all carry. At least one of
                ``resource_ids`` and ``tags`` is required.
            next_token: ``NextToken`` of the previous page.

        Returns:
            A page of :class:`~cloudbackup.TagResource` with ``next_token`` while more remain.
        """
        kind, repository, index = self._tag_target(resource_type)
        ids = self._resource_ids(resource_ids, required=False)
        pairs = self._tag_filter(tags)
        if not ids and not pairs:
            raise InvalidParameterError(
                "Name resources or tags to list.",
                code="MissingParameter.ResourceIds",
                recommend="Pass resource_ids=[...] or tags=[(key, value), ...].",
            )
        with self._world.store.reading():
            if ids:
                records = repository.named_or_all(ids)
                records = [r for r in records if all(pair in r.tags for pair in pairs)]
            else:
                records = self._tagged(repository, index, pairs)
        found = [
            TagResource(repository.id_of(r), kind, key, value)
            for r in records
            for key, value in r.tags
        ]
        return token_page(
            found,
            lambda t: (t.resource_id, t.tag_key),
            scope="ListTagResources",
            next_token=next_token,
            max_results=LIST_PAGE_SIZE,
            page_number=1,
            page_size=LIST_PAGE_SIZE,
            width=2,
        )
