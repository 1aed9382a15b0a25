"""`micro-agent undo RUN_ID`: take back a fix.

- A fix `micro-agent run` wrote into the user's files: the file gets its content from before the run,
  unless it changed since (then nothing is written and the reason is given).
- A fix the autopilot proposed on a branch: not merged yet → the pull request is closed and the pushed
  branch deleted; merged into the base → a revert commit on a new branch, pushed and proposed.
Every undo, done or refused, is a row in the audit database.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from micro_agent import audit
from micro_agent import autopilot_db as db
from micro_agent.commits import parse_candidate

from . import gitops
from .forge import ForgeError
from .settings import Settings



@dataclass
class UndoResult:
    run_id: str
    kind: str  # applied | branch
    outcome: str  # reverted | refused
    message: str
    branch: str | None = None
    pr_url: str | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.outcome == "reverted" else 1


class UndoUsage(Exception):
    """No such run, or one that cannot be undone at all; the message says what to do."""


def undo(settings: Settings, run_id_prefix: str) -> UndoResult:
    conn = db.connect(settings.db_path)
    try:
        proposal = db.proposal_for_run(conn, run_id_prefix)
        if proposal is not None:
            result = _undo_branch(settings, conn, proposal)
        else:
            try:
                run = audit.get_run(conn, run_id_prefix)
            except audit.AmbiguousRunId as exc:
                raise UndoUsage(f"{exc}; give more characters of the run id") from None
            if run is None:
                raise UndoUsage(f"no run {run_id_prefix!r} in {settings.db_path}; `micro-agent audit runs` lists them")
            result = _undo_applied(settings, run)
        db.add_undo(conn, result.run_id, result.kind, result.outcome, result.message, result.branch, result.pr_url)
        return result
    finally:
        conn.close()


# ---------------------------------------------------------------- a fix written into the user's files


def _undo_applied(settings: Settings, run: dict) -> UndoResult:
    run_id = run["run_id"]

    def refused(why: str) -> UndoResult:
        return UndoResult(run_id, "applied", "refused", why)

    if run["outcome"] != "success":
        return refused(f"run {run_id[:8]} did not succeed ({run['outcome']}), so it changed no file: nothing to undo")
    root = Path(run["root"] or settings.root)
    repo = gitops.repo_top(root)
    ref = f"refs/micro-agent/{run_id}"
    log = gitops.git(repo, "log", "--format=%H %P%x00%s", ref, check=False)
    if not log.strip():
        return refused(f"the run's commits ({ref}) are gone from {repo}, so its fix cannot be told apart; "
                       "restore the file from git by hand")
    commits = [line.split("\0", 1) for line in log.strip().splitlines()]
    candidates = [(ids.split(), subject) for ids, subject in commits if parse_candidate(subject)]
    if not candidates:
        return refused(f"{ref} holds no candidate of run {run_id[:8]}: nothing to undo")
    tip = candidates[0][0][0]
    seed = candidates[-1][0][1] if len(candidates[-1][0]) > 1 else None
    prefix = root.resolve().relative_to(repo).as_posix()
    path_in_repo = run["target"] if prefix in ("", ".") else f"{prefix}/{run['target']}"
    after = gitops.file_at(repo, tip, path_in_repo)
    before = gitops.file_at(repo, seed, path_in_repo) if seed else None
    on_disk_path = root / run["target"]
    on_disk = on_disk_path.read_bytes() if on_disk_path.is_file() else None
    if on_disk == before:
        return refused(f"{run['target']} already has its content from before run {run_id[:8]}: nothing to undo")
    if on_disk != after:
        return refused(f"{run['target']} changed since run {run_id[:8]} wrote its fix; nothing was written. "
                       f"Compare by hand: git diff {tip[:10]} -- {path_in_repo}")
    if before is None:
        on_disk_path.unlink()
    else:
        on_disk_path.write_bytes(before)
    return UndoResult(run_id, "applied", "reverted",
                      f"{run['target']} has its content from before run {run_id[:8]} again")


# ---------------------------------------------------------------- a fix proposed on a branch


def _undo_branch(settings: Settings, conn, proposal: dict) -> UndoResult:
    run_id, branch, commit = proposal["run_id"], proposal["branch"], proposal["commit_sha"]
    cfg = settings.autopilot
    if proposal["state"] == "refused":
        return UndoResult(run_id, "branch", "refused",
                          f"the fix of run {run_id[:8]} was never proposed (policy: {proposal['reason']}): nothing to undo")
    if proposal["state"] == "reverted":
        return UndoResult(run_id, "branch", "refused", f"the fix of run {run_id[:8]} was already undone")
    base_sha, _ref, _warnings = gitops.resolve_base(settings.root, cfg.base, cfg.remote)
    try:
        if gitops.is_ancestor(settings.root, commit, base_sha):
            result = _revert_merged(settings, proposal, base_sha)
        else:
            result = _withdraw(settings, proposal)
    except (gitops.GitError, ForgeError) as exc:
        return UndoResult(run_id, "branch", "refused", f"could not undo the fix on {branch}: {exc}")
    if result.outcome == "reverted":
        db.update_proposal(conn, proposal["id"], state="reverted", reason=result.message)
    return result


def _withdraw(settings: Settings, proposal: dict) -> UndoResult:
    """Not merged: close the pull request and delete the pushed branch (the local branch and ref stay)."""
    cfg, branch = settings.autopilot, proposal["branch"]
    done = [f"branch {branch} withdrawn (kept locally)"]
    if settings.forge is not None and proposal["pr_number"]:
        settings.forge.close(int(proposal["pr_number"]),
                             f"Withdrawn with `micro-agent undo {proposal['run_id'][:8]}`.")
        done.append(f"pull request {proposal['pr_url']} closed")
    if cfg.remote:
        gitops.git(settings.root, "push", "--quiet", cfg.remote, "--delete", branch, check=False)
    return UndoResult(proposal["run_id"], "branch", "reverted", "; ".join(done), branch, proposal["pr_url"])


def _revert_merged(settings: Settings, proposal: dict, base_sha: str) -> UndoResult:
    """Merged: a revert commit on a new branch from the base head, proposed like a fix."""
    repo, cfg, commit, run_id = settings.root, settings.autopilot, proposal["commit_sha"], proposal["run_id"]
    paths = [p for p in gitops.git(repo, "diff-tree", "--no-commit-id", "--name-only", "-r", f"{commit}^",
                                   commit).splitlines() if p]
    changed_since = [p for p in paths if gitops.file_at(repo, base_sha, p) != gitops.file_at(repo, commit, p)]
    if changed_since:
        return UndoResult(run_id, "branch", "refused",
                          f"{', '.join(changed_since)} changed on {cfg.base} since the fix was merged; "
                          f"revert it by hand: git revert {commit[:10]}")
    files = {p: gitops.file_at(repo, f"{commit}^", p) for p in paths}
    message = (f"Revert the micro-agent fix of {proposal['target']}\n\nThis reverts commit {commit} "
               f"(audit run {run_id}), on request: micro-agent undo {run_id[:8]}.\n")
    revert = gitops.commit_files(repo, base_sha, files, message)
    branch = f"{cfg.branch_prefix}revert-{gitops.slug(proposal['target'])}-{run_id[:8]}"
    gitops.create_branch(repo, branch, revert)
    pr_url = None
    if cfg.remote:
        gitops.push(repo, cfg.remote, branch)
        if settings.forge is not None:
            pr_url = settings.forge.open(branch, cfg.base, message.splitlines()[0], message).url
    return UndoResult(run_id, "branch", "reverted", f"revert proposed on {branch}" + (f" as {pr_url}" if pr_url else ""),
                      branch, pr_url)
