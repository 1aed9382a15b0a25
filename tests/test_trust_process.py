"""Trust, end to end (issue 9, items 8-10): a hang is a bug to fix, nothing outlives a run, no audit row is lost.

The real `micro-agent` command, real git repos, real pytest, the scripted model server. The signal cases
use a candidate that writes the pids of its test process and of a grandchild, then sleeps: the CLI is
stopped while those run, and the test checks in /proc that neither survives.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import BIN, CALC_BUGGY, CALC_FIXED, CALC_TESTS, cmd_for_tests, fenced, make_repo, micro_agent
from process_support import CALC_SLEEPS, alive, read_pids
from micro_agent import audit

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc; signals are POSIX")

CALC_WRONG = CALC_BUGGY.replace("return a - b", "return a * b")
CALC_WRONG_TOO = CALC_BUGGY.replace("return a - b", "return b - a")
CALC_HANGS = CALC_BUGGY.replace("    return a - b", "    while True:  # never ends\n        pass")
def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def leftovers(repo: Path, tmp: Path, env: dict[str, str]) -> list[str]:
    """micro-agent worktrees still registered in `repo`, and micro-agent folders still in the temp dir."""
    listing = subprocess.run(["git", "worktree", "list", "--porcelain"], cwd=repo, env=env, capture_output=True,
                             text=True).stdout if (repo / ".git").exists() else ""
    worktrees = [line for line in listing.splitlines() if line.startswith("worktree ") and "micro-agent-" in line]
    return worktrees + sorted(p.name for p in tmp.iterdir() if p.name.startswith("micro-agent-"))


def audit_run(repo: Path) -> tuple[dict, int]:
    conn = sqlite3.connect(repo / ".micro-agent" / "audit.db")
    conn.row_factory = sqlite3.Row
    run = dict(conn.execute("SELECT * FROM runs ORDER BY started_at DESC LIMIT 1").fetchone())
    attempts = conn.execute("SELECT count(*) FROM tier_attempts WHERE run_id = ?", [run["run_id"]]).fetchone()[0]
    return run, attempts


def is_locked(db: Path) -> bool:
    probe = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc)
    finally:
        probe.close()


def start_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "micro-agent"), *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


# ---------------------------------------------------------------- item 8: a hang is a bug to fix


def test_hanging_original_code_is_fixed(calc_repo, model_server, model, cli_env):
    (calc_repo / "calc.py").write_text(CALC_HANGS)
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [fenced(CALC_FIXED)])
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--test-timeout", "4", "--artisan", artisan,
                        "--no-escalate", "--json"], calc_repo, cli_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["outcome"] == "success"
    assert (calc_repo / "calc.py").read_text() == CALC_FIXED
    [prompt] = model_server.prompts(artisan.removeprefix("openai/"))
    assert "The tests timed out (after 4 s) and were stopped" in prompt
    assert re.search(r"When stopped, the tests were running calc\.py:[23]\.", prompt)  # the endless loop


def test_a_missing_test_file_still_stops_before_any_model_call(calc_repo, model_server, model, cli_env):
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [fenced(CALC_FIXED)])
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests("tests/test_missing.py"), "--artisan", artisan],
                       calc_repo, cli_env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "The test command is broken, so no model was asked to fix the code." in done.stdout
    assert model_server.calls(artisan.removeprefix("openai/")) == []


# ---------------------------------------------------------------- item 9: nothing outlives the run


@pytest.fixture
def pids_to_reap():
    """Pids (and CLI processes) a failing test might leave running: killed at teardown whatever the outcome."""
    pids: list[int | subprocess.Popen] = []
    yield pids
    for pid in pids:
        if isinstance(pid, subprocess.Popen):
            if pid.poll() is None:
                pid.kill()
                pid.wait()
        elif alive(pid):
            os.kill(pid, signal.SIGKILL)


def sleeping_run(repo: Path, model_server, model, env: dict[str, str], tmp: Path, reap: list):
    """Start a run whose 2nd candidate's tests sleep; returns (process, the pids of its test processes)."""
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [fenced(CALC_WRONG), fenced(CALC_SLEEPS)])
    pids_file = tmp / "pids.txt"
    env = {**env, "PIDS_FILE": str(pids_file)}
    process = start_cli(["run", "calc.py", "-t", cmd_for_tests(), "--artisan", artisan, "--no-escalate"], repo, env)
    pids = wait_until(lambda: read_pids(pids_file) or process.poll() is not None, 90, "the sleeping test process")
    assert process.poll() is None, process.communicate()
    reap.extend([process, *pids])
    assert all(alive(pid) for pid in pids)
    return process, pids


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)],
                         ids=["SIGTERM", "SIGHUP"])
