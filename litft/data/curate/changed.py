"""`litft changed_records`: after a refresh, the training records the updated model must learn, and the questions to
ask it.

`process` lists in changes.json the chunks a refresh added and the new ids of the chunks it changed. Their records
on the training side of the (stable) split are what `finetune --init_from RUN --replay F` trains on: the replay
brings back a share of the rest. A stable split keeps a changed chunk on its side, so most changed chunks stay in
training and the test split alone may hold few questions about the changes; `questions.json` is the test split
followed by those training records, so an evaluation shows whether the update took (the changed questions, see
`litft evaluate stale`) and whether it cost anything (the test questions of unchanged chunks).
"""

from __future__ import annotations

from pathlib import Path

from litft.common.checks import require_dir, require_file
from litft.common.errors import LitftError
from litft.common.io import atomic_write_json, read_json
from litft.common.outputs import check_in_place_files, record_own_files
from litft.data.tables import read_json_records

NEW_RECORDS = "new_train.json"
QUESTIONS = "questions.json"
CHANGED_KIND = "changed_records"


def changed_chunk_ids(changes_path: Path) -> set[str]:
    """The chunks a refresh gave new text: the added ones and the new ids of the changed ones."""
    changes = read_json(changes_path)
    chunks = changes.get("chunks") if isinstance(changes, dict) else None
    try:
        return {str(chunk_id) for chunk_id in chunks["added"]} | {str(pair["new"]) for pair in chunks["changed"]}
    except (TypeError, KeyError):
        raise LitftError(
            f"{changes_path} is not a changes.json of `litft process`: it needs chunks.added and chunks.changed "
            "[{old, new}]."
        ) from None


def changed_records(split_dir: Path, changes: Path, out_dir: Path, overwrite: bool = False) -> tuple[int, int]:
    """Write the training records of new and changed chunks (new_train.json) and the questions to evaluate the
    update on (questions.json: the test split, then those records) into out_dir.

    Args:
        split_dir: The refreshed `litft split` folder (train.json, test.json).
        changes: The refresh's changes.json (`litft process`).
        out_dir: Folder for new_train.json and questions.json.
        overwrite: Replace such files in out_dir that litft did not write.

    Returns (records of new and changed chunks, training records).
    """
    require_dir(split_dir, "split_dir", "run `litft split` first")
    require_file(changes, "--changes", "run `litft process` on the refreshed pages first")
    train, test = (Path(split_dir) / name for name in ("train.json", "test.json"))
    require_file(train, "split_dir's train.json", "run `litft split` first")
    require_file(test, "split_dir's test.json", "run `litft split` first")
    fresh = changed_chunk_ids(Path(changes))
    records = read_json_records(train)
    chosen = [record for record in records if isinstance(record, dict) and record.get("source_id") in fresh]
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise LitftError(f"--out_dir {out_dir} is a file, not a folder; choose another --out_dir.")
    check_in_place_files(out_dir, (NEW_RECORDS, QUESTIONS), overwrite, "--out_dir")
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out_dir / NEW_RECORDS, chosen)
    atomic_write_json(out_dir / QUESTIONS, read_json_records(test) + chosen)
    record_own_files(out_dir, (NEW_RECORDS, QUESTIONS), CHANGED_KIND)
    print(f"changed_records: {len(chosen)} of {len(records)} training records come from new or changed chunks")
    return len(chosen), len(records)
