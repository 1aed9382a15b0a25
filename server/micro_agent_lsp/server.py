"""The Micro Agent language server: LSP in, engine calls out.

Handlers stay thin: they validate, look things up and hand over to `driver` (runs), `actions`
(code actions) and `testwatch` (tests on open/save). Nothing heavy is imported before `initialize`
is answered; the engine and litellm warm up on a thread once the client is `initialized`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from micro_agent.secrets import RedactingFilter, redact

from . import __version__, driver
from .actions import CANCEL_COMMAND, ESCALATE_COMMAND, RUN_COMMAND, STATUS_COMMAND, code_actions
from .arguments import BadArguments, RunArgs, UriArgs, parse_arguments
from .diagnostics import FailureSite
from .runs import RunRegistry
from .settings import SECTION, ServerSettings, merge, parse_settings, section_of
from .testwatch import TestWatcher

log = logging.getLogger("micro_agent_lsp")
SHUTDOWN_GRACE_S = 3.0


class RequestFailed(JsonRpcException):
    """A command the user cannot run now (a run already going, no target found, bad config)."""

    code = types.LSPErrorCodes.RequestFailed


class MicroAgentServer(LanguageServer):
    """The server and what it knows: runs in progress, settings, failing-test sites per file."""

    def __init__(self) -> None:
        super().__init__("micro-agent", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.runs = RunRegistry()
        self.watcher = TestWatcher()
        self.settings = ServerSettings()
        self._init_options: Any = {}
        self._client_settings: Any = {}
        self._reported_problems: set[str] = set()
        self.sites: dict[str, list[FailureSite]] = {}  # path -> failing-test sites shown there
        self._client_uris: dict[str, str] = {}  # path -> the uri spelling the client used
        self._published: dict[str, set[str]] = {}  # report group -> paths it published diagnostics to
        self.warmed = threading.Event()
        self.run_tasks: set[asyncio.Task[None]] = set()
        self.last_path: str | None = None  # the file the user touched last (open, change, save, code action)

    # ------------------------------------------------------------------ paths and texts
    def path_of(self, uri: str) -> str:
        path = to_fs_path(uri)
        if path is None:
            raise RequestFailed(f"Micro Agent works on files on disk; {uri} is not one.")
        return os.path.normpath(path)

    def uri_of(self, path: str | Path) -> str:
        path = os.path.normpath(str(path))
        return self._client_uris.get(path) or from_fs_path(path) or f"file://{path}"

    def remember_uri(self, uri: str) -> str:
        """Note the client's spelling of a file's uri (and that the user is on that file); returns its path."""
        path = self.path_of(uri)
        self._client_uris[path] = uri
        self.last_path = path
        return path

    def command_path(self, uri: str | None, command: str) -> str:
        """The file a command is about: its `uri`, else the one the user touched last."""
        if uri:
            return self.remember_uri(uri)
        if self.last_path is None:
            raise RequestFailed(f"{command}: which file? Pass [{{\"uri\": ...}}] or open the file first.")
        return self.last_path

    def open_document(self, path: str | Path):
        """The open editor buffer for `path`, or None."""
        path = os.path.normpath(str(path))
        for doc in self.workspace.text_documents.values():
            if doc.path and os.path.normpath(doc.path) == path:
                return doc
        return None

    def current_text(self, path: str | Path) -> tuple[str | None, int | None]:
        """(content, version): the open buffer's, else the file on disk's (version None); None if missing."""
        doc = self.open_document(path)
        if doc is not None:
            return doc.source, doc.version
        try:
            return Path(path).read_text(encoding="utf-8"), None
        except (OSError, UnicodeDecodeError):
            return None, None

    @property
    def position_encoding(self) -> str | None:
        encoding = self.workspace.position_encoding
        return str(encoding.value if hasattr(encoding, "value") else encoding) if encoding else None

    # ------------------------------------------------------------------ client features
    def supports(self, dotted: str) -> bool:
        value: Any = self.client_capabilities
        for part in dotted.split("."):
            value = getattr(value, part, None)
            if value is None:
                return False
        return bool(value)

    def publish(self, path: str, diagnostics: list[types.Diagnostic]) -> None:
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=self.uri_of(path), diagnostics=diagnostics))

    def publish_group(self, group: str, by_path: dict[str, list[types.Diagnostic]]) -> None:
        """Publish a report's diagnostics; paths it published to last time and not now are cleared."""
        previous = self._published.get(group, set())
        for path in previous - set(by_path):
            self.publish(path, [])
            self.sites.pop(path, None)
        for path, diagnostics in by_path.items():
            self.publish(path, diagnostics)
        self._published[group] = {p for p, d in by_path.items() if d}

    def log_line(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_log_message(types.LogMessageParams(type=kind, message=redact(message)))

    def show(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=redact(message)))

    # ------------------------------------------------------------------ settings
    def apply_settings(self, init_options: Any = None, client_settings: Any = None) -> None:
        """Merge initializationOptions and workspace/configuration; name new problems once."""
        if init_options is not None:
            self._init_options = init_options
        if client_settings is not None:
            self._client_settings = client_settings
        raw = merge(self._init_options or {}, self._client_settings or {})
        self.settings, problems = parse_settings(raw)
        new = [p for p in problems if p not in self._reported_problems]
        if new:
            self._reported_problems.update(new)
            self.show("Micro Agent settings: " + "; ".join(new) + ". Fix them in your editor's Micro Agent settings.",
                      types.MessageType.Warning)

    async def fetch_client_settings(self) -> None:
        if not self.supports("workspace.configuration"):
            return
        try:
            result = await asyncio.wait_for(
                self.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])),
                timeout=10)
        except Exception as exc:  # a client that cannot answer keeps the settings it sent at start
            log.warning("workspace/configuration failed: %s", exc)
            return
        section = result[0] if result else None
        self.apply_settings(client_settings=section if isinstance(section, dict) else {})


