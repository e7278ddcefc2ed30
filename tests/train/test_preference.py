"""Preference tuning (`litft prepare preference`, `litft finetune dpo|kto`): TRL's losses, the LoRA reference, a
falling loss, the precomputed reference, exact resume after SIGKILL and one sentence for bad data."""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from litft.cli import main
from litft.common.errors import LitftError
from litft.train.args import PreferenceArgs, TrainArgs
from litft.train.preference import dpo_losses, kto_kl, kto_losses
from tests.support.training import COMMON, read_rows, run_killed, sentence, train_losses, val_losses, weights

# A fixed batch of sequence log-probabilities (fp64), as a policy and its reference would give them.
GENERATOR = torch.Generator().manual_seed(0)
POLICY_CHOSEN, POLICY_REJECTED, REFERENCE_CHOSEN, REFERENCE_REJECTED = (
    -torch.rand(6, generator=GENERATOR, dtype=torch.float64) * 40 for _ in range(4)
)


def trl_dpo_loss(loss_type: str, beta: float, label_smoothing: float) -> torch.Tensor:
    """TRL's own `DPOTrainer.dpo_loss` (trl 0.28), called unbound on a stand-in carrying only the attributes it
    reads: building a DPOTrainer needs a model, a dataset and a tokenizer that play no part in this arithmetic."""
    from trl.trainer.dpo_trainer import DPOTrainer, FDivergenceType

    trainer = SimpleNamespace(
        accelerator=SimpleNamespace(device=torch.device("cpu")),
        reference_free=False,
        f_divergence_type=FDivergenceType.REVERSE_KL,
        f_divergence_params={},
        beta=beta,
        label_smoothing=label_smoothing,
        loss_type=loss_type,
        use_weighting=False,
    )
    losses, _, _ = DPOTrainer.dpo_loss(
        trainer, POLICY_CHOSEN, POLICY_REJECTED, REFERENCE_CHOSEN, REFERENCE_REJECTED, loss_type=loss_type
    )
    return losses


@pytest.mark.parametrize(
    ("loss", "label_smoothing", "trl_type"), [("dpo", 0.0, "sigmoid"), ("dpo", 0.2, "sigmoid"), ("ipo", 0.0, "ipo")]
)
def test_dpo_and_ipo_losses_equal_trl(loss, label_smoothing, trl_type):
    beta = 0.3
    ours = dpo_losses(
        POLICY_CHOSEN, POLICY_REJECTED, REFERENCE_CHOSEN, REFERENCE_REJECTED, beta, label_smoothing, loss == "ipo"
    )
    assert ours.dtype == torch.float64
    torch.testing.assert_close(ours, trl_dpo_loss(trl_type, beta, label_smoothing), rtol=0, atol=1e-6)


def test_kto_loss_equals_trl():
    """TRL's `KTOTrainer.kto_loss` (trl 0.28's experimental KTO), unbound on a stand-in, as for DPO; its
    accelerator's `gather_for_metrics` is the one-process identity."""
    from trl.experimental.kto.kto_trainer import KTOTrainer

    desirable = torch.tensor([True, False, True, True, False, False])
    policy_kl = -torch.rand(6, generator=GENERATOR, dtype=torch.float64) * 40
    reference_kl = policy_kl - torch.rand(6, generator=GENERATOR, dtype=torch.float64)  # a positive KL estimate
    trainer = SimpleNamespace(
        accelerator=SimpleNamespace(device=torch.device("cpu"), gather_for_metrics=lambda tensor: tensor),
        calculate_KL=True,
        loss_type="kto",
        beta=0.2,
        desirable_weight=1.5,
        undesirable_weight=0.7,
    )
    trl_losses, _, _, trl_kl = KTOTrainer.kto_loss(
        trainer,
        POLICY_CHOSEN[desirable],
        POLICY_CHOSEN[~desirable],
        policy_kl,
        REFERENCE_CHOSEN[desirable],
        REFERENCE_CHOSEN[~desirable],
        reference_kl,
    )
    kl = kto_kl(policy_kl, reference_kl)
    assert float(kl) > 0
    torch.testing.assert_close(kl, trl_kl.reshape(()), rtol=0, atol=1e-12)
    ours = kto_losses(POLICY_CHOSEN, REFERENCE_CHOSEN, desirable, kl, 0.2, 1.5, 0.7)
    # TRL concatenates the desirable losses, then the undesirable ones
    torch.testing.assert_close(torch.cat([ours[desirable], ours[~desirable]]), trl_losses, rtol=0, atol=1e-6)
    torch.testing.assert_close(ours.mean(), trl_losses.mean(), rtol=0, atol=1e-6)


