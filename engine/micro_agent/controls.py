"""How a face (CLI, language server) steers a run that is going on in another thread."""

from __future__ import annotations

import threading

from .outcomes import RunStopped


class RunInterrupted(RunStopped):
    """The user cancelled the run (Ctrl-C, microAgent.cancel, progress cancel)."""

    outcome = "interrupted"

    def __init__(self, message: str = "Interrupted: the user's files are unchanged."):
        super().__init__(message)


class Controls:
    """Thread-safe switches the engine reads between steps: cancel the run, or skip to the next tier."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self._skip_tier = threading.Event()

    def cancel(self) -> None:
        self.cancelled.set()

    def skip_tier(self) -> None:
        self._skip_tier.set()

    def take_skip_tier(self) -> bool:
        """True once after `skip_tier()` was called."""
        if self._skip_tier.is_set():
            self._skip_tier.clear()
            return True
        return False

    def check(self) -> None:
        if self.cancelled.is_set():
            raise RunInterrupted()
