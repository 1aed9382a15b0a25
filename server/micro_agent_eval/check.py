"""The sanity check of a suite: each task's tests fail on its buggy target and pass on its reference."""

from __future__ import annotations

from pathlib import Path

from .results import CheckResult
from .suite import Task
from .taskrun import recheck


def check_task(task: Task, timeout_s: float, work_dir: Path | None = None) -> CheckResult:
    files = task.files()
    target = files[task.spec.target]
    buggy = recheck(task, files, target, timeout_s, work_dir)
    details = []
    if buggy.passed:
        details.append("the tests already pass on the target: nothing to fix")
    elif buggy.infra_error:
        details.append(f"the tests cannot run on the target: {buggy.infra_error}")
    passes: bool | None = None
    if task.spec.reference:
        reference = recheck(task, files, (task.folder / task.spec.reference).read_bytes(), timeout_s, work_dir)
        passes = reference.passed
        if not passes:
            first = reference.infra_error or (reference.failures[0].name + ": " + reference.failures[0].message
                                              if reference.failures else "tests failed")
            details.append(f"the tests fail on the reference: {first.splitlines()[0][:300] if first else ''}")
    return CheckResult(task=task.name, fails_on_target=not buggy.passed and not buggy.infra_error,
                       passes_on_reference=passes, detail="; ".join(details))
