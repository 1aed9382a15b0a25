"""Runs and background test runs, driven from the event loop.

`start_run` does the quick part at once (find the files, build the request, register the run) and
leaves a task that runs the engine on a worker thread. The engine's events come back through
`loop.call_soon_threadsafe` to a `RunBridge`, which shows them through `LspRunView`. When the engine
is done the fix goes to the editor as one `workspace/applyEdit`, unless the user changed a file
meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from micro_agent.config import ConfigError, RunRequest
from micro_agent.controls import Controls
from micro_agent.events import Observer
from micro_agent.secrets import redact
from micro_agent.reports import RunReport, TestReport

from .arguments import RunArgs
from .bridge import RunBridge, begin_title, end_message, finished_message
from .diagnostics import failure_sites, site_diagnostics, summary_diagnostic
from .edits import FileChange, workspace_edit
from .files import NoTarget, RunFiles, lone_test_file, resolve_run_files, test_command_for
from .runs import ActiveRun, RunAlreadyInProgress, finished_summary

if TYPE_CHECKING:
    from .server import MicroAgentServer

log = logging.getLogger(__name__)

FIX_LABEL = "Micro Agent fix"
RUN_FINISHED = "microAgent/runFinished"
PROGRESS_CREATE_TIMEOUT_S = 5


class CannotRun(Exception):
    """A run cannot start; the message says why and what to do."""


# ---------------------------------------------------------------- starting a run


def _files(path: str) -> RunFiles:
    try:
        return resolve_run_files(Path(path))
    except NoTarget as exc:
        raise CannotRun(str(exc)) from None


def _snapshot(ls: MicroAgentServer, files: RunFiles) -> tuple[dict[str, str], dict[str, str]]:
    """(overlays: unsaved buffers under the root by relative path, start texts by client path)."""
    overlays: dict[str, str] = {}
    start_texts: dict[str, str] = {}
    for doc in list(ls.workspace.text_documents.values()):
        if not doc.path:
            continue
        client_path = Path(doc.path)
        try:
            rel = client_path.resolve().relative_to(files.root).as_posix()
        except (ValueError, OSError):
            continue
        start_texts[files.client_path(rel)] = doc.source
        try:
            on_disk = client_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            on_disk = None
        if on_disk != doc.source:
            overlays[rel] = doc.source
    for path in (files.client_target, *files.client_test_paths()):
        if path not in start_texts:
            text, _ = ls.current_text(path)
            if text is not None:
                start_texts[path] = text
    return overlays, start_texts


def build_run_request(ls: MicroAgentServer, files: RunFiles, options: RunArgs,
                      overlays: dict[str, str]) -> tuple[RunRequest, list[str]]:
    """micro-agent.yml, then the editor's settings, then the command's arguments. CannotRun on config errors."""
    from micro_agent.settings import Overrides, build_request

    s = ls.settings
    tier_config = options.tier_config or s.tier_config
    if tier_config:
        tier_config = str((files.root / tier_config).resolve())
    mode = options.mode or s.mode
    escalate = (s.escalate if s.escalate is not None else True) and mode != "simple"
    overrides = Overrides(
        test=options.test_command or s.test_command,
        models=s.models.model_dump(exclude_none=True),
        max_cost_usd=s.budget.max_cost_usd,
        max_duration_minutes=s.budget.max_duration_minutes,
        max_iterations=s.budget.max_iterations,
        tier_config=tier_config,
        simple=s.simple,
        full=mode == "full",
        escalate=escalate,
        apply=False,
        test_timeout_s=s.test_timeout_seconds,
        overlays=overlays,
    )
    try:
        request, warnings = build_request(files.root, files.target_path, overrides)
    except ConfigError as exc:
        raise CannotRun(f"Micro Agent cannot start on {files.target}: " + "; ".join(exc.problems)) from None
    return request.model_copy(update={"test_files": list(files.test_files)}), warnings


def _register(ls: MicroAgentServer, files: RunFiles, request: RunRequest, start_texts: dict[str, str],
              warnings: list[str]) -> ActiveRun:
    run = ActiveRun(run_id=request.run_id, root=files.root, target=files.target,
                    uri=ls.uri_of(files.client_target), target_path=files.client_target,
                    test_paths=files.client_test_paths(), start_texts=start_texts,
                    tier_names=[t.name for t in request.tiers])
    try:
        ls.runs.add(run)
    except RunAlreadyInProgress as exc:
        raise CannotRun(str(exc)) from None
    task = asyncio.get_running_loop().create_task(drive(ls, run, files, request, warnings))
    ls.run_tasks.add(task)  # referenced until done
    task.add_done_callback(ls.run_tasks.discard)
    return run


def _refuse_second_run(ls: MicroAgentServer, path: str, files: RunFiles) -> None:
    existing = ls.runs.find(files.client_target) or ls.runs.find(path)
    if existing is not None:
        raise CannotRun(str(RunAlreadyInProgress(existing)))


def start_run(ls: MicroAgentServer, path: str, options: RunArgs) -> ActiveRun:
    """`microAgent.run`: start fixing the target of `path` (a target or a test file) in the background."""
    files = _files(path)
    _refuse_second_run(ls, path, files)
    overlays, start_texts = _snapshot(ls, files)
    request, warnings = build_run_request(ls, files, options, overlays)
    return _register(ls, files, request, start_texts, warnings)


def start_escalated_run(ls: MicroAgentServer, path: str) -> ActiveRun:
    """`microAgent.escalate` with no run going: a new run at the tier after the last run's last tier,
    seeded with that run's failure history from the audit DB."""
    from micro_agent.audit import failure_history, last_run_for_target, open_db

    files = _files(path)
    _refuse_second_run(ls, path, files)
    overlays, start_texts = _snapshot(ls, files)
    request, warnings = build_run_request(ls, files, RunArgs(), overlays)
    db_path = request.audit_db_path
    last = None
    if db_path is not None and Path(db_path).is_file():
        try:
            conn = open_db(Path(db_path), readonly=True)
            try:
                last = last_run_for_target(conn, files.target)
                history = failure_history(conn, last["run_id"]) if last else ""
            finally:
                conn.close()
        except Exception as exc:
            raise CannotRun(f"Micro Agent cannot read its audit log {db_path}: {exc}") from None
    if last is None:
        raise CannotRun(f"Micro Agent has no earlier run on {files.target} to escalate from. "
                        "Start one with 'Fix with Micro Agent' (microAgent.run).")
    names = [t.name for t in request.tiers]
    last_tier = last.get("last_tier_name")
    if last_tier in names:
        next_index = names.index(last_tier) + 1
    else:
        next_index = (last.get("last_tier_index") or 0) + 1
    if next_index >= len(request.tiers):
        raise CannotRun(f"The last run on {files.target} already reached the last tier ({names[-1]}). "
                        "Add a stronger tier to your tier config, or pick stronger models, then run it again.")
    request = request.model_copy(update={"tiers": request.tiers[next_index:], "escalation_context": history})
    return _register(ls, files, request, start_texts, warnings)


