"""The model module over real HTTP: replies, costs, errors in one line, rate limits, cancel."""

from __future__ import annotations

import threading
import time

import pytest

from micro_agent import llm
from micro_agent.config import ModelPrice
from micro_agent.controls import RunInterrupted

MESSAGES = [{"role": "user", "content": "fix it"}]


@pytest.fixture
def env(model_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_BASE", model_server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    return model_server


def test_reply_text_and_priced_cost(env, model):
    name = model("m")
    env.script(name.removeprefix("openai/"), [{"content": "hello", "prompt_tokens": 1000, "completion_tokens": 500}])
    reply = llm.complete(name, MESSAGES, prices={name: ModelPrice(inputPerMillion=1.0, outputPerMillion=2.0)})
    assert reply.text == "hello" and (reply.prompt_tokens, reply.completion_tokens) == (1000, 500)
    assert reply.cost_usd == pytest.approx(0.002)
    assert llm.complete(name, MESSAGES).cost_usd == 0.0  # unknown to litellm's price map and not priced: free


def test_rate_limit_is_waited_out(env, model):
    name = model("m")
    env.script(name.removeprefix("openai/"), [{"status": 429, "content": "slow down"}, "ok"])
    assert llm.complete(name, MESSAGES).text == "ok"
    assert len(env.calls(name.removeprefix("openai/"))) == 2


def test_bad_key_fails_at_once_in_one_line(env, model):
    name = model("m")
    env.script(name.removeprefix("openai/"), [{"status": 401, "content": "Incorrect API key"}])
    with pytest.raises(llm.ModelError) as caught:
        llm.complete(name, MESSAGES)
    assert caught.value.kind == "auth" and "\n" not in caught.value.message
    assert caught.value.message.startswith(f"{name}: the API key was refused")
    assert len(env.calls(name.removeprefix("openai/"))) == 1  # no retries


def test_provider_down_fails_fast(monkeypatch):
    monkeypatch.setenv("OPENAI_API_BASE", "http://127.0.0.1:9/v1")
    started = time.monotonic()
    with pytest.raises(llm.ModelError) as caught:
        llm.complete("openai/anything", MESSAGES)
    assert caught.value.kind == "unavailable" and time.monotonic() - started < 5


def test_cancel_during_a_slow_reply(env, model):
    name = model("m")
    env.script(name.removeprefix("openai/"), [{"content": "late", "delay": 10}])
    cancelled = threading.Event()
    threading.Timer(0.5, cancelled.set).start()
    started = time.monotonic()
    with pytest.raises(RunInterrupted):
        llm.complete(name, MESSAGES, cancelled=cancelled)
    assert time.monotonic() - started < 2
