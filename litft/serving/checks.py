"""The key `litft serve` requires, checked before torch is imported (where it listens: litft.common.checks)."""

from __future__ import annotations

import os

from litft.common.checks import is_loopback
from litft.common.errors import LitftError


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
