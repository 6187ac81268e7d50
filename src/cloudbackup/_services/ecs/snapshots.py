"""ECS, snapshots: CreateSnapshot, DescribeSnapshots, DescribeSnapshotLinks,
ModifySnapshotAttribute, DeleteSnapshot.

Part of the layered :class:`~cloudbackup.EcsService`: this layer may use every layer beneath
it (see ``_services/ecs/__init__.py``), never one above.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from ... import _validate as v
from ..._domain.ecs import Snapshot, SnapshotLink
from ..._domain.limits import (
    DESCRIPTION_MAX,
    DESCRIPTION_MIN,
    RETENTION_DAYS_MAX,
    RETENTION_DAYS_MIN,
)
from ..._domain.requests import Page
from ..._events import SnapshotModified
from ..._repository import ORDER_SEPARATOR
from ...errors import InvalidParameterError
from .._base import unit_of_work
from ._core import (
    LINKS_BY_FACETS,
    LINKS_OF_DISK,
    LINKS_OF_INSTANCE,
    SNAPSHOT_TAGS,
    SNAPSHOTS_BY_FACETS,
    SNAPSHOTS_BY_TIME,
)
from ._requests import ecs_action, finish_read, id_order_page, keyset_page, token_page
from .chains import SnapshotChains

__all__ = ["SnapshotActions"]


class SnapshotActions(SnapshotChains):
    """Snapshots: CreateSnapshot, DescribeSnapshots, DescribeSnapshotLinks,
    ModifySnapshotAttribute, DeleteSnapshot.
    """

    @ecs_action("CreateSnapshot", client_token=True)
    def create_snapshot(
        self,
        *,
        disk_id: str,
        snapshot_name: str | None = None,
        description: str | None = None,
        retention_days: int | None = None,
        instant_access: bool | None = None,
        tags: Sequence[tuple[str, str]] = (),
        client_token: str | None = None,
    ) -> str:
        """``CreateSnapshot``: capture the disk's data at this virtual instant.

        The first snapshot of a disk is full; later ones hold only the blocks changed since the
        previous snapshot of its chain (``sl-…``). ESSD-family snapshots are instant access
        (``accomplished`` at once); others stay ``progressing`` for a simulated upload time.

        Args:
            disk_id: A cloud disk, ``In_use`` or ``Available``; if attached, its instance must
                be ``Running`` or ``Stopped``.
            snapshot_name: 2–128 characters, starts with a letter, not ``auto…``/``http(s)://``.
            description: 2–256 characters.
            retention_days: 1–65,536 days from creation; None keeps it until deleted.
            instant_access: Deprecated in the real API; ESSD snapshots are instant anyway.
            tags: Up to 20 ``(key, value)`` pairs.
            client_token: Idempotency token (≤64 ASCII): a retry with the same token and
                parameters returns the first snapshot id and takes no snapshot.

        Returns:
            The new snapshot id.

        Raises:
            QuotaExceededError: ``QuotaExceed.Snapshot`` — the disk has 256 manual snapshots.
            IncorrectStatusError: ``IncorrectDiskStatus.CreatingSnapshot`` — one is
                progressing; ``IncorrectInstanceStatus``; ``IncorrectDiskStatus.NeverAttached``.
        """
        return self._create_snapshot(
            disk_id=disk_id,
            snapshot_name=snapshot_name,
            description=description,
            retention_days=retention_days,
            instant_access=instant_access,
            tags=tags,
        ).snapshot_id

    def _create_snapshot(
        self,
        *,
        disk_id: str,
        snapshot_name: str | None = None,
        description: str | None = None,
        retention_days: object = None,
        instant_access: object = None,
        tags: Sequence[tuple[str, str]] = (),
        managed: bool = False,
    ) -> Snapshot:
        """:meth:`create_snapshot`'s work, in the caller's unit: the snapshot as taken.
        ``managed``: its retention is recorded but ECS sets no expiry timer for it (the
        snapshot interface's managed snapshots)."""
        name = v.name_text(
            "SnapshotName", snapshot_name, code="InvalidSnapshotName.Malformed", forbid_auto=True
        )
        desc = v.optional_text(
            "Description",
            description,
            DESCRIPTION_MIN,
            DESCRIPTION_MAX,
            code="InvalidDescription.Malformed",
        )
        days = (
            None
            if retention_days is None
            else v.integer(
                "RetentionDays",
                retention_days,
                RETENTION_DAYS_MIN,
                RETENTION_DAYS_MAX,
                code="InvalidRetentionDays.Malformed",
            )
        )
        if instant_access is not None:
            v.boolean("InstantAccess", instant_access)
        pairs = self._tags(tags)
        disk = self._disks.get(disk_id)
        link = self._check_snapshot_allowed(disk)
        return self._take_snapshot(disk, name, desc, days, pairs, None, link, managed=managed)

    def describe_snapshots(
        self,
        *,
        snapshot_ids: Sequence[str] | None = None,
        disk_id: str | None = None,
        instance_id: str | None = None,
        snapshot_link_id: str | None = None,
        status: str = "all",
        snapshot_type: str = "all",
        usage: str | None = None,
        source_disk_type: str | None = None,
        encrypted: bool | None = None,
        kms_key_id: str | None = None,
        snapshot_name: str | None = None,
        tags: Sequence[tuple[str, str]] | None = None,
        page_number: int = 1,
        page_size: int = 10,
        next_token: str | None = None,
        max_results: int | None = None,
        dry_run: bool = False,
    ) -> Page[Snapshot]:
        """``DescribeSnapshots``: snapshots matching every given filter, newest first.

        Without ids, disk, instance, chain or tags, a page filtered by any of ``status``,
        ``snapshot_type``, ``source_disk_type`` and ``encrypted`` (or by none) reads the page
        from the index of snapshots by those facets, with an exact ``TotalCount`` from its
        counts; ``usage``, ``kms_key_id`` and ``snapshot_name`` read every snapshot the facet
        filters match (see the cost table under ``Page`` in docs/reference/api.md).

        Args:
            tags: ``Tag.N``: up to 20 ``(key, value)`` pairs a snapshot must all carry.
            next_token: ``NextToken`` of the previous page (token paging, newest first).
            max_results: ``MaxResults`` 1–100 (default 10) for token paging.
            dry_run: Check the request only: raises ``DryRunOperation`` if it would succeed.
        """
        number, size = v.page(page_number, page_size)
        pairs = self._tag_filter(tags)

        def answer(found: list[Snapshot]) -> Page[Snapshot]:
            now = self._world.now()
            found = [s.observed(now) for s in found]  # progress at this instant, not stored
            page = token_page(
                found,
                lambda s: (s.creation_time.isoformat(timespec="microseconds"), s.snapshot_id),
                scope="DescribeSnapshots",
                next_token=next_token,
                max_results=max_results,
                page_number=number,
                page_size=size,
                width=2,
                descending=True,
            )
            return finish_read("DescribeSnapshots", dry_run, page)

        v.optional_text("DiskId", disk_id, 1, 256)
        v.optional_text("InstanceId", instance_id, 1, 256)
        v.optional_text("SnapshotLinkId", snapshot_link_id, 1, 256)
        v.optional_text("KmsKeyId", kms_key_id, 1, 256)
        v.optional_text("SnapshotName", snapshot_name, 1, 256)
        ids = v.id_list(
            "SnapshotIds", snapshot_ids, max_items=100, code="InvalidSnapshotIds.Malformed"
        )
        state = v.choice(
            "Status",
            status,
            ("all", "progressing", "accomplished", "failed"),
            code="InvalidStatus.NotFound",
        )
        stype = v.choice(
            "SnapshotType",
            snapshot_type,
            ("all", "auto", "user"),
            code="InvalidSnapshotType.NotFound",
        )
        use = (
            None
            if usage is None
            else v.choice(
                "Usage", usage, ("none", "image", "disk", "image_disk"), code="InvalidUsage"
            )
        )
        src = (
            None
            if source_disk_type is None
            else v.choice(
                "SourceDiskType",
                source_disk_type.lower() if isinstance(source_disk_type, str) else source_disk_type,
                ("system", "data"),
            )
        )
        if encrypted is not None:
            v.boolean("Encrypted", encrypted)
        facets = {
            name: value
            for name, value in (
                ("Status", None if state == "all" else state),
                ("SnapshotType", None if stype == "all" else stype),
                ("SourceDiskType", src),
                ("Encrypted", None if encrypted is None else "true" if encrypted else "false"),
            )
            if value is not None
        }
        if not ids and not pairs and (disk_id, instance_id, snapshot_link_id) == (None,) * 3:
            if (use, kms_key_id, snapshot_name) == (None,) * 3:
                # Facet filters only (or none): a page of the matching partitions, merged.
                page = self._newest_snapshots(facets, number, size, next_token, max_results)
                if page is not None:
                    return finish_read("DescribeSnapshots", dry_run, page)
            else:
                # Filters no index holds: every snapshot of the matching partitions, newest
                # first (exact TotalCount needs each of them read), filtered here.
                with self._world.store.reading():
                    every = self._snapshots.ordered(
                        SNAPSHOTS_BY_FACETS,
                        where=facets,
                        descending=True,
                        limit=self._snapshots.count(SNAPSHOTS_BY_FACETS, where=facets),
                    )
                return answer(
                    [
                        s
                        for s in every
                        if (use is None or s.usage.value == use)
                        and (kms_key_id is None or s.kms_key_id == kms_key_id)
                        and (snapshot_name is None or s.snapshot_name == snapshot_name)
                    ]
                )
        link_id = snapshot_link_id
        if link_id is None and disk_id is not None and not ids:
            disk = self._disks.find(disk_id)
            if disk is not None and disk.snapshot_link_id is None:
                return answer([])  # a disk that was never snapshotted
            link_id = disk.snapshot_link_id if disk is not None else None
        if not ids and link_id is not None:  # one chain: read it instead of the region
            link = self._links.find(link_id)
            ids = link.snapshot_ids if link is not None else ()
            if not ids:
                return answer([])
        if pairs and not ids and link_id is None:  # through the tag index
            candidates = self._tagged(self._snapshots, SNAPSHOT_TAGS, pairs)
        else:
            candidates = self._snapshots.named_or_all(ids)
        found = [
            s
            for s in candidates
            if (disk_id is None or s.source_disk_id == disk_id)
            and (instance_id is None or s.instance_id == instance_id)
            and (snapshot_link_id is None or s.snapshot_link_id == snapshot_link_id)
            and (state == "all" or s.status.value == state)
            and (stype == "all" or s.snapshot_type == stype)
            and (use is None or s.usage.value == use)
            and (src is None or s.source_disk_type.value == src)
            and (encrypted is None or s.encrypted is encrypted)
            and (kms_key_id is None or s.kms_key_id == kms_key_id)
            and (snapshot_name is None or s.snapshot_name == snapshot_name)
            and all(pair in s.tags for pair in pairs)
        ]
        found.sort(key=lambda s: (s.creation_time, s.snapshot_id), reverse=True)
        return answer(found)

    def _newest_snapshots(
        self,
        facets: dict[str, str],
        number: int,
        size: int,
        next_token: object,
        max_results: object,
    ) -> Page[Snapshot] | None:
        """A ``DescribeSnapshots`` page of the region's snapshots with the facet values
        ``facets`` names (none: every snapshot), newest first: page size + 1 index entries
        from the token's position in each matching partition (the region's snapshots by
        creation time when no facet is named), merged, and the chosen snapshots; ``TotalCount``
        from the partitions' counts. ``None`` sends a token the index cannot place the slow
        way."""
        now = self._world.now()
        index = SNAPSHOTS_BY_FACETS if facets else SNAPSHOTS_BY_TIME

        def fetch(after: tuple[str, ...] | None, limit: int) -> list[Snapshot]:
            before = None if after is None else ORDER_SEPARATOR.join(after)
            newest = self._snapshots.ordered(
                index, where=facets, before=before, descending=True, limit=limit
            )
            return [s.observed(now) for s in newest]  # progress at this instant, not stored

        with self._world.store.reading():
            return keyset_page(
                fetch,
                self._snapshots.count(SNAPSHOTS_BY_FACETS, where=facets),
                lambda s: (s.creation_time.isoformat(timespec="microseconds"), s.snapshot_id),
                scope="DescribeSnapshots",
                next_token=next_token,
                max_results=max_results,
                page_number=number,
                page_size=size,
                width=2,
            )

    def describe_snapshot(self, snapshot_id: str) -> Snapshot:
        """Helper (no real action): one snapshot by id, or ``InvalidSnapshotId.NotFound``.

        The real API reads one snapshot with ``describe_snapshots(snapshot_ids=[...])``, which
        answers an empty page for a missing id; this helper raises instead. Like
        ``describe_snapshots``, a progressing snapshot shows its ``progress`` and
        ``remain_time`` at this instant.
        """
        return self._snapshots.get(snapshot_id).observed(self._world.now())

    def describe_snapshot_links(
        self,
        *,
        snapshot_link_ids: Sequence[str] | None = None,
        disk_ids: Sequence[str] | None = None,
        instance_id: str | None = None,
        page_number: int = 1,
        page_size: int = 10,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> Page[SnapshotLink]:
        """``DescribeSnapshotLinks``: snapshot chains with ``TotalSize`` and ``TotalCount``.

        Named chains are read directly, and so are the chains of named disks that exist (a
        disk names its chain); an instance's chains and those of a disk that no longer exists
        are read through the indexes of chains by instance and by source disk. A call without
        ids or instance reads its page from the index of chains that hold a snapshot.

        Args:
            next_token: ``NextToken`` of the previous page (token paging, in id order).
            max_results: ``MaxResults`` 1–100 (default 10) for token paging.
        """
        number, size = v.page(page_number, page_size)
        v.optional_text("InstanceId", instance_id, 1, 256)
        links = v.id_list("SnapshotLinkIds", snapshot_link_ids, max_items=100)
        disks = v.id_list("DiskIds", disk_ids, max_items=100)
        with self._world.store.reading():
            if links:
                candidates = self._links.named_or_all(links)
            elif disks:
                candidates = self._links_of_disks(disks)
            elif instance_id is not None:
                candidates = self._links.members(LINKS_OF_INSTANCE, instance_id)
            else:  # the region's chains that hold a snapshot: a slice from the token's position
                return id_order_page(
                    self._links,
                    scope="DescribeSnapshotLinks",
                    next_token=next_token,
                    max_results=max_results,
                    page_number=number,
                    page_size=size,
                    index=LINKS_BY_FACETS,
                    where={"HasSnapshots": "true"},
                )
        found = [
            link
            for link in sorted(candidates, key=lambda link: link.snapshot_link_id)
            if link.snapshot_ids
            and (not links or link.snapshot_link_id in links)
            and (not disks or link.source_disk_id in disks)
            and (instance_id is None or link.instance_id == instance_id)
        ]
        return token_page(
            found,
            lambda link: (link.snapshot_link_id,),
            scope="DescribeSnapshotLinks",
            next_token=next_token,
            max_results=max_results,
            page_number=number,
            page_size=size,
        )

    def _links_of_disks(self, disk_ids: Sequence[str]) -> list[SnapshotLink]:
        """The chains of the named disks: through each disk's ``snapshot_link_id`` (a direct
        read), or for a disk that no longer exists (its chain may outlive it) through the index
        of chains by source disk."""
        found: dict[str, SnapshotLink] = {}
        link_ids: list[str] = []
        for disk_id in disk_ids:
            disk = self._disks.find(disk_id)
            if disk is None:
                for link in self._links.members(LINKS_OF_DISK, disk_id):
                    found[link.snapshot_link_id] = link
            elif disk.snapshot_link_id is not None:
                link_ids.append(disk.snapshot_link_id)
        wanted = [link_id for link_id in dict.fromkeys(link_ids) if link_id not in found]
        if wanted:  # (named_or_all of no id would read the region)
            found.update((link.snapshot_link_id, link) for link in self._links.named_or_all(wanted))
        return list(found.values())

    @unit_of_work
    def modify_snapshot_attribute(
        self,
        *,
        snapshot_id: str,
        snapshot_name: str | None = None,
        description: str | None = None,
        retention_days: int | None = None,
    ) -> None:
        """``ModifySnapshotAttribute``: rename, describe, or extend retention.

        Retention counts from the snapshot's creation time and can only be extended
        (``InvalidOperation.DecreaseRetentionDaysUnsupported``); a snapshot kept forever cannot
        be given a retention period.
        """
        snapshot = self._snapshots.get(snapshot_id)
        changes: dict[str, Any] = {}
        if snapshot_name is not None:
            changes["snapshot_name"] = v.name_text(
                "SnapshotName",
                snapshot_name,
                code="InvalidSnapshotName.Malformed",
                forbid_auto=True,
            )
        if description is not None:
            changes["description"] = v.text(
                "Description",
                description,
                DESCRIPTION_MIN,
                DESCRIPTION_MAX,
                code="InvalidDescription.Malformed",
            )
        if retention_days is not None:
            days = v.integer(
                "RetentionDays",
                retention_days,
                RETENTION_DAYS_MIN,
                RETENTION_DAYS_MAX,
                code="InvalidRetentionDays.Malformed",
            )
            changes["retention_days"] = snapshot.with_retention(days).retention_days
        if not changes:
            raise InvalidParameterError(
                "No attribute to modify was given.",
                code="NoAttributeToModify",
                ids=(snapshot.snapshot_id,),
                recommend="Pass snapshot_name, description or retention_days.",
            )
        updated = attrs.evolve(snapshot, last_modified_time=self._world.now(), **changes)
        self._snapshots.put(updated)
        if "retention_days" in changes and changes["retention_days"] != snapshot.retention_days:
            self._schedule_expiry(updated)
        self._world.events._emit(
            SnapshotModified,
            time=self._world.now(),
            region_id=self.region_id,
            snapshot_id=snapshot.snapshot_id,
            retention_days=updated.retention_days,
        )

    @unit_of_work
    def delete_snapshot(self, snapshot_id: str, *, force: bool = False) -> None:
        """``DeleteSnapshot``: delete a snapshot (a missing id is ignored, as the real API does).

        Refused for a locked snapshot, one used by an image (``SnapshotCreatedImage``) and one
        used by a disk (``SnapshotCreatedDisk``) unless ``force``. Deleting a snapshot in the
        middle of a chain keeps every other snapshot restorable: the blocks the next snapshot
        still needs move to it. A ``progressing`` snapshot is cancelled.
        """
        if not isinstance(snapshot_id, str) or not snapshot_id:
            raise InvalidParameterError(
                f"SnapshotId {snapshot_id!r} is not valid.",
                code="InvalidSnapshotId.Malformed",
                recommend="Pass a snapshot id such as 's-bp1…'.",
            )
        v.boolean("Force", force)
        snapshot = self._snapshots.find(snapshot_id)
        if snapshot is None:
            return
        snapshot.require_deletable(self._world.now(), force=force)
        self._remove_snapshot(snapshot, reason="user")
