"""Issue 9, item 11 in the language server: its log lines, messages and run summaries never show a credential.

The real server over stdio, a client without progress support (so the run reports in `window/logMessage`
lines), a real git repo, and a scripted provider whose error message echoes an API key back.
"""

from __future__ import annotations

from lsp_support import calc_repo, execute, server_env, start_client, stop_client, unique, uri, wait_finished
from pytest_lsp import client_capabilities

ECHOED_KEY = "sk-" + "proj-Zx81kq9WmT3vLp0Qa7RnB2cD"


async def test_a_provider_error_that_echoes_the_key_is_redacted_in_every_message(tmp_path, model_server):
    model = unique("artisan")
    model_server.script(model, [{"status": 401, "content": f"Incorrect API key provided: {ECHOED_KEY}."}])
    root = calc_repo(tmp_path / "proj", f"openai/{model}")
    capabilities = client_capabilities("neovim@v0.7.0")
    capabilities.window.work_done_progress = False
    client = await start_client(capabilities, server_env(model_server.url, tmp_path / "tmp"), tmp_path)
    try:
        client.editor.open(root / "calc.py")
        run_id = (await execute(client, "microAgent.run", {"uri": uri(root / "calc.py")}))["runId"]
        finished = await wait_finished(client, run_id)
    finally:
        await stop_client(client)

    assert finished["outcome"] == "error"
    shown = [m.message for m in client.log_messages] + [m.message for m in client.messages] + [finished["message"]]
    assert any("API key provided: [redacted]" in text for text in shown), shown  # the error is still there
    assert not [text for text in shown if ECHOED_KEY in text]
