"""Arbitrary values thrown at every public method of Cloud, EcsService and KmsService: only
CloudBackupError escapes, and when it does the world is exactly as it was.

The methods are found by introspection, so a new public method is fuzzed without changing this
file. Set FUZZ_EXAMPLES (default 60) to throw more values at each method.
"""

from __future__ import annotations

import base64
import datetime as dt
import inspect
import os
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudbackup import (
    Cloud,
    DataDisk,
    DiskCategory,
    DiskDeviceMapping,
    EcsService,
    InMemoryBackend,
    InstanceStatus,
    KeySpec,
    KmsService,
    Limits,
    ManualClock,
    PerformanceLevel,
    ResetDiskSpec,
    SystemDisk,
    Timings,
    errors,
)
from cloudbackup._time import LATEST
from cloudbackup.testing import check_invariants, world_state

REGION = "cn-hangzhou"
OTHER_REGION = "cn-shanghai"
ZONE = "cn-hangzhou-h"
CLASSES: dict[str, type[Any]] = {"Cloud": Cloud, "EcsService": EcsService, "KmsService": KmsService}
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# -- the methods -----------------------------------------------------------------------------
def _public_methods(cls: type[Any]) -> list[str]:
    """Public methods of ``cls`` (not properties), found by introspection."""
    names = []
    for name in dir(cls):
        member = inspect.getattr_static(cls, name)
        if not name.startswith("_") and (
            inspect.isfunction(member) or isinstance(member, (staticmethod, classmethod))
        ):
            names.append(name)
    return sorted(names)


def _public_others(cls: type[Any]) -> list[str]:
    """Public attributes of ``cls`` that are neither methods nor properties."""
    return [
        name
        for name in dir(cls)
        if not name.startswith("_")
        and name not in _public_methods(cls)
        and not isinstance(inspect.getattr_static(cls, name), property)
    ]


TARGETS = [("Cloud", "__init__")] + [
    (owner, name) for owner, cls in CLASSES.items() for name in _public_methods(cls)
]
_FUZZABLE = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _parameters(owner: str, name: str) -> list[inspect.Parameter]:
    signature = inspect.signature(getattr(CLASSES[owner], name))
    return [p for p in signature.parameters.values() if p.name != "self"]


# -- a world with something of everything --------------------------------------------------
@attrs.frozen
class _World:
    cloud: Cloud
    ids: tuple[object, ...]
    """Real ids and names of the world, and values close to valid ones."""


def _build_world() -> _World:
    cloud = Cloud(seed=11, block_size=4096)
    kms = cloud.kms(REGION)
    key = kms.create_key().key_id
    disabled = kms.create_key().key_id
    kms.disable_key(disabled)
    dying = kms.create_key().key_id
    kms.schedule_key_deletion(dying, 7)
    rsa = kms.create_key(key_spec="RSA_2048").key_id
    kms.create_alias("alias/fuzz", key)
    foreign = cloud.kms(OTHER_REGION).create_key().key_id
    ciphertext = kms.encrypt(key, b"secret")
    ecs = cloud.ecs(REGION)
    [running] = ecs.run_instances(
        zone_id=ZONE,
        instance_type="ecs.g7.large",
        system_disk=SystemDisk(),
        data_disks=[
            DataDisk(size=20),
            DataDisk(size=20, encrypted=True, kms_key_id=key),
            DataDisk(category="cloud_efficiency", size=20),
            DataDisk(category="local_ssd_pro", size=10),
        ],
    )
    stopped = ecs.create_instance(zone_id=ZONE, instance_type="ecs.g7.large")
    cloud.advance(dt.timedelta(minutes=2))
    disks = ecs.describe_disks(instance_id=running, page_size=100).items
    by_category = {(d.category, d.encrypted, d.type.value): d.disk_id for d in disks}
    plain = by_category[(DiskCategory.cloud_essd, False, "data")]
    sealed = by_category[(DiskCategory.cloud_essd, True, "data")]
    ultra = by_category[(DiskCategory.cloud_efficiency, False, "data")]
    local = by_category[(DiskCategory.local_ssd_pro, False, "data")]
    system = by_category[(DiskCategory.cloud_essd, False, "system")]
    for disk_id in (plain, sealed, ultra, system):
        ecs.write_disk(disk_id, 4096, b"fuzz" * 1000)
    first = ecs.create_snapshot(disk_id=plain, retention_days=5)
    ecs.write_disk(plain, 0, b"later")
    group = ecs.create_snapshot_group(instance_id=running, exclude_disk_ids=[ultra, local])
    members = ecs.describe_snapshot_groups(snapshot_group_ids=[group]).items[0].snapshot_ids
    locked = ecs.create_snapshot(disk_id=system)
    ecs.lock_snapshot(snapshot_id=locked, lock_duration=2, cool_off_period=1)
    image = ecs.create_image(snapshot_id=locked)
    from_snapshot = ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", snapshot_id=first)
    progressing = ecs.create_snapshot(disk_id=ultra, tags=[("env", "prod")])
    ecs.tag_resources(resource_type="disk", resource_ids=[plain, sealed], tags=[("env", "prod")])
    link = ecs.describe_snapshot(first).snapshot_link_id
    token = ecs.describe_disks(max_results=1).next_token
    assert token is not None
    arn = kms.describe_key(key).arn
    raw = base64.b64decode(ciphertext)
    ids: tuple[object, ...] = (
        running,
        stopped,
        plain,
        sealed,
        ultra,
        local,
        system,
        from_snapshot,
        first,
        locked,
        progressing,
        *members,
        group,
        image,
        link,
        token,
        "retry-1",
        "env",
        "prod",
        key,
        disabled,
        dying,
        rsa,
        foreign,
        arn,
        "alias/fuzz",
        "alias/acs/ecs",
        ciphertext,
        base64.b64encode(raw[:-3]).decode(),
        base64.b64encode(raw.split(b"\x00", 1)[0] + b"\x00" + b"x").decode(),
        REGION,
        OTHER_REGION,
        ZONE,
        "cn-hangzhou-i",
        "cn-shanghai-a",
        cloud.backend,
        cloud.clock,
        cloud.now(),
        cloud.now() + dt.timedelta(hours=1),
    )
    return _World(cloud, ids)


