"""cloudbackup.testing.strategies: valid values pass the real calls, invalid ones fail with the
rule's error code, and bad arguments to the strategies themselves are refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from cloudbackup import (
    CATEGORY_SPECS,
    DEFAULT_START,
    REGIONS,
    Cloud,
    DataDisk,
    DiskCategory,
    DiskReset,
    EcsService,
    KeySpec,
    PerformanceLevel,
    SystemDisk,
    errors,
)
from cloudbackup.testing import strategies as cbst

REGION = "cn-hangzhou"
ZONE = "cn-hangzhou-h"
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])


def _world() -> tuple[Cloud, EcsService, str, str]:
    """A fresh world with a Running instance, its 20 GiB ESSD data disk, and a snapshot of it."""
    cloud = Cloud(seed=3, block_size=4096)
    ecs = cloud.ecs(REGION)
    [instance_id] = ecs.run_instances(
        zone_id=ZONE,
        instance_type="ecs.g7.large",
        system_disk=SystemDisk(),
        data_disks=[DataDisk(size=20)],
    )
    cloud.advance(dt.timedelta(minutes=2))
    [disk] = ecs.describe_disks(instance_id=instance_id, disk_type="data").items
    ecs.write_disk(disk.disk_id, 0, b"strategies")
    snapshot_id = ecs.create_snapshot(disk_id=disk.disk_id)
    return cloud, ecs, disk.disk_id, snapshot_id


class _Found(Exception):
    """Raised by _reachable's search when the condition holds."""


def _reachable(strategy: Any, condition: Callable[[Any], bool]) -> bool:
    """Whether ``strategy`` generates a value meeting ``condition`` (no shrinking)."""

    @settings(max_examples=3000, phases=[Phase.generate], database=None, deadline=None)
    @given(strategy)
    def search(value: Any) -> None:
        if condition(value):
            raise _Found

    try:
        search()
    except _Found:
        return True
    return False


def _code(call: Callable[[], object]) -> str:
    with pytest.raises(errors.CloudBackupError) as info:
        call()
    return info.value.code


# -- places ----------------------------------------------------------------------------------
@FAST
@given(cbst.region_ids())
def test_region_ids_name_services(region_id: str) -> None:
    """Every generated region id gives an ECS and a KMS service of that region."""
    cloud = Cloud()
    assert region_id == cloud.ecs(region_id).region_id == cloud.kms(region_id).region_id


@pytest.mark.parametrize("flag", ["supports_backup_policy", "supports_encrypted_snapshot_copy"])
@pytest.mark.parametrize("value", [True, False])
@FAST
@given(data=st.data())
def test_region_ids_filter_by_capability(flag: str, value: bool, data: st.DataObject) -> None:
    """Capability flags keep only the regions that have (or lack) the capability."""
    region_id = data.draw(cbst.region_ids(**{flag: value}))
    assert value == getattr(REGIONS[region_id], flag)


@FAST
@given(data=st.data())
def test_zone_ids_are_accepted_by_create_disk(data: st.DataObject) -> None:
    """A zone drawn for a region (given as a value or a strategy) creates a disk there."""
    region_id = data.draw(cbst.region_ids())
    zone_id = data.draw(cbst.zone_ids(region_id=st.just(region_id) | st.just(region_id)))
    ecs = Cloud().ecs(region_id)
    disk_id = ecs.create_disk(zone_id=zone_id, disk_category="cloud_essd", size=20)
    assert zone_id == ecs.describe_disk(disk_id).zone_id


@FAST
@given(cbst.zone_ids())
def test_zone_ids_without_a_region_are_zones_of_some_region(zone_id: str) -> None:
    """Without a region, zone ids come from every region of the catalogue."""
    [region] = [r for r in REGIONS.values() if zone_id in r.zones]
    assert zone_id in region.zones


# -- disks -----------------------------------------------------------------------------------
@FAST
@given(data=st.data())
def test_disk_sizes_are_accepted_by_create_disk(data: st.DataObject) -> None:
    """Sizes drawn for a category and performance level create such a disk."""
    category = data.draw(cbst.disk_categories(local=False))
    level = None
    if category is DiskCategory.cloud_essd:
        level = data.draw(st.none() | cbst.performance_levels())
    size = data.draw(cbst.disk_sizes(category=category, performance_level=level))
    name = data.draw(st.none() | cbst.disk_names())
    ecs = Cloud().ecs(REGION)
    disk_id = ecs.create_disk(
        zone_id=ZONE,
        disk_category=category.value,
        size=size,
        performance_level=None if level is None else level.value,
        disk_name=name,
    )
    disk = ecs.describe_disk(disk_id)
    assert (category, size, name) == (disk.category, disk.size, disk.disk_name)


