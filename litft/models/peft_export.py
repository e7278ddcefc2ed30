"""`litft convert lit_to_peft`: a LoRA run as a PEFT adapter for the base's Hugging Face export.

The adapter (adapter_config.json + adapter_model.safetensors) is what `peft.PeftModel.from_pretrained`,
transformers and vLLM's multi-LoRA serving read. Module names and row layouts come from litgpt's own
lit → HF weight-copy functions, applied to the LoRA matrices: B is laid out like the weight's output rows
(so the fused qkv splits, or is re-interleaved for GPT-NeoX, exactly as the weight is), A like its inputs.

litgpt's fused qkv LoRA is block-diagonal: q, k and v (those enabled) each have their own r rows of A and
their own rows of B. Where the HF model has separate q/k/v projections (Llama, Qwen2), each gets its own
rank-r pair. GPT-NeoX keeps one fused `query_key_value`, so its pair has rank r·N (N enabled parts, the
zero blocks of B keep the parts apart); every other module is zero-padded to that rank too, so the adapter
has one rank and one alpha (vLLM reads no per-module ranks), with alpha scaled to keep alpha/r unchanged.
adapter_config.json is written by hand from PEFT's documented fields: peft is not a dependency of litft.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from litft.common.errors import LitftError
from litft.common.outputs import check_output_dir
from litft.common.outputs import output_dir as output_dir_for
from litft.common.settings import LoRASettings
from litft.models.checkpoint import inspect_checkpoint, load_state_dict
from litft.models.convert import HF_EXPORT_KIND, _lit_to_hf_copier
from litft.models.hf_config import family_of_litgpt
from litft.models.methods import get_method

PEFT_EXPORT_KIND = "peft-adapter"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
QKV_PARTS = ("q_proj", "k_proj", "v_proj")  # the HF names of litgpt's qkv parts where they are separate


def _hf_names(config, family: str, lit_weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`lit_weights` (litgpt weight names) under their HF names, rows rearranged as the weights' are."""
    hf: dict[str, torch.Tensor] = {}
    _lit_to_hf_copier(config, family)(hf, lit_weights)
    return hf


def _fused_qkv_b(config, lora_b: torch.Tensor, enabled: list[bool], r: int) -> torch.Tensor:
    """litgpt's qkv lora_B (rows of the enabled parts) as one (q+k+v rows) x (r·N) matrix, block-diagonal."""
    sizes = [config.n_head * config.head_size] + [config.n_query_groups * config.head_size] * 2
    full = lora_b.new_zeros(sum(sizes), r * sum(enabled))
    row, source, block = 0, 0, 0
    for size, on in zip(sizes, enabled, strict=True):
        if on:
            full[row : row + size, block * r : (block + 1) * r] = lora_b[source : source + size]
            source, block = source + size, block + 1
        row += size
    return full


def peft_state(info, settings: LoRASettings, lora: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], int]:
    """The adapter's tensors (PEFT's key names) and its rank."""
    config, family = info.config, family_of_litgpt(info.config)
    r, enabled = settings.r, [settings.query, settings.key, settings.value]
    fused = family == "gpt_neox"
    rank = r * sum(enabled) if fused and any(enabled) else r
    pairs: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}  # HF module -> (A, B)
    for key in sorted(k for k in lora if k.endswith(".lora_A")):
        module = key.removesuffix(".lora_A")
        a, b = lora[key].float(), lora[f"{module}.lora_B"].float()
        weight = f"{module}.weight"
        if module.endswith(".attn.qkv"):
            b = _fused_qkv_b(config, b, enabled, r)
            hf_b = _hf_names(config, family, {weight: b})
            for name, part in hf_b.items():
                if fused:
                    pairs[name.removesuffix(".weight")] = (a, part)
                    continue
                index = next(i for i, suffix in enumerate(QKV_PARTS) if name.endswith(f".{suffix}.weight"))
                if enabled[index]:
                    block = sum(enabled[:index])
                    rows = slice(block * r, (block + 1) * r)
                    pairs[name.removesuffix(".weight")] = (a[rows], part[:, rows])
            continue
        ((name, hf_b),) = _hf_names(config, family, {weight: b}).items()  # A's inputs keep their order
        pairs[name.removesuffix(".weight")] = (a, hf_b)
    tensors = {}
    for name, (a, b) in pairs.items():
        pad = rank - a.shape[0]
        a = torch.cat([a, a.new_zeros(pad, a.shape[1])]) if pad else a
        b = torch.cat([b, b.new_zeros(b.shape[0], pad)], dim=1) if pad else b
        tensors[f"base_model.model.{name}.lora_A.weight"] = a.contiguous()
        tensors[f"base_model.model.{name}.lora_B.weight"] = b.contiguous()
    return tensors, rank


