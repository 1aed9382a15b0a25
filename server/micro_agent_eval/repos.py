"""Temp git repos for eval tasks: the loop needs a project root; every task gets a fresh one."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

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
    env = {**os.environ, **GIT_IDENTITY}
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"],
                ["git", "commit", "-q", "--no-verify", "--no-gpg-sign", "-m", "eval task"]):
        subprocess.run(cmd, cwd=folder, check=True, env=env, capture_output=True)
    return folder


def make_copy(files: dict[str, bytes], parent: Path | None, prefix: str) -> Path:
    """A plain temp folder holding `files` (no git): where a final file is re-checked."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    write_files(folder, files)
    return folder
