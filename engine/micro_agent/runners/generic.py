"""Any other command: the exit status decides, and the output is the message of one failure."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..reports import TestFailure
from .base import Parsed, Prepared
from .process import ProcessResult
from .text import cap


class GenericRunner:
    """Runs the command as typed; `run_tests` turns a non-zero exit into `failure_from_output`."""

    name = "command"

    def prepare(self, command: str, cwd: Path, report_dir: Path, env: Mapping[str, str]) -> Prepared:
        return Prepared(command)

    def parse(self, result: ProcessResult, cwd: Path, report_dir: Path) -> Parsed:
        return Parsed()


def failure_from_output(output: str, exit_code: int | None, name: str) -> TestFailure:
    """One failure named `name` carrying the command's output (head and tail when long)."""
    text = output.strip() or f"(no output; exit status {exit_code})"
    return TestFailure(name=name, message=cap(text))
