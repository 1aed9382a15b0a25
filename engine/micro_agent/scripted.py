"""In-process stand-ins for the engine's seams: a model that answers from a script, tests that judge by a rule.

For fast tests of the loop (tests/unit/) and for trying the engine without a provider:

    model = ScriptedModel({"artisan": [fenced(fix)], "critic": ["looks fine"]})
    tests = ScriptedTests("calc.py", passes=lambda code: "a + b" in code)
    report = engine.run(request, events.append, model=model, tests=tests)

The end-to-end path (litellm or the direct HTTP path, real test commands) keeps its own tests against the
scripted HTTP server (tests/model_server.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .controls import RunInterrupted
from .model import Deadline, ModelError, Reply, Role
from .reports import TestFailure, TestReport


@dataclass(frozen=True)
class Scripted:
    """One scripted answer: `text` at `cost_usd`; or, with `raises`, that exception instead.

    `then` runs just before the answer is given (e.g. `controls.cancel`, to stop a run mid-call).
    """

    text: str = ""
    cost_usd: float = 0.0
    raises: BaseException | None = None
    then: Callable[[], object] | None = None


@dataclass(frozen=True)
class ScriptedCall:
    role: Role
    model_name: str
    messages: list[dict[str, str]]


def unavailable(model_name: str) -> Scripted:
    """The answer of a provider that is down: the tier it is asked in ends."""
    return Scripted(raises=ModelError(model_name, "unavailable", f"{model_name}: provider unreachable (scripted)"))


class ScriptedModel:
    """A `Model` (model.py) that answers each call with the next entry of a script, in order.

    `script` maps a model name or a role to its answers (a model name wins over a role; "*" answers the
    rest); an answer is a text, a `Scripted`, or an exception to raise. A call with no answer left raises
    `ModelError` ("unavailable"), so an exhausted script ends the tier as a provider that is down would.
    Every call is kept in `calls` (the messages as the model got them: redacted).
    """

    def __init__(self, script: Mapping[str, Sequence[str | Scripted | BaseException]]):
        self._script = {key: list(answers) for key, answers in script.items()}
        self._lock = threading.Lock()  # the critic is called from a background thread
        self.calls: list[ScriptedCall] = []

    def complete(self, role: Role, model_name: str, messages: list[dict[str, str]], deadline: Deadline) -> Reply:
        if deadline.cancelled.is_set():
            raise RunInterrupted()
        with self._lock:
            self.calls.append(ScriptedCall(role, model_name, [dict(m) for m in messages]))
            answers = next((self._script[k] for k in (model_name, role, "*") if self._script.get(k)), None)
            answer = answers.pop(0) if answers else None
        if answer is None:
            raise ModelError(model_name, "unavailable", f"{model_name}: the script has no answer left for the {role}")
        if isinstance(answer, BaseException):
            answer = Scripted(raises=answer)
        elif isinstance(answer, str):
            answer = Scripted(text=answer)
        if answer.then is not None:
            answer.then()
        if answer.raises is not None:
            raise answer.raises
        return Reply(text=answer.text, cost_usd=answer.cost_usd, prompt_tokens=len(str(messages)) // 4,
                     completion_tokens=len(answer.text) // 4, duration_ms=0)

    def roles_called(self) -> list[str]:
        with self._lock:
            return [call.role for call in self.calls]


class ScriptedTests:
    """A `TestRunner` (runners/base.py) that reads `target` in the folder it runs in and passes it when
    `passes(content)` is true; else one failing test, `failure`. With `infra_error`, the command "cannot run".

    Every run is kept in `runs`: (cwd, the target's content).
    """

    __test__ = False

    def __init__(self, target: str, passes: Callable[[str], bool], *, failure: str = "test_target",
                 infra_error: str | None = None):
        self.target, self.passes, self.failure, self.infra_error = target, passes, failure, infra_error
        self._lock = threading.Lock()
        self.runs: list[tuple[Path, str]] = []

    def run(self, command: str, cwd: Path, timeout_s: float, cancel: threading.Event | None = None,
            env: dict[str, str] | None = None) -> TestReport:
        if cancel is not None and cancel.is_set():
            raise RunInterrupted()
        path = Path(cwd) / self.target
        content = path.read_text(encoding="utf-8") if path.is_file() else ""  # no target: its tests fail
        with self._lock:
            self.runs.append((Path(cwd), content))
        if self.infra_error is not None:
            return TestReport(passed=False, infra_error=self.infra_error, command=command, exit_code=2,
                              output=self.infra_error)
        if self.passes(content):
            return TestReport(passed=True, command=command, exit_code=0, output="1 passed", tests_run=1)
        failure = TestFailure(name=self.failure, file=self.target, line=1, message=f"{self.failure} failed")
        return TestReport(passed=False, failures=[failure], command=command, exit_code=1, output="1 failed",
                          tests_run=1)
