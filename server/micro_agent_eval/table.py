"""The terminal summary of an eval (rich tables)."""

from __future__ import annotations

from rich.table import Table

from .html import _num, _pct, _usd
from .report import EvalReport


def summary_tables(report: EvalReport) -> list[Table]:
    table = Table(title=f"eval: {report.suite}" + (" (interrupted)" if report.interrupted else ""))
    for column in ("configuration", "solved", "solve rate", "cost", "cost per solved", "mean iterations",
                   "mean calls", "solved by tier"):
        table.add_column(column)
    for s in report.summaries:
        table.add_row(s.config, f"{s.solved}/{s.tasks}", _pct(s.solve_rate), _usd(s.total_cost_usd),
                      _usd(s.cost_per_solved_usd), _num(s.mean_iterations), _num(s.mean_model_calls),
                      ", ".join(f"{k}: {v}" for k, v in s.solved_by_tier.items()) or "–")
    tables = [table]
    if report.versus:
        pairs = Table(title=f"{report.versus[0].config} compared")
        for column in ("vs", "tasks", "cost ≤ other", "solve-rate lift"):
            pairs.add_column(column)
        for v in report.versus:
            lift = "–" if v.solve_rate_lift is None else f"{v.solve_rate_lift * 100:+.0f} points"
            pairs.add_row(v.other, str(v.tasks_compared), _pct(v.cost_le_share), lift)
        tables.append(pairs)
    return tables
