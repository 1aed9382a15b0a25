"""The runs' git refs, `refs/micro-agent/<run_id>`: list them, prune those of old runs, say where a fix is kept.

A run keeps its candidates on its ref so `micro-agent audit show` can print their diffs and an unapplied
fix is not lost. A run that committed no candidate leaves no ref (see workspace.py); the refs of old runs
are removed by `micro-agent audit prune`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from .reports import RunReport
from .git import git
from .workspace import REF_PREFIX, prune_stale


@dataclass(frozen=True)
class RunRef:
    name: str  # refs/micro-agent/<run_id>
    run_id: str
    committed_at: float  # unix time of the ref's newest commit


def run_refs(repo: Path) -> list[RunRef]:
    """Every run ref of `repo`, oldest first."""
    listing = git(["for-each-ref", "--format=%(refname)%00%(committerdate:unix)", REF_PREFIX], repo)
    refs = []
    for line in listing.splitlines():
        name, _, when = line.partition("\0")
        if name.startswith(REF_PREFIX):
            refs.append(RunRef(name, name[len(REF_PREFIX):], float(when or 0)))
    return sorted(refs, key=lambda ref: ref.committed_at)


def prune_refs(repo: Path, older_than_days: float, keep: set[str] = frozenset(), *, dry_run: bool = False,
               now: float | None = None) -> tuple[list[RunRef], list[RunRef]]:
    """Remove the refs whose newest commit is older than `older_than_days` (runs in `keep`, e.g. the ones
    going on now, stay), and the worktrees killed runs left. Returns (removed, kept)."""
    cutoff = (time.time() if now is None else now) - older_than_days * 86400
    removed, kept = [], []
    for ref in run_refs(repo):
        (removed if ref.committed_at <= cutoff and ref.run_id not in keep else kept).append(ref)
    if not dry_run:
        for ref in removed:
            git(["update-ref", "-d", ref.name], repo)
        prune_stale(repo)
    return removed, kept


def keep_patch(root: Path, run_id: str, diff: str) -> str | None:
    """Keep an unapplied fix of a project without git as `.micro-agent/fixes/<run_id>.diff`; its path, or None."""
    path = root / ".micro-agent" / "fixes" / f"{run_id}.diff"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(diff, encoding="utf-8")
    except OSError:
        return None
    return str(path)


def kept_message(report: RunReport) -> str:
    """Where an unapplied fix is kept, and how to look at it."""
    if report.kept_at and report.kept_at.startswith("refs/"):
        return (f"The fix is kept on {report.kept_at}: see it with `git show {report.kept_at}:./{report.target}` "
                f"or `micro-agent audit show {report.run_id[:8]}`.")
    if report.kept_at:
        return f"The fix is kept in {report.kept_at} (apply it with `git apply` or `patch -p1`)."
    return "The fix is in the report's diff (--json) only."
