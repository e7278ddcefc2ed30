"""`litft serve` when something goes wrong: a bad row fails alone, a broken callback or a client that left
before its stream began does not keep the batch busy, every error is OpenAI's shape, the key is checked before
the body is read, and chat messages become the prompt that training and `litft chat` use."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import threading

import httpx
import openai
import pytest
from starlette.requests import ClientDisconnect

from litft.common.settings import SamplingSettings
from litft.generation.continuous import ContinuousDecoder, IncrementalDecoder, Row
from litft.generation.generate import LoadedModel
from litft.models.conversations import conversation_prompt, eos_text
from litft.serving.app import create_app
from litft.serving.batcher import Batcher
from litft.serving.server import build_engine, running_server

MAX_TOKENS = 8
STYLE = "alpaca"  # a named prompt style: earlier replies are followed by EOS, as in training
WAIT_SECONDS = 120  # generous: these waits only end a broken run instead of hanging it

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def alone(lit_base):
    return LoadedModel(lit_base, device="cpu", prompt_style=STYLE)


@pytest.fixture(scope="module")
def server(lit_base):
    engine = build_engine(lit_base, model_name="tiny", max_batch_size=2, device="cpu", prompt_style=STYLE)
    with running_server(engine) as base_url:
        yield engine, base_url
    engine.batcher.stop()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server[1], api_key="unused", max_retries=0)


def expected(loaded: LoadedModel, prompt: str, max_tokens: int = MAX_TOKENS) -> str:
    return loaded.complete([prompt], SamplingSettings(max_new_tokens=max_tokens))[0].text


def watched_row(loaded: LoadedModel, prompt_ids: list[int], max_tokens: int = MAX_TOKENS, on_step=None):
    """A greedy row and an event set when it is done."""
    done = threading.Event()

    def step(row: Row) -> None:
        if on_step is not None:
            on_step(row)
        if row.done:
            done.set()

    decoder = IncrementalDecoder(loaded.tokenizer.processor.decode, max_tokens, loaded.stop_tokens)
    return Row(prompt_ids, decoder, SamplingSettings(max_new_tokens=max_tokens), step), done


def test_an_empty_prompt_is_a_400(server):
    reply = httpx.post(f"{server[1]}/completions", json={"model": "tiny", "prompt": ["the school", ""]})
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["message"] == "prompt 2 is empty; give it some text." and error["param"] == "prompt"


def test_a_row_whose_prefill_fails_fails_alone(alone):
    decoder = ContinuousDecoder(alone.model, max_rows=2)
    with pytest.raises(ValueError, match="no prompt tokens"):
        decoder.add([watched_row(alone, [])[0]])
    assert decoder.rows == []
    batcher = Batcher(decoder)
    good, good_done = watched_row(alone, alone.encode("the school offers"))
    empty, empty_done = watched_row(alone, [])
    batcher.submit(good)
    batcher.submit(empty)  # both join the batch together at its first step
    batcher.start()
    try:
        assert empty_done.wait(WAIT_SECONDS) and good_done.wait(WAIT_SECONDS)
    finally:
        batcher.stop()
        alone.model.clear_kv_cache()
    assert isinstance(empty.error, ValueError) and good.error is None
    assert good.decoder.text == expected(alone, "the school offers")


class _BrokenText(IncrementalDecoder):
    def push(self, token: int) -> bool:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "a tokenizer that cannot decode")


def test_a_row_whose_text_fails_leaves_and_the_others_decode(alone):
    decoder = ContinuousDecoder(alone.model, max_rows=2)
    good, _ = watched_row(alone, alone.encode("the school offers"))
    broken, _ = watched_row(alone, alone.encode("apply"))
    broken.decoder = _BrokenText(alone.tokenizer.processor.decode, MAX_TOKENS)
    decoder.add([broken, good])
    while decoder.rows:
        decoder.step()
    alone.model.clear_kv_cache()
    assert isinstance(broken.error, UnicodeDecodeError) and good.error is None
    assert good.decoder.text == expected(alone, "the school offers")


def test_a_callback_that_raises_does_not_stop_the_batcher(alone, caplog):
    def broken(row: Row) -> None:
        raise RuntimeError("Event loop is closed")  # what call_soon_threadsafe raises once the loop is gone

    batcher = Batcher(ContinuousDecoder(alone.model, max_rows=2))
    batcher.start()
    try:
        with caplog.at_level(logging.ERROR, logger="litft.serving.batcher"):
            orphan, _ = watched_row(alone, alone.encode("apply"), max_tokens=100, on_step=broken)
            batcher.submit(orphan)
            later, later_done = watched_row(alone, alone.encode("the deadline"))
            batcher.submit(later)
            assert later_done.wait(WAIT_SECONDS), "the batcher must still answer after a callback raised"
    finally:
        batcher.stop()
        alone.model.clear_kv_cache()
    assert later.decoder.text == expected(alone, "the deadline") and later.error is None
    assert orphan.cancelled and orphan.decoder.generated_tokens < 100  # nobody can receive it: it left
    assert any("Event loop is closed" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("spec_version", ["2.3", "2.4"])
def test_a_stream_dropped_before_its_first_chunk_never_decodes(server, spec_version):
    """The client is gone when the response starts: an ASGI 2.3 server (uvicorn) says so through `receive`
    while `send` waits, a 2.4 server by `send` raising OSError; either way the stream's generator never starts."""
    engine, _ = server
    submitted: list[Row] = []
    spy = dataclasses.replace(engine, batcher=_RecordingBatcher(engine.batcher, submitted))
    body = {"model": "tiny", "prompt": "the school offers", "max_tokens": 100, "stream": True}
    messages = [{"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if spec_version == "2.4":
            raise OSError("the client went away")
        await asyncio.sleep(0)  # writing to the socket lets other tasks run
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": spec_version},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/completions",
        "raw_path": b"/v1/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    try:
        asyncio.run(create_app(spy)(scope, receive, send))
    except ClientDisconnect:
        assert spec_version == "2.4"
    assert not any(message["type"] == "http.response.body" for message in sent)
    assert all(row.cancelled for row in submitted), "a row nobody reads must leave the batch"


class _RecordingBatcher:
    def __init__(self, batcher: Batcher, submitted: list[Row]):
        self.batcher, self.submitted = batcher, submitted

    def submit(self, row: Row) -> None:
        self.submitted.append(row)
        self.batcher.submit(row)


@pytest.mark.parametrize(
    "method,path,status,message",
    [
        (
            "GET",
            "/v1/nope",
            404,
            "there is no route GET /v1/nope; the API has /v1/models, /v1/chat/completions and /v1/completions.",
        ),
        ("POST", "/v1/models", 405, "POST is not allowed on /v1/models."),
    ],
)
def test_unknown_routes_and_methods_get_an_openai_error(server, method, path, status, message):
    reply = httpx.request(method, server[1].removesuffix("/v1") + path)
    assert reply.status_code == status
    assert reply.json() == {
        "error": {
            "message": message,
            "type": "not_found_error" if status == 404 else "invalid_request_error",
            "param": None,
            "code": None,
        }
    }


def test_the_key_is_checked_before_the_body_and_needs_the_bearer_scheme(server):
    engine, _ = server
    with running_server(dataclasses.replace(engine, api_key="sekrit")) as base_url:
        bad_json = httpx.post(
            f"{base_url}/completions", content="{not json", headers={"content-type": "application/json"}
        )
        bare = httpx.get(f"{base_url}/models", headers={"authorization": "sekrit"})
        unknown = httpx.get(f"{base_url}/nope")
        right = httpx.get(f"{base_url}/models", headers={"authorization": "Bearer sekrit"})
        lower = httpx.get(f"{base_url}/models", headers={"authorization": "bearer sekrit"})
    for reply in (bad_json, bare, unknown):
        assert reply.status_code == 401
        assert reply.json()["error"] == {
            "message": "the request has no valid API key in its Authorization: Bearer header.",
            "type": "authentication_error",
            "param": None,
            "code": "invalid_api_key",
        }
    assert right.status_code == 200 and lower.status_code == 200


CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "the school offers"},
    {"role": "assistant", "content": "civil and software engineering"},
    {"role": "user", "content": "apply"},
]


