"""What `fit` does between steps with the validation data: the mean loss over its target tokens and a greedy sample
answer for the log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch

from litft.common.errors import LitftError
from litft.train.batches import Batch, EvalSource
from litft.train.steps import token_loss_sum


@torch.no_grad()
def validate(
    fabric: L.Fabric,
    model: torch.nn.Module,
    source: EvalSource,
    max_iters: int | None,
    loss_fn: Callable[[torch.nn.Module, Batch], torch.Tensor] | None = None,
) -> float:
    """Mean loss over every loss unit of the validation batches (all ranks): cross-entropy per target token, or
    `loss_fn`'s per pair or record (preference methods)."""
    loss_fn = loss_fn or token_loss_sum
    model.eval()
    loss_sum = torch.zeros((), device=fabric.device)
    count = torch.zeros((), device=fabric.device)
    for index, batch in enumerate(source.batches()):
        if max_iters is not None and index >= max_iters:
            break
        batch = batch.to(fabric.device)
        loss_sum += loss_fn(model, batch)
        count += batch.loss_units
    if fabric.world_size > 1:
        loss_sum = fabric.all_reduce(loss_sum, reduce_op="sum")
        count = fabric.all_reduce(count, reduce_op="sum")
    model.train()
    if float(count) == 0:
        raise LitftError(
            "the validation data holds no target tokens; prepare it again with a non-empty validation split."
        )
    return float(loss_sum) / float(count)


@torch.no_grad()
def generate_sample(
    fabric: L.Fabric, model: torch.nn.Module, source: EvalSource, tokenizer: Any, max_new_tokens: int
) -> str | None:
    """Greedy answer to the first validation prompt (every rank runs it: FSDP needs them all; no RNG used)."""
    from litgpt.generate.base import generate

    if tokenizer is None:
        return None
    prompt = source.sample_prompt()
    if prompt is None:
        return None
    module = getattr(model, "module", model)  # the unwrapped GPT, for its attributes and kv cache
    max_returned = min(len(prompt) + max_new_tokens, module.max_seq_length)
    if max_returned <= len(prompt):
        return None
    model.eval()
    with torch.random.fork_rng(devices=[fabric.device] if fabric.device.type == "cuda" else []):
        with fabric.init_tensor():
            module.set_kv_cache(batch_size=1)
        try:
            output = generate(
                model,
                prompt.to(fabric.device),
                max_returned_tokens=max_returned,
                temperature=0.0,
                eos_id=tokenizer.eos_id,
            )
        finally:
            module.clear_kv_cache()
    model.train()
    return tokenizer.decode(output[len(prompt) :]).strip().replace("\n", " ")
