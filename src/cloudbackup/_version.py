"""The version of this source tree: the one place it is written.

``pyproject.toml`` reads it (``[tool.hatch.version]``) when the package is built, so the
installed distribution's metadata carries the same string; :func:`version` prefers that
metadata and falls back to this string when the package runs from a source tree that was never
installed (``PYTHONPATH=src``).
"""

from __future__ import annotations

import importlib.metadata

__all__ = ["VERSION", "version"]

VERSION = "0.1.0.dev0"


def version() -> str:
    """The installed distribution's version, or :data:`VERSION` when it is not installed."""
    try:
        return importlib.metadata.version("cloudbackup")
    except importlib.metadata.PackageNotFoundError:
        return VERSION
