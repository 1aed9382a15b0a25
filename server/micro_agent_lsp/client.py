"""What the features may ask of the editor: the narrow interface between them and the server.

The features never see the language server object. The server hands each one a `Client`
(`pygls_client.PyglsClient` over pygls; the feature unit tests use a small recording one), so a
feature's reach is exactly this list: publish diagnostics, show progress, apply an edit, send a
notification or a message, read a buffer, read the settings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from lsprotocol import types

from .editor_settings import ServerSettings


class Client(Protocol):
    """The editor, as the features see it. Paths are the editor's spelling of files on disk."""

    @property
    def settings(self) -> ServerSettings:
        """The editor's Micro Agent settings as they stand now (validated)."""
        ...

    @property
    def position_encoding(self) -> str | None:
        """The negotiated position encoding (None: utf-16)."""
        ...

    def supports(self, capability: str) -> bool:
        """Whether the client advertised `capability`, a dotted path into its capabilities."""
        ...

    def uri_of(self, path: str) -> str:
        """The uri of `path`, spelled as the client spelled it where it did."""
        ...

    def current_text(self, path: str) -> tuple[str | None, int | None]:
        """(content, version): the open buffer's, else the file on disk's (version None); (None, None) if missing."""
        ...

    def open_documents(self) -> list[tuple[str, str]]:
        """(path, buffer text) of every open document that is a file."""
        ...

    def publish_diagnostics(self, path: str, diagnostics: list[types.Diagnostic]) -> None: ...

    async def begin_progress(self, token: str, title: str, message: str, on_cancel: Callable[[], None]) -> bool:
        """Start `$/progress` under `token` (`on_cancel` runs when the user cancels it); False when the
        client cannot show progress, and the caller says it otherwise."""
        ...

    def report_progress(self, token: str, message: str) -> None: ...

    def end_progress(self, token: str, message: str) -> None: ...

    async def apply_edit(self, edit: types.WorkspaceEdit, label: str) -> types.ApplyWorkspaceEditResult:
        """`workspace/applyEdit`; raises when the client cannot answer."""
        ...

    async def configuration(self, section: str) -> Any:
        """`workspace/configuration` for one section; raises when the client cannot answer."""
        ...

    def notify(self, method: str, payload: Any) -> None:
        """A notification of ours (e.g. `microAgent/runFinished`)."""
        ...

    def log(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        """`window/logMessage`."""
        ...

    def show(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        """`window/showMessage`."""
        ...
