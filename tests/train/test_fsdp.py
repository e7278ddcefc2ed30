"""FSDP on CPU (gloo, `CPUFSDPStrategy`): 2 real processes for full and LoRA fine-tuning.

Rank r takes every other micro batch of the same epoch order, so 2 processes x 2 accumulation steps see the
records that 1 process sees in 4: a 2-process FSDP run must match a 1-process run of the same global batch.
"""

from __future__ import annotations

import os
import subprocess
import sys
from itertools import islice
from pathlib import Path

import pytest
import torch

from tests.support.training import train_losses, val_losses, weights

REPO = Path(__file__).resolve().parents[2]
ARGS = [
    "--accelerator",
    "cpu",
    "--train.max_steps",
    "6",
    "--train.global_batch_size",
    "8",
    "--train.micro_batch_size",
    "2",
    "--train.save_interval",
    "3",
    "--train.lr_warmup_steps",
    "0",
    "--train.log_interval",
    "1",
    "--eval.interval",
    "100",
    "--eval.max_iters",
    "2",
    "--eval.max_new_tokens",
    "4",
    "--optimizer.lr",
    "3e-3",
    "--quiet",
    "true",
]
LORA = ["--lora.dropout", "0.0", "--lora.mlp", "true", "--activation_checkpointing", "true"]


def _train(method: str, base: Path, data: Path, out: Path, *extra: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LT_", "LOCAL_RANK", "WORLD_SIZE", "MASTER_"))}
    argv = [
        sys.executable,
        f"finetune/{method}.py",
        str(base),
        str(data),
        "--out_dir",
        str(out),
        *ARGS,
        *(LORA if method == "lora" else []),
        *extra,
    ]
    result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=400, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]


def test_fsdp_strategy_wraps_the_method_block_and_runs_on_cpu_only_through_the_subclass():
    from lightning.fabric.strategies import FSDPStrategy
    from litgpt.lora import Block as LoRABlock

    from litft.models.methods import get_method
    from litft.train.fabric_setup import CPUFSDPStrategy, build_strategy

    block = get_method("lora").block_class
    assert block is LoRABlock
    cpu = build_strategy("fsdp", True, block, "cpu")
    assert type(cpu) is CPUFSDPStrategy and cpu._fsdp_kwargs["use_orig_params"]
    assert type(build_strategy("fsdp", False, block, "cuda")) is FSDPStrategy


@pytest.mark.slow
@pytest.mark.parametrize("method", ["full", "lora"])
def test_fsdp_two_processes_on_cpu(method, tmp_path, lit_base, ft_data):
    from litft.models.checkpoint import load_model
    from litft.train.data import open_finetune
    from litft.train.steps import token_loss_sum

    fsdp = tmp_path / "fsdp"
    _train(method, lit_base, ft_data, fsdp, "--devices", "2", "--strategy", "fsdp")
    losses = train_losses(fsdp)
    assert len(losses) == 6 and sum(losses[-2:]) < sum(losses[:2])
    assert sorted(p.name for p in fsdp.iterdir() if not p.name.startswith(".")) == [
        "data.json",
        "final",
        "logs",
        "step-000003",
    ]
    assert {p.name for p in (fsdp / "final").glob("rank-*.pth")} == {"rank-0.pth", "rank-1.pth"}

    # The checkpoint FSDP gathered from both ranks' shards is the trained model: rebuilt with load_model, it
    # gives the validation loss the run computed at the end.
    model, _ = load_model(fsdp / "final")
    model.max_seq_length = 128
    _, val = open_finetune(
        ft_data, max_length=129, micro_batch_size=2, rank=0, world_size=1, seed=0, shuffle=False, group_by_length=True
    )
    with torch.no_grad():
        batches = list(islice(val.batches(), 4))  # 2 batches per rank x 2 ranks
        loss = sum(float(token_loss_sum(model, b)) for b in batches) / sum(b.target_tokens for b in batches)
    assert loss == pytest.approx(val_losses(fsdp)[-1][1], rel=1e-5)

    if method == "full":  # one process sees the same records per step (LoRA's A is initialised differently under FSDP)
        single = tmp_path / "single"
        _train(method, lit_base, ft_data, single, "--devices", "1", "--train.save_interval", "null")
        # fp32 sums in another order (sharded gradients reduce-scattered), amplified by Adam over 6 steps
        assert losses == pytest.approx(train_losses(single), rel=1e-4)
        expected, gathered = weights(single / "final"), weights(fsdp / "final")
        assert expected.keys() == gathered.keys()
        for key in expected:
            torch.testing.assert_close(gathered[key], expected[key], rtol=0, atol=1e-4, msg=key)

    # Resume under FSDP from step 3: sharded optimizer state and the (delta) weights come back exactly.
    resumed = tmp_path / "resumed"
    _train(
        method,
        lit_base,
        ft_data,
        resumed,
        "--devices",
        "2",
        "--strategy",
        "fsdp",
        "--resume",
        str(fsdp / "step-000003"),
    )
    assert train_losses(resumed) == pytest.approx(losses[3:], rel=1e-6)
    for key, value in weights(fsdp / "final").items():
        torch.testing.assert_close(weights(resumed / "final")[key], value, rtol=0, atol=1e-6, msg=key)
