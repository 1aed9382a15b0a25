"""The isolated working copy a run writes candidates into and runs tests in.

Inside a git repository the copy is a detached `git worktree` of HEAD, seeded with the user's current
content (uncommitted changes, untracked files, deletions, unsaved editor buffers) and committed as the
run's base on `refs/micro-agent/<run_id>`; every candidate commit moves that ref. Elsewhere (no repo, or
a repo without commits) the folder is copied into a temp dir that gets its own throwaway git repo.
The user's files change only in `apply()`, and only when none of them changed since `create()`.

The user's tests are the judge: `restore()` puts every file back to the seed before a candidate's tests
run (only the written files keep what was last written), `stray_changes()` names what a candidate's test
run changed besides them, and `pristine()` checks a candidate once more in a fresh copy of the seed.
A run that committed no candidate leaves no ref behind.

Everything goes through the `git` CLI: no index, HEAD, branch or stash of the user's repo is touched.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from . import git as git_cli
from .commits import seed_message
from .outcomes import RunStopped
from .secrets import looks_secret

TEMP_PREFIX = "micro-agent-"
REF_PREFIX = "refs/micro-agent/"
_RUN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")

# Ignored top-level folders the tests need but nobody edits: linked into the copy, never copied.
# Not cargo's `target`: builds of candidates must never land among the user's own artifacts (cargo
# trusts file times, so the user's next `cargo test` could run a rejected candidate); the engine gives
# cargo a target folder of its own instead.
LINKED_DIRS = ("node_modules", ".venv", "venv")
# Linked wherever they sit in a temp copy (`target` only at the top: below, it may be a source folder).
NESTED_LINKED_DIRS = frozenset({"node_modules", ".venv", "venv"})
# Never copied into a temp copy.
SKIPPED_NAMES = frozenset({".git", ".micro-agent", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})

class WorkspaceError(RunStopped):
    """The working copy could not be made, used or applied; the message says what to do."""


def git(args: list[str], cwd: Path, *, stdin: bytes | None = None, check: bool = True,
        env: dict[str, str] | None = None) -> str:
    """`git <args>` in `cwd` through the one git helper; WorkspaceError with git's stderr when it fails."""
    return git_cli.git(args, cwd, stdin=stdin, check=check, env=env, error=WorkspaceError)


def _nul_list(paths: list[str]) -> bytes:
    return b"".join(p.encode("utf-8", "surrogateescape") + b"\0" for p in paths)


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes() if path.is_file() else None
    except OSError:
        return None


