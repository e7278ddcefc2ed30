"""The quantized base (litft.models.quantize): its size measured from its tensors, its output against the
dequantized weights, its layer-by-layer load, and the one-sentence refusals."""

from __future__ import annotations

import gc
from pathlib import Path

import bitsandbytes as bnb
import pytest
import torch

from litft.common.errors import LitftError
from litft.models.build import build_model, resolve_config
from litft.models.checkpoint import inspect_checkpoint, load_model, load_state_dict
from litft.models.quantize import (
    QUANTIZE_MODES,
    build_quantized_model,
    check_quantize,
    dequantized_copy_bytes,
    is_quantized,
    stored_bytes,
)

TOKENS = torch.randint(0, 384, (2, 19), generator=torch.Generator().manual_seed(5))


RELATIVE_ERROR = {"bnb.nf4": 0.3, "bnb.nf4-dq": 0.3, "bnb.fp4": 0.3, "bnb.fp4-dq": 0.3, "bnb.int8": 0.01}


def quantized_base(lit_base, mode, method="lora"):
    info = inspect_checkpoint(lit_base)
    base = load_state_dict(info.weights_path)
    model = build_quantized_model(method, info.config, None, base, None, mode, torch.float32, "cpu")
    return model.eval(), base


def dequantized(layer: torch.nn.Module) -> torch.Tensor:
    """The weight a quantized layer stands for, rebuilt by bitsandbytes' own dequantization."""
    weight = layer.weight
    if isinstance(layer, bnb.nn.Linear8bitLt):
        return bnb.functional.int8_vectorwise_dequant(weight.data, weight.SCB)
    return bnb.functional.dequantize_4bit(weight.data, weight.quant_state)


@pytest.mark.parametrize("mode, most", [("bnb.nf4", 0.30), ("bnb.nf4-dq", 0.30), ("bnb.fp4", 0.30), ("bnb.int8", 0.55)])
def test_quantized_base_is_that_much_smaller_than_bf16(mode, most):
    # litft-small-llama, not the 2-layer test base: a layer's fixed cost (the 1 KB double-quantization code book)
    # would dominate layers of a few thousand weights, which no real model has
    config = resolve_config("litft-small-llama")
    torch.manual_seed(0)
    base = build_model("full", config).state_dict()
    model = build_quantized_model("lora", config, None, base, None, mode, torch.bfloat16, "cpu")
    layers = {name: module for name, module in model.named_modules() if is_quantized(module)}
    # every Linear of the blocks is quantized; the output layer and the embeddings are not
    assert len(layers) == config.n_layer * 5 and not any(name.startswith("lm_head") for name in layers)
    bf16_bytes = sum(base[name.replace(".linear", "") + ".weight"].numel() * 2 for name in layers)
    ratio = sum(stored_bytes(layer) for layer in layers.values()) / bf16_bytes
    assert ratio <= most, ratio
    assert all(p.requires_grad == ("lora_" in n) for n, p in model.named_parameters())
    assert {p.dtype for n, p in model.named_parameters() if p.requires_grad} == {torch.bfloat16}


@pytest.mark.parametrize("mode", ["bnb.nf4", "bnb.int8"])
def test_the_smallest_weight_copy_is_the_smallest_quantized_layer_in_the_compute_dtype(lit_base, mode):
    # measured on the meta device before the load; the quantized model's layers agree
    model, _ = quantized_base(lit_base, mode)
    smallest = min(m.in_features * m.out_features for m in model.modules() if is_quantized(m))
    config = inspect_checkpoint(lit_base).config
    assert dequantized_copy_bytes("lora", config, None, torch.bfloat16) == smallest * 2 == 8192
    assert dequantized_copy_bytes("lora", config, None, torch.float32) == smallest * 4


