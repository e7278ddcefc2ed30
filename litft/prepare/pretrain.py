"""`litft prepare pretrain`: text into flat token files train.bin / val.bin plus meta.json.

Each document becomes `[BOS if the tokenizer uses one] + ids + [EOS]`, appended in input order.
The validation split is by whole documents, chosen by a seeded permutation of the document slots
counted in a cheap first pass, so it is exact and identical across runs and machines. Reading,
encoding and writing stream in batches of a few MB: memory stays flat for inputs larger than RAM.
Encoding runs in a background thread (the Rust/C++ tokenizer releases the GIL and spreads the batch
over all cores) while the main thread reads the next batch and writes the last one.

With `--data A B --mix 0.8 0.2` each --data entry (a file, folder or glob) is one source and the unit of the
mixture is the document: `litft.prepare.mixture` chooses, seeded, which of each source's documents are kept
(the scarcest source relative to its share whole), and the kept documents stream out in input order (the
reader shuffles windows, so order does not matter for training). meta.json["mixture"] records, per source, its
proportion, the documents available and used, and the tokens they became.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from litft.common.errors import LitftError
from litft.common.io import progress
from litft.models.tokenizer import encode_batch, load_tokenizer
from litft.prepare.format import open_tokens, staging_dir, tokenizer_meta, write_meta
from litft.prepare.mixture import check_mix, choose_mixture
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
    mix: list[float] | None = None,
    batch_bytes: int = 1 << 20,
    overwrite: bool = False,
    quiet: bool = False,
) -> dict[str, Any]:
    """Tokenize text into train.bin / val.bin (flat token ids, EOS after every document) and meta.json.

    Args:
        data: Text files, folders (recursive), globs, `pretrain.txt` (one chunk per line) or `chunks.jsonl`
            ({"text": ...} per line). Several: `--data a.txt b.txt` (concatenated, or mixed with --mix).
        out: Output directory; it appears only when complete.
        checkpoint_dir: Checkpoint directory whose tokenizer to use.
        tokenizer_dir: Same as --checkpoint_dir (give one of the two).
        val_fraction: Fraction of documents held out for validation, chosen by a seeded permutation.
        seed: Seed of the validation split and of the mixture.
        split_lines: Treat every line of a text file as one document (default: only for pretrain.txt).
        text_key: The JSONL field holding the text.
        mix: Proportions of the --data sources by documents, e.g. --mix 0.8 0.2 to replay general text beside
            domain text: seeded samples without repeats, the scarcest source whole; recorded in meta.json.
        batch_bytes: Bytes of text encoded per batch; larger uses more memory, smaller parallelises worse.
        overwrite: Replace `out` if it exists.
        quiet: No progress bar or summary.
    """
    entries = [data] if isinstance(data, (str, Path)) or data is None else list(data)
    proportions = check_mix(len(entries), mix)
    # Input paths first: loading a tokenizer imports torch.
    groups = (
        [resolve_sources(entry, split_lines) for entry in entries]
        if proportions
        else [resolve_sources(data, split_lines)]
    )
    sources = [source for group in groups for source in group]
    tokenizer_path = resolve_tokenizer_dir(checkpoint_dir, tokenizer_dir)
    tokenizer = load_tokenizer(tokenizer_path)
    available = [count_documents(group) for group in groups]
    slot_flags = _choose_slots(available, proportions, val_fraction, seed, data)
    tokenizer_fields = tokenizer_meta(tokenizer, tokenizer_path)
    dtype = np.dtype(tokenizer_fields["dtype"])

    with staging_dir(out, overwrite, inputs=[source.path for source in sources] + [tokenizer_path]) as staging:
        started = time.perf_counter()
        counts = _encode_to_files(tokenizer, sources, slot_flags, dtype, staging, batch_bytes, text_key, quiet)
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
            "mixture": _mixture_meta(entries, proportions, available, slot_flags, counts) if proportions else None,
            "val_fraction": val_fraction,
            "seed": seed,
            "seconds": round(seconds, 3),
        }
        for split in SPLITS:  # the written size must match the count: catches a short write before it is published
            assert len(open_tokens(staging / f"{split}.bin", dtype)) == counts[split]["tokens"]
        meta = write_meta(staging, meta)
    if not quiet:
        _print_summary(meta, seconds, out)
    return meta


def _print_summary(meta: dict[str, Any], seconds: float, out: Path | None) -> None:
    train, val = meta["splits"]["train"], meta["splits"]["val"]
    total = train["tokens"] + val["tokens"]
    print(
        f"wrote {train['tokens']:,} train and {val['tokens']:,} val tokens "
        f"({train['documents']:,} + {val['documents']:,} documents) to {out} "
        f"in {seconds:.1f}s ({total / max(seconds, 1e-9):,.0f} tokens/s)"
    )
    for source in meta["mixture"] or []:
        print(
            f"  {source['source']}: {source['used']:,} of {source['available']:,} documents "
            f"({source['proportion']:.0%} of the mixture), {source['tokens']:,} tokens"
        )


class _SlotFlags(NamedTuple):
    """Per document slot of the input: which are validation (indexed over the slots kept), which the mixture keeps
    (None: every slot) and the slot just past each source's last (`ends`, for per-source token counts)."""

    is_val: np.ndarray
    taken: np.ndarray | None
    ends: np.ndarray


