"""`micro-agent undo RUN_ID`: an applied fix, a proposed branch that is not merged, and one that is."""

from __future__ import annotations

import json
import sqlite3
import subprocess

from autopilot_support import (CALC, CALC_FIXED, REPO, artisan, env_for, fenced, forge, git,  # noqa: F401
                               make_project, micro_agent)
from conftest import CALC_BUGGY, CALC_FIXED as ROOT_CALC_FIXED, cmd_for_tests


def once(root, env):
    done = micro_agent(["autopilot", "once", "--json"], root, env, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    return {j["target"]: j for j in json.loads(done.stdout)["jobs"]}


def undo(root, env, run_id):
    done = micro_agent(["undo", run_id, "--json"], root, env)
    assert done.stdout.strip().startswith("{"), done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout)


def test_undo_of_an_open_pull_request_closes_it_and_deletes_the_branch(tmp_path, forge, artisan, cli_env):
    root, remote = make_project(tmp_path, artisan, forge.url)
    env = env_for(cli_env)
    job = once(root, env)["src/calc.py"]

    code, result = undo(root, env, job["run_id"][:8])

    assert code == 0 and result["outcome"] == "reverted", result
    number = int(job["pr_url"].rsplit("/", 1)[1])
    assert forge.calls("PATCH", f"/repos/{REPO}/pulls/{number}")[0]["body"] == {"state": "closed"}
    assert "micro-agent undo" in forge.calls("POST", f"/issues/{number}/comments")[0]["body"]["body"]
    assert job["branch"] not in git(remote, "branch", "--format=%(refname:short)").split()
    assert git(root, "rev-parse", "--verify", f"refs/heads/{job['branch']}")  # kept locally
    code, again = undo(root, env, job["run_id"])
    assert code == 1 and "already undone" in again["message"]
    with sqlite3.connect(root / ".micro-agent" / "audit.db") as conn:
        assert [r[0] for r in conn.execute("SELECT outcome FROM autopilot_undos ORDER BY id")] == [
            "reverted", "refused"]


def test_undo_of_a_merged_fix_proposes_a_revert_branch(tmp_path, forge, artisan, cli_env):
    root, remote = make_project(tmp_path, artisan, forge.url)
    env = env_for(cli_env)
    job = once(root, env)["src/calc.py"]
    git(remote, "update-ref", "refs/heads/main", git(remote, "rev-parse", job["branch"]).strip())  # merged

    code, result = undo(root, env, job["run_id"])

    assert code == 0, result
    revert = result["branch"]
    assert revert == f"micro-agent/revert-src-calc-py-{job['run_id'][:8]}"
    assert git(remote, "show", f"{revert}:src/calc.py") == CALC
    assert git(remote, "rev-parse", f"{revert}^").strip() == git(remote, "rev-parse", "main").strip()
    assert job["run_id"] in git(remote, "log", "-1", "--format=%B", revert)
    opened = [c["body"] for c in forge.calls("POST", f"/repos/{REPO}/pulls")]
    assert opened[-1]["head"] == revert and opened[-1]["title"].startswith("Revert")


def test_undo_of_a_merged_fix_refuses_when_the_file_changed_since(tmp_path, forge, artisan, cli_env):
    root, remote = make_project(tmp_path, artisan, forge.url)
    env = env_for(cli_env)
    job = once(root, env)["src/calc.py"]
    clone = tmp_path / "colleague"
    subprocess.run(["git", "clone", "-q", "-b", job["branch"], str(remote), str(clone)], check=True)
    (clone / "src" / "calc.py").write_text(CALC_FIXED + "\n\ndef sub(a, b):\n    return a - b\n")
    git(clone, "commit", "-qam", "more")
    git(clone, "push", "-q", "origin", "HEAD:main")

    code, result = undo(root, env, job["run_id"])

    assert code == 1 and "src/calc.py changed on main" in result["message"], result
    assert len(forge.calls("POST", f"/repos/{REPO}/pulls")) == 2  # the two fixes; no revert


def test_undo_of_an_applied_fix_restores_the_file_and_refuses_after_an_edit(calc_repo, model_server, model,
                                                                            cli_env):
    artisan_model = model("artisan")
    model_server.script(artisan_model.removeprefix("openai/"), [fenced(ROOT_CALC_FIXED)])
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--artisan", artisan_model, "--json"],
                       calc_repo, cli_env)
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    assert (calc_repo / "calc.py").read_text() == ROOT_CALC_FIXED

    code, result = undo(calc_repo, cli_env, run_id[:8])
    assert code == 0 and result["kind"] == "applied", result
    assert (calc_repo / "calc.py").read_text() == CALC_BUGGY

    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--artisan", artisan_model, "--json"],
                       calc_repo, cli_env)
    second = json.loads(done.stdout)["run_id"]
    (calc_repo / "calc.py").write_text(ROOT_CALC_FIXED + "# my edit\n")
    code, result = undo(calc_repo, cli_env, second)
    assert code == 1 and "changed since" in result["message"], result
    assert (calc_repo / "calc.py").read_text() == ROOT_CALC_FIXED + "# my edit\n"


def test_undo_of_an_unknown_run_is_a_usage_error(calc_repo, cli_env):
    done = micro_agent(["undo", "deadbeef"], calc_repo, cli_env)
    assert done.returncode == 2 and "no run 'deadbeef'" in done.stderr
