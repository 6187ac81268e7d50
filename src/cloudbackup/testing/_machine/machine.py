"""The state machine itself: every service's rule set over one world, from a seeded start."""

from __future__ import annotations

from typing import Any

from hypothesis.stateful import initialize

from ..._domain.ecs import DiskCategory, PerformanceLevel
from ..._domain.hbr import Rule, TagFilter
from ..._domain.kms import KeySpec
from .guest_rules import GuestRules
from .hbr_job_rules import HbrJobRules
from .kms_rules import KmsRules

__all__ = ["CloudStateMachine"]


class CloudStateMachine(GuestRules, KmsRules, HbrJobRules):
    """Random ECS + KMS + Cloud Backup workloads checked against a reference model after every
    step.

    Run it as a test::

        from hypothesis import settings
        from cloudbackup.testing import CloudStateMachine

        TestCloud = CloudStateMachine.TestCase
        TestCloud.settings = settings(max_examples=50, stateful_step_count=40, deadline=None)

    Each call is predicted by a small, independent reference model of the whole world (every
    instance's status, every disk's attachments and bytes, every snapshot's bytes, retention
    and lock, every key's state): a call the model refuses must raise a
    :class:`~cloudbackup.errors.CloudBackupError` with one of the codes the model names and
    leave :func:`~cloudbackup.testing.world_state` exactly as it was; a call the model accepts
    must succeed. After every step the world's invariants
    (:func:`~cloudbackup.testing.check_invariants`), the ``describe_*``/``list_*`` answers and
    every disk a guest can read are compared with the model; every restore reads back the
    snapshot's bytes. Cloud Backup's jobs run on the machine's instances, scheduled every few
    hours and started by rules; the model learns the native snapshots they take and runs them
    (see :mod:`.hbr_job_rules`). Most rules pick resources in the state their call needs, so
    runs reach deep states; the outcome of every call is a Hypothesis ``event`` (see
    ``--hypothesis-show-statistics``) and, if :attr:`OUTCOMES` is a ``Counter``, counted there.

    The rules come in one rule set per service (ECS, KMS, Cloud Backup) over a shared base that
    owns the world, the model, checked calls and time. Subclass it to test your own code against
    the same world: add ``@rule`` methods that call your code with ``self.cloud`` (pick
    resources from ``self.instances``, ``self.disks``, ``self.snapshots``, ``self.keys``; the
    whole model is ``self.model``), run them through ``self.attempt(name, problems, call)`` so
    they are held to the model, add ``@invariant`` methods that check what your code promises,
    and override :meth:`make_cloud` to run on another backend (``Cloud(backend=...)`` with the
    same ``seed``, ``block_size``, ``timings`` and ``limits``). If your rules change ECS or KMS
    state, mirror the change in the model too, or the agreement checks will (rightly) complain.
    The class attributes tune the world; keep ``WRITE_SPAN`` small so runs stay fast.
    """

    @initialize()
    def seed_world(self) -> None:
        """Start from a key and a Running instance in every region: an ESSD system disk, a
        plain and an encrypted ESSD data disk, and an ultra disk (not snapshot-group capable);
        Cloud Backup opened, with a policy in every region that backs its first instance up
        every 12 hours from now, and one whose TAG rule binds ``k0=prod``.
        """

        def spec(category: DiskCategory, size: int, encryption: str = "plain") -> dict[str, Any]:
            return {
                "category": category,
                "level": PerformanceLevel.PL0 if category is DiskCategory.cloud_essd else None,
                "size": size,
                "encryption": encryption,
                "key_pick": len(self.keys) - 1,
                "key_form": "id",
                "delete_with_instance": True,
            }

        for index, _region in enumerate(self.REGION_IDS):
            self.create_key(region_pick=index, spec=KeySpec.Aliyun_AES_256)
            self.create_instance(
                region_pick=index,
                zone_pick=0,
                system=spec(DiskCategory.cloud_essd, 20),
                data=[
                    spec(DiskCategory.cloud_essd, 1),
                    spec(DiskCategory.cloud_essd, 2, "key"),
                    spec(DiskCategory.cloud_efficiency, 20),
                ],
                start=True,
                instance_type="ecs.g7.large",
            )
        # Cloud Backup opened: in every region a policy backing the first instance up every
        # few hours, and one whose TAG rule follows key k0.
        self.open_hbr_service()
        self.start_job_policies()
        for index, _region in enumerate(self.REGION_IDS):
            tag = Rule("TAG", tag_filters=(TagFilter("k0", "prod"),))
            self.create_policy(region_pick=index, extra=[tag], broken=False)
        self.advance_time(60)
