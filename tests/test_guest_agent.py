"""The guest agent (scripts, freeze, the application-consistent sequence) and instance RAM roles."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import (
    REGION,
    backend_state,
    entity_records,
    instance_with_disk,
    make_cloud,
    pattern,
    raises_code,
    rejected_unchanged,
    run_instance,
    settle,
    stop,
    system_disk_id,
)
from cloudbackup import (
    AppConsistentResult,
    Cloud,
    ConsistentLevel,
    DataDisk,
    DowngradeReason,
    EcsService,
    Guest,
    InMemoryBackend,
    InstanceRamRoleSet,
    SqliteBackend,
    errors,
)
from cloudbackup._regions import get_region
from cloudbackup._services._interfaces import ECS_SNAPSHOTS, GUEST_AGENT, AppConsistency
from cloudbackup.testing import strategies as cbst

ROLE = "AliyunECSInstanceForHbrRole"
PRE = "/tmp/prescript.sh"
POST = "/tmp/postscript.sh"
WORLD_V1 = Path(__file__).parent / "data" / "world-v1.db"


def agent_of(cloud: Cloud) -> AppConsistency:
    """The region's guest agent interface, as Cloud Backup gets it."""
    return cloud._world.provider(GUEST_AGENT, get_region(REGION))


def take_of(cloud: Cloud, disk_id: str) -> Callable[[], str]:
    """A snapshot callback of one disk, through the snapshot interface."""
    snaps = cloud._world.provider(ECS_SNAPSHOTS, get_region(REGION))
    return lambda: snaps.take_snapshot(disk_id)


def read_snapshot(cloud: Cloud, snapshot_id: str, offset: int, length: int) -> bytes:
    """The bytes a snapshot holds, through the snapshot interface."""
    snaps = cloud._world.provider(ECS_SNAPSHOTS, get_region(REGION))
    return snaps.read_snapshot(snapshot_id, offset, length)


def run(
    cloud: Cloud, instance_id: str, take: Callable[[], Any], **options: Any
) -> AppConsistentResult[Any]:
    """Run the application-consistent sequence with the test's role and script paths."""
    arguments: dict[str, Any] = {
        "ram_role_name": ROLE,
        "pre_script_path": PRE,
        "post_script_path": POST,
    }
    arguments.update(options)
    return agent_of(cloud).run_app_consistent(instance_id, take, **arguments)


class BufferedApp:
    """An application that holds writes in memory until it is told to flush them."""

    def __init__(self, disk_id: str) -> None:
        self.disk_id = disk_id
        self.pending: list[tuple[int, bytes]] = []
        self.paused = False
        self.flushes = 0

    def write(self, offset: int, data: bytes) -> None:
        """Buffer a write (not yet on the disk)."""
        self.pending.append((offset, data))

    def pre_freeze(self, guest: Guest) -> None:
        """Flush the buffered writes to the disk and pause, as a database does."""
        for offset, data in self.pending:
            guest.write_disk(self.disk_id, offset, data)
        self.pending.clear()
        self.paused = True
        self.flushes += 1
        guest.sleep(3)

    def post_thaw(self, guest: Guest) -> None:
        """Resume taking writes."""
        self.paused = False
        guest.sleep(1)


def prepared(
    cloud: Cloud | None = None,
) -> tuple[Cloud, EcsService, str, str, BufferedApp]:
    """A Running instance with a data disk, the role attached and a buffered app's scripts."""
    cloud = cloud or make_cloud()
    ecs, instance_id, disk_id = instance_with_disk(cloud)
    ecs.attach_instance_ram_role([instance_id], ROLE)
    app = BufferedApp(disk_id)
    agent = ecs.guest(instance_id)
    agent.install_script(PRE, app.pre_freeze)
    agent.install_script(POST, app.post_thaw)
    return cloud, ecs, instance_id, disk_id, app


def assert_thawed(ecs: EcsService, disk_id: str) -> None:
    """The guest takes writes again (nothing is left frozen)."""
    ecs.write_disk(disk_id, 10 * 4096, b"after")
    assert b"after" == ecs.read_disk(disk_id, 10 * 4096, 5)


# --- the headline ---------------------------------------------------------------------------


def test_buffered_data_is_in_the_app_consistent_snapshot_and_not_in_a_crash_consistent_one() -> (
    None
):
    """The pre-freeze script flushes the app's buffer, so only the app-consistent point has it."""
    cloud, _ecs, instance_id, disk_id, app = prepared()
    record = pattern(7, 6000)
    app.write(8192, record)
    crash_id = take_of(cloud, disk_id)()  # the same virtual instant, without the sequence
    result = run(cloud, instance_id, take_of(cloud, disk_id))
    assert (ConsistentLevel.APP, None) == (result.consistent_level, result.downgrade_reason)
    assert record == read_snapshot(cloud, result.value, 8192, len(record))
    assert bytes(len(record)) == read_snapshot(cloud, crash_id, 8192, len(record))
    assert (False, 1) == (app.paused, app.flushes)
    assert (dt.timedelta(seconds=3), dt.timedelta(seconds=1)) == (
        result.pre_freeze_time,
        result.post_thaw_time,
    )
    assert dt.timedelta(seconds=4) == result.duration


def test_the_sequence_around_a_snapshot_group_captures_the_flush_on_every_disk() -> None:
    """A snapshot-consistent group taken through the sequence holds what the script flushed."""
    cloud = make_cloud()
    ecs, instance_id = run_instance(cloud, data_disks=[DataDisk(size=20), DataDisk(size=20)])
    ecs.attach_instance_ram_role([instance_id], ROLE)
    disks = ecs.guest(instance_id)

    def flush(guest: Guest) -> None:
        for n, disk_id in enumerate(guest.disk_ids):
            guest.write_disk(disk_id, 0, pattern(n, 100))

    disks.install_script(PRE, flush)
    disks.install_script(POST, lambda guest: None)
    snaps = cloud._world.provider(ECS_SNAPSHOTS, get_region(REGION))
    result = run(cloud, instance_id, lambda: snaps.take_snapshot_group(instance_id))
    group_id, snapshot_ids = result.value
    assert ConsistentLevel.APP == result.consistent_level
    assert group_id.startswith("ssg-")
    assert sorted(pattern(n, 100) for n in range(3)) == sorted(
        read_snapshot(cloud, s, 0, 100) for s in snapshot_ids
    )


