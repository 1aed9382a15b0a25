"""cargo test: read libtest's output (`---- name stdout ----` sections, panic locations) and rustc errors.

`--no-fail-fast` is added so every test binary runs. Compile errors become failures named
`<compile>` at the rustc location (the code can fix them); cargo errors before any test ran
(no Cargo.toml, bad arguments, a missing crate offline) are infra errors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from ..reports import TestFailure
from . import shell
from .base import COMPILE, Parsed, Prepared
from .process import ProcessResult
from .text import cap, relative_path

INVOCATION = r"cargo(?:\s+\+\S+)?\s+test"

_SECTION = re.compile(r"^---- (?P<name>.+?) stdout ----$", re.MULTILINE)
_FAILURES_LIST = re.compile(r"^failures:$", re.MULTILINE)
_PANIC_NEW = re.compile(r"panicked at (?P<path>[^\s:']+):(?P<line>\d+):\d+:\n(?P<message>.*)", re.DOTALL)
_PANIC_OLD = re.compile(r"panicked at '(?P<message>.*?)', (?P<path>[^\s:]+):(?P<line>\d+):\d+", re.DOTALL)
_THREAD_ID = re.compile(r"^(thread '[^']*') \(\d+\)", re.MULTILINE)
_RESULT_LINE = re.compile(r"^test (?P<name>.+?) \.\.\. FAILED$", re.MULTILINE)
_RUNNING = re.compile(r"^\s*(?:Running (?:unittests )?(?P<path>\S+)|Doc-tests \S+)", re.MULTILINE)
_RUNNING_COUNT = re.compile(r"^running (?P<count>\d+) tests?$", re.MULTILINE)
_ERROR_HEAD = re.compile(r"^error(?:\[E\d+\])?: ")
_ERROR_ARROW = re.compile(r"^\s*--> (?P<path>[^\s:]+):(?P<line>\d+):\d+")
_CARGO_SUMMARY = ("error: could not compile", "error: test failed", "error: aborting")
_BACKTRACE_FRAME = re.compile(r"^\s*\d+: (?P<function>.+)\n\s+at (?P<path>\./\S+)$", re.MULTILINE)


class CargoRunner:
    name = "cargo"

    def matches(self, command: str, cwd: Path) -> bool:
        return shell.find(command, INVOCATION) is not None

    def prepare(self, command: str, cwd: Path, report_dir: Path, env: Mapping[str, str]) -> Prepared:
        match = shell.find(command, INVOCATION)
        assert match is not None
        segment = command[match.start() : shell.segment_end(command, match.start())]
        words = shell.words(segment)
        before_libtest_args = words[: words.index("--")] if "--" in words else words
        if "--no-fail-fast" in before_libtest_args:
            return Prepared(command)
        return Prepared(shell.insert(command, match.end(), ["--no-fail-fast"]))

    def parse(self, result: ProcessResult, cwd: Path, report_dir: Path) -> Parsed:
        return parse_output(result.output, result.exit_code, cwd)


def parse_output(output: str, exit_code: int | None, cwd: Path) -> Parsed:
    """Failures, infra error and test count from `cargo test` output."""
    compile_errors = _compile_errors(output, cwd)
    if compile_errors:
        return Parsed(compile_errors, None, 0)
    failures = _test_failures(output, cwd)
    tests_run = sum(int(m.group("count")) for m in _RUNNING_COUNT.finditer(output))
    infra = None
    if exit_code != 0 and not failures and not _RUNNING.search(output):
        infra = f"cargo: {_first_error(output)}"
    elif exit_code == 0 and tests_run == 0:
        infra = "cargo test ran no tests: check the test name filter and that the crate has tests"
    return Parsed(failures, infra, tests_run)


def _first_error(output: str) -> str:
    for line in output.splitlines():
        if line.startswith("error"):
            return line.removeprefix("error: ").strip()[:300]
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def _compile_errors(output: str, cwd: Path) -> list[TestFailure]:
    """rustc's `error[E..]: ...` blocks (each ends at a blank line), at their `-->` location."""
    if "could not compile" not in output:
        return []
    failures: list[TestFailure] = []
    seen: set[tuple[str | None, int | None, str]] = set()
    lines = output.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if not _ERROR_HEAD.match(line) or line.startswith(_CARGO_SUMMARY):
            index += 1
            continue
        block = [line]
        index += 1
        while index < len(lines) and lines[index].strip():
            block.append(lines[index])
            index += 1
        file, line_no = None, None
        for block_line in block:
            arrow = _ERROR_ARROW.match(block_line)
            if arrow:
                file, line_no = relative_path(arrow.group("path"), cwd), int(arrow.group("line"))
                break
        key = (file, line_no, block[0])
        if key not in seen:
            seen.add(key)
            failures.append(TestFailure(name=COMPILE, file=file, line=line_no, message=cap("\n".join(block))))
    return failures


def _test_failures(output: str, cwd: Path) -> list[TestFailure]:
    failures: list[TestFailure] = []
    named: set[str] = set()
    sections = list(_SECTION.finditer(output))
    for position, section in enumerate(sections):
        end = sections[position + 1].start() if position + 1 < len(sections) else len(output)
        list_start = _FAILURES_LIST.search(output, section.end(), end)
        body = output[section.end() : list_start.start() if list_start else end].strip("\n")
        name = section.group("name")
        named.add(name)
        failures.append(_failure(name, body, cwd, _binary_source(output, section.start(), cwd)))
    for result in _RESULT_LINE.finditer(output):  # failed without printing anything
        if result.group("name") not in named:
            named.add(result.group("name"))
            failures.append(TestFailure(name=result.group("name"), file=_binary_source(output, result.start(), cwd)))
    return failures


def _failure(name: str, body: str, cwd: Path, fallback_file: str | None) -> TestFailure:
    file, line = fallback_file, None
    panic = _PANIC_NEW.search(body) or _PANIC_OLD.search(body)
    if panic:
        located = relative_path(panic.group("path"), cwd)
        if located is not None:
            file, line = located, int(panic.group("line"))
    return TestFailure(name=name, file=file, line=line, message=cap(_clean_section(body)))


def _clean_section(body: str) -> str:
    """The panic text without thread ids, hints and std frames; project frames are kept, compactly."""
    frames = [
        f"  {m.group('function')} at {m.group('path')}"
        for m in _BACKTRACE_FRAME.finditer(body)
        if not m.group("function").endswith("{{closure}}")
    ]
    text = body.split("\nstack backtrace:", 1)[0]
    text = _THREAD_ID.sub(r"\1", text)
    kept = [line for line in text.splitlines() if not line.startswith("note: run with `RUST_BACKTRACE")]
    if frames:
        kept += ["stack backtrace (project frames):", *frames]
    return "\n".join(kept).strip()


def _binary_source(output: str, position: int, cwd: Path) -> str | None:
    """The source of the test binary whose output holds `position` (`Running tests/math.rs (...)`)."""
    running = None
    for match in _RUNNING.finditer(output, 0, position):
        running = match
    if running is None or running.group("path") is None:
        return None
    return relative_path(running.group("path"), cwd)
