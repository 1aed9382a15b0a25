"""The SQLite audit log: every attempt of every run, kept in a project-local database.

`AuditLog` observes engine events and writes one committed row per finished iteration, so a run cut
short keeps every iteration it finished. A locked database delays writes (they queue and are retried),
it never drops them; a database that cannot be written at all warns once on stderr and the run goes on.
The query functions below serve `micro-agent audit` and the language server.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from .events import Escalated, Event, IterationFinished, RunFinished, RunStarted, dispatch, handler_of
from .secrets import redact_value
from .summary import Attempt, accumulate, tier_header, tier_summary

BUSY_TIMEOUT_S = 0.2  # a database locked by another process must not stall the run: writes queue instead
RETRY_S = 0.25  # how often queued writes are retried while the database is locked
FINAL_FLUSH_S = 5.0  # how long the end of a run waits for a lock to go before it sets its rows aside
# The outcomes a run row may hold (reports.Outcome). Schema 1 knew the first five; schema 2 added solved_not_applied.
_OUTCOMES_V1 = ("success", "failed", "budget_exhausted", "interrupted", "error")
OUTCOMES = (*_OUTCOMES_V1, "solved_not_applied")
_RUNS_COLUMNS = ("run_id, started_at, finished_at, target, objective, outcome, solved_by_tier, total_iterations, "
                 "total_cost_usd, root")

# Forward-only migrations: MIGRATIONS[n] takes a database from user_version n to n + 1.
# Never edit a released step; append a new one (columns go at the end of their table).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        f"""CREATE TABLE runs (
            run_id           TEXT PRIMARY KEY,
            started_at       TEXT NOT NULL,
            finished_at      TEXT,
            target           TEXT NOT NULL,
            objective        TEXT NOT NULL DEFAULT '',
            outcome          TEXT CHECK (outcome IS NULL OR outcome IN {_OUTCOMES_V1}),
            solved_by_tier   TEXT,
            total_iterations INTEGER NOT NULL DEFAULT 0,
            total_cost_usd   REAL NOT NULL DEFAULT 0,
            root             TEXT
        )""",
        """CREATE TABLE tier_attempts (
            id                  INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id              TEXT NOT NULL REFERENCES runs (run_id),
            tier_index          INTEGER NOT NULL,
            tier_name           TEXT NOT NULL,
            tier_mode           TEXT NOT NULL CHECK (tier_mode IN ('simple', 'full')),
            model               TEXT NOT NULL,
            iteration           INTEGER NOT NULL,
            code_change_summary TEXT NOT NULL DEFAULT '',
            test_status         TEXT NOT NULL CHECK (test_status IN ('passed', 'failed', 'error')),
            failed_tests        TEXT NOT NULL DEFAULT '[]',
            error_messages      TEXT NOT NULL DEFAULT '[]',
            cost_usd            REAL NOT NULL DEFAULT 0,
            duration_ms         INTEGER NOT NULL DEFAULT 0,
            created_at          TEXT NOT NULL
        )""",
        """CREATE TABLE escalations (
            id                 INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id             TEXT NOT NULL REFERENCES runs (run_id),
            from_tier          TEXT NOT NULL,
            to_tier            TEXT NOT NULL,
            reason             TEXT NOT NULL DEFAULT '',
            summary            TEXT NOT NULL DEFAULT '',
            remaining_cost_usd REAL,
            remaining_minutes  REAL,
            created_at         TEXT NOT NULL
        )""",
        "CREATE INDEX runs_by_target ON runs (target, started_at)",
        "CREATE INDEX runs_by_start ON runs (started_at)",
        "CREATE INDEX attempts_by_run ON tier_attempts (run_id, id)",
        "CREATE INDEX escalations_by_run ON escalations (run_id, id)",
    ),
    (  # 2: runs.outcome accepts solved_not_applied (SQLite cannot alter a CHECK: rebuild the table)
        f"""CREATE TABLE runs_v2 (
            run_id           TEXT PRIMARY KEY,
            started_at       TEXT NOT NULL,
            finished_at      TEXT,
            target           TEXT NOT NULL,
            objective        TEXT NOT NULL DEFAULT '',
            outcome          TEXT CHECK (outcome IS NULL OR outcome IN {OUTCOMES}),
            solved_by_tier   TEXT,
            total_iterations INTEGER NOT NULL DEFAULT 0,
            total_cost_usd   REAL NOT NULL DEFAULT 0,
            root             TEXT
        )""",
        f"INSERT INTO runs_v2 ({_RUNS_COLUMNS}) SELECT {_RUNS_COLUMNS} FROM runs",
        "DROP TABLE runs",
        "ALTER TABLE runs_v2 RENAME TO runs",
        "CREATE INDEX runs_by_target ON runs (target, started_at)",
        "CREATE INDEX runs_by_start ON runs (started_at)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


# ---------------------------------------------------------------- opening


def open_db(db_path: Path, readonly: bool = False) -> sqlite3.Connection:
    """Connect to the audit database. Writable: create it (and its folder), switch it to WAL and
    migrate it to the current schema. Read-only: the file must exist; nothing is changed.

    The connection is in autocommit mode (every statement commits on its own) and returns
    `sqlite3.Row` rows. Raises `sqlite3.Error` or `OSError`.
    """
    db_path = Path(db_path)
    if readonly:
        if not db_path.is_file():
            raise sqlite3.OperationalError(f"no database file at {db_path}")
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S,
                               isolation_level=None, check_same_thread=False)
    else:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    if not readonly:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            migrate(conn)
        except BaseException:
            conn.close()
            raise
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, migrations: Sequence[Sequence[str]] = MIGRATIONS) -> int:
    """Apply the steps this database has not had yet, all in one transaction. Returns the new version."""
    if schema_version(conn) >= len(migrations):
        return schema_version(conn)
    conn.execute("BEGIN IMMEDIATE")  # another process may be migrating too: re-read under the lock
    try:
        version = schema_version(conn)
        for number, statements in enumerate(migrations[version:], start=version + 1):
            for statement in statements:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return schema_version(conn)


# ---------------------------------------------------------------- writing


def iso_utc(at: datetime) -> str:
    """ISO-8601 in UTC with milliseconds: `2025-06-01T09:30:00.123Z` (sorts as text, SQLite reads it)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _stderr_warning(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, sqlite3.Error):
        return f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc.strerror or exc)
    text = str(exc)
    if text == "unable to open database file":
        return "cannot create or open the file; check that its folder exists and is writable"
    return text


