"""`litft index build | search`: what they print, and the user errors (one line, exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from litft.cli import main


@pytest.fixture
def index_dir(chunks_file, tmp_path, capsys) -> Path:
    main(["index", "build", "--chunks", str(chunks_file), "--out", str(tmp_path / "index"), "--quiet"])
    assert capsys.readouterr().out.startswith("index: 5 chunks with BM25 in ")
    return tmp_path / "index"


def error_line(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def test_search_prints_rank_score_id_url_and_the_start_of_the_text(index_dir, capsys):
    main(["index", "search", str(index_dir), "When does the library open?", "--k", "1"])
    head, text = capsys.readouterr().out.splitlines()
    rank, score, chunk_id, url = head.split()
    assert (rank, chunk_id, url) == ("1", "hours", "https://u.example/library") and float(score) > 0
    assert text.strip() == "The library opens at nine in the morning on weekdays."
    main(["index", "search", str(index_dir), "library", "--json", "--retriever", "bm25"])
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(hit["rank"], hit["id"]) for hit in hits] == [(1, "hours"), (2, "laptops")]
    assert set(hits[0]) == {"rank", "score", "id", "url", "text"}
    main(["index", "search", str(index_dir), "zebra"])
    assert capsys.readouterr().out.strip() == "no chunk shares a word with the query"


def test_long_texts_are_cut_at_a_word_near_200_characters():
    from litft.retrieval.commands import snippet

    cut = snippet("word " * 100)
    assert len(cut) <= 202 and cut.endswith("word …") and snippet("short\n text") == "short text"


def test_user_errors_are_one_sentence(index_dir, chunks_file, tmp_path, capsys):
    assert "does not exist" in error_line(capsys, "index", "search", str(tmp_path / "missing"), "q")
    assert "is a file, not a folder" in error_line(capsys, "index", "search", str(chunks_file), "q")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("mine")
    assert "is not a retrieval index" in error_line(capsys, "index", "search", str(tmp_path / "plain"), "q")
    assert "--k must be at least 1" in error_line(capsys, "index", "search", str(index_dir), "q", "--k", "0")
    records = tmp_path / "test.json"
    records.write_text("[]")
    assert "--k must be at least 1" in error_line(
        capsys, "index", "evaluate", str(index_dir), "--records", str(records), "--k", "3", "0"
    )
    assert "no record with both an instruction and a source_id" in error_line(
        capsys, "index", "evaluate", str(index_dir), "--records", str(records)
    )
    for retriever in ("dense", "hybrid"):
        line = error_line(capsys, "index", "search", str(index_dir), "q", "--retriever", retriever)
        assert "was built without --embedding_model" in line
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert "holds no records" in error_line(
        capsys, "index", "build", "--chunks", str(empty), "--out", str(tmp_path / "e")
    )
    build = ["index", "build", "--chunks", str(chunks_file), "--out", str(tmp_path / "new")]
    assert "--embedding_model" in error_line(capsys, *build, "--embedding_model", str(tmp_path / "no-model"))
    assert "holds no modules.json" in error_line(capsys, *build, "--embedding_model", str(tmp_path / "plain"))
    assert not (tmp_path / "new").exists() and not (tmp_path / "e").exists()
    line = error_line(capsys, "index", "build", "--chunks", str(chunks_file), "--out", str(tmp_path / "plain"))
    assert "files litft did not write" in line
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == ["notes.txt"]


def test_bm25_search_and_evaluation_never_import_torch(index_dir):
    code = (
        "import sys\n"
        "from litft.retrieval.index import RetrievalIndex\n"
        "import litft.retrieval.commands, litft.retrieval.metrics\n"
        f"RetrievalIndex.load({str(index_dir)!r}).search('library', 3)\n"
        "print(*[name for name in ('torch', 'sentence_transformers', 'transformers') if name in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.split() == []
