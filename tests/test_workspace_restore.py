"""The cheap restore and stray-changes check (issue 12): one `git status` per iteration, and what it must
still guarantee — every test run starts from the seed except the target, and a candidate's test run that
changed other files is caught, even when it hid its change from the working copy's index."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from micro_agent.workspace import Workspace

IDENTITY = {"GIT_AUTHOR_NAME": "User", "GIT_AUTHOR_EMAIL": "user@example.com",
            "GIT_COMMITTER_NAME": "User", "GIT_COMMITTER_EMAIL": "user@example.com"}


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **IDENTITY}, check=True).stdout


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture(params=["worktree", "copy"])
def ws(request: pytest.FixtureRequest, tmp_path: Path):
    """A workspace of a project (a git worktree, or a temp copy of a folder without git), calc.py written."""
    root = tmp_path / "proj"
    write(root / "calc.py", "def add(a, b):\n    return a - b\n")
    write(root / "tests" / "test_calc.py", "def test_add():\n    assert True\n")
    write(root / "data" / "table.txt", "1 2 3\n")
    write(root / ".gitignore", "build/\n*.log\n")
    write(root / "node_modules" / "dep" / "index.js", "module.exports = 1\n")
    if request.param == "worktree":
        sh(root, "init", "-q")
        sh(root, "add", ".")
        sh(root, "commit", "-qm", "init")
    with Workspace.create(root, f"restore-{request.param}") as made:
        made.write({"calc.py": "def add(a, b):\n    return a + b\n"})
        made.commit("micro-agent restore tier 0 iteration 1")
        yield made


def test_restore_puts_back_changed_deleted_new_and_ignored_files_and_keeps_the_target(ws: Workspace) -> None:
    write(ws.path / "tests" / "test_calc.py", "def test_add():\n    pass\n")  # a rewritten test
    (ws.path / "data" / "table.txt").unlink()  # a deleted fixture
    write(ws.path / "conftest.py", "import pytest\n")  # a new file
    write(ws.path / "build" / "deep" / "out.bin", "x")  # an ignored folder
    write(ws.path / "run.log", "log")  # an ignored file
    write(ws.path / "fresh" / "nested" / "new.txt", "n")  # a new folder
    assert ws.stray_changes() == ["conftest.py", "data/table.txt", "fresh/nested/new.txt", "tests/test_calc.py"]
    ws.restore()
    assert (ws.path / "tests" / "test_calc.py").read_text() == "def test_add():\n    assert True\n"
    assert (ws.path / "data" / "table.txt").read_text() == "1 2 3\n"
    for gone in ("conftest.py", "build", "run.log", "fresh"):
        assert not (ws.path / gone).exists(), gone
    assert ws.read("calc.py") == "def add(a, b):\n    return a + b\n"
    assert (ws.path / "node_modules" / "dep" / "index.js").read_text() == "module.exports = 1\n"
    assert ws.stray_changes() == []


def test_restore_without_a_check_first_scans_for_itself(ws: Workspace) -> None:
    write(ws.path / "tests" / "test_calc.py", "changed\n")
    ws.write({"calc.py": "def add(a, b):\n    return b + a\n"})  # a write makes any earlier scan stale
    write(ws.path / "extra.py", "X = 1\n")
    ws.restore()
    assert (ws.path / "tests" / "test_calc.py").read_text() == "def test_add():\n    assert True\n"
    assert not (ws.path / "extra.py").exists()
    assert ws.read("calc.py") == "def add(a, b):\n    return b + a\n"


def test_a_test_run_that_stages_its_change_in_the_copy_is_still_caught_and_undone(ws: Workspace) -> None:
    """`git add` inside the working copy makes its index agree with the tampered file: the check must not
    trust that index, and the restore must still put the seed back."""
    write(ws.path / "tests" / "test_calc.py", "def test_add():\n    pass\n")
    write(ws.path / "planted.py", "X = 1\n")
    subprocess.run(["git", "add", "-A", "."], cwd=ws.path, check=True, capture_output=True,
                   env={**os.environ, **IDENTITY})
    assert ws.stray_changes() == ["planted.py", "tests/test_calc.py"]
    ws.restore()
    assert (ws.path / "tests" / "test_calc.py").read_text() == "def test_add():\n    assert True\n"
    assert not (ws.path / "planted.py").exists()
    assert ws.read("calc.py") == "def add(a, b):\n    return a + b\n"
    assert ws.stray_changes() == []
    ws.write({"calc.py": "def add(a, b):\n    return a + b + 0\n"})  # commits still work on the reset index
    assert ws.commit("micro-agent restore tier 0 iteration 2") is not None
    assert ws.changed_files() == {"calc.py": "def add(a, b):\n    return a + b + 0\n"}


def test_a_rewritten_target_is_stray_and_restore_writes_it_back(ws: Workspace) -> None:
    write(ws.path / "calc.py", "def add(a, b):\n    return 42\n")
    assert ws.stray_changes() == ["calc.py"]
    ws.restore()
    assert ws.read("calc.py") == "def add(a, b):\n    return a + b\n"


def test_a_staged_change_is_caught_even_when_the_candidate_commit_lands_after_it(ws: Workspace) -> None:
    """The background commit runs while the tests do: it must neither make a test's `git add` look like
    ours nor carry the staged file into the candidate's commit."""
    write(ws.path / "tests" / "test_calc.py", "def test_add():\n    pass\n")
    subprocess.run(["git", "add", "tests/test_calc.py"], cwd=ws.path, check=True, capture_output=True,
                   env={**os.environ, **IDENTITY})
    ws.write({"calc.py": "def add(a, b):\n    return a + b  # 2\n"})
    sha = ws.commit("micro-agent restore tier 0 iteration 2")
    assert sha is not None
    assert ws.stray_changes() == ["tests/test_calc.py"]
    changed = subprocess.run(["git", "diff-tree", "--no-commit-id", "--name-only", "-r", sha], cwd=ws.path,
                             capture_output=True, text=True, check=True).stdout.split()
    assert changed == ["calc.py"]
    ws.restore()
    assert (ws.path / "tests" / "test_calc.py").read_text() == "def test_add():\n    assert True\n"
    assert ws.stray_changes() == []
