"""THE training loop: pretraining, full, LoRA and adapter-v2 fine-tuning all run through `fit`.

One optimizer step = `accumulation` micro batches per rank. The loss is the mean over every target token
of the global batch (all micro batches, all ranks), not a mean of per-micro-batch means, so a batch of 8
and 2 x 4 accumulation give the same gradients even when records differ in length. Gradients of all but
the last micro batch stay local (`no_backward_sync`). Then: clip, AdamW step, learning rate from the step
number. Checkpoints are taken only at step boundaries, so a resumed run replays exactly.

A step never waits for the device: its loss and gradient norm stay tensors until the next log row, validation or
checkpoint reads them all at once (litft.train.steps.PendingSteps), which is also where a non-finite value stops
the run. With one process nothing is all-reduced. The logged loss is the token-weighted mean over the steps since
the previous row.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch

from litft.common.io import atomic_write_json
from litft.models.methods import Method
from litft.train.args import EvalArgs, OptimizerArgs, TrainArgs
from litft.train.batches import EvalSource, TrainStream
from litft.train.fabric_setup import is_fsdp
from litft.train.host_memory import keep_freed_memory
from litft.train.logging import Console, MetricsLog, eval_summary
from litft.train.schedule import learning_rate, set_learning_rate, warmup_warning
from litft.train.state import (
    FINAL_DIR,
    PROGRESS_FILE,
    CheckpointSpec,
    Progress,
    clean_partials,
    load_training_state,
    prune_checkpoints,
    read_progress,
    save_training_checkpoint,
    step_dir_name,
)
from litft.train.steps import PendingSteps, accumulate_gradients
from litft.train.throughput import ThroughputMeter
from litft.train.validation import generate_sample, validate


@dataclass
class Run:
    """Everything `fit` needs, already built and set up with Fabric."""

    method: Method
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    train_stream: TrainStream
    val_source: EvalSource | None
    train: TrainArgs
    eval: EvalArgs
    optimizer_args: OptimizerArgs
    out_dir: Path
    checkpoint: CheckpointSpec
    tokenizer: Any = None  # litgpt Tokenizer, to print the sample generation
    logger: str | list[str] = "csv"
    quiet: bool = False
    resume_from: Path | None = None
    flops_per_sample: float | None = None  # training FLOPs of one sample, for MFU on GPU
    dtype: torch.dtype = torch.float32
    objective: Any = None  # a preference method's loss (litft.train.preference.PreferenceObjective); None: tokens


@dataclass
class Result:
    progress: Progress
    final_dir: Path | None
    val_loss: float | None = None
    model: torch.nn.Module | None = None  # the trained (Fabric-wrapped) model
    weight_checksums: list[float] = field(default_factory=list)  # one per rank; equal when ranks are in sync


def epoch_steps(epochs: int, stream: TrainStream, accumulation: int) -> int:
    """Optimizer steps in `epochs` passes over the data (at least 1; a last partial step of an epoch rolls over)."""
    return max(1, epochs * stream.batches_per_epoch() // accumulation)


def total_steps(train: TrainArgs, stream: TrainStream, accumulation: int, world_size: int) -> int | None:
    """Steps the run will take when that is known in advance (for the schedule and the ETA)."""
    bounds = []
    if train.max_steps is not None:
        bounds.append(train.max_steps)
    if train.epochs is not None:
        bounds.append(epoch_steps(train.epochs, stream, accumulation))
    if train.max_tokens is not None:
        tokens_per_epoch = stream.tokens_per_epoch()
        if tokens_per_epoch:
            # tokens_per_epoch is this rank's; every rank sees a similar share.
            per_step = tokens_per_epoch / max(1, stream.batches_per_epoch()) * accumulation * world_size
            bounds.append(max(1, math.ceil(train.max_tokens / per_step)))
    return min(bounds) if bounds else None


def fit(fabric: L.Fabric, run: Run) -> Result:
    """Train until the run's length is reached: validate, checkpoint and log on the way; see the module docstring."""
    progress = Progress(world_size=fabric.world_size)
    if fabric.global_rank == 0:
        clean_partials(run.out_dir)
    if run.resume_from is not None:
        data_state = load_training_state(
            fabric, run.resume_from, model=run.model, optimizer=run.optimizer, progress=progress
        )
        run.train_stream.load_state_dict(data_state)
        fabric.print(f"resumed from {run.resume_from} at step {progress.step}")
    accumulation = run.train.gradient_accumulation_iters(fabric.world_size)
    steps = total_steps(run.train, run.train_stream, accumulation, fabric.world_size)
    warmup = run.train.warmup_steps(steps)
    warning = warmup_warning(warmup, steps, run.optimizer_args.lr)
    if warning and fabric.global_rank == 0:
        print(warning, file=sys.stderr, flush=True)
    if steps is not None and steps <= progress.step:
        fabric.print(f"nothing to do: the run already reached step {progress.step} of {steps}")
        final = run.out_dir / FINAL_DIR
        if (
            run.resume_from is not None
            and (final / PROGRESS_FILE).is_file()
            and read_progress(final).step == progress.step
        ):
            # final/ is complete; saving it again would only replace what came after it (e.g. merged weights).
            return Result(progress=progress, final_dir=final, model=run.model)

    if fabric.device.type == "cpu":
        keep_freed_memory()
    session = _Session(fabric, run, progress, accumulation, steps, warmup)
    success = False
    try:
        session.train()
        success = True
    finally:
        session.close(success)
    result = session.result
    result.model = run.model
    if fabric.global_rank == 0 and result.weight_checksums:
        atomic_write_json(result.final_dir / "rank_checksums.json", result.weight_checksums)
    return result