def _choose_slots(
    available: list[int], proportions: list[float] | None, val_fraction: float, seed: int, data: Any
) -> _SlotFlags:
    """The document slots the mixture keeps (all without one) and, among them, the validation ones."""
    taken = None
    if proportions is not None:
        taken = np.zeros(sum(available), dtype=bool)
        starts = np.cumsum([0, *available[:-1]])
        for start, indices in zip(starts, choose_mixture(available, proportions, seed), strict=True):
            taken[start + indices] = True
    slots = sum(available) if taken is None else int(taken.sum())
    if slots == 0:
        raise LitftError(f"the input {data} holds no documents; give a non-empty corpus.")
    return _SlotFlags(choose_validation(slots, val_fraction, seed), taken, np.cumsum(available))


def _mixture_meta(
    entries: list[Any], proportions: list[float], available: list[int], slots: _SlotFlags, counts: dict[str, Any]
) -> list[dict[str, Any]]:
    return [
        {
            "source": str(entry),
            "proportion": share,
            "available": count,
            "used": int(slots.taken[end - count : end].sum()),
            "tokens": int(tokens),
        }
        for entry, share, count, end, tokens in zip(
            entries, proportions, available, slots.ends, counts["source_tokens"], strict=True
        )
    ]


def _encode_to_files(
    tokenizer: Any,
    sources: list[Source],
    slots: _SlotFlags,
    dtype: np.dtype,
    directory: Path,
    batch_bytes: int,
    text_key: str,
    quiet: bool,
) -> dict[str, Any]:
    counts: dict[str, Any] = {split: {"tokens": 0, "documents": 0} for split in SPLITS}
    counts["empty"] = 0
    counts["source_tokens"] = np.zeros(len(slots.ends), dtype=np.int64)
    bar = progress(total=total_bytes(sources), quiet=quiet, unit="B", unit_scale=True, desc="tokenizing")
    started = time.perf_counter()
    with open(directory / "train.bin", "wb") as train_file, open(directory / "val.bin", "wb") as val_file, bar:
        files = {"train": train_file, "val": val_file}
        # Pipelining: batch i+1 is read and batch i-1 written while batch i encodes in the worker thread.
        with ThreadPoolExecutor(max_workers=1) as encoder:
            pending = None
            for texts, flags, groups, size in _slot_batches(sources, slots, batch_bytes, text_key, counts):
                future = encoder.submit(encode_batch, tokenizer, texts, None, True)
                if pending is not None:
                    _write(pending[0].result(), *pending[1:3], files, dtype, counts)
                    bar.update(pending[3])
                    tokens = counts["train"]["tokens"] + counts["val"]["tokens"]
                    bar.set_postfix(tokens_per_s=f"{tokens / (time.perf_counter() - started):,.0f}", refresh=False)
                pending = (future, flags, groups, size)
            if pending is not None:
                _write(pending[0].result(), *pending[1:3], files, dtype, counts)
                bar.update(pending[3])
    return counts


def _slot_batches(
    sources: list[Source], slots: _SlotFlags, batch_bytes: int, text_key: str, counts: dict[str, Any]
) -> Iterator[tuple[list[str], np.ndarray, np.ndarray | None, int]]:
    """Non-empty kept documents with their validation flags and (in a mixture) source numbers, batch by batch;
    slots the mixture leaves out are dropped, empty ones counted and skipped."""
    slot = kept = 0
    total = len(slots.is_val) if slots.taken is None else len(slots.taken)
    for texts, size in iter_document_batches(sources, batch_bytes, text_key):
        start, slot = slot, slot + len(texts)
        if slot > total:
            raise LitftError("an input file changed while it was being read; run again on a file nobody is writing to.")
        groups = None
        if slots.taken is None:
            flags = slots.is_val[start:slot]
        else:
            chosen = np.flatnonzero(slots.taken[start:slot])
            texts = [texts[i] for i in chosen]
            flags, kept = slots.is_val[kept : kept + len(chosen)], kept + len(chosen)
            groups = np.searchsorted(slots.ends, start + chosen, side="right")
        keep = [i for i, text in enumerate(texts) if text]
        counts["empty"] += len(texts) - len(keep)
        if len(keep) < len(texts):
            texts, flags = [texts[i] for i in keep], flags[keep]
            groups = groups[keep] if groups is not None else None
        yield texts, flags, groups, size


def _write(
    batch: list[list[int]],
    flags: np.ndarray,
    groups: np.ndarray | None,
    files: dict,
    dtype: np.dtype,
    counts: dict[str, Any],
) -> None:
    if groups is not None:
        np.add.at(counts["source_tokens"], groups, np.array([len(ids) for ids in batch], dtype=np.int64))
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
