"""--activation_checkpointing without FSDP: each block's activations are recomputed in backward, and the run computes
exactly what it computes without (losses, gradients, weights, exact resume after SIGKILL)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml

from litft.cli import main
from litft.common.settings import AdapterV2Settings, LoRASettings
from litft.models.build import build_model, config_from_fields
from litft.models.methods import get_method
from litft.train.fabric_setup import checkpoint_blocks
from tests.support.training import command, read_rows, run_killed, train_losses, val_losses, weights

TINY = dict(
    name="tiny-checkpointing",
    block_size=32,
    n_layer=2,
    n_embd=32,
    n_head=4,
    n_query_groups=2,
    vocab_size=64,
    padding_multiple=64,
    norm_class_name="RMSNorm",
    mlp_class_name="LLaMAMLP",
    intermediate_size=48,
    bias=False,
    parallel_residual=False,
    rotary_percentage=1.0,
)
# LoRA with dropout on: checkpointing restores the RNG state for the recomputation, so the masks repeat exactly.
SETTINGS = {
    "full": None,
    "lora": LoRASettings(r=4, alpha=8, dropout=0.1, mlp=True),
    "adapter_v2": AdapterV2Settings(start_layer=1, prompt_length=4),
}
CHECKPOINTING = ["--activation_checkpointing", "true"]


def two_steps(method: str, checkpointing: bool, quantize: str | None = None):
    """(per step: loss, gradients by name), block forward calls, state_dict keys of two SGD steps on a fixed batch."""
    torch.manual_seed(0)
    config = config_from_fields(TINY, "test")
    if quantize is None:
        model = build_model(method, config, SETTINGS[method])
    else:
        from litft.models.quantize import build_quantized_model

        base = build_model("full", config).state_dict()
        model = build_quantized_model(method, config, SETTINGS[method], base, None, quantize, torch.float32, "cpu")
    get_method(method).prepare(model)
    for name, parameter in model.named_parameters():
        if "lora_B" in name:  # zero at init; nonzero so the LoRA path carries gradient to A
            torch.nn.init.normal_(parameter)
    calls = []
    for block in model.transformer.h:
        block.register_forward_pre_hook(lambda module, args: calls.append(1))
    if checkpointing:
        checkpoint_blocks(model, get_method(method).block_class)
    tokens = torch.randint(0, TINY["vocab_size"], (2, 17))
    steps = []
    for _ in range(2):
        logits = model(tokens[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten())
        loss.backward()
        grads = {
            name.replace("._checkpoint_wrapped_module", ""): parameter.grad.clone()
            for name, parameter in model.named_parameters()
            if parameter.grad is not None
        }
        steps.append((loss.detach(), grads))
        with torch.no_grad():
            for parameter in model.parameters():
                if parameter.grad is not None:
                    parameter -= 0.1 * parameter.grad
                    parameter.grad = None
    return steps, len(calls), list(model.state_dict())


@pytest.mark.parametrize(
    ("method", "quantize"),
    [("full", None), ("lora", None), ("adapter_v2", None), ("lora", "bnb.nf4")],
)
def test_checkpointed_blocks_give_bitwise_equal_losses_and_gradients(method, quantize):
    plain, plain_calls, plain_keys = two_steps(method, checkpointing=False, quantize=quantize)
    checkpointed, checkpointed_calls, checkpointed_keys = two_steps(method, checkpointing=True, quantize=quantize)
    assert plain_calls == 2 * TINY["n_layer"]
    assert checkpointed_calls == 2 * plain_calls  # every block ran again in backward
    assert checkpointed_keys == plain_keys  # checkpoints keep the names of an unwrapped model
    for (loss, grads), (loss_checkpointed, grads_checkpointed) in zip(plain, checkpointed, strict=True):
        assert torch.equal(loss, loss_checkpointed)
        assert grads.keys() == grads_checkpointed.keys() and grads
        for name in grads:
            assert torch.equal(grads[name], grads_checkpointed[name]), name


@pytest.mark.parametrize("method", ["full", "lora"])
def test_run_with_checkpointing_equals_the_run_without(method, uninterrupted, tmp_path, lit_base, ft_data, monkeypatch):
    """The whole tiny run (LoRA dropout 0.1, validation, sample generation) with blocks recomputed: bit-identical."""
    reference = uninterrupted(method)
    checkpointed_models = []

    def counting(model, block_class):
        checkpointed_models.append(model)
        checkpoint_blocks(model, block_class)

    monkeypatch.setattr("litft.train.job.checkpoint_blocks", counting)
    out = tmp_path / "out"
    main(command(method, lit_base, ft_data, out, CHECKPOINTING))
    assert len(checkpointed_models) == 1
    blocks = checkpointed_models[0].transformer.h
    assert all(type(block).__name__ == "CheckpointWrapper" for block in blocks)
    assert train_losses(out) == train_losses(reference)
    assert val_losses(out) == val_losses(reference)
    checkpointed, expected = weights(out / "final"), weights(reference / "final")
    assert checkpointed.keys() == expected.keys()
    for key in expected:
        assert torch.equal(checkpointed[key], expected[key]), key


@pytest.mark.slow
def test_exact_resume_after_sigkill_with_checkpointing(uninterrupted, tmp_path, lit_base, ft_data):
    """Killed in step 6 and resumed, both with checkpointing: identical to the uninterrupted run without it."""
    reference = uninterrupted("lora")
    out = tmp_path / "out"
    args = command("lora", lit_base, ft_data, out, CHECKPOINTING)
    killed = run_killed(args, kill_at_forward=11)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (out / "step-000004").is_dir() and not (out / "final").exists()
    assert len([row for row in read_rows(out) if row["loss"]]) == 5

    main(args + ["--resume", "auto"])

    assert train_losses(out) == train_losses(reference)
    assert val_losses(out) == val_losses(reference)
    resumed, expected = weights(out / "final"), weights(reference / "final")
    assert resumed.keys() == expected.keys()
    for key in expected:
        assert torch.equal(resumed[key], expected[key]), key


@pytest.mark.slow
def test_ddp_run_with_checkpointing_equals_the_ddp_run_without(tmp_path, lit_base, ft_data):
    """Two gloo processes (Fabric's launcher), LoRA with dropout: the same losses and weights with or without."""
    repo = Path(__file__).resolve().parents[2]
    outs = []
    for extra in ([], CHECKPOINTING):
        out = tmp_path / f"out{len(outs)}"
        args = command("lora", lit_base, ft_data, out, ["--devices", "2", "--strategy", "ddp", *extra])[2:]
        result = subprocess.run(
            [sys.executable, "finetune/lora.py", *args], cwd=repo, capture_output=True, text=True, timeout=400
        )
        assert result.returncode == 0, result.stderr[-4000:]
        outs.append(out)
    plain, checkpointed = outs
    assert len(train_losses(plain)) == 6
    assert train_losses(checkpointed) == train_losses(plain)
    expected, got = weights(plain / "final"), weights(checkpointed / "final")
    assert got.keys() == expected.keys()
    for key in expected:
        assert torch.equal(got[key], expected[key]), key


@pytest.mark.parametrize("packing", [False, True])
def test_auto_checkpointing_turns_on_from_the_longest_row(packing, tmp_path, lit_base, ft_data, monkeypatch):
    """The default `auto` checkpoints the blocks exactly when a training row can reach the threshold: the longest
    record less its last token (a target only), or the whole sequence length when rows are packed."""
    from litft.prepare.format import read_meta

    longest_record = read_meta(ft_data, "finetune")["splits"]["train"]["longest"]
    block_size = yaml.safe_load((lit_base / "model_config.yaml").read_text())["block_size"]
    longest_row = 100 if packing else longest_record - 1
    assert longest_row < block_size  # the records (or the packed rows' length), not the model, bound the rows
    checkpointed = []
    monkeypatch.setattr("litft.train.job.checkpoint_blocks", lambda model, block_class: checkpointed.append(model))
    extra = ["--train.max_steps", "1", "--data.packing", str(packing).lower()]
    extra += ["--train.max_seq_length", "100"] if packing else []
    for threshold, expected in ((longest_row + 1, 0), (longest_row, 1)):
        monkeypatch.setattr("litft.train.job.AUTO_CHECKPOINTING_TOKENS", threshold)
        main(command("lora", lit_base, ft_data, tmp_path / f"out{threshold}", extra))
        assert len(checkpointed) == expected
