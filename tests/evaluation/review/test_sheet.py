"""answers.csv as a sheet people open and fill in: no cell runs as a formula, the escaping reads back exactly,
and `litft review import` puts each row's scores on its own question however the sheet was sorted."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from litft.cli import main
from litft.evaluation.review.table import read_csv, write_answers_csv
from tests.evaluation.review.conftest import ANSWERS, QUESTIONS, REFERENCES

# What a crawled page or a model may start a cell with that a spreadsheet would run, and a text that itself
# starts with the escape character.
DANGEROUS = ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1)", "\tTab first", "\rReturn first"]
QUOTED = ["'=already quoted", "'plain quote", "''two quotes"]


def read_raw(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def write_rows(path: Path, rows: list[dict[str, str]], fields: list[str]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def run(capsys, *args) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return exit_info.value.code, capsys.readouterr().err


def test_formula_cells_are_written_as_text_and_read_back_exactly(tmp_path):
    texts = DANGEROUS + QUOTED
    sheet = tmp_path / "answers.csv"
    write_answers_csv(sheet, texts, list(reversed(texts)), {"base": texts, "=cmd": ["-1"] * len(texts)})
    header, *rows = read_raw(sheet)
    assert header == ["id", "question", "reference", "answer_base", "score_base", "answer_=cmd", "score_=cmd"]
    for row, text in zip(rows, texts, strict=True):
        assert row[1] == row[3] == "'" + text  # the cell a spreadsheet shows as text
        assert row[5] == "'-1"
    fields, read = read_csv(sheet)
    assert [(r["question"], r["reference"], r["answer_base"], r["answer_=cmd"]) for r in read] == [
        (text, reference, text, "-1") for text, reference in zip(texts, reversed(texts), strict=True)
    ]
    # A spreadsheet that dropped the quote on re-save leaves the bare text, read as it is.
    assert read_csv_cells(tmp_path, "=1+1") == "=1+1"
    assert read_csv_cells(tmp_path, "'quoted") == "'quoted"

    # A score typed beside an escaped answer is kept when the sheet is written again.
    raw = [dict(zip(header, row, strict=True)) for row in rows]
    raw[0]["score_base"] = "3"
    write_rows(sheet, raw, header)
    note = write_answers_csv(sheet, texts, list(reversed(texts)), {"base": texts, "=cmd": ["-1"] * len(texts)})
    assert note == "kept 1 scores from the earlier answers.csv" and read_csv(sheet)[1][0]["score_base"] == "3"


def read_csv_cells(tmp_path: Path, cell: str) -> str:
    path = tmp_path / "resaved.csv"
    write_rows(path, [{"question": cell, "score_x": ""}], ["question", "score_x"])
    return read_csv(path)[1][0]["question"]


def test_review_import_reads_its_own_escaping_back(tmp_path, capsys):
    eval_dir = tmp_path / "eval"
    eval_dir.mkdir()
    texts = DANGEROUS + QUOTED
    write_answers_csv(eval_dir / "answers.csv", texts, texts, {"base": texts, "lora": [t + "!" for t in texts]})
    with open(eval_dir / "answers.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for number, row in enumerate(rows):
        row["score_base"], row["score_lora"] = str(number % 4), str((number + 1) % 4)
    write_rows(tmp_path / "filled.csv", rows, list(rows[0]))
    main(["review", "import", str(tmp_path / "filled.csv"), "--reviewer", "carol", "--eval_dir", str(eval_dir)])
    assert f"imported {2 * len(texts)} scores for carol" in capsys.readouterr().out
    saved = [json.loads(line) for line in (eval_dir / "reviews" / "carol.jsonl").read_text().splitlines()]
    assert sorted((r["question"], r["models"], r["score"]) for r in saved) == sorted(
        [(n, ["base"], n % 4) for n in range(len(texts))] + [(n, ["lora"], (n + 1) % 4) for n in range(len(texts))]
    )


def filled_sheet(eval_dir: Path) -> tuple[list[dict[str, str]], list[str]]:
    """answers.csv's rows with a score per answer: base gets the question's number, each other row 3."""
    with open(eval_dir / "answers.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for number, row in enumerate(rows):
        for label in ANSWERS:
            row[f"score_{label}"] = str(number) if label == "base" else "3"
    rows[1]["score_lora"] = "1"  # the same answer as base's: the same score
    return rows, list(rows[0])


def imported(eval_dir: Path) -> dict[tuple[int, str], int]:
    lines = (eval_dir / "reviews" / "dave.jsonl").read_text().splitlines()
    return {(r["question"], model): r["score"] for r in map(json.loads, lines) for model in r["models"]}


EXPECTED = {(q, label): (q if label == "base" else 3) for q in range(3) for label in ANSWERS}
EXPECTED[(1, "lora")] = 1  # base and lora gave one answer to question 2


@pytest.mark.parametrize("with_ids", [True, False], ids=["id column", "sheet from before ids"])
def test_a_sorted_sheet_scores_the_right_questions(eval_dir, tmp_path, capsys, with_ids):
    rows, fields = filled_sheet(eval_dir)
    if not with_ids:
        fields = fields[1:]
        rows = [{name: row[name] for name in fields} for row in rows]
    rows.sort(key=lambda row: row["question"], reverse=True)
    assert [row["question"] for row in rows] != QUESTIONS
    write_rows(tmp_path / "sorted.csv", rows, fields)
    main(["review", "import", str(tmp_path / "sorted.csv"), "--reviewer", "dave", "--eval_dir", str(eval_dir)])
    assert "imported 10 scores for dave" in capsys.readouterr().out
    assert imported(eval_dir) == EXPECTED


def _deleted(rows):
    return rows[:1] + rows[2:]


def _duplicated(rows):
    return [*rows, rows[0]]


def _unknown_id(rows):
    return [*rows[:2], {**rows[2], "id": "99"}]


def _other_question(rows):
    return [*rows[:2], {**rows[2], "question": "Who else does research?"}]


@pytest.mark.parametrize(
    ("change", "with_ids", "message"),
    [
        (_deleted, True, "filled.csv lacks 1 of the 3 questions of"),
        (_deleted, False, "filled.csv lacks 1 of the 3 questions of"),
        (_duplicated, True, "filled.csv lines 2 and 5 are one question; keep one of them."),
        (_duplicated, False, "filled.csv lines 2 and 5 are one question; keep one of them."),
        (_unknown_id, True, "filled.csv line 4 is not a question of"),
        (_other_question, True, "filled.csv line 4 is not a question of"),
        (_other_question, False, "filled.csv line 4 is not a question of"),
    ],
)
def test_a_sheet_whose_rows_cannot_be_matched_is_refused(eval_dir, tmp_path, capsys, change, with_ids, message):
    rows, fields = filled_sheet(eval_dir)
    if not with_ids:
        fields = fields[1:]
    write_rows(tmp_path / "filled.csv", [{name: row[name] for name in fields} for row in change(rows)], fields)
    code, err = run(
        capsys, "review", "import", str(tmp_path / "filled.csv"), "--reviewer", "dave", "--eval_dir", str(eval_dir)
    )
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (eval_dir / "reviews" / "dave.jsonl").exists()


def test_repeated_questions_need_the_id_column(tmp_path, capsys):
    eval_dir = tmp_path / "eval"
    eval_dir.mkdir()
    questions, references = [QUESTIONS[0], QUESTIONS[0], QUESTIONS[1]], [REFERENCES[0], REFERENCES[0], REFERENCES[1]]
    write_answers_csv(eval_dir / "answers.csv", questions, references, {"base": ["a", "b", "c"]})
    with open(eval_dir / "answers.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row, value in zip(rows, "012", strict=True):
        row["score_base"] = value
    rows.reverse()
    write_rows(tmp_path / "with_ids.csv", rows, list(rows[0]))
    main(["review", "import", str(tmp_path / "with_ids.csv"), "--reviewer", "dave", "--eval_dir", str(eval_dir)])
    assert imported(eval_dir) == {(0, "base"): 0, (1, "base"): 1, (2, "base"): 2}
    fields = list(rows[0])[1:]
    write_rows(tmp_path / "no_ids.csv", [{name: row[name] for name in fields} for row in rows], fields)
    code, err = run(
        capsys, "review", "import", str(tmp_path / "no_ids.csv"), "--reviewer", "dave", "--eval_dir", str(eval_dir)
    )
    assert code == 2 and "are in" in err and "2 times and the sheet has no id column" in err, err


def test_an_answer_longer_than_the_csv_module_default_reads_back(tmp_path):
    long_answer = "A long answer. " * 10_000  # 150,000 characters: over the csv module's default 131,072
    write_answers_csv(tmp_path / "answers.csv", QUESTIONS[:1], REFERENCES[:1], {"base": [long_answer]})
    assert read_csv(tmp_path / "answers.csv")[1][0]["answer_base"] == long_answer
