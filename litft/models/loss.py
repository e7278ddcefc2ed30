"""A litgpt model's summed next-token loss without its `(B, T, vocab)` logits.

`litgpt.model.GPT.forward` returns logits for every position; with a large vocabulary they dominate a long
record's memory (1,536 tokens x 49,152 fp32 logits = 288 MiB, kept again by cross-entropy's log-softmax for
backward, and once more as their gradient). `accept_targets` teaches the model's forward a `targets` argument:
it runs the blocks and the final norm, keeps only the positions that have a target (prompt and padding cost no
logits), and takes the lm head and cross-entropy over chunks of those positions, each chunk recomputed in
backward (`torch.utils.checkpoint`), so at most one chunk's logits exist at a time, in forward and in backward.
This is what Liger-Kernel's and Cut-Cross-Entropy's fused losses do; written here with torch alone because both
are Triton (GPU) kernels and litft trains on the CPU too. The sum equals the unchunked one up to float summation
order, and so do the gradients.

Attention runs through litgpt's blocks, so SDPA picks its kernel: unpacked batches pass no mask (right padding
never changes a real token's output under causal attention) and get the causal flash kernel; packed rows
(`litft.models.packing`) pass one additive block-diagonal mask shared by every layer, which the CPU flash and
the CUDA memory-efficient kernels take without materialising attention probabilities.

The loss runs inside the model's own `forward`, so that Fabric's precision context and the DDP/FSDP wrappers
(gradient sync, parameter all-gather) see it.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from litft.models.packing import check_packable, packed_attention_mask

IGNORE_INDEX = -100  # torch's cross_entropy default: positions with no target (prompt, padding, a record's start)
# logits in one chunk (16 MiB in fp32, below glibc's 32 MiB mmap ceiling, so freed chunks are reused, not re-faulted);
# positions per chunk = this // vocabulary size
LOGITS_PER_CHUNK = 2**22


def accept_targets(model: torch.nn.Module) -> None:
    """Let `model(input_ids, targets=..., position_ids=..., segment_ids=...)` return the summed loss (see above),
    and `model(input_ids, targets=..., per_row=True)` each row's summed loss (`row_loss_sums`).

    Calls without `targets` (generation with a KV cache, logits for a caller) go to the model's own forward
    unchanged. Idempotent; apply before `fabric.setup_module`, which wraps the model and so calls this forward.
    """
    if getattr(model, "accepts_targets", False):
        return
    plain_forward = model.forward

    def forward(
        *args: Any,
        targets: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        segment_ids: torch.Tensor | None = None,
        per_row: bool = False,
        **kwargs: Any,
    ):
        if targets is None:
            return plain_forward(*args, **kwargs)
        if per_row:
            return row_loss_sums(model, args[0], targets)
        return token_loss_sum(model, args[0], targets, position_ids, segment_ids)

    model.forward = forward
    model.accepts_targets = True


def token_loss_sum(
    model: Any,
    input_ids: torch.Tensor,
    targets: torch.Tensor,
    position_ids: torch.Tensor | None = None,
    segment_ids: torch.Tensor | None = None,
    chunk_positions: int | None = None,
) -> torch.Tensor:
    """Sum of the cross-entropy over the positions whose target is not IGNORE_INDEX, in float32.

    Packed rows give `position_ids` (RoPE position within each record) and `segment_ids` (which record).
    `chunk_positions` defaults to LOGITS_PER_CHUNK // vocab size.
    """
    hidden = final_hidden_states(model, input_ids, position_ids, segment_ids)
    kept = targets != IGNORE_INDEX
    hidden, targets = hidden[kept], targets[kept]  # (N, n_embd), (N,)
    chunk = chunk_positions or max(1, LOGITS_PER_CHUNK // model.config.padded_vocab_size)
    if torch.is_grad_enabled() and hidden.requires_grad:
        if not any(parameter.requires_grad for parameter in model.lm_head.parameters()):
            return _FrozenHeadLoss.apply(hidden, targets, model, chunk)
        if hidden.size(0) > chunk:
            return _checkpointed_chunks(model, hidden, targets, chunk)
        return _chunk_loss(model, hidden, targets)  # one chunk (or none) would be recomputed for nothing
    total = _zero(hidden)  # validation and perplexity: nothing is kept for backward
    for hidden_chunk, target_chunk in zip(hidden.split(chunk), targets.split(chunk), strict=True):
        total = total + _chunk_loss(model, hidden_chunk, target_chunk)
    return total


def row_loss_sums(model: Any, input_ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """`(B,)`: each row's summed cross-entropy over its targets, in float32; minus it is the row's sequence
    log-probability, which preference losses (litft.train.preference) compare between rows. Same chunking as
    `token_loss_sum`: a trained head recomputes each chunk's logits in backward, a frozen one keeps only the
    gradient with respect to the hidden states."""
    hidden = final_hidden_states(model, input_ids)
    kept = targets != IGNORE_INDEX
    rows = kept.nonzero()[:, 0]  # the row of each kept position
    hidden, targets = hidden[kept], targets[kept]
    chunk = max(1, LOGITS_PER_CHUNK // model.config.padded_vocab_size)
    frozen_head = not any(parameter.requires_grad for parameter in model.lm_head.parameters())
    if torch.is_grad_enabled() and hidden.requires_grad and frozen_head:
        return _FrozenHeadRowLoss.apply(hidden, targets, rows, input_ids.size(0), model, chunk)
    recompute = torch.is_grad_enabled() and hidden.requires_grad
    sums = hidden.new_zeros(input_ids.size(0), dtype=torch.float32)
    for hidden_chunk, target_chunk, row_chunk in zip(
        hidden.split(chunk), targets.split(chunk), rows.split(chunk), strict=True
    ):
        if recompute:
            losses = checkpoint(_position_losses, model, hidden_chunk, target_chunk, use_reentrant=False)
        else:
            losses = _position_losses(model, hidden_chunk, target_chunk)
        sums = sums.index_add(0, row_chunk, losses)
    return sums


class _FrozenHeadRowLoss(torch.autograd.Function):
    """`_FrozenHeadLoss` per row: each position's loss depends on its own hidden state only, so the gradient of the
    chunk's summed loss holds every position's gradient, and backward scales each by its row's output gradient."""

    @staticmethod
    def forward(
        ctx: Any, hidden: torch.Tensor, targets: torch.Tensor, rows: torch.Tensor, batch: int, model: Any, chunk: int
    ) -> torch.Tensor:
        sums, gradient = hidden.new_zeros(batch, dtype=torch.float32), torch.empty_like(hidden)
        for start in range(0, hidden.size(0), chunk):
            piece = hidden[start : start + chunk].detach().requires_grad_()
            with torch.enable_grad():
                losses = _position_losses(model, piece, targets[start : start + chunk])
                (gradient[start : start + chunk],) = torch.autograd.grad(losses.sum(), piece)
            sums.index_add_(0, rows[start : start + chunk], losses.detach())
        ctx.save_for_backward(gradient, rows)
        return sums

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        gradient, rows = ctx.saved_tensors
        return gradient * grad_output[rows].unsqueeze(-1).to(gradient.dtype), None, None, None, None, None


