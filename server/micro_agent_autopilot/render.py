"""How the autopilot's results look in a terminal (rich)."""

from __future__ import annotations

from rich import box
from rich.table import Table

from .passes import PassReport

OUTCOME_STYLES = {"proposed": "green", "already proposed": "green", "being fixed": "cyan", "refused": "yellow",
                  "budget": "yellow", "not solved": "red", "error": "red", "no target": "magenta"}


def pass_table(report: PassReport) -> Table:
    """failing tests → target → outcome → branch / PR."""
    table = Table(box=box.SIMPLE_HEAVY, title=f"autopilot pass at {report.base_ref} {(report.base_commit or '')[:10]}")
    table.add_column("failing tests", overflow="fold")
    table.add_column("target", overflow="fold")
    table.add_column("outcome")
    table.add_column("branch / PR", overflow="fold")
    table.add_column("ran on", overflow="fold")
    for job in report.jobs:
        where = job.pr_url or job.branch or job.message
        table.add_row("\n".join(job.tests), job.target or "—",
                      f"[{OUTCOME_STYLES.get(job.outcome, 'white')}]{job.outcome}[/]",
                      where + (f"\n{job.message}" if (job.pr_url or job.branch) and job.message else ""),
                      ran_on(job.executor, job.node))
    return table


def ran_on(executor: str | None, node: str | None) -> str:
    """`ray 3f9c2a1b` / `local myhost`: where a job ran (a Ray node id is shown by its first 8 digits)."""
    if not executor:
        return ""
    return f"{executor} {(node or '')[:8] if executor == 'ray' else node or ''}".strip()


def status_text(answer: dict) -> str:
    lines = [f"autopilot: {'paused' if answer.get('paused') else 'active'}"
             + (f" (service at {answer['service']})" if answer.get("service") else " (no service running)")]
    for job in answer.get("jobs", [])[:20]:
        lines.append(f"  {job['job_id'][:8]}  {job['state']:<11} {job['target']:<30} "
                     f"{ran_on(job.get('executor'), job.get('node')):<14} {job.get('pr_url') or job.get('branch') or ''}")
    return "\n".join(lines)
