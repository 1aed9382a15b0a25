"""A scripted OpenAI-compatible model server for tests, benchmarks and the offline demo.

Replies are scripted per model name and consumed in order (the last one repeats). Every request is
recorded so a test can assert on what each prompt held. Start it in-process:

    with ScriptedModelServer() as server:
        server.script("fixer", ["```python\\n...\\n```"])
        # point litellm at it: model "openai/fixer", OPENAI_API_BASE=server.url

or standalone (editor and VS Code end-to-end tests, `scripts/demo.sh`):

    python tests/model_server.py --script script.json [--port 0]   # prints the base URL on its first line

A scripted reply is a string (the assistant's content) or a mapping with any of
`content`, `status` (an HTTP error status to answer with), `delay` (seconds before answering),
`drop` (true: close the connection without answering), `prompt_tokens`, `completion_tokens`.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

Reply = str | dict[str, Any] | Callable[[dict[str, Any]], "str | dict[str, Any]"]


class ScriptedModelServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._scripts: dict[str, list[Reply]] = {}
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self._httpd = ThreadingHTTPServer((host, port), self._handler())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ scripting
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, model: str, replies: list[Reply]) -> None:
        with self._lock:
            self._scripts[model] = list(replies)
            self._served[model] = 0

    def calls(self, model: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if model is None or r["model"] == model]

    def prompts(self, model: str | None = None) -> list[str]:
        """The text of every message of each request to `model`, joined."""
        return [r["prompt"] for r in self.calls(model)]

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "ScriptedModelServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "ScriptedModelServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ serving
    def _next_reply(self, model: str, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            replies = self._scripts.get(model)
            if not replies:
                return {"status": 404, "content": f"The model `{model}` does not exist."}
            index = min(self._served[model], len(replies) - 1)
            self._served[model] += 1
        reply = replies[index]
        if callable(reply):
            reply = reply(request)
        return {"content": reply} if isinstance(reply, str) else dict(reply)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # /v1/models: some clients probe it
                models = [{"id": m, "object": "model"} for m in server._scripts]
                self._send(200, {"object": "list", "data": models})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                model = body.get("model", "")
                messages = body.get("messages", [])
                prompt = "\n\n".join(str(m.get("content", "")) for m in messages)
                record = {"model": model, "messages": messages, "prompt": prompt, "at": time.time(), "body": body,
                          "user_agent": self.headers.get("User-Agent", "")}
                with server._lock:
                    server.requests.append(record)
                reply = server._next_reply(model, record)
                if reply.get("delay"):
                    time.sleep(float(reply["delay"]))
                if reply.get("drop"):
                    self.close_connection = True  # no answer at all: the client sees the connection break
                    return
                status = int(reply.get("status", 200))
                if status != 200:
                    error = {"message": reply.get("content", "scripted error"), "type": "scripted", "code": status}
                    self._send(status, {"error": error})
                    return
                content = reply.get("content", "")
                usage = {
                    "prompt_tokens": int(reply.get("prompt_tokens", max(1, len(prompt) // 4))),
                    "completion_tokens": int(reply.get("completion_tokens", max(1, len(content) // 4))),
                }
                usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
                self._send(200, {
                    "id": f"chatcmpl-{len(server.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": usage,
                })

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (cancelled run): nothing to answer

        return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", required=True, help="JSON file: {model name: [reply, ...]}")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", help="append every request as a JSON line to this file")
    args = parser.parse_args(argv)
    with open(args.script, encoding="utf-8") as f:
        scripts = json.load(f)
    server = ScriptedModelServer(args.host, args.port)
    for model, replies in scripts.items():
        server.script(model, replies)
    if args.log:
        log_path = args.log
        original = server._next_reply

        def logged(model: str, request: dict[str, Any]) -> dict[str, Any]:
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"model": model, "prompt": request["prompt"]}) + "\n")
            return original(model, request)

        server._next_reply = logged  # type: ignore[method-assign]
    print(server.url, flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
