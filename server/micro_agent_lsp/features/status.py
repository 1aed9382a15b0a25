"""`microAgent.status`, and warming the engine so that the first run starts warm."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from ..client import Client
from ..runs import RunRegistry
from .feature import Feature

log = logging.getLogger(__name__)


def _warm_engine(done: threading.Event) -> None:
    """Import the engine and litellm off the event loop."""
    try:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import micro_agent.engine  # noqa: F401
        import micro_agent.runners  # noqa: F401
        import micro_agent.request_builder  # noqa: F401
        from micro_agent import llm

        llm.warm()
        import litellm  # noqa: F401  (returns once the import warm() started has finished)
    except Exception:  # warming is an optimisation; the run reports real import problems
        log.exception("warming the engine failed")
    finally:
        done.set()


class StatusFeature(Feature):
    """What the server is doing: the runs in progress, the last finished one, whether the engine is warm."""

    def __init__(self, client: Client, registry: RunRegistry) -> None:
        super().__init__(client)
        self.registry = registry
        self.warmed = threading.Event()

    async def initialized(self) -> None:
        threading.Thread(target=_warm_engine, args=(self.warmed,), name="micro-agent-warm", daemon=True).start()

    def status(self, path: str | None) -> dict[str, Any]:
        """The runs in progress (on `path`, or all), the last finished one, and whether the engine is warm."""
        return {**self.registry.status(path), "engineWarm": self.warmed.is_set()}
