"""`micro-agent eval …`: the command-line face of the eval. Flags in, a table / JSON / report folder out.

    micro-agent eval SUITE [--tier-config F | --artisan M --librarian M --critic M] [--compare NAME=SPEC …]
                           [--jobs N] [--max-budget USD] [--config micro-agent.yml] [--tag T …] [--json] [--report DIR]
    micro-agent eval check SUITE                       the tests fail on each target and pass on its reference
    micro-agent eval import-humanevalpack FILE.jsonl OUT_DIR

Exit status: 0 finished · 2 usage, suite or config error · 3 the eval-wide budget ran out before every task ran ·
130 interrupted (the finished tasks' results are still printed and written).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from pathlib import Path

EXIT_USAGE, EXIT_BUDGET, EXIT_INTERRUPTED = 2, 3, 130
USAGE = ("micro-agent eval SUITE [options]\n"
         "       micro-agent eval check SUITE\n"
         "       micro-agent eval import-humanevalpack FILE.jsonl OUT_DIR")


def add_parser(commands) -> argparse.ArgumentParser:
    p = commands.add_parser("eval", help="measure what a model or a tier chain fixes on a suite of bugs, and its cost",
                            usage=USAGE, description="Run the loop on every task of SUITE (one folder per task with a "
                            "task.yml; see docs/eval.md) and report solve rate, cost, iterations and time.")
    p.add_argument("suite", metavar="SUITE", help="the suite folder (or `check` / `import-humanevalpack`)")
    p.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    p.add_argument("--tier-config", metavar="PATH", help="the tier chain to evaluate (JSON or YAML)")
    for role in ("artisan", "librarian", "critic"):
        p.add_argument(f"--{role}", metavar="MODEL", help=f"the {role}'s model (default chain: simple × 5, then full × 5)")
    p.add_argument("--compare", action="append", default=[], metavar="NAME=SPEC",
                   help="also run every task under this configuration; SPEC is tiers:PATH, model:MODEL (that model "
                        "alone, default chain) or single:MODEL (one call, no loop). Repeatable")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="tasks run at once (default 1)")
    p.add_argument("--max-budget", type=float, metavar="USD", help="cost cap over the whole eval")
    p.add_argument("--config", metavar="PATH", help="a micro-agent.yml: prices, models, per-task budget, test timeout")
    p.add_argument("--tag", action="append", default=[], metavar="TAG", help="only tasks with this tag (repeatable)")
    p.add_argument("--test-timeout", type=float, metavar="S", help="seconds one test run may take")
    p.add_argument("--work-dir", metavar="DIR", help="where task repos and the loop's worktrees are made (default: the "
                   "system temp folder); e.g. a folder with a node_modules holding vitest, for TypeScript tasks")
    p.add_argument("--report", metavar="DIR", help="write report.json and index.html (with charts) into DIR")
    p.add_argument("--json", action="store_true", help="print report.json's content instead of a table")
    p.add_argument("--python", default="python", metavar="CMD",
                   help="import-humanevalpack: the Python that runs the imported tests (default: python)")
    return p


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    err = Console(stderr=True, highlight=False)
    if args.suite == "import-humanevalpack":
        return _import(args, err)
    if args.suite == "check":
        return _check(args, err)
    if args.rest:
        return _usage(err, f"unexpected arguments: {' '.join(args.rest)}")
    return _eval(args, err)


def _usage(err, message: str) -> int:
    err.print(f"[bold red]micro-agent eval:[/] {message}", highlight=False)
    err.print(f"usage: {USAGE}", markup=False)
    return EXIT_USAGE


def _problems(err, title: str, problems: list[str]) -> int:
    err.print(f"[bold red]micro-agent eval: {title}:[/]")
    for problem in problems:
        err.print(f"  - {problem}", markup=False)
    return EXIT_USAGE


def _import(args: argparse.Namespace, err) -> int:
    from .humanevalpack import import_file
    from .suite import SuiteError

    if len(args.rest) != 2:
        return _usage(err, "import-humanevalpack needs FILE.jsonl and OUT_DIR")
    source, out = Path(args.rest[0]), Path(args.rest[1])
    try:
        summary = import_file(source, out, python=args.python)
    except SuiteError as exc:
        return _problems(err, "cannot import", exc.problems)
    for task_id, why in summary.skipped.items():
        err.print(f"[yellow]skipped[/] {task_id}: {why}", markup=True, highlight=False)
    print(f"Imported {len(summary.written)} task(s) into {out}" + (f"; skipped {len(summary.skipped)}" if summary.skipped else ""))
    return 0 if summary.written or not summary.skipped else 1


def _check(args: argparse.Namespace, err) -> int:
    from .check import check_task
    from .suite import SuiteError, load_suite

    if len(args.rest) != 1:
        return _usage(err, "check needs SUITE")
    try:
        tasks = load_suite(Path(args.rest[0]), args.tag)
    except SuiteError as exc:
        return _problems(err, "suite problems", exc.problems)
    bad = 0
    for task in tasks:
        result = check_task(task, args.test_timeout or 300, Path(args.work_dir) if args.work_dir else None)
        bad += not result.ok
        mark = "ok " if result.ok else "BAD"
        ref = {True: "reference passes", False: "reference FAILS", None: "no reference"}[result.passes_on_reference]
        print(f"{mark} {task.name}: {'fails on target' if result.fails_on_target else 'does NOT fail on target'}, {ref}"
              + (f" — {result.detail}" if result.detail else ""))
    print(f"{len(tasks) - bad}/{len(tasks)} task(s) sound")
    return 1 if bad else 0


def _eval(args: argparse.Namespace, err) -> int:
    from rich.console import Console

    from micro_agent import llm
    from micro_agent.config import ConfigError, model_format_problem

    from .configs import key_problems, load_project, main_config, parse_compare
    from .executor import LocalExecutor
    from .spend import EvalBudget
    from .suite import SuiteError, load_suite

    llm.warm()
    problems: list[str] = []
    warnings: list[str] = []
    try:
        tasks = load_suite(Path(args.suite), args.tag)
    except SuiteError as exc:
        return _problems(err, "suite problems", exc.problems)
    if args.config and not Path(args.config).is_file():
        return _problems(err, "configuration problem", [f"{args.config}: file not found"])
    try:
        project = load_project(args.config)
    except ConfigError as exc:
        return _problems(err, "configuration problems", exc.problems)
    models = {r: getattr(args, r) for r in ("artisan", "librarian", "critic") if getattr(args, r)}
    configs = []
    if args.tier_config or models or not args.compare:
        configs.append(main_config(args.tier_config, models, project, problems, warnings))
    configs += [c for c in (parse_compare(text, project, problems) for text in args.compare) if c is not None]
    names = [c.name for c in configs]
    problems += [f"configuration name {n!r} is used twice; give each --compare a NAME of its own"
                 for n in sorted(set(names)) if names.count(n) > 1]
    for config in configs:
        for tier in config.tiers:
            problems += [f"{config.name}: {role} model: {why}" for role, m in tier.role_models().items()
                         if (why := model_format_problem(m))]
    problems += key_problems(configs)
    if args.jobs < 1:
        problems.append("--jobs N: N must be at least 1")
    if args.max_budget is not None and args.max_budget <= 0:
        problems.append("--max-budget USD must be greater than 0")
    report_dir = Path(args.report) if args.report else None
    if report_dir is not None:
        try:
            report_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problems.append(f"--report {report_dir}: cannot create it: {exc.strerror or exc}")
    if problems:
        return _problems(err, "configuration problems", list(dict.fromkeys(problems)))
    for warning in warnings:
        err.print(f"[yellow]warning:[/] {warning}")

    from .runner import EvalRun

    progress = None
    if not args.json:
        from .progress import LiveProgress

        progress = LiveProgress(err, total=len(tasks) * len(configs))
    work_dir = Path(args.work_dir).resolve() if args.work_dir else None
    if work_dir is not None:  # the loop's worktrees go there too: the eval owns this process's temp folder
        work_dir.mkdir(parents=True, exist_ok=True)
        tempfile.tempdir = str(work_dir)
    eval_run = EvalRun(str(Path(args.suite)), tasks, configs, LocalExecutor(args.jobs),
                       budget=EvalBudget(args.max_budget), prices=project.prices,
                       test_timeout_s=args.test_timeout or project.test_timeout_seconds, progress=progress,
                       work_dir=work_dir)
    report = _run_interruptibly(eval_run, progress, err)
    if report_dir is not None:
        from .writer import write_report

        written = write_report(report, report_dir)
        err.print(f"Report: {written}", markup=False)
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        from .table import summary_tables

        for table in summary_tables(report):
            Console(highlight=False).print(table)
    if report.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_BUDGET if any(n.reason == "budget" for n in report.not_run) else 0


def _run_interruptibly(eval_run, progress, err):
    """Run on a worker thread; Ctrl-C stops the eval and waits for the running tasks to clean up."""
    box: dict = {}
    finished = threading.Event()

    def work() -> None:
        try:
            box["report"] = eval_run.run()
        except BaseException as exc:  # handed to the main thread
            box["error"] = exc
        finally:
            finished.set()

    if progress is not None:
        progress.__enter__()
    threading.Thread(target=work, name="micro-agent-eval", daemon=True).start()
    try:
        try:
            while not finished.wait(0.2):
                pass
        except KeyboardInterrupt:
            err.print("[yellow]Interrupted: stopping the running tasks; finished results are kept…[/] "
                      "(Ctrl-C again to quit at once)")
            eval_run.stop()
            try:
                finished.wait(60)
            except KeyboardInterrupt:
                os._exit(EXIT_INTERRUPTED)
    finally:
        if progress is not None:
            progress.__exit__(None, None, None)
    if "error" in box:
        raise box["error"]
    return box["report"]


if __name__ == "__main__":
    sys.exit(EXIT_USAGE)
