"""The installed `micro-agent run` against a real git repo, real pytest and a scripted model server."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from conftest import BIN, CALC_BUGGY, CALC_FIXED, fenced, make_repo, micro_agent, cmd_for_tests

WRONG = CALC_BUGGY.replace("return a - b", "return a * b")  # still fails: add(2, 3) == 6


def run_json(args, repo, env, **kw):
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--json", *args], repo, env, **kw)
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else None
    return done, report


def no_worktrees_left(repo: Path, env) -> bool:
    listed = subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True, text=True).stdout
    return len(listed.strip().splitlines()) == 1 and not list(Path(env["TMPDIR"]).glob("micro-agent-*"))


def test_simple_bug_fixed_and_loop_stops_on_first_green(calc_repo, model_server, model, cli_env):
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [fenced(WRONG), fenced(CALC_FIXED), fenced(WRONG)])
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--artisan", artisan], calc_repo, cli_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (calc_repo / "calc.py").read_text() == CALC_FIXED
    assert len(model_server.calls(artisan.removeprefix("openai/"))) == 2  # stopped on the first green iteration
    assert "success" in done.stdout and "simple" in done.stdout
    assert no_worktrees_left(calc_repo, cli_env)
    refs = subprocess.run(["git", "for-each-ref", "refs/micro-agent/"], cwd=calc_repo, capture_output=True,
                          text=True).stdout
    assert refs.count("refs/micro-agent/") == 1  # every candidate is kept on the run's ref


def test_second_prompt_carries_first_failure_with_indentation(calc_repo, model_server, model, cli_env):
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [fenced(WRONG), fenced(CALC_FIXED)])
    done, report = run_json(["--artisan", artisan], calc_repo, cli_env)
    assert report["outcome"] == "success", done.stderr
    first, second = model_server.prompts(artisan.removeprefix("openai/"))
    assert "assert 6 == 5" in second and "assert 6 == 5" not in first
    assert ">       assert add(2, 3) == 5" in second  # pytest's traceback, indentation intact
    assert "Iteration 1: calc.py: replaced `return a - b` with `return a * b`" in second


def test_simple_mode_escalates_to_full_with_every_error(calc_repo, model_server, model, cli_env):
    artisan, librarian, critic = model("artisan"), model("librarian"), model("critic")
    wrong_twice = CALC_BUGGY.replace("return a - b", "return a - b - 1")  # add(2, 3) == -2
    model_server.script(artisan.removeprefix("openai/"),
                        [fenced(WRONG), fenced(wrong_twice), "I cannot do it.", fenced(WRONG), fenced(WRONG),
                         fenced(CALC_FIXED)])
    model_server.script(librarian.removeprefix("openai/"), ["ANALYSIS: add subtracts.\nFILES:\n"])
    model_server.script(critic.removeprefix("openai/"), ["Looks right."])
    (calc_repo / "micro-agent.yml").write_text(
        "prices:\n" + "".join(f"  {m}: {{inputPerMillion: 1.0, outputPerMillion: 2.0}}\n"
                              for m in (artisan, librarian, critic)))
    done, report = run_json(["--artisan", artisan, "--librarian", librarian, "--critic", critic],
                            calc_repo, cli_env)
    assert done.returncode == 0, done.stdout + done.stderr
    simple, full = report["tiers"]
    assert (simple["mode"], simple["iterations"], full["mode"], full["iterations"]) == ("simple", 5, "full", 1)
    assert simple["cost_usd"] > 0 and full["cost_usd"] > 0
    assert abs(report["total_cost_usd"] - simple["cost_usd"] - full["cost_usd"]) < 1e-9
    assert report["solved_by_tier"] == "full"
    (librarian_prompt,) = model_server.prompts(librarian.removeprefix("openai/"))
    for message in ("assert 6 == 5", "assert -2 == 5", "unusable reply", "repeated the current code unchanged"):
        assert message in librarian_prompt
    assert "SIMPLE MODE HISTORY (5 iterations" in librarian_prompt
    assert (calc_repo / "calc.py").read_text() == CALC_FIXED
    table = micro_agent(["audit", "runs"], calc_repo, cli_env)
    assert "success" in table.stdout


def test_no_escalate_stops_after_n_and_full_skips_simple(calc_repo, model_server, model, cli_env):
    artisan, librarian = model("artisan"), model("librarian")
    model_server.script(artisan.removeprefix("openai/"), [fenced(WRONG)])
    model_server.script(librarian.removeprefix("openai/"), ["ANALYSIS: none\nFILES:"])
    done, report = run_json(["--artisan", artisan, "--librarian", librarian, "--simple", "2", "--no-escalate"],
                            calc_repo, cli_env)
    assert done.returncode == 1 and report["outcome"] == "failed"
    assert len(model_server.calls(artisan.removeprefix("openai/"))) == 2
    assert model_server.calls(librarian.removeprefix("openai/")) == []
    assert (calc_repo / "calc.py").read_text() == CALC_BUGGY

    critic = model("critic")
    model_server.script(critic.removeprefix("openai/"), ["fine"])
    model_server.script(artisan.removeprefix("openai/"), [fenced(CALC_FIXED)])
    done, report = run_json(["--artisan", artisan, "--librarian", librarian, "--critic", critic, "--full"],
                            calc_repo, cli_env)
    assert done.returncode == 0, done.stderr
    assert [t["mode"] for t in report["tiers"]] == ["full"]
    order = [r["model"] for r in model_server.calls() if r["model"] in {m.removeprefix("openai/")
                                                                        for m in (artisan, librarian, critic)}]
    assert order[-3:] == [m.removeprefix("openai/") for m in (librarian, artisan, critic)]


def test_simple_3_escalates_exactly_after_iteration_3(calc_repo, model_server, model, cli_env):
    artisan, librarian, critic = model("artisan"), model("librarian"), model("critic")
    model_server.script(artisan.removeprefix("openai/"), [fenced(WRONG)] * 3 + [fenced(CALC_FIXED)])
    model_server.script(librarian.removeprefix("openai/"), ["ANALYSIS: a\nFILES:"])
    model_server.script(critic.removeprefix("openai/"), ["ok"])
    done, report = run_json(["--artisan", artisan, "--librarian", librarian, "--critic", critic, "--simple", "3"],
                            calc_repo, cli_env)
    assert done.returncode == 0, done.stderr
    assert [t["iterations"] for t in report["tiers"]] == [3, 1]
    names = [r["model"] for r in model_server.calls()]
    first_librarian = names.index(librarian.removeprefix("openai/"))
    assert names[:first_librarian].count(artisan.removeprefix("openai/")) >= 3
    assert "SIMPLE MODE HISTORY (3 iterations" in model_server.prompts(librarian.removeprefix("openai/"))[0]


def test_budget_exhausted_exits_3_without_escalation(calc_repo, model_server, model, cli_env):
    artisan, librarian = model("artisan"), model("librarian")
    model_server.script(artisan.removeprefix("openai/"), [{"content": fenced(WRONG), "completion_tokens": 1000}])
    model_server.script(librarian.removeprefix("openai/"), ["ANALYSIS: x\nFILES:"])
    (calc_repo / "micro-agent.yml").write_text(
        f"prices:\n  {artisan}: {{inputPerMillion: 1000, outputPerMillion: 1000}}\n")
    done, report = run_json(["--artisan", artisan, "--librarian", librarian, "--max-budget", "0.5"],
                            calc_repo, cli_env)
    assert done.returncode == 3, done.stdout + done.stderr
    assert report["outcome"] == "budget_exhausted"
    assert model_server.calls(librarian.removeprefix("openai/")) == []
    assert (calc_repo / "calc.py").read_text() == CALC_BUGGY


def test_budget_spent_at_hand_off_says_so(calc_repo, model_server, model, cli_env):
    artisan, librarian = model("artisan"), model("librarian")
    model_server.script(artisan.removeprefix("openai/"), [fenced(WRONG)])
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--artisan", artisan, "--librarian", librarian,
                        "--simple", "2", "--max-iterations", "2"], calc_repo, cli_env)
    assert done.returncode == 3
    assert "Budget exhausted before escalation could start" in done.stdout
    assert model_server.calls(librarian.removeprefix("openai/")) == []


def test_tests_already_passing_means_no_model_call(calc_repo, model_server, model, cli_env):
    (calc_repo / "calc.py").write_text(CALC_FIXED)
    artisan = model("artisan")
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--artisan", artisan], calc_repo, cli_env)
    assert done.returncode == 0
    assert "already pass" in done.stdout
    assert model_server.calls(artisan.removeprefix("openai/")) == []


def test_broken_test_command_stops_before_any_model_call(calc_repo, model_server, model, cli_env):
    artisan = model("artisan")
    done = micro_agent(["run", "calc.py", "-t", "no-such-test-runner --quick", "--artisan", artisan],
                       calc_repo, cli_env)
    assert done.returncode == 2
    assert "no-such-test-runner --quick" in done.stdout and "not found" in done.stdout
    (calc_repo / "tests" / "test_other.py").write_text("import numpy_is_not_installed\n\ndef test_x():\n    pass\n")
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests("tests/test_other.py"), "--artisan", artisan],
                       calc_repo, cli_env)
    assert done.returncode == 2, done.stdout
    assert "numpy_is_not_installed" in done.stdout
    assert model_server.calls(artisan.removeprefix("openai/")) == []


def test_reply_without_code_is_a_failed_iteration(calc_repo, model_server, model, cli_env):
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), ["Sorry, I am not sure what to do.", fenced(CALC_FIXED)])
    done, report = run_json(["--artisan", artisan], calc_repo, cli_env)
    assert done.returncode == 0, done.stderr
    assert report["tiers"][0]["iterations"] == 2
    second = model_server.prompts(artisan.removeprefix("openai/"))[1]
    assert "unusable reply: the reply held no fenced code block" in second


def test_ctrl_c_during_model_call_exits_130_and_cleans_up(calc_repo, model_server, model, cli_env):
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [{"content": fenced(CALC_FIXED), "delay": 30}])
    process = subprocess.Popen([str(BIN / "micro-agent"), "run", "calc.py", "-t", cmd_for_tests(), "--artisan",
                                artisan], cwd=calc_repo, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 60
    while not model_server.calls(artisan.removeprefix("openai/")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert model_server.calls(artisan.removeprefix("openai/")), "the model was never called"
    interrupted_at = time.monotonic()
    process.send_signal(signal.SIGINT)
    process.wait(timeout=20)
    assert process.returncode == 130
    assert time.monotonic() - interrupted_at < 5
    assert (calc_repo / "calc.py").read_text() == CALC_BUGGY
    assert no_worktrees_left(calc_repo, cli_env)


def test_full_mode_shows_imported_file(tmp_path, model_server, model, cli_env):
    repo = make_repo(tmp_path / "pkgproj", {
        "conftest.py": "",
        "shop/__init__.py": "",
        "shop/rates.py": "TAX_RATE_PERCENT = 20  # the shop's VAT\n",
        "shop/price.py": "from shop.rates import TAX_RATE_PERCENT\n\n\ndef gross(net):\n    return net * TAX_RATE_PERCENT\n",
        "tests/test_price.py": "from shop.price import gross\n\n\ndef test_gross():\n    assert gross(100) == 120\n",
    })
    artisan, librarian, critic = model("artisan"), model("librarian"), model("critic")
    fixed = "from shop.rates import TAX_RATE_PERCENT\n\n\ndef gross(net):\n    return net * (100 + TAX_RATE_PERCENT) / 100\n"
    model_server.script(artisan.removeprefix("openai/"), [fenced(fixed)])
    model_server.script(librarian.removeprefix("openai/"), ["ANALYSIS: the rate is a percentage.\nFILES:\nshop/rates.py"])
    model_server.script(critic.removeprefix("openai/"), ["ok"])
    done = micro_agent(["run", "shop/price.py", "-t", cmd_for_tests("tests/test_price.py"), "--full",
                        "--artisan", artisan, "--librarian", librarian, "--critic", critic], repo, cli_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "TAX_RATE_PERCENT = 20  # the shop's VAT" in model_server.prompts(librarian.removeprefix("openai/"))[0]
    assert "TAX_RATE_PERCENT = 20  # the shop's VAT" in model_server.prompts(artisan.removeprefix("openai/"))[0]
    assert "the rate is a percentage" in model_server.prompts(artisan.removeprefix("openai/"))[0]


def test_unreachable_provider_and_bad_key_are_one_clear_line(calc_repo, model_server, model, cli_env):
    artisan = model("artisan")
    env = {**cli_env, "OPENAI_API_BASE": "http://127.0.0.1:9/v1"}
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--artisan", artisan, "--no-escalate"],
                       calc_repo, env)
    assert done.returncode == 2, done.stdout
    assert f"{artisan}: provider unreachable at http://127.0.0.1:9/v1" in done.stdout
    model_server.script(artisan.removeprefix("openai/"), [{"status": 401, "content": "Incorrect API key provided"}])
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--artisan", artisan, "--no-escalate"],
                       calc_repo, cli_env)
    assert done.returncode == 2
    assert f"{artisan}: the API key was refused" in done.stdout
    assert (calc_repo / "calc.py").read_text() == CALC_BUGGY


def test_missing_api_key_is_named_before_the_loop(calc_repo, cli_env):
    env = {k: v for k, v in cli_env.items() if k != "ANTHROPIC_API_KEY"}
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--artisan", "claude-sonnet-4-5"], calc_repo, env)
    assert done.returncode == 2
    assert "ANTHROPIC_API_KEY" in done.stderr


def test_config_errors_are_reported_together(calc_repo, cli_env):
    (calc_repo / "micro-agent.yml").write_text("budget: {maxCostUsd: -1, maxIterations: zero}\ncolour: blue\n")
    done = micro_agent(["run", "calc.py", "--artisan", "openai/x"], calc_repo, cli_env)
    assert done.returncode == 2
    for fragment in ("budget.maxCostUsd", "budget.maxIterations", "colour: unknown key"):
        assert fragment in done.stderr


def test_dry_run_prints_diff_and_leaves_file(calc_repo, model_server, model, cli_env):
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [fenced(CALC_FIXED)])
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--artisan", artisan, "--dry-run"],
                       calc_repo, cli_env)
    assert done.returncode == 0, done.stderr
    assert "-    return a - b" in done.stdout and "+    return a + b" in done.stdout
    assert (calc_repo / "calc.py").read_text() == CALC_BUGGY


def test_a_failing_critic_never_blocks_a_passing_candidate(calc_repo, model_server, model, cli_env):
    artisan, librarian, critic = model("artisan"), model("librarian"), model("critic")
    model_server.script(artisan.removeprefix("openai/"), [fenced(CALC_FIXED)])
    model_server.script(librarian.removeprefix("openai/"), ["ANALYSIS: add subtracts.\nFILES:"])
    model_server.script(critic.removeprefix("openai/"), [{"status": 401, "content": "Incorrect API key"}])
    done, report = run_json(["--full", "--artisan", artisan, "--librarian", librarian, "--critic", critic],
                            calc_repo, cli_env)
    assert done.returncode == 0 and report["outcome"] == "success", done.stdout + done.stderr
    assert len(model_server.calls(critic.removeprefix("openai/"))) == 1  # the critic was asked, and failed
    assert (calc_repo / "calc.py").read_text() == CALC_FIXED


def test_version_is_printed_on_stdout(tmp_path, cli_env):
    """`--version` looks the version up only when asked (not at every start), and prints it as argparse does."""
    from importlib.metadata import version

    done = micro_agent(["--version"], tmp_path, cli_env)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout == f"micro-agent {version('micro-agent')}\n"