def _remove(path: Path) -> None:
    """Remove a file, link or folder (links are removed, never followed)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _copy_entry(src: Path, dst: Path) -> None:
    """Mirror `src` (a file or a link; mode bits kept) at `dst`, or remove `dst` when `src` is gone.

    A real folder (a nested node_modules) is linked, not copied.
    """
    if dst.is_symlink() or dst.exists():
        _remove(dst)
    if src.is_dir() and not src.is_symlink():
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.symlink_to(src, target_is_directory=True)
    elif src.is_symlink() or src.is_file():
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst, follow_symlinks=False)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # alive but not ours, or a platform without signal 0: leave it alone
        return True
    return True


def _owner_pid(worktree: Path) -> int | None:
    """The pid in a `micro-agent-<pid>-<random>` folder name, None for any other name."""
    parts = worktree.name.split("-")
    if not worktree.name.startswith(TEMP_PREFIX) or len(parts) < 4 or not parts[2].isdigit():
        return None
    return int(parts[2])


def _stale_worktree_entries(admin: Path) -> bool:
    """Whether the repo's `worktrees/` folder names a `micro-agent-*` worktree of a process that is gone:
    read from the folder, so the usual start (none) costs no `git worktree list`."""
    try:
        names = [entry.name for entry in os.scandir(admin / "worktrees")]
    except OSError:
        return False
    return any((pid := _owner_pid(Path(name))) is not None and not _pid_alive(pid) for name in names)


def prune_stale(root: Path) -> list[Path]:
    """Remove the `micro-agent-*` worktrees of `root`'s repo left by runs that were killed; returns their paths.

    Worktrees of a process that is still running (its pid is in the folder name) are left alone.
    """
    listing = git(["worktree", "list", "--porcelain", "-z"], Path(root), check=False)
    removed: list[Path] = []
    for field in listing.split("\0"):
        if not field.startswith("worktree "):
            continue
        worktree = Path(field[len("worktree "):])
        pid = _owner_pid(worktree)
        if pid is None or _pid_alive(pid):
            continue
        git(["worktree", "remove", "--force", "--force", str(worktree)], Path(root), check=False)
        if worktree.exists():
            shutil.rmtree(worktree, ignore_errors=True)
        removed.append(worktree)
    if removed:
        git(["worktree", "prune"], Path(root), check=False)
    return removed


# -- stale temp folders (issue 9, item 9: a killed run's temp folders go with the next run) -----------


def prune_stale_temp(tmp: Path | None = None) -> list[Path]:
    """Remove the `micro-agent-<pid>-*` folders in the temp dir (working copies of either mode, test report
    folders) whose process is gone, i.e. a run that was killed; returns their paths. Only our own folders."""
    base = Path(tmp or tempfile.gettempdir())
    try:
        entries = list(base.iterdir())
    except OSError:
        return []
    removed: list[Path] = []
    for entry in entries:
        pid = _owner_pid(entry)
        if pid is None or _pid_alive(pid) or entry.is_symlink() or not entry.is_dir():
            continue
        try:
            if hasattr(os, "getuid") and entry.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        shutil.rmtree(entry, ignore_errors=True)  # never follows links (linked node_modules stay intact)
        removed.append(entry)
    return removed


class Workspace:
    """An isolated working copy of `root`; candidates are written and tests run in `path`."""

    def __init__(
        self, root: Path, path: Path, run_id: str, *, top: Path, repo: Path | None, ref: str | None,
        base: str, disk_at_create: dict[str, bytes | None], kept_out: dict[str, bytes] | None = None,
    ) -> None:
        self.root = root
        self.path = path
        self.run_id = run_id
        self.ref = ref
        self._top = top  # top of the working copy (the temp dir); `path` may be a subfolder of it
        self._repo = repo  # the user's repo top level in worktree mode, None in temp-copy mode
        self._base = base  # the seed commit
        self._head = base  # the last commit on the run's ref
        self._head_tree: str | None = None
        self._disk_at_create = disk_at_create  # overlay paths: the user's file as it was on disk at create()
        self._seed: dict[str, bytes | None] = {}  # written paths: their content in the seed (None: absent)
        self._written: dict[str, bytes] = {}  # written paths: what was last written there
        # Secret-looking untracked files (relative to the top): in the copy for the tests, never in the seed commit.
        self._kept_out = dict(kept_out or {})
        self._cleaned = False
        # The working copy's own index holds the seed and nothing else: `git status` against it is the cheap
        # check, and its signature tells a test's `git add` there from our own writes. Candidates are staged
        # in an index of their own (`_commit_env`), so a test run and a background commit never share one.
        self._index_file = _index_file(top)
        self._index_seen = _signature(self._index_file)
        self._commit_env = {"GIT_INDEX_FILE": str(self._index_file.with_name("micro-agent-index"))}
        self._commit_index_ready = False
        self._last_scan: _Scan | None = None  # the scan stray_changes() made, reused by the next restore()

    # -- creation ---------------------------------------------------------------------------------

    @classmethod
    def create(cls, root: Path, run_id: str, overlays: dict[str, str] | None = None) -> Workspace:
        """Make the working copy of `root` seeded with its current content, then `overlays` (rel path -> text)."""
        root = Path(root).resolve()
        if not root.is_dir():
            raise WorkspaceError(f"{root} is not a folder: point micro-agent at your project folder")
        if not _RUN_ID.fullmatch(run_id) or ".." in run_id or run_id.endswith(".lock"):
            raise WorkspaceError(f"run id {run_id!r} is not usable in a git ref name: use letters, digits, - or _")
        overlays = dict(overlays or {})
        for rel in overlays:
            _inside(root, rel)
        disk_at_create = {rel: _read_bytes(root / rel) for rel in overlays}
        prune_stale_temp()
        repo = _find_repo(root)
        top = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-")).resolve()
        try:
            if repo is not None and repo.head is not None:
                made = cls._create_worktree(root, run_id, overlays, disk_at_create, top, repo)
                if made is not None:
                    return made
            return cls._create_copy(root, run_id, overlays, disk_at_create, top, in_repo=repo is not None)
        except BaseException:
            _remove_temp(top, repo=None)
            raise

    @classmethod
    def _create_worktree(
        cls, root: Path, run_id: str, overlays: dict[str, str], disk_at_create: dict[str, bytes | None],
        top: Path, found: _Repo,
    ) -> Workspace | None:
        """The worktree-mode workspace; None (nothing left behind) when `root` is an ignored folder of the repo."""
        repo, prefix, head = found.top, found.prefix, found.head
        if _stale_worktree_entries(found.admin):
            prune_stale(repo)
        git(["worktree", "add", "--quiet", "--detach", str(top), head], repo)
        try:
            path = top / prefix if prefix else top
            seeded, kept_out = _seed_from_status(repo, top)
            if not path.is_dir():  # root is ignored by git: only a copy carries its files
                _remove_temp(top, repo=repo)
                top.mkdir()
                return None
            seeded += [_top_rel(path, top, rel) for rel in _write_overlays(path, overlays)]
            base = _commit_paths(top, seeded, parent=head, message=seed_message(run_id)) or head
            ref = REF_PREFIX + run_id
            git(["update-ref", "-m", "micro-agent: seed", ref, base], repo)
            _link_dirs(repo, top)
            if path != top:
                _link_dirs(root, path)
        except BaseException:
            _remove_temp(top, repo=repo)
            raise
        return cls(root, path, run_id, top=top, repo=repo, ref=ref, base=base, disk_at_create=disk_at_create,
                   kept_out={rel: (top / rel).read_bytes() for rel in kept_out if (top / rel).is_file()})

    @classmethod
    def _create_copy(
        cls, root: Path, run_id: str, overlays: dict[str, str], disk_at_create: dict[str, bytes | None], top: Path,
        *, in_repo: bool,
    ) -> Workspace:
        for rel in _files_to_copy(root, in_repo=in_repo):
            _copy_entry(root / rel, top / rel)
        _write_overlays(top, overlays)
        git(["init", "--quiet", "--template=", str(top)], top)
        git(["add", "--all", "--force", "."], top)
        base = _commit_tree(top, git(["write-tree"], top).strip(), parent=None, message=seed_message(run_id))
        git(["update-ref", REF_PREFIX + run_id, base], top)
        _link_dirs(root, top)
        return cls(root, top, run_id, top=top, repo=None, ref=None, base=base, disk_at_create=disk_at_create)

    # -- the loop's side --------------------------------------------------------------------------

    def read(self, rel: str) -> str:
        """The working copy's text of `rel` (line endings as they are)."""
        target = _inside(self.path, rel)
        try:
            return target.read_bytes().decode("utf-8")
        except FileNotFoundError as exc:
            raise WorkspaceError(f"{rel} does not exist in {self.root}: check the target path") from exc
        except UnicodeDecodeError as exc:
            raise WorkspaceError(f"{rel} is not UTF-8 text: micro-agent edits text files only") from exc

    def write(self, files: dict[str, str]) -> None:
        """Write `files` (rel path -> text, written as given) into the working copy."""
        for rel, text in files.items():
            target = _inside(self.path, rel)
            if not target.parent.resolve().is_relative_to(self._top):
                raise WorkspaceError(f"{rel} lies in a linked folder outside the working copy: it cannot be edited")
            if target.is_dir():
                raise WorkspaceError(f"{rel} is a folder in {self.root}: write files, not folders")
            self._last_scan = None
            key = _norm(rel)
            if key not in self._seed:
                self._seed[key] = _read_bytes(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            self._written[key] = text.encode("utf-8")
            target.write_bytes(self._written[key])

    def restore(self) -> None:
        """Put the working copy back to the seed, except the written files, which get what was last written.

        Undoes whatever a candidate (or its tests, while they ran) wrote elsewhere: test files, fixtures,
        conftest.py, new files, caches, files git ignores. The linked folders (node_modules, .venv, venv)
        are left alone. Only the paths the last scan found are touched: the scan `stray_changes()` made
        after the tests when nothing was written since, else a fresh one. When the working copy's index no
        longer is ours (a test ran `git add` there), every file is reset from the seed commit instead.
        """
        scan = self._last_scan if self._last_scan is not None else self._scan()
        self._last_scan = None
        if scan is None:
            self._reset_all()
        else:
            written = {_top_rel(self.path, self._top, rel) for rel in self._written}
            tracked = [rel for rel in scan.changed if rel not in written]
            for rel in tracked:  # a folder or link where the seed has a file: checkout-index needs it gone
                if (self._top / rel).is_dir() or (self._top / rel).is_symlink():
                    _remove(self._top / rel)
            if tracked:
                git(["checkout-index", "--force", "-z", "--stdin"], self._top, stdin=_nul_list(tracked))
            for rel in [*scan.untracked, *scan.ignored]:
                if rel.rstrip("/") not in written and rel not in self._kept_out and not _linked(rel):
                    _remove_with_empty_parents(self._top, rel.rstrip("/"))
        _put_back(self._top, {rel: content for rel, content in self._kept_out.items()
                              if _read_bytes(self._top / rel) != content or (self._top / rel).is_symlink()})
        for rel, content in self._written.items():
            target = self.path / rel
            if target.is_symlink() or target.is_dir():
                _remove(target)
            elif _read_bytes(target) == content:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)

    def _reset_all(self) -> None:
        """Every file back to the seed commit, the copy's index with it; every other file removed (not the
        linked folders)."""
        git(["read-tree", "--reset", "-u", self._base], self._top)
        git(["clean", "-ffdxq", *[arg for name in LINKED_DIRS for arg in ("-e", name)]], self._top)
        self._index_seen = _signature(self._index_file)

    def _scan(self) -> _Scan | None:
        """One `git status` of the working copy against its own index (the seed):
        tracked paths that differ, untracked and ignored paths, relative to the top. None when the index
        changed behind our back, so it cannot be trusted to stand for the seed."""
        if self._index_seen is None or _signature(self._index_file) != self._index_seen:
            return None
        # The copy's index is ours (the user's never sees this call): let status refresh its stat data, so
        # files checked out in the same second as the index was written are not re-read on every scan.
        status = git(["status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored=matching",
                      "--no-renames", "--ignore-submodules=all"], self._top, env={"GIT_OPTIONAL_LOCKS": "1"})
        self._index_seen = _signature(self._index_file)  # no test runs now: a rewrite here is status's own
        return _parse_status(status)

    def stray_changes(self) -> list[str]:
        """Paths (relative to `path`) that now differ from the seed, besides the written files' last-written
        content: what a candidate or its tests changed that they must not. Caches and linked folders are
        not counted; neither are files git ignores. The scan is kept for the next `restore()`."""
        scan = self._last_scan = self._scan()
        if scan is None:  # the index is not ours any more: compare with the seed commit itself
            changed = git(["diff", "--name-only", "-z", "--no-renames", "--no-ext-diff", "--ignore-submodules=all",
                           self._base, "--"], self._top).split("\0")
            new = git(["ls-files", "-z", "--others", "--exclude-standard"], self._top).split("\0")
        else:
            changed, new = scan.changed, scan.untracked
        written = {_top_rel(self.path, self._top, rel) for rel in self._written}
        kept = {rel for rel, content in self._kept_out.items() if _read_bytes(self._top / rel) == content}
        stray = {rel for rel in [*changed, *new]
                 if rel and rel not in written and rel not in kept and not _unjudged(rel)}
        stray.update(_top_rel(self.path, self._top, rel) for rel, content in self._written.items()
                     if _read_bytes(self.path / rel) != content)
        return sorted(os.path.relpath(self._top / rel, self.path).replace(os.sep, "/") for rel in stray)

    def pristine(self) -> Workspace:
        """A fresh copy of the seed with only the written files' last-written content, to check a candidate
        once more (`with ws.pristine() as copy: run the tests in copy.path`). Moves no ref."""
        repo = self._repo or self._top
        top = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-")).resolve()
        try:
            git(["worktree", "add", "--quiet", "--detach", str(top), self._base], repo)
            path = top / self.path.relative_to(self._top)
            copy = Workspace(self.root, path, self.run_id, top=top, repo=repo, ref=None, base=self._base,
                             disk_at_create={}, kept_out=self._kept_out)
            _put_back(top, self._kept_out)
            copy.write({rel: content.decode("utf-8") for rel, content in self._written.items()})
            _link_dirs(self._repo or self.root, top)
            if path != top:
                _link_dirs(self.root, path)
        except BaseException:
            _remove_temp(top, repo=repo)
            raise
        return copy

    @property
    def has_candidates(self) -> bool:
        """Whether a candidate was committed on the run's ref."""
        return self._head != self._base

    def commit(self, message: str) -> str | None:
        """Commit the written files on top of the last commit and move the run's ref; None when nothing changed."""
        written = [_top_rel(self.path, self._top, rel) for rel in sorted(self._seed)]
        if not written:
            return None
        tree = self._stage_written(written)
        if self._head_tree is None:
            self._head_tree = git(["rev-parse", f"{self._head}^{{tree}}"], self._top).strip()
        if tree == self._head_tree:
            return None
        sha = _commit_tree(self._top, tree, parent=self._head, message=message)
        ref_repo = self._repo or self._top
        git(["update-ref", "-m", "micro-agent: candidate", REF_PREFIX + self.run_id, sha, self._head], ref_repo)
        self._head, self._head_tree = sha, tree
        return sha

    def _stage_written(self, paths: list[str]) -> str:
        """Stage `paths` (relative to the top) on the seed in the candidates' own index; the tree it makes."""
        if not self._commit_index_ready:
            git(["read-tree", self._base], self._top, env=self._commit_env)
            self._commit_index_ready = True
        _stage(self._top, paths, env=self._commit_env)
        return git(["write-tree"], self._top, env=self._commit_env).strip()

    def changed_files(self) -> dict[str, str]:
        """Written files whose content now differs from the seed: rel path -> text."""
        changed: dict[str, str] = {}
        for rel, seed in sorted(self._seed.items()):
            now = _read_bytes(self.path / rel)
            if now is not None and now != seed:
                changed[rel] = now.decode("utf-8", "replace")
        return changed

    def diff(self) -> str:
        """Unified diff of the written files against the seed, `a/` `b/` paths relative to `root`."""
        if not self._seed:
            return ""
        self._stage_written([_top_rel(self.path, self._top, rel) for rel in sorted(self._seed)])
        return git(
            ["diff", "--cached", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames", "--relative",
             "--src-prefix=a/", "--dst-prefix=b/", self._base, "--", *sorted(self._seed)],
            self.path, env=self._commit_env,
        )

    def apply(self) -> list[str]:
        """Write the changed files into the user's root and return their rel paths.

        Writes nothing and raises WorkspaceError when any of those files changed on disk since `create()`.
        """
        changed = {rel: self.path / rel for rel in self.changed_files()}
        edited = [rel for rel in changed if _read_bytes(self.root / rel) != self._expected_on_disk(rel)]
        if edited:
            raise WorkspaceError(
                f"not applied: {', '.join(edited)} changed in {self.root} since the run started. "
                "Nothing was written; review the fix (micro-agent --dry-run prints it) and apply it by hand, "
                "or run micro-agent again on the current content."
            )
        for rel, source in changed.items():
            target = self.root / rel
            content = source.read_bytes()
            if target.exists():
                target.write_bytes(content)  # keeps the file's mode, writes through a link
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
                shutil.copymode(source, target)
            self._disk_at_create[rel] = content
        return list(changed)

    def _expected_on_disk(self, rel: str) -> bytes | None:
        if rel in self._disk_at_create:
            return self._disk_at_create[rel]
        return self._seed.get(rel)

    # -- teardown ---------------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Remove the working copy (and its worktree registration). Idempotent.

        The run's ref stays when it holds a candidate; a run that committed none leaves no ref (`ref` is then None).
        """
        if self._cleaned:
            return
        self._cleaned = True
        if self.ref is not None and self._repo is not None and not self.has_candidates:
            git(["update-ref", "-d", self.ref, self._base], self._repo, check=False)
            self.ref = None
        _remove_temp(self._top, repo=self._repo)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        return f"Workspace(root={str(self.root)!r}, path={str(self.path)!r}, ref={self.ref!r})"


# -- helpers ---------------------------------------------------------------------------------------


def _norm(rel: str) -> str:
    return Path(rel).as_posix()


def _inside(base: Path, rel: str) -> Path:
    """`base / rel`, refusing absolute paths and paths that climb out of `base`."""
    candidate = Path(rel)
    if candidate.is_absolute() or ".." in candidate.parts or not candidate.parts:
        raise WorkspaceError(f"{rel!r} is not a path inside the project: give a path relative to {base}")
    return base / candidate


def _top_rel(path: Path, top: Path, rel: str) -> str:
    """`rel` (relative to `path`) as a path relative to the working copy's top."""
    return (path / rel).relative_to(top).as_posix()


