"""`micro-agent audit`: list the recorded runs, show one run's attempts with their diffs, export them.

A face over `micro_agent.audit`, like the main CLI over the engine: it reads the database and renders
with rich on stdout; problems go to stderr with what to do, exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from micro_agent import audit
from micro_agent.commits import CANDIDATE_SUBJECT, candidate_prefix
from micro_agent.config import CONFIG_FILE_NAME, ConfigError, find_project_root
from micro_agent.git import GitError, run_git
from micro_agent.outcomes import OUTCOMES
from micro_agent.run_settings import project_settings
from micro_agent.workspace import REF_PREFIX

EXIT_OK = 0
EXIT_USAGE = 2
OUTCOME_STYLES = {word: info.colour for word, info in OUTCOMES.items()}
STATUS_STYLES = {"passed": "green", "failed": "red", "error": "magenta"}


class UsageProblem(Exception):
    """Something the user can fix; the message says what to do."""


# ---------------------------------------------------------------- parser


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add `audit runs|show|export|prune` to the main CLI's subcommands."""
    parser = subparsers.add_parser(
        "audit", help="list, show and export the recorded runs (the SQLite audit log)",
        description="Read the audit log: every attempt of every run, with its tier, model, tests, cost and diff.",
    )
    parser.set_defaults(handler=run)
    commands = parser.add_subparsers(dest="audit_command", metavar="{runs,show,export,prune,autopilot,stats}", required=True)

    runs = commands.add_parser("runs", help="the recorded runs, newest first")
    runs.add_argument("--limit", type=_positive_int, default=50, metavar="N", help="show at most N runs (50)")
    runs.add_argument("--target", metavar="PATH", help="only the runs on this file")

    show = commands.add_parser("show", help="every attempt of one run, with the diff of each candidate")
    show.add_argument("run_id", metavar="RUN_ID", help="the run's id, or a unique prefix of it")

    export = commands.add_parser("export", help="all runs with their attempts, as JSON or CSV")
    export.add_argument("--format", choices=["json", "csv"], default="json", help="json (default) or csv")
    export.add_argument("--output", "-o", type=Path, metavar="FILE", help="write here instead of stdout")

    prune = commands.add_parser(
        "prune", help="remove the git refs (refs/micro-agent/<run>) of old runs",
        description="Remove refs/micro-agent/<run_id> of runs older than --older-than days, and the worktrees "
                    "killed runs left behind. Runs going on now keep theirs. The audit rows stay.")
    prune.add_argument("--older-than", type=_days, default=30.0, metavar="DAYS",
                       help="remove refs whose newest candidate is older than DAYS (default 30; 0: all)")
    prune.add_argument("--dry-run", action="store_true", help="list what would be removed; remove nothing")

    autopilot = commands.add_parser("autopilot", help="the autopilot's passes, jobs, pull requests and undos")
    autopilot.add_argument("--limit", type=_positive_int, default=20, metavar="N", help="at most N rows each (20)")

    from .audit_stats import add_arguments as add_stats_arguments

    stats = commands.add_parser("stats", help="solve rate, iterations, cost and merge rate per tier, model and target")
    add_stats_arguments(stats)

    for sub in (runs, show, export, autopilot, stats):
        sub.add_argument("--db", type=Path, metavar="PATH",
                         help="the audit database (default: auditDbPath of micro-agent.yml, .micro-agent/audit.db)")


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


# ---------------------------------------------------------------- run


