"""pytest: run with `--junitxml` (xunit1 keeps file and line) and read the report.

Exit codes: 0 passed, 1 tests failed, 2 interrupted (collection errors), 3 internal error,
4 usage error, 5 no tests collected. Collection errors, and a conftest.py that cannot be
imported, become failures named `<collection>` (usually the code's fault: a SyntaxError or
ImportError in the target); 3, 4, 5 and a plain interruption are infra errors.
"""

from __future__ import annotations

import re
import shlex
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from ..reports import TestFailure
from . import shell
from .base import COLLECTION, Parsed, Prepared
from .process import ProcessResult
from .text import cap, relative_path

INVOCATION = r"(?:\S*/)?(?:python[\d.]*\s+-m\s+pytest|py\.?test)"
REPORT = "pytest.xml"
CONFTEST_ERROR = "ImportError while loading conftest"

# `tests/test_x.py:12: AssertionError` (long and short tracebacks) and `File "x.py", line 3` (native).
_PYTEST_ENTRY = re.compile(r"^(?P<path>[^\s:<>][^:\n]*\.py):(?P<line>\d+):(?: |$)", re.MULTILINE)
_NATIVE_ENTRY = re.compile(r'File "(?P<path>[^"]+\.py)", line (?P<line>\d+)')
_ENTRY_HEADER = re.compile(r"^(?P<path>\S[^:\n]*):\d+: in ")


def tests_command(command: str, tests: list[str]) -> str | None:
    """`command`'s pytest invocation running just `tests` (node ids), or None when it has none."""
    match = shell.find(command, INVOCATION)
    if match is None or not tests:
        return None
    return f"{match.group(0)} -q " + " ".join(shlex.quote(t) for t in tests)


class PytestRunner:
    name = "pytest"

    def matches(self, command: str, cwd: Path) -> bool:
        return shell.find(command, INVOCATION) is not None

    def prepare(self, command: str, cwd: Path, report_dir: Path, env: Mapping[str, str]) -> Prepared:
        match = shell.find(command, INVOCATION)
        assert match is not None
        args = [f"--junitxml={report_dir / REPORT}", "-o", "junit_family=xunit1"]
        # After the user's own --junitxml (the last one wins), else right after `pytest`.
        at = shell.segment_end(command, match.start()) if "--junitxml" in command else match.end()
        return Prepared(shell.insert(command, at, args))

    def parse(self, result: ProcessResult, cwd: Path, report_dir: Path) -> Parsed:
        report = report_dir / REPORT
        failures: list[TestFailure] = []
        tests_run = None
        if report.exists():
            try:
                failures, tests_run = parse_junit(report.read_text(encoding="utf-8", errors="replace"), cwd)
            except ET.ParseError:
                pass
        if result.exit_code == 4 and CONFTEST_ERROR in result.output:
            failures = [conftest_failure(result.output, cwd)]
        return Parsed(failures, classify_exit(result.exit_code, result.output, failures), tests_run)


def conftest_failure(output: str, cwd: Path) -> TestFailure:
    """A conftest.py that cannot be imported (often because the code it imports is broken)."""
    text = output[output.index(CONFTEST_ERROR) :].strip()
    file, line = _collection_location(text, cwd, None)
    return TestFailure(name=COLLECTION, file=file, line=line, message=cap(text))


def classify_exit(exit_code: int | None, output: str, failures: list[TestFailure]) -> str | None:
    """The infra error for a pytest exit code, or None when the run says something about the code."""
    if exit_code == 5:
        return "pytest collected no tests: check the test paths and names in the test command"
    if exit_code == 4 and not failures:
        return f"pytest usage error: {_error_line(output)}"
    if exit_code == 3:
        return f"pytest internal error: {_error_line(output)}"
    if exit_code == 2 and not any(f.name == COLLECTION for f in failures):
        return f"pytest was interrupted: {_error_line(output)}"
    return None