# --- downgrades -----------------------------------------------------------------------------


def _no_role(ecs: EcsService, instance_id: str, cloud: Cloud) -> None:
    ecs.detach_instance_ram_role([instance_id])


def _other_role(ecs: EcsService, instance_id: str, cloud: Cloud) -> None:
    ecs.detach_instance_ram_role([instance_id], ROLE)
    ecs.attach_instance_ram_role([instance_id], "SomeOtherRole")


def _stopped(ecs: EcsService, instance_id: str, cloud: Cloud) -> None:
    stop(cloud, ecs, instance_id)


def _no_pre(ecs: EcsService, instance_id: str, cloud: Cloud) -> None:
    ecs.guest(instance_id).uninstall_script(PRE)


def _no_post(ecs: EcsService, instance_id: str, cloud: Cloud) -> None:
    ecs.guest(instance_id).uninstall_script(POST)


def _pre_fails(ecs: EcsService, instance_id: str, cloud: Cloud) -> None:
    def fail(guest: Guest) -> None:
        raise RuntimeError("database refused to checkpoint")

    ecs.guest(instance_id).install_script(PRE, fail)


def _pre_too_slow(ecs: EcsService, instance_id: str, cloud: Cloud) -> None:
    ecs.guest(instance_id).install_script(PRE, lambda guest: guest.sleep(31))


DOWNGRADES = [
    (_no_role, DowngradeReason.NoRamRoleBound),
    (_other_role, DowngradeReason.RamRoleNotMatch),
    (_stopped, DowngradeReason.InstanceNotRunning),
    (_no_pre, DowngradeReason.PreScriptNotFound),
    (_no_post, DowngradeReason.PostScriptNotFound),
    (_pre_fails, DowngradeReason.PreScriptFailed),
    (_pre_too_slow, DowngradeReason.PreScriptTimeout),
]


@pytest.mark.parametrize(("breaking", "reason"), DOWNGRADES, ids=lambda x: getattr(x, "name", ""))
def test_each_guest_side_failure_downgrades_to_crash_with_its_reason(
    breaking: Callable[[EcsService, str, Cloud], None], reason: DowngradeReason
) -> None:
    """A missing role, script, running guest, or a failing or slow script gives CRASH + reason."""
    cloud, ecs, instance_id, disk_id, app = prepared()
    breaking(ecs, instance_id, cloud)
    app.write(0, b"buffered")
    calls: list[str] = []

    def take() -> str:
        calls.append("take")
        return take_of(cloud, disk_id)()

    result = run(cloud, instance_id, take)
    assert (ConsistentLevel.CRASH, reason) == (result.consistent_level, result.downgrade_reason)
    assert ["take"] == calls
    assert result.value.startswith("s-")
    assert not app.paused  # never left paused: the post-thaw script ran if the pre one did
    if ecs.describe_instance_attribute(instance_id).status.value == "Running":
        assert_thawed(ecs, disk_id)


def test_a_failing_pre_freeze_script_reports_its_error_and_still_thaws_the_application() -> None:
    """The pre-freeze error is in the message and the post-thaw script runs after it."""
    cloud, ecs, instance_id, disk_id, app = prepared()

    def half_then_fail(guest: Guest) -> None:
        app.paused = True
        guest.sleep(2)
        raise ValueError("disk full")

    ecs.guest(instance_id).install_script(PRE, half_then_fail)
    result = run(cloud, instance_id, take_of(cloud, disk_id))
    assert DowngradeReason.PreScriptFailed == result.downgrade_reason
    assert "ValueError: disk full" in result.message
    assert (dt.timedelta(seconds=2), dt.timedelta(seconds=1)) == (
        result.pre_freeze_time,
        result.post_thaw_time,
    )
    assert not app.paused


def test_a_script_that_sleeps_exactly_the_timeout_is_in_time_and_a_microsecond_more_is_not() -> (
    None
):
    """The timeout is inclusive: ``timeout`` seconds pass, a microsecond more times out."""
    cloud, ecs, instance_id, disk_id, _ = prepared()
    agent = ecs.guest(instance_id)
    agent.install_script(PRE, lambda guest: guest.sleep(10))
    on_time = run(cloud, instance_id, take_of(cloud, disk_id), timeout_in_seconds=10)
    agent.install_script(PRE, lambda guest: (guest.sleep(9.5), guest.sleep(0.500001)))
    late = run(cloud, instance_id, take_of(cloud, disk_id), timeout_in_seconds=10)
    assert (ConsistentLevel.APP, None) == (on_time.consistent_level, on_time.downgrade_reason)
    assert DowngradeReason.PreScriptTimeout == late.downgrade_reason
    assert dt.timedelta(seconds=10) == late.pre_freeze_time  # the agent stopped waiting there


def test_a_script_that_swallows_everything_is_still_stopped_at_its_timeout() -> None:
    """Catching BaseException does not let a script run past its timeout."""
    cloud, ecs, instance_id, disk_id, _ = prepared()
    after: list[str] = []

    def stubborn(guest: Guest) -> None:
        try:
            guest.sleep(100)
        except BaseException:
            after.append("caught")
        try:
            guest.write_disk(disk_id, 0, b"too late")
        except BaseException:
            after.append("refused")

    ecs.guest(instance_id).install_script(PRE, stubborn)
    result = run(cloud, instance_id, take_of(cloud, disk_id))
    assert DowngradeReason.PreScriptTimeout == result.downgrade_reason
    assert ["caught", "refused"] == after
    assert bytes(8) == read_snapshot(cloud, result.value, 0, 8)


