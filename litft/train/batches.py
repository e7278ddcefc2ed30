"""The loop's view of data: an endless, resumable stream of micro batches for this rank.

The readers in `litft.readers` know files, sharding, shuffling, padding and packing; the loop only sees
`Batch(input_ids, targets)` with targets already shifted (`targets[t]` is the token after position t,
-100 where nothing is predicted: prompt, padding, a packed record's first token). Packed rows also carry
`position_ids` and `segment_ids`, which the model's forward needs to keep the records apart.
Anything with this interface can drive the loop.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from litft.models.loss import IGNORE_INDEX


@dataclass
class Batch:
    input_ids: torch.Tensor  # [B, T] int64
    targets: torch.Tensor  # [B, T] int64, IGNORE_INDEX where no loss is taken
    position_ids: torch.Tensor | None = None  # [B, T] packed rows only: RoPE position within the record
    segment_ids: torch.Tensor | None = None  # [B, T] packed rows only: 1, 2, ... per record, 0 for padding

    @property
    def target_tokens(self) -> int:
        return int((self.targets != IGNORE_INDEX).sum())

    @property
    def loss_units(self) -> int:
        """What the loss is a mean over: target tokens (preference batches: pairs or records)."""
        return self.target_tokens

    @property
    def packed(self) -> bool:
        return self.segment_ids is not None

    def to(self, device: torch.device) -> Batch:
        def move(tensor: torch.Tensor | None) -> torch.Tensor | None:
            return None if tensor is None else tensor.to(device, non_blocking=True)

        return Batch(move(self.input_ids), move(self.targets), move(self.position_ids), move(self.segment_ids))


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


def shift(rows: Mapping[str, torch.Tensor]) -> Batch:
    """From collated rows (`labels[t]` = `input_ids[t]` or -100, packed rows with positions and segments) to a Batch.

    Inputs, positions and segments drop the last token (nothing follows it); targets drop the first.
    """

    def inputs(key: str) -> torch.Tensor | None:
        return rows[key][:, :-1].contiguous() if key in rows else None

    return Batch(inputs("input_ids"), rows["labels"][:, 1:].contiguous(), inputs("position_ids"), inputs("segment_ids"))
