"""What the librarian can look at: the files the target imports and the files that import it."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from .languages import family_suffixes, language_for, source_suffixes
from .secrets import sendable_files

SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "target", "__pycache__", ".micro-agent", "dist", "build",
             ".mypy_cache", ".pytest_cache", ".tox"}
MAX_SCANNED_FILES = 2000


def source_files(root: Path) -> list[str]:
    """Source files under root (relative, posix), skipping vendored and build folders."""
    found: list[str] = []
    suffixes = source_suffixes()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            if Path(name).suffix.lower() in suffixes:
                found.append(Path(folder, name).relative_to(root).as_posix())
                if len(found) >= MAX_SCANNED_FILES:
                    return found
    return found


def imports_of(rel: str, text: str, files: set[str]) -> list[str]:
    """Project files that `rel` imports, by its language's import scanner, resolved against `files`."""
    language = language_for(rel)
    return language.imports_of(rel, text, files.__contains__) if language else []


def related_files(root: Path, target: str, read=None) -> tuple[list[str], list[str]]:
    """(files the target imports, files that import the target), both relative to root.

    Files that may not go into a prompt (secret files, files git ignores) are never among them.
    """
    read = read or (lambda rel: (root / rel).read_text(encoding="utf-8", errors="replace"))
    files = sendable_files(root, source_files(root))
    file_set = set(files)
    imported = [f for f in imports_of(target, read(target), file_set) if f != target]
    importers = []
    family = family_suffixes(target)
    for rel in files:
        if rel == target or PurePosixPath(rel).suffix.lower() not in family:
            continue
        try:
            if target in imports_of(rel, read(rel), file_set):
                importers.append(rel)
        except OSError:
            continue
    return imported, importers