@FAST
@given(cbst.disk_sizes(category=cbst.disk_categories(local=False)))
def test_disk_sizes_take_a_strategy_of_categories(size: int) -> None:
    """With a strategy of categories, sizes lie within some category's range."""
    assert any(spec.min_size <= size <= spec.max_size for spec in CATEGORY_SPECS.values())


@FAST
@given(data=st.data())
def test_invalid_disk_sizes_are_refused_by_create_disk(data: st.DataObject) -> None:
    """Sizes outside a category's range are refused with InvalidSize.ValueNotSupported."""
    category = data.draw(cbst.disk_categories(local=False))
    level = None
    if category is DiskCategory.cloud_essd:
        level = data.draw(cbst.performance_levels())
    size = data.draw(cbst.invalid_disk_sizes(category=category, performance_level=level))
    ecs = Cloud().ecs(REGION)
    code = _code(
        lambda: ecs.create_disk(
            zone_id=ZONE,
            disk_category=category.value,
            size=size,
            performance_level=None if level is None else level.value,
        )
    )
    assert "InvalidSize.ValueNotSupported" == code


@FAST
@given(data=st.data())
def test_system_and_data_disks_are_accepted_by_run_instances(data: st.DataObject) -> None:
    """Generated system and data disk requests (encrypted or not) make an instance."""
    cloud = Cloud(block_size=4096)
    key = cloud.kms(REGION).create_key().key_id
    keys = st.sampled_from([None, key])
    system = data.draw(cbst.system_disks(kms_key_ids=keys))
    disks = data.draw(st.lists(cbst.data_disks(kms_key_ids=keys), max_size=4))
    ecs = cloud.ecs(REGION)
    [instance_id] = ecs.run_instances(
        zone_id=ZONE, instance_type="ecs.g7.large", system_disk=system, data_disks=disks
    )
    made = ecs.describe_disks(instance_id=instance_id, page_size=100).items
    assert 1 + len(disks) == len(made)
    [root] = [d for d in made if d.type.value == "system"]
    assert (system.category, system.size, system.encrypted) == (
        root.category.value,
        root.size,
        root.encrypted,
    )


@FAST
@given(data=st.data())
def test_data_disks_from_snapshots_are_accepted_by_run_instances(data: st.DataObject) -> None:
    """Data disks drawn with snapshot ids are created with the snapshot's bytes."""
    _, ecs, _, snapshot_id = _world()
    disks = data.draw(
        st.lists(cbst.data_disks(snapshot_ids=st.just(snapshot_id)), min_size=1, max_size=3)
    )
    [instance_id] = ecs.run_instances(
        zone_id=ZONE, instance_type="ecs.g7.large", system_disk=SystemDisk(), data_disks=disks
    )
    made = ecs.describe_disks(instance_id=instance_id, disk_type="data", page_size=100).items
    assert [snapshot_id] * len(disks) == [d.source_snapshot_id for d in made]


@pytest.mark.parametrize(
    ("flags", "check"),
    [
        ({"snapshot_capable": False}, lambda s: not s.snapshot),
        ({"consistent_group": True}, lambda s: s.consistent_group),
        ({"local": True}, lambda s: s.local),
        ({"system_disk": True, "from_snapshot": True}, lambda s: s.system_disk),
    ],
)
@FAST
@given(data=st.data())
def test_disk_categories_filter_by_capability(
    flags: dict[str, bool], check: Callable[[Any], bool], data: st.DataObject
) -> None:
    """Capability flags keep only categories whose spec matches."""
    assert check(CATEGORY_SPECS[data.draw(cbst.disk_categories(**flags))])


# -- snapshots -------------------------------------------------------------------------------
@FAST
@given(cbst.snapshot_names(), cbst.descriptions())
def test_snapshot_names_and_descriptions_are_accepted(name: str, description: str) -> None:
    """Generated names and descriptions pass create and modify_snapshot_attribute."""
    _, ecs, disk_id, snapshot_id = _world()
    ecs.modify_snapshot_attribute(snapshot_id=snapshot_id, snapshot_name=name)
    made = ecs.create_snapshot(disk_id=disk_id, snapshot_name=name, description=description)
    assert (name, name, description) == (
        ecs.describe_snapshot(snapshot_id).snapshot_name,
        ecs.describe_snapshot(made).snapshot_name,
        ecs.describe_snapshot(made).description,
    )


