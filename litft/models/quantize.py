"""A frozen base in 4 or 8 bits (QLoRA), built by calling bitsandbytes directly, one layer at a time.

Lightning's BitsandbytesPrecision (what litgpt's `--quantize` uses) converts a whole model and works on CUDA
only; bitsandbytes itself runs its 4-bit and 8-bit layers on x86 CPUs too (>= 0.47). The model is built on the
meta device, its base weights are memory-mapped from the checkpoint, and each frozen Linear is quantized and
swapped in before the next one is read, so memory peaks near the quantized size plus one layer in the run's
precision. Everything else (embeddings, norms, the output layer, LoRA weights) stays in the run's precision.
Training, `generate`, `chat` and `evaluate` all load a quantized base through `build_quantized_model`.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from litft.common.errors import LitftError
from litft.models.build import build_model, load_weights

NO_QUANTIZATION = "none"


@dataclass(frozen=True)
class QuantizeMode:
    """One `--quantize` value: bitsandbytes' 4-bit data type (None: LLM.int8) and double quantization."""

    quant_type: str | None
    double_quant: bool = False


QUANTIZE_MODES: dict[str, QuantizeMode] = {
    "bnb.nf4": QuantizeMode("nf4"),
    "bnb.nf4-dq": QuantizeMode("nf4", double_quant=True),
    "bnb.fp4": QuantizeMode("fp4"),
    "bnb.fp4-dq": QuantizeMode("fp4", double_quant=True),
    "bnb.int8": QuantizeMode(None),
}
# The output layer stays in the run's precision, as in the QLoRA paper and peft/transformers' default.
UNQUANTIZED_MODULES = ("lm_head",)


def resolve_quantize(mode: str | None) -> str | None:
    """None for no quantization (`none` or nothing given); an unknown mode is a user error."""
    if mode is None or mode == NO_QUANTIZATION:
        return None
    if mode not in QUANTIZE_MODES:
        raise LitftError(f"--quantize {mode!r} is unknown; choose one of {', '.join(QUANTIZE_MODES)} or none.")
    return mode


def check_quantize(mode: str, device: torch.device) -> None:
    """Refuse, in one sentence, a mode bitsandbytes cannot run here (not installed, or a CPU without AVX2)."""
    resolve_quantize(mode)
    try:
        import bitsandbytes  # noqa: F401
    except ModuleNotFoundError:
        raise LitftError(
            f"--quantize {mode} needs the bitsandbytes package; `pip install 'litft[quantize]'`."
        ) from None
    if device.type == "cpu" and platform.machine().lower() in ("x86_64", "amd64"):
        if torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"):
            raise LitftError(
                f"--quantize {mode} on the CPU needs a processor with AVX2 (bitsandbytes' CPU kernels); "
                "use a CUDA GPU or --quantize none."
            )


def quantized_linear(
    linear: torch.nn.Linear, mode: str, dtype: torch.dtype, device: torch.device | str
) -> torch.nn.Module:
    """A frozen bitsandbytes layer computing in `dtype` with `linear`'s weights, quantized on `device`."""
    import bitsandbytes as bnb

    spec = QUANTIZE_MODES[mode]
    has_bias = linear.bias is not None
    # The weight is cast on the CPU (one layer at a time) and quantized as it moves: Int8Params quantizes only then.
    weight = linear.weight.detach().to(device="cpu", dtype=dtype)
    if spec.quant_type is None:
        layer = bnb.nn.Linear8bitLt(
            linear.in_features, linear.out_features, bias=has_bias, has_fp16_weights=False, device="meta"
        )
        layer.weight = bnb.nn.Int8Params(weight, requires_grad=False, has_fp16_weights=False).to(device)
    else:
        layer = bnb.nn.Linear4bit(
            linear.in_features,
            linear.out_features,
            bias=has_bias,
            compute_dtype=dtype,
            compress_statistics=spec.double_quant,
            quant_type=spec.quant_type,
            device="meta",
        )
        layer.weight = bnb.nn.Params4bit(
            weight, requires_grad=False, quant_type=spec.quant_type, compress_statistics=spec.double_quant
        ).to(device)
        # bitsandbytes repacks 4-bit weights for its AVX512-BF16 CPU kernel on the first no-grad eval forward; that
        # fails for out_features not divisible by 32 (fc_1 of many models) and makes validation and generation use
        # another kernel than training, so the one kernel that trained the model also evaluates it.
        layer.support_avx512bf16_for_cpu = False
    if has_bias:
        layer.bias = torch.nn.Parameter(linear.bias.detach().to(device=device, dtype=dtype), requires_grad=False)
    return layer


