"""Text sources for pretraining and tokenizer training: files, folders, pretrain.txt and chunks.jsonl.

Documents are streamed in batches of about `batch_bytes` of text, so memory stays flat however large
the input is (only a single document -- one whole plain file, at most MAX_DOCUMENT_BYTES -- is ever
held at once). Every reading error a user can cause (missing path, non-UTF-8 bytes, malformed JSONL,
missing key) is a `LitftError` naming the file and line.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from litft.common.errors import LitftError
from litft.common.text import parse_json

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown", ".rst", ".jsonl"}
LINE_FILE_NAMES = {"pretrain.txt"}  # the process stage writes one chunk per line here
# What `litft process` writes: the same text as pages.jsonl, so a folder holding one is not a plain corpus.
PROCESS_OUTPUTS = ("pretrain.txt", "chunks.jsonl")
# A whole file is one document and must be encoded in one piece; past this, memory would follow its size.
MAX_DOCUMENT_BYTES = 64 << 20

# bytes.strip() strips exactly these; using the same set on str keeps slots equal to count_documents.
ASCII_WHITESPACE = " \t\n\r\x0b\x0c"

SourceKind = Literal["file", "lines", "jsonl"]


@dataclass(frozen=True)
class Source:
    """One input file and how it holds documents: the whole file, one per line, or JSONL records."""

    path: Path
    kind: SourceKind


def resolve_sources(data: Path | str | Sequence[Path | str] | None, split_lines: bool | None = None) -> list[Source]:
    """Expand files, folders (recursively, sorted) and glob patterns into sources.

    `split_lines=None` decides per file: `.jsonl` -> records with "text", `pretrain.txt` -> one document
    per line, any other file -> one document. True/False forces line splitting on or off for text files.
    """
    if data is None or (not isinstance(data, (str, Path)) and len(data) == 0):
        raise LitftError("no input given; pass --data with a text file, a folder, pretrain.txt or chunks.jsonl.")
    entries = [data] if isinstance(data, (str, Path)) else list(data)
    paths: list[Path] = []
    for entry in entries:
        path = Path(entry)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in TEXT_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                raise LitftError(
                    f"folder {path} holds no text files ({', '.join(sorted(TEXT_SUFFIXES))}); check the path."
                )
            _refuse_process_outputs(found)
            paths.extend(found)
        elif path.is_file():
            paths.append(path)
        elif any(char in str(entry) for char in "*?[") and (
            matches := sorted(Path(p) for p in glob.glob(str(entry), recursive=True))
        ):
            paths.extend(p for p in matches if p.is_file())
        else:
            raise LitftError(f"input {entry} does not exist; check the path.")
    sources = [Source(path, _kind(path, split_lines)) for path in paths]
    for source in sources:
        if source.kind == "file" and (size := source.path.stat().st_size) > MAX_DOCUMENT_BYTES:
            raise LitftError(
                f"{source.path} is one {size >> 20} MB document, too large to encode in memory; "
                "pass --split_lines true to make each line a document."
            )
    return sources


def _refuse_process_outputs(found: list[Path]) -> None:
    """A folder `litft process` wrote holds the same text up to three times.

    As pages.jsonl, chunks.jsonl and pretrain.txt.
    """
    siblings: dict[Path, list[Path]] = {}
    for path in found:
        siblings.setdefault(path.parent, []).append(path)
    for folder, files in siblings.items():
        output = next((folder / name for name in PROCESS_OUTPUTS if folder / name in files), None)
        if output is not None and len(files) > 1:
            raise LitftError(
                f"folder {folder} holds {output.name} (written by `litft process`) beside other text files that repeat "
                f"its text; pass {output} itself, or list the files you mean with --data."
            )


def _kind(path: Path, split_lines: bool | None) -> SourceKind:
    if path.suffix.lower() == ".jsonl":
        return "jsonl"
    if split_lines is None:
        return "lines" if path.name in LINE_FILE_NAMES else "file"
    return "lines" if split_lines else "file"


def count_documents(sources: Sequence[Source]) -> int:
    """Count document slots without decoding: a cheap first pass so the split can be exact and seeded."""
    total = 0
    for source in sources:
        if source.kind == "file":
            total += bool(source.path.read_bytes().strip())  # blank files, like blank lines, hold no document
            continue
        with open(source.path, "rb") as fh:
            total += sum(1 for line in fh if line.strip())
    return total


def total_bytes(sources: Sequence[Source]) -> int:
    return sum(source.path.stat().st_size for source in sources)


def iter_document_batches(
    sources: Sequence[Source], batch_bytes: int = 4 << 20, text_key: str = "text"
) -> Iterator[tuple[list[str], int]]:
    """Yield `(documents, bytes_read)` batches in input order; one entry per document slot.

    Blank lines and blank files are no documents; a JSONL record with empty text still yields its slot
    (as "") so slot numbers match `count_documents`, and callers skip (and count) empty documents.
    """
    batch: list[str] = []
    batch_size = 0
    for source in sources:
        for documents, size in _read_source(source, batch_bytes, text_key):
            batch.extend(documents)
            batch_size += size
            if batch_size >= batch_bytes:
                yield batch, batch_size
                batch, batch_size = [], 0
    if batch:
        yield batch, batch_size


def _read_source(source: Source, batch_bytes: int, text_key: str) -> Iterator[tuple[list[str], int]]:
    if source.kind == "file":
        raw = source.path.read_bytes()
        yield ([_decode(raw, source.path, first_line=1)] if raw.strip() else []), len(raw)
        return
    line_number = 0
    with open(source.path, "rb") as fh:
        while lines := fh.readlines(batch_bytes):
            first_line = line_number + 1
            line_number += len(lines)
            size = sum(len(line) for line in lines)
            if source.kind == "lines":
                # Decoding the joined batch once is ~10x faster than per line; the error path finds the line.
                text = _decode(b"".join(lines), source.path, first_line)
                yield [line.removesuffix("\r") for line in text.split("\n") if line.strip(ASCII_WHITESPACE)], size
            else:
                yield (
                    [
                        _jsonl_text(line, source.path, first_line + i, text_key)
                        for i, line in enumerate(lines)
                        if line.strip()
                    ],
                    size,
                )


def _decode(raw: bytes, path: Path, first_line: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = first_line + raw.count(b"\n", 0, error.start)
        raise LitftError(
            f"{path} line {line} is not valid UTF-8 ({error.reason}); re-save the file as UTF-8."
        ) from None


def _jsonl_text(raw: bytes, path: Path, line: int, text_key: str) -> str:
    try:
        record = parse_json(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise LitftError(f"{path} line {line} is not valid UTF-8; re-save the file as UTF-8.") from None
    except json.JSONDecodeError as error:
        raise LitftError(f"{path} line {line} is not valid JSON: {error.msg}; fix or remove that line.") from None
    if not isinstance(record, dict) or not isinstance(record.get(text_key), str):
        raise LitftError(
            f'{path} line {line} has no string {text_key!r} field; each line must be a {{"{text_key}": ...}} record.'
        )
    return record[text_key]
