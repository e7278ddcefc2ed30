"""Tied embeddings (`tie_word_embeddings: true`) stay one tensor: converted, loaded, merged, quantized and exported."""

from __future__ import annotations

import json

import pytest
import torch
import transformers
from safetensors import safe_open

from litft.models.build import LoRASettings, build_model, load_weights
from litft.models.checkpoint import inspect_checkpoint, load_model, load_state_dict, save_checkpoint
from litft.models.convert import convert_hf_checkpoint, convert_lit_checkpoint
from litft.models.merge import merge_lora
from tests.conftest import make_hf_model

EMBEDDING_WEIGHT, HEAD_WEIGHT = "transformer.wte.weight", "lm_head.weight"
TOKENS = torch.randint(0, 384, (2, 23), generator=torch.Generator().manual_seed(1))


def hf_logits(directory) -> torch.Tensor:
    model = transformers.AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).eval()
    with torch.no_grad():
        return model(TOKENS).logits


def lit_logits(directory) -> torch.Tensor:
    model, _ = load_model(directory)
    with torch.no_grad():
        return model(TOKENS)


def one_tensor(weights: dict[str, torch.Tensor]) -> bool:
    """Both names point at one storage: torch.save wrote the tensor once."""
    embedding, head = weights[EMBEDDING_WEIGHT], weights[HEAD_WEIGHT]
    return embedding.untyped_storage().data_ptr() == head.untyped_storage().data_ptr()


def safetensors_names(directory) -> set[str]:
    with safe_open(str(directory / "model.safetensors"), framework="pt") as handle:
        return set(handle.keys())


@pytest.mark.parametrize("family", ["llama", "qwen2", "gpt_neox"])
def test_tied_model_converts_loads_and_exports_tied(family, tmp_path):
    directory = make_hf_model(tmp_path / f"tied-{family}", family, tied=True)
    convert_hf_checkpoint(directory)  # GPT-NeoX: litgpt's copy function has no fallback for a missing embed_out
    assert one_tensor(load_state_dict(directory / "lit_model.pth"))
    model, _ = load_model(directory)
    assert model.lm_head.weight is model.transformer.wte.weight
    assert (lit_logits(directory) - hf_logits(directory)).abs().max() <= 1e-5

    convert_lit_checkpoint(directory, tmp_path / "export")
    assert json.loads((tmp_path / "export" / "config.json").read_text())["tie_word_embeddings"] is True
    assert safetensors_names(tmp_path / "export") == safetensors_names(directory)
    assert (tmp_path / "export" / "model.safetensors").stat().st_size == (
        directory / "model.safetensors"
    ).stat().st_size
    assert torch.equal(hf_logits(tmp_path / "export"), hf_logits(directory))


def test_an_lm_head_beside_tied_embeddings_is_ignored_as_transformers_does(tmp_path):
    """Some tied checkpoints also ship an lm_head tensor; transformers uses the embedding, and so does litft."""
    from safetensors.torch import load_file, save_file

    directory = make_hf_model(tmp_path / "tied-llama", "llama", tied=True)
    weights = load_file(directory / "model.safetensors")
    weights["lm_head.weight"] = torch.randn_like(weights["model.embed_tokens.weight"])
    save_file(weights, directory / "model.safetensors", metadata={"format": "pt"})
    convert_hf_checkpoint(directory)
    base_bytes = (directory / "lit_model.pth").stat().st_size
    assert (
        base_bytes < 1.1 * (make_hf_model(tmp_path / "plain", "llama", tied=True) / "model.safetensors").stat().st_size
    )
    assert (lit_logits(directory) - hf_logits(directory)).abs().max() <= 1e-5


def test_tie_word_embeddings_must_be_a_boolean(tmp_path):
    from litft.common.errors import LitftError

    directory = make_hf_model(tmp_path / "tied-llama", "llama", tied=True)
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, "tie_word_embeddings": "yes"}))
    with pytest.raises(LitftError, match="tie_word_embeddings"):
        convert_hf_checkpoint(directory)
    assert not (directory / "lit_model.pth").exists()


