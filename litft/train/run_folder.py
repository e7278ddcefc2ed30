"""A training run's output folder belongs to one run.

The folder's marker (litft.common.outputs) records the run's identity: method, base model, the prepared data
(a hash of its meta.json) and a hash of the settings. A fresh start into a folder that already holds a
run's checkpoints would mix two runs (keep_last pruning the new run's steps, `--resume auto` picking the
old one's), so it is refused unless the user asks to continue it (`--resume`) or to replace it
(`--overwrite`, which removes only what the earlier run wrote: its step folders, final/ and logs).

The marker also lists the files the run wrote outside its checkpoints (logs/metrics.csv, trackers.json and the
trackers' own files, recorded by litft.train.logging); each checkpoint folder lists its files in a marker of its
own. `--overwrite` removes exactly those, so a user's `logs/tensorboard/old_experiment/` beside them stays.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from litft.common.errors import LitftError
from litft.common.io import atomic_write_json
from litft.common.outputs import (
    MARKER,
    check_output_dir,
    owned_files,
    read_marker,
    remove_output,
    remove_owned_files,
)
from litft.train.state import FINAL_DIR, PROGRESS_FILE, STEP_DIR

RUN_KIND = "run"
# Settings that do not change what the run computes, so they may differ between a run and its resumption.
# activation_checkpointing changes memory, not results (bit-identical), so a resume may turn it on or off.
UNTRACKED_SETTINGS = ("resume", "overwrite", "out_dir", "quiet", "logger", "activation_checkpointing")


def run_identity(method: str, hyperparameters: dict[str, Any], data_dir: Path, base: str | None) -> dict[str, Any]:
    """What makes two runs the same run: method, base, data and settings (the last as a hash)."""
    meta = Path(data_dir) / "meta.json"
    data_hash = hashlib.sha256(meta.read_bytes()).hexdigest()[:16] if meta.is_file() else None
    settings = {k: v for k, v in hyperparameters.items() if k not in UNTRACKED_SETTINGS}
    settings_hash = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return {
        "method": method,
        "base": base,
        "data": str(Path(data_dir).resolve()),
        "data_hash": data_hash,
        "settings_hash": settings_hash,
    }


def check_run_dir(out_dir: Path, identity: dict[str, Any], *, resume: bool, overwrite: bool, inputs: tuple) -> None:
    """Refuse an out_dir that holds something other than this run, before any work (read-only: every rank runs it)."""
    out_dir = Path(out_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()):
        marker = read_marker(out_dir)
        if marker is None and not overwrite and not (resume and checkpoints_in(out_dir)):
            check_output_dir(out_dir, RUN_KIND, inputs=inputs)  # raises: a folder litft did not write
        if marker is not None and marker["kind"] != RUN_KIND and not overwrite:
            check_output_dir(out_dir, RUN_KIND, inputs=inputs)  # raises: another kind of litft output
        if marker is not None and marker["kind"] == RUN_KIND and not overwrite:
            _check_same_run(out_dir, marker, identity, resume)
    check_output_dir(out_dir, RUN_KIND, overwrite=True, inputs=inputs)


def _check_same_run(out_dir: Path, marker: dict[str, Any], identity: dict[str, Any], resume: bool) -> None:
    differences = [key for key in ("method", "base", "data", "data_hash") if marker.get(key) != identity[key]]
    if differences:
        raise LitftError(
            f"{out_dir} holds another run ({marker.get('method')} from {marker.get('base')} on {marker.get('data')}; "
            f"differs in {', '.join(differences)}); choose another --out_dir, or pass --overwrite true to replace it."
        )
    found = checkpoints_in(out_dir)
    if found and not resume:
        settings = "" if marker.get("settings_hash") == identity["settings_hash"] else " with other settings"
        raise LitftError(
            f"{out_dir} already holds this run{settings} (checkpoints up to {found[-1].name}); "
            "pass --resume auto to continue it, --overwrite true to start over (its checkpoints and logs are removed), "
            "or choose another --out_dir."
        )


def claim_run_dir(out_dir: Path, identity: dict[str, Any], *, overwrite: bool) -> None:
    """Mark out_dir as this run's (rank 0, after `check_run_dir`); with --overwrite, first remove what the earlier
    run wrote (its checkpoints and the files its marker lists), nothing else."""
    out_dir = Path(out_dir)
    marker = read_marker(out_dir)
    written = owned_files(out_dir) if marker is not None and marker["kind"] == RUN_KIND else set()
    if overwrite:
        for path in checkpoints_in(out_dir):
            remove_output(path)
        remove_owned_files(out_dir, written)
        written = set()
    atomic_write_json(out_dir / MARKER, {"kind": RUN_KIND, "files": sorted(written), **identity})


def checkpoints_in(out_dir: Path) -> list[Path]:
    """The checkpoint folders a litft run wrote in out_dir (step-*, final), oldest first."""
    found = sorted(p for p in Path(out_dir).glob("step-*") if STEP_DIR.match(p.name) and (p / PROGRESS_FILE).is_file())
    final = Path(out_dir) / FINAL_DIR
    return found + [final] if (final / PROGRESS_FILE).is_file() else found
