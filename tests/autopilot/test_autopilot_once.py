"""`micro-agent autopilot once` end to end: real repo, real bare remote, recording forge, scripted model."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time

from autopilot_support import (BIN_MICRO_AGENT, CALC_FIXED, REPO, STATS_FIXED, TOKEN, artisan,  # noqa: F401
                               checkout_state, env_for, forge, git, make_project, micro_agent, slow_artisan)


def once(root, env, *extra):
    done = micro_agent(["autopilot", "once", "--json", *extra], root, env, timeout=240)
    assert done.stdout.strip().startswith("{"), done.stdout + done.stderr
    return done, json.loads(done.stdout)


def test_two_bugs_become_two_pull_requests_and_the_checkout_is_untouched(tmp_path, forge, artisan, cli_env):
    root, remote = make_project(tmp_path, artisan, forge.url)
    env = env_for(cli_env)
    before = checkout_state(root)

    done, report = once(root, env)

    assert done.returncode == 0, done.stderr
    assert checkout_state(root) == before
    assert sorted((j["target"], j["outcome"]) for j in report["jobs"]) == [
        ("src/calc.py", "proposed"), ("src/stats.py", "proposed")]
    by_target = {j["target"]: j for j in report["jobs"]}
    assert by_target["src/stats.py"]["tests"] == ["tests/test_report.py::test_mean_of_one",
                                                  "tests/test_report.py::test_mean_of_two"]
    main = git(remote, "rev-parse", "main").strip()
    for target, fixed in (("src/calc.py", CALC_FIXED), ("src/stats.py", STATS_FIXED)):
        job = by_target[target]
        slug = target.replace("/", "-").replace(".", "-")
        assert job["branch"] == f"micro-agent/{slug}-{job['run_id'][:8]}"
        # pushed: one commit on top of main, touching only the target
        assert git(remote, "rev-parse", f"{job['branch']}^").strip() == main
        assert git(remote, "diff", "--name-only", main, job["branch"]).split() == [target]
        assert git(remote, "show", f"{job['branch']}:{target}") == fixed
        message = git(remote, "log", "-1", "--format=%B", job["branch"])
        for part in ("What failed:", "What changed:", "Tests now passing:", f"Audit run: {job['run_id']}",
                     f"model {artisan}", "cost $", *job["tests"]):
            assert part in message, (part, message)
    assert "ZeroDivisionError" in git(remote, "log", "-1", "--format=%B", by_target["src/stats.py"]["branch"])

    pulls = forge.calls("POST", f"/repos/{REPO}/pulls")
    assert len(pulls) == 2
    assert {p["body"]["head"] for p in pulls} == {j["branch"] for j in report["jobs"]}
    assert all(p["body"]["base"] == "main" and p["authorization"] == f"Bearer {TOKEN}" for p in pulls)
    for pull in pulls:
        job = next(j for j in report["jobs"] if j["branch"] == pull["body"]["head"])
        body = pull["body"]["body"]
        assert "### Attempts" in body and "| 1 | simple |" in body and job["run_id"] in body
        assert all(test in body for test in job["tests"])
        assert "```diff" in body
    assert [c["body"] for c in forge.calls("POST", "/labels")] == [{"labels": ["micro-agent"]}] * 2
    # the duplicate check ran before each POST
    assert len(forge.calls("GET", f"/repos/{REPO}/pulls")) == 2
    assert all(f"head=acme%3A{j['branch'].replace('/', '%2F')}" in q["query"]
               for j, q in zip(sorted(report["jobs"], key=lambda j: j["branch"]),
                               sorted(forge.calls("GET", "/pulls"), key=lambda q: q["query"]), strict=True))
    assert git(root, "worktree", "list").count("\n") == 1  # no worktree left behind

    # a second pass opens nothing new
    done, second = once(root, env)
    assert done.returncode == 0, done.stderr
    assert {j["outcome"] for j in second["jobs"]} == {"already proposed"}
    assert len(forge.calls("POST", "/pulls")) == 2
    assert checkout_state(root) == before

    # the audit database has the passes, jobs and proposals, and `micro-agent audit autopilot` shows them
    with sqlite3.connect(root / ".micro-agent" / "audit.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM autopilot_passes").fetchone()[0] == 2
        assert sorted(r[0] for r in conn.execute("SELECT state FROM autopilot_jobs")) == ["proposed", "proposed"]
        assert conn.execute("SELECT COUNT(*) FROM autopilot_proposals WHERE state = 'open'").fetchone()[0] == 2
    shown = micro_agent(["audit", "autopilot"], root, env)
    assert shown.returncode == 0, shown.stderr
    assert "src/calc.py" in shown.stdout and "proposed" in shown.stdout and "/pull/" in shown.stdout
    run = micro_agent(["audit", "show", by_target["src/calc.py"]["run_id"]], root, env)
    assert run.returncode == 0 and "+    return a + b" in run.stdout, run.stdout + run.stderr  # the candidate's diff


def test_table_output_names_tests_targets_outcomes_and_pull_requests(tmp_path, forge, artisan, cli_env):
    root, _remote = make_project(tmp_path, artisan, forge.url)
    done = micro_agent(["autopilot", "once"], root, env_for(cli_env), timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    for text in ("failing tests", "target", "outcome", "tests/test_calc.py::test_add", "src/stats.py",
                 "proposed", f"{forge.url}/{REPO}/pull/"):
        assert text in done.stdout, (text, done.stdout)


def test_policy_refusals_are_kept_on_a_ref_and_reported(tmp_path, forge, artisan, cli_env):
    root, remote = make_project(tmp_path, artisan, forge.url, maxChangedLines=1)
    done, report = once(root, env_for(cli_env))
    assert done.returncode == 1
    assert {j["outcome"] for j in report["jobs"]} == {"refused"}
    assert all("maxChangedLines" in j["message"] for j in report["jobs"])
    assert forge.calls("POST") == []
    assert git(remote, "branch", "--format=%(refname:short)").split() == ["main"]
    kept = git(root, "for-each-ref", "--format=%(refname)", "refs/micro-agent/refused/").split()
    assert sorted(kept) == sorted(f"refs/micro-agent/refused/{j['run_id']}" for j in report["jobs"])
    fixed = {"src/calc.py": CALC_FIXED, "src/stats.py": STATS_FIXED}
    for job in report["jobs"]:
        assert git(root, "show", f"refs/micro-agent/refused/{job['run_id']}:{job['target']}") == fixed[job["target"]]


def test_allowed_paths_refuse_a_fix_outside_them(tmp_path, forge, artisan, cli_env):
    root, _remote = make_project(tmp_path, artisan, forge.url, allowedPaths=["lib/**"])
    done, report = once(root, env_for(cli_env))
    assert done.returncode == 1
    assert all(j["outcome"] == "refused" and "outside policy.allowedPaths" in j["message"] for j in report["jobs"])
    assert forge.calls("POST") == []


def test_without_a_forge_the_branches_are_pushed_only(tmp_path, artisan, cli_env):
    root, remote = make_project(tmp_path, artisan, None)
    done, report = once(root, cli_env)
    assert done.returncode == 0, done.stderr
    assert all(j["outcome"] == "proposed" and j["pr_url"] is None for j in report["jobs"])
    assert sorted(git(remote, "branch", "--format=%(refname:short)").split()) == sorted(
        ["main", *(j["branch"] for j in report["jobs"])])


def test_config_problems_are_reported_together_with_exit_2(tmp_path, forge, artisan, cli_env):
    root, _remote = make_project(tmp_path, artisan, forge.url)
    (root / "micro-agent.yml").write_text(
        "autopilot:\n  remote: nowhere\n  schedule: soon\n  policy: {maxChangedLines: 0, colour: red}\n"
        "  forge: {repo: not-a-repo}\n")
    done = micro_agent(["autopilot", "once"], root, cli_env)
    assert done.returncode == 2
    for text in ("autopilot.schedule", "autopilot.policy.maxChangedLines", "autopilot.policy.colour",
                 "autopilot.forge.repo"):
        assert text in done.stderr, (text, done.stderr)


def test_missing_forge_token_is_named(tmp_path, forge, artisan, cli_env):
    root, _remote = make_project(tmp_path, artisan, forge.url)
    done = micro_agent(["autopilot", "once"], root, cli_env)  # TEST_FORGE_TOKEN not set
    assert done.returncode == 2
    assert "TEST_FORGE_TOKEN" in done.stderr and forge.requests == []


def test_the_daily_budget_stops_new_jobs_with_exit_3(tmp_path, forge, artisan, cli_env):
    root, _remote = make_project(tmp_path, artisan, forge.url, maxConcurrentRuns=1, maxDailyCostUsd=0.5)
    config = json.loads((root / "micro-agent.yml").read_text())
    config["prices"] = {artisan: {"inputPerMillion": 100.0, "outputPerMillion": 60000.0}}  # the prompt fits, the reply costs more than a job may spend
    (root / "micro-agent.yml").write_text(json.dumps(config))
    done, report = once(root, env_for(cli_env))
    assert done.returncode == 3, done.stdout
    outcomes = sorted(j["outcome"] for j in report["jobs"])
    assert outcomes == ["budget", "proposed"], report["jobs"]
    spent = next(j for j in report["jobs"] if j["outcome"] == "proposed")["cost_usd"]
    assert spent > 0
    assert "maxDailyCostUsd" in next(j for j in report["jobs"] if j["outcome"] == "budget")["message"]
    assert len(forge.calls("POST", "/pulls")) == 1


def test_a_once_killed_mid_job_is_resumed_by_the_next_once_without_a_second_pull_request(
        tmp_path, forge, slow_artisan, cli_env):
    model, state = slow_artisan
    root, _remote = make_project(tmp_path, model, forge.url)
    env = env_for(cli_env)
    state["delay"] = 120.0
    killed = subprocess.Popen([BIN_MICRO_AGENT, "autopilot", "once"], cwd=root, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    running = []
    while time.monotonic() < deadline and len(running) < 2:
        time.sleep(0.5)
        try:
            with sqlite3.connect(root / ".micro-agent" / "audit.db") as conn:
                running = conn.execute("SELECT job_id FROM autopilot_jobs WHERE state = 'running'").fetchall()
        except sqlite3.OperationalError:
            pass  # not created yet
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(10)
    assert len(running) == 2
    state["delay"] = 0.0

    done, report = once(root, env)

    assert done.returncode == 0, done.stdout
    assert sorted(j["outcome"] for j in report["jobs"]) == ["proposed", "proposed"]
    assert {j["job_id"] for j in report["jobs"]} == {r[0] for r in running}  # the same jobs, resumed
    assert len(forge.calls("POST", f"/repos/{REPO}/pulls")) == 2


def test_a_test_without_a_target_is_reported_and_the_others_still_proposed(tmp_path, forge, artisan, cli_env):
    root, remote = make_project(tmp_path, artisan, forge.url)
    clone = tmp_path / "colleague"
    subprocess.run(["git", "clone", "-q", str(remote), str(clone)], check=True)
    (clone / "tests" / "test_orphan.py").write_text("def test_orphan():\n    assert 1 == 2\n")
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "a test of nothing")
    git(clone, "push", "-q", "origin", "main")

    done, report = once(root, env_for(cli_env))

    assert done.returncode == 1, done.stdout
    orphan = next(j for j in report["jobs"] if j["outcome"] == "no target")
    assert orphan["tests"] == ["tests/test_orphan.py::test_orphan"] and orphan["target"] is None
    assert sorted(j["target"] for j in report["jobs"] if j["outcome"] == "proposed") == ["src/calc.py", "src/stats.py"]


def test_a_suite_that_cannot_run_is_exit_2_with_what_to_fix(tmp_path, forge, artisan, cli_env):
    root, _remote = make_project(tmp_path, artisan, forge.url)
    config = json.loads((root / "micro-agent.yml").read_text())
    config["autopilot"]["suite"] = "no-such-test-runner --all"
    (root / "micro-agent.yml").write_text(json.dumps(config))
    done, report = once(root, env_for(cli_env))
    assert done.returncode == 2
    assert "could not run" in report["message"] and "autopilot.suite" in report["message"]
    assert forge.requests == []


def test_remote_and_forge_problems_are_named_together(tmp_path, forge, artisan, cli_env):
    root, _remote = make_project(tmp_path, artisan, forge.url)
    (root / "micro-agent.yml").write_text("autopilot:\n  remote: nowhere\n  forge: {repo: acme/calc}\n")
    done = micro_agent(["autopilot", "once"], root, {k: v for k, v in cli_env.items() if k != "GITHUB_TOKEN"})
    assert done.returncode == 2
    assert "GITHUB_TOKEN" in done.stderr and "no git remote named 'nowhere'" in done.stderr, done.stderr
    (root / "micro-agent.yml").write_text("autopilot:\n  forge: {repo: acme/calc, tokenEnv: TEST_FORGE_TOKEN}\n")
    done = micro_agent(["autopilot", "once"], root, env_for(cli_env))
    assert done.returncode == 2 and "autopilot.forge needs autopilot.remote" in done.stderr, done.stderr
    assert forge.requests == []
