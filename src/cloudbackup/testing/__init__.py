"""Testing helpers that ship with :mod:`cloudbackup`: strategies, state machines, checks.

* :mod:`cloudbackup.testing.strategies`: Hypothesis strategies for every value the model takes,
  valid and invalid.
* :func:`check_invariants` and :func:`world_state`: assert a whole world's invariants, and take
  an exact, comparable snapshot of it (to prove that a rejected call changed nothing).
* :class:`CloudStateMachine`: a Hypothesis state machine over ECS and KMS with a reference model
  of every disk's bytes; subclass it to add your own rules.
* :func:`check_storage_backend`: the contract every :class:`~cloudbackup.StorageBackend` must
  keep.

This package needs ``hypothesis`` (the ``test`` extra); ``import cloudbackup`` never imports it.
"""

from __future__ import annotations

import contextlib

from . import _requires_hypothesis  # noqa: F401  (first: says which extra is missing)
from . import strategies as strategies
from ._contract import check_storage_backend as check_storage_backend
from ._invariants import KINDS as KINDS
from ._invariants import WorldState as WorldState
from ._invariants import check_invariants as check_invariants
from ._invariants import world_state as world_state
from ._machine import CloudStateMachine as CloudStateMachine

__all__ = [
    "KINDS",
    "CloudStateMachine",
    "WorldState",
    "check_invariants",
    "check_storage_backend",
    "strategies",
    "world_state",
]


def _fixup_module_metadata() -> None:
    # Show public paths (cloudbackup.testing.CloudStateMachine) in reprs and tracebacks.
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith("cloudbackup.testing._"):
            with contextlib.suppress(AttributeError, TypeError):
                obj.__module__ = "cloudbackup.testing"


_fixup_module_metadata()
del _fixup_module_metadata
