"""`autopilot status|pause|resume`: through a running service's HTTP API, else straight on the state database."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from micro_agent import autopilot_db as db

from .settings import Settings


def _http(url: str, method: str, path: str) -> dict:
    request = urllib.request.Request(url.rstrip("/") + path, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ConnectionError(f"no autopilot service answers at {url} ({exc}); start one with "
                              "`micro-agent autopilot serve`, or leave out --url") from None


def service_url(conn) -> str | None:
    """The URL a running service wrote into the state, when it still answers."""
    url = db.get_state(conn, "service_url")
    if not url:
        return None
    try:
        _http(url, "GET", "/api/health")
    except ConnectionError:
        return None
    return url


def control(settings: Settings, command: str, url: str | None) -> dict:
    conn = db.connect(settings.db_path)
    try:
        url = url or service_url(conn)
        if url:
            if command in ("pause", "resume"):
                _http(url, "POST", f"/api/{command}")
            answer = _http(url, "GET", "/api/status")
            return {**answer, "service": url}
        if command in ("pause", "resume"):
            db.set_state(conn, "paused", "1" if command == "pause" else "0")
        return {"paused": db.get_state(conn, "paused") == "1", "service": None,
                "jobs": db.list_jobs(conn, limit=50)}
    finally:
        conn.close()
