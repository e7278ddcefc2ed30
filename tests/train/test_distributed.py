"""Real multi-process training on CPU (gloo): Fabric's own launcher and `fabric run`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.training import train_losses

REPO = Path(__file__).resolve().parents[2]
ARGS = [
    "--train.max_steps",
    "8",
    "--train.global_batch_size",
    "8",
    "--train.micro_batch_size",
    "2",
    "--train.save_interval",
    "null",
    "--train.lr_warmup_steps",
    "0",
    "--train.log_interval",
    "1",
    "--eval.final_validation",
    "false",
    "--quiet",
    "true",
]


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LT_", "LOCAL_RANK", "WORLD_SIZE", "MASTER_"))}
    result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=400, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result


def _check(out: Path) -> None:
    checksums = json.loads((out / "final" / "rank_checksums.json").read_text())
    assert len(checksums) == 2 and checksums[0] == checksums[1]  # both replicas hold identical weights
    losses = train_losses(out)
    assert len(losses) == 8
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "data.json",
        "final",
        "logs",
    ]  # one checkpoint
    assert json.loads((out / "final" / "progress.json").read_text())["world_size"] == 2
    assert (out / "final" / "rank-1.pth").is_file()


@pytest.mark.slow
def test_pretrain_two_processes_fabric_launcher(tmp_path, lit_base, pt_data):
    out = tmp_path / "out"
    _run(
        [
            sys.executable,
            "pretrain/run_pretrain.py",
            str(pt_data),
            "--checkpoint_dir",
            str(lit_base),
            "--out_dir",
            str(out),
            "--accelerator",
            "cpu",
            "--devices",
            "2",
            "--strategy",
            "ddp",
            "--train.max_seq_length",
            "32",
            "--optimizer.lr",
            "3e-3",
            *ARGS,
        ]
    )
    _check(out)


@pytest.mark.slow
def test_lora_two_processes_fabric_run(tmp_path, lit_base, ft_data):
    out = tmp_path / "out"
    fabric = Path(sys.executable).parent / "fabric"
    _run(
        [
            str(fabric),
            "run",
            "--accelerator",
            "cpu",
            "--devices",
            "2",
            "finetune/lora.py",
            str(lit_base),
            str(ft_data),
            "--out_dir",
            str(out),
            "--optimizer.lr",
            "2e-2",
            "--eval.max_new_tokens",
            "0",
            *ARGS,
        ]
    )
    _check(out)
