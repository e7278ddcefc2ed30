"""Token sampling on litgpt's GPT with its KV cache: one engine for a single streamed prompt and for batches.

Batches of prompts of different lengths are exact: prompts are right-padded and every row keeps its own
positions (litgpt's GPT takes a `(B, T)` `input_pos`, which selects each row's RoPE angles, causal mask row
and KV-cache slot). A row's real tokens only ever attend to positions at or before their own, and the pad
garbage a short row leaves in the cache sits beyond its position, masked until its own tokens overwrite it.
So each row decodes exactly as it would alone; rows that finish are dropped from the batch and the cache.
Models with a sliding-window KV cache (a ring buffer) are batched only among prompts of equal length.

Sampling follows litgpt's `generate.base.sample` order (top-k on the raw logits, then temperature, then
top-p) batched over rows; each row draws from its own generator seeded with `seed + row`, so a seeded
sample does not depend on which other prompts share its batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from litft.common.errors import LitftError
from litft.common.settings import (
    SamplingSettings,  # also imported from here, its old home
)


def filter_logits(logits: torch.Tensor, temperature: float, top_k: int | None, top_p: float) -> torch.Tensor:
    """Rows of logits after top-k, temperature and top-p, as litgpt's `sample` applies them to one row."""
    if top_k is not None:
        values, indices = torch.topk(logits, min(top_k, logits.size(-1)), dim=-1)
        logits = torch.full_like(logits, float("-inf")).scatter_(-1, indices, values)
    if temperature > 0.0:
        logits = logits / temperature
    if top_p < 1.0:
        sorted_logits, sorted_indices = torch.sort(logits, descending=False, dim=-1)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        remove = cumulative <= (1 - top_p)
        remove[..., -1:] = False  # always keep the most probable token
        remove = remove.scatter(-1, sorted_indices, remove)
        logits = logits.masked_fill(remove, float("-inf"))
    return logits


class Sampler:
    """Picks the next token for each active row; per-row generators make seeded draws batch-independent."""

    def __init__(self, settings: SamplingSettings, rows: int, device: torch.device):
        self.settings = settings
        self.generators: list[torch.Generator | None] = [None] * rows
        if not settings.greedy and settings.seed is not None:
            for row in range(rows):
                generator = torch.Generator(device=device)
                generator.manual_seed(settings.seed + row)
                self.generators[row] = generator

    def __call__(self, logits: torch.Tensor, rows: Sequence[int]) -> torch.Tensor:
        if self.settings.greedy:
            return torch.argmax(logits, dim=-1)
        s = self.settings
        probs = filter_logits(logits.float(), s.temperature, s.top_k, s.top_p).softmax(dim=-1)
        return torch.cat([torch.multinomial(probs[j], 1, generator=self.generators[row]) for j, row in enumerate(rows)])


def held_back_suffix(text: str, stop_strings: Sequence[str]) -> int:
    """How many trailing characters of `text` could be the start of a stop string (so are not shown yet)."""
    hold = 0
    for stop in stop_strings:
        for size in range(min(len(stop) - 1, len(text)), hold, -1):
            if text.endswith(stop[:size]):
                hold = size
                break
    return hold


class RowDecoder:
    """One prompt's output: collects ids, detects stop sequences and stop strings, releases streamable text.

    `stop_tokens` are id sequences (EOS and the prompt style's own); `stop_strings` are text. Neither is
    part of the answer. Text is decoded from all ids at once, as a tokenizer must for correct spacing.
    """

    def __init__(
        self,
        decode: Callable[[list[int]], str],
        max_new_tokens: int,
        stop_tokens: Sequence[Sequence[int]] = (),
        stop_strings: Sequence[str] = (),
    ):
        self.decode = decode
        self.max_new_tokens = max_new_tokens
        self.stop_tokens = [list(seq) for seq in stop_tokens if seq and all(t is not None for t in seq)]
        self.stop_strings = list(stop_strings)
        self.ids: list[int] = []
        self.finish_reason: str | None = None
        self._cut_ids: int | None = None  # answer ids end here (a stop sequence was found)
        self._cut_text: int | None = None  # answer text ends here (a stop string was found)
        self._shown = ""
        self._checked = 0  # text length already searched for stop strings

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None

    @property
    def generated_tokens(self) -> int:
        """Tokens the model produced for this row, stop tokens included (what tokens/s counts)."""
        return len(self.ids)

    def push(self, token: int) -> bool:
        """Add one generated token; True when the row is finished."""
        self.ids.append(token)
        for seq in self.stop_tokens:
            if len(self.ids) >= len(seq) and self.ids[-len(seq) :] == seq:
                self._cut_ids = len(self.ids) - len(seq)
                self.finish_reason = "stop"
                return True
        if self.stop_strings:
            text = self.decode(self.ids)
            start = max(0, self._checked - max(len(s) for s in self.stop_strings) + 1)
            self._checked = len(text)
            hits = [i for i in (text.find(s, start) for s in self.stop_strings) if i >= 0]
            if hits:
                self._cut_text = min(hits)
                self.finish_reason = "stop"
                return True
        if len(self.ids) >= self.max_new_tokens:
            self.finish_reason = "length"
            return True
        return False

    @property
    def answer_ids(self) -> list[int]:
        return self.ids if self._cut_ids is None else self.ids[: self._cut_ids]

    @property
    def text(self) -> str:
        text = self.decode(self.answer_ids)
        return text if self._cut_text is None else text[: self._cut_text]

    def pending_text(self) -> str:
        """Text that is now certain and was not returned before (for streaming to a terminal)."""
        if self.finished:
            text = self.text
        else:
            ids = self.ids
            partial = max((k for seq in self.stop_tokens for k in range(1, len(seq)) if ids[-k:] == seq[:k]), default=0)
            text = self.decode(ids[: len(ids) - partial])
            text = text[: len(text) - held_back_suffix(text, self.stop_strings)]
            text = text.rstrip("\ufffd")  # an incomplete UTF-8 character waits for its next byte
        if not text.startswith(self._shown):
            return ""  # a re-tokenised prefix changed spelling; show the rest when it is consistent again
        new, self._shown = text[len(self._shown) :], text
        return new