class _Session:
    """One call of `fit` after set-up: the step loop with its validation, checkpoints and logs."""

    def __init__(
        self, fabric: L.Fabric, run: Run, progress: Progress, accumulation: int, steps: int | None, warmup: int
    ) -> None:
        self.fabric, self.run, self.progress = fabric, run, progress
        self.accumulation, self.steps, self.warmup = accumulation, steps, warmup
        is_rank_zero = fabric.global_rank == 0
        resume_step = progress.step if run.resume_from else None
        self.metrics_log = MetricsLog(
            run.out_dir,
            enabled=is_rank_zero,
            logger=run.logger,
            resume_step=resume_step,
            hyperparameters=tracked_hyperparameters(run),
        )
        self.console = Console(enabled=is_rank_zero, quiet=run.quiet, total_steps=steps, initial_step=progress.step)
        self.meter = ThroughputMeter(fabric, flops_per_sample=run.flops_per_sample, dtype=run.dtype)
        self.pending = PendingSteps(fabric)
        self.result = Result(progress=progress, final_dir=None)
        self.last_good = run.resume_from

    def train(self) -> None:
        run, progress, result = self.run, self.progress, self.result
        if run.eval.initial_validation and not self.finished():
            result.val_loss = self.evaluate()
        run.model.train()
        self.meter.start()
        while not self.finished():
            self.step()
            if progress.step % run.eval.interval == 0 and not self.finished():
                result.val_loss = self.evaluate()
                run.model.train()
            interval = run.train.save_interval
            if interval is not None and progress.step % interval == 0 and not self.finished():
                self.last_good = self.checkpoint(run.out_dir / step_dir_name(progress.step))
        if run.eval.final_validation:
            result.val_loss = self.evaluate()
        self.pending.settle(self.last_good)
        result.weight_checksums = check_ranks_in_sync(self.fabric, run.model)
        result.final_dir = self.checkpoint(run.out_dir / FINAL_DIR)
        self.console.print(f"saved {result.final_dir} (step {progress.step}, {progress.tokens:,} loss tokens)")

    def step(self) -> None:
        """One optimizer step over `accumulation` micro batches, then the counters and the step's log line."""
        fabric, run, progress, train = self.fabric, self.run, self.progress, self.run.train
        lr = learning_rate(
            progress.step,
            lr=run.optimizer_args.lr,
            warmup_steps=self.warmup,
            total_steps=self.steps,
            schedule=train.lr_schedule,
            min_lr=train.min_lr,
        )
        set_learning_rate(run.optimizer, lr)
        host_batches = [run.train_stream.next_batch() for _ in range(self.accumulation)]
        local_targets = sum(b.target_tokens for b in host_batches)  # counted on the host: no device sync
        micro_batches = [b.to(fabric.device) for b in host_batches]
        loss_fn = run.objective.loss_sum if run.objective is not None else None
        local_units = sum(b.loss_units for b in host_batches)  # target tokens, or preference pairs/records
        loss_sum, units_global = accumulate_gradients(fabric, run.model, micro_batches, local_units, loss_fn)
        # The step's loss tokens: the loss's own units, or a preference step's answer tokens, this rank's times the
        # ranks (other ranks' counts would cost a sync; their shares are alike, as `total_steps` assumes too).
        targets_global = units_global if loss_fn is None else local_targets * fabric.world_size
        grad_norm = None
        if train.max_norm is not None:
            grad_norm = fabric.clip_gradients(
                run.model, run.optimizer, max_norm=train.max_norm, error_if_nonfinite=False
            ).detach()
        run.optimizer.step()
        run.optimizer.zero_grad(set_to_none=True)

        progress.step += 1
        progress.micro_batches += self.accumulation
        progress.tokens += targets_global
        progress.epoch = run.train_stream.epoch
        self.pending.add(progress.step, loss_sum, units_global, grad_norm)
        self.meter.update(
            padded_tokens=sum(b.input_ids.numel() for b in host_batches),
            useful_tokens=local_targets,
            samples=sum(len(b.input_ids) for b in host_batches),
        )
        if progress.step % train.log_interval == 0 or self.finished():
            loss, last_grad_norm = self.pending.take(self.last_good)
            metrics = {
                "step": progress.step,
                "epoch": run.train_stream.epoch,
                "loss_tokens": progress.tokens,
                "loss": loss,
                "lr": lr,
                "grad_norm": last_grad_norm,
                **self.meter.compute(),
                **(run.objective.take_metrics() if run.objective is not None else {}),
            }
            self.metrics_log.log(metrics)
            self.console.step(progress.step, metrics)

    def finished(self) -> bool:
        train, progress = self.run.train, self.progress
        if train.max_steps is not None and progress.step >= train.max_steps:
            return True
        if train.epochs is not None and progress.step >= epoch_steps(
            train.epochs, self.run.train_stream, self.accumulation
        ):
            return True
        return train.max_tokens is not None and progress.tokens >= train.max_tokens

    def checkpoint(self, target: Path) -> Path:
        run = self.run
        self.pending.settle(self.last_good)  # never save weights a non-finite step produced
        self.metrics_log.sync()  # the rows up to this checkpoint are durable before it is
        self.progress.epoch = run.train_stream.epoch
        path = save_training_checkpoint(
            self.fabric,
            target,
            model=run.model,
            optimizer=run.optimizer,
            keep=run.method.trains,
            spec=run.checkpoint,
            progress=self.progress,
            data_state=run.train_stream.state_dict(),
        )
        if self.fabric.global_rank == 0 and target.name != FINAL_DIR:
            prune_checkpoints(run.out_dir, run.train.keep_last)
        return path

    def evaluate(self) -> float | None:
        run, progress = self.run, self.progress
        if run.val_source is None:
            return None
        self.pending.settle(self.last_good)
        started = time.perf_counter()
        objective = run.objective
        loss_fn = objective.loss_sum if objective is not None else None
        val_loss = validate(self.fabric, run.model, run.val_source, run.eval.max_iters, loss_fn)
        self.console.print(eval_summary(progress.step, val_loss, time.perf_counter() - started))
        row = {"step": progress.step, "epoch": run.train_stream.epoch, "loss_tokens": progress.tokens}
        if objective is None:
            row |= {"val_loss": val_loss, "val_ppl": math.exp(min(val_loss, 50.0))}
        else:  # a preference loss is no perplexity; TRL's metrics on the validation pairs/records instead
            row |= {"val_loss": val_loss, **objective.take_metrics(validation=True)}
        self.metrics_log.log(row)
        if run.method.sample_generation and run.eval.max_new_tokens > 0:
            sample = generate_sample(self.fabric, run.model, run.val_source, run.tokenizer, run.eval.max_new_tokens)
            if sample is not None:
                self.console.print(f"sample: {sample}")
        return val_loss

    def close(self, success: bool) -> None:
        self.console.close()
        self.metrics_log.close(success)


def tracked_hyperparameters(run: Run) -> dict[str, Any]:
    """What the trackers record: the command's settings (as hyperparameters.yaml has them) and the method's group."""
    settings = run.checkpoint.settings
    return {
        "method": run.method.name,
        **(run.checkpoint.hyperparameters or {}),
        **({"settings": asdict(settings)} if is_dataclass(settings) else {}),
    }


def check_ranks_in_sync(fabric: L.Fabric, model: torch.nn.Module) -> list[float]:
    """A checksum of the trainable weights from every rank; replicas (not FSDP shards) must agree exactly."""
    if fabric.world_size == 1 or is_fsdp(fabric):
        return []
    with torch.no_grad():
        total = sum(
            (p.detach().double() * (1 + torch.arange(p.numel(), device=p.device).reshape(p.shape) % 7)).sum()
            for p in model.parameters()
            if p.requires_grad
        )
    checksums = [float(value) for value in fabric.all_gather(total.reshape(1)).flatten()]
    if len(set(checksums)) != 1:
        raise RuntimeError(f"model replicas diverged across ranks (weight checksums {checksums}); this is a bug")
    return checksums
