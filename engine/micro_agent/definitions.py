"""The definitions a source file holds (functions, classes, exports, Rust items), found by its language's
patterns in the languages registry.

Used to tell a whole-file reply from a fragment (replies.py) and to outline a file too large to show whole
(excerpts.py). Line-based patterns, not a parser: it must work on broken code.
"""

from __future__ import annotations

from typing import NamedTuple

from .languages import language_for


class Definition(NamedTuple):
    name: str
    line: int  # 1-based
    indent: int  # columns of leading whitespace: 0 for a top-level definition
    signature: str  # the definition's first line, stripped and capped


def definitions(path: str, text: str) -> list[Definition]:
    """Every definition in `text` (top-level and nested), in file order; [] for a language not in the table."""
    language = language_for(path)
    pattern = language.definition_pattern if language else None
    if pattern is None:
        return []
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        match = pattern.match(line)
        if match is None:
            continue
        name = next(g for g in match.groups()[1:] if g)
        found.append(Definition(name.strip(), number, len(match.group("indent").expandtabs(4)), line.strip()[:120]))
    return found


def knows_language(path: str) -> bool:
    """Whether definitions can be found in `path` (its language has definition patterns)."""
    language = language_for(path)
    return language is not None and language.definition_pattern is not None
