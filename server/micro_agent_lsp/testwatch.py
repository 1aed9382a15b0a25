"""Background test runs on open/save: debounced, at most one at a time per key (plain asyncio)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class TestWatcher:
    """`schedule(key, job)` runs `job` after `delay_s` of quiet for `key`.

    A save while that key's job runs queues exactly one more run (with the newest job) after it.
    """

    __test__ = False

    def __init__(self, delay_s: float = 0.2) -> None:
        self.delay_s = delay_s
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._queued: dict[str, Job] = {}

    def schedule(self, key: str, job: Job) -> None:
        loop = asyncio.get_running_loop()
        if (timer := self._timers.pop(key, None)) is not None:
            timer.cancel()
        self._timers[key] = loop.call_later(self.delay_s, self._fire, key, job)

    def _fire(self, key: str, job: Job) -> None:
        self._timers.pop(key, None)
        if key in self._running:
            self._queued[key] = job
            return
        task = asyncio.get_running_loop().create_task(self._run(key, job))
        self._running[key] = task

    async def _run(self, key: str, job: Job) -> None:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:  # a background refresh must never take the server down
            log.exception("background test run failed: %s", key)
        finally:
            self._running.pop(key, None)
            if (queued := self._queued.pop(key, None)) is not None:
                self._fire(key, queued)

    def busy(self) -> bool:
        return bool(self._timers or self._running or self._queued)

    async def idle(self) -> None:
        """Wait until no run is pending (for shutdown and tests)."""
        while self.busy():
            await asyncio.sleep(0.02)

    def cancel_all(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        for task in self._running.values():
            task.cancel()
        self._timers.clear()
        self._queued.clear()
