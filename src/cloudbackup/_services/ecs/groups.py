"""ECS, snapshot-consistent groups: CreateSnapshotGroup, DescribeSnapshotGroups,
DeleteSnapshotGroup.

Part of the layered :class:`~cloudbackup.EcsService`: this layer may use every layer beneath
it (see ``_services/ecs/__init__.py``), never one above.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ... import _validate as v
from ..._domain.ecs import (
    CATEGORY_SPECS,
    DiskCategory,
    Snapshot,
    SnapshotGroup,
    SnapshotGroupMember,
    SnapshotGroupStatus,
    SnapshotStatus,
)
from ..._domain.limits import (
    DESCRIPTION_MAX,
    DESCRIPTION_MIN,
    RETENTION_DAYS_MAX,
    RETENTION_DAYS_MIN,
)
from ..._domain.requests import Page
from ..._events import SnapshotGroupCreated
from ...errors import (
    DependencyViolationError,
    InvalidParameterError,
    QuotaExceededError,
    UnsupportedOperationError,
)
from .._base import unit_of_work
from ._core import ATTACHED_TO, GROUPS_BY_FACETS
from ._requests import ecs_action, id_order_page, token_page
from .locks import LockActions

__all__ = ["GroupActions"]


class GroupActions(LockActions):
    """Snapshot-consistent groups: CreateSnapshotGroup, DescribeSnapshotGroups,
    DeleteSnapshotGroup.
    """

    @ecs_action("CreateSnapshotGroup", client_token=True)
    def create_snapshot_group(
        self,
        *,
        instance_id: str | None = None,
        disk_ids: Sequence[str] | None = None,
        exclude_disk_ids: Sequence[str] | None = None,
        name: str | None = None,
        description: str | None = None,
        tags: Sequence[tuple[str, str]] = (),
        client_token: str | None = None,
    ) -> str:
        """``CreateSnapshotGroup``: snapshot several ESSD-family disks at one instant.

        Every member snapshot holds its disk's data as of the same virtual instant, so data
        spread across disks (a log and its data files) is crash-consistent as a whole.

        Args:
            instance_id: Snapshot this instance's disks (all, or those in ``disk_ids``).
            disk_ids: The disks; without ``instance_id`` they must share one zone.
            exclude_disk_ids: Disks of the instance to leave out; not with ``disk_ids``.
            name: 2–128 characters.
            description: 2–256 characters.
            tags: Up to 20 ``(key, value)`` pairs.
            client_token: Idempotency token (≤64 ASCII): a retry with the same token and
                parameters returns the first group id and takes no snapshot.

        Returns:
            The ``ssg-…`` id.
        """
        group_id, _ = self._create_group(
            instance_id=instance_id,
            disk_ids=disk_ids,
            exclude_disk_ids=exclude_disk_ids,
            name=name,
            description=description,
            tags=tags,
        )
        return group_id

    def _create_group(
        self,
        *,
        instance_id: str | None = None,
        disk_ids: Sequence[str] | None = None,
        exclude_disk_ids: Sequence[str] | None = None,
        name: str | None = None,
        description: str | None = None,
        tags: Sequence[tuple[str, str]] = (),
        member_name: str | None = None,
        member_retention_days: object = None,
        member_tags: Sequence[tuple[str, str]] = (),
        managed: bool = False,
    ) -> tuple[str, list[Snapshot]]:
        """:meth:`create_snapshot_group`'s work, in the caller's unit: the group id and its
        member snapshots as taken (so a caller need not read them back).

        Each member snapshot is taken named ``member_name``, kept ``member_retention_days``
        (checked last: ``InvalidRetentionDays.Malformed``) and tagged ``member_tags`` besides
        ``acs:ecs:createFrom`` (a later pair of a key wins): one write per member, as the
        snapshot interface asks for its groups; ``managed``: the members' retention is
        recorded but ECS sets no expiry timer for them (another service expires them).
        """
        world = self._world
        if not self.region.supports_snapshot_group:
            raise UnsupportedOperationError(
                f"Snapshot-consistent groups are not available in {self.region_id}.",
                code="InvalidRegion.NotSupport",
                http_status=403,
                recommend="Use a region that supports snapshot-consistent groups.",
            )
        include = v.id_list("DiskId", disk_ids, max_items=10**6)
        exclude = v.id_list("ExcludeDiskId", exclude_disk_ids, max_items=10**6)
        group_name = v.name_text("Name", name, code="InvalidParameter.Name")
        desc = v.optional_text(
            "Description",
            description,
            DESCRIPTION_MIN,
            DESCRIPTION_MAX,
            code="InvalidDescription.Malformed",
        )
        pairs = self._tags(tags)
        if include and exclude:
            raise DependencyViolationError(
                "DiskId and ExcludeDiskId cannot be used together.",
                code="InvalidParam.ExcludeDiskIdsAndDiskIds.Conflict",
                recommend="Pass either the disks to include or the disks to exclude.",
            )
        if instance_id is None and not include:
            raise InvalidParameterError(
                "Give an instance_id, or the disk_ids to snapshot.",
                code="MissingParamter.InstanceId",
                recommend="Pass instance_id or disk_ids.",
            )
        if instance_id is not None:
            instance = self._instances.get(instance_id)
            if include:  # the disks named, read by id (not every disk of the instance)
                disks = []
                for disk_id in include:
                    disk = self._disks.get(disk_id)  # not found beats not-attached
                    if all(a.instance_id != instance.instance_id for a in disk.attachments):
                        raise _not_attached(disk_id, instance_id)
                    disks.append(disk)
            else:
                own = {d.disk_id: d for d in self._disks.members(ATTACHED_TO, instance.instance_id)}
                for disk_id in exclude:
                    if disk_id not in own:
                        self._disks.get(disk_id)  # not found beats not-attached
                        raise _not_attached(disk_id, instance_id)
                disks = [d for d in own.values() if d.disk_id not in exclude]
            if not disks:
                raise InvalidParameterError(
                    f"Instance {instance_id} has no disk left to snapshot.",
                    code="InvalidInstance.NoDisk",
                    http_status=403,
                    ids=(instance_id,),
                    recommend="Exclude fewer disks.",
                )
        else:
            disks = [self._disks.get(d) for d in include]
            zones = {d.zone_id for d in disks}
            if len(zones) > 1:
                raise DependencyViolationError(
                    f"The disks are in several zones ({', '.join(sorted(zones))}).",
                    code="InvalidDiskIds.NotInSameZone",
                    ids=tuple(include),
                    recommend="Group disks of one zone only.",
                )
        regional = {d.category is DiskCategory.cloud_regional_disk_auto for d in disks}
        for disk in disks:
            if not CATEGORY_SPECS[disk.category].consistent_group:
                raise UnsupportedOperationError(
                    f"Disk {disk.disk_id} is {disk.category.value}; snapshot-consistent groups "
                    "take ESSD, ESSD AutoPL, ESSD Entry and regional ESSD disks only.",
                    code="DiskCategory.OperationNotSupported",
                    ids=(disk.disk_id,),
                    recommend="Exclude the disk (exclude_disk_ids) or snapshot it on its own.",
                )
            if disk.multi_attach == "Enabled":
                raise UnsupportedOperationError(
                    f"Disk {disk.disk_id} has multi-attach enabled.",
                    code="InvalidOperation.MultiAttachDisk",
                    http_status=403,
                    ids=(disk.disk_id,),
                    recommend="Exclude multi-attach disks from the group.",
                )
        if len(regional) > 1:
            raise DependencyViolationError(
                "Regional ESSD disks cannot be grouped with zonal disks.",
                code="InvalidDisk.DiskCategoryInconsistent",
                http_status=403,
                ids=tuple(d.disk_id for d in disks),
                recommend="Group regional disks only with regional disks.",
            )
        if len(disks) > world.limits.snapshot_group_max_disks:
            raise QuotaExceededError(
                f"{len(disks)} disks exceed the group limit of "
                f"{world.limits.snapshot_group_max_disks}.",
                code="NumberExceed.TooManyDisks",
                recommend="Split the disks into several groups.",
            )
        total = sum(d.size for d in disks)
        if total > world.limits.snapshot_group_max_tib * 1024:
            raise QuotaExceededError(
                f"{total} GiB exceed the group limit of {world.limits.snapshot_group_max_tib} TiB.",
                code="CapacityExceed.TooManyDisks",
                recommend="Split the disks into several groups.",
            )
        # Each disk's chain as its check reads it, handed to its snapshot: the disks are
        # distinct (duplicates are refused), so taking one member changes no other's chain.
        instances = {} if instance_id is None else {instance.instance_id: instance}
        links = [self._check_snapshot_allowed(disk, instances) for disk in disks]
        days = None
        if member_retention_days is not None:
            days = v.integer(
                "RetentionDays", member_retention_days, RETENTION_DAYS_MIN, RETENTION_DAYS_MAX,
                code="InvalidRetentionDays.Malformed",
            )  # fmt: skip
        group_id = world.ids.new_id("ssg-", self.region.id_infix)
        owners = {d.instance_id for d in disks}
        members = []
        for disk, link in zip(disks, links, strict=True):
            pairs_of = dict((("acs:ecs:createFrom", disk.instance_id),) if disk.instance_id else ())
            pairs_of.update(member_tags)
            # ``disk`` as read in this unit: only its own snapshot writes it (a first chain).
            taken = self._take_snapshot(
                disk, member_name, None, days, tuple(pairs_of.items()), group_id, link,
                managed=managed,
            )  # fmt: skip
            members.append(taken)
        status = (
            SnapshotGroupStatus.accomplished
            if all(s.status is SnapshotStatus.accomplished for s in members)
            else SnapshotGroupStatus.progressing
        )
        group = SnapshotGroup(
            snapshot_group_id=group_id,
            region_id=self.region_id,
            name=group_name,
            description=desc,
            status=status,
            creation_time=world.now(),
            snapshot_ids=tuple(s.snapshot_id for s in members),
            instance_id=next(iter(owners)) if len(owners) == 1 else None,
            tags=pairs,
        )
        self._groups.put(group)
        world.events._emit(
            SnapshotGroupCreated,
            time=world.now(),
            region_id=self.region_id,
            snapshot_group_id=group_id,
            snapshot_ids=group.snapshot_ids,
        )
        return group_id, members

    def describe_snapshot_groups(
        self,
        *,
        snapshot_group_ids: Sequence[str] | None = None,
        instance_id: str | None = None,
        name: str | None = None,
        status: Sequence[str] | None = None,
        max_results: int = 10,
        next_token: str | None = None,
    ) -> Page[SnapshotGroup]:
        """``DescribeSnapshotGroups``: groups matching the filters, token-paged (1–100) in
        id order, each with its member snapshots and their progress at this instant
        (:attr:`SnapshotGroup.snapshots`)."""
        ids = v.id_list("SnapshotGroupId", snapshot_group_ids, max_items=10)
        v.optional_text("InstanceId", instance_id, 1, 256)
        v.optional_text("Name", name, 1, 256)
        if status is not None and (
            isinstance(status, (str, bytes)) or not isinstance(status, (list, tuple))
        ):
            raise InvalidParameterError(
                f"Status {status!r} must be a list of group statuses.",
                code="InvalidParameter.Status",
                recommend="Pass e.g. status=['accomplished'].",
            )
        states = [v.enum_value("Status", s, SnapshotGroupStatus) for s in status or ()]
        now = self._world.now()
        where = {"Status": [s.value for s in states]} if states else {}
        with self._world.store.reading():
            if not ids and instance_id is None and name is None:
                # The region, or the partitions of the statuses named: a slice of each from
                # the token's position.
                page = id_order_page(
                    self._groups,
                    scope="DescribeSnapshotGroups",
                    next_token=next_token,
                    max_results=max_results,
                    page_number=1,
                    page_size=10,
                    index=GROUPS_BY_FACETS,
                    where=where,
                )
            else:
                candidates = (
                    self._groups.named_or_all(ids)
                    if ids
                    else self._groups.ordered(  # every group of the statuses named
                        GROUPS_BY_FACETS,
                        where=where,
                        descending=False,
                        limit=self._groups.count(GROUPS_BY_FACETS, where=where),
                    )
                )
                found = [
                    g
                    for g in candidates
                    if (instance_id is None or g.instance_id == instance_id)
                    and (name is None or g.name == name)
                    and (not states or g.status in states)
                ]
                page = token_page(
                    found,
                    lambda g: (g.snapshot_group_id,),
                    scope="DescribeSnapshotGroups",
                    next_token=next_token,
                    max_results=max_results,
                    page_number=1,
                    page_size=10,
                )
            # Only the page's members are read: the cost is the page, not the region.
            described = tuple(
                attrs.evolve(
                    group,
                    snapshots=tuple(
                        SnapshotGroupMember.of(member, now)
                        for member in (self._snapshots.find(i) for i in group.snapshot_ids)
                        if member is not None
                    ),
                )
                for group in page.items
            )
        return attrs.evolve(page, items=described)

    @unit_of_work
    def delete_snapshot_group(self, snapshot_group_id: str) -> None:
        """``DeleteSnapshotGroup``: delete a group and its member snapshots.

        Members used to create a custom image are kept (delete the image, then the snapshot);
        a member used by a disk refuses the whole call (``SnapshotCreatedDisk``), as does a
        locked member. Nothing is deleted when the call is refused.
        """
        group = self._groups.get(snapshot_group_id)
        members = [self._snapshots.find(s) for s in group.snapshot_ids]
        doomed = []
        for snapshot in members:
            if snapshot is None or snapshot.image_refs:
                continue
            snapshot.require_deletable(self._world.now(), force=False)
            doomed.append(snapshot)
        for snapshot in members:
            if snapshot is not None and snapshot.image_refs:
                self._snapshots.put(attrs.evolve(snapshot, snapshot_group_id=None))
        self._groups.put(attrs.evolve(group, snapshot_ids=tuple(s.snapshot_id for s in doomed)))
        for snapshot in doomed:
            fresh = self._snapshots.find(snapshot.snapshot_id)
            assert fresh is not None
            self._remove_snapshot(fresh, reason="group_deleted")
        remaining = self._groups.find(group.snapshot_group_id)
        if remaining is not None:
            self._drop_group(remaining)


def _not_attached(disk_id: str, instance_id: str) -> DependencyViolationError:
    return DependencyViolationError(
        f"Disk {disk_id} is not attached to instance {instance_id}.",
        code="InvalidParameter.DiskId",
        ids=(disk_id, instance_id),
        recommend="With instance_id, name only that instance's disks.",
    )
