"""KMS: keys, aliases, key states and real envelope encryption, per region."""

from __future__ import annotations

import base64
import datetime as _dt
from typing import Any

import attrs

from .. import _validate as v
from .._backends._protocol import storable
from .._domain.kms import Alias, KeySpec, KeyState, KeyUsage, KmsKey
from .._domain.requests import Page
from .._engine import Timer
from .._events import (
    AliasCreated,
    AliasDeleted,
    AliasUpdated,
    KeyCreated,
    KeyDeleted,
    KeyStateChanged,
)
from .._store import damaged_value, raw_kind
from .._world import Scope, ServiceSpec, register_service
from ..errors import (
    InvalidParameterError,
    KmsKeyError,
    OperationDeniedError,
    ResourceNotFoundError,
    StorageBackendError,
)
from . import _crypto
from ._base import RegionalService, unit_of_work
from ._interfaces import KEY_RING, KeyRing

__all__ = ["ACTION_DELETE_KEY", "ECS_SERVICE_ALIAS", "KEY_ALIASES", "SPEC", "KmsService"]

#: The alias of the per-region service key that ECS uses when no key is named.
ECS_SERVICE_ALIAS = "alias/acs/ecs"

ACTION_DELETE_KEY = "kms.delete_key"

KEY_ALIASES = raw_kind("kms.key_aliases")
"""Raw kind: partition = ``region|key id``, key = alias name, value True: each key's aliases,
so that listing them (and deleting them with their key) reads only that key's aliases."""

# KMS documents no per-parameter codes: every malformed parameter is the plain
# ``InvalidParameter`` (400) of its common error table; the message names the parameter.
_INVALID = "InvalidParameter"


