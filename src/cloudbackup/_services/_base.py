"""What every service of a :class:`~cloudbackup.Cloud` shares, and the unit-of-work decorator."""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from .._engine import Engine, Timer
from .._events import EventLog
from .._ids import IdFactory
from .._regions import Region, get_region
from .._store import BlockStore, Store
from .._time import Clock

if TYPE_CHECKING:
    from .ecs import EcsService
    from .kms import KmsService

__all__ = ["Limits", "RegionalService", "Timings", "World", "unit_of_work"]


@attrs.frozen
class Timings:
    """How long simulated operations take, in virtual time. Change them to model slow days."""

    instance_pending: _dt.timedelta = _dt.timedelta(seconds=30)
    """``Pending`` → next status after an instance is created."""
    instance_start: _dt.timedelta = _dt.timedelta(seconds=20)
    """``Starting`` → ``Running``."""
    instance_stop: _dt.timedelta = _dt.timedelta(seconds=10)
    """``Stopping`` → ``Stopped``."""
    snapshot_base: _dt.timedelta = _dt.timedelta(seconds=60)
    """Fixed part of a standard (not instant-access) snapshot's duration."""
    snapshot_throughput: int = 100 * 1024 * 1024
    """Bytes per second a standard snapshot uploads its incremental data at."""

    def snapshot_duration(self, incremental_bytes: int) -> _dt.timedelta:
        """How long a standard snapshot of ``incremental_bytes`` stays ``progressing``."""
        return self.snapshot_base + _dt.timedelta(
            seconds=incremental_bytes / self.snapshot_throughput
        )


@attrs.frozen
class Limits:
    """Quotas the model enforces; defaults are the real service's (facts §11.3)."""

    manual_snapshots_per_disk: int = 256
    data_disks_per_instance: int = 16
    snapshot_group_max_disks: int = 128
    """CreateSnapshotGroup: at most this many disks (2024 docs said 16)."""
    snapshot_group_max_tib: int = 256
    """CreateSnapshotGroup: at most this many TiB in total (2024 docs said 32)."""
    multi_attach_max_instances: int = 16


class World:
    """The shared machinery of one simulated account: storage, ids, time, events."""

    def __init__(
        self,
        *,
        store: Store,
        blocks: BlockStore,
        ids: IdFactory,
        engine: Engine,
        events: EventLog,
        clock: Clock,
        account_id: str,
        timings: Timings,
        limits: Limits,
    ) -> None:
        self.store = store
        self.blocks = blocks
        self.ids = ids
        self.engine = engine
        self.events = events
        self.clock = clock
        self.account_id = account_id
        self.timings = timings
        self.limits = limits
        self.ecs_services: dict[str, EcsService] = {}
        self.kms_services: dict[str, KmsService] = {}
        self._register_timer_handlers()

    def _register_timer_handlers(self) -> None:
        # Timers name their region; route each to that region's service, created on demand,
        # so that a reopened world runs pending work before anyone has touched the service.
        from . import ecs, kms

        def route(action: str, handler: Callable[[Any, Timer], None], kind: str) -> None:
            def dispatch(timer: Timer) -> None:
                region = get_region(timer.region_id)
                service = self.kms(region) if kind == "kms" else self.ecs(region)
                handler(service, timer)

            self.engine.register(action, dispatch)

        route(kms.ACTION_DELETE_KEY, kms.KmsService._on_delete_due, "kms")
        for action, handler in ecs.TIMER_HANDLERS.items():
            route(action, handler, "ecs")

    def now(self) -> _dt.datetime:
        """The current virtual instant."""
        return self.clock.now()

    def kms(self, region: Region) -> KmsService:
        """The KMS service of ``region`` (created on first use)."""
        from .kms import KmsService

        service = self.kms_services.get(region.region_id)
        if service is None:
            service = self.kms_services[region.region_id] = KmsService(self, region)
        return service

    def ecs(self, region: Region) -> EcsService:
        """The ECS service of ``region`` (created on first use)."""
        from .ecs import EcsService

        service = self.ecs_services.get(region.region_id)
        if service is None:
            service = self.ecs_services[region.region_id] = EcsService(self, region)
        return service


class RegionalService:
    """What every per-region service object (``cloud.ecs(...)``, ``cloud.kms(...)``) shares."""

    def __init__(self, world: World, region: Region) -> None:
        self._world = world
        self.region = region
        """The :class:`~cloudbackup.Region` this service acts in."""

    @property
    def region_id(self) -> str:
        """The region id, e.g. ``"cn-hangzhou"``."""
        return self.region.region_id

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.region_id}>"


F = TypeVar("F", bound=Callable[..., Any])


def unit_of_work(method: F) -> F:
    """Run a service method as one unit of work: all of it happens, or none of it."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._world.store.unit():
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def consistent_read(method: F) -> F:
    """Run a read-only service method on one committed state of the backend."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._world.store.reading():
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
