"""A local HTTP server standing in for GitHub's REST API: it records every request and keeps pull requests.

Only what the autopilot uses: list/create/read/update pull requests (`merge(n)` merges one, as a maintainer), add labels, add comments. Requests without
`Authorization: Bearer <token>` get 401, like GitHub.

    with RecordingForge(token="t") as forge:
        ... forge.url, forge.requests, forge.pulls
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PULLS = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/pulls$")
_PULL = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/pulls/(?P<number>\d+)$")
_ISSUE_PART = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<number>\d+)/(?P<part>labels|comments)$")


class RecordingForge:
    def __init__(self, token: str = "forge-token") -> None:
        self.token = token
        self.requests: list[dict[str, Any]] = []
        self.pulls: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def calls(self, method: str, path_part: str = "") -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["method"] == method and path_part in r["path"]]

    def merge(self, number: int) -> dict[str, Any]:
        """Merge pull request `number` the way a maintainer would (closed, merged)."""
        with self.lock:
            pull = self.pulls[number - 1]
            pull.update({"state": "closed", "merged": True, "merged_at": "2026-01-01T00:00:00Z"})
            return dict(pull)

    def __enter__(self) -> RecordingForge:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _answer(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if (m := _PULLS.match(path)) and method == "GET":
            head = query.get("head", [""])[0]
            state = query.get("state", ["open"])[0]
            owner = m.group("repo").split("/")[0]
            return 200, [p for p in self.pulls if f"{owner}:{p['head']['ref']}" == head and p["state"] == state]
        if (m := _PULLS.match(path)) and method == "POST":
            if any(p["head"]["ref"] == body["head"] and p["state"] == "open" for p in self.pulls):
                return 422, {"message": "Validation Failed", "errors": [{"message": "A pull request already exists"}]}
            number = len(self.pulls) + 1
            pull = {"number": number, "state": "open", "title": body["title"], "body": body["body"],
                    "head": {"ref": body["head"]}, "base": {"ref": body["base"]}, "labels": [],
                    "html_url": f"{self.url}/{m.group('repo')}/pull/{number}", "comments": []}
            self.pulls.append(pull)
            return 201, pull
        if (m := _PULL.match(path)) and method == "GET":
            number = int(m.group("number"))
            if not 0 < number <= len(self.pulls):
                return 404, {"message": "Not Found"}
            return 200, self.pulls[number - 1]
        if (m := _PULL.match(path)) and method == "PATCH":
            pull = self.pulls[int(m.group("number")) - 1]
            pull.update({k: v for k, v in body.items() if k in ("state", "title", "body")})
            return 200, pull
        if (m := _ISSUE_PART.match(path)) and method == "POST":
            pull = self.pulls[int(m.group("number")) - 1]
            if m.group("part") == "labels":
                pull["labels"] += body["labels"]
                return 200, [{"name": name} for name in pull["labels"]]
            pull["comments"].append(body["body"])
            return 201, {"body": body["body"]}
        return 404, {"message": "Not Found"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        forge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                parsed = urllib.parse.urlsplit(self.path)
                record = {"method": self.command, "path": parsed.path, "query": parsed.query, "body": body,
                          "authorization": self.headers.get("Authorization")}
                with forge.lock:
                    forge.requests.append(record)
                    if record["authorization"] != f"Bearer {forge.token}":
                        status, answer = 401, {"message": "Bad credentials"}
                    else:
                        status, answer = forge._answer(self.command, parsed.path,
                                                       urllib.parse.parse_qs(parsed.query), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = _serve

        return Handler
