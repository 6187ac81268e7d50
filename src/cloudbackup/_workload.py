"""Fleet workloads: a seeded, deterministic daily churn of guest writes over many disks.

What-if questions ("what does a year of this policy cost over my fleet?") need disks whose data
changes the way real data does. A :class:`Churn` describes one disk's daily change: how many
bytes, where (:class:`ChurnPattern`: a hot set, uniformly over the disk, or a sequential log),
in ranges of what size, and whether the content is generated (``fill_disk``: described by a
seed, never stored, so a 2 TiB database disk costs O(1) per range) or real bytes
(``write_disk``). A :class:`Workload` applies churns to disks, one virtual day at a time, through
the public ECS guest data plane. Where a day's ranges fall is a pure function of the workload's
seed, the disk id and the day number: the same seed gives the same writes on every run, backend
and process, whatever order the days are run in.
"""

from __future__ import annotations

import enum
import hashlib
import random
from collections.abc import Mapping

import attrs

from ._services.ecs import EcsService
from ._services.ecs.guest_io import GUEST_IO_MAX_BYTES
from .errors import InvalidParameterError, ResourceNotFoundError

__all__ = ["PAGE_BYTES", "Churn", "ChurnPattern", "Workload", "churn_ranges"]

PAGE_BYTES = 4096
"""The granularity of every churn range: offsets and lengths are whole 4 KiB pages."""


class ChurnPattern(str, enum.Enum):
    """Where a disk's daily changes land."""

    HOT_SET = "hot_set"
    """In a fixed region of the disk (``hot_fraction`` of it, placed by the seed): a database's
    hot tables. Each day's ranges are distinct chunk-aligned slots of that region."""
    UNIFORM = "uniform"
    """Anywhere on the disk: distinct chunk-aligned slots chosen uniformly each day."""
    SEQUENTIAL = "sequential"
    """A log: each day continues where the previous day stopped, wrapping at the end of the disk
    (the head starts at a page the seed picks)."""


def _positive_pages(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0 or value % PAGE_BYTES:
        raise InvalidParameterError(
            f"{name} {value!r} must be a positive whole number of 4 KiB pages.",
            code="InvalidParameter.Churn",
            recommend=f"Pass a positive multiple of {PAGE_BYTES}.",
        )
    return int(value)


@attrs.frozen
class Churn:
    """One disk's daily change.

    Attributes:
        pattern: Where the changes land (:class:`ChurnPattern`).
        bytes_per_day: Bytes changed each day: a positive multiple of 4 KiB (and of
            ``chunk_bytes`` when given).
        chunk_bytes: Bytes per written range; ``None`` writes the day's churn as one range.
        hot_fraction: For :attr:`ChurnPattern.HOT_SET`, the share of the disk that is hot
            (``0 < hot_fraction <= 1``).
        generated: ``True`` writes generated content (``fill_disk``, stored as a seed);
            ``False`` writes real bytes (``write_disk``, in calls of at most 64 MiB).

    Raises:
        InvalidParameterError: code ``InvalidParameter.Churn`` for any value outside these rules.
    """

    pattern: ChurnPattern
    bytes_per_day: int
    chunk_bytes: int | None = None
    hot_fraction: float = 0.05
    generated: bool = True

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.pattern, ChurnPattern):
            raise InvalidParameterError(
                f"pattern {self.pattern!r} is not a ChurnPattern.",
                code="InvalidParameter.Churn",
                recommend="Pass ChurnPattern.HOT_SET, UNIFORM or SEQUENTIAL.",
            )
        per_day = _positive_pages("bytes_per_day", self.bytes_per_day)
        if self.chunk_bytes is not None:
            chunk = _positive_pages("chunk_bytes", self.chunk_bytes)
            if per_day % chunk:
                raise InvalidParameterError(
                    f"bytes_per_day {per_day} is not a whole number of chunks of {chunk} bytes.",
                    code="InvalidParameter.Churn",
                    recommend="Make bytes_per_day a multiple of chunk_bytes.",
                )
        fraction = self.hot_fraction
        if (
            isinstance(fraction, bool)
            or not isinstance(fraction, (int, float))
            or not 0 < fraction <= 1
        ):
            raise InvalidParameterError(
                f"hot_fraction {fraction!r} must be a number with 0 < hot_fraction <= 1.",
                code="InvalidParameter.Churn",
                recommend="Pass e.g. 0.05 for a hot set of 5 % of the disk.",
            )
        if not isinstance(self.generated, bool):
            raise InvalidParameterError(
                f"generated {self.generated!r} must be True or False.",
                code="InvalidParameter.Churn",
                recommend="Pass True for generated content, False for real bytes.",
            )

    @property
    def chunk(self) -> int:
        """Bytes per written range."""
        return self.bytes_per_day if self.chunk_bytes is None else self.chunk_bytes