@FAST
@given(cbst.invalid_snapshot_names())
def test_invalid_snapshot_names_are_refused(name: str) -> None:
    """Invalid names are refused by create and modify with InvalidSnapshotName.Malformed."""
    _, ecs, disk_id, snapshot_id = _world()
    codes = {
        _code(lambda: ecs.create_snapshot(disk_id=disk_id, snapshot_name=name)),
        _code(lambda: ecs.modify_snapshot_attribute(snapshot_id=snapshot_id, snapshot_name=name)),
    }
    assert {"InvalidSnapshotName.Malformed"} == codes


@FAST
@given(cbst.invalid_descriptions())
def test_invalid_descriptions_are_refused(description: str) -> None:
    """Descriptions of a wrong length are refused with InvalidDescription.Malformed."""
    _, ecs, disk_id, _ = _world()
    code = _code(lambda: ecs.create_snapshot(disk_id=disk_id, description=description))
    assert "InvalidDescription.Malformed" == code


@FAST
@given(cbst.retention_days(), cbst.tags())
def test_retention_days_and_tags_are_accepted(days: int, tags: list[tuple[str, str]]) -> None:
    """Generated retention and tags pass create_snapshot and are kept as given."""
    _, ecs, disk_id, snapshot_id = _world()
    ecs.delete_snapshot(snapshot_id)
    made = ecs.describe_snapshot(
        ecs.create_snapshot(disk_id=disk_id, retention_days=days, tags=tags)
    )
    assert (days, tuple(tags)) == (made.retention_days, made.tags)


@FAST
@given(cbst.invalid_retention_days())
def test_invalid_retention_days_are_refused(days: int) -> None:
    """Retention outside 1–65,536 is refused with InvalidRetentionDays.Malformed."""
    _, ecs, disk_id, _ = _world()
    code = _code(lambda: ecs.create_snapshot(disk_id=disk_id, retention_days=days))
    assert "InvalidRetentionDays.Malformed" == code


@FAST
@given(cbst.invalid_tags())
def test_invalid_tags_are_refused(tags: list[Any]) -> None:
    """Bad tag lists are refused with a tag error code."""
    _, ecs, disk_id, _ = _world()
    code = _code(lambda: ecs.create_snapshot(disk_id=disk_id, tags=tags))
    assert code in {
        "InvalidTagKey.Malformed",
        "InvalidTagCount",
        "InvalidTagValue.Malformed",
        "Duplicate.TagKey",
    }


@FAST
@given(cbst.lock_durations(), cbst.cool_off_periods())
def test_lock_durations_and_cool_off_periods_are_accepted(days: int, hours: int) -> None:
    """Generated lock parameters lock a snapshot."""
    _, ecs, _, snapshot_id = _world()
    ecs.lock_snapshot(snapshot_id=snapshot_id, lock_duration=days, cool_off_period=hours)
    lock = ecs.describe_snapshot(snapshot_id).lock
    assert lock is not None
    assert (days, hours) == (lock.lock_duration, lock.cool_off_period)


@FAST
@given(
    st.one_of(
        cbst.invalid_lock_durations().map(lambda d: ("d", d)),
        cbst.invalid_cool_off_periods().map(lambda h: ("h", h)),
    )
)
def test_invalid_lock_parameters_are_refused(bad: tuple[str, int]) -> None:
    """Lock durations and cool-off periods out of range are refused with their codes."""
    _, ecs, _, snapshot_id = _world()
    which, value = bad
    days, hours = (value, 0) if which == "d" else (1, value)
    code = _code(
        lambda: ecs.lock_snapshot(
            snapshot_id=snapshot_id, lock_duration=days, cool_off_period=hours
        )
    )
    expected = "InvalidParameter.LockDuration" if which == "d" else "InvalidParameter.CoolOffPeriod"
    assert expected == code


@FAST
@given(cbst.instance_types())
def test_instance_types_are_accepted(instance_type: str) -> None:
    """Generated instance types create instances."""
    ecs = Cloud().ecs(REGION)
    instance_id = ecs.create_instance(zone_id=ZONE, instance_type=instance_type)
    assert instance_type == ecs.describe_instance_attribute(instance_id).instance_type


