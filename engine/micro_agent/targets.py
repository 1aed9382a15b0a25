"""What a run may be pointed at: the target file and the project root around it.

Checked before any worktree is made or any test runs, so a wrong target costs nothing.
"""

from __future__ import annotations

from pathlib import Path

from .config import CONFIG_FILE_NAME
from .languages import source_suffixes

# Files that say "a project starts here", after micro-agent.yml and .git (which win, in that order).
PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", "package.json", "Cargo.toml", "go.mod",
                   "pytest.ini", "tox.ini")


class NoProject(Exception):
    """No project root could be told for the target; the message says what to add."""


def choose_root(target: Path) -> Path:
    """The project root of `target`: the nearest folder holding micro-agent.yml, else the git top level,
    else the nearest folder holding a project marker (pyproject.toml, package.json, Cargo.toml, ...).

    Raises NoProject when there is none: the target's folder is never taken as the project by default
    (it may be ~/Downloads, and a run copies the whole project).
    """
    start = target.resolve()
    folder = start if start.is_dir() else start.parent
    chain = [folder, *folder.parents]
    for names in ((CONFIG_FILE_NAME,), (".git",), PROJECT_MARKERS):
        for candidate in chain:
            if any((candidate / name).exists() for name in names):
                return candidate
    raise NoProject(
        f"no project found around {target}: neither {folder} nor a folder above it holds {CONFIG_FILE_NAME}, "
        f".git or a project file ({', '.join(PROJECT_MARKERS[:3])}, ...). Micro Agent copies the whole project "
        f"for each run, so it will not guess. Run `git init` (or create an empty {CONFIG_FILE_NAME}) in your "
        "project folder, or pass --config PATH/micro-agent.yml.")


def target_problems(target: Path, root: Path) -> list[str]:
    """What is wrong with `target` as the file to fix (empty when nothing is)."""
    target = target.resolve()
    if target.is_dir():
        return [f"{target} is a folder: give the source file to fix inside it, e.g. `micro-agent run "
                f"{_example(target)}`"]
    if not target.is_file():
        return [f"{target}: no such file; give the source file to fix, e.g. `micro-agent run src/calc.py`"]
    if not target.is_relative_to(root):
        return [f"{target}: outside the project root {root}"]
    try:
        data = target.read_bytes()
    except OSError as exc:
        return [f"{target}: cannot be read ({exc.strerror}); check its permissions"]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [f"{target} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}): Micro Agent "
                "edits UTF-8 text only. Convert it first (e.g. `iconv -f latin1 -t utf-8`) or pick another file."]
    return []


def _example(folder: Path) -> str:
    sources = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in source_suffixes())
    return str(sources[0]) if sources else f"{folder}/FILE"
