"""Where a preference run's reference log-probabilities come from (litft.train.preference):

- LoRA (and QLoRA): the trained model with its adapters switched off, per batch; nothing more in memory.
- full fine-tuning: a frozen copy of the base, per batch; or, with `--precompute_reference true`,
- any method: computed once before the first step, by the model as it starts (the base: LoRA's adapters off, full
  fine-tuning's weights not yet trained), and kept in the run folder (`reference_logps.{split}.npy`, one row per
  pair or KTO record: the reference log-probability of its two rows), where a resumed run reads them back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from litft.common.errors import LitftError
from litft.common.io import atomic_path
from litft.common.outputs import record_own_files
from litft.models.methods import FULL_WEIGHTS, Method
from litft.train.fabric_setup import is_fsdp
from litft.train.preference import PreferenceObjective, adapters_off, sequence_logps
from litft.train.preference_data import REFERENCE_FILE, collate_preference
from litft.train.run_folder import RUN_KIND


def preference_objective(
    fabric: L.Fabric, job: Any, method: Method, config: Any, model: torch.nn.Module, sources: list[Any], resumed: bool
) -> PreferenceObjective:
    """The objective of a preference run, with its reference set up; `sources`: the train stream and the
    validation source (or None)."""
    args = job.preference
    if args.precompute_reference:
        for split, source in zip(("train", "val"), sources, strict=True):
            if source is not None:
                source.reference = reference_table(fabric, Path(job.out_dir), split, source, model, args, resumed)
        return PreferenceObjective(args)
    if method.delta_only:
        return PreferenceObjective(args)
    if is_fsdp(fabric):
        raise LitftError(
            "full preference fine-tuning under FSDP needs --precompute_reference true (a frozen reference copy is "
            "not sharded); add it."
        )
    return PreferenceObjective(args, _frozen_copy(fabric, job, config))


def _frozen_copy(fabric: L.Fabric, job: Any, config: Any) -> torch.nn.Module:
    """The base checkpoint once more, frozen, in the run's precision on the run's device."""
    from litft.models.build import build_model, load_weights
    from litft.models.checkpoint import load_state_dict
    from litft.models.loss import accept_targets

    with fabric.init_module(empty_init=True):
        reference = build_model("full", config, None, device=fabric.device)
    load_weights(reference, "full", load_state_dict(Path(job.checkpoint_dir) / FULL_WEIGHTS))
    reference.max_seq_length = job.train.max_seq_length or config.block_size
    reference.requires_grad_(False)
    reference.eval()
    accept_targets(reference)
    return reference


@torch.no_grad()
def reference_table(
    fabric: L.Fabric, out_dir: Path, split: str, source: Any, model: torch.nn.Module, args: Any, resumed: bool
) -> np.ndarray:
    """`(items, 2)` reference log-probabilities of a split's pairs or KTO records (their two rows): read from the run
    folder, or computed now by the model as it starts and written there."""
    dataset = source.dataset
    path = out_dir / REFERENCE_FILE.format(split=split)
    if path.is_file():
        table = np.load(path, allow_pickle=False)
        if table.shape == (len(dataset), 2):
            return table
    if resumed:
        raise LitftError(
            f"{path} is missing or does not match the data, and the resumed model is no longer the reference; "
            "start the run over (--overwrite true) to compute it again."
        )
    model.eval()
    table = np.zeros((len(dataset), 2), dtype=np.float64)
    batch_size = source.micro_batch_size
    for start in range(0, len(dataset), batch_size):
        indices = list(range(start, min(start + batch_size, len(dataset))))
        batch = collate_preference(dataset, indices, source.pad_id, None).to(fabric.device)
        with adapters_off(model):
            logps = sequence_logps(model, batch, average=args.loss == "ipo").double().cpu().numpy()
        table[indices, 0], table[indices, 1] = logps[: len(indices)], logps[len(indices) :]
    model.train()
    if fabric.global_rank == 0:
        with atomic_path(path) as temporary:
            with open(temporary, "wb") as handle:
                np.save(handle, table)
        record_own_files(out_dir, [path.name], RUN_KIND)
    fabric.barrier()
    return table
