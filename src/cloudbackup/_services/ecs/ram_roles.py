"""ECS, instance RAM roles: AttachInstanceRamRole, DetachInstanceRamRole,
DescribeInstanceRamRole.

Part of the layered :class:`~cloudbackup.EcsService`: this layer may use every layer beneath
it (see ``_services/ecs/__init__.py``), never one above.

There is no RAM service in the model: every well-formed role name (1 to 64 letters, digits,
periods and hyphens, as RAM's ``CreateRole`` allows) is taken to name an existing role that
trusts ECS. A malformed name cannot name a role, so it is ``InvalidRamRole.NotFound``, as the
real call answers for a role that does not exist.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import attrs

from ... import _validate as v
from ..._domain.guest import (
    RAM_ROLE_NAME,
    InstanceRamRoleResponse,
    InstanceRamRoleResult,
    InstanceRamRoleSet,
)
from ..._domain.requests import Page
from ...errors import InvalidParameterError, ResourceNotFoundError
from ._core import INSTANCE_RAM_ROLES
from ._requests import ecs_action
from .tags import TagActions

__all__ = [
    "MAX_RAM_ROLE_INSTANCES",
    "RAM_ROLE_PAGE_SIZE_MAX",
    "RamRoleActions",
    "check_ram_role_name",
]

MAX_RAM_ROLE_INSTANCES = 100
"""``InstanceIds`` of the three actions: at most 100 instance ids per call."""
RAM_ROLE_PAGE_SIZE_MAX = 50
"""``DescribeInstanceRamRole`` ``PageSize``: 1 to 50 (default 10)."""
POLICY_MAX = 1024
"""``AttachInstanceRamRole`` ``Policy``: 1 to 1,024 characters."""

ALREADY_ATTACHED = "InvalidRamRole.AlreadyAttached"
"""⚠ Inferred per-instance code: the instance already has a RAM role (the real call refuses
a second one, code not documented)."""
NOT_ATTACHED = "InvalidRamRole.NotAttached"
"""⚠ Inferred per-instance code: the instance has no RAM role, or not the one named."""


def check_ram_role_name(value: object, *, name: str = "RamRoleName") -> str:
    """``value`` as an exact str if it can name a RAM role, else ``InvalidRamRole.NotFound``."""
    if isinstance(value, str):
        value = v.exact_str(value)
    if not isinstance(value, str) or not RAM_ROLE_NAME.fullmatch(value):
        raise ResourceNotFoundError(
            f"The specified {name} {v._shown(value)} does not exist: a RAM role name is 1 to "
            "64 letters, digits, periods and hyphens.",
            code="InvalidRamRole.NotFound",
            recommend="Name an existing RAM role, e.g. 'AliyunECSInstanceForHbrRole'.",
        )
    return value


def _instance_ids(value: object, *, required: bool) -> tuple[str, ...]:
    ids = v.id_list(
        "InstanceIds",
        value,
        max_items=MAX_RAM_ROLE_INSTANCES,
        code="InvalidInstanceIds.Malformed",
    )
    if required and not ids:
        raise InvalidParameterError(
            "InstanceIds must name 1 to 100 instances.",
            code="InvalidInstanceIds.Malformed",
            recommend="Pass instance_ids=['i-...', ...] with 1 to 100 ids.",
        )
    return ids


class RamRoleActions(TagActions):
    """Instance RAM roles: AttachInstanceRamRole, DetachInstanceRamRole,
    DescribeInstanceRamRole. An instance has at most one role."""

    @ecs_action("AttachInstanceRamRole")
    def attach_instance_ram_role(
        self, instance_ids: Sequence[str], ram_role_name: str, *, policy: str | None = None
    ) -> InstanceRamRoleResponse:
        """``AttachInstanceRamRole``: give instances an instance RAM role.

        Every id must name an instance of the region (else ``InvalidInstanceId.NotFound``,
        nothing changes). An instance that already has a role keeps it: its result fails
        with ``InvalidRamRole.AlreadyAttached`` (⚠ inferred code) and ``fail_count`` counts
        it, while the others get the role, as the real call reports per instance.

        Args:
            instance_ids: ``InstanceIds``: 1 to 100 instance ids.
            ram_role_name: ``RamRoleName``; any well-formed name is taken to exist.
            policy: ``Policy``: an extra policy document of 1 to 1,024 characters that narrows
                the role's permissions. It is checked and not evaluated (no RAM here).
        """
        ids = _instance_ids(instance_ids, required=True)
        role = check_ram_role_name(ram_role_name)
        if policy is not None:
            v.text("Policy", policy, 1, POLICY_MAX, code="InvalidParameter.Policy")
        instances = [self._instances.get(i) for i in ids]
        results: list[InstanceRamRoleResult] = []
        for instance in instances:
            if instance.ram_role_name is not None:
                results.append(
                    InstanceRamRoleResult(
                        instance_id=instance.instance_id,
                        code=ALREADY_ATTACHED,
                        message=f"The instance already has the RAM role "
                        f"{instance.ram_role_name}; detach it first (detach_instance_ram_role).",
                        success=False,
                        ram_role_name=instance.ram_role_name,
                    )
                )
                continue
            self._instances.put(attrs.evolve(instance, ram_role_name=role), old=instance)
            results.append(
                InstanceRamRoleResult(
                    instance_id=instance.instance_id,
                    code="200",
                    message="success",
                    success=True,
                    ram_role_name=role,
                )
            )
        return _response(role, results)

    @ecs_action("DetachInstanceRamRole")
    def detach_instance_ram_role(
        self, instance_ids: Sequence[str], ram_role_name: str | None = None
    ) -> InstanceRamRoleResponse:
        """``DetachInstanceRamRole``: take instances' RAM role away.

        Every id must name an instance of the region (else ``InvalidInstanceId.NotFound``,
        nothing changes). An instance without a role, or (when ``ram_role_name`` is given)
        with another one, is left as it is and its result fails with
        ``InvalidRamRole.NotAttached`` (⚠ inferred code).

        Args:
            instance_ids: ``InstanceIds``: 1 to 100 instance ids.
            ram_role_name: ``RamRoleName``: only detach this role (None: whichever is attached).
        """
        ids = _instance_ids(instance_ids, required=True)
        role = None if ram_role_name is None else check_ram_role_name(ram_role_name)
        instances = [self._instances.get(i) for i in ids]
        results: list[InstanceRamRoleResult] = []
        for instance in instances:
            current = instance.ram_role_name
            if current is None or (role is not None and current != role):
                what = "no RAM role" if current is None else f"the RAM role {current}"
                results.append(
                    InstanceRamRoleResult(
                        instance_id=instance.instance_id,
                        code=NOT_ATTACHED,
                        message=f"The instance has {what}, not {role or 'a role'} to detach.",
                        success=False,
                        ram_role_name=current,
                    )
                )
                continue
            self._instances.put(attrs.evolve(instance, ram_role_name=None), old=instance)
            results.append(
                InstanceRamRoleResult(
                    instance_id=instance.instance_id,
                    code="200",
                    message="success",
                    success=True,
                    ram_role_name=current,
                )
            )
        return _response(role, results)

    def describe_instance_ram_role(
        self,
        *,
        instance_ids: Sequence[str] | None = None,
        ram_role_name: str | None = None,
        page_number: int = 1,
        page_size: int = 10,
    ) -> Page[InstanceRamRoleSet]:
        """``DescribeInstanceRamRole``: which role each instance has, or which instances
        have a role.

        At least one of ``instance_ids`` and ``ram_role_name`` is required
        (``InvalidParameter.AllEmpty``). Named instances must exist
        (``InvalidInstanceId.NotFound``); those without a role (or with another role than
        ``ram_role_name``) are not listed. By role name alone, only the instances that have
        that role are read. Items come in instance id order.

        Args:
            instance_ids: ``InstanceIds``: up to 100 instance ids.
            ram_role_name: ``RamRoleName``: list the instances this role is attached to.
            page_number: ``PageNumber`` from 1.
            page_size: ``PageSize`` 1 to 50 (default 10).
        """
        number, size = v.page(page_number, page_size, max_size=RAM_ROLE_PAGE_SIZE_MAX)
        ids = _instance_ids(instance_ids, required=False)
        role = None if ram_role_name is None else check_ram_role_name(ram_role_name)
        if not ids and role is None:
            raise InvalidParameterError(
                "Specify at least one of InstanceIds and RamRoleName.",
                code="InvalidParameter.AllEmpty",
                http_status=403,
                recommend="Pass instance_ids=[...] or ram_role_name=...",
            )
        with self._world.store.reading():
            if ids:
                found = [self._instances.get(i) for i in ids]
                sets = sorted(
                    (
                        InstanceRamRoleSet(i.instance_id, i.ram_role_name)
                        for i in found
                        if i.ram_role_name is not None and (role is None or i.ram_role_name == role)
                    ),
                    key=lambda s: s.instance_id,
                )
                start = (number - 1) * size
                return Page(tuple(sets[start : start + size]), len(sets), number, size)
            assert role is not None
            partition = json.dumps([self.region_id, role])
            store = self._world.store
            total = store.raw_count(INSTANCE_RAM_ROLES.kind, partition)
            start = (number - 1) * size
            if start >= total:
                return Page((), total, number, size)
            # The entries up to the end of the page, in id order: the work follows the page.
            entries = store.raw_range(INSTANCE_RAM_ROLES.kind, partition, limit=start + size)
            members = self._instances.named_or_all([str(k) for k, _ in entries[start:]])
            items = tuple(InstanceRamRoleSet(i.instance_id, role) for i in members)
            return Page(items, total, number, size)


def _response(role: str | None, results: list[InstanceRamRoleResult]) -> InstanceRamRoleResponse:
    return InstanceRamRoleResponse(
        ram_role_name=role,
        total_count=len(results),
        fail_count=sum(1 for r in results if not r.success),
        results=tuple(results),
    )
