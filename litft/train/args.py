"""Argument groups of the training entry points: `--train.*`, `--eval.*`, `--optimizer.*`, `--data.*`.

Each group is a dataclass; jsonargparse turns its fields into flags and YAML keys. `validate_args`
checks what a user can get wrong and says how to fix it, before any model is built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from litft.common.errors import LitftError

Schedule = Literal["cosine", "linear", "constant"]
OptimizerName = Literal["adamw", "adamw8bit", "paged_adamw8bit"]
PAGED_OPTIMIZERS = ("paged_adamw8bit",)


@dataclass
class TrainArgs:
    """How long and in which batches to train, the learning-rate schedule, clipping and checkpoints.

    Args:
        global_batch_size: Samples per optimizer step over all devices (micro batches are accumulated to reach it).
        micro_batch_size: Samples per forward/backward pass on one device.
        max_steps: Stop after this many optimizer steps.
        epochs: Stop after this many passes over the training data.
        max_tokens: Stop once this many training tokens (over all devices) have been seen.
        max_seq_length: Truncate (fine-tuning) or window (pretraining) sequences to this many tokens
            (default: the model's block size).
        lr_warmup_steps: Steps of linear warmup from 0 to the learning rate (kept as given: a warmup longer than
            the run is warned about, not shortened, since the rate would never reach --optimizer.lr).
        lr_warmup_fraction: Warmup as a fraction of the total steps (instead of lr_warmup_steps).
        lr_schedule: After warmup: `cosine` decay to min_lr, `linear` decay to min_lr, or `constant`.
        min_lr: Learning rate at the end of a cosine or linear schedule.
        max_norm: Clip the gradient norm to this value (every method); null turns clipping off.
        log_interval: Log training metrics every this many optimizer steps.
        save_interval: Save a checkpoint every this many optimizer steps (null: only at the end).
        keep_last: How many step checkpoints to keep (the final one is always kept; null keeps all).
    """

    global_batch_size: int = 16
    micro_batch_size: int = 1
    max_steps: int | None = None
    epochs: int | None = None
    max_tokens: int | None = None
    max_seq_length: int | None = None
    lr_warmup_steps: int = 100
    lr_warmup_fraction: float | None = None
    lr_schedule: Schedule = "cosine"
    min_lr: float = 0.0
    max_norm: float | None = 1.0
    log_interval: int = 1
    save_interval: int | None = 1000
    keep_last: int | None = 3

    def gradient_accumulation_iters(self, world_size: int) -> int:
        """Micro batches per optimizer step on each device."""
        per_device = self.global_batch_size // world_size
        return max(1, per_device // self.micro_batch_size)

    def warmup_steps(self, total_steps: int | None) -> int:
        if self.lr_warmup_fraction is not None:
            if total_steps is None:
                raise LitftError(
                    "--train.lr_warmup_fraction needs a known training length; set --train.max_steps or --train.epochs."
                )
            return int(math.ceil(self.lr_warmup_fraction * total_steps))
        return self.lr_warmup_steps


@dataclass
class EvalArgs:
    """Validation during training.

    Args:
        interval: Validate every this many optimizer steps.
        max_iters: Validation batches per evaluation (per device); null evaluates the whole validation set.
        initial_validation: Validate once before the first step.
        final_validation: Validate once after the last step.
        max_new_tokens: Tokens of the sample answer generated at each fine-tuning validation (0: no sample).
    """

    interval: int = 100
    max_iters: int | None = 100
    initial_validation: bool = False
    final_validation: bool = True
    max_new_tokens: int = 50


@dataclass
class OptimizerArgs:
    """AdamW. Weight decay is applied to matrices only, never to biases, norms or embeddings' norms.

    Args:
        name: `adamw` (torch), `adamw8bit` (bitsandbytes: 8-bit moments for tensors of 4096+ elements, CPU or CUDA)
            or `paged_adamw8bit` (those moments in CUDA unified memory, paged out under memory pressure; CUDA only).
        lr: Peak learning rate.
        weight_decay: Decoupled weight decay on weight matrices.
        beta1: AdamW beta1.
        beta2: AdamW beta2.
        eps: AdamW epsilon.
        fused: Use the fused AdamW kernel (default: on CUDA and CPU; torch's adamw only).
    """

    lr: float = 3e-4
    weight_decay: float = 0.02
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    fused: bool | None = None
    name: OptimizerName = "adamw"


@dataclass
class DataArgs:
    """How the prepared data is batched.

    Args:
        shuffle: Shuffle the training data every epoch (seeded; reproducible and resumable).
        group_by_length: Fine-tuning: batch records (or packed rows) of similar length together to cut padding.
        packing: Fine-tuning: pack several records into each row of max_seq_length tokens, each attending only
            to itself; batch sizes then count rows (see litft.models.packing).
    """

    shuffle: bool = True
    group_by_length: bool = True
    packing: bool = False


PreferenceLoss = Literal["dpo", "ipo", "kto"]


@dataclass
class PreferenceArgs:
    """The preference loss of `litft finetune dpo|kto` (the command's flat --loss, --beta, ... flags).

    Args:
        loss: dpo (sigmoid of the reward margin), ipo (squared distance of the length-averaged margin to
            1/(2·beta)) or kto (desirable/undesirable answers, unpaired).
        beta: How far the policy may move from the reference (the reward is beta·log(policy/reference)).
        label_smoothing: dpo only: the assumed share of pairs whose preference is flipped (conservative DPO).
        desirable_weight: kto only: the weight of desirable answers' losses.
        undesirable_weight: kto only: the weight of undesirable answers' losses.
        precompute_reference: compute the reference log-probabilities once, before training, and keep them in the
            run folder (full fine-tuning then needs no second model in memory).
    """

    loss: PreferenceLoss = "dpo"
    beta: float = 0.1
    label_smoothing: float = 0.0
    desirable_weight: float = 1.0
    undesirable_weight: float = 1.0
    precompute_reference: bool = False

    def check(self) -> None:
        """One sentence for a value the losses cannot use."""
        if not (math.isfinite(self.beta) and self.beta > 0):
            raise LitftError(f"--beta {self.beta} must be a positive number (0.1 is usual).")
        if not 0.0 <= self.label_smoothing < 0.5:
            raise LitftError(f"--label_smoothing {self.label_smoothing} must lie in [0, 0.5).")
        if self.label_smoothing and self.loss != "dpo":
            raise LitftError(f"--label_smoothing applies to --loss dpo only, not {self.loss}; drop it.")
        for name in ("desirable_weight", "undesirable_weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise LitftError(f"--{name} {value} must be a positive number.")


def check_paged_optimizer(optimizer: OptimizerArgs, device_type: str) -> None:
    """Paged optimizers page their state through CUDA unified memory, which no other device has."""
    if optimizer.name in PAGED_OPTIMIZERS and device_type != "cuda":
        raise LitftError(
            f"--optimizer.name {optimizer.name} pages its state through CUDA memory and runs on a CUDA GPU only; "
            "use --optimizer.name adamw8bit on this device."
        )


def validate_args(train: TrainArgs, eval: EvalArgs, optimizer: OptimizerArgs, world_size: int) -> None:
    """Refuse inconsistent settings with one sentence saying how to fix them."""
    positive = {
        "--train.global_batch_size": train.global_batch_size,
        "--train.micro_batch_size": train.micro_batch_size,
        "--train.log_interval": train.log_interval,
        "--eval.interval": eval.interval,
    }
    for flag, value in positive.items():
        if value is None or value < 1:
            raise LitftError(f"{flag} must be a positive integer, got {value}.")
    for flag, value in {
        "--train.max_steps": train.max_steps,
        "--train.epochs": train.epochs,
        "--train.max_tokens": train.max_tokens,
        "--train.save_interval": train.save_interval,
        "--train.keep_last": train.keep_last,
        "--train.max_seq_length": train.max_seq_length,
        "--eval.max_iters": eval.max_iters,
    }.items():
        if value is not None and value < 1:
            raise LitftError(f"{flag} must be a positive integer or null, got {value}.")
    if train.max_steps is None and train.epochs is None and train.max_tokens is None:
        raise LitftError("no training length given; set --train.max_steps, --train.epochs or --train.max_tokens.")
    if train.global_batch_size % (train.micro_batch_size * world_size) != 0:
        raise LitftError(
            f"--train.global_batch_size {train.global_batch_size} is not a multiple of micro_batch_size x devices "
            f"({train.micro_batch_size} x {world_size}); change one of them."
        )
    if train.lr_warmup_steps < 0:
        raise LitftError(f"--train.lr_warmup_steps must be >= 0, got {train.lr_warmup_steps}.")
    if train.lr_warmup_fraction is not None and not 0.0 <= train.lr_warmup_fraction <= 1.0:
        raise LitftError(f"--train.lr_warmup_fraction must be in [0, 1], got {train.lr_warmup_fraction}.")
    if train.max_norm is not None and train.max_norm <= 0:
        raise LitftError(f"--train.max_norm must be positive or null (no clipping), got {train.max_norm}.")
    if optimizer.lr <= 0:
        raise LitftError(f"--optimizer.lr must be positive, got {optimizer.lr}.")
    if not 0.0 <= train.min_lr <= optimizer.lr:
        raise LitftError(f"--train.min_lr {train.min_lr} must lie between 0 and --optimizer.lr {optimizer.lr}.")
    if optimizer.weight_decay < 0:
        raise LitftError(f"--optimizer.weight_decay must be >= 0, got {optimizer.weight_decay}.")
    if not (0.0 <= optimizer.beta1 < 1.0 and 0.0 <= optimizer.beta2 < 1.0):
        raise LitftError(f"AdamW betas must lie in [0, 1), got {optimizer.beta1} and {optimizer.beta2}.")
    if eval.max_new_tokens < 0:
        raise LitftError(f"--eval.max_new_tokens must be >= 0, got {eval.max_new_tokens}.")
