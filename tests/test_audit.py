"""The SQLite audit log and `micro-agent audit`: a real database in tmp_path, a real git repo for diffs."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sqlite3
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from micro_agent import audit
from micro_agent_cli import audit_commands as audit_cli
from micro_agent.events import Escalated, IterationFinished, RunFinished, RunStarted, TestsFinished, TierPlan
from micro_agent.reports import RunReport, TestReport

T0 = datetime(2025, 6, 1, 9, 30, tzinfo=timezone.utc)
TIERS = [
    TierPlan(index=0, name="local-free", mode="simple", max_iterations=2, models={"artisan": "ollama/qwen2.5-coder"}),
    TierPlan(index=1, name="mid-grade", mode="simple", max_iterations=2, models={"artisan": "claude-haiku-4-5"}),
]


# ---------------------------------------------------------------- event builders


def started(run_id: str, target: str = "src/calc.py", root: str = "/project", at: datetime = T0) -> RunStarted:
    return RunStarted(run_id=run_id, at=at, target=target, objective="Make the failing tests pass.",
                      test_command="python -m pytest -q", root=root, tiers=TIERS)


def iteration(run_id: str, tier_index: int, n: int, status: str = "failed", cost: float = 0.0,
              errors: list[str] | None = None, failed: list[str] | None = None, change: str = "") -> IterationFinished:
    tier = TIERS[tier_index]
    return IterationFinished(
        run_id=run_id, at=T0 + timedelta(minutes=tier_index * 10 + n), tier_index=tier_index, tier_name=tier.name,
        tier_mode=tier.mode, model=tier.models["artisan"], iteration=n,
        change_summary=change or f"Changed multiply() attempt {tier_index}.{n}", test_status=status,
        failed_tests=[] if status == "passed" else (["tests/test_calc.py::test_multiply"] if failed is None else failed),
        error_messages=[] if status == "passed" else (errors or [f"AssertionError: expected 12, got {n}"]),
        cost_usd=cost, duration_ms=1500 + n,
    )


def escalated(run_id: str, summary: str = "SIMPLE MODE HISTORY (2 iterations, all failed):") -> Escalated:
    return Escalated(run_id=run_id, at=T0 + timedelta(minutes=5), from_tier="local-free", to_tier="mid-grade",
                     reason="local-free used its 2 iterations without passing", summary=summary,
                     remaining_cost_usd=1.75, remaining_minutes=25.0)


def finished(run_id: str, outcome: str = "success", solved_by: str | None = "mid-grade", iterations: int = 3,
             cost: float = 0.0123, target: str = "src/calc.py") -> RunFinished:
    report = RunReport(run_id=run_id, target=target, test_command="python -m pytest -q", outcome=outcome,
                       solved_by_tier=solved_by, total_iterations=iterations, total_cost_usd=cost)
    return RunFinished(run_id=run_id, at=T0 + timedelta(minutes=30), report=report)


def record_escalated_run(db: Path, run_id: str, root: str = "/project", target: str = "src/calc.py") -> None:
    """Tier 1 fails twice, escalates, tier 2 solves on its first iteration."""
    with audit.AuditLog(db) as log:
        for event in [started(run_id, target=target, root=root), iteration(run_id, 0, 1), iteration(run_id, 0, 2),
                      escalated(run_id), iteration(run_id, 1, 1, "passed", cost=0.0123),
                      finished(run_id, target=target)]:
            log(event)


def rows(conn: sqlite3.Connection, sql: str) -> list[tuple]:
    return [tuple(row) for row in conn.execute(sql)]


def reader(db: Path) -> sqlite3.Connection:
    """A second, independent connection, as another process would open it."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    return conn


# ---------------------------------------------------------------- schema and migrations


