"""One autopilot pass: run the suite at the base head, queue a job per target, run the jobs, propose the fixes.

Every job runs the engine (`micro_agent.engine.run`, `apply=False`) in a worktree of its own at the base
commit; a solved job becomes one commit on a new branch made with git plumbing, pushed and proposed.
The user's checkout, index and current branch are never touched. State lives in the audit database
(micro_agent.autopilot_db), so a pass cut short is resumed by the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from pydantic import BaseModel, Field

from micro_agent import autopilot_db as db
from micro_agent import learning
from micro_agent.blame import group
from micro_agent.config import ConfigError
from micro_agent.controls import Controls
from micro_agent.dispatch import dispatch_fix
from micro_agent.events import Escalated, Event, IterationFinished, RunStarted
from micro_agent.executor import BudgetPool, ExecutorUnavailable, shared_executor
from micro_agent.runners import command_for_tests, run_tests

from . import gitops
from .forge import ForgeError
from .proposal import Evidence, commit_message, failing_from, policy_refusal, pull_request
from .settings import Settings, selection_command

EXIT_OK, EXIT_UNFIXED, EXIT_USAGE, EXIT_BUDGET = 0, 1, 2, 3
Gate = Callable[[], None]  # blocks while the service is paused; raises GateClosed at shutdown


class GateClosed(Exception):
    """The service shuts down while a job waits at its gate: the job stays where it is, for the next start."""


class JobOutcome(BaseModel):
    """One row of the pass table: failing tests → target → outcome → branch / PR."""

    job_id: str | None = None
    target: str | None
    tests: list[str]
    outcome: str  # proposed | already proposed | being fixed | refused | not solved | budget | error | no target
    branch: str | None = None
    pr_url: str | None = None
    run_id: str | None = None
    cost_usd: float = 0.0
    message: str = ""
    executor: str | None = None  # where the job ran: local or ray
    node: str | None = None  # the Ray node id, or the host name for the local pool


class PassReport(BaseModel):
    pass_id: str | None = None
    base_ref: str = ""
    base_commit: str | None = None
    suite: str = ""
    failing_tests: int = 0
    outcome: str = "ok"  # ok | unfixed | budget | error | paused
    message: str = ""
    jobs: list[JobOutcome] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return {"ok": EXIT_OK, "unfixed": EXIT_UNFIXED, "budget": EXIT_BUDGET, "error": EXIT_USAGE,
                "paused": EXIT_UNFIXED}[self.outcome]


# ---------------------------------------------------------------- the daily budget

_daily = BudgetPool(cap_usd=None)  # job id → dollars set aside for its run; the cap is read per reservation


def _today() -> str:
    return db.iso_utc(datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0))


def _reserve(settings: Settings, conn, job_id: str) -> float | None:
    """Dollars this job may spend: the run budget, capped by what is left of today's shared budget after
    every running job's share. None when nothing is left."""
    _daily.cap_usd = settings.autopilot.policy.max_daily_cost_usd
    share = _daily.reserve(job_id, settings.project.budget.max_cost_usd, spent_usd=db.cost_since(conn, _today()))
    return None if share is None else share.cost_usd


def _release(job_id: str) -> None:
    _daily.settle(job_id)  # what the job spent is in the database by now


# ---------------------------------------------------------------- a pass


def run_pass(settings: Settings, trigger: str = "once", gate: Gate | None = None,
             controls: Controls | None = None) -> PassReport:
    """Detect, queue and run. Never raises for anything a pass can go through; the report says what happened."""
    conn = db.connect(settings.db_path)
    try:
        return _run_pass(settings, conn, trigger, gate, controls)
    finally:
        conn.close()