async def wait_for_runs(ls: MicroAgentServer, timeout_s: float) -> None:
    """Wait (at most `timeout_s`) for the runs' tasks to finish, e.g. after cancelling them at shutdown."""
    if ls.run_tasks:
        await asyncio.wait(list(ls.run_tasks), timeout=timeout_s)


# ---------------------------------------------------------------- showing a run


class LspRunView:
    """A run as the editor shows it: `$/progress` (or log lines), diagnostics, messages."""

    def __init__(self, ls: MicroAgentServer, run: ActiveRun, files: RunFiles) -> None:
        self.ls, self.run, self.files = ls, run, files
        self.token: str | None = None
        self.ended = False

    async def begin(self) -> None:
        title = begin_title(self.run.target)
        ls = self.ls
        if ls.supports("window.work_done_progress"):
            token = f"micro-agent/{self.run.run_id}"
            try:
                await asyncio.wait_for(ls.work_done_progress.create_async(token), PROGRESS_CREATE_TIMEOUT_S)
                self.token = token
            except Exception as exc:
                log.warning("window/workDoneProgress/create failed: %s", exc)
        if self.token is None:
            ls.log_line(f"{title}: starting")
            return
        ls.work_done_progress.begin(self.token, types.WorkDoneProgressBegin(
            title=title, message="starting", cancellable=True))
        cancelled = ls.work_done_progress.tokens.get(self.token)
        if cancelled is not None:  # the user pressed cancel on the progress
            controls = self.run.controls
            cancelled.add_done_callback(lambda future: controls.cancel() if future.cancelled() else None)

    def report(self, message: str) -> None:
        message = redact(message)  # provider errors and escalation reasons: never a credential (docs/privacy.md)
        if self.token is None:
            self.ls.log_line(f"Micro Agent ({self.run.target}): {message}")
        else:
            self.ls.work_done_progress.report(self.token, types.WorkDoneProgressReport(message=message))

    def end(self, message: str) -> None:
        if self.ended:
            return
        self.ended = True
        message = redact(message)
        if self.token is None:
            self.ls.log_line(f"Micro Agent ({self.run.target}): {message}")
            return
        self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
        self.ls.work_done_progress.tokens.pop(self.token, None)

    def warn(self, message: str) -> None:
        self.ls.log_line(f"Micro Agent ({self.run.target}): {message}", types.MessageType.Warning)

    def tests_finished(self, report: TestReport, iteration: int) -> None:
        run = self.run
        if iteration == 0:  # the user's own code
            publish_report(self.ls, self.files, report)
            return
        state = "tests pass" if report.passed else f"{len(report.failures)} failing"
        summary = (f"Micro Agent is fixing this file: {run.tier_name or ''} iteration "
                   f"{run.iteration}/{run.max_iterations}, {state}", types.DiagnosticSeverity.Information)
        # a candidate's lines only match the user's buffers in the test files, which the run does not change
        publish_report(self.ls, self.files, report, summary, test_files_only=True)


