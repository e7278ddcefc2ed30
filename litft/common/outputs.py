"""Output folders: litft writes only into what it owns, and replaces only the files it wrote.

Every output folder litft publishes carries a marker file, `.litft.json`, naming its kind (`checkpoint`,
`hf-export`, `prepared-data`, `run`, ...) and the files litft put there. That marker is how a later command
tells its own earlier output, which it may replace, from a user's folder, which it must not touch:

- a missing or empty folder, or one marked with the same kind: written (the folder is swapped in whole when
  it holds nothing but litft's files, otherwise file by file so a user's extra files survive);
- any other non-empty folder: refused with one sentence, unless `--overwrite`, and even then only the files
  litft writes are replaced; nothing else in the folder is removed;
- an output that is a file, or that resolves to (or holds) one of the command's inputs: refused.

No torch import here: the data layer uses these too.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from litft.common.errors import LitftError
from litft.common.io import (
    SWAPPED_OUT,
    atomic_write_json,
    check_output_file,
    make_temp_dir,
    path_inside,
    remove_leftovers,
    restore_swapped_out,
    sync_directory,
    sync_tree,
)
from litft.common.text import parse_json

MARKER = ".litft.json"
OUTPUT_FILES_KIND = "output-files"  # the marker of a folder where litft wrote only single-file outputs


def read_marker(directory: str | os.PathLike) -> dict[str, Any] | None:
    """The marker of a folder litft wrote, or None (no marker, or one that is not litft's JSON)."""
    path = Path(directory) / MARKER
    try:
        marker = parse_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and isinstance(marker.get("kind"), str) else None


def owned_files(directory: Path) -> set[str]:
    """The files (relative paths) a folder's marker says litft wrote there.

    A marker is a file anyone can edit: a name that is not a plain relative path inside the folder (`/tmp/x`,
    `../x`, one through a link leading out) is not litft's, so it is never removed or replaced.
    """
    marker = read_marker(directory) or {}
    files = marker.get("files")
    if not isinstance(files, list):
        return set()
    return {name for name in files if path_inside(directory, name) is not None}


def is_own(directory: str | os.PathLike, kind: str) -> bool:
    marker = read_marker(directory)
    return marker is not None and marker["kind"] == kind


def check_output_dir(
    path: str | os.PathLike,
    kind: str,
    *,
    overwrite: bool = False,
    inputs: Iterable[str | os.PathLike | None] = (),
    flag: str = "--out_dir",
) -> Path:
    """Refuse, before any work, an output folder litft may not write (see the module docstring); return it."""
    path = Path(path)
    restore_swapped_out(path)  # a run killed while swapping this output in left the old one aside
    resolved = path.resolve()
    for source in inputs:
        if source is None:
            continue
        source_path = Path(source).resolve()
        if source_path == resolved:
            raise LitftError(f"{flag} {path} is the input {source} itself; write the output to another folder.")
        if source_path.is_relative_to(resolved):
            raise LitftError(f"{flag} {path} holds the input {source}; write the output to a folder outside it.")
    if path.exists() and not path.is_dir():
        raise LitftError(f"{flag} {path} is a file, not a folder; choose another {flag}.")
    if path.is_dir() and any(path.iterdir()) and not is_own(path, kind) and not overwrite:
        marker = read_marker(path)
        what = f"a litft {marker['kind']} output, not a {kind} one" if marker else "files litft did not write"
        raise LitftError(
            f"{flag} {path} already holds {what}; choose another {flag}, or pass --overwrite true to write into it "
            "(only the files this command writes are replaced)."
        )
    parent = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise LitftError(f"{flag} {path} cannot be written: no write permission in {parent}.")
    return path


@contextlib.contextmanager
def output_dir(
    path: str | os.PathLike,
    kind: str,
    *,
    overwrite: bool = False,
    inputs: Iterable[str | os.PathLike | None] = (),
    flag: str = "--out_dir",
    details: dict[str, Any] | None = None,
) -> Iterator[Path]:
    """Yield an empty staging folder that becomes `path` when the block succeeds; a failure leaves `path` as it was.

    The checks of `check_output_dir` run first. `details` go into the marker (e.g. a run's fingerprint).
    """
    path = check_output_dir(path, kind, overwrite=overwrite, inputs=inputs, flag=flag)
    staging = make_temp_dir(path)
    try:
        yield staging
        publish_dir(staging, path, kind, details)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def publish_dir(staging: Path, target: Path, kind: str, details: dict[str, Any] | None = None) -> None:
    """Move a finished staging folder to `target`, marked as litft's `kind`; files reach the disk first.

    When `target` holds nothing but litft's own files it is swapped whole (the old one survives until the new
    one is in place); otherwise each new file replaces its namesake and files litft wrote earlier that the new
    output lacks are removed, leaving every other file as it was.
    """
    new_files = sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file() and p.name != MARKER)
    atomic_write_json(staging / MARKER, {"kind": kind, "files": new_files, **(details or {})})
    sync_tree(staging)
    remove_leftovers(target)
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    if not target.exists():
        os.replace(staging, target)
    elif is_own(target, kind) and _only_own_files(target):
        _swap(staging, target)
    else:
        _merge_into(
            staging, target, new_files, stale=owned_files(target) - set(new_files) if is_own(target, kind) else set()
        )
    sync_directory(target.parent)


