"""What a run may be told: one schema, filled in layers by micro-agent.yml, a tier file, CLI flags and editor settings.

Every layer is a `RunSettings` in which None means "not said here". The layers merge in one order, the
later one winning key by key (models and budget key by key too):

    defaults  <  micro-agent.yml  <  tier file  <  editor settings / CLI flags  <  a command's arguments

`request_builder.build_request` merges them and turns the result into the engine's `RunRequest`.
The keys are camelCase (the published spelling); the Python names are snake_case.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from .autopilot_config import AutopilotConfig
from .executor import ExecutorConfig
from .config import (CONFIG_FILE_NAME, DEFAULT_AUDIT_DB, DEFAULT_SIMPLE_ITERATIONS, Budget, ConfigError, Mode,
                     ModelPrice, Tier, TierFile, describe_errors, load_tier_file, model_format_problem, read_mapping)

Role = Literal["artisan", "librarian", "critic"]
ROLES: tuple[Role, ...] = ("artisan", "librarian", "critic")


def _litellm_model(value: str) -> str:
    if problem := model_format_problem(value):
        raise ValueError(problem)
    return value


ModelName = Annotated[str, AfterValidator(_litellm_model)]


class _Layer(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ModelChoice(_Layer):
    """The model per role (litellm names). Unset roles take the defaults (see request_builder)."""

    artisan: ModelName | None = None
    librarian: ModelName | None = None
    critic: ModelName | None = None

    def chosen(self) -> dict[str, str]:
        return {role: model for role in ROLES if (model := getattr(self, role)) is not None}


class BudgetLimits(_Layer):
    """The shared budget of a run, axis by axis."""

    max_cost_usd: float | None = Field(default=None, alias="maxCostUsd", gt=0)
    max_duration_minutes: float | None = Field(default=None, alias="maxDurationMinutes", gt=0)
    max_iterations: int | None = Field(default=None, alias="maxIterations", ge=1)

    def as_budget(self) -> Budget:
        return Budget(maxCostUsd=self.max_cost_usd, maxDurationMinutes=self.max_duration_minutes,
                      maxIterations=self.max_iterations)


class RunSettings(_Layer):
    """One layer of what a run is told. None: this layer does not say (a lower one, or the default, applies).

    mode: None runs `simple` × simpleIterations, then `full` (unless escalate is false); `simple` runs
    simple mode only; `full` runs the full pipeline from the start. A tier chain (`tierConfig` names a
    tier file, which fills `tiers`) replaces the modes.
    """

    test_command: str | None = Field(default=None, min_length=1, alias="test",
                                     validation_alias=AliasChoices("test", "testCommand"))
    models: ModelChoice = Field(default_factory=ModelChoice)
    budget: BudgetLimits = Field(default_factory=BudgetLimits)
    mode: Mode | None = None
    simple_iterations: int | None = Field(default=None, alias="simpleIterations", ge=1, le=100)
    escalate: bool | None = None
    tier_config: str | None = Field(default=None, min_length=1, alias="tierConfig",
                                    validation_alias=AliasChoices("tierConfig", "tierConfigFile"))
    tiers: list[Tier] | None = Field(default=None, min_length=1)  # from the tier file
    apply: bool | None = None  # False: a dry run (the fix is shown, the files are left alone)
    test_timeout_seconds: float | None = Field(default=None, alias="testTimeoutSeconds", gt=0)
    project_env: bool | None = Field(default=None, alias="projectEnv")  # run the tests in the project's venv
    interpreter: str | None = Field(default=None, min_length=1)  # the Python the editor selected
    learn: bool | None = None  # start at the tier that solved this before (learning.py); default off
    prices: dict[str, ModelPrice] | None = None  # per litellm model, for models litellm does not price
    audit_db_path: str | None = Field(default=None, alias="auditDbPath", min_length=1)

    @field_validator("tiers")
    @classmethod
    def _unique_names(cls, tiers: list[Tier] | None) -> list[Tier] | None:
        names = [t.name for t in tiers or []]
        if twice := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"the name {twice[0]!r} is used twice")
        return tiers

    def said(self) -> dict[str, Any]:
        """What this layer says, by Python name (nested for models and budget); nothing it leaves unset."""
        return self.model_dump(include=set(RunSettings.model_fields), exclude_none=True)

    def effective(self) -> "RunSettings":
        """This layer over the defaults: every key that has a default is set."""
        return merge_layers(DEFAULTS, self)


DEFAULTS = RunSettings(
    budget=BudgetLimits(maxCostUsd=0.50, maxDurationMinutes=10.0, maxIterations=20),
    simple_iterations=DEFAULT_SIMPLE_ITERATIONS, escalate=True, apply=True, test_timeout_seconds=300,
    project_env=True, prices={}, audit_db_path=DEFAULT_AUDIT_DB, learn=False,
)


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "prices":
            merged[key] = _deep_merge(merged[key], value)
        elif key == "prices" and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def merge_layers(*layers: RunSettings) -> RunSettings:
    """The layers merged, later over earlier; only what a layer says counts."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = _deep_merge(merged, layer.said())
    return RunSettings.model_validate(merged)


