"""The engine's pure pieces: reply parsing, summaries, the escalation cap, budget, config merging."""

from __future__ import annotations

import json

import pytest

from micro_agent.budget import BudgetExhausted, BudgetPool
from micro_agent.config import Budget, ConfigError, load_tier_file
from micro_agent.providers import missing_key, provider_of
from micro_agent.replies import ReplyError, parse_reply
from micro_agent.reports import TestFailure
from micro_agent.request_builder import build_request
from micro_agent.run_settings import BudgetLimits, ModelChoice, RunSettings
from micro_agent.summary import TRUNCATED, Attempt, accumulate, describe_change, error_line, tier_summary

CURRENT = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"


def test_whole_file_in_any_fence_is_accepted():
    assert parse_reply("Fixed.\n~~~\ndef f():\n    return 1\n~~~\n", "x.py", "") == "def f():\n    return 1\n"
    reply = "```text\nnotes\n```\n```python path=x.py\ndef f():\n    return 2\n```\n"
    assert parse_reply(reply, "x.py", "") == "def f():\n    return 2\n"


def test_search_replace_blocks_edit_the_current_file():
    reply = "<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n"
    assert parse_reply(reply, "calc.py", CURRENT) == CURRENT.replace("a - b", "a + b")
    loose = "<<<<<<< SEARCH\n    return a - b   \n=======\n    return a + b\n>>>>>>> REPLACE\n"
    assert parse_reply(loose, "calc.py", CURRENT) == CURRENT.replace("a - b", "a + b")


@pytest.mark.parametrize("reply, problem", [
    ("I am not sure.", "no fenced code block"),
    ("<<<<<<< SEARCH\nnot in the file\n=======\nx\n>>>>>>> REPLACE\n", "does not match calc.py"),
    ("```python\n\n```", "no fenced code block"),
])
def test_garbage_is_a_reply_error(reply, problem):
    with pytest.raises(ReplyError, match=problem):
        parse_reply(reply, "calc.py", CURRENT)


def test_change_summary_names_the_lines():
    assert describe_change("calc.py", CURRENT, CURRENT.replace("a - b", "a + b")) == \
        "calc.py: replaced `return a - b` with `return a + b`"
    assert describe_change("calc.py", "x = 1\n", "x = 1\ny = 2\n") == "calc.py: added `y = 2`"
    assert describe_change("calc.py", CURRENT, "x = 1\n") == "calc.py: rewrote 4 line(s) into 1 line(s)"  # blank lines not counted


def test_error_line_prefers_pytest_e_lines():
    failure = TestFailure(name="t", message="    def test():\n>       assert add(2, 3) == 5\nE       assert -1 == 5\n")
    assert error_line(failure) == "assert -1 == 5"


def test_tier_summary_lists_every_unique_error():
    attempts = [Attempt(1, "calc.py: a", "failed", ["t1"], ["boom 1"]),
                Attempt(2, "calc.py: b", "failed", ["t1", "t2"], ["boom 1", "boom 2"])]
    text = tier_summary("simple", attempts)
    assert text.startswith("SIMPLE MODE HISTORY (2 iterations, all failed):")
    assert "- boom 1\n- boom 2" in text and "Failed tests: t1, t2" in text


def test_accumulate_truncates_oldest_first_and_keeps_newest_whole():
    old, middle, new = "O" * 3000, "M" * 1500, "N" * 1000
    joined = accumulate([old, middle, new])
    assert len(joined) <= 4000
    assert joined.endswith(new) and middle in joined
    assert joined.startswith("O") and TRUNCATED in joined.split(middle)[0]
    assert accumulate(["a", "b"]) == "a\n\nb"


def test_budget_checks_cost_time_and_iterations():
    clock = [0.0]
    pool = BudgetPool(Budget(maxCostUsd=0.10, maxDurationMinutes=1, maxIterations=2), clock=lambda: clock[0])
    pool.start_iteration()
    pool.spend(0.10)
    with pytest.raises(BudgetExhausted, match="cost limit"):
        pool.check()
    pool = BudgetPool(Budget(maxCostUsd=None, maxDurationMinutes=1, maxIterations=1), clock=lambda: clock[0])
    pool.start_iteration()
    with pytest.raises(BudgetExhausted, match="iteration limit"):
        pool.start_iteration()
    clock[0] = 61
    with pytest.raises(BudgetExhausted, match="time limit"):
        pool.check()


