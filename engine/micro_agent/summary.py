"""Compress what happened into text the next prompt can carry: per attempt, per tier, across tiers."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from .reports import TestFailure, TestReport

ESCALATION_CAP = 4000
TRUNCATED = "[truncated]"


@dataclass
class Attempt:
    """One finished iteration, as the prompts and summaries need it."""

    iteration: int
    change_summary: str
    status: str  # passed | failed | error
    failed_tests: list[str] = field(default_factory=list)
    error_messages: list[str] = field(default_factory=list)
    commit: str | None = None  # the candidate's commit on the run's ref

    def line(self) -> str:
        if self.status == "passed":
            return f"Iteration {self.iteration}: {self.change_summary}. Tests passed."
        errors = "; ".join(f'"{m}"' for m in self.error_messages[:3]) or "(no message)"
        verb = "Test failed" if self.status == "failed" else "Error"
        return f"Iteration {self.iteration}: {self.change_summary}. {verb}: {errors}"


def error_line(failure: TestFailure, limit: int = 300) -> str:
    """The short form of a failure: pytest's `E ` lines, else the first meaningful line."""
    lines = failure.message.splitlines()
    e_lines = [ln[1:].strip() for ln in lines if ln.startswith("E ")]
    text = " ".join(e_lines[:3]) if e_lines else next((ln.strip() for ln in lines if ln.strip()), failure.name)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def report_errors(report: TestReport) -> list[str]:
    """Unique short error messages of a test report, in order."""
    messages = [error_line(f) for f in report.failures]
    if report.infra_error:
        messages.insert(0, report.infra_error)
    return list(dict.fromkeys(messages))


def describe_change(path: str, before: str, after: str) -> str:
    """`calc.py: replaced `return a - b` with `return a + b``, or a count when the change is large."""
    if before == after:
        return f"{path}: no change"
    removed, added = [], []
    for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0):
        if line.startswith(("---", "+++", "@@")):
            continue
        (removed if line.startswith("-") else added).append(line[1:].strip())
    removed = [r for r in removed if r]
    added = [a for a in added if a]
    if len(removed) <= 2 and len(added) <= 2 and (removed or added):
        old = "; ".join(f"`{_clip(r)}`" for r in removed)
        new = "; ".join(f"`{_clip(a)}`" for a in added)
        if not old:
            return f"{path}: added {new}"
        return f"{path}: removed {old}" if not new else f"{path}: replaced {old} with {new}"
    return f"{path}: rewrote {len(removed)} line(s) into {len(added)} line(s)"


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tier_summary(mode: str, attempts: list[Attempt], ended_because: str = "") -> str:
    """The natural-language history of one tier (spec 002's naturalLanguageSummary)."""
    outcome = "all failed" if all(a.status != "passed" for a in attempts) else "not solved"
    lines = [f"{mode.upper()} MODE HISTORY ({len(attempts)} iterations, {outcome}):", ""]
    lines += [a.line() for a in attempts]
    failed = list(dict.fromkeys(t for a in attempts for t in a.failed_tests))
    errors = list(dict.fromkeys(m for a in attempts for m in a.error_messages))
    lines.append("")
    if ended_because:
        lines.append(f"Tier ended: {ended_because}")
    lines.append("Failed tests: " + (", ".join(failed) or "(none recorded)"))
    lines.append("Unique error messages:")
    lines += [f"- {m}" for m in errors] or ["- (none recorded)"]
    return "\n".join(lines)


def tier_header(number: int, name: str, iterations: int) -> str:
    return f"=== TIER {number} FAILURES: {name} ({iterations} iterations) ==="


def accumulate(sections: list[str], cap: int = ESCALATION_CAP) -> str:
    """Join per-tier sections, oldest first, into at most `cap` characters.

    The newest section is kept whole; older ones are cut from their end, oldest first, each cut
    marked with `[truncated]`.
    """
    kept = list(sections)
    for i in range(len(kept) - 1):
        excess = len("\n\n".join(kept)) - cap
        if excess <= 0:
            break
        keep = max(0, len(kept[i]) - excess - len(TRUNCATED) - 1)
        kept[i] = f"{kept[i][:keep].rstrip()}\n{TRUNCATED}" if keep else TRUNCATED
    joined = "\n\n".join(kept)
    if len(joined) > cap:  # the newest section alone is over the cap: keep its most recent part
        joined = TRUNCATED + "\n" + joined[-(cap - len(TRUNCATED) - 1):]
    return joined
