"""`micro-agent run a.py b.py …` / `--all-failing`: one fix job per target through the executor, one budget.

Every job starts from the checkout's HEAD plus its uncommitted changes (sent as overlays), runs wherever the
executor puts it, and is held to its share of the shared cost and time caps (`BudgetPool`). A solved job's
fix is written into the user's files only when they still hold what the job started from; otherwise it is
kept on the run's ref (`refs/micro-agent/<run>`), as for a single run.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import BaseModel, Field

from .config import RunRequest
from .controls import Controls
from .dispatch import dispatch_fix
from .events import Event
from .executor import BudgetPool, Executor

EXIT_CODES = {"success": 0, "failed": 1, "error": 1, "budget_exhausted": 3, "solved_not_applied": 4,
              "interrupted": 130}


class TargetResult(BaseModel):
    target: str
    outcome: str  # a RunReport outcome; "budget_exhausted" also when the shared budget left none for it
    run_id: str | None = None
    cost_usd: float = 0.0
    iterations: int = 0
    applied: bool = False
    kept_at: str | None = None
    executor: str = "local"
    node: str = ""
    message: str = ""


class MultiRunReport(BaseModel):
    targets: list[TargetResult] = Field(default_factory=list)
    total_cost_usd: float = 0.0

    @property
    def exit_code(self) -> int:
        codes = [EXIT_CODES.get(t.outcome, 1) for t in self.targets]
        for worst in (130, 3, 1, 4):
            if worst in codes:
                return worst
        return 0


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def uncommitted(root: Path) -> dict[str, str]:
    """Tracked files whose working-tree text differs from HEAD: sent as overlays, so jobs see them."""
    changed = _git(root, "diff", "--name-only", "-z", "HEAD").split("\0")
    out = {}
    for rel in filter(None, changed):
        try:
            out[rel] = (root / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            pass  # deleted or binary: the job sees HEAD's version
    return out


def _apply(root: Path, changed: dict[str, str], started_from: Callable[[str], str | None]) -> bool:
    """Write the fix when every file it touches still holds what the job started from; all or nothing."""
    for rel in changed:
        path = root / rel
        now = path.read_text(encoding="utf-8") if path.is_file() else None
        if now != started_from(rel):
            return False
    for rel, text in changed.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return True


def run_targets(root: Path, requests: list[RunRequest], executor: Executor, on_event: Callable[[Event], None],
                controls: Controls | None = None, jobs: int = 2) -> MultiRunReport:
    """Fix every request's target; `requests[0].budget` is the budget shared by all of them."""
    base = _git(root, "rev-parse", "HEAD").strip()
    overlays = uncommitted(root)
    shared = requests[0].budget
    pool = BudgetPool(shared.max_cost_usd, shared.max_duration_minutes)
    per_job = shared.max_cost_usd / len(requests) if shared.max_cost_usd else None

    def at_base(rel: str) -> str | None:
        if rel in overlays:
            return overlays[rel]
        try:
            return _git(root, "show", f"{base}:{rel}")
        except subprocess.CalledProcessError:
            return None

    def one(request: RunRequest) -> TargetResult:
        if controls is not None and controls.cancelled.is_set():
            return TargetResult(target=request.target, outcome="interrupted", message="not started: interrupted")
        share = pool.reserve(request.run_id, per_job, shared.max_duration_minutes)
        if share is None:
            return TargetResult(target=request.target, outcome="budget_exhausted",
                                message="not started: the shared budget is spent")
        budget = request.budget.model_copy(update={"max_cost_usd": share.cost_usd,
                                                   "max_duration_minutes": share.minutes})
        job_request = request.model_copy(update={"budget": budget, "apply": False,
                                                 "overlays": {**overlays, **request.overlays}})
        done = dispatch_fix(executor, root, request.run_id, base, job_request, on_event, request.audit_db_path,
                            controls)
        where = {"executor": done.placement.executor, "node": done.placement.node, "run_id": done.run_id}
        report = done.report
        pool.settle(request.run_id, done.lost_cost_usd + (report.total_cost_usd if report else 0.0))
        if report is None:
            return TargetResult(target=request.target, outcome="interrupted", cost_usd=done.lost_cost_usd,
                                message=done.message, **where)
        result = TargetResult(target=request.target, outcome=report.outcome, iterations=report.total_iterations,
                              cost_usd=report.total_cost_usd + done.lost_cost_usd,
                              message=report.message.splitlines()[0] if report.message else "", **where)
        if report.outcome == "success" and report.changed_files:
            if request.apply and _apply(root, report.changed_files, at_base):
                result.applied = True
            else:
                result.outcome, result.kept_at = ("success" if not request.apply else "solved_not_applied",
                                                  report.ref)
                if request.apply:
                    result.message = (f"solved, but {', '.join(report.changed_files)} changed meanwhile (or another "
                                      f"target's fix touched it): the fix is kept on {report.ref}")
        return result

    with ThreadPoolExecutor(max(1, jobs), thread_name_prefix="micro-agent-target") as dispatchers:
        results = list(dispatchers.map(one, requests))
    return MultiRunReport(targets=results, total_cost_usd=sum(r.cost_usd for r in results))
