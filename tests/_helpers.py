"""Shared helpers for the unit and property tests (no fixtures: plain functions)."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pytest

from cloudbackup import (
    Cloud,
    DataDisk,
    EcsService,
    Event,
    InMemoryBackend,
    InstanceStatus,
    Limits,
    StorageBackend,
    SystemDisk,
    errors,
)

REGION = "cn-hangzhou"
ZONE = "cn-hangzhou-h"
OTHER_ZONE = "cn-hangzhou-i"
OTHER_REGION = "cn-shanghai"
INSTANCE_TYPE = "ecs.g7.large"
GIB = 1024**3
SMALL_BLOCK = 4096

E = TypeVar("E", bound=errors.CloudBackupError)


def make_cloud(
    *,
    seed: int = 0,
    block_size: int = SMALL_BLOCK,
    limits: Limits | None = None,
    backend: StorageBackend | None = None,
) -> Cloud:
    """A fresh cloud on the suite's backend (or ``backend``); small blocks keep tests fast."""
    return Cloud(seed=seed, block_size=block_size, limits=limits, backend=backend)


def settle(cloud: Cloud, minutes: int = 5) -> None:
    """Advance virtual time enough for instance transitions to finish."""
    cloud.advance(dt.timedelta(minutes=minutes))


def run_instance(
    cloud: Cloud,
    *,
    region: str = REGION,
    zone: str | None = None,
    system_disk: SystemDisk | None = None,
    data_disks: Sequence[DataDisk] = (),
    wait: bool = True,
) -> tuple[EcsService, str]:
    """Create an instance (Running once ``wait``) and return its service and id."""
    ecs = cloud.ecs(region)
    if zone is None:
        zone = ZONE if region == REGION else ecs.region.zones[0]
    [instance_id] = ecs.run_instances(
        zone_id=zone,
        instance_type=INSTANCE_TYPE,
        system_disk=system_disk,
        data_disks=list(data_disks),
    )
    if wait:
        settle(cloud)
        assert ecs.describe_instance_attribute(instance_id).status is InstanceStatus.Running
    return ecs, instance_id


def data_disk_ids(ecs: EcsService, instance_id: str) -> list[str]:
    """The instance's data disks, in device order (/dev/xvdb first)."""
    disks = ecs.describe_disks(instance_id=instance_id, disk_type="data", page_size=100).items
    return [d.disk_id for d in sorted(disks, key=lambda d: d.device or "")]


def system_disk_id(ecs: EcsService, instance_id: str) -> str:
    """The instance's system disk."""
    [disk] = ecs.describe_disks(instance_id=instance_id, disk_type="system").items
    return disk.disk_id


def instance_with_disk(
    cloud: Cloud,
    *,
    category: str = "cloud_essd",
    size: int = 20,
    performance_level: str | None = None,
    encrypted: bool | None = None,
    kms_key_id: str | None = None,
) -> tuple[EcsService, str, str]:
    """A Running instance with one data disk; returns (ecs, instance id, data disk id)."""
    ecs, instance_id = run_instance(
        cloud,
        data_disks=[
            DataDisk(
                category=category,
                size=size,
                performance_level=performance_level,
                encrypted=encrypted,
                kms_key_id=kms_key_id,
            )
        ],
    )
    [disk_id] = data_disk_ids(ecs, instance_id)
    return ecs, instance_id, disk_id


def stop(cloud: Cloud, ecs: EcsService, instance_id: str) -> None:
    """Stop an instance and wait until it is Stopped."""
    ecs.stop_instance(instance_id)
    settle(cloud)
    assert ecs.describe_instance_attribute(instance_id).status is InstanceStatus.Stopped


def start(cloud: Cloud, ecs: EcsService, instance_id: str) -> None:
    """Start an instance and wait until it is Running."""
    ecs.start_instance(instance_id)
    settle(cloud)
    assert ecs.describe_instance_attribute(instance_id).status is InstanceStatus.Running


def _known_kinds() -> list[str]:
    """Every kind the library stores: the registry's list, so a new raw kind (an index, a
    delta home) is compared by ``backend_state`` without a hand-kept copy here."""
    from cloudbackup.testing import KINDS

    return sorted(KINDS)


def backend_state(cloud: Cloud) -> tuple[dict[str, Any], dict[bytes, bytes]]:
    """A deep copy of everything the backend holds: records by kind/partition/key, and blobs.

    For an :class:`InMemoryBackend` this copies its very dictionaries (so even an empty
    leftover dict counts as a change); other backends are read through the protocol.
    """
    backend = cloud.backend
    if isinstance(backend, InMemoryBackend):
        return copy.deepcopy(backend._records), dict(backend._blobs)
    records: dict[str, Any] = {}
    for kind in _known_kinds():
        for partition in backend.partitions(kind):
            records.setdefault(kind, {})[partition] = dict(backend.scan(kind, partition))
    blobs = {}
    for key in records.get("blob.refs", {}).get("", {}):
        data = backend.get_blob(bytes.fromhex(key))
        assert data is not None
        blobs[bytes.fromhex(key)] = bytes(data)
    assert (len(blobs), sum(map(len, blobs.values()))) == tuple(backend.blob_stats())
    return records, blobs


def entity_records(cloud: Cloud) -> dict[str, Any]:
    """The backend's entity records only: no meta/counters, events, timers or blob refcounts."""
    records, _ = backend_state(cloud)
    for kind in ("meta", "event", "engine.timer", "blob.refs"):
        records.pop(kind, None)
    return records


def raises_code(cls: type[E], code: str, call: Callable[[], object]) -> E:
    """Assert ``call`` raises ``cls`` with exactly ``code``; return the error."""
    with pytest.raises(cls) as info:
        call()
    assert code == info.value.code
    return info.value


def rejected_unchanged(cloud: Cloud, cls: type[E], code: str, call: Callable[[], object]) -> E:
    """Assert ``call`` is rejected with ``code`` and leaves the backend exactly as it was."""
    before = backend_state(cloud)
    error = raises_code(cls, code, call)
    assert before == backend_state(cloud)
    return error


def events_since(cloud: Cloud, sequence: int) -> list[Event]:
    """Events recorded from ``sequence`` on."""
    return cloud.events.list(since=sequence)


def pattern(seed: int, length: int) -> bytes:
    """Deterministic, non-zero, non-repeating-looking bytes."""
    out = bytearray()
    n = seed * 2654435761 + 12345
    while len(out) < length:
        n = (n * 6364136223846793005 + 1442695040888963407) % 2**64
        out += n.to_bytes(8, "little")
    data = bytes(out[:length])
    return data if any(data) else b"\x01" * length
