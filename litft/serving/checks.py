"""Checks of where `litft serve` listens and with what key, cheap enough to run before torch is imported."""

from __future__ import annotations

import ipaddress
import os
import socket

from litft.common.errors import LitftError


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_key(host: str, api_key_env: str | None) -> str | None:
    """The key clients must send: required (from `api_key_env`) for any bind but loopback, optional on it."""
    if api_key_env is None:
        if not is_loopback(host):
            raise LitftError(
                f"--host {host} lets other machines connect; name the variable holding their key with --api_key_env."
            )
        return None
    key = os.environ.get(api_key_env, "").strip()
    if not key:
        raise LitftError(f"the environment variable {api_key_env} (--api_key_env) holds no API key; export it.")
    return key


def check_bind(host: str, port: int) -> None:
    """Refuse a port out of range, a host that is not this machine's, or a port in use, before loading a model."""
    if not 1 <= port <= 65535:
        raise LitftError(f"--port {port} is not a port number; give one between 1 and 65535.")
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror:
        raise LitftError(f"--host {host} is not an address of this machine; give e.g. 127.0.0.1 or 0.0.0.0.") from None
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise LitftError(f"cannot listen on {host}:{port} ({error.strerror}); choose another --port.") from None
