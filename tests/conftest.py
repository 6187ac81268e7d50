"""Shared pytest configuration: which storage backend the whole suite runs against."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import cloudbackup._cloud as _cloud_module
from cloudbackup import InMemoryBackend, StorageBackend

settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cloudbackup-backend",
        choices=("memory", "sqlite"),
        default=os.environ.get("CLOUDBACKUP_BACKEND", "memory"),
        help="storage backend every Cloud() of the suite uses (env CLOUDBACKUP_BACKEND)",
    )


def _sqlite_factory(directory: Path) -> Callable[[], StorageBackend]:
    from cloudbackup._backends._sqlite import SqliteBackend

    counter = iter(range(10**9))

    def make() -> StorageBackend:
        return SqliteBackend(directory / f"world-{next(counter)}.db")

    return make


@pytest.fixture(scope="session")
def cloudbackup_backend_name(request: pytest.FixtureRequest) -> str:
    """The name of the backend the suite runs against (``memory`` or ``sqlite``)."""
    return str(request.config.getoption("--cloudbackup-backend"))


@pytest.fixture(autouse=True)
def cloudbackup_backend_factory(
    cloudbackup_backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], StorageBackend]]:
    """Make ``Cloud()`` without ``backend=`` use the selected backend for this test."""
    if cloudbackup_backend_name == "sqlite":
        factory = _sqlite_factory(tmp_path_factory.mktemp("worlds"))
    else:
        factory = InMemoryBackend
    previous = _cloud_module._default_backend_factory
    _cloud_module._default_backend_factory = factory
    try:
        yield factory
    finally:
        _cloud_module._default_backend_factory = previous
