"""The `Client` the features get, over a pygls `LanguageServer`; and the editor's spelling of paths.

Nothing but this module and `server.py` touches pygls; the features see only `client.Client`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from micro_agent.secrets import redact

from .run_request import CannotRun
from .editor_settings import EditorSettings, ServerSettings

log = logging.getLogger(__name__)
PROGRESS_CREATE_TIMEOUT_S = 5


class PyglsClient:
    """`client.Client` over pygls. It also keeps how the client spells each file's uri, and the file the
    user touched last (open, change, save, code action) for commands sent without a uri."""

    def __init__(self, server: LanguageServer, settings: EditorSettings) -> None:
        self._server = server
        self._settings = settings
        self._uris: dict[str, str] = {}  # path -> the uri spelling the client used
        self.last_path: str | None = None

    # ------------------------------------------------------------------ paths
    def path_of(self, uri: str) -> str:
        path = to_fs_path(uri)
        if path is None:
            raise CannotRun(f"Micro Agent works on files on disk; {uri} is not one.")
        return os.path.normpath(path)

    def remember(self, uri: str) -> str:
        """Note the client's spelling of a file's uri (and that the user is on that file); returns its path."""
        path = self.path_of(uri)
        self._uris[path] = uri
        self.last_path = path
        return path

    def uri_of(self, path: str) -> str:
        path = os.path.normpath(str(path))
        return self._uris.get(path) or from_fs_path(path) or f"file://{path}"

    # ------------------------------------------------------------------ what the client has and knows
    @property
    def settings(self) -> ServerSettings:
        return self._settings.current

    @property
    def position_encoding(self) -> str | None:
        encoding = self._server.workspace.position_encoding
        return str(encoding.value if hasattr(encoding, "value") else encoding) if encoding else None

    def supports(self, capability: str) -> bool:
        value: Any = self._server.client_capabilities
        for part in capability.split("."):
            value = getattr(value, part, None)
            if value is None:
                return False
        return bool(value)

    def open_documents(self) -> list[tuple[str, str]]:
        return [(doc.path, doc.source) for doc in list(self._server.workspace.text_documents.values()) if doc.path]

    def current_text(self, path: str) -> tuple[str | None, int | None]:
        path = os.path.normpath(str(path))
        for doc in self._server.workspace.text_documents.values():
            if doc.path and os.path.normpath(doc.path) == path:
                return doc.source, doc.version
        try:
            return Path(path).read_text(encoding="utf-8"), None
        except (OSError, UnicodeDecodeError):
            return None, None

    # ------------------------------------------------------------------ telling the client
    def publish_diagnostics(self, path: str, diagnostics: list[types.Diagnostic]) -> None:
        self._server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=self.uri_of(path), diagnostics=diagnostics))

    async def begin_progress(self, token: str, title: str, message: str, on_cancel: Callable[[], None]) -> bool:
        if not self.supports("window.work_done_progress"):
            return False
        progress = self._server.work_done_progress
        try:
            await asyncio.wait_for(progress.create_async(token), PROGRESS_CREATE_TIMEOUT_S)
        except Exception as exc:
            log.warning("window/workDoneProgress/create failed: %s", exc)
            return False
        progress.begin(token, types.WorkDoneProgressBegin(title=title, message=message, cancellable=True))
        cancelled = progress.tokens.get(token)
        if cancelled is not None:  # the user pressed cancel on the progress
            cancelled.add_done_callback(lambda future: on_cancel() if future.cancelled() else None)
        return True

    def report_progress(self, token: str, message: str) -> None:
        self._server.work_done_progress.report(token, types.WorkDoneProgressReport(message=redact(message)))

    def end_progress(self, token: str, message: str) -> None:
        self._server.work_done_progress.end(token, types.WorkDoneProgressEnd(message=redact(message)))
        self._server.work_done_progress.tokens.pop(token, None)

    async def apply_edit(self, edit: types.WorkspaceEdit, label: str) -> types.ApplyWorkspaceEditResult:
        return await self._server.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=label))

    async def configuration(self, section: str) -> Any:
        result = await self._server.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section=section)]))
        return result[0] if result else None

    def notify(self, method: str, payload: Any) -> None:
        self._server.protocol.notify(method, payload)

    def log(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self._server.window_log_message(types.LogMessageParams(type=kind, message=redact(message)))

    def show(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self._server.window_show_message(types.ShowMessageParams(type=kind, message=redact(message)))
