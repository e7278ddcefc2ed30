"""Reader for instruction data: indexed records, right-padding collate, length-grouped batches.

Labels follow litgpt's convention: `labels` is aligned with `input_ids` (same length) and the loss
shifts them, `chunked_cross_entropy(logits[..., :-1, :], labels[..., 1:])`. Masked positions
(prompt tokens when `mask_prompt` -- in conversations every token outside the assistant turns, from
`{split}.mask.bin` -- and padding) hold `IGNORE_INDEX` (-100).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from litft.common.errors import LitftError
from litft.models.loss import IGNORE_INDEX
from litft.prepare.format import open_tokens, read_meta
from litft.readers.position import restored_count


class FinetuneDataset(Dataset):
    """Records of `{split}.bin` as `{"input_ids", "labels"}` int64 tensors; `lengths` feeds the sampler.

    `mask_prompt` defaults to what `litft prepare finetune` recorded in meta.json.
    """

    def __init__(
        self, data_dir: str | os.PathLike, split: str = "train", mask_prompt: bool | None = None, kind: str = "finetune"
    ) -> None:
        self.data_dir = Path(data_dir)
        self.meta = read_meta(self.data_dir, kind)  # preference data (litft.readers.preference) has the same files
        if split not in self.meta["splits"]:
            raise LitftError(f"{data_dir} has no {split!r} split; it has {', '.join(self.meta['splits'])}.")
        info = self.meta["splits"][split]
        self.split = split
        self.mask_prompt = self.meta["mask_prompt"] if mask_prompt is None else mask_prompt
        self.index = open_index(self.data_dir / info["index"], int(info["tokens"]))
        self.lengths = np.asarray(self.index[:, 1])
        self.path = self.data_dir / info["file"]
        self.dtype = np.dtype(self.meta["dtype"])
        self._tokens: np.ndarray | None = open_tokens(self.path, self.dtype, int(info["tokens"]))  # checks the size now
        # Conversations: one uint8 per token, 1 where an assistant turn is trained (absent for single-turn data).
        mask = info.get("mask")  # a file name in data_dir: read_meta checked it
        self.mask_path = self.data_dir / mask if mask else None
        self._mask: np.ndarray | None = (
            open_tokens(self.mask_path, np.uint8, int(info["tokens"])) if self.mask_path else None
        )

    @property
    def tokens(self) -> np.ndarray:
        if self._tokens is None:  # lazy, so pickling into DataLoader workers copies no data
            self._tokens = open_tokens(self.path, self.dtype)
        return self._tokens

    @property
    def mask(self) -> np.ndarray | None:
        if self._mask is None and self.mask_path is not None:
            self._mask = open_tokens(self.mask_path, np.uint8)
        return self._mask

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_tokens": None, "_mask": None}

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        offset, length, prompt_length = (int(value) for value in self.index[i])
        input_ids = torch.from_numpy(self.tokens[offset : offset + length].astype(np.int64))
        labels = input_ids.clone()
        if self.mask_prompt and self.mask is not None:
            labels[torch.from_numpy(self.mask[offset : offset + length] == 0)] = IGNORE_INDEX
        elif self.mask_prompt:
            labels[:prompt_length] = IGNORE_INDEX
        return {"input_ids": input_ids, "labels": labels}


def open_index(path: Path, tokens: int) -> np.ndarray:
    """A split's memory-mapped `(offset, length, prompt_length)` rows, refused unless every row lies inside the
    split's `tokens`: a damaged index would otherwise read garbage or crash deep inside training."""

    def damaged(what: str) -> LitftError:
        return LitftError(f"{path} {what}; the prepared dataset is damaged, re-run `litft prepare finetune`.")

    if not path.is_file():
        raise damaged("is missing")
    try:
        index = np.load(path, mmap_mode="r", allow_pickle=False)  # never unpickle what a data folder holds
    except (ValueError, EOFError, OSError) as error:
        raise damaged(f"is not a readable .npy index ({str(error).splitlines()[0][:80]})") from None
    if index.dtype != np.int64 or index.ndim != 2 or index.shape[1] != 3:
        raise damaged(
            f"holds a {index.dtype} array of shape {index.shape}, not int64 rows of (offset, length, prompt_length)"
        )
    offsets, lengths, prompt_lengths = (np.asarray(index[:, column]) for column in range(3))
    if len(index) and (
        (offsets < 0).any()
        or (lengths < 0).any()
        or (prompt_lengths < 0).any()
        or (prompt_lengths > lengths).any()
        or (offsets + lengths > tokens).any()
    ):
        raise damaged(f"has rows outside the split's {tokens:,} tokens")
    return index


