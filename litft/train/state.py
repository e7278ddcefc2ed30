"""Checkpoints during training and exact resume.

A step directory (`out_dir/step-000100`, and `out_dir/final`) is a complete litgpt checkpoint
(weights, model_config.yaml, hyperparameters.yaml, tokenizer files) plus what resuming needs:

- `training_state.pth`: the optimizer (written with `fabric.save`, so FSDP shards it) and the counters;
- `rank-N.pth`: each rank's RNG states and data-reader position (they differ per rank);
- `progress.json`: the counters in plain text, for humans and for `--resume auto`.

The directory is built under a hidden name and renamed into place only when every rank is done, so a
kill at any moment leaves either the previous checkpoints or a complete new one. The learning rate is a
function of the step, so the counters restore the schedule too.
"""

from __future__ import annotations

import pickle
import random
import re
import shutil
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from litft.common.errors import LitftError
from litft.common.io import (
    atomic_path,
    atomic_write_json,
    read_json,
    remove_leftovers_in,
)
from litft.common.outputs import publish_dir, remove_output
from litft.models.checkpoint import CHECKPOINT_KIND, load_state_dict, write_checkpoint_files
from litft.models.methods import METHODS, MethodSettings
from litft.train.fabric_setup import is_fsdp

TRAINING_STATE = "training_state.pth"
PROGRESS_FILE = "progress.json"
FINAL_DIR = "final"
STEP_DIR = re.compile(r"^step-(\d+)$")


@dataclass
class Progress:
    """Counters of a run; everything the schedule and the stopping rules depend on."""

    step: int = 0  # optimizer steps done
    micro_batches: int = 0  # micro batches consumed on each rank
    tokens: int = 0  # training tokens seen over all ranks (targets that count, padding excluded)
    epoch: int = 0  # epochs completed by the reader
    world_size: int = 1

    def state_dict(self) -> dict[str, int]:
        return asdict(self)

    def load_state_dict(self, state: Mapping[str, int]) -> None:
        for key, value in state.items():
            if hasattr(self, key):
                setattr(self, key, int(value))


def step_dir_name(step: int) -> str:
    return f"step-{step:06d}"


# ---------------------------------------------------------------------------------------------- RNG


def rng_state() -> dict[str, Any]:
    """Every generator a training step draws from, in a form `torch.load(weights_only=True)` accepts."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(cached)],
        "python": _python_random_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _python_random_state() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ----------------------------------------------------------------------------------- model weights


def gather_state_dict(
    fabric: L.Fabric, model: torch.nn.Module, keep: Callable[[str, Any], bool]
) -> dict[str, torch.Tensor]:
    """The kept weights as full CPU tensors on rank 0 (a collective under FSDP; other ranks get {})."""
    if is_fsdp(fabric):
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            get_model_state_dict,
        )

        module = getattr(model, "_forward_module", model)
        # cpu_offload also means "rank 0 only", but on CPU processes it hands out tensors whose storage FSDP frees
        # right after (a segfault when they are saved); there every rank gets a cloned copy and the others drop it.
        on_cpu = fabric.device.type == "cpu"
        state = get_model_state_dict(module, options=StateDictOptions(full_state_dict=True, cpu_offload=not on_cpu))
        if fabric.global_rank != 0:
            state = {}
    else:
        state = model.state_dict() if fabric.global_rank == 0 else {}
    return {key: value.detach().cpu() for key, value in state.items() if keep(key, value)}


def load_weights_into(fabric: L.Fabric, model: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Copy (a subset of) full weights into a set-up model; under FSDP each rank keeps its shard of them."""
    if is_fsdp(fabric):
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            set_model_state_dict,
        )

        module = getattr(model, "_forward_module", model)
        _, unexpected = set_model_state_dict(
            module, dict(state), options=StateDictOptions(full_state_dict=True, strict=False)
        )
    else:
        _, unexpected = getattr(model, "_original_module", model).load_state_dict(dict(state), strict=False)
    if unexpected:
        raise LitftError(
            f"the checkpoint holds weights this model does not have ({unexpected[:3]}); check model_config.yaml."
        )


# ------------------------------------------------------------------------------------------ saving


@dataclass
class CheckpointSpec:
    """What `save_checkpoint` needs besides the weights: the base config, where tokenizer files come from, ..."""

    method: str
    config: Any  # litgpt Config of the base architecture
    source_dir: Path | None
    base_checkpoint_dir: Path | None
    settings: MethodSettings | None = None
    hyperparameters: Mapping[str, Any] | None = None
    extra_files: Mapping[str, str] | None = None


