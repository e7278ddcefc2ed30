"""Benchmark litft's retrieval index (bm25s) against a plain rank_bm25 loop on the same generated chunks.

    pip install -e ".[bench]"            # rank_bm25, the baseline
    python bench/retrieve.py              # 100,000 generated chunks, 1,000 queries
    python bench/retrieve.py --quick      # 2,000 chunks, 20 queries: a smoke run of the same code (CI runs it)
    python bench/retrieve.py --chunks 50000 --queries 500

Prints one JSON object per line:

- `retrieve_vs_rank_bm25`: queries per second of `RetrievalIndex.search_many` (loaded from disk, warmed up, one
  batch, top 10) against `BM25Okapi.get_top_n` called once per query. Both sides must return the same ranked
  top-10 chunk ids for every query, or the benchmark fails.
- `index_build_vs_rank_bm25`: seconds to build the index (read chunks.jsonl, tokenize, index, write the folder)
  against building `BM25Okapi` in memory from the same texts; the notes give the index's size on disk per million
  words, and the build time with litft's default settings (Lucene BM25, stemming).

So that the rankings can be compared, both sides tokenize alike (lowercase, bm25s' word pattern, bm25s' English
stop words, no stemming) and score alike: the index is built with bm25s' `robertson` method, which is rank_bm25's
Okapi BM25 (k1 1.5, b 0.75). They differ only for a word in more than half the chunks (bm25s clamps its idf to 0,
rank_bm25 raises it to 0.25 x the mean idf), so the generated vocabulary keeps every word below that.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bm25s.stopwords import STOPWORDS_EN
from rank_bm25 import BM25Okapi

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from litft.retrieval.index import RetrievalIndex, build_index  # noqa: E402
from litft.retrieval.settings import Bm25Settings  # noqa: E402

TOP = 10
VOCABULARY = 30_000
# Zipf-like word frequencies, flattened at the top (1 / (rank + 60)) so that no word reaches half the chunks.
ZIPF_OFFSET = 60
FILLERS = ["the", "of", "and", "to", "in", "is", "for", "on", "with", "as", "it", "that"]  # bm25s stop words
WORD_PATTERN = re.compile(r"(?u)\b\w\w+\b")  # bm25s.tokenize's default token_pattern
STOPWORDS = set(STOPWORDS_EN)
COMPARED = Bm25Settings(method="robertson", stem=False)


def make_vocabulary(rng: random.Random) -> list[str]:
    syllables = [c + v for c in "bcdfghjklmnprstvz" for v in "aeiou"]
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def generate_chunks(count: int, seed: int = 0) -> list[str]:
    """Chunks of 60-200 words drawn with Zipf-like frequencies, about a quarter of them stop words."""
    rng, np_rng = random.Random(seed), np.random.default_rng(seed)
    vocabulary = make_vocabulary(rng)
    weights = 1.0 / (np.arange(VOCABULARY) + ZIPF_OFFSET)
    lengths = np_rng.integers(60, 201, size=count)
    words = np_rng.choice(VOCABULARY, size=int(lengths.sum()), p=weights / weights.sum())
    fillers = np_rng.random(len(words)) < 0.25
    filler_words = np_rng.integers(len(FILLERS), size=len(words))
    tokens = [
        FILLERS[f] if is_filler else vocabulary[w] for w, is_filler, f in zip(words, fillers, filler_words, strict=True)
    ]
    chunks, start = [], 0
    for length in lengths:
        chunks.append(" ".join(tokens[start : start + length]) + ".")
        start += length
    return chunks


def generate_queries(chunks: list[str], count: int, seed: int = 1) -> list[str]:
    """3-6 distinct words of a random chunk each, after 'what is the'."""
    rng = random.Random(seed)
    queries = []
    for _ in range(count):
        words = sorted({word for word in rng.choice(chunks).rstrip(".").split() if word not in STOPWORDS})
        queries.append("what is the " + " ".join(rng.sample(words, min(len(words), rng.randint(3, 6)))))
    return queries


def baseline_tokens(text: str) -> list[str]:
    return [word for word in WORD_PATTERN.findall(text.lower()) if word not in STOPWORDS]


def folder_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def timed_build(chunks_file: Path, out: Path, settings: Bm25Settings) -> float:
    start = time.perf_counter()
    build_index(chunks_file, out, settings=settings, quiet=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 chunks, 20 queries: a smoke run of the same code")
    parser.add_argument("--chunks", type=int, default=None, help="number of chunks (default 100,000)")
    parser.add_argument("--queries", type=int, default=None, help="number of queries (default 1,000)")
    args = parser.parse_args()
    chunk_count = args.chunks or (2_000 if args.quick else 100_000)
    query_count = args.queries or (20 if args.quick else 1_000)

    texts = generate_chunks(chunk_count)
    queries = generate_queries(texts, query_count)
    ids = [f"chunk-{number}" for number in range(chunk_count)]
    words = sum(len(text.split()) for text in texts)
    with tempfile.TemporaryDirectory() as tmp:
        chunks_file = Path(tmp) / "chunks.jsonl"
        with open(chunks_file, "w", encoding="utf-8") as fh:
            for chunk_id, text in zip(ids, texts, strict=True):
                fh.write(json.dumps({"id": chunk_id, "url": f"https://example.org/{chunk_id}", "text": text}) + "\n")
        with contextlib.redirect_stderr(io.StringIO()):
            build_seconds = timed_build(chunks_file, Path(tmp) / "index", COMPARED)
            default_build_seconds = timed_build(chunks_file, Path(tmp) / "default", Bm25Settings())
        megabytes_per_million_words = folder_bytes(Path(tmp) / "index") / 1e6 / (words / 1e6)
        index = RetrievalIndex.load(Path(tmp) / "index")
        index.search_many(queries[:10], k=TOP, retriever="bm25")  # warm-up
        start = time.perf_counter()
        results = index.search_many(queries, k=TOP, retriever="bm25")
        litft_seconds = time.perf_counter() - start

    start = time.perf_counter()
    baseline = BM25Okapi([baseline_tokens(text) for text in texts])
    baseline_build_seconds = time.perf_counter() - start
    start = time.perf_counter()
    baseline_results = [baseline.get_top_n(baseline_tokens(query), ids, n=TOP) for query in queries]
    baseline_seconds = time.perf_counter() - start

    mismatches = [
        q for q, hits, top in zip(queries, results, baseline_results, strict=True) if [h.id for h in hits] != top
    ]
    if mismatches:
        raise SystemExit(f"{len(mismatches)} of {query_count} queries rank differently, e.g. {mismatches[0]!r}")

    setup = (
        f"{chunk_count} generated chunks ({words / 1e6:.1f}M words, {VOCABULARY} word vocabulary), {query_count} "
        f"queries of 3-6 chunk words; tokenization identical on both sides (lowercase, bm25s word pattern and English "
        f"stop words, no stemming), index built with bm25s method robertson = rank_bm25's BM25Okapi (k1 1.5, b 0.75)"
    )
    litft_qps, baseline_qps = query_count / litft_seconds, query_count / baseline_seconds
    print(
        json.dumps(
            {
                "name": "retrieve_vs_rank_bm25",
                "litft": round(litft_qps, 1),
                "baseline": round(baseline_qps, 2),
                "ratio": round(litft_qps / baseline_qps, 1),
                "unit": "queries/s",
                "notes": (
                    f"{setup}. litft: RetrievalIndex.load then one search_many(k={TOP}) batch, warm, one thread, "
                    f"{litft_seconds:.2f} s; baseline: BM25Okapi.get_top_n(n={TOP}) per query, "
                    f"{baseline_seconds:.1f} s. "
                    f"Identical ranked top-{TOP} ids for all {query_count} queries."
                ),
            }
        )
    )
    print(
        json.dumps(
            {
                "name": "index_build_vs_rank_bm25",
                "litft": round(build_seconds, 2),
                "baseline": round(baseline_build_seconds, 2),
                "ratio": round(baseline_build_seconds / build_seconds, 2),
                "unit": "s",
                "notes": (
                    f"{setup}. litft: build_index end to end (read chunks.jsonl, tokenize, index, write and fsync the "
                    f"folder), {megabytes_per_million_words:.1f} MB on disk per 1M words (BM25 matrices, vocabulary, "
                    f"the chunks' text and ids); with the default settings (Lucene BM25, English stemming) "
                    f"{default_build_seconds:.2f} s. Baseline: BM25Okapi from the same texts, in memory only."
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
