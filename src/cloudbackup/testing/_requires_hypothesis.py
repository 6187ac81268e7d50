"""Fail the import of :mod:`cloudbackup.testing` with advice when Hypothesis is missing.

Imported first by the package, so the error names the extra to install instead of surfacing
as a bare ``ModuleNotFoundError: No module named 'hypothesis'`` from deep inside a module.
"""

from __future__ import annotations

try:
    import hypothesis
except ImportError as missing:
    raise ImportError(
        "cloudbackup.testing needs Hypothesis, which is not installed. Install the test "
        "extra: pip install 'cloudbackup[test]'",
        name="cloudbackup.testing",
    ) from missing

__all__: list[str] = []

del hypothesis
