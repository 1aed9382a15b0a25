"""Failing tests shown as diagnostics, shared by runs and tests-on-save; their sites feed the code actions."""

from __future__ import annotations

from lsprotocol import types
from micro_agent.reports import TestReport

from ..client import Client
from ..diagnostics import FailureSite, failure_sites, site_diagnostics, summary_diagnostic
from ..files import RunFiles


class FailureDiagnostics:
    """What the server published per target (a report group) and the failing-test sites per file."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._sites: dict[str, list[FailureSite]] = {}  # path -> failing-test sites shown there
        self._published: dict[str, set[str]] = {}  # report group -> paths it published diagnostics to

    def fix_lines(self, path: str) -> set[int]:
        """The 0-based lines of `path` where a failing test is defined or failed."""
        return {line for site in self._sites.get(path, []) for line in site.lines}

    def show(self, files: RunFiles, report: TestReport | None,
             summary: tuple[str, types.DiagnosticSeverity] | None = None, test_files_only: bool = False) -> None:
        """Diagnostics for `report` on the files it concerns (and `summary` on the target's first line);
        None clears them."""
        encoding = self.client.position_encoding

        def read(rel: str) -> str | None:
            return self.client.current_text(files.client_path(rel))[0]

        sites = failure_sites(report, files.root, read, list(files.test_files)) if report else []
        if test_files_only:
            sites = [site for site in sites if site.file in files.test_files]
        by_path: dict[str, list[types.Diagnostic]] = {p: [] for p in files.client_test_paths()}
        by_path.setdefault(files.client_target, [])
        for rel in dict.fromkeys(site.file for site in sites):
            path = files.client_path(rel)
            file_sites = [s for s in sites if s.file == rel]
            self._sites[path] = file_sites
            by_path[path] = site_diagnostics(file_sites, read(rel) or "", encoding)
        for path in by_path:
            if not any(files.client_path(s.file) == path for s in sites):
                self._sites.pop(path, None)
        if summary is not None:
            message, severity = summary
            by_path[files.client_target] = [*by_path[files.client_target],
                                            summary_diagnostic(read(files.target) or "", message, severity, encoding)]
        self._publish_group(files.client_target, by_path)

    def _publish_group(self, group: str, by_path: dict[str, list[types.Diagnostic]]) -> None:
        """Publish a report's diagnostics; paths it published to last time and not now are cleared."""
        previous = self._published.get(group, set())
        for path in previous - set(by_path):
            self.client.publish_diagnostics(path, [])
            self._sites.pop(path, None)
        for path, diagnostics in by_path.items():
            self.client.publish_diagnostics(path, diagnostics)
        self._published[group] = {p for p, d in by_path.items() if d}
