"""The facade: one simulated Alibaba Cloud account."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from types import TracebackType

import attrs

from ._backends import InMemoryBackend, StorageBackend
from ._domain.limits import BLOCK_SIZE_MAX, BLOCK_SIZE_MIN
from ._engine import Engine
from ._events import EventLog
from ._ids import IdFactory
from ._regions import REGIONS, Region, get_region
from ._services.ecs import EcsService
from ._services.hbr import HbrService
from ._services.kms import KmsService
from ._settings import EventRetention, Limits, Timings
from ._store import BlockStore, Store
from ._time import DEFAULT_START, LATEST, Clock, ManualClock, require_aware
from ._world import World
from .errors import InvalidParameterError, StorageBackendError

__all__ = ["DEFAULT_ACCOUNT_ID", "DEFAULT_BLOCK_SIZE", "Cloud", "StorageStats"]

#: The account id a :class:`Cloud` uses unless told otherwise (16 digits, like a real UID).
DEFAULT_ACCOUNT_ID = "1234567890123456"
#: Bytes per block of every disk's block map: 512 KiB, the granularity of incremental
#: snapshots in this model (and of AWS's EBS direct APIs).
DEFAULT_BLOCK_SIZE = 512 * 1024

_WORLD_FORMAT = 1

# Seeds are integers of at most 64 bits, of either sign. Ids and key material hash the seed's
# decimal text (``_ids.IdFactory``); Python refuses to print integers beyond a per-process
# digit limit (``sys.set_int_max_str_digits``, 640 digits at the least), so an unbounded seed
# would be accepted and then fail on the first id, or fail only in a process with a lower
# limit when the world is reopened. 64 bits is far inside every such limit.
_SEED_MIN = -(2**64 - 1)
_SEED_MAX = 2**64 - 1

# What ``Cloud()`` uses when no backend is given. The test suite swaps it to run everything
# against another backend (``--cloudbackup-backend``); users pass ``backend=`` instead.
_default_backend_factory: Callable[[], StorageBackend] = InMemoryBackend


@attrs.frozen
class StorageStats:
    """What a world's backend holds."""

    blob_count: int
    """Distinct block contents stored (after de-duplication)."""
    blob_bytes: int
    """Bytes of block contents stored."""


def _check_collaborators(
    backend: object, clock: object, timings: object, limits: object, retention: object = None
) -> None:
    """Refuse a backend, clock, timings, limits or event retention of the wrong type before
    anything uses them."""
    checks = (
        ("backend", backend, StorageBackend, "a StorageBackend such as InMemoryBackend()"),
        ("clock", clock, Clock, "a Clock such as ManualClock()"),
        ("timings", timings, Timings, "a cloudbackup.Timings"),
        ("limits", limits, Limits, "a cloudbackup.Limits"),
        ("event_retention", retention, EventRetention, "a cloudbackup.EventRetention"),
    )
    for name, value, kind, what in checks:
        if value is not None and not isinstance(value, kind):
            code = "".join(part.capitalize() for part in name.split("_"))
            raise InvalidParameterError(
                f"{name} {value!r} is not {what}.",
                code=f"InvalidParameter.{code}",
                recommend=f"Pass {what}, or None for the default.",
            )
    if isinstance(clock, Clock) and require_aware(clock.now(), "clock.now()") > LATEST:
        raise InvalidParameterError(
            f"clock {clock!r} reads past {LATEST.isoformat()}, where virtual time ends.",
            code="InvalidParameter.Clock",
            recommend="Start the clock earlier.",
        )


def _describe(values: dict[str, object], order: dict[str, object]) -> str:
    """``values`` as ``key=value`` pairs in ``order``'s key order (then any others, sorted), so
    two world settings printed side by side line up key for key."""
    keys = [k for k in order if k in values] + sorted(k for k in values if k not in order)
    return ", ".join(f"{key}={values[key]!r}" for key in keys)


def _retention_of(store: Store, given: EventRetention | None) -> tuple[EventRetention, bool]:
    """The event retention of the world in ``store`` (``given``, else the stored one, else the
    default), and whether it differs from what is stored."""
    stored_value = store.meta(_RETENTION)
    stored = EventRetention.from_stored(stored_value)
    if stored_value is not None and stored is None:
        raise StorageBackendError(
            f"The world's stored event retention {stored_value!r:.60} is not one.",
            code="StorageBackend.Corrupt",
            ids=(_RETENTION,),
            recommend="The stored world is damaged; restore it from a backup.",
        )
    retention = given if given is not None else stored if stored is not None else EventRetention()
    return retention, stored != retention


