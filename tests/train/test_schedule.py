"""Learning-rate schedules, weight-decay groups, argument validation and checkpoint bookkeeping."""

from __future__ import annotations

import math

import pytest

from litft.common.errors import LitftError
from litft.common.outputs import record_own_files
from litft.train.args import EvalArgs, OptimizerArgs, TrainArgs, validate_args
from litft.train.schedule import learning_rate, parameter_groups, warmup_warning
from litft.train.state import find_resume_dir, prune_checkpoints
from tests.support.training import command, read_rows


def test_warmup_then_cosine_linear_constant():
    kw = dict(lr=1.0, warmup_steps=4, total_steps=14, min_lr=0.1)
    assert [learning_rate(s, schedule="cosine", **kw) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert learning_rate(4, schedule="cosine", **kw) == 1.0
    assert learning_rate(9, schedule="cosine", **kw) == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi * 0.5)))
    assert learning_rate(14, schedule="cosine", **kw) == pytest.approx(0.1)
    assert learning_rate(99, schedule="cosine", **kw) == pytest.approx(0.1)
    assert learning_rate(9, schedule="linear", **kw) == pytest.approx(0.55)
    assert learning_rate(13, schedule="constant", **kw) == 1.0
    assert learning_rate(5, schedule="cosine", lr=1.0, warmup_steps=0, total_steps=None) == 1.0


def test_warmup_longer_than_the_run_is_named_with_its_fix():
    # The case of the issue: 91 records gave 5 steps, so 100 warmup steps left the rate at 5/100 of 3e-4.
    assert warmup_warning(100, 5, 3e-4) == (
        "warning: --train.lr_warmup_steps 100 is longer than this run's 5 optimizer steps, "
        "so the learning rate peaks at 1.5e-05 instead of --optimizer.lr 0.0003; "
        "pass --train.lr_warmup_steps 0 (any value up to 5) or "
        "--train.lr_warmup_fraction 0.1."
    )
    assert warmup_warning(5, 5, 3e-4) is None  # the last step reaches the full rate
    assert warmup_warning(100, None, 3e-4) is None  # unknown length: nothing to compare with


def test_tiny_run_warns_once_when_warmup_exceeds_its_steps(lit_base, ft_data, tmp_path, capsys):
    from litft.cli import main

    out = tmp_path / "out"
    main(command("lora", lit_base, ft_data, out, ["--train.lr_warmup_steps", "100", "--train.save_interval", "null"]))
    warnings = [line for line in capsys.readouterr().err.splitlines() if "--train.lr_warmup_steps" in line]
    assert warnings == [
        (
            "warning: --train.lr_warmup_steps 100 is longer than this run's 6 optimizer steps, "
            "so the learning rate peaks at 6e-05 instead of --optimizer.lr 0.001; "
            "pass --train.lr_warmup_steps 0 (any value up to 6) or "
            "--train.lr_warmup_fraction 0.1."
        )
    ]
    rates = [float(row["lr"]) for row in read_rows(out) if row["lr"]]
    assert rates == pytest.approx([1e-3 * step / 100 for step in range(1, 7)])


def test_no_weight_decay_on_biases_norms_and_gates():
    from litft.models.build import AdapterV2Settings, build_model, resolve_config

    model = build_model("adapter_v2", resolve_config("litft-tiny-pythia"), settings=AdapterV2Settings(start_layer=1))
    groups = {group["weight_decay"]: group["params"] for group in parameter_groups(model.named_parameters(), 0.1)}
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in groups[0.1]}
    kept = {names[id(p)] for p in groups[0.0]}
    assert len(decayed) + len(kept) == sum(p.requires_grad for p in model.parameters())
    assert all(p.ndim >= 2 for n, p in model.named_parameters() if n in decayed)
    assert any("gating_factor" in n for n in kept) and any(n.endswith("adapter_bias") for n in kept)
    assert not any("gating_factor" in n or n.endswith("bias") for n in decayed)
    assert "transformer.h.1.attn.adapter_wte.weight" in decayed


@pytest.mark.parametrize(
    "train, message",
    [
        (TrainArgs(global_batch_size=10, micro_batch_size=4, max_steps=1), "not a multiple"),
        (TrainArgs(max_steps=None, epochs=None, max_tokens=None), "no training length"),
        (TrainArgs(max_steps=1, max_norm=0.0), "max_norm"),
        (TrainArgs(max_steps=1, min_lr=1.0), "min_lr"),
    ],
)
def test_validation_messages(train, message):
    with pytest.raises(LitftError, match=message):
        validate_args(train, EvalArgs(), OptimizerArgs(), world_size=1)


def test_accumulation_iters():
    assert TrainArgs(global_batch_size=16, micro_batch_size=2).gradient_accumulation_iters(2) == 4


def test_resume_auto_and_pruning(tmp_path):
    assert find_resume_dir("auto", tmp_path) is None
    for step in (2, 4, 6):
        (tmp_path / f"step-{step:06d}").mkdir()
        (tmp_path / f"step-{step:06d}" / "progress.json").write_text(f'{{"step": {step}}}')
        record_own_files(tmp_path / f"step-{step:06d}", ["progress.json"], "checkpoint")  # as a save marks it
    (tmp_path / ".step-000008.partial").mkdir()  # a killed save: never picked
    with pytest.raises(LitftError, match="step-000006 is damaged"):  # the newest is picked, and checked
        find_resume_dir("auto", tmp_path)
    assert [p.name for p in prune_checkpoints(tmp_path, 2)] == ["step-000002"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".step-000008.partial", "step-000004", "step-000006"]
    with pytest.raises(LitftError, match="not a training checkpoint"):
        find_resume_dir(tmp_path / "nowhere", tmp_path)
