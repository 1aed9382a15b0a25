"""`micro-agent audit autopilot`: the autopilot's passes, jobs, proposals and undos, from the audit database.

Part of the command-line face, next to audit_commands.py; it reads the tables micro_agent.autopilot_db keeps.
"""

from __future__ import annotations

import sqlite3

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from micro_agent import autopilot_db


def _table(title: str, columns: list[str]) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def render(console: Console, conn: sqlite3.Connection, limit: int, local_time) -> None:
    if not autopilot_db.has_tables(conn):
        console.print("The autopilot has not run here yet (`micro-agent autopilot once`).", markup=False)
        return
    passes = _table("Autopilot passes", ["When", "Pass", "Trigger", "Base", "Failing", "Outcome"])
    for row in autopilot_db.list_passes(conn, limit):
        passes.add_row(local_time(row["started_at"], "%Y-%m-%d %H:%M"), row["pass_id"][:8], row["trigger"],
                       f"{row['base_ref'].removeprefix('refs/')} {(row['base_commit'] or '')[:10]}",
                       str(row["failing_tests"]), Text(row["outcome"] or "running"))
    jobs = _table("Jobs", ["Job", "State", "Target", "Tests", "Run", "Cost", "Branch / PR"])
    for row in autopilot_db.list_jobs(conn, limit):
        jobs.add_row(row["job_id"][:8], row["state"], Text(row["target"]), Text("\n".join(row["tests"])),
                     (row["run_id"] or "—")[:8], f"${row['cost_usd']:.4f}",
                     Text(row["pr_url"] or row["branch"] or row["message"][:120]))
    undos = _table("Undos", ["When", "Run", "Kind", "Outcome", "What"])
    for row in autopilot_db.list_undos(conn, limit):
        undos.add_row(local_time(row["created_at"], "%Y-%m-%d %H:%M"), row["run_id"][:8], row["kind"],
                      row["outcome"], Text(row["reason"]))
    for table in (passes, jobs, undos):
        if table.row_count:
            console.print(table)
