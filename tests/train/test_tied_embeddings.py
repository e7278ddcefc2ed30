"""Full fine-tuning of a model with tied embeddings trains one tensor, saves it once, resumes it tied and exports
`tie_word_embeddings: true` at the original size, with transformers' logits equal to litft's."""

from __future__ import annotations

import json

import pytest
import torch
import transformers

from litft.cli import main
from litft.models.checkpoint import load_model, load_state_dict
from litft.models.convert import convert_lit_checkpoint
from tests.support.training import command, weights
from tests.train.test_fsdp import _train

EMBEDDING_WEIGHT, HEAD_WEIGHT = "transformer.wte.weight", "lm_head.weight"
TOKENS = torch.randint(0, 384, (2, 23), generator=torch.Generator().manual_seed(1))


def written_once(weights: dict[str, torch.Tensor]) -> bool:
    """Both names point at one storage: torch.save wrote the tensor once, and it loads tied."""
    return weights[EMBEDDING_WEIGHT].untyped_storage().data_ptr() == weights[HEAD_WEIGHT].untyped_storage().data_ptr()


def test_full_fine_tuning_trains_saves_resumes_and_exports_one_tied_tensor(tmp_path, lit_tied_base, ft_data):
    out = tmp_path / "out"
    main(command("full", lit_tied_base, ft_data, out))
    final, base = out / "final", load_state_dict(lit_tied_base / "lit_model.pth")

    saved = load_state_dict(final / "lit_model.pth")
    assert written_once(saved)
    assert not torch.equal(saved[EMBEDDING_WEIGHT], base[EMBEDDING_WEIGHT])  # it trained
    base_bytes = (lit_tied_base / "lit_model.pth").stat().st_size
    assert abs((final / "lit_model.pth").stat().st_size - base_bytes) < 0.02 * base_bytes

    model, _ = load_model(final)
    assert model.lm_head.weight is model.transformer.wte.weight
    optimizer = torch.load(final / "training_state.pth", weights_only=True)["optimizer"]
    assert len(optimizer["state"]) == len(list(model.parameters())) == len(saved) - 1  # one state for the tied pair

    # resuming from step 4 reloads it tied (an untied model would not take the saved optimizer state) and ends equal
    resumed = tmp_path / "resumed"
    main(command("full", lit_tied_base, ft_data, resumed, ["--resume", str(out / "step-000004")]))
    again = load_state_dict(resumed / "final" / "lit_model.pth")
    assert again.keys() == saved.keys() and all(torch.equal(again[key], saved[key]) for key in saved)

    convert_lit_checkpoint(final, tmp_path / "hf")
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["tie_word_embeddings"] is True
    original_bytes = (lit_tied_base / "model.safetensors").stat().st_size
    assert abs((tmp_path / "hf" / "model.safetensors").stat().st_size - original_bytes) < 0.01 * original_bytes
    exported = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf", dtype=torch.float32).eval()
    assert exported.lm_head.weight is exported.model.embed_tokens.weight
    with torch.no_grad():
        assert (exported(TOKENS).logits - model(TOKENS)).abs().max() <= 1e-5


@pytest.mark.slow
def test_fsdp_trains_the_tied_pair_as_one_tensor(tmp_path, lit_tied_base, ft_data):
    """FSDP materialises a meta-device model module by module; the pair must stay one Parameter through it, or the
    two copies train apart (and differ from a one-process run by ~2e-2 after 6 steps)."""
    fsdp, single = tmp_path / "fsdp", tmp_path / "single"
    _train("full", lit_tied_base, ft_data, fsdp, "--devices", "2", "--strategy", "fsdp")
    _train("full", lit_tied_base, ft_data, single, "--devices", "1", "--train.save_interval", "null")
    gathered, expected = weights(fsdp / "final"), weights(single / "final")
    assert written_once(gathered) and written_once(expected)
    for key in expected:
        torch.testing.assert_close(gathered[key], expected[key], rtol=0, atol=1e-4, msg=key)
