"""lm-evaluation-harness's model interface over a model litft has loaded (`litft.generation.generate.LoadedModel`):
the base, a full run, or a LoRA / adapter-v2 run on its base, without exporting it to Hugging Face first.

Imported only when `litft evaluate --tasks` runs (it imports lm_eval). Texts are tokenized as lm-eval's own
Hugging Face class tokenizes them (BOS as the tokenizer's files say, none before an empty context's prefix
token), so loglikelihoods agree with `lm_eval.models.huggingface.HFLM` on the model's HF export. Tasks see raw
text: the checkpoint's prompt style is not applied, as lm-eval applies no chat template unless asked.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import torch
from lm_eval.api.model import TemplateLM
from lm_eval.models.utils import normalize_gen_kwargs
from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

from litft.common.settings import SamplingSettings
from litft.generation.sampling import RowDecoder, Sampler, decode_batch, plan_batches
from litft.models.tokenizer import encode_batch


class LitftLM(TemplateLM):
    """loglikelihood, loglikelihood_rolling and generate_until of a `LoadedModel`, in batches of similar length."""

    def __init__(self, loaded, batch_size: int = 8):
        super().__init__()
        self.loaded = loaded
        self.batch_size = batch_size

    @property
    def eot_token_id(self) -> int:
        return self.loaded.tokenizer.eos_id

    @property
    def prefix_token_id(self) -> int:
        bos = self.loaded.tokenizer.bos_id
        return bos if bos is not None else self.eot_token_id

    @property
    def max_length(self) -> int:
        return min(self.loaded.info.config.block_size, self.loaded.model.max_seq_length)

    @property
    def tokenizer_name(self) -> str:
        return str(self.loaded.info.path)

    def tok_encode(self, string: str, add_special_tokens: bool | None = None, **kwargs) -> list[int]:
        """The text's ids; BOS as the tokenizer adds it (as HFLM's `tokenizer.encode`), never a second one."""
        tokenizer = self.loaded.tokenizer
        bos_text = tokenizer.decode(torch.tensor([tokenizer.bos_id])) if tokenizer.bos_id is not None else None
        starts_with_bos = bool(bos_text) and string.startswith(bos_text)
        return encode_batch(tokenizer, [string], bos=False if add_special_tokens is False or starts_with_bos else None)[
            0
        ]

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, **kwargs) -> list[tuple[float, bool]]:
        """Each (context ids, continuation ids)'s summed log-probability and whether greedy decoding gives it."""
        order = sorted(range(len(requests)), key=lambda i: -(len(requests[i][1]) + len(requests[i][2])))
        results: list[tuple[float, bool]] = [(0.0, False)] * len(requests)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            # as HFLM: a sequence longer than the context keeps its last max_length + 1 tokens
            sequences = [(requests[i][1] + requests[i][2])[-(self.max_length + 1) :] for i in batch]
            scored = self._continuation_scores(sequences, [len(requests[i][2]) for i in batch])
            for i, score in zip(batch, scored, strict=True):
                results[i] = score
        return results

    @torch.inference_mode()
    def _continuation_scores(self, sequences: list[list[int]], lengths: list[int]) -> list[tuple[float, bool]]:
        """One right-padded forward pass; only the positions that predict a continuation go through the LM head
        (a [batch, tokens, vocab] tensor of a 49k-token vocabulary would dwarf the model)."""
        model, device = self.loaded.model, self.loaded.device
        idx = torch.zeros(len(sequences), max(len(s) for s in sequences) - 1, dtype=torch.long)
        rows, positions = [], []
        for row, (sequence, length) in enumerate(zip(sequences, lengths, strict=True)):
            idx[row, : len(sequence) - 1] = torch.tensor(sequence[:-1])
            rows += [row] * length
            positions += range(len(sequence) - 1 - length, len(sequence) - 1)
        rows_t, positions_t = torch.tensor(rows, device=device), torch.tensor(positions, device=device)
        pick = model.lm_head.register_forward_pre_hook(lambda module, args: (args[0][rows_t, positions_t][None],))
        try:
            logprobs = torch.log_softmax(model(idx.to(device))[0].float(), dim=-1)
        finally:
            pick.remove()
        targets = torch.tensor([t for s, n in zip(sequences, lengths, strict=True) for t in s[-n:]], device=device)
        picked = logprobs.gather(-1, targets[:, None])[:, 0]
        greedy = logprobs.argmax(dim=-1) == targets
        scores, offset = [], 0
        for length in lengths:
            part = slice(offset, offset + length)
            scores.append((float(picked[part].sum()), bool(greedy[part].all())))
            offset += length
        return scores

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False) -> list[float]:
        """Each text's log-likelihood over windows of the model's context, as HFLM scores it (perplexity tasks)."""
        windows, owners = [], []
        for owner, (text,) in enumerate(request.args for request in requests):
            ids = self.tok_encode(text)
            for context, continuation in map(
                make_disjoint_window, get_rolling_token_windows(ids, self.prefix_token_id, self.max_length, 1)
            ):
                windows.append((None, context, continuation))
                owners.append(owner)
        totals = [0.0] * len(requests)
        for owner, (logprob, _) in zip(owners, self._loglikelihood_tokens(windows), strict=True):
            totals[owner] += logprob
        return totals

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        """Continuations decoded with litft's KV-cache sampler, grouped by generation settings, cut at `until`."""
        groups: dict[str, list[int]] = {}
        for i, request in enumerate(requests):
            groups.setdefault(json.dumps(request.args[1], sort_keys=True, default=str), []).append(i)
        texts = [""] * len(requests)
        for indices in groups.values():
            contexts = [requests[i].args[0] for i in indices]
            for i, text in zip(indices, self._generate(contexts, requests[indices[0]].args[1]), strict=True):
                texts[i] = text
        return texts

    def _generate(self, contexts: Sequence[str], gen_kwargs: dict) -> list[str]:
        kwargs = normalize_gen_kwargs(gen_kwargs, default_max_gen_toks=256)
        until = [text for text in kwargs["until"] if text]
        max_new = min(kwargs["max_gen_toks"], self.max_length - 1)
        settings = SamplingSettings(
            max_new_tokens=max_new,
            temperature=float(kwargs.get("temperature", 0.0)) if kwargs.get("do_sample") else 0.0,
            top_k=kwargs.get("top_k"),
            top_p=float(kwargs.get("top_p") or 1.0),
            seed=kwargs.get("seed"),
        )
        # as HFLM: the context keeps its last (context length - max_gen_toks) tokens
        encoded = [
            self.tok_encode(context)[-(self.max_length - max_new) :] or [self.prefix_token_id] for context in contexts
        ]
        sampler = Sampler(settings, len(encoded), self.loaded.device)
        decoded: list[str] = [""] * len(encoded)
        equal_only = self.loaded.info.config.sliding_window_size is not None
        for batch in plan_batches([len(ids) for ids in encoded], self.batch_size, equal_only):
            room = [min(max_new, self.max_length - len(encoded[i])) for i in batch]
            rows = [RowDecoder(self.loaded.decode, n, [[self.eot_token_id]], until) for n in room]
            decode_batch(self.loaded.model, [encoded[i] for i in batch], rows, sampler, sampler_rows=batch)
            for i, row in zip(batch, rows, strict=True):
                decoded[i] = row.text
        return decoded
