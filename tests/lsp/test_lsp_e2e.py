"""The language server end to end: the real server over stdio, the scripted model server, real git repos.

One server per client profile (module-scoped) keeps this fast; every test gets its own tiny repo and
its own model names, so tests do not see each other's runs. pytest-lsp checks every server→client
request against the profile's capabilities, and pyproject turns its warnings into errors.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types
from lsp_support import (CALC_FIXED, CALC_WRONG, PROFILES, TEST_ADD_ASSERT_LINE, TEST_ADD_DEF_LINE,
                         TEST_MUL_DEF_LINE, RecordingClient, calc_repo, execute, fenced, ours, server_env, start_client,
                         stop_client, unique, uri, wait_finished, wait_for)
from pygls.exceptions import JsonRpcException

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def clients(model_server, tmp_path_factory):
    """One server per profile, all started at once: they warm up (litellm) while the first tests run."""
    async def start(profile: str) -> RecordingClient:
        home = tmp_path_factory.mktemp("lsp-" + profile.replace("@", "-").replace(".", "-"))
        return await start_client(profile, server_env(model_server.url, home / "tmp"), home)

    started = await asyncio.gather(*(start(profile) for profile in PROFILES))
    yield dict(zip(PROFILES, started))
    await asyncio.gather(*(stop_client(client) for client in started))


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=PROFILES)
async def client(request, clients) -> RecordingClient:
    return clients[request.param]


@pytest.fixture
def repo(tmp_path_factory, model_server):
    """A fresh calc repo whose artisan is a fresh scripted model; returns (root, model name)."""
    name = unique("artisan")
    root = calc_repo(tmp_path_factory.mktemp("repo") / "proj", f"openai/{name}")
    return root, name


@pytest.fixture(autouse=True)
def _fresh_editor(client: RecordingClient):
    yield
    client.editor.close_all()


def progress_of(client: RecordingClient, run_id: str) -> list:
    return client.progress_reports.get(f"micro-agent/{run_id}", [])


async def open_failing(client: RecordingClient, root: Path) -> str:
    """Open the failing test file and wait for the server's diagnostics (tests on open)."""
    test_uri = client.editor.open(root / "tests/test_calc.py")
    await wait_for(lambda: ours(client.diagnostics.get(test_uri, [])), 30, "diagnostics after opening the test file")
    return test_uri


async def test_diagnostics_after_opening_a_failing_test_file(client: RecordingClient, repo):
    root, _ = repo
    test_uri = await open_failing(client, root)
    [diagnostic] = ours(client.diagnostics[test_uri])
    assert diagnostic.range.start.line == TEST_ADD_ASSERT_LINE
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    assert "assert" in diagnostic.message and "-1 == 5" in diagnostic.message


async def test_fix_action_is_offered_on_failing_test_lines_only(client: RecordingClient, repo):
    root, _ = repo
    test_uri = await open_failing(client, root)
    diagnostic = ours(client.diagnostics[test_uri])[0]

    async def actions(line: int, diagnostics: list[types.Diagnostic]) -> list:
        result = await client.text_document_code_action_async(types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=test_uri),
            range=types.Range(start=types.Position(line=line, character=0), end=types.Position(line=line, character=0)),
            context=types.CodeActionContext(diagnostics=diagnostics)))
        return result or []

    on_assert = await actions(TEST_ADD_ASSERT_LINE, [diagnostic])
    on_def = await actions(TEST_ADD_DEF_LINE, [])
    for found in (on_assert, on_def):
        [action] = found
        assert isinstance(action, types.CodeAction)
        assert action.title == "Fix with Micro Agent" and action.kind == types.CodeActionKind.QuickFix
        assert action.command.command == "microAgent.run"
        assert action.command.arguments[0]["uri"] == test_uri
    assert on_assert[0].diagnostics and on_assert[0].diagnostics[0].message == diagnostic.message
    assert await actions(TEST_MUL_DEF_LINE, []) == []  # test_mul passes: nothing to fix there


