"""Alertmanager's webhook (payload version 4): which alerts start a pass on which tests.

An alert asks for a pass with the label or annotation `micro_agent_tests` (test files or node ids,
separated by spaces or commas), and may name the repository with `micro_agent_repo_path` (it must be the
one this service watches). Pure: the service records the decisions and starts the passes.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, Field, ValidationError

TESTS_KEY = "micro_agent_tests"
REPO_KEY = "micro_agent_repo_path"
_SPLIT = re.compile(r"[\s,]+")


class Alert(BaseModel):
    status: str = "firing"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    fingerprint: str = ""
    startsAt: str = ""


class Payload(BaseModel):
    version: str
    status: str = "firing"
    receiver: str = ""
    alerts: list[Alert] = Field(default_factory=list)


class Decision(BaseModel):
    """What one alert of a delivery leads to. action: start | ignored | resolved."""

    fingerprint: str
    alertname: str
    status: str
    action: str
    tests: list[str] = Field(default_factory=list)
    reason: str = ""
    labels: dict[str, str] = Field(default_factory=dict)


class PayloadProblem(ValueError):
    """Not an Alertmanager version 4 webhook; the message says what is wrong."""


def read_payload(data: object) -> Payload:
    try:
        payload = Payload.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise PayloadProblem(f"not an Alertmanager webhook: {where}: {first['msg']}") from None
    if payload.version != "4":
        raise PayloadProblem(f"Alertmanager webhook version {payload.version!r} is not supported (version 4 is)")
    return payload


def _value(alert: Alert, key: str) -> str:
    return (alert.labels.get(key) or alert.annotations.get(key) or "").strip()


def selection_problem(test: str) -> str | None:
    """Why `test` (a file or node id, relative to the repository) cannot be run; None when it can."""
    path = test.split("::", 1)[0]
    if test.startswith("-"):
        return f"{test!r} looks like an option, not a test"
    if not path or PurePosixPath(path).is_absolute() or ".." in PurePosixPath(path).parts:
        return f"{test!r} is not a path inside the repository"
    return None


def decide(alert: Alert, root: Path) -> Decision:
    fingerprint = alert.fingerprint or "|".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
    base = {"fingerprint": fingerprint, "alertname": alert.labels.get("alertname", ""), "status": alert.status,
            "labels": alert.labels}
    if alert.status == "resolved":
        return Decision(**base, action="resolved", reason="the alert is resolved")
    if alert.status != "firing":
        return Decision(**base, action="ignored", reason=f"unknown alert status {alert.status!r}")
    raw = _value(alert, TESTS_KEY)
    if not raw:
        return Decision(**base, action="ignored",
                        reason=f"no {TESTS_KEY} label or annotation: it names the tests to run and fix")
    tests = [t for t in _SPLIT.split(raw) if t]
    problems = [p for t in tests if (p := selection_problem(t))]
    if problems:
        return Decision(**base, action="ignored", tests=tests, reason=f"{TESTS_KEY}: " + "; ".join(problems))
    repo = _value(alert, REPO_KEY)
    if repo and Path(repo).expanduser().resolve() != root.resolve():
        return Decision(**base, action="ignored", tests=tests,
                        reason=f"{REPO_KEY} is {repo}, but this service watches {root}")
    return Decision(**base, action="start", tests=tests, reason="firing with a test selection")
