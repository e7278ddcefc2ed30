"""GGUF files, what llama.cpp and Ollama users have, as litgpt checkpoints: `litft convert gguf_to_lit`.

The `gguf` package (llama.cpp's own Python library) reads the file and dequantizes each tensor when litgpt's
copy functions ask for it, so a conversion holds one tensor at a time. Tensors are renamed to their Hugging Face
names, with what llama.cpp's convert_hf_to_gguf.py changed undone (the Llama family's Q/K rows permuted for its
RoPE kernel, GPT-NeoX's fused QKV regrouped), and handed to the copy functions hf_to_lit uses: one weight map for
both. The config comes from the GGUF's hyperparameters through hf_config's config.json translation, the tokenizer
from the GGUF's own metadata (gguf_tokenizer).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from litgpt.utils import incremental_save

from litft.common.errors import LitftError
from litft.common.outputs import check_output_dir
from litft.common.outputs import output_dir as output_dir_for
from litft.common.settings import DType
from litft.models.build import build_model
from litft.models.checkpoint import CHECKPOINT_KIND, save_config
from litft.models.convert import _hf_to_lit_copier
from litft.models.gguf_tokenizer import write_tokenizer_files
from litft.models.hf_config import litgpt_config_from_hf
from litft.models.methods import FULL_WEIGHTS

# general.architecture -> the Hugging Face model_type litft derives a config for. llama.cpp writes Mistral
# models (no sliding window in GGUF) as "llama".
ARCHITECTURES = {"llama": "llama", "qwen2": "qwen2", "gptneox": "gpt_neox"}
# GGUF tensor names -> Hugging Face names, per family ("{}" is the block number). The gguf package maps the other
# way only, from many spellings to one, so the table for this direction is written out.
LLAMA_NAMES = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
    "blk.{}.attn_norm.weight": "model.layers.{}.input_layernorm.weight",
    "blk.{}.ffn_norm.weight": "model.layers.{}.post_attention_layernorm.weight",
    "blk.{}.ffn_gate.weight": "model.layers.{}.mlp.gate_proj.weight",
    "blk.{}.ffn_up.weight": "model.layers.{}.mlp.up_proj.weight",
    "blk.{}.ffn_down.weight": "model.layers.{}.mlp.down_proj.weight",
    "blk.{}.attn_output.weight": "model.layers.{}.self_attn.o_proj.weight",
    **{
        f"blk.{{}}.attn_{short}.{kind}": f"model.layers.{{}}.self_attn.{short}_proj.{kind}"
        for short in ("q", "k", "v")
        for kind in ("weight", "bias")
    },
}
GPT_NEOX_NAMES = {
    "token_embd.weight": "gpt_neox.embed_in.weight",
    "output.weight": "embed_out.weight",
    **{f"output_norm.{kind}": f"gpt_neox.final_layer_norm.{kind}" for kind in ("weight", "bias")},
    **{
        f"blk.{{}}.{gguf_name}.{kind}": f"gpt_neox.layers.{{}}.{hf_name}.{kind}"
        for gguf_name, hf_name in (
            ("attn_norm", "input_layernorm"),
            ("ffn_norm", "post_attention_layernorm"),
            ("attn_qkv", "attention.query_key_value"),
            ("attn_output", "attention.dense"),
            ("ffn_up", "mlp.dense_h_to_4h"),
            ("ffn_down", "mlp.dense_4h_to_h"),
        )
        for kind in ("weight", "bias")
    },
}


class _LazyGGUFTensor:
    """A GGUF tensor that litgpt's copy functions dequantize only when they need it (`_load_tensor` is the hook
    litgpt's `load_param` calls), with llama.cpp's reordering of its rows undone."""

    def __init__(self, tensor: Any, reorder: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        self.tensor, self.reorder = tensor, reorder

    def _load_tensor(self) -> torch.Tensor:
        from gguf.quants import dequantize

        values = torch.from_numpy(np.array(dequantize(self.tensor.data, self.tensor.tensor_type), dtype=np.float32))
        return self.reorder(values) if self.reorder is not None else values


def unpermute_rope_rows(weight: torch.Tensor, n_head: int) -> torch.Tensor:
    """Undo convert_hf_to_gguf.py's `LlamaModel.permute`: llama.cpp's Llama RoPE rotates adjacent pairs of each
    head's rows, Hugging Face's rotates its first half against its second, so the GGUF interleaves the halves."""
    return (
        weight.reshape(n_head, weight.shape[0] // n_head // 2, 2, *weight.shape[1:])
        .transpose(1, 2)
        .reshape(weight.shape)
    )


def permute_rope_rows(weight: torch.Tensor, n_head: int) -> torch.Tensor:
    """convert_hf_to_gguf.py's `LlamaModel.permute`, which `unpermute_rope_rows` undoes (the GGUF export's way)."""
    return (
        weight.reshape(n_head, 2, weight.shape[0] // n_head // 2, *weight.shape[1:])
        .transpose(1, 2)
        .reshape(weight.shape)
    )


def group_gpt_neox_qkv(weight: torch.Tensor, n_head: int) -> torch.Tensor:
    """convert_hf_to_gguf.py's GPT-NeoX regrouping, which `ungroup_gpt_neox_qkv` undoes: each head's q, k and v
    rows become all Q rows, then K, then V (the GGUF export's way)."""
    return (
        weight.reshape(n_head, 3, weight.shape[0] // 3 // n_head, *weight.shape[1:])
        .transpose(0, 1)
        .reshape(weight.shape)
    )


def ungroup_gpt_neox_qkv(weight: torch.Tensor, n_head: int) -> torch.Tensor:
    """Undo convert_hf_to_gguf.py's GPT-NeoX regrouping: the GGUF holds all Q rows, then K, then V; Hugging Face
    keeps each head's q, k and v together."""
    return (
        weight.reshape(3, n_head, weight.shape[0] // 3 // n_head, *weight.shape[1:])
        .transpose(0, 1)
        .reshape(weight.shape)
    )


def read_gguf(path: Path) -> tuple[Any, dict[str, Any]]:
    """The gguf reader of `path` (tensors memory-mapped) and its metadata as plain Python values."""
    from gguf import GGUFReader

    try:
        reader = GGUFReader(path)
    except (ValueError, OSError, IndexError) as error:  # a bad magic number or version, a truncated file
        raise LitftError(f"{path} is not a readable GGUF file ({error}); download it again.") from None
    return reader, {key: field.contents() for key, field in reader.fields.items()}


def hf_config_of(metadata: dict[str, Any]) -> dict[str, Any]:
    """The Hugging Face config.json equivalent of a GGUF's hyperparameters (what hf_config translates to litgpt)."""
    arch = metadata.get("general.architecture")
    family = ARCHITECTURES.get(arch)
    if family is None:
        raise LitftError(
            f"the GGUF's architecture is {arch!r}; litft imports {', '.join(ARCHITECTURES)} "
            "(Llama, SmolLM, Mistral, Qwen2/2.5, GPT-NeoX) only."
        )

    def value(key: str, default: Any = None) -> Any:
        found = metadata.get(f"{arch}.{key}", default)
        if found is None:
            raise LitftError(f"the GGUF lacks {arch}.{key}, which a {arch} model needs; the file is incomplete.")
        if isinstance(found, list):
            raise LitftError(f"the GGUF's {arch}.{key} differs per layer, which litgpt's {family} model cannot build.")
        return found

    n_head, n_embd = value("attention.head_count"), value("embedding_length")
    head_dim = value("attention.key_length", n_embd // n_head)
    hf: dict[str, Any] = {
        "model_type": family,
        "vocab_size": metadata.get(f"{arch}.vocab_size") or len(metadata.get("tokenizer.ggml.tokens", [])),
        "hidden_size": n_embd,
        "num_hidden_layers": value("block_count"),
        "num_attention_heads": n_head,
        "intermediate_size": value("feed_forward_length"),
        "max_position_embeddings": value("context_length"),
    }
    if metadata.get(f"{arch}.rope.scaling.type", "none") != "none":
        raise LitftError(
            f"the GGUF scales RoPE ({metadata[f'{arch}.rope.scaling.type']}), which litft does not import yet."
        )
    if family == "gpt_neox":
        return dict(
            hf,
            hidden_act="gelu",
            layer_norm_eps=value("attention.layer_norm_epsilon"),
            use_parallel_residual=bool(value("use_parallel_residual", True)),
            rotary_pct=value("rope.dimension_count", head_dim) / head_dim,
            rotary_emb_base=value("rope.freq_base", 10000.0),
        )
    if value("rope.dimension_count", head_dim) != head_dim:
        raise LitftError(
            f"the GGUF rotates {value('rope.dimension_count')} of {head_dim} head dimensions; "
            f"litgpt's {family} model rotates them all."
        )
    return dict(
        hf,
        hidden_act="silu",
        num_key_value_heads=value("attention.head_count_kv", n_head),
        head_dim=head_dim,
        rms_norm_eps=value("attention.layer_norm_rms_epsilon"),
        rope_theta=value("rope.freq_base", 10000.0),
    )


def hf_named_weights(reader: Any, hf: dict[str, Any]) -> dict[str, _LazyGGUFTensor]:
    """The GGUF's tensors under their Hugging Face names, each dequantized and reordered when it is loaded."""
    family = hf["model_type"]
    table = GPT_NEOX_NAMES if family == "gpt_neox" else LLAMA_NAMES
    n_head, n_kv = hf["num_attention_heads"], hf.get("num_key_value_heads")
    weights = {}
    for tensor in reader.tensors:
        parts = tensor.name.split(".")
        block = parts[1] if parts[0] == "blk" and len(parts) > 2 else None
        template = ".".join([parts[0], "{}", *parts[2:]]) if block is not None else tensor.name
        if template not in table:
            raise LitftError(
                f"the GGUF holds tensor {tensor.name!r}, which litgpt's {family} model has no place for "
                "(RoPE frequency factors, an unusual layer); litft cannot import it."
            )
        reorder = None
        if family == "llama" and template.startswith(("blk.{}.attn_q.", "blk.{}.attn_k.")):
            reorder = partial(unpermute_rope_rows, n_head=n_head if template.startswith("blk.{}.attn_q.") else n_kv)
        if family == "gpt_neox" and template.startswith("blk.{}.attn_qkv."):
            reorder = partial(ungroup_gpt_neox_qkv, n_head=n_head)
        weights[table[template].format(block)] = _LazyGGUFTensor(tensor, reorder)
    return weights


def _check_complete(state: dict[str, Any], config: Any, gguf: Path) -> None:
    """Refuse weights that do not fill exactly the model the GGUF's hyperparameters build (checked on meta)."""
    expected = set(build_model("full", config, device="meta").state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise LitftError(f"the weights of {gguf} do not fit its own hyperparameters ({detail}); the file is damaged.")


@torch.inference_mode()
def convert_gguf_checkpoint(gguf: Path, output_dir: Path, dtype: DType | None = None, overwrite: bool = False) -> None:
    """Import a GGUF model file (llama.cpp, Ollama) as a litgpt checkpoint with the tokenizer it defines.

    Args:
        gguf: The .gguf file of a Llama-family (Llama, SmolLM, Mistral), Qwen2/2.5 or GPT-NeoX model; quantized
            weights (Q4_0, Q4_K, Q8_0, ...) are dequantized.
        output_dir: Receives lit_model.pth, model_config.yaml, tokenizer.json with tokenizer_config.json and
            generation_config.json, and prompt_style.yaml when the GGUF has a chat template.
        dtype: Store the weights in this dtype; by default float32, which holds the dequantized values exactly.
        overwrite: Write into an output_dir that holds files litft did not write (only the checkpoint's files
            are replaced).
    """
    gguf, output_dir = Path(gguf), Path(output_dir)
    check_output_dir(output_dir, CHECKPOINT_KIND, overwrite=overwrite, inputs=(gguf,), flag="--output_dir")
    reader, metadata = read_gguf(gguf)
    hf = hf_config_of(metadata)
    config = litgpt_config_from_hf(hf, output_dir.name, source=str(gguf))
    hf_weights = hf_named_weights(reader, hf)
    with output_dir_for(
        output_dir, CHECKPOINT_KIND, overwrite=overwrite, inputs=(gguf,), flag="--output_dir"
    ) as staging:
        repairs = write_tokenizer_files(metadata, staging, config.block_size)
        if "tokenizer.chat_template" in metadata:
            from litft.models.prompts import get_prompt_style, save_prompt_style

            save_prompt_style(get_prompt_style("chat_template", staging), staging)
        state: dict[str, Any] = {}
        with incremental_save(staging / FULL_WEIGHTS) as saver:
            try:
                _hf_to_lit_copier(config, hf["model_type"])(
                    state, hf_weights, saver=saver, dtype=getattr(torch, dtype) if dtype else None
                )
            except KeyError as error:
                raise LitftError(f"the GGUF's weights do not fit its own hyperparameters ({error}).") from None
            _check_complete(state, config, gguf)
            saver.save(state)
        save_config(config, staging / "model_config.yaml")
    for sentence in repairs:
        print(sentence)
    kinds = sorted({tensor.tensor_type.name for tensor in reader.tensors})
    print(f"Imported {gguf} ({hf['model_type']}, weights {'/'.join(kinds)} -> {dtype or 'float32'}) to {output_dir}.")
