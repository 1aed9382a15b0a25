"""Shared pieces of the language-server tests: a recording test client, an editor model, tiny repos.

The server runs for real (`python -m micro_agent_lsp` over stdio); models come from the scripted
OpenAI-compatible server in tests/model_server.py; repos are real git repos in temp dirs.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Union

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path
from pygls.protocol import default_converter
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import fenced, make_repo  # noqa: E402,F401  (re-exported for the test modules)

PROFILES = ["visual-studio-code", "neovim@v0.7.0", "neovim@v0.11.0", "emacs"]
BIN = Path(sys.executable).parent
SERVER_CMD = [sys.executable, "-m", "micro_agent_lsp"]

CALC_BUGGY = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
CALC_WRONG = "def add(a, b):\n    return a * b\n\n\ndef mul(a, b):\n    return a * b\n"
CALC_FIXED = CALC_BUGGY.replace("return a - b", "return a + b")
CALC_TESTS = (
    "from calc import add, mul\n\n\n"
    "def test_add():\n    assert add(2, 3) == 5\n\n\n"
    "def test_mul():\n    assert mul(2, 3) == 6\n"
)
TEST_ADD_DEF_LINE = 3  # 0-based
TEST_ADD_ASSERT_LINE = 4
TEST_MUL_DEF_LINE = 7


def server_env(model_url: str, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(OPENAI_API_BASE=model_url, OPENAI_API_KEY="test-key", LITELLM_LOCAL_MODEL_COST_MAP="True",
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", TMPDIR=str(tmp), NO_COLOR="1",
               PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")  # the repos' pytest runs need none of our plugins
    tmp.mkdir(parents=True, exist_ok=True)
    return env


def calc_repo(path: Path, artisan: str, *, yml_extra: str = "", files: dict[str, str] | None = None) -> Path:
    """A tiny git repo: calc.py (add is wrong), tests/test_calc.py, micro-agent.yml naming scripted models."""
    yml = (f"test: {sys.executable} -m pytest -q -p no:cacheprovider tests/test_calc.py\n"
           f"models: {{artisan: {artisan}, librarian: {artisan}, critic: {artisan}}}\n"
           "budget: {maxCostUsd: 1.0, maxDurationMinutes: 5, maxIterations: 10}\n" + yml_extra)
    return make_repo(path, {"calc.py": CALC_BUGGY, "tests/test_calc.py": CALC_TESTS, "conftest.py": "",
                            ".gitignore": ".micro-agent/\n", "micro-agent.yml": yml, **(files or {})})


def unique(role: str) -> str:
    return f"{role}-{uuid.uuid4().hex[:8]}"


def uri(path: Path) -> str:
    return from_fs_path(str(path))


def _structure_action(converter: Any):
    """lsprotocol's client-side converter turns a CodeAction carrying a `command` into a Command."""
    def structure(obj: Any, _type: Any) -> Any:
        if isinstance(obj, dict) and (isinstance(obj.get("command"), dict) or "kind" in obj or "edit" in obj):
            return converter.structure(obj, types.CodeAction)
        return converter.structure(obj, types.Command)
    return structure


class Editor:
    """The test's model of the editor's buffers: open, change, and apply the server's edits."""

    def __init__(self, client: "RecordingClient") -> None:
        self.client = client
        self.docs: dict[str, tuple[str, int]] = {}

    def open(self, path: Path, language: str = "python") -> str:
        text = path.read_text()
        doc_uri = uri(path)
        self.docs[doc_uri] = (text, 1)
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=doc_uri, language_id=language, version=1, text=text)))
        return doc_uri

    def change(self, path: Path, text: str) -> None:
        doc_uri = uri(path)
        _, version = self.docs[doc_uri]
        self.docs[doc_uri] = (text, version + 1)
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=doc_uri, version=version + 1),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))

    def text(self, path: Path) -> str:
        return self.docs[uri(path)][0]

    def save(self, path: Path) -> None:
        path.write_text(self.text(path))
        self.client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(
            uri=uri(path))))

    def close_all(self) -> None:
        for doc_uri in list(self.docs):
            self.client.text_document_did_close(types.DidCloseTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=doc_uri)))
        self.docs.clear()

    def apply(self, edit: types.WorkspaceEdit) -> bool:
        """Apply a WorkspaceEdit the way an editor does (utf-16 positions); False when a version is stale."""
        per_uri: list[tuple[str, int | None, list[types.TextEdit]]] = []
        for change in edit.document_changes or []:
            assert isinstance(change, types.TextDocumentEdit), f"unexpected resource operation {change}"
            per_uri.append((change.text_document.uri, change.text_document.version, list(change.edits)))
        for doc_uri, edits in (edit.changes or {}).items():
            per_uri.append((doc_uri, None, list(edits)))
        for doc_uri, version, edits in per_uri:
            if doc_uri not in self.docs:  # editors load a file the edit touches
                path = to_fs_path(doc_uri)
                self.docs[doc_uri] = (Path(path).read_text(), 0)
            text, current = self.docs[doc_uri]
            if version is not None and version != current:
                return False
            self.docs[doc_uri] = (apply_text_edits(text, edits), current + 1)
        return True


