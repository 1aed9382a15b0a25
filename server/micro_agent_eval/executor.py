"""Where eval jobs run. The interface is two calls — submit a job, shut down — so a Ray executor can plug in.

A job is a no-argument callable returning a TaskResult; `submit` gives back a concurrent.futures.Future
(Ray's `ObjectRef.future()` is one too).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Protocol, TypeVar

T = TypeVar("T")


class Executor(Protocol):
    def submit(self, job: Callable[[], T]) -> Future[T]: ...

    def shutdown(self, cancel_pending: bool = False) -> None:
        """Wait for running jobs; with `cancel_pending`, jobs not yet started never start."""


class LocalExecutor:
    """A thread pool on this machine: `jobs` tasks at once (each runs its own tests in subprocesses)."""

    def __init__(self, jobs: int = 1):
        self._pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="micro-agent-eval")

    def submit(self, job: Callable[[], T]) -> Future[T]:
        return self._pool.submit(job)

    def shutdown(self, cancel_pending: bool = False) -> None:
        self._pool.shutdown(wait=True, cancel_futures=cancel_pending)
