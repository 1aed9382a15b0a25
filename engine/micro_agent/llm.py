"""The one door to every model: litellm, imported lazily, with errors turned into one clear line.

`import litellm` costs ~3 s, so `warm()` starts it on a thread while the first test run goes on.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from .config import ModelPrice
from .controls import RunInterrupted
from .providers import is_local
from .secrets import redact_messages

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

_import_lock = threading.Lock()  # held for the whole import
_warm_lock = threading.Lock()  # held only to start the warm-up thread: warm() never waits for the import
_litellm: Any = None
_warming: threading.Thread | None = None


class ModelError(Exception):
    """A model call failed. `message` is one line that names the model and what to check."""

    def __init__(self, model: str, kind: str, message: str):
        self.model, self.kind, self.message = model, kind, message
        super().__init__(message)


@dataclass(frozen=True)
class ModelReply:
    text: str
    cost_usd: float
    prompt_tokens: int
    completion_tokens: int
    duration_ms: int


# Modules litellm imports lazily inside the first call (~1-2 s): imported up front when warming.
_FIRST_CALL_MODULES = ("openai.resources", "litellm.proxy._types", "litellm.llms.openai.openai")


def _load() -> Any:
    global _litellm
    with _import_lock:
        if _litellm is None:
            import litellm

            litellm.suppress_debug_info = True
            litellm.drop_params = True
            for module in _FIRST_CALL_MODULES:
                try:
                    importlib.import_module(module)
                except ImportError:  # another litellm version: that call simply pays for it later
                    pass
            _litellm = litellm
    return _litellm


def warm() -> None:
    """Import litellm on a background thread (once); the first call waits for it if needed."""
    global _warming
    with _warm_lock:
        if _litellm is not None or _warming is not None:
            return
        _warming = threading.Thread(target=_load, name="micro-agent-warm-litellm", daemon=True)
        _warming.start()


RATE_LIMIT_WAITS_S = (2.0, 8.0)  # a rate-limited call is tried again after these pauses, then it fails


def complete(model: str, messages: list[dict[str, str]], *, timeout_s: float = 180,
             prices: dict[str, ModelPrice] | None = None, cancelled: threading.Event | None = None) -> ModelReply:
    """One chat completion. Raises ModelError (one clear line) or RunInterrupted when cancelled.

    The call runs on a daemon thread so a cancel (or Ctrl-C) is honoured within ~0.1 s even while
    the provider is still thinking; the abandoned request is simply dropped. A provider that is down
    fails at once; a rate limit is waited out twice before it counts as a failure.
    """
    messages = redact_messages(messages)  # nothing credential-like ever leaves the machine (docs/privacy.md)
    cancelled = cancelled or threading.Event()
    started = time.monotonic()
    for wait_s in (*RATE_LIMIT_WAITS_S, None):
        try:
            response = _call_cancellable(model, messages, timeout_s, cancelled)
            break
        except ModelError as exc:
            if exc.kind != "rate_limited" or wait_s is None:
                raise
            if cancelled.wait(wait_s):
                raise RunInterrupted() from None
    duration_ms = int((time.monotonic() - started) * 1000)
    text = response.choices[0].message.content or ""
    usage = getattr(response, "usage", None)
    prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    cost = _cost(model, response, prompt_tokens, completion_tokens, prices or {})
    return ModelReply(text, cost, prompt_tokens, completion_tokens, duration_ms)


def _call_cancellable(model: str, messages: list[dict[str, str]], timeout_s: float,
                      cancelled: threading.Event) -> Any:
    box: dict[str, Any] = {}

    def call() -> None:
        try:
            box["response"] = _call(model, messages, timeout_s)
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc

    worker = threading.Thread(target=call, name="micro-agent-model-call", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.05)
        if cancelled.is_set():
            raise RunInterrupted()
    if "error" in box:
        raise _as_model_error(model, box["error"], timeout_s) from None
    return box["response"]


def _call(model: str, messages: list[dict[str, str]], timeout_s: float) -> Any:
    litellm = _load()
    kwargs: dict[str, Any] = {"timeout": timeout_s, "max_retries": 0}
    if model.startswith("openai/") and os.environ.get("OPENAI_API_BASE") and not os.environ.get("OPENAI_API_KEY"):
        kwargs["api_key"] = "sk-local"  # an OpenAI-compatible local server: litellm wants a non-empty key
    return litellm.completion(model=model, messages=messages, **kwargs)


def _cost(model: str, response: Any, prompt_tokens: int, completion_tokens: int,
          prices: dict[str, ModelPrice]) -> float:
    price = prices.get(model)
    if price is not None:
        return (prompt_tokens * price.input_per_million + completion_tokens * price.output_per_million) / 1e6
    if is_local(model):
        return 0.0
    try:
        return float(_load().completion_cost(completion_response=response) or 0.0)
    except Exception:  # not in litellm's price map: unknown models cost 0 unless priced in config
        return 0.0


def _as_model_error(model: str, exc: BaseException, timeout_s: float) -> BaseException:
    if isinstance(exc, (KeyboardInterrupt, RunInterrupted)):
        return exc
    name = type(exc).__name__
    detail = " ".join(str(exc).split())[:300]
    base = os.environ.get("OPENAI_API_BASE") if model.startswith("openai/") else None
    where = f" at {base}" if base else ""
    if "Missing credentials" in detail or "api_key client option must be set" in detail:
        return ModelError(model, "auth", f"{model}: no API key; set the provider's key in your environment ({detail})")
    if name in {"AuthenticationError", "PermissionDeniedError"}:
        return ModelError(model, "auth", f"{model}: the API key was refused{where}; check the key in your environment ({detail})")
    if name in {"NotFoundError"} or "does not exist" in detail or "model_not_found" in detail:
        return ModelError(model, "not_found", f"{model}: no such model{where}; check the model name ({detail})")
    if name == "Timeout":
        return ModelError(model, "unavailable", f"{model}: no answer within {timeout_s:.0f} s{where}; is the provider up?")
    if name in {"InternalServerError", "APIConnectionError", "ServiceUnavailableError", "BadGatewayError"}:
        return ModelError(model, "unavailable", f"{model}: provider unreachable{where}; check that it is running and the URL is right ({detail})")
    if name == "RateLimitError":
        return ModelError(model, "rate_limited", f"{model}: rate limited by the provider; wait or pick another model ({detail})")
    if name in {"BadRequestError", "UnprocessableEntityError", "ContextWindowExceededError"}:
        return ModelError(model, "bad_request", f"{model}: the provider rejected the request ({detail})")
    return ModelError(model, "error", f"{model}: {name}: {detail}")
