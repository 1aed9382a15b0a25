"""What a test run and a whole run produce: plain data that crosses every boundary."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .environment import ProjectEnvironment
from .outcomes import EXIT_CODES, Outcome  # noqa: F401  (the outcome words and their table: outcomes.py)

TestStatus = Literal["passed", "failed", "error"]


class TestFailure(BaseModel):
    """One failing test. `file` is relative to the project root; `line` is 1-based."""

    __test__ = False  # not a pytest class

    name: str
    file: str | None = None
    line: int | None = None
    message: str = ""


class TestReport(BaseModel):
    """The result of one run of the test command.

    `infra_error` is set when the command could not run the tests at all (not found,
    usage error, collection error, timeout); `passed` is then False.
    """

    __test__ = False

    passed: bool
    failures: list[TestFailure] = Field(default_factory=list)
    infra_error: str | None = None
    command: str = ""
    exit_code: int | None = None
    output: str = ""  # stdout and stderr, as the runner printed them
    duration_s: float = 0.0
    tests_run: int | None = None

    @property
    def status(self) -> TestStatus:
        if self.passed:
            return "passed"
        return "error" if self.infra_error else "failed"


class TierResult(BaseModel):
    """How one tier (or mode) of a run went."""

    index: int
    name: str
    mode: Literal["simple", "full"]
    models: dict[str, str]
    max_iterations: int
    iterations: int = 0
    cost_usd: float = 0.0
    solved: bool = False


class RunReport(BaseModel):
    """The final report of a run: what `--json` prints and what every observer sees last."""

    run_id: str
    target: str
    test_command: str
    outcome: Outcome
    message: str = ""
    solved_by_tier: str | None = None
    tiers: list[TierResult] = Field(default_factory=list)
    total_iterations: int = 0
    total_cost_usd: float = 0.0
    duration_s: float = 0.0
    changed_files: dict[str, str] = Field(default_factory=dict)  # path relative to root -> new content
    diff: str = ""
    ref: str | None = None  # refs/micro-agent/<run-id> when the candidates were committed
    environment: ProjectEnvironment | None = None  # the environment the tests ran in
    applied: bool = False  # the fix was written to the user's files (or, in an editor, applied to the buffer)
    kept_at: str | None = None  # where an unapplied fix is kept: the run's ref, or a patch file without git

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]
