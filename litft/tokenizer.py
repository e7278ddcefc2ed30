"""Tokenizers: load any checkpoint's through litgpt, train a byte-level BPE, fingerprint, batch-encode.

litgpt's `Tokenizer` stays the one definition of how text becomes ids (BOS/EOS conventions included);
`encode_batch` reproduces its `encode` exactly but hands whole batches to the Rust / C++ backend,
which is what makes `prepare` fast. A fingerprint names a tokenizer so that data and checkpoints made
with different ones are never mixed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
from litgpt import Tokenizer

from litft.errors import LitftError
from litft.io import atomic_path, atomic_write_json

BOS_TOKEN = "<s>"
EOS_TOKEN = "</s>"
PAD_TOKEN = "<pad>"


def load_tokenizer(checkpoint_dir: str | os.PathLike) -> Tokenizer:
    """The litgpt tokenizer of a checkpoint directory (tokenizer.json or sentencepiece tokenizer.model)."""
    checkpoint_dir = Path(checkpoint_dir)
    if not checkpoint_dir.is_dir():
        raise LitftError(f"tokenizer directory {checkpoint_dir} does not exist; pass a checkpoint directory.")
    if not (checkpoint_dir / "tokenizer.json").is_file() and not (checkpoint_dir / "tokenizer.model").is_file():
        raise LitftError(
            f"{checkpoint_dir} has no tokenizer.json or tokenizer.model; download the checkpoint or run `litft tokenizer train`."
        )
    config_path = checkpoint_dir / "tokenizer_config.json"
    if config_path.is_file():
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise LitftError(f"{config_path} is not valid UTF-8 JSON; restore the file from the checkpoint.") from None
        if "tokenizer_class" not in config:  # litgpt raises a bare KeyError otherwise
            raise LitftError(f"{config_path} has no 'tokenizer_class'; add e.g. \"tokenizer_class\": \"PreTrainedTokenizerFast\".")
    return Tokenizer(checkpoint_dir)


def full_vocab_size(tokenizer: Tokenizer) -> int:
    """One more than the largest id the tokenizer can emit, added tokens included (litgpt's vocab_size omits them).

    The largest id, not the count: a tokenizer.json vocabulary may skip ids, and the count would then pick
    a dtype too small for them.
    """
    if tokenizer.backend == "huggingface":
        return max(tokenizer.processor.get_vocab(with_added_tokens=True).values(), default=-1) + 1
    return tokenizer.processor.get_piece_size()


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits (half the disk and page cache), else uint32."""
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


def encode_batch(tokenizer: Tokenizer, texts: Sequence[str], bos: bool | None = None, eos: bool = False) -> list[list[int]]:
    """Encode many texts at once, giving exactly `[tokenizer.encode(t, bos=bos, eos=eos).tolist() for t in texts]`.

    The backend parallelises the batch over the cores (Rayon threads for tokenizers, `num_threads` for
    sentencepiece); the BOS/EOS rules below are litgpt's `Tokenizer.encode`, copied so results match.
    """
    if tokenizer.backend == "huggingface":
        encodings = tokenizer.processor.encode_batch_fast(list(texts))  # no offsets: ~2x faster than encode_batch
        batch = [encoding.ids for encoding in encodings]
    else:
        batch = tokenizer.processor.encode(list(texts), num_threads=os.cpu_count() or 1)
    add_bos = bos or (bos is None and tokenizer.use_bos)
    if add_bos and tokenizer.bos_id is None:
        raise LitftError("this tokenizer defines no BOS token but its config asks for one; set add_bos_token false.")
    if eos and tokenizer.eos_id is None:  # litgpt would put None among the ids
        raise LitftError("this tokenizer defines no EOS token, which ends every document; add \"eos_token\" to its tokenizer_config.json.")
    bos_id, eos_id = tokenizer.bos_id, tokenizer.eos_id
    for i, ids in enumerate(batch):
        if add_bos:
            if not ids or ids[0] != bos_id:
                ids = [bos_id] + ids
        elif ids and ids[0] == bos_id:
            ids = ids[1:]
        if eos and (not ids or ids[-1] != eos_id):
            ids = ids + [eos_id]
        elif not eos and ids and ids[-1] == eos_id:
            ids = ids[:-1]
        batch[i] = ids
    return batch


def fingerprint(tokenizer_or_dir: Tokenizer | str | os.PathLike) -> str:
    """A short stable hash of what decides the ids: vocabulary, merges, added tokens, BOS/EOS ids and use."""
    tokenizer = tokenizer_or_dir if isinstance(tokenizer_or_dir, Tokenizer) else load_tokenizer(tokenizer_or_dir)
    digest = hashlib.sha256()
    if tokenizer.backend == "huggingface":
        model = json.loads(tokenizer.processor.to_str())["model"]
        # merges are "a b" strings in old tokenizer.json files and ["a", "b"] pairs in new ones: normalise.
        merges = [merge if isinstance(merge, str) else " ".join(merge) for merge in model.get("merges") or []]
        added = sorted((i, token.content) for i, token in tokenizer.processor.get_added_tokens_decoder().items())
        content: Any = {"type": model.get("type"), "vocab": model.get("vocab"), "merges": merges, "added": added}
        digest.update(json.dumps(content, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    else:
        digest.update(tokenizer.processor.serialized_model_proto())
    digest.update(json.dumps([tokenizer.bos_id, tokenizer.eos_id, bool(tokenizer.use_bos)]).encode())
    return "sha256:" + digest.hexdigest()[:16]


def check_tokenizer_matches(meta: Mapping[str, Any] | str | os.PathLike, checkpoint_dir: str | os.PathLike) -> None:
    """Refuse data tokenized with another tokenizer than the checkpoint's (meta: a meta.json dict or its folder)."""
    if not isinstance(meta, Mapping):
        from litft.prepare import read_meta

        meta = read_meta(meta)
    data_fingerprint = meta.get("tokenizer_fingerprint")
    model_fingerprint = fingerprint(checkpoint_dir)
    if data_fingerprint != model_fingerprint:
        raise LitftError(
            f"the data was tokenized with tokenizer {data_fingerprint} but checkpoint {checkpoint_dir} uses {model_fingerprint}; "
            "re-run `litft prepare` with --checkpoint_dir pointing at this checkpoint."
        )


def train_tokenizer(
    data: list[Path] | Path | None = None,
    out: Path | None = None,
    vocab_size: int = 8192,
    min_frequency: int = 2,
    split_lines: bool | None = None,
    overwrite: bool = False,
    quiet: bool = False,
) -> Path:
    """Train a byte-level BPE tokenizer and write tokenizer.json + tokenizer_config.json into a checkpoint dir.

    The result loads in litgpt's `Tokenizer` and in transformers' `AutoTokenizer`; both prepend the BOS
    token `<s>` (through the tokenizer's post-processor) and know `</s>` as EOS and `<pad>` as padding.

    Args:
        data: Text files, folders, `pretrain.txt` or `chunks.jsonl` to learn from (a list: `--data '[a,b]'` or `--data+ b`).
        out: Checkpoint directory to write the tokenizer files into (created if missing).
        vocab_size: Vocabulary size including the 256 byte tokens and 3 special tokens.
        min_frequency: Minimum count for a pair to be merged.
        split_lines: Treat every line of a text file as a document (default: only for pretrain.txt).
        overwrite: Replace tokenizer files already in `out`.
        quiet: No progress output.
    """
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import decoders, models, pre_tokenizers, processors, trainers

    from litft.prepare.sources import count_documents, iter_document_batches, resolve_sources

    if out is None:
        raise LitftError("no output directory given; pass --out CHECKPOINT_DIR.")
    special_tokens = [PAD_TOKEN, BOS_TOKEN, EOS_TOKEN]
    minimum = 256 + len(special_tokens) + 1
    if vocab_size < minimum or vocab_size > 1 << 20:
        raise LitftError(f"--vocab_size {vocab_size} is out of range; a byte-level BPE needs between {minimum} and {1 << 20}.")
    out = Path(out)
    existing = [name for name in ("tokenizer.json", "tokenizer.model") if (out / name).exists()]
    if existing and not overwrite:
        raise LitftError(f"{out} already holds a {existing[0]}; pass --overwrite true or choose another --out.")
    sources = resolve_sources(data, split_lines)
    documents = count_documents(sources)

    tokenizer = HFTokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=not quiet,
    )
    non_empty = 0

    def texts() -> Iterator[str]:
        nonlocal non_empty
        for batch, _ in iter_document_batches(sources):
            for text in batch:
                if text:
                    non_empty += 1
                    yield text

    tokenizer.train_from_iterator(texts(), trainer=trainer, length=documents)
    if non_empty == 0:
        raise LitftError(f"the input {data} holds no text to learn from; give a non-empty corpus.")
    bos_id = tokenizer.token_to_id(BOS_TOKEN)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS_TOKEN} $A", pair=f"{BOS_TOKEN} $A {BOS_TOKEN} $B", special_tokens=[(BOS_TOKEN, bos_id)]
    )

    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "tokenizer.json") as tmp:
        tokenizer.save(str(tmp))
    # Written last: litgpt reads bos/eos and `tokenizer_class` (KeyError without it) from here.
    atomic_write_json(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": BOS_TOKEN,
            "eos_token": EOS_TOKEN,
            "pad_token": PAD_TOKEN,
            "add_bos_token": True,
            "add_eos_token": False,
            "clean_up_tokenization_spaces": False,
            "model_max_length": 1 << 30,
        },
    )
    if not quiet:
        print(f"wrote a {tokenizer.get_vocab_size()}-token BPE tokenizer ({fingerprint(out)}) to {out}")
    return out
