"""`litft evaluate stale`: the questions whose source chunk changed in a refresh, the previous (stale) answers
against the updated model's, with paired intervals; read from a real evaluation folder's report.json and
answers.csv and a changes.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from litft.cli import main
from litft.common.outputs import read_marker
from litft.evaluation.review.table import write_answers_csv

QUESTIONS = [  # (source chunk, question, reference)
    ("c1", "Where is the library?", "The library is in Hall B."),
    ("c2", "When is the application deadline?", "The deadline is April 15."),
    ("c2", "What is the application fee?", "The fee is 90 dollars."),
    ("c3", "Who leads robotics?", "Dr Chen leads robotics."),
    ("c4", "When does term start?", "Term starts in September."),
    ("c5", "Is there a data science course?", "Yes, DS 101 is new."),
]
CHANGES = {
    "version": 1,
    "previous": "old/chunks.jsonl",
    "pages": {"added": [], "changed": ["https://x/admissions"], "removed": [], "unchanged": 3},
    "chunks": {"added": ["c5"], "changed": [{"old": "c2-v1", "new": "c2"}, {"old": "c3-v1", "new": "c3"}],
               "removed": ["c9"], "unchanged": 2},
}  # fmt: skip


def _evaluation(folder: Path) -> None:
    """An evaluation folder as `litft evaluate test.json --runs old new` leaves it."""
    folder.mkdir()
    test_file = folder.parent / "test.json"
    records = [{"instruction": q, "input": "", "output": a, "source_id": s} for s, q, a in QUESTIONS]
    test_file.write_text(json.dumps(records))
    references = [a for _, _, a in QUESTIONS]
    stale = ["Unknown, sorry." if s in ("c2", "c3") else a for s, _, a in QUESTIONS]
    updated = references[:]
    updated[5] = "No."
    answers = {"base": ["no idea"] * 6, "old": stale, "new": updated}
    write_answers_csv(folder / "answers.csv", [q for _, q, _ in QUESTIONS], references, answers)
    models = [{"label": label, "role": "base" if label == "base" else "run"} for label in answers]
    (folder / "report.json").write_text(json.dumps({"test_file": {"path": str(test_file)}, "models": models}))
    (folder / ".litft.json").write_text(json.dumps({"kind": "evaluation", "files": ["answers.csv", "report.json"]}))


def test_stale_rows_are_the_changed_questions_with_paired_intervals(tmp_path, capsys):
    _evaluation(tmp_path / "eval")
    (tmp_path / "changes.json").write_text(json.dumps(CHANGES))

    main(["evaluate", "stale", str(tmp_path / "eval"), "--changes", str(tmp_path / "changes.json")])
    report = json.loads((tmp_path / "eval" / "stale.json").read_text())

    assert (report["previous"], report["updated"]) == ("old", "new")
    changed = report["changed_questions"]
    assert [(q["source_id"], q["question"]) for q in changed] == [(s, q) for s, q, _ in QUESTIONS[1:4]]
    assert [q["previous"] for q in changed] == ["Unknown, sorry."] * 3
    assert [(q["rougeL_previous"], q["rougeL_updated"]) for q in changed] == [(0.0, 1.0)] * 3
    groups = report["groups"]
    assert {name: group["n"] for name, group in groups.items()} == {"changed": 3, "added": 1, "unchanged": 2}
    assert groups["changed"]["rows"]["old"] == {"rougeL": 0.0, "vs_previous": None}
    fixed = groups["changed"]["rows"]["new"]["vs_previous"]
    assert (fixed["mean"], fixed["low"], fixed["high"], fixed["excludes_zero"]) == (1.0, 1.0, 1.0, True)
    kept = groups["unchanged"]["rows"]["new"]
    assert kept["rougeL"] == 1.0 and kept["vs_previous"]["mean"] == 0.0 and not kept["vs_previous"]["excludes_zero"]
    assert groups["added"]["rows"]["new"]["rougeL"] == 0.0 and groups["added"]["rows"]["old"]["rougeL"] == 1.0
    out = capsys.readouterr().out
    assert "stale answers: 3 of 6 questions come from changed chunks (old -> new)" in out
    assert "+1.0000 [+1.00, +1.00]*" in out
    assert "stale.json" in read_marker(tmp_path / "eval")["files"]


@pytest.mark.parametrize(
    ("changes", "extra", "message"),
    [
        ({"chunks": {"added": []}}, [], "is not a changes.json of `litft process`"),
        (
            CHANGES,
            ["--previous", "nobody"],
            "--previous 'nobody' is not a row of this evaluation; it has base, old, new.",
        ),
    ],
)
def test_a_wrong_changes_file_or_row_is_one_sentence(changes, extra, message, tmp_path, capsys):
    _evaluation(tmp_path / "eval")
    (tmp_path / "changes.json").write_text(json.dumps(changes))
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "stale", str(tmp_path / "eval"), "--changes", str(tmp_path / "changes.json"), *extra])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in error and error.count("\n") == 1
    assert not (tmp_path / "eval" / "stale.json").exists()
