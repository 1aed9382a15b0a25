"""N-tier escalation and the audit log, through the installed command (issue 3's acceptance list)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time

from conftest import CALC_BUGGY, CALC_FIXED, cmd_for_tests, fenced, make_repo, micro_agent

WRONG = CALC_BUGGY.replace("return a - b", "return a * b")


def write_tiers(repo, tiers, **global_):
    path = repo / "tiers.json"
    path.write_text(json.dumps({"tiers": tiers, "global": global_}))
    return path


def tier(name, artisan, iterations=2, mode="simple", **models):
    return {"name": name, "mode": mode, "maxIterations": iterations, "models": {"artisan": artisan, **models}}


def run(repo, env, *extra, tiers="tiers.json"):
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--tier-config", tiers, "--json", *extra], repo, env)
    return done, (json.loads(done.stdout) if done.stdout.startswith("{") else None)


def names(*models):
    return [m.removeprefix("openai/") for m in models]


def db_rows(repo, sql, *args):
    with sqlite3.connect(repo / ".micro-agent" / "audit.db") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, args)]


def test_single_local_tier_solves_at_zero_cost(calc_repo, model_server, model, cli_env):
    local, other = model("local"), model("other")
    model_server.script(names(local)[0], [fenced(CALC_FIXED)])
    model_server.script(names(other)[0], [fenced(CALC_FIXED)])
    write_tiers(calc_repo, [tier("local-free", local, 3)])
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--tier-config", "tiers.json"], calc_repo, cli_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "$0.0000" in done.stdout and "local-free" in done.stdout
    assert {r["model"] for r in model_server.calls() if r["model"] in names(local, other)} == {names(local)[0]}
    assert (calc_repo / "calc.py").read_text() == CALC_FIXED


def test_three_tiers_tier_two_solves_with_tier_one_history(calc_repo, model_server, model, cli_env):
    t1, t2, t3 = model("t1"), model("t2"), model("t3")
    model_server.script(names(t1)[0], [fenced(WRONG)])
    model_server.script(names(t2)[0], [fenced(CALC_FIXED)])
    model_server.script(names(t3)[0], [fenced(CALC_FIXED)])
    (calc_repo / "micro-agent.yml").write_text(
        "prices:\n" + "".join(f"  {m}: {{inputPerMillion: 1.0, outputPerMillion: 1.0}}\n" for m in (t1, t2, t3)))
    write_tiers(calc_repo, [tier("local-free", t1, 2), tier("mid-grade", t2, 3),
                            tier("power", t3, 2, mode="full")], maxTotalCostUsd=2.0)
    done, report = run(calc_repo, cli_env)
    assert done.returncode == 0, done.stderr
    assert model_server.calls(names(t3)[0]) == []
    (first_t2_prompt,) = model_server.prompts(names(t2)[0])
    assert "=== TIER 1 FAILURES: local-free (2 iterations) ===" in first_t2_prompt
    assert "assert 6 == 5" in first_t2_prompt
    assert [(t["name"], t["iterations"]) for t in report["tiers"]] == [("local-free", 2), ("mid-grade", 1),
                                                                       ("power", 0)]
    assert report["tiers"][0]["cost_usd"] > 0 and report["tiers"][1]["cost_usd"] > 0
    assert report["solved_by_tier"] == "mid-grade"
    table = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--tier-config", "tiers.json"], calc_repo, cli_env)
    assert "already pass" in table.stdout


def test_tier_three_gets_both_summaries_capped_at_4000(tmp_path, model_server, model, cli_env):
    noisy_tests = "from calc import add\nimport pytest\n\n\n@pytest.mark.parametrize('i', range(8))\n" \
                  "def test_case(i):\n    assert add(i, 1) == i + 1, f'case {i}: ' + 'the sum is wrong ' * 12\n"
    repo = make_repo(tmp_path / "noisy", {"calc.py": CALC_BUGGY, "tests/test_calc.py": noisy_tests,
                                          "conftest.py": ""})
    t1, t2, t3 = model("t1"), model("t2"), model("t3")
    wrongs = [CALC_BUGGY.replace("return a - b", f"return a - b + {k}") for k in (10, 20, 30)]
    model_server.script(names(t1)[0], [fenced(w) for w in wrongs])
    model_server.script(names(t2)[0], [fenced(WRONG)])
    model_server.script(names(t3)[0], [fenced(CALC_FIXED)])
    write_tiers(repo, [tier("local", t1, 3), tier("mid", t2, 1), tier("power", t3, 1)])
    done, report = run(repo, cli_env)
    assert report["solved_by_tier"] == "power", done.stdout + done.stderr
    (prompt,) = model_server.prompts(names(t3)[0])
    history = prompt.split("## What earlier tiers tried and why it failed\n", 1)[1].split("\n\n## ", 1)[0]
    history = history.split("\n\nReply with the whole corrected", 1)[0]
    assert len(history) <= 4000
    assert "[truncated]" in history
    assert history.index("=== TIER 1 FAILURES: local (3 iterations) ===") < history.index("[truncated]")
    tier2 = history[history.index("=== TIER 2 FAILURES: mid (1 iterations) ==="):]
    assert "[truncated]" not in tier2 and "Unique error messages:" in tier2  # the newest tier is kept whole


def test_budget_exhausted_in_tier_one(calc_repo, model_server, model, cli_env):
    t1, t2 = model("t1"), model("t2")
    model_server.script(names(t1)[0], [{"content": fenced(WRONG), "prompt_tokens": 1000, "completion_tokens": 0}])
    model_server.script(names(t2)[0], [fenced(CALC_FIXED)])
    (calc_repo / "micro-agent.yml").write_text(f"prices:\n  {t1}: {{inputPerMillion: 100, outputPerMillion: 0}}\n")
    write_tiers(calc_repo, [tier("t1", t1, 5), tier("t2", t2, 5)], maxTotalCostUsd=0.25)
    done, report = run(calc_repo, cli_env)
    assert done.returncode == 3 and report["outcome"] == "budget_exhausted", done.stdout + done.stderr
    assert model_server.calls(names(t2)[0]) == []
    (run_row,) = db_rows(calc_repo, "SELECT * FROM runs")
    assert run_row["outcome"] == "budget_exhausted"
    attempts = db_rows(calc_repo, "SELECT * FROM tier_attempts ORDER BY id")
    assert [a["iteration"] for a in attempts] == [1, 2, 3]  # $0.10 a call: the 4th would pass $0.25
    assert (calc_repo / "calc.py").read_text() == CALC_BUGGY


def test_invalid_tier_config_reports_every_fault_at_once(calc_repo, model_server, model, cli_env):
    t1 = model("t1")
    write_tiers(calc_repo, [{"name": "a", "mode": "medium", "maxIterations": 0, "models": {"artisan": t1}},
                            {"name": "b", "mode": "simple", "maxIterations": 101, "models": {"artisan": "bad model"}},
                            {"name": "c", "mode": "full", "maxIterations": 2}], maxTotalCostUsd=-1)
    before = len(model_server.calls())
    done, _ = run(calc_repo, cli_env)
    assert done.returncode == 2
    for fragment in ("tiers[0].mode", "tiers[0].maxIterations", "tiers[1].maxIterations",
                     "tiers[1].models.artisan", "tiers[2].models: required key is missing", "global.maxTotalCostUsd"):
        assert fragment in done.stderr
    assert "tiers.json" in done.stderr
    assert len(model_server.calls()) == before


def test_provider_down_in_tier_one_moves_on_within_seconds(calc_repo, model_server, model, cli_env):
    t2 = model("t2")
    model_server.script(names(t2)[0], [fenced(CALC_FIXED)])
    write_tiers(calc_repo, [tier("local", "ollama/qwen2.5-coder", 5), tier("cloud", t2, 2)])
    env = {**cli_env, "OLLAMA_API_BASE": "http://127.0.0.1:9"}
    started = time.monotonic()
    done, report = run(calc_repo, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert report["solved_by_tier"] == "cloud" and report["tiers"][0]["iterations"] == 1
    assert time.monotonic() - started < 30
    (attempt,) = db_rows(calc_repo, "SELECT * FROM tier_attempts WHERE tier_name = 'local'")
    assert attempt["test_status"] == "error" and "ollama/qwen2.5-coder" in attempt["error_messages"]
    (escalation,) = db_rows(calc_repo, "SELECT * FROM escalations")
    assert "model unavailable" in escalation["reason"]


def test_every_iteration_lands_in_the_audit_log(calc_repo, model_server, model, cli_env):
    t1, t2 = model("t1"), model("t2")
    model_server.script(names(t1)[0], [fenced(WRONG)])
    model_server.script(names(t2)[0], ["no code here", fenced(CALC_FIXED)])
    write_tiers(calc_repo, [tier("first", t1, 2), tier("second", t2, 3)])
    done, report = run(calc_repo, cli_env)
    assert done.returncode == 0, done.stderr
    attempts = db_rows(calc_repo, "SELECT * FROM tier_attempts ORDER BY id")
    assert [(a["tier_name"], a["iteration"], a["test_status"]) for a in attempts] == [
        ("first", 1, "failed"), ("first", 2, "error"), ("second", 1, "error"), ("second", 2, "passed")]
    first = attempts[0]
    assert first["model"] == t1 and first["tier_mode"] == "simple" and first["tier_index"] == 0
    assert "return a * b" in first["code_change_summary"]
    assert json.loads(first["failed_tests"]) == ["tests/test_calc.py::test_add"]
    assert any("assert 6 == 5" in m for m in json.loads(first["error_messages"]))
    assert first["duration_ms"] > 0 and first["cost_usd"] == 0
    assert all(a["run_id"] == report["run_id"] for a in attempts)
    (calc_repo / "calc.py").write_text(CALC_BUGGY)
    run(calc_repo, cli_env)
    runs = db_rows(calc_repo, "SELECT * FROM runs ORDER BY started_at")
    assert len(runs) == 2 and runs[0]["solved_by_tier"] == "second" and runs[0]["total_iterations"] == 4


def test_locked_audit_db_warns_and_the_run_succeeds(calc_repo, model_server, model, cli_env):
    t1 = model("t1")
    model_server.script(names(t1)[0], [fenced(CALC_FIXED)])
    write_tiers(calc_repo, [tier("only", t1, 2)])
    (calc_repo / ".micro-agent").mkdir()
    locker = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('CREATE TABLE IF NOT EXISTS hold (x)')\n"
        "c.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n"), str(calc_repo / ".micro-agent" / "audit.db")], stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        done, report = run(calc_repo, cli_env)
    finally:
        locker.kill()
    assert done.returncode == 0 and report["outcome"] == "success"
    assert done.stderr.count("audit log") == 1 and "the run goes on" in done.stderr


def test_unsolvable_two_tiers_exit_1_and_audit_show_has_history(calc_repo, model_server, model, cli_env):
    t1, t2 = model("t1"), model("t2")
    model_server.script(names(t1)[0], [fenced(WRONG)])
    model_server.script(names(t2)[0], [fenced(CALC_BUGGY.replace("return a - b", "return b - a"))])
    write_tiers(calc_repo, [tier("cheap", t1, 2), tier("strong", t2, 2)])
    done, report = run(calc_repo, cli_env)
    assert done.returncode == 1 and report["outcome"] == "failed"
    assert (calc_repo / "calc.py").read_text() == CALC_BUGGY
    shown = micro_agent(["audit", "show", report["run_id"][:8]], calc_repo, cli_env)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    for fragment in ("cheap", "strong", t1, t2, "assert 6 == 5", "assert 1 == 5", "+    return a * b",
                     "+    return b - a", "failed"):
        assert fragment in out
