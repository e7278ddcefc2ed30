"""File helpers every stage shares: atomic writes, line-complete JSONL appends, checked JSONL/JSON reads.

No torch import here: the data layer uses these too.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from tqdm import tqdm

from litft.errors import LitftError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is fsynced and renamed over `path`.

    A crash or an exception leaves the old file (or nothing) in place, never a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty directory beside `path` that replaces it when the block succeeds (see `replace_dir`);
    if the block fails it vanishes and `path` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield staging
        replace_dir(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def replace_dir(new: Path, target: Path) -> None:
    """Publish the directory `new` as `target`: its files reach the disk first, the old `target` survives until
    the new one is in place, and the renames themselves are synced.

    Without the syncs, a power cut after the rename could publish a directory whose files never reached the disk.
    """
    _sync_tree(new)
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        os.replace(new, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, target)
    _sync_directory(target.parent)


def _sync_tree(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        elif path.is_dir():
            _sync_directory(path)
    _sync_directory(directory)


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def append_jsonl(fh: IO[str], record: dict) -> None:
    """Append one complete JSON line and push it to disk, so a kill never loses or tears a record."""
    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    fh.flush()
    os.fsync(fh.fileno())


def iter_jsonl(path: str | os.PathLike, skip_torn_tail: bool = False) -> Iterator[dict]:
    """Yield the records of a JSONL file; a malformed line is a user error naming its line number.

    With `skip_torn_tail`, an unparsable *last* line without a newline (a write cut off by a kill) is ignored.
    """
    path = Path(path)
    if not path.is_file():
        raise LitftError(f"{path} does not exist or is not a file; check the path.")
    with open(path, "rb") as fh:  # streamed line by line: memory stays flat for files larger than RAM
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                if skip_torn_tail and not raw.endswith(b"\n"):  # only the last line can lack its newline
                    return
                raise LitftError(f"{path} line {number} is not valid UTF-8 JSON ({error}); fix or remove that line.") from None
            if not isinstance(record, dict):
                raise LitftError(f"{path} line {number} is not a JSON object; each line must be one {{...}} record.")
            yield record


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file; a syntax error is a user error naming the line."""
    path = Path(path)
    if not path.is_file():
        raise LitftError(f"{path} does not exist or is not a file; check the path.")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise LitftError(f"{path} is not UTF-8 text; re-save it as UTF-8.") from None
    except json.JSONDecodeError as error:
        raise LitftError(f"{path} line {error.lineno} has a JSON syntax error: {error.msg}.") from None


def progress(iterable: Iterable | None = None, quiet: bool = False, **kwargs: Any) -> tqdm:
    """A tqdm bar that stays silent when stderr is not a terminal or when the user asked for --quiet."""
    return tqdm(iterable, disable=quiet or not sys.stderr.isatty(), dynamic_ncols=True, **kwargs)
