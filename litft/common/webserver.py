"""uvicorn with every wait on a client bounded, for `litft serve` and `litft review serve`.

uvicorn alone waits forever for a request head that never ends, and for a body that never ends (its
keep-alive timer is cancelled by any byte), and its `limit_concurrency` answers 503 only once a whole head has
arrived: a few hundred half-open connections exhaust the process's file descriptors. Neither uvicorn (0.55) nor
h11 has a read timeout, and hypercorn's `read_timeout` restarts with every byte (a client sending one byte a
second is never timed out), so this module adds the missing limits to uvicorn's h11 protocol:

- a request head must arrive whole within `head_seconds` of the connection opening or of the previous
  response, however the bytes trickle in;
- a body must arrive whole within `body_seconds` of its head;
- an idle keep-alive connection closes after `keep_alive_seconds` (uvicorn's own timer);
- at most `max_connections` are open at once; one more is answered 503 and closed before it is read.

Once a request is read, answering it (decoding, streaming) takes as long as it takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a client may take to send a request, and how many may be connected at once.

    Ten seconds for a head is Go's common `ReadHeaderTimeout`: a client that has connected sends its head in
    milliseconds. Bodies here are JSON (a prompt, a score), small: thirty seconds covers a slow link. Five seconds of
    keep-alive is uvicorn's default. A hundred connections is more than a team or a pool of clients opens, and
    far below the usual 1024 open files a process may have.
    """

    head_seconds: float = 10.0
    body_seconds: float = 30.0
    keep_alive_seconds: float = 5.0
    max_connections: int = 100


def _plain_response(status: str, text: str) -> bytes:
    body = text.encode()
    head = f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {len(body)}\r\n"
    return head.encode() + b"connection: close\r\n\r\n" + body


BUSY = _plain_response("503 Service Unavailable", "too many open connections; retry shortly")
TIMED_OUT = _plain_response("408 Request Timeout", "the request was not sent in time")


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each read phase and a cap on open connections.

    A deadline belongs to one phase of one request: (the client's h11 state, the request cycle). Bytes that
    arrive do not move it; it is replaced only when the phase changes (head → body → answered → next head).
    """

    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.refused = False
        self._deadline: asyncio.TimerHandle | None = None
        self._phase: tuple[Any, Any] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self.refused = True  # never joins `connections`: uvicorn's shutdown has nothing to wait for
            transport.write(BUSY)
            transport.close()
            return
        super().connection_made(transport)
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.refused:
            return
        self._cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def _watch(self) -> None:
        """Start the deadline of the phase the connection is in now, unless it is the phase already watched."""
        phase = (self.conn.their_state, self.cycle)
        if phase == self._phase or self.transport.is_closing():
            return
        self._cancel()
        self._phase = phase
        seconds = {h11.IDLE: self.limits.head_seconds, h11.SEND_BODY: self.limits.body_seconds}.get(phase[0])
        if seconds is not None:  # otherwise the request is read: the app answers it
            self._deadline = self.loop.call_later(seconds, self._time_out)

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _time_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._phase[0] is h11.IDLE or not self.cycle.response_started:
            self.transport.write(TIMED_OUT)  # no response of this request is on the wire: a 408 can go whole
        self.transport.close()


def uvicorn_settings(limits: ConnectionLimits) -> dict[str, Any]:
    """The keyword arguments of `uvicorn.Config` / `uvicorn.run` both servers run with."""
    return {
        "http": functools.partial(BoundedH11Protocol, limits=limits),
        "timeout_keep_alive": limits.keep_alive_seconds,
        # uvicorn's own cap (`limit_concurrency`) stays off: it counts only connections whose head has arrived.
        "ws": "none",  # no route takes a WebSocket; an upgrade would leave the bounded protocol
        "lifespan": "off",  # neither app has start-up or shut-down handlers
        "log_level": "warning",
    }


def run(app: Any, host: str, port: int, limits: ConnectionLimits = ConnectionLimits()) -> None:
    """Serve `app` until interrupted."""
    uvicorn.run(app, host=host, port=port, **uvicorn_settings(limits))


@contextlib.contextmanager
def running(
    app: Any, host: str = "127.0.0.1", port: int = 0, limits: ConnectionLimits = ConnectionLimits()
) -> Iterator[int]:
    """`app` served in a thread of this process while the block runs; yields the port it listens on."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, **uvicorn_settings(limits)))
    thread = threading.Thread(target=server.run, name="litft-http", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise OSError(f"the server could not listen on {host}:{port}")
        threading.Event().wait(0.02)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join()
