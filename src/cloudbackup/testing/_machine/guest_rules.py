"""The state machine's rules for the guest side of instances: instance RAM roles and the guest
agent's application-consistent sequence.

The model of roles is a map instance id -> role name kept here (roles change nothing else the
model knows). The sequence's scripts write through the guest, so the model's disk bytes follow
what a script wrote; a write inside the snapshot callback must be refused exactly while the
guest is frozen.
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from ..._domain.ecs import InstanceStatus
from ..._domain.guest import ConsistentLevel, DowngradeReason
from ..._regions import get_region
from ..._services._interfaces import GUEST_AGENT
from ...errors import OperationDeniedError
from .base import AIM, PICK, RARELY
from .data_rules import DataRules
from .model import NOT_FOUND

__all__ = ["GuestRules"]

ROLES = ("AliyunECSInstanceForHbrRole", "AliyunECSBackupRole")
"""The role names the machine attaches (the first is the one its backups name)."""
PRE, POST = "/tmp/prescript.sh", "/tmp/postscript.sh"
TIMEOUT = 30
SCRIPT_SPAN = 16
"""Bytes ``[0, 16)`` are what the pre-freeze script writes, ``[16, 32)`` what the snapshot
callback tries to write."""


class GuestRules(DataRules):
    """Every ECS rule plus instance RAM roles and the application-consistent sequence."""

    @property
    def ram_roles(self) -> dict[str, str]:
        """The model of roles: instance id -> the RAM role attached to it."""
        roles: dict[str, str] = self.__dict__.setdefault("_ram_roles", {})
        return roles

    @precondition(lambda self: self.instances)
    @rule(pick=PICK, role=st.sampled_from([ROLES[0], ROLES[0], ROLES[1]]), gone=RARELY)
    def attach_instance_ram_role(self, pick: int, role: str, gone: bool) -> None:
        """``attach_instance_ram_role``: an instance with a role keeps it (a failed result)."""
        instance_id = self.id_or_gone("instance", list(self.instances), pick, gone)
        if instance_id not in self.instances:
            region = self.REGION_IDS[0]
            problems = {NOT_FOUND["instance"]}
        else:
            region, problems = self.instances[instance_id].region_id, set()
        response = self.attempt(
            "attach_instance_ram_role",
            problems,
            lambda: self.ecs(region).attach_instance_ram_role([instance_id], role),
        )
        if problems:
            return
        had = instance_id in self.ram_roles
        [result] = response.results  # type: ignore[union-attr]
        expected = ("InvalidRamRole.AlreadyAttached", False) if had else ("200", True)
        if expected != (result.code, result.success):
            raise AssertionError(f"attach to {instance_id}: {result} but the model had {had}")
        if not had:
            self.ram_roles[instance_id] = role

    @precondition(lambda self: self.instances)
    @rule(pick=PICK, named=st.booleans())
    def detach_instance_ram_role(self, pick: int, named: bool) -> None:
        """``detach_instance_ram_role``: only an instance with (that) role loses it."""
        instance_id = self.pick(list(self.instances), pick)
        region = self.instances[instance_id].region_id
        role = ROLES[0] if named else None
        response = self.ecs(region).detach_instance_ram_role([instance_id], role)
        current = self.ram_roles.get(instance_id)
        detaches = current is not None and (role is None or current == role)
        if detaches != (response.fail_count == 0):
            raise AssertionError(f"detach from {instance_id}: {response}, model {current}")
        if detaches:
            del self.ram_roles[instance_id]
        self.note(f"detach_instance_ram_role: {'ok' if detaches else 'not attached'}")

    @precondition(lambda self: self.instances)
    @rule(
        pick=PICK,
        aim=AIM,
        writers=st.booleans(),
        freeze=st.booleans(),
        installed=st.sampled_from(["both", "both", "both", "pre", "post", "none"]),
        fails=RARELY,
        seconds=st.sampled_from([0, 1, TIMEOUT, TIMEOUT + 1]),
        byte=st.integers(1, 255),
    )
    def app_consistent_sequence(
        self,
        pick: int,
        aim: bool,
        writers: bool,
        freeze: bool,
        installed: str,
        fails: bool,
        seconds: int,
        byte: int,
    ) -> None:
        """The guest agent's sequence around a callback that tries to write: the level and
        reason follow the role, status and scripts; the guest is thawed afterwards."""
        pool = self.aimed(
            list(self.instances),
            lambda i: (
                self.instances[i].status is InstanceStatus.Running
                and self.ram_roles.get(i) == ROLES[0]
            ),
            aim,
        )
        if not pool and aim:
            # Aiming: give a Running instance without a role the one the backups name.
            bare = [
                i
                for i, m in self.instances.items()
                if m.status is InstanceStatus.Running and i not in self.ram_roles
            ]
            if bare:
                chosen = self.pick(bare, pick)
                region = self.instances[chosen].region_id
                self.ecs(region).attach_instance_ram_role([chosen], ROLES[0])
                self.ram_roles[chosen] = ROLES[0]
                pool = [chosen]
        if not pool:
            self.idle("app_consistent_sequence")
            return
        instance_id = self.pick(pool, pick)
        instance = self.instances[instance_id]
        ecs = self.ecs(instance.region_id)
        writable = [
            d
            for d in self.model.instance_disks(instance_id)
            if not self.model.io_problems(d, SCRIPT_SPAN)
        ]
        target = writable[0] if writable else None
        data = bytes([byte]) * SCRIPT_SPAN

        def pre(guest: object) -> None:
            if target is not None:
                guest.write_disk(target.disk_id, 0, data)  # type: ignore[attr-defined]
            guest.sleep(seconds)  # type: ignore[attr-defined]
            if fails:
                raise RuntimeError("the application refused to quiesce")

        agent = ecs.guest(instance_id)
        for path, script, wanted in ((PRE, pre, "pre"), (POST, lambda g: None, "post")):
            if installed in ("both", wanted):
                agent.install_script(path, script)
            elif path in agent.script_paths():
                agent.uninstall_script(path)
        refused: list[bool] = []

        def take() -> str:
            if target is not None:
                try:
                    ecs.write_disk(target.disk_id, SCRIPT_SPAN, data)
                    refused.append(False)
                except OperationDeniedError as error:
                    refused.append(error.code == "OperationDenied.FileSystemFrozen")
            return "taken"

        result = self.cloud._world.provider(
            GUEST_AGENT, get_region(instance.region_id)
        ).run_app_consistent(
            instance_id,
            take,
            ram_role_name=ROLES[0],
            pre_script_path=PRE,
            post_script_path=POST,
            enable_fs_freeze=freeze,
            timeout_in_seconds=TIMEOUT,
            enable_writers=writers,
        )
        role = self.ram_roles.get(instance_id)
        pre_ran = False
        expected: tuple[ConsistentLevel, DowngradeReason | None]
        if role is None:
            expected = (ConsistentLevel.CRASH, DowngradeReason.NoRamRoleBound)
        elif role != ROLES[0]:
            expected = (ConsistentLevel.CRASH, DowngradeReason.RamRoleNotMatch)
        elif instance.status is not InstanceStatus.Running:
            expected = (ConsistentLevel.CRASH, DowngradeReason.InstanceNotRunning)
        elif not writers:
            expected = (ConsistentLevel.FS if freeze else ConsistentLevel.CRASH, None)
        elif installed in ("none", "post"):
            expected = (ConsistentLevel.CRASH, DowngradeReason.PreScriptNotFound)
        elif installed == "pre":
            expected = (ConsistentLevel.CRASH, DowngradeReason.PostScriptNotFound)
        else:
            pre_ran = True
            if seconds > TIMEOUT:
                expected = (ConsistentLevel.CRASH, DowngradeReason.PreScriptTimeout)
            elif fails:
                expected = (ConsistentLevel.CRASH, DowngradeReason.PreScriptFailed)
            else:
                expected = (ConsistentLevel.APP, None)
        actual = (result.consistent_level, result.downgrade_reason)
        if expected != actual or result.value != "taken":
            raise AssertionError(f"sequence on {instance_id}: model {expected}, world {result}")
        frozen = freeze and expected[1] is None and expected[0] is not ConsistentLevel.CRASH
        if target is not None:
            if pre_ran:
                target.data[0:SCRIPT_SPAN] = data
            if refused != [frozen]:
                raise AssertionError(
                    f"write during the snapshot: refused {refused}, frozen {frozen}"
                )
            if not frozen:
                target.data[SCRIPT_SPAN : 2 * SCRIPT_SPAN] = data
            # Thawed: the guest takes writes again.
            ecs.write_disk(
                target.disk_id, SCRIPT_SPAN, bytes(target.data[SCRIPT_SPAN : 2 * SCRIPT_SPAN])
            )
        self.note(f"app_consistent_sequence: {actual[0].value} {actual[1] and actual[1].value}")

    @invariant()
    def ram_roles_match_model(self) -> None:
        """Every instance's RAM role is the model's, read with ``describe_instance_ram_role``."""
        for region in self.REGION_IDS:
            ids = [i for i, m in self.instances.items() if m.region_id == region]
            for start in range(0, len(ids), 50):
                chunk = ids[start : start + 50]
                page = self.ecs(region).describe_instance_ram_role(instance_ids=chunk, page_size=50)
                actual = {s.instance_id: s.ram_role_name for s in page.items}
                expected = {i: self.ram_roles[i] for i in chunk if i in self.ram_roles}
                if expected != actual:
                    raise AssertionError(f"RAM roles in {region}: model {expected}, world {actual}")
