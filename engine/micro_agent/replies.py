"""Turn a model's reply into new file contents.

Accepted: a fenced block holding the whole file (any fence language), or SEARCH/REPLACE blocks
(for large files). A reply with neither is a ReplyError: a failed iteration, never a crash. So is a
reply that cannot be what the model meant for the target:
- a block labelled with another path (`path=tests/test_x.py`, `path=../outside.py`, an info string or a
  line just above the fence naming another file) is never written into the target;
- a whole-file block that is plainly a fragment (it drops most of the file's definitions, shrinks a large
  file to less than half, or says `# ... rest unchanged`) is never written over the whole file;
- a SEARCH that matches more than one place is not applied to the first one by chance.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from pathlib import PurePosixPath

from .definitions import definitions, knows_language

FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.S | re.M)
SEARCH_REPLACE = re.compile(
    r"^<{5,9} ?SEARCH[^\n]*\n(?P<search>.*?)^={5,9}[ \t]*\n(?P<replace>.*?)^>{5,9} ?REPLACE[^\n]*$", re.S | re.M
)
PATH_IN_INFO = re.compile(r"(?:path|file|filename)=[\"']?(?P<path>[^\s\"']+)")
# A token that names a file: has a folder or an extension (`tests/x.py`, `calc.py`), not a language tag.
PATH_LIKE = re.compile(r"[\w.\-/\\]*(?:/[\w.\-]+|\w\.[A-Za-z]\w{0,5})")
# A line a model writes in place of code it left out: `# ... rest of the file unchanged`, `// … existing code`.
ELISION = re.compile(r"^[ \t]*(?:#|//|/\*|\*|--)[^\n]*?(?:\.\.\.|…)[^\n]*?"
                     r"\b(?:rest|unchanged|existing|remaining|omitted|same|other|previous|as before)\b[^\n]*$", re.I | re.M)

# A whole-file reply is a fragment when it drops more than half of the file's definitions (and at least this many):
MIN_DROPPED_DEFINITIONS = 3
# or when the file has at least this many non-blank lines and the reply keeps less than half of them.
LARGE_FILE_LINES = 200
ASK_FOR_WHOLE = "reply with the whole file or with SEARCH/REPLACE blocks"


class ReplyError(Exception):
    """The reply holds no usable code; the message says what was wrong."""


def parse_reply(reply: str, target: str, current: str) -> str:
    """The new content of `target` from `reply`, given its `current` content."""
    blocks = [m for m in FENCE.finditer(reply) if m.group("body").strip()]
    edits = list(SEARCH_REPLACE.finditer(reply))
    if edits:
        _check_edit_labels(reply, edits, blocks, target)
        return _apply_search_replace(current, edits, target)
    if not blocks:
        raise ReplyError("the reply held no fenced code block and no SEARCH/REPLACE block")
    block = _pick_block(reply, blocks, target)
    body = block.group("body")
    if not body.endswith("\n"):
        body += "\n"
    if problem := fragment_problem(target, current, body):
        raise ReplyError(problem)
    return body


# ---------------------------------------------------------------------- which file a block is for
def block_label(reply: str, block: re.Match[str]) -> str | None:
    """The path a fenced block names: `path=…` (or `file=`, `filename=`) or a path-like token in its info
    string (```` ```python tests/x.py ````, ```` ```python:x.py ````), else a line above it holding only a path."""
    info = block.group("info")
    if named := PATH_IN_INFO.search(info):
        return named.group("path")
    for token in re.split(r"[\s:]+", info.strip()):
        if PATH_LIKE.fullmatch(token):
            return token
    return _line_label_above(reply, block.start())


def names_target(label: str, target: str) -> bool:
    """Whether a block's label means `target` (the same relative path, its bare file name, or an absolute
    path ending in it)."""
    label = label.replace("\\", "/")
    if label.startswith("/"):
        return label.endswith("/" + target)
    normal = posixpath.normpath(label)
    return normal == posixpath.normpath(target) or ("/" not in normal and normal == PurePosixPath(target).name)


def _pick_block(reply: str, blocks: list[re.Match[str]], target: str) -> re.Match[str]:
    labels = [block_label(reply, b) for b in blocks]
    for block, label in zip(blocks, labels):
        if label is not None and names_target(label, target):
            return block
    unlabelled = [b for b, label in zip(blocks, labels) if label is None]
    if unlabelled:
        return max(unlabelled, key=lambda b: len(b.group("body")))
    raise ReplyError(_other_path_message(list(dict.fromkeys(label for label in labels if label)), target))


def _check_edit_labels(reply: str, edits: list[re.Match[str]], blocks: list[re.Match[str]], target: str) -> None:
    """SEARCH/REPLACE blocks inside a fence labelled with another path (or under such a line) are not for us."""
    others = []
    for edit in edits:
        fence = next((b for b in blocks if b.start() < edit.start() < b.end()), None)
        label = block_label(reply, fence) if fence else _line_label_above(reply, edit.start())
        if label is not None and not names_target(label, target):
            others.append(label)
    if others:
        raise ReplyError(_other_path_message(list(dict.fromkeys(others)), target))


def _line_label_above(reply: str, position: int) -> str | None:
    above = reply[:position].rstrip().rsplit("\n", 1)[-1].strip().strip("*`'\"").rstrip(":").strip("*`'\"")
    return above if PATH_LIKE.fullmatch(above) else None


def _other_path_message(labels: list[str], target: str) -> str:
    def where(label: str) -> str:
        normal = posixpath.normpath(label.replace("\\", "/"))
        outside = normal.startswith("../") or normal == ".." or normal.startswith("/")
        return f"path={label}" + (" (outside the project)" if outside else "")

    named = ", ".join(where(label) for label in labels)
    return (f"the reply's code is labelled {named}, not {target}: only {target} may change, so nothing was "
            f"written; reply with the whole {target} in a block labelled path={target} or with SEARCH/REPLACE "
            f"blocks for it")


# ---------------------------------------------------------------------- a whole file, or a fragment?
def fragment_problem(target: str, current: str, new: str) -> str | None:
    """Why `new` cannot be the whole new content of `target` (currently `current`), or None when it can be.

    Pure. Small rewrites pass: deleting a helper or two, rewriting a short file from scratch.
    """
    if knows_language(target):
        before = Counter(d.name for d in definitions(target, current))
        after = Counter(d.name for d in definitions(target, new))
        total, kept = sum(before.values()), sum((before & after).values())
        if total - kept >= MIN_DROPPED_DEFINITIONS and kept * 2 < total:
            missing = [name for name in before if name not in after]
            shown = ", ".join(missing[:5]) + (", …" if len(missing) > 5 else "")
            return (f"the reply holds {kept:,} of the {total:,} definitions in {target} (missing: {shown}): it looks "
                    f"like part of the file, so nothing was written; {ASK_FOR_WHOLE}")
    old_lines, new_lines = _code_lines(current), _code_lines(new)
    if old_lines >= LARGE_FILE_LINES and new_lines * 2 < old_lines:
        return (f"the reply has {new_lines:,} lines of code where {target} has {old_lines:,}: it looks like part of "
                f"the file, so nothing was written; {ASK_FOR_WHOLE}")
    existing = set(current.splitlines())
    for match in ELISION.finditer(new):
        if match.group(0) not in existing:
            return (f"the reply leaves code out ({match.group(0).strip()[:80]!r}), so nothing was written; "
                    f"{ASK_FOR_WHOLE}")
    return None


def _code_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())


# ---------------------------------------------------------------------- SEARCH/REPLACE
def _apply_search_replace(current: str, edits: list[re.Match[str]], target: str) -> str:
    text = current
    for number, edit in enumerate(edits, 1):
        search, replace = edit.group("search"), edit.group("replace")
        if not search.strip():
            raise ReplyError(f"SEARCH block {number} is empty")
        exact = text.count(search)
        if exact > 1:
            raise ReplyError(f"SEARCH block {number} matches {exact} places in {target}; include more lines "
                             f"around the change so that it matches one")
        if exact == 1:
            text = text.replace(search, replace, 1)
            continue
        loose = _matches_ignoring_trailing_space(text, search)
        if not loose:
            first = search.strip().splitlines()[0][:80]
            raise ReplyError(f"SEARCH block {number} does not match {target} (it starts {first!r})")
        if len(loose) > 1:
            raise ReplyError(f"SEARCH block {number} matches {len(loose)} places in {target}; include more lines "
                             f"around the change so that it matches one")
        start, end = loose[0]
        text = text[:start] + replace + text[end:]
    return text


def _matches_ignoring_trailing_space(text: str, search: str) -> list[tuple[int, int]]:
    wanted = [line.rstrip() for line in search.strip("\n").splitlines()]
    lines = text.splitlines(keepends=True)
    stripped = [line.rstrip() for line in lines]
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    found = []
    for i in range(len(lines) - len(wanted) + 1):
        if stripped[i] == wanted[0] and stripped[i:i + len(wanted)] == wanted:
            found.append((offsets[i], offsets[i + len(wanted)]))
    return found
