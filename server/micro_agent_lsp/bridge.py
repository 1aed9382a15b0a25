"""Engine events as what an editor shows: progress lines, diagnostics per test run, warnings.

`RunBridge.on_event` runs on the server's event loop (the engine thread hands events over with
`loop.call_soon_threadsafe`); it keeps the run's status current and tells a `RunView` what to show.
The wording lives in the pure functions below; how a run's outcome is told (the progress end, the
closing message, the `microAgent/runFinished` payload) is decided in `end_message` and `run_end`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from lsprotocol import types
from micro_agent.events import (AgentCalled, AgentCalling, Escalated, Event, IterationStarted, RunStarted,
                                TestsFinished, TierStarted, Warned, dispatch)
from micro_agent.outcomes import OUTCOMES, outcome_label
from micro_agent.reports import RunReport, TestReport
from micro_agent.secrets import redact

from .runs import ActiveRun

DEFAULT_TIER_NAMES = {"simple", "full"}
MESSAGE_KINDS = {"info": types.MessageType.Info, "warning": types.MessageType.Warning,
                 "error": types.MessageType.Error}  # an outcome's severity (outcomes.py) as a message kind


class RunView(Protocol):
    """Where a run shows up in the editor (progress or log lines, diagnostics, messages)."""

    def report(self, message: str) -> None: ...

    def tests_finished(self, report: TestReport, iteration: int) -> None: ...

    def warn(self, message: str) -> None: ...


def begin_title(target: str) -> str:
    return f"Micro Agent: fixing {target}"


def tier_label(run: ActiveRun) -> str:
    """`simple mode` for the built-in chain, `tier local (simple)` for a tier file's tier."""
    if run.tier_name is None:
        return "starting"
    if set(run.tier_names) <= DEFAULT_TIER_NAMES:
        return f"{run.tier_name} mode"
    return f"tier {run.tier_name} ({run.mode})"


def _where(run: ActiveRun) -> str:
    return f"{tier_label(run)} · iteration {run.iteration}/{run.max_iterations}"


def _failing(report: TestReport) -> str:
    if report.passed:
        return "tests pass"
    if report.infra_error and not report.failures:
        return "tests could not run"
    count = len(report.failures)
    return f"{count} failing test{'s' if count != 1 else ''}"


def progress_message(run: ActiveRun, event: Event) -> str | None:
    """The progress line for `event` (after `run.observe(event)`), or None when it changes nothing shown."""
    return dispatch(_ProgressLines(run), event)


class _ProgressLines:
    """One `on_<kind>` per event that changes the progress line (events.dispatch)."""

    def __init__(self, run: ActiveRun) -> None:
        self.run, self.cost = run, f"${run.cost_usd:.4f}"

    def on_run_started(self, event: RunStarted) -> str:
        return f"{event.start_note} · running the tests" if event.start_note else "running the tests"

    def on_tests_finished(self, event: TestsFinished) -> str:
        if event.iteration == 0:
            return f"initial run: {_failing(event.report)}"
        return f"{_where(self.run)} · {_failing(event.report)} · {self.cost}"

    def on_tier_started(self, event: TierStarted) -> str:
        return f"{tier_label(self.run)}: up to {self.run.max_iterations} iterations"

    def on_iteration_started(self, event: IterationStarted) -> str:
        return f"{_where(self.run)} · {self.cost}"

    def on_agent_calling(self, event: AgentCalling) -> str:
        return f"{_where(self.run)} · {event.role} ({event.model}) · {self.cost}"

    def on_agent_called(self, event: AgentCalled) -> str | None:
        if not event.error:
            return None
        return f"{_where(self.run)} · {event.role} failed: {event.error.splitlines()[0]}"

    def on_escalated(self, event: Escalated) -> str:
        return f"escalating {event.from_tier} → {event.to_tier}: {event.reason}"