def frozen_linears(model: torch.nn.Module) -> list[tuple[str, torch.nn.Linear]]:
    """The Linears `--quantize` quantizes, with their names: every one but the output layer."""
    return [
        (name, module)
        for name, module in model.named_modules()
        if type(module) is torch.nn.Linear and not name.startswith(UNQUANTIZED_MODULES)
    ]


def dequantized_copy_bytes(method: str, config: Any, settings: Any, dtype: torch.dtype) -> int:
    """Bytes of the smallest full-precision weight copy the method's quantized model makes as it computes in `dtype`.

    On the CPU every 4-bit and 8-bit layer of bitsandbytes computes with such a copy of its weight, made and dropped
    in every forward and backward pass (and loading makes one per layer); litft.train.host_memory maps copies of
    this size and above on their own. Measured on the model built on the meta device, before any weight is read."""
    model = build_model(method, config, settings, device="meta", dtype=dtype)
    return min(linear.in_features * linear.out_features for _, linear in frozen_linears(model)) * dtype.itemsize


def quantize_frozen_linears(model: torch.nn.Module, mode: str, dtype: torch.dtype, device: torch.device | str) -> int:
    """Swap every Linear but the output layer for its frozen quantized layer, one at a time; returns how many.

    LoRA's own weights are not Linear modules, so a LoRA model keeps them trainable; the methods that train the
    base Linears refuse `--quantize` for training (Method.check_quantize), and for inference any model may be."""
    targets = frozen_linears(model)
    for name, module in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, quantized_linear(module, mode, dtype, device))
    return len(targets)


def stored_bytes(module: torch.nn.Module) -> int:
    """Bytes the module's parameters and buffers keep, with each quantized weight's statistics: a 4-bit weight's
    absmax and code book (and their nested ones under double quantization), an 8-bit weight's row scales."""
    total = 0
    for tensor in (*module.parameters(), *module.buffers()):
        parts = [tensor]
        state = getattr(tensor, "quant_state", None)
        if state is not None:
            parts += [state.absmax, state.code]
            if state.nested:
                parts += [state.state2.absmax, state.state2.code, state.offset]
        if getattr(tensor, "SCB", None) is not None:
            parts.append(tensor.SCB)
        total += sum(part.numel() * part.element_size() for part in parts)
    return total


def is_quantized(module: torch.nn.Module) -> bool:
    import bitsandbytes as bnb

    return isinstance(module, (bnb.nn.Linear4bit, bnb.nn.Linear8bitLt))


def _materialize_rest(model: torch.nn.Module, dtype: torch.dtype, device: torch.device | str) -> None:
    """Move every tensor outside the quantized layers to `device` in `dtype`; a parameter still on the meta device
    (a fresh run's LoRA weights) is allocated there and initialised by its module's `reset_parameters`. A Parameter
    two modules share (tied embeddings) is moved once and stays shared."""
    moved: dict[torch.nn.Parameter, torch.nn.Parameter] = {}  # tensors hash by identity
    for module in model.modules():
        if is_quantized(module):
            continue
        fresh = False
        for name, parameter in list(module._parameters.items()):
            if parameter is None:
                continue
            if parameter in moved:
                module._parameters[name] = moved[parameter]
                continue
            if parameter.is_meta:
                value, fresh = torch.empty(parameter.shape, device=device, dtype=dtype), True
            else:
                # a copy even where device and dtype match: the checkpoint file stays mapped while any tensor views it
                value = parameter.detach().to(
                    device=device, dtype=dtype if parameter.is_floating_point() else None, copy=True
                )
            module._parameters[name] = moved[parameter] = torch.nn.Parameter(
                value, requires_grad=parameter.requires_grad
            )
        for name, buffer in list(module._buffers.items()):
            if buffer is not None and not buffer.is_meta:
                module._buffers[name] = buffer.to(
                    device=device, dtype=dtype if buffer.is_floating_point() else None, copy=True
                )
        if fresh:
            module.reset_parameters()  # litgpt's LoRA layers: kaiming A, zero B (their base Linear is quantized)


def build_quantized_model(
    method: str,
    config: Any,
    settings: Any,
    base: Mapping[str, torch.Tensor],
    trained: Mapping[str, torch.Tensor] | None,
    mode: str,
    dtype: torch.dtype,
    device: torch.device | str,
) -> torch.nn.Module:
    """The method's model on `device`: its frozen Linears quantized from `base` layer by layer, its other weights
    (and `trained`, else a fresh initialisation of the method's own parameters) in `dtype`."""
    model = build_model(method, config, settings, device="meta", dtype=dtype)
    load_weights(model, method, base, trained, assign=True)  # memory-mapped tensors: nothing is copied yet
    quantize_frozen_linears(model, mode, dtype, device)
    _materialize_rest(model, dtype, device)
    model.cos, model.sin = model.rope_cache(device=torch.device(device))  # litgpt's RoPE buffers were built on meta
    return model
