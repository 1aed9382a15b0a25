"""Runs: start, escalate and cancel them, show their progress, and apply the fix they bring.

`start` does the quick part at once (find the files, build the request, register the run) and
leaves a task that runs the engine on a worker thread. The engine's events come back through
`loop.call_soon_threadsafe` to a `RunBridge`, which shows them through `RunProgress`. When the
engine is done the fix goes to the editor as one `workspace/applyEdit`, unless the user changed a
file meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from lsprotocol import types
from micro_agent.config import RunRequest
from micro_agent.controls import Controls
from micro_agent.events import Observer
from micro_agent.reports import RunReport, TestReport

from ..arguments import RunArgs
from ..bridge import RunBridge, RunEnd, begin_title, end_message, run_end
from ..client import Client
from ..edits import FileChange, workspace_edit
from ..files import RunFiles
from ..run_request import CannotRun, build_run_request, escalated, run_files
from ..runs import ActiveRun, RunAlreadyInProgress, RunRegistry
from .failure_diagnostics import FailureDiagnostics
from .feature import Feature

log = logging.getLogger(__name__)

FIX_LABEL = "Micro Agent fix"
RUN_FINISHED = "microAgent/runFinished"
SHUTDOWN_GRACE_S = 3.0


def _run_engine(request: RunRequest, observer: Observer, controls: Controls) -> RunReport:
    from micro_agent import engine

    return engine.run(request, observer, controls)


class RunsFeature(Feature):
    """The runs in progress (in `registry`) and the tasks driving them."""

    def __init__(self, client: Client, registry: RunRegistry, failures: FailureDiagnostics) -> None:
        super().__init__(client)
        self.registry = registry
        self.failures = failures
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ commands
    def start(self, path: str, options: RunArgs) -> dict[str, Any]:
        """`microAgent.run`: start fixing the target of `path` (a target or a test file) in the background."""
        files = self._files_without_a_run(path)
        overlays, start_texts = self._snapshot(files)
        request, warnings = build_run_request(self.client.settings, files, options, overlays)
        return {"runId": self._launch(files, request, start_texts, warnings).run_id}

    def escalate(self, path: str) -> dict[str, Any]:
        """`microAgent.escalate`: the run going on moves to its next tier; with none, a new run starts at the
        tier after the last run's last tier, seeded with that run's failure history from the audit DB."""
        running = self.registry.escalate(path)
        if running is not None:
            return {"runId": running.run_id, "escalated": True, "startedNewRun": False}
        files = self._files_without_a_run(path)
        overlays, start_texts = self._snapshot(files)
        request, warnings = build_run_request(self.client.settings, files, RunArgs(), overlays)
        run = self._launch(files, escalated(request, files.target), start_texts, warnings)
        return {"runId": run.run_id, "escalated": True, "startedNewRun": True, "tier": run.tier_names[0]}

    def cancel(self, path: str) -> dict[str, Any]:
        """`microAgent.cancel`."""
        run = self.registry.cancel(path)
        return {"cancelled": run is not None, "runId": run.run_id if run else None}

    async def shutdown(self) -> None:
        """Cancel the runs and wait (a few seconds at most) while they clean up their worktrees."""
        for run in self.registry.active():
            run.controls.cancel()
        await self.wait(SHUTDOWN_GRACE_S)

    async def wait(self, timeout_s: float) -> None:
        """Wait (at most `timeout_s`) for the runs' tasks to finish."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)

    # ------------------------------------------------------------------ starting
    def _files_without_a_run(self, path: str) -> RunFiles:
        files = run_files(path)
        existing = self.registry.find(files.client_target) or self.registry.find(path)
        if existing is not None:
            raise CannotRun(str(RunAlreadyInProgress(existing)))
        return files

    def _snapshot(self, files: RunFiles) -> tuple[dict[str, str], dict[str, str]]:
        """(overlays: unsaved buffers under the root by relative path, start texts by client path)."""
        overlays: dict[str, str] = {}
        start_texts: dict[str, str] = {}
        for doc_path, text in self.client.open_documents():
            client_path = Path(doc_path)
            try:
                rel = client_path.resolve().relative_to(files.root).as_posix()
            except (ValueError, OSError):
                continue
            start_texts[files.client_path(rel)] = text
            try:
                on_disk = client_path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                on_disk = None
            if on_disk != text:
                overlays[rel] = text
        for path in (files.client_target, *files.client_test_paths()):
            if path not in start_texts:
                text, _ = self.client.current_text(path)
                if text is not None:
                    start_texts[path] = text
        return overlays, start_texts

    def _launch(self, files: RunFiles, request: RunRequest, start_texts: dict[str, str],
                warnings: list[str]) -> ActiveRun:
        run = ActiveRun(run_id=request.run_id, root=files.root, target=files.target,
                        uri=self.client.uri_of(files.client_target), target_path=files.client_target,
                        test_paths=files.client_test_paths(), start_texts=start_texts,
                        tier_names=[t.name for t in request.tiers])
        try:
            self.registry.add(run)
        except RunAlreadyInProgress as exc:
            raise CannotRun(str(exc)) from None
        task = asyncio.get_running_loop().create_task(self._drive(run, files, request, warnings))
        self._tasks.add(task)  # referenced until done
        task.add_done_callback(self._tasks.discard)
        return run

    # ------------------------------------------------------------------ the run itself
    async def _drive(self, run: ActiveRun, files: RunFiles, request: RunRequest, warnings: list[str]) -> None:
        """Run the engine on a worker thread and show it; then deliver the fix and say how it went."""
        progress = RunProgress(self.client, self.failures, run, files)
        bridge = RunBridge(run, progress)
        report: RunReport | None = None
        not_applied: str | None = None
        try:
            await progress.begin()
            for warning in warnings:
                progress.warn(warning)
            loop = asyncio.get_running_loop()

            def observe(event: Any) -> None:
                loop.call_soon_threadsafe(bridge.on_event, event)

            report = await asyncio.to_thread(_run_engine, request, observe, run.controls)
            if report.outcome == "success":
                not_applied = await self._deliver_fix(run, files, report)
                await _record_delivery(request, report, applied=not_applied is None)
            progress.end(end_message(report))  # after delivery: it says whether the fix went in
            self._final_diagnostics(files, run_end(run, report, not_applied), bridge.initial_report)
        except Exception as exc:  # the engine promises not to raise; a bug here must not lose the run's end
            log.exception("the run on %s failed", run.target)
            report = report or RunReport(run_id=run.run_id, target=run.target, test_command=request.test_command,
                                         outcome="error", message=f"internal error: {type(exc).__name__}: {exc}")
            progress.end(end_message(report))
        finally:
            if report is None:
                report = RunReport(run_id=run.run_id, target=run.target, test_command=request.test_command,
                                   outcome="error", message="the run stopped unexpectedly (see the server log)")
            end = run_end(run, report, not_applied)
            self.registry.finish(run, end.summary)
            self.client.notify(RUN_FINISHED, end.summary)
        self.client.show(end.message, end.kind)

    def _final_diagnostics(self, files: RunFiles, end: RunEnd, initial: TestReport | None) -> None:
        """After a run: clear them when the fix went in; else show the user's own code's failures again."""
        if end.fixed_in_editor:
            self.failures.show(files, None)
            return
        warning = (end.target_warning, types.DiagnosticSeverity.Warning) if end.target_warning else None
        self.failures.show(files, initial, warning)

    async def _deliver_fix(self, run: ActiveRun, files: RunFiles, report: RunReport) -> str | None:
        """Send the fix as one labelled `workspace/applyEdit`. Returns why it was not applied, or None."""
        if not report.changed_files:
            return None
        kept = (f"The fix is kept on {report.ref}: see it with `micro-agent audit show {run.run_id[:8]}`."
                if report.ref else "")
        changes, conflicts, missing = [], [], []
        for rel, new_text in report.changed_files.items():
            path = files.client_path(rel)
            current, version = self.client.current_text(path)
            start = run.start_texts.get(path)
            if current is None:
                missing.append(rel)
                continue
            if start is not None and current != start:
                conflicts.append(rel)
                continue
            changes.append(FileChange(uri=self.client.uri_of(path), old_text=current, new_text=new_text,
                                      version=version))
        if conflicts:
            return (f"Micro Agent fixed {run.target}, but you edited {', '.join(conflicts)} meanwhile, so the fix "
                    f"was not applied. {kept}")
        if missing:
            return f"Micro Agent's fix creates {', '.join(missing)}, which the editor cannot do here. {kept}"
        edit = workspace_edit(changes, document_changes=self.client.supports("workspace.workspace_edit.document_changes"),
                              encoding=self.client.position_encoding)
        try:
            result = await self.client.apply_edit(edit, FIX_LABEL)
        except Exception as exc:
            return f"The editor could not apply Micro Agent's fix ({exc}). {kept}"
        if not result.applied:
            why = f" ({result.failure_reason})" if result.failure_reason else ""
            return f"The editor did not apply Micro Agent's fix{why}. {kept}"
        return None


