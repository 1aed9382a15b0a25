"""`GET /metrics`: the autopilot's health and spend in Prometheus' text format (the official prometheus_client).

Every value is read from the state database at scrape time by one collector on a registry of the service's
own (no global registry), so a restart keeps the counts and two services in one process never mix.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from micro_agent import autopilot_db as db

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS_S = (30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
PREFIX = "micro_agent_autopilot"
# The runs of the autopilot's jobs: cost and iterations are the audit log's, per tier and model.
_JOB_ATTEMPTS = """SELECT a.tier_name, a.model, count(*) AS iterations, COALESCE(sum(a.cost_usd), 0) AS cost
                   FROM tier_attempts a WHERE a.run_id IN (SELECT run_id FROM autopilot_jobs WHERE run_id IS NOT NULL)
                   GROUP BY a.tier_name, a.model ORDER BY a.tier_name, a.model"""
_FIX_DURATIONS = """SELECT (julianday(r.finished_at) - julianday(r.started_at)) * 86400.0 AS seconds
                    FROM autopilot_proposals p JOIN runs r ON r.run_id = p.run_id
                    WHERE p.state != 'refused' AND r.finished_at IS NOT NULL"""


class StateCollector(Collector):
    """Reads the state database on each scrape. `paused` and `daily_limit_usd` come from the live service."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], paused: Callable[[], bool], daily_limit_usd: float):
        self.connect = connect
        self.paused = paused
        self.daily_limit_usd = daily_limit_usd

    def collect(self) -> Iterator[Metric]:
        conn = self.connect()
        try:
            yield from self._collect(conn)
        finally:
            conn.close()

    def _collect(self, conn: sqlite3.Connection) -> Iterator[Metric]:
        runs = CounterMetricFamily(f"{PREFIX}_runs", "Fix jobs by state (proposed, refused, failed, budget, ...)",
                                   labels=["outcome"])
        for state in db.JOB_STATES:
            if state in db.OPEN_JOB_STATES:
                continue
            count = conn.execute("SELECT count(*) FROM autopilot_jobs WHERE state = ?", [state]).fetchone()[0]
            runs.add_metric([state], count)
        yield runs

        proposals = conn.execute("""SELECT
                COALESCE(sum(state NOT IN ('refused', 'pending')), 0),
                COALESCE(sum(merged_at IS NOT NULL), 0),
                COALESCE(sum(closed_at IS NOT NULL AND merged_at IS NULL), 0)
            FROM autopilot_proposals""").fetchone()
        for index, (name, doc) in enumerate((("proposed", "Fixes proposed (pushed, with a pull request if a forge "
                                                          "is set up)"),
                                             ("merged", "Proposed fixes whose pull request was merged"),
                                             ("closed", "Proposed fixes whose pull request was closed unmerged"))):
            yield CounterMetricFamily(f"{PREFIX}_fixes_{name}", doc, value=proposals[index])

        cost = CounterMetricFamily(f"{PREFIX}_cost_usd", "Model spend of fix runs in US dollars",
                                   labels=["tier", "model"])
        iterations = CounterMetricFamily(f"{PREFIX}_iterations", "Fix iterations (one edit and test run each)",
                                         labels=["tier", "model"])
        for row in conn.execute(_JOB_ATTEMPTS):
            cost.add_metric([row["tier_name"], row["model"]], float(row["cost"]))
            iterations.add_metric([row["tier_name"], row["model"]], int(row["iterations"]))
        yield cost
        yield iterations

        today = db.iso_utc(datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0))
        yield GaugeMetricFamily(f"{PREFIX}_cost_today_usd", "Spend of today's (UTC) jobs in US dollars",
                                value=db.cost_since(conn, today))
        yield GaugeMetricFamily(f"{PREFIX}_daily_limit_usd", "policy.maxDailyCostUsd", value=self.daily_limit_usd)
        for state, doc in (("queued", "Jobs waiting for a worker"), ("running", "Jobs being fixed now")):
            count = conn.execute("SELECT count(*) FROM autopilot_jobs WHERE state = ?", [state]).fetchone()[0]
            yield GaugeMetricFamily(f"{PREFIX}_jobs_{state}", doc, value=count)
        yield GaugeMetricFamily(f"{PREFIX}_paused", "1 while the service is paused", value=1 if self.paused() else 0)

        durations = [row[0] for row in conn.execute(_FIX_DURATIONS) if row[0] is not None]
        buckets = [(str(bound), sum(1 for d in durations if d <= bound)) for bound in DURATION_BUCKETS_S]
        yield HistogramMetricFamily(f"{PREFIX}_fix_duration_seconds",
                                    "Wall time of the runs whose fix was proposed",
                                    buckets=[*buckets, ("+Inf", len(durations))], sum_value=sum(durations))

        alerts = CounterMetricFamily(f"{PREFIX}_alerts", "Alertmanager alerts received, by what was done",
                                     labels=["action"])
        for action in ("started", "ignored", "duplicate", "resolved"):
            count = conn.execute("SELECT count(*) FROM autopilot_alerts WHERE action = ?", [action]).fetchone()[0]
            alerts.add_metric([action], count)
        yield alerts


def registry(connect: Callable[[], sqlite3.Connection], paused: Callable[[], bool],
             daily_limit_usd: float) -> CollectorRegistry:
    """A registry of one service's own, filled from its state database."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(StateCollector(connect, paused, daily_limit_usd))
    return reg


def exposition(reg: CollectorRegistry) -> bytes:
    return generate_latest(reg)
