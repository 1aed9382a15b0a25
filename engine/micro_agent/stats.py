"""What the audit log says about how well each tier, model and target does: `micro-agent audit stats`.

Pure reads of the audit database (and of the autopilot's proposals, when it has them). A tier is known
by its name and its artisan's model, as the attempts record them. A run *tried* a tier when it recorded
at least one attempt there; the tier *solved* it when the run was solved (`success` or
`solved_not_applied`) with `solved_by_tier` naming it.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict

from pydantic import BaseModel, Field

from . import autopilot_db

SOLVED_OUTCOMES = ("success", "solved_not_applied")


class Tally(BaseModel):
    runs: int = 0  # runs that tried it
    solved: int = 0
    iterations: int = 0
    cost_usd: float = 0.0
    proposed: int = 0  # fixes the autopilot proposed (pushed / pull request opened) from its solved runs
    merged: int = 0

    @property
    def solve_rate(self) -> float | None:
        return self.solved / self.runs if self.runs else None

    @property
    def mean_iterations(self) -> float | None:
        return self.iterations / self.runs if self.runs else None

    @property
    def cost_per_solved_usd(self) -> float | None:
        return self.cost_usd / self.solved if self.solved else None

    @property
    def merge_rate(self) -> float | None:
        return self.merged / self.proposed if self.proposed else None

    def as_dict(self) -> dict:
        return {**self.model_dump(), "solve_rate": self.solve_rate, "mean_iterations": self.mean_iterations,
                "cost_per_solved_usd": self.cost_per_solved_usd, "merge_rate": self.merge_rate}


class TierStats(Tally):
    tier: str
    model: str


class TargetStats(Tally):
    target: str


class Stats(BaseModel):
    since: str | None = None  # ISO-8601 UTC; None: all history
    runs: int = 0
    solved: int = 0
    cost_usd: float = 0.0
    tiers: list[TierStats] = Field(default_factory=list)
    targets: list[TargetStats] = Field(default_factory=list)

    def as_dict(self) -> dict:
        return {"since": self.since, "runs": self.runs, "solved": self.solved, "cost_usd": self.cost_usd,
                "tiers": [t.as_dict() for t in self.tiers], "targets": [t.as_dict() for t in self.targets]}


def _proposals(conn: sqlite3.Connection) -> dict[str, tuple[bool, bool]]:
    """run id → (proposed, merged) for the autopilot's proposals; empty without the autopilot's tables."""
    if not autopilot_db.has_tables(conn):
        return {}
    columns = {row[1] for row in conn.execute("PRAGMA table_info(autopilot_proposals)")}
    merged = "merged_at IS NOT NULL" if "merged_at" in columns else "0"
    rows = conn.execute(f"SELECT run_id, state NOT IN ('refused', 'pending'), {merged} FROM autopilot_proposals")
    return {row[0]: (bool(row[1]), bool(row[2])) for row in rows}


def tier_runs(conn: sqlite3.Connection, since: str | None = None, target: str | None = None) -> list[dict]:
    """One row per (finished run, tier it tried): run id, target, outcome, solved_by_tier, tier, model,
    iterations and cost in that tier."""
    where = ["r.outcome IS NOT NULL"]
    params: list[object] = []
    if since:
        where.append("r.started_at >= ?")
        params.append(since)
    if target is not None:
        where.append("r.target = ?")
        params.append(target)
    rows = conn.execute(f"""SELECT r.run_id, r.target, r.outcome, r.solved_by_tier, a.tier_name AS tier,
                                   max(a.model) AS model, count(*) AS iterations, sum(a.cost_usd) AS cost
                            FROM runs r JOIN tier_attempts a ON a.run_id = r.run_id
                            WHERE {' AND '.join(where)}
                            GROUP BY r.run_id, a.tier_name ORDER BY min(a.id)""", params)
    return [dict(row) for row in rows]


def solved_here(row: dict) -> bool:
    return row["outcome"] in SOLVED_OUTCOMES and row["solved_by_tier"] == row["tier"]


def compute(conn: sqlite3.Connection, since: str | None = None) -> Stats:
    rows = tier_runs(conn, since)
    proposals = _proposals(conn)
    tiers: dict[tuple[str, str], TierStats] = {}
    targets: dict[str, TargetStats] = {}
    runs: dict[str, dict] = defaultdict(lambda: {"iterations": 0, "cost": 0.0})
    for row in rows:
        key = (row["tier"], row["model"])
        tier = tiers.setdefault(key, TierStats(tier=row["tier"], model=row["model"]))
        tier.runs += 1
        tier.iterations += row["iterations"]
        tier.cost_usd += row["cost"] or 0.0
        if solved_here(row):
            tier.solved += 1
            proposed, merged = proposals.get(row["run_id"], (False, False))
            tier.proposed += proposed
            tier.merged += merged
        run = runs[row["run_id"]]
        run.update(target=row["target"], outcome=row["outcome"])
        run["iterations"] += row["iterations"]
        run["cost"] += row["cost"] or 0.0
    stats = Stats(since=since)
    for run_id, run in runs.items():
        target = targets.setdefault(run["target"], TargetStats(target=run["target"]))
        solved = run["outcome"] in SOLVED_OUTCOMES
        proposed, merged = proposals.get(run_id, (False, False))
        target.runs += 1
        target.solved += solved
        target.iterations += run["iterations"]
        target.cost_usd += run["cost"]
        target.proposed += proposed
        target.merged += merged
        stats.runs += 1
        stats.solved += solved
        stats.cost_usd += run["cost"]
    stats.tiers = sorted(tiers.values(), key=lambda t: (t.tier, t.model))
    stats.targets = sorted(targets.values(), key=lambda t: (-t.runs, t.target))
    return stats
