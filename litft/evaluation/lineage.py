"""Where each test question came from, so a reviewer can open the source: its chunk, its page (URL or file) and
how many training records were drawn from that page (a question about a page the model was trained on fifty
times is a different test from one about a page it never saw)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from litft.models.instructions import read_instructions

LINEAGE_COLUMNS = ("answerable", "source_id", "source_url", "train_records_from_page")


def default_train_file(test_file: Path, train_file: Path | None) -> Path | None:
    """--train_file, else the split's train.json beside the test file (None when there is none)."""
    if train_file is not None:
        return Path(train_file)
    beside = Path(test_file).with_name("train.json")
    return beside if beside.is_file() and beside.resolve() != Path(test_file).resolve() else None


def question_lineage(records, train_records) -> list[dict]:
    """Per test record: answerable, source chunk id, page and the training records from that page (None when the
    training records are unknown or the test record names no page)."""
    per_page = Counter(record.source_url for record in train_records or [] if record.source_url)
    return [
        {
            "answerable": record.answerable,
            "source_id": record.source_id,
            "source_url": record.source_url,
            "train_records_from_page": per_page[record.source_url] if train_records and record.source_url else None,
        }
        for record in records
    ]


def read_train_records(train_file: Path | None) -> list | None:
    return read_instructions(train_file, need_reference=False) if train_file is not None else None


def questions_report(lineage: list[dict], results) -> list[dict]:
    """report.json's `questions`: each question's lineage, how each row answered it (answered, abstained, no
    answer) and, on `+rag` rows, which passage its answer is grounded in."""
    return [
        {
            "id": number,
            **origin,
            "answers": {result.label: result.answer_kinds[number - 1] for result in results},
            "grounding": {
                result.label: result.grounding_per_question[number - 1]
                for result in results
                if result.grounding_per_question and result.grounding_per_question[number - 1] is not None
            },
        }
        for number, origin in enumerate(lineage, start=1)
    ]
