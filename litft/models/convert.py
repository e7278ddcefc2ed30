"""Hugging Face ⇄ litgpt checkpoint conversion, with litgpt's own weight-copy functions.

What litft adds around them: configs derived from config.json for custom-named models, lazy shard
loading (a 7B conversion holds one tensor at a time), atomic writes, and an export directory that
`transformers.AutoModelForCausalLM.from_pretrained` loads as it is (config.json, sharded safetensors,
tokenizer files) instead of litgpt's renamed `model.pth`.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import save_torch_state_dict
from litgpt.config import Config, name_to_config
from litgpt.scripts import convert_hf_checkpoint as hf_to_lit
from litgpt.scripts import convert_lit_checkpoint as lit_to_hf
from litgpt.utils import incremental_save
from safetensors import SafetensorError, safe_open

from litft.common.checks import check_shard_size as _check_shard_size
from litft.common.errors import LitftError
from litft.common.io import atomic_path, path_inside, read_json
from litft.common.outputs import (
    check_in_place_files,
    check_output_dir,
    record_own_files,
)
from litft.common.outputs import output_dir as output_dir_for
from litft.common.settings import DType
from litft.models.build import (
    EMBEDDING_WEIGHT,
    HEAD_WEIGHT,
    TINY_CONFIGS,
    build_model,
    embeddings_tied,
    resolve_config,
)
from litft.models.checkpoint import (
    CHECKPOINT_KIND,
    TOKENIZER_FILES,
    copy_tokenizer_files,
    inspect_checkpoint,
    load_state_dict,
    save_config,
)
from litft.models.hf_config import (
    family_of_hf,
    family_of_litgpt,
    hf_config_from_litgpt,
    litgpt_config_from_hf,
)
from litft.models.methods import FULL_WEIGHTS, get_method
from litft.models.tokenizer_fidelity import refuse_special_token_problems

HF_EXPORT_KIND = "hf-export"
# What hf_to_lit adds to a Hugging Face folder, as litgpt lays it out.
CONVERTED_FILES = (FULL_WEIGHTS, "model_config.yaml")
# The output layer's name in the Hugging Face families (GPT-NeoX's, everyone else's).
HF_HEAD_WEIGHTS = ("embed_out.weight", "lm_head.weight")


class _LazySafetensor:
    """A tensor that litgpt's copy functions read from its safetensors file only when they need it."""

    def __init__(self, handle: Any, name: str) -> None:
        self.handle, self.name = handle, name

    def _load_tensor(self) -> torch.Tensor:  # the hook litgpt's `load_param` calls
        return self.handle.get_tensor(self.name)


def _hf_weight_files(checkpoint_dir: Path) -> list[Path]:
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (checkpoint_dir / index_name).is_file():
            return _indexed_shards(checkpoint_dir, checkpoint_dir / index_name)
    safetensors = sorted(checkpoint_dir.glob("*.safetensors"))
    files = safetensors or sorted(f for f in checkpoint_dir.glob("*.bin") if f.name != "training_args.bin")
    if not files:
        raise LitftError(f"{checkpoint_dir} holds no .safetensors or .bin weights; download the model files first.")
    return files


def _indexed_shards(checkpoint_dir: Path, index_path: Path) -> list[Path]:
    """The shard files an HF index names, each checked to be a plain file name inside the checkpoint: an index
    is downloaded data, and `../../etc/passwd` in it must not make litft open files elsewhere."""
    index = read_json(index_path)
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(name, str) for name in weight_map.values()):
        raise LitftError(f'{index_path} has no "weight_map" of tensor names to shard files; re-download it.')
    shards = set()
    for name in weight_map.values():
        shard = path_inside(checkpoint_dir, name)
        if shard is None or "\\" in name:
            raise LitftError(
                f"{index_path} points at {name!r}, outside {checkpoint_dir}; "
                "refusing it, re-download the index from the model's repository."
            )
        if not shard.is_file():
            raise LitftError(
                f"{index_path} lists shard {name} but {shard} is missing; download the model's files again."
            )
        shards.add(shard)
    return sorted(shards)


def _lazy_hf_weights(files: list[Path], stack: contextlib.ExitStack) -> dict[str, Any]:
    """One lazy mapping over every shard, so a tensor split from its partner across shards is still found.
    The shards stay open until `stack` closes."""
    weights: dict[str, Any] = {}
    for file in files:
        if file.suffix == ".safetensors":
            try:
                handle = stack.enter_context(safe_open(str(file), framework="pt"))
            except (SafetensorError, OSError) as error:
                raise LitftError(
                    f"{file} is empty, truncated or not a safetensors file ({error}); download it again."
                ) from None
            weights.update({name: _LazySafetensor(handle, name) for name in handle.keys()})
        else:
            weights.update(load_state_dict(file))
    return weights


