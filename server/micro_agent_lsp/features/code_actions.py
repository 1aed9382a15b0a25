"""Code actions: "Fix with Micro Agent" on failing-test lines; escalate and cancel while a run goes on."""

from __future__ import annotations

from lsprotocol import types

from ..actions import code_actions
from ..client import Client
from ..runs import RunRegistry
from .failure_diagnostics import FailureDiagnostics
from .feature import Feature


class CodeActionsFeature(Feature):
    def __init__(self, client: Client, registry: RunRegistry, failures: FailureDiagnostics) -> None:
        super().__init__(client)
        self.registry = registry
        self.failures = failures

    def actions(self, uri: str, path: str, selection: types.Range,
                context: list[types.Diagnostic]) -> list[types.CodeAction | types.Command] | None:
        """The actions for `selection` in the file `path` (`uri` as the client spells it); None when there are none."""
        literal = self.client.supports("text_document.code_action.code_action_literal_support")
        return code_actions(uri, selection, context, self.failures.fix_lines(path),
                            self.registry.find(path) is not None, literal) or None
