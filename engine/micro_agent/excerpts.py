"""The view of a target too large to show whole: the code the failures point at, and an outline of the rest.

What the failures point at, in order of weight:
1. lines of the target named by tracebacks and failure locations (`big.py:10004: in f`, `File "big.py", line 3`,
   `src/lib.rs:12:5`, `at f (big.ts:40:7)`);
2. the definitions of the target that the failing tests call (names in the failure messages and in the
   failing tests' source);
3. the definitions of the target that the test files name.
Each becomes an excerpt (its enclosing definition, or a window of lines around it) until the excerpt cap is
spent; the outline lists the definitions with their line numbers, nearest to the excerpts first. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .definitions import Definition, definitions
from .languages import language_for, test_definition_line
from .reports import TestReport
from .runners.text import relative_path

EXCERPTS_CAP = 36_000  # characters of excerpts
OUTLINE_CAP = 12_000  # characters of outline
WINDOW = 30  # lines either side of a failure line when its definition is too long to show whole
LONGEST_DEFINITION = 150  # lines of a definition shown whole
OUTPUT_SCANNED = 200_000  # characters of the test output searched for locations (its tail)
MAX_POINTED_LINES = 40  # failure lines made into excerpts, first mention first

_LOCATION = re.compile(r"(?P<path>[^\s\"'()<>:,\[\]]+\.\w+):(?P<line>\d+)")
_PYTHON_FRAME = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+)')
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")


@dataclass(frozen=True)
class Span:
    start: int  # 1-based, inclusive
    end: int
    why: str


def failure_lines(target: str, report: TestReport | None, root: Path) -> list[int]:
    """Lines of `target` that the failures point at, first mention first."""
    if report is None:
        return []
    texts = [f.message for f in report.failures] + [report.output[-OUTPUT_SCANNED:]]
    found = [f.line for f in report.failures if f.line and f.file and _is_target(f.file, target, root)]
    for text in texts:
        for match in sorted([*_PYTHON_FRAME.finditer(text), *_LOCATION.finditer(text)], key=lambda m: m.start()):
            if _is_target(match.group("path"), target, root):
                found.append(int(match.group("line")))
    return list(dict.fromkeys(found))


def called_definitions(defs: list[Definition], report: TestReport | None,
                       test_files: dict[str, str]) -> tuple[list[Definition], list[Definition]]:
    """(definitions the failing tests call, other definitions the test files name), in file order."""
    by_name: dict[str, list[Definition]] = {}
    for definition in defs:
        by_name.setdefault(definition.name, []).append(definition)
    failing_text = "\n".join(_failing_test_sources(report, test_files))
    failing = {n for n in _IDENTIFIER.findall(failing_text) if n in by_name}
    named = {n for text in test_files.values() for n in _IDENTIFIER.findall(text) if n in by_name} - failing

    def pick(names: set[str]) -> list[Definition]:
        return sorted((d for n in names for d in by_name[n]), key=lambda d: d.line)

    return pick(failing), pick(named)


def big_file_view(target: str, content: str, report: TestReport | None, test_files: dict[str, str], root: Path,
                  tag: str = "") -> str:
    """Excerpts around what the failures point at and an outline of the rest, as prompt text."""
    lines = content.splitlines()
    defs = definitions(target, content)
    pointed = [line for line in failure_lines(target, report, root) if 1 <= line <= len(lines)]
    spans = [_span_around(line, defs, lines, "named by the failures") for line in pointed[:MAX_POINTED_LINES]]
    calls, named = called_definitions(defs, report, test_files)
    spans += [_span_of(d, defs, lines, "called by the failing tests") for d in calls]
    spans += [_span_of(d, defs, lines, "named by the tests") for d in named]
    head_end = min(defs[0].line - 1 if defs else 2 * WINDOW, 2 * WINDOW, len(lines))  # imports, constants
    if head_end >= 1 or not spans:
        spans.append(Span(1, head_end if head_end >= 1 else min(len(lines), 2 * WINDOW), "the start of the file"))
    chosen = _merge(_within_cap(spans, lines, EXCERPTS_CAP))
    fence = "````" if "```" in content else "```"
    parts = []
    for span in chosen:
        body = "\n".join(lines[span.start - 1:span.end])
        parts.append(f"### {target} lines {span.start:,}–{span.end:,} ({span.why})\n"
                     f"{fence}{tag} path={target} lines={span.start}-{span.end}\n{body}\n{fence}")
    outline = outline_text(defs, [s.start for s in chosen], OUTLINE_CAP)
    if outline:
        parts.append(f"### Outline of {target} (line: definition)\n{outline}")
    return "\n\n".join(parts)


def outline_text(defs: list[Definition], near: list[int], cap: int) -> str:
    """`  10,003: def f(a, b):` per definition, within `cap` characters: nearest to `near` first, gaps counted."""
    rows = [f"{d.line:>7,}: {' ' * d.indent}{d.signature}" for d in defs]
    if sum(len(r) + 1 for r in rows) <= cap:
        return "\n".join(rows)
    order = sorted(range(len(defs)), key=lambda i: min((abs(defs[i].line - n) for n in near), default=defs[i].line))
    kept, size = set(), 0
    for i in order:
        if size + len(rows[i]) + 1 > cap - 400:  # room for the gap lines
            break
        kept.add(i)
        size += len(rows[i]) + 1
    out, skipped_from = [], None
    for i in range(len(defs) + 1):
        if i < len(defs) and i not in kept:
            skipped_from = i if skipped_from is None else skipped_from
            continue
        if skipped_from is not None:
            last = i - 1
            out.append(f"      … {last - skipped_from + 1:,} more definitions in lines "
                       f"{defs[skipped_from].line:,}–{defs[last].line:,}")
            skipped_from = None
        if i < len(defs):
            out.append(rows[i])
    return "\n".join(out)


def _is_target(path: str, target: str, root: Path) -> bool:
    rel = relative_path(path, root)
    return rel == target


def _failing_test_sources(report: TestReport | None, test_files: dict[str, str]) -> list[str]:
    """The failure messages (pytest shows the failing lines), and each failing test's own lines."""
    if report is None:
        return []
    texts = []
    for failure in report.failures:
        texts.append(failure.message)
        source = test_files.get(failure.file or "")
        if source is None:
            continue
        test_lines = source.splitlines()
        name = failure.name.rsplit("::", 1)[-1].split("[")[0]
        start = test_definition_line(test_lines, name, language_for(failure.file or ""))
        if start is not None:
            end = next((j for j in range(start + 1, len(test_lines))
                        if test_lines[j].strip() and not test_lines[j][:1].isspace()), len(test_lines))
            texts.append("\n".join(test_lines[start:end]))
        elif failure.line:
            texts.append("\n".join(test_lines[max(0, failure.line - 20):failure.line + 2]))
    return texts


