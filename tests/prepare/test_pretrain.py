"""`litft prepare pretrain`: exact round trip, seeded split, input forms, meta.json, user errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from litft.cli import main
from litft.common.errors import LitftError
from litft.models.tokenizer import fingerprint, load_tokenizer
from litft.prepare.format import read_meta
from litft.prepare.pretrain import choose_validation, prepare_pretrain
from tests.support.tiny_corpus import corpus_lines


def _prepare(data, out: Path, tokenizer_dir: Path, **kwargs) -> dict:
    return prepare_pretrain(data=data, out=out, checkpoint_dir=tokenizer_dir, quiet=True, **kwargs)


def _expected(tokenizer_dir: Path, documents: list[str], is_val: np.ndarray) -> dict[str, list[int]]:
    tokenizer = load_tokenizer(tokenizer_dir)
    expected: dict[str, list[int]] = {"train": [], "val": []}
    for document, val in zip(documents, is_val, strict=True):
        expected["val" if val else "train"].extend(tokenizer.encode(document, eos=True).tolist())
    return expected


def test_round_trip_is_the_tokenizers_own_encoding_with_eos_between_documents(tokenizer_dir, tmp_path):
    lines = corpus_lines(400)
    (tmp_path / "pretrain.txt").write_text(
        "\n".join(lines[:200]) + "\n\n   \n" + "\r\n".join(lines[200:]) + "\n", encoding="utf-8"
    )
    meta = _prepare(tmp_path / "pretrain.txt", tmp_path / "out", tokenizer_dir, val_fraction=0.1, batch_bytes=2048)
    expected = _expected(tokenizer_dir, lines, choose_validation(400, 0.1, 42))
    for split in ("train", "val"):
        tokens = np.fromfile(tmp_path / "out" / f"{split}.bin", dtype=np.uint16)
        assert tokens.tolist() == expected[split]
        assert meta["splits"][split]["tokens"] == len(tokens)
    assert (meta["splits"]["train"]["documents"], meta["splits"]["val"]["documents"]) == (360, 40)
    assert meta["dtype"] == "uint16" and meta["tokenizer_fingerprint"] == fingerprint(tokenizer_dir)
    assert read_meta(tmp_path / "out", "pretrain")["splits"] == meta["splits"]
    tokenizer = load_tokenizer(tokenizer_dir)
    decoded = tokenizer.decode(torch.tensor(expected["train"][: expected["train"].index(tokenizer.eos_id)]))
    assert decoded == next(line for line, val in zip(lines, choose_validation(400, 0.1, 42), strict=True) if not val)


def test_split_is_seeded_exact_and_deterministic(tokenizer_dir, tmp_path):
    (tmp_path / "pretrain.txt").write_text("\n".join(corpus_lines(97)) + "\n", encoding="utf-8")
    first = _prepare(tmp_path / "pretrain.txt", tmp_path / "a", tokenizer_dir, val_fraction=0.2, seed=7)
    _prepare(tmp_path / "pretrain.txt", tmp_path / "b", tokenizer_dir, val_fraction=0.2, seed=7)
    other = _prepare(tmp_path / "pretrain.txt", tmp_path / "c", tokenizer_dir, val_fraction=0.2, seed=8)
    for split in ("train.bin", "val.bin"):
        assert (tmp_path / "a" / split).read_bytes() == (tmp_path / "b" / split).read_bytes()
    assert (tmp_path / "a" / "val.bin").read_bytes() != (tmp_path / "c" / "val.bin").read_bytes()
    assert first["splits"]["val"]["documents"] == other["splits"]["val"]["documents"] == round(97 * 0.2)
    assert choose_validation(3, 0.01, 0).sum() == 1 and choose_validation(10, 0.0, 0).sum() == 0


def test_folder_jsonl_and_whole_file_documents(tokenizer_dir, tmp_path):
    lines = corpus_lines(30)
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text(lines[0] + "\n" + lines[1], encoding="utf-8")  # one document: the whole file
    (folder / "sub" / "chunks.jsonl").write_text(
        "\n".join(json.dumps({"text": text, "source_id": i}) for i, text in enumerate(["", *lines[2:30]])) + "\n",
        encoding="utf-8",
    )
    (folder / "notes.bin").write_bytes(b"\xff\xfe ignored: not a text suffix")
    (folder / ".hidden.txt").write_text("ignored")
    meta = _prepare(folder, tmp_path / "out", tokenizer_dir, val_fraction=0.0)
    documents = [lines[0] + "\n" + lines[1], *lines[2:30]]
    assert (
        np.fromfile(tmp_path / "out" / "train.bin", dtype=np.uint16).tolist()
        == _expected(tokenizer_dir, documents, np.zeros(29, bool))["train"]
    )
    assert meta["empty_documents_skipped"] == 1 and meta["source_files"] == 2
    assert meta["splits"]["val"] == {"file": "val.bin", "tokens": 0, "documents": 0}


def test_several_inputs_by_list_and_glob_from_the_cli(tokenizer_dir, tmp_path):
    lines = corpus_lines(6)
    for i in range(3):
        (tmp_path / f"part{i}.md").write_text(lines[2 * i] + "\n" + lines[2 * i + 1], encoding="utf-8")
    common = ["--checkpoint_dir", str(tokenizer_dir), "--val_fraction", "0", "--split_lines", "true", "--quiet", "true"]
    main(
        [
            "prepare",
            "pretrain",
            "--data",
            f"[{tmp_path / 'part0.md'},{tmp_path / 'part1.md'}]",
            "--data+",
            str(tmp_path / "part2.md"),
            "--out",
            str(tmp_path / "listed"),
            *common,
        ]
    )
    main(["prepare", "pretrain", "--data", str(tmp_path / "part*.md"), "--out", str(tmp_path / "globbed"), *common])
    expected = _expected(tokenizer_dir, lines, np.zeros(6, bool))["train"]
    for out in ("listed", "globbed"):
        assert np.fromfile(tmp_path / out / "train.bin", dtype=np.uint16).tolist() == expected
        assert read_meta(tmp_path / out)["source_files"] == 3


def _cli_error(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(["prepare", "pretrain", "--quiet", "true", *args])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_user_errors_exit_2_with_one_line_and_leave_no_output(tokenizer_dir, tmp_path, capsys):
    good = "\n".join(corpus_lines(50)).encode()
    files = {
        "empty.txt": b"",
        "bad_utf8.txt": good + b"\nfine line\ncaf\xe9 latin-1 line\n",
        "chunks.jsonl": b'{"text": "ok"}\n\n{"text": "broken}\n',
        "nokey.jsonl": b'{"text": "ok"}\n{"body": "no text key"}\n',
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    tok = ["--checkpoint_dir", str(tokenizer_dir)]
    out = tmp_path / "out"
    assert "holds no documents" in _cli_error(capsys, "--data", str(tmp_path / "empty.txt"), "--out", str(out), *tok)
    assert "bad_utf8.txt line 52 is not valid UTF-8" in _cli_error(
        capsys, "--data", str(tmp_path / "bad_utf8.txt"), "--split_lines", "true", "--out", str(out), *tok
    )
    assert "chunks.jsonl line 3 is not valid JSON" in _cli_error(
        capsys, "--data", str(tmp_path / "chunks.jsonl"), "--out", str(out), *tok
    )
    assert "nokey.jsonl line 2 has no string 'text' field" in _cli_error(
        capsys, "--data", str(tmp_path / "nokey.jsonl"), "--out", str(out), *tok
    )
    assert "too few to split" in _cli_error(capsys, "--data", str(tmp_path / "bad_utf8.txt"), "--out", str(out), *tok)
    assert "no tokenizer given" in _cli_error(capsys, "--data", str(tmp_path / "empty.txt"), "--out", str(out))
    assert "missing.txt does not exist" in _cli_error(
        capsys, "--data", str(tmp_path / "missing.txt"), "--out", str(out), *tok
    )
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_an_earlier_dataset_is_replaced_and_user_files_in_it_survive(tokenizer_dir, tmp_path):
    (tmp_path / "pretrain.txt").write_text("\n".join(corpus_lines(20)) + "\n", encoding="utf-8")
    args = [
        "--data",
        str(tmp_path / "pretrain.txt"),
        "--out",
        str(tmp_path / "out"),
        "--checkpoint_dir",
        str(tokenizer_dir),
    ]
    main(["prepare", "pretrain", "--quiet", "true", *args])
    (tmp_path / "out" / "NOTES.md").write_text("my notes")
    main(["prepare", "pretrain", "--quiet", "true", "--seed", "3", *args])
    assert json.loads((tmp_path / "out" / "meta.json").read_text())["seed"] == 3
    assert (tmp_path / "out" / "NOTES.md").read_text() == "my notes"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_a_user_folder_is_refused_and_overwrite_replaces_only_dataset_files(tokenizer_dir, tmp_path, capsys):
    (tmp_path / "pretrain.txt").write_text("\n".join(corpus_lines(20)) + "\n", encoding="utf-8")
    victim = tmp_path / "notes"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    args = ["--data", str(tmp_path / "pretrain.txt"), "--out", str(victim), "--checkpoint_dir", str(tokenizer_dir)]
    assert "already holds files litft did not write" in _cli_error(capsys, *args)
    assert [p.name for p in victim.iterdir()] == ["precious.txt"]
    _prepare(tmp_path / "pretrain.txt", victim, tokenizer_dir, overwrite=True)
    assert (victim / "precious.txt").read_text() == "keep me"
    assert read_meta(victim)["splits"]["train"]["documents"] == 19
    (tmp_path / "empty").mkdir()
    _prepare(tmp_path / "pretrain.txt", tmp_path / "empty", tokenizer_dir)
    assert read_meta(tmp_path / "empty")["splits"]["train"]["documents"] == 19
    assert "is the input" in _cli_error(
        capsys,
        "--data",
        str(tmp_path / "pretrain.txt"),
        "--out",
        str(tmp_path / "pretrain.txt"),
        "--checkpoint_dir",
        str(tokenizer_dir),
    )
    assert "holds the input" in _cli_error(
        capsys,
        "--data",
        str(tmp_path / "pretrain.txt"),
        "--out",
        str(tmp_path),
        "--checkpoint_dir",
        str(tokenizer_dir),
        "--overwrite",
        "true",
    )


def test_published_files_are_synced_to_disk_before_the_rename(tokenizer_dir, tmp_path, monkeypatch):
    import os

    synced: list[str] = []
    real_fsync = os.fsync
    monkeypatch.setattr(
        os, "fsync", lambda fd: (synced.append(Path(os.readlink(f"/proc/self/fd/{fd}")).name), real_fsync(fd))
    )
    (tmp_path / "pretrain.txt").write_text("\n".join(corpus_lines(20)) + "\n", encoding="utf-8")
    _prepare(tmp_path / "pretrain.txt", tmp_path / "out", tokenizer_dir)
    assert {"train.bin", "val.bin", "meta.json", tmp_path.name} <= set(synced)


def test_a_process_stage_folder_is_refused_and_its_pretrain_txt_accepted(tokenizer_dir, tmp_path):
    lines = corpus_lines(10)
    site = tmp_path / "site"
    site.mkdir()
    (site / "pretrain.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (site / "chunks.jsonl").write_text("\n".join(json.dumps({"text": line}) for line in lines) + "\n", encoding="utf-8")
    with pytest.raises(LitftError, match=f"pass {site / 'pretrain.txt'} itself"):
        _prepare(tmp_path, tmp_path / "out", tokenizer_dir)  # also found in a subfolder
    (site / "chunks.jsonl").unlink()
    meta = _prepare(site, tmp_path / "out", tokenizer_dir, val_fraction=0.0)  # alone it is read once
    assert meta["splits"]["train"]["documents"] == 10


def test_a_whole_file_document_too_large_for_memory_is_refused(tokenizer_dir, tmp_path, monkeypatch):
    from litft.prepare import sources

    monkeypatch.setattr(sources, "MAX_DOCUMENT_BYTES", 1000)
    (tmp_path / "book.txt").write_text("\n".join(corpus_lines(40)), encoding="utf-8")
    with pytest.raises(LitftError, match="book.txt is one 0 MB document.*--split_lines true"):
        _prepare(tmp_path / "book.txt", tmp_path / "out", tokenizer_dir, val_fraction=0.0)
    assert (
        _prepare(tmp_path / "book.txt", tmp_path / "out", tokenizer_dir, split_lines=True)["splits"]["train"][
            "documents"
        ]
        > 30
    )


def test_ids_above_65535_get_uint32_even_when_the_vocabulary_skips_ids(tokenizer_dir, tmp_path):
    import shutil

    gapped = tmp_path / "gapped"
    shutil.copytree(tokenizer_dir, gapped)
    config = json.loads((gapped / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = config["model"]["vocab"]
    moved = max(vocab, key=vocab.get)  # the last merge's token now has id 65536: 400 tokens, largest id 65536
    vocab[moved] = 65536
    (gapped / "tokenizer.json").write_text(json.dumps(config), encoding="utf-8")
    lines = corpus_lines(30)
    (tmp_path / "pretrain.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    meta = _prepare(tmp_path / "pretrain.txt", tmp_path / "out", gapped, val_fraction=0.0)
    assert (meta["dtype"], meta["vocab_size"]) == ("uint32", 65537)
    tokens = np.fromfile(tmp_path / "out" / "train.bin", dtype=np.uint32).tolist()
    assert 65536 in tokens and tokens == _expected(gapped, lines, np.zeros(30, bool))["train"]
