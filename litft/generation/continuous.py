"""Continuous batching: rows join and leave one KV cache between token steps, each decoding exactly as alone.

`decode_batch` decodes a fixed set of prompts; a server needs rows that arrive while others decode. Here the
KV cache has `max_rows` rows of the model's full context, the active rows kept packed at its front. New
prompts are prefilled together in a cache of their own (right-padded, as `decode_batch` does) and copied into
the free rows; a finished or cancelled row's cache row is squeezed out. Every row keeps its own positions
(litgpt's `(B, 1)` `input_pos`), and what lies beyond a row's position in its cache row is masked, so a row
decodes exactly as it would alone. Each row samples with its own settings and its own seeded generator.
Models with a sliding-window (ring-buffer) KV cache are not supported: their cache rows cannot be joined.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from litft.common.errors import LitftError
from litft.common.settings import SamplingSettings
from litft.generation.sampling import RowDecoder, Sampler, cache_dtype


@dataclass(eq=False)
class Row:
    """One request in the batch: its prompt, its output and how it samples. `on_step` runs after each of its
    tokens (streaming); `cancelled` set by another thread makes the row leave at the next step."""

    prompt: Sequence[int]
    decoder: RowDecoder
    settings: SamplingSettings
    on_step: Callable[[Row], None] = lambda row: None
    cancelled: bool = False
    error: BaseException | None = None
    position: int = 0
    sampler: Sampler | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return self.cancelled or self.error is not None or self.decoder.finished


class ContinuousDecoder:
    """One model's KV cache of `max_rows` rows; `add` prefills new rows, `step` decodes one token for all."""

    def __init__(self, model: torch.nn.Module, max_rows: int):
        if model.config.sliding_window_size is not None:
            raise LitftError("continuous batching needs a full KV cache; this model has a sliding attention window.")
        if max_rows < 1:
            raise LitftError(f"--max_batch_size must be at least 1, got {max_rows}.")
        self.model = model
        self.max_rows = max_rows
        self.device = model.transformer.wte.weight.device
        self.length = model.config.block_size
        model.max_seq_length = self.length
        model.set_kv_cache(batch_size=max_rows, device=self.device, dtype=cache_dtype(model))
        self.caches = [block.attn.kv_cache for block in model.transformer.h]
        self.reset()

    @property
    def free(self) -> int:
        return self.max_rows - len(self.rows)

    @torch.inference_mode()
    def add(self, rows: Sequence[Row]) -> None:
        """Prefill `rows` (at most `free`), pick their first tokens and place them after the active rows."""
        if len(rows) > self.free:
            raise ValueError(f"{len(rows)} rows do not fit in {self.free} free cache rows")
        if not rows:
            return
        count, start = len(rows), len(self.rows)
        longest = max(len(row.prompt) for row in rows)
        idx = torch.zeros(count, longest, dtype=torch.long)
        for i, row in enumerate(rows):
            idx[i, : len(row.prompt)] = torch.as_tensor(row.prompt, dtype=torch.long)
        last = torch.tensor([len(row.prompt) - 1 for row in rows], device=self.device)
        rope = self.model.rope_cache_length()
        dtype = cache_dtype(self.model)
        scratch = [block.attn.build_kv_cache(count, self.length, rope, self.device, dtype) for block in self._blocks]
        for block, cache in zip(self._blocks, scratch, strict=True):
            block.attn.kv_cache = cache
        # Only each row's last prompt position needs logits: project just those through the LM head.
        pick = self.model.lm_head.register_forward_pre_hook(
            lambda module, args: (args[0][torch.arange(count, device=self.device), last].unsqueeze(1),)
        )
        try:
            logits = self.model(idx.to(self.device), torch.arange(longest, device=self.device), input_pos_maxp1=longest)
        finally:
            pick.remove()
            for block, cache, new in zip(self._blocks, self.caches, scratch, strict=True):
                cache.k[start : start + count] = new.k
                cache.v[start : start + count] = new.v
                block.attn.kv_cache = cache
        for row in rows:
            row.position = len(row.prompt)
            row.sampler = Sampler(row.settings, 1, self.device)
        self.rows.extend(rows)
        tokens = self._sample(logits[:, -1], rows)
        self._last_tokens = torch.cat([self._last_tokens, tokens])
        self._push(rows, tokens)

    def reset(self) -> None:
        """Forget every row (after an error left the batch in an unknown state)."""
        self.rows = []
        self._last_tokens = torch.zeros(0, dtype=torch.long, device=self.device)

    @torch.inference_mode()
    def step(self) -> None:
        """Drop rows that are done, then decode one token for every remaining row."""
        self._drop_done()
        if not self.rows:
            return
        positions = [row.position for row in self.rows]
        input_pos = torch.tensor(positions, device=self.device).view(-1, 1)
        logits = self.model(self._last_tokens.view(-1, 1), input_pos, input_pos_maxp1=max(positions) + 1)[:, -1]
        for row in self.rows:
            row.position += 1
        self._last_tokens = self._sample(logits, self.rows)
        self._push(self.rows, self._last_tokens)
        self._drop_done()

    def _sample(self, logits: torch.Tensor, rows: Sequence[Row]) -> torch.Tensor:
        if all(row.settings.greedy for row in rows):
            return torch.argmax(logits, dim=-1)
        return torch.cat([row.sampler(logits[j : j + 1], [0]) for j, row in enumerate(rows)])

    def _push(self, rows: Sequence[Row], tokens: torch.Tensor) -> None:
        for row, token in zip(rows, tokens.tolist(), strict=True):
            if not row.cancelled:
                row.decoder.push(token)
                row.on_step(row)

    def _drop_done(self) -> None:
        keep = [j for j, row in enumerate(self.rows) if not row.done]
        if len(keep) == len(self.rows):
            return
        index = torch.tensor(keep, dtype=torch.long, device=self.device)
        for cache in self.caches:
            cache.k[: len(keep)] = cache.k.index_select(0, index)
            cache.v[: len(keep)] = cache.v.index_select(0, index)
        self._last_tokens = self._last_tokens.index_select(0, index)
        self.rows = [self.rows[j] for j in keep]

    @property
    def _blocks(self) -> list[torch.nn.Module]:
        return list(self.model.transformer.h)
