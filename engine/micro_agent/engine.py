"""The loop. `run()` takes a RunRequest, emits events to an observer, and returns the RunReport.

Tiers run in order (the default simple → full behaviour is just a two-tier chain). Every iteration
builds its prompts fresh from state; after a tier fails, its summary joins the escalation context the
next tier starts with. A tier ends early by TierEnded; the run stops by a RunStopped (outcomes.py):
BudgetExhausted, RunInterrupted, TestsBroken, ModelUnavailable, WorkspaceError, RunInProgress.

Its seams (model.py, runners/base.py): `model` answers the roles' calls, `tests` runs the test command;
the defaults are the real providers and runners, `scripted.py` has in-process ones for fast tests.
The modules only an iteration needs (prompts, replies, context) are imported while the first tests run.
"""

from __future__ import annotations

import difflib
import importlib
import os
import threading
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from .budget import BudgetExhausted, BudgetPool
from .commits import candidate_message
from .config import RunRequest, Tier
from .controls import Controls, RunInterrupted
from .environment import python_import_path, resolve_environment
from .events import (AgentCalled, AgentCalling, CandidateWritten, Escalated, Event, IterationFinished,
                     IterationStarted, Observer, Role, RunFinished, RunStarted, TestsFinished, TierPlan,
                     TierStarted, Warned)
from .hangs import timed_out
from .judge import judge_candidate
from .model import Deadline, Model, ModelError
from .outcomes import RunStopped
from .reports import RunReport, TestReport, TierResult
from .refs import keep_patch, kept_message
from .runlock import RunLock
from .runners import CommandTestRunner, TestRunner, find_test_files
from .secrets import HiddenSecretError, redact, redact_messages, restore, sendable_files
from .summary import Attempt, accumulate, describe_change, report_errors, tier_header, tier_summary
from .workspace import Workspace, WorkspaceError

if TYPE_CHECKING:
    from .prompts import PromptState

CONTEXT_FILES_CAP = 40_000  # characters of related files offered to the librarian


class TestsBroken(RunStopped):
    """The test command cannot test this code (not found, usage error, an error the code cannot fix)."""

    __test__ = False


class ModelUnavailable(RunStopped):
    """Every tier ended without any model ever answering: a setup problem, not a hard bug."""


class TierEnded(Exception):
    """The current tier stops early: its model is unavailable, or the user asked for the next tier.

    `str(exc)` says which, and is recorded as that iteration's error.
    """


def run(request: RunRequest, on_event: Observer, controls: Controls | None = None, *,
        model: Model | None = None, tests: TestRunner | None = None) -> RunReport:
    """Run the tiers of `request` until the tests pass or the budget is spent.

    Blocking; call it from a worker thread in a server. Never raises for anything a run can go
    through (bad reply, provider down, budget, cancel): the outcome is in the report. With
    `request.apply` False the user's files are left alone and `report.changed_files` carries the fix.
    `model` (default: the real providers, llm.ProviderModel) and `tests` (default: the test command in a
    process, runners.CommandTestRunner) are the loop's seams.
    """
    if model is None:
        from .llm import ProviderModel

        model = ProviderModel(request.prices)
    _make_state_dir(request.root)
    emit, close_audit = _with_audit_log(request, on_event)
    started = time.monotonic()
    plans = [TierPlan(index=i, name=t.name, mode=t.mode, max_iterations=t.max_iterations, models=t.role_models())
             for i, t in enumerate(request.tiers)]
    environment = resolve_environment(request.root, selected=request.interpreter, enabled=request.project_env)
    report = RunReport(run_id=request.run_id, target=request.target, test_command=request.test_command,
                       outcome="error", environment=environment,
                       tiers=[TierResult(index=p.index, name=p.name, mode=p.mode, models=p.models,
                                         max_iterations=p.max_iterations) for p in plans])
    try:
        emit(RunStarted(run_id=request.run_id, target=request.target, objective=request.objective,
                        test_command=request.test_command, root=str(request.root), tiers=plans,
                        environment=environment.describe(), start_note=request.start_note))
        for warning in environment.warnings:
            emit(Warned(run_id=request.run_id, message=warning))
        with RunLock(request.root, request.target, request.run_id):
            _Loop(request, plans, emit, controls or Controls(), report, model, tests or CommandTestRunner()).run()
    except RunStopped as stop:
        report.outcome, report.message = stop.outcome, stop.message
    except KeyboardInterrupt:
        report.outcome, report.message = "interrupted", RunInterrupted().message
    except Exception as exc:  # a bug of ours: report it, never take the caller down
        report.outcome = "error"
        report.message = f"internal error: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"
    report.total_iterations = sum(t.iterations for t in report.tiers)
    report.total_cost_usd = sum(t.cost_usd for t in report.tiers)
    report.duration_s = round(time.monotonic() - started, 3)
    try:
        emit(RunFinished(run_id=request.run_id, report=report))
    finally:
        close_audit()
    return report


