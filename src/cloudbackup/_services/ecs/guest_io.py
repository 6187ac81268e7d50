"""ECS, the guest's data plane (no real API): the bytes a running instance reads and writes.

Part of the layered :class:`~cloudbackup.EcsService`: this layer may use every layer beneath
it (see ``_services/ecs/__init__.py``), never one above.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ... import _validate as v
from ..._domain.ecs import Disk, InstanceStatus
from ..._events import DiskWritten
from ..._regions import Region
from ..._world import World
from ...errors import IncorrectStatusError, InvalidParameterError, OperationDeniedError
from .._base import consistent_read, unit_of_work
from .disks import DiskActions

__all__ = ["FILL_SEED_LIMIT", "GUEST_IO_MAX_BYTES", "GuestIo"]

FILL_SEED_LIMIT = 2**64
"""Seeds of ``fill_disk`` are integers in ``[0, FILL_SEED_LIMIT)``."""

GUEST_IO_MAX_BYTES = 64 * 2**20
"""The most bytes one ``write_disk`` or ``read_disk`` call moves (64 MiB): beyond it the call is
refused (``InvalidParameter.Data`` / ``InvalidParameter.Length``) instead of building the whole
range in memory. Larger transfers are several calls, as a guest's block I/O would be."""


class GuestIo(DiskActions):
    """The guest's data plane (no real API): the bytes a running instance reads and writes."""

    def __init__(self, world: World, region: Region) -> None:
        super().__init__(world, region)
        self._frozen: dict[str, int] = {}
        # The instances whose guest file systems the guest agent has frozen right now
        # (instance id -> the freeze's timeout in seconds). Process state, never stored: a
        # freeze lives inside one call of the guest agent, which thaws before it returns.

    @unit_of_work
    def write_disk(self, disk_id: str, offset: int, data: bytes) -> None:
        """Write ``data`` at byte ``offset`` of a disk, as the guest OS of its instance would.

        The disk must be attached to a ``Running`` instance. Only the 4 KiB pages the range
        covers are touched, so the cost is O(len(data)) whatever the block size. Writing
        zeros frees the pages (disks are sparse). Encrypted disks store only AES-GCM
        ciphertext, and writing needs their KMS key to be ``Enabled``.
        """
        disk = self._disks.get(disk_id)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidParameterError(
                f"data must be bytes, not {type(data).__name__}.",
                code="InvalidParameter.Data",
                recommend="Pass a bytes object.",
            )
        size = memoryview(data).nbytes
        if size > GUEST_IO_MAX_BYTES:
            raise InvalidParameterError(
                f"data of {size} bytes is more than one write moves ({GUEST_IO_MAX_BYTES}).",
                code="InvalidParameter.Data",
                ids=(disk.disk_id,),
                recommend=f"Write at most {GUEST_IO_MAX_BYTES} bytes per call.",
            )
        payload = bytes(data)
        offset, _ = self._check_range(disk, offset, len(payload))
        self._require_guest_io(disk)
        self._require_thawed(disk)
        if not payload:
            return  # nothing written, so no DiskWritten event (the range was still checked)
        world = self._world
        self._maps.write(
            disk.disk_id, offset, payload, self._data_cipher(disk), world.ids.new_nonces
        )
        world.events._emit(
            DiskWritten,
            time=world.now(),
            region_id=self.region_id,
            disk_id=disk.disk_id,
            offset=offset,
            length=len(payload),
        )

    @unit_of_work
    def fill_disk(self, disk_id: str, offset: int, length: int, *, seed: int) -> None:
        """Make bytes ``[offset, offset + length)`` of a disk generated content of ``seed``.

        Generated content is deterministic pseudo-random data defined by the seed alone: byte
        ``x`` of the disk (its absolute offset) is byte ``x`` of the keystream of ``seed``
        (AES-256-CTR; see "Disks are extent maps of pages" in
        ``docs/explanation/architecture.md``), so two fills with one seed at adjacent ranges
        are one continuous stream. The range is described, not stored: the
        cost and the stored bytes are O(1) per call whatever ``length`` (up to the whole
        disk; there is no per-call cap as for ``write_disk``), plus at most two partly
        covered 4 KiB edge pages, which are stored. Reads, snapshots, restores, de-duplication
        and block accounting treat it as any other content. On an encrypted disk the seed is
        stored only sealed under the disk's data key, so reading it needs the KMS key usable.

        Same preconditions as :meth:`write_disk`: attached to a ``Running`` instance, and on
        an encrypted disk its KMS key ``Enabled``. A ``length`` of 0 checks and does nothing.
        """
        disk = self._disks.get(disk_id)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < FILL_SEED_LIMIT:
            raise InvalidParameterError(
                f"seed {seed!r:.60} must be an integer from 0 to 2**64 - 1.",
                code="InvalidParameter.Seed",
                ids=(disk.disk_id,),
                recommend="Pass an integer seed in [0, 2**64).",
            )
        seed = v.exact_int(seed)
        offset, length = self._check_range(disk, offset, length, cap=None)
        self._require_guest_io(disk)
        self._require_thawed(disk)
        if length == 0:
            return
        world = self._world
        self._maps.generate(
            disk.disk_id, offset, length, seed, self._data_cipher(disk), world.ids.new_nonces
        )
        world.events._emit(
            DiskWritten,
            time=world.now(),
            region_id=self.region_id,
            disk_id=disk.disk_id,
            offset=offset,
            length=length,
        )

    @consistent_read
    def read_disk(self, disk_id: str, offset: int, length: int) -> bytes:
        """Read ``length`` bytes at ``offset`` of a disk, as its instance's guest OS would.

        The disk must be attached to a ``Running`` instance; unwritten space reads as zeros.
        It writes nothing, so it opens no unit of work and never waits for a writer.
        """
        disk = self._disks.get(disk_id)
        offset, length = self._check_range(disk, offset, length)
        self._require_guest_io(disk)
        if length == 0:
            return b""
        cipher = self._data_cipher(disk)
        return self._read_blocks(disk.disk_id, offset, length, cipher)

    def _read_blocks(self, disk_id: str, offset: int, length: int, cipher: AESGCM | None) -> bytes:
        return self._maps.read(disk_id, offset, length, cipher)

    def _check_range(
        self, disk: Disk, offset: object, length: object, cap: int | None = GUEST_IO_MAX_BYTES
    ) -> tuple[int, int]:
        """``(offset, length)`` as exact ints, if they are a byte range of at most ``cap``
        bytes (no cap: None) inside ``disk``."""
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidParameterError(
                f"offset {offset!r} must be a non-negative integer.",
                code="InvalidParameter.Offset",
                ids=(disk.disk_id,),
                recommend="Pass a byte offset within the disk.",
            )
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise InvalidParameterError(
                f"length {length!r} must be a non-negative integer.",
                code="InvalidParameter.Length",
                ids=(disk.disk_id,),
                recommend="Pass a byte count.",
            )
        offset, length = v.exact_int(offset), v.exact_int(length)
        if cap is not None and length > cap:
            raise InvalidParameterError(
                f"length {length} is more than one read moves ({cap} bytes).",
                code="InvalidParameter.Length",
                ids=(disk.disk_id,),
                recommend=f"Read at most {cap} bytes per call.",
            )
        if offset + length > disk.size_bytes:
            raise InvalidParameterError(
                f"Bytes {offset}..{offset + length} fall outside disk {disk.disk_id} of "
                f"{disk.size_bytes} bytes ({disk.size} GiB).",
                code="InvalidParameter.OutOfRange",
                ids=(disk.disk_id,),
                recommend="Stay within the disk, or resize_disk it first.",
            )
        return offset, length

    def _require_thawed(self, disk: Disk) -> None:
        """Refuse a guest write while the file systems of an instance the disk is attached to
        are frozen (``fsfreeze``: writes wait for the thaw; here they are refused, as the
        model has no concurrent writer to hold). Reads pass: a freeze blocks only writes."""
        if not self._frozen:
            return
        for attachment in disk.attachments:
            timeout = self._frozen.get(attachment.instance_id)
            if timeout is not None:
                raise OperationDeniedError(
                    f"The file systems of instance {attachment.instance_id} are frozen for an "
                    f"application-consistent snapshot (at most {timeout} s); disk "
                    f"{disk.disk_id} takes no writes until they thaw.",
                    code="OperationDenied.FileSystemFrozen",
                    ids=(disk.disk_id, attachment.instance_id),
                    recommend="Write before the pre-freeze script returns or after the "
                    "snapshot (in the post-thaw script), not while the guest is frozen.",
                )

    def _require_guest_io(self, disk: Disk) -> None:
        if not disk.attachments:
            raise IncorrectStatusError(
                f"Disk {disk.disk_id} is not attached; only a running instance's guest can "
                "read or write it.",
                code="IncorrectDiskStatus",
                ids=(disk.disk_id,),
                recommend="Attach the disk to an instance and start the instance.",
            )
        for attachment in disk.attachments:
            instance = self._instances.find(attachment.instance_id)
            if instance is not None and instance.status is InstanceStatus.Running:
                return
        raise IncorrectStatusError(
            f"No instance that disk {disk.disk_id} is attached to is Running.",
            code="IncorrectInstanceStatus",
            ids=(disk.disk_id, disk.attachments[0].instance_id),
            recommend="Start the instance (and advance virtual time until it is Running).",
        )
