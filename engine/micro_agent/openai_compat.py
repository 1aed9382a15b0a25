"""The OpenAI-compatible chat-completions protocol, spoken directly over the standard library.

Used for `openai/<name>` models with an API base (Ollama's OpenAI API, vLLM, llama.cpp, LM Studio, any
proxy): it answers in milliseconds from a cold start, where `import litellm` takes seconds. Only this one
protocol is written by hand; every other provider goes through litellm. Failures are raised as
`ChatFailure` with the same kinds litellm's errors are sorted into (llm.py turns both into ModelError).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int


class ChatFailure(Exception):
    """`kind`: auth · not_found · rate_limited · bad_request · unavailable (5xx) · refused (nothing listens)
    · dropped (the connection broke) · timeout · error. `status`: the HTTP status, when there was one."""

    def __init__(self, kind: str, detail: str, status: int | None = None):
        self.kind, self.detail, self.status = kind, detail, status
        super().__init__(detail)


USER_AGENT = "micro-agent (OpenAI-compatible, direct)"
STATUS_KINDS = {400: "bad_request", 401: "auth", 403: "auth", 404: "not_found", 413: "bad_request",
                422: "bad_request", 429: "rate_limited"}


def preload() -> None:
    """Import what chat() needs (http.client, ssl) now, on a warm-up thread."""
    import http.client  # noqa: F401


def kind_of_status(status: int) -> str:
    """An HTTP error status as a failure kind (litellm's errors carry the same status: one table for both)."""
    return STATUS_KINDS.get(status) or ("unavailable" if status >= 500 else "error")


# OpenAI's reasoning models (o1, o3, o4-mini, gpt-5…) refuse `max_tokens` and take `max_completion_tokens`,
# as litellm sends for them on its path; every other OpenAI-compatible server takes `max_tokens`.
_REASONING_MODEL = re.compile(r"^(?:o\d|gpt-5)")


def cap_field(model: str) -> str:
    """The body field that caps `model`'s reply."""
    return "max_completion_tokens" if _REASONING_MODEL.match(model) else "max_tokens"


def chat(api_base: str, api_key: str, model: str, messages: list[dict[str, str]], *, timeout_s: float,
         max_tokens: int | None = None) -> Completion:
    """POST {api_base}/chat/completions once (no retries: the caller decides). Raises ChatFailure."""
    import http.client  # with ssl: ~30 ms, imported by preload() while the first tests run

    url = urlsplit(api_base.rstrip("/") + "/chat/completions")
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ChatFailure("bad_request", f"the API base {api_base!r} is not an http(s) URL")
    body: dict[str, object] = {"model": model, "messages": messages}
    if max_tokens is not None:
        body[cap_field(model)] = max_tokens
    connection_class = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(url.hostname, url.port, timeout=max(0.001, timeout_s))
    path = url.path + (f"?{url.query}" if url.query else "")
    headers = {"Content-Type": "application/json", "Accept": "application/json",
               "Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT}
    try:
        connection.request("POST", path, body=json.dumps(body).encode(), headers=headers)
        response = connection.getresponse()
        status, raw = response.status, response.read()
    except ConnectionRefusedError as exc:
        raise ChatFailure("refused", f"Connection refused ({exc})") from None
    except TimeoutError:  # socket.timeout is TimeoutError
        raise ChatFailure("timeout", f"no answer within {timeout_s:.0f} s") from None
    except (http.client.HTTPException, ConnectionError, OSError) as exc:
        raise ChatFailure("dropped", f"the connection broke: {type(exc).__name__} {exc}".strip()) from None
    finally:
        connection.close()
    if status != 200:
        raise ChatFailure(kind_of_status(status), f"HTTP {status}: {_error_text(raw)}", status)
    try:
        payload = json.loads(raw)
        text = payload["choices"][0]["message"].get("content") or ""
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise ChatFailure("error", f"not a chat completion: {raw[:200]!r}") from None
    usage = payload.get("usage") or {}
    return Completion(str(text), int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))


def _error_text(raw: bytes) -> str:
    """The provider's own error message (OpenAI's `{"error": {"message": ...}}`), else the body's start."""
    try:
        error = json.loads(raw).get("error")
        message = error.get("message") if isinstance(error, dict) else error
        if message:
            return str(message)
    except (ValueError, AttributeError):
        pass
    return raw[:300].decode("utf-8", "replace") or "(empty body)"
