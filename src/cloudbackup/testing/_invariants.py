"""Whole-world checks: the invariants every reachable state keeps, and exact state snapshots.

Both functions read the world only through the :class:`~cloudbackup.StorageBackend` protocol,
so they work on any backend. The protocol cannot list the kinds it holds, so :data:`KINDS`
names every kind the library stores, read from the type registry and the declared raw kinds.
"""

from __future__ import annotations

import collections
import datetime as _dt
import hashlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import attrs

from .._blocks import (
    DISK_DIRTY,
    DISK_EXTENTS,
    SNAPSHOT_DELTA_HOME,
    SNAPSHOT_EXTENTS,
    SNAPSHOT_ZERO_BLOCKS,
)
from .._domain.ecs import (
    CATEGORY_SPECS,
    SYSTEM_DEVICE,
    Disk,
    DiskStatus,
    DiskType,
    Image,
    Instance,
    InstanceStatus,
    Snapshot,
    SnapshotGroup,
    SnapshotGroupStatus,
    SnapshotLink,
    SnapshotStatus,
)
from .._domain.kms import Alias, KeyState, KmsKey
from .._engine import TIMER_INDEX, FailedTimer, Timer
from .._events import Event, SnapshotCreated, restored_event
from .._extents import (
    PAGE_SIZE,
    block_cover,
    extent_digest,
    extent_length,
    parse_extent,
    size,
    subtract,
    union,
)
from .._regions import REGIONS
from .._repository import ORDER_COUNTS, ORDER_SEPARATOR, RepositorySpec
from .._services.ecs import INSTANCE_DISKS
from .._services.ecs._core import (
    ACTION_INSTANCE_TRANSITION,
    ACTION_SNAPSHOT_COMPLETE,
    ACTION_SNAPSHOT_EXPIRE,
    DISK_TAGS,
    DISKS,
    GROUPS,
    IMAGE_TAGS,
    INSTANCE_TAGS,
    INSTANCES,
    LINKS,
    LINKS_OF_DISK,
    LINKS_OF_INSTANCE,
    SNAPSHOT_TAGS,
    SNAPSHOTS,
    tag_partition,
)
from .._services.kms import ACTION_DELETE_KEY, ECS_SERVICE_ALIAS, KEY_ALIASES
from .._store import _BLOCKS, _META, raw_kinds
from .._time import ManualClock
from .._typenames import TYPES
from ._hbr_invariants import check_hbr, natives_of_running_jobs, natives_released_by_points

if TYPE_CHECKING:
    from .._cloud import Cloud

__all__ = ["KINDS", "WorldState", "check_invariants", "world_state"]


def _stored_kinds() -> tuple[str, ...]:
    """Every record kind: each registered class's ``KIND`` and every declared raw kind."""
    kinds = {getattr(cls, "KIND", None) for cls in TYPES.names().values()}
    return tuple(sorted({kind for kind in kinds if isinstance(kind, str)} | raw_kinds()))


#: Every record kind the library stores, entity records and raw maps alike: read from the
#: type registry (each stored class's ``KIND``) and the raw kinds the code declares with
#: ``raw_kind``, never kept by hand.
KINDS: tuple[str, ...] = _stored_kinds()

_TRANSITIONAL = (InstanceStatus.Pending, InstanceStatus.Starting, InstanceStatus.Stopping)


@attrs.frozen
class WorldState:
    """Everything a world holds at one moment, comparable with ``==`` and hashable."""

    now: _dt.datetime
    """Where the clock stands."""
    records: tuple[tuple[str, str, str, Any], ...]
    """Every ``(kind, partition, key, value)`` of every kind in :data:`KINDS`, sorted."""
    blobs: tuple[tuple[bytes, bytes], ...]
    """Every referenced block's ``(digest, contents)``, sorted."""
    blob_stats: tuple[int, int]
    """What the backend reports: ``(blobs, bytes)``."""

    def difference(self, other: WorldState, limit: int = 10) -> str:
        """A short description of how ``other`` differs from this state (for messages)."""
        lines = []
        if self.now != other.now:
            lines.append(f"clock {self.now.isoformat()} -> {other.now.isoformat()}")
        mine = {r[:3]: r[3] for r in self.records}
        theirs = {r[:3]: r[3] for r in other.records}
        for address in sorted(set(mine) | set(theirs)):
            if mine.get(address) != theirs.get(address):
                lines.append(f"{address}: {mine.get(address)!r} -> {theirs.get(address)!r}")
        if self.blobs != other.blobs:
            lines.append(f"blobs: {len(self.blobs)} -> {len(other.blobs)}")
        if self.blob_stats != other.blob_stats:
            lines.append(f"blob_stats: {self.blob_stats} -> {other.blob_stats}")
        if len(lines) > limit:
            lines = [*lines[:limit], f"... and {len(lines) - limit} more"]
        return "\n".join(lines) or "no difference"


