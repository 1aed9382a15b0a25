"""Code actions (pure): "Fix with Micro Agent" on failing-test lines, escalate/cancel while a run goes on."""

from __future__ import annotations

from lsprotocol import types

from .diagnostics import is_ours

FIX = "Fix with Micro Agent"
ESCALATE = "Escalate Micro Agent run"
CANCEL = "Cancel Micro Agent run"
RUN_COMMAND = "microAgent.run"
ESCALATE_COMMAND = "microAgent.escalate"
CANCEL_COMMAND = "microAgent.cancel"
STATUS_COMMAND = "microAgent.status"


def _action(title: str, command: types.Command, diagnostics: list[types.Diagnostic], preferred: bool,
            literal_support: bool) -> types.CodeAction | types.Command:
    if not literal_support:  # a client that only knows plain commands
        return command
    return types.CodeAction(title=title, kind=types.CodeActionKind.QuickFix, diagnostics=diagnostics or None,
                            is_preferred=preferred or None, command=command)


def code_actions(uri: str, selection: types.Range, context: list[types.Diagnostic], fix_lines: set[int],
                 run_in_progress: bool, literal_support: bool = True) -> list[types.CodeAction | types.Command]:
    """The actions for `selection` in `uri`.

    `fix_lines` are the 0-based lines of failing tests known in this file (definitions and failing
    assertions); `context` the diagnostics the client sent with the request.
    """
    if run_in_progress:
        return [
            _action(ESCALATE, types.Command(title=ESCALATE, command=ESCALATE_COMMAND, arguments=[{"uri": uri}]),
                    [], False, literal_support),
            _action(CANCEL, types.Command(title=CANCEL, command=CANCEL_COMMAND, arguments=[{"uri": uri}]),
                    [], False, literal_support),
        ]
    ours = [d for d in context if is_ours(d)]
    lines = range(selection.start.line, max(selection.start.line, selection.end.line) + 1)
    hit = next((line for line in lines if line in fix_lines), None)
    if hit is None and not ours:
        return []
    line = hit if hit is not None else ours[0].range.start.line
    command = types.Command(title=FIX, command=RUN_COMMAND, arguments=[{"uri": uri, "line": line}])
    return [_action(FIX, command, ours, True, literal_support)]
