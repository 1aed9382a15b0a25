"""The figures' edge cases, on TaskResults written by hand (pure functions: no model, no disk)."""

from __future__ import annotations

from micro_agent_eval.metrics import summarize, versus
from micro_agent_eval.results import TaskResult


def result(task: str, config: str, solved: bool, cost: float, iterations: int = 1) -> TaskResult:
    return TaskResult(task=task, config=config, solved=solved, status="solved" if solved else "failed",
                      engine_outcome="success" if solved else "failed", cost_usd=cost, iterations=iterations)


def test_nothing_solved_has_no_cost_per_solved_and_no_tokens():
    s = summarize("a", [result("t1", "a", False, 0.5), result("t2", "a", False, 0.25, 3)])
    assert (s.tasks, s.solved, s.solve_rate, s.cost_per_solved_usd) == (2, 0, 0.0, None)
    assert s.total_cost_usd == 0.75 and s.mean_iterations == 2.0
    assert s.prompt_tokens is None and s.solved_by_tier == {}


def test_a_configuration_with_no_finished_task():
    s = summarize("missing", [result("t1", "a", True, 0.1)])
    assert (s.tasks, s.solve_rate, s.mean_iterations, s.mean_wall_s) == (0, None, None, None)


def test_versus_counts_only_tasks_both_finished_and_ties_as_no_more():
    results = [result("t1", "chain", True, 0.01), result("t1", "solo", True, 0.01),  # a tie counts as ≤
               result("t2", "chain", False, 0.05), result("t2", "solo", True, 0.02),
               result("t3", "chain", True, 0.00)]  # solo never finished t3: left out
    v = versus("chain", "solo", results)
    assert (v.tasks_compared, v.cost_le_share, v.solve_rate_lift) == (2, 0.5, -0.5)
    assert versus("chain", "nobody", results).cost_le_share is None
