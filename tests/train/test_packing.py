"""`--data.packing`: packed rows give the loss and gradients of the same records unpacked, and resume stays exact."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from litft.cli import main
from litft.common.errors import LitftError
from litft.readers import FinetuneDataset, PackedFinetuneDataset, collate_finetune
from litft.train.batches import shift
from litft.train.data import FinetuneStream, TruncatedRecords
from tests.support.training import (
    command,
    read_rows,
    run_killed,
    sentence,
    train_losses,
    val_losses,
    weights,
)

ROW = 65  # --train.max_seq_length 64: rows of 65 tokens (the last one is only a target)


@pytest.fixture(scope="module")
def short_data(tmp_path_factory, lit_base) -> Path:
    """Short records (no prompt template) so several fit one row; a few longer than a row, to be truncated."""
    from litft.prepare.finetune import prepare_finetune

    root = tmp_path_factory.mktemp("packable")
    rng = random.Random(2)
    records = [
        {
            "instruction": sentence(rng, 2, 6),
            "input": "",
            "output": sentence(rng, 70, 90) if i % 10 == 0 else sentence(rng, 2, 16),
        }
        for i in range(60)
    ]
    (root / "sft.json").write_text(json.dumps(records), encoding="utf-8")
    prepare_finetune(
        data=root / "sft.json",
        out=root / "data",
        checkpoint_dir=lit_base,
        prompt_style="default",
        val_fraction=0.1,
        quiet=True,
    )
    return root / "data"


def _rows(data: Path) -> tuple[TruncatedRecords, PackedFinetuneDataset]:
    records = TruncatedRecords(FinetuneDataset(data), ROW)
    return records, PackedFinetuneDataset(records, ROW)


def test_rows_hold_several_records_and_some_were_truncated(short_data):
    records, packed = _rows(short_data)
    assert (FinetuneDataset(short_data).lengths > ROW).any() and records.lengths.max() == ROW
    assert len(packed) < len(records) / 2


@pytest.mark.parametrize("method", ["full", "lora"])
def test_packed_loss_and_gradients_equal_unpacked(method, short_data, lit_base):
    """The same records as one packed batch and one padded batch: same summed loss, same token count, same gradients."""
    from litft.models.build import LoRASettings, build_model, load_weights
    from litft.models.checkpoint import inspect_checkpoint, load_state_dict
    from litft.train.steps import token_loss_sum

    records, packed = _rows(short_data)
    unpacked_batch = shift(collate_finetune([records[i] for i in range(len(records))]))
    packed_batch = shift(collate_finetune([packed[i] for i in range(len(packed))]))
    assert packed_batch.target_tokens == unpacked_batch.target_tokens
    assert packed_batch.input_ids.numel() < unpacked_batch.input_ids.numel() / 2

    torch.manual_seed(0)
    model = build_model(
        method, inspect_checkpoint(lit_base).config, LoRASettings(dropout=0.0, mlp=True) if method == "lora" else None
    )
    load_weights(model, method, load_state_dict(lit_base / "lit_model.pth"))
    if method == "lora":  # B starts at zero, which would make every LoRA A gradient zero
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(parameter, std=0.02)
    model.max_seq_length = ROW - 1
    gradients = []
    for batch in (unpacked_batch, packed_batch):
        model.zero_grad(set_to_none=True)
        loss = token_loss_sum(model, batch) / batch.target_tokens
        loss.backward()
        gradients.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}))
    (unpacked_loss, unpacked_grads), (packed_loss, packed_grads) = gradients
    torch.testing.assert_close(packed_loss, unpacked_loss, rtol=1e-5, atol=0)
    assert unpacked_grads.keys() == packed_grads.keys() and len(packed_grads) > 0
    for name in unpacked_grads:
        torch.testing.assert_close(packed_grads[name], unpacked_grads[name], rtol=1e-4, atol=1e-6, msg=name)


def test_packed_run_equals_unpacked_run_when_a_step_is_the_whole_epoch(tmp_path, short_data, lit_base):
    """Each step sees every training record in both runs, so losses and weights must agree step after step."""
    records, packed = _rows(short_data)
    runs = {}
    for name, rows, extra in (("unpacked", len(records), []), ("packed", len(packed), ["--data.packing", "true"])):
        out = tmp_path / name
        main(
            [
                "finetune",
                "full",
                str(lit_base),
                str(short_data),
                "--out_dir",
                str(out),
                "--accelerator",
                "cpu",
                "--train.epochs",
                "3",
                "--train.global_batch_size",
                str(rows),
                "--train.micro_batch_size",
                str(rows),
                "--train.max_seq_length",
                str(ROW - 1),
                "--train.save_interval",
                "null",
                "--train.lr_warmup_steps",
                "0",
                "--eval.interval",
                "2",
                "--eval.max_new_tokens",
                "0",
                "--optimizer.lr",
                "1e-2",
                "--quiet",
                "true",
                *extra,
            ]
        )
        runs[name] = out
    unpacked, packed_out = runs["unpacked"], runs["packed"]
    assert train_losses(packed_out) == pytest.approx(train_losses(unpacked), rel=1e-5)
    assert train_losses(packed_out)[-1] < train_losses(packed_out)[0] - 0.1
    assert [step for step, _ in val_losses(packed_out)] == [2, 3]
    assert [loss for _, loss in val_losses(packed_out)] == pytest.approx(
        [loss for _, loss in val_losses(unpacked)], rel=1e-5
    )
    rows = {name: read_rows(out)[0] for name, out in runs.items()}
    assert rows["packed"]["loss_tokens"] == rows["unpacked"]["loss_tokens"]  # the same predicted tokens
    w_packed, w_unpacked = weights(packed_out / "final"), weights(unpacked / "final")
    for key in w_unpacked:
        # Adam divides each entry by its gradient's RMS: where a gradient is ~0 (e.g. lm_head rows of unseen tokens) it
        # turns fp32 summation-order noise into updates of up to ~1% of lr (a few entries out of thousands).
        torch.testing.assert_close(w_packed[key], w_unpacked[key], rtol=0, atol=1e-4, msg=key)


def test_resume_refuses_another_row_layout(short_data):
    records, _ = _rows(short_data)
    options = dict(rank=0, world_size=1, seed=1, shuffle=True, group_by_length=True)
    unpacked = FinetuneStream(records, 2, **options)
    unpacked.next_batch()
    packed = FinetuneStream(records, 2, packed=True, **options)
    with pytest.raises(LitftError, match="packed=False but this run has True"):
        packed.load_state_dict(unpacked.state_dict())
    legacy = {key: value for key, value in unpacked.state_dict().items() if key not in ("packed", "max_length")}
    FinetuneStream(records, 2, **options).load_state_dict(legacy)  # checkpoints from before packing: unpacked


def test_packing_is_refused_for_pretraining(tmp_path, lit_base, capsys):
    with pytest.raises(SystemExit):
        main(
            [
                "pretrain",
                str(tmp_path),
                "--checkpoint_dir",
                str(lit_base),
                "--out_dir",
                str(tmp_path / "out"),
                "--train.max_steps",
                "1",
                "--data.packing",
                "true",
            ]
        )
    assert "--data.packing applies to fine-tuning only" in capsys.readouterr().err


@pytest.mark.slow
def test_exact_resume_after_sigkill_with_packing(tmp_path, short_data, lit_base):
    """LoRA with dropout on packed rows: killed in step 6 and resumed, it ends bit-identical to an uninterrupted run."""
    packing = ["--data.packing", "true", "--train.max_seq_length", str(ROW - 1), "--train.epochs", "4"]
    reference = tmp_path / "reference"
    main(command("lora", lit_base, short_data, reference, packing))
    out = tmp_path / "out"
    args = command("lora", lit_base, short_data, out, packing)
    killed = run_killed(args, kill_at_forward=11)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (out / "step-000004").is_dir() and not (out / "final").exists()

    main(args + ["--resume", "auto"])

    assert train_losses(out) == train_losses(reference) and len(train_losses(out)) == 6
    assert val_losses(out) == val_losses(reference)
    resumed, expected = weights(out / "final"), weights(reference / "final")
    assert resumed.keys() == expected.keys()
    for key in expected:
        assert torch.equal(resumed[key], expected[key]), key
