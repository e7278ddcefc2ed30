"""RAFT-style training context for `litft prepare finetune --rag DIR`: each record's prompt carries retrieved
chunks, its source chunk among distractors (for a `--distractors_only` fraction, distractors alone), so the tuned
model learns to answer from the context it is given and to ignore passages that do not help (Zhang et al., 2024,
"RAFT: Adapting Language Model to Domain Specific RAG"). The passages are laid out by litft.models.context, the
layout `evaluate --rag` and `generate --rag` put in front of the same model (`chat --rag` and `serve --rag` put
passages before the message, as a conversation turn has no input field).

The query is the record's question, as at inference. Distractors are the best-ranked chunks that are not the
source, so they are the hard negatives inference will show. Which records go without their source, and where
the source sits among the passages, come from one seeded generator: the same inputs give the same files.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from litft.common.errors import LitftError
from litft.models.context import with_context
from litft.models.instructions import Instruction
from litft.retrieval.index import Hit, RetrievalIndex
from litft.retrieval.settings import check_index_dir, check_k


@dataclass(frozen=True)
class RaftSettings:
    """What `--rag`, `--rag_k`, `--distractors_only` and `--seed` ask for; meta.json records it with the counts."""

    index: Path
    k: int = 3
    distractors_only: float = 0.2
    seed: int = 42

    def checked(self) -> RaftSettings:
        check_index_dir(self.index, "--rag")
        check_k(self.k, "--rag_k")
        if not 0.0 <= self.distractors_only <= 1.0:
            raise LitftError(f"--distractors_only must lie between 0 and 1, got {self.distractors_only}.")
        return self


def raft_passages(
    questions: list[str], source_ids: list[str | None], settings: RaftSettings
) -> tuple[list[list[Hit]], dict]:
    """Each record's passages, best-ranked distractors with the source placed at a random position (or left out),
    and what meta.json says about them: the settings, the retriever, and how many records got each layout."""
    index = RetrievalIndex.load(settings.index, "--rag")
    by_id = {chunk["id"]: chunk for chunk in index.chunks}
    # One more than k: a record's source may be among the hits, and k distractors must remain without it.
    rankings = index.search_many(questions, settings.k + 1)
    generator = random.Random(settings.seed)
    counts: Counter[str] = Counter()
    passages = []
    for hits, source_id in zip(rankings, source_ids, strict=True):
        source = by_id.get(source_id) if source_id else None
        if source is None:  # no named source in this index: the record gets what inference would retrieve
            counts["without_source_id" if not source_id else "source_not_in_index"] += 1
            passages.append(hits[: settings.k])
            continue
        distractors = [hit for hit in hits if hit.id != source_id]  # fewer than k when few chunks match
        if generator.random() < settings.distractors_only:
            counts["distractors_only"] += 1
            passages.append(distractors[: settings.k])
            continue
        chosen = distractors[: settings.k - 1]
        chosen.insert(
            generator.randrange(len(chosen) + 1), Hit(source["id"], source.get("url", ""), 0.0, source["text"])
        )
        counts["with_source"] += 1
        passages.append(chosen)
    described = {
        "index": str(Path(settings.index).resolve()),
        "retriever": index.default_retriever,
        "k": settings.k,
        "distractors_only": settings.distractors_only,
        "seed": settings.seed,
        "records": dict(sorted(counts.items())),
    }
    return passages, described


def with_raft_context(train: list, val: list, settings: RaftSettings | None, style) -> tuple[list, list, dict | None]:
    """Train and validation records (`litft.prepare.finetune.Record`) with their RAFT passages in the prompt style's
    input field (before the question without one), and what meta.json records about them; unchanged without
    `settings`. Conversations are refused: their turns have no one question to retrieve for."""
    if settings is None:
        return train, val, None
    from litft.models.prompts import takes_input

    has_input_field = takes_input(style)
    records = [*train, *val]
    if any(isinstance(record, list) for record in records):
        raise LitftError("--rag builds context for single-turn records; conversations (messages) cannot take it.")
    questions = [Instruction(instruction, input).question for instruction, input, _ in records]
    passages, described = raft_passages(questions, [record.source_id for record in records], settings)
    with_passages = []
    for record, chosen in zip(records, passages, strict=True):
        prompt = with_context(Instruction(record[0], record[1]), chosen, has_input_field)
        with_passages.append(type(record)(prompt.instruction, prompt.input, record[2], record.source_id))
    return with_passages[: len(train)], with_passages[len(train) :], described
