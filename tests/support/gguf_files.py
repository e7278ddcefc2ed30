"""GGUF files for the import tests, written as llama.cpp's convert_hf_to_gguf.py writes them.

Independent of litft's reader on purpose: tensor names come from the gguf package's own HF -> GGUF map, and the
two reorderings are llama.cpp's (`LlamaModel.permute` of Q/K rows, GPT-NeoX's QKV regrouped as Q, K, V), so a
round trip through `litft convert gguf_to_lit` checks litft against llama.cpp's conventions, not against itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import torch

ARCHITECTURES = {"llama": "llama", "mistral": "llama", "qwen2": "qwen2", "gpt_neox": "gptneox"}


def llama_cpp_permute(weights: torch.Tensor, n_head: int) -> torch.Tensor:
    """convert_hf_to_gguf.py's LlamaModel.permute (n_head is the KV head count for K)."""
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def gpt_neox_regroup(weights: torch.Tensor, n_head: int) -> torch.Tensor:
    """convert_hf_to_gguf.py's GPT-NeoX query_key_value: per-head [q, k, v] rows become all q, all k, all v."""
    grouped = weights.reshape(n_head, 3, weights.shape[0] // 3 // n_head, *weights.shape[1:])
    return torch.cat([grouped[:, index].reshape(-1, *weights.shape[1:]) for index in range(3)])


def gguf_tensors(hf_state: dict[str, torch.Tensor], hf_config: dict[str, Any]) -> dict[str, np.ndarray]:
    family = hf_config["model_type"]
    arch = ARCHITECTURES[family]
    names = gguf.get_tensor_name_map(
        next(key for key, value in gguf.MODEL_ARCH_NAMES.items() if value == arch), hf_config["num_hidden_layers"]
    )
    n_head = hf_config["num_attention_heads"]
    n_kv = hf_config.get("num_key_value_heads") or n_head
    tensors = {}
    for name, tensor in hf_state.items():
        tensor = tensor.float()
        if arch == "llama" and ".q_proj." in name:
            tensor = llama_cpp_permute(tensor, n_head)
        elif arch == "llama" and ".k_proj." in name:
            tensor = llama_cpp_permute(tensor, n_kv)
        elif arch == "gptneox" and "query_key_value" in name:
            tensor = gpt_neox_regroup(tensor, n_head)
        gguf_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:  # e.g. rotary inv_freq buffers some checkpoints keep
            continue
        tensors[gguf_name] = tensor.numpy()
    return tensors


def tokenizer_fields(directory: Path, vocab_size: int, pre: str = "gpt-2") -> dict[str, Any]:
    """A Hugging Face byte-level BPE tokenizer folder as GGUF tokenizer metadata, as llama.cpp's vocab writer
    stores it: tokens by id, merges as "a b", CONTROL type for special added tokens, and `[PAD<id>]` tokens of
    type UNUSED up to the model's vocabulary size (llama.cpp wants one token per embedding row)."""
    data = json.loads((directory / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = {**data["model"]["vocab"], **{token["content"]: token["id"] for token in data["added_tokens"]}}
    tokens = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
    assert [vocab[token] for token in tokens] == list(range(len(tokens)))
    special = {token["id"] for token in data["added_tokens"] if token["special"]}
    types = [3 if index in special else 1 for index in range(len(tokens))]
    padding = range(len(tokens), vocab_size)
    config = json.loads((directory / "tokenizer_config.json").read_text(encoding="utf-8"))
    fields = {
        "model": "gpt2",
        "pre": pre,
        "tokens": tokens + [f"[PAD{index}]" for index in padding],
        "token_types": types + [5] * len(padding),
        "merges": [merge if isinstance(merge, str) else " ".join(merge) for merge in data["model"]["merges"]],
        "bos": vocab[config["bos_token"]],
        "eos": vocab[config["eos_token"]],
        "add_bos": bool(config.get("add_bos_token", False)),
    }
    if "chat_template" in config:
        fields["chat_template"] = config["chat_template"]
    return fields


def write_gguf(
    path: Path, hf_config: dict[str, Any], tensors: dict[str, np.ndarray], tokenizer: dict[str, Any]
) -> Path:
    """An f32 GGUF file of a model with the hyperparameters convert_hf_to_gguf.py writes for its family."""
    arch = ARCHITECTURES[hf_config["model_type"]]
    writer = gguf.GGUFWriter(path, arch)
    n_head, n_embd = hf_config["num_attention_heads"], hf_config["hidden_size"]
    writer.add_context_length(hf_config["max_position_embeddings"])
    writer.add_embedding_length(n_embd)
    writer.add_block_count(hf_config["num_hidden_layers"])
    writer.add_feed_forward_length(hf_config["intermediate_size"])
    writer.add_head_count(n_head)
    writer.add_vocab_size(hf_config["vocab_size"])
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    if arch == "gptneox":
        writer.add_rope_dimension_count(int(hf_config["rotary_pct"] * (n_embd // n_head)))
        writer.add_parallel_residual(hf_config.get("use_parallel_residual", True))
        writer.add_layer_norm_eps(hf_config["layer_norm_eps"])
    else:
        writer.add_head_count_kv(hf_config.get("num_key_value_heads") or n_head)
        writer.add_rope_dimension_count(hf_config.get("head_dim") or n_embd // n_head)
        writer.add_layer_norm_rms_eps(hf_config["rms_norm_eps"])
        writer.add_rope_freq_base(hf_config.get("rope_theta", 10000.0))
    writer.add_tokenizer_model(tokenizer["model"])
    writer.add_tokenizer_pre(tokenizer["pre"])
    writer.add_token_list(tokenizer["tokens"])
    writer.add_token_types(tokenizer["token_types"])
    writer.add_token_merges(tokenizer["merges"])
    writer.add_bos_token_id(tokenizer["bos"])
    writer.add_eos_token_id(tokenizer["eos"])
    if "add_bos" in tokenizer:  # without it llama.cpp decides by the pre-tokenizer
        writer.add_add_bos_token(tokenizer["add_bos"])
    if "chat_template" in tokenizer:
        writer.add_chat_template(tokenizer["chat_template"])
    return write_f32_tensors(writer, tensors, path)


def copy_with_tensors(source: Path, path: Path, tensors: dict[str, np.ndarray]) -> Path:
    """`source`'s metadata (tokenizer and hyperparameters as they were) with `tensors` as f32 weights."""
    reader = gguf.GGUFReader(source)
    writer = gguf.GGUFWriter(path, reader.fields["general.architecture"].contents())
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key in ("general.architecture", "general.file_type"):
            continue
        sub_type = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), field.types[0], sub_type=sub_type)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    return write_f32_tensors(writer, tensors, path)


def write_f32_tensors(writer: gguf.GGUFWriter, tensors: dict[str, np.ndarray], path: Path) -> Path:
    """Add `tensors` as f32 weights after the metadata already given to `writer`, and write the file."""
    for name, array in tensors.items():
        writer.add_tensor(name, np.ascontiguousarray(array, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