def _iter_kind(cloud: Cloud, kind: str) -> Iterator[tuple[str, str, object]]:
    backend = cloud.backend
    for partition in list(backend.partitions(kind)):
        for key, value in list(backend.scan(kind, partition)):
            yield partition, key, value


def world_state(cloud: Cloud) -> WorldState:
    """A deep, comparable snapshot of everything ``cloud``'s backend holds, and its clock.

    Two calls give equal results exactly when nothing changed in between, which is how tests
    prove that a rejected call left no trace::

        before = world_state(cloud)
        with pytest.raises(errors.CloudBackupError):
            ecs.delete_disk("d-in-use")
        assert before == world_state(cloud)
    """
    records = []
    digests = []
    for kind in KINDS:
        for partition, key, value in _iter_kind(cloud, kind):
            records.append((kind, partition, key, value))
            if kind == _BLOCKS:
                digests.append(bytes.fromhex(key))
    backend = cloud.backend
    blobs = []
    for digest in sorted(digests):
        data = backend.get_blob(digest)
        blobs.append((digest, b"" if data is None else bytes(data)))
    return WorldState(
        now=cloud.now(),
        records=tuple(records),
        blobs=tuple(blobs),
        blob_stats=tuple(backend.blob_stats()),  # type: ignore[arg-type]
    )


