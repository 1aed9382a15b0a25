"""What an eval records: one TaskResult per task and configuration, and the report that holds them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Status = Literal["solved", "failed", "budget_exhausted", "error"]


class TaskResult(BaseModel):
    """One task under one configuration.

    `solved` is the eval's own verdict: the task's tests re-run on the final target in a fresh copy of the
    task; `engine_outcome` is what the loop said. Tokens are the provider's usage figures (None when no call
    reported any); chars are always counted.
    """

    task: str
    config: str
    tags: list[str] = Field(default_factory=list)
    solved: bool
    status: Status
    engine_outcome: str
    message: str = ""
    iterations: int = 0
    model_calls: int = 0
    failed_calls: int = 0
    prompt_chars: int = 0
    reply_chars: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float = 0.0
    solved_by_tier: str | None = None
    wall_s: float = 0.0


class CheckResult(BaseModel):
    """The sanity check of one task: its tests must fail on the buggy target and pass on the reference."""

    task: str
    fails_on_target: bool
    passes_on_reference: bool | None  # None: the task has no reference
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.fails_on_target and self.passes_on_reference is not False
