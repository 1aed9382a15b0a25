"""Audit write throughput: rows/s through AuditLog, WAL, one committed row per finished iteration.

    python bench/bench_audit.py [ROWS]      (default 2000)

The events are built before the clock starts: what is timed is exactly what a run pays per
iteration (an INSERT committed on its own), on a database in a temporary folder.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from micro_agent.audit import AuditLog
from micro_agent.events import IterationFinished, RunStarted, TierPlan


def main(rows: int = 2000) -> None:
    run_id = "bench-run"
    tier = TierPlan(index=0, name="local-free", mode="simple", max_iterations=rows,
                    models={"artisan": "ollama/qwen2.5-coder"})
    events = [
        IterationFinished(
            run_id=run_id, tier_index=0, tier_name=tier.name, tier_mode="simple", model=tier.models["artisan"],
            iteration=n, change_summary=f"Changed multiply() to try variant {n}", test_status="failed",
            failed_tests=["tests/test_calc.py::test_multiply"],
            error_messages=[f"AssertionError: expected 12, got {n}"], cost_usd=0.0, duration_ms=1200,
        )
        for n in range(1, rows + 1)
    ]
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "audit.db"
        warnings: list[str] = []
        log = AuditLog(db, warn=warnings.append)
        log(RunStarted(run_id=run_id, target="src/calc.py", objective="bench", test_command="pytest", root=folder,
                       tiers=[tier]))  # opens and migrates the database: not timed
        began = time.perf_counter()
        for event in events:
            log(event)
        elapsed = time.perf_counter() - began
        log.close()
        if warnings:
            sys.exit(f"bench_audit: writes failed: {warnings[0]}")
        with sqlite3.connect(db) as conn:
            written = conn.execute("SELECT count(*) FROM tier_attempts").fetchone()[0]
            journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert written == rows, f"{written} rows written of {rows}"
    print(f"audit write throughput: {rows / elapsed:,.0f} rows/s "
          f"({rows} rows, {elapsed * 1000 / rows:.3f} ms per committed row, journal_mode={journal}, "
          f"sqlite {sqlite3.sqlite_version})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
