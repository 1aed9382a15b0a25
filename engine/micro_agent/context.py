"""What the librarian can look at: the files the target imports and the files that import it."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path, PurePosixPath

from .secrets import sendable_files

SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "target", "__pycache__", ".micro-agent", "dist", "build",
             ".mypy_cache", ".pytest_cache", ".tox"}
SOURCE_SUFFIXES = {".py", ".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".rs"}
MAX_SCANNED_FILES = 2000
# `import x from './a'`, `import './a'`, `import('./a')`, `require('./a')`, and re-exports: `export * from './a'`.
JS_IMPORT = re.compile(
    r"""(?:\b(?:import|export)\s[^'";]*?from\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"](?P<spec>\.{1,2}/[^'"]+)['"]""")
RUST_MOD = re.compile(r"^\s*(?:pub\s+)?mod\s+(?P<name>\w+)\s*;", re.M)
RUST_USE = re.compile(r"\buse\s+crate::(?P<name>\w+)")


def source_files(root: Path) -> list[str]:
    """Source files under root (relative, posix), skipping vendored and build folders."""
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            if Path(name).suffix in SOURCE_SUFFIXES:
                found.append(Path(folder, name).relative_to(root).as_posix())
                if len(found) >= MAX_SCANNED_FILES:
                    return found
    return found


def imports_of(root: Path, rel: str, text: str, files: set[str]) -> list[str]:
    """Project files that `rel` imports, resolved against `files`."""
    suffix = PurePosixPath(rel).suffix
    if suffix == ".py":
        return _python_imports(rel, text, files)
    if suffix == ".rs":
        return _rust_imports(rel, text, files)
    return _js_imports(rel, text, files)


def related_files(root: Path, target: str, read=None) -> tuple[list[str], list[str]]:
    """(files the target imports, files that import the target), both relative to root.

    Files that may not go into a prompt (secret files, files git ignores) are never among them.
    """
    read = read or (lambda rel: (root / rel).read_text(encoding="utf-8", errors="replace"))
    files = sendable_files(root, source_files(root))
    file_set = set(files)
    imported = [f for f in imports_of(root, target, read(target), file_set) if f != target]
    importers = []
    for rel in files:
        if rel == target or PurePosixPath(rel).suffix not in _same_family(target):
            continue
        try:
            if target in imports_of(root, rel, read(rel), file_set):
                importers.append(rel)
        except OSError:
            continue
    return imported, importers


def _same_family(rel: str) -> set[str]:
    suffix = PurePosixPath(rel).suffix
    if suffix == ".py":
        return {".py"}
    if suffix == ".rs":
        return {".rs"}
    return {".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs"}


def _python_imports(rel: str, text: str, files: set[str]) -> list[str]:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    package = PurePosixPath(rel).parent
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
    found = []
    for module in modules:
        path = module.replace(".", "/")
        for candidate in (f"{path}.py", f"{path}/__init__.py", f"src/{path}.py", f"src/{path}/__init__.py",
                          f"{package}/{path}.py" if str(package) != "." else ""):
            if candidate in files and candidate not in found:
                found.append(candidate)
                break
    return found


def _js_imports(rel: str, text: str, files: set[str]) -> list[str]:
    folder = PurePosixPath(rel).parent
    found = []
    for match in JS_IMPORT.finditer(text):
        spec = os.path.normpath((folder / match.group("spec")).as_posix())
        stem = re.sub(r"\.(js|mjs|cjs)$", "", spec)  # TS sources are imported with .js specifiers
        for candidate in (spec, *(stem + s for s in (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs")),
                          *(f"{spec}/index{s}" for s in (".ts", ".js"))):
            if candidate in files and candidate not in found:
                found.append(candidate)
                break
    return found


def _rust_imports(rel: str, text: str, files: set[str]) -> list[str]:
    path = PurePosixPath(rel)
    folder = path.parent if path.name in ("lib.rs", "main.rs", "mod.rs") else path.parent / path.stem
    crate_src = next((p for p in [path.parent, *path.parents] if p.name == "src"), path.parent)
    names = [m.group("name") for m in RUST_MOD.finditer(text)]
    found = []
    for name in names:
        for candidate in (f"{folder}/{name}.rs", f"{folder}/{name}/mod.rs"):
            if candidate in files and candidate not in found:
                found.append(candidate)
    for match in RUST_USE.finditer(text):
        name = match.group("name")
        for candidate in (f"{crate_src}/{name}.rs", f"{crate_src}/{name}/mod.rs"):
            if candidate in files and candidate not in found:
                found.append(candidate)
    return found
