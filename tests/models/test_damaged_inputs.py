"""Damaged or hand-edited files litft reads (checkpoints, HF folders, downloads) are one `error:` line, never a
traceback, and nothing already written is touched."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
import requests
import torch
import yaml

from litft.cli import main
from litft.common.errors import LitftError
from litft.models import download as download_module
from litft.models.checkpoint import inspect_checkpoint, load_state_dict


def cli_error(capsys, *args: str) -> str:
    """Run `litft ARGS`, check it exits 2 with exactly one `error:` line and no traceback, return that line."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    return errors[0]


def tree(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def _lora_run(tmp_path: Path, base: Path, **hparams) -> Path:
    """A LoRA run folder as inspect_checkpoint sees it (the weights are never read before the settings are checked)."""
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(base / "model_config.yaml", run)
    (run / "lit_model.pth.lora").write_bytes(b"")
    (run / "hyperparameters.yaml").write_text(
        yaml.safe_dump({"method": "lora", "checkpoint_dir": str(base), **hparams})
    )
    return run


@pytest.mark.parametrize(
    ("hparams", "expected"),
    [
        ({"lora_r": "eight"}, "sets lora_r to 'eight', but it must be an integer; fix that value."),
        ({"lora_query": "yes"}, "sets lora_query to 'yes', but it must be true or false; fix that value."),
        ({"checkpoint_dir": 3}, "sets checkpoint_dir to 3; it must be the base checkpoint's path."),
        (
            {"method": "magic"},
            "names method 'magic'; it must be one of pretrain, full, lora, adapter_v2, dpo_lora, dpo_full, kto_lora, "
            "kto_full.",
        ),
    ],
)
def test_wrong_types_in_hyperparameters_yaml(hparams, expected, lit_base, tmp_path, capsys):
    run = _lora_run(tmp_path, lit_base, **hparams)
    before = tree(run)
    error = cli_error(capsys, "convert", "lit_to_hf", str(run), str(tmp_path / "hf"))
    assert error == f"error: {run / 'hyperparameters.yaml'} {expected}"
    assert tree(run) == before and not (tmp_path / "hf").exists()


def test_adapter_settings_of_the_wrong_type(lit_base, tmp_path):
    run = _lora_run(tmp_path, lit_base, method="adapter_v2", adapter_prompt_length="ten")
    (run / "lit_model.pth.lora").rename(run / "lit_model.pth.adapter_v2")
    with pytest.raises(LitftError, match="sets adapter_prompt_length to 'ten', but it must be an integer"):
        inspect_checkpoint(run)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("n_embd", "big", "sets n_embd to 'big', but it must be an integer"),
        ("n_layer", "2", "sets n_layer to '2', but it must be an integer"),
        (
            "norm_class_name",
            "BatchNorm",
            "sets norm_class_name to 'BatchNorm', but it must be one of LayerNorm, RMSNorm",
        ),
        ("n_head", 0, "sets n_head to 0; it must be a positive integer"),
    ],
)
def test_wrong_types_in_model_config_yaml(field, value, expected, lit_base, tmp_path, capsys):
    checkpoint = tmp_path / "ckpt"
    shutil.copytree(lit_base, checkpoint)
    config = yaml.safe_load((checkpoint / "model_config.yaml").read_text())
    (checkpoint / "model_config.yaml").write_text(yaml.safe_dump({**config, field: value}))
    error = cli_error(capsys, "convert", "lit_to_hf", str(checkpoint), str(tmp_path / "hf"))
    assert error.startswith(f"error: {checkpoint / 'model_config.yaml'} {expected}")
    assert not (tmp_path / "hf").exists()


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("num_hidden_layers", "2", "sets num_hidden_layers to '2', but it must be an integer"),
        ("rms_norm_eps", "tiny", "sets rms_norm_eps to 'tiny', but it must be a number"),
        ("num_key_value_heads", [2], "sets num_key_value_heads to [2], but it must be an integer or null"),
    ],
)
def test_wrong_types_in_hf_config_json(key, value, expected, hf_copy, capsys):
    directory = hf_copy("llama")
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, key: value}))
    before = tree(directory)
    error = cli_error(capsys, "convert", "hf_to_lit", str(directory))
    assert error.startswith(f"error: {directory / 'config.json'} {expected}")
    assert tree(directory) == before  # no lit_model.pth, no model_config.yaml