@FAST
@given(cbst.invalid_instance_types())
def test_invalid_instance_types_are_refused(instance_type: str) -> None:
    """Malformed instance types are refused with InvalidInstanceType.ValueNotSupported."""
    ecs = Cloud().ecs(REGION)
    code = _code(lambda: ecs.create_instance(zone_id=ZONE, instance_type=instance_type))
    assert "InvalidInstanceType.ValueNotSupported" == code


@FAST
@given(data=st.data())
def test_disk_device_mappings_are_accepted_by_create_image(data: st.DataObject) -> None:
    """Generated mappings of real snapshots make an image with exactly those mappings."""
    _, ecs, disk_id, snapshot_id = _world()
    other = ecs.create_snapshot(disk_id=disk_id)
    mappings = data.draw(
        cbst.disk_device_mappings(
            system_snapshot_ids=st.just(snapshot_id), data_snapshot_ids=st.sampled_from([other])
        )
    )
    image_id = ecs.create_image(disk_device_mappings=mappings)
    [image] = ecs.describe_images(image_ids=[image_id]).items
    assert [m.snapshot_id for m in mappings] == [m.snapshot_id for m in image.disk_device_mappings]


@FAST
@given(data=st.data())
def test_reset_disk_specs_are_accepted_by_reset_disks(data: st.DataObject) -> None:
    """Generated pairs of a stopped instance's disks and their snapshots roll them back."""
    cloud = Cloud(block_size=4096)
    ecs = cloud.ecs(REGION)
    [instance_id] = ecs.run_instances(
        zone_id=ZONE,
        instance_type="ecs.g7.large",
        data_disks=[DataDisk(size=20), DataDisk(size=20)],
    )
    cloud.advance(dt.timedelta(minutes=2))
    disks = [d.disk_id for d in ecs.describe_disks(instance_id=instance_id).items]
    pairs = [(d, ecs.create_snapshot(disk_id=d)) for d in disks]
    for disk_id in disks:
        ecs.write_disk(disk_id, 0, b"after the snapshot")
    ecs.stop_instance(instance_id)
    cloud.advance(dt.timedelta(minutes=1))
    specs = data.draw(cbst.reset_disk_specs(pairs=st.sampled_from(pairs)))
    ecs.reset_disks(disks=specs)
    reset = [(e.disk_id, e.snapshot_id) for e in cloud.events.list(DiskReset)]
    assert [(s.disk_id, s.snapshot_id) for s in specs] == reset


# -- KMS -------------------------------------------------------------------------------------
@FAST
@given(cbst.key_specs(), cbst.alias_names(), cbst.pending_window_days())
def test_key_specs_alias_names_and_windows_are_accepted(
    spec: KeySpec, alias: str, days: int
) -> None:
    """Generated key specs, alias names and deletion windows pass KMS."""
    kms = Cloud().kms(REGION)
    usage = "SIGN/VERIFY" if spec in (KeySpec.EC_P256, KeySpec.EC_P256K) else "ENCRYPT/DECRYPT"
    key = kms.create_key(key_spec=spec.value, key_usage=usage)
    kms.create_alias(alias, key.key_id)
    kms.schedule_key_deletion(alias, days)
    described = kms.describe_key(alias)
    assert (spec, key.key_id, DEFAULT_START + dt.timedelta(days=days)) == (
        described.key_spec,
        described.key_id,
        described.delete_date,
    )


@FAST
@given(cbst.key_specs(symmetric=True))
def test_symmetric_key_specs_encrypt_disks(spec: KeySpec) -> None:
    """Keys of symmetric specs can encrypt a disk."""
    cloud = Cloud()
    key = cloud.kms(REGION).create_key(key_spec=spec.value)
    ecs = cloud.ecs(REGION)
    disk_id = ecs.create_disk(
        zone_id=ZONE, disk_category="cloud_essd", size=20, encrypted=True, kms_key_id=key.key_id
    )
    assert key.key_id == ecs.describe_disk(disk_id).kms_key_id


@FAST
@given(
    st.one_of(
        cbst.invalid_alias_names().map(lambda v: ("alias", v)),
        cbst.invalid_pending_window_days().map(lambda v: ("days", v)),
        cbst.invalid_key_specs().map(lambda v: ("spec", v)),
    )
)
def test_invalid_kms_values_are_refused(bad: tuple[str, Any]) -> None:
    """Invalid alias names, deletion windows and key specs are refused with their codes."""
    kms = Cloud().kms(REGION)
    key_id = kms.create_key().key_id
    which, value = bad
    calls: dict[str, tuple[Callable[[], object], str]] = {
        "alias": (lambda: kms.create_alias(value, key_id), "InvalidParameter"),
        "days": (
            lambda: kms.schedule_key_deletion(key_id, value),
            "InvalidParameter",
        ),
        "spec": (lambda: kms.create_key(key_spec=value), "InvalidParameter"),
    }
    call, expected = calls[which]
    assert expected == _code(call)


