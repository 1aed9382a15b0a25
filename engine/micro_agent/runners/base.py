"""What every runner provides: adjust the command so it writes a report, then read the result."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..reports import TestFailure, TestReport
from .process import ProcessResult

COLLECTION = "<collection>"  # a test file that could not be loaded (import/syntax error, suite crash)
COMPILE = "<compile>"  # the code did not compile (rustc)


@dataclass
class Prepared:
    """The command to run (with reporter arguments added) and extra environment variables."""

    command: str
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Parsed:
    """What a runner read from its report and output."""

    failures: list[TestFailure] = field(default_factory=list)
    infra_error: str | None = None  # the tests could not run, and no change to the code can fix that
    tests_run: int | None = None


class Runner(Protocol):
    name: str

    def prepare(self, command: str, cwd: Path, report_dir: Path, env: Mapping[str, str]) -> Prepared:
        """`env` is the environment the command will get (to extend variables like NODE_OPTIONS)."""
        ...

    def parse(self, result: ProcessResult, cwd: Path, report_dir: Path) -> Parsed: ...


class TestRunner(Protocol):
    """The engine's test seam: run `command` in `cwd` and report. `runners.CommandTestRunner` is the real one
    (a process, its report parsed by the runner the command picks); `scripted.ScriptedTests` judges in process.

    A set `cancel` stops the run and raises `controls.RunInterrupted`; `env` adds to the inherited environment.
    """

    __test__ = False

    def run(self, command: str, cwd: Path, timeout_s: float, cancel: threading.Event | None,
            env: dict[str, str] | None) -> TestReport: ...
