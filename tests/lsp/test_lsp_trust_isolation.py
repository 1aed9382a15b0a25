"""Trust through the language server (issue 9, items 3 and 5): the real server over stdio, real git repos,
real pytest, the scripted model server.

3: a candidate that rewrites the user's tests while they run is never sent to the editor.
5: a fix the editor cannot take (the buffer changed meanwhile) ends as `solved_not_applied`, `applied: false`,
   in `microAgent/runFinished` and in the audit log, and the message says where the fix is kept.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess

import pytest
import pytest_asyncio
from lsp_support import (CALC_BUGGY, CALC_FIXED, CALC_TESTS, CALC_WRONG, RecordingClient, calc_repo, execute, fenced,
                         server_env, start_client, stop_client, unique, uri, wait_finished, wait_for)

pytestmark = pytest.mark.asyncio(loop_scope="module")

VACUOUS_TESTS = "def test_add():\n    pass\n\n\ndef test_mul():\n    pass\n"
REWRITES_TESTS = ("import pathlib\n"
                  "pathlib.Path(__file__).with_name('tests').joinpath('test_calc.py').write_text("
                  f"{VACUOUS_TESTS!r})\n\n\n" + CALC_WRONG)


def one_tier(model: str, iterations: int) -> str:
    return json.dumps({"tiers": [{"name": "only", "mode": "simple", "maxIterations": iterations,
                                  "models": {"artisan": f"openai/{model}"}}]})


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(model_server, tmp_path_factory):
    home = tmp_path_factory.mktemp("lsp-trust")
    started = await start_client("visual-studio-code", server_env(model_server.url, home / "tmp"), home)
    yield started
    await stop_client(started)


@pytest.fixture(autouse=True)
def _fresh_editor(client: RecordingClient):
    yield
    client.editor.close_all()


def fixes(client: RecordingClient) -> list:
    return [e for e in client.edits if e.label == "Micro Agent fix"]


async def test_a_candidate_that_rewrites_the_tests_is_never_applied(client: RecordingClient, tmp_path_factory,
                                                                    model_server):
    model = unique("artisan")
    root = calc_repo(tmp_path_factory.mktemp("repo") / "proj", f"openai/{model}",
                     files={"tiers.json": one_tier(model, 2)})
    # twice the same trick: without a restore before each test run, the second run would see vacuous tests
    model_server.script(model, [fenced(REWRITES_TESTS + f"# try {n}\n") for n in (1, 2)])
    client.editor.open(root / "calc.py")
    edits_before = len(fixes(client))
    started = await execute(client, "microAgent.run", {"uri": uri(root / "calc.py"), "tierConfig": "tiers.json"})
    run_id = started["runId"]
    finished = await wait_finished(client, run_id, timeout=120)

    assert finished["outcome"] == "failed" and finished["applied"] is False and finished["iterations"] == 2
    assert len(fixes(client)) == edits_before
    assert client.editor.text(root / "calc.py") == CALC_BUGGY == (root / "calc.py").read_text()
    assert (root / "tests" / "test_calc.py").read_text() == CALC_TESTS
    with sqlite3.connect(root / ".micro-agent" / "audit.db") as conn:
        errors = [row[0] for row in conn.execute("SELECT error_messages FROM tier_attempts WHERE run_id = ?", [run_id])]
    assert len(errors) == 2 and all("changed tests/test_calc.py while its tests ran" in e for e in errors)


async def test_a_fix_for_a_buffer_edited_meanwhile_is_reported_as_not_applied(client: RecordingClient,
                                                                              tmp_path_factory, model_server):
    model = unique("artisan")
    root = calc_repo(tmp_path_factory.mktemp("repo") / "proj", f"openai/{model}")
    model_server.script(model, [{"content": fenced(CALC_FIXED), "delay": 0.5}])
    client.editor.open(root / "calc.py")
    edits_before = len(fixes(client))
    run_id = (await execute(client, "microAgent.run", {"uri": uri(root / "calc.py")}))["runId"]
    await wait_for(lambda: model_server.calls(model), 60, "the model call")
    mine = CALC_BUGGY + "\n# typed while the model was thinking\n"
    client.editor.change(root / "calc.py", mine)
    finished = await wait_finished(client, run_id, timeout=120)

    assert finished["outcome"] == "solved_not_applied" and finished["applied"] is False
    assert finished["solvedByTier"] == "simple"
    ref = finished["ref"]
    assert ref == f"refs/micro-agent/{run_id}" and f"kept on {ref}" in finished["message"]
    assert len(fixes(client)) == edits_before and client.editor.text(root / "calc.py") == mine
    shown = subprocess.run(["git", "show", f"{ref}:calc.py"], cwd=root, capture_output=True, text=True).stdout
    assert shown == CALC_FIXED  # kept where the message says
    with sqlite3.connect(root / ".micro-agent" / "audit.db") as conn:
        [(outcome,)] = conn.execute("SELECT outcome FROM runs WHERE run_id = ?", [run_id]).fetchall()
    assert outcome == "solved_not_applied"
    status = await execute(client, "microAgent.status", {"uri": uri(root / "calc.py")})
    assert status["lastFinished"]["outcome"] == "solved_not_applied"
    end = client.progress_reports[f"micro-agent/{run_id}"][-1]
    assert end.kind == "end" and "not applied" in end.message

    # and a fix the editor takes says so
    model_server.script(model, [fenced(CALC_FIXED)])
    client.editor.change(root / "calc.py", CALC_BUGGY)
    run_id = (await execute(client, "microAgent.run", {"uri": uri(root / "calc.py")}))["runId"]
    finished = await wait_finished(client, run_id, timeout=120)
    assert finished["outcome"] == "success" and finished["applied"] is True
    assert client.editor.text(root / "calc.py") == CALC_FIXED
