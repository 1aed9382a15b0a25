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
                                TestsFinished, TierStarted)
from micro_agent.reports import RunReport


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
    root: Path
    target: str  # relative to root
    uri: str  # the target's uri
    test_uris: list[str]
    controls: Controls = field(default_factory=Controls)
    started_at: float = field(default_factory=time.time)
    start_texts: dict[str, str] = field(default_factory=dict)  # uri -> content the run started from
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
    escalate_requested: bool = False

    @property
    def uris(self) -> set[str]:
        return {self.uri, *self.test_uris}

    def observe(self, event: Event) -> None:
        """Follow the engine's events: tier, iteration, agent, cost."""
        if isinstance(event, RunStarted):
            self.tier_names = [t.name for t in event.tiers]
            self.phase = "running the tests"
        elif isinstance(event, TierStarted):
            self.tier_index, self.tier_name, self.mode = event.tier.index, event.tier.name, event.tier.mode
            self.max_iterations, self.iteration = event.tier.max_iterations, 0
            self.phase = f"tier {event.tier.name}"
        elif isinstance(event, IterationStarted):
            self.tier_index, self.tier_name, self.mode = event.tier_index, event.tier_name, event.mode
            self.iteration, self.max_iterations = event.iteration, event.max_iterations
            self.total_iterations, self.cost_usd = event.total_iterations, event.cost_so_far_usd
            self.phase = "iteration"
        elif isinstance(event, AgentCalling):
            self.phase = f"{event.role} ({event.model})"
        elif isinstance(event, AgentCalled):
            self.cost_usd = event.total_cost_usd
            self.phase = f"{event.role} answered" if not event.error else f"{event.role} failed"
        elif isinstance(event, TestsFinished):
            self.failing = len(event.report.failures) if not event.report.passed else 0
            self.phase = "tests ran"
        elif isinstance(event, Escalated):
            self.phase = f"escalating to {event.to_tier}"
            self.escalate_requested = False

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


def finished_summary(run: ActiveRun, report: RunReport) -> dict[str, Any]:
    """The `microAgent/runFinished` payload (also kept for `microAgent.status`)."""
    return {
        "runId": report.run_id or run.run_id,
        "uri": run.uri,
        "target": run.target,
        "outcome": report.outcome,
        "iterations": report.total_iterations,
        "costUsd": round(report.total_cost_usd, 6),
        "solvedByTier": report.solved_by_tier,
        "message": report.message,
        "ref": report.ref,
    }


class RunRegistry:
    """One active run per target, found by any of its uris; the last finished run per target."""

    def __init__(self) -> None:
        self._active: dict[str, ActiveRun] = {}  # target uri -> run
        self._finished: dict[str, tuple[dict[str, Any], set[str]]] = {}  # target uri -> (summary, its uris)
        self._last_finished: dict[str, Any] | None = None

    def add(self, run: ActiveRun) -> None:
        """Register a new run; RunAlreadyInProgress when its target (or a test file of it) has one."""
        for other in self._active.values():
            if run.uri in other.uris or other.uri in run.uris:
                raise RunAlreadyInProgress(other)
        self._active[run.uri] = run

    def find(self, uri: str) -> ActiveRun | None:
        """The run in progress on `uri` (its target or one of its test files)."""
        if uri in self._active:
            return self._active[uri]
        return next((run for run in self._active.values() if uri in run.uris), None)

    def active(self) -> list[ActiveRun]:
        return list(self._active.values())

    def finish(self, run: ActiveRun, summary: dict[str, Any]) -> None:
        self._active.pop(run.uri, None)
        self._finished.pop(run.uri, None)  # re-insert: the newest last
        self._finished[run.uri] = (summary, run.uris)
        self._last_finished = summary

    def cancel(self, uri: str) -> ActiveRun | None:
        run = self.find(uri)
        if run is not None:
            run.controls.cancel()
            run.phase = "cancelling"
        return run

    def escalate(self, uri: str) -> ActiveRun | None:
        run = self.find(uri)
        if run is not None:
            run.controls.skip_tier()
            run.escalate_requested = True
            run.phase = "escalating"
        return run

    def last_finished(self, uri: str | None = None) -> dict[str, Any] | None:
        """The newest finished run (on `uri`: its target or one of its test files)."""
        if uri is None:
            return self._last_finished
        return next((summary for summary, uris in reversed(self._finished.values()) if uri in uris), None)

    def status(self, uri: str | None = None) -> dict[str, Any]:
        """`microAgent.status`: the runs in progress (on `uri`, or all) and the last finished one."""
        found = self.find(uri) if uri is not None else None
        runs = self.active() if uri is None else ([found] if found else [])
        return {"running": [run.status() for run in runs], "lastFinished": self.last_finished(uri)}