_CACHE: list[_World] = []


def _world() -> _World:
    """A world to fuzz: reused while calls are refused (they provably change nothing)."""
    if not _CACHE:
        _CACHE.append(_build_world())
    return _CACHE[0]


def _spoil() -> None:
    """Forget the cached world after a call that succeeded (it may have changed it)."""
    _CACHE.clear()


# -- values ------------------------------------------------------------------------------------
_UTC = dt.timezone.utc
_SCALARS: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**16), 2**20),
    st.sampled_from([0, 1, -1, 2**31, 2**63, -(2**63), 10**30, 4096, 65536, 65537, 36500]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "é" * 3,
            "²",
            "٣",
            "ecs.g7.large",
            "ecs.g7.large\n",
            "cloud_essd",
            "cloud",
            "local_ssd_pro",
            "PL0",
            "PL1",
            "PL3",
            "system",
            "data",
            "all",
            "All",
            "progressing",
            "accomplished",
            "Enabled",
            "Disabled",
            "compliance",
            "offline",
            "Aliyun_AES_256",
            "Aliyun_SM4",
            "EC_P256",
            "ENCRYPT/DECRYPT",
            "SIGN/VERIFY",
            "alias/new",
            "alias/acs/x",
            "/dev/xvda",
            "/dev/xvdb",
            "/dev/xvdz",
            "10",
            "s-bp1doesnotexist",
        ]
    ),
    st.binary(max_size=40),
    st.sampled_from(["x", "9", "é"]).map(lambda c: c * 5000),
    st.just(4096).map(bytes),
    st.datetimes(timezones=st.none() | st.just(_UTC) | st.timezones()),
    st.sampled_from(
        [
            dt.datetime.max.replace(tzinfo=_UTC),
            dt.datetime.min.replace(tzinfo=_UTC),
            dt.datetime(9999, 12, 31, 20, tzinfo=dt.timezone(dt.timedelta(hours=-10))),
            dt.datetime(1, 1, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=10))),
        ]
    ),
    st.timedeltas(),
    st.sampled_from([dt.timedelta.max, dt.timedelta.min, dt.timedelta(0)]),
    st.sampled_from(list(DiskCategory) + list(PerformanceLevel) + list(KeySpec)),
    st.sampled_from(list(InstanceStatus)),
    st.builds(object),
    st.builds(InMemoryBackend),
    st.builds(ManualClock),
)


