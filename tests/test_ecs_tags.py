"""Tags on instances, disks, snapshots and images: set at creation, TagResources,
UntagResources, ListTagResources, the real limits, and ``tags=`` filters on describe calls."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _helpers import (
    INSTANCE_TYPE,
    ZONE,
    instance_with_disk,
    make_cloud,
    raises_code,
    rejected_unchanged,
    run_instance,
    settle,
)
from cloudbackup import DiskDeviceMapping, TagResource, errors
from cloudbackup.testing import check_invariants


def test_run_instances_tags_the_instance_and_its_disks() -> None:
    """RunInstances' tags land on the instance and on every disk created with it."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    [instance_id] = ecs.run_instances(
        zone_id=ZONE, instance_type=INSTANCE_TYPE, tags=[("env", "prod")]
    )
    assert (("env", "prod"),) == ecs.describe_instance_attribute(instance_id).tags
    disks = ecs.describe_disks(instance_id=instance_id).items
    assert [(("env", "prod"),)] == [d.tags for d in disks]
    check_invariants(cloud)


def test_create_calls_take_tags() -> None:
    """CreateDisk, CreateSnapshot and CreateImage store the tags they are given."""
    cloud = make_cloud()
    ecs, instance_id = run_instance(cloud)
    disk_id = ecs.create_disk(zone_id=ZONE, size=20, tags=[("a", "1")])
    system = ecs.describe_disks(instance_id=instance_id, disk_type="system").items[0]
    snapshot_id = ecs.create_snapshot(disk_id=system.disk_id, tags=[("b", "2")])
    cloud.advance(__import__("datetime").timedelta(hours=1))
    image_id = ecs.create_image(snapshot_id=snapshot_id, tags=[("c", "3")])
    assert (("a", "1"),) == ecs.describe_disk(disk_id).tags
    assert (("b", "2"),) == ecs.describe_snapshot(snapshot_id).tags
    assert (("c", "3"),) == ecs.describe_images(image_ids=[image_id]).items[0].tags
    check_invariants(cloud)


def test_tag_resources_overwrites_and_untag_removes() -> None:
    """TagResources gives an existing key its new value; UntagResources removes named keys."""
    cloud = make_cloud()
    ecs, instance_id = run_instance(cloud)
    ecs.tag_resources(
        resource_type="instance", resource_ids=[instance_id], tags=[("k", "1"), ("j", "x")]
    )
    ecs.tag_resources(resource_type="instance", resource_ids=[instance_id], tags=[("k", "2")])
    assert (("k", "2"), ("j", "x")) == ecs.describe_instance_attribute(instance_id).tags
    ecs.untag_resources(resource_type="instance", resource_ids=[instance_id], tag_keys=["k"])
    assert (("j", "x"),) == ecs.describe_instance_attribute(instance_id).tags
    assert [] == list(ecs.describe_instances(tags=[("k", "2")]))
    check_invariants(cloud)


def test_untag_all_keeps_the_service_tags() -> None:
    """UntagResources with All removes the user's tags but not acs:ecs:createFrom."""
    cloud = make_cloud()
    ecs, instance_id, _ = instance_with_disk(cloud)
    group = ecs.create_snapshot_group(instance_id=instance_id)
    member = ecs.describe_snapshot_groups(snapshot_group_ids=[group]).items[0].snapshot_ids[0]
    ecs.tag_resources(resource_type="snapshot", resource_ids=[member], tags=[("u", "v")])
    ecs.untag_resources(resource_type="snapshot", resource_ids=[member], all=True)
    assert (("acs:ecs:createFrom", instance_id),) == ecs.describe_snapshot(member).tags
    check_invariants(cloud)


