"""The model seam: what the loop needs from a model, and nothing more.

`run(request, observer, controls, model=...)` takes any `Model`. The default is `llm.ProviderModel`
(litellm, or the direct OpenAI-compatible path); `scripted.ScriptedModel` answers from a script, in
process, for fast tests of the loop.

What holds for every model, and where (so no model can skip it):
- the engine side of the seam (`engine._Loop.call`): the cancel and budget checks before the call,
  redaction of the outgoing messages (`secrets.redact_messages`), the cost added to the budget after
  it, the AgentCalling/AgentCalled events, a `ModelError` ending the tier;
- the model: how long one call may take and how much it may spend within `deadline` (the budget's time
  and money left, the cancel switch), retries, and pricing its reply (`Reply.cost_usd`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from .budget import BudgetPool

Role = Literal["librarian", "artisan", "critic"]


class ModelError(Exception):
    """A model call failed. `message` is one line that names the model and what to check.

    `kind`: auth · not_found · rate_limited · bad_request · unavailable · error. `transient`: worth
    another try (a 5xx, a dropped connection, a timeout), as opposed to nothing listening at all.
    """

    def __init__(self, model: str, kind: str, message: str, transient: bool = False, timed_out: bool = False):
        self.model, self.kind, self.message = model, kind, message
        self.transient, self.timed_out = transient, timed_out
        super().__init__(message)


@dataclass(frozen=True)
class ModelReply:
    text: str
    cost_usd: float
    prompt_tokens: int
    completion_tokens: int
    duration_ms: int
    attempts: int = 1  # requests sent, retries included


Reply = ModelReply


@dataclass(frozen=True)
class Deadline:
    """What bounds one call: the run's budget (time and money left; None: unbounded) and its cancel switch.

    A model that runs past the budget raises `budget.out_of_time(...)` / `budget.out_of_money(...)`
    (BudgetExhausted); one that sees `cancelled` set raises `controls.RunInterrupted`.
    """

    budget: BudgetPool | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)


class Model(Protocol):
    """One chat completion per call. Raises ModelError (ends the tier), BudgetExhausted or RunInterrupted.

    A model may also have `warm(model_names)`: the engine calls it, when present, while tests run.
    """

    def complete(self, role: Role, model_name: str, messages: list[dict[str, str]], deadline: Deadline) -> Reply:
        ...
