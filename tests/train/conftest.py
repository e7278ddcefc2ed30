"""Prepared pretraining and instruction data for the training tests, built once per session on `lit_base`."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.support.training import command, sentence


@pytest.fixture(scope="session")
def pt_data(tmp_path_factory, lit_base) -> Path:
    from litft.prepare.pretrain import prepare_pretrain

    root = tmp_path_factory.mktemp("pt")
    rng = random.Random(0)
    (root / "pretrain.txt").write_text("\n".join(sentence(rng, 5, 40) for _ in range(300)), encoding="utf-8")
    prepare_pretrain(
        data=root / "pretrain.txt", out=root / "data", checkpoint_dir=lit_base, val_fraction=0.1, quiet=True
    )
    return root / "data"


@pytest.fixture(scope="session")
def ft_data(tmp_path_factory, lit_base) -> Path:
    from litft.prepare.finetune import prepare_finetune

    root = tmp_path_factory.mktemp("ft")
    rng = random.Random(1)
    records = [{"instruction": sentence(rng, 2, 10), "input": "", "output": sentence(rng, 2, 30)} for _ in range(80)]
    (root / "sft.json").write_text(json.dumps(records), encoding="utf-8")
    prepare_finetune(data=root / "sft.json", out=root / "data", checkpoint_dir=lit_base, val_fraction=0.1, quiet=True)
    return root / "data"


@pytest.fixture(scope="session")
def uninterrupted(tmp_path_factory, lit_base, pt_data, ft_data):
    """One complete run per method, made on first use and shared by the tests below."""
    runs: dict[str, Path] = {}

    def get(method: str) -> Path:
        if method not in runs:
            out = tmp_path_factory.mktemp(f"run-{method}") / "out"
            from litft.cli import main

            main(command(method, lit_base, pt_data if method == "pretrain" else ft_data, out))
            runs[method] = out
        return runs[method]

    return get
