"""The language server never edits the target with a block the model labelled with another path (issue 9, item 4).

The real server over stdio, the scripted model server, a real git repo and real pytest.
"""

from __future__ import annotations

import pytest
import pytest_asyncio
from lsp_support import (CALC_BUGGY, CALC_FIXED, CALC_TESTS, RecordingClient, calc_repo, execute, server_env,
                         start_client, stop_client, unique, uri, wait_finished)

pytestmark = pytest.mark.asyncio(loop_scope="module")
WEAK_TESTS = "def test_add():\n    assert True\n"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(model_server, tmp_path_factory):
    home = tmp_path_factory.mktemp("lsp-trust")
    started = await start_client("visual-studio-code", server_env(model_server.url, home / "tmp"), home)
    yield started
    await stop_client(started)


async def test_a_block_labelled_with_another_path_never_edits_the_target(client: RecordingClient, model_server,
                                                                         tmp_path_factory):
    model = unique("artisan")
    root = calc_repo(tmp_path_factory.mktemp("repo") / "proj", f"openai/{model}")
    outside = root.parent / "outside.py"
    model_server.script(model, [f"```python path=tests/test_calc.py\n{WEAK_TESTS}```\n",
                                f"```python path=../outside.py\n{CALC_FIXED}```\n"])
    client.editor.open(root / "calc.py")
    edits_before = len(client.edits)

    run_id = (await execute(client, "microAgent.run", {"uri": uri(root / "calc.py")}))["runId"]
    finished = await wait_finished(client, run_id, timeout=120)

    assert finished["outcome"] == "failed" and finished["iterations"] >= 2
    assert len(client.edits) == edits_before  # no edit of calc.py, or of anything else, was asked for
    assert client.editor.text(root / "calc.py") == (root / "calc.py").read_text() == CALC_BUGGY
    assert (root / "tests/test_calc.py").read_text() == CALC_TESTS
    assert not outside.exists()
    prompts = model_server.prompts(model)
    assert "the reply's code is labelled path=tests/test_calc.py, not calc.py" in prompts[1]
    assert "labelled path=../outside.py (outside the project), not calc.py" in prompts[2]

    # the same run with the right label at last: the one edit is to calc.py, with the fix
    model_server.script(model, [f"```python path=tests/test_calc.py\n{WEAK_TESTS}```\n",
                                f"```python path=calc.py\n{CALC_FIXED}```\n"])
    run_id = (await execute(client, "microAgent.run", {"uri": uri(root / "calc.py")}))["runId"]
    finished = await wait_finished(client, run_id, timeout=120)
    assert finished["outcome"] == "success" and finished["iterations"] == 2
    [edit] = client.edits[edits_before:]
    touched = [change.text_document.uri for change in edit.edit.document_changes or []] + list(edit.edit.changes or {})
    assert touched == [uri(root / "calc.py")]
    assert client.editor.text(root / "calc.py") == CALC_FIXED
    assert (root / "tests/test_calc.py").read_text() == CALC_TESTS