# -- regions and zones, invalid ---------------------------------------------------------------
@FAST
@given(cbst.invalid_region_ids())
def test_invalid_region_ids_are_refused(region_id: str) -> None:
    """Unknown regions are refused with InvalidRegionId.NotFound."""
    assert "InvalidRegionId.NotFound" == _code(lambda: Cloud().ecs(region_id))


@FAST
@given(data=st.data())
def test_invalid_zone_ids_are_refused(data: st.DataObject) -> None:
    """Zones not of the region are refused with InvalidZoneId.NotFound."""
    region_id = data.draw(cbst.region_ids())
    zone_id = data.draw(cbst.invalid_zone_ids(region_id=region_id))
    ecs = Cloud().ecs(region_id)
    code = _code(lambda: ecs.create_disk(zone_id=zone_id, disk_category="cloud_essd", size=20))
    assert "InvalidZoneId.NotFound" == code


# -- the world and its data ------------------------------------------------------------------
@FAST
@given(cbst.clouds(block_sizes=cbst.block_sizes(), account_ids=cbst.account_ids()))
def test_clouds_are_fresh_worlds(cloud: Cloud) -> None:
    """Generated clouds start empty at the default instant."""
    assert (DEFAULT_START, 0, None) == (cloud.now(), len(cloud.events), cloud.next_event_time())


@settings(FAST, max_examples=60)
@given(data=st.data(), block_size=st.sampled_from([4096, 8192]))
def test_block_writes_stay_inside_the_disk_and_read_back(
    data: st.DataObject, block_size: int
) -> None:
    """Generated writes fit the span they were drawn for and read back as written."""
    cloud = Cloud(block_size=block_size)
    ecs = cloud.ecs(REGION)
    [instance_id] = ecs.run_instances(
        zone_id=ZONE, instance_type="ecs.g7.large", data_disks=[DataDisk(size=20)]
    )
    cloud.advance(dt.timedelta(minutes=2))
    [disk] = ecs.describe_disks(instance_id=instance_id, disk_type="data").items
    span = data.draw(st.integers(1, 6 * block_size))
    offset, payload = data.draw(cbst.block_writes(disk_size_bytes=span, block_size=block_size))
    assert 0 <= offset <= offset + len(payload) <= span
    ecs.write_disk(disk.disk_id, offset, payload)
    assert payload == ecs.read_disk(disk.disk_id, offset, len(payload))


# -- everything valid can be generated ---------------------------------------------------------
@pytest.mark.parametrize(
    ("strategy", "wanted"),
    [
        (cbst.region_ids(), set(REGIONS)),
        (cbst.disk_categories(), set(DiskCategory)),
        (cbst.performance_levels(), set(PerformanceLevel)),
        (cbst.key_specs(), set(KeySpec)),
    ],
)
def test_enumerations_are_generated_completely(strategy: Any, wanted: set[Any]) -> None:
    """Every region, category, performance level and key spec can be generated."""
    found = {w for w in wanted if _reachable(strategy, lambda v, w=w: v == w)}
    assert wanted == found


@pytest.mark.parametrize(
    ("strategy", "condition"),
    [
        (cbst.snapshot_names(), lambda n: len(n) == 128),
        (cbst.snapshot_names(), lambda n: len(n) == 2),
        (cbst.snapshot_names(), lambda n: "\u4e00" <= n[0] <= "\u9fff"),
        (cbst.retention_days(), lambda d: d == 65536),
        (cbst.alias_names(), lambda a: len(a) == 255),
        (cbst.tags(), lambda t: len(t) == 20),
        (cbst.block_writes(disk_size_bytes=65536), lambda w: not any(w[1])),
        (cbst.block_writes(disk_size_bytes=65536), lambda w: w[0] + len(w[1]) == 65536),
        (cbst.system_disks(), lambda s: s.encrypted),
    ],
)
def test_edges_of_the_rules_are_generated(strategy: Any, condition: Any) -> None:
    """The extremes of each rule (longest names, largest retention, ...) are reachable."""
    assert _reachable(strategy, condition)


