"""The one loop, per method: pinned losses, accumulation equivalence, exact resume after SIGKILL, NaN stop."""

from __future__ import annotations

import math

import pytest
import torch

from litft.cli import main
from litft.common.errors import LitftError
from tests.support.training import (
    command,
    read_rows,
    run_killed,
    train_losses,
    val_losses,
    weights,
)

METHODS = ("pretrain", "full", "lora", "adapter_v2")

# Six steps of each method on the session's tiny Llama (fp32, CPU, seed fixed by the entry defaults).
PINNED = {
    "pretrain": [5.9927873611, 5.9214315414, 5.8438568115, 5.7599892616, 5.7234201431, 5.6634702682],
    # The three fine-tuning methods start from the same model: LoRA's B and adapter-v2's gates are zero.
    "full": [5.9316110050, 5.8910559613, 5.8247758251, 5.7099803883, 5.6406428410, 5.5824588924],
    "lora": [5.9316110050, 5.9479375425, 5.9383425955, 5.9709258027, 5.9348341722, 5.9212277895],
    "adapter_v2": [5.9316110050, 5.9285984205, 5.9040785967, 5.8878448822, 5.8535926232, 5.8331080845],
}


@pytest.mark.parametrize("method", METHODS)
def test_pinned_losses_and_outputs(method, uninterrupted):
    out = uninterrupted(method)
    losses = train_losses(out)
    assert losses == pytest.approx(PINNED[method], abs=2e-5), losses
    # checkpoints every 2 steps, keep the last 2 (step-000004 only: 6 is the final one), plus final/ and the data
    # version every run records (data.json)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "data.json",
        "final",
        "logs",
        "step-000002",
        "step-000004",
    ]
    assert [step for step, _ in val_losses(out)] == [3, 6]
    final = out / "final"
    for name in (
        "model_config.yaml",
        "hyperparameters.yaml",
        "tokenizer.json",
        "training_state.pth",
        "rank-0.pth",
        "progress.json",
    ):
        assert (final / name).exists(), name


def test_accumulation_equivalence(tmp_path, lit_base, pt_data):
    """Fixed-length windows: batch 8 in one pass == 4 micro batches of 2 (losses and weights, fp32 rounding)."""
    outs = {}
    for micro in (8, 2):
        out = tmp_path / f"micro{micro}"
        main(
            [
                "pretrain",
                str(pt_data),
                "--checkpoint_dir",
                str(lit_base),
                "--out_dir",
                str(out),
                "--accelerator",
                "cpu",
                "--train.max_steps",
                "3",
                "--train.global_batch_size",
                "8",
                "--train.micro_batch_size",
                str(micro),
                "--train.max_seq_length",
                "16",
                "--train.save_interval",
                "null",
                "--train.lr_warmup_steps",
                "0",
                "--train.log_interval",
                "1",
                "--eval.final_validation",
                "false",
                "--optimizer.lr",
                "1e-2",
                "--quiet",
                "true",
            ]
        )
        outs[micro] = out
    assert train_losses(outs[2]) == pytest.approx(train_losses(outs[8]), rel=1e-6)
    assert train_losses(outs[8])[0] != train_losses(outs[8])[-1]  # the weights did move
    w8, w2 = weights(outs[8] / "final"), weights(outs[2] / "final")
    assert w8.keys() == w2.keys()
    for key in w8:
        # Adam divides by sqrt(v): on near-zero gradients it scales fp32 summation-order noise up to ~lr * 1e-3.
        torch.testing.assert_close(w2[key], w8[key], rtol=1e-4, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_exact_resume_after_sigkill(method, tmp_path, uninterrupted, lit_base, pt_data, ft_data):
    reference = uninterrupted(method)
    out = tmp_path / "out"
    args = command(method, lit_base, pt_data if method == "pretrain" else ft_data, out)
    # 2 micro batches per step: forward 11 is the first half of step 6; the newest checkpoint is step-000004.
    killed = run_killed(args, kill_at_forward=11)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (out / "step-000004").is_dir() and not (out / "final").exists()
    assert [float(r["loss"]) for r in read_rows(out) if r["loss"]][-1] == train_losses(reference)[
        4
    ]  # step 5 was logged

    main(args + ["--resume", "auto"])

    assert train_losses(out) == train_losses(reference)  # bit-identical, steps 1-6
    assert val_losses(out) == val_losses(reference)
    resumed, expected = weights(out / "final"), weights(reference / "final")
    assert resumed.keys() == expected.keys()
    for key in expected:
        assert torch.equal(resumed[key], expected[key]), key
    assert (out / "final" / "progress.json").read_text() == (reference / "final" / "progress.json").read_text()


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch, lit_base, ft_data):
    from litft.train import steps

    original = steps.token_loss_sum
    calls = {"n": 0}

    def poisoned(model, batch):
        loss = original(model, batch)
        if model.training:
            calls["n"] += 1
            if calls["n"] > 6:  # step 4 onwards
                return loss * float("nan")
        return loss

    monkeypatch.setattr(steps, "token_loss_sum", poisoned)
    out = tmp_path / "out"
    with pytest.raises(LitftError, match=r"loss became nan at step 4.*last good checkpoint is .*step-000002"):
        from litft.train.args import EvalArgs, TrainArgs
        from litft.train.job import Job, run

        run(
            Job(
                method="full",
                data_dir=ft_data,
                out_dir=out,
                checkpoint_dir=lit_base,
                accelerator="cpu",
                quiet=True,
                train=TrainArgs(
                    max_steps=6, global_batch_size=4, micro_batch_size=2, save_interval=2, lr_warmup_steps=0
                ),
                eval=EvalArgs(interval=100, final_validation=False),
            )
        )
    assert (out / "step-000002").is_dir() and not (out / "final").exists()
    assert len(train_losses(out)) == 3 and all(math.isfinite(loss) for loss in train_losses(out))


def test_refuses_data_from_another_tokenizer(tmp_path, lit_base, capsys):
    from litft.prepare.pretrain import prepare_pretrain
    from litft.prepare.tokenizer_training import train_tokenizer

    text = tmp_path / "pretrain.txt"
    text.write_text("\n".join(f"line {i} about tuition and campus research" for i in range(50)), encoding="utf-8")
    train_tokenizer(data=text, out=tmp_path / "other", vocab_size=300, quiet=True)
    prepare_pretrain(data=text, out=tmp_path / "data", tokenizer_dir=tmp_path / "other", quiet=True)
    with pytest.raises(SystemExit) as error:
        main(
            [
                "pretrain",
                str(tmp_path / "data"),
                "--checkpoint_dir",
                str(lit_base),
                "--out_dir",
                str(tmp_path / "out"),
                "--train.max_steps",
                "1",
                "--accelerator",
                "cpu",
            ]
        )
    assert error.value.code == 2
    assert "was tokenized with tokenizer" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_resume_path_must_be_a_training_checkpoint(tmp_path, lit_base, ft_data, capsys):
    with pytest.raises(SystemExit):
        main(
            [
                "finetune",
                "lora",
                str(lit_base),
                str(ft_data),
                "--out_dir",
                str(tmp_path),
                "--resume",
                str(lit_base),
                "--train.max_steps",
                "1",
                "--accelerator",
                "cpu",
            ]
        )
    assert "is not a training checkpoint" in capsys.readouterr().err
