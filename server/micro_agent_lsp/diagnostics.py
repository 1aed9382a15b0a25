"""Test reports as LSP diagnostics and code-action sites (pure).

A failing test becomes a `FailureSite`: where it failed (the assertion), where it is defined (its
`def`/`test(...)`/`fn` line), and why. Diagnostics are drawn at the failing line; the code action
"Fix with Micro Agent" is offered on both lines.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Callable
from pathlib import Path, PurePosixPath

from lsprotocol import types
from micro_agent.languages import test_definition_line
from micro_agent.reports import TestReport

from .edits import column_units, split_lines

SOURCE = "micro-agent"
MAX_MESSAGE_LINES = 15
MAX_MESSAGE_CHARS = 1500


@dataclass(frozen=True)
class FailureSite:
    """One failing test located in a file. Lines are 0-based."""

    file: str  # relative to the project root, posix separators
    test: str  # the runner's name for it ("" for a run that could not start)
    line: int  # the failing assertion, or the definition when the runner gave no line
    def_line: int | None
    message: str

    @property
    def lines(self) -> set[int]:
        return {self.line} if self.def_line is None else {self.line, self.def_line}


def name_candidates(test_name: str) -> list[str]:
    """The names a test may be defined under, most specific last: `tests/t.py::TestX::test_a[1]` -> [..., 'test_a'];
    `math > adds` -> [..., 'adds']; `tests.test_calc.TestCalc.test_add` -> [..., 'test_add']."""
    name = re.sub(r"\[.*\]$", "", test_name.strip())
    candidates = [name]
    for separator in ("::", " > ", " › "):
        if separator in name:
            name = name.rsplit(separator, 1)[1].strip()
            candidates.append(name)
    if "." in name and not re.search(r"[\s/\\]", name):  # dotted python path: module.Class.test
        candidates.append(name.rsplit(".", 1)[1])
    return [c for c in dict.fromkeys(candidates) if c]


def definition_line(text: str, test_name: str) -> int | None:
    """The 0-based line where `test_name` is defined in `text` (by the registered languages' patterns), else None."""
    lines = split_lines(text)
    for candidate in reversed(name_candidates(test_name)):
        line = test_definition_line(lines, candidate)
        if line is not None:
            return line
    return None


def relative_file(file: str | None, root: Path) -> str | None:
    """A runner's file path relative to the project root, posix style (absolute paths are made relative)."""
    if not file:
        return None
    path = Path(file)
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(root.resolve())
        except ValueError:
            return None
    return PurePosixPath(*path.parts).as_posix()


def short_message(message: str) -> str:
    """A failure message trimmed for an editor's hover/echo area; pytest's `E` lines first when there are some."""
    lines = message.strip().splitlines()
    explanation = [line[1:] for line in lines if line.startswith("E ")]
    if explanation:
        lines = textwrap.dedent("\n".join(explanation)).strip().splitlines()
    text = "\n".join(lines[:MAX_MESSAGE_LINES])
    if len(lines) > MAX_MESSAGE_LINES or len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS].rstrip() + "\n[…]"
    return text


def failure_sites(report: TestReport, root: Path, read_text: Callable[[str], str | None],
                  test_files: list[str]) -> list[FailureSite]:
    """Locate every failure of `report`; `read_text(rel_path)` gives a file's current content (None: unreadable)."""
    if report.infra_error and not report.failures:
        if not test_files:
            return []
        return [FailureSite(test_files[0], "", 0, None, f"The tests could not run: {short_message(report.infra_error)}")]
    sites = []
    for failure in report.failures:
        file = relative_file(failure.file, root)
        text = read_text(file) if file else None
        if text is None:  # no usable location: the test file that defines the test, else the first one
            file = next((f for f in test_files if definition_line(read_text(f) or "", failure.name) is not None),
                        test_files[0] if test_files else None)
            text = read_text(file) if file else None
        if file is None:
            continue
        text = text or ""
        def_line = definition_line(text, failure.name)
        in_file = failure.line is not None and 0 < failure.line <= max(1, len(split_lines(text)))
        line = failure.line - 1 if in_file else (def_line if def_line is not None else 0)
        sites.append(FailureSite(file, failure.name, line, def_line, short_message(failure.message) or f"{failure.name} failed"))
    return sites


def _line_range(text: str, line: int, encoding: str | None) -> types.Range:
    lines = split_lines(text)
    content = lines[line].rstrip("\r\n") if line < len(lines) else ""
    indent = len(content) - len(content.lstrip())
    return types.Range(
        start=types.Position(line=line, character=column_units(content[:indent], encoding)),
        end=types.Position(line=line, character=column_units(content, encoding)),
    )


def site_diagnostics(sites: list[FailureSite], text: str, encoding: str | None = None) -> list[types.Diagnostic]:
    """Diagnostics for the sites of one file, each at its failing line."""
    return [
        types.Diagnostic(
            range=_line_range(text, site.line, encoding),
            message=site.message,
            severity=types.DiagnosticSeverity.Error,
            source=SOURCE,
            code=name_candidates(site.test)[-1] if site.test else None,
            data={"test": site.test, "defLine": site.def_line},
        )
        for site in sites
    ]


def summary_diagnostic(text: str, message: str, severity: types.DiagnosticSeverity,
                       encoding: str | None = None) -> types.Diagnostic:
    """One line on the target's first line: what the run is doing or how it ended."""
    return types.Diagnostic(range=_line_range(text, 0, encoding), message=message, severity=severity, source=SOURCE)


def is_ours(diagnostic: types.Diagnostic) -> bool:
    return diagnostic.source == SOURCE
