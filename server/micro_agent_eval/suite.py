"""Eval suites on disk: one folder per task holding its files and a `task.yml`.

    my-suite/
      off-by-one/
        task.yml          target: src/window.py · test: python -m pytest -q tests · tags: [python]
        src/window.py     the buggy file the loop must fix
        tests/…           the tests that judge it
        reference.py      optional: a correct version of the target (never copied into the task's repo)

Every problem in every task.yml is collected and raised together as one SuiteError.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

TASK_FILE = "task.yml"


class SuiteError(Exception):
    """The suite cannot be used; `problems` lists every reason, one line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class TaskSpec(BaseModel):
    """task.yml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str = Field(min_length=1, description="the file to fix, relative to the task folder")
    test: str = Field(min_length=1, description="the test command, run in the task folder")
    tags: list[str] = Field(default_factory=list)
    reference: str | None = Field(default=None, description="a correct version of the target, relative to the task folder")


class Task(BaseModel):
    """One task of a suite: its name (the folder's), where it lives and what task.yml says."""

    name: str
    folder: Path
    spec: TaskSpec

    def files(self) -> dict[str, bytes]:
        """The files the task's repo starts with: everything but task.yml and the reference."""
        skip = {TASK_FILE, self.spec.reference}
        found = {}
        for path in sorted(self.folder.rglob("*")):
            rel = path.relative_to(self.folder).as_posix()
            if path.is_file() and rel not in skip and not _ignored(rel):
                found[rel] = path.read_bytes()
        return found


def _ignored(rel: str) -> bool:
    parts = rel.split("/")
    return any(p in {".git", "target", "node_modules", "__pycache__", ".pytest_cache", ".micro-agent"} for p in parts)


def load_suite(root: Path, tags: list[str] | None = None) -> list[Task]:
    """Every task under `root` (folders holding a task.yml, sorted by name), optionally only those with one of `tags`."""
    root = root.resolve()
    if not root.is_dir():
        raise SuiteError([f"{root}: no such folder; give a suite folder (one sub-folder per task, each with a task.yml)"])
    problems: list[str] = []
    tasks: list[Task] = []
    for task_file in sorted(root.rglob(TASK_FILE)):
        folder = task_file.parent
        name = folder.relative_to(root).as_posix() if folder != root else folder.name
        try:
            tasks.append(Task(name=name, folder=folder, spec=_read_spec(task_file)))
        except SuiteError as exc:
            problems += exc.problems
            continue
        problems += _file_problems(tasks[-1], task_file)
    if not tasks and not problems:
        problems.append(f"{root}: no task.yml found; each task is a folder with its files and a task.yml "
                        "(`target:` and `test:`), see docs/eval.md")
    if problems:
        raise SuiteError(problems)
    if tags:
        tasks = [t for t in tasks if set(tags) & set(t.spec.tags)]
        if not tasks:
            raise SuiteError([f"{root}: no task has any of the tags {', '.join(tags)}"])
    return tasks


def _read_spec(task_file: Path) -> TaskSpec:
    try:
        data = yaml.safe_load(task_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SuiteError([f"{task_file}: cannot read it as YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise SuiteError([f"{task_file}: expected a mapping with `target:` and `test:`"])
    try:
        return TaskSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e["loc"]) or "(top level)"
            why = {"extra_forbidden": "unknown key (known: target, test, tags, reference)",
                   "missing": "required key is missing"}.get(e["type"], e["msg"])
            problems.append(f"{task_file}: {where}: {why}")
        raise SuiteError(problems) from None


def _file_problems(task: Task, task_file: Path) -> list[str]:
    problems = []
    for key in ("target", "reference"):
        rel = getattr(task.spec, key)
        if rel is None:
            continue
        path = (task.folder / rel).resolve()
        if not path.is_relative_to(task.folder.resolve()):
            problems.append(f"{task_file}: {key}: {rel} is outside the task folder")
        elif not path.is_file():
            problems.append(f"{task_file}: {key}: {rel} does not exist in {task.folder}")
    return problems