STATE_DIR = ".micro-agent"  # per project: the audit log, cargo's target folder for candidates


def _make_state_dir(root: Path) -> None:
    """Create `.micro-agent/`, ignored by git from the start (like .pytest_cache), so no run ever copies it."""
    state = root / STATE_DIR
    try:
        state.mkdir(exist_ok=True)
        ignore = state / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# created by micro-agent\n*\n")
    except OSError:
        pass  # a read-only project: the audit log warns on its own, the run goes on


def _with_audit_log(request: RunRequest, on_event: Observer):
    if request.audit_db_path is None:
        return on_event, lambda: None
    from .audit import AuditLog

    audit = AuditLog(request.audit_db_path)

    def emit(event: Event) -> None:
        audit(event)
        on_event(event)

    return emit, audit.close


class _Loop:
    def __init__(self, request: RunRequest, plans: list[TierPlan], emit: Observer, controls: Controls,
                 report: RunReport, model: Model, tests: TestRunner):
        self.req, self.plans, self.emit, self.controls, self.report = request, plans, emit, controls, report
        self.model, self.tests = model, tests
        self.budget = BudgetPool(request.budget)
        self.ws: Workspace
        self.background: ThreadPoolExecutor
        self.test_files: dict[str, str] = {}
        self.ended_because: list[str] = []  # per tier that ran, why it ended
        # Candidates build in a cargo target folder of their own, kept between runs for speed.
        self.test_env = {"CARGO_TARGET_DIR": str(request.root / STATE_DIR / "cargo-target")}
        if report.environment:  # the project's venv and node_modules/.bin first on PATH
            self.test_env.update(report.environment.variables(os.environ))
        self.model_answered = False
        self.test_side_effects: list[str] = []  # what the user's own code changes when its tests run

    def run(self) -> None:
        try:
            self._run()
        finally:
            if hasattr(self, "ws"):
                self.report.ref = self.ws.ref  # None once a run that committed no candidate dropped its ref

    # ------------------------------------------------------------------ the run
    def _run(self) -> None:
        req = self.req
        # While a candidate's tests run, the pool commits it and (full mode) the critic reviews it.
        # It is drained before the worktree goes.
        with Workspace.create(req.root, req.run_id, req.overlays) as ws, ThreadPoolExecutor(2) as self.background:
            self.ws = ws
            self.report.ref = ws.ref
            self._warm(0)  # while the first tests run
            # The test files as the seed has them (what every candidate's run sees), read while the tests run.
            test_files = self.background.submit(self._read_test_files)
            last = self.test(tier_index=None, iteration=0)
            if last.passed:
                self.report.outcome, self.report.message = "success", "The tests already pass: nothing to fix."
                return
            if broken := _broken_reason(last, req.target):
                raise TestsBroken(_broken_message(req.test_command, broken, last))
            self.test_files = test_files.result()
            sections = [req.escalation_context] if req.escalation_context else []
            for index, tier in enumerate(req.tiers):
                escalation_context = accumulate(sections)
                if index > 0:
                    self._hand_off(index, escalation_context)
                attempts, ended_because, last = self.run_tier(index, tier, escalation_context, last)
                if attempts and attempts[-1].status == "passed":
                    self._succeed(index)
                    return
                sections.append(tier_header(index + 1, tier.name, len(attempts)) + "\n"
                                + tier_summary(tier.mode, attempts, ended_because))
            self._fail()

    def _warm(self, tier_index: int) -> None:
        warm = getattr(self.model, "warm", None)  # optional on a Model (model.py)
        if warm is not None:
            warm(self.req.tiers[tier_index].role_models().values())
        if tier_index == 0:  # the first tests run now, and the loop waits on them: import what an iteration needs
            full = any(tier.mode == "full" for tier in self.req.tiers)
            threading.Thread(target=_import_iteration_modules, args=(full,), name="micro-agent-warm-loop",
                             daemon=True).start()

    def _hand_off(self, index: int, escalation_context: str) -> None:
        previous, tier = self.req.tiers[index - 1], self.req.tiers[index]
        try:
            self.budget.check_next_iteration()
        except BudgetExhausted as exc:
            raise BudgetExhausted(exc.reason, at_hand_off=True) from None
        self.emit(Escalated(run_id=self.req.run_id, from_tier=previous.name, to_tier=tier.name,
                            reason=self.ended_because[index - 1],
                            summary=escalation_context, remaining_cost_usd=self.budget.remaining_usd(),
                            remaining_minutes=self.budget.remaining_minutes()))

    def _succeed(self, tier_index: int) -> None:
        """The tests pass (confirmed on a pristine copy): apply the fix, or say honestly why it was not."""
        tier = self.report.tiers[tier_index]
        tier.solved = True
        self.report.outcome, self.report.solved_by_tier = "success", tier.name
        self.report.changed_files = self.ws.changed_files()
        self.report.diff = self.ws.diff()
        if not self.req.apply:
            self.report.message = f"Solved by {tier.name}; the fix was not applied (dry run)."
            return
        try:
            written = self.ws.apply()
        except WorkspaceError as exc:
            self.report.outcome = "solved_not_applied"
            self.report.kept_at = self.ws.ref or keep_patch(self.req.root, self.req.run_id, self.report.diff)
            self.report.message = f"Solved by {tier.name}, but {exc} {kept_message(self.report)}"
            return
        self.report.applied = True
        self.report.message = f"Solved by {tier.name}; updated {', '.join(written)}."

    def _fail(self) -> None:
        self.report.outcome = "failed"
        if not self.model_answered:  # no model ever answered: a setup problem, not a hard bug
            raise ModelUnavailable("No model could be reached: " + "; ".join(
                e.removeprefix("model unavailable: ") for e in self.ended_because))
        where = f" The attempts are on {self.ws.ref}." if self.ws.ref and self.ws.has_candidates else ""
        self.report.message = "Not solved: every tier ran out of iterations." + where

    # ------------------------------------------------------------------ one tier
    def run_tier(self, index: int, tier: Tier, escalation_context: str,
                 last: TestReport) -> tuple[list[Attempt], str, TestReport]:
        self.emit(TierStarted(run_id=self.req.run_id, tier=self.plans[index], escalation_context=escalation_context))
        attempts: list[Attempt] = []
        critic_notes = ""
        ended_because = f"{tier.max_iterations} iterations ran without passing tests"
        for iteration in range(1, tier.max_iterations + 1):
            if self.controls.take_skip_tier():
                ended_because = "the user asked for the next tier"
                break
            self.budget.start_iteration()
            if iteration == tier.max_iterations and index + 1 < len(self.req.tiers):  # behind this last iteration
                self._warm(index + 1)
            result = self.report.tiers[index]
            result.iterations += 1
            self.emit(IterationStarted(run_id=self.req.run_id, tier_index=index, tier_name=tier.name, mode=tier.mode,
                                       iteration=iteration, max_iterations=tier.max_iterations,
                                       total_iterations=self.budget.iterations,
                                       cost_so_far_usd=self.budget.spent_usd))
            self.ws.restore()  # every test run starts from the user's files, only the target as last written
            from .prompts import PromptState
            state = PromptState(root=self.ws.path, objective=self.req.objective, target=self.req.target,
                                target_content=self.ws.read(self.req.target), test_command=self.req.test_command,
                                test_files=self.test_files, last_report=last, attempts=list(attempts),
                                escalation_context=escalation_context, critic_notes=critic_notes)
            started, cost_before, ended_early = time.monotonic(), self.budget.spent_usd, False
            try:
                attempt, last, critic_notes = self.iteration(index, tier, iteration, state)
            except TierEnded as exc:
                ended_because, ended_early = str(exc), True
                attempt = Attempt(iteration, "no change", "error", [], [ended_because])
            except BudgetExhausted as exc:  # ran out during a model call: that iteration is still recorded
                result.cost_usd += self.budget.spent_usd - cost_before
                self._finished(index, tier, Attempt(iteration, "no change", "error", [], [exc.message]),
                               self.budget.spent_usd - cost_before, started)
                raise
            result.cost_usd += self.budget.spent_usd - cost_before
            attempts.append(attempt)
            self._finished(index, tier, attempt, self.budget.spent_usd - cost_before, started, state.librarian_notes)
            if attempt.status == "passed" or ended_early:
                break
            if _same_infra_error_twice(attempts, last):
                raise TestsBroken(_broken_message(self.req.test_command, last.infra_error or "", last))
        self.ended_because.append(ended_because)
        return attempts, ended_because, last

    def _finished(self, index: int, tier: Tier, attempt: Attempt, cost: float, started: float,
                  librarian_notes: str = "") -> None:
        self.emit(IterationFinished(
            run_id=self.req.run_id, tier_index=index, tier_name=tier.name, tier_mode=tier.mode,
            model=tier.models.artisan, iteration=attempt.iteration, change_summary=attempt.change_summary,
            test_status=attempt.status, failed_tests=attempt.failed_tests, error_messages=attempt.error_messages,
            cost_usd=cost, duration_ms=int((time.monotonic() - started) * 1000), commit=attempt.commit,
            librarian_notes=librarian_notes))

    # ------------------------------------------------------------------ one iteration
    def iteration(self, index: int, tier: Tier, iteration: int,
                  state: PromptState) -> tuple[Attempt, TestReport, str]:
        """librarian → artisan → critic → tests (simple mode: artisan → tests)."""
        from .prompts import artisan_messages, critic_messages, librarian_choice, librarian_messages
        from .replies import ReplyError, parse_reply

        models = tier.role_models()
        if tier.mode == "full":
            candidates = self._related_files()
            reply = self.call("librarian", models["librarian"], index, iteration, librarian_messages(state, candidates))
            state.librarian_notes, chosen = librarian_choice(reply, list(candidates))
            state.context_files = {p: candidates[p] for p in (chosen or candidates)}
        reply = self.call("artisan", models["artisan"], index, iteration, artisan_messages(state))
        current = state.target_content
        try:
            # The model saw the target redacted: its reply is read against that view, then the secrets go back.
            new = restore(parse_reply(reply, self.req.target, redact(current)), current)
        except (ReplyError, HiddenSecretError) as exc:
            return Attempt(iteration, "no change", "error", [], [f"unusable reply: {exc}"]), state.last_report, ""
        if new == current:
            return (Attempt(iteration, "no change", "error", [], ["the reply repeated the current code unchanged"]),
                    state.last_report, "")
        change = describe_change(self.req.target, current, new)
        self.ws.write({self.req.target: new})
        message = candidate_message(self.req.run_id, index, iteration)
        commit = self.background.submit(self.ws.commit, message)
        self.emit(CandidateWritten(run_id=self.req.run_id, tier_index=index, iteration=iteration,
                                   files=[self.req.target], change_summary=change))
        review = None
        if tier.mode == "full":  # the critic reads the candidate while its tests run; it never blocks a pass
            diff = "".join(difflib.unified_diff(current.splitlines(True), new.splitlines(True),
                                                f"a/{self.req.target}", f"b/{self.req.target}"))
            review = self.background.submit(self.call, "critic", models["critic"], index, iteration,
                                            critic_messages(state, diff))
        report = self.test(tier_index=index, iteration=iteration)
        critic_notes = _review_notes(review, report.passed)
        attempt = Attempt(iteration, change, report.status, [f.name for f in report.failures], report_errors(report),
                          commit=commit.result())
        return attempt, report, critic_notes

    def call(self, role: Role, model: str, tier_index: int, iteration: int, messages: list[dict[str, str]]) -> str:
        """One model call, checked against the budget first; provider trouble ends the tier.

        The engine side of the model seam (model.py): what holds for every Model happens here.
        """
        self.controls.check()
        self.budget.check()
        prompt_chars = sum(len(m["content"]) for m in messages)
        messages = redact_messages(messages)  # nothing credential-like ever leaves the machine (docs/privacy.md)
        self.emit(AgentCalling(run_id=self.req.run_id, tier_index=tier_index, iteration=iteration, role=role,
                               model=model, prompt_chars=prompt_chars))
        try:
            reply = self.model.complete(role, model, messages, Deadline(self.budget, self.controls.cancelled))
        except (ModelError, BudgetExhausted) as exc:
            self.emit(AgentCalled(run_id=self.req.run_id, tier_index=tier_index, iteration=iteration, role=role,
                                  model=model, prompt_chars=prompt_chars, reply_chars=0, cost_usd=0.0,
                                  duration_ms=0, total_cost_usd=self.budget.spent_usd, error=exc.message))
            if isinstance(exc, BudgetExhausted):
                raise
            raise TierEnded(f"model unavailable: {exc.message}") from None
        self.budget.spend(reply.cost_usd)
        self.model_answered = True
        self.emit(AgentCalled(run_id=self.req.run_id, tier_index=tier_index, iteration=iteration, role=role,
                              model=model, prompt_chars=prompt_chars, reply_chars=len(reply.text),
                              cost_usd=reply.cost_usd, duration_ms=reply.duration_ms,
                              total_cost_usd=self.budget.spent_usd, prompt_tokens=reply.prompt_tokens,
                              completion_tokens=reply.completion_tokens))
        if self.controls.take_skip_tier():
            raise TierEnded("the user asked for the next tier")
        return reply.text

    # ------------------------------------------------------------------ tests and files
    def test(self, tier_index: int | None, iteration: int) -> TestReport:
        self.controls.check()
        report = self.tests.run(self.req.test_command, self.ws.path,
                                self.budget.remaining_seconds(self.req.test_timeout_s),
                                self.controls.cancelled, self._test_env_in(self.ws.path))
        report = self._judged(report, iteration)
        self.emit(TestsFinished(run_id=self.req.run_id, tier_index=tier_index, iteration=iteration, report=report))
        return report

    def _test_env_in(self, copy: Path) -> dict[str, str]:
        """The test command's variables for a run in `copy`: the candidate's own modules come first."""
        return {**self.test_env, **python_import_path(copy, self.req.target, {**os.environ, **self.test_env})}

    def _judged(self, report: TestReport, iteration: int) -> TestReport:
        """A candidate's verdict counts only if its run changed nothing but the target and a pristine copy agrees."""
        if iteration == 0:  # the user's own code: what its tests change is theirs to change
            self.test_side_effects = self.ws.stray_changes()
            return report

        def rerun(path: Path) -> TestReport:
            return self.tests.run(self.req.test_command, path,
                                  self.budget.remaining_seconds(self.req.test_timeout_s),
                                  self.controls.cancelled, self._test_env_in(path))

        return judge_candidate(self.ws, report, self.req.target, self.test_side_effects, rerun)

    def _read_test_files(self) -> dict[str, str]:
        paths = self.req.test_files or [p.relative_to(self.ws.path).as_posix()
                                        for p in find_test_files(self.ws.path / self.req.target, self.ws.path)]
        files = {}
        for rel in sendable_files(self.ws.path, paths)[:5]:
            try:
                files[rel] = self.ws.read(rel)
            except (OSError, WorkspaceError):
                self.emit(Warned(run_id=self.req.run_id, message=f"cannot read test file {rel}"))
        return files

    def _related_files(self) -> dict[str, str]:
        from .context import related_files

        imported, importers = related_files(self.ws.path, self.req.target, read=self.ws.read)
        files, size = {}, 0
        for rel in [*imported, *importers]:
            if rel in self.test_files:
                continue
            text = self.ws.read(rel)
            if size + len(text) > CONTEXT_FILES_CAP:
                break
            files[rel], size = text, size + len(text)
        return files