def save_training_checkpoint(
    fabric: L.Fabric,
    target: Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    keep: Callable[[str, Any], bool],
    spec: CheckpointSpec,
    progress: Progress,
    data_state: Mapping[str, Any],
) -> Path:
    """Write a step (or final) directory atomically from all ranks; see the module docstring for its files."""
    target = Path(target)
    staging = target.with_name(f".{target.name}.partial")
    if fabric.global_rank == 0:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
    fabric.barrier()
    weights = gather_state_dict(fabric, model, keep)
    if fabric.global_rank == 0:
        write_checkpoint_files(
            staging,
            method=spec.method,
            state_dict=weights,
            config=spec.config,
            source_dir=spec.source_dir,
            base_checkpoint_dir=spec.base_checkpoint_dir,
            settings=spec.settings,
            hyperparameters=spec.hyperparameters,
            extra_files=spec.extra_files,
        )
        atomic_write_json(staging / PROGRESS_FILE, progress.state_dict())
    del weights
    fabric.barrier()
    state: dict[str, Any] = {"optimizer": optimizer, "progress": progress.state_dict()}
    if is_fsdp(fabric):  # Fabric's sharded FSDP save needs the model to map optimizer state to parameters
        state["model"] = model
    fabric.save(staging / TRAINING_STATE, state)
    with atomic_path(staging / f"rank-{fabric.global_rank}.pth") as tmp:
        torch.save({"rng": rng_state(), "data": dict(data_state)}, tmp)
    fabric.barrier()
    if fabric.global_rank == 0:
        publish_dir(staging, target, CHECKPOINT_KIND)
    fabric.barrier()
    return target


def prune_checkpoints(out_dir: Path, keep_last: int | None) -> list[Path]:
    """Delete all but the newest `keep_last` step directories (the final one is never touched); only the files a
    step's marker lists go, so a file the user put into a step folder stays (with the folder)."""
    if keep_last is None:
        return []
    steps = sorted(step_dirs(out_dir), key=lambda pair: pair[0])
    removed = [path for _, path in steps[:-keep_last]] if len(steps) > keep_last else []
    for path in removed:
        remove_output(path)
    return removed


def step_dirs(out_dir: Path) -> list[tuple[int, Path]]:
    if not Path(out_dir).is_dir():
        return []
    found = []
    for path in Path(out_dir).iterdir():
        match = STEP_DIR.match(path.name)
        if match and path.is_dir() and (path / PROGRESS_FILE).is_file():
            found.append((int(match.group(1)), path))
    return found


def clean_partials(out_dir: Path) -> None:
    """Remove half-written checkpoint directories and temporary files a killed run left behind."""
    if Path(out_dir).is_dir():
        for path in Path(out_dir).glob(".*.partial"):
            if _is_staging(path.name):  # only the names save_training_checkpoint builds under, not a user's
                shutil.rmtree(path, ignore_errors=True)
        remove_leftovers_in(out_dir)
        remove_leftovers_in(Path(out_dir) / "logs")


def _is_staging(name: str) -> bool:
    checkpoint = name[1 : -len(".partial")]
    return checkpoint == FINAL_DIR or STEP_DIR.match(checkpoint) is not None


# ----------------------------------------------------------------------------------------- resuming


def find_resume_dir(resume: str | Path | None, out_dir: Path) -> Path | None:
    """`auto`: the newest complete checkpoint in out_dir (or None for a fresh start); a path: that checkpoint."""
    if resume is None or resume is False:
        return None
    if str(resume) == "auto":
        candidates = step_dirs(out_dir)
        final = Path(out_dir) / FINAL_DIR
        if (final / PROGRESS_FILE).is_file():
            candidates.append((read_progress(final).step, final))
        if not candidates:
            return None
        path = max(candidates, key=lambda pair: (pair[0], pair[1].name != FINAL_DIR))[1]
    else:
        path = Path(resume)
        if not (path / TRAINING_STATE).exists() or not (path / PROGRESS_FILE).is_file():
            raise LitftError(
                f"--resume {path} is not a training checkpoint (no {TRAINING_STATE}); "
                "pass a step-* directory of a litft run or 'auto'."
            )
    check_resume_dir(path)
    return path


def damaged_checkpoint(checkpoint: Path, what: str) -> LitftError:
    """The one sentence for a resume folder that cannot be used (a kill or a full disk while copying it)."""
    return LitftError(
        f"resume checkpoint {checkpoint} is damaged ({what}); delete that folder to resume from the step before it, "
        "or pass --resume with an earlier step-* folder."
    )