def test_schema_matches_the_design_and_records_its_version(tmp_path):
    conn = audit.open_db(tmp_path / "nested" / "audit.db")

    def columns(table):
        return [row["name"] for row in conn.execute(f"PRAGMA table_info({table})")]

    assert columns("runs") == ["run_id", "started_at", "finished_at", "target", "objective", "outcome",
                               "solved_by_tier", "total_iterations", "total_cost_usd", "root"]
    assert columns("tier_attempts") == [
        "id", "run_id", "tier_index", "tier_name", "tier_mode", "model", "iteration", "code_change_summary",
        "test_status", "failed_tests", "error_messages", "cost_usd", "duration_ms", "created_at"]
    assert columns("escalations") == ["id", "run_id", "from_tier", "to_tier", "reason", "summary",
                                      "remaining_cost_usd", "remaining_minutes", "created_at"]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == audit.SCHEMA_VERSION >= 1
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(sqlite3.IntegrityError):  # the enumerations are enforced by the database itself
        conn.execute("INSERT INTO runs (run_id, started_at, target, outcome) VALUES ('x', 'now', 't', 'great')")


def test_migrations_are_idempotent_and_forward_only(tmp_path):
    db = tmp_path / "audit.db"
    record_escalated_run(db, "run-a")
    conn = audit.open_db(db)  # a second open finds the current version and changes nothing
    assert audit.schema_version(conn) == audit.SCHEMA_VERSION
    assert conn.execute("SELECT count(*) FROM tier_attempts").fetchone()[0] == 3

    later = audit.MIGRATIONS + (("ALTER TABLE runs ADD COLUMN note TEXT",),)
    assert audit.migrate(conn, later) == audit.SCHEMA_VERSION + 1
    assert audit.migrate(conn, later) == audit.SCHEMA_VERSION + 1  # applied once only
    assert rows(conn, "SELECT run_id, note FROM runs") == [("run-a", None)]
    conn.close()
    assert audit.schema_version(audit.open_db(db)) == audit.SCHEMA_VERSION + 1  # never migrated backwards


# ---------------------------------------------------------------- the observer


def test_each_iteration_is_committed_before_the_run_finishes(tmp_path):
    db = tmp_path / "audit.db"
    log = audit.AuditLog(db)
    log(started("run-1"))
    log(TestsFinished(run_id="run-1", report=TestReport(passed=False)))  # not an audit event: ignored
    log(iteration("run-1", 0, 1, errors=["AssertionError: expected 12, got 7", "second line"]))

    other = reader(db)
    run = other.execute("SELECT * FROM runs").fetchone()
    assert (run["run_id"], run["target"], run["outcome"], run["finished_at"]) == ("run-1", "src/calc.py", None, None)
    assert run["started_at"] == "2025-06-01T09:30:00.000Z"
    rows = other.execute("SELECT * FROM tier_attempts").fetchall()
    assert len(rows) == 1
    row = rows[0]
    assert (row["tier_index"], row["tier_name"], row["tier_mode"], row["model"], row["iteration"],
            row["test_status"], row["duration_ms"]) == (0, "local-free", "simple", "ollama/qwen2.5-coder", 1,
                                                        "failed", 1501)
    assert row["code_change_summary"] == "Changed multiply() attempt 0.1"
    assert json.loads(row["failed_tests"]) == ["tests/test_calc.py::test_multiply"]
    assert json.loads(row["error_messages"]) == ["AssertionError: expected 12, got 7", "second line"]
    assert row["created_at"] == "2025-06-01T09:31:00.000Z"

    log(iteration("run-1", 0, 2))
    assert other.execute("SELECT count(*) FROM tier_attempts").fetchone()[0] == 2
    log.close()


def test_run_finished_sets_the_outcome_and_escalations_are_kept(tmp_path):
    db = tmp_path / "audit.db"
    record_escalated_run(db, "run-1")
    conn = reader(db)
    run = dict(conn.execute("SELECT * FROM runs").fetchone())
    assert run["outcome"] == "success"
    assert run["solved_by_tier"] == "mid-grade"
    assert (run["total_iterations"], run["total_cost_usd"]) == (3, 0.0123)
    assert run["finished_at"] == "2025-06-01T10:00:00.000Z"
    assert run["root"] == "/project"
    escalations = conn.execute("SELECT * FROM escalations").fetchall()
    assert [(e["run_id"], e["from_tier"], e["to_tier"], e["remaining_cost_usd"], e["remaining_minutes"])
            for e in escalations] == [("run-1", "local-free", "mid-grade", 1.75, 25.0)]
    assert escalations[0]["reason"] == "local-free used its 2 iterations without passing"
    statuses = conn.execute("SELECT tier_name, iteration, test_status FROM tier_attempts ORDER BY id").fetchall()
    assert [tuple(s) for s in statuses] == [("local-free", 1, "failed"), ("local-free", 2, "failed"),
                                            ("mid-grade", 1, "passed")]