def end_message(report: RunReport) -> str:
    """The progress `end` line: outcome, iterations, cost."""
    iterations = f"{report.total_iterations} iteration{'s' if report.total_iterations != 1 else ''}"
    cost = f"${report.total_cost_usd:.4f}"
    if report.outcome == "success":
        by = f" by {report.solved_by_tier}" if report.solved_by_tier else ""
        return f"fixed{by} in {iterations} · {cost}"
    return f"{outcome_label(report.outcome)} after {iterations} · {cost}"


def finished_message(report: RunReport, target: str) -> tuple[types.MessageType, str]:
    """The short `window/showMessage` after a run."""
    cost = f"${report.total_cost_usd:.4f}"
    n = report.total_iterations
    iterations = f"{n} iteration{'s' if n != 1 else ''}"
    if report.outcome == "success":
        if not report.changed_files:
            return types.MessageType.Info, f"Micro Agent: the tests of {target} already pass; nothing to fix."
        by = f" (tier {report.solved_by_tier})" if report.solved_by_tier else ""
        return types.MessageType.Info, f"Micro Agent fixed {target} in {iterations}{by}, {cost}."
    if report.outcome == "solved_not_applied":
        return types.MessageType.Warning, f"Micro Agent fixed {target}, but the fix was not applied: {report.message}"
    if report.outcome == "interrupted":
        return types.MessageType.Info, f"Micro Agent run on {target} cancelled after {iterations}; nothing was changed."
    why = f": {report.message}" if report.message else ""
    hint = " Escalate it with the code action 'Escalate Micro Agent run' or microAgent.escalate." \
        if report.outcome == "failed" else ""
    kind = MESSAGE_KINDS[OUTCOMES[report.outcome].severity]
    return kind, f"Micro Agent could not fix {target} ({outcome_label(report.outcome)}, {iterations}, {cost}){why}.{hint}"


def finished_summary(run: ActiveRun, report: RunReport) -> dict[str, Any]:
    """The `microAgent/runFinished` payload (also kept for `microAgent.status`)."""
    return {
        "runId": report.run_id or run.run_id,
        "uri": run.uri,
        "target": run.target,
        "outcome": report.outcome,
        "outcomeLabel": outcome_label(report.outcome),  # what the status bar says (outcomes.py's one table)
        "iterations": report.total_iterations,
        "costUsd": round(report.total_cost_usd, 6),
        "solvedByTier": report.solved_by_tier,
        "message": report.message,
        "ref": report.ref,
        "applied": report.applied,  # false on solved_not_applied: the fix is kept on `ref`
    }


@dataclass(frozen=True)
class RunEnd:
    """How a finished run is told: the `microAgent/runFinished` payload, the closing message, and what
    becomes of the failing-test diagnostics."""

    summary: dict[str, Any]
    kind: types.MessageType
    message: str
    fixed_in_editor: bool  # the fix is in the buffers (or nothing needed one): the failures are gone
    target_warning: str | None  # on the target's first line, next to the user's own failures shown again


def run_end(run: ActiveRun, report: RunReport, not_applied: str | None = None) -> RunEnd:
    """The end of `run`; `not_applied` says why its fix did not reach the editor (None: it did, or there was none)."""
    kind, message = finished_message(report, run.target)
    warning = message if report.outcome not in ("success", "interrupted") else None
    if not_applied is not None:
        kind, message = types.MessageType.Warning, not_applied
    message = redact(message)  # a provider error may echo a key back (docs/privacy.md)
    return RunEnd({**finished_summary(run, report), "message": message}, kind, message,
                  fixed_in_editor=report.outcome == "success" and not_applied is None, target_warning=warning)


class RunBridge:
    """Follows one run's events on the event loop and updates its view."""

    def __init__(self, run: ActiveRun, view: RunView) -> None:
        self.run = run
        self.view = view
        self.initial_report: TestReport | None = None

    def on_event(self, event: Event) -> None:
        self.run.observe(event)
        dispatch(self, event)
        message = progress_message(self.run, event)
        if message is not None:
            self.view.report(message)

    def on_tests_finished(self, event: TestsFinished) -> None:
        if event.iteration == 0:
            self.initial_report = event.report
        self.view.tests_finished(event.report, event.iteration)

    def on_warned(self, event: Warned) -> None:
        self.view.warn(event.message)