def _fields(world: _World) -> st.SearchStrategy[Any]:
    """What goes into a field of a request object: mostly scalars and real ids, sometimes a
    small container (an unhashable id, say)."""
    real = st.sampled_from(world.ids)
    scalar = real | real | _SCALARS
    return scalar | scalar | scalar | st.lists(scalar, max_size=2) | st.builds(dict)


def _values(world: _World) -> st.SearchStrategy[Any]:
    """Anything: scalars, the world's own ids, request objects with bad fields, containers."""
    real = st.sampled_from(world.ids)
    leaf = _fields(world)
    requests = st.one_of(
        st.builds(
            SystemDisk,
            category=leaf,
            size=leaf,
            performance_level=leaf,
            disk_name=leaf,
            description=leaf,
            encrypted=leaf,
            kms_key_id=leaf,
        ),
        st.builds(
            DataDisk,
            category=st.sampled_from(["cloud_essd", "local_ssd_pro"]) | leaf,
            size=st.integers(1, 100) | leaf,
            performance_level=leaf,
            snapshot_id=leaf,
            encrypted=leaf,
            kms_key_id=leaf,
            delete_with_instance=leaf,
            disk_name=leaf,
            description=leaf,
        ),
        st.builds(ResetDiskSpec, disk_id=leaf, snapshot_id=leaf),
        st.builds(DiskDeviceMapping, snapshot_id=leaf, disk_type=leaf, device=leaf, size=leaf),
        # Bad field values are refused when Timings/Limits are built (tests/test_settings.py).
        st.builds(Timings),
        st.builds(Limits),
    )
    single = leaf | requests
    # Two fixed levels of containers rather than st.recursive: same reach, a stable shape.
    flat = st.one_of(
        st.lists(single, max_size=4),
        st.lists(real, min_size=1, max_size=3),
        st.tuples(single, single),
        st.dictionaries(st.text(max_size=5) | real, single, max_size=3),
        st.frozensets(real, max_size=3),
    )
    return single | single | flat | st.lists(flat | single, max_size=3)


def _hints(world: _World, name: str) -> st.SearchStrategy[Any] | None:
    """Values shaped like what a parameter called ``name`` takes, with bad parts inside."""
    real = st.sampled_from(world.ids)
    leaf = _fields(world)
    keys = st.sampled_from([i for i in world.ids if isinstance(i, str) and i.startswith("key-")])
    hints: dict[str, st.SearchStrategy[Any]] = {
        "disks": st.lists(st.builds(ResetDiskSpec, disk_id=leaf, snapshot_id=leaf), max_size=3),
        "disk_device_mappings": st.lists(
            st.builds(
                DiskDeviceMapping,
                snapshot_id=real | leaf,
                disk_type=st.sampled_from(["system", "data"]) | leaf,
                device=st.none() | leaf,
                size=st.none() | leaf,
            ),
            max_size=4,
        ),
        "data_disks": st.lists(
            st.builds(DataDisk, category=leaf, size=leaf, snapshot_id=leaf, kms_key_id=leaf),
            max_size=3,
        ),
        "tags": st.lists(st.tuples(leaf, leaf) | leaf, max_size=3),
        "next_token": st.text(st.characters(categories=["Nd", "No"]), max_size=5)
        | st.just(4400).map(lambda n: "9" * n)
        | real,
        "status": st.lists(leaf, max_size=3),
        "resource_type": st.sampled_from(["instance", "disk", "snapshot", "image"]) | leaf,
        "tag_keys": st.lists(st.sampled_from(["env", "acs:x", "aliyunX"]) | leaf, max_size=3),
        "client_token": st.sampled_from(["retry-1", "x" * 65, "é"]) | leaf,
        "dry_run": st.booleans() | leaf,
        "max_results": st.integers(-1, 101) | leaf,
        "ciphertext_blob": st.builds(
            lambda key, body: base64.b64encode(key.encode() + b"\x00" + body).decode(),
            keys,
            st.binary(max_size=40),
        ),
    }
    if name in hints:
        return hints[name]
    if name.endswith("_ids"):
        return st.lists(leaf, max_size=4)
    return None


@st.composite
def _call(draw: st.DrawFn, world: _World, target: tuple[str, str]) -> dict[str, Any]:
    """Keyword arguments for ``target``: every required one, a random part of the others."""
    values = _values(world)
    kwargs: dict[str, Any] = {}
    for parameter in _parameters(*target):
        required = parameter.default is inspect.Parameter.empty
        if required or draw(st.booleans()):
            hint = _hints(world, parameter.name)
            use_hint = hint is not None and draw(st.booleans())
            kwargs[parameter.name] = draw(hint if use_hint and hint is not None else values)
    return kwargs


