"""A test run that timed out: the code hangs, which is a bug the model is asked to fix.

On a timeout the runner first interrupts the tests (SIGINT) and then kills them, so a runner that
prints where it was stopped (pytest: `calc.py:3: KeyboardInterrupt`, a Python traceback) says where
the code hung. These pure functions find that place and word the prompt's account of the run.
"""

from __future__ import annotations

import re
from pathlib import Path

from .reports import TestReport

TIMED_OUT = "timed out"  # how runners start `infra_error` for a run that did not finish in time

_PYTEST_STOP = re.compile(r"^(?P<file>\S.*?):(?P<line>\d+): KeyboardInterrupt$", re.MULTILINE)
_TRACEBACK_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)', re.MULTILINE)


def timed_out(report: TestReport) -> bool:
    return bool(report.infra_error and report.infra_error.startswith(TIMED_OUT))


def where_stopped(output: str, root: Path | None = None) -> str | None:
    """`file:line` where the interrupted tests were running (relative to `root` when inside it), or None.

    pytest's own line wins; else the last frame of a Python traceback outside the standard library
    and site-packages.
    """
    found = [m for m in _PYTEST_STOP.finditer(output)]
    if not found:
        found = [m for m in _TRACEBACK_FRAME.finditer(output)
                 if "site-packages" not in m["file"] and "/lib/python" not in m["file"]]
    if not found:
        return None
    last = found[-1]
    return f"{_relative(last['file'], root)}:{last['line']}"


def timeout_text(report: TestReport, root: Path | None = None) -> str:
    """The prompt's lead for a run that timed out: it hung, and where, when the output shows it."""
    seconds = report.infra_error.split(":", 1)[0].removeprefix(TIMED_OUT).strip() if report.infra_error else ""
    lead = (f"The tests timed out ({seconds}) and were stopped: the code under test probably hangs "
            "(an endless loop, a wait or a recursion that never ends). Make it finish.")
    where = where_stopped(report.output, root)
    return lead + (f"\nWhen stopped, the tests were running {where}." if where else "")


def _relative(file: str, root: Path | None) -> str:
    if root is None:
        return file
    try:
        return Path(file).relative_to(root).as_posix()
    except ValueError:
        try:
            return Path(file).resolve().relative_to(Path(root).resolve()).as_posix()
        except (ValueError, OSError):
            return file
