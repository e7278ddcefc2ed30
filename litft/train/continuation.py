"""Continuing an earlier run on refreshed data (`--init_from RUN --replay 0.2`), and the run's data record.

When the documents change, retraining from the base throws away what the earlier run learned from the pages
that did not change. `--init_from` starts from the earlier run's trained weights (fresh optimizer and schedule);
`--replay` mixes a seeded sample of the earlier run's training records (from the prepared folder that run
trained on) into the new ones, so the update does not forget the unchanged pages. Every fine-tuning run writes
`data.json` into its folder: the data version it trained on (hashes of meta.json, the train file and a
`changes.json` beside it) and, when continuing, the run it started from and the indices of the replayed records.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from litft.common.errors import LitftError
from litft.common.io import atomic_write_json
from litft.common.outputs import owned_files, record_own_files
from litft.models.checkpoint import inspect_checkpoint
from litft.models.methods import Method
from litft.train.state import find_resume_dir

DATA_RECORD = "data.json"
CHANGES_FILE = "changes.json"  # what `litft process` writes beside refreshed chunks; a train file may sit beside one


@dataclass
class Continuation:
    """The earlier run's checkpoint to start from and the records of its data to replay."""

    checkpoint: Path
    old_data_dir: Path | None
    replay_indices: list[int]
    old_records: int


def start_checkpoint(init_from: Path) -> Path:
    """The checkpoint `--init_from` names: a checkpoint folder, or a run folder's final/ (else its newest step)."""
    init_from = Path(init_from)
    if (init_from / "model_config.yaml").is_file():
        return init_from
    newest = find_resume_dir("auto", init_from)
    if newest is None:
        raise LitftError(f"--init_from {init_from} holds no checkpoint; give a litft run folder or one of its steps.")
    return newest


def resolve_continuation(
    init_from: Path | None, replay: float, seed: int, method: Method, base_dir: Path | None, new_data_dir: Path
) -> Continuation | None:
    """Check that the earlier run can be continued here (same method, same base, same tokenizer and prompt
    style) and draw the replayed records: round(replay x its training records), seeded by `seed`."""
    if init_from is None:
        return None
    info = inspect_checkpoint(start_checkpoint(init_from))
    if info.method != method.name:
        raise LitftError(f"--init_from {init_from} is a {info.method} run; continue it with `finetune {info.method}`.")
    earlier_base = info.hyperparameters.get("checkpoint_dir")
    if method.delta_only and base_dir is not None and Path(str(earlier_base)).resolve() != Path(base_dir).resolve():
        raise LitftError(
            f"--init_from {init_from} was trained on base {earlier_base}, not {base_dir}; pass that checkpoint_dir."
        )
    if replay == 0:
        return Continuation(info.path, None, [], 0)
    old_data_dir = Path(str(info.hyperparameters.get("data_dir")))
    if not (old_data_dir / "meta.json").is_file():
        raise LitftError(
            f"--replay needs the data --init_from {init_from} trained on, but {old_data_dir} is gone; "
            "restore it or pass --replay 0."
        )
    _check_same_format(old_data_dir, Path(new_data_dir))
    from litft.readers.finetune import FinetuneDataset

    old_records = len(FinetuneDataset(old_data_dir, "train"))
    count = round(replay * old_records)
    indices = np.random.default_rng(seed).choice(old_records, size=count, replace=False)
    return Continuation(info.path, old_data_dir, sorted(int(i) for i in indices), old_records)


def _check_same_format(old_data_dir: Path, new_data_dir: Path) -> None:
    """Replayed records must be tokens of the same tokenizer in the same prompt layout as the new ones."""
    from litft.prepare.format import read_meta

    old, new = read_meta(old_data_dir, "finetune"), read_meta(new_data_dir, "finetune")
    for key in ("tokenizer_fingerprint", "prompt_style", "mask_prompt"):
        if old.get(key) != new.get(key):
            raise LitftError(
                f"--replay mixes records of {old_data_dir} into {new_data_dir}, but they differ in {key} "
                f"({old.get(key)!r} vs {new.get(key)!r}); prepare the new data the same way."
            )


def _sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_version(data_dir: Path) -> dict[str, Any]:
    """What identifies the data a run trained on: hashes of the prepared meta.json, of the train records it was
    prepared from (fine-tuning), and of the `changes.json` beside them (a refreshed crawl's), when there is one."""
    from litft.prepare.format import read_meta

    meta = read_meta(data_dir)
    # Pretraining corpora can be many large files: meta.json's hash (it lists them, with counts) stands for them.
    sources = meta["sources"].get("train") if meta.get("kind") == "finetune" else None
    train_files = [Path(p) for p in ([sources] if isinstance(sources, str) else sources or [])]
    changes = [folder / CHANGES_FILE for folder in dict.fromkeys(p.parent for p in train_files)]
    return {
        "data_dir": str(Path(data_dir).resolve()),
        "meta_sha256": _sha256(Path(data_dir) / "meta.json"),
        "train_files": {str(p): _sha256(p) for p in train_files},
        "changes": {str(p): _sha256(p) for p in changes if p.is_file()},
    }


def write_data_record(
    out_dir: Path, data_dir: Path, continuation: Continuation | None, replay: float, seed: int, kind: str
) -> None:
    """`data.json` in the run folder: the data version and what was replayed from which run (rank 0)."""
    record: dict[str, Any] = {"version": 1, "data": data_version(data_dir), "init_from": None, "replay": None}
    if continuation is not None:
        record["init_from"] = str(continuation.checkpoint.resolve())
    if continuation is not None and continuation.old_data_dir is not None:
        record["replay"] = {
            "fraction": replay,
            "seed": seed,
            "data": data_version(continuation.old_data_dir),
            "old_records": continuation.old_records,
            "indices": continuation.replay_indices,
        }
    if (Path(out_dir) / DATA_RECORD).exists() and DATA_RECORD not in owned_files(Path(out_dir)):
        raise LitftError(f"{Path(out_dir) / DATA_RECORD} is not litft's; move it away, the run records its data there.")
    atomic_write_json(Path(out_dir) / DATA_RECORD, record)
    record_own_files(Path(out_dir), [DATA_RECORD], kind)
