"""Trust (issue 9, items 3, 5 and 12) through the installed CLI: a real git repo, real pytest, the scripted model.

3: the user's tests are the judge (a candidate that rewrites a test or conftest.py gets no verdict; a pass is
   confirmed on a pristine copy). 5: a solved run whose fix could not be applied says so (exit 4), and two runs
   on one file do not race. 12: folder and non-UTF-8 targets, projects without a marker, refs of runs.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path

from micro_agent.runlock import lock_path

from conftest import BIN, CALC_BUGGY, CALC_FIXED, CALC_TESTS, GIT_ENV, cmd_for_tests, fenced, micro_agent

WRONG = CALC_BUGGY.replace("return a - b", "return a * b")  # add(2, 3) == 6: still fails
VACUOUS_TESTS = "def test_add():\n    pass\n\n\ndef test_mul():\n    pass\n"
# A wrong candidate that, when imported, writes vacuous tests over the user's test file.
REWRITES_TESTS = ("import pathlib\n"
                  "pathlib.Path(__file__).with_name('tests').joinpath('test_calc.py').write_text("
                  f"{VACUOUS_TESTS!r})\n\n\n" + WRONG)
# A wrong candidate that, when imported, writes a conftest.py that reports every test as passed.
PASSING_CONFTEST = ("import pytest\n\n\n@pytest.hookimpl(hookwrapper=True)\n"
                    "def pytest_runtest_makereport(item, call):\n"
                    "    outcome = yield\n    outcome.get_result().outcome = 'passed'\n")
REWRITES_CONFTEST = ("import pathlib\n"
                     f"pathlib.Path(__file__).with_name('conftest.py').write_text({PASSING_CONFTEST!r})\n\n\n" + WRONG)


def run_json(args: list[str], repo: Path, env: dict, target: str = "calc.py", **kw):
    done = micro_agent(["run", target, "-t", cmd_for_tests(), "--json", *args], repo, env, **kw)
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else None
    return done, report


def git_out(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True).stdout


def run_refs(repo: Path) -> list[str]:
    return git_out(repo, "for-each-ref", "--format=%(refname)", "refs/micro-agent/").split()


def attempts(repo: Path, run_id: str) -> list[dict]:
    with sqlite3.connect(repo / ".micro-agent" / "audit.db") as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM tier_attempts WHERE run_id = ? ORDER BY id", [run_id]).fetchall()
    return [dict(row) for row in rows]


def outcome_in_db(repo: Path, run_id: str) -> str:
    with sqlite3.connect(repo / ".micro-agent" / "audit.db") as conn:
        return conn.execute("SELECT outcome FROM runs WHERE run_id = ?", [run_id]).fetchone()[0]


def lock_holder(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # between the takeover's unlink and its write
        return {}


def flat(text: str) -> str:
    """`text` with rich's line wrapping undone."""
    return " ".join(text.split())


def nothing_left(repo: Path, env: dict) -> bool:
    worktrees = git_out(repo, "worktree", "list").strip().splitlines()
    return len(worktrees) == 1 and not list(Path(env["TMPDIR"]).glob("micro-agent-*"))


# ---------------------------------------------------------------- 3. the user's tests are the judge


def test_a_candidate_that_rewrites_the_test_file_is_never_accepted(calc_repo, model_server, model, cli_env):
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"),  # the same trick three times, a comment apart
                        [fenced(REWRITES_TESTS + f"# try {n}\n") for n in (1, 2, 3)])
    done, report = run_json(["--artisan", artisan, "--simple", "3", "--no-escalate"], calc_repo, cli_env)

    assert done.returncode == 1, done.stdout + done.stderr
    assert report["outcome"] == "failed" and report["applied"] is False
    assert report["tiers"][0]["iterations"] == 3  # without the restore, iteration 2 would pass on vacuous tests
    assert (calc_repo / "calc.py").read_text() == CALC_BUGGY
    assert (calc_repo / "tests" / "test_calc.py").read_text() == CALC_TESTS
    rows = attempts(calc_repo, report["run_id"])
    assert [row["test_status"] for row in rows] == ["failed"] * 3
    for row in rows:
        assert "changed tests/test_calc.py while its tests ran" in row["error_messages"]
    # the model is told what it did, and its next prompt shows the user's own tests
    prompts = model_server.prompts(artisan.removeprefix("openai/"))
    assert "changed tests/test_calc.py while its tests ran" in prompts[1]
    assert "assert add(2, 3) == 5" in prompts[2]
    assert nothing_left(calc_repo, cli_env)