class KmsService(RegionalService):
    """Key Management Service of one region: ``cloud.kms("cn-hangzhou")``.

    Methods are the real API actions in snake_case. Keys live in their region: a key id from
    another region is not found here.
    """

    # -- keys ----------------------------------------------------------------------------
    @unit_of_work
    def create_key(
        self,
        *,
        key_spec: str = "Aliyun_AES_256",
        key_usage: str = "ENCRYPT/DECRYPT",
        description: str = "",
        protection_level: str = "SOFTWARE",
    ) -> KmsKey:
        """``CreateKey``: a new customer master key, ``Enabled``.

        Args:
            key_spec: ``Aliyun_AES_256`` (default), ``Aliyun_SM4``, or an asymmetric spec
                (``RSA_2048``, ``EC_P256``, ``EC_P256K``, ``EC_SM2``) that cannot encrypt disks.
            key_usage: ``ENCRYPT/DECRYPT`` or ``SIGN/VERIFY`` (asymmetric specs only).
            description: Free text, up to 8,192 characters.
            protection_level: ``SOFTWARE`` or ``HSM``.

        Returns:
            The new key's metadata.
        """
        spec = v.enum_value("KeySpec", key_spec, KeySpec, code=_INVALID)
        usage = v.enum_value("KeyUsage", key_usage, KeyUsage, code=_INVALID)
        description = v.text("Description", description, 0, 8192, code=_INVALID)
        protection_level = v.choice(
            "ProtectionLevel", protection_level, ("SOFTWARE", "HSM"), code=_INVALID
        )
        if spec.symmetric and usage is not KeyUsage.ENCRYPT_DECRYPT:
            raise InvalidParameterError(
                f"A {spec.value} key can only be used for ENCRYPT/DECRYPT.",
                code=_INVALID,
                recommend="Use KeyUsage='ENCRYPT/DECRYPT' with symmetric keys.",
            )
        if spec in (KeySpec.EC_P256, KeySpec.EC_P256K) and usage is not KeyUsage.SIGN_VERIFY:
            raise InvalidParameterError(
                f"A {spec.value} key can only be used for SIGN/VERIFY.",
                code=_INVALID,
                recommend="Use KeyUsage='SIGN/VERIFY', or RSA_2048/EC_SM2 to encrypt.",
            )
        return self._new_key(spec, usage, description, protection_level, service=False)

    def _new_key(
        self,
        spec: KeySpec,
        usage: KeyUsage,
        description: str,
        protection_level: str,
        *,
        service: bool,
    ) -> KmsKey:
        world = self._world
        key_id = world.ids.new_id("key-", self.region.id_infix, 21)
        size = 16 if spec is KeySpec.Aliyun_SM4 else 32
        key = KmsKey(
            key_id=key_id,
            region_id=self.region_id,
            arn=f"acs:kms:{self.region_id}:{world.account_id}:key/{key_id}",
            key_spec=spec,
            key_usage=usage,
            key_state=KeyState.Enabled,
            creation_date=world.now(),
            creator="Ecs" if service else world.account_id,
            description=description,
            protection_level=protection_level,
            service_key=service,
            material=world.ids.new_key_material(size),
        )
        world.store.put(KmsKey, self.region_id, key_id, key)
        world.events._emit(
            KeyCreated,
            time=world.now(),
            region_id=self.region_id,
            key_id=key_id,
            key_spec=spec.value,
            service_key=service,
        )
        return key

    def describe_key(self, key_id: str) -> KmsKey:
        """``DescribeKey``: a key's metadata, by key id, ARN or alias name."""
        return self._resolve(key_id)

    def list_keys(self, *, page_number: int = 1, page_size: int = 10) -> Page[KmsKey]:
        """``ListKeys``: the region's keys, a page at a time (``PageSize`` 1–100)."""
        number = v.integer("PageNumber", page_number, 1, 2**31 - 1, code=_INVALID)
        size = v.integer("PageSize", page_size, 1, 100, code=_INVALID)
        store = self._world.store
        with store.reading():  # the region's keys in id order: the page and those before it
            total = store.raw_count(KmsKey.KIND, self.region_id)
            entries = store.raw_range(KmsKey.KIND, self.region_id, limit=number * size)
        keys: list[KmsKey] = []
        for key_id, value in entries[(number - 1) * size :]:
            if not isinstance(value, KmsKey):
                raise damaged_value(KmsKey.KIND, self.region_id, key_id, value, "a KmsKey")
            keys.append(value)
        return Page(tuple(keys), total, number, size)

    @unit_of_work
    def enable_key(self, key_id: str) -> None:
        """``EnableKey``: a ``Disabled`` key becomes ``Enabled``."""
        key = self._manageable(key_id)
        if key.key_state is KeyState.PendingDeletion:
            raise self._unexpected_state(key, "enable")
        self._set_state(key, KeyState.Enabled)

    @unit_of_work
    def disable_key(self, key_id: str) -> None:
        """``DisableKey``: the key can no longer encrypt or decrypt until enabled again."""
        key = self._manageable(key_id)
        if key.key_state is KeyState.PendingDeletion:
            raise self._unexpected_state(key, "disable")
        self._set_state(key, KeyState.Disabled)

    @unit_of_work
    def schedule_key_deletion(self, key_id: str, pending_window_in_days: int) -> None:
        """``ScheduleKeyDeletion``: delete the key after 7–366 days; unusable meanwhile."""
        key = self._manageable(key_id)
        days = v.integer(
            "PendingWindowInDays",
            pending_window_in_days,
            7,
            366,
            code=_INVALID,
        )
        if key.key_state is KeyState.PendingDeletion:
            raise self._unexpected_state(key, "schedule deletion of")
        due = self._world.now() + _dt.timedelta(days=days)
        self._set_state(key, KeyState.PendingDeletion, delete_date=due)
        self._world.engine.schedule(due, ACTION_DELETE_KEY, self.region_id, key.key_id)

    @unit_of_work
    def cancel_key_deletion(self, key_id: str) -> None:
        """``CancelKeyDeletion``: a key pending deletion goes back to ``Enabled``."""
        key = self._manageable(key_id)
        if key.key_state is not KeyState.PendingDeletion:
            raise self._unexpected_state(key, "cancel deletion of")
        self._set_state(key, KeyState.Enabled, delete_date=None)
        self._world.engine.cancel_for(ACTION_DELETE_KEY, self.region_id, key.key_id)

    # -- aliases -------------------------------------------------------------------------
    @unit_of_work
    def create_alias(self, alias_name: str, key_id: str) -> Alias:
        """``CreateAlias``: ``alias/…`` (not ``alias/acs…``, reserved) pointing at a key."""
        name = self._check_alias_name(alias_name)
        key = self._manageable(key_id)
        if self._world.store.get(Alias, self.region_id, name) is not None:
            raise OperationDeniedError(
                f"The alias {name} already exists in {self.region_id}.",
                code="AliasAlreadyExists",
                http_status=400,
                ids=(name,),
                recommend="Choose another alias name, or update_alias to repoint it.",
            )
        if key.key_state is KeyState.PendingDeletion:
            raise self._unexpected_state(key, "alias")
        return self._put_alias(name, key)

    @unit_of_work
    def update_alias(self, alias_name: str, key_id: str) -> Alias:
        """``UpdateAlias``: point an existing alias at another key."""
        name = self._check_alias_name(alias_name)
        self._alias(name)
        key = self._manageable(key_id)
        if key.key_state is KeyState.PendingDeletion:
            # Only the target key's state matters, and KMS names it (not StateModifiedFailed).
            raise KmsKeyError(
                f"Cannot point {name} at {key.key_id}: the key is PendingDeletion.",
                code="Rejected.PendingDeletion",
                http_status=409,
                ids=(key.key_id, name),
                recommend="Cancel the key's deletion (cancel_key_deletion) or pick another key.",
            )
        return self._put_alias(name, key, AliasUpdated)

    @unit_of_work
    def delete_alias(self, alias_name: str) -> None:
        """``DeleteAlias``."""
        name = self._check_alias_name(alias_name)
        alias = self._alias(name)
        self._world.store.delete(Alias, self.region_id, name)
        self._world.store.raw_delete(KEY_ALIASES, self._aliases_of(alias.key_id), name)
        self._world.events._emit(
            AliasDeleted, time=self._world.now(), region_id=self.region_id, alias_name=name
        )

    def list_aliases(self) -> list[Alias]:
        """``ListAliases``: every alias of the region, sorted by name."""
        return self._world.store.scan(Alias, self.region_id)

    def list_aliases_by_key_id(self, key_id: str) -> list[Alias]:
        """``ListAliasesByKeyId``: the key's aliases, sorted by name (reads only those)."""
        key = self._resolve(key_id)
        store = self._world.store
        names = [name for name, _ in store.raw_scan(KEY_ALIASES, self._aliases_of(key.key_id))]
        found = (store.get(Alias, self.region_id, name) for name in names)
        return [alias for alias in found if alias is not None]

    # -- cryptographic operations ----------------------------------------------------------
    @unit_of_work
    def encrypt(self, key_id: str, plaintext: bytes) -> str:
        """``Encrypt``: up to 6 KiB of ``plaintext`` under a symmetric key; base64 ciphertext."""
        if not isinstance(plaintext, bytes) or not 1 <= len(plaintext) <= 6144:
            raise InvalidParameterError(
                "Plaintext must be 1 to 6,144 bytes.",
                code=_INVALID,
                recommend="Encrypt larger data with a data key from generate_data_key.",
            )
        key = self._usable_for_crypto(key_id)
        (nonce,) = self._world.ids.new_nonces(1)
        sealed = _crypto.wrap(
            key.key_spec.value, key.material, nonce, plaintext, key.key_id.encode()
        )
        return base64.b64encode(key.key_id.encode() + b"\x00" + sealed).decode()

    def decrypt(self, ciphertext_blob: str) -> bytes:
        """``Decrypt``: the plaintext of a blob from :meth:`encrypt` (its key must be usable)."""
        try:
            raw = base64.b64decode(ciphertext_blob, validate=True)
            key_id, sealed = raw.split(b"\x00", 1)
            key_text = key_id.decode()
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            raise InvalidParameterError(
                "CiphertextBlob is not a ciphertext produced by KMS.",
                code=_INVALID,
                recommend="Pass the CiphertextBlob exactly as Encrypt returned it.",
            ) from exc
        key = self._usable_for_crypto(key_text)
        try:
            return _crypto.unwrap(key.key_spec.value, key.material, sealed, key.key_id.encode())
        except StorageBackendError as exc:
            raise InvalidParameterError(
                "CiphertextBlob failed authentication: it was altered or is not from KMS.",
                code=_INVALID,
                ids=(key.key_id,),
                recommend="Pass the CiphertextBlob exactly as Encrypt returned it.",
            ) from exc

    # -- internals behind the key ring (KmsKeyRing) ----------------------------------------
    def _service_key(self) -> KmsKey:
        """The region's ECS service key, created on first use."""
        alias = self._world.store.get(Alias, self.region_id, ECS_SERVICE_ALIAS)
        if alias is not None:
            key = self._world.store.get(KmsKey, self.region_id, alias.key_id)
            assert key is not None
            return key
        key = self._new_key(
            KeySpec.Aliyun_AES_256,
            KeyUsage.ENCRYPT_DECRYPT,
            "Default service key for ECS",
            "SOFTWARE",
            service=True,
        )
        self._put_alias(ECS_SERVICE_ALIAS, key)
        return key

    def _key_for_ecs(self, key_id: str | None) -> KmsKey:
        """The key ECS should encrypt with: the named one, or the service key.

        Raises the ECS error codes: ``InvalidParameter.KMSKeyId.NotFound``,
        ``InvalidKMSKeyId.NotSymmetric``, ``InvalidParameter.KMSKeyId.CMKNotEnabled``.
        """
        if key_id is None:
            return self._service_key()
        v.text("KMSKeyId", key_id, 1, 2048, code="InvalidParameter.KMSKeyId")
        try:
            key = self._resolve(key_id)
        except ResourceNotFoundError:
            raise KmsKeyError(
                f"The KMS key {key_id} does not exist in {self.region_id}.",
                code="InvalidParameter.KMSKeyId.NotFound",
                http_status=404,
                ids=(key_id,),
                recommend="KMS keys are regional: use a key created in this region.",
            ) from None
        if not key.key_spec.symmetric:
            raise KmsKeyError(
                f"The KMS key {key.key_id} is {key.key_spec.value}; disks need a symmetric key.",
                code="InvalidKMSKeyId.NotSymmetric",
                http_status=400,
                ids=(key.key_id,),
                recommend="Use an Aliyun_AES_256 or Aliyun_SM4 key.",
            )
        self._check_enabled_for_ecs(key)
        return key

    def _check_enabled_for_ecs(self, key: KmsKey) -> None:
        if key.key_state is not KeyState.Enabled:
            raise KmsKeyError(
                f"The KMS key {key.key_id} is {key.key_state.value}, not Enabled.",
                code="InvalidParameter.KMSKeyId.CMKNotEnabled",
                ids=(key.key_id,),
                recommend=(
                    "Enable the key (enable_key) or cancel its deletion (cancel_key_deletion)."
                ),
            )

    def _seal_data_key(self, key: KmsKey, plaintext: bytes) -> bytes:
        (nonce,) = self._world.ids.new_nonces(1)
        return _crypto.wrap(key.key_spec.value, key.material, nonce, plaintext, b"datakey")

    def _open_data_key(self, kms_key_id: str, ciphertext: bytes) -> bytes:
        """Unwrap a disk's data key; the CMK must still exist and be Enabled."""
        key = self._world.store.get(KmsKey, self.region_id, kms_key_id)
        if key is None:
            raise KmsKeyError(
                f"The KMS key {kms_key_id} that protects this data no longer exists.",
                code="InvalidParameter.KMSKeyId.NotFound",
                http_status=404,
                ids=(kms_key_id,),
                recommend="The key was deleted; data encrypted under it cannot be recovered.",
            )
        self._check_enabled_for_ecs(key)
        return _crypto.unwrap(key.key_spec.value, key.material, ciphertext, b"datakey")

    def _resolve(self, key_id: object) -> KmsKey:
        if not isinstance(key_id, str) or not key_id:
            raise InvalidParameterError(
                f"KeyId {key_id!r} is not valid.",
                code=_INVALID,
                recommend="Pass a key id, key ARN or alias name.",
            )
        key_id = lookup = v.exact_str(key_id)
        prefix = f"acs:kms:{self.region_id}:{self._world.account_id}:"
        if lookup.startswith(prefix):
            lookup = lookup[len(prefix) :]
            if lookup.startswith("key/"):
                lookup = lookup[4:]
        if lookup.startswith("alias/"):
            alias = self._world.store.get(Alias, self.region_id, lookup)
            if alias is None:
                raise self._not_found(key_id)
            lookup = alias.key_id
        key = self._world.store.get(KmsKey, self.region_id, lookup)
        if key is None:
            raise self._not_found(key_id)
        return key

    def _not_found(self, key_id: str) -> ResourceNotFoundError:
        return ResourceNotFoundError(
            f"The key {key_id} does not exist in {self.region_id}.",
            code="Forbidden.KeyNotFound",
            ids=(key_id,),
            recommend="Check the key id and region; keys never leave the region they live in.",
        )

    def _manageable(self, key_id: str) -> KmsKey:
        key = self._resolve(key_id)
        if key.service_key:
            raise OperationDeniedError(
                f"{key.key_id} is a service key: it can be viewed and used, not managed.",
                code="Forbidden.NoPermission",
                ids=(key.key_id,),
                recommend="Create a customer master key (create_key) to manage it yourself.",
            )
        return key

    def _usable_for_crypto(self, key_id: str) -> KmsKey:
        key = self._resolve(key_id)
        if key.key_usage is not KeyUsage.ENCRYPT_DECRYPT or not key.key_spec.symmetric:
            raise KmsKeyError(
                f"The key {key.key_id} cannot be used to encrypt data here.",
                code="UnsupportedOperation",
                http_status=400,
                ids=(key.key_id,),
                recommend="Use a symmetric ENCRYPT/DECRYPT key.",
            )
        if key.key_state is not KeyState.Enabled:
            raise KmsKeyError(
                f"The key {key.key_id} is {key.key_state.value}.",
                code=f"Rejected.{key.key_state.value}",
                http_status=409,
                ids=(key.key_id,),
                recommend="Enable the key or cancel its deletion first.",
            )
        return key

    def _unexpected_state(self, key: KmsKey, verb: str) -> OperationDeniedError:
        return OperationDeniedError(
            f"Cannot {verb} {key.key_id}: it is {key.key_state.value}.",
            code="Rejected.StateModifiedFailed",
            http_status=409,
            ids=(key.key_id,),
            recommend="Check the key's KeyState with describe_key first.",
        )

    def _set_state(self, key: KmsKey, state: KeyState, **changes: Any) -> None:
        world = self._world
        world.store.put(
            KmsKey, self.region_id, key.key_id, attrs.evolve(key, key_state=state, **changes)
        )
        if key.key_state is not state:
            world.events._emit(
                KeyStateChanged,
                time=world.now(),
                region_id=self.region_id,
                key_id=key.key_id,
                old_state=key.key_state.value,
                new_state=state.value,
            )

    def _check_alias_name(self, alias_name: object) -> str:
        name = v.text("AliasName", alias_name, 7, 255, code=_INVALID)
        if not name.startswith("alias/") or name.startswith("alias/acs"):
            raise InvalidParameterError(
                f"The alias {name!r} is not valid: it must start with 'alias/' and must not "
                "start with the reserved 'alias/acs'.",
                code=_INVALID,
                ids=(name,),
                recommend="Use a name like 'alias/my-disk-key'.",
            )
        if not storable(name):
            raise InvalidParameterError(
                f"The alias {name!r} is not valid: it holds a lone surrogate, which is not "
                "Unicode text.",
                code=_INVALID,
                ids=(name.encode("utf-8", "backslashreplace").decode(),),
                recommend="Use a name of valid Unicode text, like 'alias/my-disk-key'.",
            )
        return name

    def _aliases_of(self, key_id: str) -> str:
        """The partition of :data:`KEY_ALIASES` that lists ``key_id``'s aliases."""
        return f"{self.region_id}|{key_id}"

    def _alias(self, name: str) -> Alias:
        alias = self._world.store.get(Alias, self.region_id, name)
        if alias is None:
            raise ResourceNotFoundError(
                f"The alias {name} does not exist in {self.region_id}.",
                code="Forbidden.AliasNotFound",
                ids=(name,),
                recommend="List aliases with list_aliases.",
            )
        return alias

    def _put_alias(
        self, name: str, key: KmsKey, event: type[AliasCreated | AliasUpdated] = AliasCreated
    ) -> Alias:
        world = self._world
        alias = Alias(
            alias_name=name,
            key_id=key.key_id,
            region_id=self.region_id,
            alias_arn=f"acs:kms:{self.region_id}:{world.account_id}:{name}",
        )
        old = world.store.get(Alias, self.region_id, name)
        if old is not None:
            world.store.raw_delete(KEY_ALIASES, self._aliases_of(old.key_id), name)
        world.store.put(Alias, self.region_id, name, alias)
        world.store.raw_put(KEY_ALIASES, self._aliases_of(key.key_id), name, True)
        world.events._emit(
            event,
            time=world.now(),
            region_id=self.region_id,
            alias_name=name,
            key_id=key.key_id,
        )
        return alias

    def _on_delete_due(self, timer: Timer) -> None:
        world = self._world
        key = world.store.get(KmsKey, timer.region_id, timer.target_id)
        if key is None or key.key_state is not KeyState.PendingDeletion:
            return  # deletion was cancelled
        if key.delete_date != timer.due:
            return  # rescheduled; a later timer owns it
        for alias in self.list_aliases_by_key_id(key.key_id):
            world.store.delete(Alias, self.region_id, alias.alias_name)
            world.store.raw_delete(KEY_ALIASES, self._aliases_of(key.key_id), alias.alias_name)
            world.events._emit(
                AliasDeleted,
                time=world.now(),
                region_id=self.region_id,
                alias_name=alias.alias_name,
            )
        world.store.delete(KmsKey, self.region_id, key.key_id)
        world.events._emit(
            KeyDeleted, time=world.now(), region_id=self.region_id, key_id=key.key_id
        )


