"""Lightning Fabric: strategy, precision and process launch, the same for every method.

Two ways to get several processes: `python SCRIPT --devices N` (Fabric's launcher starts them and
`fabric.launch()` runs the function in each), or `fabric run ... SCRIPT` / torchrun / SLURM where the
processes already exist. Under `fabric run` calling `fabric.launch()` raises, and the `LT_*` variables it
sets must win over our defaults without a "conflicting value" error; both cases are handled here.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Literal

import lightning as L
import torch
from lightning.fabric.strategies import DDPStrategy, FSDPStrategy

from litft.common.errors import LitftError

StrategyName = Literal["auto", "ddp", "fsdp"]
PRECISIONS = ("32-true", "bf16-true", "bf16-mixed", "16-mixed", "16-true")


def launched_by_cli() -> bool:
    """True when `fabric run` created the processes (it sets LT_CLI_USED=1)."""
    return bool(int(os.environ.get("LT_CLI_USED", "0") or 0))


def default_precision(accelerator: str) -> str:
    """bf16-true where the GPU supports it, 32-true elsewhere (CPU training is for tests and demos)."""
    if accelerator in ("cuda", "gpu", "auto") and torch.cuda.is_available():
        return "bf16-true" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


class CPUFSDPStrategy(FSDPStrategy):
    """Lightning's FSDP strategy on CPU processes (gloo), so the FSDP path runs in tests without GPUs.

    Lightning 2.6 refuses `FSDPStrategy` on CPU (its connector checks for exactly that class), and passes
    FSDP `device_id=None` there, which torch >= 2.6 rejects ("FSDP needs a non-CPU accelerator device").
    torch's FSDP itself works on CPU given `device_id=cpu`: this wraps the model that way (with Lightning's
    own settings) and lets Lightning finish the setup as for a model the user wrapped.
    """

    def setup_module(self, module: torch.nn.Module) -> torch.nn.Module:
        from torch.distributed.fsdp import FullyShardedDataParallel

        module = FullyShardedDataParallel(
            module,
            cpu_offload=self.cpu_offload,
            mixed_precision=self.mixed_precision_config,
            sharding_strategy=self.sharding_strategy,
            device_id=torch.device("cpu"),
            **self._fsdp_kwargs,
        )
        self._fsdp_kwargs.pop("auto_wrap_policy", None)  # applied above; Lightning would warn that it is ignored
        return super().setup_module(module)


@contextlib.contextmanager
def parameters_kept_shared() -> Iterator[None]:
    """FSDP materialises a model built on the meta device one module at a time with `to_empty`, which gives each
    module a new Parameter: a Parameter two modules share (tied embeddings) would come apart into two that train
    separately. torch's swap-tensors conversion (its announced future default) fills the Parameter objects in
    place instead, so they stay shared; it is switched on only around the setup that needs it."""
    previous = torch.__future__.get_swap_module_params_on_conversion()
    torch.__future__.set_swap_module_params_on_conversion(True)
    try:
        yield
    finally:
        torch.__future__.set_swap_module_params_on_conversion(previous)


def runs_on_cpu(accelerator: str) -> bool:
    return accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())


def build_strategy(name: str, activation_checkpointing: bool, block_class: type | None, accelerator: str) -> Any:
    """Fabric's strategy for `--strategy`: FSDP shards litgpt's transformer blocks (`block_class`) one unit each."""
    if name == "fsdp":
        if block_class is None:
            raise ValueError("FSDP needs the transformer block class to wrap")
        strategy_class = CPUFSDPStrategy if runs_on_cpu(accelerator) else FSDPStrategy
        return strategy_class(
            auto_wrap_policy={block_class},
            activation_checkpointing_policy={block_class} if activation_checkpointing else None,
            state_dict_type="sharded",
            limit_all_gathers=True,
            cpu_offload=False,
            # Frozen base and trainable LoRA/adapter parameters share flat parameters; keep the originals.
            use_orig_params=True,
        )
    # Without FSDP, `checkpoint_blocks` applies --activation_checkpointing to the model before Fabric wraps it.
    if name == "ddp":
        # gloo on CPU, nccl on CUDA: Fabric picks the backend from the accelerator.
        return DDPStrategy()
    if name == "auto":
        return "auto"
    raise LitftError(f"unknown --strategy {name!r}; choose auto, ddp or fsdp.")


def checkpoint_blocks(model: torch.nn.Module, block_class: type) -> None:
    """--activation_checkpointing without FSDP (single device, DDP): each transformer block keeps only its input in
    forward and recomputes its activations in backward, as FSDP's `activation_checkpointing_policy` does.

    torch's `apply_activation_checkpointing` is what Lightning's FSDP strategy applies; it works without a process
    group. It wraps each block in a CheckpointWrapper (non-reentrant torch.utils.checkpoint, which saves and
    restores the RNG state, so dropout repeats exactly and loss and gradients equal an unwrapped run's);
    state_dict keys stay unprefixed through the wrapper's hooks. Apply before `fabric.setup_module`.
    """
    from functools import partial

    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import (
        CheckpointImpl,
        apply_activation_checkpointing,
        checkpoint_wrapper,
    )

    apply_activation_checkpointing(
        model,
        checkpoint_wrapper_fn=partial(checkpoint_wrapper, checkpoint_impl=CheckpointImpl.NO_REENTRANT),
        check_fn=lambda module: isinstance(module, block_class),
    )


def make_fabric(
    *,
    accelerator: str = "auto",
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: str = "auto",
    precision: str | None = None,
    activation_checkpointing: bool = False,
    block_class: type | None = None,
) -> L.Fabric:
    """A Fabric for these settings; under `fabric run` its LT_* variables override them."""
    if precision is not None and precision not in PRECISIONS:
        raise LitftError(f"unknown --precision {precision!r}; choose one of {', '.join(PRECISIONS)}.")
    if launched_by_cli():
        # Read the LT_* values and remove them, so Fabric takes the resolved values (a strategy object for
        # FSDP with Block wrapping) without raising on a "conflict" with `fabric run`'s strings.
        env = {
            name: os.environ.pop(f"LT_{name.upper()}", None)
            for name in ("accelerator", "devices", "num_nodes", "strategy", "precision")
        }
        ours = {
            "accelerator": accelerator,
            "devices": devices,
            "num_nodes": num_nodes,
            "strategy": strategy,
            "precision": precision,
        }
        for name, value in env.items():
            if (
                value is not None
                and ours[name] is not None
                and str(ours[name]) != value
                and str(ours[name]) not in ("auto", "1")
            ):
                warnings.warn(
                    f"`fabric run --{name} {value}` overrides --{name} {ours[name]} given to the script.", stacklevel=2
                )
        accelerator = env["accelerator"] or accelerator
        devices = env["devices"] or devices
        num_nodes = int(env["num_nodes"] or num_nodes)
        strategy = env["strategy"] or strategy
        precision = env["precision"] or precision
    if precision is None:
        precision = default_precision(accelerator)
    if num_nodes < 1:
        raise LitftError(f"--num_nodes must be >= 1, got {num_nodes}.")
    strategy_object = build_strategy(strategy, activation_checkpointing, block_class, accelerator)
    if devices in ("1", 1) and num_nodes == 1 and strategy == "auto":
        strategy_object = "auto"
    return L.Fabric(
        accelerator=accelerator, devices=devices, num_nodes=num_nodes, strategy=strategy_object, precision=precision
    )


def launch(fabric: L.Fabric, function: Callable[..., Any], *args: Any) -> Any:
    """Run `function(fabric, *args)` in every process: start them, or join the ones `fabric run` started."""
    if launched_by_cli():
        return function(fabric, *args)
    return fabric.launch(function, *args)


def is_fsdp(fabric: L.Fabric) -> bool:
    return isinstance(fabric.strategy, FSDPStrategy)