def test_a_failing_post_thaw_script_is_reported_and_keeps_the_point_app_consistent() -> None:
    """The snapshot was already taken consistent; the post-thaw failure is reported beside it."""
    cloud, ecs, instance_id, disk_id, _ = prepared()

    def fail(guest: Guest) -> None:
        raise OSError("cannot resume")

    ecs.guest(instance_id).install_script(POST, fail)
    result = run(cloud, instance_id, take_of(cloud, disk_id))
    assert (ConsistentLevel.APP, None) == (result.consistent_level, result.downgrade_reason)
    assert result.post_thaw_error is not None
    assert "OSError: cannot resume" in result.post_thaw_error


def test_without_writers_the_scripts_do_not_run_and_the_point_is_file_system_consistent() -> None:
    """``enable_writers=False``: freeze only, no scripts (none need be installed): FS."""
    cloud, ecs, instance_id, disk_id, app = prepared()
    ecs.guest(instance_id).uninstall_script(PRE)
    result = run(cloud, instance_id, take_of(cloud, disk_id), enable_writers=False)
    assert (ConsistentLevel.FS, None) == (result.consistent_level, result.downgrade_reason)
    assert 0 == app.flushes


def test_without_writers_or_freeze_nothing_is_asked_beyond_crash_consistency() -> None:
    """No writers and no freeze: CRASH, and no downgrade since nothing more was asked."""
    cloud, _ecs, instance_id, disk_id, _ = prepared()
    result = run(
        cloud, instance_id, take_of(cloud, disk_id), enable_writers=False, enable_fs_freeze=False
    )
    assert (ConsistentLevel.CRASH, None) == (result.consistent_level, result.downgrade_reason)


# --- freeze and thaw ------------------------------------------------------------------------


def test_guest_writes_are_refused_while_frozen_and_reads_pass() -> None:
    """During the freeze a write or fill is ``OperationDenied.FileSystemFrozen``; reads work."""
    cloud, ecs, instance_id, disk_id, _ = prepared()
    ecs.write_disk(disk_id, 0, b"before")
    seen: list[object] = []

    def take() -> str:
        seen.append(ecs.read_disk(disk_id, 0, 6))
        seen.append(
            raises_code(
                errors.OperationDeniedError,
                "OperationDenied.FileSystemFrozen",
                lambda: ecs.write_disk(disk_id, 0, b"during"),
            ).ids
        )
        raises_code(
            errors.OperationDeniedError,
            "OperationDenied.FileSystemFrozen",
            lambda: ecs.fill_disk(disk_id, 0, 4096, seed=1),
        )
        return take_of(cloud, disk_id)()

    result = run(cloud, instance_id, take)
    assert [b"before", (disk_id, instance_id)] == seen
    assert b"before" == read_snapshot(cloud, result.value, 0, 6)
    assert_thawed(ecs, disk_id)


def test_without_fs_freeze_writes_during_the_snapshot_are_taken() -> None:
    """``enable_fs_freeze=False`` leaves guest I/O running: a write in take() succeeds."""
    cloud, ecs, instance_id, disk_id, _ = prepared()

    def take() -> str:
        ecs.write_disk(disk_id, 0, b"during")
        return take_of(cloud, disk_id)()

    result = run(cloud, instance_id, take, enable_fs_freeze=False)
    assert (ConsistentLevel.APP, b"during") == (
        result.consistent_level,
        read_snapshot(cloud, result.value, 0, 6),
    )


def test_a_take_that_raises_is_raised_after_thaw_and_post_thaw() -> None:
    """take()'s error comes out of the call, the guest thawed and the app resumed."""
    cloud, ecs, instance_id, disk_id, app = prepared()

    def take() -> str:
        raise errors.QuotaExceededError("no more snapshots", code="QuotaExceed.Snapshot")

    raises_code(
        errors.QuotaExceededError, "QuotaExceed.Snapshot", lambda: run(cloud, instance_id, take)
    )
    assert not app.paused
    assert_thawed(ecs, disk_id)
    assert ConsistentLevel.APP == run(cloud, instance_id, take_of(cloud, disk_id)).consistent_level


def test_a_script_cannot_start_another_sequence_on_its_own_instance() -> None:
    """A script calling back into the agent gets ``OperationConflict``: a script failure."""
    cloud, ecs, instance_id, disk_id, _ = prepared()
    inner: list[str] = []

    def reenter(guest: Guest) -> None:
        try:
            run(cloud, instance_id, take_of(cloud, disk_id))
        except errors.IncorrectStatusError as error:
            inner.append(error.code)
            raise

    ecs.guest(instance_id).install_script(PRE, reenter)
    result = run(cloud, instance_id, take_of(cloud, disk_id))
    assert ["OperationConflict"] == inner
    assert DowngradeReason.PreScriptFailed == result.downgrade_reason
    assert ConsistentLevel.CRASH == result.consistent_level


def test_a_take_that_reenters_the_agent_fails_and_leaves_it_usable() -> None:
    """take() starting a second sequence on the instance raises, then the agent works again."""
    cloud, ecs, instance_id, disk_id, _ = prepared()
    raises_code(
        errors.IncorrectStatusError,
        "OperationConflict",
        lambda: run(cloud, instance_id, lambda: run(cloud, instance_id, take_of(cloud, disk_id))),
    )
    assert_thawed(ecs, disk_id)
    assert ConsistentLevel.APP == run(cloud, instance_id, take_of(cloud, disk_id)).consistent_level