def lora_run(base_dir, out_dir, head: bool):
    """A LoRA run on the tied base (with its own LoRA on the output layer, `--lora.head`, if `head`), its weights
    moved off their init; returns the logits of the model saved."""
    info = inspect_checkpoint(base_dir)
    settings = LoRASettings(r=4, alpha=8, head=head)
    model = build_model("lora", info.config, settings)
    load_weights(model, "lora", load_state_dict(info.weights_path))
    assert model.lm_head.linear.weight is model.transformer.wte.weight  # the frozen base stays tied under LoRA
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for parameter in (p for p in model.parameters() if p.requires_grad):
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    save_checkpoint(
        out_dir,
        method="lora",
        state_dict=model.state_dict(),
        config=info.config,
        source_dir=base_dir,
        base_checkpoint_dir=base_dir,
        settings=settings,
    )
    with torch.no_grad():
        return model.eval()(TOKENS)


def test_lora_merge_keeps_the_base_tied(lit_tied_base, tmp_path):
    expected = lora_run(lit_tied_base, tmp_path / "lora", head=False)
    merge_lora(tmp_path / "lora", tmp_path / "merged")
    merged = load_state_dict(tmp_path / "merged" / "lit_model.pth")
    assert one_tensor(merged)
    assert torch.equal(merged[EMBEDDING_WEIGHT], load_state_dict(lit_tied_base / "lit_model.pth")[EMBEDDING_WEIGHT])
    convert_lit_checkpoint(tmp_path / "merged", tmp_path / "hf")
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["tie_word_embeddings"] is True
    assert safetensors_names(tmp_path / "hf") == safetensors_names(lit_tied_base)
    assert (hf_logits(tmp_path / "hf") - expected).abs().max() <= 1e-5


def test_merging_a_lora_output_layer_unties_it_without_touching_the_embedding(lit_tied_base, tmp_path):
    """The LoRA sum is added in place: into a tied weight it would change the embedding as well."""
    expected = lora_run(lit_tied_base, tmp_path / "lora", head=True)
    merge_lora(tmp_path / "lora", tmp_path / "merged")
    merged, base = (
        load_state_dict(tmp_path / "merged" / "lit_model.pth"),
        load_state_dict(lit_tied_base / "lit_model.pth"),
    )
    assert torch.equal(merged[EMBEDDING_WEIGHT], base[EMBEDDING_WEIGHT])
    assert not torch.equal(merged[HEAD_WEIGHT], merged[EMBEDDING_WEIGHT])
    assert (lit_logits(tmp_path / "merged") - expected).abs().max() <= 1e-5
    convert_lit_checkpoint(tmp_path / "merged", tmp_path / "hf")
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["tie_word_embeddings"] is False
    assert (hf_logits(tmp_path / "hf") - expected).abs().max() <= 1e-5


def test_generation_folds_a_lora_output_layer_without_touching_the_embedding(lit_tied_base, tmp_path):
    from litft.models.methods import get_method

    expected = lora_run(lit_tied_base, tmp_path / "lora", head=True)
    model, _ = load_model(tmp_path / "lora")
    get_method("lora").fold_weights(model)  # what generate does before decoding
    assert torch.equal(model.transformer.wte.weight, load_state_dict(lit_tied_base / "lit_model.pth")[EMBEDDING_WEIGHT])
    with torch.no_grad():
        assert (model(TOKENS) - expected).abs().max() <= 1e-5


def test_a_quantized_base_stays_tied(lit_tied_base):
    pytest.importorskip("bitsandbytes")
    from litft.models.quantize import build_quantized_model

    info = inspect_checkpoint(lit_tied_base)
    base = load_state_dict(info.weights_path)
    model = build_quantized_model("lora", info.config, LoRASettings(r=4), base, None, "bnb.nf4", torch.float32, "cpu")
    assert model.lm_head.linear.weight is model.transformer.wte.weight
    assert torch.equal(model.transformer.wte.weight, base[EMBEDDING_WEIGHT])
