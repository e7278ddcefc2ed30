"""Output folders: litft replaces only its own outputs and files, refuses the rest, and cleans its own leftovers."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from litft.common import outputs
from litft.common.errors import LitftError
from litft.common.io import atomic_write_text, current_umask, make_temp_dir, path_inside
from litft.common.outputs import (
    MARKER,
    check_in_place_files,
    output_dir,
    owned_files,
    read_marker,
    record_own_files,
    remove_output,
)


def _dead_pid() -> int:
    """The PID of a process that has exited (it is not reused within the test's lifetime in practice)."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    return int(child.stdout)


def _write(path: Path, files: dict[str, str], kind: str = "thing", **kwargs) -> None:
    with output_dir(path, kind, **kwargs) as staging:
        for name, text in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_text(text)


def test_a_new_output_is_marked_and_an_own_output_is_swapped_whole(tmp_path):
    _write(tmp_path / "out", {"a.txt": "1", "sub/b.txt": "2"})
    assert read_marker(tmp_path / "out") == {"kind": "thing", "files": ["a.txt", "sub/b.txt"]}
    _write(tmp_path / "out", {"a.txt": "3"})
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*")) == [MARKER, "a.txt"]
    assert (tmp_path / "out" / "a.txt").read_text() == "3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging or old folder left


def test_user_files_in_an_own_output_survive_a_rewrite(tmp_path):
    _write(tmp_path / "out", {"a.txt": "1", "stale.txt": "x"})
    (tmp_path / "out" / "notes.md").write_text("mine")
    _write(tmp_path / "out", {"a.txt": "2"})
    assert (tmp_path / "out" / "notes.md").read_text() == "mine"
    assert (tmp_path / "out" / "a.txt").read_text() == "2"
    assert not (tmp_path / "out" / "stale.txt").exists()  # litft's own earlier file, no longer part of the output


def test_a_foreign_folder_is_refused_and_overwrite_replaces_only_namesakes(tmp_path):
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "a.txt").write_text("user's a")
    (folder / "keep.txt").write_text("user's keep")
    with pytest.raises(LitftError, match="already holds files litft did not write"):
        _write(folder, {"a.txt": "litft's a"})
    assert (folder / "a.txt").read_text() == "user's a"
    _write(folder, {"a.txt": "litft's a"}, overwrite=True)
    assert (folder / "a.txt").read_text() == "litft's a"
    assert (folder / "keep.txt").read_text() == "user's keep"


def test_another_kind_of_litft_output_is_refused(tmp_path):
    _write(tmp_path / "out", {"a.txt": "1"}, kind="checkpoint")
    with pytest.raises(LitftError, match="a litft checkpoint output, not a hf-export one"):
        _write(tmp_path / "out", {"b.txt": "1"}, kind="hf-export")
    _write(tmp_path / "out", {"b.txt": "1"}, kind="hf-export", overwrite=True)
    assert (tmp_path / "out" / "a.txt").read_text() == "1"  # the checkpoint's files are not this kind's to remove


def test_inputs_and_files_are_refused(tmp_path):
    (tmp_path / "proj" / "lora").mkdir(parents=True)
    with pytest.raises(LitftError, match="is the input"):
        _write(tmp_path / "proj" / "lora", {}, inputs=[tmp_path / "proj" / "lora"], overwrite=True)
    with pytest.raises(LitftError, match="holds the input"):
        _write(tmp_path / "proj", {}, inputs=[tmp_path / "proj" / "lora"], overwrite=True)
    os.symlink(tmp_path / "proj" / "lora", tmp_path / "link")
    with pytest.raises(LitftError, match="is the input"):
        _write(tmp_path / "link", {}, inputs=[tmp_path / "proj" / "lora"], overwrite=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(LitftError, match="is a file, not a folder"):
        _write(tmp_path / "file", {}, overwrite=True)
    assert (tmp_path / "file").read_text() == "x"


def test_a_failed_write_leaves_the_earlier_output(tmp_path):
    _write(tmp_path / "out", {"a.txt": "1"})
    with pytest.raises(RuntimeError), output_dir(tmp_path / "out", "thing") as staging:
        (staging / "a.txt").write_text("half")
        raise RuntimeError("killed")
    assert (tmp_path / "out" / "a.txt").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_files_and_folders_follow_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        assert current_umask() == umask
        atomic_write_text(tmp_path / "file.txt", "x")
        _write(tmp_path / "out", {"a.txt": "1"})
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "file.txt").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((tmp_path / "out" / MARKER).stat().st_mode) == 0o666 & ~umask


def test_a_killed_writers_leftovers_are_removed_by_the_next_write(tmp_path):
    dead = _dead_pid()
    leftover_dir = tmp_path / f".out.litft-{dead}-abc.tmp"
    leftover_dir.mkdir()
    (leftover_dir / "lit_model.pth").write_bytes(b"half a checkpoint")
    leftover_file = tmp_path / f".x.json.litft-{dead}-def.tmp"
    leftover_file.write_text("{")
    live = make_temp_dir(tmp_path / "out")  # this process's own staging folder: in use, kept
    _write(tmp_path / "out", {"a.txt": "1"})
    atomic_write_text(tmp_path / "x.json", json.dumps({}))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", "x.json", live.name])