def adapter_config(target_modules: list[str], rank: int, settings: LoRASettings, base: str) -> dict:
    """PEFT's LoraConfig fields for the adapter (alpha scaled with the rank so alpha / r is the run's)."""
    return {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base,
        "r": rank,
        "lora_alpha": settings.alpha * rank / settings.r,
        "lora_dropout": 0.0,
        "target_modules": target_modules,
        "bias": "none",
        "fan_in_fan_out": False,
        "use_rslora": False,
        "modules_to_save": None,
        "inference_mode": True,
    }


@torch.inference_mode()
def convert_lit_to_peft(checkpoint_dir: Path, output_dir: Path, overwrite: bool = False) -> None:
    """Export a LoRA run's weights as a PEFT adapter for its base's Hugging Face export (`litft convert lit_to_hf`
    of the base): adapter_config.json + adapter_model.safetensors, as peft, transformers and vLLM load them.

    Args:
        checkpoint_dir: A LoRA run directory (lit_model.pth.lora + hyperparameters.yaml naming the base).
        output_dir: Receives adapter_config.json and adapter_model.safetensors.
        overwrite: Write into an output_dir that holds files litft did not write (only the adapter files are replaced).
    """
    info = inspect_checkpoint(checkpoint_dir)
    if not isinstance(info.settings, LoRASettings) or not get_method(info.method).delta_only:
        advice = (
            "adapter-v2 weights have no PEFT or Hugging Face form: run it with litft generate or serve"
            if get_method(info.method).delta_only
            else "export the whole model with `litft convert lit_to_hf`"
        )
        raise LitftError(f"{checkpoint_dir} is a {info.method} checkpoint, not a LoRA run; {advice}.")
    inputs = (checkpoint_dir, info.path, info.base_dir)
    check_output_dir(output_dir, PEFT_EXPORT_KIND, overwrite=overwrite, inputs=inputs, flag="--output_dir")
    lora = {k: v for k, v in load_state_dict(info.weights_path).items() if ".lora_" in k}
    if not lora:
        raise LitftError(f"{info.weights_path} holds no LoRA weights; check that it is the run's LoRA file.")
    dtype = next(iter(lora.values())).dtype
    tensors, rank = peft_state(info, info.settings, lora)
    tensors = {name: tensor.to(dtype) for name, tensor in tensors.items()}
    modules = sorted({name.split(".")[-3] for name in tensors})
    base = str(info.base_dir) if info.base_dir else ""
    with output_dir_for(output_dir, PEFT_EXPORT_KIND, overwrite=overwrite, inputs=inputs, flag="--output_dir") as out:
        save_file(tensors, str(out / ADAPTER_WEIGHTS), metadata={"format": "pt"})
        config = adapter_config(modules, rank, info.settings, base)
        (out / ADAPTER_CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    print(
        f"Exported the LoRA weights of {info.path} as a PEFT adapter ({', '.join(modules)}; rank {rank}) to "
        f"{output_dir}; load it on `litft convert lit_to_hf` of the base ({HF_EXPORT_KIND})."
    )
