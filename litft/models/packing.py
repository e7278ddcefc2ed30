"""Fine-tuning on packed rows (`--data.packing true`): several instruction records per training row.

Rows are filled best-fit with whole records (each truncated to `--train.max_seq_length + 1` tokens first,
as without packing) by `litft.readers.PackedFinetuneDataset`, and run through `litft.models.loss.token_loss_sum`
with their `position_ids` and `segment_ids`. What stays exactly as without packing:

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
per-token RoPE cos/sin, which `litft.models.loss.final_hidden_states` gives them. The mask is additive (0 or
-inf) in the queries' dtype and built once per batch: SDPA would otherwise convert a boolean mask to that form
in every layer and keep each copy for backward (T x T floats per layer). The CPU flash and CUDA
memory-efficient SDPA kernels take such a mask without materialising attention probabilities. Models with
sliding-window attention or attention-logit softcapping are refused (`check_packable`): their litgpt attention
code replaces or misreads an explicit mask.
"""

from __future__ import annotations

from typing import Any

import torch

from litft.common.errors import LitftError


def check_packable(model: Any) -> None:
    """Refuse a model whose attention would not keep packed records apart."""
    if model.config.attention_logit_softcapping is not None or any(
        getattr(block.attn, "apply_sliding_window_attention", False) for block in model.transformer.h
    ):
        raise LitftError(
            f"packing cannot isolate records for {model.config.name} (sliding-window or softcapped attention); "
            "train without packing."
        )


def packed_attention_mask(segment_ids: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """`(B, 1, T, T)` additive mask: 0 where query may attend key (same segment, key not after query), else -inf.

    Every row keeps its diagonal (padding is segment 0, which attends to itself), so no softmax row is all -inf.
    """
    length = segment_ids.size(1)
    same = segment_ids[:, :, None] == segment_ids[:, None, :]
    causal = torch.ones(length, length, dtype=torch.bool, device=segment_ids.device).tril()
    allowed = (same & causal).unsqueeze(1)
    mask = torch.zeros(allowed.shape, dtype=dtype, device=segment_ids.device)
    return mask.masked_fill_(~allowed, float("-inf"))