class KmsKeyRing:
    """The :class:`~cloudbackup._services._interfaces.KeyRing` KMS offers ECS in its region."""

    def __init__(self, kms: KmsService) -> None:
        self._kms = kms

    def key_for_encryption(self, key_id: str | None) -> str:
        """The key to encrypt new data with (the named one, or the ECS service key)."""
        return self._kms._key_for_ecs(key_id).key_id

    def check_usable(self, key_id: str) -> None:
        """Raise unless the key exists, is symmetric and is ``Enabled``."""
        self._kms._key_for_ecs(key_id)

    def wrap_data_key(self, key_id: str, plaintext: bytes) -> bytes:
        """Wrap a data key under the master key ``key_id`` (checked usable first)."""
        return self._kms._seal_data_key(self._kms._key_for_ecs(key_id), plaintext)

    def unwrap_data_key(self, key_id: str, ciphertext: bytes) -> bytes:
        """Unwrap a data key; the master key must still exist and be ``Enabled``."""
        return self._kms._open_data_key(key_id, ciphertext)


def _key_ring(kms: KmsService) -> KeyRing:
    return KmsKeyRing(kms)


SPEC = register_service(
    ServiceSpec(
        name="kms",
        cls=KmsService,
        scope=Scope.REGIONAL,
        timers={ACTION_DELETE_KEY: KmsService._on_delete_due},
        provides={KEY_RING: _key_ring},
    )
)
