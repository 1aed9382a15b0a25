"""Editor settings: `initializationOptions.microAgent` and `workspace/configuration` section `microAgent`.

Settings are forgiving: a bad value is named in a problem line and dropped (its default is used);
everything else still applies. They are merged over `micro-agent.yml` when a run is built, using the
same override keys as the CLI (`test`, `models`, `budget`, `tierConfig`, `mode`, `simple`, `escalate`).
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from micro_agent.config import model_format_problem

SECTION = "microAgent"


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ModelSettings(_Settings):
    artisan: str | None = None
    librarian: str | None = None
    critic: str | None = None

    @field_validator("artisan", "librarian", "critic")
    @classmethod
    def _litellm_model(cls, value: str | None) -> str | None:
        if value is not None and (problem := model_format_problem(value)):
            raise ValueError(problem)
        return value


class BudgetSettings(_Settings):
    max_cost_usd: float | None = Field(default=None, alias="maxCostUsd", gt=0)
    max_duration_minutes: float | None = Field(default=None, alias="maxDurationMinutes", gt=0)
    max_iterations: int | None = Field(default=None, alias="maxIterations", ge=1)


class ServerSettings(_Settings):
    """What the editor may set. Unset (None) values leave micro-agent.yml's or the defaults in place."""

    models: ModelSettings = Field(default_factory=ModelSettings)
    budget: BudgetSettings = Field(default_factory=BudgetSettings)
    tier_config: str | None = Field(default=None, alias="tierConfig", min_length=1)
    test_command: str | None = Field(default=None, alias="testCommand", min_length=1)
    run_tests_on_save: bool = Field(default=True, alias="runTestsOnSave")
    mode: Literal["simple", "full"] | None = None
    simple: int | None = Field(default=None, ge=1, le=100)
    escalate: bool | None = None
    test_timeout_seconds: float | None = Field(default=None, alias="testTimeoutSeconds", gt=0)
    # the Python interpreter the editor selected (a `…/bin/python` or a venv folder): the tests run with it
    interpreter: str | None = Field(default=None, min_length=1)
    project_env: bool | None = Field(default=None, alias="projectEnv")  # False: tests use PATH as it is


def section_of(options: Any) -> Any:
    """The `microAgent` section of initializationOptions (a bare mapping of our keys is accepted too)."""
    if isinstance(options, dict) and SECTION in options:
        return options[SECTION]
    if isinstance(options, dict) and set(options) & set(_known_keys()):
        return options
    return {}


def _known_keys() -> list[str]:
    return [field.alias or name for name, field in ServerSettings.model_fields.items()]


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


def _without_nulls(value: Any) -> Any:
    """null means "not set" (VS Code sends it for settings left at their default)."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return copy.deepcopy(value)


def parse_settings(raw: Any, source: str = SECTION) -> tuple[ServerSettings, list[str]]:
    """Validate editor settings: the usable part, and one line per value that was dropped."""
    if raw is None:
        return ServerSettings(), []
    if not isinstance(raw, dict):
        return ServerSettings(), [f"{source}: expected an object of settings, got {type(raw).__name__}"]
    data = _without_nulls(raw)
    problems: list[str] = []
    for _ in range(50):
        try:
            return ServerSettings.model_validate(data), problems
        except ValidationError as exc:
            dropped = False
            for error in exc.errors():
                loc = tuple(error["loc"])
                path = ".".join(str(p) for p in (source, *loc))
                why = "unknown setting (check the spelling)" if error["type"] == "extra_forbidden" else error["msg"]
                if error["type"] == "value_error":
                    why = why.removeprefix("Value error, ")
                problems.append(f"{path}: {why}; using the default")
                dropped = _drop(data, loc) or dropped
            if not dropped:
                break
    return ServerSettings(), problems


def merge(base: Any, override: Any) -> Any:
    """Deep-merge two settings mappings; `override` wins."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return copy.deepcopy(override if override is not None else base)
    merged = copy.deepcopy(base)
    for key, value in override.items():
        merged[key] = merge(merged.get(key), value) if key in merged else copy.deepcopy(value)
    return merged


class EditorSettings:
    """The settings as they stand: initializationOptions merged under workspace/configuration.

    `update` replaces whichever of the two it is given, re-validates, and returns the problems not
    reported before (so a bad value is named once, not on every configuration change).
    """

    def __init__(self) -> None:
        self.current = ServerSettings()
        self._init_options: Any = {}
        self._client_settings: Any = {}
        self._reported: set[str] = set()

    def update(self, init_options: Any = None, client_settings: Any = None) -> list[str]:
        if init_options is not None:
            self._init_options = init_options
        if client_settings is not None:
            self._client_settings = client_settings
        self.current, problems = parse_settings(merge(self._init_options or {}, self._client_settings or {}))
        new = [p for p in problems if p not in self._reported]
        self._reported.update(new)
        return new
