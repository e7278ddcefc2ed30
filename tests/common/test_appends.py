"""Every append-only store stays line-whole after a write the disk refuses midway: the refused record is taken
back whole, and the next record, in the same process, starts a line of its own."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from litft.evaluation.review.store import read_reviews
from tests.support.full_disk import STORES

ROOT = Path(__file__).resolve().parents[2]


def _records(store: str, path: Path) -> list[str]:
    """The records' numbers, each line parsed as that store's reader does."""
    if store == "metrics.csv":
        with open(path, newline="") as fh:
            return [row["step"] for row in csv.DictReader(fh)]
    lines = path.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # a glued or torn line fails here
    keys = {"reviews": "item", "generations": "key", "llm cache": "key", "pages": "url", "crawl state": "url"}
    return [record[keys[store]][-1] for record in records]


@pytest.mark.parametrize("store", list(STORES))
def test_a_write_cut_short_by_a_full_disk_leaves_only_whole_lines(store, tmp_path):
    child = subprocess.run(
        [sys.executable, "-m", "tests.support.full_disk", store, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert "file too large" in (result["refused"] or "").lower(), result
    path = Path(result["path"])
    assert path.read_bytes().endswith(b"\n")
    assert _records(store, path) == ["1", "3"]
    if store == "reviews":
        reviews = read_reviews(path)
        assert reviews.problems == [] and sorted(reviews.latest) == ["item1", "item3"]
