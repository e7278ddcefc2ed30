"""`litft serve` on 127.0.0.1 with a tiny model, driven by the real `openai` client and litft's own LLMClient."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from litft.common.checks import check_bind
from litft.common.errors import LitftError
from litft.common.settings import SamplingSettings
from litft.generation.continuous import ContinuousDecoder, Row
from litft.generation.generate import LoadedModel
from litft.generation.sampling import RowDecoder
from litft.llm.cache import ResponseCache
from litft.llm.client import LLMClient, LLMSettings
from litft.serving.checks import check_api_key
from litft.serving.server import build_engine, running_server

PROMPTS = [
    "the school offers",
    "tuition scholarship campus research labs students apply before",
    "apply",
    "mechanical civil electrical and software engineering",
    "faculty research",
    "the deadline",
    "students apply",
    "research labs and campus",
]
MAX_TOKENS = 12

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def alone(lit_base):
    """The reference: each prompt answered alone by `litft generate`'s engine."""
    return LoadedModel(lit_base, device="cpu")


def expected(alone: LoadedModel, text: str, max_tokens: int = MAX_TOKENS, stop: list[str] | None = None) -> str:
    settings = SamplingSettings(max_new_tokens=max_tokens, stop=stop or [])
    return alone.complete([text], settings)[0].text


@pytest.fixture(scope="module")
def server(lit_base):
    engine = build_engine(lit_base, model_name="tiny", max_batch_size=4, device="cpu")
    with running_server(engine) as base_url:
        yield engine, base_url
    engine.batcher.stop()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server[1], api_key="unused", max_retries=0)


def test_continuous_rows_joining_midway_decode_as_alone(alone):
    decoder = ContinuousDecoder(alone.model, max_rows=3)
    greedy = SamplingSettings(max_new_tokens=MAX_TOKENS)
    rows = [
        Row(alone.encode(p), RowDecoder(alone.decode, MAX_TOKENS - i, alone.stop_tokens), greedy)
        for i, p in enumerate(PROMPTS[:5])
    ]
    decoder.add(rows[:2])
    decoder.step()
    decoder.add(rows[2:3])  # joins two steps behind the others, at another position
    for _ in range(3):
        decoder.step()
    rows[0].cancelled = True  # leaves; the freed cache rows take two more
    decoder.step()
    decoder.add(rows[3:4])
    while decoder.rows:
        decoder.step()
        if decoder.free and rows[4] not in decoder.rows and not rows[4].decoder.ids:
            decoder.add(rows[4:5])
    assert len(rows[0].decoder.ids) < MAX_TOKENS
    for i, row in enumerate(rows[1:], start=1):
        assert row.decoder.text == expected(alone, PROMPTS[i], MAX_TOKENS - i)
    alone.model.clear_kv_cache()


def test_models_and_a_greedy_chat_answer_equal_to_litft_generate(client, alone):
    assert [model.id for model in client.models.list().data] == ["tiny"]
    reply = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": PROMPTS[0]}], max_tokens=MAX_TOKENS, temperature=0
    )
    assert reply.choices[0].message.content == expected(alone, alone.format(PROMPTS[0]))
    prompt_tokens = len(alone.encode(alone.format(PROMPTS[0])))
    assert reply.usage.prompt_tokens == prompt_tokens
    assert reply.usage.completion_tokens == MAX_TOKENS and reply.choices[0].finish_reason == "length"
    assert reply.usage.total_tokens == prompt_tokens + MAX_TOKENS


def test_completions_streamed_and_not_with_a_stop_string(client, alone):
    whole = expected(alone, PROMPTS[0])
    stop = whole[len(whole) // 2 : len(whole) // 2 + 3]
    cut = expected(alone, PROMPTS[0], stop=[stop])
    assert cut == whole[: whole.index(stop)]
    reply = client.completions.create(model="tiny", prompt=PROMPTS[0], max_tokens=MAX_TOKENS, temperature=0, stop=stop)
    assert reply.choices[0].text == cut and reply.choices[0].finish_reason == "stop"
    chunks = list(
        client.completions.create(
            model="tiny", prompt=PROMPTS[0], max_tokens=MAX_TOKENS, temperature=0, stop=[stop], stream=True
        )
    )
    assert "".join(chunk.choices[0].text for chunk in chunks) == cut
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_streamed_chat_has_openai_chunks_and_usage(client, alone):
    stream = client.chat.completions.create(
        model="tiny",
        messages=[{"role": "user", "content": PROMPTS[2]}],
        max_tokens=MAX_TOKENS,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected(alone, alone.format(PROMPTS[2]))
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1, "text must arrive in pieces"
    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == MAX_TOKENS


def test_eight_concurrent_clients_get_their_own_greedy_answers(client, alone):
    def ask(prompt: str) -> str:
        messages = [{"role": "user", "content": prompt}]
        reply = client.chat.completions.create(model="tiny", messages=messages, max_tokens=MAX_TOKENS, temperature=0)
        return reply.choices[0].message.content

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, PROMPTS))
    assert answers == [expected(alone, alone.format(p)) for p in PROMPTS]


