"""Whole-file rewrites as small line-based LSP edits (pure).

A fix arrives from the engine as each changed file's new content. Sending it as the few lines that
changed (not one whole-buffer replacement) keeps the user's cursor, marks and folds, and reads as an
ordinary undoable edit.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from lsprotocol import types

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def split_lines(text: str) -> list[str]:
    """Lines with their line break, split on LSP's breaks only (\\n, \\r\\n, \\r)."""
    return _LINE.findall(text)


def column_units(text: str, encoding: str | None) -> int:
    """Length of `text` in the client's position units (utf-16 unless negotiated otherwise)."""
    if encoding == types.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8"))
    if encoding == types.PositionEncodingKind.Utf32:
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _position(lines: list[str], index: int, encoding: str | None) -> types.Position:
    """Start of line `index`; `len(lines)` means the end of the document."""
    if index < len(lines):
        return types.Position(line=index, character=0)
    if not lines:
        return types.Position(line=0, character=0)
    last = lines[-1]
    if last.endswith(("\n", "\r")):
        return types.Position(line=len(lines), character=0)
    return types.Position(line=len(lines) - 1, character=column_units(last, encoding))


def line_edits(old: str, new: str, encoding: str | None = None) -> list[types.TextEdit]:
    """The edits that turn `old` into `new`, one per run of changed lines, in document order."""
    old_lines, new_lines = split_lines(old), split_lines(new)
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    edits = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        edits.append(
            types.TextEdit(
                range=types.Range(start=_position(old_lines, i1, encoding), end=_position(old_lines, i2, encoding)),
                new_text="".join(new_lines[j1:j2]),
            )
        )
    return edits


@dataclass(frozen=True)
class FileChange:
    """One file of a fix: its uri, the text the edit is computed against, and the new text."""

    uri: str
    old_text: str
    new_text: str
    version: int | None = None  # the open document's version `old_text` belongs to; None when not open


def workspace_edit(changes: list[FileChange], *, document_changes: bool, encoding: str | None = None
                   ) -> types.WorkspaceEdit:
    """A WorkspaceEdit carrying every change: versioned `documentChanges` where the client supports them."""
    if document_changes:
        return types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(uri=c.uri, version=c.version),
                    edits=list(line_edits(c.old_text, c.new_text, encoding)),
                )
                for c in changes
            ]
        )
    return types.WorkspaceEdit(changes={c.uri: line_edits(c.old_text, c.new_text, encoding) for c in changes})
