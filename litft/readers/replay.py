"""New training records with a replayed share of an earlier run's, read as one dataset.

Continuing a run on refreshed data (`--init_from RUN --replay 0.2`) trains on the new records and on a seeded
sample of the records the earlier run trained on, so the model keeps what the unchanged pages taught it.
The earlier records stay in their own prepared folder; this reads both without copying either.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from litft.readers.finetune import FinetuneDataset


class ReplayMix(Dataset):
    """`new`'s records, then the records of `old` at `old_indices`; `lengths` in the same order for the sampler."""

    def __init__(self, new: FinetuneDataset, old: FinetuneDataset, old_indices: Sequence[int]) -> None:
        self.new, self.old = new, old
        self.old_indices = np.asarray(old_indices, dtype=np.int64)
        self.lengths = np.concatenate([new.lengths, old.lengths[self.old_indices]])

    def __len__(self) -> int:
        return len(self.new) + len(self.old_indices)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if i < len(self.new):
            return self.new[i]
        return self.old[int(self.old_indices[i - len(self.new)])]
