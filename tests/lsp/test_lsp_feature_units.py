"""The server's features in-process, against a recording `Client` (the narrow interface they get).

`FakeClient` is a small implementation of `micro_agent_lsp.client.Client`: it keeps buffers, applies
edits the way an editor does and records what the features told the editor. The rest is real: git
repos in temp dirs, pytest runs, the engine on a worker thread, the scripted HTTP model server.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from lsp_support import (CALC_BUGGY, CALC_FIXED, CALC_WRONG, TEST_ADD_ASSERT_LINE, apply_text_edits, calc_repo,
                         fenced, unique)
from micro_agent_lsp.arguments import RunArgs
from micro_agent_lsp.client import Client
from micro_agent_lsp.features import (CodeActionsFeature, FailureDiagnostics, RunsFeature, SettingsFeature,
                                      StatusFeature, TestsOnSaveFeature)
from micro_agent_lsp.run_request import CannotRun
from micro_agent_lsp.runs import ActiveRun, RunRegistry
from micro_agent_lsp.editor_settings import EditorSettings, ServerSettings
from micro_agent_lsp.testwatch import TestWatcher

EVERYTHING = frozenset({"window.work_done_progress", "workspace.configuration",
                        "workspace.workspace_edit.document_changes",
                        "text_document.code_action.code_action_literal_support"})


class FakeClient:
    """A recording editor: buffers by path, and every diagnostic, progress step, edit, notification and
    message the features sent."""

    def __init__(self, capabilities: frozenset[str] = EVERYTHING, settings: ServerSettings | None = None) -> None:
        self.settings = settings or ServerSettings()
        self.position_encoding: str | None = None
        self.capabilities = capabilities
        self.buffers: dict[str, tuple[str, int]] = {}
        self.diagnostics: dict[str, list[types.Diagnostic]] = {}
        self.progress: list[tuple[str, str, str]] = []  # (begin | report | end, token, message)
        self.cancel_progress: dict[str, Callable[[], None]] = {}
        self.edits: list[tuple[types.WorkspaceEdit, str]] = []
        self.apply_result: types.ApplyWorkspaceEditResult | None = None  # None: apply to the buffers
        self.configuration_answer: Any = None
        self.notifications: list[tuple[str, Any]] = []
        self.logs: list[tuple[types.MessageType, str]] = []
        self.shown: list[tuple[types.MessageType, str]] = []

    # the editor's side, for the tests
    def open(self, path: Path, text: str | None = None) -> str:
        self.buffers[os.path.normpath(path)] = (path.read_text() if text is None else text, 1)
        return os.path.normpath(path)

    def edit(self, path: Path, text: str) -> None:
        _, version = self.buffers[os.path.normpath(path)]
        self.buffers[os.path.normpath(path)] = (text, version + 1)

    def text(self, path: Path) -> str:
        return self.buffers[os.path.normpath(path)][0]

    # Client
    def supports(self, capability: str) -> bool:
        return capability in self.capabilities

    def uri_of(self, path: str) -> str:
        return Path(path).as_uri()

    def current_text(self, path: str) -> tuple[str | None, int | None]:
        if path in self.buffers:
            return self.buffers[path]
        try:
            return Path(path).read_text(), None
        except OSError:
            return None, None

    def open_documents(self) -> list[tuple[str, str]]:
        return [(path, text) for path, (text, _) in self.buffers.items()]

    def publish_diagnostics(self, path: str, diagnostics: list[types.Diagnostic]) -> None:
        self.diagnostics[path] = diagnostics

    async def begin_progress(self, token: str, title: str, message: str, on_cancel: Callable[[], None]) -> bool:
        if not self.supports("window.work_done_progress"):
            return False
        self.progress.append(("begin", token, f"{title}: {message}"))
        self.cancel_progress[token] = on_cancel
        return True

    def report_progress(self, token: str, message: str) -> None:
        self.progress.append(("report", token, message))

    def end_progress(self, token: str, message: str) -> None:
        self.progress.append(("end", token, message))

    async def apply_edit(self, edit: types.WorkspaceEdit, label: str) -> types.ApplyWorkspaceEditResult:
        self.edits.append((edit, label))
        if self.apply_result is not None:
            return self.apply_result
        for change in edit.document_changes or []:
            path = os.path.normpath(change.text_document.uri.removeprefix("file://"))
            text, version = self.buffers.get(path, (Path(path).read_text(), 0))
            if change.text_document.version is not None and change.text_document.version != version:
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason="stale version")
            self.buffers[path] = (apply_text_edits(text, list(change.edits)), version + 1)
        return types.ApplyWorkspaceEditResult(applied=True)

    async def configuration(self, section: str) -> Any:
        assert section == "microAgent"
        return self.configuration_answer

    def notify(self, method: str, payload: Any) -> None:
        self.notifications.append((method, payload))

    def log(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.logs.append((kind, message))

    def show(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.shown.append((kind, message))


def test_the_fake_is_a_client():
    client: Client = FakeClient()  # the type checker holds it to the Protocol; this checks the names
    names = {n for n in Client.__dict__ if not n.startswith("_")}
    assert names <= set(dir(client))


class Features:
    """The features wired the way the server wires them, on one client."""

    def __init__(self, client: FakeClient) -> None:
        self.client = client
        self.registry = RunRegistry()
        self.failures = FailureDiagnostics(client)
        self.tests_on_save = TestsOnSaveFeature(client, self.registry, self.failures, TestWatcher(delay_s=0.01))
        self.code_actions = CodeActionsFeature(client, self.registry, self.failures)
        self.runs = RunsFeature(client, self.registry, self.failures)
        self.status = StatusFeature(client, self.registry)

    def actions(self, path: Path, line: int) -> list[Any]:
        where = types.Range(start=types.Position(line=line, character=0), end=types.Position(line=line, character=0))
        return self.code_actions.actions(Path(path).as_uri(), os.path.normpath(path), where, []) or []


def ours(client: FakeClient, path: Path) -> list[types.Diagnostic]:
    return [d for d in client.diagnostics.get(os.path.normpath(path), []) if d.source == "micro-agent"]


@pytest.fixture
def repo(tmp_path: Path, model_server, monkeypatch) -> tuple[Path, str]:
    """A calc repo whose models are one fresh scripted model; the engine (in this process) talks to it."""
    monkeypatch.setenv("OPENAI_API_BASE", model_server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    name = unique("artisan")
    return calc_repo(tmp_path / "proj", f"openai/{name}"), name


# ---------------------------------------------------------------- tests on save, code actions


async def test_saving_a_test_file_shows_its_failures_and_offers_the_fix_there(repo):
    root, _ = repo
    client = FakeClient()
    features = Features(client)
    tests = root / "tests/test_calc.py"
    features.tests_on_save.document_saved(str(tests))
    await asyncio.wait_for(features.tests_on_save.watcher.idle(), 60)
    [diagnostic] = ours(client, tests)
    assert diagnostic.range.start.line == TEST_ADD_ASSERT_LINE and "-1 == 5" in diagnostic.message
    [fix] = features.actions(tests, TEST_ADD_ASSERT_LINE)
    assert fix.title == "Fix with Micro Agent" and fix.command.arguments[0]["line"] == TEST_ADD_ASSERT_LINE
    assert features.actions(tests, 0) == []

    (root / "calc.py").write_text(CALC_FIXED)
    features.tests_on_save.document_saved(str(root / "calc.py"))
    await asyncio.wait_for(features.tests_on_save.watcher.idle(), 60)
    assert ours(client, tests) == [] and features.actions(tests, TEST_ADD_ASSERT_LINE) == []


async def test_tests_on_save_keep_quiet_when_switched_off_or_while_a_run_goes_on(repo):
    root, _ = repo
    client = FakeClient(settings=ServerSettings(run_tests_on_save=False))
    features = Features(client)
    tests = root / "tests/test_calc.py"
    features.tests_on_save.document_opened(str(tests))
    assert not features.tests_on_save.watcher.busy()

    client.settings = ServerSettings()
    run = ActiveRun(run_id="r1234567", root=root.resolve(), target="calc.py", uri=(root / "calc.py").as_uri(),
                    target_path=os.path.normpath(root / "calc.py"), test_paths=[os.path.normpath(tests)])
    features.registry.add(run)
    features.tests_on_save.document_saved(str(tests))
    assert not features.tests_on_save.watcher.busy()
    assert [a.title for a in features.actions(tests, 2)] == ["Escalate Micro Agent run", "Cancel Micro Agent run"]
    assert features.runs.cancel(str(tests)) == {"cancelled": True, "runId": "r1234567"}
    assert run.controls.cancelled.is_set()


# ---------------------------------------------------------------- settings


async def test_settings_pull_the_configuration_over_the_options_and_name_a_bad_value_once():
    client = FakeClient()
    settings = EditorSettings()
    client.configuration_answer = {"testCommand": "make test", "budget": {"maxCostUsd": -1}}
    feature = SettingsFeature(client, settings)
    feature.initialize({"microAgent": {"testCommand": "pytest", "models": {"artisan": "openai/a"}}})
    assert client.shown == []  # nothing is said before `initialized`
    await feature.initialized()
    assert (settings.current.test_command, settings.current.models.artisan) == ("make test", "openai/a")
    [(kind, message)] = client.shown
    assert kind == types.MessageType.Warning and "microAgent.budget.maxCostUsd" in message
    await feature.configuration_changed(None)  # pulled again, the same bad value: not named again
    assert len(client.shown) == 1


async def test_a_client_that_cannot_be_asked_pushes_its_settings():
    client = FakeClient(capabilities=frozenset())
    settings = EditorSettings()
    feature = SettingsFeature(client, settings)
    await feature.initialized()
    await feature.configuration_changed({"microAgent": {"runTestsOnSave": False}})
    assert settings.current.run_tests_on_save is False and client.shown == []


# ---------------------------------------------------------------- runs


async def finished(client: FakeClient, run_id: str, features: Features) -> dict[str, Any]:
    await asyncio.wait_for(features.runs.wait(120), 130)
    return next(payload for method, payload in client.notifications
                if method == "microAgent/runFinished" and payload["runId"] == run_id)


async def test_a_run_shows_its_progress_and_applies_the_fix_to_the_buffer(repo, model_server):
    root, name = repo
    model_server.script(name, [fenced(CALC_FIXED)])
    client = FakeClient()
    features = Features(client)
    target = client.open(root / "calc.py")
    answer = features.runs.start(target, RunArgs())
    assert features.status.status(target)["running"][0]["runId"] == answer["runId"]
    with pytest.raises(CannotRun, match="already fixing calc.py"):
        features.runs.start(str(root / "tests/test_calc.py"), RunArgs())

    summary = await finished(client, answer["runId"], features)
    assert summary["outcome"] == "success" and summary["message"].startswith("Micro Agent fixed calc.py")
    assert client.text(root / "calc.py") == CALC_FIXED and (root / "calc.py").read_text() == CALC_BUGGY
    [(_, label)] = client.edits
    assert label == "Micro Agent fix"
    token = f"micro-agent/{answer['runId']}"
    steps = [(kind, message) for kind, t, message in client.progress if t == token]
    assert steps[0] == ("begin", "Micro Agent: fixing calc.py: starting") and steps[-1][0] == "end"
    assert ("report", "initial run: 1 failing test") in steps and "fixed" in steps[-1][1]
    assert client.shown[-1] == (types.MessageType.Info, summary["message"])
    assert ours(client, root / "tests/test_calc.py") == []  # cleared once the fix went in
    assert features.status.status(target)["lastFinished"]["runId"] == answer["runId"]


async def test_a_buffer_edited_during_the_run_keeps_the_users_text(repo, model_server):
    root, name = repo
    model_server.script(name, [{"content": fenced(CALC_FIXED), "delay": 1.5}])
    client = FakeClient(capabilities=EVERYTHING - {"window.work_done_progress"})
    features = Features(client)
    target = client.open(root / "calc.py")
    answer = features.runs.start(target, RunArgs())
    await asyncio.sleep(0.5)
    client.edit(root / "calc.py", CALC_WRONG)

    summary = await finished(client, answer["runId"], features)
    assert summary["outcome"] == "solved_not_applied" and summary["applied"] is False and "you edited calc.py meanwhile" in summary["message"]
    assert "micro-agent audit show" in summary["message"]  # where the fix is kept
    assert client.edits == [] and client.text(root / "calc.py") == CALC_WRONG
    assert client.shown[-1] == (types.MessageType.Warning, summary["message"])
    assert client.progress == [] and any("fixing calc.py: starting" in m for _, m in client.logs)  # log lines
    assert ours(client, root / "tests/test_calc.py")  # the user's own failures are shown again


async def test_an_edit_the_editor_refuses_is_said_and_the_fix_kept(repo, model_server):
    root, name = repo
    model_server.script(name, [fenced(CALC_FIXED)])
    client = FakeClient()
    client.apply_result = types.ApplyWorkspaceEditResult(applied=False, failure_reason="read-only")
    features = Features(client)
    answer = features.runs.start(client.open(root / "calc.py"), RunArgs())
    summary = await finished(client, answer["runId"], features)
    assert summary["message"].startswith("The editor did not apply Micro Agent's fix (read-only).")
    assert client.shown[-1][0] == types.MessageType.Warning


async def test_escalate_without_an_earlier_run_says_how_to_start_one(repo):
    root, _ = repo
    features = Features(FakeClient())
    with pytest.raises(CannotRun, match="no earlier run on calc.py to escalate from"):
        features.runs.escalate(str(root / "calc.py"))
    assert features.runs.cancel(str(root / "calc.py")) == {"cancelled": False, "runId": None}
    assert features.registry.active() == []


def test_a_runs_end_is_decided_in_one_place():
    from micro_agent.reports import RunReport
    from micro_agent_lsp.bridge import run_end

    run = ActiveRun(run_id="r1234567", root=Path("/p"), target="calc.py", uri="file:///p/calc.py",
                    target_path="/p/calc.py", test_paths=[])
    solved = RunReport(run_id="r1234567", target="calc.py", test_command="t", outcome="success",
                       total_iterations=1, changed_files={"calc.py": "x"})
    end = run_end(run, solved)
    assert end.fixed_in_editor and end.target_warning is None and end.kind == types.MessageType.Info
    kept = run_end(run, solved, not_applied="The editor did not apply Micro Agent's fix.")
    assert not kept.fixed_in_editor and kept.kind == types.MessageType.Warning
    assert kept.summary["message"] == kept.message == "The editor did not apply Micro Agent's fix."
    failed = run_end(run, solved.model_copy(update={"outcome": "failed", "message": "5 iterations"}))
    assert not failed.fixed_in_editor and failed.target_warning == failed.message
    assert failed.summary["outcome"] == "failed" and "could not fix calc.py" in failed.message
    cancelled = run_end(run, solved.model_copy(update={"outcome": "interrupted"}))
    assert not cancelled.fixed_in_editor and cancelled.target_warning is None