def test_a_multi_turn_chat_is_prompted_as_training_and_litft_chat_do(client, alone):
    prompt = conversation_prompt(alone.style, CONVERSATION, eos_text(alone.tokenizer))
    assert eos_text(alone.tokenizer) and eos_text(alone.tokenizer) in prompt
    reply = client.chat.completions.create(model="tiny", messages=CONVERSATION, max_tokens=MAX_TOKENS, temperature=0)
    assert reply.usage.prompt_tokens == len(alone.encode(prompt))
    assert reply.choices[0].message.content == expected(alone, prompt)


@pytest.mark.parametrize(
    "messages,message",
    [
        (
            [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
            "the conversation turn 2 is user where assistant was expected; this prompt style needs user and "
            "assistant turns to alternate.",
        ),
        (
            [*CONVERSATION[1:3], {"role": "system", "content": "late"}, CONVERSATION[3]],
            "messages has a system turn after the first; put the system message first.",
        ),
        (CONVERSATION[:3], "a conversation to answer must end with a user turn."),
    ],
)
def test_a_conversation_training_would_refuse_is_a_400(server, messages, message):
    reply = httpx.post(f"{server[1]}/chat/completions", json={"model": "tiny", "messages": messages})
    assert reply.status_code == 400
    assert reply.json()["error"]["message"] == message and reply.json()["error"]["param"] == "messages"
