"""The runs the server is driving: at most one per target file; plain Python, no LSP.

A run is known by its target and by its test files, so `cancel`, `escalate` and `status` work from
either. The registry also keeps the last finished run per target for `microAgent.status`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from micro_agent.controls import Controls
from micro_agent.events import (AgentCalled, AgentCalling, Escalated, Event, IterationStarted, RunStarted,
                                TestsFinished, TierStarted, dispatch)


class RunAlreadyInProgress(Exception):
    """A second run was asked for on a file that already has one."""

    def __init__(self, run: "ActiveRun"):
        self.run = run
        super().__init__(
            f"Micro Agent is already fixing {run.target} (run {run.run_id[:8]}, {run.phase}). "
            "Wait for it, escalate it (microAgent.escalate) or cancel it (microAgent.cancel)."
        )


@dataclass
class ActiveRun:
    """A run in progress and what the editor is told about it."""

    run_id: str
    root: Path  # the project root, as the engine sees it (resolved)
    target: str  # relative to root
    uri: str  # the target's uri, as the client spells it
    target_path: str  # the target's path, as the client spells it
    test_paths: list[str]
    controls: Controls = field(default_factory=Controls)
    started_at: float = field(default_factory=time.time)
    start_texts: dict[str, str] = field(default_factory=dict)  # path -> content the run started from
    tier_names: list[str] = field(default_factory=list)
    tier_index: int | None = None
    tier_name: str | None = None
    mode: str | None = None
    iteration: int = 0
    max_iterations: int = 0
    total_iterations: int = 0
    cost_usd: float = 0.0
    phase: str = "starting"
    failing: int | None = None  # failing tests after the last test run

    @property
    def paths(self) -> set[str]:
        """The files this run is known by: its target and its test files."""
        return {self.target_path, *self.test_paths}

    def observe(self, event: Event) -> None:
        """Follow the engine's events: tier, iteration, agent, cost."""
        dispatch(self, event)

    def on_run_started(self, event: RunStarted) -> None:
        self.tier_names = [t.name for t in event.tiers]
        self.phase = "running the tests"

    def on_tier_started(self, event: TierStarted) -> None:
        self.tier_index, self.tier_name, self.mode = event.tier.index, event.tier.name, event.tier.mode
        self.max_iterations, self.iteration = event.tier.max_iterations, 0
        self.phase = f"tier {event.tier.name}"

    def on_iteration_started(self, event: IterationStarted) -> None:
        self.tier_index, self.tier_name, self.mode = event.tier_index, event.tier_name, event.mode
        self.iteration, self.max_iterations = event.iteration, event.max_iterations
        self.total_iterations, self.cost_usd = event.total_iterations, event.cost_so_far_usd
        self.phase = "iteration"

    def on_agent_calling(self, event: AgentCalling) -> None:
        self.phase = f"{event.role} ({event.model})"

    def on_agent_called(self, event: AgentCalled) -> None:
        self.cost_usd = event.total_cost_usd
        self.phase = f"{event.role} answered" if not event.error else f"{event.role} failed"

    def on_tests_finished(self, event: TestsFinished) -> None:
        self.failing = len(event.report.failures) if not event.report.passed else 0
        self.phase = "tests ran"

    def on_escalated(self, event: Escalated) -> None:
        self.phase = f"escalating to {event.to_tier}"

    def status(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "uri": self.uri,
            "target": self.target,
            "tier": self.tier_name,
            "tierIndex": self.tier_index,
            "mode": self.mode,
            "iteration": self.iteration,
            "maxIterations": self.max_iterations,
            "totalIterations": self.total_iterations,
            "costUsd": round(self.cost_usd, 6),
            "phase": self.phase,
            "failingTests": self.failing,
            "elapsedS": round(time.time() - self.started_at, 1),
        }


class RunRegistry:
    """One active run per target, found by the path of its target or of a test file; the last finished runs."""

    def __init__(self) -> None:
        self._active: dict[str, ActiveRun] = {}  # target path -> run
        self._finished: dict[str, tuple[dict[str, Any], set[str]]] = {}  # target path -> (summary, its paths)
        self._last_finished: dict[str, Any] | None = None

    def add(self, run: ActiveRun) -> None:
        """Register a new run; RunAlreadyInProgress when its target (or a test file of it) has one."""
        for other in self._active.values():
            if run.target_path in other.paths or other.target_path in run.paths:
                raise RunAlreadyInProgress(other)
        self._active[run.target_path] = run

    def find(self, path: str) -> ActiveRun | None:
        """The run in progress on `path` (its target or one of its test files)."""
        if path in self._active:
            return self._active[path]
        return next((run for run in self._active.values() if path in run.paths), None)

    def active(self) -> list[ActiveRun]:
        return list(self._active.values())

    def finish(self, run: ActiveRun, summary: dict[str, Any]) -> None:
        self._active.pop(run.target_path, None)
        self._finished.pop(run.target_path, None)  # re-insert: the newest last
        self._finished[run.target_path] = (summary, run.paths)
        self._last_finished = summary

    def cancel(self, path: str) -> ActiveRun | None:
        run = self.find(path)
        if run is not None:
            run.controls.cancel()
            run.phase = "cancelling"
        return run

    def escalate(self, path: str) -> ActiveRun | None:
        run = self.find(path)
        if run is not None:
            run.controls.skip_tier()
            run.phase = "escalating"
        return run

    def last_finished(self, path: str | None = None) -> dict[str, Any] | None:
        """The newest finished run (on `path`: its target or one of its test files)."""
        if path is None:
            return self._last_finished
        return next((summary for summary, paths in reversed(self._finished.values()) if path in paths), None)

    def status(self, path: str | None = None) -> dict[str, Any]:
        """`microAgent.status`: the runs in progress (on `path`, or all) and the last finished one."""
        found = self.find(path) if path is not None else None
        runs = self.active() if path is None else ([found] if found else [])
        return {"running": [run.status() for run in runs], "lastFinished": self.last_finished(path)}
