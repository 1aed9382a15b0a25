"""The model module over real HTTP, on both call paths: replies, costs, errors in one line, retries,
rate limits, the budget's deadline and money, cancel.

Every test runs twice: `direct` (openai/ models with an API base spoken to by openai_compat.py) and
`litellm` (MICRO_AGENT_OPENAI_DIRECT=0: the same models through litellm). Both must behave the same.
"""

from __future__ import annotations

import threading
import time

import pytest

from micro_agent import llm
from micro_agent.budget import BudgetExhausted, BudgetPool
from micro_agent.config import Budget, ModelPrice
from micro_agent.controls import RunInterrupted

MESSAGES = [{"role": "user", "content": "fix it"}]
NO_LIMITS = {"maxCostUsd": None, "maxDurationMinutes": None, "maxIterations": None}


@pytest.fixture(params=["direct", "litellm"])
def path(request, monkeypatch):
    monkeypatch.setenv("MICRO_AGENT_OPENAI_DIRECT", "1" if request.param == "direct" else "0")
    if request.param == "litellm":
        llm._load()  # the import (seconds) is paid here, so that the tests time calls, not the import
    return request.param


@pytest.fixture
def env(model_server, monkeypatch, path):
    monkeypatch.setenv("OPENAI_API_BASE", model_server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    return model_server


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setattr(llm, "TRANSIENT_WAITS_S", (0.1, 0.2))
    monkeypatch.setattr(llm, "RATE_LIMIT_WAITS_S", (0.1, 0.2))


def scripted(server, model_name: str, replies: list) -> str:
    server.script(model_name.removeprefix("openai/"), replies)
    return model_name.removeprefix("openai/")


def test_each_path_is_the_one_it_says(env, model, path):
    name = model("m")
    served = scripted(env, name, ["hello"])
    assert llm.complete(name, MESSAGES).text == "hello"
    agent = env.calls(served)[0]["user_agent"]
    assert ("micro-agent" in agent) == (path == "direct"), agent


def test_reply_text_and_priced_cost(env, model):
    name = model("m")
    scripted(env, name, [{"content": "hello", "prompt_tokens": 1000, "completion_tokens": 500}])
    reply = llm.complete(name, MESSAGES, prices={name: ModelPrice(inputPerMillion=1.0, outputPerMillion=2.0)})
    assert reply.text == "hello" and (reply.prompt_tokens, reply.completion_tokens) == (1000, 500)
    assert reply.cost_usd == pytest.approx(0.002)
    assert llm.complete(name, MESSAGES).cost_usd == 0.0  # unknown to litellm's price map and not priced: free


def test_a_model_in_the_price_map_costs_the_same_on_both_paths(env):
    env.script("gpt-4o-mini", [{"content": "hi", "prompt_tokens": 1000, "completion_tokens": 500}])
    reply = llm.complete("openai/gpt-4o-mini", MESSAGES)
    assert reply.cost_usd == pytest.approx(1000 * 0.15e-6 + 500 * 0.60e-6)  # the bundled map's gpt-4o-mini


def test_rate_limit_is_waited_out(env, model, fast_retries):
    name = model("m")
    served = scripted(env, name, [{"status": 429, "content": "slow down"}, "ok"])
    assert llm.complete(name, MESSAGES).text == "ok"
    assert len(env.calls(served)) == 2


@pytest.mark.parametrize("status", [500, 502, 503])
def test_one_server_error_is_retried(env, model, status):
    name = model("m")
    served = scripted(env, name, [{"status": status, "content": "upstream hiccup"}, "ok"])
    started = time.monotonic()
    reply = llm.complete(name, MESSAGES)
    assert reply.text == "ok" and reply.attempts == 2 and len(env.calls(served)) == 2
    assert time.monotonic() - started >= llm.TRANSIENT_WAITS_S[0] * 0.9  # after a backoff, not at once


def test_a_dropped_connection_is_retried(env, model, fast_retries):
    name = model("m")
    served = scripted(env, name, [{"drop": True}, "ok"])
    assert llm.complete(name, MESSAGES).text == "ok"
    assert len(env.calls(served)) == 2


def test_a_timeout_is_retried(env, model, fast_retries):
    name = model("m")
    served = scripted(env, name, [{"content": "late", "delay": 3}, "ok"])
    reply = llm.complete(name, MESSAGES, timeout_s=1)
    assert reply.text == "ok" and len(env.calls(served)) == 2


def test_retries_are_bounded_and_said(env, model, fast_retries):
    name = model("m")
    served = scripted(env, name, [{"status": 503, "content": "overloaded"}])
    with pytest.raises(llm.ModelError) as caught:
        llm.complete(name, MESSAGES)
    assert caught.value.kind == "unavailable" and "\n" not in caught.value.message
    assert caught.value.message.startswith(f"{name}: the provider failed at {env.url}")
    assert "overloaded" in caught.value.message and caught.value.message.endswith("(after 3 tries)")
    assert len(env.calls(served)) == 1 + len(llm.TRANSIENT_WAITS_S)


def test_bad_key_fails_at_once_in_one_line(env, model):
    name = model("m")
    served = scripted(env, name, [{"status": 401, "content": "Incorrect API key"}])
    with pytest.raises(llm.ModelError) as caught:
        llm.complete(name, MESSAGES)
    assert caught.value.kind == "auth" and "\n" not in caught.value.message
    assert caught.value.message.startswith(f"{name}: the API key was refused")
    assert "Incorrect API key" in caught.value.message
    assert len(env.calls(served)) == 1  # no retries


@pytest.mark.parametrize("status", [403, 404])
def test_forbidden_and_unknown_models_fail_at_once(env, model, status):
    name = model("m")
    text = {403: "Forbidden: this key may not use this model", 404: f"The model `{name}` does not exist"}[status]
    served = scripted(env, name, [{"status": status, "content": text}, "ok"])
    with pytest.raises(llm.ModelError) as caught:
        llm.complete(name, MESSAGES)
    assert caught.value.kind == {403: "auth", 404: "not_found"}[status]
    assert len(env.calls(served)) == 1


def test_provider_down_fails_fast(monkeypatch, path):
    monkeypatch.setenv("OPENAI_API_BASE", "http://127.0.0.1:9/v1")
    started = time.monotonic()
    with pytest.raises(llm.ModelError) as caught:
        llm.complete("openai/anything", MESSAGES)
    assert caught.value.kind == "unavailable" and not caught.value.transient  # nothing listens: no retries
    assert caught.value.message.startswith("openai/anything: provider unreachable at http://127.0.0.1:9/v1")
    assert time.monotonic() - started < 5


def test_the_budget_deadline_ends_a_call_still_thinking(env, model):
    name = model("m")
    scripted(env, name, [{"content": "late", "delay": 30}])
    budget = BudgetPool(Budget(**{**NO_LIMITS, "maxDurationMinutes": 0.02}))  # 1.2 s
    started = time.monotonic()
    with pytest.raises(BudgetExhausted) as caught:
        llm.complete(name, MESSAGES, budget=budget)
    assert "time limit reached" in caught.value.reason and f"{name} was still answering" in caught.value.reason
    assert time.monotonic() - started < 1.2 + 1.0


def test_a_retry_that_does_not_fit_the_time_left_is_not_tried(env, model):
    name = model("m")
    served = scripted(env, name, [{"status": 500, "content": "boom"}, "ok"])
    budget = BudgetPool(Budget(**{**NO_LIMITS, "maxDurationMinutes": llm.TRANSIENT_WAITS_S[0] / 2 / 60}))
    with pytest.raises((llm.ModelError, BudgetExhausted)):
        llm.complete(name, MESSAGES, budget=budget)
    assert len(env.calls(served)) <= 1


def test_the_money_left_caps_the_reply(env, model):
    name = model("m")
    served = scripted(env, name, ["ok"])
    prices = {name: ModelPrice(inputPerMillion=1.0, outputPerMillion=1000.0)}  # $0.001 an output token
    budget = BudgetPool(Budget(**{**NO_LIMITS, "maxCostUsd": 0.05}))
    llm.complete(name, MESSAGES, prices=prices, budget=budget)
    assert env.calls(served)[-1]["body"]["max_tokens"] == 49  # ($0.05 - the prompt) / $0.001
    roomy = BudgetPool(Budget(**{**NO_LIMITS, "maxCostUsd": 100.0}))
    llm.complete(name, MESSAGES, prices=prices, budget=roomy)
    assert "max_tokens" not in env.calls(served)[-1]["body"]  # the budget is not the binding limit


def test_a_reasoning_model_is_capped_by_max_completion_tokens(env, model):
    """OpenAI's o-series refuse `max_tokens`: both paths send `max_completion_tokens` for them."""
    name = model("o3-mini")
    served = scripted(env, name, ["ok"])
    prices = {name: ModelPrice(inputPerMillion=1.0, outputPerMillion=1000.0)}
    llm.complete(name, MESSAGES, prices=prices, budget=BudgetPool(Budget(**{**NO_LIMITS, "maxCostUsd": 0.05})))
    body = env.calls(served)[-1]["body"]
    assert body["max_completion_tokens"] == 49 and "max_tokens" not in body


def test_a_prompt_that_alone_costs_more_than_is_left_is_not_sent(env, model):
    name = model("m")
    served = scripted(env, name, ["ok"])
    prices = {name: ModelPrice(inputPerMillion=100_000.0, outputPerMillion=1.0)}  # $0.1 an input token
    budget = BudgetPool(Budget(**{**NO_LIMITS, "maxCostUsd": 0.05}))
    with pytest.raises(BudgetExhausted) as caught:
        llm.complete(name, MESSAGES, prices=prices, budget=budget)
    assert "cost limit reached" in caught.value.reason and env.calls(served) == []


def test_cancel_during_a_slow_reply(env, model):
    name = model("m")
    scripted(env, name, [{"content": "late", "delay": 10}])
    cancelled = threading.Event()
    threading.Timer(0.5, cancelled.set).start()
    started = time.monotonic()
    with pytest.raises(RunInterrupted):
        llm.complete(name, MESSAGES, cancelled=cancelled)
    assert time.monotonic() - started < 2
