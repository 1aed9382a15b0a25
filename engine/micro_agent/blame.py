"""Which source file is most likely at fault for each failing test, and the groups of tests per file.

First the traceback: the deepest frame inside the project that is not test code. Then the naming
conventions the runners know (`tests/test_calc.py` → `calc.py`, `math.test.ts` → `math.ts`). A test whose
target cannot be named is reported as unmapped, never guessed. The autopilot's passes and
`micro-agent run --all-failing` both ask here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .languages import frames_in, is_support_file, is_test_file
from .reports import TestFailure
from .runners import find_target_for_test

_TEST_FOLDERS = frozenset({"tests", "test", "testing", "__tests__", "spec"})


@dataclass
class Target:
    """A source file and the failing tests blamed on it."""

    path: str  # relative to the project root, posix
    failures: list[TestFailure] = field(default_factory=list)
    found_by: str = "traceback"  # or "naming"

    @property
    def tests(self) -> list[str]:
        return [f.name for f in self.failures]


def is_test_code(rel: str) -> bool:
    path = PurePosixPath(rel)
    return (is_test_file(path) or is_support_file(path)
            or any(part in _TEST_FOLDERS for part in path.parts[:-1]))


def frames(text: str, root: Path) -> list[str]:
    """Project files named in a traceback, outermost first (files that exist under `root` only)."""
    found = []
    root = root.resolve()
    for raw in frames_in(text):
        rel = _relative(raw.removeprefix("file://").strip(), root)
        if rel is not None:
            found.append(rel)
    return found


def _relative(raw: str, root: Path) -> str | None:
    path = Path(raw)
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(root)
        except ValueError:
            return None
    rel = PurePosixPath(path.as_posix())
    if not rel.parts or ".." in rel.parts or any(p in ("site-packages", "node_modules") for p in rel.parts):
        return None
    return rel.as_posix() if (root / rel).is_file() else None


def target_of(failure: TestFailure, root: Path) -> tuple[str, str] | None:
    """(target path, how it was found) for one failing test, or None when no target can be named."""
    for rel in reversed(frames(failure.message, root)):  # deepest first
        if not is_test_code(rel):
            return rel, "traceback"
    if failure.file and not is_test_code(failure.file) and (root / failure.file).is_file():
        return failure.file, "traceback"  # a collection or compile error located in a source file
    test_file = failure.file or failure.name.split("::", 1)[0]
    if test_file and (root / test_file).is_file():
        found = find_target_for_test(root / test_file, root)
        if found is not None:
            rel = found.resolve().relative_to(root.resolve()).as_posix()
            if not is_test_code(rel):
                return rel, "naming"
    return None


def group(failures: list[TestFailure], root: Path) -> tuple[list[Target], list[TestFailure]]:
    """(targets with their failures, in the order first seen; the failures no target could be named for)."""
    targets: dict[str, Target] = {}
    unmapped: list[TestFailure] = []
    for failure in failures:
        found = target_of(failure, root)
        if found is None:
            unmapped.append(failure)
            continue
        path, how = found
        targets.setdefault(path, Target(path=path, found_by=how)).failures.append(failure)
    return list(targets.values()), unmapped


def first_error_line(message: str) -> str:
    """The line that says what went wrong: pytest's `E ...` line, else the last non-empty line."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("E "):
            return line[2:].strip()[:200]
    return (lines[-1] if lines else "")[:200]