def _warm_engine(done: threading.Event) -> None:
    """Import the engine and litellm off the event loop, so the first run starts warm."""
    try:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import micro_agent.engine  # noqa: F401
        import micro_agent.runners  # noqa: F401
        import micro_agent.settings  # noqa: F401
        from micro_agent import llm

        llm.warm()
        import litellm  # noqa: F401  (returns once the import warm() started has finished)
    except Exception:  # warming is an optimisation; the run reports real import problems
        log.exception("warming the engine failed")
    finally:
        done.set()


def _arguments(model: type, command: str, args: tuple[Any, ...]) -> Any:
    try:
        return parse_arguments(model, command, args)
    except BadArguments as exc:
        raise JsonRpcInvalidParams(str(exc)) from None


def create_server() -> MicroAgentServer:
    server = MicroAgentServer()

    @server.feature(types.INITIALIZE)
    def on_initialize(ls: MicroAgentServer, params: types.InitializeParams) -> None:
        ls._init_options = section_of(params.initialization_options)

    @server.feature(types.INITIALIZED)
    async def on_initialized(ls: MicroAgentServer, params: types.InitializedParams) -> None:
        threading.Thread(target=_warm_engine, args=(ls.warmed,), name="micro-agent-warm", daemon=True).start()
        ls.apply_settings()
        await ls.fetch_client_settings()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_configuration(ls: MicroAgentServer, params: types.DidChangeConfigurationParams) -> None:
        if ls.supports("workspace.configuration"):
            await ls.fetch_client_settings()
        elif isinstance(params.settings, dict):
            ls.apply_settings(client_settings=section_of(params.settings))

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def on_open(ls: MicroAgentServer, params: types.DidOpenTextDocumentParams) -> None:
        driver.tests_on_save(ls, ls.remember_uri(params.text_document.uri))

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def on_change(ls: MicroAgentServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.remember_uri(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def on_save(ls: MicroAgentServer, params: types.DidSaveTextDocumentParams) -> None:
        driver.tests_on_save(ls, ls.remember_uri(params.text_document.uri))

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
    def on_code_action(ls: MicroAgentServer, params: types.CodeActionParams):
        uri = params.text_document.uri
        path = ls.remember_uri(uri)
        fix_lines = {line for site in ls.sites.get(path, []) for line in site.lines}
        run = ls.runs.find(path)
        literal = ls.supports("text_document.code_action.code_action_literal_support")
        return code_actions(uri, params.range, list(params.context.diagnostics), fix_lines, run is not None,
                            literal) or None

    @server.command(RUN_COMMAND)
    def cmd_run(ls: MicroAgentServer, *args: Any) -> dict[str, Any]:
        options: RunArgs = _arguments(RunArgs, RUN_COMMAND, args)
        try:
            run = driver.start_run(ls, ls.command_path(options.uri, RUN_COMMAND), options)
        except driver.CannotRun as exc:
            raise RequestFailed(str(exc)) from None
        return {"runId": run.run_id}

    @server.command(ESCALATE_COMMAND)
    def cmd_escalate(ls: MicroAgentServer, *args: Any) -> dict[str, Any]:
        options: UriArgs = _arguments(UriArgs, ESCALATE_COMMAND, args)
        path = ls.command_path(options.uri, ESCALATE_COMMAND)
        running = ls.runs.escalate(path)
        if running is not None:
            return {"runId": running.run_id, "escalated": True, "startedNewRun": False}
        try:
            run = driver.start_escalated_run(ls, path)
        except driver.CannotRun as exc:
            raise RequestFailed(str(exc)) from None
        return {"runId": run.run_id, "escalated": True, "startedNewRun": True, "tier": run.tier_names[0]}

    @server.command(CANCEL_COMMAND)
    def cmd_cancel(ls: MicroAgentServer, *args: Any) -> dict[str, Any]:
        options: UriArgs = _arguments(UriArgs, CANCEL_COMMAND, args)
        run = ls.runs.cancel(ls.command_path(options.uri, CANCEL_COMMAND))
        return {"cancelled": run is not None, "runId": run.run_id if run else None}

    @server.command(STATUS_COMMAND)
    def cmd_status(ls: MicroAgentServer, *args: Any) -> dict[str, Any]:
        options: UriArgs = _arguments(UriArgs, STATUS_COMMAND, args)
        status = ls.runs.status(ls.remember_uri(options.uri) if options.uri else None)
        return {**status, "engineWarm": ls.warmed.is_set()}

    @server.feature(types.SHUTDOWN)
    async def on_shutdown(ls: MicroAgentServer, params: None) -> None:
        """Stop background test runs and runs (their worktrees are cleaned up), for a few seconds at most."""
        ls.watcher.cancel_all()
        for run in ls.runs.active():
            run.controls.cancel()
        await driver.wait_for_runs(ls, SHUTDOWN_GRACE_S)

    @server.feature(types.EXIT)
    def on_exit(ls: MicroAgentServer, params: None) -> None:
        # Leave now: a daemon thread still importing litellm would otherwise hold up interpreter exit.
        logging.shutdown()
        os._exit(0 if ls.protocol._shutdown else 1)

    return server


def main(argv: list[str] | None = None) -> int:
    """`micro-agent lsp [--tcp HOST:PORT] [-v]`: serve on stdio (default) or TCP."""
    parser = argparse.ArgumentParser(prog="micro-agent lsp", description="Micro Agent language server")
    parser.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio, e.g. 127.0.0.1:2087")
    parser.add_argument("--stdio", action="store_true", help="serve on stdin/stdout (the default)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr in detail")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="[micro-agent-lsp] %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())  # logs never show credential-like text (docs/privacy.md)
    server = create_server()
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        if not port.isdigit():
            parser.error(f"--tcp expects HOST:PORT (e.g. 127.0.0.1:2087), got {args.tcp!r}")
        server.start_tcp(host or "127.0.0.1", int(port))
        return 0
    # Keep the protocol's stdout to ourselves: anything else that prints (a library, a child process
    # inheriting fd 1) goes to stderr instead of corrupting the JSON-RPC stream.
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    server.start_io(sys.stdin.buffer, protocol_out)
    return 0
