"""The shared machinery of one simulated account, and the registry of services built on it.

A service registers itself once, at import time, with :func:`register_service`: its class,
whether it is regional (one object per region, like ECS and KMS) or global (one per account),
the timer actions it handles, and the internal interfaces it offers other services (KMS offers
ECS a key ring, :data:`~cloudbackup._services._interfaces.KEY_RING`). :class:`World` builds each
service on demand and routes every timer to the service that owns its action, without knowing
any service by name. This module imports no service, so there is no import cycle: services
import the world, never the other way round.
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar, cast

import attrs

from ._engine import Engine, Timer
from ._events import EventLog
from ._ids import IdFactory
from ._regions import Region, get_region
from ._settings import Limits, Timings
from ._store import BlockStore, Store
from ._time import Clock, require_aware

__all__ = ["SERVICES", "Interface", "Scope", "ServiceSpec", "World", "register_service"]

S = TypeVar("S")


@attrs.frozen
class Interface(Generic[S]):
    """Names an internal interface (a typing Protocol ``S``) that a service may offer.

    ``world.provider(KEY_RING, region)`` is typed as the Protocol, so callers get its methods
    and nothing else.
    """

    name: str


class Scope(enum.Enum):
    """Whether a service has one object per region or one per account."""

    REGIONAL = "regional"
    GLOBAL = "global"


@attrs.frozen
class ServiceSpec:
    """What the world needs to know to build a service and hand it its timers."""

    name: str
    """Short name, e.g. ``"ecs"``; also the prefix of its timer actions."""
    cls: type[Any]
    """Built as ``cls(world, region)`` (regional) or ``cls(world)`` (global)."""
    scope: Scope
    timers: Mapping[str, Callable[[Any, Timer], None]] = attrs.field(factory=dict)
    """Timer action → the handler, called as ``handler(service, timer)``."""
    timer_failures: Mapping[str, Callable[[Any, Timer], None]] = attrs.field(factory=dict)
    """Timer action → what to do once its handler raised and was undone (see
    :meth:`Engine.register <cloudbackup._engine.Engine.register>`'s ``on_failure``), called as
    ``recover(service, timer)``."""
    provides: Mapping[Interface[Any], Callable[[Any], Any]] = attrs.field(factory=dict)
    """Internal interfaces this service offers other services: each with the factory that
    builds its implementation from the service object (an adapter, so that the interface's
    methods are not part of the service's public API)."""


SERVICES: dict[str, ServiceSpec] = {}
"""Every registered service by name, in registration order."""


def register_service(spec: ServiceSpec) -> ServiceSpec:
    """Add a service to :data:`SERVICES`; a name or timer action may be registered once."""
    if spec.name in SERVICES and SERVICES[spec.name] != spec:
        raise ValueError(f"A service named {spec.name!r} is already registered.")
    taken = {a for other in SERVICES.values() if other.name != spec.name for a in other.timers}
    clash = taken & set(spec.timers)
    if clash:
        raise ValueError(f"Timer actions {sorted(clash)} are already handled by another service.")
    SERVICES[spec.name] = spec
    return spec


class World:
    """The shared machinery of one simulated account: storage, ids, time, events, services."""

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
        self._services: dict[tuple[str, str], object] = {}
        for spec in SERVICES.values():
            for action, handler in spec.timers.items():
                recover = spec.timer_failures.get(action)
                self.engine.register(
                    action,
                    self._router(spec, handler),
                    None if recover is None else self._router(spec, recover),
                )

    def _router(
        self, spec: ServiceSpec, handler: Callable[[Any, Timer], None]
    ) -> Callable[[Timer], None]:
        # Timers name their region; the service is built on demand, so a reopened world runs
        # pending work before anyone has touched the service.
        def dispatch(timer: Timer) -> None:
            region = get_region(timer.region_id) if spec.scope is Scope.REGIONAL else None
            handler(self._build(spec, region), timer)

        return dispatch

    def now(self) -> _dt.datetime:
        """The current virtual instant, as a plain UTC datetime whatever the clock returns."""
        return require_aware(self.clock.now(), "clock.now()")

    def service(self, cls: type[S], region: Region | None = None) -> S:
        """The service object of class ``cls`` (of ``region`` if it is regional), built once."""
        for spec in SERVICES.values():
            if spec.cls is cls:
                return cast(S, self._build(spec, region))
        raise LookupError(f"{cls.__name__} is not a registered service.")

    def provider(self, interface: Interface[S], region: Region | None = None) -> S:
        """The service that offers ``interface`` (declared in its spec's ``provides``)."""
        for spec in SERVICES.values():
            factory = spec.provides.get(interface)
            if factory is not None:
                key = (f"{spec.name}:{interface.name}", "" if region is None else region.region_id)
                found = self._services.get(key)
                if found is None:
                    found = self._services[key] = factory(self._build(spec, region))
                return cast(S, found)
        raise LookupError(f"No registered service offers {interface.name}.")

    def providers(self, interface: Interface[S], region: Region | None = None) -> list[S]:
        """Every service that offers ``interface``, in registration order (for hooks that
        several services may want, such as ECS's tag-change hook)."""
        found: list[S] = []
        for spec in SERVICES.values():
            if interface in spec.provides:
                key = (f"{spec.name}:{interface.name}", "" if region is None else region.region_id)
                adapter = self._services.get(key)
                if adapter is None:
                    factory = spec.provides[interface]
                    adapter = self._services[key] = factory(self._build(spec, region))
                found.append(cast(S, adapter))
        return found

    def _build(self, spec: ServiceSpec, region: Region | None) -> object:
        if spec.scope is Scope.REGIONAL:
            if region is None:
                raise LookupError(f"The {spec.name} service is regional: name a region.")
            key = (spec.name, region.region_id)
        else:
            key = (spec.name, "")
        service = self._services.get(key)
        if service is None:
            service = spec.cls(self, region) if spec.scope is Scope.REGIONAL else spec.cls(self)
            self._services[key] = service
        return service
