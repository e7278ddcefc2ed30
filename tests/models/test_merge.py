"""LoRA merge and adapter-v2 reload: the saved runs rebuild exactly the model that was trained."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import transformers
import yaml

from litft.models.build import (
    AdapterV2Settings,
    LoRASettings,
    build_model,
    load_weights,
)
from litft.models.checkpoint import (
    inspect_checkpoint,
    load_model,
    load_state_dict,
    save_checkpoint,
)
from litft.models.convert import convert_lit_checkpoint
from litft.models.merge import merge_lora

TOKENS = torch.randint(0, 384, (2, 19), generator=torch.Generator().manual_seed(3))


def trained_run(method, base_dir, out_dir, **settings):
    """A model of `method` on the base weights with its trainable parameters moved off their init, saved as a run."""
    info = inspect_checkpoint(base_dir)
    model = build_model(method, info.config, **settings)
    load_weights(model, method, load_state_dict(info.weights_path))
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for parameter in (p for p in model.parameters() if p.requires_grad):
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    model.eval()
    run = save_checkpoint(
        out_dir,
        method=method,
        state_dict=model.state_dict(),
        config=info.config,
        source_dir=base_dir,
        base_checkpoint_dir=base_dir,
        **settings,
    )
    with torch.no_grad():
        return run, model(TOKENS)


def logits(directory):
    model, _ = load_model(directory)
    with torch.no_grad():
        return model(TOKENS)


def test_lora_run_keeps_only_lora_weights_and_its_settings(lit_base, tmp_path):
    lora = LoRASettings(r=4, alpha=8, query=True, value=True, mlp=True)
    run, _ = trained_run("lora", lit_base, tmp_path / "run", settings=lora)
    saved = load_state_dict(run / "lit_model.pth.lora")
    assert saved and all("lora_" in key for key in saved)
    assert not (run / "lit_model.pth").exists()
    hparams = yaml.safe_load((run / "hyperparameters.yaml").read_text())
    assert (
        hparams["lora_r"] == 4 and hparams["lora_mlp"] is True and hparams["checkpoint_dir"] == str(lit_base.resolve())
    )
    assert inspect_checkpoint(run).settings == lora  # nobody repeats --lora_r to load it


def test_merged_lora_equals_base_plus_lora(lit_base, tmp_path):
    run, expected = trained_run(
        "lora", lit_base, tmp_path / "run", settings=LoRASettings(r=4, alpha=8, mlp=True, head=True)
    )
    assert torch.allclose(logits(run), expected, atol=1e-5)  # unmerged reload

    merge_lora(run, out_dir=tmp_path / "merged")
    assert inspect_checkpoint(tmp_path / "merged").method == "full"
    assert torch.allclose(logits(tmp_path / "merged"), expected, atol=1e-5)
    assert not any("lora" in key for key in load_state_dict(tmp_path / "merged" / "lit_model.pth"))


def test_litgpt_merges_a_litft_lora_run_to_the_same_weights(lit_base, tmp_path):
    from litgpt.scripts.merge_lora import merge_lora as litgpt_merge_lora

    run, expected = trained_run("lora", lit_base, tmp_path / "run", settings=LoRASettings(r=4, alpha=8))
    theirs_dir = tmp_path / "theirs"
    shutil.copytree(run, theirs_dir)
    litgpt_merge_lora(theirs_dir, precision="32-true")
    merge_lora(run)  # in place, as litgpt does
    ours, theirs = load_state_dict(run / "lit_model.pth"), load_state_dict(theirs_dir / "lit_model.pth")
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert torch.allclose(ours[key], theirs[key], atol=1e-6), key
    assert torch.allclose(logits(run), expected, atol=1e-5)


def test_lora_run_exports_to_transformers_merged(lit_base, tmp_path):
    run, expected = trained_run("lora", lit_base, tmp_path / "run", settings=LoRASettings(r=4, alpha=8))
    convert_lit_checkpoint(run, tmp_path / "hf")
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    with torch.no_grad():
        assert torch.allclose(hf(TOKENS).logits, expected, atol=1e-4)


def test_adapter_v2_run_reloads_to_identical_output(lit_base, tmp_path):
    run, expected = trained_run(
        "adapter_v2", lit_base, tmp_path / "run", settings=AdapterV2Settings(prompt_length=4, start_layer=1)
    )
    saved = load_state_dict(run / "lit_model.pth.adapter_v2")
    assert any("adapter_wte" in key for key in saved) and not any(
        key.endswith("attn.qkv.linear.weight") for key in saved
    )
    assert inspect_checkpoint(run).settings == AdapterV2Settings(prompt_length=4, start_layer=1)
    assert torch.equal(logits(run), expected)


def test_adapter_v2_exports_are_refused_with_advice_that_works(lit_base, tmp_path):
    """lit_to_peft once sent adapter-v2 runs to lit_to_hf, which refuses them too."""
    from litft.common.errors import LitftError
    from litft.models.peft_export import convert_lit_to_peft

    run, _ = trained_run("adapter_v2", lit_base, tmp_path / "run", settings=AdapterV2Settings(prompt_length=4))
    with pytest.raises(LitftError, match="adapter-v2 weights have no PEFT or Hugging Face form") as peft_error:
        convert_lit_to_peft(run, tmp_path / "peft")
    assert "lit_to_hf" not in str(peft_error.value)
    with pytest.raises(LitftError, match="adapter_v2 weights have no Hugging Face equivalent"):
        convert_lit_checkpoint(run, tmp_path / "hf")
    assert not (tmp_path / "peft").exists() and not (tmp_path / "hf").exists()


def test_base_moved_is_found_with_base_dir(lit_base, tmp_path):
    moved = tmp_path / "moved-base"
    shutil.copytree(lit_base, moved)
    run, expected = trained_run("lora", moved, tmp_path / "run", settings=LoRASettings(r=2))
    shutil.move(moved, tmp_path / "elsewhere")
    model, _ = load_model(run, base_dir=tmp_path / "elsewhere")
    with torch.no_grad():
        assert torch.allclose(model(TOKENS), expected, atol=1e-6)


def test_a_run_directory_stands_for_its_final_checkpoint(lit_base, tmp_path):
    _, expected = trained_run("lora", lit_base, tmp_path / "out" / "lora" / "final", settings=LoRASettings(r=2))
    info = inspect_checkpoint(tmp_path / "out" / "lora")
    assert info.path == tmp_path / "out" / "lora" / "final" and info.method == "lora"
    assert torch.allclose(logits(tmp_path / "out" / "lora"), expected, atol=1e-6)


def test_changing_loaded_weights_never_writes_the_checkpoint_file(lit_base, tmp_path):
    """load_model hands out the memory-mapped tensors themselves (one copy in RAM); they are copy-on-write."""
    base = tmp_path / "base"
    shutil.copytree(lit_base, base)
    before = (base / "lit_model.pth").read_bytes()
    run, expected = trained_run("lora", base, tmp_path / "run", settings=LoRASettings(r=2))
    merge_lora(run)  # merges LoRA into the loaded base weights in place
    model, _ = load_model(base)
    with torch.no_grad():
        model.lm_head.weight.mul_(2.0)
    del model
    assert (base / "lit_model.pth").read_bytes() == before
    assert torch.allclose(logits(run), expected, atol=1e-5)


def test_loaded_weights_are_the_memory_mapped_file(lit_base):
    model, _ = load_model(lit_base)
    pointer = model.lm_head.weight.data_ptr()
    maps = Path("/proc/self/maps").read_text().splitlines()
    file_ranges = [
        line.split()[0].split("-") for line in maps if line.endswith(str(lit_base.resolve() / "lit_model.pth"))
    ]
    assert any(int(start, 16) <= pointer < int(end, 16) for start, end in file_ranges)


def test_outputs_never_replace_what_litft_did_not_write(lit_base, tmp_path, capsys):
    """merge_lora / lit_to_hf into a project folder, into the run itself, or onto a file: refused, nothing lost."""
    from litft.cli import main

    project = tmp_path / "proj"
    run, _ = trained_run("lora", lit_base, project / "lora", settings=LoRASettings(r=4, alpha=8))
    (project / "split").mkdir()
    (project / "split" / "train.json").write_text("[]")
    (tmp_path / "report.txt").write_text("mine")
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "README.md").write_text("my export notes")
    before = sorted(str(p) for p in tmp_path.rglob("*"))

    def refused(*args: str) -> str:
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
        assert exit_info.value.code == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and error.startswith("error: ")
        return error

    assert "holds the input" in refused("merge_lora", "--checkpoint_dir", str(run), "--out_dir", str(project))
    assert "is the input" in refused("convert", "lit_to_hf", "--checkpoint_dir", str(run), "--output_dir", str(run))
    assert "is the input" in refused(
        "convert", "lit_to_hf", "--checkpoint_dir", str(run), "--output_dir", str(lit_base)
    )
    assert "is a file" in refused(
        "convert", "lit_to_hf", "--checkpoint_dir", str(run), "--output_dir", str(tmp_path / "report.txt")
    )
    assert "did not write" in refused(
        "convert", "lit_to_hf", "--checkpoint_dir", str(run), "--output_dir", str(tmp_path / "exports")
    )
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before

    main(
        [
            "convert",
            "lit_to_hf",
            "--checkpoint_dir",
            str(run),
            "--output_dir",
            str(tmp_path / "exports"),
            "--overwrite",
            "true",
        ]
    )
    assert (tmp_path / "exports" / "README.md").read_text() == "my export notes"
    assert (tmp_path / "exports" / "config.json").is_file()
    main(
        ["convert", "lit_to_hf", "--checkpoint_dir", str(run), "--output_dir", str(tmp_path / "exports")]
    )  # its own: rewritten
    assert (tmp_path / "exports" / "README.md").read_text() == "my export notes"


def test_hf_to_lit_keeps_a_lit_model_it_did_not_write(hf_copy, capsys):
    from litft.cli import main

    directory = hf_copy("llama")
    (directory / "lit_model.pth").write_bytes(b"someone else's conversion")
    with pytest.raises(SystemExit):
        main(["convert", "hf_to_lit", "--checkpoint_dir", str(directory)])
    assert "litft did not write" in capsys.readouterr().err
    assert (directory / "lit_model.pth").read_bytes() == b"someone else's conversion"
    main(["convert", "hf_to_lit", "--checkpoint_dir", str(directory), "--overwrite", "true"])
    main(["convert", "hf_to_lit", "--checkpoint_dir", str(directory)])  # now its own: converted again
    assert inspect_checkpoint(directory).method == "full"
