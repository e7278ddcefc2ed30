"""An index knows its own files: meta.json records each one's size and sha256, and every load (each command with
an index) refuses, in one sentence naming the file, one that was damaged, truncated or swapped since the build."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pytest

from litft.cli import main
from litft.common.errors import LitftError
from litft.retrieval.index import RetrievalIndex, build_index
from tests.conftest import write_tokenizer
from tests.retrieval.corpus import CHUNKS

BM25_FILE = "bm25/data.csc.index.npy"


@pytest.fixture
def index_dir(chunks_file, tmp_path) -> Path:
    build_index(chunks_file, tmp_path / "index", quiet=True)
    return tmp_path / "index"


def flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # the sign and exponent of the last BM25 score: same size, another ranking
    path.write_bytes(bytes(data))


def edit_meta(index_dir: Path, change) -> None:
    meta = json.loads((index_dir / "meta.json").read_text())
    change(meta)
    (index_dir / "meta.json").write_text(json.dumps(meta))


def refusal(index_dir: Path) -> str:
    with pytest.raises(LitftError) as error:
        RetrievalIndex.load(index_dir)
    message = str(error.value)
    assert "\n" not in message and message.endswith(".") and ". " not in message, message  # one sentence
    assert f"litft index build --chunks {index_dir.parent / 'chunks.jsonl'} --out {index_dir}" in message
    return message


def test_meta_records_the_size_and_sha256_of_every_file_of_the_index(index_dir):
    files = json.loads((index_dir / "meta.json").read_text())["files"]
    on_disk = sorted(
        path.relative_to(index_dir).as_posix()
        for path in index_dir.rglob("*")
        if path.is_file() and path.name not in ("meta.json", ".litft.json")
    )
    assert sorted(files) == on_disk and "chunks.jsonl" in files and BM25_FILE in files
    for name, entry in files.items():
        data = (index_dir / name).read_bytes()
        assert entry == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert len(RetrievalIndex.load(index_dir)) == len(CHUNKS)


def test_a_flipped_byte_in_a_bm25_file_is_refused(index_dir):
    flip_last_byte(index_dir / BM25_FILE)
    message = refusal(index_dir)
    assert f"the index file {index_dir / BM25_FILE} is not the one the index was built with" in message


def test_chunks_replaced_by_other_chunks_of_the_same_count_and_size_are_refused(index_dir):
    chunks = index_dir / "chunks.jsonl"
    lines = chunks.read_text().splitlines(keepends=True)
    chunks.write_text("".join(reversed(lines)))  # same count, same bytes, other passages at each position
    assert "sha256 differs" in refusal(index_dir) and str(chunks) in refusal(index_dir)


def test_a_truncated_vectors_file_is_refused(chunks_file, tmp_path, tiny_embedding_model):
    index_dir = tmp_path / "index"
    build_index(chunks_file, index_dir, embedding_model=tiny_embedding_model, quiet=True)
    vectors = index_dir / "embeddings.npy"
    size = vectors.stat().st_size
    vectors.write_bytes(vectors.read_bytes()[:-64])
    message = refusal(index_dir)
    assert f"the index file {vectors} holds {size - 64} bytes, not the {size} its meta.json records" in message


def test_missing_and_unlisted_files_are_refused(index_dir):
    (index_dir / "bm25" / "nonoccurrence_array.index.npy").write_bytes(b"x")
    assert "nonoccurrence_array.index.npy is not among the files its meta.json lists" in refusal(index_dir)
    (index_dir / "bm25" / "nonoccurrence_array.index.npy").unlink()
    (index_dir / BM25_FILE).unlink()
    assert f"the index file {index_dir / BM25_FILE} is missing" in refusal(index_dir)


@pytest.mark.parametrize("name", ["../chunks.jsonl", "/etc/hostname", "bm25/../chunks.jsonl", "./chunks.jsonl"])
def test_file_names_in_meta_must_stay_inside_the_index(index_dir, name):
    edit_meta(index_dir, lambda meta: meta["files"].update({name: {"bytes": 1, "sha256": "0" * 64}}))
    assert f"lists the file name {name!r}, which is not a relative path inside the index" in refusal(index_dir)


def test_a_file_linked_to_outside_the_index_is_refused(index_dir, tmp_path):
    outside = tmp_path / "elsewhere.npy"
    (index_dir / BM25_FILE).rename(outside)
    (index_dir / BM25_FILE).symlink_to(outside)
    assert f"{BM25_FILE!r}, which is not a relative path inside the index" in refusal(index_dir)


def test_an_index_of_an_older_litft_without_fingerprints_is_refused_with_the_command_to_rebuild_it(index_dir):
    edit_meta(index_dir, lambda meta: [meta.pop("files"), meta.update(format_version=1)])
    assert "written by an older litft (index format 1)" in refusal(index_dir)
    main(["index", "build", "--chunks", str(index_dir.parent / "chunks.jsonl"), "--out", str(index_dir), "--quiet"])
    assert len(RetrievalIndex.load(index_dir)) == len(CHUNKS)  # the command it names rebuilds it in place


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cli_refusal(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def test_index_search_and_evaluate_exit_2_naming_the_damaged_file(index_dir, tmp_path, capsys):
    flip_last_byte(index_dir / BM25_FILE)
    line = cli_refusal(capsys, "index", "search", str(index_dir), "library")
    assert f"the index file {index_dir / BM25_FILE} is not the one the index was built with" in line
    records = tmp_path / "test.json"
    records.write_text(json.dumps([{"instruction": "When does the library open?", "source_id": "hours"}]))
    line = cli_refusal(capsys, "index", "evaluate", str(index_dir), "--records", str(records))
    assert f"the index file {index_dir / BM25_FILE} is not the one" in line


def test_commands_check_sizes_before_they_load_torch(index_dir, tmp_path, capsys):
    """A truncated file is refused by the light check of each --rag command, before any model or torch loads."""
    (index_dir / BM25_FILE).write_bytes((index_dir / BM25_FILE).read_bytes()[:-1])
    (tmp_path / "model").mkdir()
    for command in (["generate", "--prompt", "q"], ["serve", "--port", str(free_port())], ["chat"]):
        line = cli_refusal(capsys, *command, "--checkpoint_dir", str(tmp_path / "model"), "--rag", str(index_dir))
        assert f"the index file {index_dir / BM25_FILE} holds" in line


@pytest.fixture
def flipped_rag_index(index_dir, tmp_path):
    """A BM25 file of the right size with one byte changed: only the sha256 of the checked load finds it, so each
    command that refuses it loads its index through `RetrievalIndex.load`."""
    flip_last_byte(index_dir / BM25_FILE)
    write_tokenizer(tmp_path / "model")  # all `prepare finetune` needs before it retrieves; no weights
    (tmp_path / "test.json").write_text(json.dumps([{"instruction": "q", "input": "", "output": "a"}]))
    return index_dir


@pytest.mark.parametrize(
    "command",
    [
        ["generate", "--checkpoint_dir", "{model}", "--prompt", "q"],
        ["chat", "--checkpoint_dir", "{model}"],
        ["serve", "--checkpoint_dir", "{model}", "--port", "{port}"],
        ["evaluate", "--test_file", "{test}", "--runs", "[]", "--base", "{model}", "--out_dir", "{out}"],
        ["prepare", "finetune", "--data", "{test}", "--out", "{out}", "--checkpoint_dir", "{model}"],
    ],
    ids=["generate", "chat", "serve", "evaluate", "prepare-finetune"],
)
def test_each_rag_command_loads_its_index_through_the_checked_load(flipped_rag_index, tmp_path, capsys, command):
    paths = {"model": tmp_path / "model", "test": tmp_path / "test.json", "out": tmp_path / "out", "port": free_port()}
    args = [part.format(**paths) for part in command] + ["--rag", str(flipped_rag_index)]
    line = cli_refusal(capsys, *args)
    assert f"the index file {flipped_rag_index / BM25_FILE} is not the one the index was built with" in line
    assert not paths["out"].exists()  # refused before anything is written