def _position_losses(model: Any, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(_logits(model, hidden).float(), targets, reduction="none")


def _checkpointed_chunks(model: Any, hidden: torch.Tensor, targets: torch.Tensor, chunk: int) -> torch.Tensor:
    """A trained lm head (full fine-tuning, a LoRA head, adapter-v2's): each chunk's logits recomputed in backward."""
    total = _zero(hidden)
    for hidden_chunk, target_chunk in zip(hidden.split(chunk), targets.split(chunk), strict=True):
        total = total + checkpoint(_chunk_loss, model, hidden_chunk, target_chunk, use_reentrant=False)
    return total


class _FrozenHeadLoss(torch.autograd.Function):
    """The chunked loss when the lm head trains nothing (LoRA, QLoRA): each chunk's gradient with respect to the
    hidden states is taken in forward, while its logits exist, and kept ((N, n_embd), small); backward only scales
    it. Same arithmetic as the unchunked loss, with no recomputation (Liger-Kernel's fused linear cross-entropy does
    the same in one Triton kernel)."""

    @staticmethod
    def forward(ctx: Any, hidden: torch.Tensor, targets: torch.Tensor, model: Any, chunk: int) -> torch.Tensor:
        total, gradient = _zero(hidden), torch.empty_like(hidden)
        for start in range(0, hidden.size(0), chunk):
            piece = hidden[start : start + chunk].detach().requires_grad_()
            with torch.enable_grad():
                loss = _chunk_loss(model, piece, targets[start : start + chunk])
            (gradient[start : start + chunk],) = torch.autograd.grad(loss, piece)
            total += loss.detach()
        ctx.save_for_backward(gradient)
        return total

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (gradient,) = ctx.saved_tensors
        return gradient * grad_output.to(gradient.dtype), None, None, None


def _zero(hidden: torch.Tensor) -> torch.Tensor:
    return hidden.new_zeros((), dtype=torch.float32)


def _chunk_loss(model: Any, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(_logits(model, hidden).float(), targets, reduction="sum")


def _logits(model: Any, hidden: torch.Tensor) -> torch.Tensor:
    logits = model.lm_head(hidden)
    if model.config.final_logit_softcapping is not None:
        from litgpt.model import do_softcapping

        logits = do_softcapping(logits, model.config.final_logit_softcapping)
    return logits


def final_hidden_states(
    model: Any,
    input_ids: torch.Tensor,
    position_ids: torch.Tensor | None = None,
    segment_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """`(B, T, n_embd)` after the final norm: `litgpt.model.GPT.forward`'s no-KV-cache path (litgpt 0.5.x), minus
    the lm head; with `segment_ids`, per-token RoPE positions and a block-diagonal causal mask (packed rows)."""
    config = model.config
    length = input_ids.size(1)
    if length > model.max_seq_length:
        raise ValueError(f"Cannot forward sequence of length {length}, max seq length is only {model.max_seq_length}.")
    x = model.transformer.wte(input_ids)
    if config.scale_embeddings:
        x = x * torch.tensor(config.n_embd**0.5, dtype=x.dtype)
    if segment_ids is None:
        cos, sin, mask = model.cos[:length].unsqueeze(0), model.sin[:length].unsqueeze(0), None
    else:
        check_packable(model)
        cos, sin = model.cos[position_ids], model.sin[position_ids]  # (B, T, rope_n_elem)
        mask = packed_attention_mask(segment_ids, _attention_dtype(x))
    for block_idx, block in enumerate(model.transformer.h):
        if config.rope_indices is not None:
            indices = config.rope_indices[block_idx]
            x = block(x, cos[..., indices], sin[..., indices], mask, None, None)
        else:
            x = block(x, cos, sin, mask, None, None)
    return model.transformer.ln_f(x)


def _attention_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype of the queries SDPA will see: autocast's under mixed precision, else the activations'. A mask of
    exactly that dtype is used as it is; any other would be converted (and kept for backward) in every layer."""
    device_type = x.device.type
    if torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return x.dtype