def _error_line(output: str) -> str:
    """The most telling line of pytest's complaint: argparse's `error:`, then `ERROR: ...`, then an `...Error`."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    rules = (
        lambda line: ": error: " in line,
        lambda line: line.startswith("ERROR:") and not line.startswith("ERROR: usage:"),
        lambda line: "Error" in line.split(":")[0],
    )
    for rule in rules:
        for line in lines:
            if rule(line):
                return line[:300]
    return (lines[-1] if lines else "no output")[:300]


def parse_junit(xml_text: str, cwd: Path) -> tuple[list[TestFailure], int]:
    """Failures and the number of tests run, from a pytest xunit1 JUnit report."""
    failures: list[TestFailure] = []
    tests_run = 0
    for case in ET.fromstring(xml_text).iter("testcase"):
        if case.find("skipped") is not None:
            continue
        problems = [child for child in case if child.tag in ("failure", "error")]
        is_collection = any(p.get("message") == "collection failure" for p in problems) or (
            problems and not case.get("classname")
        )
        if not is_collection:
            tests_run += 1
        if not problems:
            continue
        text = "\n\n".join(_problem_text(p) for p in problems)
        test_file = case.get("file") or _file_from_classname(case.get("classname", ""))
        if is_collection:
            file, line = _collection_location(text, cwd, test_file)
            message = cap(_drop_outside_frames(text, cwd))
            failures.append(TestFailure(name=COLLECTION, file=file, line=line, message=message))
            continue
        line = _assertion_line(text, cwd, test_file)
        if line is None and case.get("line", "").isdigit():
            line = int(case.get("line", "0")) + 1  # xunit1 lines are 0-based
        failures.append(
            TestFailure(name=_node_id(case, test_file), file=test_file, line=line, message=cap(_restore_indent(text)))
        )
    return failures, tests_run


def _problem_text(element: ET.Element) -> str:
    return (element.text or "").strip("\n") or element.get("message", "")


def _file_from_classname(classname: str) -> str | None:
    module = [part for part in classname.split(".") if part and not part[0].isupper()]
    return "/".join(module) + ".py" if module else None


def _node_id(case: ET.Element, test_file: str | None) -> str:
    name = case.get("name", "?")
    classname = case.get("classname", "")
    if not test_file:
        return f"{classname}::{name}" if classname else name
    module = PurePosixPath(test_file).with_suffix("").as_posix().replace("/", ".")
    if classname.startswith(module + "."):
        classes = classname[len(module) + 1 :].split(".")
    else:  # rootdir or import mode differ: keep the CamelCase tail (the test classes)
        parts = classname.split(".")
        classes = []
        while parts and parts[-1][:1].isupper():
            classes.insert(0, parts.pop())
    return "::".join([test_file, *classes, name])


def _locations(text: str, cwd: Path) -> list[tuple[str, int]]:
    found = []
    for match in sorted([*_PYTEST_ENTRY.finditer(text), *_NATIVE_ENTRY.finditer(text)], key=lambda m: m.start()):
        rel = relative_path(match.group("path"), cwd)
        if rel is not None and not rel.startswith("../"):
            found.append((rel, int(match.group("line"))))
    return found


def _assertion_line(text: str, cwd: Path, test_file: str | None) -> int | None:
    """The line of the last traceback entry inside the test file: the failing assertion."""
    lines = [line for file, line in _locations(text, cwd) if file == test_file]
    return lines[-1] if lines else None


def _collection_location(text: str, cwd: Path, test_file: str | None) -> tuple[str | None, int | None]:
    """Where a collection error comes from: a SyntaxError's `File "x.py", line N`, else the last project entry."""
    for match in _NATIVE_ENTRY.finditer(text):
        rel = relative_path(match.group("path"), cwd)
        if rel is not None and not rel.startswith("../"):
            return rel, int(match.group("line"))
    locations = _locations(text, cwd)
    if locations:
        return locations[-1]
    return test_file, None


def _drop_outside_frames(text: str, cwd: Path) -> str:
    """A collection traceback without the entries from pytest, importlib and site-packages."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines():
        header = _ENTRY_HEADER.match(line)
        if header:
            path = header.group("path")
            rel = relative_path(path, cwd) if not path.startswith("<") else None
            skipping = rel is None or rel.startswith("../")
        elif skipping and not line[:1].isspace():
            skipping = False
        if not skipping:
            kept.append(line)
    return "\n".join(kept)


def _restore_indent(text: str) -> str:
    """Put back the indent pytest strips from the first source line of a long traceback."""
    lines = text.split("\n")
    if len(lines) < 2:
        return text
    first, second = lines[0], lines[1]
    is_source_head = (
        first[:1] not in ("", " ", ">")
        and not first.startswith("E ")
        and _PYTEST_ENTRY.match(first) is None
        and (second.startswith("    ") or second.startswith(">"))
    )
    return "    " + text if is_source_head else text
