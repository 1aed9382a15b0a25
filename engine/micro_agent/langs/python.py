"""Python: `test_*.py` / `*_test.py` files, imports by module path, pytest as the runner."""

from __future__ import annotations

import ast
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path, PurePath, PurePosixPath

from ..project_files import distance, imports_on_disk, quoted, walk

SUFFIXES = (".py", ".pyi")
_SOURCES = (".py",)  # where tests and targets are looked for
DEFINITIONS = (r"(?:async\s+)?def\s+(\w+)", r"class\s+(\w+)")
TEST_DEFINITIONS = (r"^\s*(?:async\s+)?def\s+{name}\s*\(",)
FRAMES = (  # `src/calc.py:3: in add` (pytest), `File "src/calc.py", line 3` (a traceback)
    r'^(?P<path>[^\s:<>"][^:\n"]*\.py):(?P<line>\d+):(?: |$)',
    r'File "(?P<path>[^"]+\.py)", line (?P<line>\d+)',
)
SUPPORT_FILES = ("conftest.py", "setup.py")
_FROM_IMPORT = re.compile(r"^\s*from\s+(?P<module>[\w.]+)\s+import\s+(?P<names>\([^)]*\)|[^\n#]+)", re.MULTILINE)
_IMPORT = re.compile(r"^\s*import\s+(?P<modules>[\w.]+(?:\s*,\s*[\w.]+)*)", re.MULTILINE)


def is_test(path: PurePath) -> bool:
    return path.name.startswith("test_") or path.stem.endswith("_test")


def subject_stem(path: PurePath) -> str:
    """`calc` for `test_calc.py`, `calc_test.py` and `calc.py`."""
    return path.stem.removeprefix("test_").removesuffix("_test")


# ---------------------------------------------------------------- the import scanner


def imports(rel: str, text: str, exists: Callable[[str], bool]) -> list[str]:
    """Project files (relative, posix) that the file `rel` imports; `exists(rel)` says which files there are."""
    package = PurePosixPath(rel).parent
    found: list[str] = []
    for module in _imported_modules(text, package):
        path = module.replace(".", "/")
        candidates = [f"{path}.py", f"{path}/__init__.py", f"src/{path}.py", f"src/{path}/__init__.py"]
        if str(package) != ".":
            candidates += [f"{package}/{path}.py", f"{package}/{path}/__init__.py"]
        for candidate in candidates:
            if candidate not in found and exists(candidate):
                found.append(candidate)
                break
    return found


def _imported_modules(text: str, package: PurePosixPath) -> list[str]:
    """`x`, `pkg.x` and `pkg.x.name` for each import; read with the parser, or line by line in broken code."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return _imported_modules_by_line(text)
    modules: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.parent
                prefix = ".".join(p for p in anchor.parts if p not in (".",))
                base = ".".join(x for x in (prefix, base) if x)
            modules.append(base)
            modules += [f"{base}.{a.name}" if base else a.name for a in node.names]
    return [m for m in modules if m]


def _imported_modules_by_line(text: str) -> list[str]:
    modules: list[str] = []
    for match in _FROM_IMPORT.finditer(text):
        module = match.group("module")
        modules.append(module)
        names = [n.split(" as ")[0].strip() for n in match.group("names").strip("() \n").split(",")]
        modules += [f"{module}.{name}" for name in names if name.isidentifier()]
    for match in _IMPORT.finditer(text):
        modules += [m.strip() for m in match.group("modules").split(",")]
    return modules


# ---------------------------------------------------------------- tests ↔ target, and the runner


def find_tests(target: Path, root: Path) -> list[Path]:
    names = {f"test_{target.stem}.py", f"{target.stem}_test.py"}
    by_name: list[Path] = []
    by_import: list[Path] = []
    for path in walk(root, _SOURCES):
        if not is_test(path):
            continue
        if path.name in names:
            by_name.append(path)
        elif target in imports_on_disk(imports, path, root):
            by_import.append(path)
    return sorted(by_name) + sorted(by_import)


def find_target(test_file: Path, root: Path) -> Path | None:
    stem = subject_stem(test_file)
    imported = [p for p in imports_on_disk(imports, test_file, root) if not is_test(p)]
    for path in imported:
        if path.stem == stem:
            return path
    named = [p for p in walk(root, _SOURCES) if p.stem == stem and not is_test(p)]
    if named:
        return min(named, key=lambda p: (distance(p, test_file), str(p)))
    return imported[0] if imported else None


def test_command(target: Path, root: Path) -> str:
    python = project_python(root)
    tests = find_tests(target, root) if not is_test(target) else [target]
    if tests:
        return f"{python} -m pytest -q " + " ".join(quoted(tests, root))
    if (root / "tests").is_dir():
        return f"{python} -m pytest -q tests"
    return f"{python} -m pytest -q"


SUITE_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", "pytest.ini", "tox.ini", "conftest.py")


def suite_command(root: Path) -> str | None:
    """The whole suite of a Python project (its packaging or pytest files, a tests/ folder, or .py files)."""
    if any((root / m).is_file() for m in SUITE_MARKERS) or (root / "tests").is_dir() or any(root.glob("*.py")):
        return f"{project_python(root)} -m pytest -q"
    return None


def project_python(root: Path) -> str:
    """The project's own virtual environment when it has one (editors often start us without it on
    PATH), else `python` or `python3` from PATH."""
    for folder in (".venv", "venv", "env"):
        candidate = root / folder / "bin" / "python"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return f"{folder}/bin/python"
    return "python" if shutil.which("python") else "python3"

