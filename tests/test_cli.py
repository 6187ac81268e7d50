"""What a newcomer meets first: the command line, the demo, the README and the testing extra."""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import os
import pathlib
import re
import subprocess
import sys

import pytest

import cloudbackup
from cloudbackup import __main__ as cli
from cloudbackup import _version
from cloudbackup._demo import _blocks_touched, run_demo

ROOT = pathlib.Path(__file__).resolve().parent.parent
SRC = ROOT / "src"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=120
    )


def _expected_version() -> str:
    try:
        return importlib.metadata.version("cloudbackup")
    except importlib.metadata.PackageNotFoundError:
        return _version.VERSION


# -- --version ------------------------------------------------------------------------


def test_version_flag_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    """``cloudbackup --version`` prints ``cloudbackup <version>`` and exits 0."""
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert (0, f"cloudbackup {cloudbackup.__version__}\n") == (
        info.value.code,
        capsys.readouterr().out,
    )


def test_python_dash_m_version_in_a_real_process() -> None:
    """``python -m cloudbackup --version`` works from a source tree (PYTHONPATH=src)."""
    done = _run("-m", "cloudbackup", "--version")
    assert (0, f"cloudbackup {_expected_version()}\n", "") == (
        done.returncode,
        done.stdout,
        done.stderr,
    )


def test_version_is_the_metadata_or_the_source_trees() -> None:
    """__version__ is the installed metadata's version, else the one written in _version.py."""
    assert _expected_version() == cloudbackup.__version__ == _version.version()


def test_version_falls_back_when_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without installed metadata the version is _version.VERSION, not an exception."""

    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert _version.VERSION == _version.version()


def test_pyproject_reads_the_version_from_the_one_place_it_is_written() -> None:
    """pyproject.toml declares the version dynamic, read from src/cloudbackup/_version.py."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^dynamic = \["version"\]', text, re.MULTILINE)
    assert not re.search(r"^version = ", text, re.MULTILINE)
    assert re.search(
        r'^\[tool\.hatch\.version\]\npath = "src/cloudbackup/_version\.py"$', text, re.MULTILINE
    )
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|a\d+|b\d+|rc\d+)?", _version.VERSION)


def test_license_file_matches_the_declared_license() -> None:
    """LICENSE holds the Apache License 2.0 that pyproject.toml declares."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert 'license = "Apache-2.0"' in text
    assert license_text.lstrip().startswith("Apache License\n")
    assert "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text


# -- the demo ---------------------------------------------------------------------------


def test_demo_exits_0_and_tells_the_whole_story(capsys: pytest.CaptureFixture[str]) -> None:
    """``cloudbackup demo`` returns 0 and prints one line per step."""
    assert 0 == cli.main(["demo"])
    lines = capsys.readouterr().out.splitlines()
    assert 17 == len(lines)
    assert "identical to what was there at the snapshot" in lines[7]


def test_demo_tells_cloud_backups_week() -> None:
    """After the ECS story the demo shows a skipped run, an expired point, one kept by the
    WEEKLY rule, an immutable point refusing deletion with its code, and a restore that
    brings back the orders' fingerprint."""
    lines: list[str] = []
    assert run_demo(lines.append)
    story = "\n".join(lines[10:])
    assert "lists 8 jobs (7 COMPLETE, 1 SKIPPED)" in story
    assert "was SKIPPED: The previous backup job job-" in story
    assert "lists 3 of the 7 points made: 4 expired" in story
    assert "(gone after 2 days)" in story
    assert "WEEKLY keeps it 14 days" in story
    assert "DeleteSnapshot refused with OperationDenied.ImmutableBackup" in story
    assert "native snapshot with OperationDenied.SnapshotLocked; still listed: True." in story
    orders = re.search(r"orders to d-\w+ \(sha256 (\w+)\)", lines[2])
    assert orders is not None
    assert f"sha256 {orders[1]} equals the orders at the backup ({orders[1]})." in story


