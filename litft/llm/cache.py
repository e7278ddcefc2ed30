"""The on-disk cache of LLM responses: every paid response is on disk before anything parses it.

One JSONL file, one line per response, appended, flushed and fsynced under a lock. A run killed at any
moment loses at most the response it was receiving; a re-run reads the file back and sends no request
whose answer is already there. A write the disk refuses (full, read-only) is cut back off the file, so the
lines before it stay intact, and stops the run with one sentence. A key can hold several responses (a retried
chunk, a prompt asked twice), kept in the order they arrived.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

from litft.common.errors import LitftError, os_errors_as_user_errors
from litft.common.io import append_jsonl, iter_jsonl


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_key(*parts: str) -> str:
    """A stable key from its parts (model, template fingerprint, content hash ...); JSON keeps parts apart."""
    return text_sha256(json.dumps(parts, ensure_ascii=False))


def _cut_torn_tail(path: Path) -> None:
    """Drop an unterminated last line (a write cut off by a kill) so the next append starts a clean line."""
    with open(path, "rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        # Read backwards in blocks until the previous newline; the torn line is usually short.
        position = size
        while position > 0:
            step = min(65536, position)
            position -= step
            fh.seek(position)
            newline = fh.read(step).rfind(b"\n")
            if newline >= 0:
                fh.truncate(position + newline + 1)
                break
        else:
            fh.truncate(0)
        fh.flush()
        os.fsync(fh.fileno())


def _is_entry(entry: dict) -> bool:
    """A line this version can use: a key, the response text and its usage (a hand-edited line may lack them)."""
    return all(isinstance(entry.get(name), kind) for name, kind in (("key", str), ("text", str), ("usage", dict)))


class ResponseCache:
    """Responses by key, loaded from and appended to one JSONL file."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._entries: dict[str, list[dict[str, Any]]] = defaultdict(list)
        with os_errors_as_user_errors("open", self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists():
                _cut_torn_tail(self.path)
                for entry in iter_jsonl(self.path):
                    if _is_entry(entry):
                        self._entries[entry["key"]].append(entry)
            self._file = open(self.path, "a", encoding="utf-8")
        self._lock = threading.Lock()
        self._write_error: LitftError | None = None

    def responses(self, key: str) -> list[dict[str, Any]]:
        """The cached entries for `key`, oldest first (each has at least `text` and `usage`)."""
        with self._lock:
            return list(self._entries.get(key, ()))

    def append(self, key: str, text: str, usage: dict[str, int], **fields: Any) -> dict[str, Any]:
        """Store one response durably (fsynced) and return its entry."""
        entry = {"key": key, "text": text, "usage": usage, **fields}
        with self._lock:
            if self._write_error is not None:
                raise self._write_error
            try:
                with os_errors_as_user_errors("write", self.path):
                    append_jsonl(self._file, entry)  # a line the disk refuses is cut back off the file whole
            except LitftError as error:
                self._write_error = error
                raise
            self._entries[key].append(entry)
        return entry

    def __len__(self) -> int:
        with self._lock:
            return sum(len(entries) for entries in self._entries.values())

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
