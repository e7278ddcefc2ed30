"""`litft index build --update` (issue 31): only new and changed chunks are embedded; the result equals a full build."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from litft.cli import main
from litft.common.errors import LitftError
from litft.retrieval import dense
from litft.retrieval.index import RetrievalIndex, build_index
from tests.retrieval.corpus import CHUNKS

QUERIES = ["when does the library open", "parking permits", "vegetarian meals", "borrow laptops", "results in june"]


def write_chunks(path: Path, chunks: list[dict]) -> Path:
    path.write_text("".join(json.dumps(chunk) + "\n" for chunk in chunks), encoding="utf-8")
    return path


def refreshed() -> list[dict]:
    """A refresh: "meals" removed, "exams" changed (a new id, as `litft process` gives), "laptops" moved, one new."""
    by_id = {chunk["id"]: chunk for chunk in CHUNKS}
    return [
        by_id["laptops"],
        by_id["hours"],
        {"id": "exams-2", "url": "https://u.example/exams", "text": "Exam results are published online in July."},
        by_id["parking"],
        {"id": "gym", "url": "https://u.example/gym", "text": "The gym opens at seven for students."},
    ]


def test_update_embeds_only_new_chunks_and_equals_a_full_build(tmp_path, tiny_embedding_model, monkeypatch, capsys):
    old = build_index(write_chunks(tmp_path / "v1.jsonl", CHUNKS), tmp_path / "old", tiny_embedding_model, quiet=True)
    assert old.meta["embedded"] == 5
    chunks = write_chunks(tmp_path / "v2.jsonl", refreshed())
    full = build_index(chunks, tmp_path / "full", tiny_embedding_model, quiet=True)

    embedded: list[str] = []
    real_embed = dense.embed
    monkeypatch.setattr(
        dense, "embed", lambda model, texts, quiet=True: embedded.extend(texts) or real_embed(model, texts)
    )
    main(["index", "build", "--chunks", str(chunks), "--out", str(tmp_path / "old"), "--update", str(tmp_path / "old")])
    assert "(2 embedded, 3 reused from" in capsys.readouterr().out
    assert embedded == [refreshed()[2]["text"], refreshed()[4]["text"]]  # only the changed and the new chunk

    updated = RetrievalIndex.load(tmp_path / "old")  # the files on disk pass every load check
    assert [c["id"] for c in updated.chunks] == [c["id"] for c in full.chunks]
    np.testing.assert_allclose(updated._embeddings, full._embeddings, atol=1e-6)
    for retriever in ("bm25", "dense", "hybrid"):
        for got, expected in zip(
            updated.rank_many(QUERIES, 5, retriever), full.rank_many(QUERIES, 5, retriever), strict=True
        ):
            assert [p for p, _ in got] == [p for p, _ in expected]
            np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], atol=1e-6)
    assert (tmp_path / "old" / "chunks.jsonl").read_bytes() == (tmp_path / "full" / "chunks.jsonl").read_bytes()


def test_update_from_something_that_is_not_an_index_is_one_sentence(tmp_path, chunks_file):
    (tmp_path / "plain").mkdir()
    with pytest.raises(LitftError, match="--update .* is not a retrieval index"):
        build_index(chunks_file, tmp_path / "index", update=tmp_path / "plain", quiet=True)