def test_a_script_may_install_and_uninstall_scripts_while_it_runs() -> None:
    """The sequence uses the scripts it found at its start; changes apply to the next run."""
    cloud, ecs, instance_id, disk_id, _app = prepared()
    agent = ecs.guest(instance_id)

    def swap(guest: Guest) -> None:
        agent.uninstall_script(POST)
        agent.install_script("/opt/other.sh", lambda g: None)

    agent.install_script(PRE, swap)
    result = run(cloud, instance_id, take_of(cloud, disk_id))
    assert ConsistentLevel.APP == result.consistent_level
    assert ("/opt/other.sh", PRE) == agent.script_paths()
    assert DowngradeReason.PostScriptNotFound == (
        run(cloud, instance_id, take_of(cloud, disk_id)).downgrade_reason
    )


# --- the guest handle -----------------------------------------------------------------------


def test_a_guest_handle_kept_after_its_script_is_refused() -> None:
    """Using the handle after the script returned is ``OperationDenied.ScriptNotRunning``."""
    cloud, ecs, instance_id, disk_id, _ = prepared()
    kept: list[Guest] = []
    ecs.guest(instance_id).install_script(PRE, kept.append)
    run(cloud, instance_id, take_of(cloud, disk_id))
    raises_code(
        errors.OperationDeniedError,
        "OperationDenied.ScriptNotRunning",
        lambda: kept[0].write_disk(disk_id, 0, b"x"),
    )
    raises_code(
        errors.OperationDeniedError, "OperationDenied.ScriptNotRunning", lambda: kept[0].sleep(1)
    )


def test_a_script_reaches_only_its_own_instance_disks() -> None:
    """Writing another instance's disk from a script fails the script (IncorrectDiskStatus)."""
    cloud, ecs, instance_id, disk_id, _ = prepared()
    _, _, other_disk = instance_with_disk(cloud)
    codes: list[str] = []

    def trespass(guest: Guest) -> None:
        try:
            guest.write_disk(other_disk, 0, b"x")
        except errors.IncorrectStatusError as error:
            codes.append(error.code)
            raise

    ecs.guest(instance_id).install_script(PRE, trespass)
    result = run(cloud, instance_id, take_of(cloud, disk_id))
    assert ["IncorrectDiskStatus"] == codes
    assert DowngradeReason.PreScriptFailed == result.downgrade_reason
    assert bytes(1) == ecs.read_disk(other_disk, 0, 1)


def test_the_guest_lists_its_disks_system_disk_first_and_reads_them() -> None:
    """``guest.disk_ids`` is in device order and ``read_disk`` reads through ECS."""
    cloud, ecs, instance_id, disk_id, _ = prepared()
    ecs.write_disk(disk_id, 0, b"hello")
    seen: list[object] = []

    def look(guest: Guest) -> None:
        seen.append(guest.disk_ids)
        seen.append(guest.read_disk(disk_id, 0, 5))
        seen.append((guest.instance_id, guest.script_path, guest.elapsed))

    ecs.guest(instance_id).install_script(PRE, look)
    run(cloud, instance_id, take_of(cloud, disk_id))
    assert [
        (system_disk_id(ecs, instance_id), disk_id),
        b"hello",
        (instance_id, PRE, dt.timedelta(0)),
    ] == seen


@pytest.mark.parametrize("seconds", [True, -1, float("nan"), float("inf"), "1", None, 1j])
def test_sleep_takes_only_finite_non_negative_numbers(seconds: object) -> None:
    """A bad ``sleep`` argument is ``InvalidParameter.Seconds``, which fails the script."""
    cloud, ecs, instance_id, disk_id, _ = prepared()
    codes: list[str] = []

    def bad(guest: Guest) -> None:
        try:
            guest.sleep(seconds)  # type: ignore[arg-type]
        except errors.InvalidParameterError as error:
            codes.append(error.code)
            raise

    ecs.guest(instance_id).install_script(PRE, bad)
    result = run(cloud, instance_id, take_of(cloud, disk_id))
    assert (["InvalidParameter.Seconds"], DowngradeReason.PreScriptFailed) == (
        codes,
        result.downgrade_reason,
    )


