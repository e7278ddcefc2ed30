"""`litft synthesize --refresh`: keep the records of chunks that are still there, retire those of chunks that are not.

`litft process` keeps an unchanged chunk's id and gives changed text a new one, so after a refresh of the site a
record's `source_id` is either still in chunks.jsonl (its chunk is unchanged: the record is kept as it was) or gone
(its chunk was removed or changed: the record is moved to the retired file with the reason, never dropped). The
changes.json `litft process` wrote beside chunks.jsonl tells a changed chunk (and its new id) from a removed one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from litft.common.errors import LitftError, os_errors_as_user_errors
from litft.common.io import iter_jsonl
from litft.common.text import parse_json
from litft.data.clean.changes import CHANGES_FILE, file_sha256

REMOVED, CHANGED = "chunk removed", "chunk changed"


@dataclass
class Carried:
    """What a refresh takes over from the earlier output: records by chunk id, and the records retired now."""

    kept: dict[str, list[dict]]
    retired: list[dict]


def _changed_ids(chunks_path: Path) -> dict[str, str]:
    """old id -> new id of the chunks changes.json beside `chunks_path` lists as changed, when it describes that
    very file (its `current` sha256); otherwise none are known and every missing chunk counts as removed."""
    path = chunks_path.parent / CHANGES_FILE
    try:
        changes = parse_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(changes, dict) or changes.get("current") != file_sha256(chunks_path):
        return {}
    pairs = changes.get("chunks", {}).get("changed", []) if isinstance(changes.get("chunks"), dict) else []
    return {pair["old"]: pair["new"] for pair in pairs if isinstance(pair, dict) and {"old", "new"} <= pair.keys()}


def carry_over(output: Path, chunks_path: Path, chunks: list[dict], format: str) -> Carried:
    """The records of the earlier `output` (if any), kept by chunk or retired with their reason."""
    if not output.is_file():
        return Carried({}, [])
    ids = {chunk["id"] for chunk in chunks}
    changed = _changed_ids(chunks_path)
    kept: dict[str, list[dict]] = {}
    retired: list[dict] = []
    with os_errors_as_user_errors("read", output):
        for number, record in enumerate(iter_jsonl(output), start=1):
            source = record.get("source_id")
            if not isinstance(source, str):
                raise LitftError(
                    f"{output} line {number} has no source_id, so --refresh cannot tell its chunk; "
                    "synthesize into a new --output instead."
                )
            if ("messages" in record) != (format == "messages"):
                raise LitftError(
                    f"{output} holds records of another --format than {format}; refresh it with the format it has."
                )
            if source in ids:
                kept.setdefault(source, []).append(record)
            elif source in changed:
                retired.append({**record, "reason": CHANGED, "new_source_id": changed[source]})
            else:
                retired.append({**record, "reason": REMOVED})
    return Carried(kept, retired)


def merged_retired(path: Path, retired: list[dict]) -> list[dict]:
    """The retired file's earlier lines plus the newly retired records not already among them, so re-running a
    refresh (finished or killed before the output was replaced) lists each retired record once."""
    earlier = list(iter_jsonl(path)) if path.is_file() else []
    seen = {json.dumps(record, sort_keys=True) for record in earlier}
    fresh = [record for record in retired if json.dumps(record, sort_keys=True) not in seen]
    return earlier + list({json.dumps(record, sort_keys=True): record for record in fresh}.values())
