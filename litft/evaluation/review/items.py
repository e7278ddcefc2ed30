"""An evaluation folder as blind review items: per question, each distinct answer once, under an opaque id.

`litft evaluate` writes every row's answers (closed-book, `+rag`, `api:` rows) into answers.csv, one
`answer_<label>` column per row. A reviewer must not learn which row wrote an answer, so an item carries only
its text; its id is a hash salted with a random secret kept in the folder's reviews/ (so ids are stable across
restarts, but cannot be recomputed from a model label and an answer). Identical answers of different rows are
one item whose score counts for each of them. The order of a question's answers is shuffled per reviewer, seeded
by the salt, the reviewer and the question, so a reload shows the same order.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from dataclasses import dataclass
from pathlib import Path

from litft.common.checks import require_dir
from litft.common.errors import LitftError
from litft.common.io import atomic_write_text, read_json
from litft.common.outputs import record_own_files
from litft.evaluation.review.table import ANSWER, JUDGE, ROW_ID, model_labels, parse_score, read_csv

REVIEWS_DIR = "reviews"
REVIEWS_KIND = "reviews"
SALT_FILE = "salt.txt"
EVAL_HINT = "give the --out_dir of a `litft evaluate` run"


@dataclass(frozen=True)
class Item:
    """One distinct answer to one question, and the rows (models) that gave it."""

    id: str
    question: int
    text: str
    models: tuple[str, ...]
    judge: int | None = None  # the LLM judge's 0-3 score of this answer, when answers.csv has one


@dataclass(frozen=True)
class Question:
    index: int
    question: str
    reference: str
    items: tuple[Item, ...]
    row_id: str = ""  # answers.csv's id of the question ("" in a sheet written before ids)
    answerable: bool = True  # False: the documents cannot answer it (answers.csv's `answerable` column)


@dataclass(frozen=True)
class Evaluation:
    """What a review needs from an evaluation folder; `models` and `checkpoints` stay on the server side."""

    directory: Path
    models: tuple[str, ...]
    checkpoints: tuple[str, ...]
    questions: tuple[Question, ...]

    @property
    def reviews_dir(self) -> Path:
        return self.directory / REVIEWS_DIR

    def items(self) -> dict[str, Item]:
        return {item.id: item for question in self.questions for item in question.items}

    def shuffled(self, question: Question, reviewer: str, salt: str) -> list[Item]:
        """The question's items in this reviewer's order (the same on every call)."""
        seed = hashlib.sha256(f"{salt}\0{reviewer}\0{question.index}".encode()).digest()
        order = list(question.items)
        random.Random(seed).shuffle(order)
        return order


def answers_csv(eval_dir: str | Path) -> Path:
    """EVAL_DIR/answers.csv, checked: the one file a review cannot do without."""
    directory = require_dir(eval_dir, "EVAL_DIR", EVAL_HINT)
    path = directory / "answers.csv"
    if not path.is_file():
        raise LitftError(f"EVAL_DIR {directory} has no answers.csv; {EVAL_HINT}.")
    return path


def folder_salt(eval_dir: Path, create: bool = True) -> str:
    """The folder's secret salt, made (random) on first use and kept in reviews/salt.txt."""
    reviews = eval_dir / REVIEWS_DIR
    path = reviews / SALT_FILE
    if path.is_file():
        salt = path.read_text(encoding="utf-8").strip()
        if salt:
            return salt
    if not create:
        raise LitftError(
            f"{eval_dir} has no reviews yet; score answers with `litft review serve` or `litft review import` first."
        )
    salt = secrets.token_hex(16)
    atomic_write_text(path, salt + "\n")
    record_own_files(reviews, [SALT_FILE], REVIEWS_KIND)
    return salt


def read_evaluation(eval_dir: str | Path, salt: str) -> Evaluation:
    """Questions, references and every row's answers of an evaluation folder, merged into items."""
    path = answers_csv(eval_dir)
    fields, rows = read_csv(path)
    labels = [label for label in model_labels(fields) if ANSWER + label in fields]
    if not rows or not labels or "question" not in fields:
        raise LitftError(f"{path} has no answers (no question and answer_<model> columns with rows); {EVAL_HINT}.")
    questions = [_question(index, row, labels, fields, salt, path) for index, row in enumerate(rows)]
    return Evaluation(path.parent, tuple(labels), _checkpoints(path.parent), tuple(questions))


def _question(index: int, row: dict[str, str], labels: list[str], fields: list[str], salt: str, path: Path) -> Question:
    by_text: dict[str, list[str]] = {}
    judged: dict[str, int | None] = {}
    for label in labels:
        text = (row.get(ANSWER + label) or "").strip()
        by_text.setdefault(text, []).append(label)
        if JUDGE + label in fields and text not in judged:
            judged[text] = parse_score(row.get(JUDGE + label), f"{path} line {index + 2}, column {JUDGE + label}")
    items = tuple(
        Item(_item_id(salt, index, text), index, text, tuple(models), judged.get(text))
        for text, models in by_text.items()
    )
    question, reference = (row.get("question") or "").strip(), (row.get("reference") or "").strip()
    answerable = (row.get("answerable") or "").strip() != "false"
    return Question(index, question, reference, items, (row.get(ROW_ID) or "").strip(), answerable)


def _item_id(salt: str, question: int, text: str) -> str:
    return hashlib.sha256(f"{salt}\0{question}\0{text}".encode()).hexdigest()[:20]


def _checkpoints(directory: Path) -> tuple[str, ...]:
    """The checkpoint paths report.json names (kept only to prove they never reach the page)."""
    report_path = directory / "report.json"
    if not report_path.is_file():
        return ()
    report = read_json(report_path)
    models = report.get("models", []) if isinstance(report, dict) else []
    return tuple(str(m["checkpoint"]) for m in models if isinstance(m, dict) and m.get("checkpoint"))
