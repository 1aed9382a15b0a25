"""`micro-agent eval`: Ctrl-C keeps finished results, the eval-wide budget cap, suite and flag errors, the importer."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import BIN, micro_agent
from eval_support import fixer, prices_config, tier_file, write_suite


def bare(model: str) -> str:
    return model.removeprefix("openai/")


def test_ctrl_c_stops_cleanly_and_keeps_finished_results(model_server, model, cli_env, tmp_path):
    names = ["alpha", "beta", "gamma"]
    suite = write_suite(tmp_path / "suite", names)
    m = model("artisan")
    model_server.script(bare(m), [fixer({"alpha": 1, "beta": 1, "gamma": 1}, names, delay={"beta": 60})])
    exe = shutil.which("micro-agent", path=str(BIN))
    proc = subprocess.Popen([exe, "eval", str(suite), "--artisan", m, "--json", "--report", str(tmp_path / "out")],
                            cwd=tmp_path, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any("TASK beta" in p for p in model_server.prompts(bare(m))):  # beta's call hangs for 60 s
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - started < 30, "Ctrl-C must not wait for the hanging model call"
    assert proc.returncode == 130, err
    assert "Interrupted" in err
    written = json.loads((tmp_path / "out" / "report.json").read_text())
    assert written == json.loads(out)
    assert written["interrupted"] is True
    assert [(r["task"], r["solved"]) for r in written["results"]] == [("alpha", True)]
    assert {(n["task"], n["reason"]) for n in written["not_run"]} == {("beta", "interrupted"), ("gamma", "interrupted")}
    assert written["summaries"][0]["tasks"] == 1 and written["summaries"][0]["solve_rate"] == 1.0
    assert not any("TASK gamma" in p for p in model_server.prompts(bare(m))), "no task starts after Ctrl-C"
    assert "alpha" in (tmp_path / "out" / "index.html").read_text()


def test_budget_cap_holds_over_the_whole_eval(model_server, model, cli_env, tmp_path):
    """cap $0.0145: alpha $0.001, beta $0.012 (total 0.013); delta's second call takes it to 0.015, which stops it."""
    names = ["alpha", "beta", "delta", "gamma"]
    suite = write_suite(tmp_path / "suite", names)
    cheap, strong = model("cheap"), model("strong")
    model_server.script(bare(cheap), [fixer({"alpha": 1}, names)])
    model_server.script(bare(strong), [fixer({"beta": 1, "delta": 2}, names)])
    config = prices_config(tmp_path / "eval.yml", {cheap: 0.001, strong: 0.01})
    tiers = tier_file(tmp_path / "tiers.json", [("cheap", cheap, 2), ("strong", strong, 2)])
    done = micro_agent(["eval", str(suite), "--tier-config", str(tiers), "--config", str(config),
                        "--max-budget", "0.0145", "--json"], tmp_path, cli_env, timeout=300)
    assert done.returncode == 3, done.stderr
    report = json.loads(done.stdout)
    assert [(r["task"], r["solved"]) for r in report["results"]] == [("alpha", True), ("beta", True)]
    assert {(n["task"], n["reason"]) for n in report["not_run"]} == {("delta", "budget"), ("gamma", "budget")}
    assert report["spent_usd"] == pytest.approx(0.015, abs=1e-9)  # past the cap by at most the call in flight
    assert report["summaries"][0]["total_cost_usd"] == pytest.approx(0.013, abs=1e-9)  # only finished tasks count
    assert not any("TASK gamma" in p for p in model_server.prompts())


def test_suite_problems_are_reported_together_before_any_model_call(model_server, cli_env, tmp_path):
    suite = write_suite(tmp_path / "suite", ["alpha"])
    (suite / "broken").mkdir()
    (suite / "broken" / "task.yml").write_text("target: missing.py\ntests: pytest\n")
    (suite / "other").mkdir()
    (suite / "other" / "task.yml").write_text("target: [not, a, path]\ntest: pytest\n")
    calls = len(model_server.calls())
    done = micro_agent(["eval", str(suite), "--artisan", "openai/whatever", "--json"], tmp_path, cli_env)
    assert done.returncode == 2 and done.stdout == ""
    assert "broken/task.yml: tests: unknown key" in done.stderr
    assert "broken/task.yml: test: required key is missing" in done.stderr
    assert "other/task.yml: target:" in done.stderr
    assert len(model_server.calls()) == calls


def test_config_problems_name_every_bad_flag(cli_env, tmp_path):
    suite = write_suite(tmp_path / "suite", ["alpha"])
    env = {k: v for k, v in cli_env.items() if k != "ANTHROPIC_API_KEY"}
    done = micro_agent(["eval", str(suite), "--compare", "nonsense", "--compare", "x=single:bad model",
                        "--compare", "y=model:claude-sonnet-4-5", "--jobs", "0", "--tier-config", "nope.json"],
                       tmp_path, env)
    assert done.returncode == 2
    err = done.stderr
    assert "--compare 'nonsense': write NAME=SPEC" in err
    assert "must not contain spaces" in err
    assert "ANTHROPIC_API_KEY" in err
    assert "--jobs N: N must be at least 1" in err
    assert "nope.json: file not found" in err


