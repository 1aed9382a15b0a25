"""Find the tests for a file, the file a test covers, and the command that runs them.

Pure filesystem work (no subprocess): the language server calls this on every save.
`micro-agent.yml`'s `test` always wins; the caller checks it before asking here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

from .conventions import JS_FAMILY, TYPESCRIPT, is_test_file, js_stem, language_of

SKIP_DIRS = frozenset(
    {"node_modules", "__pycache__", "target", "build", "dist", "venv", "site-packages", "coverage"}
)
MAX_FILES_WALKED = 20_000
MAX_READ = 200_000  # characters of a file read when looking at its imports
_NPM_PLACEHOLDER = "no test specified"

_JS_IMPORT = re.compile(
    r"""(?:\bfrom\s+|\brequire\(\s*|\bimport\(\s*|^\s*import\s+)['"](?P<spec>\.{1,2}/[^'"]+)['"]""", re.MULTILINE
)
_PY_FROM_IMPORT = re.compile(r"^\s*from\s+(?P<module>[\w.]+)\s+import\s+(?P<names>\([^)]*\)|[^\n#]+)", re.MULTILINE)
_PY_IMPORT = re.compile(r"^\s*import\s+(?P<modules>[\w.]+(?:\s*,\s*[\w.]+)*)", re.MULTILINE)


# ---------------------------------------------------------------- tests of a source file


def find_test_files(target: Path, root: Path) -> list[Path]:
    """The test files for `target`: by naming convention first, then test files that import it."""
    target, root = target.resolve(), root.resolve()
    if is_test_file(target):
        return [target]
    language = language_of(target)
    if language == "python":
        return _python_tests(target, root)
    if language in ("typescript", "javascript"):
        return _js_tests(target, root)
    if language == "rust":
        return _rust_tests(target, root)
    return []


def _python_tests(target: Path, root: Path) -> list[Path]:
    names = {f"test_{target.stem}.py", f"{target.stem}_test.py"}
    by_name: list[Path] = []
    by_import: list[Path] = []
    for path in _walk(root, frozenset({".py"})):
        if not is_test_file(path):
            continue
        if path.name in names:
            by_name.append(path)
        elif target in _python_imports(path, root):
            by_import.append(path)
    return sorted(by_name) + sorted(by_import)


def _js_tests(target: Path, root: Path) -> list[Path]:
    stem = js_stem(target.name)
    by_name: list[Path] = []
    by_import: list[Path] = []
    for path in _walk(root, JS_FAMILY):
        if not is_test_file(path):
            continue
        if js_stem(path.name) == stem:
            by_name.append(path)
        elif target in _js_imports(path):
            by_import.append(path)
    # Closest first: a sibling `x.test.ts` before one elsewhere in the tree.
    by_name.sort(key=lambda p: (_distance(p, target), str(p)))
    return by_name + sorted(by_import)


def _rust_tests(target: Path, root: Path) -> list[Path]:
    crate = _nearest_with(target.parent, root, "Cargo.toml")
    found = [target] if "#[cfg(test)]" in _read(target) else []
    if crate is not None and (crate / "tests").is_dir():
        found += sorted(p for p in (crate / "tests").glob("*.rs") if p.is_file())
    return found


# ---------------------------------------------------------------- the source file of a test


def find_target_for_test(test_file: Path, root: Path) -> Path | None:
    """The source file `test_file` tests: by name (`test_x.py` → `x.py`), else by what it imports."""
    test_file, root = test_file.resolve(), root.resolve()
    language = language_of(test_file)
    if language == "python":
        stem = test_file.stem.removeprefix("test_").removesuffix("_test")
        imported = [p for p in _python_imports(test_file, root) if not is_test_file(p)]
        return _best_match(stem, imported, root, test_file, frozenset({".py"}))
    if language in ("typescript", "javascript"):
        stem = js_stem(test_file.name)
        home = test_file.parent.parent if test_file.parent.name == "__tests__" else test_file.parent
        for ext in (test_file.suffix, *sorted(JS_FAMILY)):
            candidate = home / f"{stem}{ext}"
            if candidate.is_file() and candidate != test_file:
                return candidate
        imported = [p for p in _js_imports(test_file) if not is_test_file(p)]
        return _best_match(stem, imported, root, test_file, JS_FAMILY)
    if language == "rust":
        if not is_test_file(test_file):
            return test_file if "#[cfg(test)]" in _read(test_file) else None
        crate = _nearest_with(test_file.parent, root, "Cargo.toml")
        for name in ("lib.rs", "main.rs"):
            if crate is not None and (crate / "src" / name).is_file():
                return crate / "src" / name
    return None


def _best_match(stem: str, imported: list[Path], root: Path, near: Path, suffixes: frozenset[str]) -> Path | None:
    """An imported file named `stem`, else a file named `stem` anywhere (closest), else the first import."""
    for path in imported:
        if js_stem(path.name) == stem or path.stem == stem:
            return path
    named = [p for p in _walk(root, suffixes) if (p.stem == stem or js_stem(p.name) == stem) and not is_test_file(p)]
    if named:
        return min(named, key=lambda p: (_distance(p, near), str(p)))
    return imported[0] if imported else None


# ---------------------------------------------------------------- the test command


def detect_test_command(target: Path, root: Path) -> str | None:
    """The command that runs `target`'s tests from `root`, or None when nothing fits."""
    target, root = target.resolve(), root.resolve()
    language = language_of(target)
    if language == "python":
        return _python_command(target, root)
    if language in ("typescript", "javascript"):
        return _js_command(target, root)
    if language == "rust":
        crate = _nearest_with(target.parent, root, "Cargo.toml")
        if crate is None:
            return None
        if crate == root:
            return "cargo test"
        return f"cargo test --manifest-path {shlex.quote((crate / 'Cargo.toml').relative_to(root).as_posix())}"
    return None


def _project_python(root: Path) -> str:
    """The project's own virtual environment when it has one (editors often start us without it on
    PATH), else `python` or `python3` from PATH."""
    for folder in (".venv", "venv", "env"):
        candidate = root / folder / "bin" / "python"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return f"{folder}/bin/python"
    return "python" if shutil.which("python") else "python3"


def _python_command(target: Path, root: Path) -> str:
    python = _project_python(root)
    tests = find_test_files(target, root)
    if tests:
        return f"{python} -m pytest -q " + " ".join(_quoted(tests, root))
    if (root / "tests").is_dir():
        return f"{python} -m pytest -q tests"
    return f"{python} -m pytest -q"


def _js_command(target: Path, root: Path) -> str:
    package_dir = _nearest_with(target.parent, root, "package.json") or root
    package = _read_json(package_dir / "package.json")
    prefix = "" if package_dir == root else f"cd {shlex.quote(package_dir.relative_to(root).as_posix())} && "
    test_script = (package.get("scripts") or {}).get("test")
    if isinstance(test_script, str) and test_script.strip() and _NPM_PLACEHOLDER not in test_script:
        return prefix + "npm test"
    files = " ".join(_quoted(find_test_files(target, root), package_dir))
    dependencies = {**(package.get("dependencies") or {}), **(package.get("devDependencies") or {})}
    if "vitest" in dependencies or _has_config(package_dir, "vitest"):
        return prefix + f"npx vitest run {files}".rstrip()
    if "jest" in dependencies or _has_config(package_dir, "jest"):
        return prefix + f"npx jest {files}".rstrip()
    if target.suffix in TYPESCRIPT:
        return prefix + f"node --experimental-strip-types --test {files}".rstrip()
    return prefix + f"node --test {files}".rstrip()


def _has_config(directory: Path, tool: str) -> bool:
    return any(directory.glob(f"{tool}.config.*"))


# ---------------------------------------------------------------- imports


def _python_imports(test_file: Path, root: Path) -> list[Path]:
    """Project files that `test_file` imports (`from pkg.x import y`, `import x`, `from pkg import x`)."""
    text = _read(test_file)
    modules: list[str] = []
    for match in _PY_FROM_IMPORT.finditer(text):
        module = match.group("module")
        modules.append(module)
        names = [n.split(" as ")[0].strip() for n in match.group("names").strip("() \n").split(",")]
        modules += [f"{module}.{name}" for name in names if name.isidentifier()]
    for match in _PY_IMPORT.finditer(text):
        modules += [m.strip() for m in match.group("modules").split(",")]
    found: list[Path] = []
    bases = [root, root / "src", test_file.parent]
    for module in modules:
        relative = Path(*module.split("."))
        for base in bases:
            for candidate in (base / relative.with_suffix(".py"), base / relative / "__init__.py"):
                if candidate.is_file() and candidate not in found:
                    found.append(candidate.resolve())
    return found


def _js_imports(test_file: Path) -> list[Path]:
    """Files that `test_file` imports by relative path, resolved with the usual extensions."""
    found: list[Path] = []
    for match in _JS_IMPORT.finditer(_read(test_file)):
        base = (test_file.parent / match.group("spec")).resolve()
        stem_base = base.with_suffix("") if base.suffix in JS_FAMILY else base
        candidates = [base] + [stem_base.with_name(stem_base.name + ext) for ext in sorted(JS_FAMILY)]
        candidates += [base / f"index{ext}" for ext in sorted(JS_FAMILY)]
        for candidate in candidates:
            if candidate.is_file():
                found.append(candidate)
                break
    return found


# ---------------------------------------------------------------- filesystem helpers


def _walk(root: Path, suffixes: frozenset[str]) -> Iterator[Path]:
    """Files under `root` with one of `suffixes`, skipping hidden, dependency and build folders."""
    seen = 0
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in files:
            seen += 1
            if seen > MAX_FILES_WALKED:
                return
            if os.path.splitext(name)[1] in suffixes:
                yield Path(directory, name)


def _nearest_with(start: Path, root: Path, marker: str) -> Path | None:
    """The closest folder from `start` up to `root` (inclusive) that holds `marker`."""
    for directory in (start, *start.parents):
        if (directory / marker).is_file():
            return directory
        if directory == root:
            break
    return None


def _distance(path: Path, near: Path) -> int:
    common = len(os.path.commonpath([path, near]).split(os.sep))
    return len(path.parts) + len(near.parts) - 2 * common


def _quoted(paths: list[Path], base: Path) -> list[str]:
    return [shlex.quote(os.path.relpath(p, base)) for p in paths]


def _read(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(MAX_READ)
    except OSError:
        return ""


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
