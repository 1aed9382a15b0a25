"""Every prompt is built fresh from state each iteration: never a growing chat."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .excerpts import big_file_view
from .hangs import timed_out, timeout_text
from .languages import inline_tests_marker, label_and_fence
from .reports import TestReport
from .runners import runner_name
from .summary import Attempt

FAILURES_CAP = 6000  # characters of failing-test text per prompt
FILE_CAP = 60_000  # characters of one file shown in full


def language(path: str) -> tuple[str, str]:
    """(language name, fence tag) for a file, from the languages registry."""
    return label_and_fence(path)


@dataclass
class PromptState:
    """What one iteration knows. Built anew from the run's state every iteration."""

    root: Path  # where the test command runs: names its runner
    objective: str
    target: str
    target_content: str
    test_command: str
    test_files: dict[str, str]  # path -> content
    last_report: TestReport | None
    attempts: list[Attempt] = field(default_factory=list)  # earlier attempts in this tier
    escalation_context: str = ""
    critic_notes: str = ""
    librarian_notes: str = ""
    context_files: dict[str, str] = field(default_factory=dict)  # chosen by the librarian


def tests_line(s: PromptState) -> str:
    """`Language: TypeScript. Tests run with: `npm test` (vitest)` — the runner named when it is known."""
    runner = runner_name(s.test_command, s.root)
    named = f" ({runner})" if runner != "command" and runner not in s.test_command.split() else ""
    return f"Language: {language(s.target)[0]}. Tests run with: `{s.test_command}`{named}"


def test_file_sections(s: PromptState) -> list[str]:
    """The test files, except the target itself (a source file with tests inside, like Rust's `#[cfg(test)]`)."""
    return [f"## Test file: {path}\n{fenced(path, text)}" for path, text in s.test_files.items() if path != s.target]


def in_file_tests_note(s: PromptState) -> list[str]:
    marker = inline_tests_marker(s.target, s.target_content)
    if not marker:
        return []
    return [f"{s.target} holds tests of its own (its `{marker}` module): keep them exactly as they are."]


def is_big(s: PromptState) -> bool:
    """The target is too large to show whole: the prompts show excerpts and ask for SEARCH/REPLACE blocks."""
    return len(s.target_content) > FILE_CAP


def target_section(s: PromptState) -> str:
    """The file to fix: whole, or (larger than FILE_CAP) the code the failures point at and an outline."""
    if not is_big(s):
        return f"## File to fix: {s.target}\n{fenced(s.target, s.target_content)}"
    lines = len(s.target_content.splitlines())
    view = big_file_view(s.target, s.target_content, s.last_report, s.test_files, s.root, tag=language(s.target)[1])
    return (f"## File to fix: {s.target} ({lines:,} lines, {len(s.target_content):,} characters: too large to show "
            f"whole)\nShown: the code the failing tests point at, then an outline of the rest. It is "
            f"changed with SEARCH/REPLACE blocks whose SEARCH lines are copied exactly from these excerpts.\n\n"
            f"{view}")


def fenced(path: str, content: str, cap: int = FILE_CAP) -> str:
    tag = language(path)[1]
    if len(content) > cap:
        content = content[:cap] + f"\n… [{len(content) - cap} more characters not shown]\n"
    fence = "````" if "```" in content else "```"
    return f"{fence}{tag} path={path}\n{content.rstrip()}\n{fence}"