def collate_finetune(
    samples: Sequence[dict[str, torch.Tensor]], pad_id: int = 0, ignore_index: int = IGNORE_INDEX, pad_multiple: int = 1
) -> dict[str, torch.Tensor]:
    """Right-pad a list of samples into `(B, T)` tensors: inputs with `pad_id`, labels with `ignore_index`.

    Packed samples' `position_ids` and `segment_ids` are padded with 0 (segment 0 = padding). With
    causal attention, right padding never changes the real tokens' outputs, so no attention mask is needed.
    `T` is rounded up to `pad_multiple` (e.g. 8 for tensor cores, or a fixed length for torch.compile).
    """
    longest = max(len(sample["input_ids"]) for sample in samples)
    length = -(-longest // pad_multiple) * pad_multiple
    fill = {"input_ids": pad_id, "labels": ignore_index, "position_ids": 0, "segment_ids": 0}
    batch = {}
    for key in samples[0]:
        out = torch.full((len(samples), length), fill[key], dtype=torch.int64)
        for row, sample in enumerate(samples):
            out[row, : len(sample[key])] = sample[key]
        batch[key] = out
    return batch


class LengthGroupedBatchSampler(Sampler[list[int]]):
    """Batches of similar-length records, so padding stays small; deterministic per (seed, epoch), sharded by rank.

    Each epoch shuffles all indices, cuts them into groups of `batch_size * group_batches` records,
    sorts each group by length and cuts it into batches, then shuffles the batches (so long and short
    batches interleave). Rank `r` takes every `world_size`-th batch; the list is first padded by
    wrapping around so every rank gets the same number of batches (as DistributedSampler does).
    The state is the number of batches consumed, `state_dict()` / `load_state_dict()`; the sampler counts
    the batches it yields, so with DataLoader prefetching save the count of batches the loop actually used.
    """

    def __init__(
        self,
        lengths: Sequence[int] | np.ndarray,
        batch_size: int,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 42,
        shuffle: bool = True,
        group_batches: int = 64,
    ) -> None:
        if len(lengths) == 0:
            raise LitftError("the dataset holds no records; prepare it from a non-empty file.")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world_size {world_size}")
        self.lengths = np.asarray(lengths)
        self.batch_size, self.rank, self.world_size = batch_size, rank, world_size
        self.seed, self.shuffle, self.group_batches = seed, shuffle, group_batches
        self.batches_consumed = 0

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """This rank's batches of `epoch`, in order."""
        rng = np.random.default_rng(self.seed + epoch)
        order = rng.permutation(len(self.lengths)) if self.shuffle else np.arange(len(self.lengths))
        group = self.batch_size * self.group_batches
        batches = []
        for start in range(0, len(order), group):
            members = order[start : start + group]
            members = members[np.argsort(-self.lengths[members], kind="stable")]
            batches.extend(members[i : i + self.batch_size].tolist() for i in range(0, len(members), self.batch_size))
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        per_rank = -(-len(batches) // self.world_size)
        batches = (batches * (per_rank * self.world_size // len(batches) + 1))[: per_rank * self.world_size]
        return batches[self.rank :: self.world_size]

    def __len__(self) -> int:
        return math.ceil(math.ceil(len(self.lengths) / self.batch_size) / self.world_size)

    @property
    def epoch(self) -> int:
        return self.batches_consumed // len(self)

    def __iter__(self) -> Iterator[list[int]]:
        """The rest of the current epoch from the saved position; call again for the next epoch."""
        epoch, position = divmod(self.batches_consumed, len(self))
        for batch in self.epoch_batches(epoch)[position:]:
            self.batches_consumed += 1
            yield batch

    def state_dict(self) -> dict[str, Any]:
        return {
            "batches_consumed": self.batches_consumed,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "world_size": self.world_size,
            "records": len(self.lengths),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the position; refuses a state saved with other settings or another number of records,
        whose batches would differ."""
        current = {
            "seed": self.seed,
            "batch_size": self.batch_size,
            "world_size": self.world_size,
            "records": len(self.lengths),
        }
        state = {"records": current["records"], **state}  # states from before `records` was saved
        self.batches_consumed = restored_count(state, current, "batches_consumed", "batch")
