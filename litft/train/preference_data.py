"""The loop's view of preference data (`litft prepare preference`): micro batches of pairs or KTO records as
`PreferenceBatch`es, resumable like `litft.train.data.FinetuneStream`, and the reference log-probabilities
`--precompute_reference` computes once before training and keeps in the run folder.

A micro batch of B items is 2·B rows: the first rows of the items (chosen answers, or the KTO records), then their
second rows (rejected answers, or the KL rows), right-padded together.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from litft.common.errors import LitftError
from litft.readers.finetune import LengthGroupedBatchSampler, collate_finetune
from litft.readers.preference import PreferenceDataset
from litft.train.batches import shift
from litft.train.data import GROUP_BATCHES, FinetuneStream
from litft.train.preference import PreferenceBatch

REFERENCE_FILE = "reference_logps.{split}.npy"


def collate_preference(
    dataset: PreferenceDataset, indices: list[int], pad_id: int, reference: np.ndarray | None
) -> PreferenceBatch:
    """The items' first rows, then their second rows, as one right-padded batch (targets shifted)."""
    items = [dataset[i] for i in indices]
    rows = [item[0] for item in items] + [item[1] for item in items]
    batch = shift(collate_finetune(rows, pad_id=pad_id))
    answer_tokens = torch.tensor([int((row["labels"][1:] != -100).sum()) for row in rows])
    desirable = None if dataset.paired else torch.tensor([bool(item[2]) for item in items])
    reference_rows = None
    if reference is not None:
        chosen = reference[indices, 0]
        reference_rows = torch.from_numpy(np.concatenate([chosen, reference[indices, 1]]).astype(np.float32))
    return PreferenceBatch(
        batch.input_ids,
        batch.targets,
        units=len(items),
        desirable=desirable,
        answer_tokens=answer_tokens,
        reference=reference_rows,
    )


class PreferenceStream(FinetuneStream):
    """Training micro batches of pairs or KTO records, epoch after epoch, restartable from `state_dict()`: the
    instruction stream's sampling, epochs and saved position over the items, each collated into its two rows."""

    def __init__(
        self,
        dataset: PreferenceDataset,
        micro_batch_size: int,
        *,
        rank: int,
        world_size: int,
        seed: int,
        shuffle: bool,
        group_by_length: bool,
        pad_id: int = 0,
    ) -> None:
        self.dataset, self.rows, self.pad_id, self.reference = dataset, dataset.rows, pad_id, None
        self.micro_batch_size = micro_batch_size
        self.layout = {"max_length": dataset.max_length, "packed": False}
        self.sampler = LengthGroupedBatchSampler(
            dataset.lengths,
            micro_batch_size,
            rank=rank,
            world_size=world_size,
            seed=seed,
            shuffle=shuffle,
            group_batches=GROUP_BATCHES if group_by_length else 1,
        )
        self._indices: Iterator[list[int]] | None = None

    def next_batch(self) -> PreferenceBatch:
        return collate_preference(self.dataset, self.next_indices(), self.pad_id, self.reference)


class PreferenceEval:
    """Validation micro batches, in a fixed order."""

    def __init__(
        self, dataset: PreferenceDataset, micro_batch_size: int, *, rank: int, world_size: int, pad_id: int = 0
    ) -> None:
        self.dataset, self.pad_id, self.reference = dataset, pad_id, None
        self.micro_batch_size = micro_batch_size
        sampler = LengthGroupedBatchSampler(
            dataset.lengths, micro_batch_size, rank=rank, world_size=world_size, shuffle=False, group_batches=1
        )
        self._batches = sampler.epoch_batches(0)

    def __len__(self) -> int:
        return len(self._batches)

    def batches(self) -> Iterator[PreferenceBatch]:
        for indices in self._batches:
            yield collate_preference(self.dataset, indices, self.pad_id, self.reference)

    def sample_prompt(self) -> torch.Tensor | None:
        offset, _, prompt_length = (int(v) for v in self.dataset.rows.index[0])
        return torch.from_numpy(self.dataset.rows.tokens[offset : offset + prompt_length].astype(np.int64))


def open_preference(
    data_dir: Path,
    *,
    paired: bool,
    max_length: int | None,
    micro_batch_size: int,
    rank: int,
    world_size: int,
    seed: int,
    shuffle: bool,
    group_by_length: bool,
    pad_id: int = 0,
) -> tuple[PreferenceStream, PreferenceEval | None]:
    """(train stream, validation source or None) over a `litft prepare preference` directory; `paired`: the method
    trains on pairs (DPO) rather than KTO records."""
    train_set = PreferenceDataset(data_dir, "train", max_length)
    if train_set.paired != paired:
        have, need = ("pairs", "KTO records") if train_set.paired else ("KTO records", "pairs")
        command = "dpo" if train_set.paired else "kto"
        raise LitftError(f"{data_dir} holds {have}, not {need}; train on it with `litft finetune {command}`.")
    if len(train_set) == 0:
        raise LitftError(f"{data_dir} holds no training records; prepare it from a non-empty file.")
    common = dict(rank=rank, world_size=world_size, pad_id=pad_id)
    train = PreferenceStream(
        train_set, micro_batch_size, seed=seed, shuffle=shuffle, group_by_length=group_by_length, **common
    )
    if "val" not in train_set.meta["splits"] or train_set.meta["splits"]["val"]["records"] == 0:
        warnings.warn(
            f"{data_dir} has no validation records; validation is skipped (prepare with --val_fraction).", stacklevel=2
        )
        return train, None
    return train, PreferenceEval(PreferenceDataset(data_dir, "val", max_length), micro_batch_size, **common)
