"""Storage backends: the protocol and the implementations that ship with cloudbackup."""

from ._memory import InMemoryBackend
from ._protocol import StorageBackend, clear_partition, count, get_many

__all__ = ["InMemoryBackend", "StorageBackend", "clear_partition", "count", "get_many"]
