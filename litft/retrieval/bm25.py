"""BM25 over chunk texts with bm25s: tokenization, indexing, batched top-k, and its own on-disk format."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import bm25s
import Stemmer

from litft.common.io import progress
from litft.retrieval.settings import Bm25Settings

STOPWORDS = "en"  # bm25s' English list
TOKENIZE_BATCH = 10_000


@functools.lru_cache(maxsize=1)
def english_stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def _rules(settings: Bm25Settings) -> dict:
    """The tokenizer arguments both sides share: bm25s' English stop words, and the stemmer when `settings.stem`."""
    return {"stopwords": STOPWORDS, "stemmer": english_stemmer() if settings.stem else None}


def tokenize(texts: Sequence[str], settings: Bm25Settings) -> list[list[str]]:
    """Words as BM25 sees them: lowercased, stop words dropped, stemmed when `settings.stem`."""
    return bm25s.tokenize(list(texts), return_ids=False, show_progress=False, **_rules(settings))


def build(texts: Sequence[str], settings: Bm25Settings, quiet: bool = False) -> bm25s.BM25:
    """BM25 over `texts`, tokenized in batches into one vocabulary (as `tokenize` would, without its strings)."""
    tokenizer = bm25s.tokenization.Tokenizer(**_rules(settings))
    token_ids: list[list[int]] = []
    with progress(total=len(texts), quiet=quiet, desc="tokenizing", unit="chunk") as bar:
        for start in range(0, len(texts), TOKENIZE_BATCH):
            batch = list(texts[start : start + TOKENIZE_BATCH])
            token_ids += tokenizer.tokenize(batch, update_vocab=True, return_as="ids", show_progress=False)
            bar.update(len(batch))
    retriever = bm25s.BM25(method=settings.method, k1=settings.k1, b=settings.b)
    retriever.index((token_ids, tokenizer.get_vocab_dict()), show_progress=False)
    return retriever


def save(retriever: bm25s.BM25, directory: Path) -> None:
    retriever.save(directory, show_progress=False)


def load(directory: Path) -> bm25s.BM25:
    return bm25s.BM25.load(directory, show_progress=False)


def rank(
    retriever: bm25s.BM25, queries: Sequence[str], k: int, settings: Bm25Settings
) -> list[list[tuple[int, float]]]:
    """For each query, its top-`k` (chunk position, score) pairs, best first; chunks sharing no word are left out."""
    k = min(k, retriever.scores["num_docs"])
    positions, scores = retriever.retrieve(tokenize(queries, settings), k=k, show_progress=False)
    return [
        [(int(position), float(score)) for position, score in zip(row_positions, row_scores, strict=True) if score > 0]
        for row_positions, row_scores in zip(positions, scores, strict=True)
    ]


def describe(settings: Bm25Settings) -> dict:
    """What meta.json records of the BM25 side: enough to tell how an index was built."""
    return {**asdict(settings), "stopwords": STOPWORDS, "library": f"bm25s {bm25s.__version__}"}
