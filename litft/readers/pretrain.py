"""Reader for pretraining data: `block_size + 1` token windows over the memory-mapped train.bin / val.bin.

Window `k` is `tokens[k * block_size : k * block_size + block_size + 1]` (input = window[:-1],
target = window[1:]), so consecutive windows share one token and every token is a target once.
Each epoch orders the windows by a permutation seeded with `seed + epoch`; rank `r` of `W` takes
every W-th window of that order starting at `r`, so the ranks together cover every window exactly
once per epoch (their shares differ by at most one window).

Exact resume: the state is the number of windows this rank has consumed. Every rank consumes the
same number per step, so rank 0's `state_dict()` restores every rank.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from litft.common.errors import LitftError
from litft.prepare.format import open_tokens, read_meta
from litft.readers.position import restored_count


class PretrainDataset(Dataset):
    """This rank's windows for the current epoch, as int64 tensors of `block_size + 1` tokens.

    Use either as a map-style Dataset (`len`, `ds[i]`, `set_epoch(e)`) or, for training, through
    `iter_batches(batch_size)`, an endless stream across epochs whose position `state_dict()` saves.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike,
        block_size: int,
        split: str = "train",
        rank: int = 0,
        world_size: int = 1,
        seed: int = 42,
        shuffle: bool = True,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.meta = read_meta(self.data_dir, "pretrain")
        if split not in self.meta["splits"]:
            raise LitftError(f"{data_dir} has no {split!r} split; it has {', '.join(self.meta['splits'])}.")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world_size {world_size}")
        self.path = self.data_dir / self.meta["splits"][split]["file"]
        self.dtype = np.dtype(self.meta["dtype"])
        self.num_tokens = int(self.meta["splits"][split]["tokens"])
        self.block_size, self.split, self.rank, self.world_size = block_size, split, rank, world_size
        self.seed, self.shuffle = seed, shuffle
        self.num_windows = max(0, (self.num_tokens - 1) // block_size)
        if self.num_windows < world_size:
            raise LitftError(
                f"the {split} split of {data_dir} has {self.num_tokens} tokens: fewer than {world_size} window(s) of "
                f"block_size + 1 = {block_size + 1}; use more data or a smaller block size."
            )
        self.windows_consumed = 0
        self._tokens: np.ndarray | None = open_tokens(self.path, self.dtype, self.num_tokens)  # checks the size now
        self.set_epoch(0)

    @property
    def tokens(self) -> np.ndarray:
        # Opened lazily so that pickling the dataset into DataLoader workers never copies the file.
        if self._tokens is None:
            self._tokens = open_tokens(self.path, self.dtype)
        return self._tokens

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_tokens": None}

    def window_order(self, epoch: int) -> np.ndarray:
        """The window numbers this rank reads in `epoch`, in reading order."""
        order = (
            np.random.default_rng(self.seed + epoch).permutation(self.num_windows)
            if self.shuffle
            else np.arange(self.num_windows)
        )
        return order[self.rank :: self.world_size]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self._order = self.window_order(epoch)

    def __len__(self) -> int:
        return len(self._order)

    @property
    def common_length(self) -> int:
        """Windows every rank has in an epoch: iterate this many for lockstep evaluation across ranks."""
        return self.num_windows // self.world_size

    def window(self, number: int) -> torch.Tensor:
        start = int(number) * self.block_size
        return torch.from_numpy(self.tokens[start : start + self.block_size + 1].astype(np.int64))

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.window(self._order[index])

    def iter_batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """Endless `(batch_size, block_size + 1)` int64 batches from the saved position on; a batch may span
        an epoch boundary. Each yielded batch counts as consumed (what `state_dict` records)."""
        while True:
            windows = []
            for _ in range(batch_size):
                epoch, position = divmod(self.windows_consumed, len(self))
                if epoch != self.epoch:
                    self.set_epoch(epoch)
                windows.append(self[position])
                self.windows_consumed += 1
            yield torch.stack(windows)

    def state_dict(self) -> dict[str, Any]:
        return {
            "windows_consumed": self.windows_consumed,
            "seed": self.seed,
            "block_size": self.block_size,
            "world_size": self.world_size,
            "num_windows": self.num_windows,
            "shuffle": self.shuffle,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the position; refuses a state from a different data layout, which could not resume exactly."""
        expected = {key: getattr(self, key) for key in ("seed", "block_size", "world_size", "num_windows", "shuffle")}
        self.windows_consumed = restored_count(state, expected, "windows_consumed", "window")
        self.set_epoch(self.windows_consumed // len(self))
