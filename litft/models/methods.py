"""The one place that knows how pretraining, full, LoRA and adapter-v2 fine-tuning, and preference tuning (DPO/IPO
and KTO, on LoRA or full fine-tuning), differ: a description each.

Nobody else asks "which method is this?"; they ask the method for its litgpt classes, its trainable
parameters, its data kind, the weights a checkpoint keeps and the settings it records. Adding a method is
one entry in `METHODS` (plus its training command in litft/train/entry.py and its line in litft/cli.py).
A preference method is a weights method (LoRA or full) with another objective: its entry is that method's with
`objective` and the `preference` data kind, so its checkpoints load, merge and export as that method's do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import torch
from litgpt import adapter_v2 as litgpt_adapter_v2
from litgpt import lora as litgpt_lora
from litgpt.config import Config
from litgpt.model import GPT, Block

from litft.common.errors import LitftError
from litft.common.settings import AdapterV2Settings, LoRASettings

DataKind = Literal["pretrain", "finetune", "preference"]
# What the loop minimises: None, the next-token loss; "dpo" (DPO/IPO on pairs) or "kto" (KTO on unpaired records),
# a preference loss against a reference model (litft.train.preference).
Objective = Literal["dpo", "kto"] | None
# The settings a method can take (LoRA's, adapter-v2's); a method without settings takes None.
MethodSettings = LoRASettings | AdapterV2Settings
FULL_WEIGHTS = "lit_model.pth"


def _no_preparation(model: torch.nn.Module) -> None:
    """Most methods' freshly built models need no fix."""


def _clear_adapter_cache_each_forward(model: torch.nn.Module) -> None:
    """litgpt's adapter attention caches the adapter prompt's keys/values on first use and never drops them
    (litgpt 0.5.13), so the second training step would backpropagate through a freed graph and the prompt's
    later updates would be ignored. Each attention clears its cache before its own forward pass, so activation
    checkpointing's recomputation of a block computes the prompt's keys/values again as the first pass did."""

    def clear_adapter_cache(attention: torch.nn.Module, args: Any) -> None:
        attention.adapter_kv_cache = None

    for module in model.modules():
        if hasattr(module, "adapter_kv_cache"):
            module.register_forward_pre_hook(clear_adapter_cache)


def _fold_lora(model: torch.nn.Module) -> None:
    """W += B·A·alpha/r in every LoRA layer (litgpt's merge). A LoRA output layer (`--lora.head`) whose weight is
    the tied embedding first gets its own copy: the in-place sum would change the embedding too. The folded model
    is untied then, as its output layer now differs from its embedding."""
    head = model.lm_head
    if head.r > 0 and head.linear.weight is model.transformer.wte.weight:
        head.linear.weight = torch.nn.Parameter(head.linear.weight.detach().clone(), requires_grad=False)
    litgpt_lora.merge_lora_weights(model)


def _merged_lora_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """W + B·A·alpha/r, under the plain GPT's names."""
    _fold_lora(model)
    # LoRA layers wrap the base linear as `.linear`; the merged weights take the base model's names.
    return {
        key.replace(".linear.", "."): value
        for key, value in model.state_dict().items()
        if not litgpt_lora.lora_filter(key, value)
    }


def _trains_everything(key: str, value: Any) -> bool:
    return True