def check_resume_dir(checkpoint: Path) -> None:
    """Open every file a resume reads (cheaply: memory-mapped, without reading the tensors) before any work."""
    saved = read_progress(checkpoint)
    if not (checkpoint / TRAINING_STATE).exists():
        raise damaged_checkpoint(checkpoint, f"{TRAINING_STATE} is missing")
    if (checkpoint / TRAINING_STATE).is_file():  # under FSDP it is a folder of shards, checked when loaded
        _load_resume_file(checkpoint, checkpoint / TRAINING_STATE, mmap=True)
    for rank in range(saved.world_size):
        _read_rank_file(checkpoint, checkpoint / f"rank-{rank}.pth")
    weights = sorted({m.weights_file for m in METHODS.values() if (checkpoint / m.weights_file).is_file()})
    if not weights:
        raise damaged_checkpoint(checkpoint, "it holds no lit_model.pth nor LoRA/adapter weights")
    for name in weights:
        try:
            load_state_dict(checkpoint / name)
        except LitftError:
            raise damaged_checkpoint(checkpoint, f"{name} is truncated or not a weights file") from None


def _load_resume_file(checkpoint: Path, path: Path, mmap: bool = False) -> Any:
    if not path.is_file():
        raise damaged_checkpoint(checkpoint, f"{path.name} is missing")
    try:
        return torch.load(path, map_location="cpu", mmap=mmap, weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as error:
        reason = str(error).splitlines()[0][:80] if str(error) else type(error).__name__
        raise damaged_checkpoint(checkpoint, f"{path.name} cannot be read: {reason}") from None


def _read_rank_file(checkpoint: Path, path: Path) -> dict[str, Any]:
    """A rank's saved RNG states and data-reader position, checked for the shape `save_training_checkpoint` gives."""
    state = _load_resume_file(checkpoint, path)
    if not (
        isinstance(state, dict)
        and isinstance(state.get("rng"), dict)
        and isinstance(state.get("data"), dict)
        and {"torch", "numpy", "python"} <= set(state["rng"])
    ):
        raise damaged_checkpoint(checkpoint, f"{path.name} does not hold the RNG and data-reader states")
    return state


def read_progress(checkpoint: Path) -> Progress:
    """The counters of a checkpoint's progress.json, refused when the file is not the one litft wrote."""
    path = Path(checkpoint) / PROGRESS_FILE
    try:
        saved = read_json(path)
    except LitftError:
        raise damaged_checkpoint(Path(checkpoint), f"{PROGRESS_FILE} is missing or not JSON") from None
    fields = Progress().state_dict()
    if not isinstance(saved, dict) or "step" not in saved:
        raise damaged_checkpoint(Path(checkpoint), f"{PROGRESS_FILE} holds no step count")
    for key in fields.keys() & saved.keys():
        value = saved[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < (1 if key == "world_size" else 0):
            raise damaged_checkpoint(Path(checkpoint), f"{PROGRESS_FILE} has {key} {value!r}, not a whole number")
    progress = Progress()
    progress.load_state_dict({key: saved[key] for key in fields.keys() & saved.keys()})
    return progress


def load_training_state(
    fabric: L.Fabric, checkpoint: Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer, progress: Progress
) -> dict[str, Any]:
    """Restore optimizer, counters and this rank's RNG; return this rank's saved data-reader state."""
    saved = read_progress(checkpoint)
    if saved.world_size != fabric.world_size:
        raise LitftError(
            f"{checkpoint} was written by {saved.world_size} process(es) but this run has {fabric.world_size}; "
            "resume with the same number of devices and nodes."
        )
    state: dict[str, Any] = {"optimizer": optimizer}
    if is_fsdp(fabric):
        state["model"] = model
    try:
        remainder = fabric.load(Path(checkpoint) / TRAINING_STATE, state, strict=False, weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, pickle.UnpicklingError, zipfile.BadZipFile) as error:
        reason = str(error).splitlines()[0][:80] if str(error) else type(error).__name__
        raise damaged_checkpoint(Path(checkpoint), f"{TRAINING_STATE} cannot be loaded: {reason}") from None
    progress.load_state_dict(remainder.get("progress", saved.state_dict()))
    rank_state = _read_rank_file(Path(checkpoint), Path(checkpoint) / f"rank-{fabric.global_rank}.pth")
    try:
        set_rng_state(rank_state["rng"])
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError):
        raise damaged_checkpoint(
            Path(checkpoint), f"rank-{fabric.global_rank}.pth holds malformed RNG states"
        ) from None
    return rank_state["data"]
