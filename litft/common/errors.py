"""The error class for mistakes a user can make and fix (bad path, bad config value, malformed record), and the
translation of the file-system errors a user's environment causes (full disk, no permission) into one sentence.

The CLI prints these as one sentence and exits 2; every other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType


class LitftError(Exception):
    """A user error: the message is one sentence saying what is wrong and how to fix it."""


# errno -> (what litft could not do, how the user fixes it). ENOENT is the user's only for a path they gave.
_ENVIRONMENT_ERRORS = {
    errno.ENOSPC: ("write", "free some space and re-run; what was already written is intact"),
    errno.EDQUOT: ("write", "free some space or raise the quota and re-run; what was already written is intact"),
    errno.EFBIG: ("write", "the file reached the size `ulimit -f` allows; what was already written is intact"),
    errno.EROFS: ("write", "choose a folder on a writable file system"),
    errno.EACCES: ("open", "fix its permissions or choose another path"),
    errno.EPERM: ("open", "fix its permissions or choose another path"),
    errno.EISDIR: ("open", "it is a folder; give a file path"),
    errno.ENOTDIR: ("open", "a part of the path is a file, not a folder; choose another path"),
    errno.ENOENT: ("open", "check the path"),
    errno.EMFILE: ("open", "too many files are open; raise the limit with `ulimit -n` and re-run"),
    errno.ENFILE: ("open", "too many files are open on this system; close some programs and re-run"),
}
# litft.common.io's temporary files are named `.NAME.litft-PID-XXXX.tmp`: report the file the user asked for.
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.litft-\d+-.*$")


def environment_error_message(error: OSError, given_paths: Iterable[str | os.PathLike] = ()) -> str | None:
    """One sentence for an OSError the user's environment caused, naming the file and the fix; None for a bug.

    A missing file (ENOENT) counts only when it is one of `given_paths` or lies inside one of them.
    """
    if error.errno not in _ENVIRONMENT_ERRORS:
        return None
    filename = error.filename2 if error.errno in (errno.ENOSPC, errno.EDQUOT) and error.filename2 else error.filename
    if error.errno == errno.ENOENT and not (filename is not None and _is_given(filename, given_paths)):
        return None
    if filename is None:  # a write to a full disk names no file: take the one being written from the traceback
        filename = _open_file_in(error.__traceback__)
    verb, advice = _ENVIRONMENT_ERRORS[error.errno]
    cause = error.strerror or os.strerror(error.errno)
    if filename is None:
        return f"could not {verb} a file: {cause} ({advice})."
    return f"could not {verb} {_user_facing(filename)}: {cause} ({advice})."


def _open_file_in(traceback: TracebackType | None) -> str | None:
    """The innermost open file object in the frames an OSError passed through, e.g. `fh` of `fh.write(...)`."""
    frames = []
    while traceback is not None:
        frames.append(traceback.tb_frame)
        traceback = traceback.tb_next
    for frame in reversed(frames):
        for value in frame.f_locals.values():
            if isinstance(value, io.IOBase) and isinstance(getattr(value, "name", None), str):
                return value.name
    return None


def _user_facing(filename: str | bytes | int) -> str:
    path = Path(os.fsdecode(filename)) if not isinstance(filename, int) else Path(f"file descriptor {filename}")
    match = _TEMP_NAME.match(path.name)
    return str(path.with_name(match["name"]) if match else path)


def _is_given(filename: str | bytes | int, given_paths: Iterable[str | os.PathLike]) -> bool:
    if isinstance(filename, int):
        return False
    path = Path(os.path.abspath(os.fsdecode(filename)))
    return any(path.is_relative_to(os.path.abspath(given)) for given in given_paths)


@contextlib.contextmanager
def os_errors_as_user_errors(action: str, path: str | os.PathLike) -> Iterator[None]:
    """An OSError inside the block (permission denied, no space left, a file where a folder should be) is the
    user's to fix: one sentence saying what could not be done to which path. Atomic writes leave older files intact."""
    try:
        yield
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        advice = _ENVIRONMENT_ERRORS.get(error.errno, ("", "check the path"))[1]
        raise LitftError(f"cannot {action} {_user_facing(error.filename or path)}: {reason}; {advice}.") from None
