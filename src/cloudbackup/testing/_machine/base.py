"""What every rule set of the state machine shares: the world, the model, checked calls, time.

:class:`MachineBase` owns the world under test and the reference :class:`~.model.Model`, runs
each call through :meth:`MachineBase.attempt` (which holds it to the model's prediction and
records the outcome as a Hypothesis ``event``), moves virtual time, and checks after every step
that the world keeps its invariants and agrees with the model. It reads the world only through
public calls: the ``describe_*`` methods, guest reads, and :func:`~cloudbackup.testing.world_state`
and :func:`~cloudbackup.testing.check_invariants`. Each service's rules live in a rule set that
subclasses it (:mod:`.ecs_rules`, :mod:`.kms_rules`); a new service adds its own.
"""

from __future__ import annotations

import collections
import datetime as _dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, TypeVar

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ... import Cloud, EcsService, EventRetention, KmsService, Limits, Timings
from ...errors import CloudBackupError
from .._invariants import check_invariants, world_state
from .model import DiskModel, InstanceModel, KeyModel, Model, SnapshotModel

__all__ = ["AIM", "PICK", "RARELY", "REJECTED", "MachineBase"]

T = TypeVar("T")

PICK = st.integers(0, 2**16)
"""Which of a pool of resources a rule uses (newest first)."""
RARELY = st.sampled_from([False] * 7 + [True])
"""A flag for the deliberately odd variant of a call (an id that is gone, another region)."""
AIM = st.sampled_from([True, True, True, True, False])
"""True: pick resources in the state the call needs, so it should succeed; False (one in
five): pick any resource, so the call is often refused."""


class _Rejected:
    """What :meth:`MachineBase.attempt` returns for a call that was refused."""


REJECTED = _Rejected()


