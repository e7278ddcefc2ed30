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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from litft.common.errors import LitftError
from litft.common.text import is_valid_unicode, parse_json

# litgpt's Tokenizer, as annotations name it: importing litgpt loads torch, so only the functions that load a
# tokenizer import it (not a TYPE_CHECKING block either: jsonargparse runs those to resolve the CLI's types).
Tokenizer = Any

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
            f"{checkpoint_dir} has no tokenizer.json or tokenizer.model; "
            "download the checkpoint or run `litft tokenizer train`."
        )
    config_path = checkpoint_dir / "tokenizer_config.json"
    if config_path.is_file():
        _check_tokenizer_config(config_path)
    generation_path = checkpoint_dir / "generation_config.json"
    if generation_path.is_file():
        _check_generation_config(generation_path)
    vocabulary = checkpoint_dir / (
        "tokenizer.json" if (checkpoint_dir / "tokenizer.json").is_file() else "tokenizer.model"
    )
    from litgpt import Tokenizer

    try:
        tokenizer = Tokenizer(checkpoint_dir)
    except ValueError as error:  # a BOS/EOS token that the vocabulary lacks
        raise LitftError(
            f"{config_path} names a special token that {vocabulary} lacks ({error}); "
            "fix the token or restore the files."
        ) from None
    except Exception as error:
        # tokenizers raises a bare Exception, sentencepiece a RuntimeError, for a file they cannot parse.
        if type(error) is not Exception and not isinstance(error, (RuntimeError, OSError)):
            raise  # any other exception is a bug, not a damaged file
        detail = str(error).splitlines()[0][:120] if str(error) else "unreadable"
        raise LitftError(
            f"{vocabulary} is damaged or not a tokenizer file ({detail}); "
            "restore it from the checkpoint or download the model again."
        ) from None
    _settle_bos(tokenizer, config_path)
    return tokenizer


