"""The files of an index folder, and the size and sha256 of each that its meta.json records at build time.

Every load checks them, so an index whose files were damaged, truncated or swapped for others (chunks of the same
count give the same counts) is refused instead of answering with wrong passages. Only the standard library: the
light checks a command runs before bm25s, numpy or torch load use it too (sizes only; hashes when loading).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from litft.common.errors import LitftError
from litft.common.io import path_inside

FORMAT_VERSION = 2  # 2: meta.json records each file's size and sha256
META = "meta.json"
BM25_DIR = "bm25"  # bm25s' own save format: whatever files its save writes, each listed in meta.json
CHUNKS = "chunks.jsonl"
EMBEDDINGS = "embeddings.npy"
FILES = "files"


def fingerprint(path: Path) -> dict[str, Any]:
    """A file's size and sha256, read in blocks (hashlib.file_digest), so memory stays flat for large vectors."""
    with open(path, "rb") as fh:
        return {"bytes": os.fstat(fh.fileno()).st_size, "sha256": hashlib.file_digest(fh, "sha256").hexdigest()}


def record_files(directory: Path) -> dict[str, dict[str, Any]]:
    """What meta.json's `files` holds: each file under `directory` but meta.json itself, by its relative POSIX
    name, with its size and sha256."""
    paths = sorted(path for path in directory.rglob("*") if path.is_file() and path != directory / META)
    return {path.relative_to(directory).as_posix(): fingerprint(path) for path in paths}


def rebuild_hint(directory: Path, meta: dict) -> str:
    source = meta.get("source")
    chunks = source.get("path") if isinstance(source, dict) and isinstance(source.get("path"), str) else CHUNKS
    return f"rebuild it with `litft index build --chunks {chunks} --out {directory}`"


def check_files(directory: Path, meta: Any, hashes: bool = True) -> None:
    """Refuse, in one sentence naming the file, an index whose files differ from those its meta.json records:
    missing, of another size, with another sha256 (only with `hashes`), or a file in bm25/ it does not list."""
    if not isinstance(meta, dict):
        raise LitftError(f"{directory / META} is not a JSON object; rebuild the index with `litft index build`.")
    hint = rebuild_hint(directory, meta)
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        older = isinstance(version, int) and version < FORMAT_VERSION
        raise LitftError(
            f"{directory} was written by an older litft (index format {version}) that did not record its files' "
            f"sizes and sha256; {hint}."
            if older
            else f"{directory} is a retrieval index of format {version!r}, which this litft does not read "
            f"(it reads {FORMAT_VERSION}); {hint}."
        )
    recorded = _recorded_files(directory, meta, hint)
    listed_bm25 = {name for name in recorded if name.startswith(f"{BM25_DIR}/")}
    on_disk_bm25 = {path.relative_to(directory).as_posix() for path in (directory / BM25_DIR).rglob("*")}
    for name in sorted(on_disk_bm25 - listed_bm25):
        if not (directory / name).is_dir():
            raise LitftError(f"the index file {directory / name} is not among the files its {META} lists; {hint}.")
    for name, expected in recorded.items():
        path = directory / name
        actual = path.stat().st_size if path.is_file() else None
        if actual is None:
            raise LitftError(f"the index file {path} is missing; {hint}.")
        if actual != expected["bytes"]:
            raise LitftError(
                f"the index file {path} holds {actual} bytes, not the {expected['bytes']} its {META} records "
                f"(damaged or replaced since the build); {hint}."
            )
        if hashes and fingerprint(path)["sha256"] != expected["sha256"]:
            raise LitftError(
                f"the index file {path} is not the one the index was built with (its sha256 differs from the one "
                f"its {META} records); {hint}."
            )


def _recorded_files(directory: Path, meta: dict, hint: str) -> dict[str, dict[str, Any]]:
    """meta.json's `files`, each name a relative path inside the folder (a name read from disk is never followed
    outside it), holding the files every index has: its chunks, its BM25 files and its vectors when dense."""
    recorded = meta.get(FILES)
    shapes_ok = isinstance(recorded, dict) and all(
        isinstance(entry, dict) and isinstance(entry.get("bytes"), int) and isinstance(entry.get("sha256"), str)
        for entry in recorded.values()
    )
    required = [CHUNKS, *([EMBEDDINGS] if meta.get("dense") else [])]
    if (
        not shapes_ok
        or any(name not in recorded for name in required)
        or not any(name.startswith(f"{BM25_DIR}/") for name in recorded)
    ):
        raise LitftError(f"{directory / META} does not list the index's files with their sizes and sha256; {hint}.")
    for name in recorded:
        if not _is_inside(directory, name):
            raise LitftError(
                f"{directory / META} lists the file name {name!r}, which is not a relative path inside the index; "
                f"{hint}."
            )
    return recorded


def _is_inside(directory: Path, name: str) -> bool:
    """`name` passes `path_inside` (relative, normalised, no folder linking out) and, since the index reads the
    file itself, is not a link leading out either; backslashes are refused as Windows separators."""
    path = path_inside(directory, name)
    return path is not None and "\\" not in name and path.resolve().is_relative_to(directory.resolve())
