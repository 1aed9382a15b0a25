"""Fixtures for the autopilot tests: a real repo with a real bare remote and two independent bugs in two
source files, the recording forge, and a scripted model that fixes whichever file it is shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import GIT_ENV, fenced, micro_agent  # noqa: E402,F401  (re-exported for the test modules)
from forge_server import RecordingForge  # noqa: E402

CALC = "def add(a, b):\n    return a - b\n"
CALC_FIXED = "def add(a, b):\n    return a + b\n"
STATS = "def mean(values):\n    return sum(values) / (len(values) - 1)\n"
STATS_FIXED = "def mean(values):\n    return sum(values) / len(values)\n"
TEST_CALC = "from src.calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
# The traceback of this one ends inside src/stats.py (ZeroDivisionError): found by frame, not by name.
TEST_REPORT = ("from src.stats import mean\n\n\ndef test_mean_of_one():\n    assert mean([4]) == 4\n\n\n"
               "def test_mean_of_two():\n    assert mean([2, 4]) == 3\n")
TOKEN = "forge-token-123"
REPO = "acme/calc"


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **GIT_ENV})
    assert done.returncode == 0, done.stderr
    return done.stdout


def checkout_state(repo: Path) -> dict[str, str]:
    """HEAD, branch, index and status of the user's checkout, to compare before and after."""
    return {"head": git(repo, "rev-parse", "HEAD"), "branch": git(repo, "symbolic-ref", "HEAD"),
            "index": git(repo, "ls-files", "--stage"), "status": git(repo, "status", "--porcelain", "-uall"),
            "diff": git(repo, "diff"), "cached": git(repo, "diff", "--cached")}


def fixer(request: dict) -> str:
    """The scripted artisan: the fixed version of whichever file the prompt asks for."""
    prompt = request["prompt"]
    if "## File to fix: src/calc.py" in prompt:
        return fenced(CALC_FIXED)
    if "## File to fix: src/stats.py" in prompt:
        return fenced(STATS_FIXED)
    return "I do not know this file."


def write_config(root: Path, artisan: str, forge_url: str | None, **policy) -> None:
    autopilot = {"suite": f"{sys.executable} -m pytest -q tests", "remote": "origin", "base": "main",
                 "branchPrefix": "micro-agent/",
                 "policy": {"allowedPaths": ["src/**"], "maxConcurrentRuns": 2, **policy}}
    if forge_url:
        autopilot["forge"] = {"kind": "github", "repo": REPO, "apiUrl": forge_url, "tokenEnv": "TEST_FORGE_TOKEN"}
    config = {"models": {"artisan": artisan}, "budget": {"maxIterations": 3}, "autopilot": autopilot}
    (root / "micro-agent.yml").write_text(json.dumps(config, indent=2))  # JSON is YAML


@pytest.fixture
def forge():
    with RecordingForge(token=TOKEN) as server:
        yield server


@pytest.fixture
def artisan(model_server) -> str:
    name = f"fixer-{uuid.uuid4().hex[:8]}"
    model_server.script(name, [fixer])
    return f"openai/{name}"


def make_project(tmp_path: Path, artisan: str, forge_url: str | None, **policy) -> tuple[Path, Path]:
    """(the user's checkout, the bare remote). The user sits on branch `work` with a staged change, an
    unstaged change and an untracked file; `main` on the remote holds both bugs."""
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    root = tmp_path / "proj"
    files = {"src/calc.py": CALC, "src/stats.py": STATS, "tests/test_calc.py": TEST_CALC,
             "tests/test_report.py": TEST_REPORT, "conftest.py": "", "README.md": "# calc\n",
             ".gitignore": ".micro-agent/\n__pycache__/\n"}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    write_config(root, artisan, forge_url, **policy)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "two bugs")
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "main")
    git(root, "checkout", "-q", "-b", "work")
    (root / "README.md").write_text("# calc\n\nstaged\n")
    git(root, "add", "README.md")
    (root / "src" / "calc.py").write_text(CALC + "# my unsaved thought\n")
    (root / "notes.txt").write_text("untracked\n")
    return root, remote


def env_for(cli_env: dict[str, str]) -> dict[str, str]:
    return {**cli_env, "TEST_FORGE_TOKEN": TOKEN}


BIN_MICRO_AGENT = str(Path(sys.executable).parent / "micro-agent")


@pytest.fixture
def slow_artisan(model_server):
    """(model name, state): a fixer that answers after `state['delay']` seconds."""
    state = {"delay": 0.0}
    name = f"slow-{uuid.uuid4().hex[:8]}"

    def reply(request):
        return {"content": fixer(request), "delay": state["delay"]}

    model_server.script(name, [reply])
    return f"openai/{name}", state
