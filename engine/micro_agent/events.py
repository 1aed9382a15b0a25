"""Typed events the engine emits. The CLI, the language server and the audit log observe them.

One style of dispatch for every observer: a method `on_<kind>` per event it handles (`on_run_started`,
`on_tests_finished`, ...), called through `dispatch(observer, event)`; events it has no method for pass by.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Literal, Union, get_args

from pydantic import BaseModel, Field

from .model import Role
from .reports import RunReport, TestReport


def _now() -> datetime:
    return datetime.now(timezone.utc)


class _Event(BaseModel):
    run_id: str
    at: datetime = Field(default_factory=_now)


class TierPlan(BaseModel):
    index: int
    name: str
    mode: Literal["simple", "full"]
    max_iterations: int
    models: dict[str, str]


class RunStarted(_Event):
    kind: Literal["run_started"] = "run_started"
    target: str
    objective: str
    test_command: str
    root: str
    tiers: list[TierPlan]
    environment: str = ""  # where the test command's `python` comes from (environment.py)
    start_note: str = ""  # why the chain starts where it does (learning.py)


class TestsFinished(_Event):
    """A test run finished. `iteration` 0 is the initial run on the user's code."""

    __test__ = False
    kind: Literal["tests_finished"] = "tests_finished"
    tier_index: int | None = None
    iteration: int = 0
    report: TestReport


class TierStarted(_Event):
    kind: Literal["tier_started"] = "tier_started"
    tier: TierPlan
    escalation_context: str = ""


class IterationStarted(_Event):
    kind: Literal["iteration_started"] = "iteration_started"
    tier_index: int
    tier_name: str
    mode: Literal["simple", "full"]
    iteration: int  # 1-based within the tier
    max_iterations: int
    total_iterations: int  # 1-based across the run
    cost_so_far_usd: float


class AgentCalling(_Event):
    kind: Literal["agent_calling"] = "agent_calling"
    tier_index: int
    iteration: int
    role: Role
    model: str
    prompt_chars: int


class AgentCalled(_Event):
    kind: Literal["agent_called"] = "agent_called"
    tier_index: int
    iteration: int
    role: Role
    model: str
    prompt_chars: int
    reply_chars: int
    cost_usd: float
    duration_ms: int
    total_cost_usd: float
    error: str | None = None
    prompt_tokens: int | None = None  # as the provider reported them (None: not reported)
    completion_tokens: int | None = None


class CandidateWritten(_Event):
    kind: Literal["candidate_written"] = "candidate_written"
    tier_index: int
    iteration: int
    files: list[str]
    change_summary: str


class IterationFinished(_Event):
    """One finished iteration: exactly what the audit log keeps per row."""

    kind: Literal["iteration_finished"] = "iteration_finished"
    tier_index: int
    tier_name: str
    tier_mode: Literal["simple", "full"]
    model: str
    iteration: int
    change_summary: str
    test_status: Literal["passed", "failed", "error"]
    failed_tests: list[str]
    error_messages: list[str]
    cost_usd: float
    duration_ms: int
    commit: str | None = None
    librarian_notes: str = ""  # full mode: what the librarian's analysis found this iteration


class Escalated(_Event):
    kind: Literal["escalated"] = "escalated"
    from_tier: str
    to_tier: str
    reason: str
    summary: str
    remaining_cost_usd: float | None
    remaining_minutes: float | None


class Warned(_Event):
    kind: Literal["warned"] = "warned"
    message: str


class RunFinished(_Event):
    kind: Literal["run_finished"] = "run_finished"
    report: RunReport


Event = Union[
    RunStarted,
    TestsFinished,
    TierStarted,
    IterationStarted,
    AgentCalling,
    AgentCalled,
    CandidateWritten,
    IterationFinished,
    Escalated,
    Warned,
    RunFinished,
]
Observer = Callable[[Event], None]
KINDS: frozenset[str] = frozenset(cls.model_fields["kind"].default for cls in get_args(Event))


def handler_of(observer: object, event: Event) -> Callable[..., Any] | None:
    """`observer.on_<event.kind>`, or None when it does not handle that kind."""
    return getattr(observer, f"on_{event.kind}", None)


def dispatch(observer: object, event: Event, *args: Any) -> Any:
    """Call `observer.on_<event.kind>(event, *args)` when it has one; its result, else None."""
    handler = handler_of(observer, event)
    return handler(event, *args) if handler is not None else None