@dataclass(frozen=True)
class Method:
    """One training method.

    name: litft's method name (the command, and `method` in hyperparameters.yaml).
    data_kind: the prepared data it reads (`pretrain` windows, `finetune` instruction records, `preference` pairs or
        KTO records).
    model_class, config_class, block_class: its litgpt model, config and transformer block (the block is what
        FSDP wraps and activation checkpointing recomputes).
    trains: `(name, value) -> bool` for the parameters that train, which are the weights its checkpoints keep.
    weights_file: the file its checkpoints keep those weights in.
    needs_base: the run starts from a checkpoint (pretraining may start from random init).
    delta_only: checkpoints keep only the trained weights (under litgpt's `model` key); the base comes from the
        `checkpoint_dir` they record.
    sample_generation: validation also generates one answer to a held-out prompt.
    settings_group: the command's settings group (`--lora.r`), or None for a method without settings.
    settings_class: that group's settings; their litgpt fields go into its Config and hyperparameters.yaml.
    prepare: a fix applied to a freshly built model before Fabric wraps it.
    fold_weights: adds the trained weights into the base weights in place (faster decoding); None where they
        cannot be folded.
    merged_weights: the model's weights folded into plain litgpt GPT weights (a full checkpoint); None likewise.
    quantizable_base: its frozen base may be loaded in 4/8 bits for training (`--quantize`, QLoRA): true for LoRA,
        whose base Linears never train; full fine-tuning and pretraining train them, and adapter-v2 is not wired.
    objective: None for the next-token loss, or the preference loss ("dpo" on pairs, "kto" on records).
    """

    name: str
    data_kind: DataKind
    model_class: type[GPT]
    config_class: type[Config]
    block_class: type[Block]
    trains: Callable[[str, Any], bool]
    weights_file: str
    needs_base: bool
    delta_only: bool
    sample_generation: bool
    settings_group: str | None = None
    settings_class: type[MethodSettings] | None = None
    prepare: Callable[[torch.nn.Module], None] = _no_preparation
    fold_weights: Callable[[torch.nn.Module], None] | None = None
    merged_weights: Callable[[torch.nn.Module], dict[str, torch.Tensor]] | None = None
    quantizable_base: bool = False
    objective: Objective = None

    def settings_fields(self, settings: MethodSettings | None = None) -> dict[str, Any]:
        """The litgpt fields (`lora_r`, ...) its Config and hyperparameters.yaml carry; defaults where None."""
        if self.settings_class is None:
            return {}
        return (settings or self.settings_class()).litgpt_fields()

    def read_settings(self, hyperparameters: dict[str, Any], source: str) -> MethodSettings | None:
        """Its settings as a run's hyperparameters.yaml (`source`) recorded them; None for a method without."""
        if self.settings_class is None:
            return None
        return self.settings_class.from_litgpt_fields(hyperparameters, source)

    def check_quantize(self, mode: str | None) -> None:
        """One sentence for `--quantize` on a method whose base weights train (or that is not wired for it)."""
        if mode not in (None, "none") and not self.quantizable_base:
            raise LitftError(
                f"--quantize {mode} works with LoRA fine-tuning (QLoRA) only: {self.name} keeps its base weights in "
                "the run's precision, so drop --quantize or use `litft finetune lora`."
            )

    def litgpt_config(self, config: Config, settings: MethodSettings | None = None) -> Config:
        """Its litgpt Config carrying the base architecture plus its settings."""
        fields = {k: v for k, v in asdict(config).items() if k != "rope_n_elem"}
        return self.config_class(**fields, **self.settings_fields(settings))


METHODS: dict[str, Method] = {
    "pretrain": Method(
        "pretrain",
        "pretrain",
        model_class=GPT,
        config_class=Config,
        block_class=Block,
        trains=_trains_everything,
        weights_file=FULL_WEIGHTS,
        needs_base=False,
        delta_only=False,
        sample_generation=False,
    ),
    "full": Method(
        "full",
        "finetune",
        model_class=GPT,
        config_class=Config,
        block_class=Block,
        trains=_trains_everything,
        weights_file=FULL_WEIGHTS,
        needs_base=True,
        delta_only=False,
        sample_generation=True,
    ),
    "lora": Method(
        "lora",
        "finetune",
        model_class=litgpt_lora.GPT,
        config_class=litgpt_lora.Config,
        block_class=litgpt_lora.Block,
        trains=litgpt_lora.lora_filter,
        weights_file="lit_model.pth.lora",
        needs_base=True,
        delta_only=True,
        sample_generation=True,
        settings_group="lora",
        settings_class=LoRASettings,
        fold_weights=_fold_lora,
        merged_weights=_merged_lora_weights,
        quantizable_base=True,
    ),
    "adapter_v2": Method(
        "adapter_v2",
        "finetune",
        model_class=litgpt_adapter_v2.GPT,
        config_class=litgpt_adapter_v2.Config,
        block_class=litgpt_adapter_v2.Block,
        trains=litgpt_adapter_v2.adapter_filter,
        weights_file="lit_model.pth.adapter_v2",
        needs_base=True,
        delta_only=True,
        sample_generation=True,
        settings_group="adapter",
        settings_class=AdapterV2Settings,
        prepare=_clear_adapter_cache_each_forward,
    ),
}
# Preference tuning on LoRA (the reference: the adapters switched off) and on full fine-tuning; `litft finetune dpo|kto
# --finetuning lora|full` picks the entry.
METHODS |= {
    f"{objective}_{base}": replace(
        METHODS[base], name=f"{objective}_{base}", data_kind="preference", objective=objective
    )
    for objective in ("dpo", "kto")
    for base in ("lora", "full")
}


def get_method(name: str) -> Method:
    """The method called `name`; an unknown name is a user error."""
    if name not in METHODS:
        raise LitftError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}.")
    return METHODS[name]
