"""`litft changed_records`: after a refresh, the training records of added and changed chunks (what the update
trains on) and the questions to evaluate it on, from the split and changes.json."""

from __future__ import annotations

import json

import pytest

from litft.cli import main
from litft.common.outputs import read_marker

CHANGES = {
    "version": 1,
    "pages": {"added": [], "changed": [], "removed": [], "unchanged": 0},
    "chunks": {"added": ["n1"], "changed": [{"old": "c1", "new": "c2"}], "removed": ["r1"], "unchanged": 1},
}
TRAIN = [{"instruction": f"q{i}", "output": "a", "source_id": sid} for i, sid in enumerate(["u1", "c2", "n1", "c2"])]
TEST = [{"instruction": "t", "output": "a", "source_id": "u2"}]


@pytest.fixture
def refreshed(tmp_path):
    (tmp_path / "split").mkdir()
    (tmp_path / "split" / "train.json").write_text(json.dumps(TRAIN))
    (tmp_path / "split" / "test.json").write_text(json.dumps(TEST))
    (tmp_path / "changes.json").write_text(json.dumps(CHANGES))
    return tmp_path


def _run(folder, *extra: str) -> None:
    split, changes = str(folder / "split"), str(folder / "changes.json")
    main(["changed_records", "--split_dir", split, "--changes", changes, "--out_dir", str(folder / "out"), *extra])


def test_the_new_records_are_those_of_added_and_changed_chunks(refreshed, capsys):
    _run(refreshed)

    assert json.loads((refreshed / "out" / "new_train.json").read_text()) == TRAIN[1:]
    assert json.loads((refreshed / "out" / "questions.json").read_text()) == TEST + TRAIN[1:]
    assert read_marker(refreshed / "out")["files"] == ["new_train.json", "questions.json"]
    assert "3 of 4 training records come from new or changed chunks" in capsys.readouterr().out


def test_a_file_litft_did_not_write_is_kept_and_a_bad_changes_file_is_one_sentence(refreshed, capsys):
    (refreshed / "out").mkdir()
    (refreshed / "out" / "new_train.json").write_text("my notes")
    with pytest.raises(SystemExit) as exit_info:
        _run(refreshed)
    assert exit_info.value.code == 2 and "new_train.json, which litft did not write" in capsys.readouterr().err
    assert (refreshed / "out" / "new_train.json").read_text() == "my notes"

    (refreshed / "changes.json").write_text(json.dumps({"chunks": {"added": []}}))
    with pytest.raises(SystemExit) as exit_info:
        _run(refreshed, "--overwrite", "true")
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and error.count("\n") == 1 and "is not a changes.json of `litft process`" in error
