"""`prepare finetune` reads the forms users have: the same records as JSON, JSONL, CSV, TSV, Parquet, a
save_to_disk folder and a Hub id (a local Parquet dataset through `datasets`, offline) give byte-identical
token files; a mixture holds its proportions; bad input is one sentence, exit 2, nothing written."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow
import pyarrow.parquet
import pytest

from litft.cli import main
from litft.prepare.finetune import prepare_finetune
from litft.prepare.format import read_meta
from tests.support.tiny_corpus import corpus_lines

LINES = corpus_lines(40, seed=5)
RECORDS = [{"Input": LINES[i], "Output": LINES[i + 1], "id": str(i)} for i in range(0, 36, 2)]
FIELDS = "instruction=Input,output=Output"


def _write_csv(path: Path, delimiter: str) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(RECORDS[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(RECORDS)
    return path


def _write_every_form(root: Path) -> dict[str, str]:
    import datasets

    (root / "r.json").write_text(json.dumps(RECORDS), encoding="utf-8")
    (root / "r.jsonl").write_text("".join(json.dumps(r) + "\n\n" for r in RECORDS), encoding="utf-8")
    _write_csv(root / "r.csv", ",")
    _write_csv(root / "r.tsv", "\t")
    pyarrow.parquet.write_table(pyarrow.Table.from_pylist(RECORDS), root / "r.parquet")
    datasets.Dataset.from_list(RECORDS).save_to_disk(str(root / "saved"))
    hub = root / "hub" / "owner" / "meta-review" / "data"
    hub.mkdir(parents=True)
    pyarrow.parquet.write_table(pyarrow.Table.from_pylist(RECORDS), hub / "train-00000-of-00001.parquet")
    return {
        "json": str(root / "r.json"),
        "jsonl": str(root / "r.jsonl"),
        "csv": str(root / "r.csv"),
        "tsv": str(root / "r.tsv"),
        "parquet": str(root / "r.parquet"),
        "saved": str(root / "saved"),
        "hub": "hf:owner/meta-review",
    }


def test_every_input_form_gives_byte_identical_token_files(tokenizer_dir, tmp_path, monkeypatch):
    forms = _write_every_form(tmp_path)
    monkeypatch.chdir(tmp_path / "hub")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    files = {}
    for name, data in forms.items():
        out = tmp_path / f"out_{name}"
        meta = prepare_finetune(data=data, out=out, checkpoint_dir=tokenizer_dir, fields=FIELDS, quiet=True)
        assert meta["splits"]["train"]["records"] == len(RECORDS)
        files[name] = ((out / "train.bin").read_bytes(), (out / "train.index.npy").read_bytes())
    assert all(value == files["json"] for value in files.values()), [k for k, v in files.items() if v != files["json"]]
    assert read_meta(tmp_path / "out_hub")["sources"]["train"] == "hf:owner/meta-review"


def test_a_mixture_holds_its_proportions_and_is_recorded(tokenizer_dir, tmp_path):
    domain = [{"instruction": f"domain {i}", "output": "d"} for i in range(40)]
    general = [{"instruction": f"general {i}", "output": "g"} for i in range(1000)]
    (tmp_path / "domain.json").write_text(json.dumps(domain), encoding="utf-8")
    (tmp_path / "general.jsonl").write_text("".join(json.dumps(r) + "\n" for r in general), encoding="utf-8")
    args = ["prepare", "finetune", "--data", str(tmp_path / "domain.json"), str(tmp_path / "general.jsonl")]
    args += ["--mix", "0.8", "0.2", "--checkpoint_dir", str(tokenizer_dir), "--quiet"]
    main([*args, "--out", str(tmp_path / "mix")])
    meta = read_meta(tmp_path / "mix", "finetune")
    assert [(m["proportion"], m["available"], m["used"]) for m in meta["mixture"]] == [(0.8, 40, 40), (0.2, 1000, 10)]
    assert meta["splits"]["train"]["records"] == 50
    main([*args, "--out", str(tmp_path / "again")])  # seeded: the same mixture again
    assert (tmp_path / "mix" / "train.bin").read_bytes() == (tmp_path / "again" / "train.bin").read_bytes()
    main([*args, "--seed", "7", "--out", str(tmp_path / "other")])
    assert (tmp_path / "mix" / "train.bin").read_bytes() != (tmp_path / "other" / "train.bin").read_bytes()


def _unreadable_parquet(root: Path) -> str:
    (root / "bad.parquet").write_bytes(b"PAR1 this is not parquet")
    return str(root / "bad.parquet")


def _csv_without_output(root: Path) -> str:
    (root / "typo.csv").write_text("Input,Outptu\nhello,world\n", encoding="utf-8")
    return str(root / "typo.csv")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_csv_without_output, "typo.csv row 1 has no 'Output' field (the output; it has Input, Outptu)"),
        (_unreadable_parquet, "bad.parquet is not a readable Parquet file"),
        (lambda root: "hf:nobody-here/not-cached", "not in the local cache and the Hub is unreachable"),
    ],
)
def test_bad_input_is_one_sentence_exit_2_and_nothing_written(
    make, message, tokenizer_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    data = make(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(
            ["prepare", "finetune", "--data", data, "--out", str(tmp_path / "out"), "--fields", FIELDS]
            + ["--checkpoint_dir", str(tokenizer_dir)]
        )
    error = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and message in error and len(error.splitlines()) == 1, error
    assert not (tmp_path / "out").exists()


def test_fields_given_as_json_or_pairs_map_the_same(tokenizer_dir, tmp_path):
    (tmp_path / "r.json").write_text(json.dumps(RECORDS[:4]), encoding="utf-8")
    for name, fields in (("pairs", FIELDS), ("json", '{"instruction": "Input", "output": "Output"}')):
        args = ["prepare", "finetune", "--data", str(tmp_path / "r.json"), "--fields", fields]
        main([*args, "--checkpoint_dir", str(tokenizer_dir), "--out", str(tmp_path / name), "--quiet"])
    assert np.array_equal(
        np.load(tmp_path / "pairs" / "train.index.npy"), np.load(tmp_path / "json" / "train.index.npy")
    )


def test_csv_cells_keep_line_separators_and_a_short_row_is_refused(tmp_path):
    from litft.common.errors import LitftError
    from litft.data.tables import read_table

    scraped = tmp_path / "scraped.csv"
    scraped.write_text("instruction,output\nWhat is\u2028 up,fine\x0c answer\nq2,a2\n", encoding="utf-8")
    assert [record for _, record in read_table(scraped)] == [
        {"instruction": "What is\u2028 up", "output": "fine\x0c answer"},
        {"instruction": "q2", "output": "a2"},
    ]
    short = tmp_path / "short.csv"
    short.write_text("instruction,output\nq1\n", encoding="utf-8")
    with pytest.raises(LitftError, match="row 1 has fewer cells than the header's 2"):
        read_table(short)
