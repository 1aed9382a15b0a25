"""The autopilot's tables in the audit database: passes, jobs, proposals, undos, and a little state.

Same SQLite file as the audit log (`.micro-agent/audit.db`), with its own forward-only migrations and
its own version row (table `autopilot_schema`), so it never collides with the audit log's `user_version`.
Jobs are a queue that survives restarts: a job is claimed with one conditional UPDATE, so two workers
(or a restarted service) never run the same job twice.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from .audit import iso_utc, open_db

JOB_STATES = ("queued", "running", "proposed", "refused", "failed", "interrupted", "budget", "error")
OPEN_JOB_STATES = ("queued", "running")
PROPOSAL_STATES = ("pending", "open", "local", "refused", "reverted", "closed")
MAX_JOB_TRIES = 2  # a job interrupted by a crash is retried once, then recorded as interrupted

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE autopilot_passes (
            pass_id       TEXT PRIMARY KEY,
            started_at    TEXT NOT NULL,
            finished_at   TEXT,
            trigger       TEXT NOT NULL,
            base_ref      TEXT NOT NULL,
            base_commit   TEXT,
            suite         TEXT NOT NULL DEFAULT '',
            failing_tests INTEGER NOT NULL DEFAULT 0,
            outcome       TEXT,
            message       TEXT NOT NULL DEFAULT ''
        )""",
        f"""CREATE TABLE autopilot_jobs (
            job_id      TEXT PRIMARY KEY,
            pass_id     TEXT NOT NULL REFERENCES autopilot_passes (pass_id),
            created_at  TEXT NOT NULL,
            updated_at  TEXT NOT NULL,
            state       TEXT NOT NULL CHECK (state IN {JOB_STATES}),
            target      TEXT NOT NULL,
            tests       TEXT NOT NULL DEFAULT '[]',
            errors      TEXT NOT NULL DEFAULT '[]',
            base_commit TEXT NOT NULL,
            run_id      TEXT,
            owner       TEXT,
            tries       INTEGER NOT NULL DEFAULT 0,
            cost_usd    REAL NOT NULL DEFAULT 0,
            solved_by   TEXT,
            branch      TEXT,
            pr_url      TEXT,
            message     TEXT NOT NULL DEFAULT ''
        )""",
        f"""CREATE TABLE autopilot_proposals (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id      TEXT NOT NULL REFERENCES autopilot_jobs (job_id),
            run_id      TEXT NOT NULL,
            base_commit TEXT NOT NULL,
            target      TEXT NOT NULL,
            tests       TEXT NOT NULL DEFAULT '[]',
            branch      TEXT NOT NULL,
            commit_sha  TEXT,
            state       TEXT NOT NULL CHECK (state IN {PROPOSAL_STATES}),
            pr_number   INTEGER,
            pr_url      TEXT,
            reason      TEXT NOT NULL DEFAULT '',
            title       TEXT NOT NULL DEFAULT '',
            body        TEXT NOT NULL DEFAULT '',
            created_at  TEXT NOT NULL,
            updated_at  TEXT NOT NULL
        )""",
        """CREATE TABLE autopilot_undos (
            id         INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id     TEXT NOT NULL,
            kind       TEXT NOT NULL CHECK (kind IN ('applied', 'branch')),
            outcome    TEXT NOT NULL CHECK (outcome IN ('reverted', 'refused')),
            branch     TEXT,
            pr_url     TEXT,
            reason     TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        )""",
        "CREATE TABLE autopilot_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE INDEX autopilot_jobs_by_state ON autopilot_jobs (state, created_at)",
        "CREATE INDEX autopilot_proposals_by_base ON autopilot_proposals (base_commit, target)",
    ),
    (  # 2: alerts from Alertmanager, and what became of a proposed fix (merged or closed unmerged)
        """CREATE TABLE autopilot_alerts (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            received_at TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            alertname   TEXT NOT NULL DEFAULT '',
            status      TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
            action      TEXT NOT NULL CHECK (action IN ('started', 'ignored', 'duplicate', 'resolved')),
            tests       TEXT NOT NULL DEFAULT '[]',
            reason      TEXT NOT NULL DEFAULT '',
            labels      TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX autopilot_alerts_by_fingerprint ON autopilot_alerts (fingerprint, id)",
        "ALTER TABLE autopilot_proposals ADD COLUMN merged_at TEXT",
        "ALTER TABLE autopilot_proposals ADD COLUMN closed_at TEXT",
    ),
    (  # 3: where each job ran (micro_agent.executor): local or ray, and the node
        "ALTER TABLE autopilot_jobs ADD COLUMN executor TEXT",
        "ALTER TABLE autopilot_jobs ADD COLUMN node TEXT",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def now() -> str:
    return iso_utc(datetime.now(timezone.utc))


def new_id() -> str:
    return str(uuid.uuid4())


def connect(db_path: Path) -> sqlite3.Connection:
    """The audit database with the autopilot's tables migrated in. Raises sqlite3.Error or OSError."""
    conn = open_db(db_path)
    conn.execute("PRAGMA busy_timeout = 5000")  # the service and a CLI command share the file
    migrate(conn)
    return conn


def version(conn: sqlite3.Connection) -> int:
    conn.execute("CREATE TABLE IF NOT EXISTS autopilot_schema (version INTEGER NOT NULL)")
    row = conn.execute("SELECT version FROM autopilot_schema").fetchone()
    return row[0] if row else 0


def migrate(conn: sqlite3.Connection, migrations: Sequence[Sequence[str]] = MIGRATIONS) -> int:
    if version(conn) >= len(migrations):
        return version(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = version(conn)
        for statements in migrations[current:]:
            for statement in statements:
                conn.execute(statement)
        conn.execute("DELETE FROM autopilot_schema")
        conn.execute("INSERT INTO autopilot_schema (version) VALUES (?)", [len(migrations)])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return version(conn)


def has_tables(conn: sqlite3.Connection) -> bool:
    """Whether this database has the autopilot's tables (read-only connections cannot create them)."""
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'autopilot_jobs'").fetchone()
    return row is not None


def _row(row: sqlite3.Row | None) -> dict | None:
    if row is None:
        return None
    item = dict(row)
    for key in ("tests", "errors"):
        if key in item:
            item[key] = json.loads(item[key] or "[]")
    return item


# ---------------------------------------------------------------- passes


def start_pass(conn: sqlite3.Connection, trigger: str, base_ref: str, suite: str) -> str:
    pass_id = new_id()
    conn.execute("INSERT INTO autopilot_passes (pass_id, started_at, trigger, base_ref, suite) VALUES (?, ?, ?, ?, ?)",
                 [pass_id, now(), trigger, base_ref, suite])
    return pass_id


def update_pass(conn: sqlite3.Connection, pass_id: str, **fields: object) -> None:
    _update(conn, "autopilot_passes", "pass_id", pass_id, fields)


def finish_pass(conn: sqlite3.Connection, pass_id: str, outcome: str, message: str = "") -> None:
    update_pass(conn, pass_id, finished_at=now(), outcome=outcome, message=message)


def list_passes(conn: sqlite3.Connection, limit: int = 20) -> list[dict]:
    rows = conn.execute("SELECT * FROM autopilot_passes ORDER BY started_at DESC, rowid DESC LIMIT ?", [limit])
    return [dict(r) for r in rows]


# ---------------------------------------------------------------- jobs


def add_job(conn: sqlite3.Connection, pass_id: str, target: str, tests: list[str], errors: list[str],
            base_commit: str) -> str:
    job_id = new_id()
    at = now()
    conn.execute("""INSERT INTO autopilot_jobs (job_id, pass_id, created_at, updated_at, state, target, tests, errors,
                        base_commit) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?)""",
                 [job_id, pass_id, at, at, target, json.dumps(tests), json.dumps(errors), base_commit])
    return job_id


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str | None) -> bool:
    """Whether the process that claimed a job still runs (a process on another host counts as alive)."""
    host, _, pid = (owner or "").rpartition(":")
    if not pid.isdigit():
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def claim_job(conn: sqlite3.Connection, job_id: str, run_id: str) -> bool:
    """queued → running, atomically; False when someone else has it (or it is no longer queued)."""
    done = conn.execute("""UPDATE autopilot_jobs SET state = 'running', run_id = ?, owner = ?, tries = tries + 1,
                           updated_at = ? WHERE job_id = ? AND state = 'queued'""",
                        [run_id, this_process(), now(), job_id])
    return done.rowcount == 1


def update_job(conn: sqlite3.Connection, job_id: str, **fields: object) -> None:
    _update(conn, "autopilot_jobs", "job_id", job_id, {**fields, "updated_at": now()})


def get_job(conn: sqlite3.Connection, job_id_prefix: str) -> dict | None:
    row = conn.execute("SELECT * FROM autopilot_jobs WHERE job_id = ? OR job_id LIKE ? ORDER BY created_at LIMIT 1",
                       [job_id_prefix, job_id_prefix.replace("%", "") + "%"]).fetchone()
    return _row(row)


def list_jobs(conn: sqlite3.Connection, limit: int = 50, states: Sequence[str] | None = None,
              pass_id: str | None = None) -> list[dict]:
    where, params = [], []
    if states:
        where.append(f"state IN ({', '.join('?' * len(states))})")
        params += list(states)
    if pass_id:
        where.append("pass_id = ?")
        params.append(pass_id)
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    rows = conn.execute(f"SELECT * FROM autopilot_jobs {clause} ORDER BY created_at DESC, rowid DESC LIMIT ?",
                        [*params, limit])
    return [_row(r) for r in rows]  # type: ignore[misc]


def queued_jobs(conn: sqlite3.Connection) -> list[dict]:
    rows = conn.execute("SELECT * FROM autopilot_jobs WHERE state = 'queued' ORDER BY created_at, rowid")
    return [_row(r) for r in rows]  # type: ignore[misc]


def recover_jobs(conn: sqlite3.Connection) -> list[dict]:
    """After a crash: every job left `running` by a process that is gone goes back to `queued` (retried),
    or to `interrupted` after MAX_JOB_TRIES. A job whose proposal was already started is finished from that
    proposal, never re-run. Returns the jobs it touched, as they are now."""
    touched = []
    for job in [_row(r) for r in conn.execute("SELECT * FROM autopilot_jobs WHERE state = 'running'")]:
        assert job is not None
        if owner_alive(job["owner"]):
            continue
        if proposal_for_job(conn, job["job_id"]) is not None:
            update_job(conn, job["job_id"], state="queued", message="resumed after a restart: finishing its proposal")
        elif job["tries"] < MAX_JOB_TRIES:
            update_job(conn, job["job_id"], state="queued", message="retried after a restart")
        else:
            update_job(conn, job["job_id"], state="interrupted",
                       message=f"interrupted {job['tries']} times by restarts; not tried again")
        touched.append(get_job(conn, job["job_id"]))
    return touched


def active_job_for(conn: sqlite3.Connection, base_commit: str, target: str) -> dict | None:
    """A queued or running job on `target` at `base_commit`: that failure is already being fixed."""
    row = conn.execute("""SELECT * FROM autopilot_jobs WHERE base_commit = ? AND target = ? AND state IN
                          ('queued', 'running') ORDER BY created_at LIMIT 1""", [base_commit, target]).fetchone()
    return _row(row)


def cost_since(conn: sqlite3.Connection, since_iso: str) -> float:
    row = conn.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM autopilot_jobs WHERE created_at >= ?",
                       [since_iso]).fetchone()
    return float(row[0])


