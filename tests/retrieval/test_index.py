"""The BM25 index: what it finds, that a saved index answers exactly as the one just built, reciprocal-rank fusion
by hand, and that it writes only into a folder it owns."""

from __future__ import annotations

import hashlib
import json

import pytest

from litft.common.errors import LitftError
from litft.common.outputs import read_marker
from litft.retrieval.index import RetrievalIndex, build_index, reciprocal_rank_fusion
from litft.retrieval.settings import Bm25Settings
from tests.retrieval.corpus import CHUNKS

QUERIES = ["When does the library open?", "parking permit", "borrow a laptop", "vegetarian food", "nothing matches"]


def test_bm25_finds_the_chunk_that_shares_the_rare_stemmed_words(chunks_file, tmp_path):
    index = build_index(chunks_file, tmp_path / "index", quiet=True)
    hits = index.search("Where are parking permits sold?", k=3)
    assert [hit.id for hit in hits] == ["parking"]  # no other chunk shares a word: the rest are left out
    assert hits[0].url == "https://u.example/parking" and hits[0].text == CHUNKS[1]["text"] and hits[0].score > 0
    assert [hit.id for hit in index.search("library opening", k=2)] == ["hours", "laptops"]  # opens ~ opening
    assert index.search("the of and", k=5) == []  # stop words only
    assert index.retrievers == ("bm25",) and index.default_retriever == "bm25"


def test_a_loaded_index_answers_exactly_as_the_one_just_built(chunks_file, tmp_path):
    built = build_index(chunks_file, tmp_path / "index", settings=Bm25Settings(stem=False), quiet=True)
    loaded = RetrievalIndex.load(tmp_path / "index")
    assert loaded.search_many(QUERIES, k=5) == built.search_many(QUERIES, k=5)
    assert [loaded.search(query, k=5) for query in QUERIES] == loaded.search_many(QUERIES, k=5)
    assert loaded.settings == Bm25Settings(stem=False)
    assert [(chunk["id"], chunk["url"]) for chunk in loaded.chunks] == [(c["id"], c["url"]) for c in CHUNKS]
    meta = json.loads((tmp_path / "index" / "meta.json").read_text())
    assert meta["chunks"] == 5 and meta["dense"] is None
    assert meta["source"]["sha256"] == hashlib.sha256(chunks_file.read_bytes()).hexdigest()
    assert read_marker(tmp_path / "index")["kind"] == "retrieval-index"


def test_k_larger_than_the_corpus_returns_every_match(chunks_file, tmp_path):
    index = build_index(chunks_file, tmp_path / "index", quiet=True)
    assert len(index.search("library", k=100)) == 2
    with pytest.raises(LitftError, match="--k must be at least 1"):
        index.search("library", k=0)


def test_reciprocal_rank_fusion_matches_the_hand_computation():
    # chunk 1: 1/(60+2) + 1/(60+1); chunk 3: 1/(60+1) + 1/(60+3); chunk 4: 1/(60+2); chunk 2: 1/(60+3)
    fused = reciprocal_rank_fusion([[3, 1, 2], [1, 4, 3]], k=4)
    assert [position for position, _ in fused] == [1, 3, 4, 2]
    assert [score for _, score in fused] == pytest.approx([1 / 62 + 1 / 61, 1 / 61 + 1 / 63, 1 / 62, 1 / 63])
    assert reciprocal_rank_fusion([[5], [7]], k=2) == [(5, 1 / 61), (7, 1 / 61)]  # a tie: the earlier chunk first
    assert len(reciprocal_rank_fusion([[3, 1, 2], [1, 4, 3]], k=2)) == 2


def test_the_index_refuses_a_foreign_folder_and_replaces_its_own(chunks_file, tmp_path):
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep")
    with pytest.raises(LitftError, match="files litft did not write"):
        build_index(chunks_file, foreign, quiet=True)
    assert sorted(p.name for p in foreign.iterdir()) == ["mine.txt"]
    build_index(chunks_file, tmp_path / "index", quiet=True)
    chunks_file.write_text(json.dumps(CHUNKS[0]) + "\n")
    assert len(build_index(chunks_file, tmp_path / "index", quiet=True)) == 1  # its own output: rebuilt in place
    assert len(RetrievalIndex.load(tmp_path / "index")) == 1


def test_loading_refuses_what_is_not_an_index(tmp_path):
    with pytest.raises(LitftError, match="does not exist"):
        RetrievalIndex.load(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(LitftError, match="is not a retrieval index"):
        RetrievalIndex.load(tmp_path / "plain")