def test_seeded_sampling_repeats(client):
    def sample() -> str:
        messages = [{"role": "user", "content": PROMPTS[3]}]
        reply = client.chat.completions.create(model="tiny", messages=messages, max_tokens=MAX_TOKENS, seed=7)
        return reply.choices[0].message.content

    assert sample() == sample()


@pytest.mark.parametrize(
    "body,message",
    [
        ("{not json", "the request body is not valid JSON."),
        (
            '{"model": "tiny", "prompt": "hi", "max_tokens": 0}',
            "max_tokens: Input should be greater than or equal to 1.",
        ),
        ('{"model": "tiny", "prompt": "hi", "best_of": 2}', "unknown field 'best_of' in the request."),
        ('{"model": "tiny", "prompt": 5}', "prompt: Input should be a string or a non-empty list of strings."),
        ('{"model": "tiny", "prompt": []}', "prompt: Input should be a string or a non-empty list of strings."),
        ('{"model": "tiny", "prompt": "hi", "stop": [""]}', "stop strings must not be empty."),
        ('{"model": "other", "prompt": "hi"}', "this server serves the model 'tiny', not 'other'."),
    ],
)
def test_bad_requests_get_an_openai_error_with_one_sentence(server, body, message):
    status = 404 if "other" in body else 400
    reply = httpx.post(f"{server[1]}/completions", content=body, headers={"content-type": "application/json"})
    assert reply.status_code == status
    error = reply.json()["error"]
    assert error["message"] == message and error["type"] in ("invalid_request_error", "not_found_error")


def test_a_prompt_longer_than_the_context_is_refused(client, alone):
    with pytest.raises(openai.BadRequestError) as error:
        client.completions.create(model="tiny", prompt="the school offers " * 200, max_tokens=4)
    assert error.value.status_code == 400
    assert "but the model's context is 128" in error.value.body["message"]


def test_a_dropped_stream_frees_its_row(server):
    engine, base_url = server
    body = {"model": "tiny", "prompt": PROMPTS[0], "max_tokens": 100, "temperature": 0, "stream": True}
    with httpx.stream("POST", f"{base_url}/completions", json=body) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and json.loads(line[6:])["choices"][0]["text"]:
                (row,) = engine.batcher.decoder.rows
                break  # the first piece of text: hang up
    released = threading.Event()
    for _ in range(100):
        if engine.batcher.active_rows == 0:
            released.set()
            break
        released.wait(0.05)
    assert released.is_set(), "the abandoned row must leave the batch"
    assert row.cancelled and not row.decoder.finished and row.decoder.generated_tokens < 100


def test_litft_llm_client_uses_the_server_without_a_key(server, alone, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = LLMSettings(model="tiny", base_url=server[1], temperature=0.0, max_response_tokens=MAX_TOKENS)
    client = LLMClient(settings, ResponseCache(tmp_path / "cache.jsonl"))
    entry = client.complete("q1", [{"role": "user", "content": PROMPTS[4]}])
    assert entry["text"] == expected(alone, alone.format(PROMPTS[4]))
    prompt_tokens = len(alone.encode(alone.format(PROMPTS[4])))
    assert entry["usage"]["prompt_tokens"] == prompt_tokens and entry["finish_reason"] == "length"


def test_a_non_loopback_bind_needs_a_key_and_checks_it(lit_base, monkeypatch):
    with pytest.raises(LitftError, match="--host 0.0.0.0 lets other machines connect"):
        check_api_key("0.0.0.0", None)
    monkeypatch.setenv("LITFT_TEST_KEY", "")
    with pytest.raises(LitftError, match="LITFT_TEST_KEY .* holds no API key"):
        check_api_key("0.0.0.0", "LITFT_TEST_KEY")
    with pytest.raises(LitftError, match="is not a port number"):
        check_bind("127.0.0.1", 70000)
    monkeypatch.setenv("LITFT_TEST_KEY", "sekrit")
    engine = build_engine(lit_base, "tiny", 2, api_key=check_api_key("127.0.0.2", "LITFT_TEST_KEY"), device="cpu")
    try:
        with running_server(engine, host="127.0.0.2") as base_url:
            wrong = openai.OpenAI(base_url=base_url, api_key="wrong", max_retries=0)
            with pytest.raises(openai.AuthenticationError):
                wrong.models.list()
            right = openai.OpenAI(base_url=base_url, api_key="sekrit", max_retries=0)
            assert [model.id for model in right.models.list().data] == ["tiny"]
    finally:
        engine.batcher.stop()


def test_the_light_entry_point_matches_the_implementation():
    import inspect

    from litft.serving import commands, server

    assert inspect.signature(commands.serve).parameters == inspect.signature(server.serve).parameters
    assert inspect.getdoc(commands.serve) == inspect.getdoc(server.serve)
