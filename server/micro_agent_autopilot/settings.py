"""Everything a pass needs, loaded once from micro-agent.yml and the environment; every problem at once."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from micro_agent.autopilot_config import AutopilotConfig
from micro_agent.config import CONFIG_FILE_NAME, ConfigError, load_tier_file
from micro_agent.run_settings import (DEFAULTS, ProjectConfig, RunSettings, load_project_config, merge_layers,
                                      tier_file_layer, tier_path)
from micro_agent.executor import ExecutorConfig, resolve
from micro_agent.languages import detect_suite
from micro_agent.runners import command_for_tests

from .forge import GitHub, connect
from .gitops import GitError, git, repo_top


@dataclass
class Settings:
    root: Path  # the user's checkout (repo top level): never written
    config_path: Path
    project: RunSettings  # defaults < micro-agent.yml < its tier file
    autopilot: AutopilotConfig
    db_path: Path
    suite: str
    forge: GitHub | None
    env: dict[str, str] = field(default_factory=dict)
    learn: bool = False  # `--learn` or micro-agent.yml's `learn`: each fix starts at the learned tier
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)  # where the fix jobs run


def load(start: Path, config_path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Raises ConfigError listing every problem (config, git, forge token)."""
    env = dict(os.environ) if env is None else env
    problems: list[str] = []
    try:
        root = repo_top(config_path.parent if config_path else start)
    except GitError as exc:
        raise ConfigError([str(exc)]) from None
    config_path = config_path or root / CONFIG_FILE_NAME
    try:
        project = load_project_config(config_path)
    except ConfigError as exc:
        problems += exc.problems
        project = ProjectConfig()
    autopilot = project.autopilot or AutopilotConfig()
    tier = RunSettings()
    if path := tier_path(project, config_path):
        try:
            tier = tier_file_layer(load_tier_file(path))
        except ConfigError as exc:
            problems += exc.problems
    effective = merge_layers(DEFAULTS, project, tier)
    suite = autopilot.suite or detect_suite(root)
    if not suite:
        problems.append(f"{config_path}: autopilot.suite: no test suite detected; set it, e.g. "
                        "`autopilot: {suite: python -m pytest -q}`")
    forge, forge_problems = connect(autopilot.forge, env)
    problems += forge_problems
    if autopilot.forge is not None and not autopilot.remote:
        problems.append(f"{config_path}: autopilot.forge needs autopilot.remote: a pull request is opened for a "
                        "branch pushed there (e.g. `remote: origin`)")
    if autopilot.remote:
        if autopilot.remote not in git(root, "remote").split():
            problems.append(f"{config_path}: autopilot.remote: no git remote named {autopilot.remote!r} "
                            f"(see `git remote -v`; omit `remote:` to keep fix branches local)")
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)))
    return Settings(root=root, config_path=config_path, project=effective, autopilot=autopilot,
                    db_path=root / effective.audit_db_path, suite=suite or "", forge=forge, env=env,
                    learn=bool(effective.learn), executor=resolve(project.executor, env=env))


def selection_command(suite: str, tests: list[str], cwd: Path) -> str:
    """The suite narrowed to `tests` (an alert's selection): pytest's node ids, else appended to the suite."""
    return command_for_tests(suite, tests, cwd) or f"{suite} " + " ".join(shlex.quote(t) for t in tests)