_RETENTION = "event_retention"
"""Meta record: the world's :class:`EventRetention`, as :meth:`EventRetention.stored` gives."""


class Cloud:
    """The whole simulated account: every region's ECS and KMS, one clock, one event log.

    Args:
        backend: Where state lives; default a fresh :class:`InMemoryBackend`. A backend that
            already holds a world (a durable one, reopened) continues that world.
        clock: Default: a :class:`ManualClock` at :data:`~cloudbackup.DEFAULT_START`
            (2024-01-01T00:00:00Z), or where a reopened world's clock stood.
        seed: Seeds every generated id and key; the same calls with the same seed give the
            same ids, results and events. An integer of at most 64 bits, of either sign
            (``-(2**64 - 1)`` to ``2**64 - 1``); an ``int`` subclass counts as the int it equals.
        account_id: The account's 16-digit id, used in ARNs.
        block_size: Bytes per block of the disks' block maps (a power of two, 4 KiB–4 MiB).
        timings: Simulated durations (boot, stop, snapshot upload).
        limits: Quotas (snapshots per disk, snapshot-consistent group size).
        event_retention: How much of the event log is stored (default: the newest 100,000
            events, see :class:`EventRetention`; subscribers see every event regardless).
            Stored with the world: None on a reopened world keeps the retention it was made
            with; another one replaces it from the next event on.

    Use ``cloud.ecs("cn-hangzhou")`` and ``cloud.kms("cn-hangzhou")`` for the services, and
    :meth:`advance` / :meth:`run_until` to move virtual time.
    """

    def __init__(
        self,
        *,
        backend: StorageBackend | None = None,
        clock: Clock | None = None,
        seed: int = 0,
        account_id: str = DEFAULT_ACCOUNT_ID,
        block_size: int = DEFAULT_BLOCK_SIZE,
        timings: Timings | None = None,
        limits: Limits | None = None,
        event_retention: EventRetention | None = None,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InvalidParameterError(
                f"seed {seed!r} must be an integer.", recommend="Pass seed=0."
            )
        if not _SEED_MIN <= seed <= _SEED_MAX:
            raise InvalidParameterError(
                f"seed must be an integer of at most 64 bits ({_SEED_MIN} to {_SEED_MAX}); "
                f"the one given has {seed.bit_length()} bits.",
                recommend="Pass a smaller seed, e.g. seed % 2**64.",
            )
        seed = int(seed)  # an int subclass is stored and hashed as the plain int it equals
        if not isinstance(account_id, str) or not (
            len(account_id) == 16 and account_id.isascii() and account_id.isdigit()
        ):
            raise InvalidParameterError(
                f"account_id {account_id!r} must be 16 digits.",
                recommend=f"Pass e.g. {DEFAULT_ACCOUNT_ID!r}.",
            )
        if (
            isinstance(block_size, bool)
            or not isinstance(block_size, int)
            or not BLOCK_SIZE_MIN <= block_size <= BLOCK_SIZE_MAX
            or block_size & (block_size - 1)
        ):
            raise InvalidParameterError(
                f"block_size {block_size!r} must be a power of two from 4 KiB to 4 MiB.",
                recommend=f"Pass e.g. {DEFAULT_BLOCK_SIZE}.",
            )
        _check_collaborators(backend, clock, timings, limits, event_retention)
        self._backend: StorageBackend = _default_backend_factory() if backend is None else backend
        store = Store(self._backend)
        settings = {
            "format": _WORLD_FORMAT,
            "seed": seed,
            "account_id": account_id,
            "block_size": block_size,
        }
        existing = store.meta("world")
        if existing is None:
            start = DEFAULT_START if clock is None else require_aware(clock.now(), "clock.now()")
            first_retention = EventRetention() if event_retention is None else event_retention
            with store.unit():
                store.set_meta("world", tuple(sorted(settings.items())))
                store.set_meta("clock", start)
                store.set_meta(_RETENTION, first_retention.stored())
        else:
            stored = dict(existing)  # type: ignore[call-overload]
            if stored != settings:
                raise StorageBackendError(
                    f"The backend holds a world made with {_describe(stored, settings)}, "
                    f"not {_describe(settings, settings)}.",
                    code="StorageBackend.WorldMismatch",
                    recommend="Open it with the same seed, account_id and block_size.",
                )
        retention, new_retention = _retention_of(store, event_retention)
        stored_now = store.meta("clock")
        assert isinstance(stored_now, _dt.datetime)
        if clock is None:
            clock = ManualClock(stored_now)
        elif require_aware(clock.now(), "clock.now()") < stored_now:
            raise InvalidParameterError(
                f"The clock reads {clock.now().isoformat()}, before the world's virtual time "
                f"{stored_now.isoformat()}; time cannot run backwards.",
                recommend="Omit clock= to continue where the world stood, or pass a clock at "
                "or after that instant.",
            )
        self._store = store
        # Processes sharing a world share its virtual time: when another one has committed,
        # catch up with the clock position it stored.
        store.on_external_change(self._catch_up_clock)
        self._world = World(
            store=store,
            blocks=BlockStore(store, block_size),
            ids=IdFactory(store, seed),
            engine=Engine(store, clock),
            events=EventLog(store, retention),
            clock=clock,
            account_id=account_id,
            timings=Timings() if timings is None else timings,
            limits=Limits() if limits is None else limits,
        )
        if new_retention:  # stored with the world, and the log trimmed to it at once
            with store.unit():
                store.set_meta(_RETENTION, retention.stored())
                self._world.events._trim_to_retention()

    def _catch_up_clock(self) -> None:
        stored = self._store.meta("clock")
        if isinstance(stored, _dt.datetime) and stored > self._world.clock.now():
            self._world.clock.advance_to(stored)

    # -- services ------------------------------------------------------------------------
    def ecs(self, region_id: str) -> EcsService:
        """The ECS service of a region, e.g. ``cloud.ecs("cn-hangzhou")``."""
        return self._world.service(EcsService, get_region(region_id))

    def hbr(self, region_id: str) -> HbrService:
        """Cloud Backup of a region (the protected instances' region, ``UdmRegionId``), e.g.
        ``cloud.hbr("cn-hangzhou")``."""
        return self._world.service(HbrService, get_region(region_id))

    def kms(self, region_id: str) -> KmsService:
        """The KMS service of a region, e.g. ``cloud.kms("cn-hangzhou")``."""
        return self._world.service(KmsService, get_region(region_id))

    @property
    def regions(self) -> dict[str, Region]:
        """The catalogue of regions this model knows."""
        return dict(REGIONS)

    # -- time ----------------------------------------------------------------------------
    @property
    def clock(self) -> Clock:
        """The clock; ``cloud.clock.now()`` is the current virtual instant."""
        return self._world.clock

    def now(self) -> _dt.datetime:
        """Shorthand for ``cloud.clock.now()`` (caught up with other processes sharing it)."""
        self._store.check_external()
        return self._world.now()

    def run_until(self, instant: _dt.datetime) -> int:
        """Process every event due up to ``instant`` in time order; the clock ends there.

        Returns:
            How many timed events fired.
        """
        return self._world.engine.run_until(require_aware(instant, "instant"))

    def advance(self, delta: _dt.timedelta) -> int:
        """Move virtual time forward by ``delta``, processing every event due meanwhile."""
        if not isinstance(delta, _dt.timedelta) or delta < _dt.timedelta(0):
            raise InvalidParameterError(
                f"delta {delta!r} must be a non-negative datetime.timedelta.",
                recommend="Pass e.g. datetime.timedelta(minutes=5).",
            )
        if delta > LATEST - self.now():
            raise InvalidParameterError(
                f"delta {delta!r} would move virtual time past {LATEST.isoformat()}.",
                recommend="Advance by less.",
            )
        return self.run_until(self.now() + delta)

    def next_event_time(self) -> _dt.datetime | None:
        """When the next timed event (a snapshot finishing, an expiry…) is due, if any."""
        return self._world.engine.next_due()

    # -- events, storage -----------------------------------------------------------------
    @property
    def events(self) -> EventLog:
        """The ordered log of every state change."""
        return self._world.events

    @property
    def account_id(self) -> str:
        """The account's id."""
        return self._world.account_id

    @property
    def backend(self) -> StorageBackend:
        """The storage backend this world lives in."""
        return self._backend

    def storage_stats(self) -> StorageStats:
        """How many distinct blocks and bytes the backend holds."""
        count, size = self._backend.blob_stats()
        return StorageStats(count, size)

    def close(self) -> None:
        """Close the backend. The Cloud cannot be used afterwards."""
        self._backend.close()

    def __enter__(self) -> Cloud:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        # The in-process clock, not now(): repr must not touch the backend (it may be closed).
        return f"<Cloud account={self.account_id} now={self._world.clock.now().isoformat()}>"
