"""Reading and writing the JSONL records the data stages share, with line-numbered, one-sentence errors."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from litft.common.errors import LitftError, os_errors_as_user_errors
from litft.common.io import atomic_path, iter_jsonl


def read_records(path: str | Path, required: tuple[str, ...], what: str) -> list[tuple[int, dict]]:
    """(line number, record) for every record of a JSONL file; each must hold `required` as text.

    `what` names the records in messages ("chunk", "instruction record").
    """
    path = Path(path)
    with os_errors_as_user_errors("read", path):
        records = list(iter_jsonl(path))  # validates JSON, naming the line of a malformed one
        # iter_jsonl skips blank lines; number the rest the same way to name a record's line.
        numbers = [number for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1) if raw.strip()]
    numbered = list(zip(numbers, records, strict=True))
    if not numbered:
        raise LitftError(f"{path} holds no records; give a JSONL file with one {what} per line.")
    for number, record in numbered:
        for name in required:
            if name not in record:
                raise LitftError(
                    f"{path} line {number} has no {name!r} field; each {what} needs {', '.join(required)}."
                )
            if not isinstance(record[name], str):
                raise LitftError(
                    f"{path} line {number}: field {name!r} must be text, not {type(record[name]).__name__}."
                )
    return numbered


def write_jsonl(path: str | Path, records: Iterable[dict]) -> None:
    """Write all `records` as JSONL atomically: readers see the old file or the complete new one."""
    with os_errors_as_user_errors("write", path), atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
