"""`litft review serve` as a real process on 127.0.0.1, as a team opens it (--token): the link it prints works for a
token with URL-special characters, connections past the cap are refused instead of exhausting the process's
files while the page keeps serving, and text that is not valid Unicode is refused in one sentence."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from litft.common.webserver import ConnectionLimits
from tests.support.slow_clients import answer_until_closed, served, status, unfinished_head

TOKEN = "a+b/c=d==x9"  # base64's + and /: a raw `+` in a query string arrives as a space

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def review_server(eval_dir):
    """The server process and the page link it printed."""
    port = free_port()
    command = [sys.executable, "-m", "litft.cli", "review", "serve", str(eval_dir), "--port", str(port)]
    server = subprocess.Popen([*command, "--token", TOKEN], stdout=subprocess.PIPE, text=True)
    try:
        link = server.stdout.readline().split()[2]
        wait_until_listening(port)  # the link is printed before uvicorn binds, and a loaded machine is slow to bind
        yield port, link
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        server.stdout.close()


def wait_until_listening(port: int, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_the_printed_link_carries_the_token_url_encoded(review_server):
    port, link = review_server
    assert link == f"http://127.0.0.1:{port}/?token=a%2Bb%2Fc%3Dd%3D%3Dx9"
    page = served(lambda: httpx.get(link))
    assert page.status_code == 200 and "<html" in page.text.lower()


def test_connections_past_the_cap_are_refused_and_the_page_is_served_once_one_goes(review_server):
    port, link = review_server
    held = [unfinished_head(port) for _ in range(ConnectionLimits().max_connections)]
    try:
        assert status(answer_until_closed(unfinished_head(port))) == 503
    finally:
        for client in held:
            client.close()
    config = served(lambda: httpx.get(f"http://127.0.0.1:{port}/api/config", headers={"X-Review-Token": TOKEN}))
    assert config.status_code == 200 and config.json()["questions"] == 3


def test_a_note_that_is_not_valid_unicode_is_refused_in_one_sentence(review_server):
    port, _ = review_server
    served(lambda: httpx.get(f"http://127.0.0.1:{port}/api/config", headers={"X-Review-Token": TOKEN}))
    body = '{"item": "x", "score": 2, "note": "\\ud800"}'
    headers = {"X-Review-Token": TOKEN, "content-type": "application/json"}
    reply = httpx.post(f"http://127.0.0.1:{port}/api/alice/scores", content=body, headers=headers)
    assert reply.status_code == 422
    assert reply.json() == {
        "detail": "note: Input should be a valid string, unable to parse raw data as a unicode string."
    }
