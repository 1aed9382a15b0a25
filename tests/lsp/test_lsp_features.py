"""The language server's other behaviours, end to end with one client profile each: escalation from
the audit log, status, a buffer edited during a run, settings, and clients without progress support."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio
from lsprotocol import types
from lsp_support import (CALC_BUGGY, CALC_FIXED, CALC_WRONG, RecordingClient, calc_repo, execute, fenced, make_repo,
                         server_env, start_client, stop_client, unique, uri, wait_finished, wait_for)
from pytest_lsp import client_capabilities

pytestmark = pytest.mark.asyncio(loop_scope="module")
SETTINGS_MODEL = unique("from-settings")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def servers(model_server, tmp_path_factory):
    """Both servers of this module, started at once so they warm up together."""
    home = tmp_path_factory.mktemp("lsp-features")
    plain_home = tmp_path_factory.mktemp("lsp-plain")
    capabilities = client_capabilities("neovim@v0.7.0")
    capabilities.window.work_done_progress = False
    started = await asyncio.gather(
        # VS Code's profile; models come from workspace/configuration, which wins over initializationOptions
        start_client("visual-studio-code", server_env(model_server.url, home / "tmp"), home,
                     options={"microAgent": {"models": {"artisan": "openai/overridden"}}},
                     configuration={"microAgent": {"models": {"artisan": f"openai/{SETTINGS_MODEL}",
                                                              "librarian": f"openai/{SETTINGS_MODEL}",
                                                              "critic": f"openai/{SETTINGS_MODEL}"}}}),
        # Neovim 0.7's profile without `window.workDoneProgress`, started with bad settings
        start_client(capabilities, server_env(model_server.url, plain_home / "tmp"), plain_home, options={
            "microAgent": {"budget": {"maxCostUsd": -1, "maxIterations": 4}, "runTestsOnSave": "sometimes",
                           "simple": 3, "colour": "blue", "models": {"artisan": "no such model"}}}),
    )
    yield started
    await asyncio.gather(*(stop_client(c) for c in started))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(servers) -> RecordingClient:
    return servers[0]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def plain_client(servers) -> RecordingClient:
    return servers[1]


@pytest.fixture(autouse=True)
def _fresh_editor(client: RecordingClient):
    yield
    client.editor.close_all()


def tiered_repo(tmp_path_factory, weak: str, strong: str, weak_iterations: int = 5):
    tiers = ('{"tiers": [{"name": "weak", "mode": "simple", "maxIterations": %d, "models": {"artisan": "openai/%s"}},'
             ' {"name": "strong", "mode": "simple", "maxIterations": 2, "models": {"artisan": "openai/%s"}}]}'
             % (weak_iterations, weak, strong))
    return calc_repo(tmp_path_factory.mktemp("repo") / "proj", f"openai/{weak}",
                     yml_extra="tierConfigFile: tiers.json\n", files={"tiers.json": tiers})


async def test_diagnostics_clear_once_the_tests_pass_on_save(client: RecordingClient, tmp_path_factory):
    root = calc_repo(tmp_path_factory.mktemp("repo") / "proj", f"openai/{SETTINGS_MODEL}")
    test_uri = client.editor.open(root / "tests/test_calc.py")
    await wait_for(lambda: client.diagnostics.get(test_uri), 30, "diagnostics of the failing test")
    client.editor.open(root / "calc.py")
    client.editor.change(root / "calc.py", CALC_FIXED)
    client.editor.save(root / "calc.py")
    await wait_for(lambda: len(client.diagnostics[test_uri]) == 0, 30, "the diagnostics to clear")


async def test_escalate_without_a_run_starts_at_the_next_tier_with_the_audit_history(
        client: RecordingClient, tmp_path_factory, model_server):
    weak, strong = unique("weak"), unique("strong")
    root = tiered_repo(tmp_path_factory, weak, strong)
    model_server.script(weak, [fenced(CALC_WRONG), {"content": fenced(CALC_WRONG), "delay": 2}])
    model_server.script(strong, [fenced(CALC_FIXED)])
    client.editor.open(root / "calc.py")
    first = (await execute(client, "microAgent.run", {"uri": uri(root / "calc.py")}))["runId"]
    await wait_for(lambda: len(model_server.calls(weak)) >= 2, 30, "the weak tier's second call")
    await execute(client, "microAgent.cancel", {"uri": uri(root / "calc.py")})  # one weak attempt is in the audit log
    assert (await wait_finished(client, first))["outcome"] == "interrupted"

    answer = await execute(client, "microAgent.escalate", {"uri": uri(root / "tests/test_calc.py")})
    assert answer["startedNewRun"] is True and answer["tier"] == "strong"
    finished = await wait_finished(client, answer["runId"])

    assert finished["outcome"] == "success" and finished["solvedByTier"] == "strong"
    assert len(model_server.calls(weak)) == 2  # the new run never went back to the weak tier
    [prompt] = model_server.prompts(strong)
    assert "weak" in prompt and "6 == 5" in prompt  # seeded with the first run's failure history
    assert client.editor.text(root / "calc.py") == CALC_FIXED


async def test_escalate_with_nothing_to_escalate_says_what_to_do(client: RecordingClient, tmp_path_factory):
    root = tiered_repo(tmp_path_factory, unique("weak"), unique("strong"))
    with pytest.raises(Exception, match="no earlier run on calc.py"):
        await execute(client, "microAgent.escalate", {"uri": uri(root / "calc.py")})


async def test_status_shows_the_run_in_progress_then_the_last_finished(client: RecordingClient, tmp_path_factory,
                                                                       model_server):
    root = calc_repo(tmp_path_factory.mktemp("repo") / "proj", f"openai/{unique('unused')}")
    (root / "micro-agent.yml").write_text((root / "micro-agent.yml").read_text().split("models:")[0])  # settings' models
    model_server.script(SETTINGS_MODEL, [{"content": fenced(CALC_FIXED), "delay": 0.5}])
    calls = len(model_server.calls(SETTINGS_MODEL))
    client.editor.open(root / "calc.py")
    run_id = (await execute(client, "microAgent.run", {"uri": uri(root / "calc.py")}))["runId"]
    await wait_for(lambda: len(model_server.calls(SETTINGS_MODEL)) > calls, 30, "the model call")
    status = await execute(client, "microAgent.status", {"uri": uri(root / "calc.py")})
    [running] = status["running"]
    assert running["runId"] == run_id and running["tier"] == "simple" and running["iteration"] == 1
    assert running["maxIterations"] == 5 and running["costUsd"] == 0

    finished = await wait_finished(client, run_id)
    assert finished["outcome"] == "success"  # the model named in workspace/configuration did it
    status = await execute(client, "microAgent.status")
    assert status["running"] == [] and status["lastFinished"]["runId"] == run_id


async def test_cancelling_the_progress_in_the_editor_stops_the_run(client: RecordingClient, tmp_path_factory,
                                                                   model_server):
    root = calc_repo(tmp_path_factory.mktemp("repo") / "proj", f"openai/{SETTINGS_MODEL}")
    model_server.script(SETTINGS_MODEL, [{"content": fenced(CALC_FIXED), "delay": 5}])
    calls = len(model_server.calls(SETTINGS_MODEL))
    client.editor.open(root / "calc.py")
    edits_before = len(client.edits)
    run_id = (await execute(client, "microAgent.run", {"uri": uri(root / "calc.py")}))["runId"]
    await wait_for(lambda: len(model_server.calls(SETTINGS_MODEL)) > calls, 30, "the model call")
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=f"micro-agent/{run_id}"))
    finished = await wait_finished(client, run_id, timeout=4)  # well before the model's reply

    assert finished["outcome"] == "interrupted" and len(client.edits) == edits_before
    assert client.progress_reports[f"micro-agent/{run_id}"][-1].kind == "end"


async def test_a_buffer_edited_during_the_run_is_not_clobbered(client: RecordingClient, tmp_path_factory,
                                                               model_server):
    root = calc_repo(tmp_path_factory.mktemp("repo") / "proj", f"openai/{SETTINGS_MODEL}")
    model_server.script(SETTINGS_MODEL, [{"content": fenced(CALC_FIXED), "delay": 0.5}])
    calls = len(model_server.calls(SETTINGS_MODEL))
    client.editor.open(root / "calc.py")
    edits_before = len(client.edits)
    run_id = (await execute(client, "microAgent.run", {"uri": uri(root / "calc.py")}))["runId"]
    await wait_for(lambda: len(model_server.calls(SETTINGS_MODEL)) > calls, 30, "the model call")
    mine = CALC_BUGGY + "\n# my own change\n"
    client.editor.change(root / "calc.py", mine)
    finished = await wait_finished(client, run_id)

    assert finished["outcome"] == "solved_not_applied" and finished["applied"] is False  # issue 9, item 5
    assert len(client.edits) == edits_before and client.editor.text(root / "calc.py") == mine
    assert "you edited calc.py meanwhile" in finished["message"]
    assert finished["ref"] and "micro-agent audit show" in finished["message"]
    assert any("you edited calc.py" in m.message for m in client.messages)


async def test_unsaved_buffer_content_is_where_the_run_starts(client: RecordingClient, tmp_path_factory,
                                                              model_server):
    root = calc_repo(tmp_path_factory.mktemp("repo") / "proj", f"openai/{SETTINGS_MODEL}")
    model_server.script(SETTINGS_MODEL, [fenced(CALC_FIXED)])
    client.editor.open(root / "calc.py")
    unsaved = CALC_BUGGY.replace("return a - b", "return a - b - 0  # unsaved")
    client.editor.change(root / "calc.py", unsaved)
    run_id = (await execute(client, "microAgent.run", {"uri": uri(root / "calc.py")}))["runId"]
    assert (await wait_finished(client, run_id))["outcome"] == "success"
    assert "# unsaved" in model_server.prompts(SETTINGS_MODEL)[-1]  # the model saw the buffer, not the file on disk
    assert client.editor.text(root / "calc.py") == CALC_FIXED  # the edit was computed against the buffer


async def test_run_from_a_test_file_without_a_target_says_what_to_do(client: RecordingClient, tmp_path_factory):
    root = make_repo(tmp_path_factory.mktemp("repo") / "proj", {"tests/test_orphan.py": "def test_x():\n    assert 0\n"})
    with pytest.raises(Exception, match="cannot tell which file test_orphan.py tests"):
        await execute(client, "microAgent.run", {"uri": uri(root / "tests/test_orphan.py")})


async def test_bad_arguments_are_invalid_params(client: RecordingClient):
    with pytest.raises(Exception, match="microAgent.run: mode"):
        await execute(client, "microAgent.run", {"uri": "file:///tmp/calc.py", "mode": "turbo"})


async def test_commands_without_arguments_act_on_the_file_touched_last(client: RecordingClient, tmp_path_factory,
                                                                       model_server):
    """Helix's :lsp-workspace-command sends no arguments."""
    root = calc_repo(tmp_path_factory.mktemp("repo") / "proj", f"openai/{SETTINGS_MODEL}")
    model_server.script(SETTINGS_MODEL, [{"content": fenced(CALC_FIXED), "delay": 5}])
    client.editor.open(root / "calc.py")
    run_id = (await execute(client, "microAgent.run"))["runId"]
    status = await execute(client, "microAgent.status")
    assert [(r["runId"], r["target"]) for r in status["running"]] == [(run_id, "calc.py")]
    assert await execute(client, "microAgent.cancel") == {"cancelled": True, "runId": run_id}
    assert (await wait_finished(client, run_id))["outcome"] == "interrupted"