def hf_model_config(checkpoint_dir: Path, model_name: str | None) -> tuple[Config, str]:
    """The litgpt config for an HF directory and the family used to pick the weight-copy function."""
    name = model_name or checkpoint_dir.name
    if name in name_to_config or name in TINY_CONFIGS or model_name is not None:
        config = resolve_config(name)
        return config, _family_of_named(config)
    config_json = checkpoint_dir / "config.json"
    if not config_json.is_file():
        raise LitftError(
            f"{checkpoint_dir.name!r} is not a litgpt config name and {checkpoint_dir} has no config.json; "
            "pass --model_name."
        )
    hf = read_json(config_json)
    if not isinstance(hf, dict):
        raise LitftError(f"{config_json} must hold a JSON object of model settings; re-download it.")
    return litgpt_config_from_hf(hf, name, str(config_json)), family_of_hf(hf, str(config_json))


def _family_of_named(config: Config) -> str:
    """litgpt picks its copy function from the config name; keep its choices for the named families."""
    name = config.name.lower()
    for prefix, family in (
        ("falcon", "falcon"),
        ("gemma-2", "gemma_2"),
        ("gemma-3", "gemma_3"),
        ("phi", "phi"),
        ("qwen2.5", "qwen2"),
        ("qwq", "qwen2"),
        ("olmo-2-", "olmo2"),
        ("qwen3", "qwen3"),
    ):
        if name.startswith(prefix) or (prefix == "falcon" and prefix in name):
            return family
    return "llama" if config.mlp_class_name in ("LLaMAMLP", "GemmaMLP", "LLaMAMoE") else "gpt_neox"


def _hf_to_lit_copier(config: Config, family: str) -> Callable:
    qkv: dict = {}
    return {
        "falcon": partial(hf_to_lit.copy_weights_falcon, config),
        "gemma_2": partial(hf_to_lit.copy_weights_gemma_2, qkv),
        "gemma_3": partial(hf_to_lit.copy_weights_gemma_3, qkv, config=config),
        "phi": partial(hf_to_lit.copy_weights_phi, config, qkv),
        "qwen2": partial(hf_to_lit.copy_weights_qwen_2_5, config, qkv),
        "olmo2": partial(hf_to_lit.copy_weights_olmo2, config, qkv),
        "qwen3": partial(hf_to_lit.copy_weights_qwen_3, config, qkv),
        "gpt_neox": partial(hf_to_lit.copy_weights_gpt_neox, config),
    }.get(family, partial(hf_to_lit.copy_weights_hf_llama, config, qkv))


@torch.inference_mode()
def convert_hf_checkpoint(
    checkpoint_dir: Path, model_name: str | None = None, dtype: DType | None = None, overwrite: bool = False
) -> None:
    """Convert a Hugging Face model directory to litgpt's format, in place (as litgpt lays it out).

    Args:
        checkpoint_dir: Directory with config.json and safetensors/bin weights; receives lit_model.pth and
            model_config.yaml beside them.
        model_name: litgpt config name; by default the directory's name, else derived from config.json
            (Llama, Mistral, Qwen2, GPT-NeoX).
        dtype: Convert the weights to this dtype; by default they keep the dtype they were saved in.
        overwrite: Replace a lit_model.pth / model_config.yaml that litft did not write (e.g. litgpt's own conversion).
    """
    checkpoint_dir = Path(checkpoint_dir)
    if not checkpoint_dir.is_dir():
        raise LitftError(f"checkpoint directory {checkpoint_dir} does not exist; check the path.")
    check_in_place_files(checkpoint_dir, CONVERTED_FILES, overwrite)
    config, family = hf_model_config(checkpoint_dir, model_name)
    tied = _ties_word_embeddings(checkpoint_dir)
    refuse_special_token_problems(checkpoint_dir)  # before the weights: the fix is the user's, in their files
    state: dict[str, Any] = {}
    with (
        contextlib.ExitStack() as shards,
        atomic_path(checkpoint_dir / FULL_WEIGHTS) as tmp,
        incremental_save(tmp) as saver,
    ):
        hf_weights = _lazy_hf_weights(_hf_weight_files(checkpoint_dir), shards)
        if tied:  # transformers uses the embedding as the output layer, whatever lm_head the files also hold
            for name in HF_HEAD_WEIGHTS:
                hf_weights.pop(name, None)
        try:
            _hf_to_lit_copier(config, family)(
                state, hf_weights, saver=saver, dtype=getattr(torch, dtype) if dtype else None
            )
        except KeyError as error:
            raise LitftError(
                f"weight {error.args[0]!r} does not fit the {config.name!r} config; pass the right --model_name."
            ) from None
        if tied:  # one tensor under both names: written once, loaded tied (litft.models.build.embeddings_tied)
            state[HEAD_WEIGHT] = state[EMBEDDING_WEIGHT]
        _check_complete(state, config)
        saver.save(state)
    save_config(config, checkpoint_dir / "model_config.yaml")
    record_own_files(checkpoint_dir, CONVERTED_FILES, CHECKPOINT_KIND)
    if not any((checkpoint_dir / name).is_file() for name in TOKENIZER_FILES):
        warnings.warn(
            f"{checkpoint_dir} has no tokenizer files; the converted checkpoint has weights and config only.",
            stacklevel=2,
        )
    print(f"Converted {checkpoint_dir} to litgpt format ({config.name}, {family}).")


