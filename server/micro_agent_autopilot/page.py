"""`GET /`: a small status page rendered on the server: the queue, recent runs, alerts, and two charts.

No build step and nothing from a CDN: the charts are drawn by Chart.js, whose UMD file is vendored in
static/ from the npm registry (scripts/vendor-chartjs.sh refreshes it) and served by the service itself,
with the page's own status.css and status.js.
"""

from __future__ import annotations

import json
import sqlite3
from html import escape
from pathlib import Path

from micro_agent import autopilot_db as db

STATIC = Path(__file__).resolve().parent / "static"
CHART_JS = "chart.umd.min.js"
SOLVED_STATES = ("proposed", "refused")  # the engine solved it (a refused fix broke policy, not the tests)
DONE_STATES = ("proposed", "refused", "failed", "budget", "error", "interrupted")
DAYS = 30


def static_file(name: str) -> Path | None:
    """A vendored file by its bare name (nothing outside static/)."""
    path = STATIC / name
    return path if "/" not in name and name and not name.startswith(".") and path.is_file() else None


def daily(conn: sqlite3.Connection, days: int = DAYS) -> list[dict]:
    """Per UTC day with jobs (the last `days`): cost, finished jobs, solved jobs, solve rate."""
    rows = conn.execute(f"""SELECT substr(created_at, 1, 10) AS day, COALESCE(sum(cost_usd), 0) AS cost,
                                   sum(state IN {DONE_STATES}) AS done, sum(state IN {SOLVED_STATES}) AS solved
                            FROM autopilot_jobs WHERE created_at >= date('now', ?)
                            GROUP BY day ORDER BY day""", [f"-{days} days"])
    return [{"day": r["day"], "cost_usd": round(float(r["cost"]), 6), "done": r["done"], "solved": r["solved"],
             "solve_rate": round(r["solved"] / r["done"], 4) if r["done"] else None} for r in rows]


def _cell(value: object) -> str:
    return f"<td>{escape(str(value if value is not None else '—'))}</td>"


def _link(url: str | None, text: str | None) -> str:
    if url and url.startswith(("http://", "https://")):
        return f'<td><a href="{escape(url)}">{escape(text or url)}</a></td>'
    return _cell(text)


def _jobs_table(jobs: list[dict], empty: str) -> str:
    if not jobs:
        return f'<p class="empty">{escape(empty)}</p>'
    rows = "".join(
        f'<tr class="state-{escape(j["state"])}">' + _cell(j["created_at"][:16].replace("T", " "))
        + _cell(j["state"]) + _cell(j["target"]) + _cell(", ".join(j["tests"])) + _cell(f"${j['cost_usd']:.4f}")
        + _link(j["pr_url"], j["pr_url"] or j["branch"] or j["message"][:80]) + "</tr>" for j in jobs)
    return ("<table><thead><tr><th>When (UTC)</th><th>State</th><th>Target</th><th>Tests</th><th>Cost</th>"
            f"<th>Branch / PR</th></tr></thead><tbody>{rows}</tbody></table>")


def _alerts_table(alerts: list[dict]) -> str:
    if not alerts:
        return '<p class="empty">No alerts received yet.</p>'
    rows = "".join("<tr>" + _cell(a["received_at"][:16].replace("T", " ")) + _cell(a["alertname"])
                   + _cell(a["status"]) + _cell(a["action"]) + _cell(a["reason"]) + "</tr>" for a in alerts)
    return ("<table><thead><tr><th>When (UTC)</th><th>Alert</th><th>Status</th><th>Action</th><th>Why</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>")


def render(conn: sqlite3.Connection, paused: bool, base: str, root: str) -> str:
    queue = db.list_jobs(conn, limit=50, states=db.OPEN_JOB_STATES)
    recent = db.list_jobs(conn, limit=20)
    series = daily(conn)
    data = json.dumps({"days": [d["day"] for d in series], "cost": [d["cost_usd"] for d in series],
                       "rate": [None if d["solve_rate"] is None else round(100 * d["solve_rate"], 1)
                                for d in series]}).replace("</", "<\\/")
    state = '<span class="paused">paused</span>' if paused else '<span class="running">running</span>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Micro Agent autopilot</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/status.css"></head><body>
<h1>Micro Agent autopilot</h1>
<p class="meta">{state} · base <code>{escape(base)}</code> · <code>{escape(root)}</code> ·
 <a href="/metrics">metrics</a> · <a href="/api/status">status JSON</a></p>
<div class="charts">
 <div><h2>Cost per day (USD)</h2><div class="chart"><canvas id="cost"></canvas></div></div>
 <div><h2>Solve rate per day (%)</h2><div class="chart"><canvas id="rate"></canvas></div></div>
</div>
<h2>Queue ({len(queue)})</h2>
{_jobs_table(queue, "Nothing queued or running.")}
<h2>Recent runs</h2>
{_jobs_table(recent, "No fix has run yet.")}
<h2>Alerts</h2>
{_alerts_table(db.list_alerts(conn, limit=10))}
<script id="series" type="application/json">{data}</script>
<script src="/static/{CHART_JS}"></script>
<script src="/static/status.js"></script>
</body></html>
"""
