"""The settings groups and value types commands take (LoRA, adapter-v2, sampling, dtypes) and their field checks.

No torch or litgpt here: the CLI builds its parser from these types, so `--help` and a bad value answer at once.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from litft.common.errors import LitftError

# The prompt style `litft prepare finetune` uses when none is given.
DEFAULT_PROMPT_STYLE = "alpaca"
DType = Literal["float32", "float16", "bfloat16"]
Precision = Literal["32-true", "16-true", "bf16-true"]
# bitsandbytes quantization of a frozen base (litft.models.quantize); `none` loads it in full precision.
Quantize = Literal["bnb.nf4", "bnb.nf4-dq", "bnb.fp4", "bnb.fp4-dq", "bnb.int8", "none"]


@dataclass
class LoRASettings:
    """LoRA rank, scaling, dropout and the projections it is applied to (litgpt.lora's `lora_*` fields)."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    query: bool = True
    key: bool = False
    value: bool = True
    projection: bool = False
    mlp: bool = False
    head: bool = False

    def __post_init__(self) -> None:
        if self.r < 1:
            raise LitftError(f"lora r must be a positive integer, got {self.r}.")
        if not 0.0 <= self.dropout < 1.0:
            raise LitftError(f"lora dropout must be in [0, 1), got {self.dropout}.")
        if not any((self.query, self.key, self.value, self.projection, self.mlp, self.head)):
            raise LitftError("LoRA needs at least one of query/key/value/projection/mlp/head set to true.")

    def litgpt_fields(self) -> dict[str, Any]:
        """The `lora_*` names litgpt uses in its Config and hyperparameters.yaml."""
        return {f"lora_{name}": value for name, value in asdict(self).items()}

    @classmethod
    def from_litgpt_fields(cls, fields: Mapping[str, Any], source: str = "hyperparameters.yaml") -> LoRASettings:
        known = {f"lora_{name}" for name in cls.__dataclass_fields__}
        unknown = sorted(name for name in fields if name.startswith("lora_") and name not in known)
        if unknown:
            raise LitftError(f"{source} has LoRA settings litft does not know ({', '.join(unknown)}); remove them.")
        settings = {name[len("lora_") :]: value for name, value in fields.items() if name in known}
        check_field_types(settings, cls, source, prefix="lora_")
        return cls(**settings)


@dataclass
class AdapterV2Settings:
    """Adapter prompt length and the first layer that gets an adapter prompt (litgpt's `adapter_*` fields)."""

    prompt_length: int = 10
    start_layer: int = 2

    def litgpt_fields(self) -> dict[str, Any]:
        return {"adapter_prompt_length": self.prompt_length, "adapter_start_layer": self.start_layer}

    @classmethod
    def from_litgpt_fields(cls, fields: Mapping[str, Any], source: str = "hyperparameters.yaml") -> AdapterV2Settings:
        settings = {name: fields[f"adapter_{name}"] for name in cls.__dataclass_fields__ if f"adapter_{name}" in fields}
        check_field_types(settings, cls, source, prefix="adapter_")
        return cls(**settings)


SEED_RANGE = (-(2**63), 2**63 - 1)  # a signed 64-bit seed: torch's generators take it, and seed + row still fits
# Below this a temperature samples the most likely token anyway, and dividing logits by it overflows float32 to
# inf (then NaN probabilities): such a temperature decodes greedily, as vLLM's does (its _SAMPLING_EPS).
GREEDY_TEMPERATURE = 1e-5


@dataclass
class SamplingSettings:
    """How tokens are chosen and when a row stops (everything here is recorded with the results): the
    `--sampling.*` group of `generate`, `chat` and `evaluate`.

    Args:
        max_new_tokens: Most tokens to generate per answer.
        temperature: Sampling temperature; 0 (or below 1e-5) means greedy decoding.
        top_k: Sample among the k most likely tokens only.
        top_p: Sample from the smallest set of tokens whose probability adds up to top_p.
        seed: Random seed for sampling (prompt i of a batch uses seed + i).
        stop: Text that ends an answer when generated (not included); several may follow the flag, e.g.
            --sampling.stop "###" "\\n\\n" (on the command line \\n and \\t stand for a newline and a tab).
    """

    max_new_tokens: int = 256
    temperature: float = 0.0  # 0 = greedy
    top_k: int | None = None
    top_p: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)

    def validate(self) -> None:
        if self.max_new_tokens < 1:
            raise LitftError(f"--sampling.max_new_tokens must be at least 1, got {self.max_new_tokens}.")
        if self.temperature < 0:
            raise LitftError(f"--sampling.temperature must be >= 0 (0 means greedy), got {self.temperature}.")
        if self.top_k is not None and self.top_k < 1:
            raise LitftError(f"--sampling.top_k must be a positive integer or left out, got {self.top_k}.")
        if not 0.0 <= self.top_p <= 1.0:
            raise LitftError(f"--sampling.top_p must be in [0, 1], got {self.top_p}.")
        if any(not s for s in self.stop):
            raise LitftError("--sampling.stop strings must not be empty.")
        if self.seed is not None and not SEED_RANGE[0] <= self.seed <= SEED_RANGE[1]:
            raise LitftError(
                f"--sampling.seed must fit in 64 bits ({SEED_RANGE[0]} to {SEED_RANGE[1]}), got {self.seed}."
            )

    @property
    def greedy(self) -> bool:
        # litgpt's `sample` takes the argmax in these cases too (at temperature 0; below GREEDY_TEMPERATURE see above).
        return self.temperature < GREEDY_TEMPERATURE or self.top_p == 0.0 or self.top_k == 1


# The defaults of `litft generate` and `litft chat` (`evaluate` decodes greedily).
GENERATION_SAMPLING = SamplingSettings(temperature=0.8, top_k=50, seed=1234)
CHAT_SAMPLING = SamplingSettings(max_new_tokens=512, temperature=0.8, top_k=50, seed=1234)


def check_field_types(
    fields: Mapping[str, Any], types_of: type | Mapping[str, Any], source: str, prefix: str = ""
) -> None:
    """Refuse a YAML/JSON value whose type is not the one its field declares (`types_of`: a dataclass or a mapping
    of names to annotations): a dataclass would take `n_embd: "big"` and fail deep inside model building."""
    hints = typing.get_type_hints(types_of) if isinstance(types_of, type) else types_of
    for name, value in fields.items():
        if name in hints and not _has_type(value, hints[name]):
            raise LitftError(
                f"{source} sets {prefix}{name} to {value!r}, but it must be {type_name(hints[name])}; fix that value."
            )


def _has_type(value: Any, annotation: Any) -> bool:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return value in args
    if origin in (typing.Union, types.UnionType):
        return any(_has_type(value, arg) for arg in args)
    if origin in (list, tuple):
        return isinstance(value, (list, tuple)) and (not args or all(_has_type(item, args[0]) for item in value))
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is type(None):
        return value is None
    if isinstance(origin or annotation, type):
        return isinstance(value, origin or annotation)
    return True  # Any and other annotations: nothing to check


def type_name(annotation: Any) -> str:
    """An annotation in words, as an error message says what a value must be ("an integer or null")."""
    if typing.get_origin(annotation) is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(annotation)))
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " or ".join(type_name(arg) for arg in typing.get_args(annotation))
    names = {
        int: "an integer",
        float: "a number",
        bool: "true or false",
        str: "a string",
        dict: "a mapping",
        type(None): "null",
    }
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))
