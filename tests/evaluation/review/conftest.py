"""An evaluation folder laid out as `litft evaluate` writes it (report.json, answers.csv, generations/), built
directly on disk from hand-made answers: the review tests need no model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from litft.common.outputs import record_own_files
from litft.evaluation.evaluate import EVALUATION_FILES, EVALUATION_KIND
from litft.evaluation.judge import Verdict
from litft.evaluation.review.table import write_answers_csv

QUESTIONS = ["When is the deadline?", "Which programs exist?", "Who does research?"]
REFERENCES = ["Before March.", "Civil and software engineering.", "The faculty."]
# Rows as evaluate labels them: the base, a run, its +rag row and an API row. On question 1 the base and
# the run gave the same answer (one item scored once for both); on question 3 lora and lora+rag did.
ANSWERS = {
    "base": ["In spring sometime.", "Engineering.", "Nobody knows."],
    "lora": ["Before the March deadline.", "Engineering.", "The faculty and students."],
    "lora+rag": ["Before March.", "Civil and software.", "The faculty and students."],
    "api:gpt-test": ["March.", "Civil, software and mechanical engineering.", "I don't know."],
}
CHECKPOINTS = {
    "base": "/models/secret-base-checkpoint",
    "lora": "/runs/secret-lora-run/final",
    "lora+rag": "/runs/secret-lora-run/final",
    "api:gpt-test": "api:gpt-test",
}
JUDGE_SCORES = {"base": [0, 2, 1], "lora": [3, 2, 2], "lora+rag": [3, 3, 2], "api:gpt-test": [2, 3, 1]}


def write_eval_dir(
    directory: Path, answers: dict[str, list[str]] = ANSWERS, judge: bool = True, sources: list | None = None
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    verdicts = None
    if judge:
        verdicts = {label: [Verdict(score, "hand-made") for score in JUDGE_SCORES[label]] for label in answers}
    write_answers_csv(directory / "answers.csv", QUESTIONS, REFERENCES, answers, verdicts, sources)
    models = [{"label": label, "checkpoint": CHECKPOINTS[label], "n": len(QUESTIONS)} for label in answers]
    report = {"models": models, "outputs": {"answers_csv": str(directory / "answers.csv")}}
    (directory / "report.json").write_text(json.dumps(report))
    (directory / "generations").mkdir(exist_ok=True)
    for label, texts in answers.items():
        lines = [json.dumps({"key": f"{label}-{i}", "answer": text}) for i, text in enumerate(texts)]
        (directory / "generations" / f"{label}.jsonl").write_text("\n".join(lines) + "\n")
    record_own_files(directory, EVALUATION_FILES, EVALUATION_KIND)
    return directory


@pytest.fixture
def eval_dir(tmp_path) -> Path:
    return write_eval_dir(tmp_path / "eval")
