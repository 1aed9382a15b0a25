"""report.json: the whole eval as one pydantic model."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from .configs import EvalConfig
from .metrics import ConfigSummary, Versus, summarize, versus
from .results import TaskResult


class ConfigInfo(BaseModel):
    name: str
    kind: str
    spec: str
    tiers: list[dict[str, object]]


class NotRun(BaseModel):
    task: str
    config: str
    reason: str  # "interrupted" | "budget"


class EvalReport(BaseModel):
    suite: str
    started_at: datetime
    finished_at: datetime
    interrupted: bool = False
    budget_cap_usd: float | None = None
    spent_usd: float = 0.0
    configs: list[ConfigInfo]
    summaries: list[ConfigSummary]
    versus: list[Versus]  # the first configuration against each of the others
    results: list[TaskResult]
    not_run: list[NotRun] = Field(default_factory=list)


def build_report(suite: str, configs: list[EvalConfig], results: list[TaskResult], not_run: list[NotRun], *,
                 started_at: datetime, finished_at: datetime, interrupted: bool, cap: float | None,
                 spent: float) -> EvalReport:
    order = {c.name: i for i, c in enumerate(configs)}
    results = sorted(results, key=lambda r: (order.get(r.config, 0), r.task))
    names = [c.name for c in configs]
    infos = [ConfigInfo(name=c.name, kind=c.kind, spec=c.spec,
                        tiers=[{"name": t.name, "mode": t.mode, "maxIterations": t.max_iterations,
                                "models": t.role_models()} for t in c.tiers]) for c in configs]
    return EvalReport(suite=suite, started_at=started_at, finished_at=finished_at, interrupted=interrupted,
                      budget_cap_usd=cap, spent_usd=spent, configs=infos,
                      summaries=[summarize(n, results) for n in names],
                      versus=[versus(names[0], other, results) for other in names[1:]],
                      results=results, not_run=not_run)