def _rng(*parts: object) -> random.Random:
    # random.Random seeded with a str hashes it with SHA-512: the same on every process.
    return random.Random("/".join(str(p) for p in parts))


def churn_ranges(
    churn: Churn, *, disk_size: int, seed: int, disk_id: str, day: int
) -> tuple[tuple[int, int], ...]:
    """The ``(offset, length)`` ranges a churn writes on ``day``: sorted, disjoint, adjacent
    ranges merged, their lengths summing to ``churn.bytes_per_day``.

    A pure function of its arguments. Raises ``InvalidParameter.Churn`` when the churn does
    not fit the disk (more bytes a day than the disk, or than the hot set, holds).
    """
    chunk = churn.chunk
    if churn.pattern is ChurnPattern.SEQUENTIAL:
        pages = disk_size // PAGE_BYTES
        span = pages * PAGE_BYTES
        if churn.bytes_per_day > span:
            raise _too_much(churn, span, disk_id)
        start = _rng(seed, disk_id, "head").randrange(pages) * PAGE_BYTES
        head = (start + day * churn.bytes_per_day) % span
        end = head + churn.bytes_per_day
        if end <= span:
            return ((head, churn.bytes_per_day),)
        if end - span == head:  # the day covers the whole disk exactly
            return ((0, span),)
        return ((0, end - span), (head, span - head))
    if churn.pattern is ChurnPattern.HOT_SET:
        slots = int(disk_size * churn.hot_fraction) // chunk
        base_slots = disk_size // chunk - slots
        base = _rng(seed, disk_id, "hot").randrange(base_slots + 1) * chunk
    else:
        slots = disk_size // chunk
        base = 0
    count = churn.bytes_per_day // chunk
    if count > slots:
        raise _too_much(churn, slots * chunk, disk_id)
    chosen = sorted(_rng(seed, disk_id, day).sample(range(slots), count))
    merged: list[tuple[int, int]] = []
    for slot in chosen:
        offset = base + slot * chunk
        if merged and merged[-1][0] + merged[-1][1] == offset:
            merged[-1] = (merged[-1][0], merged[-1][1] + chunk)
        else:
            merged.append((offset, chunk))
    return tuple(merged)


def _too_much(churn: Churn, room: int, disk_id: str) -> InvalidParameterError:
    return InvalidParameterError(
        f"A churn of {churn.bytes_per_day} bytes a day in {churn.chunk}-byte ranges does not fit "
        f"the {room} bytes its {churn.pattern.value} pattern has on disk {disk_id}.",
        code="InvalidParameter.Churn",
        ids=(disk_id,),
        recommend="Lower bytes_per_day, or raise hot_fraction, or use a bigger disk.",
    )


