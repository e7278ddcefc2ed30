"""`litft review preferences` on a crafted reviews folder: exactly the expected DPO pairs and KTO records, the
judge, reference and abstention options, and the one-sentence refusals."""

from __future__ import annotations

import csv
import json

import pytest

from litft.cli import main
from tests.evaluation.review.test_summary import run, score

# Pooled: question 1 base 0.5 (alice 0, bob 1), lora 3, lora+rag 2.5, api 2 (alice only); question 2 the shared
# answer of base and lora 1.5 (alice 2, bob 1), lora+rag 3; question 3 base 1, lora (= lora+rag) 2, api 1.
ALICE = {
    (0, "base"): 0,
    (0, "lora"): 3,
    (0, "lora+rag"): 3,
    (0, "api:gpt-test"): 2,
    (1, "base"): 2,
    (1, "lora+rag"): 3,
    (2, "base"): 1,
    (2, "lora"): 2,
    (2, "api:gpt-test"): 1,
}
BOB = {(0, "base"): 1, (0, "lora"): 3, (0, "lora+rag"): 2, (1, "lora"): 1}
BOTH, ONLY_ALICE = ["alice", "bob"], ["alice"]


def pair(question, chosen, rejected, scores, margin, models, reviewers, source="reviews"):
    return {
        "instruction": ["When is the deadline?", "Which programs exist?", "Who does research?"][question],
        "input": "",
        "chosen": chosen,
        "rejected": rejected,
        "question_id": str(question + 1),
        "source": source,
        "chosen_score": scores[0],
        "rejected_score": scores[1],
        "margin": margin,
        "chosen_models": models[0],
        "rejected_models": models[1],
        "chosen_reviewers": reviewers[0],
        "rejected_reviewers": reviewers[1],
    }


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def reviewed(eval_dir):
    score(eval_dir, "alice", ALICE)
    score(eval_dir, "bob", BOB)
    return eval_dir


def test_pairs_from_pooled_human_scores(reviewed, tmp_path, capsys):
    out = tmp_path / "prefs.jsonl"
    main(["review", "preferences", str(reviewed), "--out", str(out)])
    base, lora, rag, api = ["base"], ["lora"], ["lora+rag"], ["api:gpt-test"]
    assert read_jsonl(out) == [
        pair(0, "Before the March deadline.", "In spring sometime.", (3, 0.5), 2.5, (lora, base), (BOTH, BOTH)),
        pair(0, "Before March.", "In spring sometime.", (2.5, 0.5), 2.0, (rag, base), (BOTH, BOTH)),
        pair(0, "March.", "In spring sometime.", (2, 0.5), 1.5, (api, base), (ONLY_ALICE, BOTH)),
        pair(0, "Before the March deadline.", "March.", (3, 2), 1, (lora, api), (BOTH, ONLY_ALICE)),
        pair(1, "Civil and software.", "Engineering.", (3, 1.5), 1.5, (rag, ["base", "lora"]), (ONLY_ALICE, BOTH)),
        pair(
            2, "The faculty and students.", "Nobody knows.", (2, 1), 1, (["lora", "lora+rag"], base), [ONLY_ALICE] * 2
        ),
        pair(2, "The faculty and students.", "I don't know.", (2, 1), 1, (["lora", "lora+rag"], api), [ONLY_ALICE] * 2),
    ]
    assert "wrote 7 preference pairs" in capsys.readouterr().out
    # --min_margin 2: only the two widest pairs; a tie (question 3's base and api, both 1) is never a pair
    main(["review", "preferences", str(reviewed), "--out", str(out), "--min_margin", "2"])
    assert [(r["chosen_score"], r["rejected_score"]) for r in read_jsonl(out)] == [(3, 0.5), (2.5, 0.5)]
    assert "skipped 1 ties and 7 pairs below --min_margin 2" in capsys.readouterr().out


def test_judge_pairs_what_people_did_not_both_score(reviewed, tmp_path):
    out = tmp_path / "prefs.jsonl"
    main(["review", "preferences", str(reviewed), "--out", str(out), "--judge", "true"])
    judged = [r for r in read_jsonl(out) if r["source"] == "judge"]
    # question 2: the api answer nobody reviewed, judged 3, against the shared answer judged 2 (as base's);
    # against lora+rag (judged 3 too, but reviewed by people) the judge ties
    assert judged == [
        pair(1, "Civil, software and mechanical engineering.", "Engineering.", (3, 2), 1,
             (["api:gpt-test"], ["base", "lora"]), (["judge"], ["judge"]), "judge"),
    ]  # fmt: skip
    assert len(read_jsonl(out)) == 8


