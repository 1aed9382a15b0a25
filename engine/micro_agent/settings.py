"""Build one RunRequest from micro-agent.yml, a tier file and the face's overrides (CLI flags or editor settings).

Every problem is collected and raised together as one ConfigError, before any model is called.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from . import learning
from .config import (CONFIG_FILE_NAME, DEFAULT_MODELS, DEFAULT_SIMPLE_ITERATIONS, Budget, ConfigError, ProjectConfig, RunRequest,
                     Tier, default_chain, load_project_config, load_tier_file, model_format_problem)
from .providers import missing_key
from .runners import detect_test_command
from .targets import target_problems


class Overrides(BaseModel):
    """What a face can set on top of micro-agent.yml. None means: not given."""

    config_path: Path | None = None
    test: str | None = None
    models: dict[Literal["artisan", "librarian", "critic"], str] = Field(default_factory=dict)
    max_cost_usd: float | None = None
    max_duration_minutes: float | None = None
    max_iterations: int | None = None
    tier_config: str | None = None
    simple: int | None = None
    full: bool = False
    escalate: bool = True
    apply: bool = True
    test_timeout_s: float | None = None
    overlays: dict[str, str] = Field(default_factory=dict)
    project_env: bool | None = None  # None: micro-agent.yml's `projectEnv` (default on)
    interpreter: str | None = None  # the editor's selected Python interpreter
    learn: bool | None = None  # None: micro-agent.yml's `learn` (default off)


def build_request(root: Path, target: Path, overrides: Overrides,
                  env: dict[str, str] | None = None) -> tuple[RunRequest, list[str]]:
    """(the request, warnings to show). Raises ConfigError listing every problem found."""
    env = dict(os.environ) if env is None else env
    problems: list[str] = []
    warnings: list[str] = []
    root = root.resolve()
    config_path = overrides.config_path or root / CONFIG_FILE_NAME
    try:
        project = load_project_config(config_path)
    except ConfigError as exc:
        problems += exc.problems
        project = ProjectConfig()

    target = target.resolve()
    problems += target_problems(target, root)
    rel_target = target.relative_to(root).as_posix() if target.is_relative_to(root) else target.name

    tiers, budget, audit_path = _chain(root, config_path, project, overrides, problems, warnings, env)
    for tier in tiers:
        for role, model in tier.role_models().items():
            if problem := model_format_problem(model):
                problems.append(f"{role} model: {problem}")
            elif var := missing_key(model, env):
                problems.append(f"{role} model {model!r} needs the {var} environment variable; set it, or pick "
                                f"another model with --{role} MODEL (or `models: {{{role}: ...}}` in micro-agent.yml)")
    test = overrides.test or project.test
    if not test and target.is_file():
        test = detect_test_command(target, root)
    if not test:
        problems.append("no test command: pass one with -t/--test CMD or set `test:` in micro-agent.yml")
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)))
    request = RunRequest(root=root, target=rel_target, test_command=test, tiers=tiers, budget=budget,
                         overlays=overrides.overlays, apply=overrides.apply,
                         test_timeout_s=overrides.test_timeout_s or project.test_timeout_seconds,
                         prices=project.prices, interpreter=overrides.interpreter,
                         project_env=project.project_env if overrides.project_env is None else overrides.project_env,
                         audit_db_path=root / audit_path)
    if project.learn if overrides.learn is None else overrides.learn:
        request = learning.apply(request, request.audit_db_path)
    return request, warnings


def _role_models(chosen: dict[str, str], env: dict[str, str], warnings: list[str]) -> dict[str, str]:
    """The models per role. A role left unset whose default model has no API key here takes the artisan's model."""
    models = {**DEFAULT_MODELS, **chosen}
    artisan = models["artisan"]
    for role in ("librarian", "critic"):
        if role not in chosen and not missing_key(artisan, env) and (var := missing_key(models[role], env)):
            warnings.append(f"{role}: {var} is not set, so the {role} uses the artisan's model {artisan}")
            models[role] = artisan
    return models


def _chain(root: Path, config_path: Path, project: ProjectConfig, o: Overrides, problems: list[str],
           warnings: list[str], env: dict[str, str]) -> tuple[list[Tier], Budget, str]:
    """The tiers, the budget and the audit DB path: from a tier file when there is one, else simple → full."""
    b = project.budget
    cost, minutes, iterations = b.max_cost_usd, b.max_duration_minutes, b.max_iterations
    audit_path = project.audit_db_path
    tier_file_name = o.tier_config or project.tier_config_file
    tiers: list[Tier] = []
    if tier_file_name:
        base = Path.cwd() if o.tier_config else config_path.parent
        path = (base / tier_file_name).resolve()
        if o.simple is not None or o.full or not o.escalate:
            warnings.append("a tier config is in use: --simple, --full and --no-escalate are ignored")
        try:
            tier_file = load_tier_file(path)
        except ConfigError as exc:
            problems += exc.problems
        else:
            tiers = tier_file.tiers
            g = tier_file.global_
            cost = g.max_total_cost_usd or cost
            minutes = g.max_total_duration_minutes or minutes
            audit_path = g.audit_db_path
    if not tiers:
        simple = o.simple if o.simple is not None else DEFAULT_SIMPLE_ITERATIONS
        if simple < 1:
            problems.append("--simple N: N must be at least 1")
            simple = 1
        models = _role_models({**project.models, **o.models}, env, warnings)
        tiers = default_chain(models, simple=simple, full_only=o.full, escalate=o.escalate)
    elif o.models:
        warnings.append("a tier config is in use: per-role model flags are ignored (the tiers name their models)")
    budget_values = {"maxCostUsd": o.max_cost_usd or cost, "maxDurationMinutes": o.max_duration_minutes or minutes,
                     "maxIterations": o.max_iterations or iterations}
    for key, value in budget_values.items():
        if value is not None and value <= 0:
            problems.append(f"budget: {key} must be greater than 0 (got {value})")
            budget_values[key] = None
    return tiers, Budget(**budget_values), audit_path