def test_list_tag_resources_by_id_and_by_tag() -> None:
    """ListTagResources lists the named resources' tags, or those of resources carrying a tag."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    first = ecs.create_disk(zone_id=ZONE, size=20, tags=[("env", "prod"), ("team", "a")])
    second = ecs.create_disk(zone_id=ZONE, size=20, tags=[("env", "dev")])
    by_tag = ecs.list_tag_resources(resource_type="disk", tags=[("env", "prod")])
    assert [
        TagResource(first, "disk", "env", "prod"),
        TagResource(first, "disk", "team", "a"),
    ] == list(by_tag)
    by_id = ecs.list_tag_resources(resource_type="disk", resource_ids=[second])
    assert [TagResource(second, "disk", "env", "dev")] == list(by_id)
    assert None is by_id.next_token


def test_list_tag_resources_pages_fifty_at_a_time() -> None:
    """Sixty tags come back as a page of 50 and a page of 10, each exactly once."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    ids = [
        ecs.create_disk(zone_id=ZONE, size=20, tags=[("k", "v"), ("n", str(i))]) for i in range(30)
    ]
    first = ecs.list_tag_resources(resource_type="disk", tags=[("k", "v")])
    assert 50 == len(first)
    assert first.next_token is not None
    second = ecs.list_tag_resources(
        resource_type="disk", tags=[("k", "v")], next_token=first.next_token
    )
    assert 10 == len(second)
    assert None is second.next_token
    seen = [(t.resource_id, t.tag_key) for t in (*first, *second)]
    assert sorted((i, k) for i in ids for k in ("k", "n")) == seen


@pytest.mark.parametrize(
    ("kwargs", "cls", "code"),
    [
        ({"resource_type": "vpc"}, errors.InvalidParameterError, "InvalidResourceType.NotFound"),
        ({"resource_ids": []}, errors.InvalidParameterError, "MissingParameter.ResourceIds"),
        (
            {"resource_ids": [f"d-{i}" for i in range(51)]},
            errors.InvalidParameterError,
            "InvalidParameter.ResourceId",
        ),
        ({"tags": []}, errors.InvalidParameterError, "MissingParameter.Tags"),
        ({"tags": [("k", "1"), ("k", "2")]}, errors.InvalidParameterError, "Duplicate.TagKey"),
        ({"resource_ids": ["d-missing"]}, errors.ResourceNotFoundError, "InvalidDiskId.NotFound"),
    ],
)
def test_tag_resources_refusals_change_nothing(
    kwargs: dict[str, object], cls: type[errors.CloudBackupError], code: str
) -> None:
    """Each malformed TagResources request is refused with its code and changes nothing."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    disk_id = ecs.create_disk(zone_id=ZONE, size=20)
    call: dict[str, object] = {
        "resource_type": "disk",
        "resource_ids": [disk_id],
        "tags": [("k", "v")],
        **kwargs,
    }
    rejected_unchanged(cloud, cls, code, lambda: ecs.tag_resources(**call))  # type: ignore[arg-type]


def test_a_missing_resource_leaves_the_others_untagged() -> None:
    """One missing id refuses the whole request: the existing resource is not tagged either."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    disk_id = ecs.create_disk(zone_id=ZONE, size=20)
    call = lambda: ecs.tag_resources(  # noqa: E731
        resource_type="disk", resource_ids=[disk_id, "d-missing"], tags=[("k", "v")]
    )
    rejected_unchanged(cloud, errors.ResourceNotFoundError, "InvalidDiskId.NotFound", call)
    assert () == ecs.describe_disk(disk_id).tags


def test_twenty_tags_fit_and_the_twenty_first_is_refused() -> None:
    """A resource holds 20 tags; one more (even in a later call) is InvalidTagCount."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    disk_id = ecs.create_disk(zone_id=ZONE, size=20, tags=[(f"k{i}", "") for i in range(19)])
    ecs.tag_resources(resource_type="disk", resource_ids=[disk_id], tags=[("k19", "")])
    assert 20 == len(ecs.describe_disk(disk_id).tags)
    ecs.tag_resources(resource_type="disk", resource_ids=[disk_id], tags=[("k0", "new")])
    call = lambda: ecs.tag_resources(  # noqa: E731
        resource_type="disk", resource_ids=[disk_id], tags=[("k20", "")]
    )
    error = rejected_unchanged(cloud, errors.InvalidParameterError, "InvalidTagCount", call)
    assert (disk_id,) == error.ids


@pytest.mark.parametrize(
    "tag",
    [("acs:x", "v"), ("aliyunx", "v"), ("", "v"), ("k" * 129, "v"), ("k", "v" * 129)],
)
def test_malformed_tags_are_refused_everywhere(tag: tuple[str, str]) -> None:
    """A reserved prefix, an empty or over-long key, or an over-long value is refused."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    disk_id = ecs.create_disk(zone_id=ZONE, size=20)
    with pytest.raises(errors.InvalidParameterError):
        ecs.tag_resources(resource_type="disk", resource_ids=[disk_id], tags=[tag])
    with pytest.raises(errors.InvalidParameterError):
        ecs.create_disk(zone_id=ZONE, size=20, tags=[tag])
    assert 1 == ecs.describe_disks().total_count


