"""The prepare stage: text and instruction records into memory-mapped token files with a meta.json.

Output directories are built under a hidden temporary name beside the target and renamed into place
only once complete, `meta.json` included, so a crash never leaves a directory that looks finished.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from litft.common.errors import LitftError
from litft.common.io import atomic_write_json, path_inside, read_json
from litft.common.outputs import output_dir

META_FILE = "meta.json"
FORMAT_VERSION = 1


def read_meta(data_dir: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """The meta.json of a prepared directory; `kind` ("pretrain" / "finetune" / "preference") is checked when given."""
    data_dir = Path(data_dir)
    path = data_dir / META_FILE
    if not path.is_file():
        raise LitftError(f"{data_dir} has no {META_FILE}; it is not a prepared dataset (run `litft prepare` first).")
    meta = read_json(path)
    if not isinstance(meta, dict):
        raise LitftError(f"{path} must hold a JSON object; the dataset is damaged, re-run `litft prepare`.")
    if kind is not None and meta.get("kind") != kind:
        raise LitftError(
            f"{data_dir} holds {meta.get('kind')} data, not {kind} data; run `litft prepare {kind}` for it."
        )
    if meta.get("format_version") != FORMAT_VERSION:
        raise LitftError(
            f"{data_dir} was written in data format {meta.get('format_version')}; "
            "re-run `litft prepare` with this litft."
        )
    _check_meta(path, meta)
    return meta


def _check_meta(path: Path, meta: dict[str, Any]) -> None:
    """Refuse a hand-edited or damaged meta.json before its values reach numpy or the training loop."""

    def damaged(what: str) -> LitftError:
        return LitftError(f"{path} {what}; the dataset is damaged, re-run `litft prepare` (or restore meta.json).")

    if meta.get("dtype") not in ("uint16", "uint32"):
        raise damaged(f"has token dtype {meta.get('dtype')!r}, not uint16 or uint32")
    if not _is_count(meta.get("vocab_size")) or meta["vocab_size"] < 1:
        raise damaged(f"has vocab_size {meta.get('vocab_size')!r}, not a positive integer")
    for key in ("bos_id", "eos_id"):
        if meta.get(key) is not None and not _is_count(meta[key]):
            raise damaged(f"has {key} {meta[key]!r}, not a token id")
    if meta.get("tokenizer_dir") is not None and not isinstance(meta["tokenizer_dir"], str):
        raise damaged(f"has tokenizer_dir {meta['tokenizer_dir']!r}, not a folder path")
    if meta.get("kind") == "finetune" and not isinstance(meta.get("mask_prompt"), bool):
        raise damaged(f"has mask_prompt {meta.get('mask_prompt')!r}, not true or false")
    splits = meta.get("splits")
    if not isinstance(splits, dict) or "train" not in splits:
        raise damaged('lists no "splits" with a train split')
    names = ("file", "index") if meta.get("kind") in ("finetune", "preference") else ("file",)
    for split, info in splits.items():
        if not isinstance(info, dict):
            raise damaged(f"describes split {split!r} as {info!r}, not an object")
        # a conversation's mask file, KTO records' labels file
        for name in (*names, *(optional for optional in ("mask", "labels") if info.get(optional) is not None)):
            # The names are opened: `../x`, `/x` or a name in a linked folder would read files outside the dataset.
            if path_inside(path.parent, info.get(name)) is None or "/" in info[name]:
                raise damaged(f"names {info.get(name)!r} as the {split} {name}, not a file name in the dataset folder")
        if not _is_count(info.get("tokens")):
            raise damaged(f"records {info.get('tokens')!r} as the {split} token count, not a whole number")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


PREPARED_KIND = "prepared-data"


@contextlib.contextmanager
def staging_dir(out: str | os.PathLike | None, overwrite: bool, inputs: Iterable[Path | None] = ()) -> Iterator[Path]:
    """Yield an empty temporary directory that becomes `out` when the block succeeds, and vanishes if it fails.

    An earlier prepared dataset in `out` is replaced; any other non-empty folder needs --overwrite, and even
    then only the dataset's files are replaced (litft.common.outputs).
    """
    if out is None:
        raise LitftError("no output directory given; pass --out DIR.")
    out = Path(out)
    earlier_dataset = (out / META_FILE).is_file()  # also a dataset written before outputs carried markers
    with output_dir(out, PREPARED_KIND, overwrite=overwrite or earlier_dataset, inputs=inputs, flag="--out") as staging:
        yield staging


def tokenizer_meta(tokenizer: Any, tokenizer_dir: Path) -> dict[str, Any]:
    """The meta.json fields that tie prepared data to its tokenizer: id dtype, id range, special ids, fingerprint."""
    from litft.models.tokenizer import fingerprint, full_vocab_size, token_dtype

    vocab_size = full_vocab_size(tokenizer)
    return {
        "dtype": token_dtype(vocab_size).name,
        "vocab_size": vocab_size,
        "bos_id": tokenizer.bos_id,
        "eos_id": tokenizer.eos_id,
        "use_bos": bool(tokenizer.use_bos),
        "tokenizer_fingerprint": fingerprint(tokenizer),
        "tokenizer_dir": str(tokenizer_dir),
    }


def write_meta(directory: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Write meta.json (atomically, and last) with the fields every prepared directory shares; return it all."""
    from litft import __version__

    base = {
        "format_version": FORMAT_VERSION,
        "litft_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    meta = {**base, **meta}
    atomic_write_json(directory / META_FILE, meta)
    return meta


def open_tokens(path: str | os.PathLike, dtype: str | np.dtype, count: int | None = None) -> np.ndarray:
    """A read-only zero-copy view of a token file (an empty file gives an empty array: mmap refuses length 0).

    With `count` (the tokens meta.json records), a file of another size -- cut short by a copy or a full
    disk -- is refused here rather than read as garbage or failing deep inside training.
    """
    path, dtype = Path(path), np.dtype(dtype)
    if not path.is_file():
        raise LitftError(f"{path} is missing; the prepared directory is incomplete, re-run `litft prepare`.")
    size = path.stat().st_size
    if count is not None and size != count * dtype.itemsize:
        raise LitftError(
            f"{path} is {size:,} bytes but meta.json records {count:,} {dtype.name} tokens "
            f"({count * dtype.itemsize:,} bytes); "
            "the file is damaged or incomplete, re-run `litft prepare`."
        )
    if size == 0:
        return np.empty(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r")