WORDS_CHOSEN = "students apply before march deadline"
WORDS_REJECTED = "tuition scholarship campus labs"


def _pairs(count: int, seed: int = 3) -> list[dict[str, str]]:
    """Pairs with one consistent preference: the chosen answer always the same short sentence."""
    rng = random.Random(seed)
    return [
        {"instruction": sentence(rng, 2, 8), "input": "", "chosen": WORDS_CHOSEN, "rejected": WORDS_REJECTED}
        for _ in range(count)
    ]


@pytest.fixture(scope="module")
def preference_data(tmp_path_factory, lit_base) -> dict[str, Path]:
    from litft.prepare.preference import prepare_preference

    root = tmp_path_factory.mktemp("preference")
    (root / "pairs.json").write_text(json.dumps(_pairs(40)), encoding="utf-8")
    kto = [
        {"instruction": pair["instruction"], "output": pair["chosen" if i % 2 else "rejected"], "label": bool(i % 2)}
        for i, pair in enumerate(_pairs(40))
    ]
    (root / "kto.jsonl").write_text("\n".join(json.dumps(record) for record in kto), encoding="utf-8")
    for name, source in (("dpo", "pairs.json"), ("kto", "kto.jsonl")):
        prepare_preference(
            data=str(root / source), out=root / name, checkpoint_dir=lit_base, val_fraction=0.1, quiet=True
        )
    return {"dpo": root / "dpo", "kto": root / "kto"}


def test_prepare_records_pairs_and_kto_counts_with_the_prompt_masked(preference_data):
    from litft.prepare.format import read_meta
    from litft.readers.preference import PreferenceDataset

    meta = read_meta(preference_data["dpo"], "preference")
    assert meta["paired"] is True
    assert (meta["splits"]["train"]["records"], meta["splits"]["val"]["records"]) == (36, 4)
    assert meta["splits"]["train"]["rows"] == 72
    chosen, rejected, label = PreferenceDataset(preference_data["dpo"], "train")[0]
    assert label is None
    prompt = int((chosen["labels"] == -100).sum())
    assert prompt == int((rejected["labels"] == -100).sum()) > 0  # the same prompt, masked in both rows
    assert torch.equal(chosen["input_ids"][:prompt], rejected["input_ids"][:prompt])
    assert not torch.equal(chosen["input_ids"][prompt:], rejected["input_ids"][prompt:])
    kto_meta = read_meta(preference_data["kto"], "preference")
    assert kto_meta["paired"] is False
    train = kto_meta["splits"]["train"]
    assert train["desirable"] + train["undesirable"] == train["records"] == 36


def test_conversation_pairs_and_csv_kto_records(tmp_path, lit_base):
    """Conversations with chosen/rejected last assistant turns (a string, or TRL's one-turn list) share their rendered
    prompt, earlier turns masked; KTO records from a CSV take their labels as text."""
    from litft.prepare.preference import prepare_preference
    from litft.readers.preference import PreferenceDataset

    turns = [
        {"role": "user", "content": "which programs"},
        {"role": "assistant", "content": "engineering"},
        {"role": "user", "content": "when to apply"},
    ]
    records = [
        {"messages": turns, "chosen": "before march", "rejected": [{"role": "assistant", "content": "any time"}]},
        {"messages": turns[:1], "chosen": "software engineering", "rejected": "tuition"},
    ]
    (tmp_path / "chat.jsonl").write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    meta = prepare_preference(data=str(tmp_path / "chat.jsonl"), out=tmp_path / "chat", checkpoint_dir=lit_base,
                              prompt_style="smollm2", max_seq_length=1024, quiet=True)  # fmt: skip
    assert meta["paired"] and meta["splits"]["train"]["records"] == 2
    chosen, rejected, _ = PreferenceDataset(tmp_path / "chat", "train")[0]
    prompt = int((chosen["labels"] == -100).sum())
    assert torch.equal(chosen["input_ids"][:prompt], rejected["input_ids"][:prompt])
    single_turn_prompt = int((PreferenceDataset(tmp_path / "chat", "train")[1][0]["labels"] == -100).sum())
    assert prompt > single_turn_prompt  # the earlier turns are part of the masked prompt

    (tmp_path / "kto.csv").write_text("instruction,output,label\nq one,an answer,true\nq two,a reply,False\n")
    meta = prepare_preference(data=str(tmp_path / "kto.csv"), out=tmp_path / "kto", checkpoint_dir=lit_base, quiet=True)
    assert (meta["paired"], meta["splits"]["train"]["desirable"], meta["splits"]["train"]["undesirable"]) == (
        False,
        1,
        1,
    )
    dataset = PreferenceDataset(tmp_path / "kto", "train")
    record, kl_row, desirable = dataset[0]
    assert desirable is True and dataset[1][2] is False
    prompt = int((record["labels"] == -100).sum())
    assert torch.equal(kl_row["input_ids"][:prompt], record["input_ids"][:prompt])  # its own prompt,
    assert torch.equal(kl_row["input_ids"][prompt:], dataset[1][0]["input_ids"][-len(kl_row["input_ids"]) + prompt :])


