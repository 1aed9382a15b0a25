"""Nothing outlives the language server (issue 9, item 9): the real server over stdio is killed (SIGTERM,
SIGKILL) while a candidate's tests run; no test process survives it.

The candidate writes the pids of its test process and of a grandchild, then sleeps.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from lsp_support import calc_repo, execute, fenced, server_env, start_client, unique, uri, wait_for
from process_support import CALC_SLEEPS, alive, read_pids

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc; signals are POSIX")


@pytest.fixture
def pids_to_reap():
    """Pids a failing test might leave running: killed at teardown whatever the outcome."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGKILL, -9)])
async def test_killing_the_server_mid_test_run_leaves_no_test_process(tmp_path, model_server, pids_to_reap,
                                                                      signum, exit_code):
    model = unique("artisan")
    root = calc_repo(tmp_path / "proj", f"openai/{model}")
    model_server.script(model, [fenced(CALC_SLEEPS)])
    pids_file = tmp_path / "pids.txt"
    env = {**server_env(model_server.url, tmp_path / "tmp"), "PIDS_FILE": str(pids_file)}
    client = await start_client("visual-studio-code", env, root)
    server = client._server
    assert server is not None
    try:
        client.editor.open(root / "calc.py")
        await execute(client, "microAgent.run", {"uri": uri(root / "calc.py")})
        pids = await wait_for(lambda: read_pids(pids_file), 90, "the candidate's sleeping tests")
        pids_to_reap.extend(pids)
        assert all(alive(pid) for pid in pids)

        os.kill(server.pid, signum)
        assert await asyncio.wait_for(server.wait(), 20) == exit_code
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not any(alive(pid) for pid in pids)
        if signum == signal.SIGTERM:  # a clean stop: the run was cancelled, cleaned up and recorded
            conn = sqlite3.connect(root / ".micro-agent" / "audit.db")
            assert [row[0] for row in conn.execute("SELECT outcome FROM runs")] == ["interrupted"]
            assert not [p for p in (tmp_path / "tmp").iterdir() if p.name.startswith("micro-agent-")]
    finally:
        if server.returncode is None:
            server.kill()
        await client.stop()
