"""Records of an offline W&B run file (`run-<id>.wandb`), parsed with wandb's own protobuf messages.

wandb >= 0.2x writes these files from its Go core and no longer ships the Python reader (`datastore`), so the
container format is read here: a 7-byte header, then 32 KiB blocks of chunks, each `crc32 (4) | length (2, LE) |
type (1: full, 2: first, 3: middle, 4: last)` followed by its bytes; a chunk never straddles a block.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

BLOCK, HEADER = 32768, 7


def wandb_records(path: Path) -> list[Any]:
    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", "not a W&B run file"
    records, pending, offset = [], b"", HEADER
    while offset + HEADER <= len(data):
        if BLOCK - offset % BLOCK < HEADER:  # a block's tail too short for a chunk header is padding
            offset += BLOCK - offset % BLOCK
            continue
        _crc, length, kind = struct.unpack("<IHB", data[offset : offset + HEADER])
        chunk = data[offset + HEADER : offset + HEADER + length]
        offset += HEADER + length
        if kind == 0 and length == 0:
            continue
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def wandb_config_and_history(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(config, history rows) of one offline run file, values decoded from their JSON."""
    config: dict[str, Any] = {}
    history = []
    for record in wandb_records(path):
        kind = record.WhichOneof("record_type")
        items = record.run.config.update if kind == "run" else record.config.update if kind == "config" else []
        for item in items:
            config[item.key] = json.loads(item.value_json)
        if kind == "history":
            history.append(
                {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            )
    return config, history
