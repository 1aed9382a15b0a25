"""One shared budget pool for the whole run: cost, wall time and iterations, checked before every call."""

from __future__ import annotations

import time

from .config import Budget
from .outcomes import RunStopped


class BudgetExhausted(RunStopped):
    """The run's budget is spent; `reason` says which limit, `at_hand_off` whether it ran out between tiers."""

    outcome = "budget_exhausted"

    def __init__(self, reason: str, at_hand_off: bool = False):
        self.reason, self.at_hand_off = reason, at_hand_off
        when = " before escalation could start" if at_hand_off else ""
        super().__init__(f"Budget exhausted{when}: {reason}.")


class BudgetPool:
    def __init__(self, budget: Budget, clock=time.monotonic):
        self.budget = budget
        self._clock = clock
        self._started = clock()
        self.spent_usd = 0.0
        self.iterations = 0

    def spend(self, usd: float) -> None:
        self.spent_usd += usd

    def elapsed_minutes(self) -> float:
        return (self._clock() - self._started) / 60

    def remaining_usd(self) -> float | None:
        cap = self.budget.max_cost_usd
        return None if cap is None else max(0.0, cap - self.spent_usd)

    def remaining_minutes(self) -> float | None:
        cap = self.budget.max_duration_minutes
        return None if cap is None else max(0.0, cap - self.elapsed_minutes())

    def remaining_seconds(self, default: float) -> float:
        minutes = self.remaining_minutes()
        return default if minutes is None else min(default, minutes * 60)

    def seconds_left(self) -> float | None:
        """Wall time left before the duration cap (None: no cap); a model call may wait this long at most."""
        cap = self.budget.max_duration_minutes
        return None if cap is None else max(0.0, cap * 60 - (self._clock() - self._started))

    def out_of_time(self, during: str) -> BudgetExhausted:
        """The duration cap reached while `during` (e.g. "openai/x was still answering")."""
        return BudgetExhausted(f"time limit reached: {self.budget.max_duration_minutes:g} min ({during})")

    def out_of_money(self, why: str) -> BudgetExhausted:
        return BudgetExhausted(f"cost limit reached: {why} (limit ${self.budget.max_cost_usd:.2f})")

    def check(self) -> None:
        """Before every model call: raise BudgetExhausted when cost or time is spent."""
        b = self.budget
        if b.max_cost_usd is not None and self.spent_usd >= b.max_cost_usd:
            raise BudgetExhausted(f"cost limit reached: ${self.spent_usd:.4f} of ${b.max_cost_usd:.2f}")
        if b.max_duration_minutes is not None and self.elapsed_minutes() >= b.max_duration_minutes:
            raise BudgetExhausted(f"time limit reached: {b.max_duration_minutes:g} min")

    def check_next_iteration(self) -> None:
        """Before every iteration: cost, time, and the hard cap over every tier's own maxIterations."""
        self.check()
        cap = self.budget.max_iterations
        if cap is not None and self.iterations >= cap:
            raise BudgetExhausted(f"iteration limit reached: {cap} iterations")

    def start_iteration(self) -> None:
        self.check_next_iteration()
        self.iterations += 1
