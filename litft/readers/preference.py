"""Reader for preference data (`litft prepare preference`): each item is two rows of `litft.readers.finetune`'s
`{"input_ids", "labels"}` form (prompt masked) and, for KTO, whether the answer is desirable.

Pairs (DPO): the chosen row, then the rejected one. KTO records: the record's row, then its KL row, the record's
prompt with another record's answer, from which KTO estimates the policy's drift from the reference (TRL pairs each
prompt with the previous answer of its batch; here the partner is fixed, the record half the split away, so a
record's KL row never depends on the batch and precomputed reference log-probabilities stay valid in any order).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from litft.common.errors import LitftError
from litft.models.loss import IGNORE_INDEX
from litft.readers.finetune import FinetuneDataset

Item = tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], bool | None]


class PreferenceDataset:
    """The pairs or KTO records of one split; `lengths` (each item's longer row) feeds the length-grouped sampler."""

    def __init__(self, data_dir: str | os.PathLike, split: str = "train", max_length: int | None = None) -> None:
        self.rows = FinetuneDataset(data_dir, split, kind="preference")
        self.meta, self.max_length = self.rows.meta, max_length
        self.paired = self.meta.get("paired")
        if not isinstance(self.paired, bool):
            raise LitftError(f"{data_dir}/meta.json has paired {self.paired!r}, not true or false; re-run prepare.")
        lengths = np.asarray(self.rows.lengths)
        if self.paired:
            self.lengths = np.maximum(lengths[0::2], lengths[1::2])
            self.desirable = None
        else:
            self.desirable = _labels(Path(data_dir), self.meta["splits"][split], len(lengths))
            self.partners = _partners(len(lengths))
            partner_lengths = lengths[self.partners] - self.rows.index[self.partners, 2]
            self.lengths = np.maximum(lengths, self.rows.index[:, 2] + partner_lengths)
        if max_length is not None:
            self.lengths = np.minimum(self.lengths, max_length)
            prompt_only = int((np.asarray(self.rows.index[:, 2]) >= max_length).sum())
            if prompt_only:
                raise LitftError(
                    f"{prompt_only} {split} row(s) of {data_dir} have a prompt of {max_length} tokens or more, which "
                    f"leaves no answer token to compare at --train.max_seq_length {max_length - 1}; raise it (or "
                    "prepare the data with the length you train with)."
                )

    def __len__(self) -> int:
        return len(self.rows) // 2 if self.paired else len(self.rows)

    def __getitem__(self, index: int) -> Item:
        if self.paired:
            return self._cut(self.rows[2 * index]), self._cut(self.rows[2 * index + 1]), None
        record = self.rows[index]
        offset, length, prompt_length = (int(v) for v in self.rows.index[index])
        p_offset, p_length, p_prompt = (int(v) for v in self.rows.index[self.partners[index]])
        tokens = self.rows.tokens
        prompt, answer = tokens[offset : offset + prompt_length], tokens[p_offset + p_prompt : p_offset + p_length]
        ids = np.concatenate([prompt, answer])
        kl_ids = torch.from_numpy(ids.astype(np.int64))
        kl_labels = kl_ids.clone()
        kl_labels[:prompt_length] = IGNORE_INDEX
        kl_row = {"input_ids": kl_ids, "labels": kl_labels}
        return self._cut(record), self._cut(kl_row), bool(self.desirable[index])

    def _cut(self, row: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if self.max_length is None or len(row["input_ids"]) <= self.max_length:
            return row
        return {key: value[: self.max_length] for key, value in row.items()}


def _partners(count: int) -> np.ndarray:
    """The record whose answer each KTO record's KL row takes: the one half the split away."""
    return (np.arange(count) + max(1, count // 2)) % max(count, 1)


def _labels(data_dir: Path, info: dict, count: int) -> np.ndarray:
    """KTO's per-record labels (`{split}.labels.npy`, a name read_meta checked), refused unless one per record."""
    if count == 0:
        return np.zeros(0, dtype=bool)
    path = data_dir / str(info.get("labels"))
    try:
        labels = np.load(path, allow_pickle=False)  # never unpickle what a data folder holds
    except (ValueError, EOFError, OSError):
        raise LitftError(f"{path} is missing or unreadable; the prepared dataset is damaged, re-run prepare.") from None
    if labels.shape != (count,):
        raise LitftError(f"{path} holds {labels.shape} labels for {count} records; re-run `litft prepare preference`.")
    return labels.astype(bool)