@pytest.mark.parametrize("mode", sorted(QUANTIZE_MODES))
def test_quantized_layers_compute_with_their_dequantized_weights(lit_base, mode):
    model, base = quantized_base(lit_base, mode, method="full")
    for name, layer in model.named_modules():
        if not is_quantized(layer):
            continue
        original = base[name + ".weight"]
        weight = dequantized(layer)
        # rounding error relative to the weight (4-bit: 16 levels per block of 64; int8: 255 levels per row)
        relative = float((weight - original).norm() / original.norm())
        assert 0 < relative <= RELATIVE_ERROR[mode], (name, relative)
        x = torch.randn(3, original.shape[1], generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            out = layer(x)
        # int8 also quantizes the input rows (LLM.int8), so its output differs from x @ W^T by that rounding too
        tolerance = 3e-2 if mode == "bnb.int8" else 1e-5
        torch.testing.assert_close(
            out, x @ weight.T, rtol=0, atol=tolerance * x.abs().max() * weight.abs().sum(1).max()
        )


def test_load_model_quantizes_and_matches_the_full_precision_model_roughly(lit_base):
    full, _ = load_model(lit_base)
    quantized, _ = load_model(lit_base, quantize="bnb.nf4")
    assert sum(is_quantized(m) for m in quantized.modules()) == 10
    with torch.no_grad():
        expected, got = full(TOKENS), quantized(TOKENS)
    # NF4 rounding of a random tiny model (~25% relative weight error, above): the logits move, less than their spread
    assert 0 < (got - expected).abs().max() < 0.6 * expected.std()


def test_unknown_mode_and_missing_avx2_are_one_sentence(monkeypatch):
    with pytest.raises(LitftError, match=r"--quantize 'bnb.nf5' is unknown; choose one of bnb.nf4, .* or none\.$"):
        check_quantize("bnb.nf5", torch.device("cpu"))
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "DEFAULT")
    with pytest.raises(LitftError, match="needs a processor with AVX2") as error:
        check_quantize("bnb.nf4", torch.device("cpu"))
    assert str(error.value).count(". ") == 0  # one sentence


@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="reads the process's mappings (Linux)")
@pytest.mark.filterwarnings("ignore::FutureWarning")  # gc.get_objects() holds torch.distributed's deprecated alias
def test_no_full_precision_copy_of_a_quantized_weight_stays_alive_after_the_load(lit_base):
    info = inspect_checkpoint(lit_base)
    model, base = quantized_base(lit_base, "bnb.nf4")
    shapes = {tuple(m.weight.quant_state.shape) for m in model.modules() if is_quantized(m)}
    del base
    gc.collect()
    # the memory-mapped checkpoint is closed once the loader is done: no model tensor (or closure) still views it
    assert str(info.weights_path.resolve()) not in Path("/proc/self/maps").read_text()
    owned = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    leftovers = [
        tuple(o.shape)
        for o in gc.get_objects()
        if isinstance(o, torch.Tensor)
        and not o.is_meta
        and o.is_floating_point()
        and tuple(o.shape) in shapes
        and o.untyped_storage().data_ptr() not in owned
    ]
    assert not leftovers  # each quantized layer keeps its packed weight only, not the weight it was made from


def test_backward_through_a_quantized_layer_keeps_only_its_packed_weight(lit_base):
    model, _ = quantized_base(lit_base, "bnb.nf4")
    layers = [m for m in model.modules() if is_quantized(m)]
    dequantized_shapes = {tuple(m.weight.quant_state.shape) for m in layers}
    dequantized_shapes |= {shape[::-1] for shape in dequantized_shapes}
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = []

    def remember(tensor):
        if tensor.untyped_storage().data_ptr() not in parameters:
            saved.append(tensor)
        return tensor

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(remember, lambda tensor: tensor):
        loss = model(TOKENS).float().logsumexp(-1).mean()
    # the activations autograd saves: none is a full-precision weight of a quantized layer
    assert saved and not [tuple(t.shape) for t in saved if tuple(t.shape) in dequantized_shapes]
    # bitsandbytes' 4-bit matmul keeps its weight on the context, outside the hooks: it must be the packed one
    nodes, seen, kept = [loss.grad_fn], set(), []
    while nodes:
        node = nodes.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if type(node).__name__ == "MatMul4BitBackward":
            kept.append(node.tensors[1])
        nodes.extend(next_node for next_node, _ in node.next_functions)
    packed_bytes = {m.weight.untyped_storage().nbytes() for m in layers}
    assert kept and all(t.dtype == torch.uint8 and t.untyped_storage().nbytes() in packed_bytes for t in kept)
    loss.backward()
    assert all(p.grad is not None for n, p in model.named_parameters() if "lora_" in n)
