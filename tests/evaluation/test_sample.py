"""`litft evaluate --sample N`: a seeded sample spread over source chunks, not the first N records of a split that
lists each chunk's questions together; report.json and the printed line say how the records were chosen."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from litft.cli import main
from litft.common.settings import SamplingSettings
from litft.evaluation.evaluate import evaluate
from litft.evaluation.subset import stratified_sample

# 12 chunks of 5 questions each, listed chunk by chunk as `litft split` writes them.
SOURCES = [f"chunk-{chunk}" for chunk in range(12) for _ in range(5)]


def test_the_sample_takes_one_question_per_chunk_before_a_second():
    chosen = stratified_sample(SOURCES, 12, seed=0)
    assert len(chosen) == 12 and chosen == sorted(chosen)
    assert sorted(Counter(SOURCES[i] for i in chosen).values()) == [1] * 12
    spread = Counter(SOURCES[i] for i in stratified_sample(SOURCES, 30, seed=0))
    assert sorted(spread.values()) == [2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3]
    # The first 12 records (--limit 12) cover 3 chunks; the sample covers 12.
    assert len(set(SOURCES[:12])) == 3


def test_the_sample_is_seeded_and_differs_between_seeds():
    assert stratified_sample(SOURCES, 8, seed=3) == stratified_sample(SOURCES, 8, seed=3)
    assert len({tuple(stratified_sample(SOURCES, 8, seed=seed)) for seed in range(5)}) == 5


def test_records_without_a_source_are_chunks_of_their_own_and_a_large_sample_is_everything():
    assert stratified_sample([None] * 4, 10, seed=0) == [0, 1, 2, 3]
    assert len(stratified_sample([None, None, "a", "a"], 3, seed=1)) == 3


def test_evaluate_scores_the_sample_and_reports_how_it_was_chosen(lit_base, tmp_path, capsys):
    records = [
        {"instruction": f"Question {n} about chunk {n // 3}?", "output": f"Answer {n}.", "source_id": f"c{n // 3}"}
        for n in range(9)
    ]
    (tmp_path / "test.json").write_text(json.dumps(records), encoding="utf-8")
    report = evaluate(
        tmp_path / "test.json",
        [],
        base=lit_base,
        out_dir=tmp_path / "eval",
        sampling=SamplingSettings(max_new_tokens=1),
        sample=3,
        seed=7,
        device="cpu",
        quiet=True,
    )
    expected = [records[i]["instruction"] for i in stratified_sample([r["source_id"] for r in records], 3, seed=7)]
    generations = (tmp_path / "eval" / "generations" / "base.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["prompt"] for line in generations] == expected
    assert report["test_file"] | {"path": None, "sha256": None} == {
        "path": None,
        "sha256": None,
        "records": 9,
        "records_used": 3,
        "limit": None,
        "sample": {"size": 3, "seed": 7, "chunks": 3},
    }
    assert "references: 3 records (sampled from 9 with seed 7: 3 source chunks)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sample", "0"], "--sample must be at least 1, got 0."),
        (["--sample", "2", "--limit", "2"], "give one of the two"),
    ],
)
def test_bad_sample_values_are_one_sentence(args, message, lit_base, tmp_path, capsys):
    (tmp_path / "test.json").write_text('[{"question": "q", "answer": "a"}]', encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", str(tmp_path / "test.json"), "--runs", "[]", "--base", str(lit_base), *args])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