async def test_run_answers_at_once_and_delivers_the_fix(client: RecordingClient, repo, model_server):
    root, model = repo
    model_server.script(model, [fenced(CALC_WRONG), fenced(CALC_FIXED)])  # wrong first: two iterations
    test_uri = await open_failing(client, root)
    calc_uri = client.editor.open(root / "calc.py")
    log_start = len(client.diagnostics_log)

    started = time.perf_counter()
    answer = await execute(client, "microAgent.run", {"uri": test_uri, "line": TEST_ADD_ASSERT_LINE})
    assert time.perf_counter() - started < 1.0
    run_id = answer["runId"]
    finished = await wait_finished(client, run_id)

    assert finished["outcome"] == "success" and finished["iterations"] == 2
    assert finished["uri"] == calc_uri and finished["solvedByTier"] == "simple"
    assert finished["costUsd"] == 0
    kinds = [p.kind for p in progress_of(client, run_id)]
    assert kinds[0] == "begin" and kinds[-1] == "end" and set(kinds[1:-1]) == {"report"} and len(kinds) >= 5
    begin, end = progress_of(client, run_id)[0], progress_of(client, run_id)[-1]
    assert begin.title == "Micro Agent: fixing calc.py" and begin.cancellable is True
    assert "fixed" in end.message and "2 iterations" in end.message
    reports = [p.message for p in progress_of(client, run_id)[1:-1]]
    assert any("iteration 1/" in m for m in reports) and any("iteration 2/" in m for m in reports)
    assert any("artisan" in m for m in reports)

    # diagnostics per iteration on the test file: the wrong candidate's failure, then none
    during = [(u, ours(d)) for _, u, d in client.diagnostics_log[log_start:] if u == test_uri]
    assert any(d and "6 == 5" in d[0].message for _, d in during), during  # iteration 1: add(2, 3) == 6
    assert during[-1][1] == []  # cleared once fixed
    # a summary line on the target while the run went on
    assert any(u == calc_uri and any("iteration" in x.message for x in ours(d))
               for _, u, d in client.diagnostics_log[log_start:])

    [edit] = [e for e in client.edits if e.label == "Micro Agent fix"]
    assert client.editor.text(root / "calc.py") == CALC_FIXED
    assert (root / "calc.py").read_text() != CALC_FIXED  # an ordinary edit: the user saves it
    await wait_for(lambda: any("fixed calc.py" in m.message for m in client.messages), 5, "the closing message")


async def test_a_second_run_on_the_same_file_is_refused(client: RecordingClient, repo, model_server):
    root, model = repo
    model_server.script(model, [{"content": fenced(CALC_WRONG), "delay": 0.5}])
    client.editor.open(root / "calc.py")
    first = await execute(client, "microAgent.run", {"uri": uri(root / "calc.py")})
    with pytest.raises(JsonRpcException) as refused:
        await execute(client, "microAgent.run", {"uri": uri(root / "tests/test_calc.py")})
    assert "already fixing calc.py" in str(refused.value)
    status = await execute(client, "microAgent.status", {"uri": uri(root / "calc.py")})
    assert [r["runId"] for r in status["running"]] == [first["runId"]]
    while_running = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri(root / "calc.py")),
        range=types.Range(start=types.Position(line=1, character=0), end=types.Position(line=1, character=0)),
        context=types.CodeActionContext(diagnostics=[])))
    assert [a.title for a in while_running] == ["Escalate Micro Agent run", "Cancel Micro Agent run"]
    await execute(client, "microAgent.cancel", {"uri": uri(root / "calc.py")})
    await wait_finished(client, first["runId"])


async def test_cancel_stops_the_run_and_applies_nothing(client: RecordingClient, repo, model_server):
    root, model = repo
    model_server.script(model, [{"content": fenced(CALC_FIXED), "delay": 1.0}])
    client.editor.open(root / "calc.py")
    edits_before = len(client.edits)
    run_id = (await execute(client, "microAgent.run", {"uri": uri(root / "calc.py")}))["runId"]
    await wait_for(lambda: model_server.calls(f"{model}"), 30, "the first model call")
    answer = await execute(client, "microAgent.cancel", {"uri": uri(root / "tests/test_calc.py")})
    assert answer == {"cancelled": True, "runId": run_id}
    finished = await wait_finished(client, run_id)

    assert finished["outcome"] == "interrupted"
    assert len(client.edits) == edits_before
    assert "cancelled" in progress_of(client, run_id)[-1].message
    assert (root / "calc.py").read_text() == client.editor.text(root / "calc.py") != CALC_FIXED


async def test_escalate_skips_to_the_next_tier(client: RecordingClient, tmp_path_factory, model_server):
    weak, strong = unique("weak"), unique("strong")
    tiers = ('{"tiers": [{"name": "weak", "mode": "simple", "maxIterations": 20, "models": {"artisan": "openai/%s"}},'
             ' {"name": "strong", "mode": "simple", "maxIterations": 2, "models": {"artisan": "openai/%s"}}]}'
             % (weak, strong))
    root = calc_repo(tmp_path_factory.mktemp("repo") / "proj", f"openai/{weak}", yml_extra="tierConfigFile: tiers.json\n",
                     files={"tiers.json": tiers})
    model_server.script(weak, [{"content": fenced(CALC_WRONG), "delay": 0.3}])
    model_server.script(strong, [fenced(CALC_FIXED)])
    client.editor.open(root / "calc.py")
    run_id = (await execute(client, "microAgent.run", {"uri": uri(root / "calc.py")}))["runId"]
    await wait_for(lambda: model_server.calls(f"{weak}"), 30, "the weak tier's first call")
    answer = await execute(client, "microAgent.escalate", {"uri": uri(root / "calc.py")})
    assert answer["runId"] == run_id and answer["startedNewRun"] is False
    finished = await wait_finished(client, run_id)

    assert finished["outcome"] == "success" and finished["solvedByTier"] == "strong"
    assert len(model_server.calls(strong)) == 1
    assert len(model_server.calls(weak)) < 20
    assert any("escalating weak → strong" in (p.message or "") for p in progress_of(client, run_id))
    assert client.editor.text(root / "calc.py") == CALC_FIXED
