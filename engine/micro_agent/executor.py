"""Where fix jobs run: one interface, a local thread pool by default, Ray when asked for.

Every fix job (the autopilot's, `micro-agent run` over several targets, the eval's tasks) goes through an
`Executor`: `submit(fn, *args)` gives back a `concurrent.futures.Future`; `submit_fix(job, on_event)` runs
one `FixJob` (micro_agent.fixjob) and streams the engine's events back to `on_event` on this machine while it
runs; `cancel(future)` stops one; `shutdown(cancel_pending)` ends them all. Which one is used comes from
`--executor` / `--ray-address`, then `RAY_ADDRESS`, then `executor:` in micro-agent.yml (`resolve`).

Nothing here imports Ray; `make_executor` imports micro_agent.executor_ray only when Ray is asked for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from .events import Event
    from .fixjob import FixJob, JobResult

T = TypeVar("T")
RAY_INSTALL_HINT = "install it with `pip install 'micro-agent[ray]'` (on this machine and on every worker)"


class ExecutorConfig(BaseModel):
    """`executor:` in micro-agent.yml."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    kind: Literal["local", "ray"] = "local"
    address: str | None = None  # ray://host:10001, host:6379, or None: RAY_ADDRESS, else a local Ray


class ExecutorUnavailable(RuntimeError):
    """The executor asked for cannot be used here (Ray not installed, no cluster at the address)."""


class WorkerLost(RuntimeError):
    """The worker running a job died (its process or node): the job may run again elsewhere."""

    def __init__(self, node: str, reason: str):
        super().__init__(f"the worker{' on node ' + node[:12] if node else ''} running the job was lost: {reason}")
        self.node = node


class JobCancelled(RuntimeError):
    """The job was cancelled (Ctrl-C, `autopilot pause`, a shutdown) before it finished."""

    def __init__(self, node: str = ""):
        super().__init__("the job was cancelled")
        self.node = node


def resolve(config: ExecutorConfig | None, kind: str | None = None, address: str | None = None,
            env: Mapping[str, str] | None = None) -> ExecutorConfig:
    """The executor to use: command-line flags first, then `RAY_ADDRESS`, then micro-agent.yml, else local."""
    config = config or ExecutorConfig()
    env_address = (env or {}).get("RAY_ADDRESS") or None
    if kind == "local":
        return ExecutorConfig()
    if kind == "ray" or address:
        return ExecutorConfig(kind="ray", address=address or env_address or config.address)
    if env_address:
        return ExecutorConfig(kind="ray", address=env_address)
    return config


class Executor(Protocol):
    kind: str  # "local" or "ray": shown in reports as where a job ran

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]: ...

    def submit_fix(self, job: FixJob, on_event: Callable[[Event], None]) -> Future[JobResult]: ...

    def cancel(self, future: Future) -> None:
        """Stop one job: a local job through its controls, a Ray task with `ray.cancel`."""

    def shutdown(self, cancel_pending: bool = False) -> None:
        """Wait for running jobs; with `cancel_pending`, jobs not yet started never start (Ray: cancelled)."""


class LocalExecutor:
    """A thread pool on this machine: `jobs` at once (each runs its tests in subprocesses)."""

    kind = "local"

    def __init__(self, jobs: int = 1):
        self._pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="micro-agent-job")
        self._controls: dict[Future, Any] = {}

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        return self._pool.submit(fn, *args)

    def submit_fix(self, job: FixJob, on_event: Callable[[Event], None]) -> Future[JobResult]:
        from .controls import Controls
        from .fixjob import run_fix_job

        controls = Controls()
        future = self._pool.submit(run_fix_job, job, on_event, controls, "local")
        self._controls[future] = controls
        future.add_done_callback(lambda f: self._controls.pop(f, None))
        return future

    def cancel(self, future: Future) -> None:
        if not future.cancel() and (controls := self._controls.get(future)) is not None:
            controls.cancel()

    def shutdown(self, cancel_pending: bool = False) -> None:
        if cancel_pending:
            for controls in list(self._controls.values()):
                controls.cancel()
        self._pool.shutdown(wait=True, cancel_futures=cancel_pending)


def make_executor(config: ExecutorConfig, jobs: int = 1) -> Executor:
    """Raises ExecutorUnavailable with what to do when Ray is asked for and cannot be used."""
    if config.kind == "local":
        return LocalExecutor(jobs)
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ExecutorUnavailable(f"the Ray executor was asked for, but Ray is not installed: {RAY_INSTALL_HINT}; "
                                  "or use the local pool (`--executor local`, unset RAY_ADDRESS)") from None
    from .executor_ray import RayExecutor

    return RayExecutor(config.address, jobs)


_shared: dict[tuple[str, str | None], Executor] = {}
_shared_lock = threading.Lock()


def shared_executor(config: ExecutorConfig, jobs: int = 1) -> Executor:
    """One executor per kind and address for this process (a Ray connection is made once)."""
    key = (config.kind, config.address)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = make_executor(config, jobs)
        return _shared[key]


# ---------------------------------------------------------------- the budget shared by jobs running at once


class Share(BaseModel):
    """What one job may spend: set aside before it starts, settled when it ends."""

    cost_usd: float | None = None  # None: no cost cap
    minutes: float | None = None  # None: no time cap


class BudgetPool:
    """Shared cost and time caps over jobs running at once, wherever they run.

    `reserve` sets a share aside before a job starts (the per-job cap, cut to what is left after what was
    spent and every running job's share), `settle` replaces the share with what the job really spent. Shares
    plus spending never pass the cap, so jobs on different machines cannot overspend it together (each worker's
    engine holds its job to its share). A caller that keeps the spending elsewhere (the autopilot's database)
    passes it as `spent_usd`; otherwise the pool adds up what was settled.
    """

    def __init__(self, cap_usd: float | None, minutes: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.cap_usd = cap_usd
        self._clock = clock
        self._deadline = None if minutes is None else clock() + minutes * 60
        self.settled_usd = 0.0
        self._reserved: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def reserved_usd(self) -> float:
        return sum(self._reserved.values())

    def reserve(self, key: str, per_job_usd: float | None, per_job_minutes: float | None = None,
                spent_usd: float | None = None) -> Share | None:
        """The share for job `key`; None when nothing is left of the cost cap or of the time."""
        with self._lock:
            minutes = per_job_minutes
            if self._deadline is not None:
                left_min = (self._deadline - self._clock()) / 60
                if left_min <= 1e-6:
                    return None
                minutes = left_min if minutes is None else min(minutes, left_min)
            if self.cap_usd is None:
                self._reserved[key] = 0.0
                return Share(cost_usd=per_job_usd, minutes=minutes)
            spent = self.settled_usd if spent_usd is None else spent_usd
            left = self.cap_usd - spent - self.reserved_usd
            if left <= 1e-9:
                return None
            allot = min(left, per_job_usd) if per_job_usd else left
            self._reserved[key] = allot
            return Share(cost_usd=allot, minutes=minutes)

    def settle(self, key: str, spent_usd: float = 0.0) -> None:
        with self._lock:
            self._reserved.pop(key, None)
            self.settled_usd += spent_usd


class Placement(BaseModel):
    """Where a job ran: shown in reports and `autopilot status`."""

    executor: str = "local"
    node: str = ""
    attempts: int = Field(default=1, ge=1)
