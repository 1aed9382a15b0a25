"""The `autopilot:` section of micro-agent.yml: what the unattended loop watches, where it proposes fixes.

Plain configuration data, validated with the rest of micro-agent.yml (every problem reported together).
The autopilot face (micro_agent_autopilot) reads it; the core never acts on it.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_DURATION = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 60}
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def parse_duration(text: str | int | float) -> float:
    """Seconds in `15m`, `30s`, `2h`, `1d` (a bare number is minutes). ValueError when it is none of those."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text) * 60
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a duration: write e.g. 30s, 15m, 2h or 1d")
    return float(match.group("number")) * _UNIT_SECONDS[match.group("unit")]


class ForgeConfig(_Section):
    """Where pull requests are opened. `apiUrl` points at GitHub Enterprise (or a test server)."""

    kind: Literal["github"] = "github"
    repo: str
    api_url: str = Field(default="https://api.github.com", alias="apiUrl", min_length=1)
    token_env: str = Field(default="GITHUB_TOKEN", alias="tokenEnv", min_length=1)
    webhook_secret_env: str | None = Field(default=None, alias="webhookSecretEnv", min_length=1)

    @field_validator("repo")
    @classmethod
    def _owner_name(cls, value: str) -> str:
        if not _REPO.match(value):
            raise ValueError(f"{value!r} is not owner/name (e.g. octo-org/calculator)")
        return value


class AutopilotPolicy(_Section):
    max_changed_lines: int = Field(default=80, alias="maxChangedLines", ge=1)
    allowed_paths: list[str] = Field(default_factory=lambda: ["**"], alias="allowedPaths", min_length=1)
    max_concurrent_runs: int = Field(default=2, alias="maxConcurrentRuns", ge=1, le=32)
    max_daily_cost_usd: float = Field(default=5.0, alias="maxDailyCostUsd", gt=0)


class AutopilotConfig(_Section):
    suite: str | None = Field(default=None, min_length=1)  # None: detected
    remote: str | None = Field(default=None, min_length=1)  # None: local branches only
    base: str = Field(default="main", min_length=1)
    branch_prefix: str = Field(default="micro-agent/", alias="branchPrefix", min_length=1)
    forge: ForgeConfig | None = None
    policy: AutopilotPolicy = Field(default_factory=AutopilotPolicy)
    schedule: str = "15m"

    @field_validator("schedule", mode="before")
    @classmethod
    def _duration(cls, value: object) -> str:
        seconds = parse_duration(value)  # type: ignore[arg-type]
        if seconds < 1:
            raise ValueError("the schedule must be at least 1s")
        return str(value)

    @property
    def schedule_seconds(self) -> float:
        return parse_duration(self.schedule)