def apply_text_edits(text: str, edits: list[types.TextEdit]) -> str:
    lines = text.splitlines(keepends=True)

    def offset(pos: types.Position) -> int:
        if pos.line >= len(lines):
            return len(text)
        before = sum(len(line) for line in lines[: pos.line])
        line, units, chars = lines[pos.line], 0, 0
        while chars < len(line) and units < pos.character:
            units += len(line[chars].encode("utf-16-le")) // 2
            chars += 1
        return before + chars

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end):]
    return text


class RecordingClient(LanguageClient):
    """pytest-lsp's client plus what these tests look at: every diagnostics publication, the edits the
    server asked to apply (applied to `editor`), `microAgent/runFinished` notifications."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editor = Editor(self)
        self.diagnostics_log: list[tuple[float, str, list[types.Diagnostic]]] = []
        self.edits: list[types.ApplyWorkspaceEditParams] = []
        self.finished: list[dict[str, Any]] = []
        self.apply_result: bool | None = None  # None: apply for real


def _record_diagnostics(client: RecordingClient, params: types.PublishDiagnosticsParams) -> None:
    client.diagnostics_log.append((time.monotonic(), params.uri, list(params.diagnostics)))
    client.diagnostics[params.uri] = params.diagnostics


def _apply_edit(client: RecordingClient, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
    client.edits.append(params)
    applied = client.editor.apply(params.edit) if client.apply_result is None else client.apply_result
    return types.ApplyWorkspaceEditResult(applied=applied)


def _run_finished(client: RecordingClient, params: Any) -> None:
    client.finished.append(params if isinstance(params, dict) else _as_dict(params))


def make_client() -> RecordingClient:
    client = RecordingClient(converter_factory=default_converter)
    converter = client.protocol._converter
    converter.register_structure_hook(Union[types.Command, types.CodeAction], _structure_action(converter))
    register_lsp_features(client, {
        **DEFAULT_CLIENT_FEATURES,
        types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: _record_diagnostics,
        types.WORKSPACE_APPLY_EDIT: _apply_edit,
        "microAgent/runFinished": _run_finished,
    })
    return client


def _as_dict(obj: Any) -> dict[str, Any]:
    if hasattr(obj, "_asdict"):
        return obj._asdict()
    return {k: getattr(obj, k) for k in dir(obj) if not k.startswith("_")}


async def start_client(profile: str | types.ClientCapabilities, env: dict[str, str], root: Path,
                       options: dict[str, Any] | None = None,
                       configuration: dict[str, Any] | None = None) -> RecordingClient:
    client = make_client()
    if configuration is not None:
        client.set_configuration(configuration)
    await client.start_io(*SERVER_CMD, env=env)
    capabilities = client_capabilities(profile) if isinstance(profile, str) else profile
    await client.initialize_session(types.InitializeParams(
        capabilities=capabilities, root_uri=uri(root), workspace_folders=[
            types.WorkspaceFolder(uri=uri(root), name=root.name)],
        initialization_options=options or {}))
    return client


async def stop_client(client: RecordingClient) -> None:
    await client.shutdown_session()
    await client.stop()


async def wait_for(predicate, timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def ours(diagnostics: list[types.Diagnostic]) -> list[types.Diagnostic]:
    return [d for d in diagnostics if d.source == "micro-agent"]


async def wait_finished(client: RecordingClient, run_id: str, timeout: float = 60) -> dict[str, Any]:
    return await wait_for(lambda: next((f for f in client.finished if f.get("runId") == run_id), None),
                          timeout, f"microAgent/runFinished for {run_id}")


async def execute(client: RecordingClient, command: str, *arguments: Any) -> Any:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=list(arguments)))
