"""`litft convert lit_to_peft`: the adapter peft loads on the base's HF export gives litft's LoRA logits."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from litft.common.errors import LitftError
from litft.models.build import LoRASettings, build_model
from litft.models.checkpoint import inspect_checkpoint, load_model, save_checkpoint
from litft.models.convert import convert_hf_checkpoint, convert_lit_checkpoint
from litft.models.peft_export import convert_lit_to_peft

IDS = torch.tensor([[5, 17, 42, 99, 3, 250, 7, 61, 128, 33]])


def lora_run(base, root, settings: LoRASettings):
    """A LoRA run on `base` whose A and B are random (B is zero after init; a real delta tests the layout)."""
    info = inspect_checkpoint(base)
    base_model, _ = load_model(base)
    model = build_model("lora", info.config, settings=settings)
    model.load_state_dict(base_model.state_dict(), strict=False)
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.2)
    return save_checkpoint(
        root / "run",
        method="lora",
        state_dict=model.state_dict(),
        config=info.config,
        source_dir=base,
        base_checkpoint_dir=base,
        settings=settings,
    )


@pytest.mark.parametrize("family", ["llama", "gpt_neox"])
def test_peft_adapter_on_the_hf_export_gives_litft_lora_logits(family, hf_models, tmp_path):
    import peft
    import transformers

    base = tmp_path / hf_models[family].name
    shutil.copytree(hf_models[family], base)
    convert_hf_checkpoint(base)
    settings = LoRASettings(
        r=4, alpha=8, dropout=0.0, query=True, key=False, value=True, projection=True, mlp=True, head=True
    )
    run = lora_run(base, tmp_path, settings)
    convert_lit_checkpoint(base, tmp_path / "hf")
    convert_lit_to_peft(run, tmp_path / "adapter")
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    fused = family == "gpt_neox"
    assert config["r"] == (8 if fused else 4) and config["lora_alpha"] / config["r"] == 2
    assert "k_proj" not in config["target_modules"]

    lit_model, _ = load_model(run)
    with torch.no_grad():
        expected = lit_model(IDS)
        hf_model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf", dtype=torch.float32).eval()
        plain = hf_model(IDS).logits
        adapted = peft.PeftModel.from_pretrained(hf_model, tmp_path / "adapter").eval()
        got = adapted(IDS).logits
    assert (plain - expected).abs().max() > 1e-2, "the LoRA delta must change the logits"
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_a_checkpoint_that_is_not_a_lora_run_is_refused(lit_base, tmp_path):
    with pytest.raises(LitftError, match="not a LoRA run"):
        convert_lit_to_peft(lit_base, tmp_path / "adapter")
    assert not (tmp_path / "adapter").exists()


def test_the_light_entry_point_matches_the_implementation():
    import inspect

    from litft import commands
    from litft.models import peft_export

    entry, implementation = commands.convert_lit_to_peft, peft_export.convert_lit_to_peft
    assert inspect.signature(entry).parameters == inspect.signature(implementation).parameters
    assert inspect.getdoc(entry) == inspect.getdoc(implementation)
