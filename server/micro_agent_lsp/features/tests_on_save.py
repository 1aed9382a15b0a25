"""Tests on open and save: run the tests of the file in the background and show their failures."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

from ..client import Client
from ..files import NoTarget, lone_test_file, resolve_run_files, test_command_for, test_environment
from ..runs import RunRegistry
from ..testwatch import TestWatcher
from .failure_diagnostics import FailureDiagnostics
from .feature import Feature

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT_S = 120


class TestsOnSaveFeature(Feature):
    """Debounced test runs per project and command (`watcher`); quiet while a run on the file goes on."""

    __test__ = False

    def __init__(self, client: Client, registry: RunRegistry, failures: FailureDiagnostics,
                 watcher: TestWatcher | None = None) -> None:
        super().__init__(client)
        self.registry = registry
        self.failures = failures
        self.watcher = watcher or TestWatcher()

    def document_opened(self, path: str) -> None:
        self.run_tests_of(path)

    def document_saved(self, path: str) -> None:
        self.run_tests_of(path)

    async def shutdown(self) -> None:
        self.watcher.cancel_all()

    def run_tests_of(self, path: str) -> None:
        """Run the tests of `path` (a test file or a target) in the background and show the failures."""
        settings = self.client.settings
        if not settings.run_tests_on_save:
            return
        try:
            files = resolve_run_files(Path(path))
        except NoTarget:
            files = lone_test_file(Path(path))
        except Exception:
            log.exception("cannot map %s to its tests", path)
            return
        if files is None or not files.test_files or self.registry.find(files.client_target) is not None:
            return
        command = test_command_for(files, Path(path), settings.test_command)
        if not command:
            return
        timeout = settings.test_timeout_seconds or DEFAULT_TIMEOUT_S
        log.debug("tests on open/save of %s: %s", path, command)

        async def job() -> None:
            from micro_agent.runners import run_tests

            cancel = threading.Event()
            env = test_environment(files.root, settings.interpreter, settings.project_env)
            try:
                report = await asyncio.to_thread(run_tests, command, files.root, timeout, cancel, env)
            except asyncio.CancelledError:
                cancel.set()
                raise
            log.debug("tests of %s: passed=%s, %d failures", files.target, report.passed, len(report.failures))
            if self.registry.find(files.client_target) is None:  # a run that started meanwhile shows its own
                self.failures.show(files, report)

        self.watcher.schedule(f"{files.root}\0{command}", job)
