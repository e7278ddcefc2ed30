"""Fine-tuning on packed rows (`--data.packing true`): several instruction records per training row.

Rows are filled best-fit with whole records (each truncated to `--train.max_seq_length + 1` tokens first,
as without packing) by `litft.datasets.PackedFinetuneDataset`, and run through
`litft.datasets.packed_forward`. What stays exactly as without packing:

- each record's logits: attention is block-diagonal (a token sees only earlier tokens of its own record)
  and RoPE positions restart at 0 for every record;
- the predicted tokens: a record's first token is never a target (nothing of the record precedes it),
  prompts stay masked, padding is ignored;
- the loss definition: the mean cross-entropy over every predicted token of the global batch. So a step
  over the same records gives the same loss and gradients, packed or not (up to float summation order).

What changes: `--train.micro_batch_size` and `--train.global_batch_size` count packed rows, so a step holds
more records and an epoch has fewer steps; record order differs (rows are shuffled, not records), so
dropout and the batch composition differ from an unpacked run. Validation is never packed.

Why a forward override: the packed pass must run inside the model's own `forward`, so that Fabric's
precision context and the DDP/FSDP wrappers (gradient sync, parameter all-gather) see it. Calling the
blocks from outside the wrapped model would bypass them.
"""

from __future__ import annotations

from typing import Any

import torch

from litft.datasets.packing import packed_forward


def accept_packed_rows(model: torch.nn.Module) -> None:
    """Let `model(input_ids, position_ids=..., segment_ids=...)` run the isolated packed forward pass.

    Calls without `segment_ids` (validation, generation with a KV cache) go to the model's own forward unchanged.
    Apply before `fabric.setup_module`, which wraps the model and so calls this forward.
    """
    plain_forward = model.forward

    def forward(*args: Any, position_ids: torch.Tensor | None = None, segment_ids: torch.Tensor | None = None, **kwargs: Any):
        if segment_ids is None:
            return plain_forward(*args, **kwargs)
        return packed_forward(model, args[0], position_ids, segment_ids, lm_head_chunk_size=kwargs.get("lm_head_chunk_size", 0))

    model.forward = forward