def _unsafe_marker(folder: Path, outside: Path, *odd_names: str) -> list[Path]:
    """Add names leading out of `folder` to its marker (absolute, `..`, through a linked folder); return the files
    they name, which must survive whatever litft does with the folder."""
    (outside / "linked").mkdir(parents=True)
    victims = [outside / "absolute.txt", outside / "parent.txt", outside / "linked" / "through_link.txt"]
    for victim in victims:
        victim.write_text("the user's")
    os.symlink(outside / "linked", folder / "link")
    relative_parent = os.path.relpath(outside / "parent.txt", folder)
    marker = read_marker(folder)
    marker["files"] += [str(victims[0]), relative_parent, "link/through_link.txt", *odd_names]
    (folder / MARKER).write_text(json.dumps(marker))
    return victims


def test_names_in_a_marker_that_lead_outside_the_folder_are_never_followed(tmp_path):
    folder = tmp_path / "out"
    _write(folder, {"a.txt": "1", "sub/b.txt": "2"})
    victims = _unsafe_marker(folder, tmp_path / "outside", "./a.txt", "", ".", "sub//b.txt")
    assert owned_files(folder) == {"a.txt", "sub/b.txt"}
    _write(folder, {"c.txt": "3"})  # a rewrite removes litft's stale files, and only those
    assert all(victim.read_text() == "the user's" for victim in victims)
    assert not (folder / "a.txt").exists() and (folder / "c.txt").read_text() == "3"

    record_own_files(folder, ["d.txt"], "thing")
    marker = read_marker(folder)
    marker["files"].append(str(victims[0]))
    (folder / MARKER).write_text(json.dumps(marker))
    (folder / "d.txt").write_text("litft's")
    check_in_place_files(folder, ["d.txt"], overwrite=False)  # owned: may be replaced
    with pytest.raises(LitftError, match="which litft did not write"):
        check_in_place_files(folder, ["link"], overwrite=False)
    remove_output(folder)  # what --overwrite and keep_last use: the listed files only
    assert all(victim.read_text() == "the user's" for victim in victims)
    assert sorted(p.name for p in folder.iterdir()) == ["link"]  # the user's link stays, so does its folder


def test_a_new_file_is_never_written_through_a_linked_folder(tmp_path):
    folder = tmp_path / "proj"
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "b.txt").write_text("the user's")
    folder.mkdir()
    os.symlink(tmp_path / "elsewhere", folder / "sub")
    with pytest.raises(LitftError, match="lies in a link to a folder outside"):
        _write(folder, {"sub/b.txt": "litft's"}, overwrite=True)
    assert (tmp_path / "elsewhere" / "b.txt").read_text() == "the user's"


def test_index_build_into_a_folder_whose_marker_names_outside_files_deletes_nothing_else(tmp_path, capsys):
    from litft.cli import main

    chunks = tmp_path / "chunks.jsonl"
    texts = ["the library opens at nine", "parking permits at the office", "laptops from the library desk"]
    chunks.write_text("".join(json.dumps({"id": str(i), "url": "u", "text": t}) + "\n" for i, t in enumerate(texts)))
    folder = tmp_path / "index"
    build = ["index", "build", "--chunks", str(chunks), "--out", str(folder), "--quiet", "true"]
    main(build)
    (folder / "NOTES.md").write_text("my notes")  # a user's file: the next build merges file by file
    victims = _unsafe_marker(folder, tmp_path / "outside")
    main(build)
    capsys.readouterr()
    assert all(victim.read_text() == "the user's" for victim in victims)
    assert (folder / "NOTES.md").read_text() == "my notes"
    assert (folder / "chunks.jsonl").is_file()


def test_path_inside_accepts_only_plain_names_inside_the_folder(tmp_path):
    (tmp_path / "in" / "real").mkdir(parents=True)
    os.symlink(tmp_path, tmp_path / "in" / "up")
    os.symlink(tmp_path / "in" / "real", tmp_path / "in" / "side")
    accepted = ["a", "real/b", "side/c", "up", ".hidden", "a b"]
    refused = ["", ".", "..", "../a", "/a", "a/../b", "./a", "a//b", "a/", "up/x", "a\0b", 3, None]
    assert [path_inside(tmp_path / "in", name) for name in accepted] == [tmp_path / "in" / n for n in accepted]
    assert [path_inside(tmp_path / "in", name) for name in refused] == [None] * len(refused)


def test_a_kill_between_the_renames_of_a_swap_leaves_the_old_output_to_the_next_run(tmp_path):
    _write(tmp_path / "out", {"a.txt": "old"})
    dead = _dead_pid()
    aside = tmp_path / f".out.litft-{dead}-abc.old"  # what a swap without an atomic exchange moves the old one to
    aside.mkdir()
    os.replace(tmp_path / "out", aside / "out")  # killed here: the new output never reached its place
    unpublished = tmp_path / f".out.litft-{dead}-def.tmp"
    unpublished.mkdir()
    (unpublished / "a.txt").write_text("new, never published")

    with pytest.raises(RuntimeError), output_dir(tmp_path / "out", "thing"):
        raise RuntimeError("the re-run fails too")
    assert (tmp_path / "out" / "a.txt").read_text() == "old"
    assert read_marker(tmp_path / "out") == {"kind": "thing", "files": ["a.txt"]}
    _write(tmp_path / "out", {"a.txt": "new"})
    assert (tmp_path / "out" / "a.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("exchange", [True, False])
def test_an_own_output_is_swapped_with_or_without_an_atomic_exchange(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(outputs, "_exchange", lambda first, second: False)
    _write(tmp_path / "out", {"a.txt": "1", "sub/b.txt": "2"})
    _write(tmp_path / "out", {"a.txt": "3"})
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*")) == [MARKER, "a.txt"]
    assert (tmp_path / "out" / "a.txt").read_text() == "3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
