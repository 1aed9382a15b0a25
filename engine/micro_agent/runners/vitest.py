"""vitest: `--reporter=junit --outputFile.junit=<file>` next to the default reporter."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

from ..reports import TestFailure
from . import shell
from .base import COLLECTION, Parsed, Prepared
from .process import ProcessResult
from .text import cap, drop_frames, js_locations, pick_location, strip_ansi

REPORT = "vitest.xml"
INVOCATION = r"(?:\S*/)?vitest(?:\s+run)?"


class VitestRunner:
    name = "vitest"

    def matches(self, command: str, cwd: Path) -> bool:
        return shell.find(command, INVOCATION) is not None

    def prepare(self, command: str, cwd: Path, report_dir: Path, env: Mapping[str, str]) -> Prepared:
        match = shell.find(command, INVOCATION)
        assert match is not None
        return Prepared(shell.insert(command, match.end(), reporter_args(command, report_dir)))

    def parse(self, result: ProcessResult, cwd: Path, report_dir: Path) -> Parsed:
        infra = _infra_error(result.output) if result.exit_code != 0 else None
        report = report_dir / REPORT
        if not report.exists():
            return Parsed(infra_error=infra)
        try:
            root = ET.fromstring(strip_ansi(report.read_text(encoding="utf-8", errors="replace")))
        except ET.ParseError:
            return Parsed(infra_error=infra)
        failures, tests_run = parse_junit(root, cwd)
        return Parsed(failures, None if failures else infra, tests_run)


def reporter_args(command: str, report_dir: Path) -> list[str]:
    args = ["--reporter=junit", f"--outputFile.junit={report_dir / REPORT}"]
    if "--reporter" not in command:
        args.append("--reporter=default")  # keep the usual output for the prompt and the log
    return args


def _infra_error(output: str) -> str | None:
    for line in output.splitlines():
        if "No test files found" in line:
            return f"vitest found no test files: {line.strip()}"
        if line.startswith(("CACError", "Error: Unknown option")):
            return f"vitest usage error: {line.strip()}"
    return None


def parse_junit(root: ET.Element, cwd: Path) -> tuple[list[TestFailure], int]:
    """Failures and the number of tests from vitest's JUnit report (classname = test file)."""
    failures: list[TestFailure] = []
    count = 0
    for case in root.iter("testcase"):
        if case.find("skipped") is not None:
            continue
        test_file = case.get("classname", "")
        name = case.get("name", "?")
        suite_failed = name == test_file  # the file did not load: syntax or import error
        if not suite_failed:
            count += 1
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is None:
            continue
        text = (problem.text or problem.get("message") or "").strip()
        locations = js_locations(text, cwd)
        if suite_failed:  # where the error is, rather than the test file that imported it
            others = [location for location in locations if location[0] != test_file]
            file, line = pick_location(others or locations)
            title = COLLECTION
        else:
            file, line = pick_location(locations, prefer_file=test_file)
            title = f"{test_file} > {name}"
        failures.append(TestFailure(name=title, file=file or test_file, line=line, message=cap(drop_frames(text))))
    return failures, count
