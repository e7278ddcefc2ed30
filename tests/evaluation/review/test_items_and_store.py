"""Blind items from an evaluation folder, and the append-only reviews file."""

from __future__ import annotations

import hashlib
import json

import pytest

from litft.common.errors import LitftError
from litft.common.outputs import owned_files
from litft.evaluation.review.items import folder_salt, read_evaluation
from litft.evaluation.review.store import ReviewStore, check_reviewer, read_reviews
from tests.evaluation.review.conftest import ANSWERS, QUESTIONS, REFERENCES

SALT = "0123456789abcdef0123456789abcdef"


def fixed_salt(eval_dir):
    (eval_dir / "reviews").mkdir()
    (eval_dir / "reviews" / "salt.txt").write_text(SALT + "\n")
    return folder_salt(eval_dir)


def test_every_row_becomes_an_item_and_identical_answers_merge(eval_dir):
    evaluation = read_evaluation(eval_dir, fixed_salt(eval_dir))
    assert evaluation.models == ("base", "lora", "lora+rag", "api:gpt-test")
    assert [q.question for q in evaluation.questions] == QUESTIONS
    assert [q.reference for q in evaluation.questions] == REFERENCES
    assert [[item.models for item in q.items] for q in evaluation.questions] == [
        [("base",), ("lora",), ("lora+rag",), ("api:gpt-test",)],
        [("base", "lora"), ("lora+rag",), ("api:gpt-test",)],
        [("base",), ("lora", "lora+rag"), ("api:gpt-test",)],
    ]
    assert [item.text for item in evaluation.questions[1].items][0] == ANSWERS["base"][1]
    assert [item.judge for item in evaluation.questions[2].items] == [1, 2, 1]  # the judge's scores ride along
    # Opaque ids: salted, so the id of a known answer cannot be recomputed without the folder's secret.
    item = evaluation.questions[0].items[0]
    assert item.id == hashlib.sha256(f"{SALT}\0{0}\0{item.text}".encode()).hexdigest()[:20]
    assert item.id != hashlib.sha256(f"0\0{item.text}".encode()).hexdigest()[:20]
    assert len({i.id for i in evaluation.items().values()}) == 10
    assert evaluation.checkpoints[0] == "/models/secret-base-checkpoint"


def test_shuffle_is_stable_per_reviewer_and_differs_between_reviewers(eval_dir):
    salt = fixed_salt(eval_dir)
    evaluation = read_evaluation(eval_dir, salt)
    orders = {
        name: [[i.id for i in evaluation.shuffled(q, name, salt)] for q in evaluation.questions]
        for name in ("alice", "bob")
    }
    again = read_evaluation(eval_dir, folder_salt(eval_dir))
    assert orders["alice"] == [[i.id for i in again.shuffled(q, "alice", salt)] for q in again.questions]
    assert orders["alice"] != orders["bob"]  # fixed salt: this holds for these two names, checked once by hand
    assert all(sorted(a) == sorted(b) for a, b in zip(orders["alice"], orders["bob"], strict=True))


def test_salt_is_made_once_and_owned(eval_dir):
    salt = folder_salt(eval_dir)
    assert len(salt) == 32 and folder_salt(eval_dir) == salt
    assert "salt.txt" in owned_files(eval_dir / "reviews")


def test_scores_append_and_the_latest_counts(eval_dir):
    evaluation = read_evaluation(eval_dir, folder_salt(eval_dir))
    item = evaluation.questions[1].items[0]
    store = ReviewStore(evaluation.reviews_dir, "alice")
    store.record(item, 2, "close")
    store.record(item, 3)
    lines = [json.loads(line) for line in store.path.read_text().splitlines()]
    assert [(r["item"], r["score"], r["note"], r["models"]) for r in lines] == [
        (item.id, 2, "close", ["base", "lora"]),
        (item.id, 3, "", ["base", "lora"]),
    ]
    assert ReviewStore(evaluation.reviews_dir, "alice").latest[item.id]["score"] == 3
    assert "alice.jsonl" in owned_files(evaluation.reviews_dir)


def test_malformed_line_is_reported_with_its_number_and_the_rest_kept(eval_dir):
    evaluation = read_evaluation(eval_dir, folder_salt(eval_dir))
    first, second = evaluation.questions[0].items[:2]
    store = ReviewStore(evaluation.reviews_dir, "alice")
    store.record(first, 1)
    with open(store.path, "a") as fh:
        fh.write('{"item": "x", "score": 7}\nnot json\n')
    store = ReviewStore(evaluation.reviews_dir, "alice")
    store.record(second, 3)
    with open(store.path, "a") as fh:
        fh.write('{"item": "torn by a kill", "sco')  # no newline: the next record must still be whole
    store = ReviewStore(evaluation.reviews_dir, "alice")
    store.record(first, 0)
    reviews = read_reviews(store.path)
    assert {item: record["score"] for item, record in reviews.latest.items()} == {first.id: 0, second.id: 3}
    assert [problem.rsplit(" line ", 1)[1] for problem in reviews.problems] == [
        "2 is not a valid review record; it was left out",
        "3 is not a valid review record; it was left out",
        "5 is not a valid review record; it was left out",
    ]


@pytest.mark.parametrize("name", ["../alice", "a/b", ".hidden", "", "x" * 65, "al ice", "bob\\x"])
def test_reviewer_names_with_path_characters_are_refused(name):
    with pytest.raises(LitftError, match="is not a valid reviewer name"):
        check_reviewer(name)


@pytest.mark.parametrize("name", ["pooled", "Pooled", "JUDGE", "judge"])
def test_names_the_summary_uses_are_refused(name):
    with pytest.raises(LitftError, match=f"--reviewer '{name}' is a name the review summary uses itself"):
        check_reviewer(name)


def test_a_folder_without_answers_is_one_sentence(tmp_path):
    (tmp_path / "eval").mkdir()
    with pytest.raises(LitftError, match="has no answers.csv"):
        read_evaluation(tmp_path / "eval", "salt")
    (tmp_path / "eval" / "answers.csv").write_text("question,reference\nq,r\n")
    with pytest.raises(LitftError, match="has no answers"):
        read_evaluation(tmp_path / "eval", "salt")


@pytest.mark.slow
def test_a_real_evaluate_output_becomes_blind_items(lit_base, tmp_path, capsys, one_thread):
    from litft.evaluation.evaluate import evaluate
    from litft.generation.sampling import SamplingSettings

    test_file = tmp_path / "test.json"
    records = [{"instruction": q, "input": "", "output": r} for q, r in zip(QUESTIONS, REFERENCES, strict=True)]
    test_file.write_text(json.dumps(records))
    out = tmp_path / "eval"
    # The base checkpoint also given as a run: two rows with identical greedy answers, one item each.
    evaluate(
        test_file,
        [lit_base],
        base=lit_base,
        out_dir=out,
        sampling=SamplingSettings(max_new_tokens=6),
        device="cpu",
        quiet=True,
    )
    capsys.readouterr()
    report = json.loads((out / "report.json").read_text())
    labels = [model["label"] for model in report["models"]]
    evaluation = read_evaluation(out, folder_salt(out))
    assert evaluation.models == tuple(labels) and len(labels) == 2
    assert [q.question for q in evaluation.questions] == QUESTIONS
    assert all([item.models for item in q.items] == [tuple(labels)] for q in evaluation.questions)
    assert evaluation.checkpoints == tuple(model["checkpoint"] for model in report["models"])
