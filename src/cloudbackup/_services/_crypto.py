"""Envelope encryption with real ciphers: data keys wrapped by a KMS key, blocks in AES-GCM."""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import StorageBackendError

__all__ = ["decrypt_block", "encrypt_block", "unwrap", "wrap"]

_TAG = 16
_NONCE = 12


def _sm4_gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    body = encryptor.update(plaintext) + encryptor.finalize()
    return body + encryptor.tag


def _sm4_gcm_decrypt(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, sealed[-_TAG:])).decryptor()
    decryptor.authenticate_additional_data(aad)
    return decryptor.update(sealed[:-_TAG]) + decryptor.finalize()


def wrap(key_spec: str, material: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt ``plaintext`` under a CMK's material: ``nonce || ciphertext || tag``."""
    if key_spec == "Aliyun_SM4":
        return nonce + _sm4_gcm_encrypt(material, nonce, plaintext, aad)
    return nonce + AESGCM(material).encrypt(nonce, plaintext, aad)


def unwrap(key_spec: str, material: bytes, blob: bytes, aad: bytes) -> bytes:
    """Decrypt what :func:`wrap` produced; a wrong key or tampering raises."""
    nonce, sealed = blob[:_NONCE], blob[_NONCE:]
    try:
        if key_spec == "Aliyun_SM4":
            return _sm4_gcm_decrypt(material, nonce, sealed, aad)
        return AESGCM(material).decrypt(nonce, sealed, aad)
    except (InvalidTag, ValueError) as exc:  # ValueError: too short for a nonce or a tag
        raise StorageBackendError(
            "Ciphertext failed authentication: wrong key or corrupted data.",
            code="StorageBackend.Corrupt",
            recommend="Check that the data was encrypted under this key.",
        ) from exc


_BLOCK_AAD = b"cloudbackup/block/"


def _block_aad(index: int) -> bytes:
    # The block's index is authenticated too: a sealed block moved to another position (by
    # someone tampering with the backend) fails to open instead of returning wrong data.
    # Blocks are shared by a disk, its snapshots and disks made from them, always at the same
    # index, so the index is the one identity they all agree on.
    return _BLOCK_AAD + index.to_bytes(8, "big")


def encrypt_block(data_key: AESGCM, nonce: bytes, plaintext: bytes, index: int) -> bytes:
    """Seal block ``index`` of a disk with the disk's data key."""
    return nonce + data_key.encrypt(nonce, plaintext, _block_aad(index))


def decrypt_block(data_key: AESGCM, blob: bytes, index: int) -> bytes:
    """Open sealed block ``index``."""
    try:
        return data_key.decrypt(blob[:_NONCE], blob[_NONCE:], _block_aad(index))
    except (InvalidTag, ValueError) as exc:
        raise StorageBackendError(
            "A disk block failed authentication: wrong data key, wrong position or corrupted.",
            code="StorageBackend.Corrupt",
            recommend="The backend's block data is corrupt; restore it from a copy.",
        ) from exc
