"""node:test (`node --test`): JUnit report via NODE_OPTIONS, spec output kept on stdout.

The reporters go in NODE_OPTIONS rather than on the command line so that the same works for
`node --test x.test.js` and for an npm script that runs `node --test` (arguments after `--`
would land after the file names, where node takes them for files).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from ..reports import TestFailure
from . import shell
from .base import COLLECTION, Parsed, Prepared
from ..languages import is_test_file
from ..langs.javascript import SUFFIXES as JS_SUFFIXES
from .process import ProcessResult
from .text import cap, drop_frames, first_line, js_locations, pick_location, relative_path

REPORT = "node.xml"
INVOCATION = r"(?:\S*/)?node"

# The header node prints for an uncaught error: `/abs/path/math.js:12` on a line of its own.
_UNCAUGHT_HEADER = re.compile(r"^(?P<path>/\S+?):(?P<line>\d+)$", re.MULTILINE)


class NodeTestRunner:
    name = "node:test"

    def matches(self, command: str, cwd: Path) -> bool:
        match = shell.find(command, INVOCATION)
        if match is None:
            return False
        segment = command[match.start() : shell.segment_end(command, match.start())]
        return "--test" in shell.words(segment)

    def prepare(self, command: str, cwd: Path, report_dir: Path, env: Mapping[str, str]) -> Prepared:
        if "--test-reporter" in command:  # the user chose reporters: leave them be
            return Prepared(command)
        return Prepared(command, reporter_env(report_dir, env))

    def parse(self, result: ProcessResult, cwd: Path, report_dir: Path) -> Parsed:
        report = report_dir / REPORT
        if not report.exists() or not report.read_text(errors="replace").strip():
            return Parsed(infra_error=_infra_error(result))
        try:
            root = ET.fromstring(report.read_text(encoding="utf-8", errors="replace"))
        except ET.ParseError:
            return Parsed(infra_error=_infra_error(result))
        failures, tests_run = parse_junit(root, cwd, result.output)
        infra = None
        if tests_run == 0 and not failures:
            infra = "node --test ran no tests: check the test file paths in the test command"
        return Parsed(failures, infra, tests_run)


def reporter_env(report_dir: Path, env: Mapping[str, str]) -> dict[str, str]:
    flags = (
        f"--test-reporter=junit --test-reporter-destination={report_dir / REPORT} "
        "--test-reporter=spec --test-reporter-destination=stdout"
    )
    existing = env.get("NODE_OPTIONS", "").strip()
    return {"NODE_OPTIONS": f"{existing} {flags}".strip()}


def _infra_error(result: ProcessResult) -> str | None:
    if result.exit_code == 0:
        return None
    for line in result.output.splitlines():
        if line.startswith("Could not find"):
            return f"node --test found no test files: {line.strip()}"
        if "bad option" in line or "is not allowed in NODE_OPTIONS" in line:
            return f"{line.strip()} (this node may be too old for it)"
    return None  # let the caller report the output as a failure


def parse_junit(root: ET.Element, cwd: Path, output: str = "") -> tuple[list[TestFailure], int]:
    """Failures and the number of tests from node's JUnit report (describe blocks are nested testsuites)."""
    failures: list[TestFailure] = []
    count = 0

    def walk(element: ET.Element, suites: list[str]) -> None:
        nonlocal count
        for child in element:
            if child.tag == "testsuite":
                walk(child, [*suites, child.get("name", "")])
            elif child.tag == "testcase":
                count += not _is_file(child.get("name", ""))
                problem = child.find("failure")
                if problem is None:
                    problem = child.find("error")
                if problem is not None and problem.get("type") != "skipped":
                    failures.append(_failure(child, problem, suites, cwd, output))

    walk(root, [])
    return failures, count


def _failure(case: ET.Element, problem: ET.Element, suites: list[str], cwd: Path, output: str) -> TestFailure:
    name = case.get("name", "?")
    text = problem.text or problem.get("message") or ""
    if _is_file(name):  # the whole test file failed to load or crashed
        return _file_failure(name, text, cwd, output)
    message = drop_frames(_cause(text))
    file, line = pick_location(js_locations(text, cwd), prefer=lambda f: is_test_file(PurePosixPath(f)))
    title = " > ".join([*suites, name])
    if file is not None and is_test_file(PurePosixPath(file)):
        title = f"{file} > {title}"
    return TestFailure(name=title, file=file, line=line, message=cap(message.strip()))


def _is_file(name: str) -> bool:
    return name.startswith("/") and PurePosixPath(name).suffix in JS_SUFFIXES


def _file_failure(path: str, text: str, cwd: Path, output: str) -> TestFailure:
    """A test file that did not load: the child's own error is in the output, before the `✖ <path>` line."""
    end = output.find(f"✖ {path}")
    error = output[:end].strip() if end > 0 else ""
    message = drop_frames(error) if error else text.strip()
    file, line = relative_path(path, cwd), None
    header = _UNCAUGHT_HEADER.search(error)
    if header:
        located = relative_path(header.group("path"), cwd)
        if located is not None and not located.startswith("../"):
            file, line = located, int(header.group("line"))
    elif js_locations(error, cwd):
        file, line = js_locations(error, cwd)[0]
    if not message:
        message = first_line(text)
    return TestFailure(name=COLLECTION, file=file, line=line, message=cap(message))


def _cause(text: str) -> str:
    """node wraps the real error as `cause:` inside an ERR_TEST_FAILURE: keep just the cause."""
    marker = text.find("\n  cause: ")
    if marker < 0:
        return text
    lines = text[marker + len("\n  cause: ") :].rstrip().splitlines()
    if lines and lines[-1].strip() == "}":
        lines.pop()
    return "\n".join(line[2:] if line.startswith("  ") else line for line in lines)