def test_untag_needs_keys_or_all_and_refuses_reserved_keys() -> None:
    """UntagResources without keys or All, or naming acs: keys, is refused."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    disk_id = ecs.create_disk(zone_id=ZONE, size=20, tags=[("k", "v")])
    raises_code(
        errors.InvalidParameterError,
        "MissingParameter.TagKey",
        lambda: ecs.untag_resources(resource_type="disk", resource_ids=[disk_id]),
    )
    raises_code(
        errors.InvalidParameterError,
        "InvalidTagKey.Malformed",
        lambda: ecs.untag_resources(
            resource_type="disk", resource_ids=[disk_id], tag_keys=["acs:ecs:createFrom"]
        ),
    )


def test_untag_refuses_keys_that_are_not_a_list_and_all_that_is_not_a_bool() -> None:
    """UntagResources' TagKey must be a list of strings and All a bool; both refusals change
    nothing."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    disk_id = ecs.create_disk(zone_id=ZONE, size=20, tags=[("k", "v")])
    raises_code(
        errors.InvalidParameterError,
        "InvalidParameter.TagKey",
        lambda: ecs.untag_resources(resource_type="disk", resource_ids=[disk_id], tag_keys="k"),
    )
    raises_code(
        errors.InvalidParameterError,
        "InvalidParameter.All",
        lambda: ecs.untag_resources(
            resource_type="disk",
            resource_ids=[disk_id],
            all="yes",  # type: ignore[arg-type]
        ),
    )
    assert (("k", "v"),) == ecs.describe_disks(disk_ids=[disk_id]).items[0].tags


def test_tag_filters_accept_service_tags_and_refuse_bad_filters() -> None:
    """A describe filter may name acs: tags; more than 20 pairs or a non-pair is refused."""
    cloud = make_cloud()
    ecs, instance_id, _ = instance_with_disk(cloud)
    ecs.create_snapshot_group(instance_id=instance_id)
    found = ecs.describe_snapshots(tags=[("acs:ecs:createFrom", instance_id)])
    assert 2 == found.total_count
    raises_code(
        errors.InvalidParameterError,
        "InvalidTagCount",
        lambda: ecs.describe_disks(tags=[(f"k{i}", "") for i in range(21)]),
    )
    raises_code(
        errors.InvalidParameterError,
        "InvalidParameter.Tag",
        lambda: ecs.describe_instances(tags="env=prod"),  # type: ignore[arg-type]
    )


class Key(str):
    """A str subclass, as a hostile caller might pass."""


def test_str_subclass_tags_are_stored_as_plain_str() -> None:
    """A tag filter given as str subclasses matches, and a describe answers plain strings."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    disk_id = ecs.create_disk(zone_id=ZONE, size=20, tags=[("k", "v")])
    assert [disk_id] == [d.disk_id for d in ecs.describe_disks(tags=[(Key("k"), Key("v"))])]


PAIRS = st.sampled_from([("env", "prod"), ("env", "dev"), ("team", "a"), ("team", "b")])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tag_sets=st.lists(st.lists(PAIRS, max_size=3, unique_by=lambda p: p[0]), max_size=6),
    query=st.lists(PAIRS, min_size=1, max_size=2, unique=True),
)
def test_tag_filter_is_the_and_of_all_pairs(
    tag_sets: list[list[tuple[str, str]]], query: list[tuple[str, str]]
) -> None:
    """describe_disks(tags=...) returns exactly the disks carrying every queried pair."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    ids = [ecs.create_disk(zone_id=ZONE, size=20, tags=tags) for tags in tag_sets]
    expected = [i for i, tags in zip(ids, tag_sets, strict=True) if set(query) <= set(tags)]
    actual = [d.disk_id for d in ecs.describe_disks(tags=query, page_size=100)]
    assert sorted(expected) == sorted(actual)