class ProjectConfig(RunSettings):
    """micro-agent.yml: a layer of run settings, plus the `autopilot:` section (read by the autopilot face only)."""

    autopilot: AutopilotConfig | None = None  # None: an empty section
    executor: ExecutorConfig | None = None  # where fix jobs run (micro_agent.executor); None: the local pool


def load_project_config(path: Path | None) -> ProjectConfig:
    """micro-agent.yml as a layer (an absent default file is an empty one). ConfigError lists every problem."""
    if path is None or not path.exists():
        if path is not None and path.name != CONFIG_FILE_NAME:
            raise ConfigError([f"{path}: file not found"])
        return ProjectConfig()
    data = read_mapping(path)
    try:
        return ProjectConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, str(path))) from None


def tier_file_layer(tier_file: TierFile) -> RunSettings:
    """What a tier file says: the chain, the run's cost and time caps, the audit DB."""
    g = tier_file.global_
    return RunSettings(tiers=tier_file.tiers, audit_db_path=g.audit_db_path,
                       budget=BudgetLimits(maxCostUsd=g.max_total_cost_usd,
                                           maxDurationMinutes=g.max_total_duration_minutes))


def tier_path(project: RunSettings, config_path: Path) -> Path | None:
    """The tier file micro-agent.yml names, relative to the yml's folder."""
    return (config_path.parent / project.tier_config).resolve() if project.tier_config else None


def project_settings(config_path: Path) -> RunSettings:
    """defaults < micro-agent.yml < its tier file: what a run is told when no face adds anything.
    ConfigError lists every problem."""
    project = load_project_config(config_path)
    path = tier_path(project, config_path)
    tier = tier_file_layer(load_tier_file(path)) if path else RunSettings()
    return merge_layers(DEFAULTS, project, tier)


Layer = TypeVar("Layer", bound=RunSettings)


def forgiving_layer(model: type[Layer], data: Any) -> tuple[Layer, list[tuple[tuple[Any, ...], str]]]:
    """`data` as a layer of `model`, each bad value dropped: the layer and (where, why) per dropped value."""
    data = copy.deepcopy(data)
    dropped_values: list[tuple[tuple[Any, ...], str]] = []
    for _ in range(50):
        try:
            return model.model_validate(data), dropped_values
        except ValidationError as exc:
            dropped = False
            for error in exc.errors():
                loc = tuple(error["loc"])
                why = "unknown key (check the spelling)" if error["type"] == "extra_forbidden" else error["msg"]
                dropped_values.append((loc, why.removeprefix("Value error, ")))
                dropped = _drop(data, loc) or dropped
            if not dropped:
                break
    return model(), dropped_values


def _drop(data: Any, loc: tuple[Any, ...]) -> bool:
    """Remove the value at `loc` (the top-level key when the path cannot be followed)."""
    for depth in range(len(loc), 0, -1):
        parent = data
        for part in loc[: depth - 1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and loc[depth - 1] in parent:
            del parent[loc[depth - 1]]
            return True
    return False
