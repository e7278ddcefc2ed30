"""LLMClient against the scripted local server: waits are capped, odd replies are failed attempts, not tracebacks.

A fake clock stands in for time: every wait the client asks for is recorded instead of slept.
"""

from __future__ import annotations

import json
import socket

import pytest

from litft.common.errors import LitftError
from litft.llm.cache import ResponseCache
from litft.llm.client import LLMClient, LLMSettings, RequestFailed
from tests.support.fake_openai import FakeOpenAI


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def make_client(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    caches = []

    def make(base_url: str, clock: FakeClock, **settings) -> LLMClient:
        caches.append(ResponseCache(tmp_path / "cache.jsonl"))
        options = {"model": "fake-model", "base_url": base_url, "retry_base_delay": 0.01, **settings}
        return LLMClient(LLMSettings(**options), caches[-1], sleep=clock.sleep, clock=clock)

    yield make
    for cache in caches:
        cache.close()


def ask(client: LLMClient, script: str) -> dict:
    passage = f'Questions:\n"""\nA passage. [[script:{script}]]\n"""'
    return client.complete("key", [{"role": "user", "content": passage}])


def test_retry_after_is_honoured_up_to_the_cap_and_a_longer_ask_is_cut_and_reported_once(make_client, capsys):
    clock = FakeClock()
    with FakeOpenAI() as server:
        client = make_client(server.base_url, clock, retry_max_delay=60.0)
        ask(client, "429")  # Retry-After: 1, within the cap
        assert clock.sleeps == [1.0]
        ask(client, "429long,429long")  # Retry-After: 100000 (more than a day), twice
        assert clock.sleeps == [1.0, 60.0, 60.0]
        assert len(server.requests) == 5
    assert capsys.readouterr().err.splitlines() == [
        (
            f"warning: {server.base_url} asked to wait 100000 s before retrying (Retry-After); "
            "waiting 60 s instead, the --llm.retry_max_delay cap."
        )
    ]


@pytest.mark.parametrize(
    "script, detail",
    [
        ("notjson", "the body is not JSON: b'<html><body><h1>Bad Gateway</h1></body></html>'"),
        ("nochoices", "it has no 'choices' list"),
        ("nullcontent", "'choices[0].message.content' is null, not a string"),
    ],
)
def test_a_reply_that_is_not_a_chat_completion_is_a_failed_attempt(make_client, script, detail):
    clock = FakeClock()
    with FakeOpenAI() as server:
        client = make_client(server.base_url, clock, max_retries=1)
        with pytest.raises(RequestFailed) as error:
            ask(client, f"{script},{script}")
        assert len(server.requests) == 2  # retried once, like any failed attempt
        entry = ask(client, script)  # retried once, then well formed
    assert str(error.value) == (
        f"gave up after 2 attempts, last: the server at {server.base_url} answered with something that is not "
        f"an OpenAI chat completion ({detail})"
    )
    assert json.loads(entry["text"])[0]["answer"] == "A passage."
    assert len(clock.sleeps) == 2  # one backoff per failed attempt that was retried


def test_a_reply_without_usage_is_used_with_estimated_tokens(make_client):
    with FakeOpenAI() as server:
        client = make_client(server.base_url, FakeClock(), max_response_tokens=100)
        messages = [{"role": "user", "content": 'Q:\n"""\nA passage. [[script:nousage]]\n"""'}]
        entry = client.complete("key", messages)
    text = entry["text"]
    assert json.loads(text)[0]["answer"] == "A passage."
    prompt_estimate = client.estimate_tokens(messages) - 100
    assert entry["usage"] == {"prompt_tokens": prompt_estimate, "completion_tokens": len(text) // 4 + 1}


def test_a_refused_connection_names_the_url_and_the_reason(make_client):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    clock = FakeClock()
    client = make_client(url, clock, max_retries=2)
    with pytest.raises(RequestFailed) as error:
        ask(client, "")
    assert str(error.value) == f"gave up after 3 attempts, last: could not connect to {url}: connection refused"
    assert len(clock.sleeps) == 2


def test_a_refused_key_is_a_user_error(make_client):
    with FakeOpenAI(default="401") as server:
        client = make_client(server.base_url, FakeClock())
        with pytest.raises(LitftError, match="refused the API key from OPENAI_API_KEY \\(HTTP 401\\); check the key"):
            ask(client, "")
        assert len(server.requests) == 1
