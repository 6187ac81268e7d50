"""The Hypothesis state machine over the whole world, split so each service adds its own rules.

* :mod:`.model`: the reference model (records of every resource, and the rules that predict
  each call and each passing second), independent of the library's code;
* :mod:`.base`: :class:`~.base.MachineBase`, the world under test, the model, checked calls,
  time and the whole-world invariants;
* :mod:`.ecs_instance_rules` (instances, disks, guest I/O) and :mod:`.ecs_rules` (snapshots,
  restores, groups, locks, resets, images) make the ECS rule set, :mod:`.kms_rules` the KMS one;
  each is a subclass of the base with that service's rules and agreement check;
* :mod:`.machine`: :class:`~cloudbackup.testing.CloudStateMachine`, every rule set together
  over a seeded start. A new service (Cloud Backup) adds a rule set and joins it here.
"""

from __future__ import annotations

from .machine import CloudStateMachine as CloudStateMachine

__all__ = ["CloudStateMachine"]