class Workload:
    """Applies a :class:`Churn` to each of a set of disks, one virtual day at a time.

    Args:
        ecs: The ECS service of the disks' region.
        churns: ``{disk_id: Churn}``. Disk sizes are read once, here: a disk resized later
            keeps being churned within its old size.
        seed: Decides every range and every byte (with the disk id and the day).
        pool_pages: For real-bytes churns, how many distinct 4 KiB pages the content is drawn
            from (a bounded pool keeps a fleet-year's unique data small, as de-duplicating
            storage would); ``None`` makes every written page new random bytes.

    Raises:
        InvalidParameterError: ``InvalidParameter.Churn`` for a churn that is not a
            :class:`Churn`, does not fit its disk, or a ``pool_pages`` that is not a positive
            int; the ECS codes of ``describe_disks`` for an unknown disk.
    """

    def __init__(
        self,
        ecs: EcsService,
        churns: Mapping[str, Churn],
        *,
        seed: int,
        pool_pages: int | None = 1024,
    ) -> None:
        if pool_pages is not None and (
            isinstance(pool_pages, bool) or not isinstance(pool_pages, int) or pool_pages <= 0
        ):
            raise InvalidParameterError(
                f"pool_pages {pool_pages!r} must be a positive int or None.",
                code="InvalidParameter.Churn",
                recommend="Pass e.g. 1024, or None for all-new content.",
            )
        for disk_id, churn in churns.items():
            if not isinstance(churn, Churn):
                raise InvalidParameterError(
                    f"The churn of disk {disk_id!r} is a {type(churn).__name__}, not a Churn.",
                    code="InvalidParameter.Churn",
                    recommend="Pass cloudbackup.Churn values.",
                )
        self._ecs = ecs
        self._churns = dict(churns)
        self._seed = seed
        self._sizes: dict[str, int] = {}
        ids = list(self._churns)
        for start in range(0, len(ids), 100):
            page = ecs.describe_disks(disk_ids=ids[start : start + 100], page_size=100)
            self._sizes.update((d.disk_id, d.size_bytes) for d in page.items)
        for disk_id in ids:
            if disk_id not in self._sizes:
                raise ResourceNotFoundError(
                    f"The disk {disk_id} does not exist in region {ecs.region_id}.",
                    code="InvalidDiskId.NotFound",
                    ids=(disk_id,),
                    recommend="Churn disks of the ECS service's own region.",
                )
            # Check the churn fits now, not on the first day it runs.
            churn_ranges(
                self._churns[disk_id],
                disk_size=self._sizes[disk_id],
                seed=seed,
                disk_id=disk_id,
                day=0,
            )
        pool_rng = _rng(seed, "pool")
        self._pool = (
            None
            if pool_pages is None
            else [pool_rng.randbytes(PAGE_BYTES) for _ in range(pool_pages)]
        )

    def ranges(self, disk_id: str, day: int) -> tuple[tuple[int, int], ...]:
        """The ``(offset, length)`` ranges :meth:`run_day` writes on ``disk_id`` on ``day``."""
        return churn_ranges(
            self._churns[disk_id],
            disk_size=self._sizes[disk_id],
            seed=self._seed,
            disk_id=disk_id,
            day=day,
        )

    def fill_seed(self, disk_id: str, day: int) -> int:
        """The ``seed`` of the day's ``fill_disk`` calls on a generated-content disk."""
        digest = hashlib.blake2b(f"{self._seed}/{disk_id}/{day}".encode(), digest_size=8)
        return int.from_bytes(digest.digest(), "big")

    def run_day(self, day: int) -> int:
        """Write every disk's churn for ``day`` (disks in the order given); returns the bytes
        written. Each range is one ``fill_disk`` call, or ``write_disk`` calls of at most
        64 MiB; an ECS error (a stopped instance, a disabled key) propagates after the
        ranges before it were written."""
        total = 0
        for disk_id, churn in self._churns.items():
            for offset, length in self.ranges(disk_id, day):
                if churn.generated:
                    self._ecs.fill_disk(disk_id, offset, length, seed=self.fill_seed(disk_id, day))
                else:
                    self._write_real(disk_id, day, offset, length)
                total += length
        return total

    def _write_real(self, disk_id: str, day: int, offset: int, length: int) -> None:
        rng = _rng(self._seed, disk_id, day, offset)
        pool = self._pool
        end = offset + length
        while offset < end:
            size = min(GUEST_IO_MAX_BYTES, end - offset)
            pages = size // PAGE_BYTES
            if pool is None:
                data = rng.randbytes(size)
            else:
                data = b"".join(pool[rng.randrange(len(pool))] for _ in range(pages))
            self._ecs.write_disk(disk_id, offset, data)
            offset += size