def test_judge_only_with_reference_against_answers_scored_0(eval_dir, tmp_path):
    out = tmp_path / "prefs.jsonl"
    main(["review", "preferences", str(eval_dir), "--out", str(out), "--judge", "true", "--reference", "true"])
    records = read_jsonl(out)
    assert [r for r in records if r["source"] == "reference"] == [
        pair(0, "Before March.", "In spring sometime.", (3, 0), 3, (["reference"], ["base"]),
             (["reference"], ["judge"]), "reference"),
    ]  # fmt: skip
    assert {r["source"] for r in records} == {"judge", "reference"}
    assert not (eval_dir / "reviews").exists()  # a judge-only run leaves the evaluation folder as it was


def test_kto_records_desirable_from_2_undesirable_to_1(reviewed, tmp_path, capsys):
    out = tmp_path / "kto.jsonl"
    main(["review", "preferences", str(reviewed), "--out", str(out), "--kto", "true"])
    rows = [(r["question_id"], r["output"], r["label"], r["score"]) for r in read_jsonl(out)]
    assert rows == [
        ("1", "In spring sometime.", False, 0.5),
        ("1", "Before the March deadline.", True, 3),
        ("1", "Before March.", True, 2.5),
        ("1", "March.", True, 2),
        ("2", "Civil and software.", True, 3),  # the shared answer's 1.5 lies between: left out
        ("3", "Nobody knows.", False, 1),
        ("3", "The faculty and students.", True, 2),
        ("3", "I don't know.", False, 1),
    ]
    assert read_jsonl(out)[0]["reviewers"] == BOTH and read_jsonl(out)[0]["models"] == ["base"]
    assert "5 desirable, 3 undesirable; 1 between 1 and 2 left out" in capsys.readouterr().out


def mark_unanswerable(eval_dir, question: int) -> None:
    path = eval_dir / "answers.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*rows[0], "answerable"])
        writer.writeheader()
        writer.writerows({**row, "answerable": "false" if i == question else "true"} for i, row in enumerate(rows))


def test_abstaining_answer_chosen_on_unanswerable_questions(reviewed, tmp_path):
    mark_unanswerable(reviewed, 2)
    out = tmp_path / "prefs.jsonl"
    main(["review", "preferences", str(reviewed), "--out", str(out), "--reference", "true"])
    third = [r for r in read_jsonl(out) if r["question_id"] == "3"]
    # the reviewers scored the made-up "faculty" answer above "I don't know"; the question has no answer, so the
    # abstention is chosen over both made-up answers (the reference, here an answer, over them too)
    assert [(r["chosen"], r["rejected"], r["source"], r["margin"]) for r in third] == [
        ("I don't know.", "Nobody knows.", "abstention", None),
        ("I don't know.", "The faculty and students.", "abstention", None),
        ("The faculty.", "Nobody knows.", "reference", 2),
        ("The faculty.", "The faculty and students.", "reference", 1),
    ]
    assert len(read_jsonl(out)) == 5 + len(third)  # questions 1 and 2 as before: an unscored 0 gives no reference
    main(["review", "preferences", str(reviewed), "--out", str(out), "--kto", "true", "--reference", "true"])
    third = [(r["output"], r["label"]) for r in read_jsonl(out) if r["question_id"] == "3"]
    assert third == [
        ("I don't know.", True),
        ("Nobody knows.", False),
        ("The faculty and students.", False),
        ("The faculty.", True),
    ]


def test_refusals_are_one_sentence(reviewed, eval_dir, tmp_path, capsys):
    foreign = tmp_path / "mine.jsonl"
    foreign.write_text("my notes\n")
    code, _, err = run(capsys, "review", "preferences", str(reviewed), "--out", str(foreign))
    assert code == 2 and "mine.jsonl, which litft did not write" in err and "Traceback" not in err
    assert foreign.read_text() == "my notes\n"
    code, _, err = run(capsys, "review", "preferences", str(reviewed), "--out", str(reviewed / "reviews" / "p.jsonl"))
    assert code == 2 and "each .jsonl is a reviewer" in err
    code, _, err = run(capsys, "review", "preferences", str(reviewed), "--out", str(reviewed / "answers.csv"))
    assert code == 2 and "is a file of the evaluation" in err
    code, _, err = run(capsys, "review", "preferences", str(reviewed), "--out", str(foreign), "--min_margin", "0")
    assert code == 2 and "--min_margin must be above 0" in err
    fresh = tmp_path / "fresh.jsonl"
    code, _, err = run(capsys, "review", "preferences", str(reviewed), "--out", str(fresh), "--min_margin", "4")
    assert code == 2 and "give no preference pairs" in err and not fresh.exists()


def test_no_reviews_no_judge_is_refused(tmp_path, capsys):
    from tests.evaluation.review.conftest import write_eval_dir

    bare = write_eval_dir(tmp_path / "bare", judge=False)
    code, _, err = run(capsys, "review", "preferences", str(bare), "--out", str(tmp_path / "p.jsonl"))
    assert code == 2 and "has no reviews yet" in err
    code, _, err = run(
        capsys, "review", "preferences", str(bare), "--out", str(tmp_path / "p.jsonl"), "--judge", "true"
    )
    assert code == 2 and "has no judge_<model> scores" in err
