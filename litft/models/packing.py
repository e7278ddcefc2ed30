"""Fine-tuning on packed rows (`--data.packing true`): several instruction records per training row.

Rows are filled best-fit with whole records (each truncated to `--train.max_seq_length + 1` tokens first,
as without packing) by `litft.readers.PackedFinetuneDataset`, and run through
`litft.readers.packed_forward`. What stays exactly as without packing:

- each record's logits: attention is block-diagonal (a token sees only earlier tokens of its own record)
  and RoPE positions restart at 0 for every record;
- the predicted tokens: a record's first token is never a target (nothing of the record precedes it),
  prompts stay masked, padding is ignored;
- the loss definition: the mean cross-entropy over every predicted token of the global batch. So a step
  over the same records gives the same loss and gradients, packed or not (up to float summation order).

What changes: `--train.micro_batch_size` and `--train.global_batch_size` count packed rows, so a step holds
more records and an epoch has fewer steps; record order differs (rows are shuffled, not records), so
dropout and the batch composition differ from an unpacked run. Validation is never packed.

Why a forward of our own: litgpt's `GPT.forward(idx, input_pos=...)` takes positions only together with a
KV cache (inference) and takes no attention mask, so a plain `model(input_ids)` on a packed row lets later
records attend to earlier ones and gives them continuing positions. Its blocks, however, accept a mask and
per-token RoPE cos/sin; `packed_forward` drives them directly (an explicit mask turns off the flash SDPA
kernel). It refuses models with sliding-window attention or attention-logit softcapping, whose litgpt
attention code replaces or misreads an explicit mask. And the packed pass must run inside the model's own
`forward`, so that Fabric's precision context and the DDP/FSDP wrappers (gradient sync, parameter
all-gather) see it: `accept_packed_rows` installs it there.
"""

from __future__ import annotations

from typing import Any

import torch

from litft.common.errors import LitftError


def accept_packed_rows(model: torch.nn.Module) -> None:
    """Let `model(input_ids, position_ids=..., segment_ids=...)` run the isolated packed forward pass.

    Calls without `segment_ids` (validation, generation with a KV cache) go to the model's own forward unchanged.
    Apply before `fabric.setup_module`, which wraps the model and so calls this forward.
    """
    plain_forward = model.forward

    def forward(
        *args: Any, position_ids: torch.Tensor | None = None, segment_ids: torch.Tensor | None = None, **kwargs: Any
    ):
        if segment_ids is None:
            return plain_forward(*args, **kwargs)
        return packed_forward(
            model, args[0], position_ids, segment_ids, lm_head_chunk_size=kwargs.get("lm_head_chunk_size", 0)
        )

    model.forward = forward


def packed_attention_mask(segment_ids: torch.Tensor) -> torch.Tensor:
    """`(B, 1, T, T)` boolean mask: True where query may attend key (same segment, key not after query)."""
    length = segment_ids.size(1)
    same = segment_ids[:, :, None] == segment_ids[:, None, :]
    causal = torch.ones(length, length, dtype=torch.bool, device=segment_ids.device).tril()
    return (same & causal).unsqueeze(1)


def packed_forward(
    model: Any,
    input_ids: torch.Tensor,
    position_ids: torch.Tensor,
    segment_ids: torch.Tensor,
    lm_head_chunk_size: int = 0,
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
        raise LitftError(
            f"packing cannot isolate records for {config.name} (sliding-window or softcapped attention); "
            "train without packing."
        )
    if input_ids.size(1) > model.max_seq_length:
        raise ValueError(
            f"Cannot forward sequence of length {input_ids.size(1)}, max seq length is only {model.max_seq_length}."
        )
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
