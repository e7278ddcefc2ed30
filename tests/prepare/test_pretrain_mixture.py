"""`litft prepare pretrain --data A B --mix`: documents sampled in proportion, tokens counted per source, seeded."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from litft.cli import main
from litft.common.errors import LitftError
from litft.models.tokenizer import load_tokenizer
from litft.prepare.format import read_meta
from litft.prepare.mixture import check_mix, choose_mixture
from litft.prepare.pretrain import choose_validation

DOMAIN = [f"domain {i} the school offers engineering courses" + " research" * (i % 7) for i in range(40)]
GENERAL = [f"general {i} café über naïve" + " students apply" * (i % 5) for i in range(1000)]


def _write_sources(tmp_path: Path) -> tuple[Path, Path]:
    """Domain text one document per line, general text as chunks.jsonl records."""
    domain = tmp_path / "pretrain.txt"
    domain.write_text("\n".join(DOMAIN) + "\n", encoding="utf-8")
    general = tmp_path / "general.jsonl"
    general.write_text("".join(json.dumps({"text": text}) + "\n" for text in GENERAL), encoding="utf-8")
    return domain, general


def _run(tmp_path: Path, tokenizer_dir: Path, out: str, *extra: str) -> dict:
    domain, general = _write_sources(tmp_path)
    args = ["prepare", "pretrain", "--data", str(domain), str(general), "--checkpoint_dir", str(tokenizer_dir)]
    main([*args, "--out", str(tmp_path / out), "--quiet", *extra])
    return read_meta(tmp_path / out, "pretrain")


def test_a_mixture_holds_its_document_proportions_and_counts_tokens_per_source(tokenizer_dir, tmp_path):
    meta = _run(tmp_path, tokenizer_dir, "mix", "--mix", "0.8", "0.2", "--val_fraction", "0.1", "--seed", "3")
    mixture = meta["mixture"]
    # The domain source (40 documents) is the scarcer one for its 80% share: whole, beside 10 general documents.
    assert [(m["proportion"], m["available"], m["used"]) for m in mixture] == [(0.8, 40, 40), (0.2, 1000, 10)]
    assert [m["source"] for m in mixture] == [str(tmp_path / "pretrain.txt"), str(tmp_path / "general.jsonl")]

    # The token files are exactly the chosen documents, in input order, split by the seeded validation mask.
    tokenizer = load_tokenizer(tokenizer_dir)
    domain_ids, general_ids = choose_mixture([40, 1000], [0.8, 0.2], 3)
    chosen = [(0, DOMAIN[i]) for i in domain_ids] + [(1, GENERAL[i]) for i in general_ids]
    is_val = choose_validation(len(chosen), 0.1, 3)
    expected = {"train": [], "val": []}
    source_tokens = [0, 0]
    for (source, text), val in zip(chosen, is_val, strict=True):
        ids = tokenizer.encode(text, eos=True).tolist()
        expected["val" if val else "train"].extend(ids)
        source_tokens[source] += len(ids)
    for split in ("train", "val"):
        assert np.fromfile(tmp_path / "mix" / f"{split}.bin", dtype=np.uint16).tolist() == expected[split]
    assert (meta["splits"]["train"]["documents"], meta["splits"]["val"]["documents"]) == (45, 5)
    assert [m["tokens"] for m in mixture] == source_tokens
    assert sum(source_tokens) == meta["splits"]["train"]["tokens"] + meta["splits"]["val"]["tokens"]


def test_a_mixture_is_deterministic_for_a_seed_and_another_seed_samples_others(tokenizer_dir, tmp_path):
    first = _run(tmp_path, tokenizer_dir, "a", "--mix", "1", "3", "--val_fraction", "0")
    _run(tmp_path, tokenizer_dir, "b", "--mix", "1", "3", "--val_fraction", "0")
    other = _run(tmp_path, tokenizer_dir, "c", "--mix", "1", "3", "--val_fraction", "0", "--seed", "7")
    assert (tmp_path / "a" / "train.bin").read_bytes() == (tmp_path / "b" / "train.bin").read_bytes()
    assert (tmp_path / "a" / "train.bin").read_bytes() != (tmp_path / "c" / "train.bin").read_bytes()
    # Proportions are normalised; 40 domain documents at 25% allow 120 general ones at 75%.
    for meta in (first, other):
        assert [(m["proportion"], m["used"]) for m in meta["mixture"]] == [(0.25, 40), (0.75, 120)]
    assert first["splits"]["train"]["documents"] == 160


def test_without_mix_the_sources_are_concatenated_and_no_mixture_is_recorded(tokenizer_dir, tmp_path):
    meta = _run(tmp_path, tokenizer_dir, "plain", "--val_fraction", "0")
    assert meta["mixture"] is None and meta["splits"]["train"]["documents"] == 1040


@pytest.mark.parametrize(
    ("mix", "message"),
    [
        (["0.8"], "--mix gives 1 proportion(s) for 2 --data source(s)"),
        (["0.8", "0.2", "0.1"], "--mix gives 3 proportion(s) for 2 --data source(s)"),
        (["0.8", "-0.2"], "must be positive proportions"),
        (["0", "0"], "must be positive proportions"),
    ],
)
def test_a_bad_mix_is_one_sentence_exit_2_and_nothing_written(tokenizer_dir, tmp_path, capsys, mix, message):
    with pytest.raises(SystemExit) as exit_info:
        _run(tmp_path, tokenizer_dir, "out", "--mix", *mix)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err
    assert not (tmp_path / "out").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_an_infinite_or_nan_proportion_from_python_is_refused():
    for mix in ([math.inf, 1.0], [math.nan, 1.0]):
        with pytest.raises(LitftError, match="must be positive proportions"):
            check_mix(2, mix)
