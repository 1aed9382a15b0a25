"""Write a known history into a real audit database through the real AuditLog (the events the engine emits)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from micro_agent.audit import AuditLog
from micro_agent.events import IterationFinished, RunFinished, RunStarted
from micro_agent.reports import RunReport


def record_run(db: Path, target: str, tiers: list[tuple[str, str, list[str], float]], solved_by: str | None,
               days_ago: float = 0.0, run_id: str | None = None) -> str:
    """One finished run on `target`. `tiers`: (tier name, model, test status per iteration, cost per iteration),
    in the order they ran; `solved_by`: the tier that solved it (None: failed)."""
    run_id = run_id or str(uuid.uuid4())
    at = datetime.now(timezone.utc) - timedelta(days=days_ago)
    with AuditLog(db) as log:
        log(RunStarted(run_id=run_id, at=at, target=target, objective="fix", test_command="pytest", root="/x",
                       tiers=[]))
        count, cost = 0, 0.0
        for index, (name, model, statuses, each) in enumerate(tiers):
            for iteration, status in enumerate(statuses, start=1):
                count += 1
                cost += each
                log(IterationFinished(run_id=run_id, at=at, tier_index=index, tier_name=name, tier_mode="simple",
                                      model=model, iteration=iteration, change_summary="", test_status=status,
                                      failed_tests=[], error_messages=[], cost_usd=each, duration_ms=10))
        report = RunReport(run_id=run_id, target=target, test_command="pytest",
                           outcome="success" if solved_by else "failed", solved_by_tier=solved_by,
                           total_iterations=count, total_cost_usd=cost)
        log(RunFinished(run_id=run_id, at=at + timedelta(seconds=90), report=report))
    return run_id