def test_two_runs_make_two_rows_and_nothing_is_overwritten(tmp_path):
    db = tmp_path / "audit.db"
    record_escalated_run(db, "run-1")
    with audit.AuditLog(db) as log:
        log(started("run-2", at=T0 + timedelta(hours=1)))
        log(iteration("run-2", 0, 1))
        log(finished("run-2", outcome="budget_exhausted", solved_by=None, iterations=1, cost=0.0))
    conn = reader(db)
    assert rows(conn, "SELECT run_id, outcome FROM runs ORDER BY started_at") == [
        ("run-1", "success"), ("run-2", "budget_exhausted")]
    assert rows(conn, "SELECT run_id, count(*) FROM tier_attempts GROUP BY run_id ORDER BY run_id") == [
        ("run-1", 3), ("run-2", 1)]


def test_a_locked_database_delays_writes_without_stalling_the_run_or_losing_a_row(tmp_path):
    db = tmp_path / "audit.db"
    audit.open_db(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    warnings: list[str] = []
    log = audit.AuditLog(db, warn=warnings.append)

    began = time.monotonic()
    for event in [started("run-1"), iteration("run-1", 0, 1), iteration("run-1", 0, 2)]:
        log(event)  # never raises
    assert time.monotonic() - began < 3  # a short busy timeout, not SQLite's default five seconds a write
    assert warnings == []  # a lock is not a failure: the rows wait
    assert rows(reader(db), "SELECT count(*) FROM tier_attempts") == [(0,)]

    holder.execute("ROLLBACK")  # the other process lets go: the queued rows land, in order, without a new event
    deadline = time.monotonic() + 10
    while rows(reader(db), "SELECT count(*) FROM tier_attempts") != [(2,)] and time.monotonic() < deadline:
        time.sleep(0.05)
    log(iteration("run-1", 1, 1, "passed"))
    log(finished("run-1"))
    log.close()
    assert warnings == []
    conn = reader(db)
    assert rows(conn, "SELECT run_id, outcome, total_iterations FROM runs") == [("run-1", "success", 3)]
    assert rows(conn, "SELECT tier_name, iteration FROM tier_attempts ORDER BY id") == [
        ("local-free", 1), ("local-free", 2), ("mid-grade", 1)]


def test_rows_a_lock_holds_back_to_the_end_are_set_aside_and_written_by_the_next_run(tmp_path):
    db = tmp_path / "audit.db"
    audit.open_db(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    warnings: list[str] = []
    log = audit.AuditLog(db, warn=warnings.append, final_flush_s=0.5)
    for event in [started("run-1"), iteration("run-1", 0, 1), finished("run-1", iterations=1)]:
        log(event)
    log.close()  # the lock outlived the run
    assert len(warnings) == 1
    assert f"3 record(s) of this run are not in it yet: they wait in {db}.pending" in warnings[0]
    holder.execute("ROLLBACK")

    with audit.AuditLog(db) as later:  # the next run writes them first, then its own
        later(started("run-2", at=T0 + timedelta(hours=1)))
    conn = reader(db)
    assert rows(conn, "SELECT run_id, outcome, total_iterations FROM runs ORDER BY started_at") == [
        ("run-1", "success", 1), ("run-2", None, 0)]
    assert rows(conn, "SELECT run_id, iteration FROM tier_attempts") == [("run-1", 1)]
    assert not [p for p in tmp_path.iterdir() if ".pending" in p.name]


def test_a_killed_run_counts_its_recorded_iterations(tmp_path):
    db = tmp_path / "audit.db"
    log = audit.AuditLog(db)
    for event in [started("run-1"), iteration("run-1", 0, 1, cost=0.01), iteration("run-1", 0, 2, cost=0.02)]:
        log(event)
    log.close()  # no RunFinished: the process was killed
    conn = audit.open_db(db, readonly=True)
    run = audit.get_run(conn, "run-1")
    assert (run["outcome"], run["total_iterations"], round(run["total_cost_usd"], 4)) == (None, 2, 0.03)
    # a row written before the count was kept per iteration still reads right
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("UPDATE runs SET total_iterations = 0")
    assert audit.list_runs(conn)[0]["total_iterations"] == 2


def test_an_unwritable_location_warns_once_and_never_raises(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the audit folder should be")
    warnings: list[str] = []
    log = audit.AuditLog(blocker / "audit.db", warn=warnings.append)
    for event in [started("run-1"), iteration("run-1", 0, 1), finished("run-1")]:
        log(event)
    log.close()
    assert len(warnings) == 1
    assert warnings[0].startswith(f"micro-agent: audit log {blocker / 'audit.db'} not written (")
    assert warnings[0].endswith("); the run goes on")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_warns(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    warnings: list[str] = []
    try:
        log = audit.AuditLog(folder / "audit.db", warn=warnings.append)
        log(started("run-1"))
        log(iteration("run-1", 0, 1))
        log.close()
    finally:
        folder.chmod(0o755)
    assert len(warnings) == 1 and "not written" in warnings[0]
    assert not (folder / "audit.db").exists()


def test_the_default_warning_goes_to_stderr(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    log = audit.AuditLog(blocker / "audit.db")
    log(started("run-1"))
    log(iteration("run-1", 0, 1))
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("micro-agent: audit log") == 1


# ---------------------------------------------------------------- queries


def test_queries_find_runs_by_prefix_target_and_recency(tmp_path):
    db = tmp_path / "audit.db"
    record_escalated_run(db, "aaaa1111-0000")
    with audit.AuditLog(db) as log:
        log(started("aaaa2222-0000", target="src/other.py", at=T0 + timedelta(hours=1)))
        log(iteration("aaaa2222-0000", 0, 1))
        log(started("bbbb3333-0000", at=T0 + timedelta(hours=2)))
    conn = audit.open_db(db, readonly=True)

    assert [r["run_id"] for r in audit.list_runs(conn)] == ["bbbb3333-0000", "aaaa2222-0000", "aaaa1111-0000"]
    assert [r["run_id"] for r in audit.list_runs(conn, limit=1)] == ["bbbb3333-0000"]
    assert [r["run_id"] for r in audit.list_runs(conn, target="src/calc.py")] == ["bbbb3333-0000", "aaaa1111-0000"]

    assert audit.get_run(conn, "bbbb")["run_id"] == "bbbb3333-0000"
    assert audit.get_run(conn, "aaaa1111-0000")["outcome"] == "success"
    assert audit.get_run(conn, "cccc") is None
    assert audit.get_run(conn, "aaaa_") is None  # LIKE wildcards in the prefix are taken literally
    with pytest.raises(audit.AmbiguousRunId) as ambiguous:
        audit.get_run(conn, "aaaa")
    assert ambiguous.value.matches == ["aaaa1111-0000", "aaaa2222-0000"]

    attempts = audit.get_attempts(conn, "aaaa1111-0000")
    assert [(a["tier_index"], a["iteration"], a["test_status"]) for a in attempts] == [
        (0, 1, "failed"), (0, 2, "failed"), (1, 1, "passed")]
    assert attempts[0]["failed_tests"] == ["tests/test_calc.py::test_multiply"]
    assert [e["to_tier"] for e in audit.get_escalations(conn, "aaaa1111-0000")] == ["mid-grade"]

    last = audit.last_run_for_target(conn, "src/other.py")
    assert (last["run_id"], last["outcome"], last["last_tier_index"], last["last_tier_name"]) == (
        "aaaa2222-0000", None, 0, "local-free")
    assert audit.last_run_for_target(conn, "src/calc.py")["last_tier_index"] is None  # bbbb has no attempts yet
    assert audit.last_run_for_target(conn, "nowhere.py") is None
    with pytest.raises(sqlite3.OperationalError):  # read-only means read-only
        conn.execute("DELETE FROM runs")


def test_failure_history_is_the_accumulated_summary_of_the_failed_tiers(tmp_path):
    db = tmp_path / "audit.db"
    with audit.AuditLog(db) as log:
        log(started("run-1"))
        log(iteration("run-1", 0, 1, change="Changed `a + b` to `a - b`",
                      errors=["AssertionError: Expected 12, received -1"]))
        log(iteration("run-1", 0, 2, status="error", failed=[], errors=["SyntaxError: invalid syntax"]))
        log(escalated("run-1"))
        log(iteration("run-1", 1, 1, errors=["AssertionError: Expected 12, received NaN"]))
        log(finished("run-1", outcome="failed", solved_by=None))
    history = audit.failure_history(audit.open_db(db), "run-1")

    tier1, tier2 = history.split("\n\n=== TIER 2 FAILURES: mid-grade (1 iterations) ===\n")
    assert tier1.startswith("=== TIER 1 FAILURES: local-free (2 iterations) ===\n"
                            "SIMPLE MODE HISTORY (2 iterations, all failed):\n")
    assert "Iteration 1: Changed `a + b` to `a - b`" in tier1 and "Expected 12, received -1" in tier1
    assert "Iteration 2: Changed multiply() attempt 0.2" in tier1 and "SyntaxError: invalid syntax" in tier1
    assert "local-free used its 2 iterations without passing" in tier1  # why the tier ended, from the escalation
    assert "tests/test_calc.py::test_multiply" in tier1
    assert tier2.startswith("SIMPLE MODE HISTORY (1 iterations, all failed):\n")
    assert "Expected 12, received NaN" in tier2 and "received -1" not in tier2


def test_failure_history_leaves_out_the_tier_that_solved_it(tmp_path):
    db = tmp_path / "audit.db"
    record_escalated_run(db, "run-1")
    with audit.AuditLog(db) as log:
        log(started("run-2"))
        log(iteration("run-2", 0, 1, "passed"))
    conn = audit.open_db(db)
    history = audit.failure_history(conn, "run-1")
    assert history.startswith("=== TIER 1 FAILURES: local-free (2 iterations) ===")
    assert "mid-grade" not in history.replace("local-free used its 2 iterations", "")
    assert audit.failure_history(conn, "run-2") == ""  # solved at once: nothing failed
    assert audit.failure_history(conn, "no-such-run") == ""


def test_failure_history_truncates_the_oldest_tier_past_4000_characters(tmp_path):
    db = tmp_path / "audit.db"
    noisy = [f"AssertionError: case {i} expected {i * 7} but the value was something else entirely" for i in range(60)]
    with audit.AuditLog(db) as log:
        log(started("run-1"))
        log(iteration("run-1", 0, 1, errors=noisy[:30]))
        log(iteration("run-1", 0, 2, errors=noisy[30:]))
        log(iteration("run-1", 1, 1, errors=["ZeroDivisionError: division by zero"]))
    history = audit.failure_history(audit.open_db(db), "run-1")
    assert len(history) <= 4000
    assert "[truncated]" in history
    assert history.index("[truncated]") < history.index("=== TIER 2 FAILURES: mid-grade (1 iterations) ===")
    assert "ZeroDivisionError: division by zero" in history  # the newest tier is kept whole


# ---------------------------------------------------------------- micro-agent audit


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="micro-agent")
    audit_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["audit", *argv])


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    """A real project repo with a buggy file, committed."""
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "dev@example.com")
    git(root, "config", "user.name", "Dev")
    (root / "src" / "calc.py").write_text("def multiply(a, b):\n    return a + b\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "start")
    return root


def commit_candidates(repo: Path, run_id: str, candidates: list[tuple[int, int, str]], seeded: bool = True) -> None:
    """Commit the run's seed (when the user had uncommitted work) and one commit per candidate onto
    refs/micro-agent/<run_id>, with the engine's messages."""
    git(repo, "checkout", "-q", "-b", "scratch")
    if seeded:
        (repo / "notes.txt").write_text("uncommitted work of the user\n")
        git(repo, "add", "notes.txt")
        git(repo, "commit", "-q", "-m", f"micro-agent {run_id}: seed")
    for tier_index, n, content in candidates:
        (repo / "src" / "calc.py").write_text(content)
        git(repo, "commit", "-q", "-a", "--allow-empty", "-m", f"micro-agent {run_id} tier {tier_index} iteration {n}")
    git(repo, "update-ref", f"refs/micro-agent/{run_id}", "HEAD")
    git(repo, "checkout", "-q", "main")
    git(repo, "branch", "-q", "-D", "scratch")


def test_audit_runs_prints_a_table_of_the_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")  # a terminal wide enough that no cell folds
    db = tmp_path / "audit.db"
    record_escalated_run(db, "1234abcd-aaaa-bbbb-cccc-000000000000")
    with audit.AuditLog(db) as log:
        log(started("5678ef00-aaaa-bbbb-cccc-000000000000", target="src/other.py", at=T0 + timedelta(hours=1)))

    assert audit_cli.run(parse("runs", "--db", str(db))) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "1234abcd" in line]
    assert len(lines) == 1
    assert "src/calc.py" in lines[0] and "success" in lines[0] and "mid-grade" in lines[0]
    assert "$0.0123" in lines[0] and " 3 " in lines[0]
    assert "5678ef00" in out and "unfinished" in out
    assert out.index("5678ef00") < out.index("1234abcd")  # newest first

    assert audit_cli.run(parse("runs", "--db", str(db), "--target", "src/other.py")) == 0
    out = capsys.readouterr().out
    assert "5678ef00" in out and "1234abcd" not in out
    assert audit_cli.run(parse("runs", "--db", str(db), "--limit", "1")) == 0
    assert "1234abcd" not in capsys.readouterr().out


@pytest.mark.parametrize("seeded", [True, False], ids=["seed-commit", "base-is-head"])
def test_audit_show_prints_every_attempt_with_its_diff(repo, tmp_path, capsys, seeded):
    run_id = str(uuid.uuid4())
    commit_candidates(repo, run_id, [
        (0, 1, "def multiply(a, b):\n    return a - b\n"),
        # iteration 2's reply was unusable: the engine committed nothing for it
        (1, 1, "def multiply(a, b):\n    return a * b\n"),
    ], seeded=seeded)
    db = tmp_path / "audit.db"
    record_escalated_run(db, run_id, root=str(repo))

    assert audit_cli.run(parse("show", run_id[:8], "--db", str(db))) == 0
    out = capsys.readouterr().out
    assert run_id in out
    assert out.count("Tier 1 local-free (simple)") == 2 and out.count("Tier 2 mid-grade (simple)") == 1
    assert "ollama/qwen2.5-coder" in out and "claude-haiku-4-5" in out
    assert "FAILED" in out and "PASSED" in out and "$0.0123" in out and "1.5 s" in out
    assert "tests/test_calc.py::test_multiply" in out
    assert "AssertionError: expected 12, got 2" in out
    assert "Escalated local-free → mid-grade: local-free used its 2 iterations without passing" in out
    first, second, third = out.split("Tier ")[1:4]
    assert "-    return a + b" in first and "+    return a - b" in first
    assert "(no candidate committed for this iteration)" in second and "return" not in second
    assert "-    return a - b" in third and "+    return a * b" in third
    assert "notes.txt" not in out  # the seed is the base, not a candidate
    assert out.index("Escalated") > out.index("iteration 2") and out.index("Escalated") < out.index("Tier 2")


def test_audit_show_without_a_git_ref_says_so_and_carries_on(repo, tmp_path, capsys):
    db = tmp_path / "audit.db"
    record_escalated_run(db, "run-without-ref", root=str(repo))
    assert audit_cli.run(parse("show", "run-without-ref", "--db", str(db))) == 0
    out = capsys.readouterr().out
    assert "(no git ref for this run)" in out
    assert out.count("Tier ") == 3 and "AssertionError: expected 12, got 1" in out


def test_audit_show_an_unknown_run_is_a_usage_error(tmp_path, capsys):
    db = tmp_path / "audit.db"
    record_escalated_run(db, "run-1")
    assert audit_cli.run(parse("show", "nope", "--db", str(db))) == 2
    err = capsys.readouterr().err
    assert "no run 'nope'" in err and "micro-agent audit runs" in err


def test_a_missing_database_is_a_usage_error_naming_the_path(tmp_path, capsys):
    missing = tmp_path / "nowhere" / "audit.db"
    assert audit_cli.run(parse("runs", "--db", str(missing))) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert str(missing) in err and "--db" in err
    assert not missing.parent.exists()  # reading never creates anything


def test_the_default_database_comes_from_the_project_config(repo, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "120")
    (repo / "micro-agent.yml").write_text("auditDbPath: logs/agent.db\n")
    record_escalated_run(repo / "logs" / "agent.db", "feedface-0000")
    monkeypatch.chdir(repo / "src")
    assert audit_cli.run(parse("runs")) == 0
    assert "feedface" in capsys.readouterr().out
    assert audit_cli.run(parse("runs", "--target", "calc.py")) == 0  # a path from cwd, matched to the root
    assert "feedface" in capsys.readouterr().out

    # a tier file's global.auditDbPath is where `micro-agent run` writes, so it is where `audit` reads
    (repo / "micro-agent.yml").write_text("tierConfigFile: tiers.json\n")
    (repo / "tiers.json").write_text(json.dumps({
        "tiers": [{"name": "t", "mode": "simple", "maxIterations": 1, "models": {"artisan": "ollama/qwen2.5-coder"}}],
        "global": {"auditDbPath": "tiered.db"}}))
    record_escalated_run(repo / "tiered.db", "0ddba11-0000")
    assert audit_cli.run(parse("runs")) == 0
    out = capsys.readouterr().out
    assert "0ddba11" in out and "feedface" not in out

    (repo / "micro-agent.yml").write_text("auditDbPaht: typo.db\n")
    assert audit_cli.run(parse("runs")) == 2
    err = capsys.readouterr().err
    assert "auditDbPaht" in err and "--db PATH" in err


def test_audit_export_json_holds_every_run_with_its_attempts_and_escalations(tmp_path, capsys):
    db = tmp_path / "audit.db"
    record_escalated_run(db, "run-1")
    with audit.AuditLog(db) as log:
        log(started("run-2", at=T0 + timedelta(hours=1)))

    assert audit_cli.run(parse("export", "--format", "json", "--db", str(db))) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in runs] == ["run-1", "run-2"]
    assert [(a["tier_name"], a["iteration"], a["test_status"]) for a in runs[0]["attempts"]] == [
        ("local-free", 1, "failed"), ("local-free", 2, "failed"), ("mid-grade", 1, "passed")]
    assert runs[0]["attempts"][0]["error_messages"] == ["AssertionError: expected 12, got 1"]
    assert runs[0]["escalations"][0]["to_tier"] == "mid-grade"
    assert runs[1]["attempts"] == [] and runs[1]["outcome"] is None


def test_audit_export_csv_has_one_row_per_attempt_with_the_run_joined(tmp_path, capsys):
    db = tmp_path / "audit.db"
    record_escalated_run(db, "run-1")
    output = tmp_path / "out" / "attempts.csv"
    output.parent.mkdir()

    assert audit_cli.run(parse("export", "--format", "csv", "--output", str(output), "--db", str(db))) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "Exported 1 runs (3 attempts)" in captured.err
    rows = list(csv.DictReader(io.StringIO(output.read_text())))
    assert [(r["run_id"], r["outcome"], r["tier_name"], r["iteration"], r["test_status"]) for r in rows] == [
        ("run-1", "success", "local-free", "1", "failed"), ("run-1", "success", "local-free", "2", "failed"),
        ("run-1", "success", "mid-grade", "1", "passed")]
    assert json.loads(rows[0]["failed_tests"]) == ["tests/test_calc.py::test_multiply"]
    assert rows[2]["cost_usd"] == "0.0123"
