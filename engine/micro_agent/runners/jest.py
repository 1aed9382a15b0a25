"""jest: `--json --outputFile=<file>`; the human-readable report still goes to stderr."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..reports import TestFailure
from . import shell
from .base import COLLECTION, Parsed, Prepared
from .process import ProcessResult
from .text import cap, drop_frames, js_locations, pick_location, relative_path

REPORT = "jest.json"
INVOCATION = r"(?:\S*/)?jest"

# Babel's parse error: `SyntaxError: /abs/src/math.js: Unexpected token (3:12)`.
_BABEL_SYNTAX = re.compile(r"SyntaxError: (?P<path>\S+?): .*?\((?P<line>\d+):\d+\)")


class JestRunner:
    name = "jest"

    def matches(self, command: str, cwd: Path) -> bool:
        return shell.find(command, INVOCATION) is not None

    def prepare(self, command: str, cwd: Path, report_dir: Path, env: Mapping[str, str]) -> Prepared:
        match = shell.find(command, INVOCATION)
        assert match is not None
        return Prepared(shell.insert(command, match.end(), reporter_args(report_dir)))

    def parse(self, result: ProcessResult, cwd: Path, report_dir: Path) -> Parsed:
        infra = _infra_error(result.output) if result.exit_code != 0 else None
        report = report_dir / REPORT
        try:
            data = json.loads(report.read_text(encoding="utf-8", errors="replace"))
        except (OSError, ValueError):
            return Parsed(infra_error=infra)
        failures = parse_report(data, cwd)
        return Parsed(failures, None if failures else infra, data.get("numTotalTests"))


def reporter_args(report_dir: Path) -> list[str]:
    return ["--json", f"--outputFile={report_dir / REPORT}"]


def _infra_error(output: str) -> str | None:
    for line in output.splitlines():
        if line.startswith("No tests found"):
            return f"jest found no tests: {line.strip()}"
        if line.startswith(("Unrecognized CLI Parameter", "● Validation Error")):
            return f"jest usage error: {line.strip()}"
    return None


def parse_report(data: dict[str, Any], cwd: Path) -> list[TestFailure]:
    """Failures from jest's `--json` report: failed assertions, and test files that did not run."""
    failures: list[TestFailure] = []
    for suite in data.get("testResults", []):
        test_file = relative_path(suite.get("name", ""), cwd) or suite.get("name")
        failed = [a for a in suite.get("assertionResults", []) if a.get("status") == "failed"]
        for assertion in failed:
            text = "\n".join(assertion.get("failureMessages") or [])
            file, line = pick_location(js_locations(text, cwd), prefer_file=test_file)
            title = " > ".join([test_file or "?", *assertion.get("ancestorTitles", []), assertion.get("title", "?")])
            failures.append(TestFailure(name=title, file=file or test_file, line=line, message=cap(drop_frames(text))))
        if not failed and suite.get("status") == "failed":
            failures.append(_suite_failure(suite.get("message", ""), test_file, cwd))
    return failures


def _suite_failure(message: str, test_file: str | None, cwd: Path) -> TestFailure:
    file, line = test_file, None
    syntax = _BABEL_SYNTAX.search(message)
    located = relative_path(syntax.group("path"), cwd) if syntax else None
    if syntax and located is not None:
        file, line = located, int(syntax.group("line"))
    else:
        locations = js_locations(message, cwd)
        if locations:
            file, line = pick_location(locations, prefer_file=test_file)
    if "Jest encountered an unexpected token" in message and "Details:" in message:  # skip the generic advice
        message = "Jest encountered an unexpected token\n" + message[message.index("Details:") :]
    return TestFailure(name=COLLECTION, file=file, line=line, message=cap(drop_frames(message).strip()))
