"""The editor's settings: `initializationOptions` at start, then `workspace/configuration` (pulled at
`initialized` and on every `workspace/didChangeConfiguration`), merged in `EditorSettings`."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lsprotocol import types

from ..client import Client
from ..editor_settings import SECTION, EditorSettings, section_of
from .feature import Feature

log = logging.getLogger(__name__)
CONFIGURATION_TIMEOUT_S = 10


class SettingsFeature(Feature):
    """Keeps `settings` current and names each bad value once, in a warning the user sees."""

    def __init__(self, client: Client, settings: EditorSettings) -> None:
        super().__init__(client)
        self.settings = settings
        self._init_options: Any = {}

    def initialize(self, initialization_options: Any) -> None:
        self._init_options = section_of(initialization_options)  # applied (and its problems named) at `initialized`

    async def initialized(self) -> None:
        self._update(init_options=self._init_options)
        await self._pull()

    async def configuration_changed(self, pushed: Any) -> None:
        """`workspace/didChangeConfiguration`: pull the section, or take the pushed one from a client that
        cannot be asked."""
        if self.client.supports("workspace.configuration"):
            await self._pull()
        elif isinstance(pushed, dict):
            self._update(client_settings=section_of(pushed))

    async def _pull(self) -> None:
        if not self.client.supports("workspace.configuration"):
            return
        try:
            section = await asyncio.wait_for(self.client.configuration(SECTION), CONFIGURATION_TIMEOUT_S)
        except Exception as exc:  # a client that cannot answer keeps the settings it sent at start
            log.warning("workspace/configuration failed: %s", exc)
            return
        self._update(client_settings=section if isinstance(section, dict) else {})

    def _update(self, **given: Any) -> None:
        new = self.settings.update(**given)
        if new:
            self.client.show("Micro Agent settings: " + "; ".join(new) + ". Fix them in your editor's Micro Agent "
                             "settings.", types.MessageType.Warning)
