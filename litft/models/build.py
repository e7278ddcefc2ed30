"""Model building for each training method, on top of litgpt's architectures.

The method (litft.models.methods) decides the model class (litgpt GPT, its LoRA or adapter-v2 variant) and
which parameters train. Everything else (configs, weight maps) is litgpt's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from litgpt.config import Config
from litgpt.model import GPT

from litft.common.errors import LitftError

# The settings groups live in the light litft.common.settings (the CLI parses them without torch); re-exported here.
from litft.common.settings import AdapterV2Settings as AdapterV2Settings
from litft.common.settings import LoRASettings as LoRASettings
from litft.common.settings import check_field_types
from litft.common.text import parse_yaml
from litft.models.methods import MethodSettings, get_method

# Tiny configs for tests and the demo: litgpt's smallest named configs are still ~14M parameters.
TINY_CONFIGS: dict[str, dict[str, Any]] = {
    "litft-tiny-llama": dict(
        name="litft-tiny-llama",
        block_size=256,
        n_layer=2,
        n_embd=64,
        n_head=4,
        n_query_groups=2,
        vocab_size=1024,
        padding_multiple=64,
        norm_class_name="RMSNorm",
        norm_eps=1e-5,
        parallel_residual=False,
        bias=False,
        mlp_class_name="LLaMAMLP",
        intermediate_size=176,
        rotary_percentage=1.0,
        rope_base=10000,
    ),
    "litft-tiny-pythia": dict(
        name="litft-tiny-pythia",
        block_size=256,
        n_layer=2,
        n_embd=64,
        n_head=4,
        vocab_size=1024,
        padding_multiple=64,
        norm_class_name="LayerNorm",
        parallel_residual=True,
        bias=True,
        mlp_class_name="GptNeoxMLP",
        rotary_percentage=0.25,
    ),
}
# The demo's tiny Llama: pretrained on 256-token windows, with room in its context for a retrieved passage (a
# demo chunk is up to ~600 of its tokens) in the `+rag` rows and RAFT records.
TINY_CONFIGS["litft-demo-llama"] = {**TINY_CONFIGS["litft-tiny-llama"], "name": "litft-demo-llama", "block_size": 1536}
# The tiny Llama at twice the width and depth: small enough for CPU tests that need a less trivial model.
TINY_CONFIGS["litft-small-llama"] = {
    **TINY_CONFIGS["litft-tiny-llama"],
    **dict(name="litft-small-llama", block_size=512, n_layer=4, n_embd=128, n_query_groups=4, vocab_size=2048),
    "intermediate_size": 352,
}


def resolve_config(name_or_path: str | Path, **overrides: Any) -> Config:
    """A litgpt Config from a litgpt name (`Llama-2-7b-hf`), a litft tiny name, or a YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise LitftError(f"model config file {path} does not exist; check the path.")
        try:
            fields = parse_yaml(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            raise LitftError(
                f"model config {path} is not valid UTF-8 YAML ({str(error).splitlines()[0]}); fix or restore it."
            ) from None
        if not isinstance(fields, dict):
            raise LitftError(f"model config {path} must be a YAML mapping of litgpt Config fields.")
        return config_from_fields({**fields, **overrides}, str(path))
    name = str(name_or_path)
    if name in TINY_CONFIGS:
        return config_from_fields({**TINY_CONFIGS[name], **overrides}, name)
    try:
        return Config.from_name(name, **overrides)
    except ValueError:
        raise LitftError(
            f"unknown model config {name!r}; use a litgpt config name (e.g. Llama-2-7b-hf, pythia-160m), "
            f"one of {', '.join(TINY_CONFIGS)}, or a model_config.yaml path."
        ) from None


def config_from_fields(fields: dict[str, Any], source: str) -> Config:
    """A litgpt Config from a mapping of its fields; `source` names where they came from in the error."""
    check_field_types(fields, Config, source)
    for name in POSITIVE_CONFIG_FIELDS:
        if name in fields and fields[name] < 1:
            raise LitftError(f"{source} sets {name} to {fields[name]!r}; it must be a positive integer.")
    try:
        return Config(**fields)
    except (TypeError, ValueError, AssertionError) as error:
        raise LitftError(
            f"model config {source} is not a valid litgpt config: {error or type(error).__name__}."
        ) from None


# Config fields a hand-edited model_config.yaml could set to 0 or less, which litgpt accepts and then fails on.
POSITIVE_CONFIG_FIELDS = ("block_size", "n_layer", "n_embd", "n_head", "vocab_size", "padding_multiple")


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype | None) -> Iterator[None]:
    """Create tensors in `dtype`, so a bf16 7B model never exists as fp32 first."""
    if dtype is None:
        yield
        return
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def build_model(
    method: str,
    config: Config,
    settings: MethodSettings | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype | None = None,
) -> GPT:
    """A randomly initialised model of the method (with its `settings`), only its parameters trainable."""
    spec = get_method(method)
    with default_dtype(dtype), torch.device(device):
        model = spec.model_class(spec.litgpt_config(config, settings))
    for name, parameter in model.named_parameters():
        parameter.requires_grad = spec.trains(name, parameter)
    return model


