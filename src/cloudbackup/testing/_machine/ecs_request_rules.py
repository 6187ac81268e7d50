"""The ECS rules of the state machine for what every request shares: tags (``TagResources``,
``UntagResources``, ``ListTagResources``, ``tags=`` on creating calls and ``tags=`` filters on
describes), ``ClientToken`` retries, ``DryRun`` and ``NextToken``/``MaxResults`` page walks.

The model keeps every resource's user tags (:attr:`.model.Model.tags`); the service's own
``acs:``/``aliyun`` tags (a group member's ``acs:ecs:createFrom``) are left out of every
comparison, since no rule of the machine sets or removes them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from ..._domain.ecs import DiskCategory, DiskType, InstanceStatus
from ..._domain.tags import MAX_TAGS_PER_RESOURCE, SYSTEM_TAG_PREFIXES
from .._invariants import world_state
from .base import AIM, PICK, RARELY, _Rejected, same
from .ecs_rules import EcsRules
from .model import NOT_FOUND, DiskModel

__all__ = ["TAG_KEYS", "EcsRequestRules", "tag_lists"]

TAG_KEYS = tuple(f"k{n}" for n in range(MAX_TAGS_PER_RESOURCE + 4))
"""More keys than a resource may hold, so ``InvalidTagCount`` is reachable."""
TAG_VALUES = ("prod", "dev", "")


def tag_lists(max_size: int = 4) -> st.SearchStrategy[list[tuple[str, str]]]:
    """``(key, value)`` pairs from a small pool (keys mostly distinct; small indexes favoured,
    so filters find what rules set)."""
    pair = st.tuples(
        st.integers(0, len(TAG_KEYS) - 1).map(lambda n: TAG_KEYS[n]), st.sampled_from(TAG_VALUES)
    )
    return st.lists(pair, max_size=max_size)


class EcsRequestRules(EcsRules):
    """Every ECS rule: :class:`~.ecs_rules.EcsRules` plus tags, client tokens, dry runs and
    token paging."""

    KINDS = ("instance", "disk", "snapshot", "image")

    def live(self, kind: str, region: str) -> list[str]:
        """The model's resources of ``kind`` in ``region``."""
        if kind == "instance":
            return [i for i, x in self.instances.items() if x.region_id == region]
        if kind == "disk":
            return [d for d, x in self.disks.items() if x.region_id == region]
        if kind == "snapshot":
            return [s for s, x in self.snapshots.items() if x.region_id == region]
        return [i for i, (r, _) in self.model.images.items() if r == region]

    def tags_of(self, resource_id: str) -> dict[str, str]:
        """The model's user tags of a resource."""
        return self.model.tags.get(resource_id, {})

    def tagged_region(self, kind: str, region_pick: int) -> str:
        """The picked region, or another whose resources of ``kind`` carry tags."""
        picked = self.pick(self.REGION_IDS, region_pick)
        for region in (picked, *self.REGION_IDS):
            if any(self.tags_of(i) for i in self.live(kind, region)):
                return region
        return picked

    def tag_count(self, resource_id: str, new: Sequence[tuple[str, str]]) -> int:
        """How many tags a resource would hold with ``new`` added (its system tags too)."""
        snapshot = self.snapshots.get(resource_id)
        system = snapshot.system_tags if snapshot is not None else 0
        return len(self.tags_of(resource_id) | dict(new)) + system

    def _tag_targets(
        self, kind: str, region_pick: int, picks: list[int], gone: bool
    ) -> tuple[str, list[str], set[str]]:
        region = self.pick(self.REGION_IDS, region_pick)
        if not self.live(kind, region):  # aim at a region that has resources of the kind
            region = next((r for r in self.REGION_IDS if self.live(kind, r)), region)
        pool = self.live(kind, region)
        ids = sorted({self.pick(pool, p) for p in picks}) if pool else []
        problems: set[str] = set()
        if (gone or not ids) and self.model.gone[kind]:
            ids.append(self.pick(self.model.gone[kind], region_pick))
            problems.add(NOT_FOUND[kind])
        return region, ids, problems

    # ================================================================================
    # Tags
    # ================================================================================
    @rule(
        kind=st.sampled_from(KINDS),
        region_pick=PICK,
        picks=st.lists(PICK, min_size=1, max_size=3),
        tags=tag_lists(),
        gone=RARELY,
        aim=AIM,
    )
    def tag_resources(
        self,
        kind: str,
        region_pick: int,
        picks: list[int],
        tags: list[tuple[str, str]],
        gone: bool,
        aim: bool,
    ) -> None:
        """``tag_resources``: every named resource gets the tags (a key it has takes the new
        value); aimed, the request names each key once and at least one."""
        region, ids, problems = self._tag_targets(kind, region_pick, picks, gone)
        if not ids:
            self.idle("tag_resources")
            return
        if aim:
            tags = list(dict(tags).items()) or [("k0", "prod"), ("k1", "")]
        keys = [k for k, _ in tags]
        if not tags:
            problems.add("MissingParameter.Tags")
        elif len(set(keys)) != len(keys):
            problems.add("Duplicate.TagKey")
        elif any(self.tag_count(i, tags) > MAX_TAGS_PER_RESOURCE for i in ids):
            problems.add("InvalidTagCount")
        if self.ok(
            f"tag_resources({kind})",
            problems,
            lambda: self.ecs(region).tag_resources(resource_type=kind, resource_ids=ids, tags=tags),
        ):
            for resource_id in ids:
                self.model.tags[resource_id] = self.tags_of(resource_id) | dict(tags)

    @rule(
        kind=st.sampled_from(KINDS),
        region_pick=PICK,
        picks=st.lists(PICK, min_size=1, max_size=3),
        keys=st.lists(st.sampled_from(TAG_KEYS[:6]), min_size=1, max_size=3) | st.just([]),
        every=RARELY,
        gone=RARELY,
        aim=AIM,
    )
    def untag_resources(
        self,
        kind: str,
        region_pick: int,
        picks: list[int],
        keys: list[str],
        every: bool,
        gone: bool,
        aim: bool,
    ) -> None:
        """``untag_resources``: the named keys (or, with ``all``, every user tag) go; aimed,
        the keys are ones the resources carry."""
        region, ids, problems = self._tag_targets(kind, region_pick, picks, gone)
        if not ids:
            self.idle("untag_resources")
            return
        carried = sorted({k for i in ids for k in self.tags_of(i)})
        if aim and carried:
            keys = carried[: 2 + len(keys)]  # several, so each key counts
        if not keys and not every:
            problems.add("MissingParameter.TagKey")
        if len(set(keys)) != len(keys):
            problems.add("InvalidParameter.TagKey")
        if self.ok(
            f"untag_resources({kind})",
            problems,
            lambda: self.ecs(region).untag_resources(
                resource_type=kind, resource_ids=ids, tag_keys=keys or None, all=every
            ),
        ):
            for resource_id in ids:
                kept = {} if not keys else self.tags_of(resource_id)
                if len(set(keys) & set(kept)) > 1:
                    self.note("untag_resources: several carried keys removed")
                self.model.tags[resource_id] = {k: v for k, v in kept.items() if k not in keys}

    @rule(kind=st.sampled_from(KINDS), region_pick=PICK, by_tag=st.booleans(), pick=PICK)
    def list_tag_resources(self, kind: str, region_pick: int, by_tag: bool, pick: int) -> None:
        """``list_tag_resources``, walked over its tokens: by ids (50 at a time) it lists
        exactly the model's tags of those resources; by one tag, exactly the resources the
        model gave that tag."""
        region = (
            self.tagged_region(kind, region_pick)
            if by_tag
            else self.pick(self.REGION_IDS, region_pick)
        )
        ecs = self.ecs(region)
        live = self.live(kind, region)

        def walk(**kwargs: Any) -> list[tuple[str, str, str]]:
            found: list[tuple[str, str, str]] = []
            token = None
            while True:
                page = ecs.list_tag_resources(resource_type=kind, next_token=token, **kwargs)
                found += [(t.resource_id, t.tag_key, t.tag_value) for t in page.items]
                token = page.next_token
                if token is None:
                    return found

        if by_tag:
            pairs = sorted({(k, v) for i in live for k, v in self.tags_of(i).items()})
            if not pairs:
                self.idle("list_tag_resources")
                return
            pair = self.pick(pairs, pick)
            listed = walk(tags=[pair])
            expected_ids = {i for i in live if pair in self.tags_of(i).items()}
            same(f"{kind}s tagged {pair}", region, expected_ids, {r for r, _, _ in listed})
        else:
            listed = []
            for start in range(0, len(live), 50):
                listed += walk(resource_ids=live[start : start + 50])
            expected = {(i, k, v) for i in live for k, v in self.tags_of(i).items()}
            actual = {t for t in listed if not t[1].startswith(SYSTEM_TAG_PREFIXES)}
            same(f"tags of {kind}s", region, expected, actual)
        if len(set(listed)) != len(listed):
            raise AssertionError(f"list_tag_resources repeated a tag: {listed}")
        self.note(f"list_tag_resources({kind}): ok")

    @rule(
        kind=st.sampled_from(KINDS[:3]),
        region_pick=PICK,
        pick=PICK,
        max_results=PICK,
        two=st.booleans(),
    )
    def describe_by_tag(
        self, kind: str, region_pick: int, pick: int, max_results: int, two: bool
    ) -> None:
        """``describe_*(tags=[...])`` answers exactly the model's resources that carry every
        given pair: one pair, or (``two``) two pairs of one resource, so a filter that checks
        only the first pair is caught."""
        region = self.tagged_region(kind, region_pick)
        live = self.live(kind, region)
        pairs = sorted({(k, v) for i in live for k, v in self.tags_of(i).items()})
        if not pairs:
            self.idle("describe_by_tag")
            return
        wanted = [self.pick(pairs, pick)]
        rich = [i for i in live if len(self.tags_of(i)) > 1]
        if two and rich:
            own = sorted(self.tags_of(self.pick(rich, pick)).items())
            wanted = [own[pick % len(own)], own[(pick + 1) % len(own)]]
        found = self.walk(kind, region, 1 + max_results % 4, tags=wanted)
        expected = {i for i in live if all(p in self.tags_of(i).items() for p in wanted)}
        same(f"{kind}s with tags {wanted}", region, sorted(expected), sorted(found))
        self.note(f"describe_by_tag({kind}, {len(wanted)} tags): ok")

    # ================================================================================
    # Token paging
    # ================================================================================
    def walk(self, kind: str, region: str, max_results: int, **filters: Any) -> list[str]:
        """The ids a ``describe_*`` call yields over all its ``next_token`` pages."""
        ecs = self.ecs(region)
        methods: dict[str, Callable[..., Any]] = {
            "instance": ecs.describe_instances,
            "disk": ecs.describe_disks,
            "snapshot": ecs.describe_snapshots,
            "lock": ecs.describe_locked_snapshots,
        }
        method = methods[kind]
        attribute = {"instance": "instance_id", "disk": "disk_id"}.get(kind, "snapshot_id")
        found: list[str] = []
        token = None
        while True:
            page = method(next_token=token, max_results=max_results, **filters)
            if len(page.items) > max_results:
                raise AssertionError(f"a page of {len(page.items)} > max_results {max_results}")
            found += [getattr(item, attribute) for item in page.items]
            token = page.next_token
            if token is None:
                return found

    @rule(
        kind=st.sampled_from(["instance", "disk", "snapshot", "lock"]),
        region_pick=PICK,
        max_results=st.integers(1, 7),
        dry_run=RARELY,
    )
    def walk_pages(self, kind: str, region_pick: int, max_results: int, dry_run: bool) -> None:
        """A walk over the tokens yields every resource of the region exactly once; as a
        dry run, the describe raises ``DryRunOperation`` and changes nothing."""
        if dry_run:
            self.dry_run_describe(kind, region_pick)
            return
        region = self.pick(self.REGION_IDS, region_pick)
        found = self.walk(kind, region, max_results)
        if kind == "lock":
            expected = sorted(
                s
                for s in self.live("snapshot", region)
                if (lock := self.snapshots[s].lock) is not None and lock.holds(self.now)
            )
        else:
            expected = sorted(self.live(kind, region))
        if len(set(found)) != len(found):
            raise AssertionError(f"a page walk of {kind}s repeated an id: {found}")
        if kind == "lock":  # an expired lock may still be listed; every holding one must be
            missing = set(expected) - set(found)
            same("locked snapshots missing from a walk", region, set(), missing)
            locked = {s for s in self.live("snapshot", region) if self.snapshots[s].lock}
            same("unlocked snapshots in a walk of locks", region, set(), set(found) - locked)
        else:
            same(f"{kind}s walked with max_results={max_results}", region, expected, sorted(found))
        self.note(f"walk_pages({kind}): ok")

    # ================================================================================
    # Client tokens
    # ================================================================================
    @precondition(lambda self: len(self.disks) < self.MAX_DISKS)
    @rule(region_pick=PICK, zone_pick=PICK, token=st.integers(0, 5), tags=tag_lists(3))
    def create_disk_with_client_token(
        self, region_pick: int, zone_pick: int, token: int, tags: list[tuple[str, str]]
    ) -> None:
        """``create_disk(client_token=…, tags=…)``, then the same request again (the same
        disk, nothing created) and the token with another size (``IdempotentParameterMismatch``,
        nothing changed)."""
        region = self.pick(self.REGION_IDS, region_pick)
        zone = self.pick(self.zones(region), zone_pick)
        tags = list(dict(tags).items())  # distinct keys
        client_token = f"token-{len(self.model.gone['disk']) + len(self.disks)}-{token}"
        ecs = self.ecs(region)

        def call(size: int) -> str:
            return ecs.create_disk(
                zone_id=zone,
                disk_category="cloud_essd",
                size=size,
                tags=tags,
                client_token=client_token,
            )

        disk_id = self.attempt("create_disk(client_token)", set(), lambda: call(20))
        assert not isinstance(disk_id, _Rejected)
        self.model.disks[disk_id] = DiskModel(
            disk_id=disk_id,
            region_id=region,
            zone_id=zone,
            category=DiskCategory.cloud_essd,
            size=20,
            type=DiskType.data,
            data=bytearray(self.WRITE_SPAN),
        )
        self.model.tags[disk_id] = dict(tags)
        before = world_state(self.cloud)
        again = call(20)
        same("the disk of a retried client token", region, disk_id, again)
        if world_state(self.cloud) != before:
            raise AssertionError("a retried client token changed the world")
        self.note("create_disk(client_token): retry answered the first disk")
        self.attempt(
            "create_disk(client_token) other parameters",
            {"IdempotentParameterMismatch"},
            lambda: call(21),
        )

    # ================================================================================
    # Dry runs
    # ================================================================================
    @precondition(lambda self: self.instances)
    @rule(
        action=st.sampled_from(["start", "stop", "reboot", "delete"]),
        pick=PICK,
        gone=RARELY,
        aim=AIM,
    )
    def dry_run_instance(self, action: str, pick: int, gone: bool, aim: bool) -> None:
        """``start/stop/reboot/delete_instance(dry_run=True)``: ``DryRunOperation`` when the
        call would succeed, its refusal otherwise; nothing changes either way."""
        allowed = {
            "start": (InstanceStatus.Stopped,),
            "stop": (InstanceStatus.Running,),
            "reboot": (InstanceStatus.Running,),
            "delete": (InstanceStatus.Stopped,),  # without force
        }[action]
        chosen = self._instance_rule(pick, gone, aim, allowed)
        if chosen is None:
            self.idle(f"dry_run {action}_instance")
            return
        instance_id, region, problems = chosen
        if (
            action == "start"
            and instance_id in self.instances
            and not any(d.type is DiskType.system for d in self.model.instance_disks(instance_id))
        ):
            problems.add("InvalidInstance.NotFoundSystemDisk")
        method = getattr(self.ecs(region), f"{action}_instance")
        self.dry_run(
            f"{action}_instance(dry_run)", problems, lambda: method(instance_id, dry_run=True)
        )

    def dry_run_describe(self, kind: str, region_pick: int) -> None:
        """A ``describe_*(dry_run=True)`` raises ``DryRunOperation`` and changes nothing."""
        ecs = self.ecs(self.pick(self.REGION_IDS, region_pick))
        methods: dict[str, Callable[..., Any]] = {
            "instance": ecs.describe_instances,
            "disk": ecs.describe_disks,
            "snapshot": ecs.describe_snapshots,
            "lock": ecs.describe_locked_snapshots,
        }
        method = methods[kind]
        self.dry_run(f"describe({kind}, dry_run)", set(), lambda: method(dry_run=True))