def detect(settings: Settings, conn, trigger: str, selection: list[str] | None = None) -> tuple[PassReport, list[dict]]:
    """Run the suite (or only the tests in `selection`, e.g. from an alert) at the base head and queue one job
    per target not already being fixed or proposed."""
    cfg = settings.autopilot
    report = PassReport(suite=settings.suite)
    try:
        sha, ref, report.warnings = gitops.resolve_base(settings.root, cfg.base, cfg.remote)
    except gitops.GitError as exc:
        report.outcome, report.message = "error", str(exc)
        return report, []
    report.base_commit, report.base_ref = sha, ref
    report.pass_id = db.start_pass(conn, trigger, ref, settings.suite)
    db.update_pass(conn, report.pass_id, base_commit=sha)
    db.recover_jobs(conn)  # jobs a killed process left running
    with gitops.pass_worktree(settings.root, sha) as tree:
        command = selection_command(settings.suite, selection, tree) if selection else settings.suite
        if selection:
            report.suite = command
            db.update_pass(conn, report.pass_id, suite=command)
        tests = run_tests(command, tree, timeout_s=settings.project.test_timeout_seconds * 4)
        if tests.infra_error:
            report.outcome = "error"
            fix = ("Check the test selection the alert names." if selection
                   else "Fix autopilot.suite in micro-agent.yml.")
            report.message = f"the suite `{command}` could not run at {sha[:10]}: {tests.infra_error}. {fix}"
            return report, []
        targets, unmapped = group(tests.failures, tree)
    report.failing_tests = len(tests.failures)
    db.update_pass(conn, report.pass_id, failing_tests=len(tests.failures))
    for failure in unmapped:
        report.jobs.append(JobOutcome(target=None, tests=[failure.name], outcome="no target",
                                      message="no source file could be named for this test; look at it by hand"))
    jobs = []
    for target in targets:
        names = target.tests
        if (active := db.active_job_for(conn, sha, target.path)) is not None:
            if active["state"] == "queued":  # left by a pass that was cut short: run it now
                jobs.append(active)
            else:
                report.jobs.append(JobOutcome(job_id=active["job_id"], target=target.path, tests=names,
                                              outcome="being fixed", message="a job on this target is running"))
            continue
        if (open_one := still_proposed(settings, conn, sha, target.path, names)) is not None:
            report.jobs.append(JobOutcome(job_id=open_one["job_id"], target=target.path, tests=names,
                                          outcome="already proposed", branch=open_one["branch"],
                                          pr_url=open_one["pr_url"], run_id=open_one["run_id"]))
            continue
        job_id = db.add_job(conn, report.pass_id, target.path, names, [f.message for f in target.failures], sha)
        jobs.append(db.get_job(conn, job_id))
    return report, jobs


def still_proposed(settings: Settings, conn, base_commit: str, target: str, tests: list[str]) -> dict | None:
    """An earlier proposal that still covers these failing tests: one at this very base commit, or an older
    one whose pull request the forge says is still open (one closed meanwhile is marked closed)."""
    for proposal in db.open_proposals_for(conn, target, tests):
        if proposal["base_commit"] == base_commit or proposal["state"] in ("local", "pending"):
            return proposal
        if settings.forge is None or proposal["state"] != "open":
            continue
        try:
            still_open = settings.forge.find_open(proposal["branch"]) is not None
        except ForgeError:
            return proposal  # cannot tell: never propose twice
        if still_open:
            return proposal
        db.update_proposal(conn, proposal["id"], state="closed", reason="closed or merged on the forge")
    return None


def _run_pass(settings: Settings, conn, trigger: str, gate: Gate | None, controls: Controls | None) -> PassReport:
    try:
        report, jobs = detect(settings, conn, trigger)
    except gitops.GitError as exc:  # e.g. no worktree can be made: say so, keep nothing half-done
        report, jobs = PassReport(suite=settings.suite, outcome="error", message=str(exc)), []
    if jobs and report.outcome != "error":
        try:  # asking for Ray where it is not installed or not reachable: say so once, run nothing
            shared_executor(settings.executor, settings.autopilot.policy.max_concurrent_runs)
        except ExecutorUnavailable as exc:
            report.outcome, report.message = "error", str(exc)
    if report.outcome == "error":
        if report.pass_id:
            db.finish_pass(conn, report.pass_id, "error", report.message)
        return report
    with ThreadPoolExecutor(settings.autopilot.policy.max_concurrent_runs, thread_name_prefix="autopilot-job") as pool:
        results = list(pool.map(lambda job: execute_job(settings, job, gate, controls), jobs))
    report.jobs += [r for r in results if r is not None]
    report.outcome = summarize(report.jobs)
    report.message = _summary_line(report)
    db.finish_pass(conn, report.pass_id or "", report.outcome, report.message)
    return report


def summarize(jobs: list[JobOutcome]) -> str:
    if any(j.outcome == "budget" for j in jobs):
        return "budget"
    if any(j.outcome not in ("proposed", "already proposed", "being fixed") for j in jobs):
        return "unfixed"
    return "ok"


def _summary_line(report: PassReport) -> str:
    if not report.failing_tests:
        return f"The suite passes at {report.base_commit and report.base_commit[:10]}: nothing to fix."
    proposed = sum(1 for j in report.jobs if j.outcome in ("proposed", "already proposed", "being fixed"))
    return f"{report.failing_tests} failing test(s); {proposed} of {len(report.jobs)} target(s) have a proposed fix."


