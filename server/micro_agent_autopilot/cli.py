"""`micro-agent autopilot once|serve|status|pause|resume` and `micro-agent undo RUN_ID`.

The command-line side of the autopilot face: flags, the pass table, exit statuses
(0 nothing left failing or every failure has a proposed fix · 1 some failure got no fix · 2 usage or
config error · 3 budget).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path

EXIT_USAGE = 2


def add_parsers(commands: argparse._SubParsersAction) -> None:
    autopilot = commands.add_parser("autopilot", help="find failing tests, fix them in isolation, propose pull requests",
                                    description="The unattended loop: see docs/autopilot.md.")
    sub = autopilot.add_subparsers(dest="autopilot_command", metavar="{once,serve,status,pause,resume}", required=True)
    once = sub.add_parser("once", help="one pass: run the suite at the base head, fix and propose what fails")
    serve = sub.add_parser("serve", help="run passes on a schedule, on new commits and on CI webhooks; HTTP API")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port to listen on (8765; 0 picks a free one)")
    status = sub.add_parser("status", help="the service's state, or the project's when no service runs")
    pause = sub.add_parser("pause", help="start and finish nothing new until resumed")
    resume = sub.add_parser("resume", help="carry on after a pause")
    for parser in (once, serve, status, pause, resume):
        parser.add_argument("--config", metavar="PATH", help="config file (default: micro-agent.yml at the repo top)")
    for parser in (once, serve):
        parser.add_argument("--learn", action="store_true",
                            help="start each fix at the tier that solved this before (docs/learning.md)")
    for parser in (once, status, pause, resume):
        parser.add_argument("--json", action="store_true", help="print one JSON object")
    for parser in (once, serve):  # where the fix jobs run (docs/scaling.md)
        parser.add_argument("--executor", choices=("local", "ray"), help="local pool (default) or a Ray cluster")
        parser.add_argument("--ray-address", metavar="ADDR", help="the Ray cluster (ray://host:10001; implies --executor ray)")
    for parser in (status, pause, resume):
        parser.add_argument("--url", metavar="URL", help="a running service (default: the project's state file)")

    undo = commands.add_parser("undo", help="revert an applied fix, or withdraw / revert a proposed one",
                               description="Take back the fix of one run (see docs/autopilot.md).")
    undo.add_argument("run_id", metavar="RUN_ID", help="the run's id, or a unique prefix of it")
    undo.add_argument("--config", metavar="PATH", help="config file (default: micro-agent.yml at the repo top)")
    undo.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from micro_agent.config import ConfigError

    from .settings import load

    err = Console(stderr=True, highlight=False)
    try:
        settings = load(Path.cwd(), Path(args.config).resolve() if args.config else None)
    except ConfigError as exc:
        err.print(f"micro-agent: configuration problem{'s' if len(exc.problems) > 1 else ''}:", markup=False)
        for problem in exc.problems:
            err.print(f"  - {problem}", markup=False)
        return EXIT_USAGE
    if getattr(args, "executor", None) or getattr(args, "ray_address", None):
        from micro_agent.executor import resolve

        settings.executor = resolve(settings.executor, args.executor, args.ray_address, settings.env)
    try:
        if getattr(args, "learn", False):
            settings.learn = True
        if args.command == "undo":
            return _undo(settings, args, err)
        command = args.autopilot_command
        if command == "once":
            return _once(settings, args)
        if command == "serve":
            from .service import serve

            return serve(settings, args.host, args.port)
        return _control(settings, command, args, err)
    except sqlite3.Error as exc:
        err.print(f"micro-agent: cannot use the state database {settings.db_path} ({exc}); check that its folder "
                  "is writable, or set auditDbPath in micro-agent.yml", markup=False)
        return EXIT_USAGE


def _once(settings, args) -> int:
    from rich.console import Console

    from micro_agent import autopilot_db as db

    from .passes import PassReport, run_pass
    from .render import pass_table

    conn = db.connect(settings.db_path)
    paused = db.get_state(conn, "paused") == "1"
    conn.close()
    if paused:
        report = PassReport(outcome="paused", suite=settings.suite,
                            message="the autopilot is paused: nothing was started (`micro-agent autopilot resume`)")
    else:  # each fix run warms its own tier's model client while its first tests run (litellm only if needed)
        report = run_pass(settings, trigger="once")
    if args.json:
        print(json.dumps({**report.model_dump(), "exit_code": report.exit_code}, indent=2))
        return report.exit_code
    out = Console(highlight=False)
    for warning in report.warnings:
        out.print(f"warning: {warning}", markup=False, style="yellow")
    if report.jobs:
        out.print(pass_table(report))
    out.print(report.message, markup=False, style="green" if report.outcome == "ok" else "yellow")
    return report.exit_code


def _control(settings, command: str, args, err) -> int:
    from .status import control

    try:
        answer = control(settings, command, getattr(args, "url", None))
    except ConnectionError as exc:
        err.print(f"micro-agent autopilot {command}: {exc}", markup=False)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        from rich.console import Console

        from .render import status_text

        Console(highlight=False).print(status_text(answer), markup=False)
    return 0


def _undo(settings, args, err) -> int:
    from .undo import UndoUsage, undo

    try:
        result = undo(settings, args.run_id)
    except UndoUsage as exc:
        err.print(f"micro-agent undo: {exc}", markup=False)
        return EXIT_USAGE
    if args.json:
        print(json.dumps({**result.__dict__, "exit_code": result.exit_code}, indent=2))
    else:
        print(("Undone: " if result.outcome == "reverted" else "Not undone: ") + result.message)
    return result.exit_code
