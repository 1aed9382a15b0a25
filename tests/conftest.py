"""Shared fixtures: a scripted model server, real git projects in temp dirs, the installed command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from model_server import ScriptedModelServer  # noqa: E402

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
BIN = Path(sys.executable).parent
CALC_BUGGY = '''def add(a, b):
    return a - b


def mul(a, b):
    return a * b
'''
CALC_FIXED = CALC_BUGGY.replace("return a - b", "return a + b")
CALC_TESTS = '''from calc import add, mul


def test_add():
    assert add(2, 3) == 5


def test_mul():
    assert mul(2, 3) == 6
'''
GIT_ENV = {"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
           "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}


def fenced(code: str, lang: str = "python") -> str:
    return f"Here is the fix.\n```{lang}\n{code}```\n"


# Three independent bugs for the several-target runs (local pool and Ray): target -> (buggy, fixed, its test).
THREE_BUGS = {
    "src/calc.py": ("def add(a, b):\n    return a - b\n", "def add(a, b):\n    return a + b\n",
                    "from src.calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"),
    "src/stats.py": ("def mean(v):\n    return sum(v) / (len(v) + 1)\n", "def mean(v):\n    return sum(v) / len(v)\n",
                     "from src.stats import mean\n\n\ndef test_mean():\n    assert mean([2, 4]) == 3\n"),
    "src/text.py": ("def shout(s):\n    return s.lower()\n", "def shout(s):\n    return s.upper()\n",
                    "from src.text import shout\n\n\ndef test_shout():\n    assert shout('hi') == 'HI'\n"),
}


def bug_files(bugs: dict[str, tuple[str, str, str]]) -> dict[str, str]:
    """A project's files for `bugs`: each buggy target and its test, a conftest.py and a .gitignore."""
    files = {"conftest.py": "", ".gitignore": ".micro-agent/\n__pycache__/\n"}
    for target, (buggy, _fixed, test) in bugs.items():
        files[target] = buggy
        files[f"tests/test_{Path(target).stem}.py"] = test
    return files


def fix_what_is_shown(request: dict) -> str:
    """A scripted reply that fixes whichever of THREE_BUGS the artisan's prompt shows."""
    for target, (_buggy, fixed, _test) in THREE_BUGS.items():
        if f"## File to fix: {target}" in request["prompt"]:
            return fenced(fixed)
    return "I do not know this file."


TEST_CACHE = Path(os.environ.get("MICRO_AGENT_TEST_CACHE", Path.home() / ".cache" / "micro-agent-tests"))


@pytest.fixture(scope="session")
def js_tools() -> Path:
    """node_modules with vitest and jest, installed once into a cache outside the repo (.ci/run pre-installs it).

    Skips when npm cannot install them on a developer's machine; fails in CI, where they must be there.
    """
    cache = TEST_CACHE / "js"
    modules = cache / "node_modules"
    if not (modules / ".bin" / "vitest").exists() or not (modules / ".bin" / "jest").exists():
        try:
            cache.mkdir(parents=True, exist_ok=True)
            if not (cache / "package.json").exists():
                (cache / "package.json").write_text('{"name": "micro-agent-test-tools", "private": true}\n')
            subprocess.run(["npm", "install", "--no-audit", "--no-fund", "vitest@4", "jest@30"],
                           cwd=cache, check=True, capture_output=True, timeout=300)
        except (subprocess.SubprocessError, OSError) as exc:
            if os.environ.get("CI"):
                raise
            pytest.skip(f"could not install vitest and jest into {cache}: {exc}")
    return modules


@pytest.fixture(scope="session")
def model_server():
    with ScriptedModelServer() as server:
        yield server


@pytest.fixture
def model(model_server):
    """A fresh model name on the scripted server: `model("artisan")` -> 'openai/artisan-1a2b3c'."""
    def make(role: str = "m") -> str:
        return f"openai/{role}-{uuid.uuid4().hex[:8]}"
    return make


def make_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    env = {**os.environ, **GIT_ENV}
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "init"]):
        subprocess.run(cmd, cwd=path, check=True, env=env)
    return path


@pytest.fixture
def calc_repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "proj", {"calc.py": CALC_BUGGY, "tests/test_calc.py": CALC_TESTS,
                                         "conftest.py": "", ".gitignore": ".micro-agent/\n"})


def cmd_for_tests(test_path: str = "tests/test_calc.py") -> str:
    return f"{sys.executable} -m pytest -q {test_path}"


@pytest.fixture
def cli_env(model_server, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(OPENAI_API_BASE=model_server.url, OPENAI_API_KEY="test-key", LITELLM_LOCAL_MODEL_COST_MAP="True",
               NO_COLOR="1", COLUMNS="200", TMPDIR=str(tmp_path / "tmp"),
               PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")  # the projects under test need no plugins: faster runs
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return env


def micro_agent(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the installed `micro-agent` command."""
    exe = shutil.which("micro-agent", path=str(BIN)) or str(BIN / "micro-agent")
    return subprocess.run([exe, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