def test_a_config_json_that_is_not_an_object(hf_copy, capsys):
    directory = hf_copy("llama")
    (directory / "config.json").write_text("[]")
    assert cli_error(capsys, "convert", "hf_to_lit", str(directory)) == (
        f"error: {directory / 'config.json'} must hold a JSON object of model settings; re-download it."
    )


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_a_truncated_or_empty_safetensors_file_in_hf_to_lit(damage, hf_copy, capsys):
    directory = hf_copy("llama")
    weights = directory / "model.safetensors"
    weights.write_bytes(b"" if damage == "empty" else weights.read_bytes()[: weights.stat().st_size // 2])
    before = tree(directory)
    error = cli_error(capsys, "convert", "hf_to_lit", str(directory))
    assert error.startswith(f"error: {weights} is empty, truncated or not a safetensors file (")
    assert error.endswith("); download it again.")
    assert tree(directory) == before


@pytest.mark.parametrize("name", ["lit_model.pth", "model.safetensors"])
def test_load_state_dict_refuses_truncated_and_empty_weights(name, hf_models, lit_base, tmp_path):
    source = (lit_base if name == "lit_model.pth" else hf_models["llama"]) / name
    weights = tmp_path / name
    weights.write_bytes(b"")
    with pytest.raises(LitftError, match=r"is empty \(an interrupted copy or download\); re-create or re-download it."):
        load_state_dict(weights)
    weights.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    with pytest.raises(
        LitftError, match=r"is not a readable checkpoint, truncated or damaged \(.+\); re-create or re-download it."
    ):
        load_state_dict(weights)


def test_load_state_dict_never_unpickles_objects(tmp_path):
    weights = tmp_path / "lit_model.pth"
    torch.save({"transformer.wte.weight": torch.zeros(2), "hook": Path("/")}, weights)
    with pytest.raises(LitftError, match="holds Python objects besides tensors, which litft never unpickles"):
        load_state_dict(weights)
    torch.save({"transformer.wte.weight": torch.zeros(2), "step": 3}, weights)
    with pytest.raises(LitftError, match="does not hold a state dict of tensors"):
        load_state_dict(weights)


def test_a_bad_max_shard_size_is_refused_before_any_work(lit_base, tmp_path, capsys):
    expected = "error: --max_shard_size must be a size like 5GB or 500MB, not 'banana'."
    assert (
        cli_error(capsys, "convert", "lit_to_hf", str(lit_base), str(tmp_path / "hf"), "--max_shard_size", "banana")
        == expected
    )
    # Before any work: even before the checkpoint is looked at.
    assert (
        cli_error(
            capsys,
            "convert",
            "lit_to_hf",
            str(tmp_path / "missing"),
            str(tmp_path / "hf"),
            "--max_shard_size",
            "banana",
        )
        == expected
    )
    assert not (tmp_path / "hf").exists()


@pytest.mark.parametrize("index_name", ["model.safetensors.index.json", "pytorch_model.bin.index.json"])
@pytest.mark.parametrize("target", ["../../../etc/passwd", "/etc/passwd", "sub/../../outside.safetensors"])
def test_an_index_pointing_outside_the_checkpoint_is_refused(index_name, target, hf_copy, capsys):
    directory = hf_copy("llama")
    index = {"metadata": {}, "weight_map": {"model.embed_tokens.weight": "model.safetensors", "lm_head.weight": target}}
    (directory / index_name).write_text(json.dumps(index))
    before = tree(directory)
    error = cli_error(capsys, "convert", "hf_to_lit", str(directory))
    assert error == (
        f"error: {directory / index_name} points at {target!r}, outside {directory}; refusing it, "
        "re-download the index from the model's repository."
    )
    assert tree(directory) == before


def test_an_index_naming_a_shard_through_a_linked_folder_is_refused(hf_copy, tmp_path, capsys):
    directory = hf_copy("llama")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "model.safetensors").write_bytes((directory / "model.safetensors").read_bytes())
    os.symlink(tmp_path / "elsewhere", directory / "linked")
    target = "linked/model.safetensors"
    index = {"metadata": {}, "weight_map": {"model.embed_tokens.weight": target, "lm_head.weight": target}}
    (directory / "model.safetensors.index.json").write_text(json.dumps(index))
    error = cli_error(capsys, "convert", "hf_to_lit", str(directory))
    assert error == (
        f"error: {directory / 'model.safetensors.index.json'} points at {target!r}, outside {directory}; "
        "refusing it, re-download the index from the model's repository."
    )


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        ({"weight_map": ["model.safetensors"]}, 'has no "weight_map"'),
        ({"weight_map": {"a": "gone.safetensors"}}, "lists shard gone.safetensors"),
    ],
)
def test_a_malformed_index_is_refused(index, expected, hf_copy, capsys):
    directory = hf_copy("llama")
    (directory / "model.safetensors.index.json").write_text(json.dumps(index))
    assert expected in cli_error(capsys, "convert", "hf_to_lit", str(directory))


