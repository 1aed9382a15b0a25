"""The commands the README and the tutorials show are run here, as a reader would type them.

Where a command needs a cloud model, the scripted model server stands in for it (`--artisan openai/…`
is added); everything else — the files, the flags, the test command — is taken from the page itself.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import BIN, GIT_ENV, fenced, make_repo, micro_agent

REPO = Path(__file__).resolve().parent.parent
TUTORIALS = REPO / "docs" / "tutorials"
BLOCK = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```", re.S | re.M)
PATH_COMMENT = re.compile(r"^(?:#|//) (?P<path>[\w./-]+\.\w+)\n")


def blocks(page: Path, lang: str) -> list[str]:
    return [m["body"] for m in BLOCK.finditer(page.read_text()) if m["lang"] == lang]


def documented_runs(page: Path) -> list[list[str]]:
    """Every `micro-agent run …` line of the page's bash blocks, as argv (comments dropped)."""
    runs = []
    for body in blocks(page, "bash"):
        for line in body.splitlines():
            line = line.split("   #")[0].strip()
            if line.startswith("micro-agent run "):
                runs.append(shlex.split(line)[1:])
    return runs


def documented_files(page: Path, lang: str) -> dict[str, str]:
    """The files a page shows as code blocks whose first line names them (`# calc.py`, `// src/cart.ts`)."""
    files = {}
    for body in blocks(page, lang):
        if named := PATH_COMMENT.match(body):
            files[named["path"]] = body[named.end():]
    return files


def reader_env(cli_env: dict[str, str]) -> dict[str, str]:
    """A reader's shell with the project's environment active (the tutorials say: activate it)."""
    return {**cli_env, "PATH": f"{BIN}{os.pathsep}{cli_env.get('PATH', '')}"}


def test_the_readme_demo_fixes_the_bundled_example_without_warnings() -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    done = subprocess.run(["bash", "scripts/demo.sh"], cwd=REPO, env={**env, "NO_COLOR": "1", "COLUMNS": "160"},
                          capture_output=True, text=True, timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "Solved" in out or "solved" in out, out
    assert "Every attempt is in the audit log" in out and "calc.py" in out
    assert not [line for line in out.splitlines() if re.search(r"\bwarn(ing)?\b", line, re.I)], out


def test_the_readme_usage_names_only_commands_that_exist() -> None:
    readme = (REPO / "README.md").read_text()
    usage = next(body for body in blocks(REPO / "README.md", "") if "micro-agent run TARGET" in body)
    commands = sorted({line.split()[1] for line in usage.splitlines() if line.startswith("micro-agent ")})
    assert "run" in commands and "audit" in commands, readme
    for command in commands:
        done = subprocess.run([str(BIN / "micro-agent"), command, "--help"], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, f"README names `micro-agent {command}`: {done.stderr}"


def test_the_python_tutorial_runs_as_written(tmp_path: Path, model_server, cli_env, model) -> None:
    page = TUTORIALS / "python.md"
    files = documented_files(page, "python")
    assert set(files) == {"calc.py", "tests/test_calc.py"}
    project = make_repo(tmp_path / "calc", {**files, ".gitignore": ".micro-agent/\n"})
    [argv] = documented_runs(page)
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [fenced(files["calc.py"].replace("a - b", "a + b"))])
    done = micro_agent([*argv, "--artisan", artisan], project, reader_env(cli_env))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "return a + b" in (project / "calc.py").read_text()
    assert subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/test_calc.py"], cwd=project,
                          capture_output=True).returncode == 0


def test_the_javascript_example_runs_as_the_tutorial_says(tmp_path: Path, model_server, cli_env, model) -> None:
    if shutil.which("node") is None:
        import pytest

        pytest.skip("node is not installed")
    page = TUTORIALS / "typescript-javascript.md"
    said = re.search(r"`examples/(?P<example>[\w-]+)` is the same in plain JavaScript.*?`micro-agent run (?P<target>[^`]+)`",
                     page.read_text(), re.S)
    assert said, "the tutorial no longer names the JavaScript example and its command"
    example = REPO / "examples" / said["example"]
    project = tmp_path / said["example"]
    shutil.copytree(example, project)
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "buggy"]):
        subprocess.run(cmd, cwd=project, check=True, env={**os.environ, **GIT_ENV})
    replies = json.loads((example / "demo-model.json").read_text())["demo-artisan"]
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), replies)
    done = micro_agent(["run", said["target"], "--artisan", artisan, "--no-escalate"], project, reader_env(cli_env))
    assert done.returncode == 0, done.stdout + done.stderr
    assert subprocess.run(["node", "--test"], cwd=project, capture_output=True).returncode == 0