def _bound(world: _World, target: tuple[str, str], region: str) -> Callable[..., Any]:
    owner, name = target
    if (owner, name) == ("Cloud", "__init__"):
        return Cloud
    if owner == "Cloud":
        return getattr(world.cloud, name)  # type: ignore[no-any-return]
    service = world.cloud.ecs(region) if owner == "EcsService" else world.cloud.kms(region)
    return getattr(service, name)  # type: ignore[no-any-return]


def _throw(world: _World, target: tuple[str, str], region: str, kwargs: dict[str, Any]) -> bool:
    """Call ``target``; return whether it succeeded. Only CloudBackupError may escape it, and
    then nothing may have changed; a success must keep the world's invariants."""
    before = world_state(world.cloud)
    refused: errors.CloudBackupError | None = None
    try:
        _bound(world, target, region)(**kwargs)
    except errors.CloudBackupError as exc:
        refused = exc
    if refused is not None:
        after = world_state(world.cloud)
        assert before == after, f"{target} refused ({refused.code}) but changed the world:\n" + (
            before.difference(after)
        )
        return False
    if target != ("Cloud", "close"):
        check_invariants(world.cloud)
    return True


# -- the tests -------------------------------------------------------------------------------
def test_every_public_method_is_discovered_and_fuzzable() -> None:
    """Introspection finds the public methods, and each one's parameters can be fuzzed."""
    found = {name for _, name in TARGETS}
    known = {
        "advance",
        "run_until",
        "run_instances",
        "write_disk",
        "read_disk",
        "create_snapshot",
        "create_snapshot_group",
        "reset_disks",
        "lock_snapshot",
        "create_image",
        "create_key",
        "schedule_key_deletion",
        "decrypt",
    }
    assert known <= found
    request_parameters = {"tags", "client_token", "dry_run", "next_token", "max_results"}
    reached = {p.name for target in TARGETS for p in _parameters(*target)}
    assert request_parameters <= reached
    assert {"tag_resources", "untag_resources", "list_tag_resources"} <= found
    others = {owner: _public_others(cls) for owner, cls in CLASSES.items()}
    assert {owner: [] for owner in CLASSES} == others
    unfuzzable = [
        (target, p.name)
        for target in TARGETS
        for p in _parameters(*target)
        if p.kind not in _FUZZABLE
    ]
    assert [] == unfuzzable


@pytest.mark.parametrize("target", TARGETS, ids=[f"{o}.{n}" for o, n in TARGETS])
@FUZZ
@given(data=st.data(), region=st.sampled_from([REGION, REGION, OTHER_REGION]))
def test_fuzzed_calls_raise_only_cloudbackup_errors_and_change_nothing(
    target: tuple[str, str], data: st.DataObject, region: str
) -> None:
    """Arbitrary arguments either work (keeping every invariant) or raise a CloudBackupError
    that leaves the world exactly as it was."""
    world = _world()
    kwargs = data.draw(_call(world, target), label="kwargs")
    if _throw(world, target, region, kwargs):
        _spoil()


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_fuzzed_call_sequences_raise_only_cloudbackup_errors(data: st.DataObject) -> None:
    """Sequences of arbitrary calls on one world keep the same promise at every step."""
    _spoil()
    world = _world()
    _spoil()  # this world will be changed; nobody else may reuse it
    for _ in range(3):
        target = data.draw(st.sampled_from(TARGETS), label="target")
        region = data.draw(st.sampled_from([REGION, OTHER_REGION]), label="region")
        kwargs = data.draw(_call(world, target), label="kwargs")
        _throw(world, target, region, kwargs)
        if target == ("Cloud", "close"):
            break


# -- regressions the fuzzer found ------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {"clock": "i-bp1ctafd7mhdk3neodde"},
        {"backend": []},
        {"backend": ManualClock()},
        {"timings": 5},
        {"limits": Timings()},
    ],
)
def test_cloud_refuses_collaborators_of_the_wrong_type(kwargs: dict[str, Any]) -> None:
    """Cloud() refuses a backend, clock, timings or limits that is not one, before using it."""
    with pytest.raises(errors.InvalidParameterError):
        Cloud(**kwargs)


