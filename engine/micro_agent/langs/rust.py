"""Rust: a crate's `tests/*.rs` and `#[cfg(test)]` modules, `mod`/`use crate::` imports, `cargo test`."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path, PurePath, PurePosixPath

from ..project_files import nearest_with, read_text

SUFFIXES = (".rs",)
_VIS = r"(?:pub(?:\([^)]*\))?\s+)?"
DEFINITIONS = (
    _VIS + r"(?:(?:async|const|unsafe|extern\s+\"[^\"]*\")\s+)*fn\s+(\w+)",
    _VIS + r"(?:struct|enum|trait|union|type|mod|static|const)\s+(\w+)",
    r"(?:unsafe\s+)?impl\b(?:\s*<[^{\n]*?>)?\s+([^{\n]+?)\s*(?:where\b[^\n]*)?\{?[ \t]*$",
    r"macro_rules!\s*(\w+)",
)
TEST_DEFINITIONS = (r"^\s*(?:pub\s+)?(?:async\s+)?fn\s+{name}\s*\(",)
_MOD = re.compile(r"^\s*(?:pub\s+)?mod\s+(?P<name>\w+)\s*;", re.M)
_USE = re.compile(r"\buse\s+crate::(?P<name>\w+)")
INLINE_TESTS = "#[cfg(test)]"  # a source file that holds tests of its own


def is_test(path: PurePath) -> bool:
    return "tests" in path.parts[:-1]


def subject_stem(path: PurePath) -> str:
    return path.stem


def imports(rel: str, text: str, exists: Callable[[str], bool]) -> list[str]:
    """The module files `rel` declares (`mod x;`) or uses (`use crate::x`), relative and posix."""
    path = PurePosixPath(rel)
    folder = path.parent if path.name in ("lib.rs", "main.rs", "mod.rs") else path.parent / path.stem
    crate_src = next((p for p in [path.parent, *path.parents] if p.name == "src"), path.parent)
    found: list[str] = []
    for match in _MOD.finditer(text):
        for candidate in (f"{folder}/{match['name']}.rs", f"{folder}/{match['name']}/mod.rs"):
            if candidate not in found and exists(candidate):
                found.append(candidate)
    for match in _USE.finditer(text):
        for candidate in (f"{crate_src}/{match['name']}.rs", f"{crate_src}/{match['name']}/mod.rs"):
            if candidate not in found and exists(candidate):
                found.append(candidate)
    return found


def find_tests(target: Path, root: Path) -> list[Path]:
    crate = nearest_with(target.parent, root, "Cargo.toml")
    found = [target] if INLINE_TESTS in read_text(target) else []
    if crate is not None and (crate / "tests").is_dir():
        found += sorted(p for p in (crate / "tests").glob("*.rs") if p.is_file())
    return found


def find_target(test_file: Path, root: Path) -> Path | None:
    if not is_test(test_file):
        return test_file if INLINE_TESTS in read_text(test_file) else None
    crate = nearest_with(test_file.parent, root, "Cargo.toml")
    for name in ("lib.rs", "main.rs"):
        if crate is not None and (crate / "src" / name).is_file():
            return crate / "src" / name
    return None


def suite_command(root: Path) -> str | None:
    """The whole suite of a crate or workspace at `root`."""
    return "cargo test" if (root / "Cargo.toml").is_file() else None


def test_command(target: Path, root: Path) -> str | None:
    crate = nearest_with(target.parent, root, "Cargo.toml")
    if crate is None:
        return None
    if crate == root:
        return "cargo test"
    return f"cargo test --manifest-path {shlex.quote((crate / 'Cargo.toml').relative_to(root).as_posix())}"
