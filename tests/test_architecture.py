"""The shape of the package: no import cycle, services found through the registry."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

import cloudbackup
from cloudbackup import Cloud
from cloudbackup._engine import Timer
from cloudbackup._services._interfaces import KEY_RING
from cloudbackup._world import SERVICES, Interface, Scope, ServiceSpec, register_service

PACKAGE = Path(cloudbackup.__file__).parent


def module_name(path: Path) -> str:
    """The dotted module name of a source file of the package."""
    parts = ["cloudbackup", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_level_imports(path: Path, modules: set[str]) -> set[str]:
    """The package modules a file imports when it is imported (statements at module level,
    including those inside module-level ``if``/``try`` blocks such as ``TYPE_CHECKING``)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    body = list(ast.parse(path.read_text(encoding="utf-8")).body)
    while body:
        node = body.pop()
        if isinstance(node, (ast.If, ast.Try)):
            body.extend(node.body)
            body.extend(node.orelse)
            body.extend(getattr(node, "finalbody", []))
            for handler in getattr(node, "handlers", []):
                body.extend(handler.body)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:  # ``from . import x``: module x
                    found.add(f"{base}.{alias.name}")
                elif base in modules:  # a name defined in module ``base``
                    found.add(base)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports at module level."""
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(f) for f in files}
    return {module_name(f): module_level_imports(f, modules) for f in files}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` as a path of module names, or [] when it is acyclic."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return []


def test_no_module_of_the_package_takes_part_in_an_import_cycle() -> None:
    """The module-level import graph of src/cloudbackup (ast-parsed) has no cycle."""
    assert [] == find_cycle(import_graph())


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    """A graph with a -> b -> c -> a is reported, so the test above can fail."""
    graph = import_graph()
    graph["cloudbackup._ids"] = {*graph["cloudbackup._ids"], "cloudbackup._cloud"}
    cycle = find_cycle(graph)
    assert cycle[0] == cycle[-1]
    assert "cloudbackup._ids" in cycle


def test_relative_imports_are_resolved() -> None:
    """The graph sees ``from . import x`` and ``from ..y import z`` edges."""
    graph = import_graph()
    assert "cloudbackup._services._crypto" in graph["cloudbackup._services.kms"]
    assert "cloudbackup._world" in graph["cloudbackup._services._base"]


#: Modules allowed past 800 lines, each with the reason it is kept whole. Empty: every module
#: of src/ (testing/ and _backends/ included) fits. Add a file here only with a stated reason.
LONG_MODULES_ALLOWED: dict[str, str] = {}


def module_lengths() -> dict[str, int]:
    """The line count of every module of src/ (testing/ and _backends/ included), by path
    relative to the package."""
    return {
        f.relative_to(PACKAGE).as_posix(): len(f.read_text(encoding="utf-8").splitlines())
        for f in sorted(PACKAGE.rglob("*.py"))
    }


def test_no_source_file_is_longer_than_eight_hundred_lines() -> None:
    """Every module of src/ can be read in one sitting (at most 800 lines), but for the
    allow-listed ones, each of which has a stated reason."""
    long = {
        path: n
        for path, n in module_lengths().items()
        if n > 800 and path not in LONG_MODULES_ALLOWED
    }
    assert {} == long


def test_the_line_check_reads_the_test_tooling_and_the_backends() -> None:
    """The modules that were once exempt are measured like every other."""
    expected = {"_backends/_sqlite.py", "testing/_contract.py", "testing/strategies/_ecs.py"}
    assert expected <= module_lengths().keys()


def test_every_allow_listed_module_is_still_long() -> None:
    """An allow-list entry for a module that shrank (or went) is removed, not kept stale."""
    lengths = module_lengths()
    assert {} == {
        path: lengths.get(path) for path in LONG_MODULES_ALLOWED if lengths.get(path, 0) <= 800
    }


def test_every_shipped_service_is_registered_with_its_timer_actions() -> None:
    """ECS and KMS register themselves as regional services with the timers they handle."""
    assert {"ecs", "kms"} <= set(SERVICES)
    assert Scope.REGIONAL == SERVICES["ecs"].scope
    assert {
        "ecs.instance_transition",
        "ecs.snapshot_complete",
        "ecs.snapshot_expire",
    } == set(SERVICES["ecs"].timers)
    assert {"kms.delete_key"} == set(SERVICES["kms"].timers)
    assert [KEY_RING] == list(SERVICES["kms"].provides)


def test_a_timer_action_cannot_be_registered_by_two_services() -> None:
    """Registering another service for a taken timer action is refused."""
    spec = ServiceSpec(
        name="thief",
        cls=object,
        scope=Scope.GLOBAL,
        timers={"ecs.snapshot_expire": lambda service, timer: None},
    )
    with pytest.raises(ValueError, match=r"ecs\.snapshot_expire"):
        register_service(spec)
    assert "thief" not in SERVICES


class Counter:
    """A global service built on demand, counting the timers routed to it."""

    built = 0

    def __init__(self, world: object) -> None:
        Counter.built += 1
        self.world = world
        self.fired: list[str] = []

    def on_tick(self, timer: Timer) -> None:
        """Record the timer's target."""
        self.fired.append(timer.target_id)


def test_the_world_routes_a_new_services_timers_without_knowing_it() -> None:
    """A service registered later gets its timers routed and is built once, on demand."""
    spec = register_service(
        ServiceSpec(
            name="test.counter",
            cls=Counter,
            scope=Scope.GLOBAL,
            timers={"test.counter.tick": Counter.on_tick},
        )
    )
    try:
        cloud = Cloud()
        world = cloud._world
        with world.store.unit():
            world.engine.schedule(
                cloud.now() + dt.timedelta(seconds=1), "test.counter.tick", "", "one"
            )
            world.engine.schedule(
                cloud.now() + dt.timedelta(seconds=2), "test.counter.tick", "", "two"
            )
        built = Counter.built
        cloud.advance(dt.timedelta(seconds=5))
        service = world.service(Counter)
        assert ["one", "two"] == service.fired
        assert built + 1 == Counter.built
    finally:
        del SERVICES[spec.name]


def test_an_interface_nobody_offers_is_a_lookup_error() -> None:
    """Asking the world for an interface no service provides raises LookupError."""
    with pytest.raises(LookupError, match="Nothing"):
        Cloud()._world.provider(Interface[object]("Nothing"))


def test_ecs_reaches_kms_only_through_the_key_ring() -> None:
    """No ECS source names a private method of KMS (``kms(...)._x`` or ``KmsService._x``)."""
    ecs_sources = [PACKAGE / "_services" / "ecs.py", *(PACKAGE / "_services").glob("ecs/*.py")]
    text = "\n".join(p.read_text(encoding="utf-8") for p in ecs_sources if p.exists())
    assert "KmsService" not in text
    assert ".kms(" not in text