def test_lora_reference_with_adapters_off_equals_a_separately_loaded_base(preference_data, lit_base):
    from litft.common.settings import LoRASettings
    from litft.models.build import build_model, load_weights
    from litft.models.checkpoint import inspect_checkpoint, load_state_dict
    from litft.models.loss import accept_targets
    from litft.readers.preference import PreferenceDataset
    from litft.train.preference import adapters_off, sequence_logps
    from litft.train.preference_data import collate_preference

    config = inspect_checkpoint(lit_base).config
    state = load_state_dict(lit_base / "lit_model.pth")
    lora = build_model("lora", config, LoRASettings(r=4, mlp=True, head=True), device="cpu")
    load_weights(lora, "lora", state)
    torch.manual_seed(0)
    for name, parameter in lora.named_parameters():
        if "lora_B" in name:  # trained adapters: B is no longer zero, so the adapters change the output
            torch.nn.init.normal_(parameter, std=0.5)
    base = build_model("full", config, None, device="cpu")
    load_weights(base, "full", state)
    for model in (lora, base):
        model.eval()
        accept_targets(model)
    batch = collate_preference(PreferenceDataset(preference_data["dpo"], "train"), [0, 1, 2, 3], 0, None)
    with torch.no_grad():
        expected = sequence_logps(base, batch, average=False)
        with adapters_off(lora):
            reference = sequence_logps(lora, batch, average=False)
        adapted = sequence_logps(lora, batch, average=False)
    assert torch.equal(reference, expected)  # exactly the base, no second copy needed
    assert not torch.allclose(adapted, expected)  # and the adapters are back on afterwards


def _command(kind: str, base: Path, data: Path, out: Path, *extra: str) -> list[str]:
    args = ["finetune", kind, str(base), str(data), "--out_dir", str(out), *COMMON, *extra]
    args[args.index("--optimizer.lr") + 1] = "1e-2"
    return args


@pytest.mark.parametrize(("kind", "start", "below"), [("dpo", 0.693147, 0.4), ("kto", 0.5, 0.45)])
def test_lora_loss_falls_and_rewards_favour_the_chosen_answers(kind, start, below, tmp_path, preference_data, lit_base):
    out = tmp_path / "out"
    main(_command(kind, lit_base, preference_data[kind], out, "--beta", "0.5"))
    losses = train_losses(out)
    assert losses[0] == pytest.approx(start, abs=1e-5)  # log 2 (DPO), 1/2 (KTO): the policy starts as its reference
    assert losses[-1] < below
    rows = read_rows(out)
    last = [row for row in rows if row["loss"]][-1]
    assert float(last["rewards/chosen"]) > 0 > float(last["rewards/rejected"])
    assert float([row for row in rows if row["val_loss"]][-1]["val_rewards/chosen"]) > 0
    if kind == "dpo":
        assert float(last["rewards/accuracies"]) == 1.0
        assert float(last["rewards/margins"]) > 0
        assert val_losses(out)[-1][1] < start
    else:  # (KTO's validation loss stays 1/2 here: every answer in a validation batch is the same, so its KL rows
        # are its records and the reference point moves with the reward)
        assert float(last["kl"]) >= 0
    assert (out / "final" / "lit_model.pth.lora").is_file()