def _is_busy(exc: BaseException) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED: another connection holds the lock; the write can wait and retry."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (5, 6)
    return "locked" in str(exc) or "busy" in str(exc)


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # no transaction left to roll back


_SET_ASIDE_TYPES = {cls.__name__: cls for cls in (RunStarted, IterationFinished, Escalated, RunFinished)}


class AuditLog:
    """Observer of engine events (micro_agent.events): call it with each event.

    Each kept event is written in one transaction, in order. A database locked by another process
    (someone browsing it with sqlite3) delays writes, it never drops them: the events wait in a queue
    that a retry thread keeps flushing, and `close()` flushes what is left, waiting up to
    `final_flush_s` for the lock to go; what is still held back then waits in `pending_path` for the
    next AuditLog on this database. A database that cannot be written at all warns once and the run
    goes on. Never raises; safe to call from the engine's threads; the database is opened on the
    first event it keeps.
    """

    def __init__(self, db_path: Path, warn: Callable[[str], None] = _stderr_warning,
                 final_flush_s: float = FINAL_FLUSH_S):
        self.db_path = Path(db_path)
        self.final_flush_s = final_flush_s
        self._warn = warn
        self._warned = False
        self._closed = False
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._pending: deque[Event] = deque()  # kept events not written yet, oldest first
        self._retrying: threading.Thread | None = None
        self._took_set_aside = False
        self._unwritten_runs: dict[str, RunStarted] = {}  # runs whose row is not in the DB yet

    def __call__(self, event: Event) -> None:
        if handler_of(self, event) is None:  # kept: on_run_started, on_iteration_finished, on_escalated, on_run_finished
            return
        event = redact_value(event)  # credential-like text never lands in the database (docs/privacy.md)
        with self._lock:
            if self._closed:
                return
            self._pending.append(event)
            if not self._flush():
                self._retry_in_background()

    def close(self) -> None:
        """Write what is still queued (waiting up to `final_flush_s` for a lock to go), then close."""
        deadline = time.monotonic() + self.final_flush_s
        while True:
            with self._lock:
                if self._closed:
                    return
                if self._flush() or time.monotonic() >= deadline:
                    self._closed = True
                    if self._pending:
                        self._set_aside()
                    if self._conn is not None:
                        self._conn.close()
                        self._conn = None
                    return
            time.sleep(RETRY_S)

    def __enter__(self) -> "AuditLog":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _flush(self) -> bool:
        """Write the queued events in order, under `self._lock`; False when the database is locked."""
        if not self._took_set_aside and self.pending_path.exists():
            self._take_set_aside()
        while self._pending:
            event = self._pending[0]
            try:
                conn = self._connection()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    self._write(conn, event)
                    conn.execute("COMMIT")
                except BaseException:
                    _rollback(conn)
                    raise
            except Exception as exc:  # sqlite, OS, anything: the run's outcome never depends on the audit log
                if _is_busy(exc):
                    return False
                self._warn_once(exc)  # this event cannot be written: drop it, try the next
            else:
                self._unwritten_runs.pop(event.run_id, None)
            self._pending.popleft()
        return True

    @property
    def pending_path(self) -> Path:
        """Where records that found the database locked to the end wait for the next AuditLog to write them."""
        return self.db_path.with_name(self.db_path.name + ".pending")

    def _set_aside(self) -> None:
        """Keep the records the lock held back in `pending_path` (JSON lines); the next run writes them."""
        count = len(self._pending)
        try:
            with self.pending_path.open("a", encoding="utf-8") as out:
                for event in self._pending:
                    out.write(json.dumps({"type": type(event).__name__, "event": event.model_dump(mode="json")})
                              + "\n")
            kept = f"they wait in {self.pending_path} and the next run writes them"
        except OSError as exc:
            kept = f"they are lost ({_reason(exc)})"
        self._pending.clear()
        self._warn(f"micro-agent: audit log {self.db_path} stayed locked by another process for "
                   f"{self.final_flush_s:g} s, so {count} record(s) of this run are not in it yet: {kept} "
                   "(close the program that holds it, e.g. an open sqlite3 transaction); the run goes on")

    def _take_set_aside(self) -> None:
        """Put the records an earlier run set aside at the head of the queue (once: the file is claimed)."""
        self._took_set_aside = True
        claimed = self.pending_path.with_name(f"{self.pending_path.name}.{os.getpid()}-{id(self)}")
        try:
            os.replace(self.pending_path, claimed)  # another run replaying at the same time gets nothing
        except OSError:
            return
        events: list[Event] = []
        try:
            for line in claimed.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                    events.append(_SET_ASIDE_TYPES[record["type"]].model_validate(record["event"]))
                except (ValueError, KeyError, TypeError):
                    continue  # a torn line: skip it, keep the rest
            claimed.unlink()
        except OSError:
            return
        self._pending.extendleft(reversed(events))

    def _retry_in_background(self) -> None:
        if self._retrying is not None and self._retrying.is_alive():
            return

        def retry() -> None:
            while True:
                time.sleep(RETRY_S)
                with self._lock:
                    if self._closed or self._flush():
                        return

        self._retrying = threading.Thread(target=retry, name="micro-agent-audit-retry", daemon=True)
        self._retrying.start()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = open_db(self.db_path)
        return self._conn

    def _warn_once(self, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            self._warn(f"micro-agent: audit log {self.db_path} not written ({_reason(exc)}); the run goes on")

    def _write(self, conn: sqlite3.Connection, event: Event) -> None:
        """The statements of one event; the caller commits them together."""
        dispatch(self, event, conn)

    def _run_row(self, conn: sqlite3.Connection, run_id: str) -> None:
        """The run's row, while it is not known to be written (also retries one an earlier, failed write missed)."""
        started = self._unwritten_runs.get(run_id)
        if started is not None:
            conn.execute(
                "INSERT OR IGNORE INTO runs (run_id, started_at, target, objective, root) VALUES (?, ?, ?, ?, ?)",
                (started.run_id, iso_utc(started.at), started.target, started.objective, started.root),
            )

    def on_run_started(self, event: RunStarted, conn: sqlite3.Connection) -> None:
        self._unwritten_runs[event.run_id] = event
        self._run_row(conn, event.run_id)

    def on_iteration_finished(self, event: IterationFinished, conn: sqlite3.Connection) -> None:
        self._run_row(conn, event.run_id)
        conn.execute(
            """INSERT INTO tier_attempts (run_id, tier_index, tier_name, tier_mode, model, iteration,
                   code_change_summary, test_status, failed_tests, error_messages, cost_usd, duration_ms,
                   created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (event.run_id, event.tier_index, event.tier_name, event.tier_mode, event.model, event.iteration,
             event.change_summary, event.test_status, json.dumps(event.failed_tests),
             json.dumps(event.error_messages), event.cost_usd, event.duration_ms, iso_utc(event.at)),
        )
        # A run that is killed never reaches RunFinished: its row counts what it did as it goes.
        conn.execute(
            """UPDATE runs SET total_iterations = max(total_iterations, (SELECT count(*) FROM tier_attempts
                   WHERE run_id = ?1)), total_cost_usd = total_cost_usd + ?2 WHERE run_id = ?1""",
            (event.run_id, event.cost_usd),
        )

    def on_escalated(self, event: Escalated, conn: sqlite3.Connection) -> None:
        self._run_row(conn, event.run_id)
        conn.execute(
            """INSERT INTO escalations (run_id, from_tier, to_tier, reason, summary, remaining_cost_usd,
                   remaining_minutes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            (event.run_id, event.from_tier, event.to_tier, event.reason, event.summary,
             event.remaining_cost_usd, event.remaining_minutes, iso_utc(event.at)),
        )

    def on_run_finished(self, event: RunFinished, conn: sqlite3.Connection) -> None:
        self._run_row(conn, event.run_id)
        report = event.report
        conn.execute(
            """UPDATE runs SET finished_at = ?1, outcome = ?2, solved_by_tier = ?3,
                   total_iterations = max(?4, (SELECT count(*) FROM tier_attempts WHERE run_id = ?6)),
                   total_cost_usd = ?5 WHERE run_id = ?6""",
            (iso_utc(event.at), report.outcome, report.solved_by_tier, report.total_iterations,
             report.total_cost_usd, event.run_id),
        )


def record_outcome(db_path: Path, run_id: str, outcome: str, warn: Callable[[str], None] = _stderr_warning) -> None:
    """Correct a finished run's outcome (the language server learns only after the run whether the editor
    applied the fix). Best effort, like every write: a failure warns and returns."""
    try:
        conn = open_db(db_path)
        try:
            conn.execute("UPDATE runs SET outcome = ? WHERE run_id = ?", (outcome, run_id))
        finally:
            conn.close()
    except Exception as exc:
        warn(f"micro-agent: audit log {db_path} not written ({_reason(exc)}); the run goes on")


# ---------------------------------------------------------------- reading


class AmbiguousRunId(LookupError):
    """A run id prefix that matches more than one run."""

    def __init__(self, prefix: str, matches: list[str]):
        self.prefix = prefix
        self.matches = matches
        super().__init__(f"run id {prefix!r} matches {len(matches)} runs")


# every run, with the tier its last attempt ran in (the LSP's `escalate` starts a new run after it)
# `total_iterations` is never below the attempts recorded (a run that was killed stopped counting).
_RUNS_SQL = """
    SELECT runs.run_id, runs.started_at, runs.finished_at, runs.target, runs.objective, runs.outcome,
           runs.solved_by_tier,
           max(runs.total_iterations, (SELECT count(*) FROM tier_attempts a WHERE a.run_id = runs.run_id))
               AS total_iterations,
           runs.total_cost_usd, runs.root,
           (SELECT tier_index FROM tier_attempts a WHERE a.run_id = runs.run_id ORDER BY a.id DESC LIMIT 1)
               AS last_tier_index,
           (SELECT tier_name FROM tier_attempts a WHERE a.run_id = runs.run_id ORDER BY a.id DESC LIMIT 1)
               AS last_tier_name
    FROM runs
"""


def list_runs(conn: sqlite3.Connection, limit: int = 50, target: str | None = None) -> list[dict]:
    """The newest runs first (all of them when `limit` < 0), optionally only those on `target`
    (as recorded: relative to the project root, `/` separators)."""
    where, params = ("WHERE target = ?", [target]) if target is not None else ("", [])
    rows = conn.execute(f"{_RUNS_SQL} {where} ORDER BY started_at DESC, rowid DESC LIMIT ?", [*params, limit])
    return [dict(row) for row in rows]


def get_run(conn: sqlite3.Connection, run_id_prefix: str) -> dict | None:
    """The run whose id is or starts with `run_id_prefix`; None when none does.

    Raises AmbiguousRunId when the prefix matches several runs.
    """
    prefix = run_id_prefix.strip()
    if not prefix:
        return None
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = conn.execute(f"{_RUNS_SQL} WHERE run_id LIKE ? ESCAPE '\\' ORDER BY started_at LIMIT 11",
                        [escaped + "%"]).fetchall()
    exact = [row for row in rows if row["run_id"] == prefix]
    if exact or len(rows) == 1:
        return dict((exact or rows)[0])
    if rows:
        raise AmbiguousRunId(prefix, [row["run_id"] for row in rows])
    return None


def _attempt(row: sqlite3.Row) -> dict:
    attempt = dict(row)
    attempt["failed_tests"] = _json_list(attempt["failed_tests"])
    attempt["error_messages"] = _json_list(attempt["error_messages"])
    return attempt


def _json_list(text: str | None) -> list:
    try:
        value = json.loads(text or "[]")
    except json.JSONDecodeError:
        return [text]
    return value if isinstance(value, list) else [value]


def get_attempts(conn: sqlite3.Connection, run_id: str) -> list[dict]:
    """The run's attempts in the order they finished; `failed_tests` and `error_messages` as lists."""
    rows = conn.execute("SELECT * FROM tier_attempts WHERE run_id = ? ORDER BY id", [run_id])
    return [_attempt(row) for row in rows]


def get_escalations(conn: sqlite3.Connection, run_id: str) -> list[dict]:
    rows = conn.execute("SELECT * FROM escalations WHERE run_id = ? ORDER BY id", [run_id])
    return [dict(row) for row in rows]


def last_run_for_target(conn: sqlite3.Connection, target: str) -> dict | None:
    """The newest run on `target`, with `last_tier_index`/`last_tier_name` (None when it has no attempts)."""
    runs = list_runs(conn, limit=1, target=target)
    return runs[0] if runs else None


# ---------------------------------------------------------------- failure history


def failure_history(conn: sqlite3.Connection, run_id: str) -> str:
    """The run's accumulated failure summary, to seed a new run with (spec 002, Decision 3).

    One section per tier that ran without passing, oldest first, under
    `=== TIER n FAILURES: name (k iterations) ===`, built from the recorded attempts exactly as the
    engine builds the context it hands to its next tier, capped the same way. Empty when nothing failed.
    """
    ended_because = {e["from_tier"]: e["reason"] for e in get_escalations(conn, run_id)}
    tiers: dict[int, list[dict]] = {}
    for attempt in get_attempts(conn, run_id):
        tiers.setdefault(attempt["tier_index"], []).append(attempt)
    sections = []
    for tier_index, rows in sorted(tiers.items()):
        if any(row["test_status"] == "passed" for row in rows):
            continue
        name = rows[0]["tier_name"]
        attempts = [Attempt(row["iteration"], row["code_change_summary"], row["test_status"],
                            row["failed_tests"], row["error_messages"]) for row in rows]
        sections.append(tier_header(tier_index + 1, name, len(attempts)) + "\n"
                        + tier_summary(rows[0]["tier_mode"], attempts, ended_because.get(name, "")))
    return accumulate(sections)
