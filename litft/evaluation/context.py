"""The test questions with retrieved passages, for `litft evaluate --rag`: the context block a prompt carries, the
variants a model is asked in (closed-book, then with retrieval) and what each answer records about its passages."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

from litft.models.instructions import Instruction

RAG_SUFFIX = "+rag"
# The retrieved chunks as a model sees them with --rag: best first, numbered so an answer can point at one,
#   Context:
#   [1] first chunk's text
#   [2] second chunk's text
# For prompt styles with an input field (alpaca, qa) this block is the input, followed by a blank line and the
# record's own input if it has one; other styles get it before the question, a blank line between.
CONTEXT_TEMPLATE = "Context:\n{passages}"
PASSAGE_TEMPLATE = "[{number}] {text}"


@dataclass
class Variant:
    """One way of asking the test questions: closed-book (`hits` None) or with each question's retrieved chunks."""

    suffix: str
    hits: list | None = None
    rag: dict | None = None


def format_context(hits: list) -> str:
    """The retrieved chunks as the prompt shows them (see CONTEXT_TEMPLATE)."""
    passages = "\n".join(PASSAGE_TEMPLATE.format(number=n, text=hit.text) for n, hit in enumerate(hits, start=1))
    return CONTEXT_TEMPLATE.format(passages=passages)


def with_context(record: Instruction, hits: list | None, has_input_field: bool) -> Instruction:
    """`record` with its retrieved chunks in the prompt: in the input field, else before the question (as it is
    when closed-book or when no chunk matched)."""
    if not hits:
        return record
    context = format_context(hits)
    if has_input_field:
        return replace(record, input=f"{context}\n\n{record.input}" if record.input else context)
    return replace(record, instruction=f"{context}\n\n{record.instruction}")


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


def rag_variants(rag: Path | None, rag_k: int, records: list[Instruction], quiet: bool) -> list[Variant]:
    """Closed-book, and with --rag the variant whose prompts hold each question's top `rag_k` chunks."""
    closed = Variant("")
    if rag is None:
        return [closed]
    from litft.retrieval.index import RetrievalIndex

    index = RetrievalIndex.load(rag)
    hits = index.search_many([record.question for record in records], rag_k)
    if not quiet:
        print(f"retrieved {rag_k} chunks per question from {rag} ({index.default_retriever})", file=sys.stderr)
    described = {"index": str(Path(rag).resolve()), "k": rag_k, "retriever": index.default_retriever}
    return [closed, Variant(RAG_SUFFIX, hits, described)]