def publish_report(ls: MicroAgentServer, files: RunFiles, report: TestReport | None,
                   summary: tuple[str, types.DiagnosticSeverity] | None = None,
                   test_files_only: bool = False) -> None:
    """Diagnostics for `report` on the files it concerns (and `summary` on the target's first line)."""
    encoding = ls.position_encoding

    def read(rel: str) -> str | None:
        return ls.current_text(files.client_path(rel))[0]

    sites = failure_sites(report, files.root, read, list(files.test_files)) if report else []
    if test_files_only:
        sites = [site for site in sites if site.file in files.test_files]
    by_path: dict[str, list[types.Diagnostic]] = {p: [] for p in files.client_test_paths()}
    by_path.setdefault(files.client_target, [])
    for rel in dict.fromkeys(site.file for site in sites):
        path = files.client_path(rel)
        file_sites = [s for s in sites if s.file == rel]
        ls.sites[path] = file_sites
        by_path[path] = site_diagnostics(file_sites, read(rel) or "", encoding)
    for path in by_path:
        if not any(files.client_path(s.file) == path for s in sites):
            ls.sites.pop(path, None)
    if summary is not None:
        message, severity = summary
        by_path[files.client_target] = [*by_path[files.client_target],
                                        summary_diagnostic(read(files.target) or "", message, severity, encoding)]
    ls.publish_group(files.client_target, by_path)


# ---------------------------------------------------------------- the run itself


def _run_engine(request: RunRequest, observer: Observer, controls: Controls) -> RunReport:
    from micro_agent import engine

    return engine.run(request, observer, controls)


async def drive(ls: MicroAgentServer, run: ActiveRun, files: RunFiles, request: RunRequest,
                warnings: list[str]) -> None:
    """Run the engine on a worker thread and show it; then deliver the fix and say how it went."""
    view = LspRunView(ls, run, files)
    bridge = RunBridge(run, view)
    report: RunReport | None = None
    note: str | None = None
    try:
        await view.begin()
        for warning in warnings:
            view.warn(warning)
        loop = asyncio.get_running_loop()

        def observe(event: Any) -> None:
            loop.call_soon_threadsafe(bridge.on_event, event)

        report = await asyncio.to_thread(_run_engine, request, observe, run.controls)
        view.end(end_message(report))
        if report.outcome == "success":
            note = await deliver_fix(ls, run, files, report)
        _final_diagnostics(ls, files, report, bridge.initial_report, fixed=note is None)
    except Exception as exc:  # the engine promises not to raise; a bug here must not lose the run's end
        log.exception("the run on %s failed", run.target)
        report = report or RunReport(run_id=run.run_id, target=run.target, test_command=request.test_command,
                                     outcome="error", message=f"internal error: {type(exc).__name__}: {exc}")
        view.end(end_message(report))
    finally:
        if report is None:
            report = RunReport(run_id=run.run_id, target=run.target, test_command=request.test_command,
                               outcome="error", message="the run stopped unexpectedly (see the server log)")
        summary = finished_summary(run, report)
        summary["message"] = redact(note or finished_message(report, run.target)[1])
        ls.runs.finish(run, summary)
        ls.protocol.notify(RUN_FINISHED, summary)
    kind, message = finished_message(report, run.target)
    ls.show(note or message, types.MessageType.Warning if note else kind)