def _rows() -> list[dict]:
    return [
        {"task_id": "Python/0", "entry_point": "add_one", "bug_type": "value misuse",
         "declaration": "def add_one(x: int) -> int:\n",
         "buggy_solution": "    return x + 2\n", "canonical_solution": "    return x + 1\n",
         "test": "\n\nMETADATA = {}\n\n\ndef check(candidate):\n    assert candidate(1) == 2\n    assert candidate(-1) == 0\n\ncheck(add_one)\n"},
        {"task_id": "Python/1", "entry_point": "longest",
         "declaration": "from typing import List\n\n\ndef longest(words: List[str]) -> str:\n",
         "buggy_solution": "    return min(words, key=len)\n", "canonical_solution": "    return max(words, key=len)\n",
         "test": "def check(candidate):\n    assert candidate(['a', 'abc', 'ab']) == 'abc'\n"},
        {"task_id": "JavaScript/0", "entry_point": "addOne", "declaration": "const addOne = (x) => {\n",
         "buggy_solution": "  return x + 2\n}\n", "test": "console.assert(addOne(1) === 2)\n"},
    ]


def test_humanevalpack_import_makes_sound_suite_folders(cli_env, tmp_path):
    source = tmp_path / "humanevalpack.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in _rows()) + "\n")
    out = tmp_path / "suite"
    done = micro_agent(["eval", "import-humanevalpack", str(source), str(out), "--python", sys.executable],
                       tmp_path, cli_env)
    assert done.returncode == 0, done.stderr
    assert "Imported 2 task(s)" in done.stdout and "skipped 1" in done.stdout
    assert "JavaScript/0: JavaScript rows are not imported yet" in done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["Python_0", "Python_1"]
    task = (out / "Python_0" / "task.yml").read_text()
    assert "target: solution.py" in task and "reference: reference.py" in task and "value-misuse" in task
    assert (out / "Python_0" / "solution.py").read_text() == "def add_one(x: int) -> int:\n    return x + 2\n"
    test_text = (out / "Python_0" / "test_solution.py").read_text()
    assert "\ncheck(add_one)\n" not in test_text and "def test_add_one():\n    check(add_one)" in test_text
    # the imported tests fail on the buggy solution and pass on the canonical one, under real pytest
    check = micro_agent(["eval", "check", str(out)], tmp_path, cli_env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "2/2 task(s) sound" in check.stdout


def test_humanevalpack_import_lists_every_bad_line(cli_env, tmp_path):
    source = tmp_path / "rows.jsonl"
    source.write_text(json.dumps(_rows()[0]) + "\nnot json\n" + json.dumps({"task_id": "Python/9"}) + "\n")
    done = micro_agent(["eval", "import-humanevalpack", str(source), str(tmp_path / "out")], tmp_path, cli_env)
    assert done.returncode == 2
    assert "rows.jsonl:2: not a JSON object" in done.stderr
    assert "rows.jsonl:3: not a HumanEvalPack row (check declaration, buggy_solution, test, entry_point)" in done.stderr
    assert not (tmp_path / "out").exists(), "nothing is written when a line is bad"


def test_check_flags_a_task_whose_reference_fails(cli_env, tmp_path):
    suite = write_suite(tmp_path / "suite", ["alpha", "beta"])
    (suite / "beta" / "reference.py").write_text('"""TASK beta"""\n\n\ndef value():\n    return 3\n')
    done = micro_agent(["eval", "check", str(suite)], tmp_path, cli_env)
    assert done.returncode == 1
    assert "ok  alpha" in done.stdout and "BAD beta" in done.stdout and "reference FAILS" in done.stdout


EXAMPLE_SUITE = Path(__file__).resolve().parents[2] / "examples" / "eval-suite"


def test_example_suite_is_solved_by_a_model_that_answers_with_the_references(model_server, model, cli_env, tmp_path,
                                                                              js_tools):
    """Every shipped task (Python, JavaScript, TypeScript, Rust) fails as shipped, and its reference passes the
    eval's re-check. The TypeScript tasks find vitest in a node_modules above the --work-dir their repos go in."""
    if not shutil.which("cargo") or not shutil.which("node"):
        pytest.skip("the example suite needs node and cargo on PATH")
    from micro_agent_eval.suite import load_suite

    tasks = load_suite(EXAMPLE_SUITE)
    assert 10 <= len(tasks) <= 20
    assert {t.spec.tags[0] for t in tasks} == {"python", "javascript", "typescript", "rust"}
    work = tmp_path / "work"
    work.mkdir()
    (work / "node_modules").symlink_to(js_tools)
    answers = {t.files()[t.spec.target].decode(): (t.folder / t.spec.reference).read_text() for t in tasks}

    def reference(request: dict) -> str:
        return next(f"```\n{fixed}```\n" for buggy, fixed in answers.items() if buggy in request["prompt"])

    m = model("reference")
    model_server.script(bare(m), [reference])
    env = {**cli_env, "PATH": f"{BIN}{os.pathsep}{cli_env['PATH']}"}  # `python -m pytest` finds this venv's pytest
    done = micro_agent(["eval", str(EXAMPLE_SUITE), "--compare", f"ref=single:{m}", "--jobs", "2",
                        "--work-dir", str(work), "--report", str(tmp_path / "out")], tmp_path, {**env, "COLUMNS": "160"}, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    table_row = next(line for line in done.stdout.splitlines() if line.strip("│ ").startswith("ref "))
    assert f"{len(tasks)}/{len(tasks)}" in table_row and "100%" in table_row, done.stdout
    assert f"{len(tasks)} solved · 0 failed · 0 running" in done.stderr, "the progress line"
    unsolved = [(r["task"], r["message"]) for r in report["results"] if not r["solved"]]
    assert unsolved == []
    assert report["summaries"][0]["solved"] == len(tasks)
    assert all(r["iterations"] == 1 and r["model_calls"] == 1 for r in report["results"])
