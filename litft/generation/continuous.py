"""Continuous batching: rows join and leave one KV cache between token steps, each decoding exactly as alone.

`decode_batch` decodes a fixed set of prompts; a server needs rows that arrive while others decode. Here the
KV cache has `max_rows` rows of the model's full context, the active rows kept packed at its front. New
prompts are prefilled together in a cache of their own (right-padded, as `decode_batch` does) and copied into
the free rows; a finished or cancelled row's cache row is squeezed out. Every row keeps its own positions
(litgpt's `(B, 1)` `input_pos`), and what lies beyond a row's position in its cache row is masked, so a row
decodes exactly as it would alone. Each row samples with its own settings and its own seeded generator.
Models with a sliding-window (ring-buffer) KV cache are not supported: their cache rows cannot be joined.

A server streams every row after every step, so a row's text is kept by `IncrementalDecoder`, whose cost per
token does not grow with the answer (`RowDecoder` re-decodes all ids each time).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from litft.common.errors import LitftError
from litft.common.settings import SamplingSettings
from litft.generation.sampling import RowDecoder, Sampler, cache_dtype, held_back_suffix


class IncrementalDecoder(RowDecoder):
    """A `RowDecoder` whose work per token is constant: ids are turned into text in a short sliding window and
    stop strings are searched in the new text only.

    The window is how vLLM and TGI stream: the new text is the text of `ids[prefix:]` minus that of
    `ids[prefix:read]`, so whatever a tokenizer does at the start of a decode (SentencePiece drops a leading
    space) cancels out; the window waits while it ends in an incomplete UTF-8 character or shows nothing new.
    For byte-level BPE and SentencePiece tokenizers the text equals decoding all ids at once (tests check
    both). `decode` should be the tokenizer's own list decoder (no single-token special case: a window of one
    token is mid-text).
    """

    def __init__(
        self,
        decode: Callable[[list[int]], str],
        max_new_tokens: int,
        stop_tokens: Sequence[Sequence[int]] = (),
        stop_strings: Sequence[str] = (),
    ):
        super().__init__(decode, max_new_tokens, stop_tokens, stop_strings)
        self._text = ""  # the text of ids[: self._read]
        self._prefix = self._read = 0
        self._prefix_text = ""  # the text of ids[self._prefix : self._read], decoded as one window
        self._stop_overlap = max((len(stop) for stop in self.stop_strings), default=1) - 1
        self._shown_chars = 0

    def push(self, token: int) -> bool:
        self.ids.append(token)
        for seq in self.stop_tokens:
            if self.ids[-len(seq) :] == seq:
                self._cut_ids = len(self.ids) - len(seq)
                self.finish_reason = "stop"
                self._read_to(self._cut_ids, final=True)
                return True
        final = len(self.ids) >= self.max_new_tokens
        self._read_to(len(self.ids) - (0 if final else self._partial_stop_sequence()), final)
        if self._cut_text is not None:
            self.finish_reason = "stop"
        elif final:
            self.finish_reason = "length"
        return self.finished

    def _partial_stop_sequence(self) -> int:
        """How many trailing ids could begin a stop sequence (their text is not part of the answer yet)."""
        ids = self.ids
        return max((k for seq in self.stop_tokens for k in range(1, len(seq)) if ids[-k:] == seq[:k]), default=0)

    def _read_to(self, end: int, final: bool) -> None:
        """Append the text of ids[read:end] unless more is coming and it shows nothing new yet; find stop strings."""
        if end <= self._read:
            return
        window = self.decode(self.ids[self._prefix : end])
        if not final and (len(window) <= len(self._prefix_text) or window.endswith("\ufffd")):
            return  # nothing new yet (a token that shows no text may change how the next one starts)
        checked = len(self._text)
        self._text += window[len(self._prefix_text) :]
        self._prefix, self._read = self._read, end
        self._prefix_text = self.decode(self.ids[self._prefix : self._read])
        if self.stop_strings:
            start = max(0, checked - self._stop_overlap)
            hits = [i for i in (self._text.find(s, start) for s in self.stop_strings) if i >= 0]
            if hits:
                self._cut_text = min(hits)

    @property
    def text(self) -> str:
        return self._text if self._cut_text is None else self._text[: self._cut_text]

    def pending_text(self) -> str:
        """Text that is now certain and was not returned before (what a stream sends next)."""
        if self.finished:
            end = len(self.text)
        elif self._stop_overlap:  # a stop string may be starting at the end: that text waits
            end = len(self._text) - held_back_suffix(self._text[-self._stop_overlap :], self.stop_strings)
        else:
            end = len(self._text)
        if end <= self._shown_chars:
            return ""
        new, self._shown_chars = self._text[self._shown_chars : end], end
        return new


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
        """Prefill `rows` (at most `free`), pick their first tokens and place them after the active rows. When it
        raises, the active rows are as they were (the caller may retry the rows one by one)."""
        if len(rows) > self.free:
            raise ValueError(f"{len(rows)} rows do not fit in {self.free} free cache rows")
        if any(not row.prompt for row in rows):
            raise ValueError("a row has no prompt tokens to predict its first token from")
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
        tokens = self._sample(logits[:, -1], rows)
        self.rows.extend(rows)
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
        """Each row's token to its text; a row whose text fails gets the error and leaves, the others go on."""
        for row, token in zip(rows, tokens.tolist(), strict=True):
            if not row.cancelled:
                try:
                    row.decoder.push(token)
                except Exception as error:
                    row.error = error
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
