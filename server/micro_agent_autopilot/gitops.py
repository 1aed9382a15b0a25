"""Git without touching the user's checkout: a detached worktree per pass, commits built with a private index.

Nothing here moves HEAD, writes the user's index or checks out a branch. Branches are created with
`update-ref` from commits made with `commit-tree` on an index file of our own.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from micro_agent import git as git_cli
from micro_agent.git import GitError
from micro_agent.workspace import LINKED_DIRS, TEMP_PREFIX

_SLUG = re.compile(r"[^A-Za-z0-9]+")
_TIMEOUT = 300  # seconds one git command of the autopilot may take (a fetch or push over the network)


def git(repo: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None,
        check: bool = True) -> str:
    """`git <args>` in `repo` through the engine's one git helper, with the autopilot's time limit."""
    return git_cli.git(list(args), repo, stdin=stdin, env=env, check=check, timeout=_TIMEOUT)


def repo_top(path: Path) -> Path:
    try:
        return Path(git(path, "rev-parse", "--show-toplevel").strip()).resolve()
    except GitError:
        raise GitError(f"{path} is not inside a git repository: the autopilot works on a git project "
                       "(run `git init` and commit your code first)") from None


def slug(text: str, limit: int = 40) -> str:
    """`src/calc.py` → `src-calc-py`: safe in a branch name."""
    return _SLUG.sub("-", text).strip("-").lower()[:limit].strip("-") or "fix"


def resolve_base(repo: Path, base: str, remote: str | None) -> tuple[str, str, list[str]]:
    """(commit sha, the ref it came from, warnings). With a remote: fetch it first and use `remote/base`."""
    warnings: list[str] = []
    if remote:
        git(repo, "fetch", "--quiet", remote, f"+refs/heads/{base}:refs/remotes/{remote}/{base}", check=False)
        ref = f"refs/remotes/{remote}/{base}"
        sha = git(repo, "rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False).strip()
        if sha:
            return sha, ref, warnings
        warnings.append(f"could not fetch {base} from {remote}; using the local branch {base}")
    ref = f"refs/heads/{base}"
    sha = git(repo, "rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False).strip()
    if not sha:
        raise GitError(f"the base branch {base!r} does not exist in {repo}: set `autopilot.base` in "
                       "micro-agent.yml to the branch fixes are proposed against")
    return sha, ref, warnings


_WORKTREES = threading.Lock()  # one `git worktree` change at a time in this process (passes and jobs run on threads)


@contextmanager
def pass_worktree(repo: Path, commit: str) -> Iterator[Path]:
    """A detached worktree of `commit`, removed afterwards. Named like the engine's, so a killed process's
    worktree is pruned by the next run."""
    path = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-pass-")).resolve()
    try:
        with _WORKTREES:  # git's worktree bookkeeping is not safe against a concurrent add and prune
            git(repo, "worktree", "add", "--quiet", "--detach", str(path), commit)
        for name in LINKED_DIRS:  # the project's virtualenv / node_modules: the suite needs them
            if (repo / name).is_dir() and not (path / name).exists():
                try:
                    (path / name).symlink_to(repo / name, target_is_directory=True)
                except OSError:
                    pass
        yield path
    finally:
        with _WORKTREES:
            git(repo, "worktree", "remove", "--force", "--force", str(path), check=False)
            shutil.rmtree(path, ignore_errors=True)
            git(repo, "worktree", "prune", check=False)


def file_at(repo: Path, commit: str, rel: str) -> bytes | None:
    done = git_cli.run_git(["cat-file", "blob", f"{commit}:{rel}"], repo, timeout=_TIMEOUT)
    return done.stdout if done.returncode == 0 else None


def commit_files(repo: Path, parent: str, files: dict[str, bytes | None], message: str) -> str:
    """A commit on `parent` with `files` (rel path → content, None: deleted), made with a private index."""
    with tempfile.TemporaryDirectory(prefix="micro-agent-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(repo, "read-tree", parent, env=env)
        for rel, content in sorted(files.items()):
            if content is None:
                git(repo, "update-index", "--force-remove", "--", rel, env=env)
                continue
            blob = git(repo, "hash-object", "-w", "--stdin", stdin=content).strip()
            listed = git(repo, "ls-tree", parent, "--", rel).split()
            mode = listed[0] if listed and listed[0] in ("100644", "100755") else "100644"
            git(repo, "update-index", "--add", "--cacheinfo", f"{mode},{blob},{rel}", env=env)
        tree = git(repo, "write-tree", env=env).strip()
    return git(repo, "commit-tree", "--no-gpg-sign", tree, "-p", parent, "-F", "-",
               stdin=message.encode("utf-8")).strip()


def create_branch(repo: Path, branch: str, commit: str) -> None:
    """Create `refs/heads/<branch>` at `commit`; an existing branch at the same commit is fine."""
    ref = f"refs/heads/{branch}"
    current = git(repo, "rev-parse", "-q", "--verify", ref, check=False).strip()
    if current == commit:
        return
    if current:
        raise GitError(f"the branch {branch} already exists at another commit; delete it or change branchPrefix")
    git(repo, "update-ref", "-m", "micro-agent autopilot: proposal", ref, commit, "")


def push(repo: Path, remote: str, branch: str) -> None:
    git(repo, "push", "--quiet", remote, f"refs/heads/{branch}:refs/heads/{branch}")


def is_ancestor(repo: Path, commit: str, of: str) -> bool:
    return git_cli.run_git(["merge-base", "--is-ancestor", commit, of], repo, timeout=_TIMEOUT).returncode == 0