def _final_diagnostics(ls: MicroAgentServer, files: RunFiles, report: RunReport, initial: TestReport | None,
                       fixed: bool) -> None:
    """After a run: clear them when the fix went in; else show the user's own code's failures again."""
    if report.outcome == "success" and fixed:
        publish_report(ls, files, None)
        return
    summary = None
    if report.outcome not in ("success", "interrupted"):
        summary = (finished_message(report, files.target)[1], types.DiagnosticSeverity.Warning)
    publish_report(ls, files, initial, summary)


async def deliver_fix(ls: MicroAgentServer, run: ActiveRun, files: RunFiles, report: RunReport) -> str | None:
    """Send the fix as one labelled `workspace/applyEdit`. Returns why it was not applied, or None."""
    if not report.changed_files:
        return None
    kept = (f"The fix is kept on {report.ref}: see it with `micro-agent audit show {run.run_id[:8]}`."
            if report.ref else "")
    changes, conflicts, missing = [], [], []
    for rel, new_text in report.changed_files.items():
        path = files.client_path(rel)
        current, version = ls.current_text(path)
        start = run.start_texts.get(path)
        if current is None:
            missing.append(rel)
            continue
        if start is not None and current != start:
            conflicts.append(rel)
            continue
        changes.append(FileChange(uri=ls.uri_of(path), old_text=current, new_text=new_text, version=version))
    if conflicts:
        return (f"Micro Agent fixed {run.target}, but you edited {', '.join(conflicts)} meanwhile, so the fix was "
                f"not applied. {kept}")
    if missing:
        return f"Micro Agent's fix creates {', '.join(missing)}, which the editor cannot do here. {kept}"
    edit = workspace_edit(changes, document_changes=ls.supports("workspace.workspace_edit.document_changes"),
                          encoding=ls.position_encoding)
    try:
        result = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=FIX_LABEL))
    except Exception as exc:
        return f"The editor could not apply Micro Agent's fix ({exc}). {kept}"
    if not result.applied:
        why = f" ({result.failure_reason})" if result.failure_reason else ""
        return f"The editor did not apply Micro Agent's fix{why}. {kept}"
    return None


# ---------------------------------------------------------------- tests on open/save


def tests_on_save(ls: MicroAgentServer, path: str) -> None:
    """Run the tests of `path` (a test file or a target) in the background and show the failures."""
    if not ls.settings.run_tests_on_save:
        return
    try:
        files = resolve_run_files(Path(path))
    except NoTarget:
        files = lone_test_file(Path(path))
    except Exception:
        log.exception("cannot map %s to its tests", path)
        return
    if files is None or not files.test_files or ls.runs.find(files.client_target) is not None:
        return
    command = test_command_for(files, Path(path), ls.settings.test_command)
    if not command:
        return
    timeout = ls.settings.test_timeout_seconds or 120
    log.debug("tests on open/save of %s: %s", path, command)

    async def job() -> None:
        from micro_agent.runners import run_tests

        cancel = threading.Event()
        try:
            report = await asyncio.to_thread(run_tests, command, files.root, timeout, cancel)
        except asyncio.CancelledError:
            cancel.set()
            raise
        log.debug("tests of %s: passed=%s, %d failures", files.target, report.passed, len(report.failures))
        if ls.runs.find(files.client_target) is None:  # a run that started meanwhile shows its own
            publish_report(ls, files, report)

    ls.watcher.schedule(f"{files.root}\0{command}", job)
