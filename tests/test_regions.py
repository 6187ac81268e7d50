"""The region catalogue: ids, zones, time zones, capabilities and the errors for unknowns."""

from __future__ import annotations

import datetime as dt

import pytest

from _helpers import INSTANCE_TYPE, raises_code
from cloudbackup import REGIONS, Cloud, Region, SystemDisk, errors

REQUIRED = (
    "cn-hangzhou",
    "cn-shanghai",
    "cn-beijing",
    "cn-shenzhen",
    "cn-hongkong",
    "ap-southeast-1",
    "us-west-1",
    "eu-central-1",
)


def test_catalogue_holds_the_required_regions() -> None:
    """Every region the issue names is in the catalogue."""
    assert set(REQUIRED) <= set(REGIONS)


@pytest.mark.parametrize("region_id", sorted(REGIONS))
def test_each_region_is_consistent(region_id: str) -> None:
    """Each region is keyed by its id, has zones named after it and a working time zone."""
    region = REGIONS[region_id]
    assert region_id == region.region_id
    assert region.zones
    assert all(zone.startswith(f"{region_id}-") for zone in region.zones)
    assert len(set(region.zones)) == len(region.zones)
    assert 3 == len(region.id_infix)
    assert isinstance(region.tzinfo, dt.tzinfo)


def test_local_time_zones_are_real() -> None:
    """Hangzhou is UTC+8 all year; Frankfurt observes summer time."""
    winter = dt.datetime(2024, 1, 15, 12, tzinfo=dt.timezone.utc)
    summer = dt.datetime(2024, 7, 15, 12, tzinfo=dt.timezone.utc)
    hangzhou = REGIONS["cn-hangzhou"].tzinfo
    frankfurt = REGIONS["eu-central-1"].tzinfo
    assert dt.timedelta(hours=8) == winter.astimezone(hangzhou).utcoffset()
    assert dt.timedelta(hours=8) == summer.astimezone(hangzhou).utcoffset()
    assert dt.timedelta(hours=1) == winter.astimezone(frankfurt).utcoffset()
    assert dt.timedelta(hours=2) == summer.astimezone(frankfurt).utcoffset()


def test_capability_flags_exist_and_vary() -> None:
    """Capability flags are booleans and at least one region lacks each later-issue capability."""
    for region in REGIONS.values():
        assert isinstance(region.supports_backup_policy, bool)
        assert isinstance(region.supports_encrypted_snapshot_copy, bool)
    assert not all(r.supports_backup_policy for r in REGIONS.values())
    assert not all(r.supports_encrypted_snapshot_copy for r in REGIONS.values())
    assert REGIONS["cn-hangzhou"].supports_backup_policy


def test_cloud_regions_is_a_copy_of_the_catalogue() -> None:
    """cloud.regions lists the catalogue and mutating it changes nothing."""
    cloud = Cloud()
    regions = cloud.regions
    assert REGIONS == regions
    regions.clear()
    assert REGIONS == cloud.regions


def test_region_is_frozen() -> None:
    """Region values are immutable."""
    region = REGIONS["cn-hangzhou"]
    with pytest.raises(AttributeError):
        region.region_id = "x"  # type: ignore[misc]
    assert isinstance(region, Region)


@pytest.mark.parametrize("bad", ["cn-nowhere", "", "CN-HANGZHOU", None, 7])
def test_unknown_region_is_invalid_region_id(bad: object) -> None:
    """Unknown regions raise InvalidRegionId.NotFound for both services."""
    cloud = Cloud()
    raises_code(errors.ResourceNotFoundError, "InvalidRegionId.NotFound", lambda: cloud.ecs(bad))  # type: ignore[arg-type]
    raises_code(errors.ResourceNotFoundError, "InvalidRegionId.NotFound", lambda: cloud.kms(bad))  # type: ignore[arg-type]


@pytest.mark.parametrize("zone", ["cn-hangzhou-z", "cn-shanghai-a", "", None])
def test_unknown_zone_is_invalid_zone_id(zone: object) -> None:
    """A zone not of the service's region raises InvalidZoneId.NotFound."""
    ecs = Cloud().ecs("cn-hangzhou")
    raises_code(
        errors.ResourceNotFoundError,
        "InvalidZoneId.NotFound",
        lambda: ecs.run_instances(
            zone_id=zone,  # type: ignore[arg-type]
            instance_type=INSTANCE_TYPE,
            system_disk=SystemDisk(),
        ),
    )
    raises_code(
        errors.ResourceNotFoundError,
        "InvalidZoneId.NotFound",
        lambda: ecs.create_disk(zone_id=zone, size=20),  # type: ignore[arg-type]
    )


def test_resource_ids_carry_the_region_infix() -> None:
    """Ids made in Shanghai carry Shanghai's infix (i-uf6…, d-uf6…)."""
    cloud = Cloud()
    ecs = cloud.ecs("cn-shanghai")
    [instance_id] = ecs.run_instances(zone_id="cn-shanghai-b", instance_type=INSTANCE_TYPE)
    disk_id = ecs.create_disk(zone_id="cn-shanghai-b", size=20)
    assert instance_id.startswith("i-uf6")
    assert disk_id.startswith("d-uf6")