# ---------------------------------------------------------------- a job


class _Evidence:
    def __init__(self) -> None:
        self.attempts: list[IterationFinished] = []
        self.escalations: list[Escalated] = []
        self.start_note = ""

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.start_note = event.start_note
        elif isinstance(event, IterationFinished):
            self.attempts.append(event)
        elif isinstance(event, Escalated):
            self.escalations.append(event)


def execute_job(settings: Settings, job: dict, gate: Gate | None = None,
                controls: Controls | None = None) -> JobOutcome | None:
    """Run one queued job to its end. None when another worker claimed it first."""
    conn = db.connect(settings.db_path)
    try:
        return _execute_job(settings, conn, job, gate, controls)
    except GateClosed:
        raise
    except Exception as exc:  # a bug of ours or an OS problem: recorded, never takes the pass down
        message = f"internal error: {type(exc).__name__}: {exc}"
        db.update_job(conn, job["job_id"], state="error", message=message)
        return JobOutcome(job_id=job["job_id"], target=job["target"], tests=job["tests"], outcome="error",
                          message=message)
    finally:
        _release(job["job_id"])
        conn.close()


def _outcome(job: dict, outcome: str, **fields) -> JobOutcome:
    return JobOutcome(job_id=job["job_id"], target=job["target"], tests=job["tests"], outcome=outcome,
                      **{"executor": job.get("executor"), "node": job.get("node"), **fields})