# ---------------------------------------------------------------- a client without progress support


async def test_bad_settings_are_named_once_and_the_server_keeps_going(plain_client: RecordingClient):
    await wait_for(lambda: plain_client.messages, 10, "the settings message")
    await asyncio.sleep(0.2)
    [message] = plain_client.messages
    assert message.type == types.MessageType.Warning
    for name in ("microAgent.budget.maxCostUsd", "microAgent.runTestsOnSave", "microAgent.colour",
                 "microAgent.models.artisan"):
        assert name in message.message
    assert "microAgent.budget.maxIterations" not in message.message  # the good value in the same block stays
    assert (await execute(plain_client, "microAgent.status"))["running"] == []


async def test_without_progress_support_the_run_reports_in_log_lines(plain_client: RecordingClient,
                                                                       tmp_path_factory, model_server):
    model = unique("artisan")
    root = calc_repo(tmp_path_factory.mktemp("repo") / "proj", f"openai/{model}")
    model_server.script(model, [fenced(CALC_FIXED)])
    plain_client.editor.open(root / "calc.py")
    run_id = (await execute(plain_client, "microAgent.run", {"uri": uri(root / "calc.py")}))["runId"]
    finished = await wait_finished(plain_client, run_id)

    assert finished["outcome"] == "success"
    assert plain_client.progress_reports == {}
    lines = [m.message for m in plain_client.log_messages if "Micro Agent" in m.message]
    assert lines[0] == "Micro Agent: fixing calc.py: starting"
    assert any("iteration 1/3" in line for line in lines)  # the good settings beside the bad ones apply
    assert lines[-1].endswith("fixed by simple in 1 iteration · $0.0000")
    assert plain_client.editor.text(root / "calc.py") == CALC_FIXED
