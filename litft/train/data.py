"""Adapters from the readers in `litft.readers` to the loop's `TrainStream` / `EvalSource`.

Pretraining: `block_size + 1` token windows, sharded by rank and shuffled per epoch by the reader.
Fine-tuning: indexed records truncated to the row length, optionally packed several to a row
(`PackedFinetuneDataset`), batched by the reader's length-grouped sampler and right-padded by its
collate; targets are the labels shifted by one. Both streams save exactly the number of batches the loop
consumed, which is all an exact resume needs.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from litft.common.errors import LitftError
from litft.readers.finetune import (
    FinetuneDataset,
    LengthGroupedBatchSampler,
    collate_finetune,
)
from litft.readers.packing import PackedFinetuneDataset
from litft.readers.pretrain import PretrainDataset
from litft.readers.replay import ReplayMix
from litft.train.batches import Batch, shift

GROUP_BATCHES = 64  # batches per length-sorted group: larger cuts more padding, smaller keeps more randomness


class PretrainStream:
    def __init__(self, dataset: PretrainDataset, micro_batch_size: int) -> None:
        self.dataset, self.micro_batch_size = dataset, micro_batch_size
        if dataset.common_length < micro_batch_size:
            raise LitftError(
                f"each device gets {dataset.common_length} training window(s) of {dataset.block_size + 1} tokens, "
                f"fewer than --train.micro_batch_size {micro_batch_size}; "
                "use more data, a smaller batch or a shorter --train.max_seq_length."
            )
        self._batches: Iterator[torch.Tensor] | None = None

    @property
    def epoch(self) -> int:
        return self.dataset.windows_consumed // len(self.dataset)

    def next_batch(self) -> Batch:
        if self._batches is None:
            self._batches = self.dataset.iter_batches(self.micro_batch_size)
        windows = next(self._batches)
        return Batch(windows[:, :-1].contiguous(), windows[:, 1:].contiguous())

    def batches_per_epoch(self) -> int:
        # The same on every rank (their shares differ by at most one window), so all ranks agree on the length.
        return self.dataset.common_length // self.micro_batch_size

    def tokens_per_epoch(self) -> int:
        return self.batches_per_epoch() * self.micro_batch_size * self.dataset.block_size

    def state_dict(self) -> dict[str, Any]:
        return self.dataset.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.dataset.load_state_dict(dict(state))
        self._batches = None


class PretrainEval:
    def __init__(self, dataset: PretrainDataset, micro_batch_size: int) -> None:
        self.dataset, self.micro_batch_size = dataset, micro_batch_size

    def __len__(self) -> int:
        return -(-self.dataset.common_length // self.micro_batch_size)

    def batches(self) -> Iterator[Batch]:
        count = self.dataset.common_length  # equal on every rank: they evaluate in lockstep
        for start in range(0, count, self.micro_batch_size):
            windows = torch.stack([self.dataset[i] for i in range(start, min(start + self.micro_batch_size, count))])
            yield Batch(windows[:, :-1].contiguous(), windows[:, 1:].contiguous())

    def sample_prompt(self) -> torch.Tensor | None:
        return None


class TruncatedRecords:
    """A FinetuneDataset's records cut to `max_length` tokens, the most one training row holds.

    The tail of a longer record is dropped (as litgpt does), so its lengths, which the sampler groups by
    and the packer fits into rows, are the truncated ones.
    """

    def __init__(self, dataset: FinetuneDataset, max_length: int | None) -> None:
        self.dataset, self.max_length = dataset, max_length
        self.lengths = np.minimum(dataset.lengths, max_length) if max_length else np.asarray(dataset.lengths)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        sample = self.dataset[index]
        if self.max_length is not None and len(sample["input_ids"]) > self.max_length:
            sample = {key: value[: self.max_length] for key, value in sample.items()}
        return sample


class FinetuneStream:
    """Training rows of instruction data: one record per row, or several records packed into each row.

    With packing the micro batch counts packed rows, not records, and an epoch is one pass over the
    packed rows (every record once). The saved position is the number of batches consumed, valid only for
    the same rows, so the row layout (`max_length`, `packed`) is saved with it and checked on resume.
    """

    def __init__(
        self,
        records: TruncatedRecords,
        micro_batch_size: int,
        *,
        rank: int,
        world_size: int,
        seed: int,
        shuffle: bool,
        group_by_length: bool,
        packed: bool = False,
        pad_id: int = 0,
    ) -> None:
        if packed and records.max_length is None:
            raise ValueError("packing needs a row length")
        self.layout = {"max_length": records.max_length, "packed": packed}
        self.rows = PackedFinetuneDataset(records, records.max_length) if packed else records
        self.pad_id = pad_id
        self.sampler = LengthGroupedBatchSampler(
            self.rows.lengths,
            micro_batch_size,
            rank=rank,
            world_size=world_size,
            seed=seed,
            shuffle=shuffle,
            group_batches=GROUP_BATCHES if group_by_length else 1,
        )
        self._indices: Iterator[list[int]] | None = None

    @property
    def epoch(self) -> int:
        return self.sampler.epoch

    def next_batch(self) -> Batch:
        return shift(collate_finetune([self.rows[i] for i in self.next_indices()], pad_id=self.pad_id))

    def next_indices(self) -> list[int]:
        """The next micro batch's rows (litft.train.preference_data's stream collates its own from them)."""
        if self._indices is None:
            self._indices = iter(self.sampler)
        indices = next(self._indices, None)
        if indices is None:  # end of an epoch: the sampler starts the next one from its count
            self._indices = iter(self.sampler)
            indices = next(self._indices)
        return indices

    def batches_per_epoch(self) -> int:
        return len(self.sampler)

    def tokens_per_epoch(self) -> int:
        return int(self.rows.lengths.sum()) // self.sampler.world_size

    def state_dict(self) -> dict[str, Any]:
        return {**self.sampler.state_dict(), **self.layout}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for key, value in self.layout.items():
            saved = state.get(key, value)  # checkpoints from before the layout was saved: unpacked, same length
            if saved != value:
                raise LitftError(
                    f"cannot resume the data position: it was saved with {key}={saved!r} but this run has {value!r}; "
                    "resume with the same --train.max_seq_length and --data.packing."
                )
        self.sampler.load_state_dict(dict(state))
        self._indices = None


class FinetuneEval:
    """Validation batches, one record per row (packing isolates records, so the loss would be the same)."""

    def __init__(
        self,
        dataset: FinetuneDataset,
        micro_batch_size: int,
        *,
        rank: int,
        world_size: int,
        max_length: int | None,
        pad_id: int = 0,
    ) -> None:
        self.records, self.pad_id = TruncatedRecords(dataset, max_length), pad_id
        sampler = LengthGroupedBatchSampler(
            self.records.lengths,
            micro_batch_size,
            rank=rank,
            world_size=world_size,
            shuffle=False,
            group_batches=GROUP_BATCHES,
        )
        self._batches = sampler.epoch_batches(0)

    def __len__(self) -> int:
        return len(self._batches)

    def batches(self) -> Iterator[Batch]:
        for indices in self._batches:
            yield shift(collate_finetune([self.records[i] for i in indices], pad_id=self.pad_id))

    def sample_prompt(self) -> torch.Tensor | None:
        offset, length, prompt_length = (int(v) for v in self.records.dataset.index[0])
        if prompt_length < 1:
            return None
        return torch.from_numpy(self.records.dataset.tokens[offset : offset + prompt_length].astype(np.int64))


def open_pretrain(
    data_dir: Path, *, block_size: int, micro_batch_size: int, rank: int, world_size: int, seed: int, shuffle: bool
):
    """(train stream, validation source or None) over a `litft prepare pretrain` directory."""
    train = PretrainStream(
        PretrainDataset(data_dir, block_size, "train", rank, world_size, seed, shuffle), micro_batch_size
    )
    val_info = train.dataset.meta["splits"].get("val", {})
    if int(val_info.get("tokens", 0)) - 1 < block_size * world_size:
        warnings.warn(
            f"{data_dir} has too few validation tokens for one window per device; validation is skipped.", stacklevel=2
        )
        return train, None
    val = PretrainDataset(data_dir, block_size, "val", rank, world_size, seed, shuffle=False)
    return train, PretrainEval(val, micro_batch_size)


def open_finetune(
    data_dir: Path,
    *,
    max_length: int | None,
    micro_batch_size: int,
    rank: int,
    world_size: int,
    seed: int,
    shuffle: bool,
    group_by_length: bool,
    packing: bool = False,
    pad_id: int = 0,
    replay: tuple[Path, list[int]] | None = None,
):
    """(train stream, validation source or None) over a `litft prepare finetune` directory.

    `max_length` is the longest row in tokens (the model's sequence length + 1: the last token is only a target).
    `replay`: an earlier prepared folder and the indices of its training records to train on as well.
    """
    train_set = FinetuneDataset(data_dir, "train")
    if len(train_set) == 0:
        raise LitftError(f"{data_dir} holds no training records; prepare it from a non-empty file.")
    records = train_set if not replay else ReplayMix(train_set, FinetuneDataset(replay[0], "train"), replay[1])
    train = FinetuneStream(
        TruncatedRecords(records, max_length),
        micro_batch_size,
        rank=rank,
        world_size=world_size,
        seed=seed,
        shuffle=shuffle,
        group_by_length=group_by_length,
        packed=packing,
        pad_id=pad_id,
    )
    val_set = FinetuneDataset(data_dir, "val") if "val" in train_set.meta["splits"] else None
    if val_set is None or len(val_set) == 0:
        warnings.warn(
            f"{data_dir} has no validation records; "
            "validation is skipped (prepare with a test file or --val_fraction).",
            stacklevel=2,
        )
        return train, None
    return train, FinetuneEval(
        val_set, micro_batch_size, rank=rank, world_size=world_size, max_length=max_length, pad_id=pad_id
    )