def _compact_cache(model: torch.nn.Module, keep: torch.Tensor) -> None:
    """Drop finished rows from every layer's KV cache."""
    for block in model.transformer.h:
        cache = block.attn.kv_cache
        cache.k = cache.k.index_select(0, keep)
        cache.v = cache.v.index_select(0, keep)


def cache_dtype(model: torch.nn.Module) -> torch.dtype:
    return model.transformer.wte.weight.dtype


@torch.inference_mode()
def decode_batch(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    rows: Sequence[RowDecoder],
    sampler: Sampler,
    sampler_rows: Sequence[int] | None = None,
    on_step: Callable[[], None] | None = None,
) -> None:
    """Generate for all `prompts` at once with the KV cache; every `rows[i]` receives prompt i's tokens.

    `sampler_rows[i]` is the sampler's row (generator) for prompt i. `on_step` runs after each token step
    (streaming). Rows stop on their own; the model's KV cache is released at the end.
    """
    device = model.transformer.wte.weight.device
    batch = len(prompts)
    lengths = [len(p) for p in prompts]
    sampler_rows = list(sampler_rows if sampler_rows is not None else range(batch))
    longest = max(lengths)
    previous_max_seq_length = model.max_seq_length
    model.max_seq_length = max(length + row.max_new_tokens for length, row in zip(lengths, rows, strict=True))
    model.set_kv_cache(batch_size=batch, device=device, dtype=cache_dtype(model))
    try:
        idx = torch.zeros(batch, longest, dtype=torch.long)
        for i, prompt in enumerate(prompts):
            idx[i, : lengths[i]] = torch.as_tensor(prompt, dtype=torch.long)
        last = torch.tensor(lengths, device=device) - 1
        # Only each row's last prompt position needs logits: project just those through the LM head.
        pick = model.lm_head.register_forward_pre_hook(
            lambda module, args: (args[0][torch.arange(batch, device=device), last].unsqueeze(1),)
        )
        try:
            logits = model(idx.to(device), torch.arange(longest, device=device), input_pos_maxp1=longest)[:, -1]
        finally:
            pick.remove()
        active = list(range(batch))
        positions = list(lengths)
        while True:
            tokens = sampler(logits, [sampler_rows[i] for i in active])
            keep = [
                j for j, (i, token) in enumerate(zip(active, tokens.tolist(), strict=True)) if not rows[i].push(token)
            ]
            if on_step is not None:
                on_step()
            if not keep:
                return
            if len(keep) < len(active):
                keep_index = torch.tensor(keep, device=device)
                _compact_cache(model, keep_index)
                tokens = tokens.index_select(0, keep_index)
                active = [active[j] for j in keep]
                positions = [positions[j] for j in keep]
            if all(p == positions[0] for p in positions):
                input_pos = torch.tensor(positions[:1], device=device)
            else:
                input_pos = torch.tensor(positions, device=device).view(-1, 1)
            logits = model(tokens.view(-1, 1), input_pos, input_pos_maxp1=max(positions) + 1)[:, -1]
            positions = [p + 1 for p in positions]
    finally:
        model.clear_kv_cache()
        model.max_seq_length = previous_max_seq_length


def plan_batches(lengths: Sequence[int], batch_size: int, equal_lengths_only: bool = False) -> list[list[int]]:
    """Indices grouped into batches of similar prompt length (less padding), longest first.

    With `equal_lengths_only`, a batch holds prompts of one length only (for ring-buffer KV caches).
    """
    if batch_size < 1:
        raise LitftError(f"--batch_size must be at least 1, got {batch_size}.")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    for i in order:
        if (
            batches
            and len(batches[-1]) < batch_size
            and (not equal_lengths_only or lengths[batches[-1][0]] == lengths[i])
        ):
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches
