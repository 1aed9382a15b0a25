"""The project's own environment: whose `python` (and `node_modules/.bin`) a test command runs with.

Resolved once per run, first match wins:
  1. the interpreter the editor selected (a `python` executable, or a venv folder);
  2. a venv inside the project: `$UV_PROJECT_ENVIRONMENT`, `.venv/` (uv, Poetry's in-project setting,
     `python -m venv .venv`), `venv/`, `env/`;
  3. `$VIRTUAL_ENV` (an activated venv);
  4. the venv micro-agent itself runs in (`.venv/bin/micro-agent run …` without activating it).
The test command then runs with that environment's `bin/` first on PATH and `VIRTUAL_ENV` set, as
`uv run` or `poetry run` would; a Node project's `node_modules/.bin` goes first on PATH too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

IN_PROJECT_VENVS = (".venv", "venv", "env")

Source = Literal["selected", "project", "VIRTUAL_ENV", "micro-agent", "none", "off"]

SOURCE_WORDS = {
    "selected": "the interpreter the editor selected",
    "project": "the project's venv",
    "VIRTUAL_ENV": "$VIRTUAL_ENV",
    "micro-agent": "the venv micro-agent runs in",
}


class ProjectEnvironment(BaseModel):
    """Where the test command's `python` comes from; named in the run header and the JSON report."""

    source: Source
    prefix: str | None = None  # the Python environment's folder (the venv)
    is_venv: bool = False  # `prefix` holds a pyvenv.cfg: VIRTUAL_ENV is set to it
    bin_dirs: list[str] = Field(default_factory=list)  # put first on PATH, in this order
    warnings: list[str] = Field(default_factory=list)  # e.g. a selected interpreter that does not exist

    def describe(self) -> str:
        if self.source == "off":
            return "off (tests use PATH as it is)"
        parts = [f"{self.prefix} ({SOURCE_WORDS[self.source]})"] if self.prefix else []
        parts += [d for d in self.bin_dirs if Path(d).parts[-2:] == ("node_modules", ".bin")]
        return " + ".join(parts) if parts else "none found (tests use PATH as it is)"

    def variables(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The variables to set for the test command, given the environment it would inherit."""
        if not self.bin_dirs:
            return {}
        inherited = environ.get("PATH", os.defpath)
        variables = {"PATH": os.pathsep.join([*self.bin_dirs, inherited] if inherited else self.bin_dirs)}
        if self.is_venv and self.prefix:
            variables["VIRTUAL_ENV"] = self.prefix
        return variables


def resolve_environment(root: Path, *, selected: str | None = None, enabled: bool = True,
                        environ: Mapping[str, str] | None = None,
                        running_prefix: str = sys.prefix, base_prefix: str = sys.base_prefix) -> ProjectEnvironment:
    """The environment for `root`'s test command (reads the filesystem; changes nothing)."""
    if not enabled:
        return ProjectEnvironment(source="off")
    environ = os.environ if environ is None else environ
    warnings: list[str] = []
    found: tuple[Source, Path] | None = None
    if selected:
        prefix = _prefix_of_interpreter(root, selected)
        if prefix is None:
            warnings.append(f"the selected interpreter {selected} is not a Python executable or venv; "
                            "using the project's own environment instead (fix the editor's interpreter setting)")
        else:
            found = ("selected", prefix)
    if found is None:
        names = [environ["UV_PROJECT_ENVIRONMENT"]] if environ.get("UV_PROJECT_ENVIRONMENT") else []
        for name in [*names, *IN_PROJECT_VENVS]:
            if _is_python_prefix(root / name):
                found = ("project", root / name)
                break
    if found is None and environ.get("VIRTUAL_ENV") and _is_python_prefix(Path(environ["VIRTUAL_ENV"])):
        found = ("VIRTUAL_ENV", Path(environ["VIRTUAL_ENV"]))
    if found is None and running_prefix != base_prefix and _is_python_prefix(Path(running_prefix)):
        found = ("micro-agent", Path(running_prefix))
    bin_dirs = [str(_bin_dir(found[1]))] if found else []
    node_bin = root / "node_modules" / ".bin"
    if node_bin.is_dir():
        bin_dirs.insert(0, str(node_bin))
    if found is None:
        return ProjectEnvironment(source="none", bin_dirs=bin_dirs, warnings=warnings)
    source, prefix = found
    prefix = Path(os.path.abspath(prefix))  # not resolve(): a venv's python is a symlink out of the venv
    return ProjectEnvironment(source=source, prefix=str(prefix), is_venv=(prefix / "pyvenv.cfg").is_file(),
                              bin_dirs=bin_dirs, warnings=warnings)


def _bin_dir(prefix: Path) -> Path:
    scripts = prefix / "Scripts"
    return scripts if os.name == "nt" and scripts.is_dir() else prefix / "bin"


def _python_in(prefix: Path) -> Path:
    return _bin_dir(prefix) / ("python.exe" if os.name == "nt" else "python")


def _is_python_prefix(prefix: Path) -> bool:
    python = _python_in(prefix)
    return python.is_file() and os.access(python, os.X_OK)


def _prefix_of_interpreter(root: Path, selected: str) -> Path | None:
    """The environment folder of a selected `…/bin/python` (or of a venv folder given as such)."""
    path = Path(os.path.expanduser(selected))
    path = path if path.is_absolute() else root / path
    if path.is_dir():
        return path if _is_python_prefix(path) else None
    if path.is_file() and os.access(path, os.X_OK) and path.parent.name in ("bin", "Scripts"):
        return path.parent.parent
    return None


def python_import_path(copy: Path, target: str, environ: Mapping[str, str]) -> dict[str, str]:
    """PYTHONPATH for tests run in `copy` (a working copy of the project) on a Python `target`.

    The folder that holds the target's top-level package comes first, so that an editable install of the
    project (`pip install -e .` leaves a .pth naming the user's own `src/`) cannot load the user's file in
    place of the candidate. Empty for other languages.
    """
    if not target.endswith(".py"):
        return {}
    folder = (copy / target).parent
    while folder != copy and (folder / "__init__.py").is_file():
        folder = folder.parent
    inherited = environ.get("PYTHONPATH")
    return {"PYTHONPATH": os.pathsep.join([str(folder), inherited] if inherited else [str(folder)])}
