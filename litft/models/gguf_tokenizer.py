"""A GGUF file's tokenizer, rebuilt from its own metadata as the files litgpt and transformers read.

llama.cpp defines a GGUF model's tokenizer by its metadata: the tokens, the BPE merges, each token's type, the
name of the pre-tokenizer (`tokenizer.ggml.pre`, whose regexes live in llama.cpp's llama-vocab.cpp), the BOS, EOS
and padding ids, whether BOS is added, and the chat template. transformers' own GGUF conversion gets byte-level
models wrong (SmolLM2: the digit split dropped, BOS added by a post-processor, EOS saved as the BOS token), so
litft writes tokenizer.json with the `tokenizers` library from that metadata instead, and tests it token for
token against llama.cpp.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from litft.common.errors import LitftError
from litft.common.text import parse_json

# What llama.cpp's byte-level pre-tokenizers do, as Hugging Face pre-tokenizers (llama-vocab.cpp's regexes are
# the original models' tokenizer.json regexes; the digit split is SmolLM's and StarCoder's Digits step).
GPT2 = "gpt2"
DIGITS_THEN_GPT2 = "digits+gpt2"
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"
    r"\s+(?!\S)|\s+"
)
PRE_TOKENIZERS = {
    **dict.fromkeys(("gpt-2", "gpt2", "mpt", "olmo", "jais"), GPT2),
    **dict.fromkeys(("smollm", "starcoder", "refact", "codeshell", "command-r", "exaone", "minerva"), DIGITS_THEN_GPT2),
    **dict.fromkeys(("qwen2", "stablelm2"), QWEN2_PATTERN),
    **dict.fromkeys(("llama-bpe", "llama3", "llama-v3", "falcon3", "pixtral"), LLAMA3_PATTERN),
}
# For these llama.cpp takes a whole word that is a token as it is, before any merge (HF: ignore_merges), and adds
# BOS unless the file says otherwise.
# llama.cpp's token types (gguf.TokenType): CONTROL tokens are special; USER_DEFINED ones are matched whole in text.
CONTROL, USER_DEFINED = 3, 4


def write_tokenizer_files(metadata: Mapping[str, Any], directory: Path, context_length: int) -> list[str]:
    """Write tokenizer.json, tokenizer_config.json and generation_config.json into `directory`.

    Returns the sentences that describe what was repaired (see `tokenizer_fidelity`), for the caller to print.
    """
    model = metadata.get("tokenizer.ggml.model")
    if model != "gpt2":
        raise LitftError(
            f"the GGUF's tokenizer is of type {model!r}; litft rebuilds byte-level BPE ('gpt2') tokenizers only "
            "(Llama 3, Qwen2, SmolLM, GPT-NeoX), not SentencePiece ('llama') ones yet: import the model's Hugging "
            "Face folder with `litft download` or `litft convert hf_to_lit` instead."
        )
    tokens: list[str] = list(metadata["tokenizer.ggml.tokens"])
    tokenizer = _bpe_tokenizer(metadata, tokens)
    llama3 = PRE_TOKENIZERS.get(metadata.get("tokenizer.ggml.pre")) == LLAMA3_PATTERN
    tokenizer.save(str(directory / "tokenizer.json"))

    def token(key: str) -> str | None:
        index = metadata.get(f"tokenizer.ggml.{key}_token_id")
        return tokens[index] if isinstance(index, int) and 0 <= index < len(tokens) else None

    config: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": token("bos"),
        "eos_token": token("eos"),
        "pad_token": token("padding"),
        "unk_token": token("unknown"),
        "add_bos_token": bool(metadata.get("tokenizer.ggml.add_bos_token", llama3)),
        "add_eos_token": bool(metadata.get("tokenizer.ggml.add_eos_token", False)),
        "model_max_length": context_length,
        "clean_up_tokenization_spaces": False,
    }
    if isinstance(metadata.get("tokenizer.chat_template"), str):
        config["chat_template"] = metadata["tokenizer.chat_template"]
    config = {key: value for key, value in config.items() if value is not None}
    _write_json(directory / "tokenizer_config.json", config)
    generation = {
        f"{key}_token_id": metadata[f"tokenizer.ggml.{name}_token_id"]
        for key, name in (("bos", "bos"), ("eos", "eos"), ("pad", "padding"))
        if isinstance(metadata.get(f"tokenizer.ggml.{name}_token_id"), int)
    }
    _write_json(directory / "generation_config.json", generation)
    from litft.models.tokenizer_fidelity import repair_special_tokens

    return repair_special_tokens(directory)


def _bpe_tokenizer(metadata: Mapping[str, Any], tokens: list[str]) -> Any:
    from tokenizers import AddedToken, Tokenizer, decoders, models

    if len(set(tokens)) != len(tokens):
        raise LitftError("the GGUF's token list holds the same token twice; the file is damaged, download it again.")
    merges = [tuple(merge.split(" ", 1)) for merge in metadata.get("tokenizer.ggml.merges", [])]
    pre = metadata.get("tokenizer.ggml.pre", "default")
    vocab = {text: index for index, text in enumerate(tokens)}
    ignore_merges = PRE_TOKENIZERS.get(pre) == LLAMA3_PATTERN
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=ignore_merges))
    tokenizer.pre_tokenizer = _pre_tokenizer(pre)
    tokenizer.decoder = decoders.ByteLevel()
    types = list(metadata.get("tokenizer.ggml.token_type", []))
    added = [
        AddedToken(tokens[index], special=kind == CONTROL, normalized=False)
        for index, kind in enumerate(types)
        if kind in (CONTROL, USER_DEFINED)
    ]
    tokenizer.add_tokens(added)  # already in the vocabulary: they keep their ids and are matched whole in text
    return tokenizer


def _pre_tokenizer(name: str) -> Any:
    from tokenizers import Regex, pre_tokenizers

    kind = PRE_TOKENIZERS.get(name)
    if kind is None:
        raise LitftError(
            f"the GGUF's pre-tokenizer {name!r} is not one litft rebuilds ({', '.join(sorted(PRE_TOKENIZERS))}); "
            "import the model from its Hugging Face folder with `litft convert hf_to_lit` instead."
        )
    if kind == GPT2:
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if kind == DIGITS_THEN_GPT2:
        return pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
        )
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(kind), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


def _write_json(path: Path, content: dict[str, Any]) -> None:
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ---- the other way: a checkpoint's tokenizer as GGUF metadata (`litft convert lit_to_gguf`) ----------------------

# llama.cpp's name for each kind of byte-level pre-tokenizer litft rebuilds (the first of each in PRE_TOKENIZERS).
GGUF_PRE_NAMES = {kind: name for name, kind in reversed(PRE_TOKENIZERS.items())}
# Text whose pre-tokenization tells the kinds apart (the idea of convert_hf_to_gguf.py's `chkhsh`, which hashes the
# tokens of a longer text): digits in runs, contractions in both cases, runs of spaces, tabs and newlines, letters
# of several scripts, emoji and punctuation.
PRE_TOKENIZER_PROBE = (
    "Hello world 3 33 333 3333 3.14 I've they'RE it's\n\n \t\t  x  \n   y naïve café 日本語 нещо 🦙🦙 ....!!?? "
    "'''```\"\"\" a1b22c333 ---=== end"
)
NORMAL, UNUSED = 1, 5
SPM_FILE = "tokenizer.model"


def gguf_tokenizer_metadata(directory: Path, vocab_size: int) -> dict[str, Any]:
    """The tokenizer files of `directory` as GGUF metadata (the keys without `tokenizer.ggml.`): `model`, `pre`,
    `tokens`, `token_type`, with `merges` (byte-level BPE) or `scores` (SentencePiece). Tokens are padded to the
    model's `vocab_size` with `[PADn]` tokens of type UNUSED, as llama.cpp wants one per embedding row."""
    data = _read_tokenizer_json(directory)
    model = (data or {}).get("model", {})
    if data is not None and model.get("type") == "BPE" and not model.get("byte_fallback", False):
        fields = _byte_level_bpe(directory, data)
    elif (directory / SPM_FILE).is_file() or (model.get("type") == "BPE" and model.get("byte_fallback")):
        fields = _sentencepiece(directory)
    else:
        raise LitftError(
            f"the tokenizer in {directory} is neither a byte-level BPE nor a SentencePiece one; llama.cpp and litft's "
            "GGUF writer know no other kind."
        )
    padding = vocab_size - len(fields["tokens"])
    if padding < 0:
        raise LitftError(
            f"the tokenizer in {directory} has {len(fields['tokens'])} tokens but the model only {vocab_size} "
            "embedding rows; the tokenizer does not belong to this checkpoint."
        )
    fields["tokens"] += [f"[PAD{index}]" for index in range(vocab_size - padding, vocab_size)]
    fields["token_type"] += [UNUSED] * padding
    if "scores" in fields:
        fields["scores"] += [-1000.0] * padding
    return fields