def _settle_bos(tokenizer: Tokenizer, config_path: Path) -> None:
    """Whether and which BOS starts a text, from the files rather than litgpt's guesses: an explicit add_bos_token
    decides (litgpt checks the folder's name first: one named SmolLM2-135M-Instruct gets BOS whatever its files
    say); without one, a BOS that tokenizer.json's post-processor adds is used, as transformers does (Llama 3's
    files say so nowhere else). encode_batch encodes without the post-processor, so BOS comes only from here."""
    config = parse_json(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    added = None
    if tokenizer.backend == "huggingface":
        with_specials = tokenizer.processor.encode("a").ids
        if with_specials and with_specials[1:] == tokenizer.processor.encode("a", add_special_tokens=False).ids:
            added = with_specials[0]
    if added is not None and tokenizer.bos_id is None:
        tokenizer.bos_id = added
    if isinstance(config.get("add_bos_token"), bool):
        tokenizer.use_bos = config["add_bos_token"]
    elif added is not None and added == tokenizer.bos_id:
        tokenizer.use_bos = True


def _check_tokenizer_config(path: Path) -> None:
    """Refuse the tokenizer_config.json values litgpt's Tokenizer would fail on with a bare traceback."""
    try:
        config = parse_json(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise LitftError(f"{path} is not valid UTF-8 JSON; restore the file from the checkpoint.") from None
    if not isinstance(config, dict):
        raise LitftError(f"{path} must hold a JSON object; restore the file from the checkpoint.")
    if not isinstance(config.get("tokenizer_class"), str):  # litgpt raises a bare KeyError otherwise
        raise LitftError(
            f'{path} has no \'tokenizer_class\' string; add e.g. "tokenizer_class": "PreTrainedTokenizerFast".'
        )
    for key in ("bos_token", "eos_token"):
        token = config.get(key)
        content = token.get("content") if isinstance(token, dict) else token
        if content is not None and not isinstance(content, str):
            raise LitftError(f"{path} has a {key} of {token!r}; it must be the token's text, a string.")
    if not isinstance(config.get("add_bos_token", False), bool):
        raise LitftError(f"{path} has add_bos_token {config['add_bos_token']!r}; it must be true or false.")


def _check_generation_config(path: Path) -> None:
    """generation_config.json supplies BOS/EOS ids when tokenizer_config.json names none: they must be ids."""
    from litgpt.utils import fix_and_load_json

    try:
        text = path.read_text(encoding="utf-8")
        try:
            config = parse_json(text)
        except json.JSONDecodeError:
            config = fix_and_load_json(text)  # litgpt repairs the trailing commas of some published files
    except ValueError:  # not UTF-8, or not JSON even after litgpt's repair
        raise LitftError(f"{path} is not valid UTF-8 JSON; restore it from the checkpoint or delete it.") from None
    if not isinstance(config, dict):
        raise LitftError(f"{path} must hold a JSON object; restore it from the checkpoint or delete it.")
    for key in ("bos_token_id", "eos_token_id"):
        value = config.get(key)
        ids = value if isinstance(value, list) else [value]
        if not all(item is None or (isinstance(item, int) and not isinstance(item, bool)) for item in ids):
            raise LitftError(f"{path} has {key} {value!r}; it must be a token id (an integer).")


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


def encode_batch(
    tokenizer: Tokenizer, texts: Sequence[str], bos: bool | None = None, eos: bool = False
) -> list[list[int]]:
    """Encode many texts at once: the text's own tokens, BOS first when asked (`bos`, else `tokenizer.use_bos`,
    which load_tokenizer settles) and not already there, EOS last when `eos` and not already there.

    The backend parallelises the batch over the cores (Rayon threads for tokenizers, `num_threads` for
    sentencepiece). This is litgpt's `Tokenizer.encode` but for two of its rules, which lose or double tokens the
    text holds: litgpt keeps what tokenizer.json's post-processor adds (a second BOS before a chat template that
    writes BOS itself) and drops a leading BOS or trailing EOS it was not asked for (SmolLM2's BOS is
    `<|im_start|>`, which opens every chat turn; Llama 3's EOS `<|eot_id|>` closes every reply). Here BOS and EOS
    are decided once, by `use_bos` and `eos`, and the text's own tokens are kept, as transformers'
    apply_chat_template and llama.cpp tokenize.
    """
    try:
        if tokenizer.backend == "huggingface":
            # no offsets: ~2x faster than encode_batch; no post-processor: BOS and EOS are added below
            encodings = tokenizer.processor.encode_batch_fast(list(texts), add_special_tokens=False)
            batch = [encoding.ids for encoding in encodings]
        else:
            batch = tokenizer.processor.encode(list(texts), num_threads=os.cpu_count() or 1)
    except (TypeError, UnicodeEncodeError):
        refuse_invalid_text(texts)
        raise
    add_bos = bos or (bos is None and tokenizer.use_bos)
    if add_bos and tokenizer.bos_id is None:
        raise LitftError("this tokenizer defines no BOS token but its config asks for one; set add_bos_token false.")
    if eos and tokenizer.eos_id is None:  # litgpt would put None among the ids
        raise LitftError(
            "this tokenizer defines no EOS token, which ends every document; "
            'add "eos_token" to its tokenizer_config.json.'
        )
    bos_id, eos_id = tokenizer.bos_id, tokenizer.eos_id
    for i, ids in enumerate(batch):
        if add_bos and (not ids or ids[0] != bos_id):
            ids = [bos_id] + ids
        if eos and (not ids or ids[-1] != eos_id):
            ids = ids + [eos_id]
        batch[i] = ids
    return batch


def refuse_invalid_text(texts: Sequence[str]) -> None:
    """Name the first text that is not valid Unicode (tokenizers raises a bare TypeError for it, sentencepiece a
    UnicodeEncodeError). Readers refuse such text where it enters, naming the record; this names what slipped by."""
    for text in texts:
        if isinstance(text, str) and not is_valid_unicode(text):
            raise LitftError(
                f"the text {ascii(text[:60])}... holds a lone surrogate (a \\ud800-\\udfff escape or bytes that "
                "are not UTF-8), not valid Unicode; fix the record or prompt it came from."
            )


def fingerprint(tokenizer_or_dir: Tokenizer | str | os.PathLike) -> str:
    """A short stable hash of what decides the ids: vocabulary, merges, added tokens, BOS/EOS ids and use."""
    from litgpt import Tokenizer

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


def check_tokenizer_matches(meta: Mapping[str, Any], checkpoint_dir: str | os.PathLike) -> None:
    """Refuse data tokenized with another tokenizer than the checkpoint's (meta: the data's meta.json)."""
    data_fingerprint = meta.get("tokenizer_fingerprint")
    model_fingerprint = fingerprint(checkpoint_dir)
    if data_fingerprint != model_fingerprint:
        raise LitftError(
            f"the data was tokenized with tokenizer {data_fingerprint} "
            f"but checkpoint {checkpoint_dir} uses {model_fingerprint}; "
            "re-run `litft prepare` with --checkpoint_dir pointing at this checkpoint."
        )
