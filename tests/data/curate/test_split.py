"""`litft split`: seeded, by source chunk, independent of input order."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from litft.cli import run_function
from litft.common.errors import LitftError, os_errors_as_user_errors
from litft.data.curate.split import split


def make_records(groups: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [
        {
            "instruction": f"Question {g}-{i} about chunk {g}?",
            "input": "",
            "output": f"Answer {g}-{i}.",
            "source_id": f"c{g}",
        }
        for g in range(groups)
        for i in range(rng.randint(1, 6))
    ]


def run_split(tmp_path: Path, records: list[dict], name: str, **kwargs) -> tuple[list[dict], list[dict]]:
    source = tmp_path / f"{name}.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    split(source, tmp_path / name, **kwargs)
    return (json.loads((tmp_path / name / f"{side}.json").read_text()) for side in ("train", "test"))


def test_no_chunk_feeds_both_sides_and_the_fraction_is_close(tmp_path, capsys):
    records = make_records(2000)
    train, test = run_split(tmp_path, records, "a", test_fraction=0.2, seed=7)
    assert sorted(map(json.dumps, train + test)) == sorted(map(json.dumps, records))
    assert not {r["source_id"] for r in train} & {r["source_id"] for r in test}
    # Each chunk's side is an independent seeded draw: over 2,000 chunks the share's spread is about 0.01.
    assert abs(len(test) / len(records) - 0.2) < 0.03
    assert "from 2000 source groups" in capsys.readouterr().out


def test_a_refreshed_split_keeps_every_chunk_on_its_side(tmp_path):
    """Chunks removed and added (a refresh) move no other chunk between train and test."""
    before = make_records(100)
    after = [r for r in before if r["source_id"] not in {"c3", "c50", "c77"}] + [
        {**r, "source_id": f"new{r['source_id']}"} for r in make_records(30, seed=5)
    ]
    train_a, test_a = run_split(tmp_path, before, "a", seed=11)
    train_b, test_b = run_split(tmp_path, after, "b", seed=11)

    def ids(side: list[dict]) -> set[str]:
        return {r["source_id"] for r in side}

    kept = ids(after) & ids(before)
    assert ids(test_b) & kept == ids(test_a) & kept and ids(train_b) & kept == ids(train_a) & kept
    assert ids(test_b) - kept and ids(train_b) - kept  # the new chunks went to both sides


def test_same_seed_same_split_whatever_the_order_and_another_seed_differs(tmp_path):
    records = make_records(60)
    shuffled = records[:]
    random.Random(1).shuffle(shuffled)
    _, test_a = run_split(tmp_path, records, "a", seed=3)
    _, test_b = run_split(tmp_path, shuffled, "b", seed=3)
    _, test_c = run_split(tmp_path, records, "c", seed=4)

    def ids(side: list[dict]) -> set[str]:
        return {r["source_id"] for r in side}

    assert ids(test_a) == ids(test_b) != ids(test_c)


def test_records_without_source_are_their_own_groups_and_both_sides_get_one(tmp_path):
    records = [{"instruction": f"Task number {i} here", "output": f"out {i}"} for i in range(2)]
    train, test = run_split(tmp_path, records, "a", test_fraction=0.01)
    assert len(train) == 1 and len(test) == 1


@pytest.mark.parametrize(
    "args, message", [(["--test_fraction", "1.0"], "between 0 and 1"), ([], "line 1 has no 'output' field")]
)
def test_bad_arguments_and_records_are_user_errors(tmp_path, capsys, args, message):
    (tmp_path / "in.jsonl").write_text('{"instruction": "x", "output": "y"}\n' if args else '{"instruction": "x"}\n')
    with pytest.raises(SystemExit) as exit_info:
        run_function(split, [str(tmp_path / "in.jsonl"), str(tmp_path / "out"), *args])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_outputs_over_the_input_or_under_a_file_are_refused_before_work(tmp_path):
    records = tmp_path / "out" / "train.json"  # records saved under the name split writes
    records.parent.mkdir()
    records.write_text(json.dumps(make_records(3)[0]) + "\n")
    original = records.read_text()
    with pytest.raises(LitftError, match="is the same path as --input"):
        split(records, tmp_path / "out")
    with pytest.raises(LitftError, match="is a file, not a folder"):
        split(records, records)
    with pytest.raises(LitftError, match="cannot be created: .* is a file, not a folder"):
        split(records, records / "sub")  # a folder under a file (ENOTDIR)
    assert records.read_text() == original and sorted(p.name for p in records.parent.iterdir()) == ["train.json"]


def test_a_full_disk_is_one_sentence():
    with (
        pytest.raises(LitftError, match="cannot write /dev/full: no space left on device; free some space and re-run"),
        os_errors_as_user_errors("write", "/dev/full"),
        open("/dev/full", "w") as fh,
    ):
        fh.write("x")


def test_a_failed_write_keeps_the_earlier_pair(tmp_path):
    first = make_records(10)
    train, test = run_split(tmp_path, first, "a")
    (tmp_path / "a" / "test.json").chmod(0o644)
    (tmp_path / "a").chmod(0o500)  # no new files can be made beside the old pair
    try:
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        with pytest.raises(LitftError, match="cannot be written: no write permission"):
            run_split(tmp_path, make_records(20, seed=1), "a")
    finally:
        (tmp_path / "a").chmod(0o700)
    assert json.loads((tmp_path / "a" / "train.json").read_text()) == train
    assert json.loads((tmp_path / "a" / "test.json").read_text()) == test


@pytest.mark.parametrize("content", ["", "\n\n"])
def test_no_records_is_a_user_error(tmp_path, content):
    (tmp_path / "in.jsonl").write_text(content)
    with pytest.raises(LitftError, match="holds no records"):
        split(tmp_path / "in.jsonl", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_train_json_litft_did_not_write_is_kept(tmp_path, capsys):
    from litft.cli import main

    records = tmp_path / "qa.jsonl"
    records.write_text(
        "".join(f'{{"instruction": "q{i}", "output": "a{i}", "source_id": "c{i}"}}\n' for i in range(10))
    )
    out = tmp_path / "data"
    out.mkdir()
    (out / "train.json").write_text("my own training set")
    with pytest.raises(SystemExit):
        main(["split", "--input", str(records), "--out_dir", str(out)])
    assert "train.json, which litft did not write" in capsys.readouterr().err
    assert (out / "train.json").read_text() == "my own training set"
    main(["split", "--input", str(records), "--out_dir", str(out), "--overwrite", "true"])
    main(["split", "--input", str(records), "--out_dir", str(out), "--seed", "3"])  # its own now: replaced freely
    assert len(json.loads((out / "train.json").read_text())) == 8
