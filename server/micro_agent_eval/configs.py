"""The configurations an eval compares: a tier chain, one model alone, a single-shot baseline.

`--compare NAME=SPEC`, where SPEC is one of
    tiers:PATH     the tier chain in that tier file (JSON or YAML)
    model:MODEL    MODEL alone in every role, through the default chain (simple × 5, then full × 5)
    single:MODEL   one artisan call, no loop: a single simple tier of 1 iteration, no escalation
    PATH           an existing file: same as tiers:PATH
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from micro_agent.config import (DEFAULT_MODELS, Budget, ConfigError, RoleModels, Tier, default_chain, load_tier_file,
                                model_format_problem)
from micro_agent.providers import missing_key
from micro_agent.run_settings import RunSettings, load_project_config
from micro_agent.request_builder import _role_models  # the same fallback rule as `micro-agent run`

Kind = Literal["chain", "model", "single"]


class EvalConfig(BaseModel):
    """One configuration every task runs under."""

    name: str
    kind: Kind
    spec: str  # as the user wrote it, for the report
    tiers: list[Tier]
    budget: Budget  # per task (the eval-wide cap is separate)


def main_config(tier_config: str | None, models: dict[str, str], project: RunSettings,
                problems: list[str], warnings: list[str]) -> EvalConfig:
    """The configuration named by --tier-config, else by --artisan/--librarian/--critic (the default chain).

    As with `micro-agent run`, a role left unset whose default model has no API key takes the artisan's model.
    """
    if tier_config:
        if models:
            warnings.append("a tier config is in use: per-role model flags are ignored (the tiers name their models)")
        return _from_tier_file("chain", tier_config, project, problems)
    chosen = _role_models({**project.models.chosen(), **models}, dict(os.environ), warnings)
    spec = ", ".join(f"{r}={m}" for r, m in chosen.items())
    return EvalConfig(name="default", kind="chain", spec=spec, tiers=default_chain(chosen), budget=project.budget.as_budget())


def parse_compare(text: str, project: RunSettings, problems: list[str]) -> EvalConfig | None:
    name, sep, spec = text.partition("=")
    if not sep or not name or not spec:
        problems.append(f"--compare {text!r}: write NAME=SPEC, e.g. chain=tiers:tiers.json, strong=model:claude-sonnet-4-5, "
                        "single=single:claude-sonnet-4-5")
        return None
    kind, colon, value = spec.partition(":")
    if colon and kind == "tiers":
        return _from_tier_file(name, value, project, problems, spec)
    if colon and kind in ("model", "single"):
        if problem := model_format_problem(value):
            problems.append(f"--compare {name}: {problem}")
            return None
        tiers = (default_chain({r: value for r in DEFAULT_MODELS}) if kind == "model" else
                 [Tier(name="single-shot", mode="simple", maxIterations=1, models=RoleModels(artisan=value))])
        return EvalConfig(name=name, kind=kind, spec=spec, tiers=tiers, budget=project.budget.as_budget())
    if Path(spec).is_file():
        return _from_tier_file(name, spec, project, problems, spec)
    problems.append(f"--compare {name}={spec}: SPEC must be tiers:PATH, model:MODEL or single:MODEL "
                    "(or the path of an existing tier file)")
    return None


def _from_tier_file(name: str, path_text: str, project: RunSettings, problems: list[str],
                    spec: str | None = None) -> EvalConfig:
    path = Path(path_text).resolve()
    try:
        tier_file = load_tier_file(path)
    except ConfigError as exc:
        problems += exc.problems
        return EvalConfig(name=name, kind="chain", spec=spec or path_text, tiers=default_chain({}), budget=project.budget.as_budget())
    g, b = tier_file.global_, project.budget
    budget = Budget(maxCostUsd=g.max_total_cost_usd or b.max_cost_usd,
                    maxDurationMinutes=g.max_total_duration_minutes or b.max_duration_minutes,
                    maxIterations=b.max_iterations)
    return EvalConfig(name=name, kind="chain", spec=spec or f"tiers:{path_text}", tiers=tier_file.tiers, budget=budget)


def key_problems(configs: list[EvalConfig], env: dict[str, str] | None = None) -> list[str]:
    """One line per model that needs an API key this environment lacks."""
    env = dict(os.environ) if env is None else env
    problems = []
    for config in configs:
        for tier in config.tiers:
            for role, model in tier.role_models().items():
                if var := missing_key(model, env):
                    problems.append(f"{config.name}: the {role} model {model!r} needs the {var} environment variable; "
                                    f"set it, or pick another model")
    return list(dict.fromkeys(problems))


def load_project(path: str | None) -> RunSettings:
    """--config: a micro-agent.yml whose models, prices, per-task budget and test timeout the eval uses."""
    return (load_project_config(Path(path).resolve()) if path else RunSettings()).effective()
