"""The retrieval index: built from chunks.jsonl into one folder litft owns, loaded back without rebuilding.

The folder holds `bm25/` (bm25s' own save format), `chunks.jsonl` ({id, url, text} in index order),
`embeddings.npy` (unit-length float32 rows, only when built with an embedding model) and `meta.json`
(settings, counts, the source chunks file's sha256, and the size and sha256 of each file of the folder, checked on
every load: `litft.retrieval.layout`). Hybrid search fuses the BM25 and dense rankings by reciprocal rank.

`--update PREVIOUS` builds the same index a full build would, embedding only the chunks PREVIOUS lacks: a chunk
with the id and text of one of PREVIOUS's keeps its vector (after a refresh, `litft process` keeps an unchanged
chunk's id), and BM25, cheap next to the vectors, is built anew over all chunks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import numpy as np

from litft.common.errors import LitftError
from litft.common.io import atomic_write_json, iter_jsonl, read_json
from litft.common.outputs import check_output_dir, output_dir
from litft.data.records import write_jsonl
from litft.data.synthesize.qa import read_chunks
from litft.retrieval import bm25, dense
from litft.retrieval.layout import BM25_DIR, CHUNKS, EMBEDDINGS, FILES, FORMAT_VERSION, META, fingerprint, record_files
from litft.retrieval.settings import (
    FUSION_DEPTH,
    INDEX_KIND,
    RRF_K,
    Bm25Settings,
    Retriever,
    check_index_dir,
    check_k,
    check_model_dir,
)

Ranking = list[tuple[int, float]]  # (chunk position, score), best first


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk; `score` is BM25's, the cosine similarity, or the fused reciprocal-rank score."""

    id: str
    url: str
    score: float
    text: str


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int, rrf_k: int = RRF_K) -> Ranking:
    """The top `k` of several rankings fused: sum(1 / (rrf_k + rank)) over the rankings that hold a chunk, ranks
    from 1; ties go to the chunk earlier in the index."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, position in enumerate(ranking, start=1):
            fused[position] = fused.get(position, 0.0) + 1.0 / (rrf_k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]


class RetrievalIndex:
    """BM25 always, dense vectors when the index has them; `search_many` answers a batch of queries at once."""

    def __init__(
        self, directory: Path, meta: dict, chunks: list[dict], bm25_index: Any, embeddings: Any, model: Any = None
    ) -> None:
        self.directory = directory
        self.meta = meta
        self.chunks = chunks
        self.settings = Bm25Settings(**{name: meta["bm25"][name] for name in ("method", "k1", "b", "stem")})
        self._bm25 = bm25_index
        self._embeddings = embeddings
        self._model = model  # loaded on the first dense search

    @classmethod
    def load(cls, directory: str | Path, flag: str = "--index_dir") -> RetrievalIndex:
        """The index in `directory`, once each of its files has the size and sha256 its meta.json records: the one
        load every command goes through (`index search/evaluate`, `--rag` of evaluate, generate, chat, serve and
        prepare finetune)."""
        directory = check_index_dir(directory, flag, hashes=True)
        meta = read_json(directory / META)
        chunks = list(iter_jsonl(directory / CHUNKS))
        embeddings = np.load(directory / EMBEDDINGS) if meta["dense"] else None
        if len(chunks) != meta["chunks"] or (embeddings is not None and len(embeddings) != len(chunks)):
            raise LitftError(
                f"{directory} does not hold the {meta['chunks']} chunks its {META} lists; rebuild the index."
            )
        return cls(directory, meta, chunks, bm25.load(directory / BM25_DIR), embeddings)

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def retrievers(self) -> tuple[str, ...]:
        return ("bm25", "dense", "hybrid") if self._embeddings is not None else ("bm25",)

    @property
    def default_retriever(self) -> str:
        return self.retrievers[-1]

    def search(self, query: str, k: int = 5, retriever: Retriever | None = None) -> list[Hit]:
        return self.search_many([query], k, retriever)[0]

    def search_many(self, queries: Sequence[str], k: int = 5, retriever: Retriever | None = None) -> list[list[Hit]]:
        """The top `k` chunks for each query (fewer when fewer match), with the index's default retriever unless
        one is named: hybrid when it has dense vectors, else BM25."""
        return [
            [self._hit(position, score) for position, score in ranking]
            for ranking in self.rank_many(queries, k, retriever)
        ]

    def rank_many(self, queries: Sequence[str], k: int, retriever: Retriever | None = None) -> list[Ranking]:
        """Like `search_many`, as (chunk position, score) pairs: what evaluation needs, without building hits."""
        check_k(k)
        retriever = retriever or self.default_retriever
        if retriever not in get_args(Retriever):
            raise LitftError(f"--retriever must be one of {', '.join(get_args(Retriever))}, not {retriever!r}.")
        if retriever not in self.retrievers:
            raise LitftError(
                f"--retriever {retriever} needs dense vectors, but {self.directory} was built without "
                "--embedding_model; use --retriever bm25 or rebuild the index with --embedding_model."
            )
        queries = list(queries)
        if not queries:
            return []
        if retriever == "bm25":
            return bm25.rank(self._bm25, queries, k, self.settings)
        if retriever == "dense":
            return self._dense_rank(queries, k)
        depth = max(k, FUSION_DEPTH)
        pairs = zip(bm25.rank(self._bm25, queries, depth, self.settings), self._dense_rank(queries, depth), strict=True)
        return [
            reciprocal_rank_fusion([[p for p, _ in lexical], [p for p, _ in semantic]], k)
            for lexical, semantic in pairs
        ]

    def _dense_rank(self, queries: list[str], k: int) -> list[Ranking]:
        if self._model is None:
            model_dir = Path(self.meta["dense"]["model"])
            if not model_dir.is_dir():
                raise LitftError(
                    f"the embedding model {model_dir} that {self.directory} was built with is gone; put it back "
                    "or search with --retriever bm25."
                )
            self._model = dense.load_model(model_dir)
        return dense.rank(self._embeddings, dense.embed(self._model, queries), k)

    def _hit(self, position: int, score: float) -> Hit:
        chunk = self.chunks[position]
        return Hit(id=chunk["id"], url=chunk.get("url", ""), score=score, text=chunk["text"])


def _reused_vectors(previous: RetrievalIndex | None, records: list[dict], embedding_model: Path) -> dict[int, Any]:
    """position -> the vector `previous` holds for a chunk of the same id and text (none without vectors, or when
    they came from another model)."""
    if previous is None or previous.meta["dense"] is None or previous.meta["dense"]["model"] != str(embedding_model):
        return {}
    rows = {(chunk["id"], chunk["text"]): row for row, chunk in enumerate(previous.chunks)}
    found = ((position, rows.get((record["id"], record["text"]))) for position, record in enumerate(records))
    return {position: previous._embeddings[row] for position, row in found if row is not None}


def _embed(model: Any, texts: list[str], reused: dict[int, Any], quiet: bool) -> Any:
    """Vectors for all `texts`, computing only those `reused` lacks (each text alone is embedded as in a batch:
    sentence-transformers pools over its own tokens only)."""
    missing = [position for position in range(len(texts)) if position not in reused]
    fresh = dense.embed(model, [texts[position] for position in missing], quiet) if missing else None
    rows = dict(reused) | ({position: fresh[n] for n, position in enumerate(missing)} if missing else {})
    return np.stack([rows[position] for position in range(len(texts))]).astype(np.float32)


def build_index(
    chunks: Path,
    out: Path,
    embedding_model: Path | None = None,
    settings: Bm25Settings = Bm25Settings(),
    overwrite: bool = False,
    quiet: bool = False,
    update: Path | None = None,
) -> RetrievalIndex:
    """Index `chunks` into `out` (see the module docstring); the returned index is the one just built, in memory."""
    if embedding_model is not None:
        embedding_model = check_model_dir(embedding_model).resolve()
    check_output_dir(out, INDEX_KIND, overwrite=overwrite, inputs=[chunks, embedding_model], flag="--out")
    previous = RetrievalIndex.load(update, "--update") if update is not None else None
    if embedding_model is None and previous is not None and previous.meta["dense"]:  # an update keeps its kind
        embedding_model = check_model_dir(Path(previous.meta["dense"]["model"])).resolve()
    records = [{"id": c["id"], "url": c.get("url", ""), "text": c["text"]} for c in read_chunks(Path(chunks))]
    texts = [record["text"] for record in records]
    bm25_index = bm25.build(texts, settings, quiet)
    model, embeddings, dense_meta, reused = None, None, None, {}
    if embedding_model is not None:
        model = dense.load_model(embedding_model)
        reused = _reused_vectors(previous, records, embedding_model)
        embeddings = _embed(model, texts, reused, quiet)
        dense_meta = {"model": str(embedding_model), "dimensions": int(embeddings.shape[1]), "normalized": True}
    meta = {
        "format_version": FORMAT_VERSION,
        "chunks": len(records),
        "words": sum(len(text.split()) for text in texts),
        "source": {"path": str(Path(chunks).resolve()), "sha256": fingerprint(Path(chunks))["sha256"]},
        "bm25": bm25.describe(settings),
        "dense": dense_meta,
        "fusion": {"method": "reciprocal-rank", "k": RRF_K, "depth": FUSION_DEPTH},
        "embedded": len(records) - len(reused) if embeddings is not None else 0,
        "vectors_reused": len(reused),
    }
    with output_dir(out, INDEX_KIND, overwrite=overwrite, inputs=[chunks, embedding_model], flag="--out") as staging:
        bm25.save(bm25_index, staging / BM25_DIR)
        write_jsonl(staging / CHUNKS, records)
        if embeddings is not None:
            np.save(staging / EMBEDDINGS, embeddings)
        meta[FILES] = record_files(staging)
        atomic_write_json(staging / META, meta)
    return RetrievalIndex(Path(out), meta, records, bm25_index, embeddings, model)
