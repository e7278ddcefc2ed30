"""HF ⇄ litgpt conversion: logits parity with transformers and byte-exact round trips."""

from __future__ import annotations

import json

import pytest
import torch
import transformers
from safetensors.torch import load_file

from litft.common.errors import LitftError
from litft.models.checkpoint import load_model, save_checkpoint
from litft.models.convert import convert_hf_checkpoint, convert_lit_checkpoint

FAMILIES = ["llama", "gpt_neox", "qwen2", "mistral"]


def hf_logits(directory, tokens):
    model = transformers.AutoModelForCausalLM.from_pretrained(directory, torch_dtype=torch.float32).eval()
    with torch.no_grad():
        return model(tokens).logits


def lit_logits(directory, tokens):
    model, _ = load_model(directory)
    with torch.no_grad():
        return model(tokens)


@pytest.fixture
def tokens():
    return torch.randint(0, 384, (2, 23), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("family", FAMILIES)
def test_hf_to_lit_logits_match_transformers(family, hf_copy, tokens):
    directory = hf_copy(family)
    convert_hf_checkpoint(directory)  # the name is not a litgpt config: the config comes from config.json
    assert (directory / "lit_model.pth").is_file() and (directory / "model_config.yaml").is_file()
    difference = (lit_logits(directory, tokens) - hf_logits(directory, tokens)).abs().max().item()
    assert difference <= 1e-4


@pytest.mark.parametrize("family", FAMILIES)
def test_hf_lit_hf_round_trip_is_identical_and_loads(family, hf_copy, tmp_path, tokens):
    directory = hf_copy(family)
    convert_hf_checkpoint(directory)
    out = tmp_path / "export"
    convert_lit_checkpoint(directory, out)

    original, exported = load_file(directory / "model.safetensors"), load_file(out / "model.safetensors")
    assert original.keys() == exported.keys()
    for name, tensor in original.items():
        assert torch.equal(tensor, exported[name]), name
    assert torch.equal(hf_logits(out, tokens), hf_logits(directory, tokens))
    tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    assert tokenizer.decode(tokenizer("the school offers programs").input_ids) == "the school offers programs"


def test_export_is_sharded_above_the_limit(hf_copy, tmp_path, tokens):
    directory = hf_copy("llama")
    convert_hf_checkpoint(directory)
    out = tmp_path / "sharded"
    convert_lit_checkpoint(directory, out, max_shard_size="100KB")
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1
    assert torch.equal(hf_logits(out, tokens), hf_logits(directory, tokens))


def test_fine_tuned_full_checkpoint_exports_with_its_tokenizer(lit_base, tmp_path, tokens):
    model, info = load_model(lit_base)
    with torch.no_grad():
        model.lm_head.weight.add_(0.5)
    run = save_checkpoint(
        tmp_path / "run", method="full", state_dict=model.state_dict(), config=info.config, source_dir=lit_base
    )
    convert_lit_checkpoint(run, tmp_path / "hf")
    assert torch.allclose(hf_logits(tmp_path / "hf", tokens), lit_logits(run, tokens), atol=1e-4)
    assert (tmp_path / "hf" / "tokenizer.json").is_file()


def test_named_config_converts_without_config_json(hf_copy, tokens):
    directory = hf_copy("llama")
    (directory / "config.json").rename(directory / "hf_config.json.bak")
    with pytest.raises(LitftError, match="pass --model_name"):
        convert_hf_checkpoint(directory)
    # litft-tiny-llama has the same shapes except the vocabulary, which an override cannot fix: a clear error
    with pytest.raises(LitftError):
        convert_hf_checkpoint(directory, model_name="litft-tiny-pythia")


def test_checkpoint_without_tokenizer_converts_both_ways_with_a_warning(hf_copy, tmp_path, tokens):
    directory = hf_copy("gpt_neox")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (directory / name).unlink()
    with pytest.warns(UserWarning, match="no tokenizer files"):
        convert_hf_checkpoint(directory)
    with pytest.warns(UserWarning, match="no tokenizer files"):
        convert_lit_checkpoint(directory, tmp_path / "out")
    assert torch.equal(hf_logits(tmp_path / "out", tokens), hf_logits(directory, tokens))


def test_bf16_conversion_stores_bfloat16_and_stays_close(hf_copy, tokens):
    directory = hf_copy("llama")
    convert_hf_checkpoint(directory, dtype="bfloat16")
    state = torch.load(directory / "lit_model.pth", weights_only=True)
    assert all(t.dtype == torch.bfloat16 for t in state.values())
    difference = (lit_logits(directory, tokens) - hf_logits(directory, tokens)).abs().max().item()
    assert 0 < difference < 0.05  # bf16 weight rounding only


def test_unsupported_family_is_a_user_error(hf_copy):
    directory = hf_copy("llama")
    config = json.loads((directory / "config.json").read_text())
    config["model_type"] = "bloom"
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(LitftError, match="model_type 'bloom'"):
        convert_hf_checkpoint(directory)


@pytest.mark.parametrize("name", ["phi-2", "falcon-7b", "Gemma-2-2b", "OLMo-2-1124-7B"])
def test_export_refuses_architectures_transformers_would_build_differently(name):
    from litgpt.config import Config

    from litft.models.hf_config import family_of_litgpt

    with pytest.raises(LitftError, match="not of a family litft exports"):
        family_of_litgpt(Config.from_name(name))


@pytest.mark.parametrize(
    "name, family", [("Llama-2-7b-hf", "llama"), ("Qwen2.5-0.5B", "qwen2"), ("pythia-160m", "gpt_neox")]
)
def test_export_families_of_named_configs(name, family):
    from litgpt.config import Config

    from litft.models.hf_config import family_of_litgpt

    assert family_of_litgpt(Config.from_name(name)) == family


def test_weights_that_do_not_fill_the_config_write_nothing(hf_copy):
    directory = hf_copy("gpt_neox")
    config = json.loads((directory / "config.json").read_text())
    config["num_hidden_layers"] = 3  # the weights hold 2 layers
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(LitftError, match="missing"):
        convert_hf_checkpoint(directory)
    assert not (directory / "lit_model.pth").exists() and not (directory / "model_config.yaml").exists()


def test_incomplete_config_json_is_a_user_error():
    from litft.common.errors import LitftError
    from litft.models.hf_config import litgpt_config_from_hf

    with pytest.raises(LitftError, match="lacks the key 'num_attention_heads'"):
        litgpt_config_from_hf({"model_type": "llama", "vocab_size": 32}, "custom")
    with pytest.raises(LitftError, match="not describe a valid gpt_neox model"):
        litgpt_config_from_hf(
            {
                "model_type": "gpt_neox",
                "vocab_size": 32,
                "num_attention_heads": 0,
                "num_hidden_layers": 1,
                "hidden_size": 64,
                "intermediate_size": 128,
            },
            "custom",
        )
