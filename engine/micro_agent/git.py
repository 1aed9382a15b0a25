"""The one way Micro Agent runs git: the `git` CLI in a clean environment, no hooks, no prompts.

Every module (the workspace, refs, the judge, secrets, the audit and the autopilot face) calls git through
`git()` or `run_git()`, so the environment scrubbing and the config below hold for every call. No GitPython:
one CLI helper is the single way of calling git.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

AUTHOR_NAME = "Micro Agent"
AUTHOR_EMAIL = "micro-agent@localhost"

# Repo-location variables a parent process (a git hook, an editor) may have set: they would point git elsewhere.
_GIT_LOCATION_VARS = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR", "GIT_PREFIX", "GIT_NAMESPACE", "GIT_CEILING_DIRECTORIES",
)
# No hooks (post-checkout, reference-transaction), no fsmonitor daemon for a temp dir, no auto gc.
_GIT_CONFIG = (
    "-c", f"core.hooksPath={os.devnull}",
    "-c", "core.fsmonitor=false",
    "-c", "gc.auto=0",
    "-c", "maintenance.auto=false",
    "-c", "core.quotePath=false",
)
_NOT_FOUND = "git was not found on PATH: install git (https://git-scm.com) and try again"


class GitError(Exception):
    """A git command failed; the message carries git's own words."""


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every git call gets: the parent's, without repo-location variables, never prompting,
    never taking optional locks (`git status` must not rewrite the user's index), literal pathspecs, and
    Micro Agent as author and committer. `extra` (e.g. a private GIT_INDEX_FILE) is added last."""
    env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARS}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_OPTIONAL_LOCKS="0",
        GIT_LITERAL_PATHSPECS="1",
        GIT_AUTHOR_NAME=AUTHOR_NAME,
        GIT_AUTHOR_EMAIL=AUTHOR_EMAIL,
        GIT_COMMITTER_NAME=AUTHOR_NAME,
        GIT_COMMITTER_EMAIL=AUTHOR_EMAIL,
    )
    env.update(extra or {})
    return env


def run_git(args: list[str], cwd: Path, *, stdin: bytes | None = None, env: dict[str, str] | None = None,
            timeout: float | None = None, error: type[Exception] = GitError) -> subprocess.CompletedProcess[bytes]:
    """`git <args>` in `cwd`, whatever its exit status (the caller reads `returncode`)."""
    try:
        return subprocess.run(["git", *_GIT_CONFIG, *args], cwd=cwd, input=stdin, capture_output=True,
                              env=git_env(env), timeout=timeout)
    except FileNotFoundError as exc:
        raise error(_NOT_FOUND) from exc
    except subprocess.TimeoutExpired:
        raise error(f"`git {' '.join(args)}` took more than {timeout:g} s in {cwd}") from None


def git(args: list[str], cwd: Path, *, stdin: bytes | None = None, check: bool = True,
        env: dict[str, str] | None = None, timeout: float | None = None, error: type[Exception] = GitError) -> str:
    """Run `git <args>` in `cwd` and return its stdout; `error` (GitError unless the caller names its own,
    e.g. WorkspaceError) with git's stderr when it fails and `check` is set."""
    done = run_git(args, cwd, stdin=stdin, env=env, timeout=timeout, error=error)
    if check and done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace").strip()
        raise error(f"`git {' '.join(args)}` failed in {cwd}: {stderr or f'exit status {done.returncode}'}")
    return done.stdout.decode("utf-8", "surrogateescape")
