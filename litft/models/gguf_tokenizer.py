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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from litft.common.errors import LitftError

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