class _Repo(NamedTuple):
    top: Path  # the repo's top level
    prefix: str  # root's folder in it ("" at the top)
    head: str | None  # HEAD's commit, None when unborn
    admin: Path  # the common git dir (where `worktrees/` lives)


def _find_repo(root: Path) -> _Repo | None:
    """The repo around `root` in one `git rev-parse`, or None when root is outside a repo."""
    found = git_cli.run_git(["rev-parse", "--show-toplevel", "--show-prefix", "--git-common-dir", "HEAD^{commit}"],
                            root, error=WorkspaceError)
    lines = found.stdout.decode("utf-8", "surrogateescape").splitlines()
    if len(lines) < 3 or not lines[0]:
        return None  # not a repo (an unborn HEAD still prints the first three lines, then fails)
    head = lines[3] if found.returncode == 0 and len(lines) > 3 and _is_sha(lines[3]) else None
    return _Repo(Path(lines[0]).resolve(), lines[1].rstrip("/"), head, (root / lines[2]).resolve())


def _is_sha(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def _seed_from_status(repo: Path, top: Path) -> tuple[list[str], list[str]]:
    """Mirror every path `git status` lists (modified, deleted, untracked) from the user's repo.

    Returns (the paths to commit into the seed, the secret-looking untracked paths copied but never committed).
    """
    status = git(
        ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", "--ignore-submodules=all"], repo
    )
    seeded: list[str] = []
    kept_out: list[str] = []
    for entry in status.split("\0"):
        rel = entry[3:]
        if len(entry) < 4 or rel.endswith("/") or ((repo / rel).is_dir() and not (repo / rel).is_symlink()):
            continue
        first = rel.split("/", 1)[0]
        if first in LINKED_DIRS and not (top / first).exists():
            continue  # an untracked node_modules & co: linked afterwards, not copied file by file
        if any(part in SKIPPED_NAMES for part in rel.split("/")):
            continue  # caches and our own .micro-agent folder (audit log, cargo target) stay behind
        _copy_entry(repo / rel, top / rel)
        if entry.startswith("??") and looks_secret(repo / rel, rel):
            kept_out.append(rel)  # there for the tests to read, never committed to the run's ref (docs/privacy.md)
            continue
        seeded.append(rel)
    return seeded, kept_out


class _Scan(NamedTuple):
    """What `git status` found in a working copy, paths relative to its top (a folder ends with `/`)."""

    changed: list[str]  # tracked: content, mode or type differs from the index, or gone
    untracked: list[str]
    ignored: list[str]


def _parse_status(status: str) -> _Scan:
    changed, untracked, ignored = [], [], []
    for entry in status.split("\0"):
        if len(entry) < 4:
            continue
        code, rel = entry[:2], entry[3:]
        if code == "??":
            untracked.append(rel)
        elif code == "!!":
            ignored.append(rel)
        elif code[1] != " ":  # the working-copy side differs (the index side holds the seed's own changes)
            changed.append(rel)
    return _Scan(changed, untracked, ignored)


def _index_file(top: Path) -> Path:
    """The index of the working copy at `top`: `.git/index`, or a linked worktree's own (`.git` is a file there)."""
    dotgit = top / ".git"
    if dotgit.is_dir():
        return dotgit / "index"
    try:
        gitdir = Path(dotgit.read_text(encoding="utf-8").strip().removeprefix("gitdir:").strip())
    except OSError:
        return dotgit / "index"
    return (gitdir if gitdir.is_absolute() else top / gitdir) / "index"


def _signature(path: Path) -> tuple[int, int, int] | None:
    """What tells one version of a file from the next without reading it: inode, size, modification time."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _linked(rel: str) -> bool:
    """Inside a linked folder (node_modules, .venv, venv wherever it sits): never removed by a restore."""
    return any(part in NESTED_LINKED_DIRS for part in rel.rstrip("/").split("/"))


def _remove_with_empty_parents(top: Path, rel: str) -> None:
    """Remove `top/rel`, then its parent folders that this left empty (not `top`)."""
    path = top / rel
    try:
        _remove(path)
    except FileNotFoundError:
        pass
    for parent in path.parents:
        if parent == top or not parent.is_relative_to(top):
            break
        try:
            parent.rmdir()
        except OSError:  # not empty, or gone
            break


def _put_back(top: Path, files: dict[str, bytes]) -> None:
    """Write `files` (relative to `top`) as they were when the run started."""
    for rel, content in files.items():
        target = top / rel
        if target.is_symlink() or target.is_dir():
            _remove(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def _write_overlays(path: Path, overlays: dict[str, str]) -> list[str]:
    for rel, text in overlays.items():
        target = path / rel
        if target.is_symlink() or target.is_dir():
            _remove(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8"))
    return [_norm(rel) for rel in overlays]


def _files_to_copy(root: Path, *, in_repo: bool) -> list[str]:
    """Files (and links) to copy for a temp copy: git's view (ignored files left out) inside a repo, else a walk.

    A root git ignores as a whole (git lists nothing there) is walked too.
    """
    if in_repo:
        listed = git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], root).split("\0")
        files = [rel for rel in listed if rel and not _skipped(rel)]
        if files:
            return files
    files: list[str] = []
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        descend = []
        for name in dirs:
            rel = (here / name).relative_to(root).as_posix()
            if (here / name).is_symlink() or (name in NESTED_LINKED_DIRS and here != root):
                files.append(rel)  # copied as a link / linked, never descended into
            elif not _skipped(rel):
                descend.append(name)
        dirs[:] = descend
        files += [(here / name).relative_to(root).as_posix() for name in names]
    return files


def _skipped(rel: str) -> bool:
    """Paths a temp copy leaves out: caches, .git, and what lies in the linked top-level folders."""
    parts = rel.split("/")
    return parts[0] in LINKED_DIRS or any(part in SKIPPED_NAMES for part in parts)


def _unjudged(rel: str) -> bool:
    """Paths a test run may change: caches, our state, and the linked folders wherever they sit."""
    return any(part in SKIPPED_NAMES or part in NESTED_LINKED_DIRS for part in rel.split("/"))


def _link_dirs(source: Path, dest: Path) -> None:
    """Link the big ignored folders (node_modules, .venv, ...) at the top of `source` into `dest`."""
    for name in LINKED_DIRS:
        if (source / name).is_dir() and not (dest / name).exists() and not (dest / name).is_symlink():
            try:
                (dest / name).symlink_to(source / name, target_is_directory=True)
            except OSError:  # no symlinks here (Windows without developer mode): tests will say what is missing
                pass


def _stage(top: Path, paths: list[str], env: dict[str, str] | None = None) -> None:
    """Put the working copy's state of `paths` into its index, or the one `env` names (gone files are removed)."""
    git(["update-index", "--add", "--remove", "-z", "--stdin"], top, stdin=_nul_list(paths), env=env)


def _commit_tree(top: Path, tree: str, *, parent: str | None, message: str) -> str:
    parents = ["-p", parent] if parent else []
    return git(["commit-tree", "--no-gpg-sign", *parents, "-m", message, tree], top).strip()


def _commit_paths(top: Path, paths: list[str], *, parent: str, message: str) -> str | None:
    """Commit the working copy's state of `paths` on `parent`; None when that changes nothing."""
    if not paths:
        return None
    _stage(top, paths)
    tree = git(["write-tree"], top).strip()
    if tree == git(["rev-parse", f"{parent}^{{tree}}"], top).strip():
        return None
    return _commit_tree(top, tree, parent=parent, message=message)


def _remove_temp(top: Path, *, repo: Path | None) -> None:
    """Delete the temp working copy and drop its worktree registration; never follows links into the user's tree."""
    removed = False
    if repo is not None:
        removed = git_cli.run_git(["worktree", "remove", "--force", "--force", str(top)], repo,
                                  error=WorkspaceError).returncode == 0
    if top.exists() or top.is_symlink():
        shutil.rmtree(top, ignore_errors=True)
    if repo is not None and not removed:
        git(["worktree", "prune"], repo, check=False)
