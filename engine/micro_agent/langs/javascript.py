"""TypeScript and JavaScript: `*.test.ts` / `*.spec.js` / `__tests__/*` files, relative imports, and the
runner the package uses (its `npm test` script, vitest, jest, or `node --test`)."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from pathlib import Path, PurePath, PurePosixPath

from ..project_files import distance, imports_on_disk, nearest_with, quoted, read_json, walk

TYPESCRIPT = (".ts", ".tsx", ".mts", ".cts")
JAVASCRIPT = (".js", ".jsx", ".mjs", ".cjs")
SUFFIXES = TYPESCRIPT + JAVASCRIPT
DEFINITIONS = (
    r"(?:export\s+(?:default\s+)?)?(?:declare\s+)?(?:async\s+)?function\s*\*?\s*([\w$]+)",
    r"(?:export\s+(?:default\s+)?)?(?:declare\s+)?(?:abstract\s+)?class\s+([\w$]+)",
    r"export\s+(?:declare\s+)?(?:const|let|var|interface|type|enum|namespace)\s+([\w$]+)",
    r"(?:const|let|var)\s+([\w$]+)\s*=\s*(?:async\s+)?(?:function\b|\([^)]*\)\s*=>|[\w$]+\s*=>)",
    r"(?:module\.)?exports\.([\w$]+)\s*=",
    r"(?:interface|type|enum)\s+([\w$]+)",
)
TEST_DEFINITIONS = (r"\b(?:test|it|specify)(?:\.\w+)*\s*\(\s*(['\"`]){name}\1",)
FRAMES = (r"(?P<path>(?:file://)?[^\s()'\"<>:]+\.[cm]?[jt]sx?):(?P<line>\d+)(?::\d+)?",)  # `at f (src/m.ts:3:9)`
_TEST_NAME = re.compile(r"\.(?:test|spec)\.[cm]?[jt]sx?$")
# `import x from './a'`, `import './a'`, `import('./a')`, `require('./a')`, and re-exports: `export * from './a'`.
_IMPORT = re.compile(
    r"""(?:\b(?:import|export)\s[^'";]*?from\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"](?P<spec>\.{1,2}/[^'"]+)['"]""")
_NPM_PLACEHOLDER = "no test specified"


def is_test(path: PurePath) -> bool:
    return bool(_TEST_NAME.search(path.name)) or "__tests__" in path.parts[:-1]


def subject_stem(path: PurePath) -> str:
    """`math` for `math.ts`, `math.test.ts`, `math.spec.mjs`."""
    stem = path.name
    for _ in range(2):
        base, dot, ext = stem.rpartition(".")
        if not dot:
            break
        if f".{ext}" in SUFFIXES or ext in ("test", "spec"):
            stem = base
    return stem


# ---------------------------------------------------------------- the import scanner


def imports(rel: str, text: str, exists: Callable[[str], bool]) -> list[str]:
    """Project files (relative, posix) the file `rel` imports by relative path, with the usual extensions
    (TS sources are imported with `.js` specifiers); `exists(rel)` says which files there are."""
    folder = PurePosixPath(rel).parent
    found: list[str] = []
    for match in _IMPORT.finditer(text):
        spec = os.path.normpath((folder / match.group("spec")).as_posix())
        if spec.startswith(".."):  # outside the project
            continue
        root, ext = os.path.splitext(spec)
        stem = root if ext in SUFFIXES else spec
        for candidate in (spec, *(stem + s for s in SUFFIXES), *(f"{spec}/index{s}" for s in SUFFIXES)):
            if candidate not in found and exists(candidate):
                found.append(candidate)
                break
    return found


# ---------------------------------------------------------------- tests ↔ target, and the runner


def find_tests(target: Path, root: Path) -> list[Path]:
    stem = subject_stem(target)
    by_name: list[Path] = []
    by_import: list[Path] = []
    for path in walk(root, SUFFIXES):
        if not is_test(path):
            continue
        if subject_stem(path) == stem:
            by_name.append(path)
        elif target in imports_on_disk(imports, path, root):
            by_import.append(path)
    # Closest first: a sibling `x.test.ts` before one elsewhere in the tree.
    by_name.sort(key=lambda p: (distance(p, target), str(p)))
    return by_name + sorted(by_import)


def find_target(test_file: Path, root: Path) -> Path | None:
    stem = subject_stem(test_file)
    home = test_file.parent.parent if test_file.parent.name == "__tests__" else test_file.parent
    for ext in (test_file.suffix, *sorted(SUFFIXES)):
        candidate = home / f"{stem}{ext}"
        if candidate.is_file() and candidate != test_file:
            return candidate
    imported = [p for p in imports_on_disk(imports, test_file, root) if not is_test(p)]
    for path in imported:
        if subject_stem(path) == stem:
            return path
    named = [p for p in walk(root, SUFFIXES) if subject_stem(p) == stem and not is_test(p)]
    if named:
        return min(named, key=lambda p: (distance(p, test_file), str(p)))
    return imported[0] if imported else None


def suite_command(root: Path) -> str | None:
    """The whole suite of a package at `root`: its `npm test`."""
    return "npm test" if (root / "package.json").is_file() else None


def test_command(target: Path, root: Path) -> str:
    package_dir = nearest_with(target.parent, root, "package.json") or root
    package = read_json(package_dir / "package.json")
    prefix = "" if package_dir == root else f"cd {shlex.quote(package_dir.relative_to(root).as_posix())} && "
    test_script = (package.get("scripts") or {}).get("test")
    if isinstance(test_script, str) and test_script.strip() and _NPM_PLACEHOLDER not in test_script:
        return prefix + "npm test"
    tests = [target] if is_test(target) else find_tests(target, root)
    files = " ".join(quoted(tests, package_dir))
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
