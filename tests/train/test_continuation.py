"""`--init_from RUN --replay F`: a run continues an earlier one's weights on new records with a seeded, recorded
replay of its old records, and every fine-tuning run records the data version it trained on (data.json)."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest
import torch

from litft.cli import main
from litft.common.outputs import read_marker
from tests.support.training import command, sentence, weights


@pytest.fixture(scope="module")
def new_data(tmp_path_factory, lit_base) -> Path:
    """20 records of a refreshed site, prepared like ft_data (same tokenizer and prompt style)."""
    from litft.prepare.finetune import prepare_finetune

    root = tmp_path_factory.mktemp("ft-new")
    rng = random.Random(7)
    records = [{"instruction": sentence(rng, 2, 10), "input": "", "output": sentence(rng, 2, 30)} for _ in range(20)]
    (root / "sft.json").write_text(json.dumps(records), encoding="utf-8")
    (root / "changes.json").write_text('{"version": 1}', encoding="utf-8")
    prepare_finetune(data=root / "sft.json", out=root / "data", checkpoint_dir=lit_base, val_fraction=0.1, quiet=True)
    return root / "data"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _continue(lit_base, data, out, earlier, extra=()) -> dict:
    main(command("lora", lit_base, data, out, ["--init_from", str(earlier), "--train.max_steps", "1", *extra]))
    return json.loads((out / "data.json").read_text())


def test_a_continued_run_records_its_seeded_replay_and_data_version(tmp_path, uninterrupted, lit_base, new_data):
    earlier = uninterrupted("lora")
    record = _continue(lit_base, new_data, tmp_path / "a", earlier, ["--replay", "0.25"])
    again = _continue(lit_base, new_data, tmp_path / "b", earlier, ["--replay", "0.25"])
    other_seed = _continue(lit_base, new_data, tmp_path / "c", earlier, ["--replay", "0.25", "--seed", "1"])

    replay = record["replay"]
    assert record["init_from"] == str((earlier / "final").resolve())
    assert replay["old_records"] == 72 and replay["fraction"] == 0.25 and replay["seed"] == 1337  # 80 less 10% val
    assert len(replay["indices"]) == 18 == len(set(replay["indices"])) and 0 <= min(replay["indices"])
    assert max(replay["indices"]) < 72 and replay["indices"] == sorted(replay["indices"])
    assert again["replay"]["indices"] == replay["indices"] != other_seed["replay"]["indices"]
    root = new_data.parent
    assert record["data"]["meta_sha256"] == _sha(new_data / "meta.json")
    assert record["data"]["train_files"] == {str(root / "sft.json"): _sha(root / "sft.json")}
    assert record["data"]["changes"] == {str(root / "changes.json"): _sha(root / "changes.json")}
    assert replay["data"]["meta_sha256"] == _sha(Path(replay["data"]["data_dir"]) / "meta.json")
    assert "data.json" in read_marker(tmp_path / "a")["files"]


def test_replayed_records_are_trained_beside_the_new_ones(uninterrupted, new_data, ft_data):
    from litft.readers.finetune import FinetuneDataset
    from litft.train.data import open_finetune

    indices = [3, 10, 41]
    stream, _ = open_finetune(
        new_data, max_length=None, micro_batch_size=1, rank=0, world_size=1, seed=0, shuffle=False,
        group_by_length=False, replay=(ft_data, indices),
    )  # fmt: skip
    new, old = FinetuneDataset(new_data, "train"), FinetuneDataset(ft_data, "train")
    assert len(stream.rows) == len(new) + 3 == 21
    for position, index in enumerate(indices):
        assert torch.equal(stream.rows[len(new) + position]["input_ids"], old[index]["input_ids"])
    assert stream.rows.lengths.tolist() == new.lengths.tolist() + old.lengths[indices].tolist()


def test_init_from_starts_from_the_earlier_runs_trained_weights(tmp_path, uninterrupted, lit_base, new_data):
    earlier = uninterrupted("lora")
    tiny_lr = ["--optimizer.lr", "1e-12"]  # one step that barely moves the weights
    _continue(lit_base, new_data, tmp_path / "continued", earlier, tiny_lr)
    main(command("lora", lit_base, new_data, tmp_path / "fresh", ["--train.max_steps", "1", *tiny_lr]))

    before, continued, fresh = (weights(p / "final") for p in (earlier, tmp_path / "continued", tmp_path / "fresh"))
    lora_b = [name for name in before if name.endswith("lora_B")]
    assert lora_b and all(before[name].abs().sum() > 0 for name in lora_b)  # the earlier run trained them
    for name in before:
        torch.testing.assert_close(continued[name], before[name], rtol=0, atol=1e-6)
    assert all(fresh[name].abs().max() < 1e-6 for name in lora_b)  # a fresh LoRA starts with B = 0
    record = json.loads((tmp_path / "fresh" / "data.json").read_text())
    assert record["init_from"] is None and record["replay"] is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--replay", "0.2"], "--replay mixes in the records of the run --init_from names; pass --init_from too."),
        (["--replay", "1.5", "--init_from", "."], "--replay 1.5 must be at least 0 and below 1"),
    ],
)
def test_replay_arguments_are_checked_first(extra, message, tmp_path, lit_base, new_data, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(command("lora", lit_base, new_data, tmp_path / "out", extra))
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and error.startswith(f"error: {message}") and error.count("\n") == 1


def test_init_from_a_run_of_another_method_is_refused(tmp_path, uninterrupted, lit_base, new_data, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(command("adapter_v2", lit_base, new_data, tmp_path / "out", ["--init_from", str(uninterrupted("lora"))]))
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and "is a lora run; continue it with `finetune lora`." in error