def _ties_word_embeddings(checkpoint_dir: Path) -> bool:
    """Whether the folder's config.json ties the output layer to the embedding (the families litft derives
    configs for default to untied; litgpt's copy functions tie the others when their files lack lm_head)."""
    config_json = checkpoint_dir / "config.json"
    hf = read_json(config_json) if config_json.is_file() else {}
    tied = hf.get("tie_word_embeddings", False) if isinstance(hf, dict) else False
    if not isinstance(tied, bool):
        raise LitftError(f"{config_json} sets tie_word_embeddings to {tied!r}; it must be true or false.")
    return tied


def _check_complete(state: dict[str, Any], config: Config) -> None:
    """Refuse a conversion whose weights do not fill exactly the model the config builds (checked on meta)."""
    expected = set(build_model("full", config, device="meta").state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise LitftError(f"the weights do not fit the {config.name!r} config ({detail}); pass the right --model_name.")


def _check_shapes(weights: dict[str, torch.Tensor], config: Config, checkpoint_dir: Path) -> None:
    """Refuse weights whose shapes differ from the model the config builds, which would export a broken model."""
    expected = build_model("full", config, device="meta").state_dict()
    for key, tensor in weights.items():
        if key in expected and tensor.shape != expected[key].shape:
            raise LitftError(
                f"{key} in {checkpoint_dir} has shape {tuple(tensor.shape)} but its model_config.yaml builds "
                f"{tuple(expected[key].shape)}; check that model_config.yaml belongs to these weights."
            )


def _lit_to_hf_copier(config: Config, family: str) -> Callable:
    if family == "gpt_neox":
        return partial(lit_to_hf.copy_weights_gpt_neox, config)
    if family == "qwen2":
        return partial(lit_to_hf.copy_weights_qwen_2_5, config)
    return partial(lit_to_hf.copy_weights_llama, config)


@torch.inference_mode()
def convert_lit_checkpoint(
    checkpoint_dir: Path, output_dir: Path, max_shard_size: str = "5GB", overwrite: bool = False
) -> None:
    """Export a litgpt checkpoint as a directory transformers loads directly.

    Args:
        checkpoint_dir: A litgpt checkpoint or a litft run (a LoRA run is merged on the fly; adapter-v2 has
            no Hugging Face equivalent). A QLoRA run is merged into its full-precision base, so the export is
            full precision.
        output_dir: Receives config.json, model.safetensors (sharded above `max_shard_size`) and the tokenizer.
        max_shard_size: Largest safetensors shard, e.g. "5GB" or "500MB".
        overwrite: Write into an output_dir that holds files litft did not write (only the export's files are replaced).
    """
    _check_shard_size(max_shard_size)
    info = inspect_checkpoint(checkpoint_dir)
    inputs = (checkpoint_dir, info.path, info.base_dir)
    check_output_dir(output_dir, HF_EXPORT_KIND, overwrite=overwrite, inputs=inputs, flag="--output_dir")
    family = family_of_litgpt(info.config)
    method = get_method(info.method)
    if method.delta_only and method.merged_weights is None:
        raise LitftError(
            f"{info.method} weights have no Hugging Face equivalent; export the base or a full/LoRA run instead."
        )
    if method.delta_only:
        from litft.models.merge import full_precision_note, merged_state_dict

        lit_weights = merged_state_dict(info)
    else:
        from litft.models.merge import full_precision_note

        lit_weights = load_state_dict(info.weights_path)
    if any("lora_" in key or "adapter" in key for key in lit_weights):
        raise LitftError(f"{info.weights_path} holds LoRA/adapter weights; merge them with `litft merge_lora` first.")
    _check_shapes(lit_weights, info.config, info.path)

    tied = embeddings_tied(lit_weights)
    hf_state: dict[str, torch.Tensor] = {}
    _lit_to_hf_copier(info.config, family)(hf_state, lit_weights)
    if tied:
        hf_state.pop("embed_out.weight" if family == "gpt_neox" else "lm_head.weight", None)
    # litgpt's copy functions split the fused qkv into views of one storage; safetensors stores each tensor
    # on its own, so only those views are copied (the rest stay memory-mapped).
    hf_state = {key: value if _owns_storage(value) else value.clone() for key, value in hf_state.items()}
    dtype = next(iter(hf_state.values())).dtype
    hf_config = hf_config_from_litgpt(info.config, str(dtype).removeprefix("torch."), tied)

    with output_dir_for(output_dir, HF_EXPORT_KIND, overwrite=overwrite, inputs=inputs, flag="--output_dir") as staging:
        save_torch_state_dict(hf_state, staging, max_shard_size=max_shard_size)
        (staging / "config.json").write_text(json.dumps(hf_config, indent=2) + "\n", encoding="utf-8")
        copy_tokenizer_files(info.path if _has_tokenizer(info.path) else info.base_dir, staging)
    print(f"Exported {info.path} ({family}) to {output_dir}.{full_precision_note(info)}")


def _owns_storage(tensor: torch.Tensor) -> bool:
    return tensor.is_contiguous() and tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size()


def _has_tokenizer(directory: Path | None) -> bool:
    return directory is not None and any((directory / name).is_file() for name in TOKENIZER_FILES)
