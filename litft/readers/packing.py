"""Packing's data side: several instruction records per row, with the position and segment ids that
the packed forward pass (`litft.models.packing`, `litft.models.loss`) needs to keep them apart.

Each record's first label is IGNORE_INDEX, so no token is trained to predict the next record's start, and
prompts stay masked as in the unpacked data. The loss is averaged over all unmasked tokens of the packed
batch, so a long record weighs more than in a one-record-per-row batch with a per-row mean.
"""

from __future__ import annotations

import bisect

import numpy as np
import torch
from torch.utils.data import Dataset

from litft.common.errors import LitftError
from litft.readers.finetune import IGNORE_INDEX, FinetuneDataset


def pack_lengths(lengths: np.ndarray, capacity: int) -> list[list[int]]:
    """Best-fit-decreasing bin packing of record indices into bins of at most `capacity` tokens (deterministic)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    free: list[tuple[int, int]] = []  # sorted (remaining capacity, bin number)
    bins: list[list[int]] = []
    for index in order.tolist():
        length = int(lengths[index])
        slot = bisect.bisect_left(free, (length, -1))
        if slot == len(free):
            bins.append([index])
            bisect.insort(free, (capacity - length, len(bins) - 1))
        else:
            remaining, number = free.pop(slot)
            bins[number].append(index)
            bisect.insort(free, (remaining - length, number))
    return bins


class PackedFinetuneDataset(Dataset):
    """Records packed into sequences of at most `max_seq_length` tokens.

    Items: `input_ids`, `labels` (each record's first label set to IGNORE_INDEX), `position_ids`
    (restarting at 0 per record) and `segment_ids` (1, 2, ... per record; 0 is padding after collate).
    Batch them with `collate_finetune`; `lengths` feeds `LengthGroupedBatchSampler` as for unpacked data.
    """

    def __init__(self, dataset: FinetuneDataset, max_seq_length: int) -> None:
        longest = int(dataset.lengths.max()) if len(dataset) else 0
        if longest > max_seq_length:
            raise LitftError(
                f"a record of {longest} tokens does not fit a packed sequence of {max_seq_length}; "
                f"prepare the data with --max_seq_length {max_seq_length} or pack to a longer length."
            )
        self.dataset = dataset
        self.max_seq_length = max_seq_length
        self.bins = pack_lengths(dataset.lengths, max_seq_length)
        self.lengths = np.array([int(dataset.lengths[members].sum()) for members in self.bins], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.bins)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        parts: dict[str, list[torch.Tensor]] = {"input_ids": [], "labels": [], "position_ids": [], "segment_ids": []}
        for segment, record_index in enumerate(self.bins[i], start=1):
            record = self.dataset[record_index]
            length = len(record["input_ids"])
            labels = record["labels"].clone()
            labels[0] = IGNORE_INDEX
            parts["input_ids"].append(record["input_ids"])
            parts["labels"].append(labels)
            parts["position_ids"].append(torch.arange(length))
            parts["segment_ids"].append(torch.full((length,), segment))
        return {key: torch.cat(values) for key, values in parts.items()}
