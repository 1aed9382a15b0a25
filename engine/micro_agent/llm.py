"""The one door to every model, with errors turned into one clear line and the budget held during a call.

Two paths, one behaviour. `openai/<name>` with an API base (OPENAI_API_BASE: Ollama, vLLM, llama.cpp,
LM Studio, a proxy) speaks the OpenAI-compatible protocol directly (openai_compat.py), ready in
milliseconds; every other model goes through litellm, whose import (~3-10 s) `warm()` starts on a thread
while the first test run goes on. Both paths share the retries, the error messages, the cost rules and
the budget deadline; MICRO_AGENT_OPENAI_DIRECT=0 sends openai/ models through litellm too.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import openai_compat, price_map
from .budget import BudgetPool
from .config import ModelPrice
from .controls import RunInterrupted
from .model import Deadline, ModelError, ModelReply, Reply, Role
from .providers import is_local

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

CALL_TIMEOUT_S = 180.0  # one request, when the budget leaves more time than that
RATE_LIMIT_WAITS_S = (2.0, 8.0)  # a rate-limited call is tried again after these pauses, then it fails
TRANSIENT_WAITS_S = (1.0, 4.0)  # a 500/502/503/504, a dropped connection or a timeout: tried again after these
MAX_TOKENS_CAP = 4096  # max_tokens is only sent below this: every chat model accepts it, none is cut short by it

_import_lock = threading.Lock()  # held for the whole import
_warm_lock = threading.Lock()  # held only to start the warm-up thread: warm() never waits for the import
_litellm: Any = None
_warming: set[str] = set()  # what warm() has started: "direct" (http.client, price map), "litellm"


@dataclass(frozen=True)
class _Answer:
    """What either path hands back: the text, the usage, and (litellm) its response for pricing."""
    text: str
    prompt_tokens: int
    completion_tokens: int
    litellm_response: Any = None


# ------------------------------------------------------------------------------------- which path
def api_base(model: str) -> str | None:
    """The OpenAI-compatible server `model` is sent to directly, or None when litellm handles it."""
    if not model.startswith("openai/") or os.environ.get("MICRO_AGENT_OPENAI_DIRECT", "1") == "0":
        return None
    return os.environ.get("OPENAI_API_BASE") or None


def warm(models: Iterable[str] | None = None) -> None:
    """Start what the first call needs on a background thread (once each); never waits for it.

    With `models`, litellm is imported only if one of them needs it; else only http.client and the price map.
    """
    needs_litellm = models is None or any(api_base(m) is None for m in models)
    what = "litellm" if needs_litellm else "direct"
    with _warm_lock:
        if what in _warming or (what == "direct" and "litellm" in _warming):
            return
        _warming.add(what)
    threading.Thread(target=_load if needs_litellm else _preload_direct, name=f"micro-agent-warm-{what}",
                     daemon=True).start()


def _preload_direct() -> None:
    openai_compat.preload()
    price_map.preload()


# Modules litellm imports lazily inside the first call (~1-2 s): imported up front when warming.
_FIRST_CALL_MODULES = ("openai.resources", "litellm.proxy._types", "litellm.llms.openai.openai")


def _load() -> Any:
    global _litellm
    with _import_lock:
        if _litellm is None:
            price_map.preload()
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


# ------------------------------------------------------------------------------------- the default Model
class ProviderModel:
    """The real models behind the engine's `Model` seam (model.py): `complete()` below, with the run's prices.

    Retries, the call's own timeout, the budget deadline during the call and the reply capped to the
    money left are this model's; redaction and the budget checks around the call are the engine's.
    """

    def __init__(self, prices: dict[str, ModelPrice] | None = None):
        self.prices = prices or {}

    def complete(self, role: Role, model_name: str, messages: list[dict[str, str]], deadline: Deadline) -> Reply:
        return complete(model_name, messages, prices=self.prices, cancelled=deadline.cancelled, budget=deadline.budget)

    def warm(self, model_names: Iterable[str]) -> None:
        warm(model_names)


# ------------------------------------------------------------------------------------- one completion
def complete(model: str, messages: list[dict[str, str]], *, timeout_s: float = CALL_TIMEOUT_S,
             prices: dict[str, ModelPrice] | None = None, cancelled: threading.Event | None = None,
             budget: BudgetPool | None = None) -> ModelReply:
    """One chat completion. Raises ModelError (one clear line), BudgetExhausted, or RunInterrupted.

    With a `budget`, no request outlives the time left (a provider still thinking at the deadline is
    left behind: BudgetExhausted), and a priced model's reply is capped (max_tokens) to the money left.
    A rate limit is waited out twice, a transient failure (5xx, dropped connection, timeout) is tried
    again twice with backoff; auth errors, unknown models and nothing listening fail at once.
    The call runs on a daemon thread so a cancel (or Ctrl-C) is honoured within ~0.1 s.
    """
    cancelled = cancelled or threading.Event()
    prices = prices or {}
    started = time.monotonic()
    waits = {"rate_limited": list(RATE_LIMIT_WAITS_S), "transient": list(TRANSIENT_WAITS_S)}
    attempts = 0
    while True:
        max_tokens = _max_tokens_within_budget(model, messages, prices, budget)
        left = budget.seconds_left() if budget else None
        call_timeout = timeout_s if left is None else min(timeout_s, left)
        if call_timeout <= 0:
            raise budget.out_of_time(f"{model} was about to be called")  # type: ignore[union-attr]
        attempts += 1
        try:
            answer = _call_cancellable(model, messages, call_timeout, max_tokens, cancelled)
            break
        except _TimedOut as exc:
            if left is not None and left <= timeout_s:  # the budget's deadline, not the call's own timeout
                raise budget.out_of_time(f"{model} was still answering") from None  # type: ignore[union-attr]
            error = exc.error
        except ModelError as exc:
            error = exc
        group = "rate_limited" if error.kind == "rate_limited" else "transient" if error.transient else None
        pending = waits.get(group or "", [])
        wait_s = pending.pop(0) if pending else None
        left = budget.seconds_left() if budget else None
        if wait_s is None or (left is not None and left <= wait_s):  # no retry left, or none that fits the budget
            raise _tried(error, attempts)
        if cancelled.wait(wait_s):
            raise RunInterrupted() from None
    duration_ms = int((time.monotonic() - started) * 1000)
    cost = _cost(model, answer, prices)
    return ModelReply(answer.text, cost, answer.prompt_tokens, answer.completion_tokens, duration_ms, attempts)


def _tried(error: ModelError, attempts: int) -> ModelError:
    if attempts == 1:
        return error
    return ModelError(error.model, error.kind, f"{error.message} (after {attempts} tries)", error.transient,
                      error.timed_out)


def _max_tokens_within_budget(model: str, messages: list[dict[str, str]], prices: dict[str, ModelPrice],
                              budget: BudgetPool | None) -> int | None:
    """The reply length the money left can pay for, when that is under MAX_TOKENS_CAP (and the model's
    own limit); else None. The prompt is estimated at 4 characters a token; a prompt that alone costs
    more than is left is not sent.
    """
    money_left = budget.remaining_usd() if budget else None
    if money_left is None or is_local(model):
        return None
    price = price_map.price_of(model, prices)
    if price is None or price.output_usd <= 0:
        return None
    prompt_cost = sum(len(m.get("content") or "") for m in messages) / 4 * price.input_usd
    tokens = int((money_left - prompt_cost) / price.output_usd)
    if tokens < 1:
        raise budget.out_of_money(  # type: ignore[union-attr]
            f"a call to {model} would cost about ${prompt_cost:.4f} for the prompt alone, ${money_left:.4f} is left")
    return tokens if tokens < min(price.max_output_tokens or MAX_TOKENS_CAP, MAX_TOKENS_CAP) else None


class _TimedOut(Exception):
    def __init__(self, error: ModelError):
        self.error = error


def _call_cancellable(model: str, messages: list[dict[str, str]], timeout_s: float, max_tokens: int | None,
                      cancelled: threading.Event) -> _Answer:
    """Run one request on a daemon thread; give up on it at `timeout_s` (whatever the socket does)."""
    box: dict[str, Any] = {}

    def call() -> None:
        try:
            box["answer"] = _call(model, messages, timeout_s, max_tokens)
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc

    worker = threading.Thread(target=call, name="micro-agent-model-call", daemon=True)
    deadline = time.monotonic() + timeout_s
    worker.start()
    while worker.is_alive():
        worker.join(min(0.05, max(0.0, deadline - time.monotonic())))
        if cancelled.is_set():
            raise RunInterrupted()
        if worker.is_alive() and time.monotonic() >= deadline:
            raise _TimedOut(_error(model, "timeout", "", timeout_s))  # the request is left behind
    if "error" in box:
        error = _as_model_error(model, box["error"], timeout_s)
        if isinstance(error, ModelError) and error.timed_out:
            raise _TimedOut(error)
        raise error from None
    return box["answer"]


def _call(model: str, messages: list[dict[str, str]], timeout_s: float, max_tokens: int | None) -> _Answer:
    base = api_base(model)
    if base is not None:
        key = os.environ.get("OPENAI_API_KEY") or "sk-local"
        done = openai_compat.chat(base, key, model.removeprefix("openai/"), messages, timeout_s=timeout_s,
                                  max_tokens=max_tokens)
        return _Answer(done.text, done.prompt_tokens, done.completion_tokens)
    litellm = _load()
    kwargs: dict[str, Any] = {"timeout": timeout_s, "max_retries": 0}
    if max_tokens is not None:  # the field the direct path sends too (o-series: max_completion_tokens)
        kwargs[openai_compat.cap_field(model.removeprefix("openai/"))] = max_tokens
    if model.startswith("openai/") and os.environ.get("OPENAI_API_BASE") and not os.environ.get("OPENAI_API_KEY"):
        kwargs["api_key"] = "sk-local"  # an OpenAI-compatible local server: litellm wants a non-empty key
    response = litellm.completion(model=model, messages=messages, **kwargs)
    usage = getattr(response, "usage", None)
    return _Answer(response.choices[0].message.content or "", int(getattr(usage, "prompt_tokens", 0) or 0),
                   int(getattr(usage, "completion_tokens", 0) or 0), response)


def _cost(model: str, answer: _Answer, prices: dict[str, ModelPrice]) -> float:
    """Config prices first; local models are free; else the price map (litellm's own pricing on its path)."""
    if model not in prices and is_local(model):
        return 0.0
    if model in prices or answer.litellm_response is None:
        price = price_map.price_of(model, prices)
        return price_map.cost_of(price, answer.prompt_tokens, answer.completion_tokens)
    try:
        return float(_load().completion_cost(completion_response=answer.litellm_response) or 0.0)
    except Exception:  # not in litellm's price map: unknown models cost 0 unless priced in config
        return 0.0


# ------------------------------------------------------------------------------------- errors
def _as_model_error(model: str, exc: BaseException, timeout_s: float) -> BaseException:
    """Either path's failure as one ModelError (KeyboardInterrupt and RunInterrupted pass through)."""
    if isinstance(exc, (KeyboardInterrupt, RunInterrupted)):
        return exc
    if isinstance(exc, openai_compat.ChatFailure):
        return _error(model, exc.kind, exc.detail, timeout_s)
    name = type(exc).__name__
    detail = " ".join(str(exc).split())[:300]
    if "Missing credentials" in detail or "api_key client option must be set" in detail:
        return ModelError(model, "auth", f"{model}: no API key; set the provider's key in your environment ({detail})")
    return _error(model, _litellm_kind(name, detail, exc), detail, timeout_s)


def _litellm_kind(name: str, detail: str, exc: BaseException) -> str:
    """litellm's exception as one of openai_compat's kinds: by the HTTP status it carries, else by its class."""
    if name in {"Timeout", "APITimeoutError"}:
        return "timeout"
    if name == "APIConnectionError" or "Connection error" in detail or _caused_by(exc, ConnectionError):
        return "refused" if _caused_by(exc, ConnectionRefusedError) or "Connection refused" in detail else "dropped"
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and status >= 400:
        return openai_compat.kind_of_status(status)
    if name in {"AuthenticationError", "PermissionDeniedError"}:
        return "auth"
    if name == "NotFoundError" or "does not exist" in detail or "model_not_found" in detail:
        return "not_found"
    if name == "RateLimitError":
        return "rate_limited"
    if name in {"BadRequestError", "UnprocessableEntityError", "ContextWindowExceededError"}:
        return "bad_request"
    if name in {"InternalServerError", "ServiceUnavailableError", "BadGatewayError"}:
        return "unavailable"
    return "error"


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


TRANSIENT_KINDS = {"unavailable", "dropped", "timeout"}


def _error(model: str, kind: str, detail: str, timeout_s: float) -> ModelError:
    """The one message per kind, the same on both paths."""
    base = os.environ.get("OPENAI_API_BASE") if model.startswith("openai/") else None
    where = f" at {base}" if base else ""
    transient = kind in TRANSIENT_KINDS
    if kind in {"bad_request", "error"} and ("model_not_found" in detail or "does not exist" in detail):
        kind = "not_found"  # some servers answer an unknown model with a 400
    if kind == "auth":
        return ModelError(model, "auth", f"{model}: the API key was refused{where}; check the key in your environment ({detail})")
    if kind == "not_found":
        return ModelError(model, "not_found", f"{model}: no such model{where}; check the model name ({detail})")
    if kind == "rate_limited":
        return ModelError(model, "rate_limited", f"{model}: rate limited by the provider; wait or pick another model ({detail})")
    if kind == "bad_request":
        return ModelError(model, "bad_request", f"{model}: the provider rejected the request ({detail})")
    if kind == "timeout":
        return ModelError(model, "unavailable", f"{model}: no answer within {timeout_s:.0f} s{where}; "
                                                "is the provider up?", transient, timed_out=True)
    if kind in {"refused", "dropped"}:
        return ModelError(model, "unavailable", f"{model}: provider unreachable{where}; check that it is running "
                                                f"and the URL is right ({detail})", transient)
    if kind == "unavailable":
        return ModelError(model, "unavailable", f"{model}: the provider failed{where}; try again later or pick "
                                                f"another model ({detail})", transient)
    return ModelError(model, "error", f"{model}: {detail}")