def run(args: argparse.Namespace) -> int:
    """Carry out a parsed `audit` command. Exit 0 when done, 2 on a problem the user can fix."""
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    try:
        root = find_project_root(Path.cwd())
        if args.audit_command == "prune":
            return prune_command(out, root, args.older_than, args.dry_run)
        db_path = args.db or default_db_path(root)
        with _open_readonly(db_path) as conn:
            if args.audit_command == "runs":
                target = _target_key(args.target, root) if args.target else None
                render_runs(out, audit.list_runs(conn, limit=args.limit, target=target), db_path)
            elif args.audit_command == "show":
                run_row = _find_run(conn, args.run_id, db_path)
                render_run(out, run_row, audit.get_attempts(conn, run_row["run_id"]),
                           audit.get_escalations(conn, run_row["run_id"]),
                           _run_root(run_row, root))
            elif args.audit_command == "stats":
                from .audit_stats import run as stats_run

                stats_run(out, conn, args)
            elif args.audit_command == "autopilot":
                from .audit_autopilot import render as render_autopilot

                render_autopilot(out, conn, args.limit, local_time)
            else:
                export(out, err, conn, args.format, args.output)
    except UsageProblem as problem:
        err.print(f"micro-agent audit: {problem}", markup=False)
        return EXIT_USAGE
    except ConfigError as exc:
        err.print("micro-agent audit: cannot tell where the audit database is; fix the configuration "
                  "or pass --db PATH:\n" + "\n".join(f"  {p}" for p in exc.problems), markup=False)
        return EXIT_USAGE
    return EXIT_OK


def _run_root(run_row: dict, root: Path) -> Path:
    """Where the run's commits can be read: its root, or this project when that folder is gone (the
    autopilot's worktrees are temporary; the run's ref lives in the shared repository)."""
    recorded = Path(run_row["root"]) if run_row.get("root") else None
    return recorded if recorded is not None and recorded.is_dir() else root


def default_db_path(root: Path) -> Path:
    """Where `micro-agent run` writes: the tier file's `global.auditDbPath` when micro-agent.yml names a
    tier file, else the yml's `auditDbPath` (default .micro-agent/audit.db), relative to the root."""
    return root / project_settings(root / CONFIG_FILE_NAME).audit_db_path


class _open_readonly:
    """`with _open_readonly(path) as conn`: the database, read-only, or a UsageProblem naming the path."""

    def __init__(self, db_path: Path):
        self.db_path = db_path

    def __enter__(self) -> sqlite3.Connection:
        if not self.db_path.is_file():
            raise UsageProblem(
                f"no audit database at {self.db_path}. Runs are recorded there by `micro-agent run`; "
                "point to another one with --db PATH."
            )
        try:
            self.conn = audit.open_db(self.db_path, readonly=True)
            self.conn.execute("SELECT 1 FROM runs LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise UsageProblem(f"cannot read the audit database {self.db_path} ({exc}); "
                               "is it a micro-agent audit log?") from None
        return self.conn

    def __exit__(self, *exc_info: object) -> None:
        self.conn.close()


def _target_key(target: str, root: Path) -> str:
    """A target as the audit log records it: relative to the project root, with / separators."""
    path = Path(target)
    resolved = (Path.cwd() / path).resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _find_run(conn: sqlite3.Connection, run_id: str, db_path: Path) -> dict:
    try:
        found = audit.get_run(conn, run_id)
    except audit.AmbiguousRunId as exc:
        ids = ", ".join(exc.matches[:5]) + (" …" if len(exc.matches) > 5 else "")
        raise UsageProblem(f"run id {run_id!r} matches several runs ({ids}); give more of it.") from None
    if found is None:
        raise UsageProblem(f"no run {run_id!r} in {db_path}. "
                           "List the recorded runs with `micro-agent audit runs`.")
    return found


# ---------------------------------------------------------------- prune


