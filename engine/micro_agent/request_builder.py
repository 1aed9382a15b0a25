"""Build one RunRequest from the layers of run settings: defaults < micro-agent.yml < tier file < the face's layers.

A face (CLI flags, editor settings, a command's arguments) passes its layers, lowest first. Every problem
is collected and raised together as one ConfigError, before any model is called.
"""

from __future__ import annotations

import os
from pathlib import Path

from .config import (CONFIG_FILE_NAME, DEFAULT_MODELS, ConfigError, RunRequest, default_chain, load_tier_file,
                     model_format_problem)
from .providers import missing_key
from .run_settings import (DEFAULTS, ProjectConfig, RunSettings, load_project_config, merge_layers, tier_file_layer,
                           tier_path)
from .runners import detect_test_command
from .targets import target_problems


def build_request(root: Path, target: Path, *face_layers: RunSettings, config_path: Path | None = None,
                  overlays: dict[str, str] | None = None, problems: list[str] | None = None,
                  env: dict[str, str] | None = None) -> tuple[RunRequest, list[str]]:
    """(the request, warnings to show). Raises ConfigError listing every problem found, `problems` (the
    face's own, e.g. a bad flag) first. A face layer's `tierConfig` is taken as it is (make it absolute);
    micro-agent.yml's is relative to the yml's folder."""
    env = dict(os.environ) if env is None else env
    problems = list(problems or [])
    warnings: list[str] = []
    root = root.resolve()
    config_path = config_path or root / CONFIG_FILE_NAME
    try:
        project: RunSettings = load_project_config(config_path)
    except ConfigError as exc:
        problems += exc.problems
        project = ProjectConfig()
    face = merge_layers(*face_layers)

    target = target.resolve()
    problems += target_problems(target, root)
    rel_target = target.relative_to(root).as_posix() if target.is_relative_to(root) else target.name

    tier = RunSettings()
    path = Path(face.tier_config).resolve() if face.tier_config else tier_path(project, config_path)
    if path:
        try:
            tier = tier_file_layer(load_tier_file(path))
        except ConfigError as exc:
            problems += exc.problems
    settings = merge_layers(DEFAULTS, project, tier, face)

    if settings.tiers:
        tiers = settings.tiers
        if {"simple_iterations", "mode", "escalate"} & set(face.said()):
            warnings.append("a tier config is in use: --simple, --full and --no-escalate are ignored")
        if face.models.chosen():
            warnings.append("a tier config is in use: per-role model flags are ignored (the tiers name their models)")
    else:
        models = _role_models(settings.models.chosen(), env, warnings)
        tiers = default_chain(models, simple=settings.simple_iterations, full_only=settings.mode == "full",
                              escalate=bool(settings.escalate) and settings.mode != "simple")
    for t in tiers:
        for role, model in t.role_models().items():
            if problem := model_format_problem(model):
                problems.append(f"{role} model: {problem}")
            elif var := missing_key(model, env):
                problems.append(f"{role} model {model!r} needs the {var} environment variable; set it, or pick "
                                f"another model with --{role} MODEL (or `models: {{{role}: ...}}` in micro-agent.yml)")
    test = settings.test_command
    if not test and target.is_file():
        test = detect_test_command(target, root)
    if not test:
        problems.append("no test command: pass one with -t/--test CMD or set `test:` in micro-agent.yml")
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)))
    request = RunRequest(root=root, target=rel_target, test_command=test, tiers=tiers,
                         budget=settings.budget.as_budget(), overlays=overlays or {}, apply=settings.apply,
                         test_timeout_s=settings.test_timeout_seconds, prices=settings.prices,
                         interpreter=settings.interpreter, project_env=settings.project_env,
                         audit_db_path=root / settings.audit_db_path)
    if settings.learn:
        from . import learning  # reads the audit DB: only when asked

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
