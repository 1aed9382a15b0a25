"""Failure locations from the node and cargo runners become diagnostics at the right lines (issue 6, item 5)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import pytest_asyncio
from lsp_support import RecordingClient, ours, server_env, start_client, stop_client, wait_for

pytestmark = pytest.mark.asyncio(loop_scope="module")
EXAMPLES = Path(__file__).parents[2] / "examples"


def example_copy(name: str, dest: Path) -> Path:
    shutil.copytree(EXAMPLES / name, dest / name, ignore=shutil.ignore_patterns("node_modules", "target"))
    subprocess.run(["git", "init", "-q"], cwd=dest / name, check=True)
    return dest / name


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(model_server, tmp_path_factory):
    home = tmp_path_factory.mktemp("lsp-languages")
    started = await start_client("neovim@v0.11.0", server_env(model_server.url, home / "tmp"), home)
    yield started
    await stop_client(started)


def lines_of(diagnostics) -> set[int]:
    return {d.range.start.line + 1 for d in ours(diagnostics)}  # 1-based, as the editors show them


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
async def test_node_test_failures_land_on_their_assertions(client: RecordingClient, tmp_path):
    root = example_copy("javascript-node", tmp_path)
    test_uri = client.editor.open(root / "test/temperature.test.js", language="javascript")
    diagnostics = await wait_for(lambda: ours(client.diagnostics.get(test_uri, [])), 60, "node diagnostics")
    assert {7, 11, 15} <= lines_of(diagnostics)  # assert.equal(toFahrenheit(0), 32) … warmest([3, 9, 4, 12])
    assert any("Expected values to be strictly equal" in d.message for d in diagnostics)


@pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")
async def test_cargo_panics_land_on_their_lines(client: RecordingClient, tmp_path):
    root = example_copy("rust-crate", tmp_path)
    lib_uri = client.editor.open(root / "src/lib.rs", language="rust")
    diagnostics = await wait_for(lambda: ours(client.diagnostics.get(lib_uri, [])), 120, "cargo diagnostics")
    assert 66 in lines_of(diagnostics)  # the in-file #[cfg(test)] assertion that panics
    assert any("assertion" in d.message for d in diagnostics)
    tests_uri = client.editor.open(root / "tests/roman.rs", language="rust")
    in_tests = await wait_for(lambda: ours(client.diagnostics.get(tests_uri, [])), 120, "tests/roman.rs diagnostics")
    assert 5 in lines_of(in_tests)  # assert_eq!(to_roman(3).as_deref(), Some("III"))
