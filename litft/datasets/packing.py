"""Packing: several instruction records in one sequence, and a forward pass that keeps them apart.

What litgpt allows: `GPT.forward(idx, input_pos=...)` takes positions only together with a KV cache
(inference), and takes no attention mask, so a plain `model(input_ids)` on a packed sequence lets
later records attend to earlier ones and gives them continuing positions. Its blocks, however, accept
a mask and per-token RoPE cos/sin; `packed_forward` drives them directly.

What packing isolates:
- the loss, always: each record's first label is IGNORE_INDEX, so no token is trained to predict the
  next record's start, and prompts stay masked as in the unpacked data;
- with `packed_forward`: attention (a block-diagonal causal mask: a token sees only earlier tokens of
  its own record) and positions (RoPE restarts at 0 for every record), so each record's logits equal
  those of the record alone (tested to float tolerance).
What it does not isolate:
- with plain `model(input_ids)`: attention and positions cross records, as described above;
- batch-level quantities: the loss is averaged over all unmasked tokens of the packed batch, so a
  long record weighs more than in a one-record-per-row batch with a per-row mean;
- speed: an explicit mask turns off the flash SDPA kernel (memory-efficient/math kernels run instead).
`packed_forward` refuses models with sliding-window attention or attention-logit softcapping, whose
litgpt attention code replaces or misreads an explicit mask.
"""

from __future__ import annotations

import bisect
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from litft.datasets.finetune import IGNORE_INDEX, FinetuneDataset
from litft.errors import LitftError


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


def packed_attention_mask(segment_ids: torch.Tensor) -> torch.Tensor:
    """`(B, 1, T, T)` boolean mask: True where query may attend key (same segment, key not after query)."""
    length = segment_ids.size(1)
    same = segment_ids[:, :, None] == segment_ids[:, None, :]
    causal = torch.ones(length, length, dtype=torch.bool, device=segment_ids.device).tril()
    return (same & causal).unsqueeze(1)


def packed_forward(
    model: Any, input_ids: torch.Tensor, position_ids: torch.Tensor, segment_ids: torch.Tensor, lm_head_chunk_size: int = 0
) -> torch.Tensor | list[torch.Tensor]:
    """Logits of a litgpt GPT (also LoRA / adapter-v2) on packed rows, records isolated from each other.

    Mirrors `litgpt.model.GPT.forward`'s no-KV-cache path (litgpt 0.5.x), with per-token RoPE positions
    and a block-diagonal causal mask instead of the default causal mask. With `lm_head_chunk_size > 0` the
    logits come as a list of chunks along T, as litgpt returns them (less autograd memory for large vocabularies).
    """
    config = model.config
    if config.attention_logit_softcapping is not None or any(
        getattr(block.attn, "apply_sliding_window_attention", False) for block in model.transformer.h
    ):
        raise LitftError(f"packing cannot isolate records for {config.name} (sliding-window or softcapped attention); train without packing.")
    if input_ids.size(1) > model.max_seq_length:
        raise ValueError(f"Cannot forward sequence of length {input_ids.size(1)}, max seq length is only {model.max_seq_length}.")
    cos, sin = model.cos[position_ids], model.sin[position_ids]  # (B, T, rope_n_elem)
    mask = packed_attention_mask(segment_ids)
    x = model.transformer.wte(input_ids)
    if config.scale_embeddings:
        x = x * torch.tensor(config.n_embd**0.5, dtype=x.dtype)
    for block_idx, block in enumerate(model.transformer.h):
        if config.rope_indices is not None:
            indices = config.rope_indices[block_idx]
            x = block(x, cos[..., indices], sin[..., indices], mask, None, None)
        else:
            x = block(x, cos, sin, mask, None, None)
    x = model.transformer.ln_f(x)
    if config.final_logit_softcapping is not None:
        from litgpt.model import do_softcapping

        def head(hidden: torch.Tensor) -> torch.Tensor:
            return do_softcapping(model.lm_head(hidden), config.final_logit_softcapping)
    else:
        head = model.lm_head
    if lm_head_chunk_size > 0:
        return [head(chunk) for chunk in x.split(lm_head_chunk_size, dim=1)]
    return head(x)