def prune_command(out: Console, root: Path, older_than: float, dry_run: bool) -> int:
    from micro_agent.refs import prune_refs
    from micro_agent.runlock import locked_run_ids
    from micro_agent.workspace import WorkspaceError, git

    try:
        repo = Path(git(["rev-parse", "--show-toplevel"], root).strip())
    except WorkspaceError:
        raise UsageProblem(f"{root} is not in a git repository: run refs live in git, so there is nothing "
                           "to prune. Run it from inside your project.") from None
    removed, kept = prune_refs(repo, older_than, locked_run_ids(root), dry_run=dry_run)
    verb = "Would remove" if dry_run else "Removed"
    out.print(f"{verb} {len(removed)} run ref{'s' if len(removed) != 1 else ''} older than {older_than:g} days "
              f"in {repo}; kept {len(kept)}.", markup=False)
    for ref in removed:
        out.print(f"  {ref.name}  ({local_time(datetime.fromtimestamp(ref.committed_at).astimezone().isoformat())})",
                  markup=False)
    return EXIT_OK


# ---------------------------------------------------------------- runs


def render_runs(console: Console, runs: list[dict], db_path: Path) -> None:
    if not runs:
        console.print(f"No runs recorded in {db_path} yet.", markup=False)
        return
    table = Table(title=f"Runs in {db_path}", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    table.add_column("When", no_wrap=True)
    table.add_column("Run", no_wrap=True)
    table.add_column("Target", overflow="fold")
    table.add_column("Outcome", no_wrap=True)
    table.add_column("Solved by", overflow="fold")
    table.add_column("Iter", justify="right")
    table.add_column("Cost", justify="right", no_wrap=True)
    for row in runs:
        table.add_row(
            local_time(row["started_at"], "%Y-%m-%d %H:%M"), row["run_id"][:8], Text(row["target"]), outcome_text(row["outcome"]),
            Text(row["solved_by_tier"] or "—"), str(row["total_iterations"]), money(row["total_cost_usd"]),
        )
    console.print(table)


def local_time(iso: str | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    if not iso:
        return "—"
    try:
        return datetime.fromisoformat(iso).astimezone().strftime(fmt)
    except ValueError:
        return iso


def money(usd: float | None) -> str:
    return f"${usd or 0:.4f}"


def outcome_text(outcome: str | None) -> Text:
    return Text(outcome or "unfinished", style=OUTCOME_STYLES.get(outcome or "", "dim"))


# ---------------------------------------------------------------- show


def render_run(console: Console, run_row: dict, attempts: list[dict], escalations: list[dict], repo: Path) -> None:
    """The whole history of one run: its attempts in order, each with its candidate's diff, and the escalations."""
    run_id = run_row["run_id"]
    console.print(Text.assemble(("Run ", "bold"), (run_id, "bold cyan")))
    for label, value in [
        ("Target", Text(run_row["target"])),
        ("Objective", Text(run_row["objective"] or "—")),
        ("Started", Text(local_time(run_row["started_at"]))),
        ("Finished", Text(local_time(run_row["finished_at"]))),
        ("Outcome", outcome_text(run_row["outcome"])),
        ("Solved by", Text(run_row["solved_by_tier"] or "—")),
        ("Iterations", Text(str(run_row["total_iterations"]))),
        ("Cost", Text(money(run_row["total_cost_usd"]))),
    ]:
        console.print(Text.assemble((f"  {label:<11}", "dim"), value), soft_wrap=True)
    diffs = candidate_diffs(repo, run_id)
    if diffs is None:
        console.print(Text("(no git ref for this run)", style="dim"))
    if not attempts:
        console.print(Text("\nNo attempts recorded for this run.", style="dim"))
    pending = list(escalations)
    shown_summary = ""  # each escalation's summary repeats the ones before it: show only what is new
    for position, attempt in enumerate(attempts):
        console.print()
        render_attempt(console, attempt, diffs)
        tier_ends = position + 1 == len(attempts) or attempts[position + 1]["tier_index"] != attempt["tier_index"]
        while tier_ends and pending and pending[0]["from_tier"] == attempt["tier_name"]:
            console.print()
            shown_summary = render_escalation(console, pending.pop(0), shown_summary)
    for escalation in pending:  # from a tier that recorded no attempt
        console.print()
        shown_summary = render_escalation(console, escalation, shown_summary)


def render_attempt(console: Console, attempt: dict, diffs: dict[tuple[int, int], str] | None) -> None:
    status = attempt["test_status"]
    console.print(Text.assemble(
        (f"Tier {attempt['tier_index'] + 1} {attempt['tier_name']} ({attempt['tier_mode']})", "bold"),
        f" · iteration {attempt['iteration']} · ", (attempt["model"], "cyan"), " · ",
        (status.upper(), f"bold {STATUS_STYLES.get(status, '')}"),
        f" · {money(attempt['cost_usd'])} · {attempt['duration_ms'] / 1000:.1f} s",
    ), soft_wrap=True)
    console.print(Text.assemble(("  Change: ", "dim"), attempt["code_change_summary"] or "—"), soft_wrap=True)
    if attempt["failed_tests"]:
        console.print(Text("  Failed tests:", style="dim"))
        for name in attempt["failed_tests"]:
            console.print(Text(f"    {name}"), soft_wrap=True)
    if attempt["error_messages"]:
        console.print(Text("  Errors:", style="dim"))
        for message in attempt["error_messages"]:
            console.print(Text("    " + str(message).rstrip().replace("\n", "\n    ")), soft_wrap=True)
    if diffs is None:
        return
    diff = diffs.get((attempt["tier_index"], attempt["iteration"]))
    if diff is None:
        console.print(Text("  (no candidate committed for this iteration)", style="dim"))
    elif not diff.strip():
        console.print(Text("  (the candidate changed nothing)", style="dim"))
    else:
        console.print(Text("  Diff:", style="dim"))
        console.print(diff_text(diff), soft_wrap=True)


def render_escalation(console: Console, escalation: dict, previous_summary: str = "") -> str:
    """Print one hand-off; returns its summary, so the next one prints only what it adds."""
    remaining = []
    if escalation["remaining_cost_usd"] is not None:
        remaining.append(f"{money(escalation['remaining_cost_usd'])} left")
    if escalation["remaining_minutes"] is not None:
        remaining.append(f"{escalation['remaining_minutes']:.1f} min left")
    console.print(Text.assemble(
        ("↑ Escalated ", "bold yellow"), f"{escalation['from_tier']} → {escalation['to_tier']}",
        f": {escalation['reason']}" if escalation["reason"] else "",
        f" ({', '.join(remaining)})" if remaining else "",
    ), soft_wrap=True)
    summary = escalation["summary"].strip()
    new_part = summary.removeprefix(previous_summary).strip() if previous_summary else summary
    if new_part:
        console.print(Text("  " + new_part.replace("\n", "\n  "), style="dim"), soft_wrap=True)
    return summary


def diff_text(diff: str) -> Text:
    text = Text()
    for line in diff.rstrip("\n").splitlines():
        style = ("bold" if line.startswith(("diff ", "index ", "+++", "---"))
                 else "cyan" if line.startswith("@@")
                 else "green" if line.startswith("+")
                 else "red" if line.startswith("-") else "")
        text.append("    " + line + "\n", style=style)
    text.rstrip()
    return text


def candidate_diffs(repo: Path, run_id: str) -> dict[tuple[int, int], str] | None:
    """(tier_index, iteration) -> `git diff <parent> <commit>` of each candidate committed on
    refs/micro-agent/<run_id>; None when the repository or the ref is not there."""
    commits = candidate_commits(repo, run_id)
    if commits is None:
        return None
    diffs: dict[tuple[int, int], str] = {}
    for commit, parent, subject in commits:
        match = CANDIDATE_SUBJECT.match(subject)
        if match and match["run"] == run_id and parent:
            diff = _git(repo, "diff", "--no-color", "--no-ext-diff", parent, commit)
            diffs.setdefault((int(match["tier"]), int(match["iteration"])), diff or "")
    return diffs


def candidate_commits(repo: Path, run_id: str) -> list[tuple[str, str, str]] | None:
    """(commit, first parent, subject) of the run's commits on its ref, newest first.

    Streams `git log` and stops at the run's base (its seed commit, or the first commit that is not the
    run's), so the project's history behind it is never read.
    """
    own = candidate_prefix(run_id)
    command = ["git", "-c", "core.quotepath=off", "-C", str(repo), "log", "--first-parent",
               "--format=%H%x00%P%x00%s", f"{REF_PREFIX}{run_id}", "--"]
    try:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                encoding="utf-8", errors="replace")
    except OSError:
        return None
    commits: list[tuple[str, str, str]] = []
    reached_base = False
    with proc:
        for line in proc.stdout or ():
            commit, parents, subject = (line.rstrip("\n").split("\x00") + ["", ""])[:3]
            subject = subject.strip()
            if not subject.startswith(own):  # the seed ("micro-agent <id>: seed"), the base, or the user's history
                reached_base = True
                break
            commits.append((commit, parents.split(" ")[0], subject))
        if reached_base:
            proc.terminate()
    if not reached_base and proc.returncode != 0:
        return None
    return commits


def _git(repo: Path, *args: str) -> str | None:
    """git's output in `repo` (through the one git helper), None when git is missing or the command fails."""
    try:
        done = run_git(list(args), repo, timeout=30)
    except GitError:
        return None
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else None


# ---------------------------------------------------------------- export

ATTEMPT_COLUMNS = ["attempt_id", "tier_index", "tier_name", "tier_mode", "model", "iteration",
                   "code_change_summary", "test_status", "failed_tests", "error_messages", "cost_usd",
                   "duration_ms", "attempted_at"]


def export(out: Console, err: Console, conn: sqlite3.Connection, fmt: str, output: Path | None) -> None:
    runs = audit.list_runs(conn, limit=-1)[::-1]  # oldest first
    for run_row in runs:
        run_row.pop("last_tier_index", None)
        run_row.pop("last_tier_name", None)
        run_row["attempts"] = audit.get_attempts(conn, run_row["run_id"])
        run_row["escalations"] = audit.get_escalations(conn, run_row["run_id"])
    data = export_json(runs) if fmt == "json" else export_csv(runs)
    if output is None:
        out.out(data, highlight=False, end="")
        return
    try:
        output.write_text(data, encoding="utf-8", newline="")
    except OSError as exc:
        raise UsageProblem(f"cannot write {output} ({exc.strerror}); choose another --output.") from None
    attempts = sum(len(r["attempts"]) for r in runs)
    err.print(f"Exported {len(runs)} runs ({attempts} attempts) to {output}", markup=False)


def export_json(runs: list[dict]) -> str:
    return json.dumps(runs, indent=2, ensure_ascii=False) + "\n"


def export_csv(runs: list[dict]) -> str:
    """One row per attempt, the run's columns first; a run with no attempts still gets one row."""
    run_columns = [k for k in (runs[0] if runs else {}) if k not in ("attempts", "escalations")] or [
        "run_id", "started_at", "finished_at", "target", "objective", "outcome", "solved_by_tier",
        "total_iterations", "total_cost_usd", "root"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(run_columns + ATTEMPT_COLUMNS)
    for run_row in runs:
        run_values = [run_row[k] for k in run_columns]
        for attempt in run_row["attempts"] or [None]:
            if attempt is None:
                writer.writerow(run_values + [""] * len(ATTEMPT_COLUMNS))
                continue
            writer.writerow(run_values + [
                attempt["id"], attempt["tier_index"], attempt["tier_name"], attempt["tier_mode"], attempt["model"],
                attempt["iteration"], attempt["code_change_summary"], attempt["test_status"],
                json.dumps(attempt["failed_tests"], ensure_ascii=False),
                json.dumps(attempt["error_messages"], ensure_ascii=False),
                attempt["cost_usd"], attempt["duration_ms"], attempt["created_at"],
            ])
    return buffer.getvalue()
