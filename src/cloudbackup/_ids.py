"""Deterministic identifiers and key material.

Ids are derived from the world's seed and a counter kept in the backend, so the same calls on the
same seed give the same ids on every run, a rolled-back call consumes no id, and a reopened world
(a durable backend) goes on without collisions.

An id's characters are the BLAKE2b digest of ``"{seed}:id:{number}"``, each byte taken modulo
36 into ``0-9a-z``. The hash of the constant prefix is computed once and copied for each id, and
the bytes are mapped by one ``bytes.translate``: the same values as hashing the whole text and
mapping byte by byte, at a fraction of the cost.
"""

from __future__ import annotations

import hashlib

from ._store import Store

__all__ = ["Counter", "IdFactory"]

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
# Byte b -> the ASCII code of _ALPHABET[b % 36], for bytes.translate.
_BASE36 = bytes(ord(_ALPHABET[b % 36]) for b in range(256))


class Counter:
    """One of the world's counters (``Store.next_number``'s records) under its name.

    :class:`~cloudbackup._store.Store` keeps the next value in memory and writes the record once
    per unit of work, so the counter is durable, rolled back with the unit (or savepoint) that
    advanced it, and read again after a rollback or another process's commit.
    """

    __slots__ = ("_name", "_next_number", "_store")

    def __init__(self, store: Store, name: str) -> None:
        self._store = store
        self._name = name
        self._next_number = store.next_number

    def take(self, amount: int = 1) -> int:
        """Reserve ``amount`` consecutive numbers (inside a unit of work); returns the first."""
        return self._next_number(self._name, amount)

    def peek(self) -> int:
        """The next number :meth:`take` would return (reads the stored counter if need be)."""
        return self._store.peek_number(self._name)


class IdFactory:
    """Makes resource ids with the real prefixes and shapes (``i-bp1…``, ``sl-…``)."""

    def __init__(self, store: Store, seed: int) -> None:
        self._store = store
        self._seed = seed
        self._ids = Counter(store, "id")
        # The hash state after the constant prefix of each purpose, copied per number.
        self._id_prefix = hashlib.blake2b(f"{seed}:id:".encode(), digest_size=32)
        self._key_prefix = hashlib.blake2b(f"{seed}:key-material:".encode(), digest_size=64)

    def new_id(self, prefix: str, infix: str, length: int = 20) -> str:
        """A new id such as ``i-bp1x7c…``: ``prefix`` + ``infix`` + random base-36 characters.

        ``length`` counts the characters after ``prefix`` (infix included), as real ids do.
        """
        number = self._ids.take()
        digest = self._id_prefix.copy()
        digest.update(b"%d" % number)
        body = digest.digest().translate(_BASE36)[: length - len(infix)].decode("ascii")
        return f"{prefix}{infix}{body}"

    def new_key_material(self, size: int) -> bytes:
        """Deterministic key material of ``size`` bytes (a simulator's keys, not real secrets)."""
        number = self._store.next_number("key-material")
        digest = self._key_prefix.copy()
        digest.update(b"%d" % number)
        return digest.digest()[:size]

    def new_nonces(self, amount: int) -> list[bytes]:
        """``amount`` unique 96-bit AES-GCM nonces."""
        first = self._store.next_number("nonce", amount)
        return [(first + i).to_bytes(12, "big") for i in range(amount)]
