"""Cloud Backup, the service itself: OpenHbrService, CheckRole, and what the first binding of
an ECS instance sets up (the service-linked role, the ECS snapshot service).

Activation is per account, as the real service's is: ``open_hbr_service`` in any region opens
Cloud Backup in every region, and the role and the snapshot service are the account's. The
state is one :class:`~cloudbackup.HbrAccount` record.

Part of the layered :class:`~cloudbackup.HbrService` (see ``_services/hbr/__init__.py``).
"""

from __future__ import annotations

import hashlib

import attrs

from ... import _validate as v
from ..._domain.hbr import (
    HbrAccount,
    HbrServiceOpened,
    ServiceLinkedRoleCreated,
    SnapshotServiceActivated,
)
from .._base import consistent_read, unit_of_work
from ._core import ECS_BACKUP_ROLE, HbrCore

__all__ = ["CHECK_ROLE_TYPES", "ROLE_OF_TYPE", "AccountActions"]

CHECK_ROLE_TYPES = (
    "EcsRole",
    "CsgRole",
    "NasRole",
    "OssRole",
    "UdmRole",
    "VMwareLocalRole",
    "VMwareCloudRole",
    "EcsBackupRole",
    "OtsRole",
    "CrossAccountRole",
)
"""``CheckRoleType`` values of ``CheckRole``."""

ROLE_OF_TYPE = {"UdmRole": ECS_BACKUP_ROLE}
"""The role each ``CheckRoleType`` asks about, for the types this model creates roles for."""


class AccountActions(HbrCore):
    """OpenHbrService, CheckRole."""

    @unit_of_work
    def open_hbr_service(self) -> str:
        """``OpenHbrService``: activate Cloud Backup for the account (free).

        Returns:
            The ``OrderId``. Opening an opened service returns the first order's id and changes
            nothing.
        """
        account = self._account()
        if account.order_id is not None:
            return account.order_id
        token = self._world.ids.new_id("", "", 12)
        order_id = "2" + str(int(hashlib.sha256(token.encode()).hexdigest(), 16))[:14]
        now = self._world.now()
        self._put_account(attrs.evolve(account, order_id=order_id, opened_time=now))
        self._world.events._emit(
            HbrServiceOpened, time=now, region_id=self.region_id, order_id=order_id
        )
        return order_id

    @consistent_read
    def check_role(self, check_role_type: str) -> bool:
        """``CheckRole``: whether the service-linked role of ``check_role_type`` exists.

        Args:
            check_role_type: ``UdmRole`` asks about ``AliyunServiceRoleForHbrEcsBackup``
                (ECS instance backup), which the first ``create_policy_bindings`` creates; the
                other documented types name roles this model never creates (always ``False``).
        """
        kind = v.choice("CheckRoleType", check_role_type, CHECK_ROLE_TYPES, code="BadRequest")
        account = self._require_open()
        role = ROLE_OF_TYPE.get(kind)
        return role is not None and role in account.roles

    def _activate_for_ecs(self, account: HbrAccount) -> None:
        """On the first binding of an ECS instance: create the service-linked role and
        activate the ECS snapshot service, each once per account, as records and events."""
        now = self._world.now()
        emit = self._world.events._emit
        changed = account
        if ECS_BACKUP_ROLE not in account.roles:
            changed = attrs.evolve(changed, roles=(*changed.roles, ECS_BACKUP_ROLE))
            emit(
                ServiceLinkedRoleCreated,
                time=now,
                region_id=self.region_id,
                role_name=ECS_BACKUP_ROLE,
            )
        if account.snapshot_service_activated_time is None:
            changed = attrs.evolve(changed, snapshot_service_activated_time=now)
            emit(SnapshotServiceActivated, time=now, region_id=self.region_id)
        if changed != account:
            self._put_account(changed)

    @consistent_read
    def describe_hbr_account(self) -> HbrAccount:
        """The account's Cloud Backup state (a console view: activation, roles, the snapshot
        service); readable before activation."""
        return self._account()