def _execute_job(settings: Settings, conn, job: dict, gate: Gate | None, controls: Controls | None) -> JobOutcome | None:
    if gate:
        gate()
    pending = db.proposal_for_job(conn, job["job_id"])
    if pending is not None and pending["state"] == "pending":  # a restart cut the delivery short: finish it
        if not db.claim_job(conn, job["job_id"], pending["run_id"]):
            return None
        return deliver(settings, conn, job, pending, cost=job["cost_usd"])
    run_id = db.new_id()
    allot = _reserve(settings, conn, job["job_id"])
    if allot is None:
        message = (f"today's autopilot budget (policy.maxDailyCostUsd = "
                   f"${settings.autopilot.policy.max_daily_cost_usd:.2f}) is spent; not started (the next pass "
                   "after midnight UTC tries again)")
        db.update_job(conn, job["job_id"], state="budget", message=message)
        return _outcome(job, "budget", message=message)
    if not db.claim_job(conn, job["job_id"], run_id):
        return None
    from micro_agent.request_builder import build_request
    from micro_agent.run_settings import BudgetLimits, RunSettings

    evidence = _Evidence()
    with gitops.pass_worktree(settings.root, job["base_commit"]) as tree:
        command = command_for_tests(settings.suite, job["tests"], tree)
        job_layer = RunSettings(test_command=command, apply=False, budget=BudgetLimits(maxCostUsd=allot),
                                learn=False)  # learned below, from the project's database, not the worktree's
        try:
            request, _warnings = build_request(tree, tree / job["target"], job_layer, config_path=settings.config_path,
                                               env=settings.env)
        except ConfigError as exc:
            message = "cannot start the fix: " + "; ".join(exc.problems)
            db.update_job(conn, job["job_id"], state="error", message=message)
            return _outcome(job, "error", run_id=run_id, message=message)
        test_files = sorted({t.split("::", 1)[0] for t in job["tests"] if (tree / t.split("::", 1)[0]).is_file()})
        request = request.model_copy(update={
            "run_id": run_id, "test_files": test_files,
            "objective": "Make these failing tests pass: " + ", ".join(job["tests"])})
        if settings.learn:
            request = learning.apply(request, settings.db_path)
        try:
            executor = shared_executor(settings.executor, settings.autopilot.policy.max_concurrent_runs)
        except ExecutorUnavailable as exc:
            db.update_job(conn, job["job_id"], state="error", message=str(exc))
            return _outcome(job, "error", run_id=run_id, message=str(exc))
        done = dispatch_fix(executor, settings.root, job["job_id"], job["base_commit"], request, evidence,
                            settings.db_path, controls)
    where = {"executor": done.placement.executor, "node": done.placement.node}
    job = {**job, **where, "cost_usd": job["cost_usd"] + done.lost_cost_usd}
    db.update_job(conn, job["job_id"], run_id=done.run_id, cost_usd=job["cost_usd"], **where)
    if done.report is None:  # the worker was lost twice, or the job was cancelled
        if done.outcome == "cancelled":
            db.update_job(conn, job["job_id"], state="queued", message="stopped by a shutdown or a pause; runs again at the next start or resume")
        else:
            db.update_job(conn, job["job_id"], state="interrupted", message=done.message)
        return _outcome(job, "interrupted", run_id=done.run_id, message=done.message)
    report, run_id = done.report, done.run_id
    db.update_job(conn, job["job_id"], cost_usd=job["cost_usd"] + report.total_cost_usd,
                  solved_by=report.solved_by_tier)
    cost = job["cost_usd"] + report.total_cost_usd
    if report.outcome == "interrupted" and controls is not None and controls.cancelled.is_set():
        db.update_job(conn, job["job_id"], state="queued", message="stopped by a shutdown or a pause; runs again at the next start or resume")
        return _outcome(job, "interrupted", run_id=run_id, cost_usd=cost, message="stopped by a shutdown or a pause")
    if report.outcome != "success" or not report.changed_files:
        state = {"budget_exhausted": "budget", "interrupted": "interrupted", "error": "error"}.get(report.outcome,
                                                                                                     "failed")
        db.update_job(conn, job["job_id"], state=state, message=report.message[:2000])
        return _outcome(job, {"failed": "not solved"}.get(state, state), run_id=run_id, cost_usd=cost,
                        message=report.message.splitlines()[0] if report.message else "")
    failing = failing_from(job["tests"], job["errors"])
    message = commit_message(job["target"], failing, report, Evidence(evidence.attempts, evidence.escalations, evidence.start_note))
    title, body = pull_request(job["target"], failing, report, Evidence(evidence.attempts, evidence.escalations, evidence.start_note),
                               message)
    files = {rel: text.encode("utf-8") for rel, text in report.changed_files.items()}
    commit = gitops.commit_files(settings.root, job["base_commit"], files, message)
    branch = f"{settings.autopilot.branch_prefix}{gitops.slug(job['target'])}-{run_id[:8]}"
    refusal = policy_refusal(settings.autopilot.policy, list(report.changed_files), report.diff)
    if refusal:
        kept = f"refs/micro-agent/refused/{run_id}"
        gitops.git(settings.root, "update-ref", kept, commit)
        db.add_proposal(conn, job, run_id, branch, commit, "refused", reason=refusal, title=title, body=body)
        db.update_job(conn, job["job_id"], state="refused", message=f"not proposed: {refusal}; kept on {kept}")
        return _outcome(job, "refused", run_id=run_id, cost_usd=cost, message=f"{refusal}; kept on {kept}")
    proposal_id = db.add_proposal(conn, job, run_id, branch, commit, "pending", title=title, body=body)
    proposal = db.proposal_for_job(conn, job["job_id"])
    assert proposal is not None and proposal["id"] == proposal_id
    if gate:
        gate()  # paused meanwhile: nothing goes out until resumed
    return deliver(settings, conn, job, proposal, cost=cost)


def deliver(settings: Settings, conn, job: dict, proposal: dict, cost: float) -> JobOutcome:
    """Branch → push → pull request, each step idempotent, so a delivery cut short can be run again."""
    cfg = settings.autopilot
    branch, run_id = proposal["branch"], proposal["run_id"]
    try:
        gitops.create_branch(settings.root, branch, proposal["commit_sha"])
        if cfg.remote:
            gitops.push(settings.root, cfg.remote, branch)
        pr_url, pr_number, state = None, None, "local"
        if settings.forge is not None:
            pr = settings.forge.open(branch, cfg.base, proposal["title"], proposal["body"])
            pr_url, pr_number, state = pr.url, pr.number, "open"
    except (gitops.GitError, ForgeError) as exc:
        message = f"the fix is on branch {branch} (commit {proposal['commit_sha'][:10]}) but was not proposed: {exc}"
        db.update_job(conn, job["job_id"], state="error", branch=branch, message=message)
        return _outcome(job, "error", branch=branch, run_id=run_id, cost_usd=cost, message=message)
    db.update_proposal(conn, proposal["id"], state=state, pr_url=pr_url, pr_number=pr_number)
    db.update_job(conn, job["job_id"], state="proposed", branch=branch, pr_url=pr_url,
                  message=f"proposed on {branch}" + (f" as {pr_url}" if pr_url else ""))
    return _outcome(job, "proposed", branch=branch, pr_url=pr_url, run_id=run_id, cost_usd=cost)