@dataclass(frozen=True)
class ParameterCount:
    total: int
    trainable: int

    def __str__(self) -> str:
        share = 100.0 * self.trainable / max(self.total, 1)
        return f"{self.total:,} parameters, {self.trainable:,} trainable ({share:.3f}%)"


def count_parameters(model: torch.nn.Module) -> ParameterCount:
    # Parameters shared between modules (tied embeddings) count once, as in litgpt.utils.num_parameters.
    unique = {id(p): p for p in model.parameters()}.values()
    return ParameterCount(
        total=sum(p.numel() for p in unique), trainable=sum(p.numel() for p in unique if p.requires_grad)
    )


EMBEDDING_WEIGHT, HEAD_WEIGHT = "transformer.wte.weight", "lm_head.weight"


def embeddings_tied(weights: Mapping[str, torch.Tensor]) -> bool:
    """Whether a litgpt state dict's output layer is its token embedding (`tie_word_embeddings` in Hugging Face).

    litgpt's Config has no field for it, so the weights say it: a tied checkpoint holds one tensor under both names
    (torch.save writes it once and torch.load keeps it shared; litgpt loads it as two equal copies). Two equal
    tensors (a gathered FSDP state, an older conversion) are tied too; an untied pair already differs in its first
    row, which is compared first so a 7B model's embeddings are not read twice for nothing.
    """
    embedding, head = weights.get(EMBEDDING_WEIGHT), weights.get(HEAD_WEIGHT)
    if embedding is None or head is None or embedding.shape != head.shape or embedding.dtype != head.dtype:
        return False
    if embedding.is_meta or head.is_meta:
        return False
    shares_storage = (
        embedding.untyped_storage().data_ptr() == head.untyped_storage().data_ptr()
        and embedding.storage_offset() == head.storage_offset()
        and embedding.stride() == head.stride()
    )
    return shares_storage or (torch.equal(embedding[0], head[0]) and torch.equal(embedding, head))


def share_tied_embeddings(weights: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`weights` with a tied output layer stored as the embedding tensor itself, so torch.save writes one copy."""
    shared = dict(weights)
    if embeddings_tied(shared):
        shared[HEAD_WEIGHT] = shared[EMBEDDING_WEIGHT]
    return shared


def _output_linear(model: torch.nn.Module) -> torch.nn.Module:
    # litgpt's LoRA and adapter-v2 models wrap the output Linear as `lm_head.linear`
    head = model.lm_head
    return getattr(head, "linear", head)


def tie_embeddings(model: torch.nn.Module) -> None:
    """Make the output layer's weight the embedding's Parameter: one tensor trains, one optimizer state."""
    _output_linear(model).weight = model.transformer.wte.weight


def load_weights(
    model: GPT,
    method: str,
    base: Mapping[str, torch.Tensor],
    trained: Mapping[str, torch.Tensor] | None = None,
    assign: bool = False,
) -> None:
    """Load base weights (and a run's trained weights) into a model of `method`, checking nothing is missing.

    The base may lack exactly the method's own parameters (LoRA/adapter ones), which `trained` then provides;
    for a fresh run those keep the initialisation litgpt gives them. With `assign`, the given tensors become
    the parameters instead of being copied into them (a model built on the meta device needs this). A base whose
    embeddings are tied (`embeddings_tied`) loads tied: the output layer's weight is the embedding's Parameter.
    """
    state = dict(base)
    if trained is not None:
        state.update(trained)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False, assign=assign)
    except RuntimeError as error:  # torch lists every tensor whose shape differs from the config's
        if "size mismatch" not in str(error):
            raise
        detail = next(line.strip() for line in str(error).splitlines() if "size mismatch" in line)
        raise LitftError(
            f"the checkpoint weights do not fit the {method} model built from its config ({detail[:200]}); "
            "check that model_config.yaml belongs to these weights."
        ) from None
    spec = get_method(method)
    fresh_method_parameter = spec.trains if spec.delta_only and trained is None else None
    really_missing = [key for key in missing if not (fresh_method_parameter and fresh_method_parameter(key, None))]
    if really_missing or unexpected:
        detail = f"missing {really_missing[:3]}" if really_missing else f"unexpected {unexpected[:3]}"
        raise LitftError(
            f"the checkpoint weights do not fit the {method} model built from its config ({detail}); "
            "check that model_config.yaml belongs to these weights."
        )
    if embeddings_tied(base):
        tie_embeddings(model)
