"""Strategies for whole worlds and the data guests write."""

from __future__ import annotations

import string

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ..._cloud import DEFAULT_ACCOUNT_ID, Cloud
from ..._domain.limits import (
    BLOCK_SIZE_MAX,
    BLOCK_SIZE_MIN,
)
from ._common import _as_strategy, _bounded


# -- the world and its data ------------------------------------------------------------------
def block_sizes() -> st.SearchStrategy[int]:
    """``Cloud(block_size=...)`` values: powers of two from 4 KiB to 4 MiB."""
    sizes = []
    size = BLOCK_SIZE_MIN
    while size <= BLOCK_SIZE_MAX:
        sizes.append(size)
        size *= 2
    return st.sampled_from(sizes)


def account_ids() -> st.SearchStrategy[str]:
    """16-digit account ids, as ``Cloud(account_id=...)`` takes."""
    return st.text(st.sampled_from(string.digits), min_size=16, max_size=16) | st.just(
        DEFAULT_ACCOUNT_ID
    )


def clouds(
    *,
    seeds: st.SearchStrategy[int] | None = None,
    block_sizes: st.SearchStrategy[int] | None = None,
    account_ids: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[Cloud]:
    """Fresh, empty :class:`~cloudbackup.Cloud` worlds, each with its own seed.

    Args:
        seeds: Default any integer of 0–2**32-1.
        block_sizes: Default 4 KiB, which keeps data-heavy tests fast; pass
            :func:`cloudbackup.testing.strategies.block_sizes` for all of them.
        account_ids: Default :data:`~cloudbackup.DEFAULT_ACCOUNT_ID`.
    """
    return st.builds(
        lambda seed, block_size, account_id: Cloud(
            seed=seed, block_size=block_size, account_id=account_id
        ),
        st.integers(0, 2**32 - 1) if seeds is None else _as_strategy("seeds", seeds),
        st.just(BLOCK_SIZE_MIN)
        if block_sizes is None
        else _as_strategy("block_sizes", block_sizes),
        st.just(DEFAULT_ACCOUNT_ID)
        if account_ids is None
        else _as_strategy("account_ids", account_ids),
    )


def block_writes(
    *,
    disk_size_bytes: int,
    block_size: int = BLOCK_SIZE_MIN,
    min_size: int = 1,
    max_size: int | None = None,
) -> st.SearchStrategy[tuple[int, bytes]]:
    """``(offset, data)`` pairs a guest can write with ``write_disk``: inside the disk.

    Offsets favour block boundaries and data favours whole blocks, repeated patterns and
    zeros, so that writes overwrite, de-duplicate and free blocks.

    Args:
        disk_size_bytes: The disk's size (or the span of it to write in); required.
        block_size: The world's block size, to aim at block boundaries.
        min_size: Shortest write in bytes (0 allows empty writes).
        max_size: Longest write; default four blocks (at most ``disk_size_bytes``).
    """
    if isinstance(disk_size_bytes, bool) or not isinstance(disk_size_bytes, int):
        raise InvalidArgument(f"disk_size_bytes={disk_size_bytes!r} must be an integer.")
    if disk_size_bytes < 1:
        raise InvalidArgument(f"disk_size_bytes={disk_size_bytes} must be positive.")
    _bounded("block_size", block_size, 1, 2**40)
    high = min(4 * block_size, disk_size_bytes) if max_size is None else max_size
    _bounded("block_writes max_size", high, 0, disk_size_bytes)
    _bounded("block_writes min_size", min_size, 0, high)

    @st.composite
    def build(draw: st.DrawFn) -> tuple[int, bytes]:
        nice = [n for n in (1, block_size, 2 * block_size) if min_size <= n <= high]
        lengths = st.integers(min_size, high)
        length = draw(st.sampled_from(nice) | lengths if nice else lengths)
        room = disk_size_bytes - length
        offset = draw(
            st.integers(0, room // block_size).map(lambda b: b * block_size) | st.integers(0, room)
        )
        style = draw(st.sampled_from(["random", "fill", "zeros", "pattern"]))
        if style == "zeros":
            data = bytes(length)
        elif style == "fill":
            data = bytes([draw(st.integers(0, 255))]) * length
        elif style == "random" and length <= 512:
            data = draw(st.binary(min_size=length, max_size=length))
        else:
            seed = draw(st.binary(min_size=1, max_size=64))
            data = (seed * (length // len(seed) + 1))[:length]
        return offset, data

    return build()


def fill_requests(
    *,
    disk_size_bytes: int,
    max_length: int | None = None,
) -> st.SearchStrategy[tuple[int, int, int]]:
    """``(offset, length, seed)`` triples a guest can pass to ``fill_disk``: inside the disk.

    Offsets and lengths favour 4 KiB page boundaries and ranges a few bytes off them (so that
    fills have whole pages and partly covered edge pages), and seeds come mostly from a few
    small values, so that fills of one seed meet and join, as well as from the whole range
    ``[0, 2**64)``.

    Args:
        disk_size_bytes: The disk's size (or the span of it to fill in); required.
        max_length: Longest fill in bytes; default the whole span.
    """
    if isinstance(disk_size_bytes, bool) or not isinstance(disk_size_bytes, int):
        raise InvalidArgument(f"disk_size_bytes={disk_size_bytes!r} must be an integer.")
    if disk_size_bytes < 1:
        raise InvalidArgument(f"disk_size_bytes={disk_size_bytes} must be positive.")
    high = disk_size_bytes if max_length is None else max_length
    _bounded("fill_requests max_length", high, 1, disk_size_bytes)
    page = 4096

    def near_pages(limit: int) -> st.SearchStrategy[int]:
        pages = st.integers(0, limit // page).map(lambda p: p * page)
        nudged = st.tuples(pages, st.integers(-3, 3)).map(lambda t: t[0] + t[1])
        return (pages | nudged | st.integers(0, limit)).filter(lambda n: 0 <= n <= limit)

    @st.composite
    def build(draw: st.DrawFn) -> tuple[int, int, int]:
        length = draw(near_pages(high).filter(lambda n: n >= 1))
        offset = draw(near_pages(disk_size_bytes - length))
        seed = draw(st.integers(0, 3) | st.integers(0, 2**64 - 1))
        return offset, length, seed

    return build()
