"""What differs between pretraining, full, LoRA and adapter-v2 fine-tuning: a small description each.

The loop never asks "which method is this?"; it asks the method for its model, its trainable
parameters, its data kind and the weights a checkpoint keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from litgpt import adapter_v2 as litgpt_adapter_v2
from litgpt import lora as litgpt_lora
from litgpt.model import Block

from litft.models.build import check_method, trainable_filter
from litft.models.checkpoint import WEIGHT_FILES

DataKind = Literal["pretrain", "finetune"]


@dataclass(frozen=True)
class Method:
    """One training method.

    name: litft's method name (also written to hyperparameters.yaml).
    data_kind: the prepared data it reads (`pretrain` windows or `finetune` instruction records).
    needs_base: the run starts from a checkpoint (pretraining may start from random init).
    delta_only: checkpoints keep only the trained weights; the base comes from `checkpoint_dir`.
    sample_generation: validation also generates one answer to a held-out prompt.
    """

    name: str
    data_kind: DataKind
    needs_base: bool
    delta_only: bool
    sample_generation: bool

    @property
    def weights_file(self) -> str:
        return WEIGHT_FILES[self.name]

    def keeps(self) -> Callable[[str, Any], bool]:
        """`(name, value) -> bool` for the parameters that train and that a checkpoint keeps."""
        return trainable_filter(self.name)

    def prepare(self, model: torch.nn.Module) -> None:
        """Per-method fixes applied to a freshly built model before Fabric wraps it.

        adapter-v2: litgpt's adapter attention caches the adapter prompt's keys/values on first use and never
        drops them (litgpt 0.5.13), so the second training step backpropagates through a freed graph and the
        prompt's later updates would be ignored. The cache is cleared before every forward pass.
        """
        if self.name == "adapter_v2":
            attentions = [m for m in model.modules() if hasattr(m, "adapter_kv_cache")]

            def clear_adapter_cache(module: torch.nn.Module, args: Any) -> None:
                for attention in attentions:
                    attention.adapter_kv_cache = None

            model.register_forward_pre_hook(clear_adapter_cache)

    @property
    def block_class(self) -> type:
        """The transformer block FSDP wraps and activation checkpointing recomputes."""
        return {"lora": litgpt_lora.Block, "adapter_v2": litgpt_adapter_v2.Block}.get(self.name, Block)


METHOD_SPECS: dict[str, Method] = {
    "pretrain": Method("pretrain", "pretrain", needs_base=False, delta_only=False, sample_generation=False),
    "full": Method("full", "finetune", needs_base=True, delta_only=False, sample_generation=True),
    "lora": Method("lora", "finetune", needs_base=True, delta_only=True, sample_generation=True),
    "adapter_v2": Method("adapter_v2", "finetune", needs_base=True, delta_only=True, sample_generation=True),
}


def get_method(name: str) -> Method:
    check_method(name)
    return METHOD_SPECS[name]
