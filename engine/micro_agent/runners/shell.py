"""Find a tool inside a shell command line and add arguments to it, leaving the rest as typed."""

from __future__ import annotations

import re
import shlex

# A word starts at the beginning, after whitespace, or after a shell operator.
WORD_START = r"(?:^|(?<=[\s;&|(]))"
WORD_END = r"(?=$|[\s;&|)])"


def find(command: str, pattern: str) -> re.Match[str] | None:
    """The first match of `pattern` that starts and ends on word boundaries."""
    return re.search(WORD_START + pattern + WORD_END, command)


def insert(command: str, index: int, args: list[str]) -> str:
    """`command` with the quoted `args` inserted at `index`."""
    quoted = " ".join(shlex.quote(arg) for arg in args)
    return f"{command[:index]} {quoted}{command[index:]}"


def segment_end(command: str, start: int) -> int:
    """Where the simple command starting at `start` ends: the first unquoted `;`, `&`, `|`, `)` or newline."""
    quote: str | None = None
    escaped = False
    for index in range(start, len(command)):
        char = command[index]
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in ";&|)\n":
            return len(command[:index].rstrip())
    return len(command.rstrip())


def words(segment: str) -> list[str]:
    """The words of one simple command; [] when it cannot be split."""
    try:
        return shlex.split(segment)
    except ValueError:
        return []
