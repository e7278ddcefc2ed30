"""CSV cells as long as documents are: read whole; one over the bound is named by row and column."""

from __future__ import annotations

import csv

import pytest

from litft.common.errors import LitftError
from litft.data import tables
from litft.data.tables import read_table

PAGE = "A long page of text. " * 12_000  # 252,000 characters: over the csv module's default 131,072


def test_a_cell_longer_than_the_csv_module_default_is_read_whole(tmp_path):
    path = tmp_path / "documents.csv"
    path.write_text(f"instruction,output\nSummarise this.,short\nq2,{PAGE}\n", encoding="utf-8")
    assert [record for _, record in read_table(path)] == [
        {"instruction": "Summarise this.", "output": "short"},
        {"instruction": "q2", "output": PAGE},
    ]


@pytest.fixture
def small_bound(monkeypatch):
    """CSV_CELL_LIMIT at 1,000 characters, and the csv module's process-wide limit put back afterwards."""
    process_limit = csv.field_size_limit()
    monkeypatch.setattr(tables, "CSV_CELL_LIMIT", 1000)
    yield
    csv.field_size_limit(process_limit)


def test_a_cell_over_the_bound_is_named_by_row_and_column(tmp_path, small_bound):
    path = tmp_path / "documents.tsv"
    path.write_text(f"instruction\toutput\nq1\tshort\nq2\t{'x' * 1001}\n", encoding="utf-8")
    with pytest.raises(LitftError) as error:
        read_table(path)
    assert str(error.value) == (
        f"{path} row 2, column 'output', holds a cell longer than 1,000 characters, the most litft reads in one CSV "
        "cell; split that text into smaller records or give the records as JSONL."
    )
    path.write_text(f"instruction\t{'y' * 1001}\nq1\tshort\n", encoding="utf-8")
    with pytest.raises(LitftError, match="documents.tsv header row holds a cell longer than 1,000 characters"):
        read_table(path)
