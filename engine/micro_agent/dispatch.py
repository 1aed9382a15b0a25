"""The head's side of a fix job: pack it, send it to the executor, write its audit rows, retry a lost worker.

`dispatch_fix` blocks until the job ends and never hangs: a cancel (`controls`) is passed on to the executor,
a worker that dies is retried once with a fresh run id (the lost run is kept in the audit database as
`interrupted`, with every iteration it finished), then the job is reported interrupted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from .audit import AuditLog, record_outcome
from .config import RunRequest
from .controls import Controls
from .events import Event, IterationFinished
from .executor import Executor, JobCancelled, Placement, WorkerLost
from .fixjob import GitFailed, land_candidates, pack
from .reports import RunReport

MAX_TRIES = 2  # a job whose worker died runs once more, then it is recorded as interrupted
WAIT_S = 0.5
CANCELLED_WAIT_S = 30.0  # after a cancel, how long the head waits for the job to stop before it moves on


class Dispatched(BaseModel):
    outcome: Literal["finished", "interrupted", "cancelled"]
    report: RunReport | None = None  # None unless finished
    placement: Placement
    run_ids: list[str]  # every run this job made, the last one first-class (a lost run stays in the audit)
    lost_cost_usd: float = 0.0  # what the iterations of lost or cancelled runs cost (not in any report)
    message: str = ""

    @property
    def run_id(self) -> str:
        return self.run_ids[-1]


def _wait(future: Future, executor: Executor, controls: Controls | None):
    cancelled_at = None
    waited = 0.0
    while True:
        try:
            return future.result(timeout=WAIT_S)
        except FutureTimeout:
            waited += WAIT_S
        if controls is not None and controls.cancelled.is_set() and cancelled_at is None:
            cancelled_at = waited
            executor.cancel(future)
        if cancelled_at is not None and waited - cancelled_at > CANCELLED_WAIT_S:
            raise JobCancelled()


def dispatch_fix(executor: Executor, repo: Path, job_id: str, base_commit: str, request: RunRequest,
                 on_event: Callable[[Event], None], audit_db_path: Path | None,
                 controls: Controls | None = None, tries: int = MAX_TRIES) -> Dispatched:
    """Run `request` (built against a checkout of `base_commit` in `repo`) as a job on `executor`."""
    job = pack(repo, job_id, base_commit, request)
    run_ids: list[str] = []
    placement = Placement(executor=executor.kind)
    lost_cost = 0.0
    for attempt in range(1, tries + 1):
        run_ids.append(job.request.run_id)
        audit = AuditLog(audit_db_path) if audit_db_path else None
        spent = [0.0]

        def emit(event: Event, audit=audit, spent=spent) -> None:
            if isinstance(event, IterationFinished):
                spent[0] += event.cost_usd
            if audit is not None:
                audit(event)
            on_event(event)

        try:
            result = _wait(executor.submit_fix(job, emit), executor, controls)
        except (WorkerLost, JobCancelled) as exc:
            lost = isinstance(exc, WorkerLost)
            placement = Placement(executor=executor.kind, node=exc.node or placement.node, attempts=attempt)
            lost_cost += spent[0]
            if audit is not None:
                audit.close()
                record_outcome(audit_db_path, job.request.run_id, "interrupted")
            if lost and attempt < tries and not (controls and controls.cancelled.is_set()):
                job = job.model_copy(update={"request": job.request.model_copy(update={"run_id": str(uuid.uuid4())})})
                continue
            return Dispatched(outcome="interrupted" if lost else "cancelled", placement=placement, run_ids=run_ids,
                              lost_cost_usd=lost_cost,
                              message=str(exc) + ("" if not lost else f" ({attempt} tr{'y' if attempt == 1 else 'ies'})"))
        finally:
            if audit is not None:
                audit.close()
        message = ""
        try:
            land_candidates(repo, result)
        except GitFailed as exc:  # the report still has the fix (changed_files, diff); only `audit show` misses it
            message = f"the run's commits could not be copied into {repo}: {exc}"
        return Dispatched(outcome="finished", report=result.report, message=message, run_ids=run_ids, lost_cost_usd=lost_cost,
                          placement=Placement(executor=result.executor, node=result.node, attempts=attempt))
    raise AssertionError("unreachable")
