"""What a proposed fix says about itself (commit message, pull-request body) and whether policy lets it out.

Pure functions over the engine's report and the failures that started the job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from micro_agent.autopilot_config import AutopilotPolicy
from micro_agent.blame import first_error_line
from micro_agent.events import Escalated, IterationFinished
from micro_agent.reports import RunReport

LABEL = "micro-agent"


@dataclass
class Failing:
    """A failing test as the job recorded it: its name and the line that says what went wrong."""

    name: str
    error: str


@dataclass
class Evidence:
    """What the engine's events told us about the run: its attempts and what each tier concluded."""

    attempts: list[IterationFinished]
    escalations: list[Escalated]
    start_note: str = ""  # why the chain started where it did (`learn`)


def changed_lines(diff: str) -> int:
    """Lines added plus lines removed in a unified diff."""
    return sum(1 for line in diff.splitlines()
               if (line.startswith("+") and not line.startswith("+++"))
               or (line.startswith("-") and not line.startswith("---")))


def glob_regex(pattern: str) -> re.Pattern[str]:
    """`src/**` matches everything under src/; `*` stays inside one folder; `?` is one character."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def policy_refusal(policy: AutopilotPolicy, changed_files: list[str], diff: str) -> str | None:
    """Why this fix must not be proposed, or None when policy allows it."""
    lines = changed_lines(diff)
    if lines > policy.max_changed_lines:
        return f"the fix changes {lines} lines, more than policy.maxChangedLines ({policy.max_changed_lines})"
    patterns = [glob_regex(p) for p in policy.allowed_paths]
    outside = [f for f in changed_files if not any(p.match(f) for p in patterns)]
    if outside:
        return (f"the fix touches {', '.join(outside)}, outside policy.allowedPaths "
                f"({', '.join(policy.allowed_paths)})")
    return None


def failing_from(tests: list[str], errors: list[str]) -> list[Failing]:
    return [Failing(name, first_error_line(error)) for name, error in zip(tests, errors, strict=False)]


def _solver(report: RunReport) -> tuple[str, str]:
    tier = next((t for t in report.tiers if t.solved), None)
    if tier is None:
        return "?", "?"
    return f"{tier.name} ({tier.mode} mode)", tier.models.get("artisan", "?")


def _diffstat(report: RunReport) -> list[str]:
    stats: dict[str, list[int]] = {}
    current = None
    for line in report.diff.splitlines():
        if line.startswith("+++ b/"):
            current = line[6:]
            stats.setdefault(current, [0, 0])
        elif current and line.startswith("+") and not line.startswith("+++"):
            stats[current][0] += 1
        elif current and line.startswith("-") and not line.startswith("---"):
            stats[current][1] += 1
    return [f"{path} (+{added} -{removed})" for path, (added, removed) in stats.items()] or list(report.changed_files)


def commit_message(target: str, failing: list[Failing], report: RunReport, evidence: Evidence) -> str:
    tier, model = _solver(report)
    passing_change = next((a.change_summary for a in reversed(evidence.attempts) if a.test_status == "passed"), "")
    lines = [f"micro-agent: fix {target} ({len(failing)} failing test{'s' if len(failing) != 1 else ''})", "",
             "What failed:"]
    lines += [f"  - {f.name}: {f.error}" if f.error else f"  - {f.name}" for f in failing]
    lines += ["", "What the analysis found:"]
    if evidence.start_note:
        lines.append(f"  {evidence.start_note}")
    if evidence.escalations:
        lines += [f"  {e.from_tier} → {e.to_tier}: {e.reason}" for e in evidence.escalations]
    if notes := next((a.librarian_notes for a in reversed(evidence.attempts) if a.librarian_notes), ""):
        shown = notes if len(notes) <= 1200 else notes[:1200] + " …"
        lines.append("  The librarian's analysis (full mode):")
        lines += [f"    {line}" for line in shown.strip().splitlines()]
    tried = len(evidence.attempts)
    lines.append(f"  {tried} attempt{'s' if tried != 1 else ''}; solved by {tier}.")
    lines += ["", "What changed:"]
    lines += [f"  {entry}" for entry in _diffstat(report)]
    if passing_change:
        lines.append(f"  {passing_change}")
    lines += ["", "Tests now passing:"]
    lines += [f"  - {f.name}" for f in failing]
    lines += ["", f"Solved by: tier {tier}, model {model}, cost ${report.total_cost_usd:.4f}, "
              f"{report.total_iterations} iteration{'s' if report.total_iterations != 1 else ''}",
              f"Audit run: {report.run_id} (micro-agent audit show {report.run_id[:8]})", ""]
    return "\n".join(lines)


def attempts_table(evidence: Evidence) -> str:
    rows = ["| # | tier | model | change | tests | cost |", "|---|---|---|---|---|---|"]
    for n, a in enumerate(evidence.attempts, start=1):
        change = a.change_summary.replace("|", "\\|")
        rows.append(f"| {n} | {a.tier_name} | `{a.model}` | {change} | {a.test_status} | ${a.cost_usd:.4f} |")
    return "\n".join(rows)


def pull_request(target: str, failing: list[Failing], report: RunReport, evidence: Evidence,
                 message: str) -> tuple[str, str]:
    """(title, body in Markdown): the commit message, the attempts table and the diff."""
    title = message.splitlines()[0]
    body = "\n".join([
        "Micro Agent found failing tests on the base branch and proposes this fix. Review it like any other change.",
        "", "```text", message.strip(), "```", "", "### Attempts", "", attempts_table(evidence), "",
        "<details><summary>Diff</summary>", "", "```diff", report.diff.strip(), "```", "", "</details>", "",
        f"Undo: `micro-agent undo {report.run_id[:8]}` closes this pull request (or reverts it once merged).",
    ])
    return title, body