def test_image_tags_via_tag_resources() -> None:
    """Images are taggable through TagResources and listed by ListTagResources."""
    import datetime as dt

    cloud = make_cloud()
    ecs, instance_id = run_instance(cloud)
    system = ecs.describe_disks(instance_id=instance_id, disk_type="system").items[0]
    snapshot_id = ecs.create_snapshot(disk_id=system.disk_id)
    cloud.advance(dt.timedelta(hours=1))
    image_id = ecs.create_image(
        disk_device_mappings=[DiskDeviceMapping(snapshot_id=snapshot_id, disk_type="system")]
    )
    ecs.tag_resources(resource_type="image", resource_ids=[image_id], tags=[("os", "linux")])
    assert [TagResource(image_id, "image", "os", "linux")] == list(
        ecs.list_tag_resources(resource_type="image", tags=[("os", "linux")])
    )
    check_invariants(cloud)


def test_list_tag_resources_by_several_tags_is_their_and() -> None:
    """Only a resource carrying every queried pair is listed, with all of its tags."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    both = ecs.create_disk(zone_id=ZONE, size=20, tags=[("env", "prod"), ("team", "a")])
    ecs.create_disk(zone_id=ZONE, size=20, tags=[("env", "prod"), ("team", "b")])
    ecs.create_disk(zone_id=ZONE, size=20, tags=[("team", "a")])
    listed = ecs.list_tag_resources(resource_type="disk", tags=[("env", "prod"), ("team", "a")])
    assert [
        TagResource(both, "disk", "env", "prod"),
        TagResource(both, "disk", "team", "a"),
    ] == list(listed)


def test_str_subclass_tags_are_stored_alike_on_every_backend() -> None:
    """Tags given as str subclasses are stored as plain str (SQLite refused them before)."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    disk_id = ecs.create_disk(zone_id=ZONE, size=20, tags=[(Key("k"), Key("v"))])
    ecs.tag_resources(resource_type="disk", resource_ids=[disk_id], tags=[(Key("j"), Key("w"))])
    tags = ecs.describe_disk(disk_id).tags
    assert (("k", "v"), ("j", "w")) == tags
    assert {str} == {type(part) for pair in tags for part in pair}


@pytest.mark.parametrize("ids", [False, True])
def test_describe_filters_by_several_tags_are_their_and(ids: bool) -> None:
    """describe_instances, describe_disks and describe_snapshots with two pairs answer only
    the resources carrying both (through the tag index, or among named ids)."""
    cloud = make_cloud()
    ecs = cloud.ecs("cn-hangzhou")
    both, other = (
        ecs.run_instances(zone_id=ZONE, instance_type=INSTANCE_TYPE, tags=tags)[0]
        for tags in ([("env", "prod"), ("team", "a")], [("env", "prod"), ("team", "b")])
    )
    settle(cloud)
    disks = {
        i: ecs.describe_disks(instance_id=i, disk_type="system").items[0].disk_id
        for i in (both, other)
    }
    snapshots = {
        i: ecs.create_snapshot(disk_id=disks[i], tags=[("env", "prod"), ("team", t)])
        for i, t in ((both, "a"), (other, "b"))
    }
    wanted = [("env", "prod"), ("team", "a")]

    instance_kwargs: dict[str, object] = {"tags": wanted}
    disk_kwargs: dict[str, object] = {"tags": wanted}
    snapshot_kwargs: dict[str, object] = {"tags": wanted}
    if ids:
        instance_kwargs["instance_ids"] = [both, other]
        disk_kwargs["disk_ids"] = list(disks.values())
        snapshot_kwargs["snapshot_ids"] = list(snapshots.values())
    assert [both] == [i.instance_id for i in ecs.describe_instances(**instance_kwargs).items]  # type: ignore[arg-type]
    assert [disks[both]] == [d.disk_id for d in ecs.describe_disks(**disk_kwargs).items]  # type: ignore[arg-type]
    assert [snapshots[both]] == [
        s.snapshot_id
        for s in ecs.describe_snapshots(**snapshot_kwargs).items  # type: ignore[arg-type]
    ]
