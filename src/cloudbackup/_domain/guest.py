"""The guest side of an instance: its instance RAM role and what its guest agent reports.

ECS's instance RAM role (``AttachInstanceRamRole`` / ``DetachInstanceRamRole`` /
``DescribeInstanceRamRole``) gives the software inside an instance credentials; Cloud Backup's
application-consistent backup needs one, because its agent in the guest (the Cloud Assistant
agent in the real product) acts under it. The guest agent runs the user's pre-freeze and
post-thaw scripts around a snapshot and reports the consistency it reached: the
:class:`ConsistentLevel` and, when it fell back to crash consistency, the
:class:`DowngradeReason`, as the real ``DescribeUdmSnapshots`` ``Detail`` shows them.

Only :class:`ConsistentLevel` and :class:`DowngradeReason` are stored (by Cloud Backup, on its
backup points); the other records here are answers, never stored.
"""

from __future__ import annotations

import datetime as _dt
import enum
import re
from typing import Generic, TypeVar

import attrs

from .._typenames import stored_as

__all__ = [
    "RAM_ROLE_NAME",
    "SCRIPT_PATH_MAX",
    "is_script_path",
    "AppConsistentResult",
    "ConsistentLevel",
    "DowngradeReason",
    "InstanceRamRoleResponse",
    "InstanceRamRoleResult",
    "InstanceRamRoleSet",
]

T = TypeVar("T")

RAM_ROLE_NAME = re.compile(r"[A-Za-z0-9.\-]{1,64}")
"""A RAM role name as RAM's ``CreateRole`` allows it: 1 to 64 letters, digits, periods and
hyphens. There is no RAM service in the model: every well-formed name is taken to name an
existing role that ECS may pass to instances."""

SCRIPT_PATH_MAX = 1024
"""The longest script path the guest agent takes (characters). ⚠ Inferred: the real limit of
``PreScriptPath``/``PostScriptPath`` is not documented."""

_WINDOWS_PATH = re.compile(r"[A-Za-z]:\\")


def is_script_path(path: str, os_type: str) -> bool:
    """Whether ``path`` (a plain ``str``) can name a script on an instance of ``os_type``
    (``linux`` or ``windows``): an absolute path (``/…``, or ``C:\\…`` on Windows) of 1 to
    :data:`SCRIPT_PATH_MAX` characters without NUL. The one rule the guest agent and Cloud
    Backup's bindings both apply."""
    if not 1 <= len(path) <= SCRIPT_PATH_MAX or "\x00" in path:
        return False
    return bool(_WINDOWS_PATH.match(path)) if os_type == "windows" else path.startswith("/")


@stored_as("guest.ConsistentLevel")
@enum.unique
class ConsistentLevel(str, enum.Enum):
    """``Detail.ConsistentLevel`` of a backup point: how consistent its data is.

    ``CRASH`` is the documented example value; ``APP`` and ``FS`` are ⚠ inferred names for
    the two levels the real options describe (``EnableWriters=true``: application consistent,
    ``false``: file-system consistent).
    """

    APP = "APP"
    """Application consistent: the pre-freeze script ran (e.g. flushed an application's
    buffers) before the snapshot, and the post-thaw script after it."""
    FS = "FS"
    """File-system consistent: the guest's file systems were frozen for the snapshot
    (``enable_writers=False``: no scripts)."""
    CRASH = "CRASH"
    """Crash consistent: what the disks held at one instant, as after a power cut."""


@stored_as("guest.DowngradeReason")
@enum.unique
class DowngradeReason(str, enum.Enum):
    """``Detail.DowngradeReason``: why an application-consistent backup fell back to crash
    consistency.

    ``HBR.NoRamRoleBound`` is the documented example; every other value is an ⚠ inferred name
    in its style for a case the real product describes (a missing script, a script that fails
    or runs past the timeout, an agent that cannot run).
    """

    NoRamRoleBound = "HBR.NoRamRoleBound"
    """The instance has no instance RAM role attached."""
    RamRoleNotMatch = "HBR.RamRoleNotMatch"
    """The instance's RAM role is not the one the backup names (``RamRoleName``)."""
    InstanceNotRunning = "HBR.InstanceNotRunning"
    """The instance is not ``Running``, so its guest agent cannot run scripts or freeze."""
    PreScriptNotFound = "HBR.PreScriptNotFound"
    """No script is installed at ``PreScriptPath`` on the instance."""
    PostScriptNotFound = "HBR.PostScriptNotFound"
    """No script is installed at ``PostScriptPath`` on the instance."""
    PreScriptFailed = "HBR.PreScriptFailed"
    """The pre-freeze script raised."""
    PreScriptTimeout = "HBR.PreScriptTimeout"
    """The pre-freeze script ran longer than ``TimeoutInSeconds`` of virtual time."""


@attrs.frozen
class AppConsistentResult(Generic[T]):
    """What the guest agent's application-consistent sequence did around a snapshot."""

    value: T
    """What the snapshot callback (``take``) returned: a snapshot id, a group, ..."""
    consistent_level: ConsistentLevel
    """The consistency the snapshot reached."""
    downgrade_reason: DowngradeReason | None
    """Why it fell back to ``CRASH`` (None when it reached the level asked for)."""
    message: str
    """What happened, in a sentence (the script's error when one failed)."""
    pre_freeze_time: _dt.timedelta
    """Virtual time the pre-freeze script took (``guest.sleep``)."""
    post_thaw_time: _dt.timedelta
    """Virtual time the post-thaw script took."""
    post_thaw_error: str | None = None
    """The post-thaw script's failure, if it failed or timed out. The snapshot was already
    taken, so this does not change its consistency; the application may need attention."""

    @property
    def duration(self) -> _dt.timedelta:
        """Virtual time the whole sequence took in the guest. The freeze itself adds none:
        ECS captures the snapshot at one instant, so guest I/O is frozen for no virtual time."""
        return self.pre_freeze_time + self.post_thaw_time


@attrs.frozen
class InstanceRamRoleSet:
    """One ``InstanceRamRoleSet`` of ``DescribeInstanceRamRole``: an instance and its role."""

    instance_id: str
    ram_role_name: str


@attrs.frozen
class InstanceRamRoleResult:
    """One ``AttachInstanceRamRoleResult`` / ``DetachInstanceRamRoleResult``: how the call
    went for one instance."""

    instance_id: str
    code: str
    """``"200"`` on success, else the error code for this instance."""
    message: str
    """``"success"``, or what went wrong and what to do."""
    success: bool
    ram_role_name: str | None = None
    """The instance's role after the call (``InstanceRamRoleSets`` of the detach result)."""


@attrs.frozen
class InstanceRamRoleResponse:
    """The answer of ``AttachInstanceRamRole`` / ``DetachInstanceRamRole``."""

    ram_role_name: str | None
    """``RamRoleName`` of the request."""
    total_count: int
    """``TotalCount``: the instances the call tried."""
    fail_count: int
    """``FailCount``: the instances it failed for (their results say why)."""
    results: tuple[InstanceRamRoleResult, ...]
    """One result per instance, in request order."""
