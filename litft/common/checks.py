"""Checks of the paths and addresses a command was given, run first: a wrong path or a busy port is answered at
once, not after torch loads."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

from litft.common.errors import LitftError


def require_dir(path: str | os.PathLike | None, flag: str, hint: str = "check the path") -> Path | None:
    """`path` as a Path when it is an existing folder (None passes through); otherwise one sentence naming `flag`."""
    if path is None:
        return None
    path = Path(path)
    if not path.exists():
        raise LitftError(f"{flag} {path} does not exist; {hint}.")
    if not path.is_dir():
        raise LitftError(f"{flag} {path} is a file, not a folder; give the folder.")
    return path


def require_file(path: str | os.PathLike | None, flag: str, hint: str = "check the path") -> Path | None:
    """`path` as a Path when it is an existing file (None passes through); otherwise one sentence naming `flag`."""
    if path is None:
        return None
    path = Path(path)
    if not path.exists():
        raise LitftError(f"{flag} {path} does not exist; {hint}.")
    if path.is_dir():
        raise LitftError(f"{flag} {path} is a folder, not a file; give the file.")
    return path


def check_shard_size(max_shard_size: str) -> None:
    """Refuse a size save_torch_state_dict's own parser rejects before any work, not after the weights are converted."""
    from huggingface_hub.serialization._base import (
        parse_size_to_int,  # the parser save_torch_state_dict uses
    )

    try:
        size = parse_size_to_int(str(max_shard_size))
    except ValueError:
        size = 0
    if size <= 0:
        raise LitftError(f"--max_shard_size must be a size like 5GB or 500MB, not {max_shard_size!r}.")


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address) only lets this machine connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, port: int) -> None:
    """Refuse a port out of range, a host that is not this machine's, or a port in use, before a server loads
    anything (uvicorn would only find out after the load, and exit with its own message)."""
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
