"""Turn a model's reply into new file contents.

Accepted: a fenced block holding the whole file (any fence language), or SEARCH/REPLACE blocks
(for large files). A reply with neither is a ReplyError: a failed iteration, never a crash.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.S | re.M)
SEARCH_REPLACE = re.compile(
    r"^<{5,9} ?SEARCH[^\n]*\n(?P<search>.*?)^={5,9}[ \t]*\n(?P<replace>.*?)^>{5,9} ?REPLACE[^\n]*$", re.S | re.M
)
PATH_IN_INFO = re.compile(r"(?:path|file|filename)=[\"']?(?P<path>[^\s\"']+)")


class ReplyError(Exception):
    """The reply holds no usable code; the message says what was wrong."""


def parse_reply(reply: str, target: str, current: str) -> str:
    """The new content of `target` from `reply`, given its `current` content."""
    edits = list(SEARCH_REPLACE.finditer(reply))
    if edits:
        return _apply_search_replace(current, edits, target)
    blocks = [m for m in FENCE.finditer(reply) if m.group("body").strip()]
    if not blocks:
        raise ReplyError("the reply held no fenced code block and no SEARCH/REPLACE block")
    block = _pick_block(blocks, target)
    body = block.group("body")
    if not body.endswith("\n"):
        body += "\n"
    return body


def _pick_block(blocks: list[re.Match[str]], target: str) -> re.Match[str]:
    name = PurePosixPath(target).name
    for block in blocks:
        info = block.group("info")
        named = PATH_IN_INFO.search(info)
        if (named and PurePosixPath(named.group("path")).name == name) or name in info.split():
            return block
    return max(blocks, key=lambda b: len(b.group("body")))


def _apply_search_replace(current: str, edits: list[re.Match[str]], target: str) -> str:
    text = current
    for number, edit in enumerate(edits, 1):
        search, replace = edit.group("search"), edit.group("replace")
        if not search.strip():
            raise ReplyError(f"SEARCH block {number} is empty")
        if search in text:
            text = text.replace(search, replace, 1)
            continue
        loose = _match_ignoring_trailing_space(text, search)
        if loose is None:
            first = search.strip().splitlines()[0][:80]
            raise ReplyError(f"SEARCH block {number} does not match {target} (it starts {first!r})")
        start, end = loose
        text = text[:start] + replace + text[end:]
    return text


def _match_ignoring_trailing_space(text: str, search: str) -> tuple[int, int] | None:
    wanted = [line.rstrip() for line in search.strip("\n").splitlines()]
    lines = text.splitlines(keepends=True)
    for i in range(len(lines) - len(wanted) + 1):
        if [line.rstrip() for line in lines[i:i + len(wanted)]] == wanted:
            start = sum(len(line) for line in lines[:i])
            end = start + sum(len(line) for line in lines[i:i + len(wanted)])
            return start, end
    return None
