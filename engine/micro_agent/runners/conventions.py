"""Which language a file is in, and whether it is a test file, by name alone."""

from __future__ import annotations

import re
from pathlib import PurePath

PYTHON = frozenset({".py"})
TYPESCRIPT = frozenset({".ts", ".tsx", ".mts", ".cts"})
JAVASCRIPT = frozenset({".js", ".jsx", ".mjs", ".cjs"})
JS_FAMILY = TYPESCRIPT | JAVASCRIPT
RUST = frozenset({".rs"})

_JS_TEST_NAME = re.compile(r"\.(?:test|spec)\.[cm]?[jt]sx?$")


def language_of(path: PurePath) -> str:
    """"python" | "typescript" | "javascript" | "rust" | "other"."""
    suffix = path.suffix.lower()
    if suffix in PYTHON:
        return "python"
    if suffix in TYPESCRIPT:
        return "typescript"
    if suffix in JAVASCRIPT:
        return "javascript"
    if suffix in RUST:
        return "rust"
    return "other"


def is_test_file(path: PurePath) -> bool:
    """pytest's `test_*.py` / `*_test.py`; `*.test.ts`, `*.spec.js`, `__tests__/*`; a crate's `tests/*.rs`."""
    path = PurePath(path)
    language = language_of(path)
    if language == "python":
        return path.name.startswith("test_") or path.stem.endswith("_test")
    if language in ("typescript", "javascript"):
        return bool(_JS_TEST_NAME.search(path.name)) or "__tests__" in path.parts[:-1]
    if language == "rust":
        return "tests" in path.parts[:-1]
    return False


def js_stem(name: str) -> str:
    """`math` for `math.ts`, `math.test.ts`, `math.spec.mjs`."""
    stem = name
    for _ in range(2):
        base, dot, ext = stem.rpartition(".")
        if not dot:
            break
        if f".{ext}" in JS_FAMILY or ext in ("test", "spec"):
            stem = base
    return stem
