"""Every YAML under configs/ parses against its entry point, passes argument validation and names its launch command."""

from __future__ import annotations

from pathlib import Path

import pytest

from litft.train import entry
from litft.train.args import validate_args

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SCRIPTS = {
    "pretrain": "pretrain/run_pretrain.py",
    "full": "finetune/full.py",
    "lora": "finetune/lora.py",
    "adapter_v2": "finetune/adapter_v2.py",
}
FUNCTIONS = {
    "pretrain": entry.pretrain,
    "full": entry.finetune_full,
    "lora": entry.finetune_lora,
    "adapter_v2": entry.finetune_adapter_v2,
}


def _method(path: Path) -> str:
    parts = path.relative_to(CONFIGS).parts
    if parts[0] in ("demo", "pretrain"):
        return path.stem if parts[0] == "demo" else "pretrain"
    return "lora" if parts[1] == "qlora" else parts[1]  # QLoRA is LoRA on a quantized base


def _parse(path: Path):
    from jsonargparse import ActionConfigFile, ArgumentParser

    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("--config", action=ActionConfigFile)
    parser.add_function_arguments(FUNCTIONS[_method(path)], as_positional=False)
    return parser.instantiate_classes(parser.parse_args(["--config", str(path)]))


YAMLS = sorted(CONFIGS.rglob("*.yaml"))


def test_the_issue_configs_exist():
    names = {str(p.relative_to(CONFIGS)) for p in YAMLS}
    assert {
        "pretrain/llama-2-7b.yaml",
        "finetune/full/llama-2-7b.yaml",
        "finetune/adapter_v2/llama-2-7b.yaml",
        "finetune/lora/llama-3-8b.yaml",
        "demo/pretrain.yaml",
        "demo/lora.yaml",
    } <= names


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_config_parses_and_validates(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith("# ") and SCRIPTS[_method(path)] in first and str(path.relative_to(CONFIGS.parent)) in first
    config = _parse(path)
    devices = int(config.devices) * int(config.num_nodes)
    validate_args(config.train, config.eval, config.optimizer, devices)
    assert config.train.max_steps or config.train.epochs or config.train.max_tokens


def test_recipe_values():
    pre = _parse(CONFIGS / "pretrain/llama-2-7b.yaml")
    assert (pre.model_name, pre.devices, pre.strategy, pre.precision) == ("Llama-2-7b-hf", 8, "fsdp", "bf16-true")
    assert (pre.optimizer.lr, pre.optimizer.weight_decay, pre.optimizer.beta1, pre.optimizer.beta2) == (
        6e-4,
        0.1,
        0.9,
        0.95,
    )
    assert (pre.train.max_norm, pre.train.lr_warmup_steps) == (1.0, 2000)
    assert pre.train.global_batch_size // pre.devices == 125
    lora = _parse(CONFIGS / "finetune/lora/llama-3-8b.yaml")
    assert (lora.lora.r, lora.lora.alpha, lora.lora.dropout) == (64, 16, 0.1)
    assert all((lora.lora.query, lora.lora.key, lora.lora.value, lora.lora.projection, lora.lora.mlp, lora.lora.head))
    assert (
        lora.optimizer.lr,
        lora.train.epochs,
        lora.train.max_norm,
        lora.train.lr_warmup_steps,
        lora.train.lr_schedule,
    ) == (2e-4, 3, 0.3, 5, "linear")
    assert lora.train.gradient_accumulation_iters(1) == 4 and lora.train.micro_batch_size == 4
    for name, accumulation in (("full", 64), ("adapter_v2", 128)):
        cfg = _parse(CONFIGS / f"finetune/{name}/llama-2-7b.yaml")
        assert (
            cfg.devices,
            cfg.train.micro_batch_size,
            cfg.optimizer.lr,
            cfg.optimizer.weight_decay,
            cfg.train.epochs,
        ) == (1, 1, 3e-3, 0.02, 5)
        iters = cfg.train.gradient_accumulation_iters(1)
        assert iters == accumulation
        assert cfg.train.lr_warmup_steps == 2 * (1500 // cfg.train.micro_batch_size) // cfg.devices // iters


def test_print_config_works(capsys):
    from litft.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["finetune", "lora", "--config", str(CONFIGS / "demo/lora.yaml"), "--print_config"])
    assert exit_info.value.code == 0
    assert "lora:" in capsys.readouterr().out


@pytest.mark.parametrize("method", FUNCTIONS)
def test_a_missing_data_dir_names_the_methods_prepare_command(method, tmp_path):
    """entry.py repeats each method's data kind (to answer before torch loads); it must agree with the method's."""
    from litft.common.errors import LitftError
    from litft.models.methods import get_method

    with pytest.raises(LitftError, match=f"run `litft prepare {get_method(method).data_kind}` first"):
        FUNCTIONS[method](checkpoint_dir=tmp_path, data_dir=tmp_path / "missing")
