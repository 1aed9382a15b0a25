"""Pure text helpers shared by the runners: colours, caps, paths and source locations."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

MESSAGE_LIMIT = 4_000  # characters kept of one failure's message

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")

# `path:line` or `path:line:col` of a JS/TS source file, as stack frames and reporters print them.
_JS_LOCATION = re.compile(r"(?P<path>(?:file://)?[^\s()'\"<>:]*\.[cm]?[jt]sx?):(?P<line>\d+)(?::\d+)?")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def cap(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` if short enough, else its head and tail around a marker."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    return f"{text[:head]}\n[... {len(text) - limit} characters truncated ...]\n{text[-tail:]}"


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def relative_path(path: str, cwd: Path) -> str | None:
    """`path` as printed by a tool, relative to `cwd` in POSIX form; None when it lies outside.

    Relative paths are taken as relative to `cwd` (and kept even if the file is gone);
    a root-relative path like vite's `/src/x.ts` is accepted when `cwd/src/x.ts` exists.
    """
    path = path.removeprefix("file://").strip()
    if not path:
        return None
    root = cwd.resolve()
    candidate = Path(path)
    if not candidate.is_absolute():
        return PurePosixPath(*_normalise(PurePosixPath(path).parts)).as_posix() or None
    try:
        return candidate.resolve().relative_to(root).as_posix()
    except ValueError:
        pass
    try:
        return candidate.relative_to(root).as_posix()
    except ValueError:
        pass
    if not candidate.exists() and (root / path.lstrip("/")).exists():
        return path.lstrip("/")
    return None


def _normalise(parts: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for part in parts:
        if part == ".":
            continue
        if part == ".." and out and out[-1] != "..":
            out.pop()
        else:
            out.append(part)
    return out


def js_locations(text: str, cwd: Path) -> list[tuple[str, int]]:
    """Source locations in `text` that lie in the project (not node_modules, not node internals)."""
    found: list[tuple[str, int]] = []
    for match in _JS_LOCATION.finditer(text):
        raw = match.group("path")
        if "node_modules" in raw or raw.startswith("node:"):
            continue
        rel = relative_path(raw, cwd)
        if rel is not None and not rel.startswith("../"):
            found.append((rel, int(match.group("line"))))
    return found


def pick_location(
    locations: list[tuple[str, int]], prefer_file: str | None = None, prefer=None
) -> tuple[str | None, int | None]:
    """The first location in `prefer_file`, else the first one `prefer(file)` accepts, else the first."""
    if prefer_file is not None:
        for file, line in locations:
            if file == prefer_file:
                return file, line
    if prefer is not None:
        for file, line in locations:
            if prefer(file):
                return file, line
    if locations:
        return locations[0]
    return None, None


def drop_frames(text: str, markers: tuple[str, ...] = ("node_modules", "(node:", " node:", "(<anonymous>)")) -> str:
    """A JS stack without the `at ...` lines that point into dependencies or node internals."""
    kept: list[str] = []
    for line in text.splitlines():
        is_frame = line.lstrip().startswith(("at ", "❯ "))
        if is_frame and any(marker in line for marker in markers):
            if line.rstrip().endswith(" {"):  # node prints the error's own fields after the last frame
                kept.append("{")
            continue
        kept.append(line)
    return "\n".join(kept)
