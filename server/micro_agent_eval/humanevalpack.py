"""Import HumanEvalPack (HumanEvalFix) rows — JSON lines with `task_id`, `declaration`, `buggy_solution`,
`test`, `entry_point` and optionally `canonical_solution` — as suite folders.

Each Python row becomes

    <OUT>/<Python_0>/task.yml             target: solution.py · test: python -m pytest -q test_solution.py
    <OUT>/<Python_0>/solution.py          declaration + buggy_solution
    <OUT>/<Python_0>/test_solution.py     the row's `check` function, called from one pytest test
    <OUT>/<Python_0>/reference.py         declaration + canonical_solution (when the row has one)

Rows of other languages are skipped and counted: only the Python layout is imported so far.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from .suite import TASK_FILE, SuiteError

_TOP_LEVEL_CHECK = re.compile(r"^check\(\s*[A-Za-z_][A-Za-z_0-9]*\s*\)\s*$", re.MULTILINE)


class HumanEvalRow(BaseModel):
    task_id: str
    declaration: str
    buggy_solution: str
    test: str
    entry_point: str
    canonical_solution: str | None = None
    bug_type: str | None = None


class ImportSummary(BaseModel):
    written: list[str]
    skipped: dict[str, str]  # task_id -> why


def folder_name(task_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", task_id).strip("_") or "task"


def test_module(row: HumanEvalRow) -> str:
    """The row's test as a pytest module: its module-level `check(entry)` call moves into a test function."""
    body = _TOP_LEVEL_CHECK.sub("", row.test).rstrip()
    return (f"from solution import *  # noqa: F401,F403\nfrom solution import {row.entry_point}\n\n"
            f"{body}\n\n\ndef test_{row.entry_point}():\n    check({row.entry_point})\n")


def task_files(row: HumanEvalRow, python: str = "python") -> dict[str, str]:
    spec = {"target": "solution.py", "test": f"{python} -m pytest -q test_solution.py",
            "tags": ["humanevalpack", "python"] + ([row.bug_type.replace(" ", "-")] if row.bug_type else [])}
    files = {"solution.py": row.declaration + row.buggy_solution, "test_solution.py": test_module(row)}
    if row.canonical_solution is not None:
        spec["reference"] = "reference.py"
        files["reference.py"] = row.declaration + row.canonical_solution
    files[TASK_FILE] = yaml.safe_dump(spec, sort_keys=False)
    return files


def import_file(source: Path, out: Path, python: str = "python") -> ImportSummary:
    """Write one suite folder per Python row of `source` under `out`. Raises SuiteError listing every bad line."""
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SuiteError([f"{source}: cannot read it: {exc.strerror or exc}"]) from None
    rows: list[HumanEvalRow] = []
    problems: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(HumanEvalRow.model_validate(json.loads(line)))
        except json.JSONDecodeError as exc:
            problems.append(f"{source}:{number}: not a JSON object: {exc.msg}")
        except ValidationError as exc:
            missing = [".".join(map(str, e["loc"])) for e in exc.errors()]
            problems.append(f"{source}:{number}: not a HumanEvalPack row (check {', '.join(missing)}); "
                            "expected task_id, declaration, buggy_solution, test, entry_point")
    if not rows and not problems:
        problems.append(f"{source}: no rows; expected one JSON object per line")
    if problems:
        raise SuiteError(problems)
    written, skipped = [], {}
    for row in rows:
        language = row.task_id.split("/", 1)[0] if "/" in row.task_id else "Python"
        if language.lower() != "python":
            skipped[row.task_id] = f"{language} rows are not imported yet (only Python)"
            continue
        folder = out / folder_name(row.task_id)
        if (folder / TASK_FILE).exists():
            skipped[row.task_id] = f"{folder} already holds a task; remove it to import again"
            continue
        for rel, text in task_files(row, python).items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text, encoding="utf-8")
        written.append(folder.name)
    return ImportSummary(written=written, skipped=skipped)
