"""The definitions a source file holds (functions, classes, exports, Rust items), found by one regex per language.

Used to tell a whole-file reply from a fragment (replies.py) and to outline a file too large to show whole
(excerpts.py). A line-based table, not a parser: it must work on broken code, and a later languages
registry can absorb `DEFINITION_PATTERNS` as it is.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import NamedTuple

_RUST_VIS = r"(?:pub(?:\([^)]*\))?\s+)?"
# Per language: patterns whose first non-empty group is the definition's name, matched after the indent.
DEFINITION_PATTERNS: dict[str, tuple[str, ...]] = {
    "python": (r"(?:async\s+)?def\s+(\w+)", r"class\s+(\w+)"),
    "javascript": (
        r"(?:export\s+(?:default\s+)?)?(?:declare\s+)?(?:async\s+)?function\s*\*?\s*([\w$]+)",
        r"(?:export\s+(?:default\s+)?)?(?:declare\s+)?(?:abstract\s+)?class\s+([\w$]+)",
        r"export\s+(?:declare\s+)?(?:const|let|var|interface|type|enum|namespace)\s+([\w$]+)",
        r"(?:const|let|var)\s+([\w$]+)\s*=\s*(?:async\s+)?(?:function\b|\([^)]*\)\s*=>|[\w$]+\s*=>)",
        r"(?:module\.)?exports\.([\w$]+)\s*=",
        r"(?:interface|type|enum)\s+([\w$]+)",
    ),
    "rust": (
        _RUST_VIS + r"(?:(?:async|const|unsafe|extern\s+\"[^\"]*\")\s+)*fn\s+(\w+)",
        _RUST_VIS + r"(?:struct|enum|trait|union|type|mod|static|const)\s+(\w+)",
        r"(?:unsafe\s+)?impl\b(?:\s*<[^{\n]*?>)?\s+([^{\n]+?)\s*(?:where\b[^\n]*)?\{?[ \t]*$",
        r"macro_rules!\s*(\w+)",
    ),
}
LANGUAGE_OF_SUFFIX = {".py": "python", ".pyi": "python", ".rs": "rust",
                      **{s: "javascript" for s in (".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts")}}
_COMPILED = {lang: re.compile(r"(?P<indent>[ \t]*)(?:" + "|".join(patterns) + r")")
             for lang, patterns in DEFINITION_PATTERNS.items()}


class Definition(NamedTuple):
    name: str
    line: int  # 1-based
    indent: int  # columns of leading whitespace: 0 for a top-level definition
    signature: str  # the definition's first line, stripped and capped


def definitions(path: str, text: str) -> list[Definition]:
    """Every definition in `text` (top-level and nested), in file order; [] for a language not in the table."""
    pattern = _COMPILED.get(LANGUAGE_OF_SUFFIX.get(PurePosixPath(path).suffix, ""))
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
    return PurePosixPath(path).suffix in LANGUAGE_OF_SUFFIX