def failures_text(report: TestReport | None, cap: int = FAILURES_CAP, root: Path | None = None) -> str:
    """The failing tests with their messages, indentation intact, truncated evenly when long."""
    if report is None:
        return "(the tests have not run yet)"
    if timed_out(report):
        return f"{timeout_text(report, root)}\n\n{_tail(report.output, cap)}"
    if report.infra_error and not report.failures:
        return f"The test command could not run the tests: {report.infra_error}\n\n{_tail(report.output, cap)}"
    if not report.failures:
        return _tail(report.output, cap) or "(the test command failed without output)"
    share = max(400, cap // len(report.failures))
    parts = []
    for failure in report.failures[:20]:
        where = f" ({failure.file}:{failure.line})" if failure.file and failure.line else ""
        parts.append(f"--- {failure.name}{where}\n{_head(failure.message, share)}")
    if len(report.failures) > 20:
        parts.append(f"… and {len(report.failures) - 20} more failing tests")
    return "\n\n".join(parts)


def _head(text: str, cap: int) -> str:
    return text if len(text) <= cap else text[:cap] + "\n… [truncated]"


def _tail(text: str, cap: int) -> str:
    return text if len(text) <= cap else "[truncated] …\n" + text[-cap:]


BIG_FILE_SYSTEM = """You are the artisan of Micro Agent, a test-driven coding loop. You change source code so \
that its tests pass. Never weaken or edit the tests. {target} is too large to repeat: you see excerpts of it. \
Reply with one or more SEARCH/REPLACE blocks that change {target}, never with the whole file:
<<<<<<< SEARCH
exact lines copied from an excerpt of {target}, enough of them to match one place
=======
replacement lines
>>>>>>> REPLACE
Keep the explanation to one or two sentences before the blocks."""

ARTISAN_SYSTEM = """You are the artisan of Micro Agent, a test-driven coding loop. You change source code so \
that its tests pass. Never weaken or edit the tests. Reply with the complete new content of {target} in a \
single fenced code block (```{tag} path={target}). For a very large file you may instead reply with one or \
more SEARCH/REPLACE blocks:
<<<<<<< SEARCH
exact lines from the current file
=======
replacement lines
>>>>>>> REPLACE
Keep the explanation to one or two sentences before the code."""


def artisan_messages(s: PromptState) -> list[dict[str, str]]:
    tag = language(s.target)[1]
    parts = [f"Objective: {s.objective}", tests_line(s), target_section(s), *in_file_tests_note(s)]
    parts += test_file_sections(s)
    parts += [f"## Related file (read only): {path}\n{fenced(path, text)}" for path, text in s.context_files.items()]
    parts.append(f"## Failing tests\n{failures_text(s.last_report, root=s.root)}")
    if s.attempts:
        parts.append("## Earlier attempts in this run (do not repeat them)\n" + "\n".join(a.line() for a in s.attempts))
    if s.escalation_context:
        parts.append(f"## What earlier tiers tried and why it failed\n{s.escalation_context}")
    if s.librarian_notes:
        parts.append(f"## Notes from the librarian\n{s.librarian_notes}")
    if s.critic_notes:
        parts.append(f"## Review of the previous attempt\n{s.critic_notes}")
    if is_big(s):
        parts.append(f"Reply with SEARCH/REPLACE blocks that fix {s.target}.")
    else:
        parts.append(f"Reply with the whole corrected {s.target}.")
    system = BIG_FILE_SYSTEM if is_big(s) else ARTISAN_SYSTEM
    return [{"role": "system", "content": system.format(target=s.target, tag=tag)},
            {"role": "user", "content": "\n\n".join(parts)}]


LIBRARIAN_SYSTEM = """You are the librarian of Micro Agent, a test-driven coding loop. Before the artisan \
writes code, you study the failing tests, the code around the file to fix, and what earlier attempts \
tried. Reply with:
ANALYSIS: a few sentences on the likely root cause and what not to try again.
FILES: the paths of the related files the artisan should read, one per line (only paths listed below)."""


def librarian_messages(s: PromptState, candidates: dict[str, str]) -> list[dict[str, str]]:
    parts = [f"Objective: {s.objective}", tests_line(s), target_section(s), *in_file_tests_note(s)]
    parts += test_file_sections(s)
    parts += [f"## Candidate related file: {path}\n{fenced(path, text, cap=8000)}" for path, text in candidates.items()]
    parts.append(f"## Failing tests\n{failures_text(s.last_report, root=s.root)}")
    if s.attempts:
        parts.append("## Earlier attempts in this tier\n" + "\n".join(a.line() for a in s.attempts))
    if s.escalation_context:
        parts.append(f"## Failure history handed over from earlier tiers\n{s.escalation_context}")
    if s.critic_notes:
        parts.append(f"## Review of the previous attempt\n{s.critic_notes}")
    return [{"role": "system", "content": LIBRARIAN_SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


CRITIC_SYSTEM = """You are the critic of Micro Agent, a test-driven coding loop. Review the artisan's \
candidate change against the tests. Point out bugs, missed cases and anything that will still fail, in at \
most ten short lines. The tests decide; your notes guide the next attempt."""


def critic_messages(s: PromptState, diff: str) -> list[dict[str, str]]:
    parts = [f"Objective: {s.objective}", tests_line(s), *in_file_tests_note(s),
             f"## Candidate change to {s.target}\n```diff\n{_head(diff, FILE_CAP)}\n```"]
    parts += test_file_sections(s)
    parts.append(f"## Failures before this change\n{failures_text(s.last_report, root=s.root)}")
    return [{"role": "system", "content": CRITIC_SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def librarian_choice(reply: str, candidates: list[str]) -> tuple[str, list[str]]:
    """(analysis notes, chosen files) from the librarian's reply; unknown paths are ignored."""
    chosen = [c for c in candidates if c in reply]
    notes = reply.split("FILES:")[0].replace("ANALYSIS:", "").strip()
    return notes[:4000], chosen
