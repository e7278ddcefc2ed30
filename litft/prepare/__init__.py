"""The prepare stage: text and instruction records into memory-mapped token files with a meta.json.

Output directories are built under a hidden temporary name beside the target and renamed into place
only once complete, `meta.json` included, so a crash never leaves a directory that looks finished.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from litft.errors import LitftError
from litft.io import atomic_write_json, read_json

META_FILE = "meta.json"
FORMAT_VERSION = 1


def read_meta(data_dir: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """The meta.json of a prepared directory; `kind` ("pretrain" / "finetune") is checked when given."""
    data_dir = Path(data_dir)
    path = data_dir / META_FILE
    if not path.is_file():
        raise LitftError(f"{data_dir} has no {META_FILE}; it is not a prepared dataset (run `litft prepare` first).")
    meta = read_json(path)
    if kind is not None and meta.get("kind") != kind:
        raise LitftError(f"{data_dir} holds {meta.get('kind')} data, not {kind} data; run `litft prepare {kind}` for it.")
    if meta.get("format_version") != FORMAT_VERSION:
        raise LitftError(f"{data_dir} was written in data format {meta.get('format_version')}; re-run `litft prepare` with this litft.")
    return meta


@contextlib.contextmanager
def staging_dir(out: str | os.PathLike | None, overwrite: bool) -> Iterator[Path]:
    """Yield an empty temporary directory that becomes `out` when the block succeeds, and vanishes if it fails."""
    if out is None:
        raise LitftError("no output directory given; pass --out DIR.")
    out = Path(out)
    if out.exists() and not overwrite:
        raise LitftError(f"{out} already exists; pass --overwrite true to replace it, or choose another --out.")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
        if out.exists():
            retired = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, retired)
            os.replace(staging, out)
            shutil.rmtree(retired)
        else:
            os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_meta(directory: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Write meta.json (atomically, and last) with the fields every prepared directory shares; return it all."""
    from litft import __version__

    base = {"format_version": FORMAT_VERSION, "litft_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    meta = {**base, **meta}
    atomic_write_json(directory / META_FILE, meta)
    return meta


def open_tokens(path: str | os.PathLike, dtype: str | np.dtype) -> np.ndarray:
    """A read-only zero-copy view of a token file (an empty file gives an empty array: mmap refuses length 0)."""
    path = Path(path)
    if path.stat().st_size == 0:
        return np.empty(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r")