def test_instants_a_datetime_cannot_hold_in_utc_are_refused() -> None:
    """run_until with an aware instant that overflows when converted to UTC is refused."""
    cloud = Cloud()
    late = dt.datetime(9999, 12, 31, 20, tzinfo=dt.timezone(dt.timedelta(hours=-10)))
    before = world_state(cloud)
    with pytest.raises(errors.InvalidParameterError):
        cloud.run_until(late)
    assert before == world_state(cloud)


def test_advancing_beyond_the_last_instant_is_refused() -> None:
    """advance(timedelta.max) is refused instead of overflowing the clock."""
    cloud = Cloud()
    before = world_state(cloud)
    with pytest.raises(errors.InvalidParameterError):
        cloud.advance(dt.timedelta.max)
    assert before == world_state(cloud)


def test_virtual_time_stops_where_the_longest_retention_still_fits() -> None:
    """Time may run until LATEST, and a snapshot kept 65,536 days still fits after it."""
    cloud = Cloud(block_size=4096)
    ecs = cloud.ecs(REGION)
    [instance_id] = ecs.run_instances(
        zone_id=ZONE, instance_type="ecs.g7.large", data_disks=[DataDisk(size=20)]
    )
    cloud.run_until(LATEST)
    with pytest.raises(errors.InvalidParameterError):
        cloud.run_until(LATEST + dt.timedelta(microseconds=1))
    [disk] = ecs.describe_disks(instance_id=instance_id, disk_type="data").items
    snapshot_id = ecs.create_snapshot(disk_id=disk.disk_id, retention_days=65536)
    assert LATEST + dt.timedelta(days=65536) == ecs.describe_snapshot(snapshot_id).expire_time
    with pytest.raises(errors.InvalidParameterError):
        Cloud(clock=ManualClock(LATEST + dt.timedelta(days=1)))


def _fuzz_world_services() -> tuple[_World, EcsService, KmsService]:
    world = _build_world()
    return world, world.cloud.ecs(REGION), world.cloud.kms(REGION)


def _refused(world: _World, call: Callable[[], object]) -> str:
    """Run ``call``, which must be refused with a CloudBackupError that changes nothing."""
    before = world_state(world.cloud)
    with pytest.raises(errors.CloudBackupError) as info:
        call()
    assert before == world_state(world.cloud)
    return info.value.code


def test_reset_disks_refuses_an_id_that_is_not_a_string() -> None:
    """reset_disks with an unhashable disk id is refused, not a TypeError."""
    world, ecs, _ = _fuzz_world_services()
    spec = ResetDiskSpec(disk_id=["d-1"], snapshot_id="s-1")  # type: ignore[arg-type]
    assert "InvalidDiskId.Malformed" == _refused(world, lambda: ecs.reset_disks(disks=[spec]))


def test_create_image_refuses_a_device_that_is_not_a_string() -> None:
    """create_image with an unhashable data-disk device is refused, not a TypeError."""
    world, ecs, _ = _fuzz_world_services()
    snapshot_id = ecs.describe_snapshots(status="accomplished").items[0].snapshot_id
    mappings = [
        DiskDeviceMapping(snapshot_id=snapshot_id, disk_type="system"),
        DiskDeviceMapping(snapshot_id=snapshot_id, device=["/dev/xvdb"]),  # type: ignore[arg-type]
    ]
    code = _refused(world, lambda: ecs.create_image(disk_device_mappings=mappings))
    assert "InvalidParameter.Device" == code


@pytest.mark.parametrize("token", ["²", "9" * 4400, "١٢"])
def test_describe_snapshot_groups_refuses_tokens_that_are_not_plain_numbers(token: str) -> None:
    """NextToken must be ASCII digits a page offset can be read from."""
    world, ecs, _ = _fuzz_world_services()
    code = _refused(world, lambda: ecs.describe_snapshot_groups(next_token=token))
    assert "InvalidParameter.NextToken" == code


@pytest.mark.parametrize("body", [b"", b"abc", b"x" * 11, b"x" * 12])
def test_decrypt_refuses_a_truncated_ciphertext(body: bytes) -> None:
    """A ciphertext too short to hold a nonce and a tag is refused as the plain InvalidParameter."""
    world, _, kms = _fuzz_world_services()
    for spec in ("Aliyun_AES_256", "Aliyun_SM4"):
        key_id = kms.create_key(key_spec=spec).key_id
        blob = base64.b64encode(key_id.encode() + b"\x00" + body).decode()
        assert "InvalidParameter" == _refused(world, lambda blob=blob: kms.decrypt(blob))
