"""Find the tests for a file, the file a test covers, and the command that runs them.

Pure filesystem work (no subprocess): the language server calls this on every save. What each language
does is in its entry of the languages registry (languages.py); this is the one door to it.
`micro-agent.yml`'s `test` always wins; the caller checks it before asking here.
"""

from __future__ import annotations

from pathlib import Path

from ..languages import language_for


def find_test_files(target: Path, root: Path) -> list[Path]:
    """The test files for `target`: by naming convention first, then test files that import it."""
    target, root = target.resolve(), root.resolve()
    language = language_for(target)
    if language is None:
        return []
    if language.is_test(target):
        return [target]
    return language.tests_of(target, root)


def find_target_for_test(test_file: Path, root: Path) -> Path | None:
    """The source file `test_file` tests: by name (`test_x.py` → `x.py`), else by what it imports."""
    test_file, root = test_file.resolve(), root.resolve()
    language = language_for(test_file)
    return language.target_of(test_file, root) if language else None


def detect_test_command(target: Path, root: Path) -> str | None:
    """The command that runs `target`'s tests from `root`, or None when nothing fits."""
    target, root = target.resolve(), root.resolve()
    language = language_for(target)
    return language.command_of(target, root) if language else None
