"""The KMS rules of the state machine: keys, their states and deletion, aliases."""

from __future__ import annotations

import datetime as _dt

from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from ..._domain.kms import KeySpec, KeyState
from .. import strategies as cbst
from .base import AIM, PICK, RARELY, MachineBase, all_pages, same
from .model import KeyModel

__all__ = ["KmsRules"]

# The codes KMS answers for a key it cannot manage, and for a state change it refuses.
KEY_NOT_FOUND = "Forbidden.KeyNotFound"
SERVICE_KEY = "Forbidden.NoPermission"
UNEXPECTED_STATE = "Rejected.StateModifiedFailed"
ALIAS_EXISTS = "AliasAlreadyExists"
TARGET_PENDING_DELETION = "Rejected.PendingDeletion"
ALIAS_NOT_FOUND = "Forbidden.AliasNotFound"


class KmsRules(MachineBase):
    """Rules for every KMS call the machine makes, and the KMS agreement check."""

    def _kms_target(
        self, pick: int, elsewhere: bool, pool: list[str]
    ) -> tuple[str, str, KeyModel | None]:
        """A key of ``pool`` and the region to call: its own, or (``elsewhere``) another that
        cannot see it."""
        key_id = self.pick(pool, pick)
        key = self.keys[key_id]
        if elsewhere:
            region = next(r for r in self.REGION_IDS if r != key.region_id)
            return key_id, region, None
        return key_id, key.region_id, key

    def _managed(self, aim: bool, fits: KeyState | None = None) -> list[str]:
        """Keys a user may manage (not service keys), optionally only those in one state."""
        return self.aimed(
            list(self.keys),
            lambda k: not self.keys[k].service and (fits is None or self.keys[k].state is fits),
            aim,
        )

    @staticmethod
    def _manage_problems(key: KeyModel | None) -> set[str]:
        if key is None:
            return {KEY_NOT_FOUND}
        if key.service:
            return {SERVICE_KEY}
        return set()

    @precondition(lambda self: len(self.keys) < self.MAX_KEYS)
    @rule(
        region_pick=PICK,
        spec=st.sampled_from([KeySpec.Aliyun_AES_256, KeySpec.Aliyun_SM4]) | cbst.key_specs(),
    )
    def create_key(self, region_pick: int, spec: KeySpec) -> None:
        """``create_key``: symmetric keys mostly; asymmetric ones cannot encrypt disks."""
        region = self.pick(self.REGION_IDS, region_pick)
        usage = "SIGN/VERIFY" if spec in (KeySpec.EC_P256, KeySpec.EC_P256K) else "ENCRYPT/DECRYPT"
        key = self.kms(region).create_key(key_spec=spec.value, key_usage=usage)
        self.model.keys[key.key_id] = KeyModel(key.key_id, region, spec)
        self.note("create_key: ok")

    @precondition(lambda self: self.keys)
    @rule(pick=PICK, elsewhere=RARELY, enable=st.booleans(), aim=AIM)
    def toggle_key(self, pick: int, elsewhere: bool, enable: bool, aim: bool) -> None:
        """``enable_key`` / ``disable_key`` (refused while pending deletion)."""
        pool = self.aimed(
            self._managed(aim), lambda k: self.keys[k].state is not KeyState.PendingDeletion, aim
        )
        if not pool:
            self.idle("enable_key" if enable else "disable_key")
            return
        key_id, region, key = self._kms_target(pick, elsewhere, pool)
        problems = self._manage_problems(key)
        if key is not None and key.state is KeyState.PendingDeletion:
            problems.add(UNEXPECTED_STATE)
        kms = self.kms(region)
        call = (lambda: kms.enable_key(key_id)) if enable else (lambda: kms.disable_key(key_id))
        if self.ok("enable_key" if enable else "disable_key", problems, call):
            assert key is not None
            key.state = KeyState.Enabled if enable else KeyState.Disabled

    @precondition(lambda self: self.keys)
    @rule(
        pick=PICK, elsewhere=RARELY, days=st.integers(7, 10) | cbst.pending_window_days(), aim=AIM
    )
    def schedule_key_deletion(self, pick: int, elsewhere: bool, days: int, aim: bool) -> None:
        """``schedule_key_deletion``: the key is deleted (with its aliases) after the window."""
        pool = self.aimed(
            self._managed(aim), lambda k: self.keys[k].state is not KeyState.PendingDeletion, aim
        )
        if not pool:
            self.idle("schedule_key_deletion")
            return
        key_id, region, key = self._kms_target(pick, elsewhere, pool)
        problems = self._manage_problems(key)
        if key is not None and key.state is KeyState.PendingDeletion:
            problems.add(UNEXPECTED_STATE)

        def call() -> object:
            return self.kms(region).schedule_key_deletion(key_id, days)

        if self.ok("schedule_key_deletion", problems, call):
            assert key is not None
            key.state = KeyState.PendingDeletion
            key.delete_date = self.now + _dt.timedelta(days=days)

    @precondition(lambda self: self.keys)
    @rule(pick=PICK, elsewhere=RARELY, aim=AIM)
    def cancel_key_deletion(self, pick: int, elsewhere: bool, aim: bool) -> None:
        """``cancel_key_deletion``: back to Enabled."""
        pool = self._managed(aim, KeyState.PendingDeletion)
        if not pool:
            self.idle("cancel_key_deletion")
            return
        key_id, region, key = self._kms_target(pick, elsewhere, pool)
        problems = self._manage_problems(key)
        if key is not None and key.state is not KeyState.PendingDeletion:
            problems.add(UNEXPECTED_STATE)

        def call() -> object:
            return self.kms(region).cancel_key_deletion(key_id)

        if self.ok("cancel_key_deletion", problems, call):
            assert key is not None
            key.state, key.delete_date = KeyState.Enabled, None

    @precondition(lambda self: self.keys)
    @rule(
        pick=PICK,
        name=cbst.alias_names(max_size=12),
        action=st.sampled_from(["create", "update", "delete"]),
        aim=AIM,
    )
    def alias(self, pick: int, name: str, action: str, aim: bool) -> None:
        """``create_alias`` / ``update_alias`` / ``delete_alias``."""
        pool = self._managed(aim)
        if not pool:
            self.idle("alias")
            return
        key_id, region, key = self._kms_target(pick, False, pool)
        kms = self.kms(region)
        exists = (region, name) in self.model.aliases
        if aim and action != "create":
            mine = sorted(n for (r, n) in self.model.aliases if r == region and n.count("/") == 1)
            if mine:
                name, exists = self.pick(mine, pick), True
            else:
                action = "create"
        if action == "delete":
            problems = set() if exists else {ALIAS_NOT_FOUND}
            if self.ok("delete_alias", problems, lambda: kms.delete_alias(name)):
                del self.model.aliases[(region, name)]
            return
        problems = self._manage_problems(key)
        if action == "create" and exists:
            problems.add(ALIAS_EXISTS)
        if key is not None and key.state is KeyState.PendingDeletion:
            # KMS's key-state table: CreateAlias is refused as a failed state change,
            # UpdateAlias by the target key's state.
            problems.add(UNEXPECTED_STATE if action == "create" else TARGET_PENDING_DELETION)
        if action == "update" and not exists:
            problems.add(ALIAS_NOT_FOUND)
        call = kms.create_alias if action == "create" else kms.update_alias
        if self.ok(f"{action}_alias", problems, lambda: call(name, key_id)):
            self.model.aliases[(region, name)] = key_id

    @invariant()
    def kms_matches_model(self) -> None:
        """The KMS ``list_*`` calls show exactly the model's keys, states and aliases."""
        for region in self.REGION_IDS:
            kms = self.kms(region)
            keys = {k.key_id: k.key_state for k in all_pages(kms.list_keys)}
            expected_keys = {k.key_id: k.state for k in self.keys.values() if k.region_id == region}
            same("keys", region, expected_keys, keys)
            aliases = {a.alias_name: a.key_id for a in kms.list_aliases()}
            expected_aliases = {n: k for (r, n), k in self.model.aliases.items() if r == region}
            same("aliases", region, expected_aliases, aliases)
