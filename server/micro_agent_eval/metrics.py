"""Figures from TaskResults: pure functions, no I/O."""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel

from .results import TaskResult


class ConfigSummary(BaseModel):
    config: str
    tasks: int  # tasks that finished under this configuration
    solved: int
    solve_rate: float | None
    total_cost_usd: float
    cost_per_solved_usd: float | None  # total cost / tasks solved (the failures' cost included)
    mean_iterations: float | None
    mean_model_calls: float | None
    mean_wall_s: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    solved_by_tier: dict[str, int]


class Versus(BaseModel):
    """The first configuration against another, on the tasks both finished."""

    config: str
    other: str
    tasks_compared: int
    cost_le_share: float | None  # share of those tasks where `config` cost no more than `other`
    solve_rate_lift: float | None  # config's solve rate minus other's, on those tasks (0.25 = 25 points)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _tokens(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def summarize(config: str, results: list[TaskResult]) -> ConfigSummary:
    mine = [r for r in results if r.config == config]
    solved = [r for r in mine if r.solved]
    cost = sum(r.cost_usd for r in mine)
    return ConfigSummary(
        config=config, tasks=len(mine), solved=len(solved),
        solve_rate=len(solved) / len(mine) if mine else None, total_cost_usd=cost,
        cost_per_solved_usd=cost / len(solved) if solved else None,
        mean_iterations=_mean([r.iterations for r in mine]), mean_model_calls=_mean([r.model_calls for r in mine]),
        mean_wall_s=_mean([r.wall_s for r in mine]),
        prompt_tokens=_tokens([r.prompt_tokens for r in mine]),
        completion_tokens=_tokens([r.completion_tokens for r in mine]),
        solved_by_tier=dict(Counter(r.solved_by_tier for r in solved if r.solved_by_tier)))


def versus(config: str, other: str, results: list[TaskResult]) -> Versus:
    mine = {r.task: r for r in results if r.config == config}
    theirs = {r.task: r for r in results if r.config == other}
    common = sorted(mine.keys() & theirs.keys())
    if not common:
        return Versus(config=config, other=other, tasks_compared=0, cost_le_share=None, solve_rate_lift=None)
    cost_le = sum(1 for t in common if mine[t].cost_usd <= theirs[t].cost_usd + 1e-12)
    lift = (sum(mine[t].solved for t in common) - sum(theirs[t].solved for t in common)) / len(common)
    return Versus(config=config, other=other, tasks_compared=len(common), cost_le_share=cost_le / len(common),
                  solve_rate_lift=lift)
