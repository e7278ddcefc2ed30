"""The `litft` command: subcommand listing, config printing, user errors as one line with exit 2, download."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub.errors import GatedRepoError

from litft.cli import COMMANDS, _rewrite_args, main
from litft.common.settings import SamplingSettings
from litft.models import download as download_module
from litft.models.build import LoRASettings
from litft.models.checkpoint import inspect_checkpoint


def litft(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "litft.cli", *map(str, args)], capture_output=True, text=True, timeout=120
    )


def assert_user_error(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("error: ") and fragment in lines[0]


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    listed = capsys.readouterr().out
    for name, entry in COMMANDS.items():
        assert name in listed
        if isinstance(entry, dict):
            assert all(sub in listed for sub in entry if sub)


def test_every_registered_function_exists():
    from litft.cli import _load

    targets = [entry[0] for entry in COMMANDS.values() if isinstance(entry, tuple)]
    targets += [sub[0] for entry in COMMANDS.values() if isinstance(entry, dict) for sub in entry.values()]
    for target in targets:
        assert callable(_load(target)), target


def test_print_config_and_config_file(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["convert", "lit_to_hf", "--checkpoint_dir", "ckpt", "--output_dir", "out", "--print_config"])
    printed = capsys.readouterr().out
    assert "checkpoint_dir: ckpt" in printed and "max_shard_size: 5GB" in printed
    (tmp_path / "c.yaml").write_text(printed)
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", "lit_to_hf", "--config", str(tmp_path / "c.yaml")])
    assert exit_info.value.code == 2
    assert "--checkpoint_dir ckpt does not exist" in capsys.readouterr().err


def test_bad_checkpoint_dir():
    assert_user_error(
        litft("convert", "lit_to_hf", "--checkpoint_dir", "/no/such/dir", "--output_dir", "/tmp/x"), "does not exist"
    )


def test_unknown_config_name(hf_copy):
    directory = hf_copy("llama")
    assert_user_error(
        litft("convert", "hf_to_lit", "--checkpoint_dir", directory, "--model_name", "Llama-9-bogus"),
        "unknown model config",
    )
    assert not (directory / "lit_model.pth").exists()


def test_corrupt_weights_leave_nothing_half_written(lit_base, tmp_path):
    checkpoint = tmp_path / "ckpt"
    shutil.copytree(lit_base, checkpoint)
    (checkpoint / "lit_model.pth").write_bytes(b"not a checkpoint at all")
    assert_user_error(litft("convert", "lit_to_hf", checkpoint, tmp_path / "out"), "not a readable checkpoint")
    assert not (tmp_path / "out").exists()
    assert_user_error(litft("merge_lora", "--checkpoint_dir", lit_base), "not a LoRA run")


def test_scripts_accept_the_same_arguments(lit_base, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "scripts/convert_lit_checkpoint.py",
            "--checkpoint_dir",
            lit_base,
            "--output_dir",
            tmp_path / "hf",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "hf" / "config.json").is_file()


def fake_hub(source, files_seen):
    def list_repo_files(repo_id, token=None):
        return [p.name for p in source.iterdir()] + ["pytorch_model.bin", "original/consolidated.00.pth"]

    def snapshot_download(repo_id, local_dir, allow_patterns, token=None):
        files_seen["token"] = token
        local_dir.mkdir(parents=True, exist_ok=True)
        for path in source.iterdir():
            if any(fnmatch.fnmatch(path.name, pattern) for pattern in allow_patterns):
                shutil.copy2(path, local_dir / path.name)
                files_seen.setdefault("files", []).append(path.name)
        return str(local_dir)

    return list_repo_files, snapshot_download


def test_download_takes_safetensors_and_tokenizer_then_converts(hf_models, tmp_path, monkeypatch):
    seen: dict = {}
    listing, snapshot = fake_hub(hf_models["qwen2"], seen)
    monkeypatch.setattr(download_module, "list_repo_files", listing)
    monkeypatch.setattr(download_module, "snapshot_download", snapshot)
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    local = download_module.download("acme/custom-qwen", checkpoint_dir=tmp_path)
    assert local == tmp_path / "acme" / "custom-qwen"
    assert sorted(seen["files"]) == [
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    assert seen["token"] == "hf_secret"
    assert inspect_checkpoint(local).config.attn_bias  # derived as Qwen2 from config.json


def test_gated_repo_without_token_says_to_set_hf_token(monkeypatch, capsys):
    def gated(repo_id, token=None):
        raise GatedRepoError("401 gated")

    monkeypatch.setattr(download_module, "list_repo_files", gated)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["download", "meta-llama/Llama-2-7b-hf"])
    assert exit_info.value.code == 2
    assert "set HF_TOKEN" in capsys.readouterr().err


def test_shell_forms_jsonargparse_alone_does_not_take():
    def command(data: list[Path], out: Path, lora: LoRASettings = LoRASettings(), quiet: bool = False) -> None:
        """A command with a list, a required path, a dataclass group and a flag."""

    assert _rewrite_args(command, ["a.txt", "b.txt", "--out", "o", "--quiet"]) == [
        "--data",
        "[]",
        "--data+",
        "a.txt",
        "--data+",
        "b.txt",
        "--out",
        "o",
        "--quiet",
        "true",
    ]
    assert _rewrite_args(command, ["--data", "a.txt", "b.txt", "--lora.mlp", "--lora.r", "4", "--out", "o"]) == [
        "--data",
        "[]",
        "--data+",
        "a.txt",
        "--data+",
        "b.txt",
        "--lora.mlp",
        "true",
        "--lora.r",
        "4",
        "--out",
        "o",
    ]
    assert _rewrite_args(command, ["--data", "[a,b]", "--quiet", "false"]) == ["--data", "[a,b]", "--quiet", "false"]


def test_a_list_field_of_a_group_takes_several_values_after_its_flag():
    def command(sampling: SamplingSettings = SamplingSettings()) -> None:
        """A command with the sampling group."""

    assert _rewrite_args(command, ["--sampling.stop", "###", "\\n", "--sampling.top_k", "3"]) == [
        "--sampling.stop",
        "[]",
        "--sampling.stop+",
        "###",
        "--sampling.stop+",
        "\\n",
        "--sampling.top_k",
        "3",
    ]


def test_the_llm_judge_and_sampling_groups_take_flags_or_json_and_print_as_groups(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["synthesize", "chunks.jsonl", "qa.jsonl", "--llm.model", "m", "--llm.workers", "2", "--print_config"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert "llm:\n  model: m\n" in printed and "  workers: 2\n" in printed
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "evaluate",
                "t.json",
                "run",
                "--judge",
                '{"model": "g"}',
                "--sampling.max_new_tokens",
                "5",
                "--print_config",
            ]
        )
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert "judge:\n  model: g\n" in printed and "  temperature: 0.0\n  max_response_tokens: 200\n" in printed
    assert "sampling:\n  max_new_tokens: 5\n  temperature: 0.0\n" in printed


def run_and_capture(function, args, capsys):
    from litft.cli import run_function

    run_function(function, args, prog="t")
    return capsys.readouterr().out.strip()


def test_positionals_skip_flagged_parameters_and_may_follow_options(capsys):
    def command(checkpoint_dir: str, data_dir: str, lr: float = 1.0) -> None:
        print(checkpoint_dir, data_dir, lr)

    # A required parameter given as a flag is not also filled by a bare value.
    assert run_and_capture(command, ["D", "--checkpoint_dir", "C"], capsys) == "C D 1.0"
    assert run_and_capture(command, ["--checkpoint_dir=C", "D"], capsys) == "C D 1.0"
    # Bare values may come after options (`--config c.yaml CKPT DATA`); an option's own value is not one.
    assert run_and_capture(command, ["--lr", "0.5", "C", "D"], capsys) == "C D 0.5"
    assert run_and_capture(command, ["C", "D", "--lr", "-0.5"], capsys) == "C D -0.5"


def test_config_file_with_positionals(tmp_path, capsys):
    def command(checkpoint_dir: str, data_dir: str, lr: float = 1.0) -> None:
        print(checkpoint_dir, data_dir, lr)

    (tmp_path / "c.yaml").write_text("lr: 0.25\n")
    assert run_and_capture(command, ["--config", str(tmp_path / "c.yaml"), "C", "D"], capsys) == "C D 0.25"


def test_list_values_negative_inline_and_replacing_a_config_list(tmp_path, capsys):
    def command(ids: list[int] | None = None, stop: list[str] | None = None) -> None:
        print(ids, stop)

    # Negative numbers are values, not options: the flag is not dropped.
    assert run_and_capture(command, ["--ids", "-1", "2"], capsys) == "[-1, 2] None"
    assert run_and_capture(command, ["--ids=-3"], capsys) == "[-3] None"
    # Values on the command line replace the list a --config file gave, as for every other option.
    (tmp_path / "c.yaml").write_text("ids: [7]\nstop: ['###']\n")
    assert run_and_capture(command, ["--config", str(tmp_path / "c.yaml"), "--ids", "1"], capsys) == "[1] ['###']"
