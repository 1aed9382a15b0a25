"""The Micro Agent language server: LSP in, engine calls out.

The server holds its features (features/) and its handlers are one-liners that hand over to them:
the session's moments (initialized, open, save, shutdown) go to every feature, a request or command
to the feature that answers it. Features talk to the editor through `client.Client` (here a
`PyglsClient`), never through this object. Nothing heavy is imported before `initialize` is
answered; the engine and litellm warm up on a thread once the client is `initialized`.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from micro_agent.secrets import RedactingFilter

from . import __version__
from .actions import CANCEL_COMMAND, ESCALATE_COMMAND, RUN_COMMAND, STATUS_COMMAND
from .arguments import BadArguments, RunArgs, UriArgs, parse_arguments
from .features import (CodeActionsFeature, FailureDiagnostics, Feature, RunsFeature, SettingsFeature, StatusFeature,
                       TestsOnSaveFeature)
from .features.runs import SHUTDOWN_GRACE_S
from .pygls_client import PyglsClient
from .run_request import CannotRun
from .runs import RunRegistry
from .editor_settings import EditorSettings

F = TypeVar("F", bound=Feature)


class RequestFailed(JsonRpcException):
    """A command the user cannot run now (a run already going, no target found, bad config)."""

    code = types.LSPErrorCodes.RequestFailed


class MicroAgentServer(LanguageServer):
    """The server: its client (the narrow interface the features get) and its features, in the order
    they hear the session's moments (tests-on-save stops before the runs, whose shutdown waits)."""

    def __init__(self) -> None:
        super().__init__("micro-agent", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        editor_settings = EditorSettings()
        self.client = PyglsClient(self, editor_settings)
        registry = RunRegistry()
        failures = FailureDiagnostics(self.client)
        self.features: list[Feature] = []
        self.status = self.add_feature(StatusFeature(self.client, registry))
        self.settings = self.add_feature(SettingsFeature(self.client, editor_settings))
        self.tests_on_save = self.add_feature(TestsOnSaveFeature(self.client, registry, failures))
        self.code_actions = self.add_feature(CodeActionsFeature(self.client, registry, failures))
        self.runs = self.add_feature(RunsFeature(self.client, registry, failures))

    def add_feature(self, feature: F) -> F:
        self.features.append(feature)
        return feature

    def command_path(self, uri: str | None, command: str) -> str:
        """The file a command is about: its `uri`, else the one the user touched last."""
        if uri:
            return self.client.remember(uri)
        if self.client.last_path is None:
            raise CannotRun(f"{command}: which file? Pass [{{\"uri\": ...}}] or open the file first.")
        return self.client.last_path

    async def initialized(self) -> None:
        for feature in self.features:
            await feature.initialized()

    def document_opened(self, uri: str) -> None:
        path = self.client.remember(uri)
        for feature in self.features:
            feature.document_opened(path)

    def document_saved(self, uri: str) -> None:
        path = self.client.remember(uri)
        for feature in self.features:
            feature.document_saved(path)

    async def stop_features(self) -> None:
        """Stop background test runs and runs (their worktrees are cleaned up), for a few seconds at most."""
        for feature in self.features:
            await feature.shutdown()


@contextmanager
def _as_request_errors() -> Iterator[None]:
    """A user's bad arguments or a command that cannot run now, as the JSON-RPC errors the editor shows."""
    try:
        yield
    except BadArguments as exc:
        raise JsonRpcInvalidParams(str(exc)) from None
    except CannotRun as exc:
        raise RequestFailed(str(exc)) from None


def create_server() -> MicroAgentServer:
    server = MicroAgentServer()

    @server.feature(types.INITIALIZE)
    def on_initialize(ls: MicroAgentServer, params: types.InitializeParams) -> None:
        ls.settings.initialize(params.initialization_options)

    @server.feature(types.INITIALIZED)
    async def on_initialized(ls: MicroAgentServer, params: types.InitializedParams) -> None:
        await ls.initialized()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_configuration(ls: MicroAgentServer, params: types.DidChangeConfigurationParams) -> None:
        await ls.settings.configuration_changed(params.settings)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def on_open(ls: MicroAgentServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.document_opened(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def on_change(ls: MicroAgentServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.client.remember(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def on_save(ls: MicroAgentServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.document_saved(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
    def on_code_action(ls: MicroAgentServer, params: types.CodeActionParams):
        with _as_request_errors():
            uri = params.text_document.uri
            return ls.code_actions.actions(uri, ls.client.remember(uri), params.range, list(params.context.diagnostics))

    @server.command(RUN_COMMAND)
    def cmd_run(ls: MicroAgentServer, *args: Any) -> dict[str, Any]:
        with _as_request_errors():
            options = parse_arguments(RunArgs, RUN_COMMAND, args)
            return ls.runs.start(ls.command_path(options.uri, RUN_COMMAND), options)

    @server.command(ESCALATE_COMMAND)
    def cmd_escalate(ls: MicroAgentServer, *args: Any) -> dict[str, Any]:
        with _as_request_errors():
            options = parse_arguments(UriArgs, ESCALATE_COMMAND, args)
            return ls.runs.escalate(ls.command_path(options.uri, ESCALATE_COMMAND))

    @server.command(CANCEL_COMMAND)
    def cmd_cancel(ls: MicroAgentServer, *args: Any) -> dict[str, Any]:
        with _as_request_errors():
            options = parse_arguments(UriArgs, CANCEL_COMMAND, args)
            return ls.runs.cancel(ls.command_path(options.uri, CANCEL_COMMAND))

    @server.command(STATUS_COMMAND)
    def cmd_status(ls: MicroAgentServer, *args: Any) -> dict[str, Any]:
        with _as_request_errors():
            options = parse_arguments(UriArgs, STATUS_COMMAND, args)
            return ls.status.status(ls.client.remember(options.uri) if options.uri else None)

    @server.feature(types.SHUTDOWN)
    async def on_shutdown(ls: MicroAgentServer, params: None) -> None:
        await ls.stop_features()

    @server.feature(types.EXIT)
    def on_exit(ls: MicroAgentServer, params: None) -> None:
        # Leave now: a daemon thread still importing litellm would otherwise hold up interpreter exit.
        logging.shutdown()
        os._exit(0 if ls.protocol._shutdown else 1)

    return server


def _stop_on_signals(server: MicroAgentServer) -> None:
    """SIGTERM / SIGHUP: cancel the runs (they clean up and are recorded as interrupted), then exit 128 + signal.

    The work happens on a thread, so the event loop keeps delivering the runs' ends meanwhile. Test
    processes die with the server whatever happens (see micro_agent.runners.process).
    """
    def stop(signum: int, frame: object) -> None:
        def cancel_and_exit() -> None:
            for run in server.runs.registry.active():
                run.controls.cancel()
            deadline = time.monotonic() + SHUTDOWN_GRACE_S
            while server.runs.registry.active() and time.monotonic() < deadline:
                time.sleep(0.05)
            logging.shutdown()
            os._exit(128 + signum)

        threading.Thread(target=cancel_and_exit, name="micro-agent-stop", daemon=True).start()

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), stop)


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
    _stop_on_signals(server)
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
