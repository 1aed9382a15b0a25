"""One style of event dispatch: every observer handles an event kind by a method `on_<kind>` (events.dispatch).

A misspelt handler would never be called, so each observer's `on_*` methods must name real event kinds.
"""

from __future__ import annotations

import pytest

from micro_agent.audit import AuditLog
from micro_agent.events import KINDS, Warned, dispatch, handler_of
from micro_agent_cli.render import Renderer
from micro_agent_lsp.bridge import RunBridge, _ProgressLines
from micro_agent_lsp.runs import ActiveRun

NOT_HANDLERS = {"on_event"}  # RunBridge's entry point, not a handler


@pytest.mark.parametrize("observer", [AuditLog, Renderer, ActiveRun, RunBridge, _ProgressLines])
def test_every_handler_names_an_event_kind(observer):
    handlers = {name for name in dir(observer) if name.startswith("on_")} - NOT_HANDLERS
    assert handlers, f"{observer.__name__} handles no event"
    assert {name.removeprefix("on_") for name in handlers} <= KINDS


def test_dispatch_calls_the_kind_s_handler_and_passes_by_the_rest():
    class Seen:
        def __init__(self):
            self.messages = []

        def on_warned(self, event, prefix):
            self.messages.append(prefix + event.message)
            return "handled"

    seen, warned = Seen(), Warned(run_id="r", message="careful")
    assert dispatch(seen, warned, "! ") == "handled" and seen.messages == ["! careful"]
    assert dispatch(object(), warned) is None and handler_of(object(), warned) is None