def test_full_dpo_with_a_frozen_copy_equals_the_precomputed_reference(tmp_path, preference_data, lit_base):
    copy, precomputed = tmp_path / "copy", tmp_path / "precomputed"
    main(_command("dpo", lit_base, preference_data["dpo"], copy, "--finetuning", "full"))
    main(_command("dpo", lit_base, preference_data["dpo"], precomputed, "--finetuning", "full",
                  "--precompute_reference", "true"))  # fmt: skip
    assert (precomputed / "reference_logps.train.npy").is_file() and not (copy / "reference_logps.train.npy").exists()
    assert train_losses(precomputed) == pytest.approx(train_losses(copy), abs=1e-6)
    assert [loss for _, loss in val_losses(precomputed)] == pytest.approx(
        [loss for _, loss in val_losses(copy)], abs=1e-6
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "extra"), [("dpo", ()), ("kto", ("--finetuning", "full", "--precompute_reference", "true"))]
)
def test_exact_resume_after_sigkill(kind, extra, tmp_path, preference_data, lit_base):
    reference, out = tmp_path / "reference", tmp_path / "out"
    main(_command(kind, lit_base, preference_data[kind], reference, *extra))
    args = _command(kind, lit_base, preference_data[kind], out, *extra)
    # 2 micro batches per step: training forward 11 is the first half of step 6; the newest checkpoint is step 4.
    killed = run_killed(args, kill_at_forward=11)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (out / "step-000004").is_dir() and not (out / "final").exists()
    main(args + ["--resume", "auto"])
    assert train_losses(out) == train_losses(reference)
    assert val_losses(out) == val_losses(reference)
    resumed, expected = weights(out / "final"), weights(reference / "final")
    assert resumed.keys() == expected.keys()
    for key in expected:
        assert torch.equal(resumed[key], expected[key]), key


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"instruction": "q", "chosen": "same answer", "rejected": "same answer"}, "same chosen and rejected"),
        ({"instruction": "q", "chosen": "an answer", "rejected": "  "}, "field 'rejected' is empty"),
        ({"instruction": "q", "chosen": "", "rejected": "an answer"}, "field 'chosen' is empty"),
        ({"instruction": "q", "chosen": "a", "rejected": "b", "input": " ".join(["word"] * 60)}, "leaves no room"),
        ({"instruction": "q", "output": "an answer", "label": "maybe"}, "label 'maybe'"),
    ],
)
def test_bad_records_are_one_sentence(tmp_path, lit_base, capsys, record, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    args = ["prepare", "preference", "--data", str(path), "--checkpoint_dir", str(lit_base)]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--out", str(tmp_path / "out"), "--max_seq_length", "32"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert message in error and "line 1" in error and "\n" not in error
    assert not (tmp_path / "out").exists()


def test_a_training_length_shorter_than_the_prompts_is_one_sentence(tmp_path, preference_data, lit_base, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(_command("dpo", lit_base, preference_data["dpo"], tmp_path / "out", "--train.max_seq_length", "4"))
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert "leaves no answer token to compare at --train.max_seq_length 4" in error and "\n" not in error


def test_kto_records_are_refused_by_dpo_in_one_sentence(tmp_path, preference_data, lit_base):
    with pytest.raises(LitftError, match="holds KTO records, not pairs; train on it with `litft finetune kto`"):
        from litft.train.job import Job, run

        run(Job(method="dpo_lora", data_dir=preference_data["kto"], out_dir=tmp_path / "out",
                checkpoint_dir=lit_base, accelerator="cpu", quiet=True, preference=PreferenceArgs(),
                train=TrainArgs(max_steps=1)))  # fmt: skip


def test_preference_settings_are_checked_before_training(tmp_path, preference_data, lit_base, capsys):
    for extra, message in (
        (["--beta", "0"], "--beta 0.0 must be a positive number"),
        (["--loss", "ipo", "--label_smoothing", "0.1"], "--label_smoothing applies to --loss dpo only"),
        (["--data.packing", "true"], "--data.packing does not apply to preference data"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(_command("dpo", lit_base, preference_data["dpo"], tmp_path / "out", *extra))
        assert exit_info.value.code == 2, message
        error = capsys.readouterr().err.strip()
        assert message in error and "\n" not in error
