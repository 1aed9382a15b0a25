"""The face of `micro-agent run a.py b.py …` / `--all-failing` / `--executor ray`: one fix job per target.

Called by main.run_command once it has the project root and the flags' settings layer; prints a table (or one JSON
object) and returns the exit status: the worst of the targets' (130 interrupted · 3 budget · 1 not solved ·
4 solved but not applied · 0 all solved).
"""

from __future__ import annotations

import argparse
import os
import threading
from pathlib import Path

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from micro_agent.run_settings import RunSettings

EXIT_USAGE, EXIT_INTERRUPTED = 2, 130


def failing_targets(root: Path, test_command: str, timeout_s: float) -> tuple[dict[str, list[str]], str | None]:
    """(source file -> the failing tests blamed on it, a problem to show instead)."""
    from micro_agent.blame import group
    from micro_agent.runners import run_tests

    report = run_tests(test_command, root, timeout_s=timeout_s)
    if report.infra_error:
        return {}, f"the tests `{test_command}` could not run: {report.infra_error}"
    targets, _unmapped = group(report.failures, root)
    return {t.path: t.tests for t in targets}, None


def run_many(args: argparse.Namespace, root: Path, flags: RunSettings, flag_problems: list[str],
             config_path: Path | None, err: Console) -> int:
    from micro_agent.config import CONFIG_FILE_NAME, ConfigError
    from micro_agent.controls import Controls
    from micro_agent.executor import ExecutorUnavailable, make_executor, resolve
    from micro_agent.multirun import run_targets
    from micro_agent.request_builder import build_request
    from micro_agent.run_settings import load_project_config
    from micro_agent.secrets import redact

    def problems(title: str, items: list[str]) -> int:
        err.print(f"[bold red]micro-agent: {title}:[/]")
        for item in items:
            err.print(f"  - {item}", markup=False)
        return EXIT_USAGE

    try:
        project = load_project_config(config_path or root / CONFIG_FILE_NAME)
    except ConfigError as exc:
        return problems("configuration problems", exc.problems)
    if not (root / ".git").exists():
        return problems("usage", [f"{root} is not a git repository: several targets (or --executor ray) need one; "
                                  "run `git init` and commit, or fix one target at a time"])
    targets = list(args.target)
    tests_for: dict[str, str] = {}  # target -> the command that runs just its failing tests
    if args.all_failing:
        from micro_agent.languages import detect_suite
        from micro_agent.runners import command_for_tests

        command = flags.test_command or project.test_command or detect_suite(root)
        if not command:
            return problems("usage", ["--all-failing needs a test command: -t/--test CMD or `test:` in micro-agent.yml"])
        found, problem = failing_targets(root, command, (flags.test_timeout_seconds or project.effective().test_timeout_seconds) * 4)
        if problem:
            return problems("usage", [problem])
        targets += [t for t in found if t not in targets]
        tests_for = {t: c for t, names in found.items() if (c := command_for_tests(command, names, root))}
        if not targets:
            Console(highlight=False).print(f"[green]Nothing fails: `{escape(command)}` passes.[/]")
            return 0
    requests, bad = [], []
    for target in targets:
        try:
            own = flags.model_copy(update={"test_command": tests_for[target]}) if target in tests_for else flags
            request, _warnings = build_request(root, Path(target) if Path(target).is_absolute() else root / target,
                                               own, config_path=config_path, problems=flag_problems)
            requests.append(request)
        except ConfigError as exc:
            bad += [f"{target}: {p}" for p in exc.problems]
    if bad:
        return problems("configuration problems", list(dict.fromkeys(bad)))
    config = resolve(project.executor, args.executor, args.ray_address, os.environ)
    jobs = args.jobs or (project.autopilot.policy.max_concurrent_runs if project.autopilot else 2)
    try:
        executor = make_executor(config, jobs)
    except ExecutorUnavailable as exc:
        return problems("executor problem", [str(exc)])

    out = Console(highlight=False)
    controls, box_, finished = Controls(), {}, threading.Event()

    def work() -> None:
        try:
            box_["report"] = run_targets(root, requests, executor, lambda event: None, controls, jobs)
        except BaseException as exc:  # noqa: BLE001 - shown below, never lost in a thread
            box_["error"] = exc
        finally:
            finished.set()

    if not args.json:
        out.print(f"Fixing {len(requests)} target(s) on the {config.kind} executor, {jobs} at once…")
    threading.Thread(target=work, name="micro-agent-targets", daemon=True).start()
    try:
        while not finished.wait(0.2):
            pass
    except KeyboardInterrupt:
        controls.cancel()
        err.print("[yellow]Interrupted: cancelling the running jobs…[/] (Ctrl-C again to quit at once)")
        try:
            finished.wait(45)
        except KeyboardInterrupt:
            os._exit(EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
    if "error" in box_:
        raise box_["error"]
    report = box_["report"]
    executor.shutdown()
    if args.json:
        print(report.model_copy(update={"targets": [t.model_copy(update={"message": redact(t.message)})
                                                    for t in report.targets]}).model_dump_json(indent=2))
        return report.exit_code
    table = Table(box=box.SIMPLE_HEAVY)
    for column in ("target", "outcome", "iterations", "cost", "ran on", "run"):
        table.add_column(column, overflow="fold")
    for t in report.targets:
        where = f"{t.executor} {t.node[:8] if t.executor == 'ray' else t.node}".strip()
        outcome = t.outcome + (" (applied)" if t.applied else "")
        table.add_row(t.target, outcome, str(t.iterations), f"${t.cost_usd:.4f}", where, (t.run_id or "")[:8])
    out.print(table)
    for t in report.targets:
        if t.message and not t.applied:
            out.print(f"{escape(t.target)}: {escape(redact(t.message))}")
    out.print(f"total cost ${report.total_cost_usd:.4f}")
    return report.exit_code