def test_a_conftest_written_at_import_cannot_make_the_assertions_vacuous(calc_repo, model_server, model, cli_env):
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [fenced(REWRITES_CONFTEST), fenced(CALC_FIXED)])
    done, report = run_json(["--artisan", artisan, "--simple", "3", "--no-escalate"], calc_repo, cli_env)

    assert done.returncode == 0, done.stdout + done.stderr
    assert report["outcome"] == "success" and report["applied"] is True
    assert report["tiers"][0]["iterations"] == 2  # the second, honest candidate passes on the user's conftest
    first, second = attempts(calc_repo, report["run_id"])
    assert first["test_status"] == "failed" and "changed conftest.py" in first["error_messages"]
    assert second["test_status"] == "passed"
    assert (calc_repo / "calc.py").read_text() == CALC_FIXED
    assert (calc_repo / "conftest.py").read_text() == ""


def test_a_pass_is_confirmed_on_a_pristine_copy_before_it_is_accepted(calc_repo, model_server, model, cli_env,
                                                                      tmp_path):
    """The tests log where they run; a candidate that passes only on its first run is not accepted."""
    where_log, marker = tmp_path / "where.log", tmp_path / "ran-once"
    (calc_repo / "tests" / "test_where.py").write_text(
        "import os\n\n\ndef test_where():\n"
        f"    with open({str(where_log)!r}, 'a') as log:\n        log.write(os.getcwd() + '\\n')\n")
    passes_once = ("import os\n\n"
                   f"if os.path.exists({str(marker)!r}):\n    def add(a, b):\n        return a * b\n"
                   f"else:\n    open({str(marker)!r}, 'w').close()\n\n    def add(a, b):\n        return a + b\n\n\n"
                   "def mul(a, b):\n    return a * b\n")
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [fenced(passes_once), fenced(CALC_FIXED)])
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests("tests"), "--json", "--artisan", artisan,
                        "--simple", "3", "--no-escalate"], calc_repo, cli_env)
    report = json.loads(done.stdout)

    assert done.returncode == 0, done.stdout + done.stderr
    first, second = attempts(calc_repo, report["run_id"])
    assert first["test_status"] == "failed"
    assert any("failed in a fresh copy of the project" in m for m in json.loads(first["error_messages"]))
    assert second["test_status"] == "passed"
    assert (calc_repo / "calc.py").read_text() == CALC_FIXED
    # initial run, candidate 1, its pristine check, candidate 2, its pristine check: the checks ran elsewhere
    runs = where_log.read_text().split()
    assert len(runs) == 5
    worktree = runs[0]
    assert runs[1] == runs[3] == worktree
    assert len({worktree, runs[2], runs[4]}) == 3 and not Path(runs[2]).exists()


# ---------------------------------------------------------------- 5. an honest outcome


def test_a_fix_that_cannot_be_applied_is_not_plain_success(calc_repo, model_server, model, cli_env):
    user_edit = CALC_BUGGY + "\n\n# the user's edit, made while the model was thinking\n"

    def edit_then_fix(request: dict) -> str:
        (calc_repo / "calc.py").write_text(user_edit)
        return fenced(CALC_FIXED)

    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [edit_then_fix])
    done, report = run_json(["--artisan", artisan], calc_repo, cli_env)

    assert done.returncode == 4, done.stdout + done.stderr
    assert report["outcome"] == "solved_not_applied" and report["applied"] is False
    ref = report["ref"]
    assert ref == f"refs/micro-agent/{report['run_id']}" and report["kept_at"] == ref
    assert "calc.py changed" in report["message"] and f"kept on {ref}" in report["message"]
    assert (calc_repo / "calc.py").read_text() == user_edit  # the user's edit is not clobbered
    assert git_out(calc_repo, "show", f"{ref}:calc.py") == CALC_FIXED  # and the fix is not lost
    assert outcome_in_db(calc_repo, report["run_id"]) == "solved_not_applied"
    listed = micro_agent(["audit", "runs"], calc_repo, cli_env)
    assert "solved_not_applied" in listed.stdout, listed.stdout + listed.stderr

    # the same, rendered: exit 4 and the message saying where the fix is
    (calc_repo / "calc.py").write_text(CALC_BUGGY)
    model_server.script(artisan.removeprefix("openai/"), [edit_then_fix])
    shown = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--artisan", artisan], calc_repo, cli_env)
    assert shown.returncode == 4
    assert "solved_not_applied" in shown.stdout and "The fix is kept on refs/micro-agent/" in shown.stdout
    assert "exit status" in micro_agent(["run", "--help"], calc_repo, cli_env).stdout