# -- arguments of the strategies ---------------------------------------------------------------
@pytest.mark.parametrize(
    "build",
    [
        lambda: cbst.snapshot_names(min_size=1),
        lambda: cbst.snapshot_names(max_size=129),
        lambda: cbst.descriptions(min_size=10, max_size=5),
        lambda: cbst.retention_days(min_value=0),
        lambda: cbst.retention_days(max_value=True),
        lambda: cbst.disk_sizes(category="bogus"),
        lambda: cbst.disk_sizes(category="cloud", performance_level="PL1"),
        lambda: cbst.disk_sizes(category="local_ssd_pro", disk_type="system"),
        lambda: cbst.disk_sizes(category="cloud", min_value=1),
        lambda: cbst.zone_ids(region_id="mars-east-1"),
        lambda: cbst.region_ids(supports_backup_policy="yes"),
        lambda: cbst.disk_categories(local=True, snapshot_capable=True),
        lambda: cbst.system_disks(categories="cloud_essd"),
        lambda: cbst.block_writes(disk_size_bytes=0),
        lambda: cbst.block_writes(disk_size_bytes=100, max_size=200),
        lambda: cbst.tags(max_size=21),
        lambda: cbst.clouds(seeds=3),
        lambda: cbst.disk_device_mappings(system_snapshot_ids="s-1"),
        lambda: cbst.disk_device_mappings(system_snapshot_ids=st.just("s-1"), max_size=17),
        lambda: cbst.reset_disk_specs(pairs=st.just(("d", "s")), min_size=0),
    ],
)
def test_invalid_strategy_arguments_raise(build: Callable[[], object]) -> None:
    """A strategy called with a bad argument raises InvalidArgument at once."""
    with pytest.raises(InvalidArgument):
        build()


def test_every_public_strategy_is_documented() -> None:
    """Every strategy in __all__ has a docstring."""
    undocumented = [n for n in cbst.__all__ if not (getattr(cbst, n).__doc__ or "").strip()]
    expected: list[str] = []
    assert expected == undocumented


@FAST
@given(cbst.client_tokens())
def test_client_tokens_are_accepted_and_replay(token: str) -> None:
    """A generated client token creates a disk once; the same request again returns it."""
    _, ecs, _, _ = _world()
    first = ecs.create_disk(zone_id=ZONE, size=20, client_token=token)
    assert first == ecs.create_disk(zone_id=ZONE, size=20, client_token=token)


@FAST
@given(cbst.invalid_client_tokens())
def test_invalid_client_tokens_are_refused(token: str) -> None:
    """Empty, over-long or non-ASCII tokens are InvalidClientToken.Malformed."""
    _, ecs, _, _ = _world()
    code = _code(lambda: ecs.create_disk(zone_id=ZONE, size=20, client_token=token))
    assert "InvalidClientToken.Malformed" == code


@FAST
@given(cbst.tag_resources())
def test_tag_resources_name_a_taggable_type_and_a_valid_tag(item: Any) -> None:
    """Each generated ListTagResources item's tag can be set on a resource of its type."""
    _, ecs, disk_id, _ = _world()
    ecs.tag_resources(
        resource_type="disk", resource_ids=[disk_id], tags=[(item.tag_key, item.tag_value)]
    )
    listed = ecs.list_tag_resources(resource_type="disk", resource_ids=[disk_id])
    assert [(item.tag_key, item.tag_value)] == [(t.tag_key, t.tag_value) for t in listed]
    assert item.resource_type in ("instance", "disk", "snapshot", "image")


@given(cbst.locked_snapshot_infos())
def test_locked_snapshot_infos_agree_with_themselves(info: Any) -> None:
    """Cool-off ends cool_off_period hours after the lock was set; an expiry follows it."""
    end = info.lock_creation_time + dt.timedelta(hours=info.cool_off_period)
    assert end == info.cool_off_period_expired_time
    if info.lock_expired_time is None:
        assert "expired" != info.lock_status.value


@given(cbst.snapshot_group_members())
def test_snapshot_group_members_agree_with_themselves(member: Any) -> None:
    """100% exactly when accomplished; nothing left to wait for unless progressing."""
    assert ("100%" == member.progress) is (member.status.value == "accomplished")
    if member.status.value != "progressing":
        assert 0 == member.remain_time


def test_every_strategy_shows_its_public_path() -> None:
    """The split into private modules is invisible: each public strategy lives, by its
    ``__module__``, at ``cloudbackup.testing.strategies``."""
    modules = {getattr(cbst, name).__module__ for name in cbst.__all__}
    assert {"cloudbackup.testing.strategies"} == modules
