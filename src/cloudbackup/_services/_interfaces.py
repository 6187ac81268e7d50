"""The small typed interfaces services offer each other.

A service never calls another service's private methods: it asks the world for the provider of
an interface (``world.provider(KEY_RING, region)``) and uses only what the interface declares.
The provider registers the interface in its :class:`~cloudbackup._world.ServiceSpec`
(``provides=``). These are typing Protocols, so a test double only has to have the methods.
"""

from __future__ import annotations

from typing import Protocol

from .._world import Interface

__all__ = ["KEY_RING", "KeyRing"]


class KeyRing(Protocol):
    """What KMS offers ECS: customer master keys used for envelope encryption of disk data.

    Errors carry the ECS error codes, because ECS is the caller the user sees:
    ``InvalidParameter.KMSKeyId.NotFound``, ``InvalidKMSKeyId.NotSymmetric``,
    ``InvalidParameter.KMSKeyId.CMKNotEnabled``.
    """

    def key_for_encryption(self, key_id: str | None) -> str:
        """The id of the key to encrypt new data with: ``key_id`` (an id, ARN or alias) once
        checked usable, or with ``None`` the region's ECS service key (``alias/acs/ecs``,
        created on first use)."""
        ...

    def check_usable(self, key_id: str) -> None:
        """Raise unless ``key_id`` exists, is symmetric and is ``Enabled``."""
        ...

    def wrap_data_key(self, key_id: str, plaintext: bytes) -> bytes:
        """Encrypt (wrap) a data key under the master key ``key_id``."""
        ...

    def unwrap_data_key(self, key_id: str, ciphertext: bytes) -> bytes:
        """Decrypt (unwrap) a data key; the master key must still exist and be ``Enabled``."""
        ...


KEY_RING: Interface[KeyRing] = Interface("KeyRing")
"""The key ring interface; KMS provides it, per region."""
