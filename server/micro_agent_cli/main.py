"""`micro-agent` / `ma-loop`: run the loop on a file, start the language server, read the audit log.

The CLI is a face (micro_agent_cli; the engine never imports it): it parses flags into a layer of run
settings (flags.py), builds a RunRequest (micro_agent.request_builder), renders the engine's events, and maps the
outcome to the exit status: 0 solved (and applied) · 1 not solved · 2 usage or config error (also: another
run is fixing the file) · 3 budget · 4 solved but not applied (the file changed meanwhile; the fix is kept
on the run's ref) · 130 interrupted · 143 / 129 stopped by SIGTERM / SIGHUP (cleaned up like Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from micro_agent.outcomes import EXIT_CODES, outcome_colour  # noqa: E402  (the one outcome table)

EXIT_USAGE = EXIT_CODES["error"]
EXIT_INTERRUPTED = EXIT_CODES["interrupted"]


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP: the run stops and cleans up as on Ctrl-C, and exits 128 + the signal's number."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum


def _stop_on_signals() -> None:
    """Turn SIGTERM and SIGHUP into `Stopped` in the main thread (POSIX; Windows has neither)."""
    def stop(signum: int, frame: object) -> None:
        raise Stopped(signum)

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), stop)


class _Version(argparse.Action):
    """`--version`: the version is looked up only when asked for (importlib.metadata slows every start)."""

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        import micro_agent

        print(f"micro-agent {micro_agent.__version__}")  # on stdout, as argparse's own version action does
        parser.exit()


OWN_COMMANDS = ("run", "lsp")  # defined here; the others' parsers come from their modules (imported on demand)


def build_parser(faces: bool = True) -> argparse.ArgumentParser:
    """The whole parser; with `faces` False only `run` and `lsp` (what `micro-agent run` needs: importing the
    audit, autopilot and eval parsers costs more than the run's own start)."""
    parser = argparse.ArgumentParser(
        prog="micro-agent", description="Fixes code until its tests pass.",
        epilog="exit status of `run`: 0 solved and applied · 1 not solved · 2 usage/config error or a run already "
               "going on the file · 3 budget spent · 4 solved but not applied (kept on refs/micro-agent/<run>) · "
               "130 interrupted · 143 / 129 stopped by SIGTERM / SIGHUP")
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="fix TARGET until its tests pass",
                              description="Fix TARGET until its tests pass, within a budget.",
                              epilog="exit status: 0 solved and applied · 1 not solved · 2 usage/config error, or "
                                     "another run is fixing TARGET · 3 budget spent · 4 solved but not applied "
                                     "(TARGET changed meanwhile; the fix is kept on refs/micro-agent/<run>) · "
                                     "130 interrupted · 143 / 129 stopped by SIGTERM / SIGHUP")
    run.add_argument("target", metavar="TARGET", nargs="*", help="the source file(s) to fix")
    many = run.add_argument_group("several targets (docs/scaling.md)")
    many.add_argument("--all-failing", action="store_true", help="fix every source file the failing tests blame")
    many.add_argument("--executor", choices=("local", "ray"), help="where the jobs run: local pool or Ray")
    many.add_argument("--ray-address", metavar="ADDR", help="the Ray cluster (ray://host:10001; implies --executor ray)")
    many.add_argument("--jobs", type=int, metavar="N", help="jobs at once (default autopilot.policy.maxConcurrentRuns)")
    run.add_argument("-t", "--test", metavar="CMD", help="test command (default: micro-agent.yml, else detected)")
    mode = run.add_argument_group("modes (ignored with a tier config)")
    mode.add_argument("--simple", type=int, metavar="N", help="simple-mode iterations before full mode (default 5)")
    mode.add_argument("--full", action="store_true", help="skip simple mode: run the full pipeline from the start")
    mode.add_argument("--no-escalate", action="store_true", help="simple mode only: never escalate to full mode")
    run.add_argument("--tier-config", metavar="PATH", help="a tier chain (JSON or YAML) that replaces the modes")
    budget = run.add_argument_group("budget (shared by every mode and tier)")
    budget.add_argument("--max-budget", type=float, metavar="USD", help="cost cap in US dollars")
    budget.add_argument("--max-duration", type=float, metavar="MIN", help="wall-time cap in minutes")
    budget.add_argument("--max-iterations", type=int, metavar="N", help="iteration cap over all tiers")
    models = run.add_argument_group("models (litellm names, e.g. claude-sonnet-4-5, ollama/qwen2.5-coder)")
    for role in ("artisan", "librarian", "critic"):
        models.add_argument(f"--{role}", metavar="MODEL", help=f"the {role}'s model")
    run.add_argument("--config", metavar="PATH", help="config file (default: micro-agent.yml at the project root)")
    run.add_argument("--test-timeout", type=float, metavar="S", help="seconds one test run may take (default 300)")
    run.add_argument("--no-project-env", action="store_true",
                     help="run the tests with PATH as it is, not with the project's venv first")
    run.add_argument("--dry-run", action="store_true", help="print the fix as a diff; leave your files alone")
    run.add_argument("--learn", action="store_true", default=None,
                     help="start at the tier that solved this before (docs/learning.md; `learn: true` in the yml)")
    run.add_argument("--json", action="store_true", help="print one JSON object with the final report")
    run.add_argument("-v", "--verbose", action="store_true", help="show prompt sizes and test output")

    lsp = commands.add_parser("lsp", help="start the language server on stdio")
    lsp.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    lsp.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (the default)")
    lsp.add_argument("-v", "--verbose", action="store_true", help="log more to stderr")

    if not faces:
        return parser
    from .audit_commands import add_parser as add_audit_parser

    add_audit_parser(commands)
    from micro_agent_autopilot.cli import add_parsers as add_autopilot_parsers  # a face: found by module name

    add_autopilot_parsers(commands)
    from micro_agent_eval.cli import add_parser as add_eval_parser  # a face of its own; only argparse at import

    add_eval_parser(commands)
    return parser


