"""One fix job that needs no shared disk: what goes to a worker, what comes back, and how a worker runs it.

A `FixJob` carries the repository at the base commit as a git bundle, the unsaved overlays, and the
RunRequest with its budget share already cut (`request.budget`). A worker (`run_fix_job`) clones the bundle
into a temp folder of its own, runs the engine there with `apply=False` and no audit database, and streams
every engine event to `on_event`; it sends back a `JobResult`: the report (the candidate is its
`changed_files` and `diff`) and where it ran. The head (this machine) writes the audit database from the
events, makes the commit, pushes and opens pull requests: a worker never writes to the user's repository.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from .config import RunRequest
from .events import Event
from .reports import RunReport
from .workspace import LINKED_DIRS

_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}


class FixJob(BaseModel):
    """Everything a worker needs: no path on this machine is read by the worker."""

    job_id: str
    base_commit: str
    bundle: bytes = Field(repr=False)  # `git bundle` of the base commit (one ref under refs/micro-agent/bundle/)
    request: RunRequest  # with its overlays (unsaved buffers); root is rebound to the worker's clone and
    # audit_db_path is dropped (the head writes the audit database)
    head_root: str = ""  # the repository on the head: a worker on the same machine links its .venv/node_modules


class JobResult(BaseModel):
    report: RunReport
    candidates: bytes | None = Field(default=None, repr=False)  # bundle of the run's ref (report.ref), past the base
    executor: str = "local"
    node: str = ""  # the Ray node id, or this host's name for the local pool


class GitFailed(RuntimeError):
    pass


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **_GIT_ENV})
    if done.returncode != 0:
        raise GitFailed(f"git {' '.join(args[:2])} failed in {cwd}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def bundle_commit(repo: Path, commit: str) -> bytes:
    """The history up to `commit` as a git bundle (through a temporary ref, removed at once)."""
    ref = f"refs/micro-agent/bundle/{uuid.uuid4().hex}"
    with tempfile.TemporaryDirectory(prefix="micro-agent-bundle-") as tmp:
        path = Path(tmp) / "base.bundle"
        _git(repo, "update-ref", ref, commit)
        try:
            _git(repo, "bundle", "create", str(path), ref)
        finally:
            _git(repo, "update-ref", "-d", ref)
        return path.read_bytes()


def pack(repo: Path, job_id: str, base_commit: str, request: RunRequest) -> FixJob:
    """A FixJob for `request` (built against any checkout of `base_commit`; its root is rebound by the worker)."""
    portable = request.model_copy(update={"root": Path("."), "audit_db_path": None, "apply": False})
    return FixJob(job_id=job_id, base_commit=base_commit, bundle=bundle_commit(repo, base_commit), request=portable,
                  head_root=str(repo.resolve()))


def _unpack(job: FixJob, into: Path) -> Path:
    bundle = into / "base.bundle"
    bundle.write_bytes(job.bundle)
    tree = into / "tree"
    tree.mkdir()
    _git(tree, "init", "-q")
    _git(tree, "fetch", "-q", str(bundle), "+refs/micro-agent/bundle/*:refs/micro-agent/base/*")
    _git(tree, "checkout", "-q", "--detach", job.base_commit)
    for name in LINKED_DIRS:  # the project's test tools, when this worker shares the head's disk
        source = Path(job.head_root) / name if job.head_root else None
        if source is not None and source.is_dir() and not (tree / name).exists():
            try:
                (tree / name).symlink_to(source, target_is_directory=True)
            except OSError:
                pass
    return tree


def this_node() -> str:
    try:
        import ray

        if ray.is_initialized():
            return ray.get_runtime_context().get_node_id()
    except Exception:  # not on Ray: the host name says where it ran
        pass
    return socket.gethostname()


def run_fix_job(job: FixJob, on_event: Callable[[Event], None], controls=None, executor: str = "local") -> JobResult:
    """Run one job in a temp clone of its own. Events go to `on_event` as they happen; the clone is removed."""
    from .engine import run as run_engine

    with tempfile.TemporaryDirectory(prefix="micro-agent-job-") as tmp:
        tree = _unpack(job, Path(tmp))
        request = job.request.model_copy(update={"root": tree})
        report = run_engine(request, on_event, controls)
        candidates = _bundle_ref(tree, report.ref, job.base_commit) if report.ref else None
    return JobResult(report=report, candidates=candidates, executor=executor, node=this_node())


def _bundle_ref(tree: Path, ref: str, base_commit: str) -> bytes | None:
    """The run's candidate commits (its ref, without the base's history) as a git bundle."""
    path = tree.parent / "candidates.bundle"
    try:
        _git(tree, "bundle", "create", str(path), ref, f"^{base_commit}")
    except GitFailed:  # nothing past the base
        return None
    return path.read_bytes()


def land_candidates(repo: Path, result: JobResult) -> None:
    """Put the run's ref (refs/micro-agent/<run>) into `repo`, as if the run had been made there."""
    ref = result.report.ref
    if not ref or not result.candidates:
        return
    with tempfile.TemporaryDirectory(prefix="micro-agent-candidates-") as tmp:
        path = Path(tmp) / "candidates.bundle"
        path.write_bytes(result.candidates)
        _git(repo, "fetch", "-q", "--no-tags", str(path), f"+{ref}:{ref}")
