"""The 0-3 review scale, the answers.csv review sheet (written and read back) and the table of percentages per model.

`answers.csv` holds, per test question, each model's `answer_<model>` beside an empty `score_<model>`
for a person to fill in; `--judge.model` writes its scores into separate `judge_<model>` columns (with
`judge_reason_<model>`), so human and judge scores never overwrite each other and the table tells them apart.
Its `id` column numbers the questions, so a sheet a reviewer sorted is still read back onto the right questions.
A cell a spreadsheet would run as a formula is written with a leading `'` (`sheet_cell`), which reading removes.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from litft.common.errors import LitftError
from litft.common.io import atomic_path
from litft.data.tables import csv_error, csv_reader

SCALE = {0: "Incorrect", 1: "No Answer", 2: "Partially Relevant", 3: "Fully Relevant"}
SCALE_MEANING = {
    0: "not relevant: the answer is wrong or about something else",
    1: "no answer: empty, a refusal, or 'I don't know'",
    2: "partially relevant: on topic, but incomplete or partly wrong",
    3: "relevant: answers the question as the reference does",
}
ANSWER, SCORE, JUDGE, JUDGE_REASON = "answer_", "score_", "judge_", "judge_reason_"
ROW_ID = "id"
# A cell starting with one of these is run as a formula by spreadsheets (OWASP, "CSV Injection"): a crawled page or
# a model's answer could make a reviewer's spreadsheet fetch a link. A leading ' makes such a cell text. `'` is in
# the list so that reading back is exact: a written cell starts with ' only where the writer added one. Written by
# hand: the libraries that defuse CSV cells (defusedcsv) change the text in ways that cannot be read back.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def sheet_cell(text: str) -> str:
    """`text` as a sheet cell no spreadsheet runs as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def read_sheet_cell(cell: str) -> str:
    """The text `sheet_cell` wrote; a spreadsheet that already dropped the ' leaves a cell that is read as it is."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def parse_score(value: str | None, where: str) -> int | None:
    """A cell of the 0-3 scale: empty means not scored yet; `3`, `3.0` and ` 3 ` are all 3."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        number = -1.0
    if number not in SCALE:
        raise LitftError(
            f"{where} holds {text!r}; scores must be 0, 1, 2 or 3 "
            f"({', '.join(f'{k}={v}' for k, v in SCALE.items())}) or empty."
        )
    return int(number)