def _command_of(argv: list[str]) -> str | None:
    """The subcommand named in `argv` (the first word that is not an option), if any."""
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(faces=_command_of(argv) not in OWN_COMMANDS)
    args = parser.parse_args(argv)
    if args.command == "run":
        return run_command(args)
    if args.command == "lsp":
        from micro_agent_lsp.server import main as lsp_main

        argv = (["--tcp", args.tcp] if args.tcp else []) + (["-v"] if args.verbose else [])
        return lsp_main(argv) or 0
    if args.command == "audit":
        from .audit_commands import run as audit_run

        return audit_run(args)
    if args.command in ("autopilot", "undo"):
        from micro_agent_autopilot.cli import run as autopilot_run

        return autopilot_run(args)
    if args.command == "eval":
        from micro_agent_eval.cli import run as eval_run

        return eval_run(args)
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def run_command(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from micro_agent.config import ConfigError
    from micro_agent.controls import Controls
    from micro_agent.engine import run as run_engine
    from micro_agent.request_builder import build_request
    from micro_agent.secrets import redact
    from micro_agent.targets import NoProject, choose_root

    from .flags import flags_layer
    from .render import Renderer, final_table

    err = Console(stderr=True, highlight=False)
    if not args.target and not args.all_failing:
        err.print("[bold red]micro-agent:[/] run needs a TARGET (or several, or --all-failing)")
        return EXIT_USAGE
    target = Path(args.target[0] if args.target else ".")
    config_path = Path(args.config).resolve() if args.config else None
    try:
        root = config_path.parent if config_path else choose_root(target)
    except NoProject as exc:
        err.print(f"[bold red]micro-agent:[/] {escape(str(exc))}")
        return EXIT_USAGE
    flags, flag_problems = flags_layer(args)
    if len(args.target) > 1 or args.all_failing or args.executor or args.ray_address:
        from .run_many import run_many

        return run_many(args, root, flags, flag_problems, config_path, err)
    try:
        request, warnings = build_request(root, target, flags, config_path=config_path, problems=flag_problems)
    except ConfigError as exc:
        err.print(f"[bold red]micro-agent: configuration problem{'s' if len(exc.problems) > 1 else ''}:[/]")
        for problem in exc.problems:
            err.print(f"  - {problem}", markup=False)
        return EXIT_USAGE
    for warning in warnings:
        err.print(f"[yellow]warning:[/] {warning}")

    out = Console(highlight=False)
    renderer = Renderer(out, verbose=args.verbose)
    observer = (lambda event: None) if args.json else renderer
    controls = Controls()
    box = {}
    finished = threading.Event()  # not Thread.join: a join that Ctrl-C interrupts may report a live thread done

    def work() -> None:
        try:
            box["report"] = run_engine(request, observer, controls)
        finally:
            finished.set()

    _stop_on_signals()
    threading.Thread(target=work, name="micro-agent-run", daemon=True).start()
    try:
        while not finished.wait(0.2):
            pass
    except KeyboardInterrupt as stop:
        exit_code = getattr(stop, "exit_code", EXIT_INTERRUPTED)
        controls.cancel()
        try:
            renderer.stop()
            what = f"Stopped by {stop}" if isinstance(stop, Stopped) else "Interrupted"
            err.print(f"[yellow]{what}: stopping and cleaning up…[/] (Ctrl-C again to quit at once)")
        except OSError:
            pass  # SIGHUP: the terminal is gone; clean up all the same
        try:
            finished.wait(15)
        except KeyboardInterrupt:
            os._exit(exit_code)
        return exit_code
    renderer.stop()
    report = box["report"]
    if args.json:
        print(report.model_copy(update={"message": redact(report.message)}).model_dump_json(indent=2))
        return report.exit_code
    out.print(final_table(report))
    style = outcome_colour(report.outcome)
    out.print(f"[{style}]{escape(redact(report.message))}[/]")
    if args.dry_run and report.diff:
        out.print(report.diff, markup=False, highlight=False)
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
