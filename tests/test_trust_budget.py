"""Issue 9, items 6 and 7, end to end through the real CLI, a real git repo, real pytest and the scripted
HTTP model server, on both call paths (the direct OpenAI-compatible client and litellm):

6. the budget holds during a call: a provider that never answers ends a 0.2-minute run in about 12 s, exit 3;
7. one transient provider error (503, a dropped connection) is retried before it ends a tier; auth errors and
   unknown models fail at once.
"""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from conftest import CALC_BUGGY, CALC_FIXED, cmd_for_tests, fenced, micro_agent


@pytest.fixture(params=["direct", "litellm"])
def path_env(request, cli_env):
    return {**cli_env, "MICRO_AGENT_OPENAI_DIRECT": "1" if request.param == "direct" else "0"}


def test_a_provider_that_never_answers_ends_with_the_time_budget(calc_repo, model_server, model, path_env):
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [{"content": "never", "delay": 120}])
    started = time.monotonic()
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--artisan", artisan, "--max-duration", "0.2",
                        "--json"], calc_repo, path_env, timeout=60)
    took = time.monotonic() - started
    report = json.loads(done.stdout)
    assert done.returncode == 3, done.stdout + done.stderr
    assert report["outcome"] == "budget_exhausted"
    assert "time limit reached: 0.2 min" in report["message"] and f"{artisan} was still answering" in report["message"]
    assert 11 <= took <= 25, took  # the 12 s budget, not the 180 s call timeout (the box is loaded: generous)
    assert (calc_repo / "calc.py").read_text() == CALC_BUGGY
    with sqlite3.connect(calc_repo / ".micro-agent" / "audit.db") as db:  # the cut iteration is recorded
        (errors,), = db.execute("SELECT error_messages FROM tier_attempts WHERE run_id = ?", (report["run_id"],))
    assert "time limit reached" in json.loads(errors)[0]


@pytest.mark.parametrize("hiccup", [{"status": 503, "content": "overloaded"}, {"drop": True}],
                         ids=["http-503", "dropped-connection"])
def test_one_transient_provider_error_is_retried(calc_repo, model_server, model, path_env, hiccup):
    artisan = model("artisan")
    served = artisan.removeprefix("openai/")
    model_server.script(served, [hiccup, fenced(CALC_FIXED)])
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--artisan", artisan, "--no-escalate", "--json"],
                       calc_repo, path_env)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["outcome"] == "success" and report["total_iterations"] == 1
    assert len(model_server.calls(served)) == 2
    assert (calc_repo / "calc.py").read_text() == CALC_FIXED


@pytest.mark.parametrize("status,said", [(401, "the API key was refused"), (404, "no such model")])
def test_auth_errors_and_unknown_models_fail_at_once(calc_repo, model_server, model, path_env, status, said):
    artisan = model("artisan")
    served = artisan.removeprefix("openai/")
    model_server.script(served, [{"status": status, "content": "nope"}, fenced(CALC_FIXED)])
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--artisan", artisan, "--no-escalate"],
                       calc_repo, path_env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{artisan}: {said}" in done.stdout
    assert len(model_server.calls(served)) == 1  # no retry
    assert (calc_repo / "calc.py").read_text() == CALC_BUGGY
