"""Envelope encryption with real ciphers: data keys wrapped by a KMS key, pages in AES-GCM, and
the keystream that generated disk content is made of."""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import StorageBackendError

__all__ = [
    "decrypt_block",
    "decrypt_page",
    "encrypt_block",
    "encrypt_page",
    "keystream",
    "open_seed",
    "seal_seed",
    "unwrap",
    "wrap",
]

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


_PAGE_AAD = b"cloudbackup/page/"


def _page_aad(page: int) -> bytes:
    # As for blocks: the page's index is authenticated, so a sealed page moved elsewhere fails.
    # The prefix differs from a block's, so a block-sized blob of an older world can never be
    # taken for a page (or the other way round).
    return _PAGE_AAD + page.to_bytes(8, "big")


def encrypt_page(data_key: AESGCM, nonce: bytes, plaintext: bytes, page: int) -> bytes:
    """Seal page ``page`` (4 KiB) of a disk with the disk's data key."""
    return nonce + data_key.encrypt(nonce, plaintext, _page_aad(page))


def decrypt_page(data_key: AESGCM, blob: bytes, page: int) -> bytes:
    """Open sealed page ``page``."""
    try:
        return data_key.decrypt(blob[:_NONCE], blob[_NONCE:], _page_aad(page))
    except (InvalidTag, ValueError) as exc:
        raise StorageBackendError(
            "A disk page failed authentication: wrong data key, wrong position or corrupted.",
            code="StorageBackend.Corrupt",
            recommend="The backend's block data is corrupt; restore it from a copy.",
        ) from exc


_SEED_AAD = b"cloudbackup/seed"


def seal_seed(data_key: AESGCM, nonce: bytes, seed: int) -> bytes:
    """Seal the seed of generated content on an encrypted disk: ``nonce || ciphertext || tag``.

    The seed *is* the content (anyone holding it regenerates every byte), so on an encrypted
    disk it is stored only sealed under the disk's data key, as a stored page would be.
    """
    return nonce + data_key.encrypt(nonce, seed.to_bytes(8, "big"), _SEED_AAD)


def open_seed(data_key: AESGCM, sealed: bytes) -> int:
    """The seed :func:`seal_seed` sealed."""
    try:
        plain = data_key.decrypt(sealed[:_NONCE], sealed[_NONCE:], _SEED_AAD)
    except (InvalidTag, ValueError) as exc:
        raise StorageBackendError(
            "The seed of generated disk content failed authentication: wrong data key or "
            "corrupted.",
            code="StorageBackend.Corrupt",
            recommend="The backend's block data is corrupt; restore it from a copy.",
        ) from exc
    return int.from_bytes(plain, "big")


_FILL_KEY = b"cloudbackup/fill/v1/"


def keystream(seed: int, offset: int, length: int) -> bytes:
    """Bytes ``[offset, offset + length)`` of the keystream of ``seed``: generated content.

    The keystream is AES-256-CTR over zeros, under the key ``SHA-256("cloudbackup/fill/v1/" ||
    seed as 8 big-endian bytes)``, with the 128-bit big-endian counter starting at 0: byte ``x``
    is byte ``x % 16`` of AES(key, x // 16). Any range is computed directly (the counter is set
    to ``offset // 16``), so the cost is the bytes asked for, never the offset.
    """
    key = hashlib.sha256(_FILL_KEY + seed.to_bytes(8, "big")).digest()
    skip = offset % 16
    counter = (offset // 16).to_bytes(16, "big")
    encryptor = Cipher(algorithms.AES(key), modes.CTR(counter)).encryptor()
    out = encryptor.update(bytes(skip + length)) + encryptor.finalize()
    return out[skip:] if skip else out