def test_providers_and_keys():
    assert provider_of("claude-sonnet-4-5") == "anthropic"
    assert provider_of("gemini/gemini-2.5-flash") == "gemini"
    assert provider_of("ollama/qwen2.5-coder") == "ollama"
    assert provider_of("qwen2.5") is None
    assert missing_key("claude-sonnet-4-5", {}) == "ANTHROPIC_API_KEY"
    assert missing_key("gemini/gemini-2.5-flash", {"GOOGLE_API_KEY": "k"}) is None
    assert missing_key("openai/local", {"OPENAI_API_BASE": "http://localhost:8080/v1"}) is None
    assert missing_key("ollama/qwen2.5-coder", {}) is None


def test_tier_file_full_tiers_default_roles(tmp_path):
    path = tmp_path / "tiers.yaml"
    path.write_text("tiers:\n  - {name: p, mode: full, maxIterations: 2, models: {artisan: openai/a}}\n")
    (tier,) = load_tier_file(path).tiers
    assert tier.role_models() == {"librarian": "openai/a", "artisan": "openai/a", "critic": "openai/a"}


def test_tier_file_duplicate_names(tmp_path):
    path = tmp_path / "tiers.json"
    path.write_text(json.dumps({"tiers": [{"name": "x", "mode": "simple", "maxIterations": 1,
                                           "models": {"artisan": "openai/a"}}] * 2}))
    with pytest.raises(ConfigError, match="used twice"):
        load_tier_file(path)


def test_build_request_merges_flags_over_the_file(tmp_path):
    (tmp_path / "calc.py").write_text(CURRENT)
    (tmp_path / "micro-agent.yml").write_text(
        "test: pytest -q\nmodels: {artisan: openai/file-artisan}\nbudget: {maxCostUsd: 1.0, maxIterations: 9}\n")
    env = {"OPENAI_API_BASE": "http://localhost:1/v1"}
    request, warnings = build_request(tmp_path, tmp_path / "calc.py",
                                      RunSettings(budget=BudgetLimits(maxCostUsd=0.2), simple_iterations=3,
                                                  models=ModelChoice(critic="openai/c")), env=env)
    assert request.test_command == "pytest -q" and request.target == "calc.py"
    assert (request.budget.max_cost_usd, request.budget.max_iterations) == (0.2, 9)
    simple, full = request.tiers
    assert (simple.max_iterations, simple.models.artisan) == (3, "openai/file-artisan")
    assert full.models.critic == "openai/c"
    assert full.models.librarian == "openai/file-artisan"  # no GEMINI_API_KEY: the artisan's model, with a warning
    assert any("GEMINI_API_KEY" in w for w in warnings)


def test_build_request_reports_every_problem(tmp_path):
    (tmp_path / "micro-agent.yml").write_text("budget: {maxCostUsd: 0}\nmodels: {artisan: claude-sonnet-4-5}\n")
    with pytest.raises(ConfigError) as caught:
        build_request(tmp_path, tmp_path / "missing.py", RunSettings(), env={})
    text = "\n".join(caught.value.problems)
    assert "budget.maxCostUsd" in text and "missing.py: no such file" in text and "ANTHROPIC_API_KEY" in text


def test_one_key_is_enough_for_the_default_chain(tmp_path):
    (tmp_path / "calc.py").write_text(CURRENT)
    request, warnings = build_request(tmp_path, tmp_path / "calc.py", RunSettings(test_command="pytest -q"),
                                      env={"ANTHROPIC_API_KEY": "k"})
    assert request.tiers[1].role_models() == {"librarian": "claude-sonnet-4-5", "artisan": "claude-sonnet-4-5",
                                              "critic": "claude-sonnet-4-5"}
    assert any("GEMINI_API_KEY" in w for w in warnings) and any("OPENAI_API_KEY" in w for w in warnings)
    with pytest.raises(ConfigError, match="GEMINI_API_KEY"):  # a model the user chose must have its key
        build_request(tmp_path, tmp_path / "calc.py",
                      RunSettings(test_command="pytest -q", models=ModelChoice(librarian="gemini/gemini-2.5-flash")),
                      env={"ANTHROPIC_API_KEY": "k"})
