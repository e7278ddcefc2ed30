"""A run folder holds one run: a fresh start never mixes with, prunes or resumes another run's checkpoints."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from litft.cli import main
from litft.common.outputs import read_marker
from tests.support.training import command, read_rows, run_killed, weights


def _refused(capsys, args: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1, error
    return error


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_fresh_start_into_an_earlier_run_is_refused_until_resume_or_overwrite(
    tmp_path, uninterrupted, lit_base, ft_data, capsys
):
    out = tmp_path / "out"
    shutil.copytree(uninterrupted("lora"), out)
    (out / "NOTES.md").write_text("my notes on this run")
    before = _tree(out)

    args = command("lora", lit_base, ft_data, out, ["--train.max_steps", "4"])
    assert "already holds this run with other settings (checkpoints up to final)" in _refused(capsys, args)
    full = command("full", lit_base, ft_data, out)
    assert "holds another run (lora" in _refused(capsys, full + ["--resume", "auto"])
    assert _tree(out) == before

    main(args + ["--overwrite", "true"])  # start over: the old run's steps, final and logs go; the notes stay
    assert (out / "NOTES.md").read_text() == "my notes on this run"
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("step-")) == ["step-000002"]
    assert [int(row["step"]) for row in read_rows(out) if row["loss"]] == [1, 2, 3, 4]


def test_overwrite_removes_only_the_files_the_earlier_run_wrote(tmp_path, lit_base, ft_data):
    out = tmp_path / "proj"
    mine = {
        out / "logs" / "tensorboard" / "old_experiment" / "events.out.tfevents.1": "the user's experiment",
        out / ".drafts.partial" / "draft.md": "a user's folder named like a half checkpoint",
    }
    for path, text in mine.items():
        path.parent.mkdir(parents=True)
        path.write_text(text)
    args = command("lora", lit_base, ft_data, out, ["--train.max_steps", "2", "--overwrite", "true"])
    main(args + ["--logger", "tensorboard"])  # a folder litft did not write: --overwrite writes into it
    earlier = set(read_marker(out)["files"])
    assert "logs/metrics.csv" in earlier and any(name.startswith("logs/tensorboard/version_0/") for name in earlier)
    assert not [name for name in earlier if "old_experiment" in name]
    (out / "final" / "NOTES.md").write_text("why the result looks odd")

    main(args)  # start over, CSV only: the earlier run's checkpoints and logs go, nothing else
    assert all(path.read_text() == text for path, text in mine.items())
    assert not (out / "logs" / "tensorboard" / "version_0").exists()
    assert (out / "final" / "NOTES.md").read_text() == "why the result looks odd"
    assert read_marker(out)["files"] == ["data.json", "logs/metrics.csv"]
    assert [int(row["step"]) for row in read_rows(out) if row["loss"]] == [1, 2]


def test_a_finished_run_is_not_saved_again_so_merged_weights_survive(
    tmp_path, uninterrupted, lit_base, ft_data, capsys
):
    out = tmp_path / "out"
    shutil.copytree(uninterrupted("lora"), out)
    main(["merge_lora", "--checkpoint_dir", str(out)])
    merged = (out / "final" / "lit_model.pth").read_bytes()
    capsys.readouterr()
    main(command("lora", lit_base, ft_data, out, ["--resume", "auto"]))
    assert "nothing to do" in capsys.readouterr().out
    assert (out / "final" / "lit_model.pth").read_bytes() == merged


def test_a_foreign_folder_is_not_a_run_folder(tmp_path, lit_base, ft_data, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    assert "already holds files litft did not write" in _refused(capsys, command("lora", lit_base, ft_data, out))
    assert "is the input" in _refused(capsys, command("lora", lit_base, ft_data, ft_data))
    assert _tree(out) == {"thesis.tex": b"years of work"}


@pytest.mark.slow
def test_a_kill_mid_save_leaves_nothing_behind_after_the_next_run(tmp_path, uninterrupted, lit_base, ft_data):
    out = tmp_path / "out"
    args = command("lora", lit_base, ft_data, out)
    killed = run_killed(args, kill_at_forward="save:2")  # while step-000004's rank file is written
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (out / "step-000002").is_dir() and not (out / "step-000004").exists()
    assert [p.name for p in out.iterdir() if p.name.startswith(".") and p.name != ".litft.json"]  # the half checkpoint

    main(args + ["--resume", "auto"])
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".litft.json"]
    assert not [p for p in out.rglob("*") if ".litft-" in p.name]
    reference = weights(uninterrupted("lora") / "final")
    for key, value in weights(out / "final").items():
        assert torch.equal(value, reference[key]), key
