"""How well an index finds the chunk a question was made from: recall@k and MRR of each record's `source_id`.

`litft synthesize` names the source chunk of every record, so a held-out test.json is a retrieval test set for
free: the query is the record's instruction (and input), the one relevant chunk its source.
"""

from __future__ import annotations

from pathlib import Path

from litft.common.errors import LitftError
from litft.common.io import iter_jsonl, read_json
from litft.retrieval.index import RetrievalIndex


def read_queries(path: Path) -> tuple[list[tuple[str, str]], int]:
    """(query, source_id) for each record of a JSON list or JSONL file, and how many records lack a source_id."""
    path = Path(path)
    records = list(iter_jsonl(path)) if path.suffix.lower() == ".jsonl" else read_json(path)
    if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
        raise LitftError(f"{path} must hold a JSON list of records (or be a .jsonl file with one record per line).")
    queries = []
    for record in records:
        if record.get("answerable") is False:
            continue  # a question its source chunk cannot answer (synthesize --unanswerable): no chunk is relevant
        source, instruction = record.get("source_id"), record.get("instruction")
        if isinstance(source, str) and source and isinstance(instruction, str):
            text = f"{instruction}\n{record['input']}" if isinstance(record.get("input"), str) else instruction
            queries.append((text.strip(), source))
    if not queries:
        raise LitftError(
            f"{path} has no record with both an instruction and a source_id; give records written by "
            "`litft synthesize` (or `litft split`)."
        )
    return queries, len(records) - len(queries)


def source_ranks(rankings: list[list[tuple[int, float]]], sources: list[int]) -> list[int | None]:
    """The 1-based rank of each query's source chunk in its ranking, None when it is not there."""
    ranks = []
    for ranking, source in zip(rankings, sources, strict=True):
        positions = [position for position, _ in ranking]
        ranks.append(positions.index(source) + 1 if source in positions else None)
    return ranks


def recall_at(ranks: list[int | None], k: int) -> float:
    return sum(rank is not None and rank <= k for rank in ranks) / len(ranks)


def mean_reciprocal_rank(ranks: list[int | None]) -> float:
    return sum(1.0 / rank for rank in ranks if rank is not None) / len(ranks)


def evaluate_retrieval(index: RetrievalIndex, queries: list[tuple[str, str]], ks: list[int]) -> dict:
    """recall@k for each k and MRR@max(k), per retriever the index has, over the queries whose source is indexed."""
    positions = {chunk["id"]: position for position, chunk in enumerate(index.chunks)}
    known = [(query, positions[source]) for query, source in queries if source in positions]
    if not known:
        raise LitftError(
            f"no record's source_id names a chunk of {index.directory}; evaluate with the index built from the "
            "chunks the records were synthesized from."
        )
    depth = max(ks)
    scores = {}
    for retriever in index.retrievers:
        ranks = source_ranks(index.rank_many([query for query, _ in known], depth, retriever), [s for _, s in known])
        scores[retriever] = {
            **{f"recall@{k}": recall_at(ranks, k) for k in ks},
            f"mrr@{depth}": mean_reciprocal_rank(ranks),
        }
    return {"queries": len(known), "unknown_source": len(queries) - len(known), "retrievers": scores}
