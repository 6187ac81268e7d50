"""Typing is tested, not only declared: the typed usage examples pass mypy --strict and run."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent / "typing" / "api.py"


def test_typed_examples_run() -> None:
    """The examples are real code: they execute without error."""
    spec = importlib.util.spec_from_file_location("cloudbackup_typing_examples", EXAMPLES)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.run_examples()


@pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None and shutil.which("mypy") is None,
    reason="mypy is a dev dependency",
)
def test_typed_examples_pass_mypy_strict(tmp_path: Path) -> None:
    """mypy --strict accepts the examples (and their deliberate misuses stay errors)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "--config-file",
            "",
            str(EXAMPLES),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (0, "") == (result.returncode, result.stdout + result.stderr)
