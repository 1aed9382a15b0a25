"""Typed configuration primitives: tiers, the tier file, the budget, prices, and the engine's RunRequest.

What a run may be told (the one schema that micro-agent.yml, tier files, CLI flags and editor settings
fill) is `run_settings.RunSettings`. Every loader collects *all* problems before giving up, so a user
fixes a config in one pass.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Mode = Literal["simple", "full"]

DEFAULT_MODELS = {
    "artisan": "claude-sonnet-4-5",
    "librarian": "gemini/gemini-2.5-flash",
    "critic": "gpt-4.1-mini",
}
DEFAULT_SIMPLE_ITERATIONS = 5
DEFAULT_FULL_ITERATIONS = 5
DEFAULT_AUDIT_DB = ".micro-agent/audit.db"
CONFIG_FILE_NAME = "micro-agent.yml"


class ConfigError(Exception):
    """One or more problems in the user's configuration; `problems` lists every one of them."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class RoleModels(_Strict):
    artisan: str = Field(min_length=1)
    librarian: str | None = Field(default=None, min_length=1)
    critic: str | None = Field(default=None, min_length=1)


class Tier(_Strict):
    """One rung of the escalation chain. Full tiers default librarian and critic to the artisan."""

    name: str = Field(min_length=1)
    mode: Mode
    max_iterations: int = Field(alias="maxIterations", ge=1, le=100)
    models: RoleModels

    @model_validator(mode="after")
    def _full_tier_roles(self) -> "Tier":
        if self.mode == "full":
            m = self.models
            object.__setattr__(
                self,
                "models",
                RoleModels(artisan=m.artisan, librarian=m.librarian or m.artisan, critic=m.critic or m.artisan),
            )
        return self

    def role_models(self) -> dict[str, str]:
        roles = ["artisan"] if self.mode == "simple" else ["librarian", "artisan", "critic"]
        return {r: getattr(self.models, r) for r in roles}


class TierGlobal(_Strict):
    audit_db_path: str | None = Field(default=None, alias="auditDbPath", min_length=1)  # None: micro-agent.yml's
    max_total_cost_usd: float | None = Field(default=None, alias="maxTotalCostUsd", gt=0)
    max_total_duration_minutes: float | None = Field(default=None, alias="maxTotalDurationMinutes", gt=0)


class TierFile(_Strict):
    """The published tier-config schema (camelCase), JSON or YAML."""

    tiers: list[Tier] = Field(min_length=1)
    global_: TierGlobal = Field(default_factory=TierGlobal, alias="global")


class Budget(_Strict):
    """One shared pool for the whole run. None means no limit on that axis."""

    max_cost_usd: float | None = Field(default=0.50, alias="maxCostUsd", gt=0)
    max_duration_minutes: float | None = Field(default=10.0, alias="maxDurationMinutes", gt=0)
    max_iterations: int | None = Field(default=20, alias="maxIterations", ge=1)


class ModelPrice(_Strict):
    input_per_million: float = Field(alias="inputPerMillion", ge=0)
    output_per_million: float = Field(alias="outputPerMillion", ge=0)


class RunRequest(BaseModel):
    """Everything the engine needs for one run. Built by the CLI or the language server."""

    root: Path
    target: str  # relative to root, posix separators
    test_command: str
    tiers: list[Tier] = Field(min_length=1)
    budget: Budget = Field(default_factory=Budget)
    objective: str = "Make the failing tests pass."
    test_files: list[str] = Field(default_factory=list)  # relative to root; shown to the agents
    overlays: dict[str, str] = Field(default_factory=dict)  # unsaved editor buffers: path -> content
    apply: bool = True  # write the fix into the user's files on success
    test_timeout_s: float = 300
    escalation_context: str = ""  # failure history carried in from an earlier run
    prices: dict[str, ModelPrice] = Field(default_factory=dict)
    audit_db_path: Path | None = None  # None: no audit log
    run_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    project_env: bool = True  # tests run with the project's environment first on PATH (environment.py)
    interpreter: str | None = None  # the Python interpreter the editor selected
    start_note: str = ""  # why the chain starts where it does (learning.py), shown in the run header


