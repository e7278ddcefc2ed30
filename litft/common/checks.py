"""Checks of the paths a command was given, run first: a wrong path is answered at once, not after torch loads."""

from __future__ import annotations

import os
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
