"""The loop's view of data: an endless, resumable stream of micro batches for this rank.

The readers in `litft.datasets` know files, sharding, shuffling, padding and packing; the loop only sees
`Batch(input_ids, targets)` with targets already shifted (`targets[t]` is the token after position t,
-100 where nothing is predicted: prompt, padding). Anything with this interface can drive the loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Protocol

import torch

IGNORE_INDEX = -100


@dataclass
class Batch:
    input_ids: torch.Tensor  # [B, T] int64
    targets: torch.Tensor  # [B, T] int64, IGNORE_INDEX where no loss is taken

    @property
    def target_tokens(self) -> int:
        return int((self.targets != IGNORE_INDEX).sum())

    def to(self, device: torch.device) -> "Batch":
        return Batch(self.input_ids.to(device, non_blocking=True), self.targets.to(device, non_blocking=True))


class TrainStream(Protocol):
    """Micro batches for this rank, epoch after epoch, restartable from `state_dict()`."""

    epoch: int  # epochs completed

    def next_batch(self) -> Batch: ...

    def batches_per_epoch(self) -> int: ...

    def tokens_per_epoch(self) -> int | None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


class EvalSource(Protocol):
    """One deterministic pass over this rank's share of the validation data."""

    def batches(self) -> Iterator[Batch]: ...

    def __len__(self) -> int: ...

    def sample_prompt(self) -> torch.Tensor | None:
        """Prompt tokens of one held-out record, for the sample generation (None: no sample)."""


def shift(input_ids: torch.Tensor, labels: torch.Tensor) -> Batch:
    """From a record's tokens and unshifted labels (labels[t] = input_ids[t] or -100) to a training Batch."""
    return Batch(input_ids[:, :-1].contiguous(), labels[:, 1:].contiguous())