def test_demo_explains_blocks_and_the_system_disk() -> None:
    """The demo says it writes the system disk and why 44,000 bytes hold 1,536 KiB: whole
    512 KiB blocks, three of them."""
    lines: list[str] = []
    assert run_demo(lines.append)
    story = "\n".join(lines)
    assert "to the system disk d-" in story
    assert "44,000 bytes of orders" in story
    assert (
        "The 3 snapshot chains hold 1,536 KiB for the 44,030 bytes written: a snapshot keeps "
        "whole 512 KiB blocks, and the writes landed in 3 of them (3 x 512 KiB)."
    ) in story


def test_demo_figures_are_computed_not_written_in() -> None:
    """With 4 KiB blocks the same story prints other figures: 44,000 bytes fill 11 blocks,
    the commit record and the configuration one each, 52 KiB in all."""
    lines: list[str] = []
    assert run_demo(lines.append, block_size=4096)
    story = "\n".join(lines)
    assert (
        "hold 52 KiB for the 44,030 bytes written: a snapshot keeps whole 4 KiB blocks, and "
        "the writes landed in 13 of them (13 x 4 KiB)."
    ) in story
    assert "stores 52 KiB of block data" in story


@pytest.mark.parametrize(
    ("offset", "length", "blocks"),
    [(0, 1, 1), (0, 4096, 1), (0, 4097, 2), (4095, 2, 2), (4096, 4096, 1), (1, 8192, 3)],
)
def test_blocks_touched_counts_whole_blocks(offset: int, length: int, blocks: int) -> None:
    """The demo's block count: every 4 KiB block a write lands in, exact at the boundaries."""
    assert blocks == _blocks_touched(offset, length, 4096)


