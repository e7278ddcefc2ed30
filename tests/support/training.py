"""Shared settings of the training tests: tiny runs of 6 steps with checkpoints every 2."""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
from pathlib import Path

import torch

COMMON = [
    "--accelerator",
    "cpu",
    "--train.max_steps",
    "6",
    "--train.global_batch_size",
    "4",
    "--train.micro_batch_size",
    "2",
    "--train.save_interval",
    "2",
    "--train.keep_last",
    "2",
    "--train.log_interval",
    "1",
    "--train.lr_warmup_steps",
    "2",
    "--eval.interval",
    "3",
    "--eval.max_iters",
    "2",
    "--optimizer.lr",
    "1e-3",
    "--quiet",
    "true",
]
WORDS = (
    "the school offers programs in mechanical civil electrical and software engineering with courses "
    "admissions faculty research labs students apply before march deadline tuition scholarship campus"
).split()


def sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def command(method: str, base: Path, data: Path, out: Path, extra: list[str] | None = None) -> list[str]:
    """`litft` arguments for a tiny run of `method` (pretraining continues from the base checkpoint)."""
    if method == "pretrain":
        head = [
            "pretrain",
            str(data),
            "--checkpoint_dir",
            str(base),
            "--train.max_seq_length",
            "32",
            "--eval.max_new_tokens",
            "0",
        ]
    else:
        head = ["finetune", method, str(base), str(data), "--eval.max_new_tokens", "4"]
        if method == "lora":
            head += ["--lora.dropout", "0.1", "--lora.mlp", "true"]
        if method == "adapter_v2":  # layer 1 of 2 gets the adapter prompt and gate
            head += ["--adapter.start_layer", "1", "--adapter.prompt_length", "4"]
    return head + ["--out_dir", str(out)] + COMMON + (extra or [])


def read_rows(out: Path) -> list[dict[str, str]]:
    with open(out / "logs" / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def train_losses(out: Path) -> list[float]:
    return [float(row["loss"]) for row in read_rows(out) if row["loss"]]


def val_losses(out: Path) -> list[tuple[int, float]]:
    return [(int(row["step"]), float(row["val_loss"])) for row in read_rows(out) if row["val_loss"]]


def weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    from litft.models.checkpoint import inspect_checkpoint, load_state_dict

    return dict(load_state_dict(inspect_checkpoint(checkpoint).weights_path))


def run_killed(args: list[str], kill_at_forward: int | str) -> subprocess.CompletedProcess:
    """Run a litft command in a subprocess SIGKILLed at that training forward pass, with this process's torch
    thread count (the uninterrupted run it is compared with ran here; thread count changes float rounding)."""
    env = {**os.environ, "LITFT_TEST_THREADS": str(torch.get_num_threads())}
    script = Path(__file__).parent / "killed_run.py"
    return subprocess.run(
        [sys.executable, str(script), str(kill_at_forward), *args], capture_output=True, text=True, timeout=300, env=env
    )
