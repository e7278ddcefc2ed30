"""`litft review summarize` and `litft review import` on hand-made reviews: percentages, intervals,
agreement, win rates, and the one-sentence errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from litft.cli import main
from litft.evaluation.review.items import folder_salt, read_evaluation
from litft.evaluation.review.store import ReviewStore
from litft.evaluation.statistics import paired_bootstrap

# (question, model) -> score. Alice scores everything, exactly as the judge did; Bob scores question 1 and
# the shared answer of base and lora on question 2.
ALICE = {
    (0, "base"): 0,
    (0, "lora"): 3,
    (0, "lora+rag"): 3,
    (0, "api:gpt-test"): 2,
    (1, "base"): 2,
    (1, "lora+rag"): 3,
    (1, "api:gpt-test"): 3,
    (2, "base"): 1,
    (2, "lora"): 2,
    (2, "api:gpt-test"): 1,
}
BOB = {(0, "base"): 1, (0, "lora"): 3, (0, "lora+rag"): 2, (0, "api:gpt-test"): 2, (1, "lora"): 2}


def score(eval_dir, reviewer: str, scores: dict) -> None:
    evaluation = read_evaluation(eval_dir, folder_salt(eval_dir))
    store = ReviewStore(evaluation.reviews_dir, reviewer)
    for (question, model), value in scores.items():
        item = next(i for i in evaluation.questions[question].items if model in i.models)
        store.record(item, value)


def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def test_summarize_hand_made_reviews(eval_dir, capsys):
    score(eval_dir, "alice", {**ALICE, (0, "base"): 3})
    score(eval_dir, "alice", {(0, "base"): 0})  # changed back: the latest counts
    score(eval_dir, "bob", BOB)
    main(["review", "summarize", str(eval_dir)])
    out = capsys.readouterr().out
    summary = json.loads((eval_dir / "reviews" / "summary.json").read_text())
    assert summary["reviewers"] == ["alice", "bob"] and summary["items"] == 10
    base, lora = summary["tables"]["alice"][:2]
    third = 100 / 3
    assert base["percent"] == pytest.approx(
        {"Incorrect": third, "No Answer": third, "Partially Relevant": third, "Fully Relevant": 0.0}
    )
    assert (base["n"], base["mean"]) == (3, 1.0) and lora["mean"] == pytest.approx(7 / 3)
    interval = paired_bootstrap([0, 2, 1])
    assert base["ci95"] == [interval.low, interval.high]
    pooled = summary["tables"]["pooled"][0]
    assert pooled["counts"] == {"Incorrect": 1, "No Answer": 2, "Partially Relevant": 2, "Fully Relevant": 0}
    assert pooled["percent"]["No Answer"] == pytest.approx(40.0) and pooled["mean"] == pytest.approx(1.2)
    interval = paired_bootstrap([0.5, 2.0, 1.0])  # per-question means over the reviewers who scored it
    assert pooled["ci95"] == [interval.low, interval.high]
    assert summary["tables"]["bob"][2]["n"] == 1 and summary["tables"]["bob"][3]["percent"]["Partially Relevant"] == 100

    pair = summary["agreement"]["pairs"][0]
    assert (pair["n"], pair["exact"], pair["kappa_quadratic"]) == (5, 0.6, pytest.approx(0.75))
    judge = summary["judge_agreement"]["per_reviewer"]
    assert [(row["n"], row["exact"]) for row in judge] == [(10, 1.0), (5, 0.6)]
    assert judge[0]["kappa_quadratic"] == pytest.approx(1.0) and judge[1]["kappa_quadratic"] == pytest.approx(0.75)
    base_vs_lora = summary["win_rates"][0]
    assert base_vs_lora == {"a": "base", "b": "lora", "n": 5, "a_wins": 0, "b_wins": 3, "ties": 2, "a_win_rate": 0.2}

    markdown = (eval_dir / "reviews" / "summary.md").read_text()
    assert markdown in out
    assert "| base | 3 | 33.3% | 33.3% | 33.3% | 0.0% | 1.00 |" in markdown
    assert "| base | 5 | 20.0% | 40.0% | 40.0% | 0.0% | 1.20 |" in markdown
    assert "- alice vs bob: n=5, exact 60.0%, weighted kappa 0.750" in markdown
    assert "| base | lora | 5 | 0 | 3 | 2 | 20.0% |" in markdown
    image = np.asarray(Image.open(eval_dir / "reviews" / "summary.png").convert("L"), dtype=float)
    assert image.shape[1] == 700 and image.std() > 20  # a drawn chart, not a blank canvas


def test_malformed_review_line_is_reported_and_the_rest_kept(eval_dir, capsys):
    score(eval_dir, "alice", ALICE)
    with open(eval_dir / "reviews" / "alice.jsonl", "a") as fh:
        fh.write("{oops\n")
    main(["review", "summarize", str(eval_dir)])
    err = capsys.readouterr().err
    assert "alice.jsonl line 11 is not a valid review record; it was left out (the other lines are kept)" in err
    summary = json.loads((eval_dir / "reviews" / "summary.json").read_text())
    assert summary["tables"]["alice"][0]["n"] == 3 and len(summary["problems"]) == 1


def test_import_a_filled_in_sheet(eval_dir, capsys, tmp_path):
    with open(eval_dir / "answers.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for (question, model), value in ALICE.items():
        rows[question][f"score_{model}"] = str(value)
    rows[1]["score_lora"] = "2"  # the same answer as base's: the same score
    sheet = tmp_path / "filled.csv"
    with open(sheet, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter=";")  # a spreadsheet's re-save
        writer.writeheader()
        writer.writerows(rows)
    main(["review", "import", str(sheet), "--reviewer", "carol", "--eval_dir", str(eval_dir)])
    assert "imported 10 scores for carol" in capsys.readouterr().out
    main(["review", "import", str(sheet), "--reviewer", "carol", "--eval_dir", str(eval_dir)])
    assert "imported 0 scores for carol" in capsys.readouterr().out
    main(["review", "summarize", str(eval_dir)])
    summary = json.loads((eval_dir / "reviews" / "summary.json").read_text())
    assert [row["mean"] for row in summary["tables"]["carol"]] == pytest.approx([1.0, 7 / 3, 8 / 3, 2.0])

    rows[1]["score_lora"] = "3"
    with open(sheet, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    code, _, err = run(capsys, "review", "import", str(sheet), "--reviewer", "carol", "--eval_dir", str(eval_dir))
    assert code == 2 and "line 3: identical answers got different scores" in err


def test_bad_inputs_are_one_sentence_and_exit_2(eval_dir, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, message in [
        (["review", "serve", str(empty)], "has no answers.csv"),
        (["review", "summarize", str(empty)], "has no answers.csv"),
        (["review", "serve", str(eval_dir), "--reviewer", "a/b"], "'a/b' is not a valid reviewer name"),
        (["review", "import", str(eval_dir / "answers.csv"), "--reviewer", "../x"], "is not a valid reviewer name"),
        (["review", "import", str(eval_dir / "answers.csv"), "--reviewer", "pooled"], "the review summary uses"),
        (["review", "serve", str(eval_dir), "--reviewer", "Judge"], "'Judge' is a name the review summary uses"),
        (["review", "serve", str(eval_dir), "--host", "0.0.0.0"], "give a shared secret with --token"),
        (["review", "serve", str(eval_dir), "--port", "0"], "--port 0 is not a port"),
        (["review", "summarize", str(eval_dir)], "has no reviews yet"),
    ]:
        code, _, err = run(capsys, *args)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and message in lines[0], (args, err)
    assert not (eval_dir / "reviews").exists()


def test_a_reviews_file_named_like_a_summary_row_is_refused_not_merged(eval_dir, capsys):
    score(eval_dir, "alice", ALICE)
    (eval_dir / "reviews" / "alice.jsonl").rename(eval_dir / "reviews" / "pooled.jsonl")  # from before the check
    code, _, err = run(capsys, "review", "summarize", str(eval_dir))
    assert code == 2 and "pooled.jsonl is named like a row of the summary (pooled, judge); rename the file" in err
    assert not (eval_dir / "reviews" / "summary.json").exists()
