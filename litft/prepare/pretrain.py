"""`litft prepare pretrain`: text into flat token files train.bin / val.bin plus meta.json.

Each document becomes `[BOS if the tokenizer uses one] + ids + [EOS]`, appended in input order.
The validation split is by whole documents, chosen by a seeded permutation of the document slots
counted in a cheap first pass, so it is exact and identical across runs and machines. Reading,
encoding and writing stream in batches of a few MB: memory stays flat for inputs larger than RAM.
Encoding runs in a background thread (the Rust/C++ tokenizer releases the GIL and spreads the batch
over all cores) while the main thread reads the next batch and writes the last one.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from litft.common.errors import LitftError
from litft.common.io import progress
from litft.models.tokenizer import encode_batch, load_tokenizer
from litft.prepare.format import open_tokens, staging_dir, tokenizer_meta, write_meta
from litft.prepare.sources import (
    Source,
    count_documents,
    iter_document_batches,
    resolve_sources,
    total_bytes,
)

SPLITS = ("train", "val")


def resolve_tokenizer_dir(checkpoint_dir: Path | None, tokenizer_dir: Path | None) -> Path:
    """`--checkpoint_dir` and `--tokenizer_dir` name the same thing; exactly one (or two equal) must be given."""
    if checkpoint_dir is None and tokenizer_dir is None:
        raise LitftError(
            "no tokenizer given; pass --checkpoint_dir (or --tokenizer_dir) with a tokenizer.json or tokenizer.model."
        )
    if checkpoint_dir is not None and tokenizer_dir is not None and Path(checkpoint_dir) != Path(tokenizer_dir):
        raise LitftError("--checkpoint_dir and --tokenizer_dir name different directories; pass only one of them.")
    return Path(checkpoint_dir if checkpoint_dir is not None else tokenizer_dir)


def choose_validation(
    documents: int,
    val_fraction: float,
    seed: int,
    unit: str = "document",
    advice: str = "pass --val_fraction 0 or give one document per line with --split_lines true",
) -> np.ndarray:
    """A boolean mask over document slots: exactly round(documents * val_fraction) (at least 1) are validation.

    `unit` and `advice` word the error for too few items (instruction records have no --split_lines).
    """
    if not 0.0 <= val_fraction < 1.0:
        raise LitftError(f"--val_fraction {val_fraction} is out of range; use a value in [0, 1).")
    is_val = np.zeros(documents, dtype=bool)
    if val_fraction == 0.0:
        return is_val
    if documents < 2:
        raise LitftError(f"the input holds {documents} {unit}(s), too few to split by {unit}; {advice}.")
    count = min(documents - 1, max(1, round(documents * val_fraction)))
    is_val[np.random.default_rng(seed).choice(documents, size=count, replace=False)] = True
    return is_val


def prepare_pretrain(
    data: list[Path] | Path | None = None,
    out: Path | None = None,
    checkpoint_dir: Path | None = None,
    tokenizer_dir: Path | None = None,
    val_fraction: float = 0.05,
    seed: int = 42,
    split_lines: bool | None = None,
    text_key: str = "text",
    batch_bytes: int = 1 << 20,
    overwrite: bool = False,
    quiet: bool = False,
) -> dict[str, Any]:
    """Tokenize text into train.bin / val.bin (flat token ids, EOS after every document) and meta.json.

    Args:
        data: Text files, folders (recursive), globs, `pretrain.txt` (one chunk per line) or `chunks.jsonl`
            ({"text": ...} per line). Several: `--data '[a.txt,b.txt]'` or `--data a.txt --data+ b.txt`.
        out: Output directory; it appears only when complete.
        checkpoint_dir: Checkpoint directory whose tokenizer to use.
        tokenizer_dir: Same as --checkpoint_dir (give one of the two).
        val_fraction: Fraction of documents held out for validation, chosen by a seeded permutation.
        seed: Seed of the validation split.
        split_lines: Treat every line of a text file as one document (default: only for pretrain.txt).
        text_key: The JSONL field holding the text.
        batch_bytes: Bytes of text encoded per batch; larger uses more memory, smaller parallelises worse.
        overwrite: Replace `out` if it exists.
        quiet: No progress bar or summary.
    """
    sources = resolve_sources(data, split_lines)  # input paths first: loading a tokenizer imports torch
    tokenizer_path = resolve_tokenizer_dir(checkpoint_dir, tokenizer_dir)
    tokenizer = load_tokenizer(tokenizer_path)
    slots = count_documents(sources)
    if slots == 0:
        raise LitftError(f"the input {data} holds no documents; give a non-empty corpus.")
    is_val = choose_validation(slots, val_fraction, seed)
    tokenizer_fields = tokenizer_meta(tokenizer, tokenizer_path)
    dtype = np.dtype(tokenizer_fields["dtype"])

    with staging_dir(out, overwrite, inputs=[source.path for source in sources] + [tokenizer_path]) as staging:
        started = time.perf_counter()
        counts = _encode_to_files(tokenizer, sources, is_val, dtype, staging, batch_bytes, text_key, quiet)
        seconds = time.perf_counter() - started
        if counts["train"]["tokens"] == 0:
            raise LitftError(f"the input {data} holds only empty documents; give a non-empty corpus.")
        if val_fraction > 0 and counts["val"]["tokens"] == 0:
            raise LitftError("every validation document came out empty; remove empty records or change --seed.")
        meta = {
            "kind": "pretrain",
            **tokenizer_fields,
            "splits": {split: {"file": f"{split}.bin", **counts[split]} for split in SPLITS},
            "empty_documents_skipped": counts["empty"],
            "sources": [str(source.path) for source in sources[:1000]],
            "source_files": len(sources),
            "source_bytes": total_bytes(sources),
            "val_fraction": val_fraction,
            "seed": seed,
            "seconds": round(seconds, 3),
        }
        for split in SPLITS:  # the written size must match the count: catches a short write before it is published
            assert len(open_tokens(staging / f"{split}.bin", dtype)) == counts[split]["tokens"]
        meta = write_meta(staging, meta)
    if not quiet:
        total = counts["train"]["tokens"] + counts["val"]["tokens"]
        print(
            f"wrote {counts['train']['tokens']:,} train and {counts['val']['tokens']:,} val tokens "
            f"({counts['train']['documents']:,} + {counts['val']['documents']:,} documents) to {out} "
            f"in {seconds:.1f}s ({total / max(seconds, 1e-9):,.0f} tokens/s)"
        )
    return meta


def _encode_to_files(
    tokenizer: Any,
    sources: list[Source],
    is_val: np.ndarray,
    dtype: np.dtype,
    directory: Path,
    batch_bytes: int,
    text_key: str,
    quiet: bool,
) -> dict[str, Any]:
    counts: dict[str, Any] = {split: {"tokens": 0, "documents": 0} for split in SPLITS}
    counts["empty"] = 0
    bar = progress(total=total_bytes(sources), quiet=quiet, unit="B", unit_scale=True, desc="tokenizing")
    started = time.perf_counter()
    with open(directory / "train.bin", "wb") as train_file, open(directory / "val.bin", "wb") as val_file, bar:
        files = {"train": train_file, "val": val_file}
        # Pipelining: batch i+1 is read and batch i-1 written while batch i encodes in the worker thread.
        with ThreadPoolExecutor(max_workers=1) as encoder:
            pending = None
            for texts, flags, size in _slot_batches(sources, is_val, batch_bytes, text_key, counts):
                future = encoder.submit(encode_batch, tokenizer, texts, None, True)
                if pending is not None:
                    _write(pending[0].result(), pending[1], files, dtype, counts)
                    bar.update(pending[2])
                    tokens = counts["train"]["tokens"] + counts["val"]["tokens"]
                    bar.set_postfix(tokens_per_s=f"{tokens / (time.perf_counter() - started):,.0f}", refresh=False)
                pending = (future, flags, size)
            if pending is not None:
                _write(pending[0].result(), pending[1], files, dtype, counts)
                bar.update(pending[2])
    return counts


def _slot_batches(
    sources: list[Source], is_val: np.ndarray, batch_bytes: int, text_key: str, counts: dict[str, Any]
) -> Iterator[tuple[list[str], np.ndarray, int]]:
    """Non-empty documents with their validation flags, batch by batch; empty slots are counted and skipped."""
    slot = 0
    for texts, size in iter_document_batches(sources, batch_bytes, text_key):
        flags = is_val[slot : slot + len(texts)]
        slot += len(texts)
        if slot > len(is_val):
            raise LitftError("an input file changed while it was being read; run again on a file nobody is writing to.")
        keep = [i for i, text in enumerate(texts) if text]
        counts["empty"] += len(texts) - len(keep)
        if len(keep) < len(texts):
            texts, flags = [texts[i] for i in keep], flags[keep]
        yield texts, flags, size


def _write(batch: list[list[int]], flags: np.ndarray, files: dict, dtype: np.dtype, counts: dict[str, Any]) -> None:
    for split, selected in (("train", ~flags), ("val", flags)):
        documents = (
            batch
            if split == "train" and not flags.any()
            else [ids for ids, keep in zip(batch, selected, strict=True) if keep]
        )
        if not documents:
            continue
        length = sum(map(len, documents))
        # fromiter over the chained lists: one pass, no intermediate Python list of every id.
        np.fromiter(itertools.chain.from_iterable(documents), dtype=dtype, count=length).tofile(files[split])
        counts[split]["tokens"] += length
        counts[split]["documents"] += len(documents)