def test_a_second_run_on_the_same_file_is_told_at_once(calc_repo, model_server, model, cli_env):
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [{"content": fenced(CALC_FIXED), "delay": 12}])
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = lock_path(calc_repo, "calc.py")  # left by a killed run: taken over
    stale.parent.mkdir(parents=True)
    stale.write_text(json.dumps({"run_id": "killed-run", "pid": dead.pid}))
    exe = str(BIN / "micro-agent")
    first = subprocess.Popen([exe, "run", "calc.py", "-t", cmd_for_tests(), "--json", "--artisan", artisan],
                             cwd=calc_repo, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        locks = calc_repo / ".micro-agent" / "locks"
        deadline = time.monotonic() + 60
        while (holder := lock_holder(stale)).get("run_id") in (None, "killed-run") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(locks.glob("*.lock")) == [stale] and holder["pid"] == first.pid

        started = time.monotonic()
        second, report = run_json(["--artisan", artisan], calc_repo, cli_env)
        assert time.monotonic() - started < 30
        assert second.returncode == 2, second.stdout + second.stderr
        assert report["outcome"] == "error" and report["applied"] is False
        assert f"Another Micro Agent run is fixing calc.py: run {holder['run_id']}" in report["message"]
    finally:
        out, err = first.communicate(timeout=120)
    first_report = json.loads(out)
    assert first.returncode == 0, out + err
    assert len(model_server.calls(artisan.removeprefix("openai/"))) == 1  # the second run asked no model
    assert first_report["run_id"] == holder["run_id"] and first_report["applied"] is True
    assert (calc_repo / "calc.py").read_text() == CALC_FIXED
    assert not list(locks.glob("*.lock"))  # released


# ---------------------------------------------------------------- 12. small ones


def test_folder_non_utf8_and_markerless_targets_are_refused_before_anything_runs(calc_repo, tmp_path, model_server,
                                                                                  model, cli_env):
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [fenced(CALC_FIXED)])
    folder = micro_agent(["run", "tests", "-t", cmd_for_tests(), "--artisan", artisan], calc_repo, cli_env)
    assert folder.returncode == 2
    assert "tests is a folder: give the source file to fix inside it" in flat(folder.stderr)

    (calc_repo / "latin.py").write_bytes("NAME = 'café'\n".encode("latin-1"))
    latin = micro_agent(["run", "latin.py", "-t", cmd_for_tests(), "--artisan", artisan], calc_repo, cli_env)
    assert latin.returncode == 2
    assert "latin.py is not UTF-8 text (byte 0xe9 at offset 11)" in flat(latin.stderr)

    loose = tmp_path / "downloads"
    loose.mkdir()
    (loose / "calc.py").write_text(CALC_BUGGY)
    markerless = micro_agent(["run", "calc.py", "-t", "true", "--artisan", artisan], loose, cli_env)
    assert markerless.returncode == 2
    assert "no project found around calc.py" in flat(markerless.stderr)
    assert "git init" in markerless.stderr and "--config" in markerless.stderr

    assert model_server.calls(artisan.removeprefix("openai/")) == []
    assert nothing_left(calc_repo, cli_env) and run_refs(calc_repo) == []
    assert not (loose / ".micro-agent").exists()


