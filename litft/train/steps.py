"""One optimizer step's arithmetic: the loss over target tokens, gradients accumulated over micro batches and ranks,
and the step's loss and gradient norm read from the device only when a log row, validation or checkpoint needs
them (`PendingSteps`), which is also where a non-finite value stops the run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import lightning as L
import torch

from litft.common.errors import LitftError
from litft.models.loss import accept_targets
from litft.train.batches import Batch


def token_loss_sum(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """Sum of the cross-entropy over the batch's target tokens, without its [B, T, vocab] logits
    (litft.models.loss: chunked lm head and cross-entropy over the target positions only)."""
    accept_targets(getattr(model, "module", model))  # Fabric's and DDP/FSDP's wrappers call the model's forward
    return model(batch.input_ids, targets=batch.targets, position_ids=batch.position_ids, segment_ids=batch.segment_ids)


def accumulate_gradients(
    fabric: L.Fabric,
    model: torch.nn.Module,
    micro_batches: list[Batch],
    local_units: int,
    loss_fn: Callable[[torch.nn.Module, Batch], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, int]:
    """Backward over this rank's micro batches of one step; returns (this rank's loss sum, global loss units).

    `loss_fn(model, batch)` is a micro batch's summed loss over its loss units: target tokens (`token_loss_sum`, the
    default) or, for preference methods, pairs or records (litft.train.preference). Each micro batch's sum is scaled
    by world_size / (units of the whole global batch): DDP and FSDP average gradients over ranks, so the result is
    the gradient of the mean over every unit. The unit count comes from the host (`local_units`, counted before the
    batches moved), so one process never syncs here.
    """
    loss_fn = loss_fn or token_loss_sum  # looked up per call: the kill tests replace token_loss_sum
    units_global = local_units
    if fabric.world_size > 1:
        counts = torch.tensor([float(local_units)], device=fabric.device)
        units_global = int(fabric.all_reduce(counts, reduce_op="sum").item())
    scale = fabric.world_size / max(float(units_global), 1.0)
    loss_sum = torch.zeros((), device=fabric.device)
    for index, batch in enumerate(micro_batches):
        with fabric.no_backward_sync(model, enabled=index < len(micro_batches) - 1):
            micro_loss = loss_fn(model, batch)
            fabric.backward(micro_loss * scale)
        loss_sum += micro_loss.detach()
    return loss_sum, units_global


class PendingSteps:
    """The losses and gradient norms of the steps since the last log row, read from the device only when needed.

    `add` keeps each step's tensors; `settle` reads the pending ones in one transfer (one all-reduce of the loss
    sums across ranks) and stops the run at the first non-finite value; `take` returns the interval's
    token-weighted mean loss and last gradient norm and starts the next interval.
    """

    def __init__(self, fabric: L.Fabric) -> None:
        self.fabric = fabric
        self.pending: list[tuple[int, torch.Tensor, int, torch.Tensor | None]] = []
        self.loss_sum, self.targets, self.grad_norm = 0.0, 0, None

    def add(self, step: int, loss_sum: torch.Tensor, targets: int, grad_norm: torch.Tensor | None) -> None:
        self.pending.append((step, loss_sum, targets, grad_norm))

    def settle(self, last_good: Path | None) -> None:
        if not self.pending:
            return
        sums = torch.stack([loss_sum for _, loss_sum, _, _ in self.pending])
        if self.fabric.world_size > 1:
            sums = self.fabric.all_reduce(sums, reduce_op="sum")
        norms = [norm for _, _, _, norm in self.pending if norm is not None]
        norm_values = iter(torch.stack(norms).float().tolist() if norms else [])
        for (step, _, targets, norm), value in zip(self.pending, sums.tolist(), strict=True):
            loss = value / max(float(targets), 1.0)
            if not math.isfinite(loss):
                raise NonFiniteLoss(loss, step, last_good)
            if norm is not None:
                self.grad_norm = next(norm_values)
                if not math.isfinite(self.grad_norm):
                    raise NonFiniteLoss(self.grad_norm, step, last_good, what="gradient norm")
            self.loss_sum += value
            self.targets += targets
        self.pending.clear()

    def take(self, last_good: Path | None) -> tuple[float, float | None]:
        self.settle(last_good)
        result = (self.loss_sum / max(float(self.targets), 1.0), self.grad_norm)
        self.loss_sum, self.targets, self.grad_norm = 0.0, 0, None
        return result


class NonFiniteLoss(LitftError):
    def __init__(self, value: float, step: int, last_good: Path | None, what: str = "loss") -> None:
        where = f"the last good checkpoint is {last_good}" if last_good else "no checkpoint was written yet"
        super().__init__(
            f"the training {what} became {value} at step {step}, so training stopped; {where}. "
            "Lower --optimizer.lr, raise --train.lr_warmup_steps or use --precision 32-true/bf16-mixed, "
            "then resume or restart."
        )