class _World:
    """Every record of a world, read once and indexed for the checks."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.now = cloud.now()
        self.problems: list[str] = []
        self.raw: dict[str, list[tuple[str, str, object]]] = {
            kind: list(_iter_kind(cloud, kind)) for kind in KINDS
        }
        self.instances: dict[str, Instance] = self._entities(Instance, "instance_id")
        self.disks: dict[str, Disk] = self._entities(Disk, "disk_id")
        self.snapshots: dict[str, Snapshot] = self._entities(Snapshot, "snapshot_id")
        self.links: dict[str, SnapshotLink] = self._entities(SnapshotLink, "snapshot_link_id")
        self.groups: dict[str, SnapshotGroup] = self._entities(SnapshotGroup, "snapshot_group_id")
        self.images: dict[str, Image] = self._entities(Image, "image_id")
        self.keys: dict[str, KmsKey] = self._entities(KmsKey, "key_id")
        self.aliases: dict[tuple[str, str], Alias] = {
            (a.region_id, a.alias_name): a
            for _, _, a in self.raw[Alias.KIND]
            if isinstance(a, Alias)
        }
        self.timers: list[Timer] = [t for _, _, t in self.raw[Timer.KIND] if isinstance(t, Timer)]
        # The stored log keeps events as flat tuples (or whole): read them back as events;
        # a value that holds none is reported by _check_events_and_timers.
        self.events: list[tuple[str, Event]] = [
            (key, e) for _, key, v in self.raw[Event.KIND] if (e := restored_event(v)) is not None
        ]

    def _entities(self, cls: type[Any], id_field: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for partition, key, value in self.raw[cls.KIND]:
            if not isinstance(value, cls):
                self.fail(f"{cls.KIND} record {partition}/{key} is a {type(value).__name__}")
                continue
            if getattr(value, id_field) != key or value.region_id != partition:
                self.fail(f"{cls.KIND} {key} is stored under {partition}/{key}")
            found[key] = value
        return found

    def fail(self, message: str) -> None:
        self.problems.append(message)

    def timers_for(self, action: str, target: str) -> list[Timer]:
        return [t for t in self.timers if t.action == action and t.target_id == target]


def check_invariants(cloud: Cloud) -> None:
    """Assert every invariant of the whole world; raise :class:`AssertionError` listing all
    that are broken.

    Checked: block reference counts equal the references held by every disk's block map and
    every snapshot's delta, each referenced block is stored (with the right digest) and nothing
    else is; chains list their snapshots in creation order and their sizes add up; attachments,
    device names, per-instance disk limits and disk statuses agree; at most one snapshot per
    disk progresses and it has a completion timer; snapshot usage counts equal the disks and
    images that use them; retention has released every expired snapshot nothing holds, and a
    snapshot with retention has an expiry timer unless Cloud Backup manages it (a native of a
    live backup point, released by the point's timer, or of a running job);
    snapshot-consistent groups and their members point at each other; KMS keys pending deletion
    have a deletion date and a timer; the key -> aliases index lists exactly the aliases, every
    ordered index (snapshots by time; snapshots, disks, instances, chains and groups by facets)
    each record once, in the partition of its facet values at its sort key, and every count in
    ``index.counts`` exactly its partition's size; the chain indexes each instance's and source
    disk's chains;
    the event log is numbered on from its first kept event in time order, within the
    retention; a failed
    timer is stored under its own key, was due, is no longer pending and says what it raised.
    Cloud Backup: each policy's binding count is its bindings, a binding's policy exists in its
    region, an instance has at most one binding, the binding indexes (by instance, by policy,
    their counts) and the TAG-rule index list exactly what the records say, a binding is made
    by a tag exactly when it shows hit tags, rule ids are unique, and any binding means the
    service is open with its role and the snapshot service.
    """
    world = _World(cloud)
    _check_blocks(world)
    _check_chains(world)
    _check_instances_and_disks(world)
    _check_tag_indexes(world)
    _check_snapshot_order(world)
    _check_snapshots(world)
    _check_groups_and_images(world)
    _check_kms(world)
    _check_events_and_timers(world)
    check_hbr(world)
    if world.problems:
        shown = world.problems[:20]
        more = len(world.problems) - len(shown)
        raise AssertionError(
            "World invariants broken:\n- "
            + "\n- ".join(shown)
            + (f"\n- ... and {more} more" if more else "")
        )


def _block_size(world: _World) -> int:
    settings = world.cloud.backend.get(_META, "", "world")
    return int(dict(settings)["block_size"])  # type: ignore[call-overload]


def _extent_maps(
    world: _World, kind: str, owners: dict[str, Any], what: str
) -> dict[str, list[tuple[int, object]]]:
    """Every map of ``kind``, per partition, in page order; bad entries are reported."""
    maps: dict[str, list[tuple[int, object]]] = collections.defaultdict(list)
    for partition, key, value in world.raw[kind]:
        if partition not in owners:
            world.fail(f"{what} of {partition}, which does not exist")
        try:
            start = int(key, 16)
            if kind in (DISK_DIRTY, SNAPSHOT_ZERO_BLOCKS):
                if type(value) is not int or value < 1:
                    raise ValueError(value)
            else:
                parse_extent(value, kind, partition, key)
        except Exception:  # anything damaged is one problem to report, not a crash
            world.fail(f"{what} of {partition} at {key} holds {value!r:.60}")
            continue
        maps[partition].append((start, value))
    for partition, entries in maps.items():
        end = 0
        for start, value in entries:
            if start < end:
                world.fail(f"{what} of {partition}: extent at {start:#x} overlaps the one before")
            length = value if type(value) is int else extent_length(value)
            end = start + length
    return maps


def _resolve_delta_homes(world: _World) -> None:
    """Name each stored delta by the snapshot it belongs to (a delta may live in the partition
    of an older, deleted snapshot: see ``SNAPSHOT_DELTA_HOME``), so the checks below compare
    deltas with snapshots."""
    owner_of: dict[str, str] = {}
    for _, snapshot_id, home in world.raw[SNAPSHOT_DELTA_HOME]:
        if snapshot_id not in world.snapshots:
            world.fail(f"delta home of {snapshot_id}, which does not exist")
        if type(home) is not str or not home or home == snapshot_id:
            world.fail(f"delta home of {snapshot_id} is {home!r:.60}")
            continue
        if home in world.snapshots:
            world.fail(f"the delta of {snapshot_id} lives in live snapshot {home}'s partition")
        if home in owner_of:
            world.fail(f"{snapshot_id} and {owner_of[home]} share the delta partition {home}")
        owner_of[home] = snapshot_id
    moved_out = set(owner_of.values())
    for kind in (SNAPSHOT_EXTENTS, SNAPSHOT_ZERO_BLOCKS):
        entries = []
        for partition, key, value in world.raw[kind]:
            if partition in moved_out:
                world.fail(f"{partition} has a delta home, yet data in its own partition")
            entries.append((owner_of.get(partition, partition), key, value))
        world.raw[kind] = entries


def _check_blocks(world: _World) -> None:
    backend = world.cloud.backend
    _resolve_delta_homes(world)
    held: collections.Counter[bytes] = collections.Counter()
    disk_maps = _extent_maps(world, DISK_EXTENTS, world.disks, "disk extents")
    for disk_id, entries in disk_maps.items():
        disk = world.disks.get(disk_id)
        for start, value in entries:
            if type(value) is tuple and value[0] == "z":
                world.fail(f"disk {disk_id} holds a zero extent at page {start:#x}")
            if disk is not None and (start + extent_length(value)) * PAGE_SIZE > disk.size_bytes:
                world.fail(f"disk {disk_id} holds page {start:#x}.. beyond its {disk.size} GiB")
            head = value[0] if isinstance(value, tuple) else None
            if disk is not None and head in ("g", "G") and (head == "G") != bool(disk.data_key):
                world.fail(f"disk {disk_id}: generated extent at {start:#x} is {head!r}")
            digest = extent_digest(value)
            if digest is not None:
                held[digest] += 1
    dirty = _extent_maps(world, DISK_DIRTY, world.disks, "dirty map")
    for disk_id, runs in dirty.items():
        disk = world.disks.get(disk_id)
        for start, count in runs:
            end = start + count if isinstance(count, int) else start
            if disk is not None and end * PAGE_SIZE > disk.size_bytes:
                world.fail(f"dirty run of {disk_id} at {start:#x} beyond its {disk.size} GiB")
    for entries in _extent_maps(
        world, SNAPSHOT_EXTENTS, world.snapshots, "snapshot delta"
    ).values():
        for _, value in entries:
            digest = extent_digest(value)
            if digest is not None:
                held[digest] += 1
    _extent_maps(world, SNAPSHOT_ZERO_BLOCKS, world.snapshots, "zero blocks")
    refs: dict[bytes, int] = {}
    for _, key, count in world.raw[_BLOCKS]:
        refs[bytes.fromhex(key)] = count  # type: ignore[assignment]
    for digest in sorted(set(refs) | set(held)):
        if refs.get(digest, 0) != held.get(digest, 0):
            world.fail(
                f"block {digest.hex()[:16]}: refcount {refs.get(digest, 0)}, "
                f"but {held.get(digest, 0)} references are held"
            )
    total = 0
    for digest in refs:
        data = backend.get_blob(digest)
        if data is None:
            world.fail(f"block {digest.hex()[:16]} is referenced but has no blob")
            continue
        total += len(data)
        if hashlib.sha256(data).digest() != digest:
            world.fail(f"blob {digest.hex()[:16]} does not hash to its digest")
    stats = tuple(backend.blob_stats())
    if stats != (len(refs), total):
        world.fail(f"blob_stats {stats} but {len(refs)} referenced blobs of {total} bytes")


def _counted_blocks(world: _World) -> dict[str, int]:
    """Per snapshot, the blocks its delta touches minus its recorded all-zero blocks (which
    must be touched blocks that no non-zero extent of the delta covers)."""
    ppb = _block_size(world) // PAGE_SIZE
    touched: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)
    nonzero: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)
    for snapshot_id, key, value in world.raw[SNAPSHOT_EXTENTS]:
        try:
            start = int(key, 16)
            cover = block_cover(start, start + extent_length(value), ppb)
        except Exception:  # reported by _check_blocks
            continue
        touched[snapshot_id].append(cover)
        if not (type(value) is tuple and value[0] == "z"):
            nonzero[snapshot_id].append(cover)
    zero: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)
    for snapshot_id, key, value in world.raw[SNAPSHOT_ZERO_BLOCKS]:
        if type(value) is int:
            zero[snapshot_id].append((int(key, 16), int(key, 16) + value))
    counted: dict[str, int] = {}
    for snapshot_id in set(touched) | set(zero):
        blocks = union(touched[snapshot_id])
        zeros = union(zero[snapshot_id])
        if subtract(zeros, blocks):
            world.fail(f"{snapshot_id} records zero blocks its delta does not touch")
        if size(zeros) != size(subtract(zeros, union(nonzero[snapshot_id]))):
            world.fail(f"{snapshot_id} records as zero a block its delta holds content in")
        counted[snapshot_id] = size(blocks) - size(zeros)
    return counted


def _check_chains(world: _World) -> None:
    created_at = {
        e.snapshot_id: e.sequence for _, e in world.events if isinstance(e, SnapshotCreated)
    }
    counted = _counted_blocks(world)
    listed: collections.Counter[str] = collections.Counter()
    for link_id, link in world.links.items():
        members = []
        for snapshot_id in link.snapshot_ids:
            listed[snapshot_id] += 1
            snapshot = world.snapshots.get(snapshot_id)
            if snapshot is None:
                world.fail(f"chain {link_id} lists {snapshot_id}, which does not exist")
                continue
            members.append(snapshot)
            if snapshot.snapshot_link_id != link_id:
                world.fail(f"{snapshot_id} is listed by {link_id} but names its own chain")
            if snapshot.source_disk_id != link.source_disk_id:
                world.fail(f"{snapshot_id} in {link_id} is not of disk {link.source_disk_id}")
            own = counted.get(snapshot_id, 0)
            if snapshot.incremental_blocks != own:
                world.fail(
                    f"{snapshot_id} says it holds {snapshot.incremental_blocks} blocks, its "
                    f"delta holds {own}"
                )
        times = [s.creation_time for s in members]
        if times != sorted(times):
            world.fail(f"chain {link_id} is not in creation-time order")
        order = [created_at.get(s.snapshot_id, -1) for s in members]
        if order != sorted(order):
            world.fail(f"chain {link_id} is not in creation order")
        incremental = sum(s.incremental_blocks for s in members)
        non_zero = sum(counted.get(s, 0) for s in link.snapshot_ids)
        if not link.total_blocks == incremental == non_zero:
            world.fail(
                f"chain {link_id}: total_blocks {link.total_blocks}, members' incremental "
                f"blocks {incremental}, non-zero delta entries {non_zero}"
            )
        disk = world.disks.get(link.source_disk_id)
        if disk is not None and disk.snapshot_link_id != link_id:
            world.fail(f"disk {disk.disk_id} names chain {disk.snapshot_link_id}, not {link_id}")
    for snapshot_id, snapshot in world.snapshots.items():
        if listed[snapshot_id] != 1:
            world.fail(
                f"{snapshot_id} is listed {listed[snapshot_id]} times by chains "
                f"(its chain is {snapshot.snapshot_link_id})"
            )
    for disk in world.disks.values():
        if disk.snapshot_link_id is not None and disk.snapshot_link_id not in world.links:
            world.fail(f"disk {disk.disk_id} names chain {disk.snapshot_link_id}, which is gone")


def _check_tag_indexes(world: _World) -> None:
    # Each tag index lists exactly the (region, key, value) -> id pairs the records' tags say.
    tagged: tuple[tuple[str, Iterable[Instance | Disk | Snapshot | Image], str], ...] = (
        (INSTANCE_TAGS.kind, world.instances.values(), "instance_id"),
        (DISK_TAGS.kind, world.disks.values(), "disk_id"),
        (SNAPSHOT_TAGS.kind, world.snapshots.values(), "snapshot_id"),
        (IMAGE_TAGS.kind, world.images.values(), "image_id"),
    )
    for kind, records, id_field in tagged:
        index_pairs = {(p, k) for p, k, _ in world.raw[kind]}
        record_pairs = {
            (tag_partition(r.region_id, key, value), getattr(r, id_field))
            for r in records
            for key, value in r.tags
        }
        if index_pairs != record_pairs:
            world.fail(
                f"the tag index {kind} disagrees with the records at "
                f"{sorted(index_pairs ^ record_pairs)[:5]}"
            )


def _check_snapshot_order(world: _World) -> None:
    # Every ordered index (by time, by facets) lists exactly its records, each in the partition
    # of its facet values at its sort key, and the counts are exactly its partitions' sizes.
    specs: tuple[tuple[RepositorySpec[Any], dict[str, Any]], ...] = (
        (SNAPSHOTS, world.snapshots),
        (DISKS, world.disks),
        (INSTANCES, world.instances),
        (LINKS, world.links),
        (GROUPS, world.groups),
    )
    # Only the counts of these indexes: other services check their own (e.g. Cloud Backup's).
    kinds = {ordered.kind for spec, _ in specs for ordered in spec.ordered}
    counted = {
        (p, k): v for p, k, v in world.raw[ORDER_COUNTS] if k.split(ORDER_SEPARATOR, 1)[0] in kinds
    }
    expected_counts: dict[tuple[str, str], int] = collections.Counter()
    for spec, records in specs:
        for ordered in spec.ordered:
            indexed = {(p, k, v) for p, k, v in world.raw[ordered.kind]}
            expected = set()
            for record_id, record in records.items():
                values = ordered.values_of(record)
                expected.add(
                    (
                        ordered.partition(record.region_id, values),
                        ordered.entry(record, record_id),
                        record_id,
                    )
                )
                if ordered.counted:
                    expected_counts[(record.region_id, ordered.count_key(values))] += 1
            if indexed != expected:
                world.fail(
                    f"the ordered index {ordered.kind} disagrees at "
                    f"{sorted(indexed ^ expected)[:5]}"
                )
    if counted != expected_counts:
        wrong = sorted(set(counted.items()) ^ set(expected_counts.items()))[:5]
        world.fail(f"the ordered index counts disagree with the entries at {wrong}")
    # The chains of each instance and of each source disk are what the chains say.
    for index in (LINKS_OF_INSTANCE, LINKS_OF_DISK):
        listed = {(p, k) for p, k, _ in world.raw[index.kind]}
        owned = {
            (p, link_id) for link_id, link in world.links.items() for p in index.partitions(link)
        }
        if listed != owned:
            world.fail(f"the chain index {index.kind} disagrees at {sorted(listed ^ owned)[:5]}")


def _check_instances_and_disks(world: _World) -> None:
    limits = world.cloud._world.limits
    per_instance: dict[str, list[tuple[Disk, str]]] = collections.defaultdict(list)
    # The index of each instance's disks is exactly what the disks' attachments say.
    index_pairs = {(p, k) for p, k, _ in world.raw[INSTANCE_DISKS]}
    attachment_pairs = {
        (a.instance_id, d.disk_id) for d in world.disks.values() for a in d.attachments
    }
    if index_pairs != attachment_pairs:
        differ = sorted(index_pairs ^ attachment_pairs)
        world.fail(f"the instance-disk index disagrees with the disks at {differ}")
    for disk_id, disk in world.disks.items():
        region = REGIONS.get(disk.region_id)
        if region is None or disk.zone_id not in region.zones:
            world.fail(f"disk {disk_id} is in zone {disk.zone_id} of {disk.region_id}")
        spec = CATEGORY_SPECS[disk.category]
        if not 1 <= disk.size <= spec.max_size:
            world.fail(f"disk {disk_id} of {disk.size} GiB exceeds {disk.category.value}")
        holders = [a.instance_id for a in disk.attachments]
        if len(set(holders)) != len(holders):
            world.fail(f"disk {disk_id} is attached twice to one instance")
        if disk.multi_attach != "Enabled" and len(holders) > 1:
            world.fail(f"disk {disk_id} is attached to {len(holders)} instances")
        if len(holders) > limits.multi_attach_max_instances:
            world.fail(f"disk {disk_id} is attached to {len(holders)} instances")
        if (disk.status is DiskStatus.In_use) != bool(holders):
            world.fail(f"disk {disk_id} is {disk.status.value} with attachments {holders}")
        if disk.status not in (DiskStatus.In_use, DiskStatus.Available):
            world.fail(f"disk {disk_id} is stuck {disk.status.value}")
        if disk.encrypted != (disk.data_key is not None) or (
            disk.data_key is not None and disk.kms_key_id != disk.data_key.kms_key_id
        ):
            world.fail(f"disk {disk_id}: encrypted={disk.encrypted} but its data key disagrees")
        if not spec.local and not disk.portable:
            world.fail(f"cloud disk {disk_id} is not portable")
        for attachment in disk.attachments:
            instance = world.instances.get(attachment.instance_id)
            if instance is None or instance.region_id != disk.region_id:
                world.fail(f"disk {disk_id} is attached to missing {attachment.instance_id}")
                continue
            if instance.zone_id != disk.zone_id:
                world.fail(f"disk {disk_id} in {disk.zone_id} is attached across zones")
            per_instance[instance.instance_id].append((disk, attachment.device))
        if spec.local and not disk.attachments:
            world.fail(f"local disk {disk_id} outlived its instance")
    for instance_id, attached in per_instance.items():
        devices = [device for _, device in attached]
        if len(set(devices)) != len(devices):
            world.fail(f"instance {instance_id} uses a device twice: {sorted(devices)}")
        system = [d for d, _ in attached if d.type is DiskType.system]
        data = [d for d, _ in attached if d.type is DiskType.data]
        if len(system) > 1:
            world.fail(f"instance {instance_id} has {len(system)} system disks")
        if len(data) > limits.data_disks_per_instance:
            world.fail(f"instance {instance_id} has {len(data)} data disks")
        for disk, device in attached:
            if (device == SYSTEM_DEVICE) != (disk.type is DiskType.system):
                world.fail(f"{disk.type.value} disk {disk.disk_id} is attached at {device}")
    for instance_id, instance in world.instances.items():
        moving = instance.status in _TRANSITIONAL
        if moving != (instance.transition_target is not None):
            world.fail(
                f"instance {instance_id} is {instance.status.value} with target "
                f"{instance.transition_target}"
            )
        if moving and instance.transition_target is not None:
            payload = instance.transition_target.value
            timers = world.timers_for(ACTION_INSTANCE_TRANSITION, instance_id)
            if not any(t.payload == payload for t in timers):
                world.fail(f"instance {instance_id} is {instance.status.value} with no timer")
        if instance.status is InstanceStatus.Running and not instance.ever_started:
            world.fail(f"instance {instance_id} is Running but never started")


def _check_snapshots(world: _World) -> None:
    progressing: collections.Counter[str] = collections.Counter()
    disk_users: collections.Counter[str] = collections.Counter()
    image_users: collections.Counter[str] = collections.Counter()
    for disk in world.disks.values():
        if disk.source_snapshot_id is not None:
            disk_users[disk.source_snapshot_id] += 1
    for image in world.images.values():
        for mapping in image.disk_device_mappings:
            image_users[mapping.snapshot_id] += 1
    now = world.now
    by_points = natives_released_by_points(world)  # Cloud Backup expires these, not ECS
    by_jobs = natives_of_running_jobs(world)  # and these, until the job ends
    for snapshot_id, snapshot in world.snapshots.items():
        if snapshot.status is SnapshotStatus.progressing:
            progressing[snapshot.source_disk_id] += 1
            if not world.timers_for(ACTION_SNAPSHOT_COMPLETE, snapshot_id):
                world.fail(f"{snapshot_id} is progressing with no completion timer")
        elif snapshot.completion_time is None:
            world.fail(f"{snapshot_id} is {snapshot.status.value} with no completion time")
        if snapshot.disk_refs != disk_users[snapshot_id]:
            world.fail(
                f"{snapshot_id} counts {snapshot.disk_refs} disks made from it, "
                f"there are {disk_users[snapshot_id]}"
            )
        if snapshot.image_refs != image_users[snapshot_id]:
            world.fail(
                f"{snapshot_id} counts {snapshot.image_refs} image uses, "
                f"there are {image_users[snapshot_id]}"
            )
        if snapshot.encrypted != (snapshot.data_key is not None):
            world.fail(f"{snapshot_id}: encrypted={snapshot.encrypted} disagrees with its key")
        lock = snapshot.lock
        if (
            lock is not None
            and lock.effective_from is None
            and snapshot.status is not SnapshotStatus.progressing
        ):
            world.fail(f"{snapshot_id} is {snapshot.status.value} but its lock never started")
        expire = snapshot.expire_time
        held = (
            (lock is not None and lock.holds(now))
            or snapshot.image_refs > 0
            or snapshot.disk_refs > 0
        )
        if expire is not None and expire <= now and not held:
            world.fail(
                f"{snapshot_id} expired at {expire.isoformat()} and nothing holds it, "
                "but it still exists"
            )
        if (
            expire is not None
            and expire > now
            and not any(
                t.due == expire for t in world.timers_for(ACTION_SNAPSHOT_EXPIRE, snapshot_id)
            )
            and not (snapshot_id in by_points and by_points[snapshot_id] <= expire)
            and snapshot_id not in by_jobs
        ):
            world.fail(f"{snapshot_id} expires at {expire.isoformat()} with no timer then")
        if snapshot.snapshot_group_id is not None:
            group = world.groups.get(snapshot.snapshot_group_id)
            if group is None or snapshot_id not in group.snapshot_ids:
                world.fail(f"{snapshot_id} names group {snapshot.snapshot_group_id}, not back")
    for disk_id, count in progressing.items():
        if count > 1:
            world.fail(f"disk {disk_id} has {count} snapshots progressing")


def _check_groups_and_images(world: _World) -> None:
    for group_id, group in world.groups.items():
        if not group.snapshot_ids:
            world.fail(f"group {group_id} has no members")
        members = []
        for snapshot_id in group.snapshot_ids:
            snapshot = world.snapshots.get(snapshot_id)
            if snapshot is None:
                world.fail(f"group {group_id} lists {snapshot_id}, which does not exist")
                continue
            members.append(snapshot)
            if snapshot.snapshot_group_id != group_id:
                world.fail(f"{snapshot_id} is in group {group_id} but names another")
            if snapshot.creation_time != group.creation_time:
                world.fail(f"{snapshot_id} was not captured at its group's instant")
        done = all(s.status is SnapshotStatus.accomplished for s in members)
        if done != (group.status is SnapshotGroupStatus.accomplished):
            world.fail(f"group {group_id} is {group.status.value}; members done: {done}")
    for image_id, image in world.images.items():
        systems = [m for m in image.disk_device_mappings if m.disk_type is DiskType.system]
        if len(systems) != 1:
            world.fail(f"image {image_id} has {len(systems)} system mappings")
        for mapping in image.disk_device_mappings:
            snapshot = world.snapshots.get(mapping.snapshot_id)
            if snapshot is None:
                world.fail(f"image {image_id} uses {mapping.snapshot_id}, which is gone")
            elif mapping.size < snapshot.source_disk_size:
                world.fail(f"image {image_id} maps {mapping.snapshot_id} onto a smaller disk")


def _check_kms(world: _World) -> None:
    service_keys: collections.Counter[str] = collections.Counter()
    for key_id, key in world.keys.items():
        pending = key.key_state is KeyState.PendingDeletion
        if pending != (key.delete_date is not None):
            world.fail(f"key {key_id} is {key.key_state.value} with delete_date {key.delete_date}")
        if pending and not any(
            t.due == key.delete_date for t in world.timers_for(ACTION_DELETE_KEY, key_id)
        ):
            world.fail(f"key {key_id} is pending deletion with no timer")
        if key.service_key:
            service_keys[key.region_id] += 1
            if key.key_state is not KeyState.Enabled:
                world.fail(f"service key {key_id} is {key.key_state.value}")
    for region_id, count in service_keys.items():
        if count > 1:
            world.fail(f"{region_id} has {count} ECS service keys")
    for (region_id, name), alias in world.aliases.items():
        target = world.keys.get(alias.key_id)
        if target is None or target.region_id != region_id:
            world.fail(f"alias {name} in {region_id} points at missing key {alias.key_id}")
        elif (name == ECS_SERVICE_ALIAS) != target.service_key:
            world.fail(f"alias {name} points at {_key_kind(target)} {target.key_id}")
    indexed = {(partition, name) for partition, name, _ in world.raw[KEY_ALIASES]}
    expected = {(f"{r}|{a.key_id}", name) for (r, name), a in world.aliases.items()}
    if indexed != expected:
        world.fail(f"the key -> aliases index {sorted(indexed)} != the aliases {sorted(expected)}")


def _key_kind(key: KmsKey) -> str:
    """``"service key"`` or ``"customer key"`` (for messages)."""
    return "service key" if key.service_key else "customer key"


def _check_events_and_timers(world: _World) -> None:
    previous: _dt.datetime | None = None
    # The retention drops the oldest events: the ones kept are numbered on from the first.
    first = world.cloud.backend.get(_META, "", "event_log.first")
    if first is not None and (type(first) is not int or first < 0):
        world.fail(f"the first event kept is {first!r}, not a sequence")
        first = 0
    first = first or 0
    for _, key, value in world.raw[Event.KIND]:
        if restored_event(value) is None:
            world.fail(f"event {key} holds {type(value).__name__}, no event")
    for index, (key, event) in enumerate(world.events, start=first):
        if event.sequence != index or key != f"{index:016d}":
            world.fail(f"event {key} has sequence {event.sequence}, expected {index}")
            break
        if previous is not None and event.time < previous:
            world.fail(f"event {index} at {event.time.isoformat()} goes back in time")
        if event.time > world.now:
            world.fail(f"event {index} is in the future")
        previous = event.time
    counter = world.cloud.backend.get(_META, "counter", "event")
    if (counter or 0) != first + len(world.events):
        world.fail(f"event counter {counter} but {len(world.events)} events kept from {first}")
    retention = world.cloud.events.retention
    if retention.max_events is not None and len(world.events) > retention.max_events:
        world.fail(f"{len(world.events)} events kept, more than {retention.max_events}")
    if retention.max_age is not None and world.events:
        cutoff = world.events[-1][1].time - retention.max_age
        if world.events[0][1].time < cutoff:
            world.fail(f"event {first} is older than the retention's {retention.max_age}")
    sequences = [t.sequence for t in world.timers]
    if len(set(sequences)) != len(sequences):
        world.fail("two timers share a sequence number")
    for partition, key, timer in world.raw[Timer.KIND]:
        assert isinstance(timer, Timer)
        if partition != "" or key != timer.key:
            world.fail(f"timer {timer} is stored under {partition}/{key}")
    pending = {t.key for t in world.timers}
    for partition, key, failed in world.raw[FailedTimer.KIND]:
        if not isinstance(failed, FailedTimer) or not isinstance(failed.timer, Timer):
            world.fail(f"failed timer {partition}/{key} is a {type(failed).__name__}")
            continue
        if partition != "" or key != failed.timer.key:
            world.fail(f"failed timer {failed.timer} is stored under {partition}/{key}")
        if key in pending:
            world.fail(f"timer {key} is both pending and failed")
        if failed.timer.due > world.now:
            world.fail(f"timer {key} failed but was not due until {failed.timer.due.isoformat()}")
        if not isinstance(failed.error, str) or not failed.error:
            world.fail(f"failed timer {key} does not say what it raised")
    # One pending timer per (action, region, target), each found through the index.
    indexed = {(a, k): v for a, k, v in world.raw[TIMER_INDEX]}
    by_target = {(t.action, f"{t.region_id}|{t.target_id}"): t.key for t in world.timers}
    if indexed != by_target:
        world.fail(f"the timer index {indexed} does not match the pending timers {by_target}")
    if isinstance(world.cloud.clock, ManualClock):
        stored = world.cloud.backend.get(_META, "", "clock")
        if stored != world.now:
            world.fail(f"the stored clock {stored} differs from the clock {world.now}")
