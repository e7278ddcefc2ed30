"""Model building per method: trainable parameter counts against a hand computation, config resolution."""

from __future__ import annotations

import pytest

from litft.common.errors import LitftError
from litft.models.build import (
    AdapterV2Settings,
    LoRASettings,
    build_model,
    count_parameters,
    resolve_config,
)

# litft-tiny-llama: vocab 1024, n_embd 64, 2 layers, 4 heads of 16, 2 query groups, MLP 176, no biases.
EMBED = 1024 * 64
QKV_OUT = (4 + 2 + 2) * 16
LAYER = 64 + QKV_OUT * 64 + 64 * 64 + 64 + 3 * 176 * 64  # norm_1, qkv, proj, norm_2, fc_1/fc_2/proj
BASE_TOTAL = 2 * EMBED + 2 * LAYER + 64  # wte, lm_head, layers, ln_f


def test_full_and_pretrain_train_everything():
    config = resolve_config("litft-tiny-llama")
    for method in ("pretrain", "full"):
        counts = count_parameters(build_model(method, config))
        assert counts.total == counts.trainable == BASE_TOTAL == 223_552


def test_lora_trains_only_its_matrices():
    config = resolve_config("litft-tiny-llama")
    # r=8 on query and value: A is (r * 2 enabled, 64), B is (query 64 + value 32 outputs, r)
    counts = count_parameters(build_model("lora", config, settings=LoRASettings(r=8, query=True, value=True)))
    per_layer = 8 * 2 * 64 + (64 + 32) * 8
    assert counts.trainable == 2 * per_layer == 3_584
    assert counts.total == BASE_TOTAL + counts.trainable

    # every projection plus the head: qkv (3 parts), proj, fc_1, fc_2, mlp proj, lm_head
    everything = LoRASettings(r=4, query=True, key=True, value=True, projection=True, mlp=True, head=True)
    counts = count_parameters(build_model("lora", config, settings=everything))
    qkv = 4 * 3 * 64 + QKV_OUT * 4
    proj = 4 * 64 + 64 * 4
    mlp = 2 * (4 * 64 + 176 * 4) + (4 * 176 + 64 * 4)
    head = 4 * 64 + 1024 * 4
    assert counts.trainable == 2 * (qkv + proj + mlp) + head


def test_adapter_v2_trains_prompts_gates_and_linear_scales():
    config = resolve_config("litft-tiny-llama")
    counts = count_parameters(
        build_model("adapter_v2", config, settings=AdapterV2Settings(prompt_length=10, start_layer=1))
    )
    # adapter prompt + gate in layers >= start_layer; a bias and a scale per output of every linear layer;
    # and, as in litgpt's adapter_filter, every norm
    prompts = 1 * (10 * 64 + 4)
    linear_outputs_per_layer = QKV_OUT + 64 + 176 + 176 + 64
    norms = 2 * (64 + 64) + 64
    assert counts.trainable == prompts + 2 * 2 * linear_outputs_per_layer + 2 * 1024 + norms


def test_config_sources(tmp_path):
    assert resolve_config("Llama-2-7b-hf").n_layer == 32
    assert resolve_config("pythia-160m").n_embd == 768
    path = tmp_path / "model_config.yaml"
    path.write_text("name: mine\nn_layer: 3\nn_embd: 32\nn_head: 2\nvocab_size: 100\npadded_vocab_size: 100\n")
    assert resolve_config(path).n_layer == 3
    assert resolve_config("litft-tiny-llama", vocab_size=384).padded_vocab_size == 384


@pytest.mark.parametrize(
    "source, message",
    [("Llama-9-bogus", "unknown model config"), ("missing.yaml", "does not exist")],
)
def test_config_errors_are_user_errors(source, message, tmp_path):
    with pytest.raises(LitftError, match=message):
        resolve_config(tmp_path / source if source.endswith(".yaml") else source)


def test_bad_lora_settings_are_user_errors():
    with pytest.raises(LitftError, match="at least one"):
        LoRASettings(query=False, value=False)
    with pytest.raises(LitftError, match="positive"):
        LoRASettings(r=0)


def test_lora_settings_from_hyperparameters():
    fields = {"lora_r": 4, "lora_alpha": 8, "lora_mlp": True, "checkpoint_dir": "base", "precision": "32-true"}
    assert LoRASettings.from_litgpt_fields(fields) == LoRASettings(r=4, alpha=8, mlp=True)
    with pytest.raises(LitftError, match="lora_rank"):
        LoRASettings.from_litgpt_fields({"lora_rank": 4})