class MachineBase(RuleBasedStateMachine):
    """The world under test, its reference model, checked calls, time and the invariants."""

    #: Regions the machine works in (at least two, so cross-region ids are exercised).
    REGION_IDS: Sequence[str] = ("cn-hangzhou", "cn-shanghai")
    #: How many zones of each region it uses.
    ZONES_PER_REGION: int = 2
    #: The world's block size.
    BLOCK_SIZE: int = 4096
    #: Guests write only in the first ``WRITE_SPAN`` bytes of a disk.
    WRITE_SPAN: int = 64 * 1024
    #: The world's seed.
    SEED: int = 0
    #: Small limits, so that every quota is reached in short runs.
    LIMITS: Limits = Limits(
        manual_snapshots_per_disk=5,
        data_disks_per_instance=4,
        snapshot_group_max_disks=4,
        multi_attach_max_instances=2,
    )
    #: Snapshot uploads of any size take exactly ``snapshot_base``, so the model knows when a
    #: standard snapshot completes.
    TIMINGS: Timings = Timings(snapshot_throughput=10**18)
    #: How much of the event log the world keeps (None: the default retention). Set a small
    #: one to run every rule against a log that drops events all the time.
    EVENT_RETENTION: EventRetention | None = None
    #: At most this many instances, disks (counting instances' disks) and keys are created,
    #: so that runs build deep histories on a few resources rather than many shallow ones.
    MAX_INSTANCES: int = 8
    MAX_DISKS: int = 24
    MAX_KEYS: int = 10
    #: Set to a ``collections.Counter`` to count every rule's outcomes across a whole run
    #: (the same labels as the Hypothesis ``event`` statistics).
    OUTCOMES: ClassVar[collections.Counter[str] | None] = None

    def __init__(self) -> None:
        super().__init__()
        self.cloud = self.make_cloud()
        self.model = Model(
            account_id=self.cloud.account_id,
            limits=self.LIMITS,
            timings=self.TIMINGS,
            now=self.cloud.now(),
            write_span=self.WRITE_SPAN,
        )

    def make_cloud(self) -> Cloud:
        """The world under test; override to use another backend."""
        return Cloud(
            seed=self.SEED,
            block_size=self.BLOCK_SIZE,
            timings=self.TIMINGS,
            limits=self.LIMITS,
            event_retention=self.EVENT_RETENTION,
        )

    def teardown(self) -> None:
        """Close the world's backend."""
        self.cloud.close()

    # -- the model's resources, by their documented names --------------------------------------
    @property
    def now(self) -> _dt.datetime:
        """Where the model's clock stands."""
        return self.model.now

    @property
    def instances(self) -> dict[str, InstanceModel]:
        """The model's instances by id."""
        return self.model.instances

    @property
    def disks(self) -> dict[str, DiskModel]:
        """The model's disks by id (with their expected bytes)."""
        return self.model.disks

    @property
    def snapshots(self) -> dict[str, SnapshotModel]:
        """The model's snapshots by id (with the bytes each would restore)."""
        return self.model.snapshots

    @property
    def keys(self) -> dict[str, KeyModel]:
        """The model's KMS keys by id."""
        return self.model.keys

    # -- the world ---------------------------------------------------------------------------
    def ecs(self, region_id: str) -> EcsService:
        """The ECS service of a region of the world under test."""
        return self.cloud.ecs(region_id)

    def kms(self, region_id: str) -> KmsService:
        """The KMS service of a region of the world under test."""
        return self.cloud.kms(region_id)

    def zones(self, region_id: str) -> tuple[str, ...]:
        """The zones of a region the machine uses."""
        return self.cloud.regions[region_id].zones[: self.ZONES_PER_REGION]

    # -- checked calls -----------------------------------------------------------------------
    def note(self, label: str) -> None:
        """Record something that happened (a Hypothesis ``event``, and :attr:`OUTCOMES`)."""
        event(label)
        if self.OUTCOMES is not None:
            self.OUTCOMES[label] += 1

    def attempt(self, what: str, problems: set[str], call: Callable[[], T]) -> T | _Rejected:
        """Run ``call`` (the rule ``what``); it must succeed when ``problems`` is empty, else
        fail with one of them and change nothing."""
        if not problems:
            result = call()
            self.note(f"{what}: ok")
            return result
        before = world_state(self.cloud)
        try:
            call()
        except CloudBackupError as exc:
            if exc.code not in problems:
                raise AssertionError(
                    f"{what}: expected one of {sorted(problems)}, got {exc.code}: {exc}"
                ) from exc
            after = world_state(self.cloud)
            if before != after:
                raise AssertionError(
                    f"rejected call ({exc.code}) changed the world:\n{before.difference(after)}"
                ) from exc
            self.note(f"{what}: rejected")
            self.note(f"{what}: rejected with {exc.code}")
            return REJECTED
        raise AssertionError(
            f"{what}: call succeeded; the model expected one of {sorted(problems)}"
        )

    def ok(self, what: str, problems: set[str], call: Callable[[], object]) -> bool:
        """:meth:`attempt`, answering whether the call succeeded."""
        return not isinstance(self.attempt(what, problems, call), _Rejected)

    def dry_run(self, what: str, problems: set[str], call: Callable[[], object]) -> None:
        """A ``dry_run=True`` call: refused like the real call would be, and when it would
        succeed it raises ``DryRunOperation``, as the real API does; either way nothing
        changes."""
        if problems:
            self.attempt(what, problems, call)
            return
        before = world_state(self.cloud)
        try:
            call()
        except CloudBackupError as exc:
            if exc.code != "DryRunOperation":
                raise AssertionError(f"{what}: dry run refused with {exc.code}: {exc}") from exc
        else:
            raise AssertionError(
                f"{what}: a dry run that would succeed returned instead of raising DryRunOperation"
            )
        after = world_state(self.cloud)
        if before != after:
            raise AssertionError(
                f"{what}: a dry run changed the world:\n{before.difference(after)}"
            )
        self.note(f"{what}: dry run ok")

    @staticmethod
    def pick(items: Iterable[T], pick: int) -> T:
        """One of ``items``, newest first: Hypothesis favours small numbers, so recent
        resources get picked most and a run builds long histories on a few of them."""
        pool = list(items)
        return pool[-1 - pick % len(pool)]

    def id_or_gone(self, kind: str, items: Iterable[str], pick: int, gone: bool) -> str:
        """An id from ``items`` or, with ``gone`` (or nothing else to pick), one that existed
        once."""
        pool = list(items)
        if (gone or not pool) and self.model.gone[kind]:
            return self.pick(self.model.gone[kind], pick)
        return self.pick(pool, pick)

    def aimed(self, pool: Sequence[T], fits: Callable[[T], bool], aim: bool) -> list[T]:
        """With ``aim``, the members of ``pool`` that ``fits`` (maybe none); else all."""
        if not aim:
            return list(pool)
        return [item for item in pool if fits(item)]

    def idle(self, what: str) -> None:
        """Record that an aimed rule found nothing in the state its call needs (and made no
        call: a refusal is tested by the rule's other picks)."""
        self.note(f"{what}: nothing in the right state")

    # -- reading the world through public calls -----------------------------------------------
    def check_disk_bytes(self, disk: DiskModel) -> bool:
        """Compare a disk's bytes with the model's through a guest read, when a guest can
        read it now; answers whether it could."""
        if self.model.io_problems(disk, self.WRITE_SPAN):
            return False
        actual = self.ecs(disk.region_id).read_disk(disk.disk_id, 0, self.WRITE_SPAN)
        if actual != bytes(disk.data):
            raise AssertionError(f"disk {disk.disk_id} does not hold the expected bytes")
        return True

    # -- time --------------------------------------------------------------------------------
    @rule(
        delta=st.one_of(
            st.sampled_from([1, 10, 30, 60, 300, 3600, 43200, 86400, 3 * 86400, 40 * 86400]),
            st.integers(1, 4 * 86400),
        )
    )
    def advance_time(self, delta: int) -> None:
        """Move virtual time forward (seconds to weeks); every due event fires."""
        self.cloud.advance(_dt.timedelta(seconds=delta))
        for happened in self.model.advance(self.cloud.now()):
            self.note(happened)
        self.time_moved()

    def time_moved(self) -> None:
        """Called after virtual time moved and the model followed: a rule set whose service
        acts on timers (Cloud Backup's schedules) learns here what they did."""

    # -- invariants --------------------------------------------------------------------------
    @invariant()
    def world_invariants_hold(self) -> None:
        """Every invariant of the whole world (:func:`check_invariants`)."""
        check_invariants(self.cloud)

    @invariant()
    def contents_match_model(self) -> None:
        """Every disk a guest can read holds exactly the model's bytes."""
        for disk in self.model.disks.values():
            self.check_disk_bytes(disk)

    @invariant()
    def clock_matches_model(self) -> None:
        """The world's clock is the model's."""
        if self.cloud.now() != self.model.now:
            raise AssertionError(f"clock {self.cloud.now()} but model {self.model.now}")


def all_pages(method: Callable[..., Any]) -> list[Any]:
    """Every item of a paged ``describe_*``/``list_*`` call."""
    out: list[Any] = []
    number = 1
    while True:
        page = method(page_number=number, page_size=100)
        items = page.items
        out.extend(items)
        if len(out) >= page.total_count or not items:
            return out
        number += 1


def same(what: str, region: str, expected: object, actual: object) -> None:
    """Fail when the world's view of something differs from the model's."""
    if expected != actual:
        raise AssertionError(f"{what} in {region}: model {expected!r}, world {actual!r}")
