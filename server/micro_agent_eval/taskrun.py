"""One task under one configuration: a fresh repo, the engine's loop, then our own re-check of the final file."""

from __future__ import annotations

import re
import shutil
import threading
import time
from pathlib import Path
from typing import Callable

from micro_agent.config import Budget, ModelPrice, RunRequest
from micro_agent.controls import Controls, RunInterrupted
from micro_agent.engine import run as run_engine
from micro_agent.events import AgentCalled, Event
from micro_agent.reports import RunReport, TestReport
from micro_agent.runners import run_tests

from .configs import EvalConfig
from .repos import make_copy, make_repo
from .results import Status, TaskResult
from .suite import Task


class Tally:
    """The observer of one run: counts model calls, characters, tokens and cost as the events arrive."""

    def __init__(self, on_spend: Callable[[float], None]):
        self.on_spend = on_spend
        self._lock = threading.Lock()  # full mode: the critic's call reports from another thread
        self.calls = self.failed_calls = self.prompt_chars = self.reply_chars = 0
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.cost_usd = 0.0

    def __call__(self, event: Event) -> None:
        if isinstance(event, AgentCalled):
            with self._lock:
                self._count(event)
            if event.cost_usd and not event.error:
                self.on_spend(event.cost_usd)

    def _count(self, event: AgentCalled) -> None:
        if event.error:
            self.failed_calls += 1
            return
        self.calls += 1
        self.prompt_chars += event.prompt_chars
        self.reply_chars += event.reply_chars
        if event.prompt_tokens is not None:
            self.prompt_tokens = (self.prompt_tokens or 0) + event.prompt_tokens
        if event.completion_tokens is not None:
            self.completion_tokens = (self.completion_tokens or 0) + event.completion_tokens
        self.cost_usd += event.cost_usd


def run_task(task: Task, config: EvalConfig, *, budget: Budget, prices: dict[str, ModelPrice],
             test_timeout_s: float, controls: Controls, on_spend: Callable[[float], None],
             work_dir: Path | None = None) -> TaskResult:
    """Blocking. Never raises for what a run can go through; an interrupted run comes back with engine_outcome 'interrupted'."""
    started = time.monotonic()
    files = task.files()
    repo = make_repo(files, work_dir, prefix=f"ma-eval-{task.folder.name[:30]}-")
    tally = Tally(on_spend)
    try:
        request = RunRequest(root=repo, target=task.spec.target, test_command=task.spec.test, tiers=config.tiers,
                             budget=budget, prices=prices, apply=True, test_timeout_s=test_timeout_s,
                             audit_db_path=None)
        report = run_engine(request, tally, controls)
        final = (repo / task.spec.target).read_bytes()
    finally:
        shutil.rmtree(repo, ignore_errors=True)
    solved, detail = False, ""
    if report.outcome != "interrupted":
        try:
            check = recheck(task, files, final, test_timeout_s, work_dir, controls.cancelled)
        except RunInterrupted:
            report.outcome = "interrupted"
            check = TestReport(passed=False)
        solved = check.passed and final != files.get(task.spec.target)
        if report.outcome == "success" and not solved:
            detail = " (the eval's re-check of the final file did not pass: " + (check.infra_error or "tests failed") + ")"
    return TaskResult(
        task=task.name, config=config.name, tags=task.spec.tags, solved=solved, status=_status(solved, report),
        engine_outcome=report.outcome, message=_first_line(report.message) + detail,
        iterations=report.total_iterations, model_calls=tally.calls, failed_calls=tally.failed_calls,
        prompt_chars=tally.prompt_chars, reply_chars=tally.reply_chars, prompt_tokens=tally.prompt_tokens,
        completion_tokens=tally.completion_tokens, cost_usd=tally.cost_usd,
        solved_by_tier=report.solved_by_tier if solved else None, wall_s=round(time.monotonic() - started, 3))


def recheck(task: Task, files: dict[str, bytes], final: bytes, timeout_s: float, work_dir: Path | None,
            cancel: threading.Event | None = None) -> TestReport:
    """The task's tests on a fresh copy of the task with `final` as its target: the eval's own verdict."""
    folder = make_copy({**files, task.spec.target: final}, work_dir, prefix="ma-eval-check-")
    try:
        return run_tests(task.spec.test, folder, timeout_s=timeout_s, cancel=cancel,
                         env={"CARGO_TARGET_DIR": str(folder / "target")})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _first_line(message: str) -> str:
    """The engine's message, without the pointer to run refs in a task repo that is gone by now."""
    line = message.splitlines()[0] if message else ""
    return re.sub(r" The attempts are on \S+\.$", "", line)[:300]


def _status(solved: bool, report: RunReport) -> Status:
    if solved:
        return "solved"
    if report.outcome in ("budget_exhausted", "error"):
        return report.outcome
    return "failed"
