"""One schema for what a run may be told (issue 10, item 4): its layers, their order, one error report."""

from __future__ import annotations

import json

import pytest

from micro_agent.config import ConfigError
from micro_agent.request_builder import build_request
from micro_agent.run_settings import (DEFAULTS, BudgetLimits, ModelChoice, RunSettings, forgiving_layer, merge_layers,
                                      project_settings)

from conftest import CALC_BUGGY, cmd_for_tests, micro_agent

ENV = {"OPENAI_API_KEY": "k"}
MODELS = "models: {artisan: openai/a, librarian: openai/l, critic: openai/c}\n"


def project(tmp_path, yml: str, tiers: dict | None = None):
    (tmp_path / "calc.py").write_text(CALC_BUGGY)
    (tmp_path / "micro-agent.yml").write_text(yml)
    if tiers is not None:
        (tmp_path / "tiers.json").write_text(json.dumps(tiers))
    return tmp_path


def test_layers_merge_key_by_key_later_over_earlier():
    low = RunSettings(budget=BudgetLimits(maxCostUsd=1.0, maxIterations=9), models=ModelChoice(artisan="openai/a"))
    high = RunSettings(budget=BudgetLimits(maxCostUsd=3.0), models=ModelChoice(critic="openai/c"), mode="full")
    merged = merge_layers(DEFAULTS, low, high)
    budget = merged.budget
    assert (budget.max_cost_usd, budget.max_iterations, budget.max_duration_minutes) == (3.0, 9, 10.0)
    assert merged.models.chosen() == {"artisan": "openai/a", "critic": "openai/c"}
    assert (merged.mode, merged.simple_iterations, merged.test_timeout_seconds) == ("full", 5, 300)
    assert merge_layers(high, RunSettings()) == high  # a layer that says nothing changes nothing


def test_defaults_then_yml_then_tier_file_then_the_face(tmp_path):
    tiers = {"tiers": [{"name": "only", "mode": "simple", "maxIterations": 2, "models": {"artisan": "openai/t"}}],
             "global": {"maxTotalCostUsd": 2.0}}
    root = project(tmp_path, "test: pytest -q\nbudget: {maxCostUsd: 1.0, maxIterations: 9}\nauditDbPath: yml.db\n"
                             "testTimeoutSeconds: 60\ntierConfigFile: tiers.json\n", tiers)
    request, _ = build_request(root, root / "calc.py", env=ENV)
    assert request.budget.max_cost_usd == 2.0  # the tier file over micro-agent.yml
    assert request.budget.max_iterations == 9 and request.test_timeout_s == 60  # what the tier file leaves alone
    assert request.audit_db_path == root / "yml.db"  # the tier file does not name one
    assert [t.name for t in request.tiers] == ["only"]
    face = RunSettings(budget=BudgetLimits(maxCostUsd=3.0), test_command="make test")
    request, warnings = build_request(root, root / "calc.py", face, env=ENV)
    assert (request.budget.max_cost_usd, request.test_command) == (3.0, "make test")  # the face over both
    assert warnings == []
    assert project_settings(root / "micro-agent.yml").budget.max_cost_usd == 2.0  # what `audit` and autopilot read


def test_simple_is_a_mode_and_simple_iterations_its_count(tmp_path):
    root = project(tmp_path, "test: pytest -q\n" + MODELS + "simpleIterations: 2\n")
    request, _ = build_request(root, root / "calc.py", env=ENV)
    assert [(t.mode, t.max_iterations) for t in request.tiers] == [("simple", 2), ("full", 5)]
    request, _ = build_request(root, root / "calc.py", RunSettings(mode="simple"), env=ENV)
    assert [(t.mode, t.max_iterations) for t in request.tiers] == [("simple", 2)]  # simple mode only
    request, _ = build_request(root, root / "calc.py", RunSettings(mode="full"), env=ENV)
    assert [t.mode for t in request.tiers] == ["full"]
    request, _ = build_request(root, root / "calc.py", RunSettings(escalate=False, simple_iterations=3), env=ENV)
    assert [(t.mode, t.max_iterations) for t in request.tiers] == [("simple", 3)]


def test_the_yml_and_the_editor_spellings_are_one_schema():
    yml = RunSettings.model_validate({"test": "pytest -q", "tierConfigFile": "t.json"})
    editor = RunSettings.model_validate({"testCommand": "pytest -q", "tierConfig": "t.json"})
    assert yml == editor and yml.test_command == "pytest -q" and yml.tier_config == "t.json"


def test_a_forgiving_layer_drops_each_bad_value_and_names_it():
    layer, dropped = forgiving_layer(RunSettings, {"budget": {"maxCostUsd": -1, "maxIterations": 4},
                                                   "models": {"artisan": "not a model"}, "colour": "blue"})
    assert layer.budget == BudgetLimits(maxIterations=4) and layer.models.chosen() == {}
    assert sorted(loc for loc, _ in dropped) == [("budget", "maxCostUsd"), ("colour",), ("models", "artisan")]


def test_duplicate_tier_names_in_the_schema_are_a_problem(tmp_path):
    tier = {"name": "x", "mode": "simple", "maxIterations": 1, "models": {"artisan": "openai/a"}}
    root = project(tmp_path, "test: pytest -q\ntiers: " + json.dumps([tier, tier]) + "\n")
    with pytest.raises(ConfigError, match="used twice"):
        build_request(root, root / "calc.py", env=ENV)


def test_the_cli_reports_flag_and_file_problems_together_and_exits_2(calc_repo, cli_env):
    (calc_repo / "micro-agent.yml").write_text("budget: {maxDurationMinutes: 0}\ncolour: blue\n")
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--max-budget", "-1", "--simple", "0",
                        "--artisan", "no such model"], calc_repo, cli_env)
    assert done.returncode == 2, done.stderr
    err = " ".join(done.stderr.split())
    for expected in ("--max-budget USD: Input should be greater than 0", "--simple N:", "--artisan MODEL: model",
                     "budget.maxDurationMinutes", "colour: unknown key"):
        assert expected in err
    assert "configuration problems" in err
