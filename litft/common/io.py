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
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any

from tqdm import tqdm

from litft.common.errors import LitftError
from litft.common.text import parse_json

# Temporary names carry the writer's PID, so a later run can tell a dead writer's leftovers from a live one's.
TEMP_TAG = ".litft-"
SWAPPED_OUT = ".old"  # the suffix of the folder an output is moved into while a new one replaces it


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask can only set it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _temp_prefix(path: Path) -> str:
    return f".{path.name}{TEMP_TAG}{os.getpid()}-"


def remove_leftovers(path: str | os.PathLike) -> None:
    """Remove the temporary files and folders a killed litft process left beside `path` (live writers' are kept).

    A writer killed while it swapped an output folder (`path` moved aside into a `.old` folder, the new one not
    yet in place) left no `path` at all: the old output is moved back first, so it is never deleted as a leftover.
    """
    path = Path(path)
    if path.parent.is_dir():
        _remove_dead_writers(path.parent.glob(f".{glob_escape(path.name)}{TEMP_TAG}*"))


def remove_leftovers_in(directory: str | os.PathLike) -> None:
    """Remove every killed litft writer's temporaries inside `directory` (swapped-out outputs are moved back)."""
    if Path(directory).is_dir():
        _remove_dead_writers(Path(directory).glob(f".*{TEMP_TAG}*"))


def _dead_writer(leftover: Path) -> bool:
    pid = leftover.name.rsplit(TEMP_TAG, 1)[1].split("-", 1)[0]
    return pid.isdigit() and not _process_alive(int(pid))


def _remove_dead_writers(leftovers: Iterable[Path]) -> None:
    for leftover in leftovers:
        if _dead_writer(leftover):
            _restore_swapped_out(leftover)
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


def _restore_swapped_out(leftover: Path) -> None:
    """Move an output back out of a dead writer's `.old` folder when nothing took its place (a kill mid-swap)."""
    if not leftover.name.endswith(SWAPPED_OUT) or leftover.is_symlink() or not leftover.is_dir():
        return
    output = leftover / leftover.name[1:].rsplit(TEMP_TAG, 1)[0]  # `.NAME.litft-PID-XXXX.old/NAME`
    destination = leftover.parent / output.name
    if output.exists() and not destination.exists() and not destination.is_symlink():
        with contextlib.suppress(FileNotFoundError):  # another process (a rank of the same run) moved it first
            os.replace(output, destination)


def restore_swapped_out(path: str | os.PathLike) -> None:
    """Put back an output a killed writer had moved aside to swap in a new one, when `path` is missing."""
    path = Path(path)
    if path.parent.is_dir() and not path.exists():
        for leftover in path.parent.glob(f".{glob_escape(path.name)}{TEMP_TAG}*{SWAPPED_OUT}"):
            if _dead_writer(leftover):
                _restore_swapped_out(leftover)


