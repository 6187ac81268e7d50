"""Deterministic identifiers and key material.

Ids are derived from the world's seed and a counter kept in the backend, so the same calls on the
same seed give the same ids on every run, a rolled-back call consumes no id, and a reopened world
(a durable backend) goes on without collisions.
"""

from __future__ import annotations

import hashlib

from ._store import Store

__all__ = ["IdFactory"]

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


class IdFactory:
    """Makes resource ids with the real prefixes and shapes (``i-bp1…``, ``sl-…``)."""

    def __init__(self, store: Store, seed: int) -> None:
        self._store = store
        self._seed = seed

    def _digest(self, purpose: str, number: int, size: int = 32) -> bytes:
        return hashlib.blake2b(
            f"{self._seed}:{purpose}:{number}".encode(), digest_size=size
        ).digest()

    def new_id(self, prefix: str, infix: str, length: int = 20) -> str:
        """A new id such as ``i-bp1x7c…``: ``prefix`` + ``infix`` + random base-36 characters.

        ``length`` counts the characters after ``prefix`` (infix included), as real ids do.
        """
        number = self._store.next_number("id")
        digest = self._digest("id", number)
        body = "".join(_ALPHABET[b % 36] for b in digest)[: length - len(infix)]
        return f"{prefix}{infix}{body}"

    def new_key_material(self, size: int) -> bytes:
        """Deterministic key material of ``size`` bytes (a simulator's keys, not real secrets)."""
        number = self._store.next_number("key-material")
        return self._digest("key-material", number, 64)[:size]

    def new_nonces(self, amount: int) -> list[bytes]:
        """``amount`` unique 96-bit AES-GCM nonces."""
        first = self._store.next_number("nonce", amount)
        return [(first + i).to_bytes(12, "big") for i in range(amount)]