class RunProgress:
    """A run as the editor shows it (a `bridge.RunView`): `$/progress`, or log lines for a client without it;
    the failing tests as diagnostics."""

    def __init__(self, client: Client, failures: FailureDiagnostics, run: ActiveRun, files: RunFiles) -> None:
        self.client, self.failures, self.run, self.files = client, failures, run, files
        self.token: str | None = None
        self.ended = False

    async def begin(self) -> None:
        title = begin_title(self.run.target)
        token = f"micro-agent/{self.run.run_id}"
        if await self.client.begin_progress(token, title, "starting", self.run.controls.cancel):
            self.token = token
        else:
            self.client.log(f"{title}: starting")

    def report(self, message: str) -> None:
        if self.token is None:
            self.client.log(f"Micro Agent ({self.run.target}): {message}")
        else:
            self.client.report_progress(self.token, message)

    def end(self, message: str) -> None:
        if self.ended:
            return
        self.ended = True
        if self.token is None:
            self.client.log(f"Micro Agent ({self.run.target}): {message}")
        else:
            self.client.end_progress(self.token, message)

    def warn(self, message: str) -> None:
        self.client.log(f"Micro Agent ({self.run.target}): {message}", types.MessageType.Warning)

    def tests_finished(self, report: TestReport, iteration: int) -> None:
        run = self.run
        if iteration == 0:  # the user's own code
            self.failures.show(self.files, report)
            return
        state = "tests pass" if report.passed else f"{len(report.failures)} failing"
        summary = (f"Micro Agent is fixing this file: {run.tier_name or ''} iteration "
                   f"{run.iteration}/{run.max_iterations}, {state}", types.DiagnosticSeverity.Information)
        # a candidate's lines only match the user's buffers in the test files, which the run does not change
        self.failures.show(self.files, report, summary, test_files_only=True)


async def _record_delivery(request: RunRequest, report: RunReport, applied: bool) -> None:
    """The engine ran with apply=False: the run's outcome depends on whether the editor took the fix."""
    if applied:
        report.applied = bool(report.changed_files)
        return
    report.outcome, report.applied, report.kept_at = "solved_not_applied", False, report.ref
    if request.audit_db_path is not None:
        from micro_agent.audit import record_outcome

        await asyncio.to_thread(record_outcome, request.audit_db_path, report.run_id, report.outcome,
                                lambda message: log.warning("%s", message))
