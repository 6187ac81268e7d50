"""docs/reference/errors.md and the code cannot drift apart (issue 7, 5.10).

- Every code the package can raise is documented: the ``code=`` literals of ``src/`` (read with
  ``ast``, so a new raise site is found without running it), the error classes' default codes,
  the repositories' ``….NotFound`` codes and the ``….Malformed`` codes derived from them.
- Every documented code is asserted by some test: it appears as a string literal in a test
  file other than this one.
- Every row names its source (Documented / API-style / Ours).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "cloudbackup"
ERRORS_MD = ROOT / "docs" / "reference" / "errors.md"
TESTS = ROOT / "tests"
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)*$")


# -- what the package can raise ---------------------------------------------------------------
def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` assignments (e.g. KMS's ``_INVALID``)."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def _strings(node: ast.expr, constants: dict[str, str]) -> list[str]:
    """The code strings an expression can evaluate to (literals, constants, both branches of a
    conditional); an f-string gives none (its family is documented by pattern)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name) and node.id in constants:
        return [constants[node.id]]
    if isinstance(node, ast.IfExp):
        return _strings(node.body, constants) + _strings(node.orelse, constants)
    if isinstance(node, ast.BoolOp):
        return [s for value in node.values for s in _strings(value, constants)]
    return []


def source_codes() -> dict[str, str]:
    """Every code literal in ``src/`` -> the file it is in."""
    codes: dict[str, str] = {}
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _constants(tree)
        where = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            # ``code=`` and keywords that pass a code on (``size_code=`` of ``_new_disk``).
            if isinstance(node, ast.keyword) and (
                node.arg == "code" or (node.arg or "").endswith("_code")
            ):
                for code in _strings(node.value, constants):
                    codes.setdefault(code, where)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == "default_code" for t in targets):
                    for code in _strings(node.value, constants):
                        codes.setdefault(code, where)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "RepositorySpec"
                and len(node.args) >= 3
            ):
                for code in _strings(node.args[2], constants):
                    codes.setdefault(code, where)
                    codes.setdefault(code.replace(".NotFound", ".Malformed"), where)
    return {code: where for code, where in codes.items() if _CODE.match(code)}


# -- what errors.md documents -----------------------------------------------------------------
def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def documented_rows(*, classes: bool = False) -> list[list[str]]:
    """The rows of every code table (the first header cell is ``Code``), or with ``classes``
    of the table of error classes and their default codes."""
    rows: list[list[str]] = []
    in_table = False
    for line in ERRORS_MD.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        cells = _cells(line)
        if cells[0] in ("Code", "Class"):
            in_table = cells[:2] == ["Class", "Default `code`"] if classes else cells[0] == "Code"
            continue
        if in_table and not set(cells[0]) <= {"-", ":"}:
            rows.append(cells)
    return rows


def documented_codes() -> set[str]:
    """Every code errors.md names in the first column of a code table; the family row
    ``InvalidParameter.<Name>`` stands for each name listed in its "Raised when" cell."""
    codes: set[str] = set()
    codes.update(cells[1].strip("`") for cells in documented_rows(classes=True))
    for cells in documented_rows():
        first = re.sub(r"\(.*\)", "", cells[0])  # "`Code` (`Class`, 400)" names one code
        for code in re.findall(r"`([^`]+)`", first):
            if code.endswith(".<Name>"):
                prefix = code[: -len("<Name>")]
                family = cells[3] if len(cells) > 3 else cells[1]
                codes.update(prefix + name for name in re.findall(r"`([A-Za-z.]+)`", family))
            else:
                codes.add(code)
    return codes


def strings_in_tests() -> set[str]:
    """Every string literal of the test files (this one excepted)."""
    found: set[str] = set()
    for path in sorted(TESTS.glob("*.py")):
        if path.name == Path(__file__).name:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


# -- the checks ---------------------------------------------------------------------------------
def test_the_parsers_find_what_they_must() -> None:
    """The source scan and the doc parser see known codes (so an empty result cannot pass)."""
    assert {"InvalidDiskId.NotFound", "InvalidDiskId.Malformed", "Forbidden.KeyNotFound"} <= set(
        source_codes()
    )
    assert {"QuotaExceed.Snapshot", "InvalidParameter.PageSize", "StorageBackend.Closed"} <= (
        documented_codes()
    )


def test_every_code_the_package_can_raise_is_documented() -> None:
    """A code= literal, default code or repository code without a row in errors.md fails."""
    missing = {
        code: where for code, where in source_codes().items() if code not in documented_codes()
    }
    assert {} == missing


def test_every_documented_code_is_asserted_by_a_test() -> None:
    """A row of errors.md whose code no test names fails."""
    untested = sorted(documented_codes() - strings_in_tests())
    assert [] == untested


def test_every_documented_code_exists_in_the_code() -> None:
    """A row of errors.md for a code nothing raises any more fails (dynamic families aside)."""
    raised = set(source_codes())
    # Built by f-strings: InvalidParameter.<Name> (the validators) and Rejected.<KeyState>.
    dynamic = {c for c in documented_codes() if c.startswith(("InvalidParameter.", "Rejected."))}
    assert [] == sorted(documented_codes() - raised - dynamic)


# The storage tables have no Source column: all their codes are the model's own, said once.
SOURCED_ROWS = [row for row in documented_rows() if len(row) >= 5]


def test_the_sourced_tables_are_found() -> None:
    """Most rows are in the five-column tables that carry a Source column."""
    assert len(SOURCED_ROWS) > 100


@pytest.mark.parametrize("row", SOURCED_ROWS, ids=lambda cells: cells[0][:40])
def test_every_ecs_and_kms_row_names_its_source(row: list[str]) -> None:
    """Each row of a five-column table says Documented, API-style or Ours."""
    assert row[4].startswith(("Documented", "API-style", "Ours")), row
