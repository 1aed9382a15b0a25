"""The base of the server's features: what each one hears of the session (esbonio's shape).

The server holds its features in a list and tells every one of them of the session's moments
(`initialized`, a document opened or saved, `shutdown`); requests and commands go to the one
feature that answers them. A feature talks to the editor only through its `Client`.
"""

from __future__ import annotations

from ..client import Client


class Feature:
    """One job of the server, with the state it needs. Override the moments it cares about."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def initialized(self) -> None:
        """The client finished `initialize`: start what needs the client."""

    def document_opened(self, path: str) -> None:
        """The user opened `path`."""

    def document_saved(self, path: str) -> None:
        """The user saved `path`."""

    async def shutdown(self) -> None:
        """Stop the feature's background work (bounded: shutdown waits for it)."""
