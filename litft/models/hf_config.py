"""Translate between a Hugging Face `config.json` and a litgpt `Config`.

litgpt only converts checkpoints whose directory name is one of its config names; fine-tuned variants
with custom names are common, so litft derives the litgpt config from config.json for the Llama, Mistral,
Qwen2 and GPT-NeoX families, and writes config.json back for export. No library does this mapping:
litgpt keeps its configs as a hand-written table and transformers knows nothing of litgpt.
"""

from __future__ import annotations

from typing import Any

from litgpt.config import Config

from litft.common.errors import LitftError

LLAMA_LIKE = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM"}
SUPPORTED = (*LLAMA_LIKE, "gpt_neox")
# The types of the config.json keys read below: a downloaded or hand-edited file may hold "2" for 2, which
# litgpt's Config would accept and only fail on deep inside model building.
HF_KEY_TYPES: dict[str, Any] = {
    "num_attention_heads": int,
    "vocab_size": int,
    "num_hidden_layers": int,
    "hidden_size": int,
    "intermediate_size": int,
    "max_position_embeddings": int,
    "num_key_value_heads": int | None,
    "head_dim": int | None,
    "hidden_act": str,
    "layer_norm_eps": float,
    "rms_norm_eps": float,
    "use_parallel_residual": bool,
    "rotary_pct": float,
    "rotary_emb_base": float,
    "rope_theta": float,
    "rope_scaling": dict | None,
    "sliding_window": int | None,
    "use_sliding_window": bool,
    "attention_bias": bool,
    "mlp_bias": bool,
}


def family_of_hf(hf: dict[str, Any], source: str = "config.json") -> str:
    model_type = hf.get("model_type")
    if model_type not in SUPPORTED:
        raise LitftError(
            f"{source} has model_type {model_type!r}; litft derives configs for {', '.join(SUPPORTED)} only. "
            "Pass --model_name with the matching litgpt config name instead."
        )
    return model_type


def litgpt_config_from_hf(hf: dict[str, Any], name: str, source: str = "config.json") -> Config:
    """The litgpt Config equivalent to an HF config.json of a supported family (`source` names it in errors)."""
    from litft.models.build import check_field_types

    family = family_of_hf(hf, source)
    check_field_types(hf, HF_KEY_TYPES, source)
    try:
        return Config(**_litgpt_config_fields(hf, name, family))
    except KeyError as error:
        raise LitftError(
            f"{source} lacks the key {error.args[0]!r} that a {family} config needs; "
            "re-download it or pass --model_name."
        ) from None
    except (TypeError, ValueError, AssertionError, ZeroDivisionError) as error:
        raise LitftError(
            f"{source} does not describe a valid {family} model ({error or type(error).__name__})."
        ) from None


def _litgpt_config_fields(hf: dict[str, Any], name: str, family: str) -> dict[str, Any]:
    n_head = hf["num_attention_heads"]
    common = dict(
        name=name,
        block_size=hf.get("max_position_embeddings", 4096),
        vocab_size=hf["vocab_size"],
        padded_vocab_size=hf["vocab_size"],
        n_layer=hf["num_hidden_layers"],
        n_embd=hf["hidden_size"],
        n_head=n_head,
        intermediate_size=hf["intermediate_size"],
    )
    if family == "gpt_neox":
        activation = hf.get("hidden_act", "gelu")
        if activation not in ("gelu", "gelu_new", "gelu_pytorch_tanh"):
            raise LitftError(
                f"GPT-NeoX config.json uses hidden_act {activation!r}; litgpt supports gelu variants only."
            )
        return dict(
            common,
            norm_class_name="LayerNorm",
            norm_eps=hf.get("layer_norm_eps", 1e-5),
            parallel_residual=hf.get("use_parallel_residual", True),
            bias=True,
            mlp_class_name="GptNeoxMLP",
            gelu_approximate="none" if activation == "gelu" else "tanh",
            rotary_percentage=hf.get("rotary_pct", 0.25),
            rope_base=int(hf.get("rotary_emb_base", 10000)),
        )
    if hf.get("hidden_act", "silu") != "silu":
        raise LitftError(f"config.json uses hidden_act {hf['hidden_act']!r}; litgpt's LLaMAMLP supports silu only.")
    if hf.get("mlp_bias") or (family != "qwen2" and hf.get("attention_bias")):
        raise LitftError("config.json has attention/MLP biases, which litgpt's Llama-family model does not support.")
    fields: dict[str, Any] = dict(
        common,
        n_query_groups=hf.get("num_key_value_heads") or n_head,
        head_size=hf.get("head_dim") or hf["hidden_size"] // n_head,
        norm_class_name="RMSNorm",
        norm_eps=hf.get("rms_norm_eps", 1e-6),
        parallel_residual=False,
        bias=False,
        attn_bias=family == "qwen2",
        mlp_class_name="LLaMAMLP",
        rotary_percentage=1.0,
        rope_base=int(hf.get("rope_theta", 10000)),
    )
    scaling = hf.get("rope_scaling")
    if scaling:
        kind = scaling.get("rope_type", scaling.get("type"))
        if kind != "llama3":
            raise LitftError(f"config.json uses rope_scaling type {kind!r}; litgpt supports only 'llama3' scaling.")
        fields["rope_adjustments"] = {
            "factor": scaling["factor"],
            "low_freq_factor": scaling["low_freq_factor"],
            "high_freq_factor": scaling["high_freq_factor"],
            "original_max_seq_len": scaling["original_max_position_embeddings"],
        }
    window = hf.get("sliding_window")
    if window and (family == "mistral" or hf.get("use_sliding_window")):
        fields["sliding_window_size"] = window
    return fields


