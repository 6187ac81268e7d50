"""The catalogue of Alibaba Cloud regions this model knows, with zones and capabilities."""

from __future__ import annotations

import datetime as _dt

import attrs
from dateutil import tz as _tz

from .errors import ResourceNotFoundError

__all__ = ["REGIONS", "Region", "get_region", "require_zone"]


@attrs.frozen
class Region:
    """A region of Alibaba Cloud and what the model lets you do there."""

    region_id: str
    """The region id, e.g. ``"cn-hangzhou"``."""
    local_name: str
    """The console name, e.g. ``"China (Hangzhou)"``."""
    zones: tuple[str, ...]
    """The zone ids of the region, e.g. ``("cn-hangzhou-h", "cn-hangzhou-i")``."""
    time_zone: str
    """The IANA name of the region's local time zone."""
    id_infix: str
    """The three characters real resource ids carry after their prefix (``i-bp1…``)."""
    supports_backup_policy: bool = True
    """Cloud Backup policies (``CreatePolicyV2``) can be used here."""
    supports_encrypted_snapshot_copy: bool = True
    """Encrypted snapshots can be copied into this region."""
    supports_snapshot_group: bool = True
    """Snapshot-consistent groups (``CreateSnapshotGroup``) are available."""

    @property
    def tzinfo(self) -> _dt.tzinfo:
        """The region's local time zone as a ``tzinfo``."""
        zone = _tz.gettz(self.time_zone)
        assert zone is not None, self.time_zone
        return zone


def _zones(region_id: str, letters: str) -> tuple[str, ...]:
    return tuple(f"{region_id}-{letter}" for letter in letters)


# Zone letters and id infixes follow the real console and real resource ids. Which regions
# lack backup policies or encrypted copy is not published as a list; the False flags below
# are a modelling choice (see docs/reference/regions.md) so that tests can exercise the errors.
REGIONS: dict[str, Region] = {
    r.region_id: r
    for r in (
        Region("cn-hangzhou", "China (Hangzhou)", _zones("cn-hangzhou", "befghijk"),
               "Asia/Shanghai", "bp1"),
        Region("cn-shanghai", "China (Shanghai)", _zones("cn-shanghai", "abefglmn"),
               "Asia/Shanghai", "uf6"),
        Region("cn-beijing", "China (Beijing)", _zones("cn-beijing", "acfghijkl"),
               "Asia/Shanghai", "2ze"),
        Region("cn-shenzhen", "China (Shenzhen)", _zones("cn-shenzhen", "acdef"),
               "Asia/Shanghai", "wz9"),
        Region("cn-qingdao", "China (Qingdao)", _zones("cn-qingdao", "bc"),
               "Asia/Shanghai", "m5e"),
        Region("cn-zhangjiakou", "China (Zhangjiakou)", _zones("cn-zhangjiakou", "abc"),
               "Asia/Shanghai", "8vb"),
        Region("cn-huhehaote", "China (Hohhot)", _zones("cn-huhehaote", "ab"),
               "Asia/Shanghai", "hp3"),
        Region("cn-chengdu", "China (Chengdu)", _zones("cn-chengdu", "ab"),
               "Asia/Shanghai", "2vc"),
        Region("cn-hongkong", "China (Hong Kong)", _zones("cn-hongkong", "bcd"),
               "Asia/Hong_Kong", "j6c"),
        Region("ap-southeast-1", "Singapore", _zones("ap-southeast-1", "abc"),
               "Asia/Singapore", "t4n"),
        Region("ap-southeast-5", "Indonesia (Jakarta)", _zones("ap-southeast-5", "abc"),
               "Asia/Jakarta", "k1a"),
        Region("ap-northeast-1", "Japan (Tokyo)", _zones("ap-northeast-1", "abc"),
               "Asia/Tokyo", "6we"),
        Region("us-west-1", "US (Silicon Valley)", _zones("us-west-1", "ab"),
               "America/Los_Angeles", "rj9"),
        Region("us-east-1", "US (Virginia)", _zones("us-east-1", "ab"),
               "America/New_York", "0xi"),
        Region("eu-central-1", "Germany (Frankfurt)", _zones("eu-central-1", "ab"),
               "Europe/Berlin", "gw8"),
        Region("eu-west-1", "UK (London)", _zones("eu-west-1", "ab"),
               "Europe/London", "d7o", supports_backup_policy=False),
        Region("me-east-1", "UAE (Dubai)", _zones("me-east-1", "a"),
               "Asia/Dubai", "eb3", supports_backup_policy=False,
               supports_encrypted_snapshot_copy=False),
    )
}  # fmt: skip


def get_region(region_id: object) -> Region:
    """The :class:`Region` for ``region_id``, or ``InvalidRegionId.NotFound``."""
    region = REGIONS.get(region_id) if isinstance(region_id, str) else None
    if region is None:
        raise ResourceNotFoundError(
            f"The region {region_id!r} does not exist.",
            code="InvalidRegionId.NotFound",
            ids=(str(region_id),),
            recommend=f"Use one of: {', '.join(sorted(REGIONS))}.",
        )
    return region


def require_zone(region: Region, zone_id: object) -> str:
    """``zone_id`` if it is a zone of ``region``, else ``InvalidZoneId.NotFound``."""
    if not isinstance(zone_id, str) or zone_id not in region.zones:
        raise ResourceNotFoundError(
            f"The zone {zone_id!r} does not exist in region {region.region_id}.",
            code="InvalidZoneId.NotFound",
            ids=(str(zone_id), region.region_id),
            recommend=f"Use one of: {', '.join(region.zones)}.",
        )
    return zone_id
