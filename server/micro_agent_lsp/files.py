"""Which target a file belongs to and which tests cover it, by the runners' conventions (no LSP)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from micro_agent.config import CONFIG_FILE_NAME, ConfigError, find_project_root
from micro_agent.run_settings import load_project_config


class NoTarget(Exception):
    """A test file whose target cannot be found; the message says what to do."""


@dataclass(frozen=True)
class RunFiles:
    """A target and its tests, relative to the project root (posix separators).

    `root` is resolved (what the engine gets); `client_root` is the same folder as the editor spells
    it (through any symlink), for matching open buffers and building uris.
    """

    root: Path
    target: str
    test_files: tuple[str, ...]
    client_root: Path

    @property
    def target_path(self) -> Path:
        return self.root / self.target

    def client_path(self, rel: str) -> str:
        return os.path.normpath(self.client_root / rel)

    @property
    def client_target(self) -> str:
        return self.client_path(self.target)

    def client_test_paths(self) -> list[str]:
        return [self.client_path(t) for t in self.test_files]


def _relative(path: Path | str, root: Path) -> str | None:
    candidate = Path(path)
    candidate = candidate if candidate.is_absolute() else root / candidate
    try:
        return candidate.resolve().relative_to(root).as_posix()
    except ValueError:
        return None


def _client_root(client_path: Path, resolved: Path, root: Path) -> Path:
    """`root` spelled the way `client_path` is (the editor's path may go through a symlink)."""
    depth = len(resolved.relative_to(root).parts)
    return client_path.parents[depth - 1] if depth else client_path


def resolve_run_files(client_path: Path) -> RunFiles:
    """From a target or one of its test files: the project root, the target and its test files."""
    from micro_agent.runners import find_target_for_test, find_test_files, is_test_file

    client_path = Path(os.path.normpath(client_path))
    path = client_path.resolve()
    root = find_project_root(path)
    client_root = _client_root(client_path, path, root)
    if is_test_file(path):
        target = find_target_for_test(path, root)
        rel_target = _relative(target, root) if target else None
        if rel_target is None:
            raise NoTarget(
                f"Micro Agent cannot tell which file {path.name} tests (by its name or its imports). "
                "Open the file to fix and run 'Fix with Micro Agent' (microAgent.run) from there."
            )
        rel_test = _relative(path, root)
        return RunFiles(root, rel_target, (rel_test,) if rel_test else (), client_root)
    rel_target = _relative(path, root) or path.name
    tests = [rel for t in find_test_files(path, root) if (rel := _relative(t, root))]
    return RunFiles(root, rel_target, tuple(dict.fromkeys(tests)), client_root)


def lone_test_file(client_path: Path) -> RunFiles | None:
    """A test file whose target is unknown, as its own run files (for running it on open/save)."""
    from micro_agent.runners import is_test_file

    client_path = Path(os.path.normpath(client_path))
    path = client_path.resolve()
    if not is_test_file(path):
        return None
    root = find_project_root(path)
    rel = path.relative_to(root).as_posix()
    return RunFiles(root, rel, (rel,), _client_root(client_path, path, root))


def test_command_for(files: RunFiles, opened: Path, configured: str | None) -> str | None:
    """The command for tests on open/save: the editor's setting, micro-agent.yml's `test`, else detected
    (the opened test file alone, or the target's tests)."""
    if configured:
        return configured
    try:
        project = load_project_config(files.root / CONFIG_FILE_NAME)
    except ConfigError:
        project = None
    if project is not None and project.test_command:
        return project.test_command
    from micro_agent.runners import detect_test_command, is_test_file

    return detect_test_command(opened if is_test_file(opened) else files.target_path, files.root)


def test_environment(root: Path, interpreter: str | None, project_env: bool | None) -> dict[str, str]:
    """The variables for tests on open/save: the project's environment, resolved as a run resolves it."""
    from micro_agent.environment import resolve_environment

    if project_env is None:
        try:
            project_env = load_project_config(root / CONFIG_FILE_NAME).effective().project_env
        except ConfigError:
            project_env = True
    return resolve_environment(root, selected=interpreter, enabled=project_env).variables(os.environ)
