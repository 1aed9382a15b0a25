"""The eval-wide budget: one cost cap over every task of every configuration, shared across threads."""

from __future__ import annotations

import threading


class EvalBudget:
    """Spent so far and the cap (None: no cap). Each task's own cap is at most what is left when it starts;
    when the total reaches the cap, `exhausted` is set and the runs in flight are stopped."""

    def __init__(self, cap_usd: float | None):
        self.cap_usd = cap_usd
        self.spent_usd = 0.0
        self.exhausted = threading.Event()
        self._lock = threading.Lock()

    def spend(self, usd: float) -> None:
        with self._lock:
            self.spent_usd += usd
            if self.cap_usd is not None and self.spent_usd >= self.cap_usd:
                self.exhausted.set()

    def remaining_usd(self) -> float | None:
        with self._lock:
            return None if self.cap_usd is None else max(0.0, self.cap_usd - self.spent_usd)