def test_a_script_error_whose_str_raises_is_still_reported() -> None:
    """An exception with a hostile ``__str__`` still downgrades with its type in the message."""

    class Nasty(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    cloud, ecs, instance_id, disk_id, _ = prepared()

    def fail(guest: Guest) -> None:
        raise Nasty

    ecs.guest(instance_id).install_script(PRE, fail)
    result = run(cloud, instance_id, take_of(cloud, disk_id))
    assert DowngradeReason.PreScriptFailed == result.downgrade_reason
    assert "Nasty" in result.message


def test_a_keyboard_interrupt_in_a_script_propagates_after_the_thaw() -> None:
    """A BaseException that is not an error (Ctrl-C) is not swallowed; the guest is thawed."""
    cloud, ecs, instance_id, disk_id, _ = prepared()

    def interrupted(guest: Guest) -> None:
        raise KeyboardInterrupt

    ecs.guest(instance_id).install_script(POST, interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(cloud, instance_id, take_of(cloud, disk_id))
    assert_thawed(ecs, disk_id)
    ecs.guest(instance_id).install_script(POST, lambda guest: None)
    assert ConsistentLevel.APP == run(cloud, instance_id, take_of(cloud, disk_id)).consistent_level


# --- installing scripts ---------------------------------------------------------------------


class Path_(str):
    """A str subclass, as a hostile caller might pass for a path."""

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = str.__hash__


def test_a_str_subclass_path_is_installed_as_a_plain_str() -> None:
    """The registry keys on an exact str copy, so a plain path finds the script."""
    _cloud, ecs, instance_id, _, _ = prepared()
    ecs.guest(instance_id).install_script(Path_("/srv/pre.sh"), lambda guest: None)
    paths = ecs.guest(instance_id).script_paths()
    assert "/srv/pre.sh" in paths
    assert all(type(p) is str for p in paths)


@pytest.mark.parametrize(
    "path",
    [
        "relative/pre.sh",
        "",
        "/tmp/\udcff.sh",
        "/tmp/a\x00b",
        "/" + "a" * 1024,
        b"/tmp/pre.sh",
        7,
        None,
    ],
)
def test_a_bad_script_path_is_refused(path: object) -> None:
    """Not an absolute UTF-8 path of at most 1,024 characters: ``InvalidParameter.ScriptPath``."""
    _cloud, ecs, instance_id, _, _ = prepared()
    before = ecs.guest(instance_id).script_paths()
    raises_code(
        errors.InvalidParameterError,
        "InvalidParameter.ScriptPath",
        lambda: ecs.guest(instance_id).install_script(path, lambda guest: None),  # type: ignore[arg-type]
    )
    assert before == ecs.guest(instance_id).script_paths()


def test_a_windows_instance_takes_drive_paths_and_refuses_posix_ones() -> None:
    """Script paths follow the instance's OS: ``C:\\...`` on Windows."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    [instance_id] = ecs.run_instances(
        zone_id="cn-hangzhou-h", instance_type="ecs.g7.large", os_type="windows"
    )
    agent = ecs.guest(instance_id)
    agent.install_script("C:\\scripts\\pre.bat", lambda guest: None)
    raises_code(
        errors.InvalidParameterError,
        "InvalidParameter.ScriptPath",
        lambda: agent.install_script("/tmp/prescript.sh", lambda guest: None),
    )
    assert ("C:\\scripts\\pre.bat",) == agent.script_paths()


async def _coroutine_script(guest: Guest) -> None:
    """An async script: not a plain function."""


def _generator_script(guest: Guest) -> Any:
    """A generator script: not a plain function."""
    yield guest


@pytest.mark.parametrize(
    "script", [None, "print('hi')", 42, _coroutine_script, _generator_script, Guest]
)
def test_only_plain_functions_install_as_scripts(script: object) -> None:
    """Non-callables, classes, coroutine and generator functions: ``InvalidParameter.Script``."""
    _cloud, ecs, instance_id, _, _ = prepared()
    raises_code(
        errors.InvalidParameterError,
        "InvalidParameter.Script",
        lambda: ecs.guest(instance_id).install_script("/srv/x.sh", script),  # type: ignore[arg-type]
    )


def test_guest_agents_need_an_existing_instance_and_uninstall_needs_a_script() -> None:
    """``guest`` of an unknown id is NotFound; uninstalling a missing path is NotFound."""
    _cloud, ecs, instance_id, _, _ = prepared()
    raises_code(
        errors.ResourceNotFoundError, "InvalidInstanceId.NotFound", lambda: ecs.guest("i-nope")
    )
    raises_code(
        errors.ResourceNotFoundError,
        "InvalidScriptPath.NotFound",
        lambda: ecs.guest(instance_id).uninstall_script("/srv/none.sh"),
    )


def test_installing_scripts_stores_nothing() -> None:
    """Scripts live in the process: installing and uninstalling leaves the backend unchanged."""
    cloud, ecs, instance_id, _, _ = prepared()
    before = backend_state(cloud)
    ecs.guest(instance_id).install_script("/srv/a.sh", lambda guest: None)
    ecs.guest(instance_id).uninstall_script("/srv/a.sh")
    ecs.guest(instance_id).install_script("/srv/b.sh", lambda guest: None)
    assert before == backend_state(cloud)


# --- bad calls change nothing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "cls", "code"),
    [
        (
            {"timeout_in_seconds": 0},
            errors.InvalidParameterError,
            "InvalidParameter.TimeoutInSeconds",
        ),
        (
            {"timeout_in_seconds": True},
            errors.InvalidParameterError,
            "InvalidParameter.TimeoutInSeconds",
        ),
        (
            {"timeout_in_seconds": 86_401},
            errors.InvalidParameterError,
            "InvalidParameter.TimeoutInSeconds",
        ),
        ({"enable_fs_freeze": 1}, errors.InvalidParameterError, "InvalidParameter.EnableFsFreeze"),
        ({"enable_writers": "yes"}, errors.InvalidParameterError, "InvalidParameter.EnableWriters"),
        ({"ram_role_name": "bad role"}, errors.ResourceNotFoundError, "InvalidRamRole.NotFound"),
        (
            {"pre_script_path": "pre.sh"},
            errors.InvalidParameterError,
            "InvalidParameter.ScriptPath",
        ),
        (
            {"post_script_path": "\udc80"},
            errors.InvalidParameterError,
            "InvalidParameter.ScriptPath",
        ),
    ],
)
def test_bad_arguments_raise_before_anything_runs(
    options: dict[str, Any], cls: type[errors.CloudBackupError], code: str
) -> None:
    """Bad options are refused with their code; no script or take() runs, nothing changes."""
    cloud, _ecs, instance_id, _disk_id, app = prepared()
    called: list[str] = []
    rejected_unchanged(
        cloud, cls, code, lambda: run(cloud, instance_id, lambda: called.append("take"), **options)
    )
    assert ([], 0) == (called, app.flushes)


def test_a_non_callable_take_and_an_unknown_instance_are_refused() -> None:
    """take must be callable (``InvalidParameter.Take``); the instance must exist."""
    cloud, _, instance_id, _, _ = prepared()
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidParameter.Take",
        lambda: run(cloud, instance_id, "snapshot"),  # type: ignore[arg-type]
    )
    rejected_unchanged(
        cloud,
        errors.ResourceNotFoundError,
        "InvalidInstanceId.NotFound",
        lambda: run(cloud, "i-missing", lambda: None),
    )


# --- the sequence as a property -------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    attached=st.sampled_from([None, ROLE, "OtherRole"]),
    pre=st.one_of(st.none(), st.lists(st.integers(0, 20), max_size=4)),
    pre_raises=st.booleans(),
    post_installed=st.booleans(),
    timeout=st.integers(1, 40),
    writers=st.booleans(),
    freeze=st.booleans(),
)
def test_the_sequence_reaches_the_level_a_reference_predicts_and_always_thaws(
    attached: str | None,
    pre: list[int] | None,
    pre_raises: bool,
    post_installed: bool,
    timeout: int,
    writers: bool,
    freeze: bool,
) -> None:
    """Whatever the role, scripts and options, the level and reason match a plain reference and
    the guest takes writes afterwards."""
    cloud = make_cloud()
    ecs, instance_id, disk_id = instance_with_disk(cloud)
    if attached is not None:
        ecs.attach_instance_ram_role([instance_id], attached)
    agent = ecs.guest(instance_id)
    if pre is not None:

        def script(guest: Guest) -> None:
            for seconds in pre:
                guest.sleep(seconds)
            if pre_raises:
                raise RuntimeError("boom")

        agent.install_script(PRE, script)
    if post_installed:
        agent.install_script(POST, lambda guest: None)
    result = run(
        cloud,
        instance_id,
        take_of(cloud, disk_id),
        timeout_in_seconds=timeout,
        enable_writers=writers,
        enable_fs_freeze=freeze,
    )
    if attached is None:
        expected = (ConsistentLevel.CRASH, DowngradeReason.NoRamRoleBound)
    elif attached != ROLE:
        expected = (ConsistentLevel.CRASH, DowngradeReason.RamRoleNotMatch)
    elif not writers:
        expected = (ConsistentLevel.FS if freeze else ConsistentLevel.CRASH, None)
    elif pre is None:
        expected = (ConsistentLevel.CRASH, DowngradeReason.PreScriptNotFound)
    elif not post_installed:
        expected = (ConsistentLevel.CRASH, DowngradeReason.PostScriptNotFound)
    elif sum(pre) > timeout:
        expected = (ConsistentLevel.CRASH, DowngradeReason.PreScriptTimeout)
    elif pre_raises:
        expected = (ConsistentLevel.CRASH, DowngradeReason.PreScriptFailed)
    else:
        expected = (ConsistentLevel.APP, None)
    assert expected == (result.consistent_level, result.downgrade_reason)
    assert_thawed(ecs, disk_id)


# --- instance RAM roles ---------------------------------------------------------------------


def test_attach_describe_detach_an_instance_ram_role() -> None:
    """A role attached shows in both describe forms and is gone after the detach."""
    cloud = make_cloud()
    ecs, first = run_instance(cloud)
    _, second = run_instance(cloud)
    response = ecs.attach_instance_ram_role([first, second], ROLE)
    assert (2, 0, ROLE) == (response.total_count, response.fail_count, response.ram_role_name)
    assert [("200", True)] * 2 == [(r.code, r.success) for r in response.results]
    expected = sorted([InstanceRamRoleSet(first, ROLE), InstanceRamRoleSet(second, ROLE)], key=str)
    by_role = ecs.describe_instance_ram_role(ram_role_name=ROLE)
    by_id = ecs.describe_instance_ram_role(instance_ids=[second, first])
    assert (expected, 2) == (sorted(by_role.items, key=str), by_role.total_count)
    assert sorted(expected, key=lambda s: s.instance_id) == list(by_id.items)
    assert ROLE == ecs.describe_instance_attribute(first).ram_role_name
    detached = ecs.detach_instance_ram_role([first], ROLE)
    assert (1, 0) == (detached.total_count, detached.fail_count)
    assert [InstanceRamRoleSet(second, ROLE)] == list(
        ecs.describe_instance_ram_role(ram_role_name=ROLE).items
    )
    assert None is ecs.describe_instance_attribute(first).ram_role_name


def test_a_second_role_is_refused_per_instance_and_the_others_get_the_role() -> None:
    """An instance that has a role fails in its result; the rest of the call goes through."""
    cloud = make_cloud()
    ecs, first = run_instance(cloud)
    _, second = run_instance(cloud)
    ecs.attach_instance_ram_role([first], "FirstRole")
    response = ecs.attach_instance_ram_role([first, second], ROLE)
    assert (2, 1) == (response.total_count, response.fail_count)
    assert [("InvalidRamRole.AlreadyAttached", False), ("200", True)] == [
        (r.code, r.success) for r in response.results
    ]
    assert ("FirstRole", ROLE) == tuple(
        ecs.describe_instance_attribute(i).ram_role_name for i in (first, second)
    )


def test_detaching_a_role_an_instance_does_not_have_fails_for_that_instance() -> None:
    """No role, or another role than named: ``InvalidRamRole.NotAttached`` in its result."""
    cloud = make_cloud()
    ecs, first = run_instance(cloud)
    _, second = run_instance(cloud)
    ecs.attach_instance_ram_role([second], "OtherRole")
    response = ecs.detach_instance_ram_role([first, second], ROLE)
    assert 2 == response.fail_count
    assert {"InvalidRamRole.NotAttached"} == {r.code for r in response.results}
    assert "OtherRole" == ecs.describe_instance_attribute(second).ram_role_name
    assert 0 == ecs.detach_instance_ram_role([second]).fail_count


def test_describe_by_role_pages_in_instance_id_order() -> None:
    """Pages of ``PageSize`` cover every instance with the role once, in id order."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    ids = ecs.run_instances(zone_id="cn-hangzhou-h", instance_type="ecs.g7.large", amount=7)
    ecs.attach_instance_ram_role(ids, ROLE)
    pages = [
        ecs.describe_instance_ram_role(ram_role_name=ROLE, page_number=n, page_size=3)
        for n in (1, 2, 3, 4)
    ]
    assert sorted(ids) == [s.instance_id for p in pages for s in p.items]
    assert [7, 7, 7, 7] == [p.total_count for p in pages]
    assert [3, 3, 1, 0] == [len(p.items) for p in pages]


NOT_FOUND, BAD = errors.ResourceNotFoundError, errors.InvalidParameterError
MALFORMED_IDS = "InvalidInstanceIds.Malformed"
NO_INSTANCE, NO_ROLE = "InvalidInstanceId.NotFound", "InvalidRamRole.NotFound"
RamCall = Callable[[EcsService, str], object]
BAD_RAM_ROLE_CALLS: list[tuple[RamCall, type[errors.CloudBackupError], str]] = [
    (lambda e, i: e.attach_instance_ram_role([i, "i-missing"], ROLE), NOT_FOUND, NO_INSTANCE),
    (lambda e, i: e.attach_instance_ram_role([], ROLE), BAD, MALFORMED_IDS),
    (lambda e, i: e.attach_instance_ram_role(i, ROLE), BAD, MALFORMED_IDS),  # type: ignore[arg-type]
    (lambda e, i: e.attach_instance_ram_role([i, i], ROLE), BAD, MALFORMED_IDS),
    (
        lambda e, i: e.attach_instance_ram_role([i] + [f"i-{n}" for n in range(100)], ROLE),
        BAD,
        MALFORMED_IDS,
    ),
    (lambda e, i: e.attach_instance_ram_role([i], "a" * 65), NOT_FOUND, NO_ROLE),
    (lambda e, i: e.attach_instance_ram_role([i], "r\udc80"), NOT_FOUND, NO_ROLE),
    (lambda e, i: e.attach_instance_ram_role([i], ROLE, policy=""), BAD, "InvalidParameter.Policy"),
    (
        lambda e, i: e.attach_instance_ram_role([i], ROLE, policy="x" * 1025),
        BAD,
        "InvalidParameter.Policy",
    ),
    (lambda e, i: e.detach_instance_ram_role(["i-missing"]), NOT_FOUND, NO_INSTANCE),
    (lambda e, i: e.detach_instance_ram_role([i], "no/slash"), NOT_FOUND, NO_ROLE),
    (lambda e, i: e.describe_instance_ram_role(), BAD, "InvalidParameter.AllEmpty"),
    (lambda e, i: e.describe_instance_ram_role(instance_ids=["i-missing"]), NOT_FOUND, NO_INSTANCE),
    (
        lambda e, i: e.describe_instance_ram_role(ram_role_name=ROLE, page_size=51),
        BAD,
        "InvalidParameter.PageSize",
    ),
]


@pytest.mark.parametrize(("call", "cls", "code"), BAD_RAM_ROLE_CALLS)
def test_bad_ram_role_calls_are_refused_and_change_nothing(
    call: Callable[[EcsService, str], object], cls: type[errors.CloudBackupError], code: str
) -> None:
    """Malformed ids, unknown instances, bad role names and bad pages: the real codes."""
    cloud = make_cloud()
    ecs, instance_id = run_instance(cloud)
    rejected_unchanged(cloud, cls, code, lambda: call(ecs, instance_id))


@settings(max_examples=60, deadline=None)
@given(name=st.one_of(cbst.ram_role_names(), cbst.invalid_ram_role_names()))
def test_a_role_name_is_taken_exactly_when_ram_would_allow_it(name: str) -> None:
    """Well-formed names attach; every other string is ``InvalidRamRole.NotFound``."""
    cloud = make_cloud()
    ecs, instance_id = run_instance(cloud)
    valid = 1 <= len(name) <= 64 and all(c.isascii() and (c.isalnum() or c in ".-") for c in name)
    if valid:
        assert 0 == ecs.attach_instance_ram_role([instance_id], name).fail_count
        assert name == ecs.describe_instance_attribute(instance_id).ram_role_name
    else:
        rejected_unchanged(
            cloud,
            errors.ResourceNotFoundError,
            "InvalidRamRole.NotFound",
            lambda: ecs.attach_instance_ram_role([instance_id], name),
        )


def test_a_str_subclass_role_name_is_stored_as_a_plain_str() -> None:
    """A str subclass role name reaches the stored instance as an exact str."""
    cloud = make_cloud()
    ecs, instance_id = run_instance(cloud)
    ecs.attach_instance_ram_role([instance_id], Path_(ROLE))
    stored = ecs.describe_instance_attribute(instance_id).ram_role_name
    assert (ROLE, str) == (stored, type(stored))


def test_a_released_instance_leaves_the_role_index() -> None:
    """Deleting an instance drops it from DescribeInstanceRamRole by role."""
    cloud = make_cloud()
    ecs, first = run_instance(cloud)
    _, second = run_instance(cloud)
    ecs.attach_instance_ram_role([first, second], ROLE)
    ecs.delete_instance(first, force=True)
    page = ecs.describe_instance_ram_role(ram_role_name=ROLE)
    assert ([InstanceRamRoleSet(second, ROLE)], 1) == (list(page.items), page.total_count)


# --- storage --------------------------------------------------------------------------------


def test_a_reopened_sqlite_world_keeps_the_role_but_needs_its_scripts_again(
    tmp_path: Path,
) -> None:
    """The role is stored; the scripts are not: after reopening the point downgrades until
    they are installed again."""
    db = tmp_path / "world.db"
    with Cloud(backend=SqliteBackend(db)) as cloud:
        _, ecs, instance_id, disk_id, app = prepared(cloud)
        assert (
            ConsistentLevel.APP == run(cloud, instance_id, take_of(cloud, disk_id)).consistent_level
        )
    with Cloud(backend=SqliteBackend(db)) as cloud:
        ecs = cloud.ecs(REGION)
        assert ROLE == ecs.describe_instance_attribute(instance_id).ram_role_name
        assert () == ecs.guest(instance_id).script_paths()
        again = run(cloud, instance_id, take_of(cloud, disk_id))
        assert DowngradeReason.PreScriptNotFound == again.downgrade_reason
        ecs.guest(instance_id).install_script(PRE, app.pre_freeze)
        ecs.guest(instance_id).install_script(POST, app.post_thaw)
        assert (
            ConsistentLevel.APP == run(cloud, instance_id, take_of(cloud, disk_id)).consistent_level
        )


def test_instances_stored_before_the_field_existed_have_no_role(tmp_path: Path) -> None:
    """A version-1 world's instances read with ``ram_role_name`` None and can take a role."""
    db = tmp_path / "world.db"
    shutil.copyfile(WORLD_V1, db)
    with Cloud(backend=SqliteBackend(db), seed=11, block_size=16384) as cloud:
        ecs = cloud.ecs(REGION)
        [instance] = ecs.describe_instances(instance_name="v1").items
        assert None is instance.ram_role_name
        ecs.attach_instance_ram_role([instance.instance_id], ROLE)
        assert [InstanceRamRoleSet(instance.instance_id, ROLE)] == list(
            ecs.describe_instance_ram_role(ram_role_name=ROLE).items
        )


def test_both_backends_give_the_same_records_for_the_same_sequence(tmp_path: Path) -> None:
    """The same roles, scripts and sequence on memory and SQLite leave equal entity records."""
    results = []
    for backend in (InMemoryBackend(), SqliteBackend(tmp_path / "w.db")):
        cloud = make_cloud(backend=backend)
        _, _ecs, instance_id, disk_id, app = prepared(cloud)
        app.write(0, b"pending")
        result = run(cloud, instance_id, take_of(cloud, disk_id))
        settle(cloud)
        results.append((result, entity_records(cloud)))
        cloud.close()
    assert results[0] == results[1]


# --- strategies and the how-to page ---------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(linux=cbst.script_paths(), windows=cbst.script_paths(os_type="windows"))
def test_generated_script_paths_install_on_their_os(linux: str, windows: str) -> None:
    """``script_paths()`` values install on an instance of the OS they are generated for."""
    cloud = make_cloud()
    ecs = cloud.ecs(REGION)
    [penguin, window] = (
        ecs.run_instances(zone_id="cn-hangzhou-h", instance_type="ecs.g7.large", os_type=os)[0]
        for os in ("linux", "windows")
    )
    ecs.guest(penguin).install_script(linux, lambda guest: None)
    ecs.guest(window).install_script(windows, lambda guest: None)
    assert ((linux,), (windows,)) == (
        ecs.guest(penguin).script_paths(),
        ecs.guest(window).script_paths(),
    )


@given(level=cbst.consistent_levels(), reason=cbst.downgrade_reasons())
def test_consistency_strategies_give_members_of_their_enums(
    level: ConsistentLevel, reason: DowngradeReason
) -> None:
    """The level and reason strategies give enum members whose values are the wire strings."""
    assert (ConsistentLevel(level.value), DowngradeReason(reason.value)) == (level, reason)


@pytest.mark.parametrize(
    "build",
    [
        lambda: cbst.ram_role_names(min_size=0),
        lambda: cbst.ram_role_names(max_size=65),
        lambda: cbst.script_paths(os_type="macos"),
        lambda: cbst.script_paths(max_size=2),
    ],
)
def test_guest_strategies_refuse_invalid_arguments(build: Callable[[], Any]) -> None:
    """Bounds outside the real rules raise InvalidArgument when the strategy is used."""
    from hypothesis.errors import InvalidArgument

    with pytest.raises(InvalidArgument):
        build().example()


def test_the_how_to_page_runs_and_prints_what_it_shows(capsys: pytest.CaptureFixture[str]) -> None:
    """Every python block of the how-to page runs; the printed text is the page's text blocks."""
    import re

    page = Path(__file__).parent.parent / "docs" / "how-to" / "application-consistent-backup.md"
    text = page.read_text(encoding="utf-8")
    code = "\n".join(re.findall(r"```python\n(.*?)```", text, re.S))
    shown = "".join(re.findall(r"```text\n(.*?)```", text, re.S))
    exec(compile(code, str(page), "exec"), {})
    assert shown == capsys.readouterr().out


@given(result=cbst.app_consistent_results(), role_set=cbst.instance_ram_role_sets())
def test_generated_guest_records_agree_with_themselves(
    result: AppConsistentResult[Any], role_set: InstanceRamRoleSet
) -> None:
    """A generated result has a reason only with CRASH; a generated role set names a real-shaped
    instance and a role name the service takes."""
    assert (result.downgrade_reason is not None) <= (
        ConsistentLevel.CRASH == result.consistent_level
    )
    assert result.duration == result.pre_freeze_time + result.post_thaw_time
    assert (True, True) == (
        role_set.instance_id.startswith("i-"),
        cbst_role_name_ok(role_set.ram_role_name),
    )


def cbst_role_name_ok(name: str) -> bool:
    """Whether the service takes ``name`` as a RAM role name."""
    from cloudbackup._services.ecs.ram_roles import check_ram_role_name

    return name == check_ram_role_name(name)


class LyingFloat(float):
    """A float subclass whose comparisons lie, as a hostile caller might pass to sleep."""

    def __gt__(self, other: object) -> bool:
        return False

    def __lt__(self, other: object) -> bool:
        return False


def test_sleep_uses_the_plain_value_of_a_float_subclass() -> None:
    """A float subclass cannot sleep past the timeout by lying in its comparisons."""
    cloud, ecs, instance_id, disk_id, _ = prepared()
    ecs.guest(instance_id).install_script(PRE, lambda guest: guest.sleep(LyingFloat(31.0)))
    result = run(cloud, instance_id, take_of(cloud, disk_id))
    assert DowngradeReason.PreScriptTimeout == result.downgrade_reason


def test_sleeping_a_huge_integer_times_out_instead_of_overflowing() -> None:
    """An int beyond any float sleeps past the timeout, with the time capped at it."""
    cloud, ecs, instance_id, disk_id, _ = prepared()
    ecs.guest(instance_id).install_script(PRE, lambda guest: guest.sleep(10**400))
    result = run(cloud, instance_id, take_of(cloud, disk_id))
    assert (DowngradeReason.PreScriptTimeout, dt.timedelta(seconds=30)) == (
        result.downgrade_reason,
        result.pre_freeze_time,
    )