def glob_escape(name: str) -> str:
    return "".join(f"[{char}]" if char in "*?[" else char for char in name)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # this process cleans up its own temporaries (a staging folder may be in use right now)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def make_temp_dir(path: str | os.PathLike, suffix: str = ".tmp") -> Path:
    """An empty folder beside `path`, with the mode the umask gives a new folder (mkdtemp's is always 0700)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), suffix=suffix, dir=path.parent))
    os.chmod(staging, 0o777 & ~current_umask())
    return staging


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is fsynced and renamed over `path`.

    A crash or an exception leaves the old file (or nothing) in place, never a half-written one; the new file
    gets the mode the umask gives (mkstemp's is always 0600), and a killed writer's temporary files are removed
    by the next write of the same path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(path)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        os.chmod(tmp_path, 0o666 & ~current_umask())
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def sync_tree(directory: Path, files: Iterable[Path] | None = None) -> None:
    """fsync `files` (default: every file below `directory`) and the folders that hold them, so a rename that
    publishes them never exposes data that has not reached the disk."""
    for path in directory.rglob("*") if files is None else files:
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        elif path.is_dir():
            sync_directory(path)
    sync_directory(directory)


def sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def refuse_same_path(
    source: str | os.PathLike, output: str | os.PathLike, source_flag: str = "--input", output_flag: str = "--output"
) -> None:
    """Refuse an output that would overwrite its own input: the same path (through links too) or a folder holding it."""
    source_path, output_path = Path(source).resolve(), Path(output).resolve()
    if source_path == output_path:
        raise LitftError(
            f"{output_flag} {output} is the same path as {source_flag} {source}; write the output somewhere else."
        )
    if source_path.is_relative_to(output_path):
        raise LitftError(
            f"{output_flag} {output} is a folder that holds {source_flag} {source}; choose an output outside it."
        )


def path_inside(directory: str | os.PathLike, name: object) -> Path | None:
    """`directory / name` for a name read from a file (a marker, an index, meta.json) that litft may then delete,
    replace or read; None unless it is a plain relative path in normal form (no `/x`, `..`, `.`, `a//b`) whose
    folders are inside `directory`, not links leading out of it.

    The last part itself may be a link: removing or replacing it touches only the link, and a link the user
    made to a large file is theirs to follow.
    """
    if not isinstance(name, str) or not name or "\0" in name:
        return None
    relative = PurePosixPath(name)
    if relative.is_absolute() or str(relative) != name or ".." in relative.parts or name == ".":
        return None
    directory = Path(directory)
    if not (directory / relative).parent.resolve().is_relative_to(directory.resolve()):
        return None
    return directory / relative


def check_output_file(path: str | os.PathLike, flag: str = "--output") -> Path:
    """Fail before any work when an output file cannot be written: it names a folder, or its folder is not writable."""
    path = Path(path)
    if path.is_dir():
        raise LitftError(f"{flag} {path} is a folder; give a file path.")
    parent = next((p for p in (path.parent, *path.parent.parents) if p.exists()), Path("."))
    if not parent.is_dir():
        raise LitftError(f"{flag} {path} cannot be created: {parent} is a file, not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise LitftError(f"{flag} {path} cannot be written: no write permission in {parent}.")
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def append_jsonl(fh: IO[str], record: dict, sync: bool = True) -> None:
    """Append one complete JSON line and push it to disk (see `append_line`)."""
    append_line(fh, json.dumps(record, ensure_ascii=False) + "\n", sync=sync)


def append_line(fh: IO[str], line: str, sync: bool = True) -> None:
    """Append `line` whole or not at all, then (with `sync`) push it to disk, so a kill never loses a line.

    The bytes go straight to the file descriptor rather than through `fh`'s buffer: a write the disk refuses
    midway (full, over quota) would leave the rest of the line in that buffer, to be glued before the next line
    or dropped at close. Instead what was written of the line is cut off again, so the file holds only whole
    lines, and the OSError is raised (the CLI turns it into one sentence, the review page into a JSON answer).
    """
    fh.flush()
    descriptor = fh.fileno()
    start = os.lseek(descriptor, 0, os.SEEK_END)
    try:
        rest = memoryview(line.encode("utf-8"))
        while rest:
            rest = rest[os.write(descriptor, rest) :]
        if sync:
            os.fsync(descriptor)
    except OSError as error:
        with contextlib.suppress(OSError):  # shrinking a file needs no space
            os.ftruncate(descriptor, start)
            os.lseek(descriptor, start, os.SEEK_SET)
        error.filename = error.filename or getattr(fh, "name", None)
        raise


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
                record = parse_json(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                if skip_torn_tail and not raw.endswith(b"\n"):  # only the last line can lack its newline
                    return
                raise LitftError(
                    f"{path} line {number} is not valid UTF-8 JSON ({error}); fix or remove that line."
                ) from None
            if not isinstance(record, dict):
                raise LitftError(f"{path} line {number} is not a JSON object; each line must be one {{...}} record.")
            yield record


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file; a syntax error is a user error naming the line."""
    path = Path(path)
    if not path.is_file():
        raise LitftError(f"{path} does not exist or is not a file; check the path.")
    try:
        return parse_json(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise LitftError(f"{path} is not UTF-8 text; re-save it as UTF-8.") from None
    except json.JSONDecodeError as error:
        raise LitftError(f"{path} line {error.lineno} is not valid JSON: {error.msg}.") from None


def progress(iterable: Iterable | None = None, quiet: bool = False, **kwargs: Any) -> tqdm:
    """A tqdm bar that stays silent when stderr is not a terminal or when the user asked for --quiet."""
    return tqdm(iterable, disable=quiet or not sys.stderr.isatty(), dynamic_ncols=True, **kwargs)
