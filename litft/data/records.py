"""Reading the JSONL inputs of the synthesis stages with line-numbered, one-sentence errors, and turning the
operating system's refusals (permission denied, disk full) into the same kind of sentence."""

from __future__ import annotations

import contextlib
import errno
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from litft.common.errors import LitftError
from litft.common.io import atomic_path, iter_jsonl

REMEDIES = {
    errno.EACCES: "fix its permissions or choose another path",
    errno.EPERM: "fix its permissions or choose another path",
    errno.EROFS: "choose a path on a writable disk",
    errno.ENOSPC: "free some disk space or choose another disk",
    errno.EDQUOT: "free some disk space or choose another disk",
}


def read_records(path: str | Path, required: tuple[str, ...], what: str) -> list[tuple[int, dict]]:
    """(line number, record) for every record of a JSONL file; each must hold `required` as text.

    `what` names the records in messages ("chunk", "instruction record").
    """
    path = Path(path)
    with os_errors_as_user_errors("read", path):
        records = list(iter_jsonl(path))  # validates JSON, naming the line of a malformed one
        # iter_jsonl skips blank lines; number the rest the same way to name a record's line.
        numbers = [number for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1) if raw.strip()]
    numbered = list(zip(numbers, records))
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


@contextlib.contextmanager
def os_errors_as_user_errors(action: str, path: str | Path) -> Iterator[None]:
    """An OSError inside the block (permission denied, no space left, a file where a folder should be) is the
    user's to fix: one sentence saying what could not be done to which path. Atomic writes leave older files intact."""
    try:
        yield
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        remedy = REMEDIES.get(error.errno, "check the path")
        raise LitftError(f"cannot {action} {error.filename or path}: {reason}; {remedy}.") from None