# ---------------------------------------------------------------- proposals


def add_proposal(conn: sqlite3.Connection, job: dict, run_id: str, branch: str, commit_sha: str | None,
                 state: str, reason: str = "", title: str = "", body: str = "") -> int:
    at = now()
    cur = conn.execute("""INSERT INTO autopilot_proposals (job_id, run_id, base_commit, target, tests, branch,
                              commit_sha, state, reason, title, body, created_at, updated_at)
                          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                       [job["job_id"], run_id, job["base_commit"], job["target"], json.dumps(job["tests"]), branch,
                        commit_sha, state, reason, title, body, at, at])
    return int(cur.lastrowid or 0)


def update_proposal(conn: sqlite3.Connection, proposal_id: int, **fields: object) -> None:
    _update(conn, "autopilot_proposals", "id", proposal_id, {**fields, "updated_at": now()})


def proposal_for_job(conn: sqlite3.Connection, job_id: str) -> dict | None:
    row = conn.execute("SELECT * FROM autopilot_proposals WHERE job_id = ? ORDER BY id DESC LIMIT 1",
                       [job_id]).fetchone()
    return _row(row)


def proposal_for_run(conn: sqlite3.Connection, run_id_prefix: str) -> dict | None:
    row = conn.execute("SELECT * FROM autopilot_proposals WHERE run_id = ? OR run_id LIKE ? ORDER BY id DESC LIMIT 1",
                       [run_id_prefix, run_id_prefix.replace("%", "") + "%"]).fetchone()
    return _row(row)


def open_proposals_for(conn: sqlite3.Connection, target: str, tests: list[str]) -> list[dict]:
    """Proposals on `target` still out (pending, open, or local-only) that cover one of `tests`, newest first."""
    rows = conn.execute("""SELECT * FROM autopilot_proposals WHERE target = ?
                           AND state IN ('pending', 'open', 'local') ORDER BY id DESC""", [target])
    proposals = [_row(row) for row in rows]
    return [p for p in proposals if p is not None and set(p["tests"]) & set(tests)]


def list_proposals(conn: sqlite3.Connection, limit: int = 50) -> list[dict]:
    rows = conn.execute("SELECT * FROM autopilot_proposals ORDER BY id DESC LIMIT ?", [limit])
    return [_row(r) for r in rows]  # type: ignore[misc]


def proposal_for_pr(conn: sqlite3.Connection, pr_number: int | None, branch: str | None) -> dict | None:
    """The proposal that opened pull request `pr_number` (or whose branch is `branch`)."""
    row = conn.execute("SELECT * FROM autopilot_proposals WHERE (pr_number = ? AND pr_number IS NOT NULL) "
                       "OR branch = ? ORDER BY id DESC LIMIT 1", [pr_number, branch or ""]).fetchone()
    return _row(row)


def record_pr_closed(conn: sqlite3.Connection, proposal_id: int, merged: bool, source: str) -> None:
    """A proposed fix's pull request was merged, or closed unmerged (`source`: webhook or poll)."""
    at = now()
    update_proposal(conn, proposal_id, state="closed", closed_at=at, merged_at=at if merged else None,
                    reason=f"{'merged' if merged else 'closed unmerged'} ({source})")


# ---------------------------------------------------------------- alerts


def add_alert(conn: sqlite3.Connection, fingerprint: str, alertname: str, status: str, action: str,
              tests: list[str], reason: str, labels: dict) -> int:
    cur = conn.execute("""INSERT INTO autopilot_alerts (received_at, fingerprint, alertname, status, action, tests,
                              reason, labels) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                       [now(), fingerprint, alertname, status, action, json.dumps(tests), reason,
                        json.dumps(labels, sort_keys=True)])
    return int(cur.lastrowid or 0)


def list_alerts(conn: sqlite3.Connection, limit: int = 50) -> list[dict]:
    rows = conn.execute("SELECT * FROM autopilot_alerts ORDER BY id DESC LIMIT ?", [limit])
    alerts = [_row(r) for r in rows]
    for alert in alerts:
        assert alert is not None
        alert["labels"] = json.loads(alert["labels"] or "{}")
    return alerts  # type: ignore[return-value]


# ---------------------------------------------------------------- undos and state


def add_undo(conn: sqlite3.Connection, run_id: str, kind: str, outcome: str, reason: str = "",
             branch: str | None = None, pr_url: str | None = None) -> None:
    conn.execute("""INSERT INTO autopilot_undos (run_id, kind, outcome, branch, pr_url, reason, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)""", [run_id, kind, outcome, branch, pr_url, reason, now()])


def list_undos(conn: sqlite3.Connection, limit: int = 50) -> list[dict]:
    return [dict(r) for r in conn.execute("SELECT * FROM autopilot_undos ORDER BY id DESC LIMIT ?", [limit])]


def get_state(conn: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    row = conn.execute("SELECT value FROM autopilot_state WHERE key = ?", [key]).fetchone()
    return row[0] if row else default


def set_state(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO autopilot_state (key, value) VALUES (?, ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, value])


def _update(conn: sqlite3.Connection, table: str, key: str, value: object, fields: dict[str, object]) -> None:
    if not fields:
        return
    values = [json.dumps(v) if isinstance(v, list) else v for v in fields.values()]
    assignments = ", ".join(f"{name} = ?" for name in fields)
    conn.execute(f"UPDATE {table} SET {assignments} WHERE {key} = ?", [*values, value])
