"""Dense and hybrid retrieval with a tiny random sentence-transformers model (built in conftest, no download)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from litft.common.errors import LitftError
from litft.retrieval.index import RetrievalIndex, build_index, reciprocal_rank_fusion
from litft.retrieval.metrics import evaluate_retrieval
from litft.retrieval.settings import FUSION_DEPTH
from tests.retrieval.corpus import CHUNKS


@pytest.fixture
def dense_index(chunks_file, tmp_path, tiny_embedding_model):
    return build_index(chunks_file, tmp_path / "index", embedding_model=tiny_embedding_model, quiet=True)


def test_dense_search_ranks_a_chunk_first_for_its_own_text(dense_index):
    assert dense_index.retrievers == ("bm25", "dense", "hybrid") and dense_index.default_retriever == "hybrid"
    for chunk in CHUNKS:
        hits = dense_index.search(chunk["text"], k=5, retriever="dense")
        assert hits[0].id == chunk["id"] and hits[0].score == pytest.approx(1.0, abs=1e-5)
        assert len(hits) == 5 and [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    vectors = np.load(dense_index.directory / "embeddings.npy")
    assert vectors.shape == (5, 32) and vectors.dtype == np.float32
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(np.ones(5), abs=1e-5)
    meta = json.loads((dense_index.directory / "meta.json").read_text())
    assert meta["dense"]["dimensions"] == 32 and meta["fusion"] == {"method": "reciprocal-rank", "k": 60, "depth": 100}


def test_hybrid_is_the_reciprocal_rank_fusion_of_bm25_and_dense(dense_index):
    query = "graduate students borrow library laptops at nine"
    lexical = [position for position, _ in dense_index.rank_many([query], FUSION_DEPTH, "bm25")[0]]
    semantic = [position for position, _ in dense_index.rank_many([query], FUSION_DEPTH, "dense")[0]]
    by_hand: dict[int, float] = {}
    for ranking in (lexical, semantic):
        for rank, position in enumerate(ranking, start=1):
            by_hand[position] = by_hand.get(position, 0.0) + 1 / (60 + rank)
    expected = sorted(by_hand.items(), key=lambda item: (-item[1], item[0]))[:3]
    hits = dense_index.search(query, k=3, retriever="hybrid")
    assert [(hit.id, hit.score) for hit in hits] == [(CHUNKS[p]["id"], pytest.approx(s)) for p, s in expected]
    assert dense_index.search(query, k=3) == hits  # hybrid is the default when the index has vectors
    assert dense_index.search_many([], k=3) == []
    assert reciprocal_rank_fusion([lexical, semantic], k=3) == dense_index.rank_many([query], 3, "hybrid")[0]


def test_a_loaded_dense_index_answers_exactly_as_the_one_just_built(dense_index):
    queries = [chunk["text"] for chunk in CHUNKS] + ["library hours", "food"]
    loaded = RetrievalIndex.load(dense_index.directory)
    for retriever in ("bm25", "dense", "hybrid"):
        assert loaded.search_many(queries, k=4, retriever=retriever) == dense_index.search_many(queries, 4, retriever)
    queries_with_sources = [(chunk["text"], chunk["id"]) for chunk in CHUNKS]
    report = evaluate_retrieval(loaded, queries_with_sources, [1, 5])
    assert report["retrievers"]["dense"] == {"recall@1": 1.0, "recall@5": 1.0, "mrr@5": 1.0}
    assert set(report["retrievers"]) == {"bm25", "dense", "hybrid"}


def test_dense_search_without_the_model_it_was_built_with_is_refused(chunks_file, tmp_path, tiny_embedding_model):
    model = tmp_path / "model"
    shutil.copytree(tiny_embedding_model, model)
    build_index(chunks_file, tmp_path / "index", embedding_model=model, quiet=True)
    shutil.rmtree(model)
    index = RetrievalIndex.load(tmp_path / "index")
    assert index.search("library", k=1, retriever="bm25")[0].id in {"hours", "laptops"}
    with pytest.raises(LitftError, match="is gone"):
        index.search("library", k=1)
