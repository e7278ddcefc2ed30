"""A damaged resume folder (`--resume auto` or a path) is one sentence naming it, and nothing in it is touched."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from litft.cli import main
from tests.support.training import command


def _files(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGES = {
    "truncated training state": (
        lambda step: _truncate(step / "training_state.pth"),
        "training_state.pth cannot be read",
    ),
    "missing rank file": (lambda step: (step / "rank-0.pth").unlink(), "rank-0.pth is missing"),
    "truncated rank file": (lambda step: _truncate(step / "rank-0.pth"), "rank-0.pth cannot be read"),
    "progress not JSON": (
        lambda step: (step / "progress.json").write_text("{step: 6"),
        "progress.json is missing or not JSON",
    ),
    "progress of wrong types": (
        lambda step: (step / "progress.json").write_text('{"step": "six"}'),
        "progress.json has step 'six'",
    ),
    "truncated weights": (lambda step: _truncate(step / "lit_model.pth.lora"), "lit_model.pth.lora is truncated"),
}


@pytest.mark.parametrize("damage", DAMAGES, ids=list(DAMAGES))
@pytest.mark.parametrize("resume", ["auto", "path"])
def test_a_damaged_step_folder_is_one_sentence_and_left_as_it_is(
    damage, resume, tmp_path, uninterrupted, lit_base, ft_data, capsys
):
    out = tmp_path / "out"
    shutil.copytree(uninterrupted("lora"), out)
    # The run saved step-000002, step-000004 and final/ (step 6): auto picks final/, a path may name any step.
    newest = out / "final" if resume == "auto" else out / "step-000004"
    apply, expected = DAMAGES[damage]
    apply(newest)
    before = _files(out)

    with pytest.raises(SystemExit) as exit_info:
        main(command("lora", lit_base, ft_data, out, ["--resume", "auto" if resume == "auto" else str(newest)]))

    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: resume checkpoint {newest} is damaged ({expected}")
    assert errors[0].endswith(
        "); delete that folder to resume from the step before it, or pass --resume with an earlier step-* folder."
    )
    assert _files(out) == before