def test_term_and_hup_clean_up_like_ctrl_c(calc_repo, model_server, model, cli_env, tmp_path, pids_to_reap,
                                           signum, exit_code):
    process, pids = sleeping_run(calc_repo, model_server, model, cli_env, tmp_path, pids_to_reap)
    stopped_at = time.monotonic()
    process.send_signal(signum)
    out, err = process.communicate(timeout=30)
    assert process.returncode == exit_code, out + err
    assert time.monotonic() - stopped_at < 15
    assert not any(alive(pid) for pid in pids)
    assert f"Stopped by {signal.Signals(signum).name}" in err
    assert (calc_repo / "calc.py").read_text() == CALC_BUGGY
    assert leftovers(calc_repo, tmp_path / "tmp", cli_env) == []
    run, attempts = audit_run(calc_repo)
    assert run["outcome"] == "interrupted"
    assert attempts == 1 and run["total_iterations"] >= 1  # iteration 1 finished; the 2nd was cut short


@pytest.mark.parametrize("with_git", [True, False], ids=["worktree", "temp-copy"])
def test_sigkill_leaves_no_test_process_and_the_next_run_prunes_the_leftovers(
        tmp_path, model_server, model, cli_env, pids_to_reap, with_git):
    files = {"calc.py": CALC_BUGGY, "tests/test_calc.py": CALC_TESTS, "conftest.py": "",
             "micro-agent.yml": "# marks the project root\n"}
    if with_git:
        repo = make_repo(tmp_path / "proj", {**files, ".gitignore": ".micro-agent/\n"})
    else:
        repo = tmp_path / "proj"
        for rel, text in files.items():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            (repo / rel).write_text(text)
    process, pids = sleeping_run(repo, model_server, model, cli_env, tmp_path, pids_to_reap)
    assert leftovers(repo, tmp_path / "tmp", cli_env)  # the run's working copy and test report folder
    process.kill()
    process.communicate(timeout=10)
    wait_until(lambda: not any(alive(pid) for pid in pids), 10, "the test processes to die with the CLI")

    run, attempts = audit_run(repo)
    assert run["outcome"] is None and run["finished_at"] is None  # it never got to say how it ended
    assert attempts == 1 and run["total_iterations"] == 1  # never "0 iterations" beside a recorded attempt
    exported = subprocess.run([str(BIN / "micro-agent"), "audit", "export"], cwd=repo, env=cli_env,
                              capture_output=True, text=True)
    assert exported.returncode == 0, exported.stderr
    assert [(r["total_iterations"], len(r["attempts"])) for r in json.loads(exported.stdout)] == [(1, 1)]

    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [fenced(CALC_FIXED)])
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--artisan", artisan], repo, cli_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert leftovers(repo, tmp_path / "tmp", cli_env) == []


# ---------------------------------------------------------------- item 10: no audit row is lost


def test_a_database_locked_by_another_process_loses_no_row(calc_repo, model_server, model, cli_env, tmp_path):
    db = calc_repo / ".micro-agent" / "audit.db"
    audit.open_db(db).close()  # the database exists, as it does after a first run
    release = tmp_path / "release"
    # The user browses the log: an open sqlite3 transaction holds the write lock until `release` appears.
    holder = subprocess.Popen(["sqlite3", str(db)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    holder.stdin.write(f"BEGIN EXCLUSIVE;\n.shell sh -c 'while [ ! -e {release} ]; do sleep 0.05; done'\n"
                       "ROLLBACK;\n")
    holder.stdin.close()
    wait_until(lambda: is_locked(db), 30, "sqlite3 to take the lock")
    locked_at = time.monotonic()

    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [fenced(CALC_WRONG), fenced(CALC_WRONG_TOO),
                                                          fenced(CALC_FIXED)])
    process = start_cli(["run", "calc.py", "-t", cmd_for_tests(), "--artisan", artisan, "--no-escalate"],
                        calc_repo, cli_env)
    # iterations 1 and 2 finish while the database is locked (the 3rd call starts after both)
    wait_until(lambda: len(model_server.calls(artisan.removeprefix("openai/"))) >= 3 or process.poll() is not None,
               90, "the third model call")
    time.sleep(max(0.0, 3.0 - (time.monotonic() - locked_at)))  # held for 3 s at least
    release.write_text("")
    held_s = time.monotonic() - locked_at
    assert holder.wait(timeout=10) == 0, holder.stderr.read()
    out, err = process.communicate(timeout=60)
    print(f"lock held {held_s:.1f} s; the run ended {time.monotonic() - locked_at - held_s:.1f} s after it went")
    assert process.returncode == 0, out + err
    assert "audit log" not in err  # a lock is not a failure: nothing to warn about
    assert held_s >= 3

    run, attempts = audit_run(calc_repo)
    assert (run["outcome"], run["total_iterations"], attempts) == ("success", 3, 3)
    conn = sqlite3.connect(db)
    statuses = [row[0] for row in conn.execute(
        "SELECT test_status FROM tier_attempts WHERE run_id = ? ORDER BY id", [run["run_id"]])]
    assert statuses == ["failed", "failed", "passed"]