def _read_tokenizer_json(directory: Path) -> dict[str, Any] | None:
    path = directory / "tokenizer.json"
    if not path.is_file():
        return None
    data = parse_json(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
        raise LitftError(f"{path} is not a tokenizers JSON file (no model); restore the tokenizer files.")
    return data


def _byte_level_bpe(directory: Path, data: dict[str, Any]) -> dict[str, Any]:
    from gguf import SpecialVocab
    from tokenizers import Tokenizer

    vocab = dict(data["model"].get("vocab", {}))
    added = data.get("added_tokens", [])
    vocab.update({token["content"]: token["id"] for token in added})
    tokens = [text for text, _ in sorted(vocab.items(), key=lambda item: item[1])]
    if sorted(vocab.values()) != list(range(len(tokens))):
        raise LitftError(f"the token ids of {directory / 'tokenizer.json'} are not 0..n-1 each once; it is damaged.")
    types = [NORMAL] * len(tokens)
    for token in added:
        types[token["id"]] = CONTROL if token.get("special") else USER_DEFINED
    splitter = Tokenizer.from_file(str(directory / "tokenizer.json")).pre_tokenizer
    if splitter is None:
        raise LitftError(f"{directory / 'tokenizer.json'} has no pre-tokenizer; llama.cpp cannot split text like it.")
    pre = _pre_tokenizer_name(splitter, directory)
    vocab_logger = logging.getLogger("gguf.vocab")  # it warns about post-processors litgpt's rule replaces
    level = vocab_logger.level
    vocab_logger.setLevel(logging.ERROR)
    try:
        merges = SpecialVocab(directory, load_merges=True).merges  # gguf's reader: both merge formats, spaces kept
    finally:
        vocab_logger.setLevel(level)
    return {"model": "gpt2", "pre": pre, "tokens": tokens, "token_type": types, "merges": merges}


def _pre_tokenizer_name(splitter: Any, directory: Path) -> str:
    """llama.cpp's name of the pre-tokenizer that splits the probe text exactly as `splitter` does."""
    wanted = [piece for piece, _ in splitter.pre_tokenize_str(PRE_TOKENIZER_PROBE)]
    for name in GGUF_PRE_NAMES.values():
        if [piece for piece, _ in _pre_tokenizer(name).pre_tokenize_str(PRE_TOKENIZER_PROBE)] == wanted:
            return name
    raise LitftError(
        f"the tokenizer in {directory} splits text unlike every llama.cpp pre-tokenizer litft writes "
        f"({', '.join(GGUF_PRE_NAMES.values())}); llama.cpp would tokenize differently, so litft does not export it."
    )


def _sentencepiece(directory: Path) -> dict[str, Any]:
    """SentencePiece tokens, scores and types through gguf's vocabulary readers (tokenizer.model, or transformers'
    tokenizer.json of a SentencePiece model)."""
    from gguf.vocab import LlamaHfVocab, SentencePieceVocab

    vocab = SentencePieceVocab(directory) if (directory / SPM_FILE).is_file() else LlamaHfVocab(directory)
    tokens, scores, types = [], [], []
    for text, score, kind in vocab.all_tokens():
        tokens.append(text.decode("utf-8"))
        scores.append(float(score))
        types.append(int(kind))
    return {"model": "llama", "pre": "default", "tokens": tokens, "token_type": types, "scores": scores}
