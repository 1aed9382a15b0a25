"""How a run can end: the outcome words, what each is called and what it means, in ONE table.

Every face reads this table: the CLI (exit status, colours), the audit commands, the language server
(progress end, closing message kind) and, through the `outcomeLabel` of `microAgent/runFinished`, the
VS Code status bar. `RunStopped` is the one way out of the loop: every reason a run stops before its
tiers are through (budget, interrupt, broken test command, workspace error, no model, lock held) is a
subclass that carries its outcome and its message, and `engine.run()` catches that one base.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# solved_not_applied: the tests pass with the fix, but it could not be written to the user's files
# (the file changed meanwhile, or the editor refused the edit); the fix is kept on the run's ref.
Outcome = Literal["success", "solved_not_applied", "failed", "budget_exhausted", "interrupted", "error"]
Severity = Literal["info", "warning", "error"]


@dataclass(frozen=True)
class OutcomeInfo:
    label: str  # what a person reads: "not solved", "budget exhausted"
    exit_code: int  # `micro-agent run`'s exit status
    colour: str  # rich colour name (the CLI, the audit commands)
    severity: Severity  # how loudly an editor tells it (message kind)


OUTCOMES: dict[str, OutcomeInfo] = {
    "success": OutcomeInfo("solved", 0, "green", "info"),
    "failed": OutcomeInfo("not solved", 1, "red", "warning"),
    "error": OutcomeInfo("error", 2, "red", "error"),
    "budget_exhausted": OutcomeInfo("budget exhausted", 3, "yellow", "warning"),
    "solved_not_applied": OutcomeInfo("solved, not applied", 4, "yellow", "warning"),
    "interrupted": OutcomeInfo("cancelled", 130, "yellow", "info"),
}
EXIT_CODES: dict[str, int] = {word: info.exit_code for word, info in OUTCOMES.items()}


def outcome_label(outcome: str | None) -> str:
    """The label of `outcome`; an unknown word (a newer engine's, an old audit row's) as it is."""
    info = OUTCOMES.get(outcome or "")
    return info.label if info else (outcome or "unfinished")


def outcome_colour(outcome: str | None, default: str = "red") -> str:
    info = OUTCOMES.get(outcome or "")
    return info.colour if info else default


class RunStopped(Exception):
    """The run stops here: `outcome` goes into the report, `message` says why and what to do.

    Subclasses fix their outcome (`BudgetExhausted`: budget_exhausted, `RunInterrupted`: interrupted,
    the rest: error); `RunStopped(message, outcome)` also works on its own.
    """

    outcome: Outcome = "error"

    def __init__(self, message: str, outcome: Outcome | None = None):
        super().__init__(message)
        self.message = message
        if outcome is not None:
            self.outcome = outcome
