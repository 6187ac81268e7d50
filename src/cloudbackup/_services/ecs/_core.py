"""ECS, what every part of ECS shares: repositories, the key ring, lookups and checks.

Part of the layered :class:`~cloudbackup.EcsService`: this layer may use every layer beneath
it (see ``_services/ecs/__init__.py``), never one above.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable
from typing import Protocol, TypeVar

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ... import _validate as v
from ..._blocks import BlockMaps
from ..._domain.ecs import (
    Disk,
    DiskCategory,
    Image,
    Instance,
    Snapshot,
    SnapshotGroup,
    SnapshotLink,
)
from ..._domain.tags import MAX_TAGS_PER_RESOURCE
from ..._regions import Region
from ..._repository import Index, OrderedIndex, Repository, RepositorySpec
from ..._time import LATEST
from ..._world import World
from ...errors import IncorrectStatusError, InvalidParameterError, UnsupportedOperationError
from .._base import RegionalService
from .._interfaces import KEY_RING, KeyRing

__all__ = [
    "ACTION_INSTANCE_TRANSITION",
    "ACTION_SNAPSHOT_COMPLETE",
    "ACTION_SNAPSHOT_EXPIRE",
    "ATTACHED_TO",
    "DISK_TAGS",
    "IMAGE_TAGS",
    "INSTANCE_DISKS",
    "INSTANCE_RAM_ROLES",
    "INSTANCE_TAGS",
    "LINKS_OF_DISK",
    "DISKS_BY_FACETS",
    "GROUPS_BY_FACETS",
    "INSTANCES_BY_FACETS",
    "LINKS_BY_FACETS",
    "LINKS_OF_INSTANCE",
    "SNAPSHOTS_BY_FACETS",
    "SNAPSHOTS_BY_TIME",
    "SNAPSHOT_TAGS",
    "TAG_INDEX_KINDS",
    "EcsCore",
    "tag_partition",
]

INSTANCE_DISKS = "ecs.instance_disks"
"""partition = instance id: the disks attached to it (an index of ``Disk.attachments``)."""
ATTACHED_TO: Index[Disk] = Index(INSTANCE_DISKS, lambda d: (a.instance_id for a in d.attachments))
"""The index of which disks each instance has, kept by the disk repository."""


class _Tagged(Protocol):
    @property
    def region_id(self) -> str: ...
    @property
    def tags(self) -> tuple[tuple[str, str], ...]: ...


_T = TypeVar("_T", bound=_Tagged)


def tag_partition(region_id: str, key: str, value: str) -> str:
    """The partition of a tag index that lists a region's resources tagged ``key=value``
    (JSON, so no key or value can be confused with another, and ASCII, so always storable).

    Plain printable ASCII strings (every id, most tags) are joined here, as ``json.dumps``
    would write them (it takes a tenth of the time a snapshot's tag index spent on JSON);
    anything else goes through ``json.dumps``."""
    if (
        type(region_id) is str
        and type(key) is str
        and type(value) is str
        and _plain(region_id)
        and _plain(key)
        and _plain(value)
    ):
        return f'["{region_id}", "{key}", "{value}"]'
    return json.dumps([region_id, key, value])


def _plain(text: str) -> bool:
    """Whether JSON writes ``text`` between its quotes as it is (printable ASCII, no quote
    nor backslash)."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def _tag_index(kind: str) -> Index[_T]:
    def partitions(record: _T) -> Iterable[str]:
        return (tag_partition(record.region_id, k, value) for k, value in record.tags)

    return Index(kind, partitions)


INSTANCE_TAGS: Index[Instance] = _tag_index("ecs.instance_tags")
"""The instances of each ``(region, tag key, tag value)``, kept by the instance repository."""
DISK_TAGS: Index[Disk] = _tag_index("ecs.disk_tags")
"""The disks of each ``(region, tag key, tag value)``."""
SNAPSHOT_TAGS: Index[Snapshot] = _tag_index("ecs.snapshot_tags")
"""The snapshots of each ``(region, tag key, tag value)``."""
IMAGE_TAGS: Index[Image] = _tag_index("ecs.image_tags")
"""The images of each ``(region, tag key, tag value)``."""
TAG_INDEX_KINDS = (INSTANCE_TAGS.kind, DISK_TAGS.kind, SNAPSHOT_TAGS.kind, IMAGE_TAGS.kind)
"""The raw kinds of the tag indexes."""

ACTION_INSTANCE_TRANSITION = "ecs.instance_transition"
"""Timer: an instance reaches the status its transition aims at."""
ACTION_SNAPSHOT_COMPLETE = "ecs.snapshot_complete"
"""Timer: a progressing snapshot finishes uploading."""
ACTION_SNAPSHOT_EXPIRE = "ecs.snapshot_expire"
"""Timer: a snapshot's retention runs out."""


def _flag(value: bool) -> str:
    return "true" if value else "false"


# One repository per aggregate; the disk repository keeps the instance -> disks index.
INSTANCE_RAM_ROLES: Index[Instance] = Index(
    "ecs.instance_ram_roles",
    lambda i: () if i.ram_role_name is None else (json.dumps([i.region_id, i.ram_role_name]),),
)
"""The instances each ``(region, RAM role name)`` is attached to (``DescribeInstanceRamRole``
by role name reads only those). No instance had a role before the index existed, so stored
worlds need no migration for it."""
INSTANCES_BY_FACETS: OrderedIndex[Instance] = OrderedIndex(
    "ecs.instances_by_facets",
    None,
    ("Status", "ZoneId"),
    lambda i: (i.status.value, i.zone_id),
)
"""A region's instances in id order, partitioned by status and zone: a ``DescribeInstances``
page filtered by them reads the page."""
INSTANCES = RepositorySpec(
    Instance,
    lambda i: i.instance_id,
    "InvalidInstanceId.NotFound",
    "instance",
    (INSTANCE_TAGS, INSTANCE_RAM_ROLES),
    (INSTANCES_BY_FACETS,),
)
DISKS_BY_FACETS: OrderedIndex[Disk] = OrderedIndex(
    "ecs.disks_by_facets",
    None,
    ("Status", "Category", "ZoneId", "DiskType", "Encrypted"),
    lambda d: (d.status.value, d.category.value, d.zone_id, d.type.value, _flag(d.encrypted)),
)
"""A region's disks in id order, partitioned by status, category, zone, type and encryption:
a ``DescribeDisks`` page filtered by any of them reads the page."""
DISKS = RepositorySpec(
    Disk,
    lambda d: d.disk_id,
    "InvalidDiskId.NotFound",
    "disk",
    (ATTACHED_TO, DISK_TAGS),
    (DISKS_BY_FACETS,),
)
SNAPSHOTS_BY_TIME: OrderedIndex[Snapshot] = OrderedIndex(
    "ecs.snapshots_by_time",
    lambda s: s.creation_time.isoformat(timespec="microseconds"),
    counted=False,
)
"""A region's snapshots by ``(creation time, id)``: ``DescribeSnapshots`` pages newest first.
Uncounted: it lists every snapshot, as :data:`SNAPSHOTS_BY_FACETS` does, whose counts add up
to the region's."""
SNAPSHOTS_BY_FACETS: OrderedIndex[Snapshot] = OrderedIndex(
    "ecs.snapshots_by_facets",
    lambda s: s.creation_time.isoformat(timespec="microseconds"),
    ("Status", "SnapshotType", "SourceDiskType", "Encrypted"),
    lambda s: (s.status.value, s.snapshot_type, s.source_disk_type.value, _flag(s.encrypted)),
)
"""A region's snapshots by ``(creation time, id)``, partitioned by status, type, source disk
type and encryption: a ``DescribeSnapshots`` page filtered by any of them reads the page."""
SNAPSHOTS = RepositorySpec(
    Snapshot,
    lambda s: s.snapshot_id,
    "InvalidSnapshotId.NotFound",
    "snapshot",
    (SNAPSHOT_TAGS,),
    (SNAPSHOTS_BY_TIME, SNAPSHOTS_BY_FACETS),
)
LINKS_OF_INSTANCE: Index[SnapshotLink] = Index(
    "ecs.instance_links", lambda link: () if link.instance_id is None else (link.instance_id,)
)
"""The snapshot chains of each instance, kept by the chain repository."""
LINKS_OF_DISK: Index[SnapshotLink] = Index("ecs.disk_links", lambda link: (link.source_disk_id,))
"""The snapshot chains of each source disk, which may outlive the disk."""
LINKS_BY_FACETS: OrderedIndex[SnapshotLink] = OrderedIndex(
    "ecs.snapshot_links_by_facets",
    None,
    ("HasSnapshots",),
    lambda link: (_flag(bool(link.snapshot_ids)),),
)
"""A region's snapshot chains in id order, partitioned by whether they hold a snapshot: a
region-wide ``DescribeSnapshotLinks`` page (chains with snapshots only) reads the page."""
LINKS = RepositorySpec(
    SnapshotLink,
    lambda link: link.snapshot_link_id,
    "InvalidSnapshotLinkId.NotFound",
    "snapshot chain",
    (LINKS_OF_INSTANCE, LINKS_OF_DISK),
    (LINKS_BY_FACETS,),
)
GROUPS_BY_FACETS: OrderedIndex[SnapshotGroup] = OrderedIndex(
    "ecs.snapshot_groups_by_facets", None, ("Status",), lambda g: (g.status.value,)
)
"""A region's snapshot-consistent groups in id order, partitioned by status: a
``DescribeSnapshotGroups`` page, by status or not, reads the page."""
GROUPS = RepositorySpec(
    SnapshotGroup,
    lambda g: g.snapshot_group_id,
    "InvalidSnapshotGroup.NotFound",
    "snapshot-consistent group",
    (),
    (GROUPS_BY_FACETS,),
)
IMAGES = RepositorySpec(
    Image, lambda i: i.image_id, "InvalidImageId.NotFound", "image", (IMAGE_TAGS,)
)


class EcsCore(RegionalService):
    """What every part of ECS shares: repositories, the key ring, lookups and checks."""

    def __init__(self, world: World, region: Region) -> None:
        super().__init__(world, region)
        self._maps = BlockMaps(world.store, world.blocks)
        store, region_id = world.store, region.region_id
        self._instances = INSTANCES.open(store, region_id)
        self._disks = DISKS.open(store, region_id)
        self._snapshots = SNAPSHOTS.open(store, region_id)
        self._links = LINKS.open(store, region_id)
        self._groups = GROUPS.open(store, region_id)
        self._images = IMAGES.open(store, region_id)

    @property
    def _key_ring(self) -> KeyRing:
        """The region's key ring (offered by KMS): the only way ECS reaches KMS."""
        return self._world.provider(KEY_RING, self.region)

    def _category(self, value: object) -> DiskCategory:
        return v.enum_value(
            "DiskCategory", value, DiskCategory, code="InvalidDiskCategory.ValueNotSupported"
        )

    def _due(self, delay: _dt.timedelta, what: str, resource_id: str) -> _dt.datetime:
        """The instant ``delay`` from now at which ``what`` will finish; refused
        (``OperationDenied.EndOfTime``) if it would fall after :data:`cloudbackup.LATEST`,
        where virtual time ends and nothing could ever finish it."""
        now = self._world.now()
        if delay > LATEST - now:
            raise UnsupportedOperationError(
                f"{what} would finish {delay} from now, after virtual time ends at "
                f"{LATEST.isoformat()}.",
                code="OperationDenied.EndOfTime",
                ids=(resource_id,),
                recommend="Nothing can start that finishes after the end of virtual time; "
                "use a world whose clock is further from cloudbackup.LATEST.",
            )
        return now + delay

    def _require_available_snapshot(self, snapshot: Snapshot) -> None:
        if not snapshot.available:
            raise IncorrectStatusError(
                f"Snapshot {snapshot.snapshot_id} is {snapshot.status.value} and not yet usable.",
                code="InvalidSnapshotId.NotReady",
                ids=(snapshot.snapshot_id,),
                recommend="Wait for it to be accomplished (advance virtual time).",
            )

    def _chain_ids(self, disk: Disk) -> tuple[str, ...]:
        """The ids of a disk's snapshots, oldest first (its chain)."""
        if disk.snapshot_link_id is None:
            return ()
        link = self._links.find(disk.snapshot_link_id)
        assert link is not None
        return link.snapshot_ids

    def _disk_snapshots(self, disk_id: str) -> list[Snapshot]:
        # Every snapshot of a disk is in the disk's one chain: read the chain, not the region.
        disk = self._disks.find(disk_id)
        if disk is None or disk.snapshot_link_id is None:
            return []
        link = self._links.find(disk.snapshot_link_id)
        assert link is not None
        found = [self._snapshots.find(s) for s in link.snapshot_ids]
        return [s for s in found if s is not None]

    def _tags(self, tags: object) -> tuple[tuple[str, str], ...]:
        if isinstance(tags, (str, bytes)) or not isinstance(tags, (list, tuple)):
            raise InvalidParameterError(
                "Tag must be a list of (key, value) pairs.",
                code="InvalidParameter.Tag",
                recommend="Pass [('env', 'prod'), ...].",
            )
        if len(tags) > 20:
            raise InvalidParameterError(
                "At most 20 tags are allowed.",
                code="InvalidTagCount",
                recommend="Use 20 tags or fewer.",
            )
        pairs: list[tuple[str, str]] = []
        for item in tags:
            if (
                not isinstance(item, tuple)
                or len(item) != 2
                or not isinstance(item[0], str)
                or not 1 <= len(item[0]) <= 128
                or not v.is_utf8(item[0])
                or item[0].startswith(("aliyun", "acs:"))
            ):
                raise InvalidParameterError(
                    f"Tag {item!r} is not valid.",
                    code="InvalidTagKey.Malformed",
                    recommend="Tag keys are 1–128 characters and may not start with 'aliyun' "
                    "or 'acs:'; values at most 128 characters.",
                )
            if not isinstance(item[1], str) or len(item[1]) > 128 or not v.is_utf8(item[1]):
                raise InvalidParameterError(
                    f"The value of tag {item[0]!r} is not valid.",
                    code="InvalidTagValue.Malformed",
                    recommend="Tag values are strings of at most 128 characters.",
                )
            key, value = v.exact_str(item[0]), v.exact_str(item[1])
            if any(k == key for k, _ in pairs):
                raise InvalidParameterError(
                    f"Tag key {key!r} is given twice.",
                    code="Duplicate.TagKey",
                    recommend="Give each tag key once.",
                )
            pairs.append((key, value))
        return tuple(pairs)

    def _tag_filter(self, tags: object) -> tuple[tuple[str, str], ...]:
        """A ``Tag.N`` filter of a describe call: at most 20 ``(key, value)`` pairs; unlike the
        tags a user sets, a filter may name the service's own ``acs:`` tags."""
        if tags is None:
            return ()
        if isinstance(tags, (str, bytes)) or not isinstance(tags, (list, tuple)):
            raise InvalidParameterError(
                "The Tag filter must be a list of (key, value) pairs.",
                code="InvalidParameter.Tag",
                recommend="Pass tags=[('env', 'prod'), ...].",
            )
        if len(tags) > MAX_TAGS_PER_RESOURCE:
            raise InvalidParameterError(
                f"A Tag filter has at most {MAX_TAGS_PER_RESOURCE} pairs, not {len(tags)}.",
                code="InvalidTagCount",
                recommend=f"Filter on {MAX_TAGS_PER_RESOURCE} tags or fewer.",
            )
        pairs: list[tuple[str, str]] = []
        for item in tags:
            if (
                not isinstance(item, tuple)
                or len(item) != 2
                or not isinstance(item[0], str)
                or not isinstance(item[1], str)
                or not 1 <= len(item[0]) <= 128
                or len(item[1]) > 128
            ):
                raise InvalidParameterError(
                    f"The Tag filter {item!r} is not a (key, value) pair.",
                    code="InvalidTagKey.Malformed",
                    recommend="Tag keys are 1–128 characters, values at most 128.",
                )
            pairs.append((str.__str__(item[0]), str.__str__(item[1])))
        return tuple(pairs)

    def _tagged(
        self, repository: Repository[_T], index: Index[_T], pairs: tuple[tuple[str, str], ...]
    ) -> list[_T]:
        """The records that carry every pair (read through the index of the first pair, so the
        cost is the resources with that tag, not the region)."""
        key, value = pairs[0]
        found = repository.members(index, tag_partition(self.region_id, key, value))
        return [r for r in found if all(pair in r.tags for pair in pairs[1:])]

    def _data_cipher(self, disk: Disk | Snapshot) -> AESGCM | None:
        key = disk.data_key
        if key is None:
            return None
        plaintext = self._key_ring.unwrap_data_key(key.kms_key_id, key.ciphertext_blob)
        return AESGCM(plaintext)
