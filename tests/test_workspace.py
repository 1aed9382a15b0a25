"""Workspace: the isolated copy a run works in, against real git repositories in tmp dirs."""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from micro_agent.workspace import Workspace, WorkspaceError, prune_stale

USER_IDENTITY = {
    "GIT_AUTHOR_NAME": "User", "GIT_AUTHOR_EMAIL": "user@example.com",
    "GIT_COMMITTER_NAME": "User", "GIT_COMMITTER_EMAIL": "user@example.com",
}


@pytest.fixture(autouse=True)
def no_git_identity(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No global or system git config: the workspace must commit without the user's identity."""
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in [*USER_IDENTITY, "EMAIL", "GIT_CONFIG_GLOBAL"]:
        monkeypatch.delenv(name, raising=False)


def sh(cwd: Path, *args: str) -> str:
    """Run git as the user does (their identity comes from the env of this call only)."""
    done = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, capture_output=True, text=True,
        env={**os.environ, **USER_IDENTITY}, check=True,
    )
    return done.stdout


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode())
    return path


def worktrees(repo: Path) -> list[str]:
    return [line for line in sh(repo, "worktree", "list", "--porcelain").splitlines() if line.startswith("worktree ")]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A committed project: calc.py, a test, a file to delete, an executable script, an ignored node_modules."""
    root = tmp_path / "proj"
    write(root / "calc.py", "def add(a, b):\n    return a - b\n")
    write(root / "tests" / "test_calc.py", "from calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n")
    write(root / "old.py", "OLD = 1\n")
    write(root / "run.sh", "#!/bin/sh\necho hi\n").chmod(0o755)
    write(root / ".gitignore", "node_modules/\n__pycache__/\n")
    write(root / "node_modules" / "dep" / "index.js", "module.exports = 1\n")
    sh(root, "init", "-q")
    sh(root, "add", ".")
    sh(root, "commit", "-qm", "init")
    return root


def user_state(repo: Path) -> tuple[str, str, bytes, str]:
    """What must not change under the user: HEAD, branch, index bytes, status."""
    return (
        sh(repo, "rev-parse", "HEAD"), sh(repo, "symbolic-ref", "HEAD"),
        (repo / ".git" / "index").read_bytes(), sh(repo, "--no-optional-locks", "status", "--porcelain"),
    )


def test_seed_has_uncommitted_untracked_deleted_and_unsaved_content(repo: Path) -> None:
    write(repo / "calc.py", "def add(a, b):\n    return a - b  # edited, not committed\n")
    write(repo / "helpers.py", "HELP = 1\n")  # untracked
    (repo / "old.py").unlink()
    before = user_state(repo)

    with Workspace.create(repo, "seed1", overlays={"tests/test_calc.py": "# unsaved buffer\n"}) as ws:
        assert ws.path != repo and ws.path.is_dir()
        assert ws.read("calc.py").endswith("# edited, not committed\n")
        assert ws.read("helpers.py") == "HELP = 1\n"
        assert not (ws.path / "old.py").exists()
        assert ws.read("tests/test_calc.py") == "# unsaved buffer\n"
        assert os.access(ws.path / "run.sh", os.X_OK)
        assert (ws.path / "node_modules").is_symlink()
        assert ws.read("node_modules/dep/index.js") == "module.exports = 1\n"
        assert ws.ref == "refs/micro-agent/seed1"
        assert sh(repo, "show", f"{ws.ref}:helpers.py") == "HELP = 1\n"
        assert sh(repo, "show", f"{ws.ref}:tests/test_calc.py") == "# unsaved buffer\n"
        assert "old.py" not in sh(repo, "ls-tree", "--name-only", ws.ref)
        assert sh(repo, "log", "-1", "--format=%an <%ae>", ws.ref).strip() == "Micro Agent <micro-agent@localhost>"

        ws.write({"calc.py": "def add(a, b):\n    return a + b\n"})
        ws.commit("candidate 1")
        assert (repo / "calc.py").read_text().endswith("# edited, not committed\n")
        assert (repo / "tests" / "test_calc.py").read_text().startswith("from calc import add")
        assert user_state(repo) == before
    assert user_state(repo) == before


def test_commit_moves_the_ref_which_survives_cleanup(repo: Path) -> None:
    with Workspace.create(repo, "run-2") as ws:
        base = sh(repo, "rev-parse", ws.ref).strip()
        assert base == sh(repo, "rev-parse", "HEAD").strip()  # clean tree: the seed is HEAD itself
        assert ws.commit("nothing written") is None

        ws.write({"calc.py": "def add(a, b):\n    return a + b\n"})
        first = ws.commit("candidate 1")
        ws.write({"calc.py": "def add(a, b):\n    return b + a\n", "extra.py": "X = 1\n"})
        second = ws.commit("candidate 2")
        assert ws.commit("same again") is None

        assert sh(repo, "rev-parse", ws.ref).strip() == second
        assert sh(repo, "rev-parse", f"{second}^").strip() == first
        assert sh(repo, "rev-parse", f"{first}^").strip() == base
    assert sh(repo, "show", "refs/micro-agent/run-2:calc.py") == "def add(a, b):\n    return b + a\n"
    assert sh(repo, "show", "refs/micro-agent/run-2:extra.py") == "X = 1\n"
    log = sh(repo, "log", "--format=%s", "-2", "refs/micro-agent/run-2")
    assert log.split() == ["candidate", "2", "candidate", "1"]


def test_changed_files_and_diff_against_the_seed(repo: Path) -> None:
    write(repo / "crlf.txt", "one\r\ntwo\r\n")
    with Workspace.create(repo, "d") as ws:
        assert ws.changed_files() == {} and ws.diff() == ""
        ws.write({
            "calc.py": "def add(a, b):\n    return a + b\n", "crlf.txt": "one\r\nTWO\r\n", "new/mod.py": "N = 1\n",
        })
        ws.write({"run.sh": "#!/bin/sh\necho hi\n"})  # written back unchanged: not a change
        (ws.path / "junit.xml").write_text("<testsuite/>")  # a test artefact: never part of the fix

        assert ws.changed_files() == {
            "calc.py": "def add(a, b):\n    return a + b\n",
            "crlf.txt": "one\r\nTWO\r\n",
            "new/mod.py": "N = 1\n",
        }
        diff = ws.diff()
    assert "--- a/calc.py\n+++ b/calc.py\n" in diff
    assert "-    return a - b\n+    return a + b\n" in diff
    assert "--- /dev/null\n+++ b/new/mod.py\n" in diff
    assert "+TWO\r\n" in diff
    assert "run.sh" not in diff and "junit.xml" not in diff


def test_apply_writes_the_changed_files(repo: Path) -> None:
    with Workspace.create(repo, "ap") as ws:
        ws.write({"calc.py": "def add(a, b):\n    return a + b\n", "pkg/new.py": "NEW = 1\n",
                  "run.sh": "#!/bin/sh\necho fixed\n"})
        assert ws.apply() == ["calc.py", "pkg/new.py", "run.sh"]
        assert ws.apply() == ["calc.py", "pkg/new.py", "run.sh"]  # again: same content, no conflict
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert (repo / "pkg" / "new.py").read_text() == "NEW = 1\n"
    assert (repo / "run.sh").read_text() == "#!/bin/sh\necho fixed\n"
    assert (repo / "run.sh").stat().st_mode & stat.S_IXUSR


def test_apply_refuses_and_writes_nothing_when_the_user_edited_meanwhile(repo: Path) -> None:
    with Workspace.create(repo, "conflict") as ws:
        ws.write({"calc.py": "def add(a, b):\n    return a + b\n", "tests/test_calc.py": "# agent\n"})
        write(repo / "calc.py", "# the user typed this meanwhile\n")
        with pytest.raises(WorkspaceError, match=r"calc\.py changed .* Nothing was written"):
            ws.apply()
    assert (repo / "calc.py").read_text() == "# the user typed this meanwhile\n"
    assert (repo / "tests" / "test_calc.py").read_text().startswith("from calc import add")


def test_apply_over_an_unsaved_buffer_checks_the_file_on_disk(repo: Path) -> None:
    buffer = "def add(a, b):\n    return a * b  # unsaved\n"
    with Workspace.create(repo, "ov1", overlays={"calc.py": buffer}) as ws:
        ws.write({"calc.py": "def add(a, b):\n    return a + b\n"})
        assert "-    return a * b  # unsaved\n" in ws.diff()
        assert ws.apply() == ["calc.py"]  # the disk still holds what it held at create()
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"

    with Workspace.create(repo, "ov2", overlays={"calc.py": buffer}) as ws:
        ws.write({"calc.py": "def add(a, b):\n    return b + a\n"})
        write(repo / "calc.py", buffer)  # the user saved the buffer meanwhile
        with pytest.raises(WorkspaceError):
            ws.apply()
    assert (repo / "calc.py").read_text() == buffer


def test_cleanup_leaves_nothing_behind_even_when_the_run_crashes(repo: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with Workspace.create(repo, "crash") as ws:
            ws.write({"calc.py": "broken("})
            ws.commit("c")
            (ws.path / "__pycache__").mkdir()
            (ws.path / "stray.txt").write_text("untracked")
            assert len(worktrees(repo)) == 2
            raise RuntimeError("boom")
    assert worktrees(repo) == [f"worktree {repo}"]
    assert not ws.path.exists()
    assert not list((repo / ".git").glob("worktrees/*"))
    assert (repo / "node_modules" / "dep" / "index.js").read_text() == "module.exports = 1\n"  # link not followed
    assert sh(repo, "show", "refs/micro-agent/crash:calc.py") == "broken("
    ws.cleanup()  # idempotent


def test_prune_stale_removes_worktrees_of_killed_runs_only(repo: Path, tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"micro-agent-{dead.pid}-abc123"
    sh(repo, "worktree", "add", "-q", "--detach", str(stale), "HEAD")
    mine = tmp_path / "feature"  # the user's own worktree: never touched
    sh(repo, "worktree", "add", "-q", "--detach", str(mine), "HEAD")

    with Workspace.create(repo, "live") as ws:  # create() prunes stale ones too
        assert not stale.exists()
        assert prune_stale(repo) == []  # this live run's worktree stays
        assert ws.path.is_dir()
        assert sorted(worktrees(repo)) == sorted(f"worktree {p}" for p in (repo, mine, ws.path))


def test_folder_outside_git_is_copied(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    write(root / "calc.py", "def add(a, b):\n    return a - b\n")
    write(root / "bin" / "tool", "#!/bin/sh\n").chmod(0o755)
    write(root / "__pycache__" / "calc.cpython-311.pyc", "junk")
    write(root / ".venv" / "bin" / "python", "venv")
    write(root / "sub" / "node_modules" / "x.js", "x")

    with Workspace.create(root, "plain-1", overlays={"calc.py": "def add(a, b):\n    return 0\n"}) as ws:
        assert ws.ref is None
        assert ws.read("calc.py") == "def add(a, b):\n    return 0\n"
        assert os.access(ws.path / "bin" / "tool", os.X_OK)
        assert not (ws.path / "__pycache__").exists()
        assert (ws.path / ".venv").is_symlink() and (ws.path / "sub" / "node_modules").is_symlink()
        ws.write({"calc.py": "def add(a, b):\n    return a + b\n"})
        assert ws.commit("c1")
        assert "-    return 0\n+    return a + b\n" in ws.diff()
        assert ws.apply() == ["calc.py"]
        workdir = ws.path
    assert (root / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert not workdir.exists()
    assert not (root / ".git").exists()


def test_root_in_a_subfolder_of_the_repo(tmp_path: Path) -> None:
    top = tmp_path / "mono"
    write(top / "README.md", "mono\n")
    write(top / "svc" / "calc.py", "def add(a, b):\n    return a - b\n")
    sh(top, "init", "-q")
    sh(top, "add", ".")
    sh(top, "commit", "-qm", "init")
    write(top / "svc" / "local.py", "LOCAL = 1\n")

    with Workspace.create(top / "svc", "sub-1", overlays={"calc.py": "# buffer\n"}) as ws:
        assert ws.path.name == "svc" and (ws.path.parent / "README.md").is_file()
        assert ws.read("local.py") == "LOCAL = 1\n"
        assert sh(top, "show", f"{ws.ref}:svc/calc.py") == "# buffer\n"
        ws.write({"calc.py": "def add(a, b):\n    return a + b\n"})
        assert "--- a/calc.py\n+++ b/calc.py\n" in ws.diff()
        ws.commit("c1")
        assert ws.apply() == ["calc.py"]
    assert (top / "svc" / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert sh(top, "show", "refs/micro-agent/sub-1:svc/calc.py") == "def add(a, b):\n    return a + b\n"
    assert worktrees(top) == [f"worktree {top}"]


def test_repo_without_commits_falls_back_to_a_copy(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    write(root / "calc.py", "def add(a, b):\n    return a - b\n")
    write(root / "build" / "out.bin", "ignored")
    write(root / ".gitignore", "build/\n")
    sh(root, "init", "-q")

    with Workspace.create(root, "unborn") as ws:
        assert ws.ref is None
        assert ws.read("calc.py").startswith("def add")
        assert not (ws.path / "build").exists()
        ws.write({"calc.py": "def add(a, b):\n    return a + b\n"})
        assert ws.commit("c1")
        assert list(ws.changed_files()) == ["calc.py"]
    assert sh(root, "status", "--porcelain") == "?? .gitignore\n?? calc.py\n"
    assert "micro-agent" not in sh(root, "for-each-ref")


def test_root_in_an_ignored_folder_of_the_repo_is_copied(repo: Path) -> None:
    write(repo / "node_modules" / "pkg" / "lib.js", "exports.x = 1\n")
    with Workspace.create(repo / "node_modules" / "pkg", "ignored") as ws:
        assert ws.ref is None
        assert ws.read("lib.js") == "exports.x = 1\n"
    assert worktrees(repo) == [f"worktree {repo}"]


def test_paths_outside_the_project_are_refused(repo: Path) -> None:
    with Workspace.create(repo, "paths") as ws:
        with pytest.raises(WorkspaceError, match="relative to"):
            ws.write({"../escape.py": "x"})
        with pytest.raises(WorkspaceError, match="relative to"):
            ws.read("/etc/passwd")
        with pytest.raises(WorkspaceError, match="linked folder"):
            ws.write({"node_modules/dep/index.js": "hacked"})
    assert (repo / "node_modules" / "dep" / "index.js").read_text() == "module.exports = 1\n"
    with pytest.raises(WorkspaceError, match="not a folder"):
        Workspace.create(repo / "calc.py", "x")


def test_nothing_is_left_when_create_fails(repo: Path) -> None:
    before = set(Path(tempfile.gettempdir()).glob(f"micro-agent-{os.getpid()}-*"))
    with pytest.raises(WorkspaceError, match="relative to"):
        Workspace.create(repo, "bad", overlays={"../outside.py": "x"})
    for bad_id in ("has space", "a..b", "x/y", ""):
        with pytest.raises(WorkspaceError, match="ref name"):
            Workspace.create(repo, bad_id)
    write(repo / ".git" / "refs" / "micro-agent" / "busy.lock", "")  # another git process holds the ref
    with pytest.raises(WorkspaceError, match="update-ref"):
        Workspace.create(repo, "busy", overlays={"calc.py": "# buffer\n"})
    assert set(Path(tempfile.gettempdir()).glob(f"micro-agent-{os.getpid()}-*")) == before
    assert worktrees(repo) == [f"worktree {repo}"]


def test_dependencies_are_linked_but_builds_and_our_state_stay_behind(repo: Path) -> None:
    write(repo / "node_modules/lib/index.js", "module.exports = 1;\n")
    write(repo / ".gitignore", "node_modules/\ntarget/\n")
    write(repo / "target/debug/app", "binary built from the user's code\n")
    write(repo / ".micro-agent/audit.db", "not a text file for the run\n")  # not ignored: still left behind
    with Workspace.create(repo, "run-links") as ws:
        assert (ws.path / "node_modules").is_symlink()
        assert not (ws.path / "target").exists()  # cargo must never mix candidates into the user's artifacts
        assert not (ws.path / ".micro-agent").exists()
