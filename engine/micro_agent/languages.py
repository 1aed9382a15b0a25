"""The languages registry: everything Micro Agent knows about a language, in one entry per language.

Per language: its file suffixes, the fence tag and name prompts use, its test-file conventions (which files
are tests, and the stem that links `test_calc.py` / `calc.test.ts` to `calc.py` / `calc.ts`), its one import
scanner (the librarian's related files and the test ↔ target search both use it), how its test command and
its project's whole suite are detected, how its definitions are found (the big-file view's outline and the
partial-reply check), where its tests are defined (the editor's diagnostics) and how its tracebacks name
files (the autopilot's targets).

Every module asks here (`language_for(path)`) instead of keeping its own table. Adding a language is one
`register(Language(...))` entry plus its runner in runners/ when its output needs parsing
(docs/architecture-languages.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePath, PurePosixPath

from .langs import javascript, python, rust
from .project_files import distance, walk

# (rel, text, exists) -> the project files (relative, posix) that `rel` imports; `exists(rel)` says which files exist.
ImportScanner = Callable[[str, str, Callable[[str], bool]], list[str]]


@dataclass(frozen=True)
class Language:
    """One language. Functions take absolute paths inside `root` unless they say otherwise."""

    name: str  # "python"; what `language_of()` returns
    label: str  # "Python": the prompt's `Language:` line
    suffixes: tuple[str, ...]  # lower case, with the dot
    fence: str  # the fence tag of its code blocks
    is_test: Callable[[PurePath], bool]  # a test file, by name and folder alone
    subject_stem: Callable[[PurePath], str]  # `calc` for `test_calc.py` and `calc.py`: links tests and targets
    # How its runner is detected: (target, root) -> the command that runs its tests; None: no guess.
    test_command: Callable[[Path, Path], str | None] | None = None
    # root -> the command that runs the project's whole suite (the autopilot's pass, `run --all-failing`);
    # None: not a project of this language. Asked in `suite_rank` order: a manifest beats loose .py files.
    suite_command: Callable[[Path], str | None] | None = None
    suite_rank: int = 100
    # (target, root) -> its test files, best first; default: the test files with the target's subject stem.
    find_tests: Callable[[Path, Path], list[Path]] | None = None
    # (test file, root) -> the source file it tests; default: the closest source file with its subject stem.
    find_target: Callable[[Path, Path], Path | None] | None = None
    imports: ImportScanner | None = None  # the one import scanner; default: imports nothing
    definitions: tuple[str, ...] = ()  # regexes after the indent; the first non-empty group is the name
    test_definitions: tuple[str, ...] = ()  # regexes for the line defining test `{name}` (escaped into it)
    frames: tuple[str, ...] = ()  # regexes with groups `path` and `line`: a file named in a traceback
    support_files: tuple[str, ...] = ()  # file names that are test code without being tests (conftest.py)
    inline_tests: str = ""  # the text that marks tests inside a source file (`#[cfg(test)]`)
    family: str = ""  # languages of one family import each other (TypeScript and JavaScript); default: name
    fence_by_suffix: dict[str, str] = field(default_factory=dict)  # `.tsx` -> `tsx`

    def fence_of(self, path: str | PurePath) -> str:
        return self.fence_by_suffix.get(PurePosixPath(path).suffix.lower(), self.fence)

    @property
    def import_family(self) -> str:
        return self.family or self.name

    def tests_of(self, target: Path, root: Path) -> list[Path]:
        if self.find_tests is not None:
            return self.find_tests(target, root)
        stem = self.subject_stem(target)
        return sorted(p for p in walk(root, self.suffixes) if self.is_test(p) and self.subject_stem(p) == stem)

    def target_of(self, test_file: Path, root: Path) -> Path | None:
        if self.find_target is not None:
            return self.find_target(test_file, root)
        stem = self.subject_stem(test_file)
        named = [p for p in walk(root, self.suffixes) if not self.is_test(p) and self.subject_stem(p) == stem]
        return min(named, key=lambda p: (distance(p, test_file), str(p))) if named else None

    def command_of(self, target: Path, root: Path) -> str | None:
        return self.test_command(target, root) if self.test_command is not None else None

    def imports_of(self, rel: str, text: str, exists: Callable[[str], bool]) -> list[str]:
        return self.imports(rel, text, exists) if self.imports is not None else []

    @cached_property
    def definition_pattern(self) -> re.Pattern[str] | None:
        """One pattern for every definition: group `indent`, then the definition's name in some group."""
        if not self.definitions:
            return None
        return re.compile(r"(?P<indent>[ \t]*)(?:" + "|".join(self.definitions) + r")")


_REGISTRY: dict[str, Language] = {}
_BY_SUFFIX: dict[str, Language] = {}


def register(language: Language) -> Language:
    """Add `language` (or replace the entry of that name); its suffixes then belong to it."""
    unregister(language.name)
    _REGISTRY[language.name] = language
    for suffix in language.suffixes:
        _BY_SUFFIX[suffix.lower()] = language
    return language


