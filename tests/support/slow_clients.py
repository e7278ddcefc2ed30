"""Clients that hold a server's connections open, on real sockets: an unfinished request head, a head sent a
byte at a time, a body that never ends. Each reads what the server answers until the server closes."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import httpx

WAIT_SECONDS = 60  # generous: these waits only end a broken run instead of hanging it


def connect(port: int, host: str = "127.0.0.1") -> socket.socket:
    """A connection to a server that may still be starting (connection refused until it listens)."""
    for _ in range(WAIT_SECONDS * 10):
        try:
            return socket.create_connection((host, port), timeout=WAIT_SECONDS)
        except ConnectionRefusedError:
            threading.Event().wait(0.1)
    raise AssertionError(f"nothing listens on {host}:{port}")


def unfinished_head(port: int, path: str = "/", host: str = "127.0.0.1") -> socket.socket:
    """A connection that sent the first lines of a request head, never its blank line."""
    client = connect(port, host)
    client.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\n".encode())
    return client


def unfinished_body(port: int, path: str, headers: dict[str, str] | None = None) -> socket.socket:
    """A connection that sent a whole head announcing 1000 bytes of JSON, then 10 of them."""
    client = connect(port)
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", "Content-Length: 1000"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    client.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + b'{"model": ')
    return client


def trickled_head(port: int) -> bytes:
    """A head sent one header line at a time without end; what the server answered once it hung up."""
    client = connect(port)
    client.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    client.settimeout(0.05)
    try:
        for number in range(WAIT_SECONDS * 20):
            client.sendall(f"X-Line-{number}: a\r\n".encode())
            try:
                if client.recv(1, socket.MSG_PEEK):
                    break  # the server answered
            except TimeoutError:
                pass
        return answer_until_closed(client)
    except (BrokenPipeError, ConnectionResetError):
        return answer_until_closed(client)


def answer_until_closed(client: socket.socket) -> bytes:
    """Everything the server sent until it closed the connection (a reset counts as closed)."""
    client.settimeout(WAIT_SECONDS)
    received = b""
    with client:
        try:
            while chunk := client.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
        except TimeoutError:
            raise AssertionError(f"the server held the connection open (it sent {received[:80]!r})") from None
    return received


def status(answer: bytes) -> int | None:
    """The status code of the first response in `answer` (None when the server sent nothing)."""
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


def served(request: Callable[[], httpx.Response]) -> httpx.Response:
    """`request`'s response once the server has a free connection (it answers 503 while at its cap, and frees a
    slot only when it has seen a client go)."""
    for _ in range(WAIT_SECONDS * 10):
        response = request()
        if response.status_code != 503:
            return response
        threading.Event().wait(0.1)
    raise AssertionError("the server stayed at its connection cap")
