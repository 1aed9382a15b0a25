"""Looking around a project by name alone (no subprocess): the walks and lookups the languages' test-file
conventions and runner detection share. The language server calls these on every save."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterator
from pathlib import Path

SKIP_DIRS = frozenset(
    {"node_modules", "__pycache__", "target", "build", "dist", "venv", "site-packages", "coverage"}
)
MAX_FILES_WALKED = 20_000
MAX_READ = 200_000  # characters of a file read when looking at its imports


def walk(root: Path, suffixes: frozenset[str] | tuple[str, ...]) -> Iterator[Path]:
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


def nearest_with(start: Path, root: Path, marker: str) -> Path | None:
    """The closest folder from `start` up to `root` (inclusive) that holds `marker`."""
    for directory in (start, *start.parents):
        if (directory / marker).is_file():
            return directory
        if directory == root:
            break
    return None


def distance(path: Path, near: Path) -> int:
    """Steps through the folder tree from `near` to `path`."""
    common = len(os.path.commonpath([path, near]).split(os.sep))
    return len(path.parts) + len(near.parts) - 2 * common


def quoted(paths: list[Path], base: Path) -> list[str]:
    return [shlex.quote(os.path.relpath(p, base)) for p in paths]


def read_text(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(MAX_READ)
    except OSError:
        return ""


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def imports_on_disk(scanner, path: Path, root: Path) -> list[Path]:
    """The project files `path` imports, by `scanner(rel, text, exists)` of its language, as absolute paths."""
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        return []
    found = scanner(rel, read_text(path), lambda candidate: (root / candidate).is_file())
    return [(root / candidate).resolve() for candidate in found]
