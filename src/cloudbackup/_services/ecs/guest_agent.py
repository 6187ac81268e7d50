"""ECS, the guest agent (no real API: the Cloud Assistant agent inside an instance): the user's
pre-freeze and post-thaw scripts, and the application-consistent sequence Cloud Backup runs
around a snapshot.

Part of the layered :class:`~cloudbackup.EcsService`: this layer may use every layer beneath
it (see ``_services/ecs/__init__.py``), never one above.

Scripts are Python callables, so they cannot be stored: like event subscribers they live in
the process, in the :class:`~cloudbackup.EcsService` object of their region, keyed by instance
and path. Nothing stored refers to one; a world reopened from SQLite (or a second
:class:`~cloudbackup.Cloud` on the same backend) has none until they are installed again.

Virtual time inside the guest: a script says how long it takes with :meth:`Guest.sleep`. The
time is counted, not spent: the world's clock does not move during the call (the snapshot is
captured at the instant of the call, as ECS captures it), and the sequence reports the time
its scripts took in :class:`~cloudbackup.AppConsistentResult` so that Cloud Backup can add it
to its job. A script that sleeps past ``timeout_in_seconds`` is stopped there: the agent stops
waiting for it.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import math
from collections.abc import Callable
from typing import TypeVar

import attrs

from ... import _validate as v
from ..._domain.ecs import Disk, Instance, InstanceStatus
from ..._domain.guest import (
    SCRIPT_PATH_MAX,
    AppConsistentResult,
    ConsistentLevel,
    DowngradeReason,
    is_script_path,
)
from ..._regions import Region
from ..._world import World
from ...errors import (
    IncorrectStatusError,
    InvalidParameterError,
    OperationDeniedError,
    ResourceNotFoundError,
)
from .._base import _builtin_arguments
from .._interfaces import AppConsistency
from ._core import ATTACHED_TO
from .ram_roles import RamRoleActions, check_ram_role_name

__all__ = [
    "TIMEOUT_MAX",
    "Guest",
    "GuestAgent",
    "GuestAgentActions",
    "GuestScript",
    "guest_agent",
]

T = TypeVar("T")

GuestScript = Callable[["Guest"], object]
"""A pre-freeze or post-thaw script: a function given the :class:`Guest`; what it returns is
ignored, raising fails it."""

TIMEOUT_MAX = 86_400
"""The largest ``timeout_in_seconds`` taken (a day). ⚠ Inferred: the real bound of
``TimeoutInSeconds`` is not documented (default 30)."""


class _Stopped(BaseException):
    """Raised inside a script when the agent stops waiting for it (its timeout passed).

    A BaseException, so that a script's ``except Exception`` does not swallow it; a script
    that catches even this is still stopped: the agent knows its time ran out.
    """


def _seconds(delta: _dt.timedelta) -> str:
    return f"{delta.total_seconds():g} s"


def _describe(exc: BaseException) -> str:
    """``Type: message`` of a script's exception, whatever its ``__str__`` does."""
    try:
        text = str(exc)
    except Exception:  # the script's own exception type may break on str()
        text = object.__repr__(exc)
    if not v.is_utf8(text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= 300 else text[:297] + "..."


class Guest:
    """What a script sees of its instance: its disks, through the normal ECS write path, and
    a clock to say how long it takes.

    Given to a script for the time it runs; using it afterwards is refused
    (``OperationDenied.ScriptNotRunning``).
    """

    def __init__(
        self, ecs: GuestAgentActions, instance_id: str, script_path: str, timeout: int
    ) -> None:
        self._ecs = ecs
        self._instance_id = instance_id
        self._script_path = script_path
        self._budget = _dt.timedelta(seconds=timeout)
        self._elapsed = _dt.timedelta(0)
        self._running = True
        self._timed_out = False

    def __repr__(self) -> str:
        return f"<Guest {self._instance_id} {self._script_path!r}>"

    @property
    def instance_id(self) -> str:
        """The instance the script runs on."""
        return self._instance_id

    @property
    def script_path(self) -> str:
        """The path the running script is installed at."""
        return self._script_path

    @property
    def elapsed(self) -> _dt.timedelta:
        """Virtual time the script has taken so far."""
        return self._elapsed

    @property
    def disk_ids(self) -> tuple[str, ...]:
        """The disks attached to the instance, in device order (the system disk first)."""
        self._check_running()
        disks = self._ecs._disks.members(ATTACHED_TO, self._instance_id)

        def device(disk: Disk) -> str:
            found = (a.device for a in disk.attachments if a.instance_id == self._instance_id)
            return next(found, None) or ""

        ordered = sorted(disks, key=lambda d: (device(d), d.disk_id))
        return tuple(d.disk_id for d in ordered)

    def sleep(self, seconds: float) -> None:
        """Take ``seconds`` of virtual time (a non-negative int or float): flushing a
        buffer, waiting for a database checkpoint.

        Past the timeout the agent stops waiting: the script is stopped at this call.
        """
        self._check_running()
        amount: float | None = None
        if isinstance(seconds, int) and not isinstance(seconds, bool):
            amount = float(min(int.__index__(seconds), 2**53))  # a subclass's methods never run
        elif isinstance(seconds, float):
            amount = float.__float__(seconds)
        if amount is None or not math.isfinite(amount) or amount < 0:
            raise InvalidParameterError(
                f"sleep takes a non-negative number of seconds, not {v._shown(seconds)}.",
                code="InvalidParameter.Seconds",
                ids=(self._instance_id,),
                recommend="Pass seconds as a finite int or float >= 0.",
            )
        left = self._budget - self._elapsed
        if amount > left.total_seconds():
            self._elapsed = self._budget
            self._timed_out = True
            raise _Stopped
        self._elapsed += _dt.timedelta(seconds=amount)

    def write_disk(self, disk_id: str, offset: int, data: bytes) -> None:
        """Write to one of the instance's disks (:meth:`EcsService.write_disk`)."""
        self._own(disk_id)
        self._ecs.write_disk(disk_id, offset, data)

    def fill_disk(self, disk_id: str, offset: int, length: int, *, seed: int) -> None:
        """Fill a range of one of the instance's disks (:meth:`EcsService.fill_disk`)."""
        self._own(disk_id)
        self._ecs.fill_disk(disk_id, offset, length, seed=seed)

    def read_disk(self, disk_id: str, offset: int, length: int) -> bytes:
        """Read from one of the instance's disks (:meth:`EcsService.read_disk`)."""
        self._own(disk_id)
        return self._ecs.read_disk(disk_id, offset, length)

    def _own(self, disk_id: object) -> None:
        self._check_running()
        disk = self._ecs._disks.get(disk_id)
        if not any(a.instance_id == self._instance_id for a in disk.attachments):
            raise IncorrectStatusError(
                f"Disk {disk.disk_id} is not attached to instance {self._instance_id}; a "
                "script reaches only its own instance's disks.",
                code="IncorrectDiskStatus",
                ids=(disk.disk_id, self._instance_id),
                recommend="Use one of guest.disk_ids.",
            )

    def _check_running(self) -> None:
        if self._timed_out:
            raise _Stopped
        if not self._running:
            raise OperationDeniedError(
                f"The script {self._script_path!r} of instance {self._instance_id} has "
                "finished; its guest handle is closed.",
                code="OperationDenied.ScriptNotRunning",
                ids=(self._instance_id,),
                recommend="Use the guest handle only while the script it was given to runs.",
            )


@attrs.frozen
class _Run:
    """How one script run went."""

    elapsed: _dt.timedelta
    error: str | None
    timed_out: bool

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out


class GuestAgent:
    """The guest agent of one instance: ``cloud.ecs(region).guest(instance_id)``.

    Install pre-freeze and post-thaw scripts at paths, as a user puts ``/tmp/prescript.sh`` on
    the instance for Cloud Backup's application-consistent backup::

        def flush(guest):
            guest.write_disk(disk_id, 0, app.pending)   # the application's buffered writes
            guest.sleep(2)                              # virtual seconds it takes

        ecs.guest(instance_id).install_script("/tmp/prescript.sh", flush)

    Scripts live in this process only (they are callables): a reopened world needs them
    installed again.
    """

    def __init__(self, ecs: GuestAgentActions, instance_id: str) -> None:
        self._ecs = ecs
        self._instance_id = instance_id

    def __repr__(self) -> str:
        return f"<GuestAgent {self._instance_id}>"

    def __eq__(self, other: object) -> bool:
        """Handles are equal when they name the same instance of the same region (a value,
        like the records: handles of two worlds' same instance compare equal)."""
        if not isinstance(other, GuestAgent):
            return NotImplemented
        return (self._ecs.region_id, self._instance_id) == (
            other._ecs.region_id,
            other._instance_id,
        )

    def __hash__(self) -> int:
        return hash((self._ecs.region_id, self._instance_id))

    @property
    def instance_id(self) -> str:
        """The instance this agent runs on."""
        return self._instance_id

    def install_script(self, path: str, script: GuestScript) -> None:
        """Install ``script`` at ``path``, replacing what was there.

        ``path`` is an absolute path of the instance's OS (``/tmp/prescript.sh`` on Linux,
        ``C:\\scripts\\pre.bat`` on Windows), at most 1,024 characters of UTF-8
        (``InvalidParameter.ScriptPath``). ``script`` is a plain function taking the
        :class:`Guest` (not a coroutine or generator function: ``InvalidParameter.Script``).
        """
        ecs = self._ecs
        (path,), _ = _builtin_arguments((path,), {})
        instance = ecs._instances.get(self._instance_id)
        checked = ecs._script_path(instance, path, "ScriptPath")
        if (
            not callable(script)
            or inspect.isclass(script)
            or inspect.iscoroutinefunction(script)
            or inspect.isgeneratorfunction(script)
            or inspect.isasyncgenfunction(script)
        ):
            raise InvalidParameterError(
                f"A script must be a plain function taking the guest, not {v._shown(script)}.",
                code="InvalidParameter.Script",
                ids=(instance.instance_id,),
                recommend="Pass a def or lambda that takes one argument (the Guest).",
            )
        ecs._scripts.setdefault(instance.instance_id, {})[checked] = script

    def uninstall_script(self, path: str) -> None:
        """Remove the script at ``path`` (``InvalidScriptPath.NotFound`` if there is none)."""
        ecs = self._ecs
        (path,), _ = _builtin_arguments((path,), {})
        instance = ecs._instances.get(self._instance_id)
        checked = ecs._script_path(instance, path, "ScriptPath")
        scripts = ecs._scripts.get(instance.instance_id, {})
        if checked not in scripts:
            raise ResourceNotFoundError(
                f"No script is installed at {checked!r} on instance {instance.instance_id}.",
                code="InvalidScriptPath.NotFound",
                ids=(instance.instance_id,),
                recommend="See guest.script_paths() for what is installed.",
            )
        del scripts[checked]
        if not scripts:
            del ecs._scripts[instance.instance_id]

    def script_paths(self) -> tuple[str, ...]:
        """The paths with a script installed, sorted."""
        instance = self._ecs._instances.get(self._instance_id)
        return tuple(sorted(self._ecs._scripts.get(instance.instance_id, {})))


class GuestAgentActions(RamRoleActions):
    """The guest agent of each instance (no real API): ``guest(instance_id)``, and the
    application-consistent sequence Cloud Backup runs through :func:`guest_agent`."""

    def __init__(self, world: World, region: Region) -> None:
        super().__init__(world, region)
        self._scripts: dict[str, dict[str, GuestScript]] = {}
        # Process state, never stored: instance id -> path -> script.
        self._agent_busy: set[str] = set()
        # The instances whose application-consistent sequence is running now.

    def guest(self, instance_id: str) -> GuestAgent:
        """The guest agent of an instance of this region (``InvalidInstanceId.NotFound``)."""
        (instance_id,), _ = _builtin_arguments((instance_id,), {})
        return GuestAgent(self, self._instances.get(instance_id).instance_id)

    def _script_path(self, instance: Instance, path: object, name: str) -> str:
        windows = instance.os_type == "windows"
        if (
            not isinstance(path, str)
            or not v.is_utf8(path)
            or not is_script_path(path, instance.os_type)
        ):
            form = "C:\\scripts\\pre.bat" if windows else "/tmp/prescript.sh"
            raise InvalidParameterError(
                f"The {name} {v._shown(path)} is not an absolute path on {instance.os_type} "
                f"instance {instance.instance_id}.",
                code="InvalidParameter.ScriptPath",
                ids=(instance.instance_id,),
                recommend=f"Pass an absolute path of at most {SCRIPT_PATH_MAX} characters, "
                f"such as {form!r}.",
            )
        return v.exact_str(path)

    def _run_script(self, instance_id: str, path: str, script: GuestScript, timeout: int) -> _Run:
        guest = Guest(self, instance_id, path, timeout)
        error: str | None = None
        try:
            returned = script(guest)
            if inspect.isawaitable(returned) or inspect.isgenerator(returned):
                close = getattr(returned, "close", None)
                if callable(close):
                    close()
                error = "The script returned an awaitable or generator; it must be a function."
        except _Stopped:
            pass
        except Exception as exc:  # any failure of the user's script is its failure, reported
            error = _describe(exc)
        finally:
            guest._running = False
        return _Run(guest._elapsed, error, guest._timed_out)

    def _run_app_consistent(
        self,
        instance_id: str,
        take: Callable[[], T],
        *,
        ram_role_name: str,
        pre_script_path: str,
        post_script_path: str,
        enable_fs_freeze: bool = True,
        timeout_in_seconds: int = 30,
        enable_writers: bool = True,
    ) -> AppConsistentResult[T]:
        (instance_id, ram_role_name, pre_script_path, post_script_path), _ = _builtin_arguments(
            (instance_id, ram_role_name, pre_script_path, post_script_path), {}
        )
        instance = self._instances.get(instance_id)
        role = check_ram_role_name(ram_role_name)
        pre_path = self._script_path(instance, pre_script_path, "PreScriptPath")
        post_path = self._script_path(instance, post_script_path, "PostScriptPath")
        freeze = v.boolean("EnableFsFreeze", enable_fs_freeze)
        writers = v.boolean("EnableWriters", enable_writers)
        timeout = v.integer("TimeoutInSeconds", timeout_in_seconds, 1, TIMEOUT_MAX)
        if not callable(take):
            raise InvalidParameterError(
                f"take must be a callable that takes the snapshot, not {v._shown(take)}.",
                code="InvalidParameter.Take",
                ids=(instance.instance_id,),
                recommend="Pass a function of no arguments.",
            )
        key = instance.instance_id
        if key in self._agent_busy:
            raise IncorrectStatusError(
                f"The guest agent of instance {key} is already running an "
                "application-consistent sequence.",
                code="OperationConflict",
                ids=(key,),
                recommend="Wait for the running sequence to finish; a script or snapshot "
                "callback cannot start another on its own instance.",
            )
        self._agent_busy.add(key)
        try:
            return self._sequence(
                instance, take, role, pre_path, post_path, freeze, writers, timeout
            )
        finally:
            self._agent_busy.discard(key)

    def _sequence(
        self,
        instance: Instance,
        take: Callable[[], T],
        role: str,
        pre_path: str,
        post_path: str,
        freeze: bool,
        writers: bool,
        timeout: int,
    ) -> AppConsistentResult[T]:
        zero = _dt.timedelta(0)
        key = instance.instance_id

        def crash(
            reason: DowngradeReason,
            message: str,
            pre: _dt.timedelta = zero,
            post: _Run | None = None,
        ) -> AppConsistentResult[T]:
            value = take()
            return AppConsistentResult(
                value=value,
                consistent_level=ConsistentLevel.CRASH,
                downgrade_reason=reason,
                message=message,
                pre_freeze_time=pre,
                post_thaw_time=zero if post is None else post.elapsed,
                post_thaw_error=None if post is None else _post_error(post, post_path, timeout),
            )

        if instance.ram_role_name is None:
            return crash(
                DowngradeReason.NoRamRoleBound,
                f"Instance {key} has no RAM role; attach {role} (attach_instance_ram_role).",
            )
        if instance.ram_role_name != role:
            return crash(
                DowngradeReason.RamRoleNotMatch,
                f"Instance {key} has the RAM role {instance.ram_role_name}, not {role}.",
            )
        if instance.status is not InstanceStatus.Running:
            return crash(
                DowngradeReason.InstanceNotRunning,
                f"Instance {key} is {instance.status.value}; its guest agent runs only while "
                "it is Running.",
            )
        pre_run = _Run(zero, None, False)
        post_script: GuestScript | None = None
        if writers:
            installed = self._scripts.get(key, {})
            pre_script, post_script = installed.get(pre_path), installed.get(post_path)
            if pre_script is None:
                return crash(
                    DowngradeReason.PreScriptNotFound,
                    f"No pre-freeze script is installed at {pre_path!r} on instance {key}.",
                )
            if post_script is None:
                return crash(
                    DowngradeReason.PostScriptNotFound,
                    f"No post-thaw script is installed at {post_path!r} on instance {key}.",
                )
            pre_run = self._run_script(key, pre_path, pre_script, timeout)
            if not pre_run.ok:
                # Thaw the application the pre-freeze script may have half quiesced.
                post_run = self._run_script(key, post_path, post_script, timeout)
                if pre_run.timed_out:
                    return crash(
                        DowngradeReason.PreScriptTimeout,
                        f"The pre-freeze script {pre_path!r} ran past the timeout of {timeout} s.",
                        pre_run.elapsed,
                        post_run,
                    )
                return crash(
                    DowngradeReason.PreScriptFailed,
                    f"The pre-freeze script {pre_path!r} failed: {pre_run.error}",
                    pre_run.elapsed,
                    post_run,
                )
            current = self._instances.find(key)
            if current is None or current.status is not InstanceStatus.Running:
                return crash(
                    DowngradeReason.InstanceNotRunning,
                    f"Instance {key} stopped running during its pre-freeze script.",
                    pre_run.elapsed,
                )
        level = (
            ConsistentLevel.APP
            if writers
            else (ConsistentLevel.FS if freeze else ConsistentLevel.CRASH)
        )
        post_run = _Run(zero, None, False)
        if freeze:
            self._frozen[key] = timeout
        try:
            value = take()
        finally:
            self._frozen.pop(key, None)
            if post_script is not None:
                post_run = self._run_script(key, post_path, post_script, timeout)
        message = {
            ConsistentLevel.APP: "The pre-freeze script ran before the snapshot and the "
            "post-thaw script after it.",
            ConsistentLevel.FS: "The guest's file systems were frozen for the snapshot.",
            ConsistentLevel.CRASH: "Neither writers nor a file-system freeze was asked for.",
        }[level]
        return AppConsistentResult(
            value=value,
            consistent_level=level,
            downgrade_reason=None,
            message=message,
            pre_freeze_time=pre_run.elapsed,
            post_thaw_time=post_run.elapsed,
            post_thaw_error=_post_error(post_run, post_path, timeout),
        )


def _post_error(run: _Run, path: str, timeout: int) -> str | None:
    if run.timed_out:
        return f"The post-thaw script {path!r} ran past the timeout of {timeout} s."
    if run.error is not None:
        return f"The post-thaw script {path!r} failed: {run.error}"
    return None


class EcsGuestAgent:
    """The guest agents of one region's ECS, as Cloud Backup uses them."""

    def __init__(self, ecs: GuestAgentActions) -> None:
        self._ecs = ecs

    def run_app_consistent(
        self,
        instance_id: str,
        take: Callable[[], T],
        *,
        ram_role_name: str,
        pre_script_path: str,
        post_script_path: str,
        enable_fs_freeze: bool = True,
        timeout_in_seconds: int = 30,
        enable_writers: bool = True,
    ) -> AppConsistentResult[T]:
        """See :meth:`cloudbackup._services._interfaces.AppConsistency.run_app_consistent`."""
        return self._ecs._run_app_consistent(
            instance_id,
            take,
            ram_role_name=ram_role_name,
            pre_script_path=pre_script_path,
            post_script_path=post_script_path,
            enable_fs_freeze=enable_fs_freeze,
            timeout_in_seconds=timeout_in_seconds,
            enable_writers=enable_writers,
        )


def guest_agent(ecs: GuestAgentActions) -> AppConsistency:
    """The guest agent interface of ``ecs`` (the factory ECS registers)."""
    return EcsGuestAgent(ecs)
