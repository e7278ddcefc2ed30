"""The test questions with retrieved passages, for `litft evaluate --rag`: the variants a model is asked in
(closed-book, then with retrieval) and what each answer records about its passages. The prompt layout itself is
`litft.models.context`, shared with RAFT training data and `generate --rag`."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from litft.models.instructions import Instruction

RAG_SUFFIX = "+rag"


@dataclass
class Variant:
    """One way of asking the test questions: closed-book (`hits` None) or with each question's retrieved chunks."""

    suffix: str
    hits: list | None = None
    rag: dict | None = None


def retrieved_ids(hits: list | None, count: int) -> list[list[str] | None]:
    """Each question's retrieved chunk ids, best first (None for every question when closed-book)."""
    return [[hit.id for hit in found] for found in hits] if hits is not None else [None] * count


def prompt_details(prompts: list[str], hits: list | None) -> list[dict]:
    """What each generations/ line records beside its answer: the prompt, and the chunks retrieved for it."""
    return [
        {"prompt": prompt} if ids is None else {"prompt": prompt, "retrieved": ids}
        for prompt, ids in zip(prompts, retrieved_ids(hits, len(prompts)), strict=True)
    ]


def with_hits(records: list[Instruction], hits: list | None) -> list[tuple[Instruction, list | None]]:
    return list(zip(records, hits if hits is not None else [None] * len(records), strict=True))


def rag_variants(
    rag: Path | None, rag_k: int, records: list[Instruction], quiet: bool, retrievers: list[str] | None = None
) -> list[Variant]:
    """Closed-book, and with --rag one variant per retriever whose prompts hold each question's top `rag_k` chunks:
    `+rag` for the one retriever (the index's default unless named), `+<retriever>` each when several are compared."""
    closed = Variant("")
    if rag is None:
        return [closed]
    from litft.retrieval.index import RetrievalIndex

    index = RetrievalIndex.load(rag, "--rag")
    chosen = list(dict.fromkeys(retrievers or [index.default_retriever]))
    variants = [closed]
    for retriever in chosen:
        hits = index.search_many([record.question for record in records], rag_k, retriever)
        if not quiet:
            print(f"retrieved {rag_k} chunks per question from {rag} ({retriever})", file=sys.stderr)
        described = {"index": str(Path(rag).resolve()), "k": rag_k, "retriever": retriever}
        suffix = RAG_SUFFIX if len(chosen) == 1 else f"+{retriever}"
        variants.append(Variant(suffix, hits, described))
    return variants
