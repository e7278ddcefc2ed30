"""`litft split`: a seeded train/test split by source chunk, stable when chunks are added or removed.

Questions made from one passage share its wording; if some went to train and some to test, the test
would measure recall of the passage, not generalisation. So whole chunks (all records with one
`source_id`) go to one side. A record without a source_id is a group of its own.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from litft.common.errors import LitftError, os_errors_as_user_errors
from litft.common.io import (
    atomic_path,
    atomic_write_json,
    check_output_file,
    iter_jsonl,
    refuse_same_path,
)
from litft.common.outputs import check_in_place_files, record_own_files
from litft.data.conversations import is_conversation, read_conversation
from litft.data.records import read_records
from litft.data.tables import read_table
from litft.llm.cache import text_sha256

SIDES = ("train.json", "test.json")
REQUIRED = ("instruction", "output")
SPLIT_KIND = "split"


def group_key(record: dict) -> str:
    """The record's source chunk; a record without one is its own group, named by its content."""
    source = record.get("source_id")
    if source not in (None, ""):
        return f"source:{source}"
    return "record:" + text_sha256(json.dumps(record, sort_keys=True, ensure_ascii=False))


def test_share(group: str, seed: int) -> float:
    """Where a group falls in [0, 1) for `seed`: a hash of the seed and the group's name alone, so adding or
    removing other groups never moves it (a refreshed split keeps every test chunk in test)."""
    digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_test_groups(group_sizes: dict[str, int], test_fraction: float, seed: int) -> set[str]:
    """Groups for the test side: each group whose `test_share` is below `test_fraction` (the record share is
    reached on average, not exactly). Only when that leaves a side empty and there are two groups or more does
    the group nearest the line cross it, so each side gets one."""
    shares = {name: test_share(name, seed) for name in group_sizes}
    test = {name for name, share in shares.items() if share < test_fraction}
    if len(shares) >= 2 and not test:
        test.add(min(shares, key=shares.__getitem__))
    elif len(shares) >= 2 and len(test) == len(shares):
        test.discard(max(shares, key=shares.__getitem__))
    return test


def read_split_input(input: Path) -> list[tuple[str, dict]]:
    """(where, record) pairs of Alpaca records or `messages` / `conversations` records, kept in their form;
    JSONL, JSON, CSV/TSV or Parquet."""
    input = Path(input)
    if input.suffix.lower() == ".jsonl" and not (input.is_file() and is_conversation(next(iter_jsonl(input), None))):
        return [(f"line {number}", record) for number, record in read_records(input, REQUIRED, "instruction record")]
    numbered = read_table(input)
    if not numbered:
        raise LitftError(f"{input} holds no records; give a file with one instruction record per line.")
    for where, record in numbered:
        if is_conversation(numbered[0][1]):
            read_conversation(record, f"{input} {where}")  # refuses an unknown role or a record without a reply
            continue
        for name in REQUIRED:
            if not isinstance(record, dict) or not isinstance(record.get(name), str):
                raise LitftError(f"{input} {where} has no text {name!r} field; each record needs instruction, output.")
    return numbered


def split(input: Path, out_dir: Path, test_fraction: float = 0.2, seed: int = 42, overwrite: bool = False) -> None:
    """Split instruction records or conversations into out_dir/train.json and out_dir/test.json.

    Each source chunk's records all land on one side.

    Args:
        input: Records with instruction and output, or `messages` / `conversations` records (and source_id to
            group by), e.g. the output of `litft filter`: JSONL, JSON, CSV/TSV or Parquet.
        out_dir: Directory for train.json and test.json (JSON arrays, in the form the records came in).
        test_fraction: Share of source chunks whose records go to test.json (each chunk's side is a seeded hash
            of its id, so the share is reached on average, and a chunk keeps its side when others come or go).
        seed: Random seed; the same seed puts a chunk on the same side whatever the other records and their order.
        overwrite: Replace a train.json / test.json in out_dir that litft did not write.
    """
    if not 0.0 < test_fraction < 1.0:
        raise LitftError(f"--test_fraction must be between 0 and 1 (exclusive), got {test_fraction}.")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise LitftError(f"--out_dir {out_dir} is a file, not a folder; give a folder for train.json and test.json.")
    for name in SIDES:
        refuse_same_path(input, out_dir / name, "--input", "--out_dir")
        check_output_file(out_dir / name, "--out_dir")
    check_in_place_files(out_dir, SIDES, overwrite, "--out_dir")
    numbered = read_split_input(input)
    group_sizes: dict[str, int] = {}
    for _, record in numbered:
        key = group_key(record)
        group_sizes[key] = group_sizes.get(key, 0) + 1
    test_groups = assign_test_groups(group_sizes, test_fraction, seed)
    train = [record for _, record in numbered if group_key(record) not in test_groups]
    test = [record for _, record in numbered if group_key(record) in test_groups]
    # Both files are complete before either replaces an older one: a full disk leaves the old pair, never a mixed one.
    with (
        os_errors_as_user_errors("write", out_dir),
        atomic_path(out_dir / SIDES[0]) as train_tmp,
        atomic_path(out_dir / SIDES[1]) as test_tmp,
    ):
        for tmp, records in ((train_tmp, train), (test_tmp, test)):
            atomic_write_json(tmp, records)
    record_own_files(out_dir, SIDES, SPLIT_KIND)
    print(
        f"split: {len(train)} train and {len(test)} test records ({len(test) / len(numbered):.1%} test) "
        f"from {len(group_sizes)} source groups in {out_dir}"
    )
