"""One run per target file at a time: a lock file under `.micro-agent/locks/`.

A second run on a file that has one going (another CLI, the language server, autopilot) is told at
once which run holds it. A lock left by a process that died is taken over; a lock that cannot be
written at all (a read-only project) locks nothing and the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path

from .outcomes import RunStopped

LOCK_DIR = Path(".micro-agent") / "locks"


class RunInProgress(RunStopped):
    """Another live run holds the target's lock; the message names it and says what to do."""

    def __init__(self, target: str, holder: dict, lock_path: Path):
        self.holder = holder
        self.lock_path = lock_path
        super().__init__(
            f"Another Micro Agent run is fixing {target}: run {holder.get('run_id', '?')} "
            f"(pid {holder.get('pid', '?')}, started {holder.get('started_at', '?')}). One run per file at a "
            f"time: wait for it to finish, or stop it. If no run is going, delete {lock_path}.")


def lock_path(root: Path, target: str) -> Path:
    """`.micro-agent/locks/<target, readable>-<hash>.lock` under `root`."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", target)[-80:]
    digest = hashlib.sha1(target.encode("utf-8")).hexdigest()[:10]
    return Path(root) / LOCK_DIR / f"{readable}-{digest}.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # alive, but another user's
        return True
    return True


def _holder(path: Path) -> dict | None:
    """The lock's content; None when it is gone. A lock that cannot be read is held by nobody we know."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}


class RunLock:
    """`with RunLock(root, target, run_id):` holds the target's lock; RunInProgress when a live run has it."""

    def __init__(self, root: Path, target: str, run_id: str):
        self.path = lock_path(root, target)
        self.target = target
        self.run_id = run_id
        self.held = False

    def acquire(self) -> None:
        record = json.dumps({"run_id": self.run_id, "pid": os.getpid(), "target": self.target,
                             "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        for _ in range(3):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _holder(self.path)
                if holder is None:
                    continue  # released meanwhile: try again
                pid = holder.get("pid")
                if isinstance(pid, int) and not _alive(pid):
                    self._remove_if(holder)  # left by a killed run
                    continue
                raise RunInProgress(self.target, holder, self.path) from None
            except OSError:
                return  # cannot write the lock (read-only project): nothing to hold
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(record)
            self.held = True
            return
        raise RunInProgress(self.target, _holder(self.path) or {}, self.path)

    def _remove_if(self, holder: dict) -> None:
        if _holder(self.path) == holder:
            try:
                self.path.unlink()
            except OSError:
                pass

    def release(self) -> None:
        if self.held:
            self.held = False
            holder = _holder(self.path)
            if holder and holder.get("run_id") == self.run_id:
                self._remove_if(holder)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def locked_run_ids(root: Path) -> set[str]:
    """The ids of runs that hold a lock under `root` and whose process is alive."""
    ids = set()
    for path in (Path(root) / LOCK_DIR).glob("*.lock"):
        holder = _holder(path) or {}
        pid = holder.get("pid")
        if isinstance(pid, int) and _alive(pid) and holder.get("run_id"):
            ids.add(holder["run_id"])
    return ids