# ---------------------------------------------------------------- loading


def describe_errors(err: ValidationError, source: str, prefix: str = "") -> list[str]:
    """Turn pydantic's errors into one line each: `file: tiers[1].maxIterations: what is wrong`."""
    problems = []
    for e in err.errors():
        loc = prefix
        for part in e["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling)"
        elif e["type"] == "missing":
            msg = "required key is missing"
        problems.append(f"{source}: {loc or '(top level)'}: {msg}")
    return problems


def read_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML or JSON file that must hold a mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    if path.suffix == ".json":
        parse, errors = json.loads, (json.JSONDecodeError,)
    else:
        import yaml  # only when there is a YAML file to read: it costs ~12 ms of every start

        parse, errors = yaml.safe_load, (yaml.YAMLError,)
    try:
        data = parse(text)
    except errors as exc:
        raise ConfigError([f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping of keys at the top level"])
    return data


def load_tier_file(path: Path) -> TierFile:
    """Validate the whole tier file; every problem (schema, model names, duplicate names) at once."""
    data = read_mapping(path)
    problems = [f"{path}: tiers[{i}].models.{role}: {why}" for i, role, model in _raw_models(data)
                if (why := model_format_problem(model))]
    try:
        tier_file = TierFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, str(path)) + problems) from None
    names = [t.name for t in tier_file.tiers]
    problems += [f"{path}: tiers: the name {n!r} is used twice" for n in sorted(set(names)) if names.count(n) > 1]
    if problems:
        raise ConfigError(problems)
    return tier_file


def _raw_models(data: dict[str, Any]) -> list[tuple[int, str, str]]:
    """(tier index, role, model) for every model string in an unvalidated tier file."""
    tiers = data.get("tiers")
    found = []
    for i, tier in enumerate(tiers if isinstance(tiers, list) else []):
        models = tier.get("models") if isinstance(tier, dict) else None
        for role, model in (models.items() if isinstance(models, dict) else []):
            if isinstance(model, str) and model:
                found.append((i, role, model))
    return found


def model_format_problem(model: str) -> str | None:
    """Check a model string against litellm's `provider/name` format without importing litellm."""
    from .providers import provider_of

    if model != model.strip() or not model or any(c.isspace() for c in model):
        return f"model {model!r} must not contain spaces"
    if provider_of(model) is None:
        return (
            f"model {model!r}: unknown provider; use a litellm model string such as "
            "'claude-sonnet-4-5', 'gemini/gemini-2.5-flash', 'ollama/qwen2.5-coder' or 'openai/<name>'"
        )
    return None


def default_chain(models: dict[str, str], simple: int = DEFAULT_SIMPLE_ITERATIONS, full_only: bool = False,
                  escalate: bool = True, full_iterations: int = DEFAULT_FULL_ITERATIONS) -> list[Tier]:
    """The built-in two-tier chain: simple × N, then full × M. A tier file replaces it."""
    merged = {**DEFAULT_MODELS, **models}
    simple_tier = Tier(name="simple", mode="simple", maxIterations=simple,
                       models=RoleModels(artisan=merged["artisan"]))
    full_tier = Tier(name="full", mode="full", maxIterations=full_iterations, models=RoleModels(**merged))
    if full_only:
        return [full_tier]
    return [simple_tier, full_tier] if escalate else [simple_tier]


def find_project_root(start: Path) -> Path:
    """The nearest ancestor holding micro-agent.yml, else the git top level, else `start`'s folder."""
    start = start.resolve()
    folder = start if start.is_dir() else start.parent
    for candidate in [folder, *folder.parents]:
        if (candidate / CONFIG_FILE_NAME).is_file():
            return candidate
    for candidate in [folder, *folder.parents]:
        if (candidate / ".git").exists():
            return candidate
    return folder
