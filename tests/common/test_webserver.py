"""The bounded uvicorn both servers run (`litft serve`, `litft review serve`), on real sockets on 127.0.0.1: an
unfinished head, a trickled head and an unfinished body are answered 408 and closed, connections past the cap
503 and closed, an idle keep-alive connection closed, and a proper client is served all the while; an answer
that takes longer than every limit is not cut."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from litft.common.webserver import ConnectionLimits, running
from tests.support.slow_clients import (
    answer_until_closed,
    connect,
    served,
    status,
    trickled_head,
    unfinished_body,
    unfinished_head,
)

QUICK = ConnectionLimits(head_seconds=1, body_seconds=1, keep_alive_seconds=1, max_connections=4)


class Question(BaseModel):
    model: str


def app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    def echo(question: Question) -> dict:
        return {"model": question.model}

    @app.get("/slow")
    async def slow() -> dict:
        await asyncio.sleep(1.5)  # longer than every limit of QUICK: answering is not reading
        return {"done": True}

    return app


def test_held_heads_trickled_heads_and_bodies_are_timed_out_and_a_client_is_then_served():
    with running(app(), limits=QUICK) as port:
        held = [unfinished_head(port, "/echo") for _ in range(QUICK.max_connections - 1)]
        partial = unfinished_body(port, "/echo")
        answers = [answer_until_closed(client) for client in [*held, partial]]
        assert [status(answer) for answer in answers] == [408] * QUICK.max_connections
        assert status(trickled_head(port)) == 408  # bytes that keep coming do not move the deadline
        reply = served(lambda: httpx.post(f"http://127.0.0.1:{port}/echo", json={"model": "tiny"}))
        assert reply.status_code == 200 and reply.json() == {"model": "tiny"}


def test_connections_past_the_cap_get_503_and_a_freed_slot_serves_a_client():
    patient = ConnectionLimits(head_seconds=600, max_connections=4)  # only the cap can free anything here
    with running(app(), limits=patient) as port:
        held = [unfinished_head(port) for _ in range(patient.max_connections)]
        extra = [answer_until_closed(unfinished_head(port)) for _ in range(3)]
        assert [status(answer) for answer in extra] == [503] * 3
        assert b"too many open connections" in extra[0]
        held.pop().close()  # refused connections hold no slot: this one frees the only one
        reply = served(lambda: httpx.post(f"http://127.0.0.1:{port}/echo", json={"model": "tiny"}))
        assert reply.status_code == 200 and reply.json() == {"model": "tiny"}
        for client in held:
            client.close()


def test_an_idle_keep_alive_connection_is_closed_and_a_slow_answer_is_not_cut():
    with running(app(), limits=QUICK) as port:
        client = connect(port)
        client.sendall(b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = answer_until_closed(client)  # the answer, then the server hangs up the idle connection
        assert status(answer) == 200 and answer.endswith(b'{"done":true}')