def test_demo_piped_into_head_ends_quietly() -> None:
    """``python -m cloudbackup demo | head -1``: one line and no BrokenPipeError traceback; the
    demo ends with 0 (it wrote everything before head left) or 128 + SIGPIPE."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    demo = subprocess.Popen(
        [sys.executable, "-m", "cloudbackup", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert demo.stdout is not None and demo.stderr is not None
    head = subprocess.run(["head", "-1"], stdin=demo.stdout, capture_output=True, timeout=120)
    demo.stdout.close()  # only head read the pipe: now that head is gone, the pipe is closed
    stderr = demo.stderr.read().decode()
    demo.stderr.close()
    status = demo.wait(timeout=120)
    assert (0, 1) == (head.returncode, len(head.stdout.decode().splitlines()))
    assert ("", True) == (stderr, status in (0, 141))


@pytest.mark.parametrize("unbuffered", [False, True])
def test_demo_into_a_closed_pipe_ends_with_sigpipe_status(unbuffered: bool) -> None:
    """Writing into a pipe nobody reads (the reader left before the first line) ends the
    demo with 141 and nothing on stderr, whether output is buffered or not."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop("PYTHONUNBUFFERED", None)
    flags = ["-u"] if unbuffered else []
    try:
        done = subprocess.run(
            [sys.executable, *flags, "-m", "cloudbackup", "demo"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=env,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert (141, b"") == (done.returncode, done.stderr)


def test_broken_pipe_inside_main_is_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """A BrokenPipeError while printing is turned into status 141 with stdout pointed at the
    null device, so the interpreter's last flush cannot fail again."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    closed = open(write_end, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    monkeypatch.setattr(sys, "stdout", closed)
    try:
        assert 141 == cli.main(["demo"])
        closed.write("x" * 100_000)
        closed.flush()  # goes to /dev/null now
    finally:
        monkeypatch.undo()
        with contextlib.suppress(OSError):
            closed.close()


# -- the README -------------------------------------------------------------------------


def _examples(path: pathlib.Path) -> list[tuple[str, str]]:
    """Each ```python block of a Markdown page with what it prints: the ```text block right
    after it, or nothing when another block or prose follows."""
    text = path.read_text(encoding="utf-8")
    fences = [
        (m.group(1), m.group(2), m.start(), m.end())
        for m in re.finditer(r"```(\w+)\n(.*?)```", text, re.S)
    ]
    found = []
    for i, (lang, body, _, end) in enumerate(fences):
        if lang != "python":
            continue
        after = fences[i + 1] if i + 1 < len(fences) else None
        shows = after is not None and after[0] == "text" and not text[end : after[2]].strip()
        found.append((body, after[1] if shows and after is not None else ""))
    return found


def _run_examples(path: pathlib.Path) -> None:
    namespace: dict[str, object] = {"__name__": path.stem}
    for code, expected in _examples(path):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, str(path), "exec"), namespace)
        assert expected == out.getvalue()


def test_readme_shows_the_output_of_every_python_block() -> None:
    """Each of the README's three python blocks is followed by the text it prints."""
    examples = _examples(ROOT / "README.md")
    assert (3, True) == (len(examples), all(output for _, output in examples))


@pytest.mark.parametrize("page", ["README.md", "docs/tutorial/first-world.md"])
def test_snippets_print_what_the_page_shows(
    page: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's python blocks, run in order in one namespace, print exactly what it shows."""
    monkeypatch.chdir(tmp_path)
    _run_examples(ROOT / page)


def test_readme_sqlite_snippet_closes_its_world(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's SQLite snippet leaves world.db closed: it can be renamed away and no WAL
    file is left open behind it."""
    monkeypatch.chdir(tmp_path)
    _run_examples(ROOT / "README.md")
    [sqlite_code] = [c for c, _ in _examples(ROOT / "README.md") if "SqliteBackend" in c]
    assert sqlite_code.count("with Cloud(") == sqlite_code.count("Cloud(")
    assert ["world.db"] == sorted(p.name for p in tmp_path.iterdir())


def test_readme_snippets_import_only_what_they_use() -> None:
    """Every name a README snippet imports is used in that snippet."""
    for code, _ in _examples(ROOT / "README.md"):
        imported: list[str] = []
        for line in code.splitlines():
            if line.startswith("from "):
                imported += [n.strip() for n in line.split(" import ", 1)[1].split(",")]
            elif line.startswith("import "):
                imported.append(line.split()[1])
        body = "\n".join(ln for ln in code.splitlines() if not ln.startswith(("from ", "import ")))
        assert [] == [name for name in imported if not re.search(rf"\b{name}\b", body)]


def test_readme_says_how_long_the_tests_take() -> None:
    """The README's test command says how long it runs."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r"takes about \d+ minutes?", readme)


# -- cloudbackup.testing without Hypothesis ---------------------------------------------


def test_testing_without_hypothesis_names_the_extra() -> None:
    """``import cloudbackup.testing`` with Hypothesis missing is an ImportError that says to
    install the ``test`` extra; ``import cloudbackup`` alone still works."""
    done = _run(
        "-c",
        "import sys\n"
        "sys.modules['hypothesis'] = None\n"
        "import cloudbackup\n"
        "try:\n"
        "    import cloudbackup.testing\n"
        "except ImportError as error:\n"
        "    print(type(error).__name__, error.name, error)\n",
    )
    assert (0, "") == (done.returncode, done.stderr)
    assert (
        "ImportError cloudbackup.testing cloudbackup.testing needs Hypothesis, which is not "
        "installed. Install the test extra: pip install 'cloudbackup[test]'\n"
    ) == done.stdout


def test_a_seed_the_world_refuses_is_one_line_on_stderr_and_status_2() -> None:
    """``demo --seed`` beyond 64 bits prints a one-line error (no traceback) and exits 2."""
    done = _run("-m", "cloudbackup", "demo", "--seed", "99999999999999999999999")
    lines = done.stderr.splitlines()
    assert (2, "", 1, True) == (
        done.returncode,
        done.stdout,
        len(lines),
        lines[0].startswith("cloudbackup demo: error: seed must be"),
    )
