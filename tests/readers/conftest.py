"""Fixtures for the reader tests: a tiny tokenizer and prepared pretraining / instruction data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.tiny_corpus import corpus_lines, make_tokenizer


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory) -> Path:
    return make_tokenizer(tmp_path_factory.mktemp("tokenizer") / "tok")


@pytest.fixture(scope="session")
def pretrain_dir(tmp_path_factory, tokenizer_dir) -> Path:
    from litft.prepare.pretrain import prepare_pretrain

    root = tmp_path_factory.mktemp("pretrain")
    (root / "pretrain.txt").write_text("\n".join(corpus_lines(300, seed=1)) + "\n", encoding="utf-8")
    prepare_pretrain(
        data=root / "pretrain.txt", out=root / "data", checkpoint_dir=tokenizer_dir, val_fraction=0.1, quiet=True
    )
    return root / "data"


@pytest.fixture(scope="session")
def finetune_dir(tmp_path_factory, tokenizer_dir) -> Path:
    from litft.prepare.finetune import prepare_finetune

    root = tmp_path_factory.mktemp("finetune")
    lines = corpus_lines(120, seed=2)
    records = [
        {
            "instruction": lines[i],
            "input": lines[i + 1] if i % 3 == 0 else "",
            "output": " ".join(lines[i + 2 : i + 2 + i % 4 + 1]),
        }
        for i in range(0, 100)
    ]
    (root / "train.json").write_text(json.dumps(records), encoding="utf-8")
    prepare_finetune(data=root / "train.json", out=root / "data", checkpoint_dir=tokenizer_dir, quiet=True)
    return root / "data"
