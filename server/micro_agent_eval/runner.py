"""Run every task under every configuration through an executor, within one eval-wide budget."""

from __future__ import annotations

import threading
from concurrent.futures import Future, as_completed
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from micro_agent.config import Budget, ModelPrice
from micro_agent.controls import Controls

from .configs import EvalConfig
from .executor import Executor
from .report import EvalReport, NotRun, build_report
from .results import TaskResult
from .spend import EvalBudget
from .suite import Task
from .taskrun import run_task


class Progress(Protocol):
    def started(self, task: str, config: str) -> None: ...
    def finished(self, result: TaskResult) -> None: ...
    def dropped(self, task: str, config: str, reason: str, started: bool) -> None: ...
    def spent(self, total_usd: float) -> None: ...


class NoProgress:
    def started(self, task: str, config: str) -> None:
        pass

    def finished(self, result: TaskResult) -> None:
        pass

    def dropped(self, task: str, config: str, reason: str, started: bool) -> None:
        pass

    def spent(self, total_usd: float) -> None:
        pass


class EvalRun:
    """`run()` blocks until every job finished or `stop()` was called; it returns the report of what finished."""

    def __init__(self, suite: str, tasks: list[Task], configs: list[EvalConfig], executor: Executor, *,
                 budget: EvalBudget, prices: dict[str, ModelPrice], test_timeout_s: float,
                 progress: Progress | None = None, work_dir: Path | None = None):
        self.suite, self.tasks, self.configs, self.executor = suite, tasks, configs, executor
        self.budget, self.prices, self.test_timeout_s = budget, prices, test_timeout_s
        self.progress = progress or NoProgress()
        self.work_dir = work_dir
        self.stopped = threading.Event()
        self._live: set[Controls] = set()
        self._lock = threading.Lock()

    def stop(self) -> None:
        """Ctrl-C: no new task starts, the running ones are cancelled; finished results are kept."""
        self.stopped.set()
        self._cancel_live()

    def run(self) -> EvalReport:
        started_at = datetime.now(timezone.utc)
        jobs: dict[Future, tuple[Task, EvalConfig]] = {}
        for config in self.configs:
            for task in self.tasks:
                jobs[self.executor.submit(lambda t=task, c=config: self._job(t, c))] = (task, config)
        results: list[TaskResult] = []
        not_run: list[NotRun] = []
        try:
            for future in as_completed(jobs):
                task, config = jobs[future]
                if future.cancelled():
                    not_run.append(NotRun(task=task.name, config=config.name, reason="interrupted"))
                    continue
                outcome = future.result()
                if isinstance(outcome, TaskResult):
                    results.append(outcome)
                else:
                    not_run.append(NotRun(task=task.name, config=config.name, reason=outcome))
        finally:
            self.executor.shutdown(cancel_pending=self.stopped.is_set())
        return build_report(self.suite, self.configs, results, not_run, started_at=started_at,
                            finished_at=datetime.now(timezone.utc), interrupted=self.stopped.is_set(),
                            cap=self.budget.cap_usd, spent=self.budget.spent_usd)

    def _job(self, task: Task, config: EvalConfig) -> TaskResult | str:
        """A TaskResult, or why the task did not run to the end ("interrupted" | "budget")."""
        remaining = self.budget.remaining_usd()
        if self.stopped.is_set() or self.budget.exhausted.is_set() or remaining == 0:
            reason = "interrupted" if self.stopped.is_set() else "budget"
            self.progress.dropped(task.name, config.name, reason, started=False)
            return reason
        controls = Controls()
        with self._lock:
            self._live.add(controls)
        self.progress.started(task.name, config.name)
        try:
            result = run_task(task, config, budget=_task_budget(config.budget, remaining), prices=self.prices,
                              test_timeout_s=self.test_timeout_s, controls=controls, on_spend=self._spend,
                              work_dir=self.work_dir)
        except Exception as exc:  # the task's repo could not be made (disk full, no git): a result, not a crash
            result = TaskResult(task=task.name, config=config.name, tags=task.spec.tags, solved=False, status="error",
                                engine_outcome="error", message=f"{type(exc).__name__}: {exc}"[:300])
        finally:
            with self._lock:
                self._live.discard(controls)
        reason = self._cut_short(result)
        if reason:
            self.progress.dropped(task.name, config.name, reason, started=True)
            return reason
        self.progress.finished(result)
        return result

    def _cut_short(self, result: TaskResult) -> str | None:
        """Why a run's figures are not fair ones: stopped by Ctrl-C, or by the eval-wide cap rather than its own."""
        if result.engine_outcome == "interrupted":
            return "interrupted" if self.stopped.is_set() else "budget"
        if result.engine_outcome == "budget_exhausted" and self.budget.exhausted.is_set():
            return "budget"
        return None

    def _spend(self, usd: float) -> None:
        self.budget.spend(usd)
        self.progress.spent(self.budget.spent_usd)
        if self.budget.exhausted.is_set():
            self._cancel_live()

    def _cancel_live(self) -> None:
        with self._lock:
            for controls in self._live:
                controls.cancel()


def _task_budget(budget: Budget, remaining_usd: float | None) -> Budget:
    """The task's own budget, its cost cap lowered to what is left of the eval's."""
    cap = budget.max_cost_usd
    if remaining_usd is not None:
        cap = remaining_usd if cap is None else min(cap, remaining_usd)
    return Budget(maxCostUsd=cap, maxDurationMinutes=budget.max_duration_minutes, maxIterations=budget.max_iterations)