def family_of_litgpt(config: Config) -> str:
    """The HF family a litgpt Config can be exported as; anything with a feature that family lacks is refused."""
    beyond_both = (
        config.norm_qk
        or config.post_attention_norm
        or config.post_mlp_norm
        or config.scale_embeddings
        or config.attention_logit_softcapping
        or config.final_logit_softcapping
        or config.lm_head_bias
        or config.rope_interleave
        or config.n_expert
        or config.shared_attention_norm
        or config.latent_attention
        or config.attention_scores_scalar
        or not (config.norm_1 and config.norm_2)
    )
    if not beyond_both:
        if (
            config.mlp_class_name == "GptNeoxMLP"
            and config.norm_class_name == "LayerNorm"
            and config.bias
            and config.n_query_groups == config.n_head
            and not config.sliding_window_size
        ):
            return "gpt_neox"
        if (
            config.mlp_class_name == "LLaMAMLP"
            and config.norm_class_name == "RMSNorm"
            and not config.bias
            and not config.parallel_residual
            and config.rotary_percentage == 1.0
        ):
            if config.attn_bias:
                return "qwen2"
            return "mistral" if config.sliding_window_size else "llama"
    raise LitftError(
        f"config {config.name!r} is not of a family litft exports to Hugging Face (llama, mistral, qwen2, gpt_neox); "
        "use `litgpt convert_from_litgpt` for it."
    )


def hf_config_from_litgpt(config: Config, torch_dtype: str, tie_word_embeddings: bool) -> dict[str, Any]:
    """An HF config.json that transformers' AutoModelForCausalLM builds the same network from."""
    family = family_of_litgpt(config)
    common = dict(
        vocab_size=config.padded_vocab_size,
        hidden_size=config.n_embd,
        num_hidden_layers=config.n_layer,
        num_attention_heads=config.n_head,
        intermediate_size=config.intermediate_size,
        max_position_embeddings=config.block_size,
        tie_word_embeddings=tie_word_embeddings,
        torch_dtype=torch_dtype,
    )
    if family == "gpt_neox":
        return dict(
            common,
            architectures=["GPTNeoXForCausalLM"],
            model_type="gpt_neox",
            hidden_act="gelu" if config.gelu_approximate == "none" else "gelu_new",
            layer_norm_eps=config.norm_eps,
            rotary_pct=config.rotary_percentage,
            rotary_emb_base=config.rope_base,
            use_parallel_residual=config.parallel_residual,
            attention_bias=True,
        )
    hf = dict(
        common,
        architectures=[LLAMA_LIKE[family]],
        model_type=family,
        num_key_value_heads=config.n_query_groups,
        head_dim=config.head_size,
        hidden_act="silu",
        rms_norm_eps=config.norm_eps,
        rope_theta=config.rope_base,
    )
    if family == "llama":
        hf.update(attention_bias=False, mlp_bias=False)
    if family == "mistral":
        hf["sliding_window"] = config.sliding_window_size
    if family == "qwen2":
        hf.update(use_sliding_window=False, sliding_window=None)
    if config.rope_adjustments:
        adjustments = config.rope_adjustments
        hf["rope_scaling"] = {
            "rope_type": "llama3",
            "factor": adjustments["factor"],
            "low_freq_factor": adjustments["low_freq_factor"],
            "high_freq_factor": adjustments["high_freq_factor"],
            "original_max_position_embeddings": adjustments["original_max_seq_len"],
        }
    return hf