def unregister(name: str) -> None:
    old = _REGISTRY.pop(name, None)
    if old is not None:
        for suffix in old.suffixes:
            if _BY_SUFFIX.get(suffix.lower()) is old:
                del _BY_SUFFIX[suffix.lower()]


def languages() -> list[Language]:
    return list(_REGISTRY.values())


def language_for(path: str | PurePath) -> Language | None:
    """The language of a file, by its suffix; None for a file of no known language."""
    return _BY_SUFFIX.get(PurePosixPath(path).suffix.lower())


def language_of(path: str | PurePath) -> str:
    """"python" | "typescript" | "javascript" | "rust" | … | "other"."""
    language = language_for(path)
    return language.name if language else "other"


def is_test_file(path: str | PurePath) -> bool:
    """A test file of its language, by name alone (`test_*.py`, `*.test.ts`, `__tests__/*`, a crate's `tests/*.rs`)."""
    path = PurePath(path)
    language = language_for(path)
    return language is not None and language.is_test(path)


def source_suffixes() -> frozenset[str]:
    return frozenset(_BY_SUFFIX)


def family_suffixes(path: str | PurePath) -> frozenset[str]:
    """The suffixes of the languages that `path`'s language imports from (itself, and its family)."""
    language = language_for(path)
    if language is None:
        return frozenset()
    return frozenset(s for lang in _REGISTRY.values() if lang.import_family == language.import_family
                     for s in lang.suffixes)


def label_and_fence(path: str | PurePath) -> tuple[str, str]:
    """(language name for a prompt, fence tag) of a file; ("code", "") for an unknown one."""
    language = language_for(path)
    return (language.label, language.fence_of(path)) if language else ("code", "")


def inline_tests_marker(path: str | PurePath, text: str) -> str:
    """The marker of the tests `text` holds inside itself (`#[cfg(test)]` in Rust), or "" when it holds none."""
    language = language_for(path)
    marker = language.inline_tests if language else ""
    return marker if marker and marker in text else ""


def test_definition_line(lines: Iterable[str], name: str, language: Language | None = None) -> int | None:
    """The 0-based line that defines test `name` (by `language`'s patterns, or every language's), else None."""
    quoted = re.escape(name)
    chosen = [language] if language else list(_REGISTRY.values())
    patterns = [re.compile(p.replace("{name}", quoted)) for lang in chosen for p in lang.test_definitions]
    for index, line in enumerate(lines):
        if any(p.search(line) for p in patterns):
            return index
    return None


def frames_in(text: str) -> list[str]:
    """Paths of the files a traceback names, in the order they appear (every language's frame patterns)."""
    patterns = dict.fromkeys(p for lang in _REGISTRY.values() for p in lang.frames)  # TS and JS share theirs
    found = [(m.start(), m["path"]) for p in patterns for m in re.finditer(p, text, re.MULTILINE)]
    return [path for _, path in sorted(found)]


def detect_suite(root: Path) -> str | None:
    """The command that runs `root`'s whole suite (`cargo test`, `npm test`, pytest), from the project's files."""
    for language in sorted(_REGISTRY.values(), key=lambda lang: lang.suite_rank):
        if language.suite_command is not None and (command := language.suite_command(root)):
            return command
    return None


def is_support_file(path: str | PurePath) -> bool:
    """conftest.py & co: test code that is no test file."""
    name = PurePath(path).name
    return any(name in lang.support_files for lang in _REGISTRY.values())


# ---------------------------------------------------------------- the built-in languages

register(Language(
    name="python", label="Python", suffixes=python.SUFFIXES, fence="python",
    is_test=python.is_test, subject_stem=python.subject_stem, find_tests=python.find_tests,
    find_target=python.find_target, test_command=python.test_command, suite_command=python.suite_command,
    suite_rank=2, imports=python.imports,
    definitions=python.DEFINITIONS, test_definitions=python.TEST_DEFINITIONS, frames=python.FRAMES,
    support_files=python.SUPPORT_FILES,
))
for _name, _label, _suffixes in (("typescript", "TypeScript", javascript.TYPESCRIPT),
                                 ("javascript", "JavaScript", javascript.JAVASCRIPT)):
    register(Language(
        name=_name, label=_label, suffixes=_suffixes, fence=_name, family="js",
        fence_by_suffix={".tsx": "tsx", ".jsx": "jsx"},
        is_test=javascript.is_test, subject_stem=javascript.subject_stem, find_tests=javascript.find_tests,
        find_target=javascript.find_target, test_command=javascript.test_command,
        suite_command=javascript.suite_command, suite_rank=1, imports=javascript.imports,
        definitions=javascript.DEFINITIONS, test_definitions=javascript.TEST_DEFINITIONS, frames=javascript.FRAMES,
    ))
register(Language(
    name="rust", label="Rust", suffixes=rust.SUFFIXES, fence="rust",
    is_test=rust.is_test, subject_stem=rust.subject_stem, find_tests=rust.find_tests,
    find_target=rust.find_target, test_command=rust.test_command, suite_command=rust.suite_command,
    suite_rank=0, imports=rust.imports,
    definitions=rust.DEFINITIONS, test_definitions=rust.TEST_DEFINITIONS, inline_tests=rust.INLINE_TESTS,
))
