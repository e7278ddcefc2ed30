"""`litft tokenizer train`: a byte-level BPE tokenizer learned from the corpus.

It is written as a checkpoint's tokenizer files. It lives in the prepare layer because it reads corpora as
`litft prepare` does (litft.prepare.sources).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from litft.common.errors import LitftError
from litft.common.io import atomic_path, atomic_write_json
from litft.models.tokenizer import BOS_TOKEN, EOS_TOKEN, PAD_TOKEN, fingerprint

if TYPE_CHECKING:
    from tokenizers import Tokenizer as HFTokenizer

    from litft.prepare.sources import Source


# Ids 0, 1, 2 in this order.
_SPECIAL_TOKENS = [PAD_TOKEN, BOS_TOKEN, EOS_TOKEN]


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
        data: Text files, folders, `pretrain.txt` or `chunks.jsonl` to learn from
            (a list: `--data '[a,b]'` or `--data+ b`).
        out: Checkpoint directory to write the tokenizer files into (created if missing).
        vocab_size: Vocabulary size including the 256 byte tokens and 3 special tokens.
        min_frequency: Minimum count for a pair to be merged.
        split_lines: Treat every line of a text file as a document (default: only for pretrain.txt).
        overwrite: Replace tokenizer files already in `out`.
        quiet: No progress output.
    """
    from litft.prepare.sources import resolve_sources

    out = _checked_out_dir(out, vocab_size, overwrite)
    sources = resolve_sources(data, split_lines)
    tokenizer = _learn_bpe(sources, data, vocab_size, min_frequency, quiet)
    _write_tokenizer_files(tokenizer, out)
    if not quiet:
        print(f"wrote a {tokenizer.get_vocab_size()}-token BPE tokenizer ({fingerprint(out)}) to {out}")
    return out


def _checked_out_dir(out: Path | None, vocab_size: int, overwrite: bool) -> Path:
    """`out` as a Path; refuses a missing `--out`, an impossible vocab size, or tokenizer files it may not replace."""
    if out is None:
        raise LitftError("no output directory given; pass --out CHECKPOINT_DIR.")
    minimum = 256 + len(_SPECIAL_TOKENS) + 1
    if vocab_size < minimum or vocab_size > 1 << 20:
        raise LitftError(
            f"--vocab_size {vocab_size} is out of range; a byte-level BPE needs between {minimum} and {1 << 20}."
        )
    out = Path(out)
    existing = [name for name in ("tokenizer.json", "tokenizer.model") if (out / name).exists()]
    if existing and not overwrite:
        raise LitftError(f"{out} already holds a {existing[0]}; pass --overwrite true or choose another --out.")
    return out


def _learn_bpe(
    sources: Sequence[Source], data: list[Path] | Path | None, vocab_size: int, min_frequency: int, quiet: bool
) -> HFTokenizer:
    """The trained `tokenizers.Tokenizer`, with the post-processor that prepends BOS."""
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import decoders, models, pre_tokenizers, processors, trainers

    from litft.prepare.sources import count_documents, iter_document_batches

    documents = count_documents(sources)
    tokenizer = HFTokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=_SPECIAL_TOKENS,
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
    return tokenizer


def _write_tokenizer_files(tokenizer: HFTokenizer, out: Path) -> None:
    """tokenizer.json, then tokenizer_config.json, each written atomically."""
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
