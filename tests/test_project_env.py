"""The project's own environment (issue 11): tests run with the project's venv first on PATH.

The projects here get real venvs (`python -m venv --without-pip`, fast) whose site-packages point at the
interpreter running these tests (a `.pth` line), so `micro-agent` and `pytest` import there exactly as
after `.venv/bin/pip install micro-agent pytest`, without a network. The end-to-end tests start the
project venv's own `micro-agent` with a PATH that has no `python` and no venv on it, the way an editor
started from a desktop launcher (or `.venv/bin/micro-agent run` without activating) leaves it.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import CALC_BUGGY, CALC_FIXED, CALC_TESTS, fenced, make_repo

from micro_agent.environment import ProjectEnvironment, resolve_environment

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lsp"))
from lsp_support import execute, make_client, ours, server_env, stop_client, uri, wait_finished, wait_for  # noqa: E402
from lsprotocol import types  # noqa: E402

MINIMAL_PATH = "/usr/bin:/bin"  # git is there; `python` is not (Debian has only python3, without pytest)
TEST_CMD = "python -m pytest -q -p no:cacheprovider tests/test_calc.py"


def make_venv(path: Path, *, with_micro_agent: bool = True) -> Path:
    """A real venv at `path`; with micro-agent (and pytest) importable and `bin/micro-agent` like pip writes it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, capture_output=True)
    if with_micro_agent:
        site = next((path / "lib").glob("python*/site-packages"))
        ours = sysconfig.get_paths()["purelib"]
        (site / "from_test_interpreter.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
        script = path / "bin" / "micro-agent"
        script.write_text(f"#!{path}/bin/python\nimport sys\nfrom micro_agent_cli.main import main\nsys.exit(main())\n")
        script.chmod(0o755)
    return path


def fake_prefix(path: Path, *, venv: bool = True) -> Path:
    """A folder shaped like a Python environment: bin/python (executable) and, for a venv, pyvenv.cfg."""
    (path / "bin").mkdir(parents=True)
    python = path / "bin" / "python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    if venv:
        (path / "pyvenv.cfg").write_text("home = /usr/bin\n")
    return path


def minimal_env(cli_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in cli_env.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH")}
    env["PATH"] = MINIMAL_PATH
    return env


# ---------------------------------------------------------------- which environment


def test_the_order_selected_then_in_project_then_virtual_env_then_our_own(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    active = fake_prefix(tmp_path / "activated")
    ours = fake_prefix(tmp_path / "ours")
    picked = fake_prefix(tmp_path / "picked")

    def resolve(**kw):
        return resolve_environment(root, environ=kw.pop("environ", {"VIRTUAL_ENV": str(active)}),
                                   running_prefix=str(ours), base_prefix="/usr", **kw)

    assert resolve(selected=str(picked / "bin" / "python")).prefix == str(picked)
    assert resolve(selected=str(picked)).source == "selected"  # a venv folder works as well
    assert resolve().source == "VIRTUAL_ENV"
    fake_prefix(root / "env")
    assert (resolve().source, resolve().prefix) == ("project", str(root / "env"))
    fake_prefix(root / ".venv")
    assert resolve().prefix == str(root / ".venv")  # .venv (uv, Poetry in-project) before venv/ and env/
    assert resolve(selected=str(picked / "bin" / "python")).source == "selected"
    shutil.rmtree(root / ".venv")
    shutil.rmtree(root / "env")
    assert (resolve(environ={}).source, resolve(environ={}).prefix) == ("micro-agent", str(ours))
    none = resolve_environment(root, environ={}, running_prefix="/usr", base_prefix="/usr")  # not a venv
    assert none.source == "none" and none.variables({"PATH": "/bin"}) == {}
    assert "none found" in none.describe()


def test_uv_project_environment_and_a_bad_selection_are_followed_and_named(tmp_path):
    root = tmp_path / "proj"
    fake_prefix(root / ".venv")
    fake_prefix(root / "build-env")
    env = resolve_environment(root, environ={"UV_PROJECT_ENVIRONMENT": "build-env"}, running_prefix="/x",
                              base_prefix="/x")
    assert env.prefix == str(root / "build-env")
    missing = resolve_environment(root, selected="/nowhere/bin/python", environ={}, running_prefix="/x",
                                  base_prefix="/x")
    assert missing.source == "project" and missing.prefix == str(root / ".venv")
    assert "/nowhere/bin/python is not a Python executable or venv" in missing.warnings[0]


def test_variables_put_bin_first_and_set_virtual_env_only_for_a_venv(tmp_path):
    root = tmp_path / "proj"
    fake_prefix(root / ".venv")
    (root / "node_modules" / ".bin").mkdir(parents=True)
    env = resolve_environment(root, environ={}, running_prefix="/x", base_prefix="/x")
    assert env.variables({"PATH": "/usr/bin:/bin"}) == {
        "PATH": f"{root}/node_modules/.bin:{root}/.venv/bin:/usr/bin:/bin", "VIRTUAL_ENV": str(root / ".venv")}
    assert env.describe() == f"{root}/.venv (the project's venv) + {root}/node_modules/.bin"
    system = fake_prefix(tmp_path / "opt-python", venv=False)
    picked = resolve_environment(root, selected=str(system / "bin" / "python"), environ={})
    assert "VIRTUAL_ENV" not in picked.variables({"PATH": "/bin"})
    off = resolve_environment(root, enabled=False)
    assert off.source == "off" and off.variables({"PATH": "/bin"}) == {} and off.describe().startswith("off")
    assert ProjectEnvironment.model_validate_json(env.model_dump_json()) == env


# ---------------------------------------------------------------- the CLI, end to end


def venv_project(tmp_path: Path, yml: str = "") -> Path:
    repo = make_repo(tmp_path / "proj", {"calc.py": CALC_BUGGY, "tests/test_calc.py": CALC_TESTS, "conftest.py": "",
                                         ".gitignore": ".micro-agent/\n.venv/\n",
                                         "micro-agent.yml": f"test: {TEST_CMD}\n{yml}"})
    make_venv(repo / ".venv")
    return repo


def run_cli(repo: Path, args: list[str], env: dict[str, str], exe: Path | None = None):
    exe = exe or repo / ".venv" / "bin" / "micro-agent"
    return subprocess.run([str(exe), "run", "calc.py", *args], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=180)


def test_cli_from_the_project_venv_with_no_python_on_path_fixes_the_bug(tmp_path, model_server, model, cli_env):
    repo = venv_project(tmp_path)
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [fenced(CALC_FIXED)])
    env = minimal_env(cli_env)
    assert shutil.which("python", path=MINIMAL_PATH) is None  # the premise: `python` means nothing here
    done = run_cli(repo, ["--artisan", artisan, "--json"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["outcome"] == "success" and report["test_command"] == TEST_CMD
    assert report["environment"]["source"] == "project"
    assert report["environment"]["prefix"] == str(repo / ".venv")
    assert (repo / "calc.py").read_text() == CALC_FIXED


def test_cli_header_names_the_environment_and_no_project_env_turns_it_off(tmp_path, model_server, model, cli_env):
    repo = venv_project(tmp_path)
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [fenced(CALC_FIXED)])
    env = minimal_env(cli_env)
    off = run_cli(repo, ["--artisan", artisan, "--no-project-env"], env)
    assert off.returncode == 2, off.stdout + off.stderr  # `python` is not found: a broken test command
    assert "Environment: off" in off.stdout and "python" in off.stdout
    assert (repo / "calc.py").read_text() == CALC_BUGGY  # nothing lost
    assert not model_server.calls(artisan.removeprefix("openai/"))  # stopped before any model call
    on = run_cli(repo, ["--artisan", artisan], env)
    assert on.returncode == 0, on.stdout + on.stderr
    assert f"Environment: {repo}/.venv (the project's venv)" in " ".join(on.stdout.split())


def test_micro_agent_yml_project_env_false_turns_it_off(tmp_path, model_server, model, cli_env):
    repo = venv_project(tmp_path, yml="projectEnv: false\n")
    artisan = model("artisan")
    done = run_cli(repo, ["--artisan", artisan, "--json"], minimal_env(cli_env))
    assert done.returncode == 2
    assert json.loads(done.stdout)["environment"]["source"] == "off"


def test_our_own_venv_serves_a_project_without_one(tmp_path, model_server, model, cli_env):
    """`/somewhere/.venv/bin/micro-agent run` on a project with no venv: micro-agent's venv runs `python`."""
    repo = make_repo(tmp_path / "proj", {"calc.py": CALC_BUGGY, "tests/test_calc.py": CALC_TESTS, "conftest.py": "",
                                         ".gitignore": ".micro-agent/\n", "micro-agent.yml": f"test: {TEST_CMD}\n"})
    tool = make_venv(tmp_path / "tools" / "micro-agent-venv")
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [fenced(CALC_FIXED)])
    done = run_cli(repo, ["--artisan", artisan, "--json"], minimal_env(cli_env), exe=tool / "bin" / "micro-agent")
    assert done.returncode == 0, done.stdout + done.stderr
    environment = json.loads(done.stdout)["environment"]
    assert environment["source"] == "micro-agent" and environment["prefix"] == str(tool)


# ---------------------------------------------------------------- the language server


def conftest_logging_to(log: Path) -> str:
    """A conftest.py that records each pytest run's interpreter prefix and VIRTUAL_ENV."""
    return ("import json, os, sys\n\n"
            f"with open({str(log)!r}, 'a') as f:\n"
            "    f.write(json.dumps({'prefix': sys.prefix, 'virtual_env': os.environ.get('VIRTUAL_ENV')}) + '\\n')\n")


async def test_lsp_runs_the_tests_with_the_interpreter_the_editor_selected(tmp_path, model_server, model):
    """The server runs in our venv, the project has none; the editor's `interpreter` (a venv elsewhere) wins."""
    picked = make_venv(tmp_path / "envs" / "picked")
    log = tmp_path / "test-runs.jsonl"
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [fenced(CALC_FIXED)])
    repo = make_repo(tmp_path / "proj", {
        "calc.py": CALC_BUGGY, "tests/test_calc.py": CALC_TESTS, "conftest.py": conftest_logging_to(log),
        ".gitignore": ".micro-agent/\n", "micro-agent.yml":
            f"test: {TEST_CMD}\nmodels: {{artisan: {artisan}, librarian: {artisan}, critic: {artisan}}}\n"})
    env = {k: v for k, v in server_env(model_server.url, tmp_path / "tmp").items() if k != "VIRTUAL_ENV"}
    env["PATH"] = MINIMAL_PATH
    client = make_client()
    await client.start_io(sys.executable, "-m", "micro_agent_lsp", env=env)
    try:
        result = await client.initialize_session(types.InitializeParams(
            capabilities=types.ClientCapabilities(), root_uri=uri(repo),
            initialization_options={"microAgent": {"interpreter": str(picked / "bin" / "python")}}))
        assert result.server_info.version == importlib.metadata.version("micro-agent")
        test_uri = client.editor.open(repo / "tests/test_calc.py")
        await wait_for(lambda: ours(client.diagnostics.get(test_uri, [])), 60, "diagnostics from tests on open")
        started = await execute(client, "microAgent.run", {"uri": test_uri})
        finished = await wait_finished(client, started["runId"], timeout=120)
        assert finished["outcome"] == "success", finished
    finally:
        await stop_client(client)
    runs = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(runs) >= 3  # tests on open, the initial run, the candidate (and its confirmation)
    assert {r["virtual_env"] for r in runs} == {str(picked)}
    assert all(r["prefix"] == str(picked) for r in runs)


# ---------------------------------------------------------------- Neovim, headless, from a desktop-like PATH


@pytest.mark.skipif(not Path("/usr/bin/nvim").exists(), reason="Neovim is not installed: run .ci/install-editors.sh")
def test_neovim_with_the_project_venv_and_a_minimal_path(tmp_path, model_server, model, cli_env):
    repo = venv_project(tmp_path)
    artisan = model("artisan")
    (repo / "micro-agent.yml").write_text(
        f"test: {TEST_CMD}\nmodels: {{artisan: {artisan}, librarian: {artisan}, critic: {artisan}}}\n")
    model_server.script(artisan.removeprefix("openai/"), [fenced(CALC_FIXED)])
    env = minimal_env(cli_env)
    home = tmp_path / "home"
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[name] = str(home / name.lower())
        os.makedirs(env[name], exist_ok=True)
    env.update(MICRO_AGENT_TEST_FILE=str(repo / "tests/test_calc.py"), MICRO_AGENT_CLIENT_DIR=str(REPO / "clients/neovim"),
               MICRO_AGENT_LSP_CMD=f"{repo}/.venv/bin/micro-agent lsp", MICRO_AGENT_TIMEOUT_MS="90000")
    done = subprocess.run(["/usr/bin/nvim", "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c",
                           f"luafile {REPO / 'clients/neovim/test/e2e.lua'}"], cwd=repo, env=env, text=True,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=240)
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "PASS" in output, output[-4000:]
    assert "diagnostic on line 5 assert -1 == 5" in output  # tests on open ran `python` from the venv
    assert "run finished success" in output
    assert (repo / "calc.py").read_text() == CALC_FIXED