def _span_of(definition: Definition, defs: list[Definition], lines: list[str], why: str) -> Span:
    """A definition from its decorators to the line before the next definition at its level or above."""
    after = next((d.line for d in defs if d.line > definition.line and d.indent <= definition.indent), len(lines) + 1)
    end = min(after - 1, definition.line + LONGEST_DEFINITION - 1)
    while end > definition.line and not lines[end - 1].strip():
        end -= 1
    start = definition.line
    while start > 1 and lines[start - 2].strip().startswith(("@", "#[")):
        start -= 1
    return Span(start, end, why)


def _span_around(line: int, defs: list[Definition], lines: list[str], why: str) -> Span:
    """The innermost definition holding `line` when it is short, else a window of lines around it."""
    holding = [d for d in defs if d.line <= line]
    for definition in sorted(holding, key=lambda d: -d.line):
        span = _span_of(definition, defs, lines, why)
        if span.start <= line <= span.end and span.end - span.start < LONGEST_DEFINITION - 1:
            return span
        if definition.indent == 0:
            break
    return Span(max(1, line - WINDOW), min(len(lines), line + WINDOW), why)


def _within_cap(spans: list[Span], lines: list[str], cap: int) -> list[Span]:
    """The spans, in order of weight, while their text fits in `cap` characters (a window of the first one always)."""
    kept, size = [], 0
    for span in spans:
        length = sum(len(lines[i]) + 1 for i in range(span.start - 1, span.end))
        if size + length > cap:
            if not kept:  # even one long span: show its head
                kept.append(Span(span.start, min(span.end, span.start + 2 * WINDOW), span.why))
            continue
        kept.append(span)
        size += length
    return kept


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start):
        if merged and span.start <= merged[-1].end + 2:
            last = merged[-1]
            merged[-1] = Span(last.start, max(last.end, span.end), last.why)
        else:
            merged.append(span)
    return merged
