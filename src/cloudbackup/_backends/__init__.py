"""Storage backends: the protocol and the implementations that ship with cloudbackup."""

from ._memory import InMemoryBackend
from ._protocol import StorageBackend, clear_partition, count, get_many, read_snapshot, scan_range
from ._sqlite import SqliteBackend

__all__ = [
    "InMemoryBackend",
    "SqliteBackend",
    "StorageBackend",
    "clear_partition",
    "count",
    "get_many",
    "read_snapshot",
    "scan_range",
]
