"""Helpers for the tests that kill micro-agent mid-run and look for what survived (Linux: reads /proc)."""

from __future__ import annotations

from pathlib import Path

# A candidate whose tests hang: the test process and a grandchild write their pids, then sleep.
CALC_SLEEPS = '''import os
import subprocess
import time


def add(a, b):
    child = subprocess.Popen(["sleep", "300"])
    with open(os.environ["PIDS_FILE"], "w") as pids:
        pids.write(f"{os.getpid()} {child.pid}\\n")
    time.sleep(300)


def mul(a, b):
    return a * b
'''


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (in a container, pid 1 may never reap what it inherits)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def read_pids(path: Path) -> list[int] | None:
    """The pids a sleeping candidate wrote (None until the whole line is there)."""
    try:
        text = path.read_text()
    except OSError:
        return None
    return [int(p) for p in text.split()] if text.endswith("\n") else None
