"""The user's tests are the judge, and only they.

A candidate's test run counts only when it left every file but the target as the user has it (a
candidate that rewrites a test, a fixture or conftest.py while its tests run gets no verdict), and a
candidate that passed is confirmed once more in a pristine copy of the project (the seed plus the
target, nothing a previous run left behind) before the loop calls it solved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from .reports import TestFailure, TestReport
from .workspace import Workspace

TAMPERED = "<tampered>"
NOT_CONFIRMED = "<not confirmed>"
_SHOWN_PATHS = 3


def _names(paths: list[str]) -> str:
    shown = ", ".join(paths[:_SHOWN_PATHS])
    return shown + (f" and {len(paths) - _SHOWN_PATHS} more" if len(paths) > _SHOWN_PATHS else "")


def tampered(report: TestReport, stray: list[str], target: str) -> TestReport:
    """`report` turned into a failure: the candidate's test run changed `stray` (paths other than the target's
    content as written, or the target itself)."""
    what = "rewrote itself" if stray == [target] else f"changed {_names(stray)}"
    message = (f"the candidate {what} while its tests ran, so this test run does not count: only {target} may "
               f"change, and only through your reply. Every file was put back; fix {target} without writing files.")
    failure = TestFailure(name=TAMPERED, message=message)
    return report.model_copy(update={"passed": False, "failures": [failure, *report.failures]})


def not_confirmed(pristine: TestReport) -> TestReport:
    """A candidate that passed in the run's working copy but not in a pristine copy of the project."""
    why = pristine.infra_error or "; ".join(f.name for f in pristine.failures[:3]) or f"exit {pristine.exit_code}"
    failure = TestFailure(name=NOT_CONFIRMED, message=(
        f"the tests passed in the run's working copy but failed in a fresh copy of the project ({why}): "
        "the fix must not depend on files a test run leaves behind or on running twice."))
    return pristine.model_copy(update={"passed": False, "infra_error": None,
                                       "failures": [failure, *pristine.failures]})


def judge_candidate(ws: Workspace, report: TestReport, target: str, allowed: Iterable[str],
                    rerun: Callable[[Path], TestReport]) -> TestReport:
    """The verdict on the candidate whose tests just ran in `ws` (as `report`).

    `allowed`: paths the user's own code changes when its tests run (seen on the initial run); they do not
    count as tampering. `rerun(path)` runs the test command in `path`, for the pristine confirmation.
    """
    allowed = set(allowed)
    stray = [path for path in ws.stray_changes() if path not in allowed]
    if stray:
        return tampered(report, stray, target)
    if not report.passed:
        return report
    with ws.pristine() as copy:
        confirmed = rerun(copy.path)
        stray = [path for path in copy.stray_changes() if path not in allowed]
    if stray:
        return tampered(confirmed, stray, target)
    return report if confirmed.passed else not_confirmed(confirmed)
