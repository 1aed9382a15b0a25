"""Temp git repos for eval tasks: the loop needs a project root; every task gets a fresh one."""

from __future__ import annotations

import tempfile
from pathlib import Path

from micro_agent.git import git

GIT_IDENTITY = {"GIT_AUTHOR_NAME": "micro-agent eval", "GIT_AUTHOR_EMAIL": "eval@micro-agent.invalid",
                "GIT_COMMITTER_NAME": "micro-agent eval", "GIT_COMMITTER_EMAIL": "eval@micro-agent.invalid"}


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def make_repo(files: dict[str, bytes], parent: Path | None, prefix: str) -> Path:
    """A new git repo in a temp folder under `parent`, holding `files` in one commit."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    write_files(folder, files)
    (folder / ".gitignore").write_text(".micro-agent/\ntarget/\nnode_modules/\n__pycache__/\n.pytest_cache/\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["commit", "-q", "--no-verify", "--no-gpg-sign", "-m", "eval task"]):
        git(args, folder, env=GIT_IDENTITY)
    return folder


def make_copy(files: dict[str, bytes], parent: Path | None, prefix: str) -> Path:
    """A plain temp folder holding `files` (no git): where a final file is re-checked."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    write_files(folder, files)
    return folder
