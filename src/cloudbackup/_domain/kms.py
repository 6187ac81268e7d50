"""KMS domain: keys and aliases."""

from __future__ import annotations

import datetime as _dt
import enum
from typing import ClassVar

import attrs

from .._typenames import stored_as

__all__ = [
    "ALIAS_NAME_MAX",
    "ALIAS_NAME_MIN",
    "PENDING_WINDOW_MAX",
    "PENDING_WINDOW_MIN",
    "Alias",
    "KeySpec",
    "KeyState",
    "KeyUsage",
    "KmsKey",
]

PENDING_WINDOW_MIN, PENDING_WINDOW_MAX = 7, 366
"""``PendingWindowInDays`` of ``ScheduleKeyDeletion``: 7–366 days."""
ALIAS_NAME_MIN, ALIAS_NAME_MAX = 7, 255
"""``AliasName``: 7–255 characters, ``alias/`` included."""


@stored_as("kms.KeySpec")
class KeySpec(str, enum.Enum):
    """``KeySpec`` of a KMS key. Only the symmetric ones can encrypt disks and snapshots."""

    Aliyun_AES_256 = "Aliyun_AES_256"
    Aliyun_SM4 = "Aliyun_SM4"
    RSA_2048 = "RSA_2048"
    EC_P256 = "EC_P256"
    EC_P256K = "EC_P256K"
    EC_SM2 = "EC_SM2"

    @property
    def symmetric(self) -> bool:
        """Whether keys of this spec are symmetric."""
        return self in (KeySpec.Aliyun_AES_256, KeySpec.Aliyun_SM4)


@stored_as("kms.KeyUsage")
class KeyUsage(str, enum.Enum):
    """``KeyUsage`` of a KMS key."""

    ENCRYPT_DECRYPT = "ENCRYPT/DECRYPT"
    SIGN_VERIFY = "SIGN/VERIFY"


@stored_as("kms.KeyState")
class KeyState(str, enum.Enum):
    """``KeyState`` of a KMS key."""

    Enabled = "Enabled"
    Disabled = "Disabled"
    PendingDeletion = "PendingDeletion"
    PendingImport = "PendingImport"


@stored_as("kms.KmsKey")
@attrs.frozen
class KmsKey:
    """A KMS key (``DescribeKey`` ``KeyMetadata``)."""

    KIND: ClassVar[str] = "kms.key"

    key_id: str
    region_id: str
    arn: str
    """``acs:kms:{region}:{account}:key/{key_id}``."""
    key_spec: KeySpec
    key_usage: KeyUsage
    key_state: KeyState
    creation_date: _dt.datetime
    creator: str
    """The account id, or the service name for a service key."""
    description: str = ""
    origin: str = "Aliyun_KMS"
    protection_level: str = "SOFTWARE"
    delete_date: _dt.datetime | None = None
    """When a key pending deletion will be deleted."""
    material_expire_time: _dt.datetime | None = None
    service_key: bool = False
    """A service key (``alias/acs/ecs``): usable, viewable, but not manageable."""
    material: bytes = attrs.field(default=b"", repr=False)
    """Key material (deterministic: this is a simulator, not a vault)."""


@stored_as("kms.Alias")
@attrs.frozen
class Alias:
    """A KMS alias (``ListAliases`` item)."""

    KIND: ClassVar[str] = "kms.alias"

    alias_name: str
    """``alias/…``."""
    key_id: str
    region_id: str
    alias_arn: str
