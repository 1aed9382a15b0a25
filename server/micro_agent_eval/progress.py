"""The live progress bar of an eval (rich): solved / failed / running counts and the spend so far."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .results import TaskResult


class LiveProgress:
    def __init__(self, console: Console, total: int):
        self._lock = threading.Lock()
        self.solved = self.failed = self.running = self.dropped_count = 0
        self.spent_usd = 0.0
        self._bar = Progress(TextColumn("[bold]eval[/]"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                             transient=False, refresh_per_second=4)
        self._task = self._bar.add_task(self._line(), total=total)

    def __enter__(self) -> "LiveProgress":
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def _line(self) -> str:
        line = (f"[green]{self.solved} solved[/] · [red]{self.failed} failed[/] · {self.running} running"
                f" · ${self.spent_usd:.4f}")
        return line + (f" · [yellow]{self.dropped_count} not run[/]" if self.dropped_count else "")

    def _update(self, advance: int = 0) -> None:
        self._bar.update(self._task, advance=advance, description=self._line())

    def started(self, task: str, config: str) -> None:
        with self._lock:
            self.running += 1
            self._update()

    def finished(self, result: TaskResult) -> None:
        with self._lock:
            self.running -= 1
            if result.solved:
                self.solved += 1
            else:
                self.failed += 1
            self._update(advance=1)

    def dropped(self, task: str, config: str, reason: str, started: bool) -> None:
        with self._lock:
            if started:
                self.running -= 1
            self.dropped_count += 1
            self._update(advance=1)

    def spent(self, total_usd: float) -> None:
        with self._lock:
            self.spent_usd = total_usd
            self._update()