def _swap(staging: Path, target: Path) -> None:
    """Put the new output in `target`'s place, the old one into `staging`'s, and delete the old one.

    At no moment is there no output at `target`: an atomic exchange where Linux offers one; elsewhere `target`
    is moved into a `.old` folder first, which a re-run moves back if a kill came before the new one was in place.
    """
    if _exchange(staging, target):
        sync_directory(target.parent)
        shutil.rmtree(staging, ignore_errors=True)
        return
    old = make_temp_dir(target, suffix=SWAPPED_OUT)
    os.replace(target, old / target.name)
    os.replace(staging, target)
    sync_directory(target.parent)
    shutil.rmtree(old, ignore_errors=True)


AT_FDCWD, RENAME_EXCHANGE = -100, 2  # <fcntl.h>, <linux/fs.h>


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one step with Linux's renameat2(RENAME_EXCHANGE); False where the system or the file
    system lacks it. Called through ctypes by hand: the standard library has no renameat2, and the PyPI wrappers
    are unmaintained packages around this one call."""
    if not sys.platform.startswith("linux"):
        return False
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)  # glibc 2.28 and later
    if renameat2 is None:
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # a kernel or file system without the exchange
        return False
    raise OSError(code, os.strerror(code), str(first), None, str(second))


def _only_own_files(target: Path) -> bool:
    own = owned_files(target) | {MARKER}
    return all(str(p.relative_to(target)) in own for p in target.rglob("*") if p.is_symlink() or not p.is_dir())


def _merge_into(staging: Path, target: Path, new_files: list[str], stale: set[str]) -> None:
    for name in new_files:
        destination = path_inside(target, name)
        if destination is None:
            raise LitftError(
                f"{target / name} lies in a link to a folder outside {target}; litft does not write through it, "
                "move the link away and re-run."
            )
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.is_dir() and not destination.is_symlink():
            raise LitftError(f"{destination} is a folder where litft writes a file; move it away and re-run.")
        os.replace(staging / name, destination)
    remove_owned_files(target, stale)
    os.replace(staging / MARKER, target / MARKER)
    sync_tree(target, files=[target / name for name in new_files])


def record_own_files(directory: Path, names: Iterable[str], kind: str) -> None:
    """Add files litft wrote into an existing folder to its marker (creating one of `kind` if it has none)."""
    marker = read_marker(directory) or {"kind": kind, "files": []}
    marker["files"] = sorted(owned_files(directory) | set(names))
    atomic_write_json(Path(directory) / MARKER, marker)


def remove_owned_files(directory: Path, names: Iterable[str]) -> None:
    """Remove files litft wrote in `directory` (names from its marker), then the folders that held them and the
    folders the names list, once empty."""
    directory = Path(directory)
    folders: set[Path] = set()
    for name in names:
        path = path_inside(directory, name)
        if path is None:
            continue
        if path.is_dir() and not path.is_symlink():
            folders.add(path)
            continue
        path.unlink(missing_ok=True)
        folders.update(folder for folder in path.parents if folder.is_relative_to(directory) and folder != directory)
    for folder in sorted(folders, key=lambda folder: len(folder.parts), reverse=True):
        with contextlib.suppress(OSError):  # it still holds someone else's files
            folder.rmdir()


def remove_output(directory: Path) -> None:
    """Remove an output litft wrote: the files its marker lists, the marker, and the folder once empty (a folder
    holding files the user added keeps them)."""
    remove_owned_files(directory, owned_files(directory))
    (Path(directory) / MARKER).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        Path(directory).rmdir()


def claim_output_file(path: str | os.PathLike, overwrite: bool, flag: str = "--output") -> Path:
    """Before any work: `path` can be written, and if it exists litft wrote it (its folder's marker lists it) or
    `overwrite` lets it be replaced; for the commands whose output is one file, not a folder."""
    path = check_output_file(path, flag)
    if path.exists() and path.name not in owned_files(path.parent) and not overwrite:
        raise LitftError(
            f"{flag} {path} already exists and litft did not write it; move it away or pass --overwrite true to "
            "replace it."
        )
    return path


def record_output_file(path: str | os.PathLike) -> None:
    """Mark a single-file output as litft's in its folder's marker, so the next run may replace it."""
    record_own_files(Path(path).parent, [Path(path).name], OUTPUT_FILES_KIND)


def check_in_place_files(
    directory: Path, names: Iterable[str], overwrite: bool, flag: str = "--checkpoint_dir"
) -> None:
    """Refuse to replace files in a user's folder that litft did not write there, unless `overwrite`."""
    foreign = [name for name in names if (Path(directory) / name).exists() and name not in owned_files(directory)]
    if foreign and not overwrite:
        raise LitftError(
            f"{flag} {directory} already holds {foreign[0]}, which litft did not write; move it away or pass "
            "--overwrite true to replace it."
        )
