"""`litft serve` at its limits: clients that hold connections open without sending a request (a keyed server
answers its keyed client all the while), numbers at the edge of what JSON allows, an empty prompt under a
tokenizer that adds BOS, and text that is not valid Unicode. Every refusal is a 400 in OpenAI's shape naming
the field, never a 500."""

from __future__ import annotations

import dataclasses
import json
import shutil
from urllib.parse import urlsplit

import httpx
import pytest

from litft.common.errors import LitftError
from litft.common.settings import SamplingSettings
from litft.common.webserver import ConnectionLimits
from litft.serving.server import build_engine, running_server
from tests.support.slow_clients import answer_until_closed, served, status, unfinished_body, unfinished_head

QUICK = ConnectionLimits(head_seconds=1, body_seconds=1, keep_alive_seconds=1, max_connections=4)
KEY = {"authorization": "Bearer sekrit"}

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def bos_server(lit_base, tmp_path_factory):
    """A tiny model whose tokenizer adds BOS: an empty prompt encodes to one token."""
    checkpoint = tmp_path_factory.mktemp("bos") / "tiny-bos"
    shutil.copytree(lit_base, checkpoint)
    config = json.loads((checkpoint / "tokenizer_config.json").read_text())
    (checkpoint / "tokenizer_config.json").write_text(json.dumps(config | {"add_bos_token": True}))
    engine = build_engine(checkpoint, model_name="tiny", max_batch_size=2, device="cpu")
    assert engine.loaded.encode("") == [engine.loaded.tokenizer.bos_id]
    with running_server(engine) as base_url:
        yield engine, base_url
    engine.batcher.stop()


def post(base_url: str, body: dict | str, route: str = "completions") -> httpx.Response:
    content = body if isinstance(body, str) else json.dumps(body)
    return httpx.post(f"{base_url}/{route}", content=content, headers={"content-type": "application/json"})


def test_clients_holding_connections_are_cut_off_and_the_keyed_client_is_served(bos_server):
    engine, _ = bos_server
    with running_server(dataclasses.replace(engine, api_key="sekrit"), limits=QUICK) as base_url:
        port = urlsplit(base_url).port
        held = [unfinished_head(port, "/v1/completions") for _ in range(QUICK.max_connections - 1)]
        keyless_body = unfinished_body(port, "/v1/completions")  # refused (401) before its body is read
        past_cap = answer_until_closed(unfinished_head(port))
        assert status(past_cap) == 503
        assert [status(answer_until_closed(client)) for client in held] == [408] * len(held)
        assert status(answer_until_closed(keyless_body)) == 401  # ... and then closed at the body's deadline
        models = served(lambda: httpx.get(f"{base_url}/models", headers=KEY))
        assert models.status_code == 200 and models.json()["data"][0]["id"] == "tiny"


def test_a_partial_body_on_loopback_without_a_key_is_cut_off(bos_server):
    engine, _ = bos_server
    with running_server(engine, limits=QUICK) as base_url:
        port = urlsplit(base_url).port
        assert status(answer_until_closed(unfinished_body(port, "/v1/completions"))) == 408
        reply = served(lambda: post(base_url, {"model": "tiny", "prompt": "the school", "max_tokens": 2}))
        assert reply.status_code == 200 and reply.json()["usage"]["completion_tokens"] == 2


@pytest.mark.parametrize(
    "fields,param,message",
    [
        ({"seed": 2**64}, "seed", "seed: Input should be less than or equal to 9223372036854775807."),
        ({"seed": -(2**63) - 1}, "seed", "seed: Input should be greater than or equal to -9223372036854775808."),
        ({"prompt": ""}, "prompt", "the prompt is empty; give it some text."),
        ({"prompt": ["the school", ""]}, "prompt", "prompt 2 is empty; give it some text."),
    ],
)
def test_numbers_past_their_range_and_an_empty_prompt_are_a_400(bos_server, fields, param, message):
    reply = post(bos_server[1], {"model": "tiny", "prompt": "the school", "max_tokens": 2} | fields)
    assert reply.status_code == 400
    assert reply.json()["error"] == {"message": message, "type": "invalid_request_error", "param": param, "code": None}


@pytest.mark.parametrize("fields", [{"temperature": 1e-300}, {"temperature": 5e-324, "seed": 7}, {"top_p": 1e-300}])
def test_a_vanishing_temperature_or_top_p_decodes_greedily(bos_server, fields):
    body = {"model": "tiny", "prompt": "the school", "max_tokens": 6}
    greedy = post(bos_server[1], body | {"temperature": 0})
    reply = post(bos_server[1], body | fields)
    assert reply.status_code == 200 and greedy.status_code == 200
    assert reply.json()["choices"][0]["text"] == greedy.json()["choices"][0]["text"]


def test_the_largest_seeds_and_a_huge_max_tokens_are_answered(bos_server):
    body = {"model": "tiny", "prompt": "the school", "temperature": 1, "max_tokens": 2}
    for seed in (2**63 - 1, -(2**63)):
        reply = post(bos_server[1], body | {"seed": seed})
        assert reply.status_code == 200 and reply.json()["usage"]["completion_tokens"] == 2
    reply = post(bos_server[1], body | {"max_tokens": 10**30})  # capped by the room left in the context
    assert reply.status_code == 200 and reply.json()["choices"][0]["finish_reason"] in ("stop", "length")


@pytest.mark.parametrize(
    "route,body,param",
    [
        ("completions", '{"model": "tiny", "prompt": "ab\\ud800"}', "prompt.0"),
        ("completions", '{"model": "tiny", "prompt": ["the school", "\\udfff"]}', "prompt.1"),
        ("completions", '{"model": "tiny", "prompt": "the school", "stop": "\\ud800"}', "stop.0"),
        ("completions", '{"model": "\\ud800", "prompt": "the school"}', "model"),
        (
            "chat/completions",
            '{"model": "tiny", "messages": [{"role": "user", "content": "\\ud83d"}]}',
            "messages.0.content",
        ),
    ],
)
def test_text_that_is_not_valid_unicode_is_a_400_naming_the_field(bos_server, route, body, param):
    reply = post(bos_server[1], body, route)
    assert reply.status_code == 400
    message = f"{param}: Input should be valid Unicode text, not a lone surrogate such as \\ud800."
    assert reply.json()["error"] == {"message": message, "type": "invalid_request_error", "param": param, "code": None}


def test_the_command_line_refuses_a_seed_past_64_bits_and_decodes_a_vanishing_temperature_greedily():
    with pytest.raises(LitftError, match=r"^--sampling\.seed must fit in 64 bits \(.*\), got 18446744073709551616\.$"):
        SamplingSettings(seed=2**64).validate()
    assert SamplingSettings(temperature=1e-300).greedy and not SamplingSettings(temperature=0.01).greedy