def read_csv(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV a spreadsheet may have re-saved (BOM, `;` or tab separators)."""
    path = Path(path)
    if not path.is_file():
        raise LitftError(f"{path} does not exist or is not a file; give the answers.csv that `litft evaluate` wrote.")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LitftError(f"{path} is not UTF-8; re-save it as 'CSV UTF-8'.") from None
    if not text.strip():
        raise LitftError(f"{path} is empty; give the answers.csv that `litft evaluate` wrote.")
    first_line = text.splitlines()[0]
    delimiter = max(",;\t", key=first_line.count)
    reader = csv_reader(text, delimiter)
    rows: list[dict[str, str]] = []
    try:
        fields = [name.strip() for name in reader.fieldnames or []]
        reader.fieldnames = fields
        for row in reader:
            rows.append({key: read_sheet_cell(cell) if isinstance(cell, str) else cell for key, cell in row.items()})
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            raise csv_error(path, text, delimiter, len(rows) + 1, error) from None
        raise LitftError(f"{path} is not a readable CSV ({error}); re-save it from the spreadsheet as CSV.") from None
    return fields, rows


def _old_scores(path: Path) -> tuple[dict[tuple[str, str, str, str], str], int]:
    """Human scores already typed into an existing answers.csv, by (model, question, reference, answer)."""
    if not path.is_file():
        return {}, 0
    try:
        fields, rows = read_csv(path)
    except LitftError:  # unreadable: nothing to carry over, but the file is backed up rather than overwritten
        return {}, 1
    scores, filled = {}, 0
    labels = [f[len(SCORE) :] for f in fields if f.startswith(SCORE)]
    for row in rows:
        for label in labels:
            value = (row.get(SCORE + label) or "").strip()
            if value:
                filled += 1
                scores[(label, row.get("question", ""), row.get("reference", ""), row.get(ANSWER + label, ""))] = value
    return scores, filled


def write_answers_csv(
    path: Path,
    questions: list[str],
    references: list[str],
    answers: dict[str, list[str]],
    verdicts: dict[str, list] | None = None,
    sources: list[dict[str, str]] | None = None,
) -> str:
    """Write the review sheet: id, question, reference, each question's `sources` columns (its lineage), then
    `answer_<model>` beside an empty `score_<model>` per model (and `judge_<model>`, `judge_reason_<model>` from
    the verdicts). Scores a person typed into an earlier sheet are kept where the answer is unchanged; if any would
    be lost, the old sheet is kept as a backup. Returns a note for the user ("" when there was nothing to keep)."""
    path = Path(path)
    scores, filled = _old_scores(path)
    fields = [ROW_ID, "question", "reference", *(sources[0] if sources else [])]
    for label in answers:
        fields += [ANSWER + label, SCORE + label]
    for label in verdicts or {}:
        fields += [JUDGE + label, JUDGE_REASON + label]
    kept, rows = 0, []
    for i, (question, reference) in enumerate(zip(questions, references, strict=True)):
        row = {ROW_ID: str(i + 1), "question": question, "reference": reference, **(sources[i] if sources else {})}
        for label, model_answers in answers.items():
            old = scores.get((label, question, reference, model_answers[i]), "")
            kept += bool(old)
            row[ANSWER + label], row[SCORE + label] = model_answers[i], old
        for label, model_verdicts in (verdicts or {}).items():
            verdict = model_verdicts[i]
            row[JUDGE + label] = "" if verdict.score is None else str(verdict.score)
            row[JUDGE_REASON + label] = verdict.reason
        rows.append(row)
    note = ""
    if filled > kept:
        backup = path.with_name(f"{path.stem}.{datetime.now().strftime('%Y%m%d-%H%M%S')}{path.suffix}")
        path.replace(backup)
        note = f"{filled - kept} earlier scores no longer match their answers; the old sheet is kept as {backup}"
    elif filled:
        note = f"kept {kept} scores from the earlier answers.csv"
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows({name: sheet_cell(cell) for name, cell in row.items()} for row in rows)
    return note


def model_labels(fields: list[str]) -> list[str]:
    """Models named by the answer/score columns, in column order."""
    labels: list[str] = []
    for name in fields:
        for prefix in (ANSWER, SCORE):
            if name.startswith(prefix) and name[len(prefix) :] and name[len(prefix) :] not in labels:
                labels.append(name[len(prefix) :])
    return labels


@dataclass
class ReviewRow:
    model: str
    source: str  # "human" or "judge"
    counts: dict[int, int] = field(default_factory=lambda: {score: 0 for score in SCALE})
    unscored: int = 0

    @property
    def scored(self) -> int:
        return sum(self.counts.values())

    @property
    def label(self) -> str:
        return self.model if self.source == "human" else f"{self.model} (judge)"

    def percent(self, score: int) -> float | None:
        return 100.0 * self.counts[score] / self.scored if self.scored else None

    @property
    def mean(self) -> float | None:
        return sum(score * count for score, count in self.counts.items()) / self.scored if self.scored else None

    def as_dict(self) -> dict:
        return {
            "model": self.model,
            "source": self.source,
            "scored": self.scored,
            "unscored": self.unscored,
            "counts": {SCALE[score]: count for score, count in self.counts.items()},
            "percent": {SCALE[score]: self.percent(score) for score in SCALE},
            "mean_score": self.mean,
        }


def review_rows(fields: list[str], rows: list[dict[str, str]], source_name: str = "answers.csv") -> list[ReviewRow]:
    """Counts per model for the human `score_` columns and the judge `judge_` columns present."""
    labels = model_labels(fields)
    columns = [(label, "human", SCORE + label) for label in labels if SCORE + label in fields]
    columns += [(label, "judge", JUDGE + label) for label in labels if JUDGE + label in fields]
    if not columns:
        raise LitftError(
            f"{source_name} has no score_<model> (or judge_<model>) columns; "
            "give the answers.csv that `litft evaluate` wrote."
        )
    result = []
    for label, source, column in columns:
        row_counts = ReviewRow(label, source)
        for number, row in enumerate(rows, start=2):  # line 1 is the header
            score = parse_score(row.get(column), f"{source_name} line {number}, column {column}")
            if score is None:
                row_counts.unscored += 1
            else:
                row_counts.counts[score] += 1
        result.append(row_counts)
    return result


def format_review_table(rows: list[ReviewRow]) -> str:
    headers = ["model", "scored", *SCALE.values(), "mean"]
    lines = [[row.label, str(row.scored), *(_pct(row.percent(s)) for s in SCALE), _num(row.mean)] for row in rows]
    table = format_table(headers, lines)
    unscored = [f"{row.label}: {row.unscored}" for row in rows if row.unscored]
    if unscored:
        table += "\nnot scored yet (left out of the percentages): " + ", ".join(unscored)
    return table


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain text table: first column left-aligned, the rest right-aligned."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])
