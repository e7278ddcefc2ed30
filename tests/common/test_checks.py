"""The shared bind checks of `litft serve` and `litft review serve`: loopback hosts and the port probe."""

from __future__ import annotations

import socket

import pytest

from litft.common.checks import check_bind, is_loopback
from litft.common.errors import LitftError


@pytest.mark.parametrize(
    "host,loopback",
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_check_bind_refuses_a_port_out_of_range_a_foreign_host_and_a_busy_port():
    with pytest.raises(LitftError, match=r"^--port 70000 is not a port number; give one between 1 and 65535\.$"):
        check_bind("127.0.0.1", 70000)
    with pytest.raises(LitftError, match=r"^--host no-such-host\.invalid is not an address of this machine"):
        check_bind("no-such-host.invalid", 8000)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(
            LitftError, match=rf"^cannot listen on 127\.0\.0\.1:{port} \(.+\); choose another --port\.$"
        ):
            check_bind("127.0.0.1", port)
    check_bind("127.0.0.1", port)  # free again