def _import_iteration_modules(full: bool) -> None:
    """The modules only an iteration needs, imported ahead of it (the core has no import cycles, so an import
    here and the loop's own at first use cannot deadlock: tests/test_import_graph.py)."""
    for name in ("prompts", "replies", *(("context",) if full else ())):
        importlib.import_module(f".{name}", __package__)


def _review_notes(review: Future[str] | None, passed: bool) -> str:
    """The critic's notes; a critic that failed or ran out of budget never blocks a candidate that passed."""
    if review is None:
        return ""
    try:
        return review.result()
    except (TierEnded, BudgetExhausted):
        if passed:
            return ""
        raise


def _same_infra_error_twice(attempts: list[Attempt], last: TestReport) -> bool:
    """The test command failed the same way, before any test ran, two iterations in a row.

    A timeout does not count: an endless loop in a candidate causes one, and the next candidate can fix it.
    """
    if not last.infra_error or timed_out(last) or len(attempts) < 2:
        return False
    return attempts[-2].error_messages[:1] == attempts[-1].error_messages[:1] == [last.infra_error]


def _broken_reason(report: TestReport, target: str) -> str | None:
    """Why the initial test run shows a broken test command, or None when the code can fix it.

    A timeout is the code's fault (it hangs): the model is asked to fix it.
    """
    if report.infra_error and not timed_out(report):
        return report.infra_error
    stem = Path(target).stem
    for failure in report.failures:
        if failure.name == "<collection>" and target not in (failure.file or "") and stem not in failure.message:
            return f"collection error in {failure.file or 'the tests'} that the code under test does not cause"
    return None


def _broken_message(command: str, reason: str, report: TestReport) -> str:
    output = report.output.strip()
    if len(output) > 3000:
        output = "…\n" + output[-3000:]
    return (f"The test command is broken, so no model was asked to fix the code.\n"
            f"  command: {command}\n  problem: {reason}\n"
            f"Fix the command (-t/--test or `test:` in micro-agent.yml) and run again.\n"
            f"--- output ---\n{output or '(no output)'}")
