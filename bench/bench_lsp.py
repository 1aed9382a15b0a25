"""Language-server latencies, measured against the real server over stdio and the scripted model server.

Prints
- `initialize` round trip: once the server process is up (target ≤ 300 ms), and from process start
  (imports included, for reference);
- `workspace/executeCommand` answer time: `microAgent.run` (the run goes on in the background) and
  `microAgent.status` (target ≤ 50 ms);
- `textDocument/codeAction` latency p50/p99 while a run is in progress (target p99 ≤ 20 ms);
- warm start → first model call after the initial test run: the server is warm (engine and litellm
  imported), a run starts, and the time from the initial test run's progress report to the first
  request at the model server (target ≤ 50 ms); the same on a cold server, for contrast.

    .venv/bin/python bench/bench_lsp.py [--actions 300] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "lsp")]
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from lsprotocol import types  # noqa: E402
from lsp_support import (CALC_FIXED, CALC_WRONG, TEST_ADD_ASSERT_LINE, calc_repo, execute, fenced,  # noqa: E402
                         make_client, server_env, stop_client, uri, wait_finished, wait_for)
from model_server import ScriptedModelServer  # noqa: E402
from pytest_lsp import client_capabilities  # noqa: E402

PROFILE = "neovim@v0.11.0"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def start(env: dict[str, str], root: Path, wait_before_initialize: float = 0.0):
    """Start a server; returns (client, seconds from process start to the initialize answer,
    seconds of the initialize round trip itself)."""
    client = make_client()
    started = time.perf_counter()
    await client.start_io(sys.executable, "-m", "micro_agent_lsp", env=env)
    if wait_before_initialize:
        await asyncio.sleep(wait_before_initialize)  # let the process finish its imports and wait on stdin
    sent = time.perf_counter()
    await client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(PROFILE), root_uri=uri(root), process_id=os.getpid()))
    answered = time.perf_counter()
    return client, answered - started, answered - sent


async def wait_warm(client) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (await execute(client, "microAgent.status"))["engineWarm"]:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not warm up in 60 s")


def initial_report_time(client, run_id: str) -> float | None:
    """When the client received the progress report of the initial test run (time.time())."""
    for received, value in getattr(client, "progress_times", {}).get(f"micro-agent/{run_id}", []):
        if (value.message or "").startswith("initial run"):
            return received
    return None


def record_progress_times(client) -> None:
    """Keep the arrival time of every $/progress value, beside pytest-lsp's own record."""
    client.progress_times = {}
    handler = client.protocol.fm.features[types.PROGRESS]

    def timed(params: types.ProgressParams) -> None:
        handler(params)
        reports = client.progress_reports.get(params.token, [])
        if reports:
            client.progress_times.setdefault(params.token, []).append((time.time(), reports[-1]))

    client.protocol.fm.features[types.PROGRESS] = timed


async def first_call_gap(client, server: ScriptedModelServer, work: Path, name: str) -> float:
    """A run on a fresh repo: initial test report received → first request at the model server."""
    model = f"{name}-{time.monotonic_ns()}"
    server.script(model, [fenced(CALC_FIXED)])
    root = calc_repo(work / model, f"openai/{model}")
    client.editor.open(root / "calc.py")
    run_id = (await execute(client, "microAgent.run", {"uri": uri(root / "calc.py")}))["runId"]
    await wait_finished(client, run_id)
    first_call = server.calls(model)[0]["at"]
    reported = initial_report_time(client, run_id)
    return first_call - reported


async def main(actions: int, runs: int) -> None:
    with ScriptedModelServer() as server, tempfile.TemporaryDirectory(prefix="bench-lsp-") as tmp:
        work = Path(tmp)
        env = server_env(server.url, work / "tmp")

        # 1. initialize
        client, cold_total, _ = await start(env, work)
        await stop_client(client)
        client, _, round_trip = await start(env, work, wait_before_initialize=3.0)
        record_progress_times(client)
        print(f"initialize round trip (process up)      {ms(round_trip)}   target ≤ 300 ms")
        print(f"process start → initialize answered     {ms(cold_total)}   (imports included)")

        # 2. executeCommand: run (answers at once) and status
        await wait_warm(client)
        run_times, status_times = [], []
        for i in range(runs):
            model = f"slow-{i}-{time.monotonic_ns()}"
            server.script(model, [{"content": fenced(CALC_WRONG), "delay": 0.2}, fenced(CALC_FIXED)])
            root = calc_repo(work / f"run-{i}", f"openai/{model}")
            test_uri = client.editor.open(root / "tests/test_calc.py")
            sent = time.perf_counter()
            run_id = (await execute(client, "microAgent.run", {"uri": test_uri, "line": TEST_ADD_ASSERT_LINE}))["runId"]
            run_times.append(time.perf_counter() - sent)
            for _ in range(10):
                sent = time.perf_counter()
                await execute(client, "microAgent.status", {"uri": test_uri})
                status_times.append(time.perf_counter() - sent)
            await wait_finished(client, run_id)
            client.editor.close_all()
        print(f"executeCommand microAgent.run   p50     {ms(statistics.median(run_times))}   "
              f"max {ms(max(run_times))}   target ≤ 50 ms")
        print(f"executeCommand microAgent.status p50    {ms(statistics.median(status_times))}   "
              f"p99 {ms(percentile(status_times, 99))}")

        # 3. code actions while a run is in progress
        model = f"busy-{time.monotonic_ns()}"
        server.script(model, [{"content": fenced(CALC_FIXED), "delay": 30}])
        root = calc_repo(work / "busy", f"openai/{model}")
        test_uri = client.editor.open(root / "tests/test_calc.py")
        run_id = (await execute(client, "microAgent.run", {"uri": test_uri}))["runId"]
        await wait_for(lambda: server.calls(model), 30, "the model call")
        latencies = []
        line = types.Range(start=types.Position(line=TEST_ADD_ASSERT_LINE, character=0),
                           end=types.Position(line=TEST_ADD_ASSERT_LINE, character=0))
        for _ in range(actions):
            sent = time.perf_counter()
            result = await client.text_document_code_action_async(types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=test_uri), range=line,
                context=types.CodeActionContext(diagnostics=[])))
            latencies.append(time.perf_counter() - sent)
        assert result and result[0].title == "Escalate Micro Agent run", result
        await execute(client, "microAgent.cancel", {"uri": test_uri})
        await wait_finished(client, run_id)
        client.editor.close_all()
        print(f"codeAction during a run ({actions}×)   p50  {ms(statistics.median(latencies))}   "
              f"p99 {ms(percentile(latencies, 99))}   target p99 ≤ 20 ms")

        # 4. warm server: initial test run → first model call
        gaps = [await first_call_gap(client, server, work, "warm") for _ in range(3)]
        client.editor.close_all()
        await stop_client(client)
        print(f"warm: initial tests → first model call  {ms(statistics.median(gaps))}   "
              f"(median of 3)   target ≤ 50 ms")

        cold, _, _ = await start(env, work)
        record_progress_times(cold)
        gap = await first_call_gap(cold, server, work, "cold")
        await stop_client(cold)
        print(f"cold: initial tests → first model call  {ms(gap)}   (a run sent right after initialize)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=300, help="code actions to time during a run")
    parser.add_argument("--runs", type=int, default=5, help="runs to start for the executeCommand figure")
    args = parser.parse_args()
    asyncio.run(main(args.actions, args.runs))
