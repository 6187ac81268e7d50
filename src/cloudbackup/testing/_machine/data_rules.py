"""The state machine's rules for the guest data plane beyond ``write_disk`` and ``read_disk``:
generated content (``fill_disk``) and writes that straddle 4 KiB page edges.

The model keeps each disk's first ``WRITE_SPAN`` bytes as a ``bytearray``; a fill changes them
to the seed's keystream (:func:`cloudbackup._services._crypto.keystream`) at their absolute
offsets, so every later read, snapshot, restore and reset is held to the same bytes.
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from ..._services._crypto import keystream
from .. import strategies as cbst
from .base import AIM, PICK, MachineBase
from .ecs_request_rules import EcsRequestRules

__all__ = ["DataRules"]

_PAGE = 4096


class DataRules(EcsRequestRules):
    """Every ECS rule plus generated content and page-straddling writes."""

    @precondition(lambda self: self.disks)
    @rule(
        pick=PICK,
        fill=cbst.fill_requests(disk_size_bytes=MachineBase.WRITE_SPAN),
        aim=AIM,
    )
    def fill_disk(self, pick: int, fill: tuple[int, int, int], aim: bool) -> None:
        """A guest fills a range with generated content; the model's bytes become the seed's
        keystream there."""
        pool = self.aimed(
            list(self.disks), lambda d: not self.model.io_problems(self.disks[d]), aim
        )
        if not pool:
            self.idle("fill_disk")
            return
        disk_id = self.pick(pool, pick)
        disk = self.disks[disk_id]
        offset, length, seed = fill
        problems = self.model.io_problems(disk, length)

        def call() -> object:
            return self.ecs(disk.region_id).fill_disk(disk_id, offset, length, seed=seed)

        if self.ok("fill_disk", problems, call) and length:
            disk.data[offset : offset + length] = keystream(seed, offset, length)
            if disk.key_id is not None:
                self.note("filled an encrypted disk")

    @precondition(lambda self: self.disks)
    @rule(
        pick=PICK,
        page=st.integers(1, MachineBase.WRITE_SPAN // _PAGE - 1),
        before=st.integers(1, 64),
        after=st.integers(0, _PAGE + 64),
        byte=st.integers(0, 255),
        aim=AIM,
    )
    def write_across_a_page_edge(
        self, pick: int, page: int, before: int, after: int, byte: int, aim: bool
    ) -> None:
        """A guest writes a few bytes either side of a page edge (a partial-page
        read-modify-write on both pages)."""
        pool = self.aimed(
            list(self.disks), lambda d: not self.model.io_problems(self.disks[d]), aim
        )
        if not pool:
            self.idle("write_across_a_page_edge")
            return
        disk_id = self.pick(pool, pick)
        disk = self.disks[disk_id]
        offset = page * _PAGE - before
        data = bytes([byte]) * min(before + after, self.WRITE_SPAN - offset)
        problems = self.model.io_problems(disk)

        def call() -> object:
            return self.ecs(disk.region_id).write_disk(disk_id, offset, data)

        if self.ok("write_disk", problems, call):
            disk.data[offset : offset + len(data)] = data
