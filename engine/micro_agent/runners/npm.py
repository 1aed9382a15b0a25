"""`npm test` / `npm run <script>` (and yarn, pnpm): find what the script runs and report through it.

The script comes from `package.json` in the working directory. When its last command is vitest,
jest or `node --test`, that runner's reporter arguments are added (after `--` for npm) and its
report is read; any other script is left to the plain exit-status runner.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from . import shell
from .base import Parsed, Prepared, Runner
from .jest import JestRunner
from .jest import reporter_args as jest_args
from .node import NodeTestRunner, reporter_env
from .process import ProcessResult
from .vitest import VitestRunner
from .vitest import reporter_args as vitest_args

INVOCATION = r"(?P<tool>npm|pnpm|yarn)(?:\s+(?:run|run-script))?\s+(?P<script>[\w:.-]+)"
_SHORT_NAMES = {"t": "test", "tst": "test"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")
_LAUNCHERS = {"npx", "cross-env", "exec", "pnpm", "yarn", "dotenv", "--"}

RUNNERS: dict[str, Runner] = {"vitest": VitestRunner(), "jest": JestRunner(), "node": NodeTestRunner()}


class NpmScriptRunner:
    """An npm/yarn/pnpm script whose last command is vitest, jest or `node --test`."""

    name = "npm"

    def __init__(self, kind: str, script: str) -> None:
        self.kind = kind
        self.script = script
        self.inner = RUNNERS[kind]

    def prepare(self, command: str, cwd: Path, report_dir: Path, env: Mapping[str, str]) -> Prepared:
        if self.kind == "node":
            return Prepared(command, reporter_env(report_dir, env))
        match = shell.find(command, INVOCATION)
        assert match is not None
        args = vitest_args(self.script, report_dir) if self.kind == "vitest" else jest_args(report_dir)
        end = shell.segment_end(command, match.start())
        if match.group("tool") == "npm" and "--" not in shell.words(command[match.start() : end]):
            args = ["--", *args]
        return Prepared(shell.insert(command, end, args))

    def parse(self, result: ProcessResult, cwd: Path, report_dir: Path) -> Parsed:
        return self.inner.parse(result, cwd, report_dir)


def for_command(command: str, cwd: Path) -> NpmScriptRunner | None:
    """The runner for `command` when it runs a package.json script we know how to read."""
    match = shell.find(command, INVOCATION)
    if match is None:
        return None
    script = read_script(cwd, match.group("script"))
    kind = script_runner(script) if script else None
    return NpmScriptRunner(kind, script) if kind and script else None


def read_script(cwd: Path, name: str) -> str | None:
    """`scripts[name]` of `cwd/package.json`, if there is one."""
    name = _SHORT_NAMES.get(name, name)
    try:
        scripts = json.loads((cwd / "package.json").read_text(encoding="utf-8")).get("scripts") or {}
    except (OSError, ValueError, AttributeError):
        return None
    script = scripts.get(name)
    return script if isinstance(script, str) else None


def script_runner(script: str) -> str | None:
    """"vitest", "jest" or "node" when the script's last command runs that test runner."""
    last = re.split(r"&&|\|\||;|\|", script)[-1]
    words = [word for word in shell.words(last) if not _ASSIGNMENT.match(word)]  # drop `NODE_ENV=test`
    while words and (words[0] in _LAUNCHERS or words[0].startswith("-")):
        words.pop(0)
    if not words:
        return None
    program = PurePosixPath(words[0]).name
    if program in ("vitest", "jest"):
        return program
    if program == "node" and "--test" in words:
        return "node"
    return None