@pytest.mark.parametrize("repo_id", ["../../x", "not a repo!!", "a/..", "a/b/c"])
def test_download_refuses_an_invalid_repo_id_before_any_request(repo_id, tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("no request may be made for an invalid repo id")

    monkeypatch.setattr(download_module, "list_repo_files", no_network)
    monkeypatch.setattr(download_module, "snapshot_download", no_network)
    with pytest.raises(LitftError) as error:
        download_module.download(repo_id, checkpoint_dir=tmp_path / "checkpoints")
    message = str(error.value)
    assert message.startswith(f"{repo_id!r} is not a Hugging Face repository id: repo id must ")
    assert message.endswith("; give one like meta-llama/Llama-2-7b-hf.") and message.count(". ") == 0
    assert not (tmp_path / "checkpoints").exists()


def test_download_without_a_connection_is_one_line(tmp_path, monkeypatch, capsys):
    def offline(repo_id, token=None):
        raise requests.ConnectionError("Failed to resolve 'huggingface.co'")

    monkeypatch.setattr(download_module, "list_repo_files", offline)
    error = cli_error(capsys, "download", "acme/tiny-model", "--checkpoint_dir", str(tmp_path / "checkpoints"))
    assert (
        error
        == "error: could not download acme/tiny-model from the Hugging Face Hub (ConnectionError); check the network."
    )
    assert not (tmp_path / "checkpoints").exists()


def test_a_model_config_that_does_not_fit_the_weights(lit_base, tmp_path, capsys):
    from litft.models.checkpoint import load_model

    checkpoint = tmp_path / "ckpt"
    shutil.copytree(lit_base, checkpoint)
    config = yaml.safe_load((checkpoint / "model_config.yaml").read_text())
    (checkpoint / "model_config.yaml").write_text(
        yaml.safe_dump({**config, "intermediate_size": config["intermediate_size"] + 8})
    )
    error = cli_error(capsys, "convert", "lit_to_hf", str(checkpoint), str(tmp_path / "hf"))
    assert re.fullmatch(
        rf"error: transformer\.h\.\d\.mlp\.\w+\.weight in {re.escape(str(checkpoint))} "
        r"has shape \((176, 64|64, 176)\) but its model_config.yaml builds \((184, 64|64, 184)\); "
        r"check that model_config.yaml belongs to these weights.",
        error,
    ), error
    assert not (tmp_path / "hf").exists()
    with pytest.raises(
        LitftError, match=r"do not fit the full model built from its config \(size mismatch for transformer.h.0.mlp"
    ):
        load_model(checkpoint)
