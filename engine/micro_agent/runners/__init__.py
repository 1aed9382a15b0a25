"""Test runners: run a test command and turn what it printed into a `TestReport`.

The runner is picked from the command: pytest (JUnit XML, xunit1), `cargo test` (libtest
output), an npm/yarn/pnpm script running vitest, jest or `node --test`, vitest (JUnit XML),
jest (`--json`), `node --test` (JUnit XML) — and any other command, where the exit status
decides and the output is the message of one failure named after the command.

Conventions the engine relies on:
- `infra_error` is set only when no change to the code can help: command not found, usage
  error, missing npm script, no tests found/collected, timeout ("timed out after N s").
- A test file that cannot be loaded (pytest collection error, a JS suite that fails to import,
  a syntax error) is a failure named `<collection>`; a Rust compile error is a failure named
  `<compile>`, at the error's file and line. `infra_error` stays None for both: the engine
  compares them with the initial run's failures to tell a broken command from broken code.
- `file` is relative to `cwd`; `line` is 1-based and points at the failing assertion when the
  runner says where it is (else at the test). `output` is stdout and stderr as printed, at most
  about 200 kB (head and tail); each message at most about 4 kB.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from pathlib import Path

from ..languages import is_test_file, language_of
from ..reports import TestReport
from .base import COLLECTION, COMPILE, Runner, TestRunner
from .cargo import CargoRunner
from .detect import detect_test_command, find_target_for_test, find_test_files
from .generic import GenericRunner, failure_from_output
from .jest import JestRunner
from .node import NodeTestRunner
from .npm import for_command as npm_runner_for
from .process import ProcessResult, build_env, run_process
from .pytest import PytestRunner, tests_command
from .vitest import VitestRunner

__all__ = [
    "COLLECTION",
    "COMPILE",
    "CommandTestRunner",
    "command_for_tests",
    "TestRunner",
    "detect_test_command",
    "find_target_for_test",
    "find_test_files",
    "is_test_file",
    "language_of",
    "run_tests",
    "runner_name",
    "select_runner",
]

_NOT_FOUND = re.compile(r"(?:^|: )(?P<name>[^\s:]+): (?:command )?not found$", re.MULTILINE)
_NPM_NO_SCRIPT = re.compile(
    r"^npm (?:error|ERR!) (?P<reason>Missing script: .*|enoent Could not read package\.json.*)$", re.MULTILINE
)


def select_runner(command: str, cwd: Path) -> Runner:
    """The runner that understands `command` (the generic one when none does)."""
    if PytestRunner().matches(command, cwd):
        return PytestRunner()
    if CargoRunner().matches(command, cwd):
        return CargoRunner()
    npm = npm_runner_for(command, cwd)
    if npm is not None:
        return npm
    for runner in (VitestRunner(), JestRunner(), NodeTestRunner()):
        if runner.matches(command, cwd):
            return runner
    return GenericRunner()


def command_for_tests(suite: str, tests: list[str], cwd: Path) -> str | None:
    """The command that runs just `tests` (the failing tests' ids) the way `suite` runs them: pytest's own
    invocation with the ids; None for any other runner (the target's detected command is used instead)."""
    return tests_command(suite, tests) if select_runner(suite, cwd).name == "pytest" else None


def runner_name(command: str, cwd: Path) -> str:
    """"pytest", "cargo", "vitest", "jest", "node:test", or "command" — for prompts and logs."""
    runner = select_runner(command, cwd)
    inner = getattr(runner, "inner", None)
    return inner.name if inner is not None else runner.name


def run_tests(
    command: str,
    cwd: Path,
    timeout_s: float = 300,
    cancel: threading.Event | None = None,
    env: dict[str, str] | None = None,
) -> TestReport:
    """Run `command` in `cwd` and report what failed, where and why.

    `env` adds to (and overrides) the inherited environment. A set `cancel` kills the command's
    whole process tree and raises `micro_agent.controls.RunInterrupted`.
    """
    cwd = Path(cwd)
    runner = select_runner(command, cwd)
    with tempfile.TemporaryDirectory(prefix=f"micro-agent-{os.getpid()}-tests-") as tmp:  # pid: pruned if killed
        report_dir = Path(tmp)
        full_env = build_env(env)
        prepared = runner.prepare(command, cwd, report_dir, full_env)
        result = run_process(prepared.command, cwd, timeout_s, cancel, {**full_env, **prepared.env})
        return _report(command, runner, result, cwd, report_dir, timeout_s)


class CommandTestRunner:
    """The real TestRunner (runners.base.TestRunner): `run_tests` in a process."""

    __test__ = False

    def run(self, command: str, cwd: Path, timeout_s: float, cancel: threading.Event | None = None,
            env: dict[str, str] | None = None) -> TestReport:
        return run_tests(command, cwd, timeout_s=timeout_s, cancel=cancel, env=env)


def _report(
    command: str, runner: Runner, result: ProcessResult, cwd: Path, report_dir: Path, timeout_s: float
) -> TestReport:
    report = TestReport(
        passed=False, command=command, exit_code=result.exit_code, output=result.output, duration_s=result.duration_s
    )
    infra = _infra_error(command, result, timeout_s)
    if infra is not None:
        report.infra_error = infra
        return report
    parsed = runner.parse(result, cwd, report_dir)
    report.failures = parsed.failures
    report.infra_error = parsed.infra_error
    report.tests_run = parsed.tests_run
    if result.exit_code != 0 and not report.failures and report.infra_error is None:
        report.failures = [failure_from_output(result.output, result.exit_code, name=command)]
    report.passed = result.exit_code == 0 and not report.failures and report.infra_error is None
    return report


def _infra_error(command: str, result: ProcessResult, timeout_s: float) -> str | None:
    """Errors every runner shares: could not start, timed out, command not found or not executable."""
    if result.start_error is not None:
        return f"could not start the test command: {result.start_error}"
    if result.timed_out:
        return f"timed out after {timeout_s:g} s: the tests did not finish; check for a hang or raise the test timeout"
    if result.exit_code == 127:
        missing = _NOT_FOUND.search(result.output)
        name = missing.group("name") if missing else command.split()[0]
        return f"command not found: {name} (install it, or fix the test command `{command}`)"
    if result.exit_code == 126:
        return f"the test command is not executable: `{command}` (check its permissions)"
    npm = _NPM_NO_SCRIPT.search(result.output) if result.exit_code != 0 else None
    if npm is not None:
        return f"npm: {npm.group('reason').strip()} (check package.json's scripts or the test command)"
    return None