def test_refs_are_kept_only_for_runs_with_candidates_and_audit_prune_removes_old_ones(calc_repo, model_server,
                                                                                     model, cli_env):
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), ["I cannot help with that."])
    done, report = run_json(["--artisan", artisan, "--simple", "1", "--no-escalate"], calc_repo, cli_env)
    assert report["outcome"] == "failed" and report["ref"] is None, done.stdout + done.stderr
    assert run_refs(calc_repo) == []  # no candidate: no ref

    model_server.script(artisan.removeprefix("openai/"), [fenced(CALC_FIXED)])
    done, report = run_json(["--artisan", artisan], calc_repo, cli_env)
    assert report["outcome"] == "success", done.stdout + done.stderr
    fresh = report["ref"]
    already_green, report = run_json(["--artisan", artisan], calc_repo, cli_env)
    assert report["outcome"] == "success" and report["ref"] is None  # the tests pass already: no ref
    assert run_refs(calc_repo) == [fresh]

    # a run from 40 days ago, committed as a run commits its candidates
    old_env = {**os.environ, **GIT_ENV, "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z"}
    tree = git_out(calc_repo, "rev-parse", "HEAD^{tree}").strip()
    old = subprocess.run(["git", "commit-tree", "-m", "micro-agent old tier 0 iteration 1", tree], cwd=calc_repo,
                         env=old_env, capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["git", "update-ref", "refs/micro-agent/old-run", old], cwd=calc_repo, check=True)

    dry = micro_agent(["audit", "prune", "--dry-run"], calc_repo, cli_env)
    assert dry.returncode == 0 and "Would remove 1 run ref" in dry.stdout and "old-run" in dry.stdout
    assert sorted(run_refs(calc_repo)) == sorted([fresh, "refs/micro-agent/old-run"])
    pruned = micro_agent(["audit", "prune"], calc_repo, cli_env)
    assert pruned.returncode == 0 and "Removed 1 run ref older than 30 days" in pruned.stdout, pruned.stderr
    assert run_refs(calc_repo) == [fresh]
    everything = micro_agent(["audit", "prune", "--older-than", "0"], calc_repo, cli_env)
    assert everything.returncode == 0 and "Removed 1 run ref" in everything.stdout
    assert run_refs(calc_repo) == []
    assert "prune" in micro_agent(["audit", "--help"], calc_repo, cli_env).stdout


def test_an_audit_db_of_schema_1_migrates_and_keeps_its_runs(tmp_path):
    from micro_agent import audit

    db = tmp_path / "audit.db"
    conn = sqlite3.connect(db, isolation_level=None)
    audit.migrate(conn, audit.MIGRATIONS[:1])  # a database written before solved_not_applied existed
    conn.execute("INSERT INTO runs (run_id, started_at, target, outcome) "
                 "VALUES ('old', '2025-01-01', 'a.py', 'success')")
    conn.execute("INSERT INTO tier_attempts (run_id, tier_index, tier_name, tier_mode, model, iteration, test_status, "
                 "created_at) VALUES ('old', 0, 'simple', 'simple', 'm', 1, 'passed', '2025-01-01')")
    try:
        conn.execute("UPDATE runs SET outcome = 'solved_not_applied'")
        raise AssertionError("schema 1 should refuse the new outcome")
    except sqlite3.IntegrityError:
        pass
    conn.close()

    migrated = audit.open_db(db)
    assert audit.schema_version(migrated) == audit.SCHEMA_VERSION == 2
    assert [r["outcome"] for r in audit.list_runs(migrated)] == ["success"]
    assert len(audit.get_attempts(migrated, "old")) == 1
    migrated.close()
    audit.record_outcome(db, "old", "solved_not_applied")
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT outcome FROM runs").fetchall() == [("solved_not_applied",)]
        indexes = {row[0] for row in check.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"runs_by_target", "runs_by_start"} <= indexes


def test_without_git_a_project_marker_is_the_root_and_an_unapplied_fix_is_kept_as_a_patch(tmp_path, model_server,
                                                                                         model, cli_env):
    project = tmp_path / "plain"
    (project / "tests").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'plain'\n")
    (project / "calc.py").write_text(CALC_BUGGY)
    (project / "tests" / "test_calc.py").write_text(CALC_TESTS)
    (project / "tests" / "conftest.py").write_text(
        "import sys, pathlib\nsys.path.insert(0, str(pathlib.Path(__file__).parents[1]))\n")
    user_edit = CALC_BUGGY + "# mine\n"

    def edit_then_fix(request: dict) -> str:
        (project / "calc.py").write_text(user_edit)
        return fenced(CALC_FIXED)

    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [edit_then_fix])
    done, report = run_json(["--artisan", artisan], project / "tests", cli_env, target="../calc.py")

    assert done.returncode == 4, done.stdout + done.stderr
    assert report["outcome"] == "solved_not_applied" and report["ref"] is None
    patch = project / ".micro-agent" / "fixes" / f"{report['run_id']}.diff"
    assert report["kept_at"] == str(patch) and f"kept in {patch}" in report["message"]
    assert (project / "calc.py").read_text() == user_edit
    (project / "calc.py").write_text(CALC_BUGGY)
    subprocess.run(["git", "apply", str(patch)], cwd=project, check=True)  # the patch is the fix
    assert (project / "calc.py").read_text() == CALC_FIXED
